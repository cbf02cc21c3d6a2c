// Subjects that take one page miss per unit: through the guest's own MMU, as rewritten code takes
// it, and on the backing store alone (fill, write-back). Parts 1 and 2 time them.
import { PAGE_SIZE } from "../../host/page";
import { FAULT_WRITE, TAG_DIRTY, TAG_RESIDENT } from "../../host/wasm/layout";
import { nowMs } from "../harness";
import { SEED } from "./config";
import type { Subject } from "./rounds";
import { xorshift } from "./working-set";
import type { WorkingSet } from "./working-set";

/** Pages per timed batch of the miss-path subjects. */
export const BATCH_PAGES = 16;

/** Picks `n` distinct non-resident pages of the region, in order or at random. */
function pagePicker(ws: WorkingSet, order: "seq" | "random", seed: number): (n: number) => number[] {
  const mmu = ws.inst.mmu!;
  let i = 0;
  let x = seed;
  return (n) => {
    const out: number[] = [];
    for (let tries = 0; out.length < n; tries++) {
      if (tries > 4 * ws.pages) throw new Error("no non-resident page left in the working set: it must be larger than the cache");
      let p: number;
      if (order === "seq") {
        p = ws.firstPage + i;
        i = (i + 1) % ws.pages;
      } else {
        x = xorshift(x);
        p = ws.firstPage + Math.floor((x / 2 ** 32) * ws.pages);
      }
      if (!(mmu.tagOf(p) & TAG_RESIDENT) && !out.includes(p)) out.push(p);
    }
    return out;
  };
}

/** The integrity tree's work over a subject's misses, added up by missSubject. */
export interface TreeCounts {
  nodesVerified: number;
  cacheHits: number;
  cacheMisses: number;
  misses: number;
}

/**
 * A miss through the MMU's fault handler, as the rewritten code takes it: evict the oldest page
 * (written back when dirty, then scrubbed), fill the page, set its tag. A read miss starts from a
 * clean resident set (flushed before the turn), a write miss from an all-dirty one, so that every
 * read miss evicts a clean victim and every write miss a dirty one; the MMU's counters prove it.
 */
export function missSubject(ws: WorkingSet, write: boolean, order: "seq" | "random", name: string, counts?: TreeCounts): Subject {
  const mmu = ws.inst.mmu!;
  const pick = pagePicker(ws, order, SEED ^ (write ? 0x77 : 0x11));
  const info = write ? 1 | FAULT_WRITE : 1;
  const tree = ws.inst.tree;
  return {
    name,
    prepare: () => {
      if (!write) {
        mmu.flush();
        return;
      }
      const tags = mmu.guestBytes / PAGE_SIZE;
      for (let p = 0; p < tags; p++) {
        const t = mmu.tagOf(p);
        if (t & TAG_RESIDENT && !(t & TAG_DIRTY)) mmu.fault(p * PAGE_SIZE, 0, info);
      }
    },
    batch: () => {
      const pages = pick(BATCH_PAGES);
      const s0 = { ...mmu.stats };
      const t0 = tree ? { ...tree.stats } : undefined;
      const start = nowMs();
      for (const p of pages) mmu.fault(p * PAGE_SIZE, 0, info);
      const ms = nowMs() - start;
      const s = mmu.stats;
      const n = pages.length;
      if (s.fills - s0.fills !== n || s.evictions - s0.evictions !== n || s.writeBacks - s0.writeBacks !== (write ? n : 0)) {
        throw new Error(`${name}: ${n} faults made ${s.fills - s0.fills} fills, ${s.evictions - s0.evictions} evictions and ` +
          `${s.writeBacks - s0.writeBacks} write-backs; expected ${n}, ${n} and ${write ? n : 0}`);
      }
      if (counts && tree && t0) {
        counts.nodesVerified += tree.stats.nodesVerified - t0.nodesVerified;
        counts.cacheHits += tree.stats.cacheHits - t0.cacheHits;
        counts.cacheMisses += tree.stats.cacheMisses - t0.cacheMisses;
        counts.misses += n;
      }
      return { units: n, ms };
    },
  };
}

/** The backing store alone: fill into a scratch page, or write back a page's own contents. */
export function backingSubjects(ws: WorkingSet, label: string): Subject[] {
  const backing = ws.inst.backing!;
  const pickFill = pagePicker(ws, "seq", SEED);
  const pickWb = pagePicker(ws, "seq", SEED);
  const bufs = Array.from({ length: BATCH_PAGES }, () => new Uint8Array(PAGE_SIZE));
  return [
    {
      name: `${label}: fill`,
      batch: () => {
        const pages = pickFill(BATCH_PAGES);
        const start = nowMs();
        for (let k = 0; k < pages.length; k++) backing.load(pages[k]!, bufs[k]!);
        return { units: pages.length, ms: nowMs() - start };
      },
    },
    {
      name: `${label}: write-back`,
      batch: () => {
        // Each page's own contents, read untimed, so the guest's data stays what it was.
        const pages = pickWb(BATCH_PAGES);
        for (let k = 0; k < pages.length; k++) backing.load(pages[k]!, bufs[k]!);
        const start = nowMs();
        for (let k = 0; k < pages.length; k++) backing.store(pages[k]!, bufs[k]!);
        return { units: pages.length, ms: nowMs() - start };
      },
    },
  ];
}
