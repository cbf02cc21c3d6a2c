import { describe, expect, it } from "vitest";
import { NestedPageFault, NestedPageTable } from "../../host/sev/npt";

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
});
