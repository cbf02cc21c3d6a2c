// The typed errors of Enclavisor's host API (enclavisor.ts): a code a program can switch on, and a
// message that names the enclave and the problem. Messages carry handles, states, GPAs and counts,
// never key material or enclave data.
import { EnclavisorError } from "./enclavisor-error";

export const ENCLAVE_ERROR_CODES = [
  /** No enclave with this handle (never created, or destroyed). */
  "NOT_FOUND",
  /** The call does not fit the enclave's state (e.g. call before launch, launch twice, call on a template). */
  "BAD_STATE",
  /** The configuration cannot run (e.g. a granularity that needs the software MMU on a native run). */
  "BAD_CONFIG",
  /** Every ASID of the platform is bound to a running VM: no new `vm`-granularity enclave fits. */
  "ASID_EXHAUSTED",
  /** The Enclavisor VM has no free address-space slot for another `process` or `function` enclave. */
  "SLOTS_EXHAUSTED",
  /** The enclave exports no function of that name. */
  "NO_EXPORT",
  /** A frame was asked for by an enclave the frame ownership table does not let use it. */
  "FRAME_NOT_OWNED",
] as const;
export type EnclaveErrorCode = (typeof ENCLAVE_ERROR_CODES)[number];

export class EnclaveError extends EnclavisorError {
  override readonly name = "EnclaveError";
  constructor(
    readonly code: EnclaveErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}
