// Replacement (mmu.ts): CLOCK over emulated reference bits keeps a page the guest goes on using,
// for one soft fault per revolution of the hand, where FIFO evicts it in turn; a trapped page keeps
// its plaintext and its dirty bit, and a page a loop pins is never trapped.
import { describe, expect, it } from "vitest";
import { instantiateGuest } from "../../host/wasm/guest";
import type { Guest } from "../../host/wasm/guest";
import { SoftMmu } from "../../host/wasm/mmu";
import { TAG_DIRTY, TAG_RESIDENT } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { RecordingStore } from "./recording-store";
import { wat } from "./wat";

const bytes = wat(`(module (memory (export "memory") 2)
  (func (export "get") (param $a i32) (result i32) (i32.load (local.get $a)))
  (func (export "put") (param $a i32) (param $v i32) (i32.store (local.get $a) (local.get $v))))`);
type Fn = (...args: number[]) => number;
const fn = (g: Guest, name: string): Fn => g.instance.exports[name] as Fn;

async function guest(replacement: "clock" | "fifo", capacityPages = 4): Promise<{ g: Guest; mmu: SoftMmu; store: RecordingStore }> {
  const store = new RecordingStore();
  const g = await instantiateGuest(bytes, {}, { rewrite: true, capacityPages, backing: store, cache: false });
  g.mmu!.setReplacement(replacement);
  g.mmu!.setBatching({ batchPages: 1, cleanAhead: 1 });
  for (let p = 0; p < 32; p++) g.write(p * PAGE_SIZE, Uint8Array.of(p + 1));
  g.mmu!.evictAll();
  store.loads.length = 0;
  return { g, mmu: g.mmu!, store };
}

/** Page 0 read between every miss on pages 1..n, one after another. */
function hotAndCold(g: Guest, n: number): void {
  for (let p = 1; p <= n; p++) {
    expect(fn(g, "get")(0)).toBe(1);
    expect(fn(g, "get")(p * PAGE_SIZE)).toBe(p + 1);
  }
}

describe("replacement", () => {
  it("CLOCK keeps a page in use for a soft fault per revolution, where FIFO fills it again and again", async () => {
    const clock = await guest("clock");
    hotAndCold(clock.g, 30);
    // Once, or twice when the hand's first revolution finds every page referenced (then CLOCK is FIFO).
    expect(clock.store.loads.filter((p) => p === 0).length).toBeLessThanOrEqual(2);
    expect(clock.mmu.stats.softFaults).toBeGreaterThan(0);
    const fifo = await guest("fifo");
    hotAndCold(fifo.g, 30);
    expect(fifo.store.loads.filter((p) => p === 0).length).toBeGreaterThan(5);
    expect(fifo.mmu.stats.softFaults).toBe(0);
    expect(clock.store.loads.length).toBeLessThan(fifo.store.loads.length);
  });

  it("a trapped page keeps its plaintext and its dirty bit: flush and eviction write it back", async () => {
    const { g, mmu, store } = await guest("clock");
    for (const p of [0, 1, 2, 3]) fn(g, "put")(p * PAGE_SIZE, 0x1000 + p); // all four dirty, referenced
    fn(g, "get")(4 * PAGE_SIZE); // the hand traps all four, and evicts 0 on its second pass
    for (const p of [1, 2, 3]) expect([mmu.isResident(p), mmu.tagOf(p)], `page ${p} trapped`).toEqual([true, 0]);
    store.writes.length = 0;
    mmu.flush();
    expect(store.writes.sort()).toEqual([1, 2, 3]);
    for (const p of [1, 2, 3]) fn(g, "put")(p * PAGE_SIZE + 8, 7); // a soft fault each: dirty again
    expect(mmu.stats.softFaults).toBe(3);
    mmu.evictAll();
    for (const p of [0, 1, 2, 3]) expect(g.read(p * PAGE_SIZE, 12), `page ${p}`).toEqual(Uint8Array.of(p, 0x10, 0, 0, 0, 0, 0, 0, p === 0 ? 0 : 7, 0, 0, 0));
  });

  it("switching to FIFO gives every trapped page its tag back", async () => {
    const { g, mmu } = await guest("clock");
    for (let p = 0; p < 6; p++) fn(g, "put")(p * PAGE_SIZE, p); // the 5th trapped all four, the 6th found 1's trapped
    const resident = Array.from({ length: 32 }, (_, p) => p).filter((p) => mmu.isResident(p));
    expect(resident.some((p) => mmu.tagOf(p) === 0)).toBe(true);
    mmu.setReplacement("fifo");
    for (const p of resident) expect(mmu.tagOf(p) & (TAG_RESIDENT | TAG_DIRTY), `page ${p}`).toBe(TAG_RESIDENT | TAG_DIRTY);
    expect(() => mmu.setReplacement("lru" as "fifo")).toThrow(/replacement must be one of clock, fifo, got lru/);
  });
});
