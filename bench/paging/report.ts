// The paging suite's report: the Markdown of bench/results/paging.md, part by part after the goals,
// and the figures written to paging.json.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PAGE_SIZE } from "../../host/page";
import { DEFAULT_EPC_PAGES } from "../../host/sgx/epc";
import { DEFAULT_EXIT_NS, EXIT_CYCLES, NOMINAL_GHZ } from "../../host/sgx/exits";
import { fmtBytes, fmtRatio, markdownTable } from "../harness";
import type { SuiteResult } from "../harness";
import { loadReferences, referenceUs } from "../references";
import { SEED } from "./config";
import type { Config } from "./config";
import { GOAL_ENCLAVISOR_VS_SEV, GOAL_HIT_PATH_TOLERANCE, GOAL_SEV_VS_DECRYPT, goals, metText } from "./goals";
import type { HitPathRow } from "./hit-path";
import { TREE_PATHS } from "./integrity-cache";
import type { IntegrityCacheFigures } from "./integrity-cache";
import type { MissPathFigures } from "./miss-path";
import { BATCH_PAGES } from "./misses";
import type { Measured } from "./rounds";
import { RANDOM_ACCESSES, SEQ_CHUNK_WORDS } from "./sweep";
import type { SweepFigures } from "./sweep";
import { CACHE_PAGES, KINDS, PAGED, SWEEP_PAGED } from "./testbed";

const BENCH_RESULTS = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** What the four parts measured. */
interface PagingFigures {
  miss: MissPathFigures;
  integrity: IntegrityCacheFigures;
  hit: HitPathRow[];
  sweep: SweepFigures;
}

/** The mmu suite's ratios for the two scans, from bench/results/mmu.json when a run left one. */
function mmuSuiteRatios(): { startedAt: string; ratios: Record<string, number> } | null {
  try {
    const j = JSON.parse(readFileSync(join(BENCH_RESULTS, "mmu.json"), "utf8")) as {
      startedAt: string; figures: { kernels: { kernel: string; ratio: number }[] };
    };
    return { startedAt: j.startedAt, ratios: Object.fromEntries(j.figures.kernels.map((k) => [k.kernel, k.ratio])) };
  } catch {
    return null;
  }
}

const us = (v: number) => v.toFixed(2);

export function report(cfg: Config, { miss, integrity, hit, sweep }: PagingFigures, log: (line: string) => void): SuiteResult {
  const refs = miss.references;
  const nativePage = refs["native: read a page (seq scan of 4 KiB)"]!.median;
  const decrypt = refs["raw XTS decrypt, 1 page per call"]!.median;
  const decryptBatched = refs["raw XTS decrypt, 32 pages per call"]!.median;
  const decryptCold = refs["raw XTS decrypt, 1 page per call, cold caches"]!.median;
  const sev = miss.modes.sev!;
  const encl = miss.modes.enclavisor!;
  const g = goals(miss, hit, log);

  const mmuSuite = mmuSuiteRatios();
  const machineRefs = loadReferences(BENCH_RESULTS);
  const cell = (m: Measured) => `${us(m.median)} (${us(m.p25)}-${us(m.p75)})`;
  const pagesOf = (b: number) => b / PAGE_SIZE;

  const lines: string[] = [
    "## Goals",
    "",
    markdownTable(["goal", "measured", "result"], [
      [`sev miss path ≤ ${GOAL_SEV_VS_DECRYPT}x the raw page decrypt (XTS engine, 1 page per call)`,
        `${us(sev.readMiss.median)} µs / ${us(decrypt)} µs = ${fmtRatio(g.sevMissVsRawDecrypt.value)}`, metText(g.sevMissVsRawDecrypt.met)],
      [`enclavisor ≤ ${GOAL_ENCLAVISOR_VS_SEV}x sev, read miss`, `${us(encl.readMiss.median)} µs / ${us(sev.readMiss.median)} µs = ${fmtRatio(g.enclavisorVsSevReadMiss.value)}`,
        metText(g.enclavisorVsSevReadMiss.met)],
      [`enclavisor ≤ ${GOAL_ENCLAVISOR_VS_SEV}x sev, write miss`, `${us(encl.writeMiss.median)} µs / ${us(sev.writeMiss.median)} µs = ${fmtRatio(g.enclavisorVsSevWriteMiss.value)}`,
        metText(g.enclavisorVsSevWriteMiss.met)],
      [`hit path unchanged: each mode's ratio to native within ${fmtRatio(GOAL_HIT_PATH_TOLERANCE)} of the in-memory rewrite (the mmu suite's configuration)`,
        `worst ${fmtRatio(g.hitPathVsInMemory.worst)}`, metText(g.hitPathVsInMemory.met)],
    ]),
    "",
    `Against the batched engine (32 pages per call, ${us(decryptBatched)} µs/page) the sev miss path is ${fmtRatio(sev.readMiss.median / decryptBatched)}; ` +
      `against the one-page call on pages out of the caches (${us(decryptCold)} µs/page), as a miss finds its frame and the guest's page, ` +
      `${fmtRatio(sev.readMiss.median / decryptCold)}.`,
    "",
    "## 1. Miss path per page",
    "",
    `Each configuration holds a working set of ${fmtBytes(miss.workingSetBytes)} (${pagesOf(miss.workingSetBytes)} pages, every page written once) ` +
      `behind a resident cache of ${CACHE_PAGES} pages; faults come from the host through the guest's own MMU (\`SoftMmu.fault\`, ` +
      `what the rewritten code calls), in page order, ${BATCH_PAGES} per timed batch. A read miss evicts a clean victim (scrub) and fills; ` +
      "a write miss evicts a dirty victim (write-back, scrub) and fills. Fill and write-back also alone, on the backing store " +
      `(\`PageBacking.load\` / \`store\`). µs per page: each turn's figure is the median of its batches (a batch that lost the CPU ` +
      `to another process does not count whole; the turns' means are in the JSON), then the median of ${cfg.rounds} rounds (p25-p75).`,
    "",
    markdownTable(["reference", "µs / page"], Object.entries(refs).map(([name, m]) => [name, cell(m)])),
    "",
    ...(machineRefs
      ? [`Measured references of this \`npm run bench\` (bench/results/references.json, ${machineRefs.measuredAt}): \`openssl speed\` takes ` +
        ["aes-128-xts", "aes-128-gcm", "sha256"].map((a) => `${referenceUs(machineRefs, a)?.toFixed(3) ?? "-"} µs per 4 KiB for ${a}`).join(", ") +
        " (AES-XTS is the SEV engine's cipher, AES-GCM the sgx model's, SHA-256 the integrity tree's hash).", ""]
      : []),
    markdownTable(
      ["mode", "fill", "write-back", "read miss", "write miss", "write miss − read miss", "read miss / native page", "write miss / native page",
        "read miss / raw decrypt", "first touch + write (setup)"],
      PAGED.map((k) => {
        const m = miss.modes[k]!;
        return [k, cell(m.fill), cell(m.writeBack), cell(m.readMiss), cell(m.writeMiss), us(m.writeBackShareUs),
          fmtRatio(m.readMissVsNative), fmtRatio(m.writeMissVsNative), fmtRatio(m.readMissVsDecrypt), us(m.setupUsPerPage)];
      }),
    ),
    "",
    `The native page is a native guest reading 4 KiB of its working set in order (no paging): ${us(nativePage)} µs. ` +
      "Setup is the guest writing its whole working set once, in µs per page (first touch, zero fill, and for the paged modes the write-back of " +
      "all but the last cache-full of pages).",
    "",
    "## 2. Integrity-cache hit rate against its size (enclavisor)",
    "",
    `Enclavisor with a ${fmtBytes(cfg.integrityBytes)} working set, miss path as in part 1: in page order (read misses), at random pages ` +
      "(read misses, and write misses, which also update the tree). Hit rate: node lookups served by the integrity cache " +
      "(a miss walks up, one lookup per level, to the first cached node). µs per miss, median. " +
      `The tree: arity ${integrity.shape.arity}, ${integrity.shape.levels} levels, ${integrity.shape.nodeBytes}-byte nodes, ` +
      `${integrity.shape.recordsPerLeafNode} pages per leaf node, so the working set spans ${integrity.shape.leafNodesSpanned} leaf nodes.`,
    "",
    markdownTable(
      ["cache nodes", ...TREE_PATHS.flatMap((p) => [`${p.key}: hit rate`, "nodes verified / miss", "µs / miss"])],
      integrity.rows.map((r) => [String(r.cacheNodes), ...TREE_PATHS.flatMap((p) => {
        const v = r.paths[p.key]!;
        return [`${(v.hitRate * 100).toFixed(1)}%`, v.nodesVerifiedPerMiss.toFixed(2), us(v.usPerMiss.median)];
      })]),
    ),
    "",
    "## 3. Hit path: working set inside the cache",
    "",
    `guest-apps/kernels.wasm's seq and random scan with a working set of ${fmtBytes(cfg.hitBytes)} inside the ${CACHE_PAGES}-page cache, ` +
      `run as the mmu suite runs them (warm-up, then ${cfg.hitRounds} rounds of alternating step() calls, the same calls in every configuration, ` +
      "checksums compared). Ratio to native of the medians; p25-p75 of the per-round ratios; faults while timed must be 0.",
    "",
    markdownTable(
      ["kernel", "configuration", "time / iteration", "ratio to native", "p25-p75", "vs in-memory", "faults while timed"],
      hit.flatMap((r) => KINDS.map((k) => {
        const v = r.perKind[k]!;
        return [r.kernel, k, `${(v.median * 1000).toFixed(0)} µs`, fmtRatio(v.ratioToNative), `${v.ratioP25.toFixed(3)}-${v.ratioP75.toFixed(3)}`,
          fmtRatio(v.ratioToNative / r.perKind["in-memory"]!.ratioToNative), String(v.faultsWhileTimed)];
      })),
    ),
    "",
    mmuSuite
      ? `The mmu suite's own run (bench/results/mmu.json, ${mmuSuite.startedAt}) measured seq scan ${fmtRatio(mmuSuite.ratios["seq scan"] ?? NaN)} ` +
        `and random scan ${fmtRatio(mmuSuite.ratios["random scan"] ?? NaN)}.`
      : "No bench/results/mmu.json from an mmu run to compare with.",
    "",
    "## 4. Working sets with a 16 MiB cache",
    "",
    `guest-apps/working-set.wasm: a working set of raw memory written once, then read in order (${fmtBytes(SEQ_CHUNK_WORDS * 4)} per call, ` +
      `continuing through the set) or at random words (${RANDOM_ACCESSES} per call). ns per 4-byte access, median of ${cfg.sweepRounds} rounds; ` +
      "slowdown = median / native median; pages filled from the backing store per 1000 accesses in brackets. Every call's checksum equals native's.",
    "",
    `The sgx column is the sgx preset (host/sgx): the same 16 MiB resident cache over an EPC of ${fmtBytes(cfg.sweepEpcPages * PAGE_SIZE)}` +
      `${cfg.sweepEpcPages === DEFAULT_EPC_PAGES ? " (the default)" : ` (the default is ${fmtBytes(DEFAULT_EPC_PAGES * PAGE_SIZE)}; the short run uses a smaller one so that its working sets cross it)`}, ` +
      "pages in MEE ciphertext with a version tree; beyond the EPC the untrusted OS evicts pages (EWB) and loads them back (ELDU), each load an enclave exit. " +
      `Each exit includes a MODELLED crossing cost of ${(DEFAULT_EXIT_NS / 1000).toFixed(2)} µs (${EXIT_CYCLES} cycles at ${NOMINAL_GHZ} GHz, HotCalls, ISCA 2017; ` +
      "host/sgx/exits.ts), spent as a busy wait; exits per 1000 accesses in braces.",
    "",
  ];
  for (const order of ["seq", "random"] as const) {
    lines.push(`### ${order === "seq" ? "Sequential" : "Random"}`, "");
    lines.push(markdownTable(
      ["working set", "native ns", ...SWEEP_PAGED.map((k) => `${k} ns (slowdown) [fills/1000]${k === "sgx" ? " {exits/1000}" : ""}`)],
      sweep.points.filter((p) => p.order === order).map((p) => [
        fmtBytes(p.workingSetBytes), p.perKind.native!.median.toFixed(2),
        ...SWEEP_PAGED.map((k) => {
          const v = p.perKind[k]!;
          return `${v.median.toFixed(1)} (${fmtRatio(v.slowdown)}) [${v.fillsPer1000.toFixed(2)}]` +
            (v.exitsPer1000 !== undefined ? ` {${v.exitsPer1000.toFixed(2)}}` : "");
        }),
      ]),
    ), "");
  }
  if (sweep.skipped.length > 0) {
    lines.push("Skipped: " + sweep.skipped.map((s) => `${fmtBytes(s.workingSetBytes)} (${s.reason})`).join("; ") + ".", "");
  }

  return {
    suite: "paging",
    figures: {
      config: { ...cfg, cachePages: CACHE_PAGES, sgxExitNs: DEFAULT_EXIT_NS, batchPages: BATCH_PAGES, seqChunkWords: SEQ_CHUNK_WORDS, randomAccesses: RANDOM_ACCESSES, seed: SEED },
      goals: g,
      missPath: miss,
      integrityCache: integrity,
      hitPath: hit,
      mmuSuiteReference: mmuSuite,
      workingSets: sweep.points,
      skipped: sweep.skipped,
    },
    report: lines.join("\n"),
  };
}
