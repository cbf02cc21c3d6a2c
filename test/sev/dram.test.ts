import { describe, expect, it } from "vitest";
import { Dram, DramError } from "../../host/sev/dram";
import { PAGE_SIZE } from "../../host/sev/page";
import { patternPage, same } from "./fixtures/machine";

describe("Dram", () => {
  it("allocates distinct frames from its base and backs only frames that were written", () => {
    const dram = new Dram({ frames: 1 << 20, base: 0x100 });
    const frames = Array.from({ length: 1000 }, () => dram.allocate());
    expect(new Set(frames).size).toBe(1000);
    expect(frames[0]).toBe(0x100);
    expect(dram.stats()).toEqual({ allocated: 1000, backed: 0, capacity: 1 << 20 });
    expect(same(dram.read(frames[500]!), new Uint8Array(PAGE_SIZE))).toBe(true);
    dram.write(frames[7]!, patternPage(7));
    expect(dram.stats().backed).toBe(1);
    expect(same(dram.read(frames[7]!), patternPage(7))).toBe(true);
  });

  it("returns copies: changing a read result does not change DRAM", () => {
    const dram = new Dram();
    const spa = dram.allocate();
    dram.write(spa, patternPage(1));
    const copy = dram.read(spa);
    copy[0]! ^= 0xff;
    expect(same(dram.read(spa), patternPage(1))).toBe(true);
  });

  it("does not scrub freed frames: the next owner sees the old bytes, as on real DRAM", () => {
    const dram = new Dram();
    const spa = dram.allocate();
    dram.write(spa, patternPage(3));
    dram.free(spa);
    expect(dram.has(spa)).toBe(false);
    expect(dram.allocate()).toBe(spa);
    expect(same(dram.read(spa), patternPage(3))).toBe(true);
  });

  it("refuses unallocated frames, wrong sizes and exhaustion with clear errors", () => {
    const dram = new Dram({ frames: 2 });
    const a = dram.allocate();
    dram.allocate();
    expect(() => dram.allocate()).toThrow(/DRAM exhausted: all 2 frames/);
    expect(() => dram.read(a + 10)).toThrow(DramError);
    expect(() => dram.read(a + 10)).toThrow(/not an allocated DRAM frame/);
    expect(() => dram.write(a, new Uint8Array(10))).toThrow(/exactly 4096 bytes/);
    expect(() => dram.read(-1)).toThrow(/frame number/);
    expect(() => dram.free(a + 10)).toThrow(/not an allocated/);
  });

  it("batched reads and writes match single ones", () => {
    const dram = new Dram();
    const frames = [dram.allocate(), dram.allocate(), dram.allocate()];
    const data = new Uint8Array([...patternPage(1), ...patternPage(2), ...patternPage(3)]);
    dram.writeFrom(frames, data);
    expect(same(dram.read(frames[1]!), patternPage(2))).toBe(true);
    const out = new Uint8Array(3 * PAGE_SIZE);
    dram.readInto(frames, out);
    expect(same(out, data)).toBe(true);
  });
});
