// Firmware status codes returned by every SEV / SEV-SNP API command.
// Values from AMD's SEV API spec (pub. 55766, "Status Codes") and the SEV-SNP Firmware ABI spec
// (pub. 56860, table "Status Codes"); the same numbering as Linux's include/uapi/linux/psp-sev.h.
import { SevError } from "./sev-error";

export const SevStatus = {
  SUCCESS: 0x00,
  INVALID_PLATFORM_STATE: 0x01,
  INVALID_GUEST_STATE: 0x02,
  INVALID_CONFIG: 0x03,
  INVALID_LENGTH: 0x04,
  ALREADY_OWNED: 0x05,
  INVALID_CERTIFICATE: 0x06,
  POLICY_FAILURE: 0x07,
  INACTIVE: 0x08,
  INVALID_ADDRESS: 0x09,
  BAD_SIGNATURE: 0x0a,
  BAD_MEASUREMENT: 0x0b,
  ASID_OWNED: 0x0c,
  INVALID_ASID: 0x0d,
  WBINVD_REQUIRED: 0x0e,
  DFFLUSH_REQUIRED: 0x0f,
  INVALID_GUEST: 0x10,
  INVALID_COMMAND: 0x11,
  ACTIVE: 0x12,
  HWSEV_RET_PLATFORM: 0x13,
  HWSEV_RET_UNSAFE: 0x14,
  UNSUPPORTED: 0x15,
  INVALID_PARAM: 0x16,
  RESOURCE_LIMIT: 0x17,
  SECURE_DATA_INVALID: 0x18,
  INVALID_PAGE_SIZE: 0x19,
  INVALID_PAGE_STATE: 0x1a,
  INVALID_MDATA_ENTRY: 0x1b,
  INVALID_PAGE_OWNER: 0x1c,
  AEAD_OFLOW: 0x1d,
  EXIT_RING_BUFFER: 0x1f,
  RMP_INIT_REQUIRED: 0x20,
  BAD_SVN: 0x21,
  BAD_VERSION: 0x22,
  SHUTDOWN_REQUIRED: 0x23,
  UPDATE_FAILED: 0x24,
  RESTORE_REQUIRED: 0x25,
  RMP_INITIALIZATION_FAILED: 0x26,
  INVALID_KEY: 0x27,
} as const;

export type SevStatusName = keyof typeof SevStatus;
export type SevStatus = (typeof SevStatus)[SevStatusName];

const names = new Map<number, SevStatusName>(
  (Object.entries(SevStatus) as [SevStatusName, number][]).map(([name, code]) => [code, name]),
);

/** "INVALID_GUEST_STATE (0x02)": for logs and error messages. */
export function statusName(code: number): string {
  const name = names.get(code) ?? "UNKNOWN";
  return `${name} (0x${code.toString(16).padStart(2, "0")})`;
}

/** Thrown by helpers that turn a failed command into an exception (e.g. in the hypervisor). */
export class SevCommandError extends SevError {
  constructor(
    readonly command: string,
    readonly status: SevStatus,
  ) {
    super(`SEV command ${command} failed: ${statusName(status)}`);
    this.name = "SevCommandError";
  }
}
