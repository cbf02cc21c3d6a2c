import { describe, expect, it } from "vitest";
import { Dram, DramError } from "../../host/sev/dram";
import { PAGE_SIZE } from "../../host/page";
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

  it("keeps every frame's bytes apart across its storage slabs, and answers has() for any number", () => {
    const dram = new Dram({ frames: 600 });
    const frames = Array.from({ length: 600 }, () => dram.allocate());
    for (const spa of [frames[0]!, frames[255]!, frames[256]!, frames[599]!]) dram.write(spa, patternPage(spa));
    for (const spa of [frames[0]!, frames[255]!, frames[256]!, frames[599]!]) expect(same(dram.read(spa), patternPage(spa))).toBe(true);
    expect(same(dram.read(frames[257]!), new Uint8Array(PAGE_SIZE))).toBe(true);
    expect(dram.stats()).toEqual({ allocated: 600, backed: 4, capacity: 600 });
    dram.free(frames[3]!);
    expect(dram.stats().allocated).toBe(599);
    expect(() => dram.free(frames[3]!)).toThrow(/not an allocated DRAM frame/);
    expect([dram.has(frames[3]!), dram.has(frames[4]!), dram.has(frames[4]! + 0.5), dram.has(-1), dram.has(frames[599]! + 1)]).toEqual([false, true, false, false, false]);
    expect(() => dram.read(frames[4]! + 0.5)).toThrow(/frame number/);
  });

  it("lends a frame's bytes in place for the memory controller's cipher, checked like every access", () => {
    const dram = new Dram();
    const [a, b] = [dram.allocate(), dram.allocate()];
    expect(same(dram.frameBytes(a), new Uint8Array(PAGE_SIZE))).toBe(true); // never written: zeroes
    expect(dram.stats().backed).toBe(0);
    dram.frameStorage(b).set(patternPage(5));
    expect(same(dram.read(b), patternPage(5))).toBe(true);
    expect(same(dram.frameBytes(b), patternPage(5))).toBe(true);
    expect(dram.stats().backed).toBe(1);
    expect(() => dram.frameBytes(b + 10)).toThrow(/not an allocated DRAM frame/);
    expect(() => dram.frameStorage(b + 10)).toThrow(/not an allocated DRAM frame/);
  });
});
