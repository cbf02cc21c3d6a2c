// bench/results/summary.md: one page tying the suites together, written from whatever
// bench/results/<suite>.json files exist: which run each came from, its headline figures, the
// measured references, the machine, and every chart. Each suite's full report stays in
// bench/results/<suite>.md.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { binarySize, dig, isRecord } from "./charts/chart";
import type { Chart, SuiteJson } from "./charts/chart";
import { fmtRatio, machineMarkdown, markdownTable } from "./harness";
import type { References } from "./references";
import { referencesMarkdown, referenceUs } from "./references";

export function loadSuiteJson(resultsDir: string, suite: string): SuiteJson | null {
  const path = join(resultsDir, `${suite}.json`);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as SuiteJson;
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${e instanceof Error ? e.message : String(e)}): rerun the suite`);
  }
}

const num = (v: unknown, digits = 2): string => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "-");
const ratio = (v: unknown): string => (typeof v === "number" && Number.isFinite(v) ? fmtRatio(v) : "-");

/** The headline lines of one suite: what a reader should see first. */
function headlines(j: SuiteJson, refs: References | null): string[] {
  const f = j.figures;
  switch (j.suite) {
    case "mmu":
      return [`Hit path: rewritten / native, geometric mean over the kernels ${ratio(f.geomeanRatio)} (goal ≤ ${ratio(f.goalRatio)}).`];
    case "sev": {
      const s = f.summary;
      const xts = referenceUs(refs, "aes-128-xts");
      return [
        `XTS engine, 32 pages per call, against \`openssl speed\` in the same rounds (elapsed time): encrypt ${ratio(dig(s, "xtsBatchedEncryptRatioElapsed"))}, ` +
          `decrypt ${ratio(dig(s, "xtsBatchedDecryptRatioElapsed"))} of openssl's rate; goal met: ${String(dig(s, "goalMet") ?? "-")}.`,
        ...(xts !== undefined ? [`Reference: openssl AES-128-XTS takes ${xts.toFixed(3)} µs per 4 KiB page (references below).`] : []),
      ];
    }
    case "paging": {
      const out: string[] = [];
      const g = f.goals;
      if (isRecord(g)) {
        out.push(`Goals: sev read miss / raw decrypt ${ratio(dig(g, "sevMissVsRawDecrypt", "value"))} (≤ 2x), ` +
          `enclavisor / sev read miss ${ratio(dig(g, "enclavisorVsSevReadMiss", "value"))} and write miss ${ratio(dig(g, "enclavisorVsSevWriteMiss", "value"))} (≤ 3x), ` +
          `hit path worst ${ratio(dig(g, "hitPathVsInMemory", "worst"))} of in-memory (≤ 1.1x).`);
      }
      const modes = dig(f, "missPath", "modes");
      if (isRecord(modes)) {
        out.push("Miss path per page (µs, median): " + Object.entries(modes).map(([m, v]) =>
          `${m} read ${num(dig(v, "readMiss", "median"))} / write ${num(dig(v, "writeMiss", "median"))}`).join("; ") + ".");
      }
      const points = (dig(f, "workingSets") as { workingSetBytes: number; order: string; perKind: Record<string, { slowdown: number }> }[] | undefined) ?? [];
      for (const order of ["random", "seq"]) {
        const mine = points.filter((p) => p.order === order).sort((a, b) => a.workingSetBytes - b.workingSetBytes);
        const last = mine[mine.length - 1];
        if (!last) continue;
        out.push(`Slowdown at the largest working set (${binarySize(last.workingSetBytes)}, ${order}): ` +
          Object.entries(last.perKind).filter(([k]) => k !== "native").map(([k, v]) => `${k} ${ratio(v.slowdown)}`).join(", ") + ".");
      }
      const epc = dig(f, "config", "sweepEpcPages");
      if (typeof epc === "number") out.push(`The sgx line's EPC in this run: ${binarySize(epc * 4096)}.`);
      return out;
    }
    case "integrity": {
      const d = f.defaults;
      return [`The tree's defaults: ${String(dig(d, "hash") ?? "-")}, arity ${String(dig(d, "arity") ?? "-")}, ${String(dig(d, "cacheNodes") ?? "-")} cache nodes; see the report for every hash, arity and cache size.`];
    }
    case "boot": {
      const g = f.goals;
      if (!isRecord(g)) return [];
      return Object.entries(g).map(([k, v]) => `${k}: ${String(dig(v, "status") ?? "-")}${dig(v, "detail") ? ` (${String(dig(v, "detail"))})` : ""}.`);
    }
    case "kv": {
      const r = f.ratios;
      if (!isRecord(r)) return [];
      const small = Object.entries(r).flatMap(([w, tests]) => isRecord(tests)
        ? Object.entries(tests).map(([t, v]) => `${t}, ${w}: enclavisor / native ${ratio(dig(v, "vsNative"))}, enclavisor / redis-server ${ratio(dig(v, "vsRedis"))}.`)
        : []);
      const goals = dig(f, "large", "goals");
      const large = Array.isArray(goals)
        ? goals.map((g) => `${String(dig(g, "goal"))}: ${Number(dig(g, "value")).toFixed(2)} (${dig(g, "met") ? "met" : "not met"}).`)
        : [];
      return [...small, ...large];
    }
    default:
      return [];
  }
}

export interface SummaryInput {
  resultsDir: string;
  suites: readonly string[];
  references: References | null;
  /** Charts of each suite, as written next to the JSON. */
  charts: ReadonlyMap<string, readonly Chart[]>;
}

export function summaryMarkdown(input: SummaryInput): string {
  const runs = input.suites.map((s) => loadSuiteJson(input.resultsDir, s)).filter((j): j is SuiteJson => j !== null);
  const lines: string[] = [
    "# Benchmark summary",
    "",
    `Written ${new Date().toISOString()} by \`npm run bench\` from the results in this folder. ` +
      "Each suite's full report is `<suite>.md` and every figure is in `<suite>.json`; what the numbers mean is in bench/README.md and BENCHMARKS.md. " +
      "Suites may come from different runs: each row says when it ran.",
    "",
    "## Suites",
    "",
    markdownTable(["suite", "run", "started (UTC)", "duration", "load at start", "report", "charts"], runs.map((j) => [
      j.suite, j.mode, j.startedAt.slice(0, 19).replace("T", " "), `${(j.durationMs / 1000).toFixed(0)} s`,
      j.machine.loadAverage ? j.machine.loadAverage.join(", ") : "-",
      `[${j.suite}.md](${j.suite}.md)`,
      (input.charts.get(j.suite) ?? []).map((c) => `[${c.file}](${c.file})`).join(", ") || "-",
    ])),
    "",
    "## Headlines",
    "",
  ];
  for (const j of runs) {
    const h = headlines(j, input.references);
    if (h.length === 0) continue;
    lines.push(`### ${j.suite}`, "", ...h.map((l) => `- ${l}`), "");
  }
  const missing = input.suites.filter((s) => !runs.some((j) => j.suite === s));
  if (missing.length > 0) lines.push(`No results yet for: ${missing.join(", ")}.`, "");
  lines.push("## Measured references", "");
  lines.push(input.references ? referencesMarkdown(input.references) : "None measured yet (`npm run bench` measures them first).", "");
  const latest = [...runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
  if (latest) lines.push(`## Machine (of the latest run, ${latest.suite})`, "", machineMarkdown(latest.machine), "");
  const all = runs.flatMap((j) => input.charts.get(j.suite) ?? []);
  if (all.length > 0) {
    lines.push("## Charts", "");
    for (const c of all) lines.push(`### ${c.title}`, "", `![${c.title}](${c.file})`, "");
  }
  return lines.join("\n");
}
