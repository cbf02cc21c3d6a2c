// The attack conformance suite as a test: every cell of the matrix must match
// test/conformance/attacks/expected.ts, and every attack must really have acted (its change is in
// DRAM, the NPT or the node store, or the hardware refused it with the frame unchanged).
import { beforeAll, describe, expect, it } from "vitest";
import { ATTACKS } from "./attacks/attacks";
import { EXPECTED } from "./attacks/expected";
import { formatMatrix } from "./attacks/format-matrix";
import { ATTACK_IDS, COLUMNS } from "./attacks/matrix-axes";
import { runAttackSuite } from "./attacks/run-suite";
import type { SuiteReport } from "./attacks/run-suite";
import { prepareVictim, SECRET_SEED, vaultPage } from "./attacks/vault-victim";
import { guestApp } from "../enclavisor/fixtures/enclave";

let report: SuiteReport;
beforeAll(async () => {
  report = await runAttackSuite();
});

describe("the vault guest", () => {
  it("holds the secret the host expects, and its own check notices a change of one byte", async () => {
    const victim = await prepareVictim(guestApp("vault"), COLUMNS[0], null);
    try {
      // Native only: its host memory is the whole of its "DRAM", so the mirror can be checked there.
      expect(Buffer.compare(victim.surface.read("secret", "physical"), vaultPage(SECRET_SEED))).toBe(0);
      expect(victim.guest.secretMismatches(SECRET_SEED)).toBe(0);
      expect(victim.guest.secretMismatches(SECRET_SEED + 1)).toBeGreaterThan(4000);
      victim.surface.flipBits("secret", 4095, 0x80, "physical");
      expect(victim.guest.secretMismatches(SECRET_SEED)).toBe(1);
    } finally {
      victim.destroy();
    }
  });
});

describe("attack conformance matrix", () => {
  it("has every attack in every column", () => {
    expect(ATTACKS.map((a) => a.id)).toEqual([...ATTACK_IDS]);
    expect(report.cells).toHaveLength(ATTACK_IDS.length * COLUMNS.length);
  });

  it("matches the expected matrix in every cell", () => {
    const differ = report.mismatches.map((c) => `${c.attack} x ${c.column}: expected ${c.expected}, got ${c.outcome} (${c.evidence})`);
    expect(differ).toEqual([]);
    for (const c of report.cells) expect(c.outcome, `${c.attack} x ${c.column}`).toBe(EXPECTED[c.attack][c.column]);
  });

  it("has every attack really act, and says why an attack does not apply", () => {
    for (const c of report.cells) {
      if (c.outcome === "n/a") expect(c.evidence, `${c.attack} x ${c.column}`).toMatch(/^(native has no nested page table|no integrity tree|no page MACs)/);
      else expect(c.acted, `${c.attack} x ${c.column}: ${c.evidence}`).toBe(true);
    }
  });

  it("names what stopped or refused each attack", () => {
    for (const c of report.cells) {
      const where = `${c.attack} x ${c.column}`;
      if (c.outcome === "detected") {
        expect(c.evidence, where).toMatch(/^enclave stopped \(integrity\): .*integrity violation at (GPA|EPC address) 0x[0-9a-f]+: the .* check failed/);
      }
      if (c.outcome === "blocked" && c.attack !== "dram-read" && c.attack !== "side-channel") {
        expect(c.evidence, where).toMatch(c.column === "sgx"
          ? /EPCM check 'page-mismatch'|^abort-page semantics: a non-enclave write/
          : /RMP check '(hypervisor-write-to-assigned|gpa-mismatch)'/);
      }
      if (c.outcome === "corrupted") expect(c.evidence, where).toMatch(/^the guest ran on with wrong data: /);
    }
  });

  it("prints the matrix and names a cell that differs", () => {
    const lines = formatMatrix(report);
    expect(lines[0]).toMatch(/^attack\s+native\s+sev\s+sev-snp\s+enclavisor\s+enclavisor-merkle\s+sev\+hiding\s+enclavisor\+hiding\s+sgx$/);
    expect(lines.find((l) => l.startsWith("side-channel"))).toMatch(/LEAKED\s+LEAKED\s+LEAKED\s+LEAKED\s+LEAKED\s+blocked\s+blocked\s+blocked$/);
    // The same report with one cell expected otherwise: the printout marks it and names it.
    const cell = report.cells.find((c) => c.attack === "remap" && c.column === "sev-snp")!;
    const wrong = { ...cell, expected: "corrupted" as const };
    const altered: SuiteReport = { ...report, cells: report.cells.map((c) => (c === cell ? wrong : c)), mismatches: [wrong] };
    const out = formatMatrix(altered);
    expect(out.find((l) => l.startsWith("remap"))).toContain("blocked !CORRUPTED");
    expect(out).toContain(`  remap x sev-snp: expected corrupted, got blocked: ${cell.evidence}`);
  });
});
