import { describe, expect, it } from "vitest";
import { computeLaunchDigest, PageType } from "../../host/sev/launch-digest";
import { MemoryEncryptionEngine } from "../../host/sev/mee";
import { SevCommandError, SevStatus } from "../../host/sev/status";
import { machine, patternPage, same } from "./fixtures/machine";

describe("Hypervisor", () => {
  it("launches a VM whose measurement is the launch digest of its pages", () => {
    const m = machine({ snp: true });
    const pages = [
      { gpa: 0x10, type: PageType.NORMAL, bytes: patternPage(1) },
      { gpa: 0x11, type: PageType.ZERO },
      { gpa: 0x12, type: PageType.NORMAL, bytes: patternPage(2) },
    ];
    const vm = m.hv.launchVm({ pages });
    const expected = computeLaunchDigest(pages.map((p) => ({ pageType: p.type, gpa: BigInt(p.gpa) << 12n, data: p.bytes })));
    expect(Buffer.from(vm.measurement).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
    expect(m.sp.guestStatus(vm.handle)).toMatchObject({ status: SevStatus.SUCCESS, state: "RUNNING", asid: vm.asid });
    expect(m.mee.hasKey(vm.asid)).toBe(true);
    expect(same(m.mc.guestReadPage(vm, 0x12), patternPage(2))).toBe(true);
    expect(same(m.mc.guestReadPage(vm, 0x11), new Uint8Array(4096))).toBe(true);
  });

  it("adds private pages assigned but unvalidated, and shared pages left to the host", () => {
    const m = machine({ snp: true });
    const vm = m.hv.launchVm();
    const [priv] = m.hv.addPages(vm, [0x40]);
    const [shared] = m.hv.addPages(vm, [0x41], { shared: true });
    expect(m.rmp.get(priv!)).toMatchObject({ assigned: true, asid: vm.asid, gpa: 0x40, validated: false });
    expect(m.rmp.get(shared!).assigned).toBe(false);
    expect(() => m.hv.addPages(vm, [0x40])).toThrow(/GPA 0x40 of VM \d+ is already mapped/);
    expect(() => m.hv.addPages(vm, [0x50, 0x50])).toThrow(/GPA 0x50 of VM \d+ is already mapped/);
    expect(vm.npt.lookup(0x50)).toBeUndefined();
    // Page state change to shared and back.
    m.hv.setPageState(vm, 0x40, "shared");
    m.mc.guestWritePage(vm, 0x40, patternPage(3), { shared: true });
    m.hv.setPageState(vm, 0x40, "private");
    expect(() => m.mc.guestReadPage(vm, 0x40)).toThrow(/'not-validated'/);
  });

  it("hands out ASIDs until the pool is exhausted, then RESOURCE_LIMIT; destroy frees them after a flush", () => {
    const m = machine({ asids: 2 });
    const a = m.hv.launchVm();
    const b = m.hv.launchVm();
    expect(new Set([a.asid, b.asid]).size).toBe(2);
    let err: unknown;
    try {
      m.hv.launchVm();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SevCommandError);
    expect((err as SevCommandError).status).toBe(SevStatus.RESOURCE_LIMIT);
    const framesBefore = m.dram.stats().allocated;
    m.hv.addPages(a, [1, 2, 3]);
    m.hv.destroyVm(a);
    expect(m.dram.stats().allocated).toBe(framesBefore);
    expect(m.mee.hasKey(a.asid)).toBe(false);
    const c = m.hv.launchVm(); // needs WBINVD + DF_FLUSH first, which the hypervisor does
    expect(c.asid).toBe(a.asid);
    expect(m.hv.vms().map((v) => v.id).sort()).toEqual([b.id, c.id].sort());
    expect(() => m.hv.destroyVm(a)).toThrow(/no running VM with id/);
  });

  it("picks the lowest free ASID and flushes deactivated ones only when nothing else is left", () => {
    const m = machine({ asids: 3 });
    const a = m.hv.launchVm();
    const b = m.hv.launchVm();
    expect([a.asid, b.asid]).toEqual([1, 2]);
    m.hv.destroyVm(a);
    const c = m.hv.launchVm();
    expect(c.asid).toBe(3);
    expect(m.sp.platformStatus().asids).toMatchObject({ owned: 2, dirty: 1 });
    const d = m.hv.launchVm();
    expect(d.asid).toBe(1);
    expect(m.sp.platformStatus().asids).toMatchObject({ owned: 3, dirty: 0 });
  });

  it("returns the frames of a VM to unassigned RMP state on destroy", () => {
    const m = machine({ snp: true });
    const vm = m.hv.launchVm({ pages: [{ gpa: 0, type: PageType.NORMAL, bytes: patternPage(0) }] });
    const spa = vm.npt.lookup(0)!;
    expect(m.rmp.get(spa).assigned).toBe(true);
    m.hv.destroyVm(vm);
    expect(m.rmp.get(spa).assigned).toBe(false);
    expect(m.dram.has(spa)).toBe(false);
  });

  it("refuses bad launch pages with a message naming them, and leaves no VM behind", () => {
    const m = machine();
    expect(() => m.hv.launchVm({ pages: [{ gpa: 3, type: PageType.NORMAL, bytes: new Uint8Array(5) }] })).toThrow(/launch page at GPA 0x3 must be exactly 4096 bytes/);
    expect(() => m.hv.launchVm({ pages: [{ gpa: 3, type: 9 as PageType, bytes: patternPage(0) }] })).toThrow(/LAUNCH_UPDATE failed: INVALID_PARAM/);
    expect(m.hv.vms()).toEqual([]);
    expect(m.sp.platformStatus().asids.owned).toBe(0);
  });

  it("never exposes the memory encryption engine through its object graph", () => {
    const m = machine();
    m.hv.launchVm();
    const seen = new Set<unknown>();
    const reachable = (o: unknown): boolean => {
      if (o === null || typeof o !== "object" || seen.has(o)) return false;
      seen.add(o);
      if (o instanceof MemoryEncryptionEngine) return true;
      return Object.values(o).some(reachable);
    };
    expect(reachable(m.hv)).toBe(false);
  });
  it("releases pages of a running VM: unmapped, reclaimed in the RMP, freed as they are", () => {
    const m = machine({ snp: true });
    const vm = m.hv.launchVm();
    const [spa, kept] = m.hv.addPages(vm, [0x40, 0x41]);
    m.mc.pvalidate(vm, 0x40, true);
    m.mc.guestWritePage(vm, 0x40, patternPage(4));
    const ciphertext = m.dram.read(spa!);
    m.hv.releasePages(vm, [0x40]);
    expect(vm.npt.lookup(0x40)).toBeUndefined();
    expect(m.rmp.get(spa!).assigned).toBe(false);
    expect(m.dram.has(spa!)).toBe(false);
    expect(m.dram.has(kept!)).toBe(true);
    expect(() => m.mc.guestReadPage(vm, 0x40)).toThrow(/nested page fault/);
    expect(() => m.hv.releasePages(vm, [0x40])).toThrow(/GPA 0x40 of VM \d+ is not mapped/);
    // Not scrubbed by the hypervisor: the next owner of the frame finds what was there.
    expect(m.dram.allocate()).toBe(spa);
    expect(same(m.dram.read(spa!), ciphertext)).toBe(true);
    m.hv.destroyVm(vm); // the released frame is no longer the VM's: teardown leaves it alone
    expect(m.dram.has(spa!)).toBe(true);
  });
});
