// The enclave's counters as `enclave run --stats` and `enclave serve --stats` print them.
import type { EnclaveStats } from "../enclavisor/enclave-stats";

const LABELS: Record<keyof EnclaveStats, string> = {
  faults: "faults",
  fills: "fills",
  zeroFills: "zero fills",
  evictions: "evictions",
  writeBacks: "write-backs",
  framesAllocated: "frames allocated",
  treeNodesVerified: "tree nodes verified",
  integrityCacheHits: "integrity-cache hits",
  integrityCacheMisses: "integrity-cache misses",
  bytesEncrypted: "bytes encrypted",
  bytesDecrypted: "bytes decrypted",
};

/** One counter per line, aligned, for `--stats`. */
export function formatStats(s: EnclaveStats): string[] {
  const width = Math.max(...Object.values(LABELS).map((l) => l.length));
  return (Object.keys(LABELS) as (keyof EnclaveStats)[]).map((k) => `${LABELS[k].padEnd(width)}  ${s[k]}`);
}
