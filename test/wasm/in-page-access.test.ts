// A wide access whose next page is not resident fails the inline pair-bit test; when it stays
// inside its own page, that page's tag suffices (code-rewriter.ts emitInPageExit), so the
// neighbour is never filled. One crossing into the next page still brings both pages in.
import { describe, expect, it } from "vitest";
import { instantiateGuest } from "../../host/wasm/guest";
import type { Guest } from "../../host/wasm/guest";
import { TAG_DIRTY, TAG_RESIDENT } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { RecordingStore } from "./recording-store";
import { wat } from "./wat";

type Fn = (...args: number[]) => number;

const PAGES = 64; // 4 Wasm pages

/**
 * `reads` and `writes` touch `n` random words of the even pages only, as a load or store of 2, 4,
 * 8 or 16 bytes, some ending exactly at the end of their page; their neighbours (odd pages) are
 * never touched. `edges` loads the last bytes of one page in every width; `at`/`put` go anywhere.
 */
const bytes = wat(`(module (memory (export "memory") 4)
  (func $next (param $x i32) (result i32)
    (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
    (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
    (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
  ;; an even page, and a 16-byte aligned spot in it: [page * 4096 + 16k, +16)
  (func $spot (param $x i32) (result i32)
    (i32.or (i32.shl (i32.and (i32.shr_u (local.get $x) (i32.const 16)) (i32.const 31)) (i32.const 13))
            (i32.shl (i32.and (local.get $x) (i32.const 255)) (i32.const 4))))
  (func (export "reads") (param $x i32) (param $n i32) (result i32) (local $s i32) (local $a i32)
    (loop $l
      (local.set $x (call $next (local.get $x)))
      (local.set $a (call $spot (local.get $x)))
      (local.set $s (i32.add (local.get $s) (i32.load offset=12 (local.get $a))))
      (local.set $s (i32.add (local.get $s) (i32.load16_u offset=14 (local.get $a))))
      (local.set $s (i32.add (local.get $s) (i32.wrap_i64 (i64.load offset=8 (local.get $a)))))
      (local.set $s (i32.add (local.get $s) (i32x4.extract_lane 3 (v128.load (local.get $a)))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
  (func (export "writes") (param $x i32) (param $n i32) (local $a i32)
    (loop $l
      (local.set $x (call $next (local.get $x)))
      (local.set $a (call $spot (local.get $x)))
      (i32.store offset=12 (local.get $a) (local.get $x))
      (i64.store (local.get $a) (i64.extend_i32_u (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "edges") (param $p i32) (result i32) (local $a i32)
    (local.set $a (i32.mul (local.get $p) (i32.const 4096)))
    (i32.add (i32.add (i32.load offset=4092 (local.get $a)) (i32.load16_s offset=4094 (local.get $a)))
      (i32.add (i32.wrap_i64 (i64.load offset=4088 (local.get $a))) (i32x4.extract_lane 0 (v128.load offset=4080 (local.get $a))))))
  (func (export "at") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "put") (param i32 i32) (i64.store (local.get 0) (i64.extend_i32_s (local.get 1)))))`);

/** Both instances with the same contents in every page; the rewritten one with nothing resident. */
async function both(capacityPages: number): Promise<{ n: Guest; w: Guest; store: RecordingStore }> {
  const store = new RecordingStore();
  const n = await instantiateGuest(bytes, {}, { rewrite: false });
  const w = await instantiateGuest(bytes, {}, { rewrite: true, capacityPages, backing: store, cache: false });
  const data = Uint8Array.from({ length: PAGES * PAGE_SIZE }, (_, i) => (i * 31 + (i >> 12)) & 0xff);
  n.write(0, data);
  w.write(0, data);
  w.mmu!.evictAll();
  store.loads.length = 0;
  store.writes.length = 0;
  return { n, w, store };
}

const fn = (g: Guest, name: string): Fn => g.instance.exports[name] as Fn;
const odd = (pages: number[]) => pages.filter((p) => p % 2 === 1);

describe("wide accesses inside one page never fill the next page", () => {
  it("random reads under a tiny cache: one fill per fault, never a neighbour", async () => {
    const { n, w, store } = await both(4);
    const mmu = w.mmu!;
    const { faults, fills, softFaults } = mmu.stats;
    expect(fn(w, "reads")(12345, 3000)).toBe(fn(n, "reads")(12345, 3000));
    expect(mmu.stats.fills - fills).toBeGreaterThan(2000); // 4 of 32 pages resident: most reads miss
    // Every fault a fill, but for CLOCK's soft faults on the pages it trapped.
    expect(mmu.stats.fills - fills).toBe(mmu.stats.faults - faults - (mmu.stats.softFaults - softFaults));
    expect(mmu.stats.fills - fills).toBe(store.loads.length);
    expect(odd(store.loads)).toEqual([]);
  });

  it("with room for the working set, each page is filled once: the distinct pages read", async () => {
    const { n, w, store } = await both(PAGES);
    const mmu = w.mmu!;
    const { faults, fills } = mmu.stats;
    expect(fn(w, "reads")(777, 3000)).toBe(fn(n, "reads")(777, 3000));
    expect(new Set(store.loads).size).toBe(32);
    expect(mmu.stats.fills - fills).toBe(32);
    expect(mmu.stats.faults - faults).toBe(32);
    for (let p = 1; p < PAGES; p += 2) expect(mmu.tagOf(p), `page ${p}`).toBe(0);
  });

  it("the last bytes of a page, in every width, need no call once the page is resident", async () => {
    const { n, w, store } = await both(4);
    const mmu = w.mmu!;
    expect(fn(w, "at")(10 * PAGE_SIZE)).toBe(fn(n, "at")(10 * PAGE_SIZE));
    const faults = mmu.stats.faults;
    expect(fn(w, "edges")(10)).toBe(fn(n, "edges")(10));
    expect(mmu.stats.faults).toBe(faults);
    expect(store.loads).toEqual([10]);
  });

  it("random stores: a clean page is made dirty without a fill, and no neighbour is read or written", async () => {
    const { n, w, store } = await both(4);
    const mmu = w.mmu!;
    fn(n, "writes")(99, 2000);
    fn(w, "writes")(99, 2000);
    expect(odd(store.loads)).toEqual([]);
    expect(odd(store.writes)).toEqual([]);
    // A load then a store inside page 40: one fill, then one fault that only sets the dirty bit.
    mmu.evictAll();
    const { faults, fills } = mmu.stats;
    expect(fn(w, "at")(40 * PAGE_SIZE + 4092)).toBe(fn(n, "at")(40 * PAGE_SIZE + 4092));
    expect(mmu.tagOf(40) & (TAG_RESIDENT | TAG_DIRTY)).toBe(TAG_RESIDENT);
    fn(w, "put")(40 * PAGE_SIZE + 4088, -7);
    fn(n, "put")(40 * PAGE_SIZE + 4088, -7);
    expect(mmu.tagOf(40) & TAG_DIRTY).toBe(TAG_DIRTY);
    expect([mmu.stats.faults - faults, mmu.stats.fills - fills]).toEqual([2, 1]);
    expect(mmu.tagOf(41)).toBe(0);
    expect(w.read(0, PAGES * PAGE_SIZE)).toEqual(n.read(0, PAGES * PAGE_SIZE));
  });

  it("an access crossing into the next page brings both pages in, and reads or writes them right", async () => {
    const { n, w, store } = await both(4);
    const mmu = w.mmu!;
    // Neither page resident: one fault fills both.
    expect(fn(w, "at")(20 * PAGE_SIZE + 4094)).toBe(fn(n, "at")(20 * PAGE_SIZE + 4094));
    expect(store.loads).toEqual([20, 21]);
    // This page resident, the next not: the crossing load fills the next.
    mmu.evictAll();
    store.loads.length = 0;
    expect(fn(w, "at")(30 * PAGE_SIZE)).toBe(fn(n, "at")(30 * PAGE_SIZE));
    expect(fn(w, "at")(30 * PAGE_SIZE + 4093)).toBe(fn(n, "at")(30 * PAGE_SIZE + 4093));
    expect(store.loads).toEqual([30, 31]);
    // A crossing store makes both dirty, whatever was resident.
    fn(w, "put")(31 * PAGE_SIZE + 4090, 0x12345678);
    fn(n, "put")(31 * PAGE_SIZE + 4090, 0x12345678);
    expect([mmu.tagOf(31) & TAG_DIRTY, mmu.tagOf(32) & TAG_DIRTY]).toEqual([TAG_DIRTY, TAG_DIRTY]);
    expect(store.loads).toEqual([30, 31, 32]);
    expect(w.read(0, PAGES * PAGE_SIZE)).toEqual(n.read(0, PAGES * PAGE_SIZE));
  });
});
