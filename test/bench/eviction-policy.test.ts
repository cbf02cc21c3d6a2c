// The replacement-policy simulation of the paging suite (bench/paging/eviction-policy.ts): each
// policy behaves as its textbook definition on traces whose answer is known, and the estimate is
// the miss rate and soft-fault rate costed as stated.
import { describe, expect, it } from "vitest";
import { evictionPolicy } from "../../bench/paging/eviction-policy";

describe("the replacement-policy simulation", () => {
  const f = evictionPolicy(256, 200_000, 3, 0.2, 0x5eed);
  const row = (prefix: string) => f.rows.find((r) => r.trace.startsWith(prefix))!.perPolicy;

  it("misses every page of a loop larger than the cache under FIFO, CLOCK and LRU, and far fewer at random", () => {
    const loop = row("a loop");
    for (const p of ["FIFO", "CLOCK (soft reference bits)", "LRU (bound: sees every hit)"] as const) expect(loop[p].missRate, p).toBe(1);
    expect(loop.random.missRate).toBeLessThan(0.6);
  });

  it("gives every policy the cache's share of hits on uniform references, and CLOCK its soft faults on top", () => {
    const u = row("uniform");
    for (const v of Object.values(u)) expect(v.missRate).toBeCloseTo(0.75, 1);
    expect(u.FIFO.softFaultRate).toBe(0);
    expect(u["CLOCK (soft reference bits)"].softFaultRate).toBeGreaterThan(0);
    expect(u["CLOCK (soft reference bits)"].vsFifo).toBeGreaterThan(1);
  });

  it("keeps the hot pages under CLOCK and LRU, and says that CLOCK pays where it does", () => {
    const hot = row("90%");
    expect(hot["CLOCK (soft reference bits)"].missRate).toBeLessThan(hot.FIFO.missRate * 0.8);
    expect(hot["LRU (bound: sees every hit)"].missRate).toBeLessThanOrEqual(hot["CLOCK (soft reference bits)"].missRate + 0.01);
    const v = hot["CLOCK (soft reference bits)"];
    expect(v.usPerAccess).toBeCloseTo(v.missRate * 3 + v.softFaultRate * 0.2, 10);
    expect(f.pays.some((p) => p.policy === "CLOCK (soft reference bits)" && p.trace.startsWith("90%"))).toBe(true);
    expect(f.pays.every((p) => p.vsFifo < 1 - f.margin)).toBe(true);
  });
});
