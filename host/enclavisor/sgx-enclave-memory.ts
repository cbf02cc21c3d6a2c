// An SGX enclave's pages (issue 7, the `sgx` preset): the PageBacking the software MMU pages through
// when the switches ask for an EPC. The MMU's resident set plays the CPU's caches; below it, each
// page lives in an EPC frame as MEE ciphertext (host/sgx/epc.ts), or, when the EPC is full, evicted
// by the untrusted OS (EWB) to its own memory. A page with no EPC frame costs an enclave exit to the
// OS, which makes room (EWB of the least recently used page) and loads it back (ELDU) or adds it
// (EAUG): host/sgx/untrusted-os.ts, host/sgx/exits.ts.
//
// Resident pages keep their frames: fills and first touches mark a frame as just used, the OS
// evicts the least recently used, and the EPC is larger than the resident cache (protection.ts).
// A write-back still copes with a page that has no frame (a shared page made private again).
//
// host/enclavisor -> host/sgx is a departure from DESIGN.md's layers (which know only host/sev): the
// SGX model is the paper's point of comparison, used by this preset alone.
import { EpcmFault, SgxIntegrityError } from "../sgx/faults";
import { EnclaveExits } from "../sgx/exits";
import type { SgxMachine } from "../sgx/machine";
import { SGX_PAGE_SIZE } from "../sgx/mee-ctr";
import type { PageBacking } from "../wasm/page-backing";

export interface SgxMemoryCounters {
  /** Enclave exits taken for EPC faults (each with the modelled crossing cost). */
  exits: number;
  /** Modelled time of those exits, ns (included in every timing, see host/sgx/exits.ts). */
  modelledExitNs: number;
  /** Pages of this enclave now in EPC frames. */
  epcFrames: number;
  /** Pages of this enclave now evicted to the OS's memory. */
  evictedPages: number;
}

export class SgxEnclaveMemory implements PageBacking {
  /** The enclave's id on the machine (the EPCM's owner). */
  readonly id: number;
  readonly machine: SgxMachine;
  readonly exits: EnclaveExits;
  readonly #written = new Set<number>();
  /** Plaintext of a fill until it is verified: no unverified byte reaches the guest's memory. */
  readonly #scratch = new Uint8Array(SGX_PAGE_SIZE);
  #stopped: unknown = undefined;

  constructor(machine: SgxMachine) {
    this.machine = machine;
    this.id = machine.newEnclaveId();
    this.exits = new EnclaveExits(machine.exitNs);
  }

  /** The error that stopped the enclave, if one did. */
  get stopped(): unknown {
    return this.#stopped;
  }

  get counters(): SgxMemoryCounters {
    return {
      exits: this.exits.count,
      modelledExitNs: this.exits.modelledNs,
      epcFrames: this.machine.os.table(this.id).size,
      evictedPages: this.machine.os.swap(this.id).size,
    };
  }

  /** The EPC frame of a page now, if it has one (the OS's page table: untrusted). */
  frameOf(page: number): number | undefined {
    return this.machine.os.table(this.id).get(page);
  }

  /** Called on every miss: a first touch gets its EPC page (EAUG, one exit) and is made resident as zeroes. */
  has(page: number): boolean {
    this.#live();
    const frame = this.frameOf(page);
    if (frame !== undefined) this.machine.os.touch(frame);
    else if (!this.machine.os.swap(this.id).has(page)) this.#guard(() => this.#fault(page));
    return this.#written.has(page);
  }

  fill(page: number, dst: Uint8Array): void {
    this.#live();
    const plain = this.#scratch;
    try {
      this.#guard(() => this.machine.epc.read(this.frameOf(page) ?? this.#fault(page), this.id, page, plain));
      dst.set(plain);
    } finally {
      plain.fill(0);
    }
  }

  writeBack(page: number, src: Uint8Array): void {
    this.#live();
    this.#guard(() => this.machine.epc.write(this.frameOf(page) ?? this.#fault(page), this.id, page, src));
    this.#written.add(page);
  }

  /** EREMOVE of every page: the frames go back to the EPC. */
  release(): void {
    this.machine.os.release(this.id);
  }

  /** An EPC fault: exit to the OS, which brings the page in; returns its frame. */
  #fault(page: number): number {
    return this.exits.cross(() => this.machine.os.handleFault(this.id, page));
  }

  #live(): void {
    if (this.#stopped !== undefined) throw this.#stopped;
  }

  /** A failed MEE, ELDU or EPCM check stops the enclave for good. */
  #guard<T>(step: () => T): T {
    try {
      return step();
    } catch (e) {
      if (e instanceof SgxIntegrityError || e instanceof EpcmFault) this.#stopped = e;
      throw e;
    }
  }
}
