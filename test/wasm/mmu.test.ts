import { describe, expect, it } from "vitest";
import { instantiateGuest } from "../../host/wasm/guest";
import { BASE, FIRST_RANGE_SLOT, PIN_SLOTS, RANGE_FIRST, RANGE_WRITE, TAG_DIRTY, TAG_PAIR_DIRTY, TAG_PAIR_RESIDENT, TAG_RESIDENT, TAG_SHARED } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { SoftMmu } from "../../host/wasm/mmu";
import { MemoryPageStore } from "../../host/wasm/page-backing";
import type { PageBacking } from "../../host/wasm/page-backing";
import { RecordingStore } from "./recording-store";
import { wat } from "./wat";

/** A guest that writes a recognisable pattern into N pages, then sums them back. */
const pager = wat(`(module (memory 64)
  (func (export "writePages") (param $n i32) (local $p i32)
    (loop $l
      (i32.store (i32.mul (local.get $p) (i32.const 4096)) (i32.add (local.get $p) (i32.const 1000)))
      (i32.store offset=4092 (i32.mul (local.get $p) (i32.const 4096)) (local.get $p))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $n)))))
  (func (export "sumPages") (param $n i32) (result i32) (local $p i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load (i32.mul (local.get $p) (i32.const 4096)))))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $n))))
    (local.get $s)))`);

async function pagerGuest(capacityPages: number, backing: PageBacking) {
  const g = await instantiateGuest(pager, {}, { rewrite: true, capacityPages, backing, cache: false });
  return { g, mmu: g.mmu!, write: g.instance.exports.writePages as (n: number) => void, sum: g.instance.exports.sumPages as (n: number) => number };
}

describe("software MMU runtime", () => {
  it("keeps at most `capacity` pages resident and gets every byte back through the backing store", async () => {
    const store = new RecordingStore();
    const { mmu, write, sum } = await pagerGuest(8, store);
    write(200);
    expect(mmu.residentPages).toBe(8);
    expect(sum(200)).toBe(Array.from({ length: 200 }, (_, p) => p + 1000).reduce((a, b) => a + b, 0));
    expect(mmu.residentPages).toBeLessThanOrEqual(8);
    expect(mmu.stats.evictions).toBeGreaterThan(190);
    expect(store.fills.length).toBe(mmu.stats.fills);
    expect(store.loads.length).toBe(mmu.stats.fills + mmu.stats.zeroFills); // one call per miss
    // the last word of each page, written with a static offset, survives eviction too
    for (const p of [0, 17, 199]) expect(new DataView(mmu.read(p * PAGE_SIZE + 4092, 4).buffer).getInt32(0, true)).toBe(p);
  });

  it("scrubs the plaintext of an evicted page and clears its tag", async () => {
    const { mmu, write } = await pagerGuest(4, new MemoryPageStore());
    write(10);
    const real = new Uint8Array(mmu.memory.buffer);
    let scrubbed = 0;
    for (let p = 0; p < 10; p++) {
      const resident = mmu.isResident(p); // CLOCK may have trapped it: tag cleared, plaintext kept
      const page = real.subarray(BASE + p * PAGE_SIZE, BASE + (p + 1) * PAGE_SIZE);
      if (!resident) {
        expect(page.every((b) => b === 0), `page ${p} scrubbed`).toBe(true);
        expect(mmu.tagOf(p)).toBe(0);
        scrubbed++;
      } else {
        expect(page.some((b) => b !== 0)).toBe(true);
      }
    }
    expect(mmu.residentPages).toBe(4);
    expect(scrubbed).toBeGreaterThanOrEqual(6);
    expect(mmu.stats.evictions).toBe(mmu.stats.fills + mmu.stats.zeroFills - mmu.residentPages);
  });

  it("writes back dirty pages only, and flush() writes back without evicting", async () => {
    const store = new RecordingStore();
    const { mmu, write, sum } = await pagerGuest(6, store);
    write(4); // pages 0-3 dirty and resident, none evicted; page 4 is never touched
    expect(store.writes).toEqual([]);
    const dirty = [0, 1, 2, 3, 4, 5].filter((p) => mmu.tagOf(p) & TAG_DIRTY);
    expect(dirty).toEqual([0, 1, 2, 3]);
    mmu.flush();
    expect(store.writes.sort((a, b) => a - b)).toEqual(dirty);
    expect(mmu.tagOf(0) & TAG_DIRTY).toBe(0);
    expect(mmu.residentPages).toBe(dirty.length);
    store.writes.length = 0;
    sum(12); // reads only: pages 4..11 are zero pages, clean; evicting clean pages writes nothing
    expect(store.writes).toEqual([]);
    expect(mmu.stats.evictions).toBeGreaterThan(0);
  });

  it("a load leaves a page clean and a store makes it dirty", async () => {
    const { mmu, sum, write } = await pagerGuest(16, new MemoryPageStore());
    sum(2);
    expect(mmu.tagOf(0) & (TAG_RESIDENT | TAG_DIRTY)).toBe(TAG_RESIDENT);
    write(1);
    expect(mmu.tagOf(0) & TAG_DIRTY).toBe(TAG_DIRTY);
  });

  it("host reads and writes go through residency and check bounds", () => {
    const memory = SoftMmu.createMemory({ initial: 1, capacityPages: 2 });
    const mmu = SoftMmu.of(memory)!;
    const data = new Uint8Array(3 * PAGE_SIZE + 10).map((_, i) => (i * 13) & 0xff);
    mmu.write(100, data);
    expect(mmu.residentPages).toBe(2);
    expect(mmu.read(100, data.length)).toEqual(data);
    expect(() => mmu.read(65530, 10)).toThrow(/outside the guest memory/);
    expect(() => mmu.write(-1, new Uint8Array(1))).toThrow(RangeError);
  });

  it("shared pages stay resident and visible to the host, outside the capacity, never written back", async () => {
    const store = new RecordingStore();
    const { mmu, write, sum } = await pagerGuest(4, store);
    write(3);
    mmu.share(1, 2); // page 1 was resident (dirty), page 2 too: both leave the resident set
    expect(mmu.tagOf(1) & TAG_SHARED).toBe(TAG_SHARED);
    mmu.sharedView(2).set([9, 9, 9, 9], 100); // the host writes, the guest sees it
    expect(new DataView(mmu.read(2 * PAGE_SIZE + 100, 4).buffer).getUint32(0, true)).toBe(0x09090909);
    write(40); // the guest writes through shared and private pages; private ones thrash
    sum(40);
    expect(mmu.stats.evictions).toBeGreaterThan(30);
    expect(store.writes).not.toContain(1);
    expect(store.writes).not.toContain(2);
    expect(new DataView(mmu.sharedView(1).buffer, mmu.sharedView(1).byteOffset).getInt32(0, true)).toBe(1001);
    expect(mmu.residentPages).toBeLessThanOrEqual(4);
    mmu.unshare(1, 1); // private again: it can be evicted, and is written back then
    expect(() => mmu.sharedView(1)).toThrow(/not shared/);
    sum(40);
    expect(store.writes).toContain(1);
    expect(new DataView(mmu.read(PAGE_SIZE, 4).buffer).getInt32(0, true)).toBe(1001);
    expect(() => mmu.share(1020, 10)).toThrow(/outside the guest memory/);
  });

  it("never evicts pages pinned in a slot, written by range() or by rewritten code (little-endian u32 pairs)", () => {
    // 40 pages: range() keeps 28 of them free of range pins (layout.ts), so ranges may pin 12.
    const mmu = new SoftMmu({ initial: 16, maximum: null }, { capacityPages: 40 });
    const slots = new DataView(mmu.memory.buffer, PIN_SLOTS);
    expect(mmu.range(10 * PAGE_SIZE, 20 * PAGE_SIZE, FIRST_RANGE_SLOT | RANGE_FIRST)).toBe(1);
    expect([slots.getUint32(8 * FIRST_RANGE_SLOT, true), slots.getUint32(8 * FIRST_RANGE_SLOT + 4, true)]).toEqual([11, 20]);
    // Pages 10..19 take 10 of the 12: a second range slot gets 2 more, not 3.
    expect(mmu.range(30 * PAGE_SIZE, 33 * PAGE_SIZE, FIRST_RANGE_SLOT + 1)).toBe(0);
    expect(mmu.range(30 * PAGE_SIZE, 32 * PAGE_SIZE, FIRST_RANGE_SLOT + 1)).toBe(1);
    // Slot 0 as a hoisted check stores it from Wasm: pages 100..101, made resident and dirty.
    slots.setUint32(0, 101, true);
    slots.setUint32(4, 102, true);
    mmu.write(100 * PAGE_SIZE, new Uint8Array(2 * PAGE_SIZE).fill(7));
    for (let p = 150; p < 250; p++) mmu.read(p * PAGE_SIZE, 1);
    expect(mmu.stats.evictions).toBe(14 + 100 - 40);
    for (const p of [10, 15, 19, 30, 31, 100, 101]) expect(mmu.tagOf(p) & TAG_RESIDENT).toBe(TAG_RESIDENT);
    expect(mmu.tagOf(100) & TAG_DIRTY).toBe(TAG_DIRTY); // still the only copy: never written back
    expect(mmu.stats.writeBacks).toBe(0);
    // A new first range clears the range slots, not slot 0; the unpinned pages go like any other.
    expect(mmu.range(0, 0, FIRST_RANGE_SLOT | RANGE_FIRST)).toBe(1);
    expect(slots.getUint32(8 * FIRST_RANGE_SLOT, true)).toBe(0);
    for (let p = 150; p < 250; p++) mmu.read(p * PAGE_SIZE, 1);
    expect(mmu.tagOf(10) & TAG_RESIDENT).toBe(0);
    expect(mmu.tagOf(100) & TAG_RESIDENT).toBe(TAG_RESIDENT);
  });

  it("range() sets the pair bits of the pages it brings in, and of the page before them", () => {
    const mmu = new SoftMmu({ initial: 1, maximum: null }, { capacityPages: 64 });
    mmu.write(2 * PAGE_SIZE, new Uint8Array([1])); // page 2 resident and dirty, page 3 not
    expect(mmu.tagOf(2) & TAG_PAIR_RESIDENT).toBe(0);
    expect(mmu.range(3 * PAGE_SIZE, 9 * PAGE_SIZE, FIRST_RANGE_SLOT | RANGE_FIRST | RANGE_WRITE)).toBe(1);
    const pair = TAG_PAIR_RESIDENT | TAG_PAIR_DIRTY;
    for (let p = 2; p < 8; p++) expect(mmu.tagOf(p) & pair, `page ${p}`).toBe(pair);
    expect(mmu.tagOf(8) & pair).toBe(0); // page 9 is not resident
  });

  it("rejects a resident capacity below two pages", () => {
    expect(() => new SoftMmu({ initial: 1, maximum: null }, { capacityPages: 1 })).toThrow(/at least 2 pages/);
  });
});
