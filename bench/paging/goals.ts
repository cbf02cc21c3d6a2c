// The paging suite's goals, printed as met or not met and never asserted: the sev read miss at most
// 2x the raw page decrypt, enclavisor at most 3x sev, and the hit path as in the mmu suite.
import { fmtRatio } from "../harness";
import type { HitPathRow } from "./hit-path";
import type { MissPathFigures } from "./miss-path";

export const GOAL_SEV_VS_DECRYPT = 2;
export const GOAL_ENCLAVISOR_VS_SEV = 3;
/** The hit path counts as unchanged when a mode's ratio to native is within 10% of the in-memory one. */
export const GOAL_HIT_PATH_TOLERANCE = 1.1;

interface Goal {
  value: number;
  goal: number;
  met: boolean;
}

export interface Goals {
  sevMissVsRawDecrypt: Goal;
  enclavisorVsSevReadMiss: Goal;
  enclavisorVsSevWriteMiss: Goal;
  hitPathVsInMemory: { worst: number; goal: number; met: boolean; checks: { kernel: string; kind: string; vsInMemory: number }[] };
}

export const metText = (ok: boolean) => (ok ? "met" : "not met");

/** Each goal's measured value and whether it is met, each logged. */
export function goals(miss: MissPathFigures, hit: readonly HitPathRow[], log: (line: string) => void): Goals {
  const decrypt = miss.references["raw XTS decrypt, 1 page per call"]!.median;
  const sev = miss.modes.sev!;
  const encl = miss.modes.enclavisor!;
  const sevVsDecrypt = sev.readMiss.median / decrypt;
  const enclReadVsSev = encl.readMiss.median / sev.readMiss.median;
  const enclWriteVsSev = encl.writeMiss.median / sev.writeMiss.median;
  const hitChecks = hit.flatMap((r) => (["sev", "sev-snp", "enclavisor"] as const).map((kind) => ({
    kernel: r.kernel, kind, vsInMemory: r.perKind[kind]!.ratioToNative / r.perKind["in-memory"]!.ratioToNative,
  })));
  const hitWorst = Math.max(...hitChecks.map((c) => c.vsInMemory));
  const result: Goals = {
    sevMissVsRawDecrypt: { value: sevVsDecrypt, goal: GOAL_SEV_VS_DECRYPT, met: sevVsDecrypt <= GOAL_SEV_VS_DECRYPT },
    enclavisorVsSevReadMiss: { value: enclReadVsSev, goal: GOAL_ENCLAVISOR_VS_SEV, met: enclReadVsSev <= GOAL_ENCLAVISOR_VS_SEV },
    enclavisorVsSevWriteMiss: { value: enclWriteVsSev, goal: GOAL_ENCLAVISOR_VS_SEV, met: enclWriteVsSev <= GOAL_ENCLAVISOR_VS_SEV },
    hitPathVsInMemory: { worst: hitWorst, goal: GOAL_HIT_PATH_TOLERANCE, met: hitWorst <= GOAL_HIT_PATH_TOLERANCE, checks: hitChecks },
  };
  log(`goal sev read miss <= ${GOAL_SEV_VS_DECRYPT}x raw decrypt: ${fmtRatio(sevVsDecrypt)} (${metText(result.sevMissVsRawDecrypt.met)})`);
  log(`goal enclavisor <= ${GOAL_ENCLAVISOR_VS_SEV}x sev: read miss ${fmtRatio(enclReadVsSev)}, write miss ${fmtRatio(enclWriteVsSev)} ` +
    `(${metText(result.enclavisorVsSevReadMiss.met && result.enclavisorVsSevWriteMiss.met)})`);
  log(`goal hit path unchanged (within ${fmtRatio(GOAL_HIT_PATH_TOLERANCE)} of in-memory): worst ${fmtRatio(hitWorst)} (${metText(result.hitPathVsInMemory.met)})`);
  return result;
}
