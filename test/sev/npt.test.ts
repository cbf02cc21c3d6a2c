import { describe, expect, it } from "vitest";
import { NestedPageFault, NestedPageTable } from "../../host/sev/npt";
import { MAX_FRAME } from "../../host/sev/page";

describe("NestedPageTable", () => {
  it("translates mapped GPAs and faults with the GPA on unmapped ones", () => {
    const npt = new NestedPageTable();
    npt.map(0x10, 0x2000);
    expect(npt.translate(0x10, 3, "read")).toBe(0x2000);
    npt.map(0x10, 0x3000);
    expect(npt.lookup(0x10)).toBe(0x3000);
    expect(npt.unmap(0x10)).toBe(true);
    expect(npt.unmap(0x10)).toBe(false);
    let fault: unknown;
    try {
      npt.translate(0x10, 3, "write");
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(NestedPageFault);
    expect((fault as NestedPageFault).gpa).toBe(0x10);
    expect((fault as NestedPageFault).message).toMatch(/write of GPA 0x10 \(ASID 3\) has no NPT mapping/);
  });

  it("refuses addresses that are not frame numbers", () => {
    const npt = new NestedPageTable();
    expect(() => npt.map(-1, 1)).toThrow(/GPA must be an integer frame number/);
    expect(() => npt.map(1, 2 ** 41)).toThrow(/SPA must be an integer frame number/);
    expect(() => npt.translate(0.5, 1, "read")).toThrow(/GPA must be/);
  });

  it("maps every GPA up to 2^40-1 to any SPA up to 2^40-1, across its chunks' boundaries", () => {
    const npt = new NestedPageTable();
    const gpas = [0, 1023, 1024, 2 ** 20 - 1, 2 ** 20, 2 ** 32 - 1, 2 ** 32, MAX_FRAME];
    gpas.forEach((gpa, i) => npt.map(gpa, i === 0 ? MAX_FRAME : i));
    gpas.forEach((gpa, i) => expect(npt.translate(gpa, 1, "read")).toBe(i === 0 ? MAX_FRAME : i));
    expect(npt.lookup(1022)).toBeUndefined();
    expect(npt.lookup(1025)).toBeUndefined();
    expect(npt.lookup(MAX_FRAME - 1)).toBeUndefined();
    // Numbers that are not frames have no mapping, and translating one says why.
    for (const bad of [-1, 0.5, MAX_FRAME + 1, NaN]) {
      expect(npt.lookup(bad)).toBeUndefined();
      expect(npt.unmap(bad)).toBe(false);
    }
    expect(() => npt.translate(MAX_FRAME + 1, 1, "read")).toThrow(RangeError);
  });

  it("counts its mappings and lists them in GPA order; an unmapped GPA faults again", () => {
    const npt = new NestedPageTable();
    expect(npt.size).toBe(0);
    expect([...npt.entries()]).toEqual([]);
    npt.map(2 ** 32, 7);
    npt.map(5, 0);
    npt.map(1024, 9);
    npt.map(5, 8); // a remap is no new mapping
    expect(npt.size).toBe(3);
    expect([...npt.entries()]).toEqual([[5, 8], [1024, 9], [2 ** 32, 7]]);
    expect(npt.unmap(1024)).toBe(true);
    expect(npt.size).toBe(2);
    expect([...npt.entries()]).toEqual([[5, 8], [2 ** 32, 7]]);
    expect(() => npt.translate(1024, 2, "read")).toThrow(NestedPageFault);
    npt.map(1024, 0); // SPA 0 is a frame like any other
    expect(npt.lookup(1024)).toBe(0);
    expect(npt.size).toBe(3);
  });
});
