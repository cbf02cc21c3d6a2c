// The AssemblyScript guests give identical output as given and rewritten: guest-apps/hello and
// every compute kernel of guest-apps/kernels, natively, rewritten with the default cache, and
// rewritten under a tiny cache where faults and evictions really happen. Every checksum is also
// checked against an independent TypeScript computation, so a wrong kernel fails.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { instantiateGuest } from "../../host/wasm/guest";
import type { Guest, GuestAccess, GuestOptions } from "../../host/wasm/guest";
import { DEFAULT_CAPACITY_PAGES, minCapacityFor } from "../../host/wasm/mmu";
import { rewriteModule } from "../../host/wasm/rewrite";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The tiny cache: 8 pages, or the least the rewritten module accepts if that is more. */
const TINY_CACHE_PAGES = 8;

interface Mode {
  label: string;
  rewrite: boolean;
  tiny: boolean;
}
const MODES: readonly Mode[] = [
  { label: "native", rewrite: false, tiny: false },
  { label: "rewritten", rewrite: true, tiny: false },
  { label: "rewritten, tiny cache", rewrite: true, tiny: true },
];

let helloWasm: Uint8Array;
let kernelsWasm: Uint8Array;

beforeAll(() => {
  // Builds the two guests if their sources are newer than the .wasm (a no-op otherwise).
  execFileSync(process.execPath, [join(root, "scripts/build-guests.mjs"), "--if-stale", "--quiet", "hello", "kernels"], {
    stdio: "inherit",
  });
  helloWasm = new Uint8Array(readFileSync(join(root, "guest-apps/hello.wasm")));
  kernelsWasm = new Uint8Array(readFileSync(join(root, "guest-apps/kernels.wasm")));
});

// ---- host side of a guest: enclave.log and the AssemblyScript runtime's abort ----

interface Hosted {
  guest: Guest;
  logs: string[];
  /** Resident capacity in pages (rewritten only). */
  capacity: number;
}

/** AssemblyScript strings are UTF-16LE with their byte length as a u32 at ptr - 4. */
function readAsString(access: GuestAccess, ptr: number): string {
  const len = new DataView(access.read(ptr - 4, 4).slice().buffer).getUint32(0, true);
  return Buffer.from(access.read(ptr, len)).toString("utf16le");
}

async function host(bytes: Uint8Array, mode: Mode): Promise<Hosted> {
  const capacity = mode.tiny ? Math.max(TINY_CACHE_PAGES, minCapacityFor(rewriteModule(bytes))) : DEFAULT_CAPACITY_PAGES;
  // The rewrite cache is bypassed so that the rewriter under test is the one in the tree.
  const opts: GuestOptions = mode.rewrite ? { rewrite: true, cache: false, capacityPages: capacity } : { rewrite: false };
  const logs: string[] = [];
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const guest = await instantiateGuest(bytes, (access) => ({
    enclave: {
      log: (ptr: number, len: number) => logs.push(utf8.decode(access.read(ptr, len))),
    },
    env: {
      abort: (msg: number, file: number, line: number, col: number) => {
        throw new Error(`abort: ${readAsString(access, msg)} (${readAsString(access, file)}:${line}:${col})`);
      },
    },
  }), opts);
  return { guest, logs, capacity };
}

// ---- independent TypeScript references of the kernels (same PRNG, same checksum folding) ----

/** xorshift32, as in guest-apps/kernels.ts. */
class XorShift32 {
  state: number;
  constructor(seed: number) {
    this.state = seed !== 0 ? seed >>> 0 : 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
}

/** floor(x * n / 2^32); exact in doubles for the small n used here. */
function below(x: number, n: number): number {
  if (n >= 2 ** 21) throw new Error("reference sizes must stay small");
  return Math.floor((x * n) / 2 ** 32);
}

const fold = (h: number, v: number) => Math.imul(h, 31) ^ v;

interface Reference {
  /** Checksums of step(kernel, iters) for each entry of `iters`, in order. */
  checksums: number[];
  /** For the sort: the array after the last step. */
  sorted?: Int32Array;
}

function referenceSort(bytes: number, seed: number, iters: number[]): Reference {
  const rng = new XorShift32(seed);
  const n = bytes >> 2;
  let a = new Int32Array(n);
  const checksums = iters.map((count) => {
    let h = 0;
    for (let it = 0; it < count; it++) {
      a = Int32Array.from({ length: n }, () => rng.next() | 0).sort();
      h = fold(fold(fold(h, a[0]!), a[n >> 1]!), a[n - 1]!);
    }
    return h;
  });
  return { checksums, sorted: a };
}

function referenceHashTable(bytes: number, seed: number, iters: number[]): Reference {
  const rng = new XorShift32(seed);
  let bits = 3;
  while (16 * 2 ** bits <= bytes) bits++;
  const count = 2 ** (bits - 1);
  const checksums = iters.map((iterations) => {
    let h = 0;
    for (let it = 0; it < iterations; it++) {
      const table = new Map<number, number>();
      for (let i = 0; i < count; i++) table.set(below(rng.next(), 2 * count) + 1, i);
      let found = 0;
      let sum = 0;
      for (let i = 0; i < count; i++) {
        const v = table.get(below(rng.next(), 2 * count) + 1);
        if (v !== undefined) {
          found++;
          sum = (sum + v) | 0;
        }
      }
      h = fold(fold(h, found), sum);
    }
    return h;
  });
  return { checksums };
}

function referenceMatmul(bytes: number, seed: number, iters: number[]): Reference {
  const rng = new XorShift32(seed);
  const n = Math.max(Math.trunc(Math.sqrt(bytes / 24)), 2);
  const a = Array.from({ length: n * n }, () => rng.next() & 15);
  const b = Array.from({ length: n * n }, () => rng.next() & 15);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let c = 0;
      for (let k = 0; k < n; k++) c += a[i * n + k]! * b[k * n + j]!;
      total += c;
    }
  }
  const wrapped = Number(BigInt.asIntN(32, BigInt(total)));
  const checksums = iters.map((count) => {
    let h = 0;
    for (let it = 0; it < count; it++) h = fold(h, wrapped);
    return h;
  });
  return { checksums };
}

function referenceScan(random: boolean) {
  return (bytes: number, seed: number, iters: number[]): Reference => {
    const rng = new XorShift32(seed);
    const n = bytes >> 2;
    const data = Int32Array.from({ length: n }, () => rng.next() | 0);
    const checksums = iters.map((count) => {
      let h = 0;
      for (let it = 0; it < count; it++) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum = (sum + data[random ? below(rng.next(), n) : i]!) | 0;
        h = fold(h, sum);
      }
      return h;
    });
    return { checksums };
  };
}

interface KernelCase {
  id: string;
  bytes: number;
  iters: number[];
  reference: (bytes: number, seed: number, iters: number[]) => Reference;
}

// Working sets of 16-48 pages: larger than the tiny cache, so the rewritten run must evict.
const KERNELS: readonly KernelCase[] = [
  { id: "SORT", bytes: 64 << 10, iters: [1, 2], reference: referenceSort },
  { id: "HASH_TABLE", bytes: 128 << 10, iters: [1, 2], reference: referenceHashTable },
  { id: "MATMUL", bytes: 96 << 10, iters: [1, 1], reference: referenceMatmul },
  { id: "SEQ_SCAN", bytes: 128 << 10, iters: [1, 3], reference: referenceScan(false) },
  { id: "RANDOM_SCAN", bytes: 128 << 10, iters: [1, 3], reference: referenceScan(true) },
];
const SEED = 20251125;

interface KernelExports {
  setup(kernel: number, bytes: number, seed: number): void;
  step(kernel: number, iters: number): number;
  sortDataPtr(): number;
  sortDataLength(): number;
}

function kernelId(guest: Guest, id: string): number {
  const g = guest.instance.exports[id];
  if (!(g instanceof WebAssembly.Global)) throw new Error(`kernels.wasm does not export ${id}`);
  return g.value as number;
}

/**
 * A rewritten guest really ran through the MMU: its working set became resident; with the default
 * cache nothing was evicted, with the tiny one pages were evicted, written back and filled again.
 */
function expectMmuActivity({ guest, capacity }: Hosted, mode: Mode, workingSetBytes: number): void {
  if (!mode.rewrite) {
    expect(guest.mmu).toBeNull();
    return;
  }
  expect(guest.rewrite).not.toBeNull();
  const mmu = guest.mmu!;
  const s = mmu.stats;
  expect(s.faults).toBeGreaterThan(0);
  if (mode.tiny) {
    expect(capacity).toBeLessThan(workingSetBytes / 4096); // else the test would prove nothing
    expect(mmu.residentPages).toBeLessThanOrEqual(capacity);
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.writeBacks).toBeGreaterThan(0);
    expect(s.fills).toBeGreaterThan(0);
  } else {
    expect(mmu.residentPages).toBeGreaterThanOrEqual(workingSetBytes / 4096);
    expect(s.evictions).toBe(0);
  }
}

// ---- hello ----

/** The checksum hello.ts prints, computed independently. */
function helloChecksum(): number {
  let h = 2166136261;
  for (let i = 0; i < 64 * 1024; i++) {
    const v = (Math.imul(i, 2654435761) ^ (i >>> 3)) >>> 0;
    h = Math.imul(h ^ v, 16777619) >>> 0;
  }
  return h;
}

describe("guest-apps/hello", () => {
  it.each(MODES)("prints the greeting and the right checksum ($label)", async (mode) => {
    const hosted = await host(helloWasm, mode);
    const { guest, logs } = hosted;
    (guest.instance.exports._start as () => void)();
    expect(logs).toEqual(["hello from inside the enclave", `checksum ${helloChecksum()}`]);
    expectMmuActivity(hosted, mode, 64 * 4096); // hello's data: 256 KiB
  });
});

// ---- kernels ----

describe("guest-apps/kernels", () => {
  it("exports one id per kernel", async () => {
    const { guest } = await host(kernelsWasm, MODES[0]!);
    const ids = KERNELS.map((k) => kernelId(guest, k.id));
    expect(new Set(ids).size).toBe(KERNELS.length);
    expect(kernelId(guest, "KERNEL_COUNT")).toBe(KERNELS.length);
  });

  for (const k of KERNELS) {
    describe(k.id, () => {
      const expected = () => k.reference(k.bytes, SEED, k.iters);
      let want: Reference;
      beforeAll(() => {
        want = expected();
      });

      it.each(MODES)("matches the TypeScript reference ($label)", async (mode) => {
        const hosted = await host(kernelsWasm, mode);
        const { guest } = hosted;
        const e = guest.instance.exports as unknown as KernelExports;
        const kernel = kernelId(guest, k.id);
        e.setup(kernel, k.bytes, SEED);
        const got = k.iters.map((n) => e.step(kernel, n));
        expect(got).toEqual(want.checksums);
        if (want.sorted) {
          // The sorted array itself, read through the guest view: sorted and the same multiset.
          const n = e.sortDataLength();
          expect(n).toBe(want.sorted.length);
          const raw = guest.read(e.sortDataPtr(), n * 4).slice();
          const a = new Int32Array(raw.buffer, 0, n);
          for (let i = 1; i < n; i++) if (a[i - 1]! > a[i]!) expect.fail(`not sorted at ${i}: ${a[i - 1]} > ${a[i]}`);
          expect(a).toEqual(want.sorted);
        }
        expectMmuActivity(hosted, mode, k.bytes);
      });
    });
  }

  it.each(MODES)("reports an unknown kernel through env.abort ($label)", async (mode) => {
    const { guest } = await host(kernelsWasm, mode);
    const e = guest.instance.exports as unknown as KernelExports;
    expect(() => e.step(99, 1)).toThrow(/abort: unknown kernel 99 \(guest-apps\/kernels\.ts:\d+:\d+\)/);
  });
});
