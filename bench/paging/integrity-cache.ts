// Part 2 of the paging suite: the integrity cache's hit rate against its size (enclavisor), with
// read misses in page order and at random, and write misses at random.
import { fmtBytes } from "../harness";
import type { Config } from "./config";
import { missSubject } from "./misses";
import type { TreeCounts } from "./misses";
import { measured, runRounds } from "./rounds";
import type { Measured, Subject } from "./rounds";
import type { TestBed } from "./testbed";
import { workingSet } from "./working-set";
import type { WorkingSet } from "./working-set";

interface TreeShape {
  arity: number;
  levels: number;
  nodeBytes: number;
  recordsPerLeafNode: number;
  /** Leaf nodes the working set's pages fall in: the cache size above which every leaf fits. */
  leafNodesSpanned: number;
}

interface IntegrityCacheRow {
  cacheNodes: number;
  paths: Record<string, { usPerMiss: Measured; hitRate: number; nodesVerifiedPerMiss: number }>;
}

export interface IntegrityCacheFigures {
  shape: TreeShape;
  rows: IntegrityCacheRow[];
}

export const TREE_PATHS = [
  { key: "seq read", write: false, order: "seq" },
  { key: "random read", write: false, order: "random" },
  { key: "random write", write: true, order: "random" },
] as const;

export async function integrityCache(bed: TestBed, wsWasm: Uint8Array, cfg: Config, log: (line: string) => void): Promise<IntegrityCacheFigures> {
  log(`integrity cache: enclavisor with ${cfg.integrityCacheNodes.join(", ")} nodes, ${fmtBytes(cfg.integrityBytes)} working sets`);
  const sets: WorkingSet[] = [];
  try {
    const subjects: Subject[] = [];
    const counts: TreeCounts[] = [];
    for (const nodes of cfg.integrityCacheNodes) {
      const ws = await workingSet(bed, wsWasm, "enclavisor", cfg.integrityBytes, nodes);
      sets.push(ws);
      for (const p of TREE_PATHS) {
        const c: TreeCounts = { nodesVerified: 0, cacheHits: 0, cacheMisses: 0, misses: 0 };
        counts.push(c);
        subjects.push(missSubject(ws, p.write, p.order, `${nodes} nodes: ${p.key}`, { counts: c }));
      }
    }
    // Counters over the timed rounds only: the warm-up turns are left out.
    const samples = await runRounds(subjects, cfg.rounds, cfg.turnMs, log, "integrity cache", () => {
      for (const c of counts) Object.assign(c, { nodesVerified: 0, cacheHits: 0, cacheMisses: 0, misses: 0 });
    });
    const rows = cfg.integrityCacheNodes.map((nodes, n) => ({
      cacheNodes: nodes,
      paths: Object.fromEntries(TREE_PATHS.map((p, j) => {
        const i = n * TREE_PATHS.length + j;
        const c = counts[i]!;
        return [p.key, {
          usPerMiss: measured(samples[i]!, 1000),
          hitRate: c.cacheHits / Math.max(1, c.cacheHits + c.cacheMisses),
          nodesVerifiedPerMiss: c.nodesVerified / Math.max(1, c.misses),
        }];
      })),
    }));
    const t = sets[0]!.inst.tree!;
    const shape: TreeShape = {
      arity: t.arity, levels: t.levels, nodeBytes: t.nodeBytes, recordsPerLeafNode: t.pagesPerLeaf,
      leafNodesSpanned: Math.ceil(sets[0]!.pages / t.pagesPerLeaf),
    };
    for (const r of rows) {
      log(`${r.cacheNodes} nodes: ` + TREE_PATHS.map((p) => `${p.key} ${(r.paths[p.key]!.hitRate * 100).toFixed(1)}% hits, ` +
        `${r.paths[p.key]!.usPerMiss.median.toFixed(2)} µs`).join("; "));
    }
    return { shape, rows };
  } finally {
    for (const ws of sets) ws.inst.destroy();
    bed.reset();
  }
}
