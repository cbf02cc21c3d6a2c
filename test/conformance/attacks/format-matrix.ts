// Prints a suite report as the attack matrix (modes as columns, attacks as rows), then every cell
// that differs from the expected matrix, with its evidence.
import { ATTACKS } from "./attacks";
import type { Cell, SuiteReport } from "./run-suite";

const LABEL: Record<Cell["outcome"], string> = {
  leaked: "LEAKED",
  corrupted: "CORRUPTED",
  detected: "detected",
  blocked: "blocked",
  "n/a": "n/a",
  error: "ERROR",
};

export const LEGEND = [
  "LEAKED     the adversary learned plaintext or an equality of plaintexts",
  "CORRUPTED  the guest ran on with data its own check finds wrong (silently corrupted)",
  "detected   the integrity scheme (sgx: the MEE or ELDU) stopped the enclave, naming the attacked GPA / EPC address; the host ran on",
  "blocked    the RMP (sgx: the EPCM, or abort-page semantics) refused the action or the guest's access, data intact;",
  "           or only ciphertext/0xFF was seen",
  "n/a        nothing to attack in this mode (no NPT in native, no tree without integrity, no page MACs but the",
  "           counter tree's and SGX's)",
  "enclavisor the counter tree with a MAC per page; enclavisor-merkle the SHA-256 Merkle tree",
  "sgx        the OS's page tables stand in for the NPT; the MEE's version tree for the integrity tree",
  "a cell marked !x differs from the expected outcome x",
];

function cellText(c: Cell | undefined): string {
  if (!c) return "";
  return c.outcome === c.expected ? LABEL[c.outcome] : `${LABEL[c.outcome]} !${LABEL[c.expected]}`;
}

export function formatMatrix(report: SuiteReport): string[] {
  const columns = [...new Set(report.cells.map((c) => c.column))];
  const attacks = ATTACKS.filter((a) => report.cells.some((c) => c.attack === a.id));
  const at = (attack: string, column: string) => report.cells.find((c) => c.attack === attack && c.column === column);
  const rows = attacks.map((a) => [a.id, ...columns.map((col) => cellText(at(a.id, col)))]);
  const header = ["attack", ...columns];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const lines = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line), ""];
  for (const a of attacks) lines.push(`${a.id.padEnd(Math.max(...attacks.map((x) => x.id.length)))}  ${a.title}`);
  lines.push("", ...LEGEND);
  if (report.mismatches.length > 0) {
    lines.push("", `${report.mismatches.length} cell(s) differ from the expected matrix:`);
    for (const c of report.mismatches) {
      lines.push(`  ${c.attack} x ${c.column}: expected ${c.expected}, got ${c.outcome}: ${c.evidence}`);
    }
  }
  return lines;
}

/** One line per cell with its evidence (for --verbose). */
export function formatEvidence(report: SuiteReport): string[] {
  const w = Math.max(...report.cells.map((c) => `${c.attack} x ${c.column}`.length));
  return report.cells.map((c) => `${`${c.attack} x ${c.column}`.padEnd(w)}  ${c.outcome.padEnd(9)}  ${c.evidence}`);
}
