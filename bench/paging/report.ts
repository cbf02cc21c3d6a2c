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
import { POLICIES } from "./eviction-policy";
import type { EvictionFigures } from "./eviction-policy";
import { goals, metText } from "./goals";
import type { HitPathRow } from "./hit-path";
import { TREE_PATHS } from "./integrity-cache";
import type { IntegrityCacheFigures } from "./integrity-cache";
import { ABLATED, MISSES, REF_DECRYPT, REF_NATIVE_PAGE, UNBATCHED_MISSES, ablationLabel } from "./miss-path";
import type { MissPathFigures } from "./miss-path";
import { BATCH_PAGES, BATCHED, STREAM_BATCH_PAGES } from "./misses";
import type { Measured } from "./rounds";
import { RANDOM_ACCESSES, SEQ_CHUNK_WORDS } from "./sweep";
import type { SweepFigures } from "./sweep";
import { CACHE_PAGES, KINDS, PAGED, SWEEP_PAGED } from "./testbed";

const BENCH_RESULTS = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** What the five parts measured. */
interface PagingFigures {
  miss: MissPathFigures;
  integrity: IntegrityCacheFigures;
  hit: HitPathRow[];
  sweep: SweepFigures;
  eviction: EvictionFigures;
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

/** One text bar per mode under each miss, scaled to the largest: a chart that reads in Markdown and in a terminal. */
function missChart(miss: MissPathFigures): string[] {
  const width = 50;
  const most = Math.max(...PAGED.flatMap((k) => MISSES.map((m) => miss.modes[k]!.misses[m].median)));
  const label = Math.max(...PAGED.map((k) => k.length));
  return MISSES.flatMap((m) => [
    `${m} miss`,
    ...PAGED.map((k) => {
      const v = miss.modes[k]!.misses[m].median;
      return `  ${k.padEnd(label)} ${"█".repeat(Math.max(1, Math.round((width * v) / most))).padEnd(width)} ${us(v)} µs`;
    }),
  ]);
}

export function report(cfg: Config, { miss, integrity, hit, sweep, eviction }: PagingFigures, log: (line: string) => void): SuiteResult {
  const refs = miss.references;
  const nativePage = refs[REF_NATIVE_PAGE]!.median;
  const decrypt = refs[REF_DECRYPT]!.median;
  const g = goals(miss, sweep, hit, CACHE_PAGES * PAGE_SIZE, log);

  const mmuSuite = mmuSuiteRatios();
  const machineRefs = loadReferences(BENCH_RESULTS);
  const cell = (m: Measured) => `${us(m.median)} (${us(m.p25)}-${us(m.p75)})`;
  const pagesOf = (b: number) => b / PAGE_SIZE;

  const lines: string[] = [
    "## Goals",
    "",
    markdownTable(["goal", "measured", "ratio", "result"], g.map((r) => [r.goal, r.measured, fmtRatio(r.value), metText(r.met)])),
    "",
    "The hit path against the code before the MMU's batches and the counter tree is the mmu suite run side by side with that commit; " +
      "part 3 compares the modes with each other.",
    "",
    "## 1. Miss path per page",
    "",
    `Each configuration holds a working set of ${fmtBytes(miss.workingSetBytes)} (${pagesOf(miss.workingSetBytes)} pages, every page written once) ` +
      `behind a resident cache of ${CACHE_PAGES} pages; faults come from the host through the guest's own MMU (\`SoftMmu.fault\`, ` +
      "what the rewritten code calls). In page order the guest streams through its working set and faults only where its own check would " +
      `(the MMU fills such a stream in runs of up to ${BATCHED.batchPages} pages), ${STREAM_BATCH_PAGES} pages per timed batch; at random each fault is a miss of ` +
      `one page (never the page after the last, which would start a stream), ${BATCH_PAGES} per timed batch. A read evicts clean victims; ` +
      `a write evicts dirty ones (a run's victims go back in one call, and a dirty victim with up to ${BATCHED.cleanAhead - 1} more dirty pages due next). ` +
      "Below, \"one page per call\" turns runs off, and \"each victim alone\" the clean-ahead. Every subject starts its turn " +
      "with two cache-fulls of its own misses, untimed. " +
      "Fill and write-back also alone, on the backing store (`PageBacking.load` / `store`, one page per call). " +
      "µs per page: each turn's figure is the median of its batches (a batch that lost the CPU " +
      `to another process does not count whole; the turns' means are in the JSON), then the median of ${cfg.rounds} rounds (p25-p75).`,
    "",
    markdownTable(["reference", "µs / page"], Object.entries(refs).map(([name, m]) => [name, cell(m)])),
    "",
    ...(machineRefs
      ? [`Measured references of this \`npm run bench\` (bench/results/references.json, ${machineRefs.measuredAt}): \`openssl speed\` takes ` +
        ["aes-128-xts", "aes-128-gcm", "sha256"].map((a) => `${referenceUs(machineRefs, a)?.toFixed(3) ?? "-"} µs per 4 KiB for ${a}`).join(", ") +
        " (AES-XTS is the SEV engine's cipher, AES-GCM the sgx model's, SHA-256 the Merkle tree's hash).", ""]
      : []),
    markdownTable(
      ["mode", ...MISSES.map((m) => `${m} miss`), "fill", "write-back", "seq read / raw decrypt", "random read / raw decrypt", "first touch + write (setup)"],
      PAGED.map((k) => {
        const m = miss.modes[k]!;
        return [k, ...MISSES.map((x) => cell(m.misses[x])), cell(m.fill), cell(m.writeBack),
          fmtRatio(m.misses["seq read"].median / decrypt), fmtRatio(m.misses["random read"].median / decrypt), us(m.setupUsPerPage)];
      }),
    ),
    "",
    `The native page is a native guest reading 4 KiB of its working set in order (no paging): ${us(nativePage)} µs. ` +
      "Setup is the guest writing its whole working set once, in µs per page (first touch, zero fill, and for the paged modes the write-back of " +
      "all but the last cache-full of pages).",
    "",
    "µs per page, per mode and integrity scheme (the same medians as a text chart; `paging-miss-us.svg` draws it):",
    "",
    "```",
    ...missChart(miss),
    "```",
    "",
    "### The MMU's batches",
    "",
    markdownTable(
      ["mode", "miss", "the defaults", "against", "its time", "the defaults / it"],
      ABLATED.flatMap((k) => UNBATCHED_MISSES.map((x) => {
        const m = miss.modes[k]!;
        const other = m.unbatched![x]!;
        return [k, x, cell(m.misses[x]), ablationLabel(x), cell(other), fmtRatio(m.misses[x].median / other.median)];
      })),
    ),
    "",
    "### One random read miss by component",
    "",
    "The miss through the fault handler less the backing's fill is the MMU's own part; within the fill, the memory engine's one-page call " +
      "(its reference above), the counter tree's version and MAC of the page (timed alone), and the rest. µs, medians of subjects timed side by side.",
    "",
    markdownTable(
      ["mode", "random read miss", "parts"],
      miss.breakdown.map((b) => [b.kind, us(b.total), b.parts.map((p) => `${p.part} ${us(p.us)} (${((100 * p.us) / b.total).toFixed(0)}%)`).join("; ")]),
    ),
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
  lines.push(
    "## 5. Replacement policy",
    "",
    `Traces of ${eviction.accesses} page references over ${eviction.workingSetPages} pages behind ${eviction.cachePages} resident pages, ` +
      "generated from a fixed seed, through each policy. The MMU sees misses only: CLOCK gets its reference bits from soft faults " +
      "(the hand traps a referenced page instead of evicting it; its next access restores it without a fill), and LRU needs every hit seen, " +
      "a call per access, so it is a bound, not a candidate. Estimated µs per access = miss rate × enclavisor's random read miss " +
      `(${us(eviction.missUs)} µs, part 1) + soft-fault rate × a fault without a fill (${us(eviction.softFaultUs)} µs, part 1). ` +
      "Miss rate, soft-fault rate, and the estimate against FIFO's:",
    "",
    markdownTable(["trace", ...POLICIES],
      eviction.rows.map((r) => [r.trace, ...POLICIES.map((p) => {
        const v = r.perPolicy[p];
        return `${(100 * v.missRate).toFixed(1)}% / ${(100 * v.softFaultRate).toFixed(1)}% (${fmtRatio(v.vsFifo)})`;
      })])),
    "",
    eviction.pays.length === 0
      ? `No policy beats FIFO by more than ${100 * eviction.margin}% on any trace: FIFO stays.`
      : `Beating FIFO by more than ${100 * eviction.margin}%: ` + eviction.pays.map((p) => `${p.policy} on ${p.trace} (${fmtRatio(p.vsFifo)})`).join("; ") + ".",
    "",
  );

  return {
    suite: "paging",
    figures: {
      config: { ...cfg, cachePages: CACHE_PAGES, sgxExitNs: DEFAULT_EXIT_NS, batchPages: BATCH_PAGES, streamBatchPages: STREAM_BATCH_PAGES, mmuBatching: BATCHED, seqChunkWords: SEQ_CHUNK_WORDS, randomAccesses: RANDOM_ACCESSES, seed: SEED },
      goals: g,
      missPath: miss,
      integrityCache: integrity,
      hitPath: hit,
      mmuSuiteReference: mmuSuite,
      workingSets: sweep.points,
      skipped: sweep.skipped,
      evictionPolicy: eviction,
    },
    report: lines.join("\n"),
  };
}
