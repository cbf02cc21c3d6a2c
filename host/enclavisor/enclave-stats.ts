// Per-enclave counters: the MMU's paging events, the memory controller's work on the enclave's
// behalf, and the integrity tree's walks. A snapshot is a plain object, so that the host API
// returns it and `enclave run --stats` prints it.
import type { MmuStats } from "../wasm/mmu";
import type { EnclaveMemoryCounters } from "./enclave-memory";
import type { IntegrityStats } from "./integrity-scheme";

export interface EnclaveStats {
  /** Slow-path calls from the rewritten code. */
  faults: number;
  /** Pages decrypted (and verified) from DRAM into the resident set. */
  fills: number;
  /** First touches, made resident as zeroes without a fill. */
  zeroFills: number;
  evictions: number;
  /** Dirty victims encrypted back to DRAM. */
  writeBacks: number;
  /** DRAM frames backing the enclave's pages (host memory in use). */
  framesAllocated: number;
  /** Integrity-tree nodes hashed and checked on fills. */
  treeNodesVerified: number;
  integrityCacheHits: number;
  integrityCacheMisses: number;
  bytesEncrypted: number;
  bytesDecrypted: number;
}

/** Counters of one enclave; the parts it runs without (native: no MMU; integrity off) count zero. */
export function enclaveStats(mmu: MmuStats | null, memory?: EnclaveMemoryCounters, tree?: IntegrityStats): EnclaveStats {
  return {
    faults: mmu?.faults ?? 0,
    fills: mmu?.fills ?? 0,
    zeroFills: mmu?.zeroFills ?? 0,
    evictions: mmu?.evictions ?? 0,
    writeBacks: mmu?.writeBacks ?? 0,
    framesAllocated: memory?.framesAllocated ?? 0,
    treeNodesVerified: tree?.nodesVerified ?? 0,
    integrityCacheHits: tree?.cacheHits ?? 0,
    integrityCacheMisses: tree?.cacheMisses ?? 0,
    bytesEncrypted: memory?.bytesEncrypted ?? 0,
    bytesDecrypted: memory?.bytesDecrypted ?? 0,
  };
}
