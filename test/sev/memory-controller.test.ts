import { describe, expect, it } from "vitest";
import { Dram } from "../../host/sev/dram";
import { MemoryController } from "../../host/sev/memory-controller";
import { MemoryEncryptionEngine } from "../../host/sev/mee";
import { NestedPageFault, NestedPageTable } from "../../host/sev/npt";
import { PAGE_SIZE } from "../../host/page";
import { Rmp, RmpFault } from "../../host/sev/rmp";
import { machine, patternPage, same } from "./fixtures/machine";

/** The memory controller alone, with a hand-made VM (ASID 1, key installed as ACTIVATE would). */
function bare(opts: { snp?: boolean; ciphertextHiding?: boolean } = {}, frames = 64) {
  const dram = new Dram({ frames });
  const mee = new MemoryEncryptionEngine();
  const rmp = new Rmp();
  const mc = new MemoryController({ dram, mee, rmp, ...opts });
  mee.installKey(1, Uint8Array.from({ length: 32 }, (_, i) => 0x5a + i)); // XTS halves must differ
  const vm = { asid: 1, npt: new NestedPageTable() };
  const map = (gpa: number) => {
    const spa = dram.allocate();
    vm.npt.map(gpa, spa);
    if (opts.snp) {
      rmp.update(spa, { assigned: true, asid: 1, gpa });
      mc.pvalidate(vm, gpa, true);
    }
    return spa;
  };
  return { dram, mee, rmp, mc, vm, map };
}

describe("MemoryController: the guest access path", () => {
  it("encrypts private pages with the VM's key and SPA tweak, and decrypts them back", () => {
    const { dram, mee, mc, vm, map } = bare();
    const spa = map(0x10);
    mc.guestWritePage(vm, 0x10, patternPage(1));
    const raw = dram.read(spa);
    expect(same(raw, patternPage(1))).toBe(false);
    expect(same(raw, mee.encryptPage(1, spa, patternPage(1)))).toBe(true);
    expect(same(mc.guestReadPage(vm, 0x10), patternPage(1))).toBe(true);
  });

  it("C-bit clear: shared pages pass through as plaintext both ways", () => {
    const { dram, mc, vm, map } = bare();
    const spa = map(0x11);
    mc.guestWritePage(vm, 0x11, patternPage(2), { shared: true });
    expect(same(dram.read(spa), patternPage(2))).toBe(true);
    dram.write(spa, patternPage(3)); // the host puts a reply in the shared page
    expect(same(mc.guestReadPage(vm, 0x11, { shared: true }), patternPage(3))).toBe(true);
    // The same frame read as private is decrypted, i.e. garbage: the C-bit decides.
    expect(same(mc.guestReadPage(vm, 0x11), patternPage(3))).toBe(false);
  });

  it("batched reads and writes equal page-by-page ones", () => {
    const { mee, mc, vm, map } = bare();
    const gpas = Array.from({ length: 40 }, (_, i) => 0x100 + i);
    gpas.forEach(map);
    const data = new Uint8Array(gpas.length * PAGE_SIZE);
    gpas.forEach((_, i) => data.set(patternPage(i), i * PAGE_SIZE));
    mc.guestWritePages(vm, gpas, data);
    gpas.forEach((gpa, i) => expect(same(mc.guestReadPage(vm, gpa), patternPage(i))).toBe(true));
    expect(same(mc.guestReadPages(vm, gpas), data)).toBe(true);
    // Straight into a caller's buffer, e.g. a view of the enclave's Wasm memory.
    const memory = new Uint8Array(4 * PAGE_SIZE);
    mc.guestReadPages(vm, gpas.slice(1, 3), {}, memory.subarray(PAGE_SIZE, 3 * PAGE_SIZE));
    expect(same(memory.subarray(PAGE_SIZE, 2 * PAGE_SIZE), patternPage(1))).toBe(true);
    expect(same(memory.subarray(2 * PAGE_SIZE, 3 * PAGE_SIZE), patternPage(2))).toBe(true);
    expect(same(memory.subarray(0, PAGE_SIZE), new Uint8Array(PAGE_SIZE))).toBe(true);
    expect(() => mc.guestReadPage(vm, gpas[0]!, {}, new Uint8Array(10))).toThrow(/read buffer must be exactly 4096 bytes/);
    // Without the VM's key (after DEACTIVATE) the read fails and leaves the buffer alone.
    mee.clearKey(1);
    expect(() => mc.guestReadPage(vm, gpas[1]!, {}, memory.subarray(0, PAGE_SIZE))).toThrow(/no memory encryption key is installed for ASID 1/);
    expect(same(memory.subarray(0, PAGE_SIZE), new Uint8Array(PAGE_SIZE))).toBe(true);
  });

  it("one page goes between the caller's buffer and its DRAM frame directly, as the batched path does it", () => {
    const { dram, mee, mc, vm, map } = bare();
    const [a, b] = [map(0x20), map(0x21)];
    mc.guestWritePage(vm, 0x20, patternPage(6));
    mc.guestWritePages(vm, [0x21, 0x20], new Uint8Array([...patternPage(7), ...patternPage(6)]));
    expect(same(dram.read(a), mee.encryptPage(1, a, patternPage(6)))).toBe(true); // the adversary's view
    expect(same(dram.read(b), mee.encryptPage(1, b, patternPage(7)))).toBe(true);
    const page = new Uint8Array(PAGE_SIZE);
    expect(mc.guestReadPage(vm, 0x21, {}, page)).toBe(page);
    expect(same(page, patternPage(7))).toBe(true);
    // A frame never written decrypts its zeroes, as a batch does, and stays unbacked.
    map(0x22);
    const backed = dram.stats().backed;
    expect(same(mc.guestReadPage(vm, 0x22), mc.guestReadPages(vm, [0x22, 0x21]).subarray(0, PAGE_SIZE))).toBe(true);
    expect(dram.stats().backed).toBe(backed);
    // Without the key a one-page write fails before its frame is touched.
    mee.clearKey(1);
    expect(() => mc.guestWritePage(vm, 0x22, patternPage(8))).toThrow(/no memory encryption key is installed for ASID 1/);
    expect(dram.stats().backed).toBe(backed);
  });

  it("an unmapped GPA raises NestedPageFault and the hypervisor sees its GPA", () => {
    const { mc, vm } = bare();
    const seen: number[] = [];
    mc.onFault((e) => seen.push(e.gpa));
    expect(() => mc.guestReadPage(vm, 0x77)).toThrow(NestedPageFault);
    expect(seen).toEqual([0x77]);
  });

  it("refuses wrong sizes before touching memory", () => {
    const { mc, vm, map } = bare();
    map(0x10);
    expect(() => mc.guestWritePage(vm, 0x10, new Uint8Array(8))).toThrow(/exactly 4096 bytes/);
    expect(() => mc.guestWritePages(vm, [0x10], new Uint8Array(2 * PAGE_SIZE))).toThrow(/1 pages/);
  });
});

describe("MemoryController: ciphertext hiding", () => {
  for (const snp of [false, true]) {
    it(`host reads of private frames return 0xFF when on, ciphertext when off (${snp ? "SEV-SNP" : "SEV"})`, () => {
      const { dram, mc, vm, map } = bare({ snp });
      const priv = map(0x10);
      const shared = dram.allocate();
      vm.npt.map(0x11, shared);
      mc.guestWritePage(vm, 0x10, patternPage(1));
      mc.guestWritePage(vm, 0x11, patternPage(2), { shared: true });
      expect(same(mc.hostRead(priv), dram.read(priv))).toBe(true);
      mc.ciphertextHiding = true;
      expect(same(mc.hostRead(priv), new Uint8Array(PAGE_SIZE).fill(0xff))).toBe(true);
      expect(same(mc.hostRead(shared), patternPage(2))).toBe(true);
      // A physical read (not through the CPU) is not affected.
      expect(same(dram.read(priv), new Uint8Array(PAGE_SIZE).fill(0xff))).toBe(false);
    });
  }
});

describe("MemoryController: which frames hold private data", () => {
  it("marks a frame private on a private write and clears it on a shared or host write, frame by frame", () => {
    const { dram, mc, vm, map } = bare({}, 70);
    const spas = Array.from({ length: 70 }, (_, gpa) => map(gpa));
    expect(spas[0]).toBe(dram.base);
    // Frames on each side of a word of the bitmap, and the first and last.
    const edges = [0, 30, 31, 32, 33, 63, 64, 69];
    mc.guestWritePages(vm, edges, new Uint8Array(edges.length * PAGE_SIZE));
    expect(spas.filter((spa) => mc.isPrivate(spa))).toEqual(edges.map((gpa) => spas[gpa]));
    mc.guestWritePage(vm, 31, patternPage(1), { shared: true });
    mc.hostWrite(spas[32]!, patternPage(2));
    mc.guestWritePage(vm, 1, patternPage(3));
    expect(spas.filter((spa) => mc.isPrivate(spa))).toEqual([0, 1, 30, 33, 63, 64, 69].map((gpa) => spas[gpa]));
    // Numbers outside DRAM, or not frames at all, hold nothing.
    for (const spa of [0xff, 0x100 + 70, 0x100 + 0.5, -1, NaN]) expect(mc.isPrivate(spa)).toBe(false);
  });
});

describe("MemoryController: RMP checks (SEV-SNP)", () => {
  it("a private access to an unvalidated page faults inside the guest, unseen by the hypervisor", () => {
    const { dram, rmp, mc, vm } = bare({ snp: true });
    const spa = dram.allocate();
    vm.npt.map(0x20, spa);
    rmp.update(spa, { assigned: true, asid: 1, gpa: 0x20 });
    const seen: string[] = [];
    mc.onFault((e) => seen.push(e.check ?? e.kind));
    expect(() => mc.guestWritePage(vm, 0x20, patternPage(1))).toThrow(/'not-validated'/);
    expect(mc.pvalidate(vm, 0x20, true)).toBe(true);
    mc.guestWritePage(vm, 0x20, patternPage(1));
    expect(same(mc.guestReadPage(vm, 0x20), patternPage(1))).toBe(true);
    expect(mc.pvalidate(vm, 0x20, false)).toBe(true); // rescind
    expect(() => mc.guestReadPage(vm, 0x20)).toThrow(/'not-validated'/);
    expect(seen).toEqual([]);
  });

  it("a shared access to a guest-owned frame faults; the host may not write it either", () => {
    const { mc, vm, map } = bare({ snp: true });
    const spa = map(0x21);
    const seen: string[] = [];
    mc.onFault((e) => seen.push(`${e.check}@${e.gpa}`));
    expect(() => mc.guestWritePage(vm, 0x21, patternPage(1), { shared: true })).toThrow(/'shared-access-to-assigned'/);
    expect(() => mc.hostWrite(spa, patternPage(1))).toThrow(RmpFault);
    expect(seen).toEqual(["shared-access-to-assigned@33"]);
  });

  it("without SNP there is no PVALIDATE and no RMP check", () => {
    const { dram, rmp, mc, vm } = bare({ snp: false });
    const spa = dram.allocate();
    vm.npt.map(0x22, spa);
    rmp.update(spa, { assigned: true, asid: 9, gpa: 0x99 }); // would fault under SNP
    mc.guestWritePage(vm, 0x22, patternPage(4));
    mc.hostWrite(spa, patternPage(5));
    expect(() => mc.pvalidate(vm, 0x22, true)).toThrow(/PVALIDATE needs SEV-SNP/);
  });
});

describe("MemoryController with the secure processor's launch", () => {
  it("the guest reads its launch image decrypted; DRAM holds only ciphertext", () => {
    for (const snp of [false, true]) {
      const m = machine({ snp });
      const image = [patternPage(10), patternPage(11)];
      const vm = m.hv.launchVm({ pages: image.map((bytes, i) => ({ gpa: i, type: 1, bytes })) });
      image.forEach((page, gpa) => {
        const spa = vm.npt.lookup(gpa)!;
        expect(same(m.dram.read(spa), page)).toBe(false);
        expect(same(m.mc.guestReadPage(vm, gpa), page)).toBe(true);
      });
    }
  });
});
