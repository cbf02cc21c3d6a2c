// Each adversary action, with and without the RMP, and the effect it has on the guest.
import { describe, expect, it } from "vitest";
import type { Vm } from "../../host/sev/vm";
import { NestedPageFault } from "../../host/sev/npt";
import { PAGE_SIZE } from "../../host/page";
import { machine, patternPage, rmpCheck, same, type Machine } from "./fixtures/machine";

/** A running VM with private pages at GPAs 0..3 holding patternPage(gpa), validated under SNP. */
function victim(opts: { snp: boolean; ciphertextHiding?: boolean }): { m: Machine; vm: Vm; spa: (gpa: number) => number } {
  const m = machine(opts);
  const vm = m.hv.launchVm();
  m.hv.addPages(vm, [0, 1, 2, 3]);
  for (let gpa = 0; gpa < 4; gpa++) {
    if (opts.snp) m.mc.pvalidate(vm, gpa, true);
    m.mc.guestWritePage(vm, gpa, patternPage(gpa));
  }
  return { m, vm, spa: (gpa) => vm.npt.lookup(gpa)! };
}

/** Byte ranges of 16-byte blocks where two pages differ. */
function differingBlocks(a: Uint8Array, b: Uint8Array): number[] {
  const blocks: number[] = [];
  for (let blk = 0; blk < PAGE_SIZE / 16; blk++) {
    if (Buffer.compare(a.subarray(blk * 16, blk * 16 + 16), b.subarray(blk * 16, blk * 16 + 16)) !== 0) blocks.push(blk);
  }
  return blocks;
}

const MODES = [{ name: "SEV (no RMP)", snp: false }, { name: "SEV-SNP (RMP)", snp: true }] as const;

for (const mode of MODES) {
  describe(`adversary under ${mode.name}`, () => {
    it("read a frame: ciphertext via the CPU and physically; 0xFF via the CPU under ciphertext hiding", () => {
      const { m, vm, spa } = victim(mode);
      const cpu = m.hv.adversary.readFrame(spa(1));
      expect(same(cpu, patternPage(1))).toBe(false);
      expect(same(cpu, m.hv.adversary.readFrame(spa(1), "physical"))).toBe(true);
      m.mc.ciphertextHiding = true;
      expect(same(m.hv.adversary.readFrame(spa(1)), new Uint8Array(PAGE_SIZE).fill(0xff))).toBe(true);
      expect(same(m.hv.adversary.readFrame(spa(1), "physical"), cpu)).toBe(true);
      expect(same(m.mc.guestReadPage(vm, 1), patternPage(1))).toBe(true);
    });

    it("the ciphertext side channel: the same plaintext at the same SPA gives the same ciphertext", () => {
      const { m, vm, spa } = victim(mode);
      const before = m.hv.adversary.readFrame(spa(2));
      m.mc.guestWritePage(vm, 2, patternPage(99));
      expect(same(m.hv.adversary.readFrame(spa(2)), before)).toBe(false);
      m.mc.guestWritePage(vm, 2, patternPage(2));
      expect(same(m.hv.adversary.readFrame(spa(2)), before)).toBe(true);
    });

    it("write a frame via the CPU: " + (mode.snp ? "RMP fault, guest data intact" : "accepted, guest reads garbage unnoticed"), () => {
      const { m, vm, spa } = victim(mode);
      const check = rmpCheck(() => m.hv.adversary.writeFrame(spa(1), patternPage(50)));
      if (mode.snp) {
        expect(check).toBe("hypervisor-write-to-assigned");
        expect(same(m.mc.guestReadPage(vm, 1), patternPage(1))).toBe(true);
      } else {
        expect(check).toBe("none");
        const seen = m.mc.guestReadPage(vm, 1);
        expect(same(seen, patternPage(1))).toBe(false);
        expect(same(seen, patternPage(50))).toBe(false); // the write was not encrypted for the guest
      }
    });

    it("write a frame physically (bus interposer): accepted in both modes, the guest reads garbage", () => {
      const { m, vm, spa } = victim(mode);
      m.hv.adversary.writeFrame(spa(1), patternPage(50), "physical");
      expect(same(m.mc.guestReadPage(vm, 1), patternPage(1))).toBe(false);
    });

    it("snapshot and replay: " + (mode.snp ? "a CPU replay faults; a physical replay succeeds" : "the guest silently reads the old data"), () => {
      const { m, vm, spa } = victim(mode);
      const snap = m.hv.adversary.snapshot(spa(0));
      m.mc.guestWritePage(vm, 0, patternPage(42)); // the guest updates its page
      const check = rmpCheck(() => m.hv.adversary.replay(snap));
      if (mode.snp) {
        expect(check).toBe("hypervisor-write-to-assigned");
        expect(same(m.mc.guestReadPage(vm, 0), patternPage(42))).toBe(true);
        m.hv.adversary.replay(snap, { via: "physical" });
      } else {
        expect(check).toBe("none");
      }
      // Deterministic encryption and no integrity: the stale ciphertext decrypts to the stale page.
      expect(same(m.mc.guestReadPage(vm, 0), patternPage(0))).toBe(true);
    });

    it("replaying a page's ciphertext at another frame gives garbage (the SPA tweak)", () => {
      const { m, vm, spa } = victim(mode);
      const snap = m.hv.adversary.snapshot(spa(0));
      m.hv.adversary.replay(snap, { via: "physical", to: spa(3) });
      const seen = m.mc.guestReadPage(vm, 3);
      expect(same(seen, patternPage(0))).toBe(false);
      expect(same(seen, patternPage(3))).toBe(false);
    });

    it("remap a GPA to another of the VM's frames: " + (mode.snp ? "RMP fault (gpa-mismatch), seen by the hypervisor" : "the guest reads the other page"), () => {
      const { m, vm, spa } = victim(mode);
      m.hv.adversary.takeFaults();
      m.hv.adversary.remap(vm, 1, spa(2));
      const check = rmpCheck(() => m.mc.guestReadPage(vm, 1));
      if (mode.snp) {
        expect(check).toBe("gpa-mismatch");
        expect(m.hv.adversary.takeFaults()).toEqual([{ kind: "rmp", gpa: 1, asid: vm.asid, access: "read", spa: spa(2), check: "gpa-mismatch" }]);
      } else {
        expect(check).toBe("none");
        expect(same(m.mc.guestReadPage(vm, 1), patternPage(2))).toBe(true);
      }
    });

    it("alias two GPAs to one frame: " + (mode.snp ? "RMP fault on the alias" : "a write through one is read through the other"), () => {
      const { m, vm } = victim(mode);
      m.hv.adversary.alias(vm, 3, 0);
      if (mode.snp) {
        expect(rmpCheck(() => m.mc.guestWritePage(vm, 3, patternPage(77)))).toBe("gpa-mismatch");
        expect(same(m.mc.guestReadPage(vm, 0), patternPage(0))).toBe(true);
      } else {
        m.mc.guestWritePage(vm, 3, patternPage(77));
        expect(same(m.mc.guestReadPage(vm, 0), patternPage(77))).toBe(true);
      }
    });

    it("swap the frames of two GPAs: " + (mode.snp ? "RMP faults on both" : "the guest reads each page at the other's address"), () => {
      const { m, vm, spa } = victim(mode);
      const [s0, s1] = [spa(0), spa(1)];
      m.hv.adversary.swap(vm, 0, 1);
      expect([m.hv.adversary.translate(vm, 0), m.hv.adversary.translate(vm, 1)]).toEqual([s1, s0]);
      if (mode.snp) {
        expect(rmpCheck(() => m.mc.guestReadPage(vm, 0))).toBe("gpa-mismatch");
        expect(rmpCheck(() => m.mc.guestReadPage(vm, 1))).toBe("gpa-mismatch");
      } else {
        expect(same(m.mc.guestReadPage(vm, 0), patternPage(1))).toBe(true);
        expect(same(m.mc.guestReadPage(vm, 1), patternPage(0))).toBe(true);
      }
    });

    it("remap a GPA to another VM's frame: " + (mode.snp ? "RMP fault (asid-mismatch)" : "the guest reads garbage (wrong key)"), () => {
      const { m, vm } = victim(mode);
      const other = m.hv.launchVm();
      const [otherSpa] = m.hv.addPages(other, [0]);
      if (mode.snp) m.mc.pvalidate(other, 0, true);
      m.mc.guestWritePage(other, 0, patternPage(5));
      m.hv.adversary.remap(vm, 2, otherSpa!);
      const check = rmpCheck(() => m.mc.guestReadPage(vm, 2));
      if (mode.snp) expect(check).toBe("asid-mismatch");
      else {
        expect(check).toBe("none");
        const seen = m.mc.guestReadPage(vm, 2);
        expect(same(seen, patternPage(5))).toBe(false);
        expect(same(seen, patternPage(2))).toBe(false);
      }
    });

    it("flip bits: " + (mode.snp ? "via the CPU faults; physically it garbles one 16-byte block" : "garbles exactly one 16-byte block, unnoticed"), () => {
      const { m, vm, spa } = victim(mode);
      const check = rmpCheck(() => m.hv.adversary.flipBits(spa(1), 100, 0x04));
      if (mode.snp) {
        expect(check).toBe("hypervisor-write-to-assigned");
        expect(same(m.mc.guestReadPage(vm, 1), patternPage(1))).toBe(true);
        m.hv.adversary.flipBits(spa(1), 100, 0x04, "physical");
      } else {
        expect(check).toBe("none");
      }
      // XTS: a flipped ciphertext bit randomises its own block (bytes 96..111) and nothing else.
      expect(differingBlocks(m.mc.guestReadPage(vm, 1), patternPage(1))).toEqual([6]);
    });

    it("watch page faults: unmapped GPAs give the hypervisor the guest's access trace", () => {
      const { m, vm } = victim(mode);
      const live: number[] = [];
      const stop = m.hv.adversary.watchFaults((e) => live.push(e.gpa));
      m.hv.adversary.takeFaults();
      for (const gpa of [0, 1, 2, 3]) m.hv.adversary.unmap(vm, gpa);
      for (const gpa of [2, 0, 3, 2]) expect(() => m.mc.guestReadPage(vm, gpa)).toThrow(NestedPageFault);
      expect(m.hv.adversary.takeFaults().map((e) => `${e.kind}:${e.gpa}`)).toEqual(["npf:2", "npf:0", "npf:3", "npf:2"]);
      stop();
      expect(() => m.mc.guestReadPage(vm, 1)).toThrow(NestedPageFault);
      expect(live).toEqual([2, 0, 3, 2]);
    });
  });
}

describe("adversary input checks", () => {
  it("names the problem", () => {
    const { m, vm, spa } = victim({ snp: false });
    expect(() => m.hv.adversary.flipBits(spa(0), 4096)).toThrow(/flip offset must be in 0..4095/);
    expect(() => m.hv.adversary.flipBits(spa(0), 0, 0)).toThrow(/flip mask/);
    expect(() => m.hv.adversary.remap(vm, 1, 0xfffff)).toThrow(/not an allocated frame/);
    expect(() => m.hv.adversary.alias(vm, 1, 0x999)).toThrow(/alias target GPA 0x999/);
    expect(() => m.hv.adversary.writeFrame(spa(0), new Uint8Array(3))).toThrow(/exactly 4096 bytes/);
    expect(() => m.hv.adversary.readFrame(0xfffff, "physical")).toThrow(/not an allocated DRAM frame/);
  });
});
