// `npm run conformance -- [--attack ID]... [--column ID]... [--verbose]`: the attack conformance
// suite. Runs every attack against the vault guest in every column, prints the matrix, and exits 1
// when any cell differs from test/conformance/attacks/expected.ts (naming each such cell), 2 on a
// usage error.
import { formatEvidence, formatMatrix } from "./format-matrix";
import { ATTACK_IDS, COLUMNS } from "./matrix-axes";
import type { AttackId, ColumnId } from "./matrix-axes";
import { runAttackSuite } from "./run-suite";
import type { SuiteOptions } from "./run-suite";
import { runMain } from "../run-main";
import { UsageError } from "../../../host/cli/cli-error";

const USAGE = "usage: npm run conformance -- [--attack ID]... [--column ID]... [--verbose]";


function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value === undefined || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} needs one of ${allowed.join(", ")}; got ${value ?? "nothing"}\n${USAGE}`);
  }
  return value as T;
}

function parseArgs(argv: string[]): SuiteOptions & { verbose: boolean } {
  const attacks: AttackId[] = [];
  const columns: ColumnId[] = [];
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case "--attack": attacks.push(oneOf(a, argv[++i], ATTACK_IDS)); break;
      case "--column": columns.push(oneOf(a, argv[++i], COLUMNS.map((c) => c.id))); break;
      case "--verbose": case "-v": verbose = true; break;
      case "--help": case "-h": console.log(USAGE); process.exit(0);
      default: throw new UsageError(`unknown argument ${a}\n${USAGE}`);
    }
  }
  return {
    attacks: attacks.length > 0 ? attacks : undefined,
    columns: columns.length > 0 ? columns : undefined,
    verbose,
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const report = await runAttackSuite(options);
  for (const line of formatMatrix(report)) console.log(line);
  if (options.verbose) {
    console.log("");
    for (const line of formatEvidence(report)) console.log(line);
  }
  const n = report.cells.length;
  console.log(`\n${n} cells in ${(report.milliseconds / 1000).toFixed(1)} s`);
  console.log(report.mismatches.length === 0 ? `RESULT: PASS (all ${n} cells as expected)` : `RESULT: FAIL (${report.mismatches.length} of ${n} cells differ)`);
  return report.mismatches.length === 0 ? 0 : 1;
}

runMain(main);
