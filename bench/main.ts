// The benchmark command: `npm run bench [-- SUITE...] [--full]` (issue 7, "The command").
// Runs each suite (all by default), shows progress, and writes bench/results/<suite>.json (every
// figure and the machine) and bench/results/<suite>.md (the report). See bench/README.md.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { machineInfo, machineMarkdown, nowMs } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";

/** Every suite of the project, in run order; each lives in bench/<name>.ts and exports `run`. */
const SUITES: readonly { name: string; what: string }[] = [
  { name: "mmu", what: "hit path of the software MMU: rewritten vs native compute kernels" },
  { name: "sev", what: "emulated SEV memory encryption and the secure processor" },
  { name: "paging", what: "miss path: working sets larger than the resident cache" },
  { name: "integrity", what: "Merkle integrity tree: hash, arity, cache size, node store" },
  { name: "boot", what: "enclave boot latency per granularity" },
  { name: "kv", what: "kv enclave throughput next to redis-server" },
];

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, "results");

function usage(): string {
  return [
    "usage: npm run bench [-- SUITE...] [--full]",
    "",
    "  SUITE   one or more of: " + SUITES.map((s) => s.name).join(", ") + " (default: all)",
    "  --full  the long run (more rounds, larger inputs); the default is a short run",
    "",
    "suites:",
    ...SUITES.map((s) => `  ${s.name.padEnd(9)} ${s.what}${available(s.name) ? "" : " (not yet available)"}`),
    "",
    `Results go to ${relative(process.cwd(), resultsDir) || "."}/<suite>.json and <suite>.md.`,
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
  const badFlag = flags.find((f) => f !== "--full");
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
    log(`done: ${relative(process.cwd(), json)}, ${relative(process.cwd(), md)}`);
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
