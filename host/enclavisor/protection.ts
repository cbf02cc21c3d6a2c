// The protection switches (docs/architecture.md, "Protection modes"): what an enclave runs with,
// each switch independent, so that benchmarks and attacks can vary one protection at a time. The
// switches are part of the enclave measurement (measurement.ts, CONFIG record). The mode presets
// that name common combinations live with the launcher (host/launcher/modes.ts).
//
// `kind` says which backend runs the enclave: "native" (the module as given, no MMU), "sev" (the
// SEV family, through Enclavisor: encryption, RMP and integrity as the switches say) or "sgx" (the
// SGX model: an EPC with a counter-mode MEE, OS paging beyond it; host/sgx). checkSwitches refuses
// a combination that cannot run, naming it.
import { EnclavisorError } from "./enclavisor-error";
import { INTEGRITY_SCHEMES, isIntegrityScheme } from "./integrity-scheme";
import type { IntegritySchemeName } from "./integrity-scheme";

/** An access may need two pages resident at once (host/wasm/mmu.ts MIN_CAPACITY_PAGES). */
export const MIN_CACHE_PAGES = 2;

export const ENCLAVE_KINDS = ["native", "sev", "sgx"] as const;
export type EnclaveKind = (typeof ENCLAVE_KINDS)[number];

export interface ProtectionSwitches {
  /** The backend: native (no software MMU), sev (Enclavisor on the SEV family) or sgx (the SGX model). */
  kind: EnclaveKind;
  /** Pages go to DRAM through the memory controller with the VM key (C-bit set); else as shared plaintext. */
  encryption: boolean;
  /** SEV-SNP RMP checks in the memory controller. */
  rmp: boolean;
  /** Integrity: a scheme over the VM's guest-physical frames (sev); the MEE's version tree (sgx). */
  integrity: boolean;
  /** sev with integrity on: the counter tree with a MAC per page, or the SHA-256 Merkle tree. */
  integrityScheme: IntegritySchemeName;
  /** Host reads of private frames return 0xFF. */
  ciphertextHiding: boolean;
  /** Resident capacity in 4 KiB pages. */
  cachePages: number;
  /** Verified tree nodes the integrity cache holds. */
  integrityCacheNodes: number;
  /** sgx: the EPC's size in 4 KiB pages (where secure memory ends and the OS's paging begins); else 0. */
  epcPages: number;
}

export class ProtectionError extends EnclavisorError {
  override readonly name = "ProtectionError";
}

/** Throws a ProtectionError naming the first switch, or combination, that cannot run. */
export function checkSwitches(s: ProtectionSwitches): void {
  if (!(ENCLAVE_KINDS as readonly string[]).includes(s.kind)) {
    throw new ProtectionError(`unknown enclave kind '${String(s.kind)}' (kinds: ${ENCLAVE_KINDS.join(", ")})`);
  }
  for (const key of ["encryption", "rmp", "integrity", "ciphertextHiding"] as const) {
    if (typeof s[key] !== "boolean") throw new ProtectionError(`switch ${key} must be true or false, got ${String(s[key])}`);
  }
  if (!isIntegrityScheme(s.integrityScheme)) {
    throw new ProtectionError(`unknown integrity scheme '${String(s.integrityScheme)}' (schemes: ${INTEGRITY_SCHEMES.join(", ")})`);
  }
  if (!Number.isInteger(s.cachePages) || s.cachePages < MIN_CACHE_PAGES) {
    throw new ProtectionError(`the resident cache must be a whole number of at least ${MIN_CACHE_PAGES} pages of 4 KiB, got ${s.cachePages}`);
  }
  if (!Number.isInteger(s.integrityCacheNodes) || s.integrityCacheNodes < 1) {
    throw new ProtectionError(`the integrity cache must hold at least 1 node, got ${s.integrityCacheNodes}`);
  }
  if (!Number.isInteger(s.epcPages) || s.epcPages < 0) throw new ProtectionError(`the EPC size must be a whole number of 4 KiB pages, got ${s.epcPages}`);
  if (s.kind !== "sgx" && s.epcPages !== 0) throw new ProtectionError(`an EPC (${s.epcPages} pages) belongs to the sgx model, not to a ${s.kind} enclave`);
  if (s.kind === "sgx") {
    // The SGX model's MEE always encrypts and checks; the SEV-only switches do not apply to it.
    const wrong = [!s.encryption && "encryption=off", !s.integrity && "integrity=off", s.rmp && "rmp=on",
      s.ciphertextHiding && "ciphertext-hiding=on"].filter(Boolean);
    if (wrong.length > 0) throw new ProtectionError(`the sgx memory model (an EPC) cannot run with ${wrong.join(", ")}`);
    // Resident pages keep their EPC frames (host/sgx/epc-backing.ts), so the EPC must hold more.
    if (s.epcPages <= s.cachePages) {
      throw new ProtectionError(`the EPC (${s.epcPages} pages) must be larger than the resident cache (${s.cachePages} pages)`);
    }
  }
  // Without the MMU the guest's memory never leaves the Wasm memory: nothing to encrypt or check.
  if (s.kind === "native") {
    const on = (["encryption", "rmp", "integrity"] as const).filter((k) => s[k]);
    if (on.length > 0) throw new ProtectionError(`${on.join(", ")} need(s) the software MMU: a native run keeps every page in plain Wasm memory`);
  }
}
