// The MMU's batches (mmu.ts): a sequential stream of misses is filled in runs, one call of the
// backing per run, and a dirty victim is written back together with the next dirty pages due, one
// call per batch; random misses stay one page each. Contents are always what native V8 computes,
// whatever the batching, and a page the guest may still store to without faulting is never made
// clean behind its back.
import { describe, expect, it } from "vitest";
import { instantiateGuest } from "../../host/wasm/guest";
import type { Guest } from "../../host/wasm/guest";
import { SoftMmu } from "../../host/wasm/mmu";
import { TAG_DIRTY } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { BatchRecordingStore } from "./recording-store";
import { STREAM_FUNCS } from "./stream-funcs";
import { wat } from "./wat";

type Fn = (...args: number[]) => number;
const PAGES = 128; // 8 Wasm pages

const bytes = wat(`(module (memory (export "memory") 8)
  ${STREAM_FUNCS}
  (func (export "put") (param $a i32) (param $v i64) (i64.store (local.get $a) (local.get $v)))
  (func (export "get") (param $a i32) (result i32) (i32.load (local.get $a))))`);

async function both(capacityPages: number): Promise<{ n: Guest; w: Guest; store: BatchRecordingStore }> {
  const store = new BatchRecordingStore();
  const n = await instantiateGuest(bytes, {}, { rewrite: false });
  const w = await instantiateGuest(bytes, {}, { rewrite: true, capacityPages, backing: store, cache: false });
  const data = Uint8Array.from({ length: PAGES * PAGE_SIZE }, (_, i) => (i * 7 + (i >> 12) * 13) & 0xff);
  n.write(0, data);
  w.write(0, data);
  w.mmu!.evictAll();
  store.loads.length = 0;
  store.writes.length = 0;
  store.runs.length = 0;
  store.storeBatches.length = 0;
  return { n, w, store };
}

const fn = (g: Guest, name: string): Fn => g.instance.exports[name] as Fn;
const put = (g: Guest, a: number, v: bigint) => (g.instance.exports.put as (a: number, v: bigint) => void)(a, v);
const words = (pages: number) => (pages * PAGE_SIZE) / 4;
/** Byte for byte, the rewritten guest's memory (read through its MMU) against native's. */
const sameMemory = (w: Guest, n: Guest) => Buffer.compare(w.read(0, PAGES * PAGE_SIZE), n.read(0, PAGES * PAGE_SIZE)) === 0;

describe("batched fills and write-backs", () => {
  it("fills a sequential stream in runs that double up to batchPages, one call each", async () => {
    const { n, w, store } = await both(256);
    expect(fn(w, "sum")(0, words(PAGES))).toBe(fn(n, "sum")(0, words(PAGES)));
    const mmu = w.mmu!;
    // The first miss is one page; the next, right after it, starts a stream: runs tile the rest.
    expect(store.loads).toEqual([0]);
    expect(store.runs).toEqual([[1, 4], [5, 8], [13, 16], [29, 32], [61, 32], [93, 32], [125, 3]]);
    expect(mmu.stats.fills).toBe(PAGES);
    expect(mmu.stats.fillRuns).toBe(7);
  });

  it("takes one page per miss with batching off, and at random", async () => {
    const { n, w, store } = await both(256);
    w.mmu!.setBatching({ batchPages: 1 });
    expect(fn(w, "sum")(0, words(PAGES))).toBe(fn(n, "sum")(0, words(PAGES)));
    expect(store.runs).toEqual([]);
    expect(store.loads.length).toBe(PAGES);
    w.mmu!.evictAll();
    w.mmu!.setBatching({ batchPages: 32 });
    store.loads.length = 0;
    for (const p of [5, 90, 17, 3, 64, 40, 41 + 60, 7]) expect(fn(w, "get")(p * PAGE_SIZE + 8)).toBe(fn(n, "get")(p * PAGE_SIZE + 8));
    expect(store.runs).toEqual([]);
    expect(store.loads).toEqual([5, 90, 17, 3, 64, 40, 101, 7]);
  });

  it("writes a dirty victim back together with the next dirty pages due, and loses no store", async () => {
    const { n, w, store } = await both(16);
    const mmu = w.mmu!;
    mmu.setBatching({ batchPages: 1, cleanAhead: 8 });
    const writeBacks = mmu.stats.writeBacks;
    for (const g of [n, w]) fn(g, "fillw")(0, words(PAGES), 0x5a5a0000); // every page dirty once, in order
    expect(store.storeBatches.length).toBeGreaterThan(0);
    expect(Math.max(...store.storeBatches.map((b) => b.length))).toBe(8);
    // Each batch: the victim, then the pages the FIFO evicts next, in that order.
    for (const b of store.storeBatches) expect(b).toEqual(b.map((_, k) => b[0]! + k));
    expect(mmu.stats.writeBacks - writeBacks).toBe(store.writes.length);
    expect(sameMemory(w, n)).toBe(true);
    mmu.evictAll();
    expect(sameMemory(w, n)).toBe(true);
  });

  it("never cleans the pages of the access being served: a store crossing into a filled page stays dirty", async () => {
    const { n, w, store } = await both(4);
    const mmu = w.mmu!;
    mmu.setBatching({ batchPages: 1, cleanAhead: 4 });
    // Pages 10..13 resident and dirty, in that FIFO order; then a store crossing from 13 into 14:
    // the victim (10) is dirty, and 13, the access's own page, is among the next due.
    for (const p of [10, 11, 12, 13]) for (const g of [n, w]) put(g, p * PAGE_SIZE, BigInt(p));
    for (const g of [n, w]) put(g, 14 * PAGE_SIZE - 4, 0x1122334455667788n);
    expect(store.storeBatches[0]).toEqual([10, 11, 12]);
    expect(mmu.tagOf(13) & TAG_DIRTY).toBe(TAG_DIRTY);
    mmu.evictAll();
    expect(sameMemory(w, n)).toBe(true);
  });

  it("never cleans a page pinned by a loop that stores to it unchecked, while the loop's other accesses evict", async () => {
    // gather: dst[i] = src[random] for i < n; dst's stores run unchecked over a pinned range, the
    // random loads fault and evict dirty victims, which are written back with the next dirty pages due.
    const gather = wat(`(module (memory (export "memory") 8)
      (func (export "gather") (param $dst i32) (param $n i32) (param $x i32) (local $i i32)
        (loop $l (if (i32.lt_s (local.get $i) (local.get $n)) (then
          (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
          (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
          (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
          (i32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
            (i32.load (i32.and (local.get $x) (i32.const 0x3fffc))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l))))))`);
    const n = await instantiateGuest(gather, {}, { rewrite: false });
    const w = await instantiateGuest(gather, {}, { rewrite: true, capacityPages: 48, backing: new BatchRecordingStore(), cache: false });
    expect(w.rewrite!.stats.ranged).toBe(1);
    w.mmu!.setBatching({ cleanAhead: 16 });
    const data = Uint8Array.from({ length: PAGES * PAGE_SIZE }, (_, i) => (i * 31 + (i >> 12)) & 0xff);
    n.write(0, data);
    w.write(0, data);
    for (let round = 0; round < 6; round++) {
      const dst = 0x40000 + round * 4 * PAGE_SIZE; // 4 pages past the 64 pages read at random
      for (const g of [n, w]) fn(g, "gather")(dst, 4096, 99 + round);
    }
    expect(w.mmu!.stats.writeBackBatches).toBeGreaterThan(0);
    w.mmu!.evictAll();
    expect(sameMemory(w, n)).toBe(true);
  });

  it("agrees with native under random streams, crossings and stores at every batch size and policy", async () => {
    for (const [batchPages, cleanAhead, replacement] of [[32, 16, "clock"], [4, 2, "clock"], [1, 1, "clock"], [64, 64, "fifo"], [32, 16, "fifo"]] as const) {
      const { n, w } = await both(12);
      w.mmu!.setBatching({ batchPages, cleanAhead });
      w.mmu!.setReplacement(replacement);
      let x = 12345 + batchPages;
      const rand = (k: number) => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % k;
      for (let step = 0; step < 400; step++) {
        const a = rand(PAGES * PAGE_SIZE - 3 * PAGE_SIZE) & ~3; // room for the longest stream
        const op = rand(4);
        if (op === 0) {
          const len = 1 + rand(3000);
          expect(fn(w, "sum")(a, len), `step ${step}`).toBe(fn(n, "sum")(a, len));
        } else if (op === 1) {
          const len = 1 + rand(2500);
          for (const g of [n, w]) fn(g, "fillw")(a, len, step);
        } else if (op === 2) for (const g of [n, w]) put(g, a + 4092 - (a % 4096), BigInt(step)); // crosses into the next page
        else expect(fn(w, "get")(a), `step ${step}`).toBe(fn(n, "get")(a));
      }
      w.mmu!.evictAll();
      expect(sameMemory(w, n), `batchPages ${batchPages}, cleanAhead ${cleanAhead}, ${replacement}`).toBe(true);
    }
  });

  it("refuses batch sizes outside 1..64, naming the option", () => {
    expect(() => new SoftMmu({ initial: 1, maximum: null }, { batchPages: 0 })).toThrow(/batchPages must be an integer in 1\.\.64/);
    const mmu = new SoftMmu({ initial: 1, maximum: null });
    expect(() => mmu.setBatching({ cleanAhead: 65 })).toThrow(/cleanAhead must be an integer in 1\.\.64, got 65/);
    expect(mmu.batchPages).toBe(32);
  });
});
