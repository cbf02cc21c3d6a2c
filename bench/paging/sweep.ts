// Part 4 of the paging suite: working sets from 1 MiB up, scanned in order and at random in every
// configuration and the sgx preset; time per access, slowdown against native, pages filled.
import { freemem } from "node:os";
import { fmtBytes, fmtRatio, nowMs, pause } from "../harness";
import { MiB } from "./config";
import type { Config } from "./config";
import { measured, runRounds } from "./rounds";
import type { Measured, Subject } from "./rounds";
import { SWEEP_KINDS, SWEEP_PAGED } from "./testbed";
import type { SweepKind, TestBed } from "./testbed";
import { workingSet, xorshift } from "./working-set";
import type { WorkingSet } from "./working-set";

/** Words per sequential call (1 MiB) and accesses per random call. */
export const SEQ_CHUNK_WORDS = MiB / 4;
export const RANDOM_ACCESSES = 4096;

interface SweepPoint {
  workingSetBytes: number;
  order: "seq" | "random";
  /** ns per access, per kind. */
  perKind: Record<string, Measured & { slowdown: number; fillsPer1000: number; exitsPer1000?: number }>;
}

interface SweepSkip {
  workingSetBytes: number;
  reason: string;
}

export interface SweepFigures {
  points: SweepPoint[];
  skipped: SweepSkip[];
}

/** Host memory a sweep point takes: native 1x, in-memory 2x (memory + store), each SEV mode 2x (memory + DRAM), sgx 2x (memory + EPC and evicted pages). */
const SWEEP_FOOTPRINT = 1 + 2 + 4 * 2 + 2;

export async function sweep(bed: TestBed, wsWasm: Uint8Array, cfg: Config, log: (line: string) => void): Promise<SweepFigures> {
  const points: SweepPoint[] = [];
  const skipped: SweepSkip[] = [];
  for (const mib of cfg.sweepMiB) {
    const size = mib * MiB;
    const need = SWEEP_FOOTPRINT * size * 1.2;
    const free = freemem();
    if (need > free) {
      const reason = `needs about ${fmtBytes(need)} of host memory, ${fmtBytes(free)} free`;
      skipped.push({ workingSetBytes: size, reason });
      log(`working set ${fmtBytes(size)}: skipped (${reason})`);
      continue;
    }
    const sets: WorkingSet[] = [];
    try {
      for (const kind of SWEEP_KINDS) {
        // Large sets take seconds per mode to write once (sgx past its EPC the longest): one line each.
        if (size >= 64 * MiB) log(`working set ${fmtBytes(size)}: setting up ${kind}`);
        sets.push(await workingSet(bed, wsWasm, kind, size, undefined, cfg.sweepEpcPages));
      }
      log(`working set ${fmtBytes(size)}: set up (` + sets.map((s) => `${s.inst.kind} ${s.setupUsPerPage.toFixed(1)} µs/page`).join(", ") + ")");
      // Tier the scans up on the first 64 KiB (resident in every mode) before anything is timed.
      for (const s of sets) {
        const end = nowMs() + 60;
        for (let i = 1; nowMs() < end; i++) {
          s.e.seqScan(0, 16384);
          s.e.randomScan(i, 256);
        }
      }
      await pause(20);
      points.push(await sweepPoint(sets, "seq", cfg, log), await sweepPoint(sets, "random", cfg, log));
    } finally {
      for (const s of sets) s.inst.destroy();
      sets.length = 0;
      bed.reset();
    }
  }
  return { points, skipped };
}

async function sweepPoint(sets: readonly WorkingSet[], order: "seq" | "random", cfg: Config, log: (line: string) => void): Promise<SweepPoint> {
  const native = sets[0]!;
  const size = native.words * 4;
  const reference = new Map<number, number>();
  /** The native result of the same call, computed untimed: every configuration must agree with it. */
  const expect = (arg: number, got: number, kind: SweepKind) => {
    let want = reference.get(arg);
    if (want === undefined) {
      const chunk = Math.min(SEQ_CHUNK_WORDS, native.words);
      want = order === "seq" ? native.e.seqScan(arg, chunk) : native.e.randomScan(arg, RANDOM_ACCESSES);
      reference.set(arg, want);
    }
    if (got !== want) throw new Error(`working set ${fmtBytes(size)}, ${order}: ${kind} returned ${got} where native returned ${want}`);
  };
  const fills = sets.map(() => ({ fills: 0, accesses: 0, exits: 0 }));
  const subjects: Subject[] = sets.map((ws, i) => {
    const chunk = Math.min(SEQ_CHUNK_WORDS, ws.words);
    let pos = 0;
    let seed = 1;
    let checked = false;
    return {
      name: `${ws.inst.kind}, ${order}`,
      prepare: () => {
        checked = false;
      },
      batch: () => {
        const arg = order === "seq" ? pos : seed;
        const mmu = ws.inst.mmu;
        const f0 = mmu?.stats.fills ?? 0;
        const x0 = ws.inst.exits?.count ?? 0;
        const start = nowMs();
        const sum = order === "seq" ? ws.e.seqScan(arg, chunk) : ws.e.randomScan(arg, RANDOM_ACCESSES);
        const ms = nowMs() - start;
        const accesses = order === "seq" ? chunk : RANDOM_ACCESSES;
        fills[i]!.fills += (mmu?.stats.fills ?? 0) - f0;
        fills[i]!.exits += (ws.inst.exits?.count ?? 0) - x0;
        fills[i]!.accesses += accesses;
        if (!checked && i > 0) {
          expect(arg, sum, ws.inst.kind);
          checked = true;
        }
        if (order === "seq") pos = (pos + chunk) % ws.words; // sizes are whole MiB: chunks tile the set
        else seed = xorshift(seed + 0x9e3779b9) || 1;
        return { units: accesses, ms };
      },
    };
  });
  const samples = await runRounds(subjects, cfg.sweepRounds, cfg.sweepTurnMs, log, `working set ${fmtBytes(size)}, ${order}`, () => {
    for (const f of fills) Object.assign(f, { fills: 0, accesses: 0, exits: 0 });
  });
  const nativeNs = measured(samples[0]!, 1e6).median;
  const point: SweepPoint = {
    workingSetBytes: size,
    order,
    perKind: Object.fromEntries(sets.map((ws, i) => {
      const m = measured(samples[i]!, 1e6);
      const per1000 = (n: number) => (1000 * n) / Math.max(1, fills[i]!.accesses);
      return [ws.inst.kind, { ...m, slowdown: m.median / nativeNs, fillsPer1000: per1000(fills[i]!.fills), ...(ws.inst.exits ? { exitsPer1000: per1000(fills[i]!.exits) } : {}) }];
    })),
  };
  log(`working set ${fmtBytes(size)}, ${order}: native ${nativeNs.toFixed(2)} ns/access; ` +
    SWEEP_PAGED.map((k) => `${k} ${fmtRatio(point.perKind[k]!.slowdown)}`).join(", "));
  return point;
}
