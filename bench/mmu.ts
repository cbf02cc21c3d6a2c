// The `mmu` suite: the hit path of the software MMU.
// Each compute kernel of guest-apps/kernels.wasm runs natively and rewritten side by side, with a
// working set that fits in the resident cache, so the only cost measured is the inline residency
// check the rewriter adds before each access. Goal: at most 1.25x, geometric mean over the kernels.
// Also measured: the time to rewrite a module (cold, warm and cached) and its growth in size.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instantiateGuest } from "../host/wasm/guest";
import type { Guest, GuestAccess } from "../host/wasm/guest";
import { rewriteModule } from "../host/wasm/rewrite";
import { clearMemoryCache, lastOutcome, rewriteCached } from "../host/wasm/rewrite-cache";
import {
  fmtBytes, fmtMs, fmtRatio, geomean, loadGuest, markdownTable, median, nowMs, pause, percentile, sideBySide, timed,
} from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";

/** The kernels' exported id globals, in report order, with their display names. */
const KERNELS: readonly { id: string; name: string }[] = [
  { id: "SORT", name: "sort" },
  { id: "HASH_TABLE", name: "hash table" },
  { id: "MATMUL", name: "matmul" },
  { id: "SEQ_SCAN", name: "seq scan" },
  { id: "RANDOM_SCAN", name: "random scan" },
];
const GOAL_RATIO = 1.25;
/** The resident cache of the rewritten guests: 16 MiB, the default of instantiateGuest. */
const CAPACITY_PAGES = 4096;
const SEED = 0x5eed;

interface Config {
  workingSetBytes: number;
  rounds: number;
  /** Target length of one timed call of step(); V8 has no OSR, so work comes in calls. */
  chunkMs: number;
  /** Target time of one mode in a round (its turns added up). */
  roundMs: number;
  /** Time spent calling step() on a small working set before measuring, so V8 tiers up. */
  warmupMs: number;
}

const SHORT: Config = { workingSetBytes: 4 << 20, rounds: 7, chunkMs: 15, roundMs: 150, warmupMs: 200 };
const FULL: Config = { workingSetBytes: 12 << 20, rounds: 11, chunkMs: 25, roundMs: 500, warmupMs: 400 };

interface KernelExports {
  setup(kernel: number, bytes: number, seed: number): void;
  step(kernel: number, iters: number): number;
}

interface KernelFigures {
  kernel: string;
  workingSetBytes: number;
  itersPerChunk: number;
  chunksPerRound: number;
  /** Milliseconds per iteration, one sample per round. */
  nativeMs: number[];
  rewrittenMs: number[];
  nativeMedianMs: number;
  rewrittenMedianMs: number;
  /** rewritten median / native median. */
  ratio: number;
  /** Per-round ratios, for the spread. */
  ratioP25: number;
  ratioP75: number;
  /** MMU activity during the timed rounds: 0 on a true hit path. */
  faultsWhileTimed: number;
  evictionsWhileTimed: number;
}

interface RewriteFigures {
  module: string;
  inputBytes: number;
  outputBytes: number;
  growthPercent: number;
  /** First rewriteModule() call of this module in the process (includes lazy initialisation). */
  coldMs: number;
  /** Median of later rewriteModule() calls. */
  warmMs: number;
  /** Loads and stores given a residency check. */
  accesses: number;
  /** rewriteCached() finding the module on disk (a launch in a new process). */
  diskHitMs: number;
  /** rewriteCached() finding the module in memory (another launch in the same process). */
  memoryHitMs: number;
}

/** The AssemblyScript runtime's abort: its strings are UTF-16 with the byte length at ptr - 4. */
function asImports(access: GuestAccess): WebAssembly.Imports {
  const str = (ptr: number): string => {
    if (ptr === 0) return "";
    const len = new DataView(access.read(ptr - 4, 4).slice().buffer).getUint32(0, true);
    return Buffer.from(access.read(ptr, len)).toString("utf16le");
  };
  return {
    env: {
      abort: (msg: number, file: number, line: number, col: number) => {
        throw new Error(`guest aborted: ${str(msg)} at ${str(file)}:${line}:${col}`);
      },
    },
  };
}

/** Rewrites afresh (no cache): a cached binary from an older rewriter would measure stale code. */
function instantiate(bytes: Uint8Array, rewrite: boolean): Promise<Guest> {
  return instantiateGuest(bytes, asImports, rewrite ? { rewrite, capacityPages: CAPACITY_PAGES, cache: false } : { rewrite });
}

function kernelExports(guest: Guest): KernelExports {
  const e = guest.instance.exports as unknown as KernelExports;
  if (typeof e.setup !== "function" || typeof e.step !== "function") {
    throw new Error("guest-apps/kernels.wasm does not export setup() and step()");
  }
  return e;
}

function kernelId(guest: Guest, id: string): number {
  const g = guest.instance.exports[id];
  if (!(g instanceof WebAssembly.Global)) throw new Error(`guest-apps/kernels.wasm does not export the kernel id ${id}`);
  return g.value as number;
}

/** Calls step() on a small working set until V8 has had time to tier the kernel up. */
async function warmUp(e: KernelExports, kernel: number, ms: number): Promise<void> {
  e.setup(kernel, 64 << 10, SEED);
  for (let pass = 0; pass < 2; pass++) {
    const end = nowMs() + ms / 2;
    while (nowMs() < end) e.step(kernel, 1);
    await pause(20); // background TurboFan compilation installs its code
  }
}

async function measureKernel(
  kernels: Uint8Array, k: { id: string; name: string }, cfg: Config, log: (line: string) => void,
): Promise<KernelFigures> {
  const native = await instantiate(kernels, false);
  const rewritten = await instantiate(kernels, true);
  const kernel = kernelId(native, k.id);
  const modes = [
    { label: "native", e: kernelExports(native) },
    { label: "rewritten", e: kernelExports(rewritten) },
  ];
  for (const m of modes) {
    await warmUp(m.e, kernel, cfg.warmupMs);
    m.e.setup(kernel, cfg.workingSetBytes, SEED);
    m.e.step(kernel, 1); // touches the working set: every page becomes resident
  }
  // Calibrate on the native run. Both modes make the same calls, so their checksums must agree.
  const perIter = median([0, 1, 2].map(() => {
    const t = timed(() => modes[0]!.e.step(kernel, 1));
    if (modes[1]!.e.step(kernel, 1) !== t.value) throw new Error(`${k.name}: rewritten checksum differs from native`);
    return t.ms;
  }));
  const itersPerChunk = Math.max(1, Math.round(cfg.chunkMs / perIter));
  const chunksPerRound = Math.max(1, Math.round(cfg.roundMs / (perIter * itersPerChunk)));
  const mmu = rewritten.mmu;
  if (!mmu) throw new Error("the rewritten kernels guest has no MMU");
  const before = { faults: mmu.stats.faults, evictions: mmu.stats.evictions };

  const [nativeMs, rewrittenMs] = await sideBySide(
    modes.map((m) => ({ label: m.label, run: () => m.e.step(kernel, itersPerChunk) })),
    {
      rounds: cfg.rounds,
      turns: chunksPerRound,
      units: itersPerChunk,
      onRound: (round, [n, r], [nativeSums, rewrittenSums]) => {
        // Both modes made the same calls from the same state: their checksums must agree.
        if (nativeSums!.join() !== rewrittenSums!.join()) {
          throw new Error(`${k.name}: rewritten checksums differ from native in round ${round + 1}`);
        }
        log(`${k.name} round ${round + 1}/${cfg.rounds}: native ${fmtMs(n!)}/iter, rewritten ${fmtMs(r!)}/iter (${fmtRatio(r! / n!)})`);
      },
    },
  ) as [number[], number[]];
  const roundRatios = rewrittenMs.map((r, i) => r / nativeMs[i]!);
  return {
    kernel: k.name,
    workingSetBytes: cfg.workingSetBytes,
    itersPerChunk,
    chunksPerRound,
    nativeMs,
    rewrittenMs,
    nativeMedianMs: median(nativeMs),
    rewrittenMedianMs: median(rewrittenMs),
    ratio: median(rewrittenMs) / median(nativeMs),
    ratioP25: percentile(roundRatios, 25),
    ratioP75: percentile(roundRatios, 75),
    faultsWhileTimed: mmu.stats.faults - before.faults,
    evictionsWhileTimed: mmu.stats.evictions - before.evictions,
  };
}

function measureRewrite(name: string, input: Uint8Array, warmRuns: number, cacheDir: string): RewriteFigures {
  const cold = timed(() => rewriteModule(input));
  const warm = Array.from({ length: warmRuns }, () => timed(() => rewriteModule(input)).ms);
  // A second launch in a new process finds the binary on disk; one in the same process, in memory.
  rewriteCached(input, { dir: cacheDir });
  const disk = [0, 1, 2].map(() => {
    clearMemoryCache();
    const t = timed(() => rewriteCached(input, { dir: cacheDir })).ms;
    if (lastOutcome !== "disk") throw new Error(`${name}: the rewrite cache missed on disk (${lastOutcome})`);
    return t;
  });
  const memory = [0, 1, 2].map(() => {
    const t = timed(() => rewriteCached(input, { dir: cacheDir })).ms;
    if (lastOutcome !== "memory") throw new Error(`${name}: the rewrite cache missed in memory (${lastOutcome})`);
    return t;
  });
  const outputBytes = cold.value.binary.length;
  return {
    module: name,
    inputBytes: input.length,
    outputBytes,
    growthPercent: ((outputBytes - input.length) / input.length) * 100,
    accesses: cold.value.stats.accesses,
    coldMs: cold.ms,
    warmMs: median(warm),
    diskHitMs: median(disk),
    memoryHitMs: median(memory),
  };
}

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const cfg = opts.full ? FULL : SHORT;
  const kernels = loadGuest("kernels.wasm");
  const hello = loadGuest("hello.wasm");

  // Rewrite timing first, so that "cold" really is the first rewrite in this process.
  opts.log("rewrite time and module growth");
  const cacheDir = mkdtempSync(join(tmpdir(), "bench-mmu-"));
  let rewrite: RewriteFigures[];
  try {
    rewrite = [measureRewrite("kernels.wasm", kernels, 5, cacheDir), measureRewrite("hello.wasm", hello, 5, cacheDir)];
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
  for (const r of rewrite) {
    opts.log(`${r.module}: ${fmtBytes(r.inputBytes)} -> ${fmtBytes(r.outputBytes)} (+${r.growthPercent.toFixed(1)}%), ` +
      `rewrite cold ${fmtMs(r.coldMs)}, warm ${fmtMs(r.warmMs)}, cache hit on disk ${fmtMs(r.diskHitMs)}, ` +
      `in memory ${fmtMs(r.memoryHitMs)}`);
  }

  const probe = await instantiate(kernels, false);
  const count = (probe.instance.exports.KERNEL_COUNT as WebAssembly.Global | undefined)?.value as number | undefined;
  if (count !== KERNELS.length) {
    throw new Error(`guest-apps/kernels.wasm has ${count} kernels; bench/mmu.ts knows ${KERNELS.length}`);
  }
  opts.log(`hit path: working set ${fmtBytes(cfg.workingSetBytes)}, resident cache ${CAPACITY_PAGES} pages ` +
    `(${fmtBytes(CAPACITY_PAGES * 4096)}), ${cfg.rounds} rounds`);
  const results: KernelFigures[] = [];
  for (const k of KERNELS) results.push(await measureKernel(kernels, k, cfg, opts.log));
  const geo = geomean(results.map((r) => r.ratio));
  opts.log(`geometric mean of rewritten/native: ${geo.toFixed(4)}x (goal <= ${fmtRatio(GOAL_RATIO)})`);

  const report = [
    "## Hit path: rewritten vs native",
    "",
    `Working set ${fmtBytes(cfg.workingSetBytes)} per kernel, inside a resident cache of ${CAPACITY_PAGES} pages ` +
      `(${fmtBytes(CAPACITY_PAGES * 4096)}). ${cfg.rounds} rounds after a warm-up; in each, native and rewritten ` +
      "take turns of one step() call (iters x turns below), the first alternating; time per kernel iteration, " +
      "median over rounds. The ratio is rewritten/native " +
      "of the medians; p25-p75 is the spread of the per-round ratios.",
    "",
    markdownTable(
      ["kernel", "iters x turns", "native", "rewritten", "ratio", "p25-p75", "faults while timed"],
      results.map((r) => [
        r.kernel, `${r.itersPerChunk} x ${r.chunksPerRound}`, fmtMs(r.nativeMedianMs), fmtMs(r.rewrittenMedianMs),
        fmtRatio(r.ratio), `${r.ratioP25.toFixed(3)}-${r.ratioP75.toFixed(3)}`, String(r.faultsWhileTimed),
      ]),
    ),
    "",
    `**Geometric mean of the ratios: ${geo.toFixed(4)}x** (goal: at most ${fmtRatio(GOAL_RATIO)}; ` +
      `${geo <= GOAL_RATIO ? "met" : "not met"}).`,
    "",
    "## Rewrite time and module growth",
    "",
    "Cold: the first rewrite of the module in the process; warm: median of later rewrites; cache hit: " +
      "the rewrite cache finding the module on disk (a launch in a new process) or in memory (median of 3).",
    "",
    markdownTable(
      ["module", "input", "output", "growth", "checked accesses", "cold", "warm", "hit on disk", "hit in memory"],
      rewrite.map((r) => [
        r.module, fmtBytes(r.inputBytes), fmtBytes(r.outputBytes), `+${r.growthPercent.toFixed(1)}%`,
        String(r.accesses), fmtMs(r.coldMs), fmtMs(r.warmMs), fmtMs(r.diskHitMs), fmtMs(r.memoryHitMs),
      ]),
    ),
  ].join("\n");

  return {
    suite: "mmu",
    figures: {
      config: { ...cfg, capacityPages: CAPACITY_PAGES, seed: SEED },
      goalRatio: GOAL_RATIO,
      geomeanRatio: geo,
      kernels: results,
      rewrite,
    },
    report,
  };
}
