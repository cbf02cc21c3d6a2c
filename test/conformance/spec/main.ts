// `npm run spec -- [DIR] [--native-only | --rewritten-only] [--capacity PAGES]`: runs every .wast
// script of DIR (default: the pinned suite, see defaultSpecDir) as given and rewritten, prints
// the counts per script and run with every fail and skip reason, and exits non-zero on a failure.

import { resolve } from "node:path";
import { nativeEngine } from "./native-engine";
import { formatSummary, scriptLine, totalsByEngine } from "./report";
import { defaultSpecDir, runSpecDir, SpecDirError } from "./run-dir";
import { rewrittenEngine, SPEC_CAPACITY_PAGES } from "./rewritten-engine";
import type { Engine } from "./engine";
import { runMain } from "../run-main";

const USAGE = "usage: npm run spec -- [DIR] [--native-only | --rewritten-only] [--capacity PAGES]";

function parseArgs(argv: string[]): { dir: string; engines: Array<() => Engine> } {
  let dir: string | undefined;
  let native = true;
  let rewritten = true;
  let capacity = SPEC_CAPACITY_PAGES;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--native-only") rewritten = false;
    else if (a === "--rewritten-only") native = false;
    else if (a === "--capacity") {
      capacity = Number(argv[++i]);
      if (!Number.isInteger(capacity) || capacity < 2) throw new SpecDirError(`--capacity needs an integer of at least 2 pages\n${USAGE}`);
    } else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith("-")) throw new SpecDirError(`unknown option ${a}\n${USAGE}`);
    else if (dir === undefined) dir = a;
    else throw new SpecDirError(`only one folder can be given\n${USAGE}`);
  }
  if (!native && !rewritten) throw new SpecDirError(`--native-only and --rewritten-only exclude each other\n${USAGE}`);
  const engines: Array<() => Engine> = [];
  if (native) engines.push(nativeEngine);
  if (rewritten) engines.push(() => rewrittenEngine(capacity));
  // npm runs scripts from the package root; a relative DIR means the caller's folder (INIT_CWD).
  return { dir: dir === undefined ? defaultSpecDir() : resolve(process.env.INIT_CWD ?? process.cwd(), dir), engines };
}

async function main(): Promise<number> {
  const { dir, engines } = parseArgs(process.argv.slice(2));
  console.log(`spec scripts: ${dir}`);
  const started = performance.now();
  const report = await runSpecDir(dir, {
    engines,
    onScript: (runs) => runs.forEach((r) => console.log(scriptLine(r))),
  });
  console.log(formatSummary(report.runs));
  console.log(`time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const failed = totalsByEngine(report.runs).some((t) => t.fail > 0);
  console.log(failed ? "RESULT: FAIL" : "RESULT: PASS (0 failures)");
  return failed ? 1 : 0;
}

runMain(main);
