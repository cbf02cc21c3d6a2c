// The inline fast path of memory.copy and memory.fill (code-rewriter.ts emitCopyOrFill): small
// operations on pages whose tags allow them run natively, everything else calls the host. Each
// case runs the same operation on the original module too, and compares outcome and memory.
import { beforeEach, describe, expect, it } from "vitest";
import { rewriteModule } from "../../host/wasm/rewrite";
import { MMU_MODULE, PIN_SLOTS, TAG_PAIR_DIRTY, TAG_PAIR_RESIDENT } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { SoftMmu } from "../../host/wasm/mmu";
import { wat } from "./wat";

type Fn = (...args: number[]) => number;

const PAGES = 32; // two Wasm pages
const SIZE = PAGES * PAGE_SIZE;
const bytes = wat(`(module (memory (export "memory") 2)
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2))))`);

interface Pair {
  native: { copy: Fn; fill: Fn; memory: WebAssembly.Memory };
  rewritten: { copy: Fn; fill: Fn; mmu: SoftMmu };
  /** Calls of the host's copy and fill made by the rewritten module. */
  hostCalls: { copy: number; fill: number };
}

async function instantiatePair(): Promise<Pair> {
  const n = (await WebAssembly.instantiate(bytes as BufferSource)).instance.exports;
  const rewrite = rewriteModule(bytes);
  const mmu = new SoftMmu(rewrite.memory!, { capacityPages: 64 });
  const hostCalls = { copy: 0, fill: 0 };
  const base = mmu.importsFor(rewrite);
  const imports = {
    ...base,
    copy: (d: number, s: number, len: number) => {
      hostCalls.copy++;
      (base.copy as Fn)(d, s, len);
    },
    fill: (d: number, v: number, len: number) => {
      hostCalls.fill++;
      (base.fill as Fn)(d, v, len);
    },
    fuelInit: () => 0n,
    outOfFuel: () => {},
  };
  const module = await WebAssembly.compile(rewrite.binary as BufferSource);
  const w = new WebAssembly.Instance(module, { [MMU_MODULE]: imports }).exports;
  return {
    native: { copy: n.copy as Fn, fill: n.fill as Fn, memory: n.memory as WebAssembly.Memory },
    rewritten: { copy: w.copy as Fn, fill: w.fill as Fn, mmu },
    hostCalls,
  };
}

function outcome(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    return e instanceof WebAssembly.RuntimeError ? `trap: ${e.message}` : `error: ${String(e)}`;
  }
}

/** A recognisable pattern, different per byte. */
function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
}

describe("memory.copy and memory.fill: inline fast path and host fallback", () => {
  let p: Pair;
  beforeEach(async () => {
    p = await instantiatePair();
  });

  /** Writes guest bytes in both instances (the rewritten one through its MMU: pages become dirty). */
  function write(at: number, data: Uint8Array): void {
    new Uint8Array(p.native.memory.buffer).set(data, at);
    p.rewritten.mmu.write(at, data);
  }

  /** Runs op(args) both ways; the outcomes must agree. */
  function run(op: "copy" | "fill", ...args: number[]): string {
    const expected = outcome(() => p.native[op](...args));
    const got = outcome(() => p.rewritten[op](...args));
    expect(got, `${op}(${args})`).toEqual(expected);
    return got;
  }

  /** The whole guest memory agrees (read through the MMU, which brings every page in: call last). */
  function expectSameMemory(): void {
    expect(p.rewritten.mmu.read(0, SIZE)).toEqual(new Uint8Array(p.native.memory.buffer));
  }

  const calls = () => p.hostCalls.copy + p.hostCalls.fill;

  it("runs small copies and fills between dirty resident pages natively, overlapping ones included", () => {
    write(0, pattern(8 * PAGE_SIZE, 1)); // pages 0..7 dirty: pages 0..6 have the pair bits
    expect(p.rewritten.mmu.tagOf(3) & TAG_PAIR_DIRTY).toBeTruthy();
    expect(p.rewritten.mmu.tagOf(7) & TAG_PAIR_RESIDENT).toBe(0);
    const tags = Array.from({ length: PAGES }, (_, i) => p.rewritten.mmu.tagOf(i));
    expect(run("copy", 100, 5000, 16)).toBe("ok");
    expect(run("copy", 4090, 8190, 4096)).toBe("ok"); // both sides cross a page boundary
    expect(run("copy", 1000, 990, 3000)).toBe("ok"); // overlapping, target above the source
    expect(run("copy", 990, 1000, 3000)).toBe("ok"); // overlapping, target below
    expect(run("copy", 2000, 2000, 100)).toBe("ok");
    expect(run("fill", 12000, 0xab, 4096)).toBe("ok");
    expect(run("fill", 0, 0x1234, 7)).toBe("ok"); // the value is truncated to a byte
    expect(run("copy", 100, 200, 0)).toBe("ok");
    expect(run("fill", 100, 1, 0)).toBe("ok");
    expect(calls()).toBe(0);
    expect(p.rewritten.mmu.stats.bulkOps).toBe(0);
    // The fast path changes no tag: what pinned ranges and hoisted checks rely on stays as it was.
    expect(Array.from({ length: PAGES }, (_, i) => p.rewritten.mmu.tagOf(i))).toEqual(tags);
    expectSameMemory();
  });

  it("calls the host when a range reaches a page that is not resident or not dirty", () => {
    write(0, pattern(8 * PAGE_SIZE, 2)); // pages 0..7 and 10..13 dirty, the others not resident
    write(10 * PAGE_SIZE, pattern(4 * PAGE_SIZE, 8));
    expect(run("copy", 7 * PAGE_SIZE + 4090, 100, 16)).toBe("ok"); // target straddles into page 8
    expect(p.hostCalls.copy).toBe(1);
    expect(run("copy", 200, 13 * PAGE_SIZE + 4090, 16)).toBe("ok"); // source straddles into page 14
    expect(p.hostCalls.copy).toBe(2);
    expect(run("fill", 20 * PAGE_SIZE, 9, 10)).toBe("ok"); // target not resident
    expect(p.hostCalls.fill).toBe(1);
    expect(run("copy", 0, 4096, 4097)).toBe("ok"); // longer than a page
    expect(run("fill", 0, 3, 4097)).toBe("ok");
    expect(calls()).toBe(5);
    // Clean pages: readable as a source, but a target must be dirty.
    p.rewritten.mmu.flush();
    expect(p.rewritten.mmu.tagOf(2) & TAG_PAIR_RESIDENT).toBeTruthy();
    expect(p.rewritten.mmu.tagOf(2) & TAG_PAIR_DIRTY).toBe(0);
    expect(run("copy", 2 * PAGE_SIZE, 5 * PAGE_SIZE, 64)).toBe("ok");
    expect(calls()).toBe(6);
    // The host made the target dirty (with its neighbour, the pair bit follows); the clean source suffices.
    write(3 * PAGE_SIZE, pattern(16, 3));
    expect(run("copy", 2 * PAGE_SIZE + 8, 5 * PAGE_SIZE, 64)).toBe("ok");
    expect(calls()).toBe(6);
    expectSameMemory();
  });

  it("runs a copy or fill that stays inside its pages natively when their own tags allow it, whatever the next pages", () => {
    write(4 * PAGE_SIZE, pattern(PAGE_SIZE, 10)); // pages 4 and 6 dirty, 5 and 7 not resident
    write(6 * PAGE_SIZE, pattern(PAGE_SIZE, 11));
    expect(p.rewritten.mmu.tagOf(4) & TAG_PAIR_RESIDENT).toBe(0);
    expect(run("copy", 4 * PAGE_SIZE + 100, 6 * PAGE_SIZE + 200, 1000)).toBe("ok");
    expect(run("copy", 6 * PAGE_SIZE, 4 * PAGE_SIZE + 96, PAGE_SIZE - 96)).toBe("ok"); // the source ends at its page's end
    expect(run("fill", 4 * PAGE_SIZE + 3000, 0xcd, PAGE_SIZE - 3000)).toBe("ok");
    expect(run("fill", 6 * PAGE_SIZE, 0xee, PAGE_SIZE)).toBe("ok");
    expect(run("copy", 6 * PAGE_SIZE + 5, 4 * PAGE_SIZE, 0)).toBe("ok");
    expect(calls()).toBe(0);
    expect(run("fill", 4 * PAGE_SIZE + 3001, 1, PAGE_SIZE - 3000)).toBe("ok"); // one byte into page 5
    expect(p.hostCalls.fill).toBe(1);
    expect(run("copy", 6 * PAGE_SIZE, 4 * PAGE_SIZE + 97, PAGE_SIZE - 96)).toBe("ok"); // the source reaches page 5
    expect(p.hostCalls.copy).toBe(1);
    // A clean page is a source inside its page, never a target.
    p.rewritten.mmu.flush();
    expect(run("copy", 8 * PAGE_SIZE + 10, 6 * PAGE_SIZE + 20, 30)).toBe("ok"); // page 8 not resident: the host
    expect(run("copy", 8 * PAGE_SIZE + 50, 6 * PAGE_SIZE + 20, 30)).toBe("ok"); // page 8 dirty, page 6 clean
    expect(run("fill", 6 * PAGE_SIZE + 20, 2, 30)).toBe("ok"); // page 6 clean: the host
    expect(p.hostCalls).toEqual({ copy: 2, fill: 2 });
    expectSameMemory();
  });

  it("runs a fill or copy of the last page natively, and traps past the end without writing", () => {
    const last = (PAGES - 1) * PAGE_SIZE;
    write(0, pattern(2 * PAGE_SIZE, 9));
    write(last - PAGE_SIZE, pattern(2 * PAGE_SIZE, 4));
    // The last page has no next page: past the end counts as present, since a range crossing it traps.
    expect(p.rewritten.mmu.tagOf(PAGES - 1) & TAG_PAIR_DIRTY).toBeTruthy();
    expect(run("fill", last, 0x5a, PAGE_SIZE)).toBe("ok");
    expect(run("copy", last + 100, last - 50, PAGE_SIZE - 100)).toBe("ok");
    expect(calls()).toBe(0);
    expect(run("fill", last + 1, 0x77, PAGE_SIZE)).toMatch(/^trap: .*out of bounds/);
    expect(run("copy", last + 10, 0, PAGE_SIZE)).toMatch(/^trap: .*out of bounds/);
    expect(run("copy", 0, last + 10, PAGE_SIZE)).toMatch(/^trap: .*out of bounds/);
    expect(calls()).toBe(0); // every trap above came from the native instruction
    expect(run("fill", SIZE, 1, 0)).toBe("ok"); // an empty range at the very end is in bounds
    expectSameMemory();
  });

  it("traps on an empty range that starts past the end (its page has no tag: the host traps)", () => {
    write(0, pattern(2 * PAGE_SIZE, 5));
    for (const [op, args] of [
      ["copy", [0, SIZE + 1, 0]], ["copy", [SIZE + 1, 0, 0]], ["fill", [SIZE + 1, 0, 0]],
      ["copy", [0, 0xffffffff, 0]], ["fill", [-16, 0, 0]],
    ] as const) {
      expect(run(op, ...args)).toMatch(/^trap: .*out of bounds/);
    }
    expect(calls()).toBe(5);
    expectSameMemory();
  });

  it("never shifts an address that would wrap into the tag table, whatever its tag byte says", () => {
    write(0, pattern(2 * PAGE_SIZE, 6));
    // Guest addresses from 2^32 - 1 MiB up have their tag byte in the pin slots: make those bytes
    // look like pair-dirty tags. Shifted by BASE, such an address would wrap to the tag table.
    const real = new Uint8Array(p.rewritten.mmu.memory.buffer);
    const saved = real.slice(PIN_SLOTS, PIN_SLOTS + 256);
    real.fill(0xff, PIN_SLOTS, PIN_SLOTS + 256);
    const high = PIN_SLOTS * PAGE_SIZE;
    const tagsBefore = real.slice(0, PAGES);
    expect(run("copy", high, 0, 16)).toMatch(/^trap: .*out of bounds/);
    expect(run("copy", 0, high + 8, 16)).toMatch(/^trap: .*out of bounds/);
    expect(run("fill", high, 0, 16)).toMatch(/^trap: .*out of bounds/);
    expect(calls()).toBe(3);
    expect(real.slice(0, PAGES)).toEqual(tagsBefore);
    real.set(saved, PIN_SLOTS);
    expectSameMemory();
  });

  it("writes into shared pages natively, where the host sees the bytes at once", () => {
    write(0, pattern(2 * PAGE_SIZE, 7));
    p.rewritten.mmu.share(10, 2); // resident and dirty: page 10 has the pair-dirty bit
    expect(p.rewritten.mmu.tagOf(10) & TAG_PAIR_DIRTY).toBeTruthy();
    expect(run("copy", 10 * PAGE_SIZE + 4000, 50, 200)).toBe("ok");
    expect(calls()).toBe(0);
    expect(p.rewritten.mmu.sharedView(10).subarray(4000)).toEqual(pattern(PAGE_SIZE, 7).subarray(50, 146));
    expect(p.rewritten.mmu.sharedView(11).subarray(0, 104)).toEqual(pattern(PAGE_SIZE, 7).subarray(146, 250));
    expectSameMemory();
  });
});
