// The memory controller: the path of every access to DRAM (docs/architecture.md, "The path of one
// memory access" and "Protection modes").
//   guest access: GPA -> NPT -> SPA -> RMP check (SEV-SNP) -> DRAM, through the memory
//                 encryption engine with the VM's ASID key when the C-bit is set (private page);
//                 shared pages (C-bit clear) pass through as plaintext (APM vol 2, 15.34.5);
//   host access:  the hypervisor's CPU reads and writes by SPA, with the RMP's write check
//                 (SNP) and, when ciphertext hiding is on, 0xFF for reads of private frames.
// Physical accesses that bypass the CPU (a bus interposer, cold boot) go to Dram directly
// (adversary.ts) and meet none of these checks.
import { timingSafeEqual } from "node:crypto";
import type { Dram } from "./dram";
import type { MemoryEncryptionEngine } from "./mee";
import { NestedPageFault } from "./npt";
import type { NestedPageTable } from "./npt";
import { checkPage, checkPages } from "./page";
import { PAGE_SIZE } from "../page";
import { RmpFault } from "./rmp";
import type { Rmp, RmpCheck } from "./rmp";
import { SevError } from "./sev-error";
import { GMAC_TAG_BYTES } from "./gmac";
import type { PageMac, PageMacBatch } from "./gmac";

/** What a VM's accesses are made with: both chosen by the (untrusted) hypervisor. */
export interface GuestContext {
  readonly asid: number;
  readonly npt: NestedPageTable;
}

export type Access = "read" | "write";

/** A fault the hypervisor observes: the #NPF exit with its GPA (page granularity). */
export interface FaultEvent {
  kind: "npf" | "rmp";
  gpa: number;
  asid: number;
  access: Access;
  /** For RMP faults: the frame and the failed check. */
  spa?: number;
  check?: RmpCheck;
}

export interface AccessOptions {
  /** The C-bit of the guest's own page table entry is clear: the page is shared with the host. */
  shared?: boolean;
}

export interface MemoryControllerOptions {
  dram: Dram;
  mee: MemoryEncryptionEngine;
  rmp: Rmp;
  /** SEV-SNP: check the RMP on every access (default false: SEV / SEV-ES). */
  snp?: boolean;
  /** Host reads of private frames return 0xFF (default false). */
  ciphertextHiding?: boolean;
}

export class MemoryController {
  readonly snp: boolean;
  /** The ciphertext hiding switch; may be flipped at any time. */
  ciphertextHiding: boolean;
  readonly #dram: Dram;
  readonly #mee: MemoryEncryptionEngine;
  readonly #rmp: Rmp;
  /**
   * One bit per DRAM frame (by index from its base): its last write was a guest's private
   * (encrypted) write, what hiding hides. Set or cleared on every write, so a bitmap over DRAM's
   * frames rather than a set: a bit operation, no hashing.
   */
  readonly #private: Uint32Array;
  readonly #listeners = new Set<(e: FaultEvent) => void>();
  /** Ciphertext on its way to DRAM: one buffer reused across writes instead of one per write. */
  #scratch = new Uint8Array(0);

  constructor(opts: MemoryControllerOptions) {
    this.#dram = opts.dram;
    this.#mee = opts.mee;
    this.#rmp = opts.rmp;
    this.#private = new Uint32Array(Math.ceil(opts.dram.capacity / 32));
    this.snp = opts.snp ?? false;
    this.ciphertextHiding = opts.ciphertextHiding ?? false;
  }

  // ---- guest accesses ----

  /** Reads one page; into `out` (e.g. the enclave's Wasm page) when given, else a new array. */
  guestReadPage(vm: GuestContext, gpa: number, opts: AccessOptions = {}, out?: Uint8Array): Uint8Array {
    if (out !== undefined) checkPage(out, "read buffer");
    return this.guestReadPages(vm, [gpa], opts, out);
  }

  guestWritePage(vm: GuestContext, gpa: number, bytes: Uint8Array, opts: AccessOptions = {}): void {
    checkPage(bytes, "guest write");
    this.guestWritePages(vm, [gpa], bytes, opts);
  }

  /** Reads pages gpas[i] into page i of the result (or of `out`); private pages decrypt in one batch. */
  guestReadPages(vm: GuestContext, gpas: ArrayLike<number>, opts: AccessOptions = {}, out?: Uint8Array): Uint8Array {
    if (out !== undefined) checkPages(out, gpas.length, "read buffer");
    const spas = this.#translate(vm, gpas, !opts.shared, "read");
    if (!opts.shared) this.#mee.requireKey(vm.asid); // fail before `out` holds any ciphertext
    const raw = out ?? new Uint8Array(spas.length * PAGE_SIZE);
    if (!opts.shared && spas.length === 1) {
      // One page (the MMU's fill): decrypted from the DRAM frame straight into `raw`, no copy.
      return this.#mee.decryptPages(vm.asid, spas, this.#dram.frameBytes(spas[0]!), raw);
    }
    this.#dram.readInto(spas, raw);
    return opts.shared ? raw : this.#mee.decryptPages(vm.asid, spas, raw, raw);
  }

  guestWritePages(vm: GuestContext, gpas: ArrayLike<number>, data: Uint8Array, opts: AccessOptions = {}): void {
    checkPages(data, gpas.length, "guest write");
    const spas = this.#translate(vm, gpas, !opts.shared, "write");
    if (opts.shared) {
      this.#dram.writeFrom(spas, data);
      for (const spa of spas) this.#markPrivate(spa, false);
      return;
    }
    if (spas.length === 1) {
      // One page (the MMU's write-back): encrypted from `data` straight into the DRAM frame.
      this.#mee.requireKey(vm.asid); // fail before the frame is touched
      this.#mee.encryptPages(vm.asid, spas, data, this.#dram.frameStorage(spas[0]!));
    } else {
      if (this.#scratch.length < data.length) this.#scratch = new Uint8Array(data.length);
      const ciphertext = this.#scratch.subarray(0, data.length);
      this.#dram.writeFrom(spas, this.#mee.encryptPages(vm.asid, spas, data, ciphertext));
    }
    for (const spa of spas) this.#markPrivate(spa, true);
  }

  /**
   * A load of one page with its MAC (the integrity scheme's, host/sev/gmac.ts): translated and
   * checked as guestReadPage does, decrypted from the DRAM frame into `out` and checked against
   * `mac.tag` in one native call. False, with `out` zeroed, when the MAC does not match: no
   * unverified byte is left where the guest could read it.
   */
  guestReadPageVerified(vm: GuestContext, gpa: number, opts: AccessOptions, out: Uint8Array, mac: PageMac): boolean {
    // Shared (encryption off): the batch's plain path, with a batch of one.
    if (opts.shared) return this.guestReadPagesVerified(vm, [gpa], opts, [out], { gmac: mac.gmac, ivs: mac.iv, tags: mac.tag }) < 0;
    checkPage(out, "read buffer");
    const spa = this.#translate(vm, [gpa], true, "read")[0]!;
    return this.#mee.decryptVerifyPage(vm.asid, spa, this.#dram.frameBytes(spa), out, mac);
  }

  /** A store of one page with its MAC: mac.tag receives the MAC of `bytes`, the frame their ciphertext (one native call). */
  guestWritePageMac(vm: GuestContext, gpa: number, bytes: Uint8Array, opts: AccessOptions, mac: PageMac): void {
    if (opts.shared) return this.guestWritePagesMac(vm, [gpa], [bytes], opts, { gmac: mac.gmac, ivs: mac.iv, tags: mac.tag });
    checkPage(bytes, "guest write");
    const spa = this.#translate(vm, [gpa], true, "write")[0]!;
    this.#mee.requireKey(vm.asid); // fail before the frame is touched
    this.#mee.encryptMacPage(vm.asid, spa, bytes, this.#dram.frameStorage(spa), mac);
    this.#markPrivate(spa, true);
  }

  /**
   * Pages gpas[i] into outs[i] (4 KiB views, apart from each other), in one batch: every page is
   * translated and checked before any is read, then private pages decrypt in one native call.
   */
  guestReadPagesApart(vm: GuestContext, gpas: readonly number[], opts: AccessOptions, outs: readonly Uint8Array[]): void {
    for (const out of outs) checkPage(out, "read buffer");
    const spas = this.#translate(vm, gpas, !opts.shared, "read");
    const frames = spas.map((spa) => this.#dram.frameBytes(spa));
    if (opts.shared) for (let i = 0; i < spas.length; i++) outs[i]!.set(frames[i]!);
    else this.#mee.decryptPagesApart(vm.asid, spas, frames, outs);
  }

  /** Pages srcs[i] (4 KiB views) to gpas[i], in one batch, translated and checked before any is written. */
  guestWritePagesApart(vm: GuestContext, gpas: readonly number[], srcs: readonly Uint8Array[], opts: AccessOptions): void {
    for (const src of srcs) checkPage(src, "guest write");
    const spas = this.#translate(vm, gpas, !opts.shared, "write");
    if (!opts.shared) this.#mee.requireKey(vm.asid); // fail before a frame is touched
    const frames = spas.map((spa) => this.#dram.frameStorage(spa));
    if (opts.shared) for (let i = 0; i < spas.length; i++) frames[i]!.set(srcs[i]!);
    else this.#mee.encryptPagesApart(vm.asid, spas, srcs, frames);
    for (const spa of spas) this.#markPrivate(spa, !opts.shared);
  }

  /**
   * Batched guestReadPageVerified: pages gpas[i] into outs[i], each checked against its MAC in
   * `macs`, in one native call once every page is translated and checked. Returns the index of
   * the first page whose MAC fails, every out then zeroed, or -1.
   */
  guestReadPagesVerified(vm: GuestContext, gpas: readonly number[], opts: AccessOptions, outs: readonly Uint8Array[], macs: PageMacBatch): number {
    for (const out of outs) checkPage(out, "read buffer");
    const spas = this.#translate(vm, gpas, !opts.shared, "read");
    const frames = spas.map((spa) => this.#dram.frameBytes(spa));
    if (!opts.shared) return this.#mee.decryptVerifyPages(vm.asid, spas, frames, outs, macs);
    const tag = new Uint8Array(GMAC_TAG_BYTES);
    for (let i = 0; i < spas.length; i++) {
      outs[i]!.set(frames[i]!);
      macs.gmac.tag(macs.ivs.subarray(12 * i, 12 * i + 12), outs[i]!, tag);
      if (!timingSafeEqual(tag, macs.tags.subarray(16 * i, 16 * i + 16))) {
        for (const out of outs) out.fill(0);
        return i;
      }
    }
    return -1;
  }

  /** Batched guestWritePageMac: page i's MAC into macs.tags, its ciphertext to gpas[i], in one native call. */
  guestWritePagesMac(vm: GuestContext, gpas: readonly number[], srcs: readonly Uint8Array[], opts: AccessOptions, macs: PageMacBatch): void {
    for (const src of srcs) checkPage(src, "guest write");
    const spas = this.#translate(vm, gpas, !opts.shared, "write");
    if (!opts.shared) this.#mee.requireKey(vm.asid); // fail before a frame is touched
    const frames = spas.map((spa) => this.#dram.frameStorage(spa));
    if (opts.shared) {
      for (let i = 0; i < spas.length; i++) {
        macs.gmac.tag(macs.ivs.subarray(12 * i, 12 * i + 12), srcs[i]!, macs.tags.subarray(16 * i, 16 * i + 16));
        frames[i]!.set(srcs[i]!);
      }
    } else {
      this.#mee.encryptMacPages(vm.asid, spas, srcs, frames, macs);
    }
    for (const spa of spas) this.#markPrivate(spa, !opts.shared);
  }

  /**
   * Part of a page the guest shares with the host (C-bit clear): `out.length` bytes from `offset`,
   * translated and checked like a whole page, without copying the rest of the frame.
   */
  guestReadShared(vm: GuestContext, gpa: number, offset: number, out: Uint8Array): void {
    checkRange(offset, out.length);
    const spa = this.#translate(vm, [gpa], false, "read")[0]!;
    out.set(this.#dram.frameBytes(spa).subarray(offset, offset + out.length));
  }

  /** Writes `bytes` at `offset` of a page the guest shares with the host (C-bit clear). */
  guestWriteShared(vm: GuestContext, gpa: number, offset: number, bytes: Uint8Array): void {
    checkRange(offset, bytes.length);
    const spa = this.#translate(vm, [gpa], false, "write")[0]!;
    this.#dram.frameStorage(spa).set(bytes, offset);
    this.#markPrivate(spa, false);
  }

  /**
   * PVALIDATE by the guest (APM vol 3): validates or rescinds its page `gpa`. Returns false when
   * the page was already in that state. Only SEV-SNP has the instruction.
   */
  pvalidate(vm: GuestContext, gpa: number, validate: boolean): boolean {
    if (!this.snp) throw new SevError("PVALIDATE needs SEV-SNP: this memory controller runs without the RMP");
    const spa = this.#translate(vm, [gpa], true, "write", false)[0]!;
    try {
      return this.#rmp.pvalidate(spa, vm.asid, gpa, validate);
    } catch (e) {
      if (e instanceof RmpFault) this.#emit({ kind: "rmp", gpa, asid: vm.asid, access: "write", spa, check: e.check });
      throw e;
    }
  }

  // ---- host (hypervisor CPU) accesses ----

  hostRead(spa: number): Uint8Array {
    const bytes = this.#dram.read(spa);
    if (this.ciphertextHiding && this.isPrivate(spa)) bytes.fill(0xff);
    return bytes;
  }

  hostWrite(spa: number, bytes: Uint8Array): void {
    checkPage(bytes, "host write");
    if (this.snp) this.#rmp.checkHostWrite(spa);
    this.#dram.write(spa, bytes);
    this.#markPrivate(spa, false);
  }

  /** Whether `spa` holds a guest's private data: RMP-assigned (SNP) or last written encrypted. */
  isPrivate(spa: number): boolean {
    const i = spa - this.#dram.base;
    const written = i >= 0 && i < this.#dram.capacity && Number.isInteger(i) && (this.#private[i >>> 5]! & (1 << (i & 31))) !== 0;
    return written || (this.snp && this.#rmp.get(spa).assigned);
  }

  /** Subscribes to the faults the hypervisor sees; returns the unsubscribe function. */
  onFault(listener: (e: FaultEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #translate(vm: GuestContext, gpas: ArrayLike<number>, isPrivate: boolean, access: Access, rmpCheck = true): number[] {
    const spas = new Array<number>(gpas.length);
    for (let i = 0; i < gpas.length; i++) {
      const gpa = gpas[i]!;
      let spa: number;
      try {
        spa = vm.npt.translate(gpa, vm.asid, access);
      } catch (e) {
        if (e instanceof NestedPageFault) this.#emit({ kind: "npf", gpa, asid: vm.asid, access });
        throw e;
      }
      if (this.snp && rmpCheck) {
        try {
          this.#rmp.checkGuestAccess(spa, vm.asid, gpa, isPrivate, access);
        } catch (e) {
          // An unvalidated page raises #VC inside the guest: the hypervisor does not see it.
          if (e instanceof RmpFault && e.check !== "not-validated") {
            this.#emit({ kind: "rmp", gpa, asid: vm.asid, access, spa, check: e.check });
          }
          throw e;
        }
      }
      spas[i] = spa;
    }
    return spas;
  }

  /** Records whether the last write to `spa`, a frame DRAM has just accepted, was private. */
  #markPrivate(spa: number, isPrivate: boolean): void {
    const i = spa - this.#dram.base;
    const word = this.#private[i >>> 5]!;
    this.#private[i >>> 5] = isPrivate ? word | (1 << (i & 31)) : word & ~(1 << (i & 31));
  }

  #emit(e: FaultEvent): void {
    for (const l of this.#listeners) {
      try {
        l({ ...e });
      } catch {
        // An observer's bug must not change what the guest sees.
      }
    }
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > PAGE_SIZE) {
    throw new RangeError(`a range inside a page must lie in 0..${PAGE_SIZE}, got ${offset}+${length}`);
  }
}
