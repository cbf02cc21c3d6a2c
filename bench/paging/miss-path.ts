// Part 1 of the paging suite: the miss path per page in each paged configuration, in page order (a
// stream, filled in runs) and at random pages (one page per miss), for reads (clean victims) and
// writes (dirty victims); with the MMU's batches and without them, where they apply; beside what a
// page costs without paging, and one miss broken down by component.
import { PAGE_SIZE } from "../../host/page";
import { fmtBytes } from "../harness";
import type { Config } from "./config";
import { BATCHED, UNBATCHED, VICTIM_ALONE, backingSubjects, metadataSubject, missSubject, softFaultSubject } from "./misses";
import { nativeReadSubject, rawSubjects } from "./page-references";
import { measured, runRounds } from "./rounds";
import type { Measured, Subject } from "./rounds";
import { KINDS, PAGED } from "./testbed";
import type { Kind, TestBed } from "./testbed";
import { workingSet } from "./working-set";
import type { WorkingSet } from "./working-set";

/** The four misses of a configuration: read or write, in page order or at random. */
export const MISSES = ["seq read", "random read", "seq write", "random write"] as const;
export type MissKind = (typeof MISSES)[number];
/**
 * Where the MMU's batches change anything, timed with less batching too: streams one page per call
 * (no runs), and random dirty misses with each dirty victim written back alone (no clean-ahead).
 */
export const UNBATCHED_MISSES: readonly MissKind[] = ["seq read", "seq write", "random write"];
const ablation = (m: MissKind) => (m === "random write" ? VICTIM_ALONE : UNBATCHED);
export const ablationLabel = (m: MissKind) => (m === "random write" ? "each victim alone" : "one page per call");
/** The configurations timed without batches as well. */
export const ABLATED: readonly Kind[] = ["sev", "enclavisor"];

export const REF_NATIVE_PAGE = "native: read a page (seq scan of 4 KiB)";
export const REF_DECRYPT = "raw XTS decrypt, 1 page per call";
export const REF_FUSED = "XTS decrypt + GMAC check, 1 page per call";

export interface ModeMisses {
  setupUsPerPage: number;
  fill: Measured;
  writeBack: Measured;
  /** µs per page, with the MMU's batches. */
  misses: Record<MissKind, Measured>;
  /** The same with other batch sizes (ablationLabel), where ABLATED. */
  unbatched?: Partial<Record<MissKind, Measured>>;
  /** The counter tree's metadata of one fill, alone (enclavisor). */
  metadata?: Measured;
  /** A fault that fills nothing (what a CLOCK soft fault costs), where timed. */
  softFault?: Measured;
}

/** One random read miss taken apart (µs): the parts add up to the miss. */
export interface MissBreakdown {
  kind: Kind;
  total: number;
  parts: { part: string; us: number }[];
}

export interface MissPathFigures {
  workingSetBytes: number;
  references: Record<string, Measured>;
  modes: Record<string, ModeMisses>;
  breakdown: MissBreakdown[];
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
    const named = new Map<string, Subject>();
    const add = (s: Subject) => {
      named.set(s.name, s);
      return s.name;
    };
    const plan = new Map<Kind, { fill: string; writeBack: string; misses: Record<string, string>; unbatched: Record<string, string>; metadata?: string; softFault?: string }>();
    for (const kind of PAGED) {
      const ws = sets.get(kind)!;
      const [fill, writeBack] = backingSubjects(ws, kind).map(add) as [string, string];
      const misses = Object.fromEntries(MISSES.map((m) => [m, add(missSubject(ws, m.endsWith("write"), m.startsWith("seq") ? "seq" : "random", `${kind}: ${m} miss`, { batching: BATCHED }))]));
      const unbatched = ABLATED.includes(kind)
        ? Object.fromEntries(UNBATCHED_MISSES.map((m) => [m, add(missSubject(ws, m.endsWith("write"), m.startsWith("seq") ? "seq" : "random", `${kind}: ${m} miss, ${ablationLabel(m)}`, { batching: ablation(m) }))]))
        : {};
      const metadata = ws.inst.tree?.pageMacs ? add(metadataSubject(ws, kind)) : undefined;
      const softFault = kind === "enclavisor" ? add(softFaultSubject(ws, kind)) : undefined;
      plan.set(kind, { fill, writeBack, misses, unbatched, metadata, softFault });
    }
    const subjects = [...refs, ...named.values()];
    const samples = await runRounds(subjects, cfg.rounds, cfg.turnMs, log, "miss path");
    const byName = new Map(subjects.map((s, i) => [s.name, measured(samples[i]!, 1000)] as const));
    const get = (name: string) => byName.get(name)!;
    const modes: Record<string, ModeMisses> = {};
    for (const kind of PAGED) {
      const p = plan.get(kind)!;
      const m: ModeMisses = {
        setupUsPerPage: sets.get(kind)!.setupUsPerPage,
        fill: get(p.fill),
        writeBack: get(p.writeBack),
        misses: Object.fromEntries(MISSES.map((k) => [k, get(p.misses[k]!)])) as Record<MissKind, Measured>,
        ...(Object.keys(p.unbatched).length > 0 ? { unbatched: Object.fromEntries(Object.entries(p.unbatched).map(([k, n]) => [k, get(n)])) } : {}),
        ...(p.metadata ? { metadata: get(p.metadata) } : {}),
        ...(p.softFault ? { softFault: get(p.softFault) } : {}),
      };
      modes[kind] = m;
      log(`${kind}: ` + MISSES.map((k) => `${k} ${m.misses[k].median.toFixed(2)} µs`).join(", ") + ` per page; fill ${m.fill.median.toFixed(2)}, write-back ${m.writeBack.median.toFixed(2)}`);
    }
    const references = Object.fromEntries(refs.map((s) => [s.name, get(s.name)]));
    return { workingSetBytes: cfg.missPathBytes, references, modes, breakdown: breakdown(modes, references) };
  } finally {
    for (const ws of sets.values()) ws.inst.destroy();
    bed.reset();
  }
}

/**
 * A random read miss by component, from subjects timed side by side: the MMU's own part (the miss
 * through the fault handler less the backing's fill), and within the fill, the memory engine's
 * call (its one-page reference: the fused decrypt and MAC check with a MAC per page, the plain
 * decrypt otherwise), the counter tree's metadata (enclavisor), and the rest (page table, frame
 * ownership, NPT and RMP, the guard; for the Merkle tree also its SHA-256 of the page).
 */
function breakdown(modes: Record<string, ModeMisses>, refs: Record<string, Measured>): MissBreakdown[] {
  return PAGED.filter((k) => k !== "in-memory").map((kind) => {
    const m = modes[kind]!;
    const total = m.misses["random read"].median;
    const fill = m.fill.median;
    const crypto = (m.metadata ? refs[REF_FUSED]! : refs[REF_DECRYPT]!).median;
    const metadata = m.metadata?.median ?? 0;
    const parts = [
      { part: m.metadata ? "decrypt + MAC check (one native call)" : "decrypt (one native call)", us: crypto },
      ...(m.metadata ? [{ part: "page version and MAC (counter tree)", us: metadata }] : []),
      { part: kind === "enclavisor-merkle" ? "page table, ownership, NPT/RMP, tree walk and SHA-256" : "page table, ownership, NPT/RMP", us: fill - crypto - metadata },
      { part: "MMU: fault, victim scrub, tags", us: total - fill },
    ];
    return { kind, total, parts };
  });
}
