// What the SGX model raises when the hardware refuses something. None of the messages carries page
// contents, counters' meaning or keys: only the EPC address and the check that failed.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import { SgxError } from "./sgx-error";

/** Where the EPC sits in the emulated physical address space (the PRM base; any aligned value would do). */
export const EPC_BASE = 0x8000_0000;

/** The EPC address of a frame, as messages and the adversary name it. */
export function epcAddress(frame: number): number {
  return EPC_BASE + frame * 4096;
}

export function hexAddress(address: number): string {
  return `0x${address.toString(16)}`;
}

/**
 * The MEE or ELDU found memory that is not what the hardware last wrote: a page MAC, a version
 * tree node, or an evicted page's paging MAC. The enclave is stopped (a real part locks the
 * memory controller; here the enclave's backing refuses every later access).
 */
export class SgxIntegrityError extends SgxError {
  override readonly name = "SgxIntegrityError";
  constructor(
    /** The EPC address of the page being accessed (for an evicted page: the frame it was loaded into). */
    readonly address: number,
    /** "page MAC", "version tree level N", or "paging MAC (ELDU)". */
    readonly check: string,
  ) {
    super(`integrity violation at EPC address ${hexAddress(address)}: the ${check} check failed`);
  }
}

/**
 * The EPCM (enclave page cache map) refused an access: the frame does not belong to this enclave
 * at this linear page, or is not a regular page (Intel SDM vol 3D, 34.12 and 37.3). This is what
 * stops an OS that remaps an enclave page onto another EPC frame.
 */
export class EpcmFault extends SgxError {
  override readonly name = "EpcmFault";
  constructor(
    readonly address: number,
    readonly check: "not-valid" | "owner-mismatch" | "page-mismatch" | "not-regular",
  ) {
    super(`EPCM check '${check}' refused the access to EPC address ${hexAddress(address)}`);
  }
}

/**
 * A CPU access to the PRM (the EPC and the MEE's tree) from outside the enclave (the OS, a VMM):
 * abort-page semantics, so reads return all ones and writes are dropped (Intel SDM vol 3D, 37.4).
 * Writes raise this so that the caller sees its store had no effect.
 */
export class EpcAccessDenied extends SgxError {
  override readonly name = "EpcAccessDenied";
  constructor(readonly address: number) {
    super(`abort-page semantics: a non-enclave write to PRM address ${hexAddress(address)} was dropped`);
  }
}
