// Isolation between enclaves: one enclave cannot map, read or write another's frames through any
// path (Enclavisor's API and page tables, the frame ownership table, the memory controller with
// another VM's ASID and key, the shared-page call); a destroyed enclave's frames are zeroes before
// anyone gets them again; a function clone's writes never reach its template or its sibling clones.
import { beforeAll, describe, expect, it } from "vitest";
import type { GranularityName } from "../../host/enclavisor/attestation";
import { EnclaveMemory } from "../../host/enclavisor/enclave-memory";
import { EnclavePageTable } from "../../host/enclavisor/enclave-page-table";
import { Enclavisor } from "../../host/enclavisor/enclavisor";
import type { EnclavisorEnclave as Enclave } from "../../host/enclavisor/enclavisor";
import type { ModeName } from "../../host/launcher/modes";
import type { Platform } from "../../host/sev/platform";
import { RmpFault } from "../../host/sev/rmp";
import { PAGE_SIZE } from "../../host/page";
import { wat } from "../wasm/wat";
import { platformFor, same, tinySwitches } from "./fixtures/enclave";
import { errorCode } from "./fixtures/enclave-error";

/** Fills and reads whole pages, and shares a page with the host; its start function and data initialise pages 1 and 2. */
const APP = `(module
  (import "enclave" "share" (func $share (param i32 i32)))
  (memory (export "memory") 16)
  (data (i32.const 0x1000) "template data")
  (func $init (i32.store (i32.const 0x2000) (i32.const 42)))
  (start $init)
  (func (export "fill") (param $page i32) (param $v i32)
    (memory.fill (i32.shl (local.get $page) (i32.const 12)) (local.get $v) (i32.const 4096)))
  (func (export "get") (param $a i32) (result i32) (i32.load8_u (local.get $a)))
  (func (export "put") (param $a i32) (param $v i32) (i32.store8 (local.get $a) (local.get $v)))
  (func (export "shareAt") (param $a i32) (call $share (local.get $a) (i32.const 4096))))`;

let app: Uint8Array;
beforeAll(() => {
  app = wat(APP);
});

type Ex = Record<"fill" | "put", (a: number, b: number) => void> & Record<"get" | "shareAt", (a: number) => number>;
const ex = (e: Enclave) => e.guest.instance.exports as unknown as Ex;
const page = (v: number) => new Uint8Array(PAGE_SIZE).fill(v);

/** The enclave's own GPAs and the SPAs they map to now. */
function frames(e: Enclave): { gpa: number; spa: number }[] {
  return [...e.memory.pageTable.entries()].map(([, { gpa }]) => ({ gpa, spa: e.platform.hv.adversary.translate(e.vm, gpa)! }));
}

/** Takes freed frames back from DRAM until it holds every one of `spas`; returns their raw bytes. */
function reclaimRaw(platform: Platform, spas: number[]): Uint8Array[] {
  const want = new Set(spas);
  for (let i = 0; want.size > 0 && i < 100_000; i++) want.delete(platform.dram.allocate());
  expect(want.size).toBe(0);
  return spas.map((spa) => platform.dram.read(spa));
}

async function launch(ev: Enclavisor, mode: ModeName, granularity: GranularityName): Promise<Enclave> {
  return ev.launch(ev.create(app, { switches: tinySwitches(mode), granularity }));
}

describe("process enclaves in one VM", () => {
  it("hold disjoint frames, each owned by its enclave alone", async () => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const ev = new Enclavisor(platform);
    const a = await launch(ev, "enclavisor", "process");
    const b = await launch(ev, "enclavisor", "process");
    for (let p = 3; p < 12; p++) {
      ex(a).fill(p, 0xa1);
      ex(b).fill(p, 0xb2);
    }
    a.guest.mmu!.evictAll();
    b.guest.mmu!.evictAll();
    const fa = frames(a);
    const fb = frames(b);
    expect(a.memory.pageTable.firstGpa).not.toBe(b.memory.pageTable.firstGpa);
    const own = (e: Enclave, f: { gpa: number }) => expect(evmOf(ev, e).ownerOf(f.gpa)).toEqual({ kind: "private", owner: e.id });
    fa.forEach((f) => own(a, f));
    fb.forEach((f) => own(b, f));
    expect(fa.filter((f) => fb.some((g) => g.gpa === f.gpa || g.spa === f.spa))).toEqual([]);
    for (let p = 3; p < 12; p++) {
      expect(ex(a).get(p * PAGE_SIZE)).toBe(0xa1);
      expect(ex(b).get(p * PAGE_SIZE + 7)).toBe(0xb2);
    }
    await ev.close();
  });

  it("refuses another enclave's frame through the ownership table and through a page table pointing at it", async () => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const ev = new Enclavisor(platform);
    const a = await launch(ev, "enclavisor", "process");
    const b = await launch(ev, "enclavisor", "process");
    ex(a).fill(3, 0xa1);
    a.guest.mmu!.evictAll();
    const victim = frames(a)[0]!;
    const table = evmOf(ev, a);
    expect(errorCode(() => table.claim(victim.gpa, b.id))).toBe("FRAME_NOT_OWNED");
    expect(errorCode(() => table.checkRead(victim.gpa, b.id))).toBe("FRAME_NOT_OWNED");
    expect(errorCode(() => table.checkWrite(victim.gpa, b.id))).toBe("FRAME_NOT_OWNED");
    expect(() => table.checkRead(victim.gpa, b.id)).toThrow(
      new RegExp(`enclave ${b.id} may not read frame GPA 0x${victim.gpa.toString(16)}: it is private to enclave ${a.id}`),
    );
    // A page table for b that (by a bug) hands out a's GPAs: the first touch is refused before any frame is used.
    const wrong = new EnclaveMemory({
      hv: platform.hv, mc: platform.mc, vm: a.vm, encryption: true, integrity: a.tree!,
      pageTable: new EnclavePageTable({ firstGpa: a.memory.pageTable.firstGpa }),
      ownership: table, enclaveId: b.id,
    });
    const before = platform.dram.read(victim.spa);
    expect(() => wrong.load(0, new Uint8Array(PAGE_SIZE))).toThrow(expect.objectContaining({ reason: "frame-not-owned", cause: expect.objectContaining({ code: "FRAME_NOT_OWNED" }) }));
    expect(same(platform.dram.read(victim.spa), before)).toBe(true);
    expect(ex(a).get(3 * PAGE_SIZE)).toBe(0xa1);
    await ev.close();
  });

  it("shares only the caller's own page, whatever address it names", async () => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const ev = new Enclavisor(platform);
    const a = await launch(ev, "enclavisor", "process"); // slot 0: its GPA 0 is byte address 0
    const b = await launch(ev, "enclavisor", "process");
    ex(a).fill(5, 0xa1);
    ex(b).fill(5, 0xb2);
    a.guest.mmu!.evictAll();
    const aGpa = a.memory.pageTable.lookup(5)!.gpa;
    // b names a's frame by its guest-physical byte address: the call only knows b's own addresses.
    const bOwn = b.guest.read(aGpa * PAGE_SIZE, PAGE_SIZE);
    ex(b).shareAt(aGpa * PAGE_SIZE);
    const view = b.guest.mmu!.sharedView(aGpa);
    expect(same(view, bOwn)).toBe(true);
    expect(view.includes(0xa1)).toBe(false);
    expect(ex(a).get(5 * PAGE_SIZE)).toBe(0xa1);
    expect(evmOf(ev, a).ownerOf(aGpa)).toEqual({ kind: "private", owner: a.id });
    // Outside b's memory the call fails, and the host runs on.
    expect(() => ex(b).shareAt(64 * 1024 * 16)).toThrow();
    expect(ex(a).get(5 * PAGE_SIZE)).toBe(0xa1);
    await ev.close();
  });
});

describe("vm enclaves: the memory controller with another VM's ASID and key", () => {
  it.each(["sev", "sev-snp", "enclavisor"] as const)("%s: another VM cannot read or write an enclave's frame, even remapped to it", async (mode) => {
    const platform = platformFor(tinySwitches(mode));
    const ev = new Enclavisor(platform);
    const a = await launch(ev, mode, "vm");
    const b = await launch(ev, mode, "vm");
    expect(a.vm.asid).not.toBe(b.vm.asid);
    ex(a).fill(3, 0xa1);
    ex(b).fill(3, 0xb2);
    a.guest.mmu!.evictAll();
    b.guest.mmu!.evictAll();
    const gpa = a.memory.pageTable.lookup(3)!.gpa;
    const spa = platform.hv.adversary.translate(a.vm, gpa)!;
    const ciphertext = platform.dram.read(spa);
    // The same GPA in b's VM is b's own frame.
    expect(platform.hv.adversary.translate(b.vm, b.memory.pageTable.lookup(3)!.gpa)).not.toBe(spa);
    // The hypervisor maps a's frame into b's NPT: SNP's RMP refuses b; plain SEV decrypts with b's key, to noise.
    const bGpa = b.memory.pageTable.lookup(3)!.gpa;
    platform.hv.adversary.remap(b.vm, bGpa, spa);
    if (mode === "sev") {
      const seen = platform.mc.guestReadPage(b.vm, bGpa);
      expect(same(seen, page(0xa1))).toBe(false);
      expect(seen.filter((x) => x === 0xa1).length).toBeLessThan(64);
    } else {
      expect(() => platform.mc.guestReadPage(b.vm, bGpa)).toThrow(RmpFault);
      expect(() => platform.mc.guestWritePage(b.vm, bGpa, page(0xee))).toThrow(RmpFault);
      expect(same(platform.dram.read(spa), ciphertext)).toBe(true);
    }
    expect(ex(a).get(3 * PAGE_SIZE + 9)).toBe(0xa1);
    await ev.close();
  });
});

describe("destroyed enclaves", () => {
  it.each([
    ["vm", "enclavisor"],
    ["process", "enclavisor"],
    ["function", "enclavisor"],
    ["process", "sev"],
  ] as const)("%s (%s): frames are zeroes in DRAM once destroyed, and the next enclave reads zeroes", async (granularity, mode) => {
    const platform = platformFor(tinySwitches(mode));
    const ev = new Enclavisor(platform);
    const e = await launch(ev, mode, granularity);
    for (let p = 3; p < 12; p++) ex(e).fill(p, 0x5a);
    e.guest.mmu!.evictAll();
    const own = frames(e);
    expect(own.length).toBeGreaterThanOrEqual(9);
    // While the enclave runs, its frames hold ciphertext.
    expect(own.every(({ spa }) => !same(platform.dram.read(spa), new Uint8Array(PAGE_SIZE)))).toBe(true);
    ev.destroy(e.id);
    // The next enclave in the freed slot: its pages start as zeroes, wherever its frames come from.
    const next = await launch(ev, mode, granularity);
    for (let p = 3; p < 12; p++) expect(ex(next).get(p * PAGE_SIZE + 100)).toBe(0);
    const reused = frames(next).filter((f) => own.some((o) => o.spa === f.spa));
    expect(reused.length).toBeGreaterThan(0); // DRAM hands the freed frames out again first
    ev.destroy(next.id);
    await ev.close();
    // Raw DRAM: every frame the first enclave had is zero when the hypervisor gets it back.
    for (const raw of reclaimRaw(platform, own.map((f) => f.spa))) expect(same(raw, new Uint8Array(PAGE_SIZE))).toBe(true);
  });
});

describe("a destroy the hypervisor interferes with", () => {
  it("retires a process slot whose frame could not be scrubbed, and the host runs on", async () => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const ev = new Enclavisor(platform);
    const a = await launch(ev, "enclavisor", "process");
    ex(a).fill(3, 0xa1);
    a.guest.mmu!.evictAll();
    const slot = a.memory.pageTable.firstGpa;
    platform.hv.adversary.unmap(a.vm, a.memory.pageTable.lookup(3)!.gpa);
    ev.destroy(a.id);
    const b = await launch(ev, "enclavisor", "process");
    expect(b.memory.pageTable.firstGpa).not.toBe(slot);
    ex(b).fill(3, 0xb2);
    expect(ex(b).get(3 * PAGE_SIZE)).toBe(0xb2);
    await ev.close();
  });
});

describe("function clones", () => {
  it("write to frames of their own: the template and sibling clones never see it", async () => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const ev = new Enclavisor(platform);
    const c1 = await launch(ev, "enclavisor", "function");
    const c2 = await launch(ev, "enclavisor", "function");
    const table = evmOf(ev, c1);
    const template = c1.memory.pageTable.base!;
    const tGpa = template.lookup(1)!.gpa;
    const tOwner = table.ownerOf(tGpa)!;
    expect(tOwner.kind).toBe("template");
    const tSpa = platform.hv.adversary.translate(c1.vm, tGpa)!;
    const templateBytes = platform.dram.read(tSpa);

    ex(c1).put(0x1000, 0x58); // 'X' over "template data"
    ex(c2).put(0x1000, 0x59); // 'Y'
    ex(c1).fill(7, 0x11);
    c1.guest.mmu!.evictAll();
    c2.guest.mmu!.evictAll();
    expect(c1.memory.framesCopied).toBeGreaterThanOrEqual(1);
    const c1Gpa = c1.memory.pageTable.lookup(1)!.gpa;
    expect(c1Gpa).not.toBe(tGpa);
    expect(table.ownerOf(c1Gpa)).toEqual({ kind: "private", owner: c1.id });
    // The template's frame is unchanged, byte for byte.
    expect(same(platform.dram.read(tSpa), templateBytes)).toBe(true);
    expect([ex(c1).get(0x1000), ex(c2).get(0x1000)]).toEqual([0x58, 0x59]);
    expect(ex(c2).get(7 * PAGE_SIZE)).toBe(0);
    const c3 = await launch(ev, "enclavisor", "function");
    expect([ex(c3).get(0x1000), ex(c3).get(0x1001)]).toEqual([0x74, 0x65]); // "te"
    // Nobody writes a template frame, and a clone cannot read a sibling's copy.
    expect(errorCode(() => table.checkWrite(tGpa, c1.id))).toBe("FRAME_NOT_OWNED");
    expect(errorCode(() => table.checkWrite(tGpa, tOwner.owner))).toBe("FRAME_NOT_OWNED");
    expect(errorCode(() => table.checkRead(c1Gpa, c2.id))).toBe("FRAME_NOT_OWNED");
    table.checkRead(tGpa, c2.id); // a clone reads its template's frames
    // Destroying a clone scrubs its copies only; its siblings and the template read on.
    const c1Spa = platform.hv.adversary.translate(c1.vm, c1Gpa)!;
    ev.destroy(c1.id);
    expect(c1.vm.npt.lookup(c1Gpa)).toBeUndefined();
    expect(same(platform.dram.read(tSpa), templateBytes)).toBe(true);
    expect([ex(c2).get(0x1000), ex(c3).get(0x1000)]).toEqual([0x59, 0x74]);
    await ev.close();
    expect(reclaimRaw(platform, [c1Spa]).every((raw) => same(raw, new Uint8Array(PAGE_SIZE)))).toBe(true);
  });
});

/** The ownership table of the VM an enclave runs in. */
function evmOf(ev: Enclavisor, e: Enclave) {
  return ev.ownershipOf(e.id);
}
