// An SGX enclave's pages (the `sgx` preset): the PageBacking the software MMU pages through when
// the switches ask for an EPC. The MMU's resident set plays the CPU's caches; below it, each page
// lives in an EPC frame as MEE ciphertext (epc.ts), or, when the EPC is full, evicted by the
// untrusted OS (EWB) to its own memory. A page with no EPC frame costs an enclave exit to the OS,
// which makes room (EWB of the least recently used page) and loads it back (ELDU) or adds it
// (EAUG): untrusted-os.ts, exits.ts.
//
// Resident pages keep their frames: loads and first touches mark a frame as just used, the OS
// evicts the least recently used, and the EPC is larger than the resident cache (the sgx backend
// checks it). A store still copes with a page that has no frame (a shared page made private again).
// A failed MEE, ELDU or EPCM check stops the enclave for good, as an EnclaveStopped.
import { EnclaveStopped } from "../wasm/enclave-stopped";
import type { PageBacking } from "../wasm/page-backing";
import { EpcmFault, SgxIntegrityError } from "./faults";
import { EnclaveExits } from "./exits";
import type { SgxMachine } from "./machine";
import { PAGE_SIZE } from "../page";

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

export class EpcBacking implements PageBacking {
  /** The enclave's id on the machine (the EPCM's owner). */
  readonly id: number;
  readonly machine: SgxMachine;
  readonly exits: EnclaveExits;
  readonly #written = new Set<number>();
  /** Plaintext of a load until it is verified: no unverified byte reaches the guest's memory. */
  readonly #scratch = new Uint8Array(PAGE_SIZE);
  #stopped: EnclaveStopped | null = null;

  constructor(machine: SgxMachine) {
    this.machine = machine;
    this.id = machine.newEnclaveId();
    this.exits = new EnclaveExits(machine.exitNs);
  }

  /** The stop of the enclave, once a load or store refused. */
  get stopped(): EnclaveStopped | null {
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

  /**
   * One call per miss: a first touch gets its EPC page (EAUG, one exit) and is made resident as
   * zeroes; a stored page is read through the MEE (after an exit that loads it back, if the OS
   * evicted it) and verified before a byte of it reaches `dst`.
   */
  load(page: number, dst: Uint8Array): boolean {
    return this.#guard(() => {
      let frame = this.frameOf(page);
      if (frame !== undefined) this.machine.os.touch(frame);
      else if (!this.machine.os.swap(this.id).has(page)) frame = this.#fault(page);
      if (!this.#written.has(page)) return false;
      const plain = this.#scratch;
      try {
        this.machine.epc.read(frame ?? this.#fault(page), this.id, page, plain);
        dst.set(plain);
      } finally {
        plain.fill(0);
      }
      return true;
    });
  }

  store(page: number, src: Uint8Array): void {
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

  /** A failed MEE, ELDU or EPCM check stops the enclave for good. */
  #guard<T>(step: () => T): T {
    if (this.#stopped) throw this.#stopped;
    try {
      return step();
    } catch (e) {
      if (e instanceof SgxIntegrityError) throw (this.#stopped = new EnclaveStopped("integrity", e.message, { cause: e }));
      if (e instanceof EpcmFault) throw (this.#stopped = new EnclaveStopped("memory-fault", e.message, { cause: e }));
      throw e;
    }
  }
}
