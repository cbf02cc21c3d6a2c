// The adversary API of the untrusted host (docs/architecture.md, "The threat model"): what a
// malicious hypervisor or someone with access to DRAM can do, each with the effect it has on real
// hardware.
//   via "cpu":      the hypervisor's own loads and stores, through the memory controller: the
//                   RMP refuses writes to guest-owned frames (SNP), ciphertext hiding blanks reads;
//   via "physical": a DRAM bus interposer or cold boot: raw DRAM, no RMP, no hiding.
// Remapping and aliasing edit the VM's nested page table, which the hypervisor owns.
import type { Dram } from "./dram";
import type { FaultEvent, MemoryController } from "./memory-controller";
import type { Vm } from "./vm";
import { checkFrame, checkPage, hexFrame } from "./page";
import { PAGE_SIZE } from "../page";

export type Via = "cpu" | "physical";

/** A frame's bytes at one moment, to be written back later (a replay attack). */
export interface FrameSnapshot {
  readonly spa: number;
  readonly bytes: Uint8Array;
}

export interface AdversaryOptions {
  dram: Dram;
  mc: MemoryController;
  /** The hypervisor's record of a VM by id (throws for an unknown VM). */
  vm: (id: number) => Vm;
}

export class Adversary {
  readonly #dram: Dram;
  readonly #mc: MemoryController;
  readonly #vm: (id: number) => Vm;
  readonly #faults: FaultEvent[] = [];

  constructor(opts: AdversaryOptions) {
    this.#dram = opts.dram;
    this.#mc = opts.mc;
    this.#vm = opts.vm;
    // The hypervisor handles every #NPF, so it always learns the faulting GPA.
    this.#mc.onFault((e) => this.#faults.push(e));
  }

  /** Reads a frame: ciphertext for private pages (or 0xFF under ciphertext hiding via the CPU). */
  readFrame(spa: number, via: Via = "cpu"): Uint8Array {
    return via === "cpu" ? this.#mc.hostRead(spa) : this.#dram.read(spa);
  }

  /** Writes a whole frame. Via the CPU on SNP, a guest-owned frame raises RmpFault. */
  writeFrame(spa: number, bytes: Uint8Array, via: Via = "cpu"): void {
    checkPage(bytes, "adversary write");
    if (via === "cpu") this.#mc.hostWrite(spa, bytes);
    else this.#dram.write(spa, bytes);
  }

  /** Records a frame's current bytes (a physical read: snapshots are what DRAM holds). */
  snapshot(spa: number): FrameSnapshot {
    return Object.freeze({ spa, bytes: this.#dram.read(spa) });
  }

  /** Writes a snapshot back to its frame (or to `to`, moving old ciphertext elsewhere). */
  replay(snap: FrameSnapshot, opts: { via?: Via; to?: number } = {}): void {
    this.writeFrame(opts.to ?? snap.spa, snap.bytes, opts.via ?? "cpu");
  }

  /** XORs `mask` into the byte at `offset` of a frame (a Rowhammer flip or a corrupted bus). */
  flipBits(spa: number, offset: number, mask = 0x01, via: Via = "cpu"): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= PAGE_SIZE) {
      throw new RangeError(`flip offset must be in 0..${PAGE_SIZE - 1}, got ${offset}`);
    }
    if (!Number.isInteger(mask) || mask < 1 || mask > 0xff) throw new RangeError(`flip mask must be in 1..255, got ${mask}`);
    // A read-modify-write of the raw bits: via the CPU it is a host store and meets the RMP.
    const bytes = this.#dram.read(spa);
    bytes[offset]! ^= mask;
    this.writeFrame(spa, bytes, via);
  }

  /** The frame the VM's NPT maps `gpa` to, if any. */
  translate(vm: Vm, gpa: number): number | undefined {
    return this.#vm(vm.id).npt.lookup(gpa);
  }

  /** Points the VM's `gpa` at another frame (any allocated frame, even another VM's). */
  remap(vm: Vm, gpa: number, spa: number): void {
    checkFrame(spa, "SPA");
    if (!this.#dram.has(spa)) throw new RangeError(`remap target SPA ${hexFrame(spa)} is not an allocated frame`);
    this.#vm(vm.id).npt.map(gpa, spa);
  }

  /** Maps `gpa` to the frame behind `target`: two guest pages now share one frame. */
  alias(vm: Vm, gpa: number, target: number): void {
    const spa = this.#vm(vm.id).npt.lookup(target);
    if (spa === undefined) throw new RangeError(`alias target GPA ${hexFrame(target)} of VM ${vm.id} is not mapped`);
    this.#vm(vm.id).npt.map(gpa, spa);
  }

  /** Exchanges the frames behind two GPAs of a VM. */
  swap(vm: Vm, a: number, b: number): void {
    const npt = this.#vm(vm.id).npt;
    const sa = npt.lookup(a);
    const sb = npt.lookup(b);
    if (sa === undefined || sb === undefined) throw new RangeError(`swap needs two mapped GPAs, got ${hexFrame(a)} and ${hexFrame(b)}`);
    npt.map(a, sb);
    npt.map(b, sa);
  }

  /** Removes a GPA's mapping so that the guest's next access faults (the page-fault channel). */
  unmap(vm: Vm, gpa: number): boolean {
    return this.#vm(vm.id).npt.unmap(gpa);
  }

  /** Calls `listener` with each fault the hypervisor observes; returns the unsubscribe function. */
  watchFaults(listener: (e: FaultEvent) => void): () => void {
    return this.#mc.onFault(listener);
  }

  /** Every fault observed since the last call (the controlled-channel trace), oldest first. */
  takeFaults(): FaultEvent[] {
    return this.#faults.splice(0, this.#faults.length);
  }
}
