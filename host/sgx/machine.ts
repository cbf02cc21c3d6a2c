// One SGX machine: its EPC (with the MEE and its version tree), the CPU's paging instructions, the
// untrusted OS that drives them, and the attacker's view. Enclaves on one machine share its EPC,
// as on the real part.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import { SgxAdversary } from "./adversary";
import { Epc } from "./epc";
import { DEFAULT_EXIT_NS } from "./exits";
import { EpcPaging } from "./paging";
import { UntrustedOs } from "./untrusted-os";

export interface SgxMachineOptions {
  /** EPC size in 4 KiB pages (default 93 MiB). */
  epcPages?: number;
  /** Verified version-tree nodes the MEE caches on die. */
  meeCacheNodes?: number;
  /** Modelled cost of one enclave exit, ns (exits.ts). */
  exitNs?: number;
}

export class SgxMachine {
  readonly epc: Epc;
  readonly paging: EpcPaging;
  readonly os: UntrustedOs;
  readonly adversary: SgxAdversary;
  readonly exitNs: number;
  #nextEnclave = 1;

  constructor(opts: SgxMachineOptions = {}) {
    this.epc = new Epc({ pages: opts.epcPages, meeCacheNodes: opts.meeCacheNodes });
    this.paging = new EpcPaging(this.epc);
    this.os = new UntrustedOs(this.epc, this.paging);
    this.adversary = new SgxAdversary(this.epc);
    this.exitNs = opts.exitNs ?? DEFAULT_EXIT_NS;
  }

  /** A new enclave id (ECREATE's SECS, as the EPCM's owner). */
  newEnclaveId(): number {
    return this.#nextEnclave++;
  }
}
