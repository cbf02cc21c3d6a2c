// The attack suite as a library (what `npm run conformance` and attacks.test.ts call): every attack
// against a fresh vault victim in every column, each cell compared with the expected matrix. The
// cells of one column share one platform (on the secure processor state the tests share), so a
// cell that stops its enclave also shows that the host and the platform run on for the next one.
import { platformFor, tinySwitches } from "../../enclavisor/fixtures/enclave";
import { ATTACKS } from "./attacks";
import type { CellResult } from "./attacks";
import { EXPECTED } from "./expected";
import { ATTACK_IDS, COLUMNS } from "./matrix-axes";
import type { AttackId, Column, ColumnId, Outcome } from "./matrix-axes";
import { prepareVictim } from "./vault-victim";
import { guestApp } from "../../enclavisor/fixtures/enclave";

export interface Cell extends CellResult {
  attack: AttackId;
  column: ColumnId;
  expected: Outcome;
}

export interface SuiteReport {
  cells: Cell[];
  /** Cells whose outcome differs from EXPECTED (errors included). */
  mismatches: Cell[];
  milliseconds: number;
}

export interface SuiteOptions {
  /** Subsets to run (default: all, in matrix order). */
  attacks?: readonly AttackId[];
  columns?: readonly ColumnId[];
}

export async function runAttackSuite(opts: SuiteOptions = {}): Promise<SuiteReport> {
  const t0 = performance.now();
  const attacks = ATTACKS.filter((a) => (opts.attacks ?? ATTACK_IDS).includes(a.id));
  const columns = COLUMNS.filter((c) => (opts.columns ?? COLUMNS.map((k) => k.id)).includes(c.id));
  const wasm = guestApp("vault");
  const cells: Cell[] = [];
  for (const column of columns as readonly Column[]) {
    // sgx runs on its own SGX machine (host/sgx), not on an SEV platform.
    const platform = column.mode === "native" || column.mode === "sgx"
      ? null
      : platformFor(tinySwitches(column.mode, { ciphertextHiding: column.ciphertextHiding, integrityScheme: column.integrityScheme }));
    for (const attack of attacks) {
      let result: CellResult;
      try {
        const victim = await prepareVictim(wasm, column, platform);
        try {
          result = attack.run(victim);
        } finally {
          victim.destroy();
        }
      } catch (e) {
        // A bug of the harness or the platform: reported in its cell, never a crash of the run.
        result = { outcome: "error", evidence: `the cell could not run: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, acted: false };
      }
      const id = column.id as ColumnId;
      cells.push({ attack: attack.id, column: id, expected: EXPECTED[attack.id][id], ...result });
    }
  }
  return { cells, mismatches: cells.filter((c) => c.outcome !== c.expected), milliseconds: performance.now() - t0 };
}
