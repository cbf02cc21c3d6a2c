// The `integrity` suite: the Merkle integrity tree with its integrity cache, measured over arity,
// cache size and hash to keep the fastest sound default. Each subject is one tree over the same
// working set, timed per page on the fill path (verifyPage) and the write-back path (updatePage) at
// random GPAs; the baseline is the bare page hash, the floor of both paths.
// Three phases, each side by side in one run: hash x arity at an equal on-chip budget in bytes,
// cache sizes of the default tree, and the default tree's nodes in host memory against the
// emulated DRAM. In a phase every round runs every subject once, in turn, the first rotating;
// figures are medians of the rounds.
import { hash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_ARITY, DEFAULT_CACHE_NODES, DEFAULT_TREE_HASH, MerkleTree, TREE_HASHES } from "../host/enclavisor/merkle-tree";
import type { TreeHash } from "../host/enclavisor/merkle-tree";
import type { IntegrityStats } from "../host/enclavisor/integrity-scheme";
import { DramNodeStore, MemoryNodeStore } from "../host/enclavisor/node-store";
import type { NodeStore } from "../host/enclavisor/node-store";
import { Platform } from "../host/sev/platform";
import { PAGE_SIZE } from "../host/page";
import { fmtRatio, markdownTable, median, nowMs, pause, percentile } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";

interface Config {
  rounds: number;
  /** Minimum time of one subject's turn in a round. */
  turnMs: number;
  /** Leaves of every tree: the GPA frames of a VM (2^20 = 4 GiB, the size `enclave run` builds). */
  frames: number;
  /** Pages the accesses fall on, at random: far more leaf metadata than any cache here holds. */
  workingSetPages: number;
  arities: readonly number[];
  /** Cache nodes of the default tree in the cache-size phase. */
  cacheSizes: readonly number[];
}

const SHORT: Config = {
  rounds: 7, turnMs: 40, frames: 2 ** 20, workingSetPages: 65536,
  arities: [2, 4, 8, 16, 32, 64, 128], cacheSizes: [8, 32, 128, 512, 2048],
};
const FULL: Config = {
  rounds: 15, turnMs: 120, frames: 2 ** 20, workingSetPages: 262144,
  arities: [2, 4, 8, 16, 32, 64, 128], cacheSizes: [8, 32, 128, 512, 2048, 8192],
};

/**
 * On-chip budget of the hash x arity phase: the bytes of DEFAULT_CACHE_NODES nodes of the default
 * tree. Comparing arities at one node count would give wide nodes a cache many times larger.
 */
const CACHE_BUDGET_BYTES = DEFAULT_CACHE_NODES * MerkleTree.nodeBytes;

/** Distinct page contents the working set cycles through (none all zero). */
const CONTENTS = 16;

interface Subject {
  name: string;
  hash: TreeHash;
  tree?: MerkleTree;
  /** Does `n` pages of work. */
  step: (n: number) => void;
}

interface Measured {
  usPerPage: number;
  /** 25th and 75th percentile of the rounds: the noise. */
  iqr: [number, number];
  ratioToPageHash: number;
  /** Integrity-tree counters over the timed rounds, per page. */
  nodesVerifiedPerPage?: number;
  writeBacksPerPage?: number;
  /** Node lookups served by the cache (a miss walks up, one lookup per level, to the first hit). */
  lookupHitRate?: number;
  samplesUsPerPage: number[];
}

function xorshift(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** Runs `step` in chunks for at least `ms`; returns the pages done and the milliseconds taken. */
function turn(step: (n: number) => void, ms: number): { pages: number; ms: number } {
  const chunk = 64;
  let pages = 0;
  const t0 = nowMs();
  let t = t0;
  while (t - t0 < ms) {
    step(chunk);
    pages += chunk;
    t = nowMs();
  }
  return { pages, ms: t - t0 };
}

function pool(): Uint8Array[] {
  return Array.from({ length: CONTENTS }, () => {
    const p = new Uint8Array(randomBytes(PAGE_SIZE));
    p[0] |= 1;
    return p;
  });
}

function pageHashSubject(h: TreeHash, page: Uint8Array): Subject {
  return { name: `${h}: page hash only`, hash: h, step: (n) => { for (let i = 0; i < n; i++) hash(h, page, "buffer"); } };
}

/**
 * A tree with every page of the working set written once and flushed, and its two subjects: fills
 * and write-backs at random GPAs of the working set, each with the page's current contents.
 */
function treeSubjects(cfg: Config, contents: readonly Uint8Array[], label: string,
  opts: { hash: TreeHash; arity: number; cacheNodes: number; store?: NodeStore }): Subject[] {
  const w = cfg.workingSetPages;
  const tree = new MerkleTree({
    frames: cfg.frames, arity: opts.arity, cacheNodes: opts.cacheNodes, hash: opts.hash,
    store: opts.store ?? new MemoryNodeStore(MerkleTree.nodeBytesFor(opts)),
  });
  const current = new Uint8Array(w);
  for (let gpa = 0; gpa < w; gpa++) {
    current[gpa] = gpa % CONTENTS;
    tree.updatePage(gpa, contents[current[gpa]!]!);
  }
  tree.flush();
  const rndV = xorshift(opts.arity * 7919 + opts.cacheNodes);
  const rndU = xorshift(opts.arity * 104729 + opts.cacheNodes);
  return [
    {
      name: `${label}: verify`, hash: opts.hash, tree,
      step: (n) => {
        for (let i = 0; i < n; i++) {
          const gpa = rndV() % w;
          tree.verifyPage(gpa, contents[current[gpa]!]!);
        }
      },
    },
    {
      name: `${label}: update`, hash: opts.hash, tree,
      step: (n) => {
        for (let i = 0; i < n; i++) {
          const gpa = rndU() % w;
          const c = (current[gpa]! + 1) % CONTENTS;
          current[gpa] = c;
          tree.updatePage(gpa, contents[c]!);
        }
      },
    },
  ];
}

/** Warms up, then runs the rounds; each subject's figures, by name. */
async function phase(cfg: Config, subjects: readonly Subject[], log: (line: string) => void, what: string): Promise<Map<string, Measured>> {
  log(`${what}: warming up ${subjects.length} subjects`);
  for (const s of subjects) turn(s.step, 10);
  await pause(20);
  const samples = subjects.map(() => [] as number[]);
  const pages = subjects.map(() => 0);
  // Counters over the timed rounds only; a tree's two subjects share them, so each counts its own turns.
  const counted = subjects.map(() => ({ nodesVerified: 0, nodeWriteBacks: 0, cacheHits: 0, cacheMisses: 0 }));
  for (let r = 0; r < cfg.rounds; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const i = (k + r) % subjects.length;
      const s = subjects[i]!;
      const before: IntegrityStats | undefined = s.tree ? { ...s.tree.stats } : undefined;
      const t = turn(s.step, cfg.turnMs);
      samples[i]!.push((t.ms * 1000) / t.pages);
      pages[i]! += t.pages;
      if (s.tree && before) {
        const c = counted[i]!;
        c.nodesVerified += s.tree.stats.nodesVerified - before.nodesVerified;
        c.nodeWriteBacks += s.tree.stats.nodeWriteBacks - before.nodeWriteBacks;
        c.cacheHits += s.tree.stats.cacheHits - before.cacheHits;
        c.cacheMisses += s.tree.stats.cacheMisses - before.cacheMisses;
      }
    }
    log(`${what}: round ${r + 1}/${cfg.rounds}`);
    await pause(1);
  }
  const us = samples.map((s) => median(s));
  const floor = new Map(subjects.map((s, i) => [s, i] as const).filter(([s]) => !s.tree).map(([s, i]) => [s.hash, us[i]!]));
  const out = new Map<string, Measured>();
  subjects.forEach((s, i) => {
    const c = counted[i]!;
    const base = floor.get(s.hash);
    if (base === undefined) throw new Error(`${what}: no page-hash baseline for ${s.hash}`);
    out.set(s.name, {
      usPerPage: us[i]!,
      iqr: [percentile(samples[i]!, 25), percentile(samples[i]!, 75)],
      ratioToPageHash: us[i]! / base,
      ...(s.tree ? {
        nodesVerifiedPerPage: c.nodesVerified / pages[i]!,
        writeBacksPerPage: c.nodeWriteBacks / pages[i]!,
        lookupHitRate: c.cacheHits / Math.max(1, c.cacheHits + c.cacheMisses),
      } : {}),
      samplesUsPerPage: samples[i]!,
    });
  });
  return out;
}

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const stateDir = mkdtempSync(join(tmpdir(), "enclavisor-bench-integrity-"));
  try {
    return await measure(opts, stateDir);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function measure(opts: SuiteOptions, stateDir: string): Promise<SuiteResult> {
  const cfg = opts.full ? FULL : SHORT;
  const contents = pool();
  const figures: Record<string, unknown> = {
    config: cfg,
    cacheBudgetBytes: CACHE_BUDGET_BYTES,
    defaults: { hash: DEFAULT_TREE_HASH, arity: DEFAULT_ARITY, cacheNodes: DEFAULT_CACHE_NODES },
  };
  const num = (v: number | undefined, digits = 2) => (v === undefined ? "-" : v.toFixed(digits));
  const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);

  // Phase 1: hash x arity, every tree with the same cache budget in bytes.
  opts.log(`hash x arity: building ${TREE_HASHES.length * cfg.arities.length} trees of ${cfg.workingSetPages} written pages`);
  const p1: Subject[] = TREE_HASHES.map((h) => pageHashSubject(h, contents[0]!));
  const shape = new Map<string, { cacheNodes: number; levels: number }>();
  for (const h of TREE_HASHES) {
    for (const arity of cfg.arities) {
      const cacheNodes = Math.floor(CACHE_BUDGET_BYTES / MerkleTree.nodeBytesFor({ arity, hash: h }));
      const label = `${h}, arity ${arity}`;
      const subjects = treeSubjects(cfg, contents, label, { hash: h, arity, cacheNodes });
      shape.set(label, { cacheNodes, levels: subjects[0]!.tree!.levels });
      p1.push(...subjects);
    }
    opts.log(`hash x arity: ${h} trees built (arities ${cfg.arities.join(", ")})`); // building takes seconds per hash
    await pause(0);
  }
  const m1 = await phase(cfg, p1, opts.log, "hash x arity");
  let best = { hash: DEFAULT_TREE_HASH as TreeHash, arity: DEFAULT_ARITY, us: Infinity };
  const arityRows: string[][] = [];
  for (const h of TREE_HASHES) {
    for (const arity of cfg.arities) {
      const label = `${h}, arity ${arity}`;
      const v = m1.get(`${label}: verify`)!;
      const u = m1.get(`${label}: update`)!;
      const total = v.usPerPage + u.usPerPage;
      if (total < best.us) best = { hash: h, arity, us: total };
      const { cacheNodes, levels } = shape.get(label)!;
      arityRows.push([h, String(arity), String(levels), String(cacheNodes), num(v.usPerPage), fmtRatio(v.ratioToPageHash),
        num(v.nodesVerifiedPerPage), num(u.usPerPage), fmtRatio(u.ratioToPageHash), num(u.writeBacksPerPage), num(total)]);
    }
  }
  figures.hashArity = { ...Object.fromEntries(m1), shape: Object.fromEntries(shape) };
  const defaultIsBest = best.hash === DEFAULT_TREE_HASH && best.arity === DEFAULT_ARITY;
  figures.summary = { fastest: best, defaultIsFastest: defaultIsBest };
  opts.log(`fastest: ${best.hash}, arity ${best.arity} (${best.us.toFixed(2)} µs per fill + write-back); default ${DEFAULT_TREE_HASH}, arity ${DEFAULT_ARITY}`);
  p1.length = 0; // the trees of phase 1 are garbage from here on
  await pause(20);

  // Phase 2: cache sizes of the default tree.
  const p2: Subject[] = [pageHashSubject(DEFAULT_TREE_HASH, contents[0]!)];
  for (const cacheNodes of cfg.cacheSizes) {
    p2.push(...treeSubjects(cfg, contents, `cache ${cacheNodes}`, { hash: DEFAULT_TREE_HASH, arity: DEFAULT_ARITY, cacheNodes }));
  }
  const m2 = await phase(cfg, p2, opts.log, "cache size");
  figures.cacheSize = Object.fromEntries(m2);
  const cacheRows = cfg.cacheSizes.map((c) => {
    const v = m2.get(`cache ${c}: verify`)!;
    const u = m2.get(`cache ${c}: update`)!;
    return [String(c), num(v.usPerPage), fmtRatio(v.ratioToPageHash), num(v.nodesVerifiedPerPage), pct(v.lookupHitRate),
      num(u.usPerPage), fmtRatio(u.ratioToPageHash), num(u.writeBacksPerPage)];
  });
  p2.length = 0;
  await pause(20);

  // Phase 3: the default tree's nodes in host memory and in the emulated DRAM (shared pages of a VM).
  const platform = new Platform({ switches: { rmp: true, ciphertextHiding: false }, stateDir });
  const vm = platform.launchVm();
  const defaults = { hash: DEFAULT_TREE_HASH, arity: DEFAULT_ARITY, cacheNodes: DEFAULT_CACHE_NODES };
  const p3: Subject[] = [
    pageHashSubject(DEFAULT_TREE_HASH, contents[0]!),
    ...treeSubjects(cfg, contents, "host memory", defaults),
    ...treeSubjects(cfg, contents, "DRAM", { ...defaults, store: new DramNodeStore(platform.hv, vm, MerkleTree.nodeBytes, { mc: platform.mc }) }),
  ];
  const m3 = await phase(cfg, p3, opts.log, "store");
  figures.store = Object.fromEntries(m3);
  const storeRows = ["host memory", "DRAM"].flatMap((where) => (["verify", "update"] as const).map((path) => {
    const f = m3.get(`${where}: ${path}`)!;
    return [where, path, num(f.usPerPage), fmtRatio(f.ratioToPageHash), num(path === "verify" ? f.nodesVerifiedPerPage : f.writeBacksPerPage)];
  }));
  const hashRows = TREE_HASHES.map((h) => [h, num(m1.get(`${h}: page hash only`)!.usPerPage)]);

  const report = [
    "## Integrity tree: fill (verify) and write-back (update) per page",
    "",
    `Every tree covers ${cfg.frames} frames; the accesses fall at random on ${cfg.workingSetPages} pages written once ` +
      "and flushed, so most fills miss the integrity cache. Medians of " +
      `${cfg.rounds} rounds; each subject runs ≥ ${cfg.turnMs} ms per round, in turn. Ratios are to the bare page hash ` +
      "of the same algorithm (node:crypto one-shot `hash` of 4 KiB) in the same phase: the floor of both paths.",
    "",
    "### Page hash alone",
    "",
    markdownTable(["hash", "µs / page"], hashRows),
    "",
    `### Hash and arity (cache budget ${CACHE_BUDGET_BYTES / 1024} KiB of nodes each)`,
    "",
    markdownTable(["hash", "arity", "levels", "cache nodes", "verify µs", "vs hash", "nodes verified / fill", "update µs", "vs hash",
      "write-backs / update", "verify + update µs"], arityRows),
    "",
    `Fastest: ${best.hash}, arity ${best.arity} (${best.us.toFixed(2)} µs for one fill and one write-back). ` +
      `Default: ${DEFAULT_TREE_HASH}, arity ${DEFAULT_ARITY}` + (defaultIsBest ? " (the same)." : " (differs in this run; see the quartiles in the JSON)."),
    "",
    `### Cache size (${DEFAULT_TREE_HASH}, arity ${DEFAULT_ARITY})`,
    "",
    markdownTable(["cache nodes", "verify µs", "vs hash", "nodes verified / fill", "lookup hit rate", "update µs", "vs hash", "write-backs / update"], cacheRows),
    "",
    `### Where the nodes live (${DEFAULT_TREE_HASH}, arity ${DEFAULT_ARITY}, cache ${DEFAULT_CACHE_NODES})`,
    "",
    markdownTable(["store", "path", "µs / page", "vs hash", "nodes read or written / page"], storeRows),
    "",
    "A fill that finds its leaf node cached is one lookup and one hit; a miss walks up, one lookup per level, to the",
    "first cached node, and verifies each node read on the way down. DRAM nodes are read and written a whole frame",
    "at a time, as guest accesses to shared pages through the memory controller.",
  ].join("\n");
  return { suite: "integrity", figures, report };
}
