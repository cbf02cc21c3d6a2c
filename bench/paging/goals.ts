// The paging suite's goals, printed as met or not met and never asserted: the miss path against
// the raw one-page XTS decrypt, enclavisor against sev, and slowdowns against native once working
// sets pass the resident cache. Each goal takes the worst of what it covers.
import { fmtRatio } from "../harness";
import type { HitPathRow } from "./hit-path";
import { REF_DECRYPT } from "./miss-path";
import type { MissKind, MissPathFigures } from "./miss-path";
import type { SweepFigures } from "./sweep";

/** A mode's hit path counts as unchanged when its ratio to native is within 10% of the in-memory rewrite's. */
export const GOAL_HIT_PATH_TOLERANCE = 1.1;

export interface GoalRow {
  goal: string;
  /** How the value comes about, e.g. "2.65 µs / 0.69 µs". */
  measured: string;
  value: number;
  limit: number;
  met: boolean;
}

export const metText = (ok: boolean) => (ok ? "met" : "not met");

const us = (v: number) => `${v.toFixed(2)} µs`;

/** Each goal's measured value and whether it is met, each logged. */
export function goals(miss: MissPathFigures, sweep: SweepFigures, hit: readonly HitPathRow[], cacheBytes: number, log: (line: string) => void): GoalRow[] {
  const decrypt = miss.references[REF_DECRYPT]!.median;
  const encl = miss.modes.enclavisor!.misses;
  const sev = miss.modes.sev!.misses;
  const rows: GoalRow[] = [];
  const add = (goal: string, measured: string, value: number, limit: number) => rows.push({ goal, measured, value, limit, met: value <= limit });
  const vsDecrypt = (what: string, m: MissKind, limit: number) =>
    add(`enclavisor ${what} ≤ ${limit}x the raw one-page XTS decrypt`, `${us(encl[m].median)} / ${us(decrypt)}`, encl[m].median / decrypt, limit);
  vsDecrypt("read miss, in page order", "seq read", 5);
  vsDecrypt("read miss, at random", "random read", 7);
  vsDecrypt("dirty write miss, in page order", "seq write", 10);
  vsDecrypt("dirty write miss, at random", "random write", 13);
  const worst = (ms: readonly MissKind[], f: (m: MissKind) => number) => ms.reduce((a, b) => (f(b) > f(a) ? b : a));
  const all: readonly MissKind[] = ["seq read", "random read", "seq write", "random write"];
  const ratio = (m: MissKind) => encl[m].median / sev[m].median;
  const w = worst(all, ratio);
  add("enclavisor ≤ 1.5x sev on every miss", `${w}: ${us(encl[w].median)} / ${us(sev[w].median)}`, ratio(w), 1.5);
  const sevRead = worst(["seq read", "random read"], (m) => sev[m].median);
  add("sev read miss ≤ 2x the raw one-page XTS decrypt", `${sevRead}: ${us(sev[sevRead].median)} / ${us(decrypt)}`, sev[sevRead].median / decrypt, 2);
  for (const order of ["random", "seq"] as const) {
    const past = sweep.points.filter((p) => p.order === order && p.workingSetBytes > cacheBytes);
    if (past.length === 0) continue;
    const p = past.reduce((a, b) => (b.perKind.enclavisor!.slowdown > a.perKind.enclavisor!.slowdown ? b : a));
    const sizes = `${past[0]!.workingSetBytes / 2 ** 20}-${past[past.length - 1]!.workingSetBytes / 2 ** 20} MiB`;
    const limit = order === "random" ? 150 : 5;
    add(`enclavisor ${order === "random" ? "random" : "sequential"} reads past the cache (${sizes}) ≤ ${limit}x native`,
      `worst at ${p.workingSetBytes / 2 ** 20} MiB: ${p.perKind.enclavisor!.median.toFixed(1)} ns / ${p.perKind.native!.median.toFixed(2)} ns`,
      p.perKind.enclavisor!.slowdown, limit);
  }
  const hitChecks = hit.flatMap((r) => Object.keys(r.perKind).filter((k) => k !== "native" && k !== "in-memory")
    .map((kind) => r.perKind[kind]!.ratioToNative / r.perKind["in-memory"]!.ratioToNative));
  add(`hit path: every mode's ratio to native within ${fmtRatio(GOAL_HIT_PATH_TOLERANCE)} of the in-memory rewrite (part 3)`,
    "worst", Math.max(...hitChecks), GOAL_HIT_PATH_TOLERANCE);
  for (const r of rows) log(`goal ${r.goal}: ${r.measured} = ${fmtRatio(r.value)} (${metText(r.met)})`);
  return rows;
}
