// An enclave's pages in emulated DRAM: the PageBacking the software MMU pages through
// (docs/architecture.md, "The path of one memory access"). Pages leave the resident set encrypted
// by the memory controller with the VM's key and come back decrypted, checked against the
// integrity tree before the guest runs on any byte of them:
//   GVA page -> enclave page table -> GPA -> hypervisor's NPT (+ RMP check on SNP) -> SPA -> DRAM.
//
// What stops the enclave: every check of a load or a store runs inside one guard, and any refusal
// stops it the same way, for good (an EnclaveStopped, with the refusing layer's error as its
// cause): the NPT has no mapping or the RMP refuses the frame ("memory-fault"), the tree does not
// match ("integrity"), the enclave holds its memory limit of frames ("memory-limit"), or the frame
// ownership table refuses the frame ("frame-not-owned"). The host process stays up.
//
// Shared pages (docs/architecture.md, "Shared pages") never come here: the MMU keeps them resident
// in the enclave's own Wasm memory. With encryption off, pages are backed by shared frames
// (Hypervisor.addPages with shared: true) and accessed with the C-bit clear.
//
// Every frame an enclave touches is checked against Enclavisor's frame ownership table
// (frame-ownership.ts): a first touch claims a free frame, a load needs read rights, a store write
// rights. A function clone reads its template's frozen frames through its page table's base; its
// first store of such a page copies it to a new frame of its own, encrypted with the VM key at the
// new frame's address (copy-on-write). scrub() zeroes and gives back every frame of the enclave's
// own when it is destroyed.
import type { Hypervisor } from "../sev/hypervisor";
import type { Vm } from "../sev/vm";
import type { MemoryController } from "../sev/memory-controller";
import { NestedPageFault } from "../sev/npt";
import { hexFrame } from "../sev/page";
import { PAGE_SIZE } from "../page";
import { RmpFault } from "../sev/rmp";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import type { StopReason } from "../wasm/enclave-stopped";
import { MAX_BATCH_PAGES } from "../wasm/page-backing";
import type { PageBacking } from "../wasm/page-backing";
import { GMAC_IV_BYTES, GMAC_TAG_BYTES } from "../sev/gmac";
import type { Gmac } from "../sev/gmac";
import { EnclaveError } from "./enclave-error";
import { MemoryLimitError } from "./enclave-page-table";
import type { EnclavePageTable, PageTableEntry } from "./enclave-page-table";
import type { FrameOwnership } from "./frame-ownership";
import type { IntegrityScheme, PageMacs } from "./integrity-scheme";
import { IntegrityViolation } from "./integrity-violation";

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export interface EnclaveMemoryCounters {
  /** Frames backed through the hypervisor (first touches, and a clone's copies). */
  framesAllocated: number;
  /** Bytes the memory controller encrypted on write-back and decrypted on fill. */
  bytesEncrypted: number;
  bytesDecrypted: number;
}

export interface EnclaveMemoryOptions {
  hv: Hypervisor;
  mc: MemoryController;
  vm: Vm;
  pageTable: EnclavePageTable;
  /** Pages go through the memory encryption engine (C-bit set); else as plaintext shared pages. */
  encryption: boolean;
  /** The VM's tree: checks fills and records write-backs; none when integrity is off. */
  integrity?: IntegrityScheme;
  /** Enclavisor's frame ownership table of the VM and this enclave's id in it. */
  ownership: FrameOwnership;
  enclaveId: number;
}

export class EnclaveMemory implements PageBacking {
  readonly vm: Vm;
  readonly pageTable: EnclavePageTable;
  readonly integrity: IntegrityScheme | undefined;
  readonly counters: EnclaveMemoryCounters = { framesAllocated: 0, bytesEncrypted: 0, bytesDecrypted: 0 };
  /** Template frames copied on a clone's first store of their page (copy-on-write). */
  framesCopied = 0;
  readonly enclaveId: number;
  readonly #ownership: FrameOwnership;
  readonly #hv: Hypervisor;
  readonly #mc: MemoryController;
  readonly #encryption: boolean;
  readonly #access: { shared: boolean };
  readonly #pageMacs: PageMacs | undefined;
  #stopped: EnclaveStopped | null = null;
  /** A batch's MACs on their way to or from the memory controller. */
  readonly #ivs = new Uint8Array(GMAC_IV_BYTES * MAX_BATCH_PAGES);
  readonly #tags = new Uint8Array(GMAC_TAG_BYTES * MAX_BATCH_PAGES);

  constructor(opts: EnclaveMemoryOptions) {
    this.#hv = opts.hv;
    this.#mc = opts.mc;
    this.vm = opts.vm;
    this.pageTable = opts.pageTable;
    this.#encryption = opts.encryption;
    this.#access = { shared: !opts.encryption };
    this.integrity = opts.integrity;
    this.#pageMacs = opts.integrity?.pageMacs;
    this.#ownership = opts.ownership;
    this.enclaveId = opts.enclaveId;
  }

  /** The stop of the enclave, once a load or store refused. */
  get stopped(): EnclaveStopped | null {
    return this.#stopped;
  }

  /**
   * Miss path steps 1 and 3-5 in one lookup: the page table gives the page's frame, or maps a new
   * one on first touch (claimed, backed by the hypervisor, validated: then there is nothing to
   * load). A stored page is decrypted by the memory controller straight into the guest's page and
   * verified; the guest does not run meanwhile, and a page that fails is zeroed before the enclave
   * stops, so the guest is never fed unverified bytes.
   */
  load(page: number, dst: Uint8Array): boolean {
    return this.#guard(page, "load", () => {
      const entry = this.pageTable.lookup(page);
      if (!entry) {
        this.#newFrame(page);
        return false;
      }
      this.#ownership.checkRead(entry.gpa, this.enclaveId);
      if (!entry.written) return false;
      try {
        // With a MAC per page, the decryption and the MAC check are one call of the memory controller.
        const mac = this.#pageMacs?.loadMac(entry.gpa);
        if (mac) {
          if (!this.#mc.guestReadPageVerified(this.vm, entry.gpa, this.#access, dst, mac)) throw this.#pageMacs!.violation(entry.gpa);
        } else {
          this.#mc.guestReadPage(this.vm, entry.gpa, this.#access, dst);
          this.integrity?.verifyPage(entry.gpa, dst);
        }
        if (this.#encryption) this.counters.bytesDecrypted += PAGE_SIZE;
      } catch (e) {
        dst.fill(0);
        throw e;
      }
      return true;
    });
  }

  /** Eviction of a dirty page (miss path step 2): the leaf first, then the ciphertext to DRAM. */
  store(page: number, src: Uint8Array): void {
    this.#guard(page, "store", () => {
      const entry = this.#ownFrame(page);
      this.#ownership.checkWrite(entry.gpa, this.enclaveId);
      if (this.#pageMacs) {
        // The new version first, then the encryption and its MAC in one call, then the MAC out.
        const mac = this.#pageMacs.storeMac(entry.gpa);
        this.#mc.guestWritePageMac(this.vm, entry.gpa, src, this.#access, mac);
        this.#pageMacs.storedMac(entry.gpa);
      } else {
        this.integrity?.updatePage(entry.gpa, src);
        this.#mc.guestWritePage(this.vm, entry.gpa, src, this.#access);
      }
      if (this.#encryption) this.counters.bytesEncrypted += PAGE_SIZE;
      this.pageTable.markWritten(page);
    });
  }

  /**
   * load() of pages first..first+count-1 into dst (page k at k * 4096), as a batch: each page's
   * own steps as load() takes them, then the decryption and MAC check of every stored page in one
   * call of the memory controller. A refusal stops the enclave as load() does, with dst zeroed.
   */
  loadRun(first: number, count: number, dst: Uint8Array, stored: Uint8Array): void {
    if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH_PAGES || dst.length !== count * PAGE_SIZE || stored.length < count) {
      throw new RangeError(`a run of 1..${MAX_BATCH_PAGES} pages needs a buffer of as many pages and a flag per page, got ${count} pages, ${dst.length} bytes, ${stored.length} flags`);
    }
    const pages: number[] = [];
    const gpas: number[] = [];
    const outs: Uint8Array[] = [];
    try {
      for (let k = 0; k < count; k++) {
        const page = first + k;
        const gpa = this.#guard(page, "load", () => {
          const entry = this.pageTable.lookup(page);
          if (!entry) {
            this.#newFrame(page);
            return -1;
          }
          this.#ownership.checkRead(entry.gpa, this.enclaveId);
          return entry.written ? entry.gpa : -1;
        });
        stored[k] = gpa < 0 ? 0 : 1;
        if (gpa < 0) continue;
        pages.push(page);
        gpas.push(gpa);
        outs.push(dst.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE));
      }
      if (pages.length > 0) this.#guardBatch(pages, gpas, "load", () => this.#readBatch(gpas, outs));
    } catch (e) {
      dst.fill(0);
      throw e;
    }
  }

  /** store() of pages[i] from srcs[i], as a batch: each page's own steps, then one call of the memory controller. */
  storeMany(pages: readonly number[], srcs: readonly Uint8Array[]): void {
    if (pages.length !== srcs.length || pages.length > MAX_BATCH_PAGES) {
      throw new RangeError(`a batch of at most ${MAX_BATCH_PAGES} pages needs a source per page, got ${pages.length} pages and ${srcs.length} sources`);
    }
    const macs = this.#pageMacs;
    if (!macs && this.integrity) {
      for (let i = 0; i < pages.length; i++) this.store(pages[i]!, srcs[i]!);
      return;
    }
    const batch: { pages: number[]; gpas: number[]; srcs: Uint8Array[] } = { pages: [], gpas: [], srcs: [] };
    for (let i = 0; i < pages.length; i++) {
      const page = pages[i]!;
      const gpa = this.#guard(page, "store", () => {
        const entry = this.#ownFrame(page);
        this.#ownership.checkWrite(entry.gpa, this.enclaveId);
        return entry.gpa;
      });
      if (macs && this.#guard(page, "store", () => macs.storeRekeys(gpa))) {
        // Alone: its re-key reads the group back from DRAM, so no page of it may have a new
        // version whose page is not there yet, as a batch's have between storeMac and the write.
        this.store(page, srcs[i]!);
        continue;
      }
      batch.pages.push(page);
      batch.gpas.push(gpa);
      batch.srcs.push(srcs[i]!);
    }
    if (batch.pages.length > 0) this.#guardBatch(batch.pages, batch.gpas, "store", () => this.#writeBatch(batch.pages, batch.gpas, batch.srcs));
  }

  /** The stored pages gpas[i] into outs[i], checked by their MACs or the tree. */
  #readBatch(gpas: readonly number[], outs: readonly Uint8Array[]): void {
    const macs = this.#pageMacs;
    if (macs) {
      let gmac: Gmac | undefined;
      const batchGpas: number[] = [];
      const batchOuts: Uint8Array[] = [];
      for (let i = 0; i < gpas.length; i++) {
        const mac = macs.loadMac(gpas[i]!);
        if (!mac) {
          // No version recorded: the page must be zeroes, as load() checks it.
          this.#mc.guestReadPage(this.vm, gpas[i]!, this.#access, outs[i]!);
          this.integrity!.verifyPage(gpas[i]!, outs[i]!);
          continue;
        }
        gmac = mac.gmac;
        this.#ivs.set(mac.iv, GMAC_IV_BYTES * batchGpas.length);
        this.#tags.set(mac.tag, GMAC_TAG_BYTES * batchGpas.length);
        batchGpas.push(gpas[i]!);
        batchOuts.push(outs[i]!);
      }
      const n = batchGpas.length;
      const failed = n === 0 ? -1 : this.#mc.guestReadPagesVerified(this.vm, batchGpas, this.#access, batchOuts, {
        gmac: gmac!, ivs: this.#ivs.subarray(0, GMAC_IV_BYTES * n), tags: this.#tags.subarray(0, GMAC_TAG_BYTES * n),
      });
      if (failed >= 0) throw macs.violation(batchGpas[failed]!);
    } else if (this.integrity) {
      for (let i = 0; i < gpas.length; i++) {
        this.#mc.guestReadPage(this.vm, gpas[i]!, this.#access, outs[i]!);
        this.integrity.verifyPage(gpas[i]!, outs[i]!);
      }
    } else {
      this.#mc.guestReadPagesApart(this.vm, gpas, this.#access, outs);
    }
    if (this.#encryption) this.counters.bytesDecrypted += PAGE_SIZE * gpas.length;
  }

  /** Pages srcs[i] to their frames gpas[i], with their MACs (new versions first, the MACs out last). */
  #writeBatch(pages: readonly number[], gpas: readonly number[], srcs: readonly Uint8Array[]): void {
    const macs = this.#pageMacs;
    const n = gpas.length;
    if (macs) {
      let gmac: Gmac | undefined;
      for (let i = 0; i < n; i++) {
        const mac = macs.storeMac(gpas[i]!);
        gmac = mac.gmac;
        this.#ivs.set(mac.iv, GMAC_IV_BYTES * i);
      }
      const tags = this.#tags.subarray(0, GMAC_TAG_BYTES * n);
      this.#mc.guestWritePagesMac(this.vm, gpas, srcs, this.#access, { gmac: gmac!, ivs: this.#ivs.subarray(0, GMAC_IV_BYTES * n), tags });
      for (let i = 0; i < n; i++) macs.storedMac(gpas[i]!, tags.subarray(GMAC_TAG_BYTES * i, GMAC_TAG_BYTES * (i + 1)));
    } else {
      this.#mc.guestWritePagesApart(this.vm, gpas, srcs, this.#access);
    }
    if (this.#encryption) this.counters.bytesEncrypted += PAGE_SIZE * n;
    for (const page of pages) this.pageTable.markWritten(page);
  }

  /**
   * Zeroes every frame of the enclave's own and gives it back to the hypervisor (destroy): the
   * guest rescinds its validation, turns the page shared (SNP page state change) and writes zeroes
   * with the C-bit clear, so DRAM holds zeroes, not even ciphertext of the enclave's data; then the
   * frame is released. A frame the hypervisor tampered with (unmapped, remapped) may refuse: it is
   * named in `failed` and left as it is. Returns the frames scrubbed and those that failed (GPAs).
   */
  scrub(): { scrubbed: number; failed: number[] } {
    const snpPrivate = this.#encryption && this.#mc.snp;
    let scrubbed = 0;
    const failed: number[] = [];
    for (const [, { gpa }] of this.pageTable.entries()) {
      try {
        if (snpPrivate) {
          this.#mc.pvalidate(this.vm, gpa, false);
          this.#hv.setPageState(this.vm, gpa, "shared");
        }
        this.#mc.guestWritePage(this.vm, gpa, ZERO_PAGE, { shared: true });
        this.#hv.releasePages(this.vm, [gpa]);
        scrubbed++;
      } catch {
        failed.push(gpa);
      }
    }
    return { scrubbed, failed };
  }

  /** The frame of the enclave's own that a store of `page` goes to. */
  #ownFrame(page: number): PageTableEntry {
    const entry = this.pageTable.ownEntry(page);
    if (entry) return entry;
    // A page of the template (copy-on-write: the template's frame stays as it is), or one that
    // was shared and never loaded: it moves to a frame of our own.
    if (this.pageTable.lookup(page)) this.framesCopied++;
    return this.#newFrame(page);
  }

  /** Maps `page` to a new frame of the enclave's own: claimed, backed, validated. */
  #newFrame(page: number): PageTableEntry {
    const fresh = this.pageTable.map(page);
    this.#ownership.claim(fresh.gpa, this.enclaveId);
    this.#hv.addPages(this.vm, [fresh.gpa], { shared: !this.#encryption });
    // SNP: a private page must be PVALIDATEd by the guest before its first access (APM vol 3, PVALIDATE).
    if (this.#encryption && this.#mc.snp) this.#mc.pvalidate(this.vm, fresh.gpa, true);
    this.counters.framesAllocated++;
    return fresh;
  }

  /** Runs the shared step of a batch; what refuses it stops the enclave, naming the page it names. */
  #guardBatch(pages: readonly number[], gpas: readonly number[], access: "load" | "store", step: () => void): void {
    if (this.#stopped) throw this.#stopped;
    try {
      step();
    } catch (e) {
      const page = pageOfBatch(e, pages, gpas);
      throw (this.#stopped = stopFor(e, page, access, this.pageTable.lookup(page)?.gpa));
    }
  }

  /** Runs one load or store; whatever refuses it stops the enclave for good. */
  #guard<T>(page: number, access: "load" | "store", step: () => T): T {
    if (this.#stopped) throw this.#stopped;
    try {
      return step();
    } catch (e) {
      throw (this.#stopped = stopFor(e, page, access, this.pageTable.lookup(page)?.gpa));
    }
  }
}

/** The guest page of a batch a refusal names (by its GPA), else the batch's first. */
function pageOfBatch(e: unknown, pages: readonly number[], gpas: readonly number[]): number {
  const gpa = e instanceof RmpFault ? e.detail.gpa : e instanceof NestedPageFault || e instanceof IntegrityViolation ? e.gpa : undefined;
  const i = gpa === undefined ? -1 : gpas.indexOf(gpa);
  return pages[i < 0 ? 0 : i]!;
}

/** The stop for what refused a load or store of guest page `page` (at `gpa`, when it has a frame). */
function stopFor(e: unknown, page: number, access: "load" | "store", gpa: number | undefined): EnclaveStopped {
  if (e instanceof EnclaveStopped) return e;
  const at = gpa === undefined ? "" : ` at GPA ${hexFrame(gpa)}`;
  let reason: StopReason = "host-error";
  let what = e instanceof Error ? e.message : String(e);
  if (e instanceof RmpFault) {
    reason = "memory-fault";
    what = `hit the RMP check '${e.check}'`;
  } else if (e instanceof NestedPageFault) {
    reason = "memory-fault";
    what = "hit a nested page fault (the hypervisor's NPT has no mapping)";
  } else if (e instanceof IntegrityViolation) reason = "integrity";
  else if (e instanceof MemoryLimitError) reason = "memory-limit";
  else if (e instanceof EnclaveError && e.code === "FRAME_NOT_OWNED") reason = "frame-not-owned";
  const site = { page, gpa: (e instanceof RmpFault ? e.detail.gpa : e instanceof NestedPageFault ? e.gpa : undefined) ?? gpa };
  return new EnclaveStopped(reason, `${access} of guest page ${page}${at} ${reason === "memory-fault" ? what : `failed: ${what}`}`, { cause: e, site });
}
