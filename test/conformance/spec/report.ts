// Text report of a spec run: counts per script and per engine, then every failure and skip
// reason, aggregated.

import type { MmuStats } from "../../../host/wasm/mmu";
import { noMmuActivity } from "./engine";
import type { Note, ScriptRun } from "./run-script";

export interface EngineTotals {
  engine: string;
  scripts: number;
  pass: number;
  fail: number;
  skip: number;
  mmu: MmuStats;
}

export function totalsByEngine(runs: ScriptRun[]): EngineTotals[] {
  const byEngine = new Map<string, EngineTotals>();
  for (const r of runs) {
    let t = byEngine.get(r.engine);
    if (!t) {
      t = { engine: r.engine, scripts: 0, pass: 0, fail: 0, skip: 0, mmu: noMmuActivity() };
      byEngine.set(r.engine, t);
    }
    t.scripts++;
    t.pass += r.pass;
    t.fail += r.fail;
    t.skip += r.skip;
    for (const k of Object.keys(t.mmu) as Array<keyof MmuStats>) t.mmu[k] += r.mmu[k];
  }
  return [...byEngine.values()];
}

const counts = (r: { pass: number; fail: number; skip: number }) =>
  `pass ${String(r.pass).padStart(5)}  fail ${String(r.fail).padStart(3)}  skip ${String(r.skip).padStart(3)}`;

const mmuText = (m: MmuStats) =>
  `faults ${m.faults}, fills ${m.fills}, zero-fills ${m.zeroFills}, evictions ${m.evictions}, write-backs ${m.writeBacks}, bulk ops ${m.bulkOps}, fill runs ${m.fillRuns}, write-back batches ${m.writeBackBatches}, soft faults ${m.softFaults}`;

/** One line per (script, engine). */
export function scriptLine(r: ScriptRun): string {
  const mmu = r.engine === "native" ? "" : `  (${mmuText(r.mmu)})`;
  return `${r.file.padEnd(24)} ${r.engine.padEnd(9)} ${counts(r)}${mmu}`;
}

function aggregate(notes: Array<Note & { where: string }>, limit: number): string[] {
  const groups = new Map<string, string[]>();
  for (const n of notes) {
    const key = `${n.command}: ${n.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), n.where]);
  }
  return [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([reason, where]) => {
      const shown = where.slice(0, limit).join(", ") + (where.length > limit ? `, ... (${where.length - limit} more)` : "");
      return `  ${String(where.length).padStart(4)} x ${reason}\n         at ${shown}`;
    });
}

export function formatSummary(runs: ScriptRun[]): string {
  const out: string[] = [];
  for (const t of totalsByEngine(runs)) {
    const mmu = t.engine === "native" ? "" : `; MMU ${mmuText(t.mmu)}`;
    out.push(`TOTAL ${t.engine.padEnd(9)} ${t.scripts} scripts  ${counts(t)}${mmu}`);
  }
  for (const engine of new Set(runs.map((r) => r.engine))) {
    const mine = runs.filter((r) => r.engine === engine);
    const tag = (r: ScriptRun, n: Note) => ({ ...n, where: `${r.file}:${n.line}` });
    const fails = mine.flatMap((r) => r.failures.map((n) => tag(r, n)));
    const skips = mine.flatMap((r) => r.skips.map((n) => tag(r, n)));
    if (fails.length) out.push(`${engine}: failures`, ...aggregate(fails, 6));
    if (skips.length) out.push(`${engine}: skips`, ...aggregate(skips, 3));
    const rejected = new Map<string, number>();
    for (const r of mine) for (const [by, n] of Object.entries(r.rejectedBy)) rejected.set(by, (rejected.get(by) ?? 0) + n);
    if (rejected.size) out.push(`${engine}: invalid/malformed modules rejected by ${[...rejected].map(([by, n]) => `${by} ${n}`).join(", ")}`);
    const traps = new Map<string, number>();
    for (const r of mine) for (const t of r.traps) {
      const key = `"${t.expected}" -> "${t.actual}"`;
      traps.set(key, (traps.get(key) ?? 0) + 1);
    }
    if (traps.size) {
      out.push(`${engine}: expected traps (spec text -> engine message)`);
      for (const [k, n] of [...traps].sort((a, b) => b[1] - a[1])) out.push(`  ${String(n).padStart(4)} x ${k}`);
    }
  }
  return out.join("\n");
}
