// EnclaveMemory as the MMU drives it (load / store by guest page): frames on first touch,
// ciphertext in DRAM, and what the SEV layer's checks do to the adversary's attacks per mode. Every
// refusal stops the enclave the same way: an EnclaveStopped naming the reason, with the refusing
// layer's error as its cause, and every later call refused with the same error.
import { describe, expect, it, vi } from "vitest";
import { EnclaveError } from "../../host/enclavisor/enclave-error";
import { EnclaveMemory } from "../../host/enclavisor/enclave-memory";
import { EnclavePageTable, MemoryLimitError } from "../../host/enclavisor/enclave-page-table";
import { FrameOwnership } from "../../host/enclavisor/frame-ownership";
import { MerkleTree } from "../../host/enclavisor/merkle-tree";
import { IntegrityViolation } from "../../host/enclavisor/integrity-violation";
import { MemoryNodeStore } from "../../host/enclavisor/node-store";
import type { ProtectionSwitches } from "../../host/enclavisor/protection";
import type { ModeName } from "../../host/launcher/modes";
import { NestedPageFault } from "../../host/sev/npt";
import { RmpFault } from "../../host/sev/rmp";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { PAGE_SIZE } from "../../host/page";
import { patternPage, platformFor, same, tinySwitches } from "./fixtures/enclave";

function setup(mode: ModeName, overrides: Partial<ProtectionSwitches> = {}, limitPages?: number, integrity?: MerkleTree) {
  const switches = tinySwitches(mode, overrides);
  const platform = platformFor(switches);
  const vm = platform.launchVm();
  const pageTable = new EnclavePageTable({ firstGpa: 0, limitPages });
  const ownership = new FrameOwnership();
  const memory = new EnclaveMemory({
    hv: platform.hv, mc: platform.mc, vm, pageTable, encryption: switches.encryption, ownership, enclaveId: 1, integrity,
  });
  const adv = platform.hv.adversary;
  /** First touch of `page` and a store of `bytes`: what an eviction of a dirty page does. */
  const store = (page: number, bytes: Uint8Array) => {
    expect(memory.load(page, new Uint8Array(PAGE_SIZE))).toBe(false);
    memory.store(page, bytes);
  };
  const spaOf = (page: number) => adv.translate(vm, pageTable.lookup(page)!.gpa)!;
  return { platform, vm, pageTable, ownership, memory, adv, store, spaOf };
}

function loaded(memory: EnclaveMemory, page: number): Uint8Array {
  const dst = new Uint8Array(PAGE_SIZE);
  expect(memory.load(page, dst)).toBe(true);
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
  it("backs a page with a frame on first touch, and loads contents only once stored", () => {
    const { memory, pageTable, vm, platform, spaOf } = setup("sev");
    const dst = new Uint8Array(PAGE_SIZE);
    expect(memory.load(7, dst)).toBe(false);
    expect(pageTable.lookup(7)).toEqual({ gpa: 0, written: false });
    expect(vm.npt.lookup(0)).toBe(spaOf(7));
    expect(memory.load(7, dst)).toBe(false); // still never stored: the MMU makes it resident as zeroes
    expect(memory.load(3, dst)).toBe(false);
    expect(dst.every((b) => b === 0)).toBe(true);
    expect(pageTable.lookup(3)!.gpa).toBe(1);
    expect(memory.counters.framesAllocated).toBe(2);
    memory.store(7, patternPage(7));
    expect(same(loaded(memory, 7), patternPage(7))).toBe(true);
    expect(memory.counters).toEqual({ framesAllocated: 2, bytesEncrypted: PAGE_SIZE, bytesDecrypted: PAGE_SIZE });
    expect(platform.dram.stats().allocated).toBe(2);
  });

  it("finds a page in one page-table lookup per load", () => {
    const { memory, pageTable, store } = setup("sev-snp");
    store(5, patternPage(5));
    const lookups = vi.spyOn(pageTable, "lookup");
    loaded(memory, 5);
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it.each(["sev", "sev-snp", "enclavisor"] as const)("writes ciphertext to DRAM and reads the plaintext back (%s)", (mode) => {
    const { memory, adv, store, spaOf, platform, vm, pageTable } = setup(mode, { integrity: false });
    store(2, patternPage(2));
    const raw = adv.readFrame(spaOf(2), "physical");
    expect(same(raw, patternPage(2))).toBe(false);
    expect(same(platform.mc.guestReadPage(vm, pageTable.lookup(2)!.gpa), patternPage(2))).toBe(true);
    expect(same(loaded(memory, 2), patternPage(2))).toBe(true);
  });

  it("keeps plaintext in DRAM with encryption off, and counts no crypto", () => {
    const { memory, adv, store, spaOf } = setup("sev", { encryption: false });
    store(2, patternPage(2));
    expect(same(adv.readFrame(spaOf(2), "cpu"), patternPage(2))).toBe(true);
    expect(same(loaded(memory, 2), patternPage(2))).toBe(true);
    expect(memory.counters.bytesEncrypted + memory.counters.bytesDecrypted).toBe(0);
  });

  it("sev-snp: the RMP refuses a hypervisor write to a private frame, and the guest's load sees its own data", () => {
    const { memory, adv, store, spaOf } = setup("sev-snp");
    store(4, patternPage(4));
    const e = thrown(() => adv.writeFrame(spaOf(4), patternPage(99), "cpu"));
    expect(e).toBeInstanceOf(RmpFault);
    expect((e as RmpFault).check).toBe("hypervisor-write-to-assigned");
    expect(same(loaded(memory, 4), patternPage(4))).toBe(true);
  });

  it("sev: the same hypervisor write goes through and the load silently yields garbage", () => {
    const { memory, adv, store, spaOf } = setup("sev");
    store(4, patternPage(4));
    adv.writeFrame(spaOf(4), patternPage(99), "cpu");
    const got = loaded(memory, 4);
    expect(same(got, patternPage(4))).toBe(false);
    expect(same(got, patternPage(99))).toBe(false);
    expect(memory.stopped).toBeNull();
  });

  it("sev: a remapped GPA silently reads another page's plaintext (the tweak is the SPA)", () => {
    const { memory, adv, store, spaOf, vm, pageTable } = setup("sev");
    store(0, patternPage(10));
    store(1, patternPage(11));
    adv.remap(vm, pageTable.lookup(0)!.gpa, spaOf(1));
    expect(same(loaded(memory, 0), patternPage(11))).toBe(true);
  });

  it("sev-snp: a remapped GPA fails the RMP's GPA check; the enclave stops and the page stays zero", () => {
    const { memory, adv, store, spaOf, vm, pageTable } = setup("sev-snp");
    store(0, patternPage(10));
    store(1, patternPage(11));
    const gpa = pageTable.lookup(0)!.gpa;
    adv.remap(vm, gpa, spaOf(1));
    const dst = new Uint8Array(PAGE_SIZE);
    const e = thrown(() => memory.load(0, dst));
    expect(e).toBeInstanceOf(EnclaveStopped);
    expect(e).toMatchObject({ reason: "memory-fault", site: { page: 0, gpa } });
    expect((e as Error).cause).toBeInstanceOf(RmpFault);
    expect((e as Error).cause).toMatchObject({ check: "gpa-mismatch" });
    expect((e as Error).message).toMatch(/^enclave stopped \(memory-fault\): load of guest page 0 at GPA 0x0 hit the RMP check 'gpa-mismatch'/);
    expect(dst.every((b) => b === 0)).toBe(true);
    expect(memory.stopped).toBe(e);
    // Stopped for good: no later call touches the memory path.
    expect(thrown(() => memory.load(1, dst))).toBe(e);
    expect(thrown(() => memory.load(9, dst))).toBe(e);
    expect(thrown(() => memory.store(1, patternPage(1)))).toBe(e);
    expect(adv.takeFaults().some((f) => f.kind === "rmp" && f.gpa === gpa && f.check === "gpa-mismatch")).toBe(true);
  });

  it("enclavisor: a page that fails the integrity tree is zeroed in the guest's memory, and the enclave stops", () => {
    const tree = new MerkleTree({ frames: 64, store: new MemoryNodeStore(MerkleTree.nodeBytes) });
    const { memory, adv, store, spaOf } = setup("enclavisor", {}, undefined, tree);
    store(3, patternPage(3));
    expect(same(loaded(memory, 3), patternPage(3))).toBe(true);
    adv.flipBits(spaOf(3), 100, 0x01, "physical");
    const dst = new Uint8Array(PAGE_SIZE);
    const e = thrown(() => memory.load(3, dst));
    expect(e).toMatchObject({ name: "EnclaveStopped", reason: "integrity" });
    expect((e as Error).cause).toBeInstanceOf(IntegrityViolation);
    expect(dst.every((b) => b === 0)).toBe(true); // the decrypted, unverified bytes are gone
    expect(memory.stopped).toBe(e);
  });

  it("stops the enclave on a nested page fault, naming the GPA", () => {
    const { memory, adv, store, vm, pageTable } = setup("sev");
    store(5, patternPage(5));
    const gpa = pageTable.lookup(5)!.gpa;
    adv.unmap(vm, gpa);
    const e = thrown(() => memory.load(5, new Uint8Array(PAGE_SIZE)));
    expect(e).toMatchObject({ name: "EnclaveStopped", reason: "memory-fault", site: { page: 5, gpa } });
    expect((e as Error).cause).toBeInstanceOf(NestedPageFault);
    expect((e as Error).message).toMatch(/GPA 0x0 hit a nested page fault/);
  });

  it("enforces the memory limit on first touch with a clear error, and never backs the page", () => {
    const { memory, platform } = setup("sev-snp", {}, 2);
    const dst = new Uint8Array(PAGE_SIZE);
    memory.load(0, dst);
    memory.load(1, dst);
    const e = thrown(() => memory.load(2, dst));
    expect(e).toMatchObject({ name: "EnclaveStopped", reason: "memory-limit" });
    expect((e as Error).cause).toBeInstanceOf(MemoryLimitError);
    expect((e as Error).message).toMatch(/enclave memory limit reached: guest page 2 .* the limit is 2 pages \(8 KiB\)/);
    expect(platform.dram.stats().allocated).toBe(2);
    expect(memory.stopped).toBe(e);
  });

  it("stops the enclave when the frame ownership table refuses a frame, as a fault does", () => {
    const { memory, ownership, platform } = setup("sev-snp");
    ownership.claim(0, 2); // another enclave holds the frame this one's first touch would take
    const e = thrown(() => memory.load(0, new Uint8Array(PAGE_SIZE)));
    expect(e).toMatchObject({ name: "EnclaveStopped", reason: "frame-not-owned" });
    expect((e as Error).cause).toBeInstanceOf(EnclaveError);
    expect((e as Error).cause).toMatchObject({ code: "FRAME_NOT_OWNED" });
    expect(platform.dram.stats().allocated).toBe(0); // never backed
    expect(memory.stopped).toBe(e);
    expect(thrown(() => memory.store(1, patternPage(1)))).toBe(e);
  });
});
