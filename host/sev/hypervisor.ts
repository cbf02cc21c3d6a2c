// The untrusted hypervisor (docs/architecture.md, "The threat model"): creates SEV VMs through the
// secure processor's API, allocates their frames and ASIDs, owns their nested page tables, and
// exposes the adversary API. It never holds the memory encryption engine: keys stay between the
// secure processor and the memory controller.
import { Adversary } from "./adversary";
import type { Dram } from "./dram";
import { PageType } from "./launch-digest";
import type { MemoryController } from "./memory-controller";
import { NestedPageTable } from "./npt";
import { checkFrame, checkPage, hexFrame } from "./page";
import { PAGE_SIZE } from "../page";
import type { Rmp } from "./rmp";
import type { Vm } from "./vm";
import type { IdBlock, SecureProcessor } from "./secure-processor";
import { SevCommandError, SevStatus } from "./status";

/** A VM as the hypervisor runs it: its firmware handle, the ASID it was activated with, its NPT. */
/** One page of the initial image, measured and encrypted by SNP_LAUNCH_UPDATE. */
export interface LaunchPage {
  gpa: number;
  type: PageType;
  /** Contents for NORMAL, VMSA, UNMEASURED and CPUID pages (one page); ignored for ZERO and SECRETS. */
  bytes?: Uint8Array;
}

export interface LaunchOptions {
  pages?: readonly LaunchPage[];
  policy?: bigint;
  idBlock?: IdBlock;
  hostData?: Uint8Array;
}

export interface HypervisorOptions {
  sp: SecureProcessor;
  dram: Dram;
  rmp: Rmp;
  mc: MemoryController;
}

interface VmRecord {
  readonly vm: Vm;
  /** Frames allocated for the VM (whatever the NPT says now): freed at destroy. */
  readonly frames: Set<number>;
}

export class Hypervisor {
  readonly adversary: Adversary;
  readonly #sp: SecureProcessor;
  readonly #dram: Dram;
  readonly #rmp: Rmp;
  readonly #mc: MemoryController;
  readonly #vms = new Map<number, VmRecord>();
  #nextId = 1;
  /** ASIDs bound to running VMs, and ASIDs deactivated since the last WBINVD + DF_FLUSH. */
  readonly #asidsInUse = new Set<number>();
  readonly #asidsToFlush = new Set<number>();

  constructor(opts: HypervisorOptions) {
    this.#sp = opts.sp;
    this.#dram = opts.dram;
    this.#rmp = opts.rmp;
    this.#mc = opts.mc;
    // SNP_INIT once per boot; a platform that is already initialised is fine.
    if (this.#sp.platformStatus().state === "UNINIT") this.#command("INIT", this.#sp.init());
    this.adversary = new Adversary({ dram: opts.dram, mc: opts.mc, vm: (id) => this.#record(id).vm });
  }

  /** SEV-SNP (RMP checks on) or plain SEV, as the memory controller was built. */
  get snp(): boolean {
    return this.#mc.snp;
  }

  /**
   * Launches a VM (SNP ABI 8.16-8.18): LAUNCH_START, ACTIVATE (the firmware installs a fresh key
   * for the ASID), LAUNCH_UPDATE of every image page in order, LAUNCH_FINISH.
   */
  launchVm(opts: LaunchOptions = {}): Vm {
    const pages = opts.pages ?? [];
    for (const p of pages) {
      checkFrame(p.gpa, "launch page GPA");
      if (p.bytes !== undefined) checkPage(p.bytes, `launch page at GPA ${hexFrame(p.gpa)}`);
    }
    const start = this.#sp.launchStart(opts.policy);
    this.#command("LAUNCH_START", start);
    const handle = start.handle!;
    const asid = this.#activate(handle);
    const npt = new NestedPageTable();
    const frames = new Set<number>();
    try {
      for (const p of pages) {
        const spa = this.#dram.allocate();
        frames.add(spa);
        // The hypervisor copies the plaintext image into the frame; the firmware encrypts it in place.
        this.#mc.hostWrite(spa, p.bytes ?? new Uint8Array(PAGE_SIZE));
        npt.map(p.gpa, spa);
        this.#command("LAUNCH_UPDATE", this.#sp.launchUpdate(handle, { spa, gpa: p.gpa, pageType: p.type }));
      }
      const finish = this.#sp.launchFinish(handle, { idBlock: opts.idBlock, hostData: opts.hostData });
      this.#command("LAUNCH_FINISH", finish);
      const vm: Vm = Object.freeze({ id: this.#nextId++, handle, asid, npt, measurement: finish.measurement! });
      this.#vms.set(vm.id, { vm, frames });
      return vm;
    } catch (e) {
      this.#teardown(handle, frames, asid);
      throw e;
    }
  }

  /**
   * Backs guest pages with new frames. Private pages are assigned to the VM in the RMP (SNP
   * RMPUPDATE) but not validated: the guest must PVALIDATE them before its first private access.
   * Shared pages stay hypervisor-owned. Returns the frames, in the order of `gpas`.
   */
  addPages(vm: Vm, gpas: readonly number[], opts: { shared?: boolean } = {}): number[] {
    const rec = this.#record(vm.id);
    const seen = new Set<number>();
    for (const gpa of gpas) {
      checkFrame(gpa, "GPA");
      if (vm.npt.lookup(gpa) !== undefined || seen.has(gpa)) {
        throw new RangeError(`GPA ${hexFrame(gpa)} of VM ${vm.id} is already mapped`);
      }
      seen.add(gpa);
    }
    return gpas.map((gpa) => {
      const spa = this.#dram.allocate();
      rec.frames.add(spa);
      this.#mc.hostWrite(spa, new Uint8Array(PAGE_SIZE)); // no previous owner's bytes leak to the guest
      if (!opts.shared) this.#rmp.update(spa, { assigned: true, asid: vm.asid, gpa });
      vm.npt.map(gpa, spa);
      return spa;
    });
  }

  /**
   * Page state change requested by the guest (GHCB "Page State Change", SNP): a private page
   * becomes shared (RMPUPDATE to hypervisor-owned) or back (assigned again, unvalidated).
   * The guest rescinds its validation first; the hypervisor only changes the RMP.
   */
  setPageState(vm: Vm, gpa: number, state: "shared" | "private"): void {
    this.#record(vm.id);
    const spa = vm.npt.translate(gpa, vm.asid, "write");
    if (state === "shared") this.#rmp.update(spa, { assigned: false, asid: 0, gpa: 0 });
    else this.#rmp.update(spa, { assigned: true, asid: vm.asid, gpa });
  }

  /**
   * Takes guest pages back from a running VM (a balloon driver's release, or Linux's "unaccepted"
   * memory returned to the host): unmaps them from the NPT, reclaims their frames in the RMP and
   * frees them. What the frames hold is the guest's business: a guest that cares scrubs them first.
   */
  releasePages(vm: Vm, gpas: readonly number[]): void {
    const rec = this.#record(vm.id);
    const spas = gpas.map((gpa) => {
      const spa = vm.npt.lookup(gpa);
      if (spa === undefined) throw new RangeError(`GPA ${hexFrame(gpa)} of VM ${vm.id} is not mapped`);
      return spa;
    });
    gpas.forEach((gpa, i) => {
      const spa = spas[i]!;
      vm.npt.unmap(gpa);
      rec.frames.delete(spa);
      this.#rmp.set(spa, { assigned: false, asid: 0, gpa: 0, validated: false, pageSize: "4K", immutable: false });
      this.#dram.free(spa);
    });
  }

  /** DEACTIVATE and DECOMMISSION the VM, take its frames back and free them. */
  destroyVm(vm: Vm): void {
    const rec = this.#record(vm.id);
    this.#vms.delete(vm.id);
    this.#teardown(vm.handle, rec.frames, vm.asid);
  }

  vms(): Vm[] {
    return [...this.#vms.values()].map((r) => r.vm);
  }

  /**
   * Picks the lowest free ASID and binds it with ACTIVATE, as KVM's sev_asid_new does: when only
   * deactivated ASIDs are left, it first runs WBINVD and DF_FLUSH (SEV API, DF_FLUSH) to free them.
   */
  #activate(handle: number): number {
    const size = this.#sp.platformStatus().asids.size;
    const pick = () => {
      for (let asid = 1; asid <= size; asid++) {
        if (!this.#asidsInUse.has(asid) && !this.#asidsToFlush.has(asid)) return asid;
      }
      return undefined;
    };
    let asid = pick();
    if (asid === undefined && this.#asidsToFlush.size > 0) {
      this.#sp.wbinvd();
      this.#command("DF_FLUSH", this.#sp.dfFlush());
      this.#asidsToFlush.clear();
      asid = pick();
    }
    // With no ASID left, ACTIVATE without one makes the firmware report why (RESOURCE_LIMIT).
    const r = this.#sp.activate(handle, asid);
    if (r.status !== SevStatus.SUCCESS) {
      this.#sp.decommission(handle);
      this.#command("ACTIVATE", r);
    }
    this.#asidsInUse.add(r.asid!);
    return r.asid!;
  }

  #teardown(handle: number, frames: Set<number>, asid: number): void {
    this.#sp.deactivate(handle);
    if (this.#asidsInUse.delete(asid)) this.#asidsToFlush.add(asid);
    this.#sp.decommission(handle);
    for (const spa of frames) {
      // The firmware returns a decommissioned guest's frames to the hypervisor (SNP_PAGE_RECLAIM).
      this.#rmp.set(spa, { assigned: false, asid: 0, gpa: 0, validated: false, pageSize: "4K", immutable: false });
      this.#dram.free(spa);
    }
    frames.clear();
  }

  #record(id: number): VmRecord {
    const rec = this.#vms.get(id);
    if (!rec) throw new RangeError(`no running VM with id ${id}`);
    return rec;
  }

  #command(name: string, r: { status: SevStatus }): void {
    if (r.status !== SevStatus.SUCCESS) throw new SevCommandError(name, r.status);
  }
}
