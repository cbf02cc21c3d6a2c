import { describe, expect, it } from "vitest";
import { EnclavePageTable, MemoryLimitError } from "../../host/enclavisor/enclave-page-table";
import { MAX_FRAME } from "../../host/sev/page";

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
    base.map(7);
    base.markWritten(7);
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

  it("hands out copies of its entries: a page's first write-back is recorded with markWritten", () => {
    const pt = new EnclavePageTable({ firstGpa: 2 ** 32 });
    const entry = pt.map(9);
    pt.markWritten(9);
    expect(entry).toEqual({ gpa: 2 ** 32, written: false });
    expect(pt.lookup(9)).toEqual({ gpa: 2 ** 32, written: true });
    expect(pt.ownEntry(9)).toEqual({ gpa: 2 ** 32, written: true });
    expect(() => pt.markWritten(10)).toThrow(/guest page 10 has no frame of this table's own/);
    const clone = new EnclavePageTable({ firstGpa: 0, base: pt });
    expect(() => clone.markWritten(9)).toThrow(/no frame of this table's own/); // the base's stays as it is
  });

  it("holds pages up to 2^40-1 across its chunks, in the order mapped, as many as it is given", () => {
    const pt = new EnclavePageTable({ firstGpa: 0x100 });
    const pages = [MAX_FRAME, 1024, 1023, 0, 2 ** 32, ...Array.from({ length: 3000 }, (_, i) => 5000 + 3 * i)];
    for (const page of pages) pt.map(page);
    for (const page of pages.filter((_, i) => i % 2 === 1)) pt.markWritten(page);
    expect(pt.mappedPages).toBe(pages.length);
    expect([...pt.entries()]).toEqual(pages.map((page, i) => [page, { gpa: 0x100 + i, written: i % 2 === 1 }]));
    expect(pt.lookup(MAX_FRAME)).toEqual({ gpa: 0x100, written: false });
    expect(pt.lookup(1022)).toBeUndefined();
    expect(pt.lookup(5001)).toBeUndefined();
    for (const bad of [-1, 0.5, MAX_FRAME + 1, NaN]) expect(pt.lookup(bad)).toBeUndefined();
    expect(() => pt.map(MAX_FRAME + 1)).toThrow(/guest page must be at most 2\^40-1/);
    expect(() => pt.map(0.5)).toThrow(/non-negative integer/);
  });
});
