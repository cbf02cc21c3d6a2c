import { describe, expect, it } from "vitest";
import { SgxIntegrityError } from "../../host/sgx/faults";
import { SgxMachine } from "../../host/sgx/machine";
import { PAGE_SIZE } from "../../host/page";
import { VA_SLOTS_PER_PAGE } from "../../host/sgx/paging";

function page(seed: number): Uint8Array {
  return Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (seed * 29 + i * 3) & 0xff);
}

/** Writes `count` pages of enclave 1 through the OS's fault handler, as an enclave's first touches would. */
function fill(m: SgxMachine, count: number, seed = 0): void {
  for (let p = 0; p < count; p++) {
    const frame = m.os.table(1).get(p) ?? m.os.handleFault(1, p);
    m.epc.write(frame, 1, p, page(p + seed));
  }
}

function read(m: SgxMachine, p: number): Uint8Array {
  const out = new Uint8Array(PAGE_SIZE);
  m.epc.read(m.os.table(1).get(p) ?? m.os.handleFault(1, p), 1, p, out);
  return out;
}

describe("EPC paging (EWB / ELDU)", () => {
  it("keeps the EPC within its size: pages beyond it are evicted with a VA slot each, and come back intact", () => {
    const m = new SgxMachine({ epcPages: 16 });
    fill(m, 40);
    expect(m.epc.usedFrames).toBeLessThanOrEqual(16);
    expect(m.paging.counters.vaPages).toBe(1);
    expect(m.os.table(1).size).toBe(16 - 1); // one frame is the VA page
    expect(m.os.swap(1).size).toBe(40 - 15);
    expect(m.paging.freeSlots).toBe(VA_SLOTS_PER_PAGE - 25);
    for (let p = 0; p < 40; p++) expect(Buffer.compare(read(m, p), page(p))).toBe(0);
    expect(m.paging.counters.eldu).toBeGreaterThanOrEqual(25);
    expect(m.epc.usedFrames).toBeLessThanOrEqual(16);
  });

  it("detects a replayed evicted page (a blob whose VA version is old)", () => {
    const m = new SgxMachine({ epcPages: 8 });
    fill(m, 20);
    const old = { ...m.os.swap(1).get(0)! };
    expect(Buffer.compare(read(m, 0), page(0))).toBe(0); // ELDU: the slot is cleared
    const frame0 = m.os.table(1).get(0)!;
    m.epc.write(frame0, 1, 0, page(100));
    fill(m, 20, 1); // page 0 is evicted again, under a new nonce
    expect(m.os.swap(1).has(0)).toBe(true);
    m.os.swap(1).set(0, { ...m.os.swap(1).get(0)!, blob: old.blob, mac: old.mac }); // the OS replays the old blob
    expect(() => read(m, 0)).toThrow(SgxIntegrityError);
    expect(() => m.os.handleFault(1, 0)).toThrow(/paging MAC \(ELDU\) check failed/);
  });

  it("refuses another page's blob", () => {
    const m = new SgxMachine({ epcPages: 8 });
    fill(m, 20);
    const s = m.os.swap(1);
    s.set(1, { ...s.get(1)!, blob: s.get(2)!.blob, mac: s.get(2)!.mac });
    expect(() => m.os.handleFault(1, 1)).toThrow(/paging MAC/);
  });

  it("evicts the least recently used page: a touched page stays", () => {
    const m = new SgxMachine({ epcPages: 8 });
    fill(m, 7); // 7 pages and the VA page fill the EPC
    expect(m.epc.freeFrames).toBe(0);
    m.os.touch(m.os.table(1).get(0)!);
    fill(m, 8); // page 7 needs a frame
    expect(m.os.swap(1).has(1)).toBe(true);
    expect(m.os.table(1).has(0)).toBe(true);
    expect(m.epc.usedFrames).toBe(8);
  });
});
