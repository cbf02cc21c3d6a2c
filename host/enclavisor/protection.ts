// Protection modes (DESIGN.md section 5): each mode is a preset of independent switches, so that
// benchmarks and attacks can vary one protection at a time.
//
//   mode         mmu  encryption  RMP  integrity  reproduces
//   native       off  -           -    -          the baseline: the module as given, no rewrite
//   sev          on   on          off  off        SEV / SEV-ES: remap, replay, corruption unnoticed
//   sev-snp      on   on          on   off        SEV-SNP: hypervisor writes and remaps fault
//   enclavisor   on   on          on   on         the paper: cryptographic integrity as well
//
// Ciphertext hiding is off in every preset (the ciphertext side channel shows unless it is on).
import { DEFAULT_CACHE_NODES } from "./integrity-tree";

/** Default resident capacity: 16 MiB of 4 KiB pages (issue 4, "Paging"). */
export const DEFAULT_CACHE_PAGES = 4096;
/** An access may need two pages resident at once (host/wasm/mmu.ts MIN_CAPACITY_PAGES). */
export const MIN_CACHE_PAGES = 2;
/** Default integrity cache: verified tree nodes kept on chip (the tree's own default). */
export const DEFAULT_INTEGRITY_CACHE_NODES = DEFAULT_CACHE_NODES;

export const MODE_NAMES = ["native", "sev", "sev-snp", "enclavisor"] as const;
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
}

export class ProtectionError extends Error {
  override readonly name = "ProtectionError";
}

const PRESETS: Record<ModeName, Pick<ProtectionSwitches, "mmu" | "encryption" | "rmp" | "integrity">> = {
  native: { mmu: false, encryption: false, rmp: false, integrity: false },
  sev: { mmu: true, encryption: true, rmp: false, integrity: false },
  "sev-snp": { mmu: true, encryption: true, rmp: true, integrity: false },
  enclavisor: { mmu: true, encryption: true, rmp: true, integrity: true },
};

export function isModeName(name: string): name is ModeName {
  return (MODE_NAMES as readonly string[]).includes(name);
}

/** The switches of `mode`, with any of them overridden; throws a ProtectionError for a combination that cannot run. */
export function modeSwitches(mode: ModeName, overrides: Partial<ProtectionSwitches> = {}): ProtectionSwitches {
  if (!isModeName(mode)) throw new ProtectionError(`unknown protection mode '${String(mode)}' (modes: ${MODE_NAMES.join(", ")})`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const s: ProtectionSwitches = {
    ...PRESETS[mode],
    ciphertextHiding: false,
    cachePages: DEFAULT_CACHE_PAGES,
    integrityCacheNodes: DEFAULT_INTEGRITY_CACHE_NODES,
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
  ].join(" ");
}
