// Differential fuzzing of the rewriter: each random module runs as given and rewritten under a
// tiny resident capacity, and the two transcripts must agree. Case i of a run with seed S has
// seed S + i, so `--seed S+i --runs 1` reproduces it alone.

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MmuStats } from "../../../host/wasm/mmu";
import { compareTranscripts, type Difference } from "./compare";
import { ModuleGenerator } from "./generate";
import type { Transcript } from "./harness";
import { Sandbox, type JobResult } from "./sandbox";

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Resident capacity of the rewritten run, in 4 KiB pages. */
  capacityPages: number;
  /** Evict all resident pages at each host call of the rewritten run (see RunOptions). */
  evictOnHostCall: boolean;
  /** Time limit of one run of one module. */
  timeoutMs: number;
  /** Stop starting new cases after this time (Date.now() value). */
  deadline?: number;
  /** Where mismatching modules are saved (null: not saved). */
  saveDir: string | null;
  onCase?: (c: CaseResult) => void;
}

export type CaseStatus = "same" | "mismatch" | "timeout" | "inconclusive" | "unusable";

export interface CaseResult {
  index: number;
  seed: number;
  status: CaseStatus;
  /** Top-level export calls in one run. */
  calls: number;
  traps: number;
  detail?: string;
  savedAs?: string;
  mmu?: MmuStats;
  /** Resident capacity of the rewritten run, in pages. */
  capacityPages?: number;
}

export interface FuzzReport {
  seed: number;
  cases: CaseResult[];
  /** Cases where both transcripts were compared in full. */
  compared: number;
  exportsCalled: number;
  traps: number;
  mmu: MmuStats;
  milliseconds: number;
}

const describe = (d: Difference) => `${d.what}\n      native:    ${d.native}\n      rewritten: ${d.rewritten}`;
const failure = (r: JobResult) => ("timeout" in r ? "timed out" : "error" in r ? r.error : "");

function judge(native: JobResult, rewritten: JobResult): Pick<CaseResult, "status" | "detail"> {
  if ("transcript" in native && "transcript" in rewritten) {
    const c = compareTranscripts(native.transcript, rewritten.transcript);
    if (c.same === true) return { status: "same" };
    if (c.same === "inconclusive") return { status: "inconclusive", detail: c.reason };
    return { status: "mismatch", detail: describe(c.difference) };
  }
  if ("timeout" in native && "timeout" in rewritten) return { status: "timeout", detail: "both runs timed out" };
  if ("error" in native && "error" in rewritten && native.error === rewritten.error) {
    return { status: "unusable", detail: `both runs failed: ${native.error}` };
  }
  return { status: "mismatch", detail: `native: ${"transcript" in native ? "completed" : failure(native)}; rewritten: ${"transcript" in rewritten ? "completed" : failure(rewritten)}` };
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const generator = new ModuleGenerator();
  const sandbox = new Sandbox(options.timeoutMs);
  const report: FuzzReport = {
    seed: options.seed,
    cases: [],
    compared: 0,
    exportsCalled: 0,
    traps: 0,
    mmu: { faults: 0, fills: 0, zeroFills: 0, evictions: 0, writeBacks: 0, bulkOps: 0, fillRuns: 0, writeBackBatches: 0, softFaults: 0 },
    milliseconds: 0,
  };
  const runOptions = { capacityPages: options.capacityPages, evictOnHostCall: options.evictOnHostCall };
  const seedOf = (i: number) => (options.seed + i) >>> 0;
  const generate = (i: number) =>
    generator.generate(seedOf(i)).then(
      (bytes) => ({ bytes }),
      (e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }),
    );
  try {
    // The next module is generated (in its own wasm-opt process) while this one runs.
    let next = generate(0);
    for (let i = 0; i < options.runs; i++) {
      if (options.deadline !== undefined && Date.now() >= options.deadline) break;
      const generated = await next;
      if (i + 1 < options.runs) next = generate(i + 1);
      const seed = seedOf(i);
      let result: CaseResult;
      if ("error" in generated) {
        result = { index: i, seed, status: "unusable", calls: 0, traps: 0, detail: generated.error };
      } else {
        const native = await sandbox.run(generated.bytes, { ...runOptions, rewrite: false });
        const rewritten = await sandbox.run(generated.bytes, { ...runOptions, rewrite: true });
        const t: Transcript | undefined = "transcript" in native ? native.transcript : undefined;
        const r = "transcript" in rewritten ? rewritten.transcript : undefined;
        result = {
          index: i,
          seed,
          calls: t?.calls ?? 0,
          traps: t?.traps ?? 0,
          mmu: r?.mmu ?? undefined,
          capacityPages: r?.capacityPages ?? undefined,
          ...judge(native, rewritten),
        };
        if (result.status === "mismatch" && options.saveDir) {
          await mkdir(options.saveDir, { recursive: true });
          result.savedAs = join(options.saveDir, `fuzz-seed-${seed}.wasm`);
          await writeFile(result.savedAs, generated.bytes);
        }
      }
      if (result.status === "same") {
        report.compared++;
        report.exportsCalled += result.calls;
        report.traps += result.traps;
        if (result.mmu) for (const k of Object.keys(report.mmu) as Array<keyof MmuStats>) report.mmu[k] += result.mmu[k];
      }
      report.cases.push(result);
      options.onCase?.(result);
    }
    await next.catch(() => undefined);
  } finally {
    sandbox.stop();
    await generator.dispose();
  }
  report.milliseconds = Date.now() - started;
  return report;
}

export function countStatus(report: FuzzReport, status: CaseStatus): number {
  return report.cases.filter((c) => c.status === status).length;
}
