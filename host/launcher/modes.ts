// Protection modes: each mode is a preset of the independent switches (host/enclavisor/protection.ts),
// so that benchmarks and attacks can vary one protection at a time.
//
//   mode         backend  encryption  RMP  integrity  reproduces
//   native       native   -           -    -          the baseline: the module as given, no rewrite
//   sev          sev      on          off  off        SEV / SEV-ES: remap, replay, corruption unnoticed
//   sev-snp      sev      on          on   off        SEV-SNP: hypervisor writes and remaps fault
//   enclavisor   sev      on          on   counter    the paper: cryptographic integrity as well
//   sgx          sgx      MEE (CTR)   -    MEE tree   SGX's restricted secure memory: a 93 MiB EPC,
//                                                     pages beyond it evicted by the untrusted OS
//
// Ciphertext hiding is off in every preset (the ciphertext side channel shows unless it is on).
// Integrity in the SEV family is the counter tree with a MAC per page unless the switches pick the
// Merkle tree (`integrityScheme: "merkle"`); the integrity cache's default follows the scheme.
// The sgx preset is the paper's point of comparison: its memory is host/sgx's model (EPC,
// counter-mode MEE with a version tree, EWB/ELDU paging with enclave exits), not the SEV memory
// controller, so the rmp and ciphertext-hiding switches have no meaning there.
import { DEFAULT_COUNTER_CACHE_NODES } from "../enclavisor/counter-tree";
import { DEFAULT_INTEGRITY_SCHEME } from "../enclavisor/integrity-scheme";
import type { IntegritySchemeName } from "../enclavisor/integrity-scheme";
import { DEFAULT_CACHE_NODES as DEFAULT_MERKLE_CACHE_NODES } from "../enclavisor/merkle-tree";
import { checkSwitches, ProtectionError } from "../enclavisor/protection";
import type { ProtectionSwitches } from "../enclavisor/protection";
import { DEFAULT_EPC_PAGES, DEFAULT_MEE_CACHE_NODES } from "../sgx/epc";

/** Default resident capacity: 16 MiB of 4 KiB pages. */
export const DEFAULT_CACHE_PAGES = 4096;
/** Default integrity cache, per scheme: verified nodes kept on chip (each scheme's own default). */
export const DEFAULT_INTEGRITY_CACHE_NODES: Readonly<Record<IntegritySchemeName, number>> = {
  counter: DEFAULT_COUNTER_CACHE_NODES,
  merkle: DEFAULT_MERKLE_CACHE_NODES,
};

export const MODE_NAMES = ["native", "sev", "sev-snp", "enclavisor", "sgx"] as const;
export type ModeName = (typeof MODE_NAMES)[number];

type Preset = Pick<ProtectionSwitches, "kind" | "encryption" | "rmp" | "integrity"> & Partial<ProtectionSwitches>;

/** sgx: integrityCacheNodes is the MEE's cache of version-tree nodes (72 bytes each, host/sgx/version-tree.ts). */
const PRESETS: Record<ModeName, Preset> = {
  native: { kind: "native", encryption: false, rmp: false, integrity: false },
  sev: { kind: "sev", encryption: true, rmp: false, integrity: false },
  "sev-snp": { kind: "sev", encryption: true, rmp: true, integrity: false },
  enclavisor: { kind: "sev", encryption: true, rmp: true, integrity: true },
  sgx: { kind: "sgx", encryption: true, rmp: false, integrity: true, epcPages: DEFAULT_EPC_PAGES, integrityCacheNodes: DEFAULT_MEE_CACHE_NODES },
};

export function isModeName(name: string): name is ModeName {
  return (MODE_NAMES as readonly string[]).includes(name);
}

/** The switches of `mode`, with any of them overridden; throws a ProtectionError for a combination that cannot run. */
export function modeSwitches(mode: ModeName, overrides: Partial<ProtectionSwitches> = {}): ProtectionSwitches {
  if (!isModeName(mode)) throw new ProtectionError(`unknown protection mode '${String(mode)}' (modes: ${MODE_NAMES.join(", ")})`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const scheme: IntegritySchemeName = (defined.integrityScheme as IntegritySchemeName | undefined) ?? DEFAULT_INTEGRITY_SCHEME;
  const s: ProtectionSwitches = {
    ciphertextHiding: false,
    cachePages: DEFAULT_CACHE_PAGES,
    integrityScheme: scheme,
    integrityCacheNodes: DEFAULT_INTEGRITY_CACHE_NODES[scheme] ?? DEFAULT_COUNTER_CACHE_NODES,
    epcPages: 0,
    ...PRESETS[mode],
    ...defined,
  };
  checkSwitches(s);
  return s;
}

/** One line naming every switch, e.g. for --stats. */
export function describeSwitches(s: ProtectionSwitches): string {
  const onOff = (b: boolean) => (b ? "on" : "off");
  if (s.kind === "native") return "mmu=off (native)";
  return [
    `mmu=on`,
    `encryption=${onOff(s.encryption)}`,
    `rmp=${onOff(s.rmp)}`,
    `integrity=${onOff(s.integrity)}`,
    ...(s.integrity && s.kind === "sev" ? [`integrity-scheme=${s.integrityScheme}`] : []),
    `ciphertext-hiding=${onOff(s.ciphertextHiding)}`,
    `cache=${s.cachePages}p`,
    ...(s.integrity ? [`integrity-cache=${s.integrityCacheNodes}`] : []),
    ...(s.kind === "sgx" ? [`epc=${s.epcPages}p`] : []),
  ].join(" ");
}
