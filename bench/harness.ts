// Shared pieces of the benchmark suites: the suite interface, statistics, timing, machine info and
// the guest apps. Every suite runs its baseline and its subject side by side in one process,
// repeats them, and reports medians and ratios (docs/architecture.md, "What is measured").
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface SuiteOptions {
  /** false: the short run (seconds); true: the long run with more rounds and larger inputs. */
  full: boolean;
  /** Progress line for the terminal. */
  log: (line: string) => void;
}

export interface SuiteResult {
  suite: string;
  /** Every measured figure, written as is to bench/results/<suite>.json. */
  figures: Record<string, unknown>;
  /** The Markdown body of bench/results/<suite>.md (main.ts adds the title and machine info). */
  report: string;
}

export interface Suite {
  name: string;
  run(opts: SuiteOptions): Promise<SuiteResult>;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  platform: string;
  /** Kernel release (os.release()). */
  kernel: string;
  node: string;
  v8: string;
  /** The OpenSSL Node links (what node:crypto runs). */
  openssl: string;
  /** 1, 5 and 15 minute load averages when the run started: how busy the shared machine was. */
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    node: process.versions.node,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

export function machineMarkdown(m: MachineInfo): string {
  return [
    "| machine | |",
    "|---|---|",
    `| CPU | ${m.cpuModel} |`,
    `| cores | ${m.cores} |`,
    `| memory | ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB |`,
    `| platform | ${m.platform}${m.kernel ? `, kernel ${m.kernel}` : ""} |`,
    `| Node | ${m.node} |`,
    `| V8 | ${m.v8} |`,
    `| OpenSSL (Node's) | ${m.openssl} |`,
    ...(m.loadAverage ? [`| load average at start (1, 5, 15 min) | ${m.loadAverage.join(", ")} |`] : []),
  ].join("\n");
}

// ---- the guest apps ----

const GUEST_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "guest-apps");

/** A built guest app of guest-apps/, e.g. "kernels.wasm". */
export function loadGuest(name: string): Uint8Array {
  const path = join(GUEST_DIR, name);
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new Error(`${path} is missing: build the guest apps with \`npm run build:guests\``);
  }
}

// ---- statistics ----

/** The p-th percentile (0..100) with linear interpolation between the closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile of an empty list");
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile ${p} is outside 0..100`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function geomean(values: readonly number[]): number {
  if (values.length === 0) throw new Error("geometric mean of an empty list");
  let logSum = 0;
  for (const v of values) {
    if (!(v > 0)) throw new Error(`geometric mean needs positive values, got ${v}`);
    logSum += Math.log(v);
  }
  return Math.exp(logSum / values.length);
}

// ---- timing ----

/** Monotonic time in milliseconds, sub-microsecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `fn` once and returns its result with the elapsed milliseconds. */
export function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = nowMs();
  const value = fn();
  return { value, ms: nowMs() - t0 };
}

/** Lets V8's background compiler threads install optimized code, and the terminal update. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- side-by-side measurement ----

export interface Contender<T> {
  label: string;
  /** One turn's work; its result goes to onRound (e.g. checksums that must agree). */
  run: () => T;
}

export interface SideBySideOptions<T> {
  rounds: number;
  /** Turns per round: the contenders alternate, one run() each, so a change of load hits all alike. */
  turns: number;
  /** Units of work one run() does: samples are milliseconds per unit. */
  units: number;
  /** After each round: each contender's sample and its run() results, in contender order. */
  onRound?: (round: number, ms: readonly number[], results: readonly (readonly T[])[]) => void;
}

/**
 * Runs the contenders (baseline first) round after round, each round made of alternating turns,
 * rotating which one goes first so that none always runs on a warmer or quieter machine. Returns
 * one sample per round for each contender.
 */
export async function sideBySide<T>(
  contenders: readonly Contender<T>[],
  opts: SideBySideOptions<T>,
): Promise<number[][]> {
  const n = contenders.length;
  const samples = contenders.map(() => [] as number[]);
  for (let round = 0; round < opts.rounds; round++) {
    const ms = contenders.map(() => 0);
    const results = contenders.map(() => [] as T[]);
    for (let turn = 0; turn < opts.turns; turn++) {
      for (let k = 0; k < n; k++) {
        const i = (k + round + turn) % n;
        const t0 = nowMs();
        results[i]!.push(contenders[i]!.run());
        ms[i]! += nowMs() - t0;
      }
    }
    const perUnit = ms.map((v) => v / (opts.turns * opts.units));
    perUnit.forEach((v, i) => samples[i]!.push(v));
    opts.onRound?.(round, perUnit, results);
    await pause(0); // lets progress reach the terminal
  }
  return samples;
}

// ---- formatting ----

export function fmtMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

export function fmtRatio(r: number): string {
  return `${r.toFixed(3)}x`;
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A Markdown table from a header row and data rows. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
