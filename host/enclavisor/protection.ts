// Protection modes (DESIGN.md section 5): each mode is a preset of independent switches, so that
// benchmarks and attacks can vary one protection at a time.
//
//   mode         mmu  encryption  RMP  integrity  reproduces
//   native       off  -           -    -          the baseline: the module as given, no rewrite
//   sev          on   on          off  off        SEV / SEV-ES: remap, replay, corruption unnoticed
//   sev-snp      on   on          on   off        SEV-SNP: hypervisor writes and remaps fault
//   enclavisor   on   on          on   on         the paper: cryptographic integrity as well
//   sgx          on   MEE (CTR)   -    MEE tree   SGX's restricted secure memory: a 93 MiB EPC,
//                                                 pages beyond it evicted by the untrusted OS
//
// Ciphertext hiding is off in every preset (the ciphertext side channel shows unless it is on).
// The sgx preset (issue 7) is the paper's point of comparison: its memory is host/sgx's model
// (EPC, counter-mode MEE with a version tree, EWB/ELDU paging with enclave exits), not the SEV
// memory controller, so the rmp and ciphertext-hiding switches have no meaning there.
import { DEFAULT_CACHE_NODES } from "./integrity-tree";
import { DEFAULT_EPC_PAGES, DEFAULT_MEE_CACHE_NODES } from "../sgx/epc";

/** Default resident capacity: 16 MiB of 4 KiB pages (issue 4, "Paging"). */
export const DEFAULT_CACHE_PAGES = 4096;
/** An access may need two pages resident at once (host/wasm/mmu.ts MIN_CAPACITY_PAGES). */
export const MIN_CACHE_PAGES = 2;
/** Default integrity cache: verified tree nodes kept on chip (the tree's own default). */
export const DEFAULT_INTEGRITY_CACHE_NODES = DEFAULT_CACHE_NODES;

export const MODE_NAMES = ["native", "sev", "sev-snp", "enclavisor", "sgx"] as const;
export type ModeName = (typeof MODE_NAMES)[number];

export interface ProtectionSwitches {
  /** Rewrite through the software MMU (false only for native). */
  mmu: boolean;
  /** Pages go to DRAM through the memory controller with the VM key (C-bit set); else as shared plaintext. */
  encryption: boolean;
  /** SEV-SNP RMP checks in the memory controller. */
  rmp: boolean;
  /** Merkle tree over the VM's guest-physical frames. */
  integrity: boolean;
  /** Host reads of private frames return 0xFF. */
  ciphertextHiding: boolean;
  /** Resident capacity in 4 KiB pages (default 4096 = 16 MiB). */
  cachePages: number;
  /** Verified tree nodes the integrity cache holds. */
  integrityCacheNodes: number;
  /**
   * 0: pages leave the resident set through the SEV memory controller (every mode but sgx). More:
   * the SGX memory model (host/sgx) with an EPC of this many 4 KiB pages; it always encrypts and
   * checks integrity, and needs an EPC larger than the resident cache.
   */
  epcPages: number;
}

export class ProtectionError extends Error {
  override readonly name = "ProtectionError";
}

type Preset = Pick<ProtectionSwitches, "mmu" | "encryption" | "rmp" | "integrity" | "epcPages"> & Partial<ProtectionSwitches>;

/** sgx: integrityCacheNodes is the MEE's cache of version-tree nodes (72 bytes each, host/sgx/version-tree.ts). */
const PRESETS: Record<ModeName, Preset> = {
  native: { mmu: false, encryption: false, rmp: false, integrity: false, epcPages: 0 },
  sev: { mmu: true, encryption: true, rmp: false, integrity: false, epcPages: 0 },
  "sev-snp": { mmu: true, encryption: true, rmp: true, integrity: false, epcPages: 0 },
  enclavisor: { mmu: true, encryption: true, rmp: true, integrity: true, epcPages: 0 },
  sgx: { mmu: true, encryption: true, rmp: false, integrity: true, epcPages: DEFAULT_EPC_PAGES, integrityCacheNodes: DEFAULT_MEE_CACHE_NODES },
};

export function isModeName(name: string): name is ModeName {
  return (MODE_NAMES as readonly string[]).includes(name);
}

/** The switches of `mode`, with any of them overridden; throws a ProtectionError for a combination that cannot run. */
export function modeSwitches(mode: ModeName, overrides: Partial<ProtectionSwitches> = {}): ProtectionSwitches {
  if (!isModeName(mode)) throw new ProtectionError(`unknown protection mode '${String(mode)}' (modes: ${MODE_NAMES.join(", ")})`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const s: ProtectionSwitches = {
    ciphertextHiding: false,
    cachePages: DEFAULT_CACHE_PAGES,
    integrityCacheNodes: DEFAULT_INTEGRITY_CACHE_NODES,
    ...PRESETS[mode],
    ...defined,
  };
  checkSwitches(s);
  return s;
}

function checkSwitches(s: ProtectionSwitches): void {
  for (const key of ["mmu", "encryption", "rmp", "integrity", "ciphertextHiding"] as const) {
    if (typeof s[key] !== "boolean") throw new ProtectionError(`switch ${key} must be true or false, got ${String(s[key])}`);
  }
  if (!Number.isInteger(s.cachePages) || s.cachePages < MIN_CACHE_PAGES) {
    throw new ProtectionError(`the resident cache must be a whole number of at least ${MIN_CACHE_PAGES} pages of 4 KiB, got ${s.cachePages}`);
  }
  if (!Number.isInteger(s.integrityCacheNodes) || s.integrityCacheNodes < 1) {
    throw new ProtectionError(`the integrity cache must hold at least 1 node, got ${s.integrityCacheNodes}`);
  }
  if (!Number.isInteger(s.epcPages) || s.epcPages < 0) throw new ProtectionError(`the EPC size must be a whole number of 4 KiB pages, got ${s.epcPages}`);
  if (s.epcPages > 0) {
    // The SGX model's MEE always encrypts and checks; the SEV-only switches do not apply to it.
    const wrong = [!s.mmu && "mmu=off", !s.encryption && "encryption=off", !s.integrity && "integrity=off", s.rmp && "rmp=on",
      s.ciphertextHiding && "ciphertext-hiding=on"].filter(Boolean);
    if (wrong.length > 0) throw new ProtectionError(`the sgx memory model (an EPC) cannot run with ${wrong.join(", ")}`);
    // Resident pages keep their EPC frames (host/enclavisor/sgx-enclave-memory.ts), so the EPC must hold more.
    if (s.epcPages <= s.cachePages) {
      throw new ProtectionError(`the EPC (${s.epcPages} pages) must be larger than the resident cache (${s.cachePages} pages)`);
    }
  }
  // Without the MMU the guest's memory never leaves the Wasm memory: nothing to encrypt or check.
  if (!s.mmu) {
    const on = (["encryption", "rmp", "integrity"] as const).filter((k) => s[k]);
    if (on.length > 0) throw new ProtectionError(`${on.join(", ")} need(s) the software MMU: a native run keeps every page in plain Wasm memory`);
  }
}

/** One line naming every switch, e.g. for --stats. */
export function describeSwitches(s: ProtectionSwitches): string {
  const onOff = (b: boolean) => (b ? "on" : "off");
  if (!s.mmu) return "mmu=off (native)";
  return [
    `mmu=on`,
    `encryption=${onOff(s.encryption)}`,
    `rmp=${onOff(s.rmp)}`,
    `integrity=${onOff(s.integrity)}`,
    `ciphertext-hiding=${onOff(s.ciphertextHiding)}`,
    `cache=${s.cachePages}p`,
    ...(s.integrity ? [`integrity-cache=${s.integrityCacheNodes}`] : []),
    ...(s.epcPages > 0 ? [`epc=${s.epcPages}p`] : []),
  ].join(" ");
}
