// How the paging suite times its subjects: each works in timed batches, a turn's figure is the
// median of its batches, and every round gives every subject one turn, the first rotating.
import { median, nowMs, pause, percentile } from "../harness";

interface Sample {
  units: number;
  ms: number;
}

export interface Subject {
  name: string;
  /** Untimed, before each turn: puts the state the subject measures from in place. */
  prepare?: () => void;
  /** One batch of work, timed by the subject itself so that untimed preparation can sit around it. */
  batch: () => Sample;
}

/** One subject's turn: per unit, the median of its batches and the mean over the turn (ms). */
interface TurnFigure {
  median: number;
  mean: number;
}

/**
 * Runs batches for at least `ms` of timed work (and at least one batch). The turn's figure is the
 * median of its batches: on a shared 2-core machine a batch now and then loses the CPU to another
 * process for far longer than it runs, which the mean (kept as well) takes in whole.
 */
function turn(s: Subject, ms: number): TurnFigure {
  s.prepare?.();
  const rates: number[] = [];
  let units = 0;
  let spent = 0;
  const wallEnd = nowMs() + 4 * ms;
  do {
    const b = s.batch();
    rates.push(b.ms / b.units);
    units += b.units;
    spent += b.ms;
  } while (spent < ms && nowMs() < wallEnd);
  return { median: median(rates), mean: spent / units };
}

/** A warm-up turn each, then `rounds` rounds of one turn per subject, the first rotating. */
export async function runRounds(subjects: readonly Subject[], rounds: number, turnMs: number, log: (line: string) => void, what: string,
  afterWarmUp?: () => void): Promise<TurnFigure[][]> {
  for (const s of subjects) turn(s, turnMs);
  afterWarmUp?.();
  await pause(20);
  const samples = subjects.map(() => [] as TurnFigure[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const i = (k + r) % subjects.length;
      samples[i]!.push(turn(subjects[i]!, turnMs));
    }
    log(`${what}: round ${r + 1}/${rounds}`);
    await pause(1);
  }
  return samples;
}

export interface Measured {
  /** Median over the rounds of the turns' batch medians, in the unit of the part (µs per page, or ns per access). */
  median: number;
  p25: number;
  p75: number;
  /** Median over the rounds of the turns' means: with every stall the machine had. */
  meanMedian: number;
  samples: number[];
  meanSamples: number[];
}

export function measured(turns: readonly TurnFigure[], scale: number): Measured {
  const s = turns.map((t) => t.median * scale);
  const m = turns.map((t) => t.mean * scale);
  return { median: median(s), p25: percentile(s, 25), p75: percentile(s, 75), meanMedian: median(m), samples: s, meanSamples: m };
}

/** The same figures from one sample per round (the hit path's rounds, as the mmu suite takes them). */
export function measuredRounds(samples: readonly number[], scale: number): Measured {
  return measured(samples.map((v) => ({ median: v, mean: v })), scale);
}
