// kv's allocators on their own (guest-apps/kv/page-heap.ts, slab.ts, zmalloc.ts), compiled with a
// probe that exports them and driven with random allocations, frees and resizes against a model:
// every live block keeps its bytes, none overlaps another, used_memory is the sum of their usable
// sizes, freed runs merge again, and at the memory limit an allocation returns 0 instead of
// trapping.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Probe {
  memory: WebAssembly.Memory;
  zalloc(n: number): number;
  zrealloc(p: number, n: number): number;
  zfree(p: number): void;
  zusable(p: number): number;
  usedMemory(): bigint;
  heapFootprint(): bigint;
  setHeapLimit(bytes: bigint): void;
}

let binary: Uint8Array;

beforeAll(async () => {
  const { default: asc } = await import("assemblyscript/asc");
  const entry = [
    'export { zalloc, zrealloc, zfree, zusable, usedMemory } from "./guest-apps/kv/zmalloc";',
    'export { heapFootprint, setHeapLimit } from "./guest-apps/kv/page-heap";',
  ].join("\n");
  let out: Uint8Array | undefined;
  const { error, stderr } = await asc.main(["heap-probe.ts", "--outFile", "heap-probe.wasm", "--runtime", "stub", "-O3"], {
    readFile: (name: string, baseDir: string) => {
      if (name === "heap-probe.ts") return entry;
      try {
        return readFileSync(join(ROOT, baseDir, name), "utf8");
      } catch {
        return null;
      }
    },
    writeFile: (name: string, contents: string | Uint8Array) => {
      if (name.endsWith(".wasm") && contents instanceof Uint8Array) out = contents;
    },
    listFiles: () => [],
  });
  if (error || !out) throw new Error(`the allocator probe did not compile: ${error?.message}\n${stderr.toString()}`);
  binary = out;
}, 60_000);

async function probe(): Promise<Probe> {
  const module = await WebAssembly.compile(binary as BufferSource);
  const instance = await WebAssembly.instantiate(module, { env: { abort: () => { throw new Error("abort"); } } });
  return instance.exports as unknown as Probe;
}

/** A small deterministic generator (xorshift32), so a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

interface Block {
  p: number;
  size: number;
  fill: number;
}

describe("kv's allocators", () => {
  it("keep every block's bytes, never overlap, count used_memory, and return 0 at the limit instead of trapping", async () => {
    for (const seed of [1, 2]) {
      const k = await probe();
      const limit = 24 << 20;
      k.setHeapLimit(BigInt(limit));
      const random = rng(seed);
      const live: Block[] = [];
      let refused = 0;
      const bytes = () => new Uint8Array(k.memory.buffer);
      const size = () => {
        const r = random();
        if (r < 0.6) return 1 + Math.floor(random() * 4080); // slab objects
        if (r < 0.95) return 4081 + Math.floor(random() * 60_000); // runs of a few pages
        return 1 << 20 | Math.floor(random() * (2 << 20)); // runs of hundreds of pages
      };
      const paint = (b: Block) => bytes().fill(b.fill, b.p, b.p + b.size);
      const intact = (b: Block) => {
        const view = bytes().subarray(b.p, b.p + b.size);
        return view.every((v) => v === b.fill);
      };
      for (let step = 0; step < 3000; step++) {
        const r = random();
        if (r < 0.5 || live.length === 0) {
          const n = size();
          const p = k.zalloc(n);
          if (p === 0) {
            refused++;
            continue;
          }
          expect(k.zusable(p)).toBeGreaterThanOrEqual(n);
          const b = { p, size: n, fill: 1 + (step % 255) };
          paint(b);
          live.push(b);
        } else if (r < 0.8) {
          const [b] = live.splice(Math.floor(random() * live.length), 1);
          expect(intact(b!)).toBe(true);
          k.zfree(b!.p);
        } else {
          const b = live[Math.floor(random() * live.length)]!;
          const n = size();
          const q = k.zrealloc(b.p, n);
          if (q === 0) {
            refused++;
            expect(intact(b)).toBe(true); // unchanged when refused
            continue;
          }
          const kept = Math.min(b.size, n);
          expect(bytes().subarray(q, q + kept).every((v) => v === b.fill)).toBe(true);
          b.p = q;
          b.size = n;
          paint(b);
        }
        if (step % 200 === 0) {
          const sorted = [...live].sort((x, y) => x.p - y.p);
          for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.p).toBeGreaterThanOrEqual(sorted[i - 1]!.p + k.zusable(sorted[i - 1]!.p));
          for (const b of live) expect(intact(b)).toBe(true);
          expect(Number(k.usedMemory())).toBe(live.reduce((sum, b) => sum + k.zusable(b.p), 0));
          expect(Number(k.heapFootprint())).toBeLessThanOrEqual(limit + 65536);
        }
      }
      expect(refused).toBeGreaterThan(0); // the limit was reached, and answered with 0
      for (const b of live.splice(0)) k.zfree(b.p);
      expect(Number(k.usedMemory())).toBe(0);
    }
  });

  it("merges freed runs again, whatever the order they are freed in", async () => {
    const k = await probe();
    const random = rng(7);
    const blocks = Array.from({ length: 300 }, () => k.zalloc(4081 + Math.floor(random() * 200_000)));
    expect(blocks).not.toContain(0);
    const footprint = Number(k.heapFootprint());
    while (blocks.length > 0) k.zfree(blocks.splice(Math.floor(random() * blocks.length), 1)[0]!);
    const whole = k.zalloc(footprint - 16); // every page this heap grew, as one block
    expect(whole).not.toBe(0);
    expect(Number(k.heapFootprint())).toBe(footprint); // no growth was needed
  });

  it("grows the block at the top of memory in place, growing the memory under it, up to the limit", async () => {
    const k = await probe();
    k.setHeapLimit(BigInt(64 << 20));
    const a = k.zalloc(1 << 20);
    const top = k.zalloc(2 << 20);
    new Uint8Array(k.memory.buffer).fill(7, top, top + (2 << 20));
    expect(k.zrealloc(top, 40 << 20)).toBe(top); // no copy, no hole
    expect(new Uint8Array(k.memory.buffer).subarray(top, top + (2 << 20)).every((v) => v === 7)).toBe(true);
    expect(Number(k.heapFootprint())).toBeLessThan(48 << 20);
    expect(k.zrealloc(top, 80 << 20)).toBe(0); // past the limit: refused, the block unchanged
    expect(k.zusable(top)).toBeGreaterThanOrEqual(40 << 20);
    k.zfree(a);
  });

  it("grows a block in place when the pages after it are free", async () => {
    const k = await probe();
    const a = k.zalloc(100_000);
    const b = k.zalloc(100_000);
    k.zfree(b);
    expect(k.zrealloc(a, 180_000)).toBe(a);
    expect(k.zusable(a)).toBeGreaterThanOrEqual(180_000);
    const c = k.zalloc(5000); // the pages left after a's growth are still usable
    expect(c).not.toBe(0);
  });
});
