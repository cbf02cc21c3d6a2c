// EnclaveMemory as the MMU drives it (has / fill / writeBack by guest page): frames on first touch,
// ciphertext in DRAM, and what the SEV layer's checks do to the adversary's attacks per mode.
import { describe, expect, it } from "vitest";
import { EnclaveMemory, EnclaveMemoryFault } from "../../host/enclavisor/enclave-memory";
import { EnclavePageTable, MemoryLimitError } from "../../host/enclavisor/enclave-page-table";
import { FrameOwnership } from "../../host/enclavisor/frame-ownership";
import { IntegrityTree } from "../../host/enclavisor/integrity-tree";
import { IntegrityViolation } from "../../host/enclavisor/integrity-violation";
import { MemoryNodeStore } from "../../host/enclavisor/node-store";
import type { ModeName, ProtectionSwitches } from "../../host/enclavisor/protection";
import { RmpFault } from "../../host/sev/rmp";
import { PAGE_SIZE } from "../../host/wasm/layout";
import { patternPage, platformFor, same, tinySwitches } from "./fixtures/enclave";

function setup(mode: ModeName, overrides: Partial<ProtectionSwitches> = {}, limitPages?: number, integrity?: IntegrityTree) {
  const switches = tinySwitches(mode, overrides);
  const platform = platformFor(switches);
  const vm = platform.launchVm();
  const pageTable = new EnclavePageTable({ firstGpa: 0, limitPages });
  const memory = new EnclaveMemory({
    hv: platform.hv, mc: platform.mc, vm, pageTable, encryption: switches.encryption, ownership: new FrameOwnership(), enclaveId: 1, integrity,
  });
  const adv = platform.hv.adversary;
  /** First touch of `page` and a write-back of `bytes`: what an eviction of a dirty page does. */
  const store = (page: number, bytes: Uint8Array) => {
    expect(memory.has(page)).toBe(false);
    memory.writeBack(page, bytes);
  };
  const spaOf = (page: number) => adv.translate(vm, pageTable.lookup(page)!.gpa)!;
  return { platform, vm, pageTable, memory, adv, store, spaOf };
}

function filled(memory: EnclaveMemory, page: number): Uint8Array {
  const dst = new Uint8Array(PAGE_SIZE);
  memory.fill(page, dst);
  return dst;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("EnclaveMemory", () => {
  it("backs a page with a frame on first touch, and has contents only once written back", () => {
    const { memory, pageTable, vm, platform, spaOf } = setup("sev");
    expect(memory.has(7)).toBe(false);
    expect(pageTable.lookup(7)).toEqual({ gpa: 0, written: false });
    expect(vm.npt.lookup(0)).toBe(spaOf(7));
    expect(memory.has(7)).toBe(false); // still never written: the MMU makes it resident as zeroes
    expect(memory.has(3)).toBe(false);
    expect(pageTable.lookup(3)!.gpa).toBe(1);
    expect(memory.counters.framesAllocated).toBe(2);
    memory.writeBack(7, patternPage(7));
    expect(memory.has(7)).toBe(true);
    expect(same(filled(memory, 7), patternPage(7))).toBe(true);
    expect(memory.counters).toEqual({ framesAllocated: 2, bytesEncrypted: PAGE_SIZE, bytesDecrypted: PAGE_SIZE });
    expect(platform.dram.stats().allocated).toBe(2);
  });

  it.each(["sev", "sev-snp", "enclavisor"] as const)("writes ciphertext to DRAM and reads the plaintext back (%s)", (mode) => {
    const { memory, adv, store, spaOf, platform, vm, pageTable } = setup(mode, { integrity: false });
    store(2, patternPage(2));
    const raw = adv.readFrame(spaOf(2), "physical");
    expect(same(raw, patternPage(2))).toBe(false);
    expect(same(platform.mc.guestReadPage(vm, pageTable.lookup(2)!.gpa), patternPage(2))).toBe(true);
    expect(same(filled(memory, 2), patternPage(2))).toBe(true);
  });

  it("keeps plaintext in DRAM with encryption off, and counts no crypto", () => {
    const { memory, adv, store, spaOf } = setup("sev", { encryption: false });
    store(2, patternPage(2));
    expect(same(adv.readFrame(spaOf(2), "cpu"), patternPage(2))).toBe(true);
    expect(same(filled(memory, 2), patternPage(2))).toBe(true);
    expect(memory.counters.bytesEncrypted + memory.counters.bytesDecrypted).toBe(0);
  });

  it("sev-snp: the RMP refuses a hypervisor write to a private frame, and the guest's fill sees its own data", () => {
    const { memory, adv, store, spaOf } = setup("sev-snp");
    store(4, patternPage(4));
    const e = thrown(() => adv.writeFrame(spaOf(4), patternPage(99), "cpu"));
    expect(e).toBeInstanceOf(RmpFault);
    expect((e as RmpFault).check).toBe("hypervisor-write-to-assigned");
    expect(same(filled(memory, 4), patternPage(4))).toBe(true);
  });

  it("sev: the same hypervisor write goes through and the fill silently yields garbage", () => {
    const { memory, adv, store, spaOf } = setup("sev");
    store(4, patternPage(4));
    adv.writeFrame(spaOf(4), patternPage(99), "cpu");
    const got = filled(memory, 4);
    expect(same(got, patternPage(4))).toBe(false);
    expect(same(got, patternPage(99))).toBe(false);
    expect(memory.stopped).toBeUndefined();
  });

  it("sev: a remapped GPA silently reads another page's plaintext (the tweak is the SPA)", () => {
    const { memory, adv, store, spaOf, vm, pageTable } = setup("sev");
    store(0, patternPage(10));
    store(1, patternPage(11));
    adv.remap(vm, pageTable.lookup(0)!.gpa, spaOf(1));
    expect(same(filled(memory, 0), patternPage(11))).toBe(true);
  });

  it("sev-snp: a remapped GPA fails the RMP's GPA check; the enclave stops and the page stays zero", () => {
    const { memory, adv, store, spaOf, vm, pageTable } = setup("sev-snp");
    store(0, patternPage(10));
    store(1, patternPage(11));
    const gpa = pageTable.lookup(0)!.gpa;
    adv.remap(vm, gpa, spaOf(1));
    const dst = new Uint8Array(PAGE_SIZE);
    const e = thrown(() => memory.fill(0, dst));
    expect(e).toBeInstanceOf(EnclaveMemoryFault);
    expect(e).toMatchObject({ page: 0, gpa, check: "gpa-mismatch", access: "fill" });
    expect((e as Error).message).toMatch(/enclave stopped: fill of guest page 0 at GPA 0x0 hit the RMP check 'gpa-mismatch'/);
    expect(dst.every((b) => b === 0)).toBe(true);
    expect(memory.stopped).toBe(e);
    // Stopped for good: no later call touches the memory path.
    expect(thrown(() => memory.fill(1, dst))).toBe(e);
    expect(thrown(() => memory.has(9))).toBe(e);
    expect(thrown(() => memory.writeBack(1, patternPage(1)))).toBe(e);
    expect(adv.takeFaults().some((f) => f.kind === "rmp" && f.gpa === gpa && f.check === "gpa-mismatch")).toBe(true);
  });

  it("enclavisor: a page that fails the integrity tree is zeroed in the guest's memory, and the enclave stops", () => {
    const tree = new IntegrityTree({ frames: 64, store: new MemoryNodeStore(IntegrityTree.nodeBytes) });
    const { memory, adv, store, spaOf } = setup("enclavisor", {}, undefined, tree);
    store(3, patternPage(3));
    expect(same(filled(memory, 3), patternPage(3))).toBe(true);
    adv.flipBits(spaOf(3), 100, 0x01, "physical");
    const dst = new Uint8Array(PAGE_SIZE);
    const e = thrown(() => memory.fill(3, dst));
    expect(e).toBeInstanceOf(IntegrityViolation);
    expect(dst.every((b) => b === 0)).toBe(true); // the decrypted, unverified bytes are gone
    expect(memory.stopped).toBe(e);
  });

  it("stops the enclave on a nested page fault, naming the GPA", () => {
    const { memory, adv, store, vm, pageTable } = setup("sev");
    store(5, patternPage(5));
    const gpa = pageTable.lookup(5)!.gpa;
    adv.unmap(vm, gpa);
    const e = thrown(() => filled(memory, 5));
    expect(e).toMatchObject({ name: "EnclaveMemoryFault", gpa, check: "npt" });
    expect((e as Error).message).toMatch(/GPA 0x0 hit a nested page fault/);
  });

  it("enforces the memory limit on first touch with a clear error, and never backs the page", () => {
    const { memory, platform } = setup("sev-snp", {}, 2);
    memory.has(0);
    memory.has(1);
    const e = thrown(() => memory.has(2));
    expect(e).toBeInstanceOf(MemoryLimitError);
    expect((e as Error).message).toMatch(/enclave memory limit reached: guest page 2 .* the limit is 2 pages \(8 KiB\)/);
    expect(platform.dram.stats().allocated).toBe(2);
    expect(memory.stopped).toBe(e);
  });
});
