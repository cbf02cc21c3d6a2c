import { describe, expect, it } from "vitest";
import { enclaveStats } from "../../host/enclavisor/enclave-stats";

describe("enclave counters", () => {
  it("gathers the MMU's, the memory path's and the tree's counters", () => {
    const s = enclaveStats(
      { faults: 1, fills: 2, zeroFills: 3, evictions: 4, writeBacks: 5, bulkOps: 6, fillRuns: 15, writeBackBatches: 16, softFaults: 17 },
      { framesAllocated: 7, bytesEncrypted: 8, bytesDecrypted: 9 },
      { nodesVerified: 10, cacheHits: 11, cacheMisses: 12, nodeWriteBacks: 13, leafUpdates: 14 },
    );
    expect(s).toEqual({
      faults: 1, fills: 2, zeroFills: 3, evictions: 4, writeBacks: 5, framesAllocated: 7,
      treeNodesVerified: 10, integrityCacheHits: 11, integrityCacheMisses: 12, bytesEncrypted: 8, bytesDecrypted: 9,
    });
    expect(Object.values(enclaveStats(null)).every((v) => v === 0)).toBe(true);
  });
});
