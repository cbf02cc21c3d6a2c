// Part 1 of the paging suite: the miss path per page in each paged configuration (fill, write-back,
// read miss, write miss), beside what a page costs without paging.
import { PAGE_SIZE } from "../../host/page";
import { fmtBytes } from "../harness";
import type { Config } from "./config";
import { backingSubjects, missSubject } from "./misses";
import { nativeReadSubject, rawSubjects } from "./page-references";
import { measured, runRounds } from "./rounds";
import type { Measured, Subject } from "./rounds";
import { KINDS, PAGED } from "./testbed";
import type { Kind, TestBed } from "./testbed";
import { workingSet } from "./working-set";
import type { WorkingSet } from "./working-set";

export interface MissPathFigures {
  workingSetBytes: number;
  order: "seq";
  references: Record<string, Measured>;
  modes: Record<string, {
    setupUsPerPage: number;
    fill: Measured;
    writeBack: Measured;
    readMiss: Measured;
    writeMiss: Measured;
    /** write miss - read miss: what a dirty victim adds to a miss. */
    writeBackShareUs: number;
    readMissVsNative: number;
    readMissVsDecrypt: number;
    writeMissVsNative: number;
  }>;
}

export async function missPath(bed: TestBed, wsWasm: Uint8Array, cfg: Config, log: (line: string) => void): Promise<MissPathFigures> {
  log(`miss path: working sets of ${fmtBytes(cfg.missPathBytes)} (${cfg.missPathBytes / PAGE_SIZE} pages) in ${KINDS.join(", ")}`);
  const sets = new Map<Kind, WorkingSet>();
  for (const kind of KINDS) {
    sets.set(kind, await workingSet(bed, wsWasm, kind, cfg.missPathBytes));
    log(`miss path: ${kind} set up (${sets.get(kind)!.setupUsPerPage.toFixed(1)} µs/page)`);
  }
  try {
    const refs = [nativeReadSubject(sets.get("native")!), ...rawSubjects()];
    const per = new Map<Kind, Subject[]>();
    for (const kind of PAGED) {
      const ws = sets.get(kind)!;
      per.set(kind, [
        ...backingSubjects(ws, kind),
        missSubject(ws, false, "seq", `${kind}: read miss`),
        missSubject(ws, true, "seq", `${kind}: write miss`),
      ]);
    }
    const subjects = [...refs, ...PAGED.flatMap((k) => per.get(k)!)];
    const samples = await runRounds(subjects, cfg.rounds, cfg.turnMs, log, "miss path");
    const byName = new Map(subjects.map((s, i) => [s.name, measured(samples[i]!, 1000)] as const));
    const nativePage = byName.get(refs[0]!.name)!.median;
    const decrypt = byName.get(refs[1]!.name)!.median;
    const modes: MissPathFigures["modes"] = {};
    for (const kind of PAGED) {
      const [fill, writeBack, readMiss, writeMiss] = per.get(kind)!.map((s) => byName.get(s.name)!) as [Measured, Measured, Measured, Measured];
      modes[kind] = {
        setupUsPerPage: sets.get(kind)!.setupUsPerPage,
        fill, writeBack, readMiss, writeMiss,
        writeBackShareUs: writeMiss.median - readMiss.median,
        readMissVsNative: readMiss.median / nativePage,
        readMissVsDecrypt: readMiss.median / decrypt,
        writeMissVsNative: writeMiss.median / nativePage,
      };
      log(`${kind}: fill ${fill.median.toFixed(2)} µs, write-back ${writeBack.median.toFixed(2)} µs, ` +
        `read miss ${readMiss.median.toFixed(2)} µs, write miss ${writeMiss.median.toFixed(2)} µs per page`);
    }
    return {
      workingSetBytes: cfg.missPathBytes,
      order: "seq",
      references: Object.fromEntries(refs.map((s) => [s.name, byName.get(s.name)!])),
      modes,
    };
  } finally {
    for (const ws of sets.values()) ws.inst.destroy();
    bed.reset();
  }
}
