// An enclave's pages in emulated DRAM: the PageBacking the software MMU pages through (DESIGN.md
// section 4, miss path). Pages leave the resident set encrypted by the memory controller with the
// VM's key and come back decrypted, checked against the integrity tree before the guest runs on
// any byte of them:
//   GVA page -> enclave page table -> GPA -> hypervisor's NPT (+ RMP check on SNP) -> SPA -> DRAM.
// A fault on that path (the NPT has no mapping, the RMP refuses the frame, the tree does not match)
// stops the enclave: every later call throws the same error, and the host process stays up.
//
// Shared pages (DESIGN.md section 4) never come here: the MMU keeps them resident in the enclave's
// own Wasm memory. With encryption off, pages are backed by shared frames (Hypervisor.addPages
// with shared: true) and accessed with the C-bit clear.
//
// Every frame an enclave touches is checked against Enclavisor's frame ownership table
// (frame-ownership.ts) first: a first touch claims a free frame, a fill needs read rights, a
// write-back write rights. A function clone reads its template's frozen frames through its page
// table's base; its first write-back of such a page copies it to a new frame of its own, encrypted
// with the VM key at the new frame's address (copy-on-write). scrub() zeroes and gives back every
// frame of the enclave's own when it is destroyed.
import type { Hypervisor, Vm } from "../sev/hypervisor";
import type { MemoryController } from "../sev/memory-controller";
import { NestedPageFault } from "../sev/npt";
import { hexFrame, PAGE_SIZE } from "../sev/page";
import { RmpFault } from "../sev/rmp";
import type { PageBacking } from "../wasm/page-backing";
import type { EnclavePageTable } from "./enclave-page-table";
import type { FrameOwnership } from "./frame-ownership";
import type { IntegrityTree } from "./integrity-tree";

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** A fault of the SEV layer on an enclave's page: the enclave is stopped. */
export class EnclaveMemoryFault extends Error {
  override readonly name = "EnclaveMemoryFault";
  constructor(
    readonly page: number,
    readonly gpa: number,
    /** The check that failed: an RMP check name (rmp.ts RmpCheck) or "npt" for a nested page fault. */
    readonly check: string,
    readonly access: "fill" | "write-back",
    options?: { cause?: unknown },
  ) {
    const what = check === "npt" ? "a nested page fault (the hypervisor's NPT has no mapping)" : `the RMP check '${check}'`;
    super(`enclave stopped: ${access} of guest page ${page} at GPA ${hexFrame(gpa)} hit ${what}`, options);
  }
}

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
  integrity?: IntegrityTree;
  /** Enclavisor's frame ownership table of the VM and this enclave's id in it. */
  ownership: FrameOwnership;
  enclaveId: number;
}

export class EnclaveMemory implements PageBacking {
  readonly vm: Vm;
  readonly pageTable: EnclavePageTable;
  readonly integrity: IntegrityTree | undefined;
  readonly counters: EnclaveMemoryCounters = { framesAllocated: 0, bytesEncrypted: 0, bytesDecrypted: 0 };
  /** Template frames copied on a clone's first write-back of their page (copy-on-write). */
  framesCopied = 0;
  readonly enclaveId: number;
  readonly #ownership: FrameOwnership;
  readonly #hv: Hypervisor;
  readonly #mc: MemoryController;
  readonly #encryption: boolean;
  readonly #access: { shared: boolean };
  #stopped: unknown = undefined;

  constructor(opts: EnclaveMemoryOptions) {
    this.#hv = opts.hv;
    this.#mc = opts.mc;
    this.vm = opts.vm;
    this.pageTable = opts.pageTable;
    this.#encryption = opts.encryption;
    this.#access = { shared: !opts.encryption };
    this.integrity = opts.integrity;
    this.#ownership = opts.ownership;
    this.enclaveId = opts.enclaveId;
  }

  /** The error that stopped the enclave, if one did. */
  get stopped(): unknown {
    return this.#stopped;
  }

  /**
   * The MMU asks this first on every miss, so it is where a page is first touched: the page table
   * maps it to a new GPA, which the hypervisor backs with a frame (DESIGN.md section 4, step 1).
   * A page never written back has nothing to fill: the MMU makes it resident as zeroes.
   */
  has(page: number): boolean {
    this.#live();
    const entry = this.pageTable.lookup(page);
    if (entry) {
      if (!this.pageTable.owns(page)) this.#ownership.checkRead(entry.gpa, this.enclaveId);
      return entry.written;
    }
    return this.#guard(page, "fill", () => {
      this.#newFrame(page);
      return false;
    });
  }

  /**
   * Miss path steps 3-5: the memory controller decrypts straight into the guest's page, which is
   * then verified. The guest does not run during a fill, and a page that fails is zeroed before the
   * enclave stops, so the guest is never fed unverified bytes (and the page is as the MMU left it).
   */
  fill(page: number, dst: Uint8Array): void {
    this.#live();
    const entry = this.pageTable.lookup(page)!;
    this.#ownership.checkRead(entry.gpa, this.enclaveId);
    try {
      this.#guard(page, "fill", () => {
        this.#mc.guestReadPage(this.vm, entry.gpa, this.#access, dst);
        if (this.#encryption) this.counters.bytesDecrypted += PAGE_SIZE;
        this.integrity?.verifyPage(entry.gpa, dst);
      });
    } catch (e) {
      dst.fill(0);
      throw e;
    }
  }

  /** Eviction of a dirty page (miss path step 2): the leaf first, then the ciphertext to DRAM. */
  writeBack(page: number, src: Uint8Array): void {
    this.#live();
    let entry = this.pageTable.lookup(page)!;
    if (!this.pageTable.owns(page)) {
      // Copy-on-write: the template's frame stays as it is; the page moves to a frame of our own.
      entry = this.#guard(page, "write-back", () => this.#newFrame(page));
      this.framesCopied++;
    }
    this.#ownership.checkWrite(entry.gpa, this.enclaveId);
    this.#guard(page, "write-back", () => {
      this.integrity?.updatePage(entry.gpa, src);
      this.#mc.guestWritePage(this.vm, entry.gpa, src, this.#access);
      if (this.#encryption) this.counters.bytesEncrypted += PAGE_SIZE;
    });
    entry.written = true;
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

  /** Maps `page` to a new frame of the enclave's own: claimed, backed, validated. */
  #newFrame(page: number) {
    const fresh = this.pageTable.map(page);
    this.#ownership.claim(fresh.gpa, this.enclaveId);
    this.#hv.addPages(this.vm, [fresh.gpa], { shared: !this.#encryption });
    // SNP: a private page must be PVALIDATEd by the guest before its first access (APM vol 3).
    if (this.#encryption && this.#mc.snp) this.#mc.pvalidate(this.vm, fresh.gpa, true);
    this.counters.framesAllocated++;
    return fresh;
  }

  #live(): void {
    if (this.#stopped !== undefined) throw this.#stopped;
  }

  /** Runs one step of the path; any failure stops the enclave, SEV faults named by GPA and check. */
  #guard<T>(page: number, access: "fill" | "write-back", step: () => T): T {
    try {
      return step();
    } catch (e) {
      let err = e;
      if (e instanceof RmpFault) {
        const gpa = e.detail.gpa ?? this.pageTable.lookup(page)!.gpa;
        err = new EnclaveMemoryFault(page, gpa, e.check, access, { cause: e });
      } else if (e instanceof NestedPageFault) {
        err = new EnclaveMemoryFault(page, e.gpa, "npt", access, { cause: e });
      }
      this.#stopped = err;
      throw err;
    }
  }
}
