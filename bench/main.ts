// The benchmark command: `npm run bench [-- SUITE...] [--full] [--charts-only]`. Measures the
// openssl references, runs each suite (all by default) with progress on the terminal, and writes
// bench/results/<suite>.json (every figure and the machine), bench/results/<suite>.md (the report),
// the suite's SVG charts, and bench/results/summary.md over every suite's latest results.
// `--charts-only` redraws the charts and the summary from the JSON files already there, measuring
// nothing. See bench/README.md.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { chartsFor } from "./charts/index";
import type { Chart } from "./charts/index";
import { machineInfo, machineMarkdown, nowMs } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";
import { loadReferences, measureReferences, referencesPath } from "./references";
import { loadSuiteJson, summaryMarkdown } from "./summary";

/** Every suite of the project, in run order; each lives in bench/<name>.ts and exports `run`. */
const SUITES: readonly { name: string; what: string }[] = [
  { name: "mmu", what: "hit path of the software MMU: rewritten vs native compute kernels" },
  { name: "sev", what: "emulated SEV memory encryption and the secure processor" },
  { name: "paging", what: "miss path: working sets larger than the resident cache" },
  { name: "integrity", what: "Merkle integrity tree: hash, arity, cache size, node store" },
  { name: "boot", what: "enclave boot latency per granularity" },
  { name: "kv", what: "kv enclave throughput next to redis-server" },
  { name: "kv-save", what: "kv's background snapshot: a client's latency during a 1M-key save" },
  { name: "kv-tls", what: "kv over attested TLS next to plaintext serving" },
];

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, "results");

function usage(): string {
  return [
    "usage: npm run bench [-- SUITE...] [--full] [--charts-only]",
    "",
    "  SUITE          one or more of: " + SUITES.map((s) => s.name).join(", ") + " (default: all)",
    "  --full         the long run (more rounds, larger inputs); the default is a short run",
    "  --charts-only  redraw the charts and summary.md from the results already in bench/results/",
    "",
    "suites:",
    ...SUITES.map((s) => `  ${s.name.padEnd(9)} ${s.what}${available(s.name) ? "" : " (not yet available)"}`),
    "",
    `Results go to ${relative(process.cwd(), resultsDir) || "."}/: <suite>.json, <suite>.md, <suite>-*.svg charts, ` +
      "references.json (openssl speed) and summary.md.",
  ].join("\n");
}

function available(name: string): boolean {
  return existsSync(join(benchDir, `${name}.ts`));
}

type RunFn = (opts: SuiteOptions) => Promise<SuiteResult>;

async function loadSuite(name: string): Promise<RunFn> {
  // The specifier is computed so that suites which do not exist yet are no compile-time error.
  const mod: unknown = await import(`./${name}`);
  const run = (mod as { run?: unknown }).run;
  if (typeof run !== "function") throw new Error(`bench/${name}.ts does not export a run(opts) function`);
  return run as RunFn;
}

function isSuiteResult(r: unknown): r is SuiteResult {
  const o = r as SuiteResult;
  return typeof o === "object" && o !== null && typeof o.suite === "string" &&
    typeof o.figures === "object" && o.figures !== null && typeof o.report === "string";
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(usage());
    return 0;
  }
  const flags = argv.filter((a) => a.startsWith("-"));
  const badFlag = flags.find((f) => f !== "--full" && f !== "--charts-only");
  if (badFlag) {
    console.error(`bench: unknown option '${badFlag}'\n\n${usage()}`);
    return 2;
  }
  const full = flags.includes("--full");
  const names = argv.filter((a) => !a.startsWith("-"));
  const unknown = names.filter((n) => !SUITES.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`bench: unknown suite '${unknown.join("', '")}'\n\n${usage()}`);
    return 2;
  }
  const wanted = names.length > 0 ? SUITES.filter((s) => names.includes(s.name)) : SUITES;
  if (flags.includes("--charts-only")) {
    if (full) {
      console.error("bench: --charts-only measures nothing: it cannot take --full");
      return 2;
    }
    return chartsOnly(wanted.map((s) => s.name));
  }
  const missing = wanted.filter((s) => !available(s.name));
  const runnable = wanted.filter((s) => available(s.name));
  if (missing.length > 0) {
    console.log(`bench: not yet available: ${missing.map((s) => s.name).join(", ")} (no bench/<suite>.ts)`);
  }
  if (runnable.length === 0) {
    console.error("bench: no suite to run");
    return 1;
  }

  const machine = machineInfo();
  console.log(`bench: ${full ? "full" : "short"} run of ${runnable.map((s) => s.name).join(", ")} on ` +
    `${machine.cpuModel} (${machine.cores} cores), Node ${machine.node}, V8 ${machine.v8}`);
  mkdirSync(resultsDir, { recursive: true });
  // The references first, on the machine as the suites find it (bench/references.ts).
  const refStart = nowMs();
  try {
    const refs = measureReferences({
      full,
      log: (line) => process.stdout.write(`[references ${((nowMs() - refStart) / 1000).toFixed(1).padStart(6)}s] ${line}\n`),
    });
    writeFileSync(referencesPath(resultsDir), JSON.stringify(refs, null, 2) + "\n");
  } catch (err) {
    // The suites still run; the summary shows the last references measured, with their date.
    console.error(`bench: references not measured: ${err instanceof Error ? err.message : String(err)}`);
  }
  let failed = 0;
  for (const { name } of runnable) {
    const started = new Date();
    const t0 = nowMs();
    const log = (line: string) => {
      process.stdout.write(`[${name} ${((nowMs() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
    };
    let result: unknown;
    try {
      const run = await loadSuite(name);
      result = await run({ full, log });
      if (!isSuiteResult(result)) throw new Error(`bench/${name}.ts: run() did not return { suite, figures, report }`);
    } catch (err) {
      failed++;
      console.error(`bench: suite ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      continue;
    }
    const durationMs = nowMs() - t0;
    const json = join(resultsDir, `${name}.json`);
    const md = join(resultsDir, `${name}.md`);
    writeFileSync(json, JSON.stringify({
      suite: result.suite,
      mode: full ? "full" : "short",
      startedAt: started.toISOString(),
      durationMs: Math.round(durationMs),
      machine,
      figures: result.figures,
    }, null, 2) + "\n");
    writeFileSync(md, [
      `# Benchmark: ${result.suite}`,
      "",
      `${full ? "Full" : "Short"} run started ${started.toISOString()}, ${(durationMs / 1000).toFixed(1)} s. ` +
        `Reproduce with \`npm run bench -- ${name}${full ? " --full" : ""}\`.`,
      "",
      machineMarkdown(machine),
      "",
      result.report.trimEnd(),
      "",
    ].join("\n"));
    const charts = writeCharts(name, log);
    if (charts.length > 0) writeFileSync(md, readFileSync(md, "utf8") + chartsSection(charts));
    log(`done: ${[json, md, ...charts.map((c) => join(resultsDir, c.file))].map((p) => relative(process.cwd(), p)).join(", ")}`);
  }
  writeSummary();
  return failed > 0 ? 1 : 0;
}

/** Draws a suite's charts from its results file into bench/results/; none if it has no results. */
function writeCharts(suite: string, log: (line: string) => void): Chart[] {
  const j = loadSuiteJson(resultsDir, suite);
  if (!j) return [];
  let charts: Chart[];
  try {
    charts = chartsFor(j);
  } catch (err) {
    log(`charts not drawn: ${err instanceof Error ? err.message : String(err)}`);
    return [];
  }
  for (const c of charts) writeFileSync(join(resultsDir, c.file), c.svg);
  return charts;
}

function chartsSection(charts: readonly Chart[]): string {
  return ["", "## Charts", "", ...charts.flatMap((c) => [`![${c.title}](${c.file})`, ""])].join("\n");
}

/** bench/results/summary.md over every suite's latest results. */
function writeSummary(): void {
  // Every suite's charts are (re)drawn, so that the summary never links a chart that is not there.
  const charts = new Map<string, Chart[]>();
  for (const { name } of SUITES) {
    if (existsSync(join(resultsDir, `${name}.json`))) charts.set(name, writeCharts(name, (line) => console.log(`[${name}] ${line}`)));
  }
  const path = join(resultsDir, "summary.md");
  writeFileSync(path, summaryMarkdown({ resultsDir, suites: SUITES.map((s) => s.name), references: loadReferences(resultsDir), charts }));
  console.log(`bench: ${relative(process.cwd(), path)}`);
}

function chartsOnly(suites: readonly string[]): number {
  mkdirSync(resultsDir, { recursive: true });
  let drawn = 0;
  for (const suite of suites) {
    const charts = writeCharts(suite, (line) => console.log(`[${suite}] ${line}`));
    for (const c of charts) console.log(`bench: ${relative(process.cwd(), join(resultsDir, c.file))}`);
    // A report written before its suite had charts gets them linked.
    const md = join(resultsDir, `${suite}.md`);
    if (charts.length > 0 && existsSync(md) && !readFileSync(md, "utf8").includes("\n## Charts\n")) {
      writeFileSync(md, readFileSync(md, "utf8") + chartsSection(charts));
    }
    drawn += charts.length;
    if (!existsSync(join(resultsDir, `${suite}.json`))) console.log(`bench: no ${suite}.json yet: run \`npm run bench -- ${suite}\` first`);
  }
  writeSummary();
  console.log(`bench: ${drawn} chart(s) drawn`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
