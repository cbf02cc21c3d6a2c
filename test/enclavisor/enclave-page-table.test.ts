import { describe, expect, it } from "vitest";
import { EnclavePageTable, MemoryLimitError } from "../../host/enclavisor/enclave-page-table";

describe("EnclavePageTable", () => {
  it("maps pages to consecutive GPAs in order of first touch", () => {
    const pt = new EnclavePageTable({ firstGpa: 0x100 });
    expect(pt.lookup(50)).toBeUndefined();
    expect(pt.map(50)).toEqual({ gpa: 0x100, written: false });
    expect(pt.map(3)).toEqual({ gpa: 0x101, written: false });
    expect(pt.lookup(50)!.gpa).toBe(0x100);
    expect(pt.mappedPages).toBe(2);
    expect([...pt.entries()].map(([p, e]) => [p, e.gpa])).toEqual([[50, 0x100], [3, 0x101]]);
    expect(() => pt.map(3)).toThrow(/guest page 3 is already mapped/);
    expect(() => pt.map(-1)).toThrow(/non-negative integer/);
  });

  it("reads through a base table until it maps a page of its own, which shadows the base's", () => {
    const base = new EnclavePageTable({ firstGpa: 0 });
    base.map(7).written = true;
    const clone = new EnclavePageTable({ firstGpa: 0x1000, limitPages: 1, base });
    expect(clone.lookup(7)).toEqual({ gpa: 0, written: true });
    expect(clone.owns(7)).toBe(false);
    expect(clone.mappedPages).toBe(0);
    expect(clone.map(7)).toEqual({ gpa: 0x1000, written: false });
    expect(clone.owns(7)).toBe(true);
    expect(clone.lookup(7)!.gpa).toBe(0x1000);
    expect(base.lookup(7)).toEqual({ gpa: 0, written: true }); // the base never changes through the clone
    expect(() => clone.map(8)).toThrow(MemoryLimitError); // the limit counts the clone's own frames only
  });

  it("refuses a page beyond the limit, unchanged, with an error naming the page and the limit", () => {
    const pt = new EnclavePageTable({ firstGpa: 0, limitPages: 256 });
    for (let p = 0; p < 256; p++) pt.map(p * 3);
    let err: unknown;
    try {
      pt.map(1 << 20);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MemoryLimitError);
    expect(err).toMatchObject({ page: 1 << 20, limitPages: 256 });
    expect((err as Error).message).toBe(
      "enclave memory limit reached: guest page 1048576 (address 0x100000000) would be frame 257, but the limit is 256 pages (1 MiB)",
    );
    expect(pt.lookup(1 << 20)).toBeUndefined();
    expect(pt.mappedPages).toBe(256);
    expect(() => new EnclavePageTable({ firstGpa: 0, limitPages: 0 })).toThrow(/at least one page/);
  });
});
