// `npm run fuzz -- [--runs N] [--seed S] [--minutes M] [--capacity PAGES] [--timeout SECONDS]
// [--save DIR | --no-save] [--no-evict]`: differential fuzzing of the rewriter against native V8. Prints one
// line per mismatch (with the seed that reproduces it) and a summary; exits non-zero on any
// mismatch.

import { countStatus, runFuzz, type FuzzOptions, type FuzzReport } from "./run-fuzz";
import { runMain } from "../run-main";
import { UsageError } from "../../../host/cli/cli-error";

const USAGE =
  "usage: npm run fuzz -- [--runs N] [--seed S] [--minutes M] [--capacity PAGES] [--timeout SECONDS] [--save DIR | --no-save] [--no-evict]";


function intArg(flag: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min) {
    throw new UsageError(`${flag} needs an integer of at least ${min}, got ${value ?? "nothing"}\n${USAGE}`);
  }
  return n;
}

function parseArgs(argv: string[]): FuzzOptions {
  const o: FuzzOptions = {
    runs: 50,
    seed: (Date.now() * 2654435761) >>> 0,
    capacityPages: 2,
    evictOnHostCall: true,
    timeoutMs: 30_000,
    saveDir: "/tmp/fuzz-repro",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case "--runs": o.runs = intArg(a, argv[++i], 1); break;
      case "--seed": o.seed = intArg(a, argv[++i], 0) >>> 0; break;
      case "--minutes": o.deadline = Date.now() + intArg(a, argv[++i], 1) * 60_000; o.runs = Number.MAX_SAFE_INTEGER; break;
      case "--capacity": o.capacityPages = intArg(a, argv[++i], 2); break;
      case "--timeout": o.timeoutMs = intArg(a, argv[++i], 1) * 1000; break;
      case "--save": {
        const dir = argv[++i];
        if (!dir) throw new UsageError(`--save needs a folder\n${USAGE}`);
        o.saveDir = dir;
        break;
      }
      case "--no-save": o.saveDir = null; break;
      case "--no-evict": o.evictOnHostCall = false; break;
      case "--help": case "-h": console.log(USAGE); process.exit(0);
      default: throw new UsageError(`unknown argument ${a}\n${USAGE}`);
    }
  }
  return o;
}

function capacityRange(report: FuzzReport): string {
  const caps = report.cases.flatMap((c) => (c.capacityPages === undefined ? [] : [c.capacityPages])).sort((a, b) => a - b);
  if (!caps.length) return "-";
  return `${caps[0]}..${caps.at(-1)} pages, median ${caps[Math.floor(caps.length / 2)]}`;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const limit = options.deadline ? `until ${new Date(options.deadline).toISOString()}` : `${options.runs} modules`;
  console.log(`fuzz: seed ${options.seed}, ${limit}, resident capacity ${options.capacityPages} pages${options.evictOnHostCall ? ", all pages evicted at each host call" : ""}`);
  const report = await runFuzz({
    ...options,
    onCase: (c) => {
      if (c.status === "same") {
        if ((c.index + 1) % 25 === 0) console.log(`  ${c.index + 1} modules...`);
        return;
      }
      const reproduce = `npm run fuzz -- --seed ${c.seed} --runs 1`;
      console.log(`  case ${c.index} (seed ${c.seed}): ${c.status.toUpperCase()}: ${c.detail ?? ""}`);
      if (c.status === "mismatch") console.log(`      reproduce: ${reproduce}${c.savedAs ? `; module saved as ${c.savedAs}` : ""}`);
    },
  });
  const mismatches = countStatus(report, "mismatch");
  const m = report.mmu;
  console.log(
    [
      `runs: ${report.cases.length} modules (seed ${report.seed}) in ${(report.milliseconds / 1000).toFixed(1)} s`,
      `compared: ${report.compared} modules agree in full; exports called: ${report.exportsCalled}; traps: ${report.traps}`,
      `timeouts (both runs): ${countStatus(report, "timeout")}; inconclusive (host limit): ${countStatus(report, "inconclusive")}; unusable (generator or both runs failed): ${countStatus(report, "unusable")}`,
      `resident capacity used (raised to each module's minimum): ${capacityRange(report)}`,
      `rewritten MMU: faults ${m.faults}, fills ${m.fills}, zero-fills ${m.zeroFills}, evictions ${m.evictions}, write-backs ${m.writeBacks}, bulk ops ${m.bulkOps}, fill runs ${m.fillRuns}, write-back batches ${m.writeBackBatches}, soft faults ${m.softFaults}`,
      `mismatches: ${mismatches}${mismatches ? ` (seeds ${report.cases.filter((c) => c.status === "mismatch").map((c) => c.seed).join(", ")})` : ""}`,
      mismatches ? "RESULT: FAIL" : "RESULT: PASS (0 mismatches)",
    ].join("\n"),
  );
  return mismatches ? 1 : 0;
}

runMain(main);
