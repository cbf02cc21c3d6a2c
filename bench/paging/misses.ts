// Subjects that take page misses: through the guest's own MMU, as rewritten code takes them, in
// page order (a stream, which the MMU fills in runs and writes back in batches) or at random pages
// (one page per miss); and on the backing store alone (fill, write-back), and the integrity
// metadata of a page alone. Parts 1 and 2 time them.
import { PAGE_SIZE } from "../../host/page";
import { FAULT_WRITE, TAG_DIRTY, TAG_RESIDENT } from "../../host/wasm/layout";
import { DEFAULT_BATCH_PAGES, DEFAULT_CLEAN_AHEAD_PAGES } from "../../host/wasm/mmu";
import type { EnclaveMemory } from "../../host/enclavisor/enclave-memory";
import { nowMs } from "../harness";
import { SEED } from "./config";
import type { Subject } from "./rounds";
import { xorshift } from "./working-set";
import type { WorkingSet } from "./working-set";

/** Pages per timed batch of the one-page subjects. */
export const BATCH_PAGES = 16;
/** Pages per timed batch of a stream: four of the MMU's longest runs, so that every batch holds whole runs. */
export const STREAM_BATCH_PAGES = 4 * DEFAULT_BATCH_PAGES;

/** The MMU's batch sizes a subject runs with (SoftMmu.setBatching). */
export interface Batching {
  batchPages: number;
  cleanAhead: number;
}
export const BATCHED: Batching = { batchPages: DEFAULT_BATCH_PAGES, cleanAhead: DEFAULT_CLEAN_AHEAD_PAGES };
export const UNBATCHED: Batching = { batchPages: 1, cleanAhead: 1 };
/** The defaults but for a dirty victim written back alone. */
export const VICTIM_ALONE: Batching = { batchPages: DEFAULT_BATCH_PAGES, cleanAhead: 1 };

/**
 * Picks `n` distinct non-resident pages of the region at random, never the page right after the
 * one before (which the MMU would take for a stream): every fault is one miss of one page.
 */
function randomPicker(ws: WorkingSet, seed: number): (n: number) => number[] {
  const mmu = ws.inst.mmu!;
  let x = seed;
  let last = -2;
  return (n) => {
    const out: number[] = [];
    for (let tries = 0; out.length < n; tries++) {
      if (tries > 4 * ws.pages) throw new Error("no non-resident page left in the working set: it must be larger than the cache");
      x = xorshift(x);
      const p = ws.firstPage + Math.floor((x / 2 ** 32) * ws.pages);
      // Not resident at all: a page CLOCK trapped would take a soft fault, not a miss.
      if (!mmu.isResident(p) && !out.includes(p) && p !== last + 1) {
        out.push(p);
        last = p;
      }
    }
    return out;
  };
}

/** Picks `n` pages of the region in order, from where the last pick ended. */
function seqPicker(ws: WorkingSet): (n: number) => number[] {
  let i = 0;
  return (n) => {
    const out: number[] = [];
    for (let k = 0; k < n; k++, i = (i + 1) % ws.pages) out.push(ws.firstPage + i);
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

export interface MissOptions {
  counts?: TreeCounts;
  batching?: Batching;
}

/**
 * Misses through the MMU's fault handler, as the rewritten code takes them, timed per page.
 * - "random": a fault on a non-resident page: evict the oldest page (written back when dirty,
 *   with the next dirty ones due when batching), scrub it, fill the page, set its tag.
 * - "seq": the guest streaming through its working set, page after page: it faults only where its
 *   own check would (a read on a page not resident, a write on one not dirty), so the pages a run
 *   brought in cost no fault; units are pages streamed through, every one of them past the cache.
 * A read starts from a clean resident set (flushed before the turn), a write from an all-dirty one,
 * so that every victim of a read is clean and every victim of a write dirty; the MMU's counters
 * prove it after each batch.
 */
export function missSubject(ws: WorkingSet, write: boolean, order: "seq" | "random", name: string, opts: MissOptions = {}): Subject {
  const mmu = ws.inst.mmu!;
  const batching = opts.batching ?? BATCHED;
  // Each subject its own random pages: two that shared a sequence would find each other's pages
  // just evicted, their frames and tree nodes still in the CPU's caches.
  const seed = SEED ^ (write ? 0x77 : 0x11) ^ (batching.batchPages << 8) ^ (batching.cleanAhead << 16);
  const pick = order === "seq" ? seqPicker(ws) : randomPicker(ws, seed);
  const perBatch = order === "seq" ? STREAM_BATCH_PAGES : BATCH_PAGES;
  const info = write ? 4 | FAULT_WRITE : 4;
  const need = write ? TAG_DIRTY : TAG_RESIDENT;
  const tree = ws.inst.tree;
  const counts = opts.counts;
  const touch = (pages: readonly number[]) => {
    for (const p of pages) if (!(mmu.tagOf(p) & need)) mmu.fault(p * PAGE_SIZE, 0, info);
  };
  return {
    name,
    prepare: () => {
      mmu.setBatching(batching);
      if (!write) mmu.flush();
      if (order === "seq") {
        // Two cache-fulls of the stream first, untimed: the resident set is then the stream's own
        // pages (clean for a read, dirty for a write), not what other subjects left behind.
        touch(pick(2 * mmu.capacity));
        return;
      }
      // Two cache-fulls of its own misses first, untimed, for the same reason: the state the turn
      // starts from is the subject's own, not the one the subject before it left.
      for (let k = 0; k < (2 * mmu.capacity) / perBatch; k++) touch(pick(perBatch));
      if (!write) return;
      // Every resident page dirty, those CLOCK trapped too (a fault on one is a soft fault).
      const tags = mmu.guestBytes / PAGE_SIZE;
      for (let p = 0; p < tags; p++) if (mmu.isResident(p) && !(mmu.tagOf(p) & TAG_DIRTY)) mmu.fault(p * PAGE_SIZE, 0, info);
    },
    batch: () => {
      const pages = pick(perBatch);
      const s0 = { ...mmu.stats };
      const t0 = tree ? { ...tree.stats } : undefined;
      const start = nowMs();
      touch(pages);
      const ms = nowMs() - start;
      const s = mmu.stats;
      const n = pages.length;
      const [fills, evictions, writeBacks] = [s.fills - s0.fills, s.evictions - s0.evictions, s.writeBacks - s0.writeBacks];
      // A stream's runs reach past a batch's last page, and take pages of the next batch with them;
      // and a page another subject left resident costs the stream nothing.
      const slack = order === "seq" ? batching.batchPages : 0;
      const fewest = order === "seq" ? 0 : n;
      // A dirty victim goes back with up to cleanAhead - 1 more dirty pages (which CLOCK's hand may
      // then pass over for a while): at most cleanAhead write-backs per eviction.
      const most = write ? evictions * batching.cleanAhead : 0;
      if (fills < fewest || fills > n + slack || evictions !== fills || writeBacks > most || (write && evictions > 0 && writeBacks === 0 && batching.cleanAhead === 1)) {
        throw new Error(`${name}: ${n} pages made ${fills} fills, ${evictions} evictions and ${writeBacks} write-backs; ` +
          `expected ${fewest}..${n + slack}, as many evictions, and ${write ? `at most ${most}` : "no"} write-backs`);
      }
      if (counts && tree && t0) {
        counts.nodesVerified += tree.stats.nodesVerified - t0.nodesVerified;
        counts.cacheHits += tree.stats.cacheHits - t0.cacheHits;
        counts.cacheMisses += tree.stats.cacheMisses - t0.cacheMisses;
        counts.misses += fills;
      }
      return { units: n, ms };
    },
  };
}

/** The backing store alone, one page per call: fill into a scratch page, or write back a page's own contents. */
export function backingSubjects(ws: WorkingSet, label: string): Subject[] {
  const backing = ws.inst.backing!;
  const pickFill = seqPicker(ws);
  const pickWb = seqPicker(ws);
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

/**
 * The counter tree's metadata of one page alone, at random pages: its version from the leaf (in
 * the verified-node cache) and its MAC from the MAC store in DRAM, as a fill asks for them.
 */
export function metadataSubject(ws: WorkingSet, label: string): Subject {
  const macs = ws.inst.tree?.pageMacs;
  if (!macs) throw new Error(`${label}: the integrity scheme keeps no MAC per page`);
  const memory = ws.inst.backing as EnclaveMemory;
  const pick = randomPicker(ws, SEED ^ 0x33);
  return {
    name: `${label}: page MAC and version (metadata of one fill)`,
    batch: () => {
      const gpas = pick(BATCH_PAGES).map((p) => memory.pageTable.lookup(p)!.gpa);
      const start = nowMs();
      for (const gpa of gpas) macs.loadMac(gpa);
      return { units: gpas.length, ms: nowMs() - start };
    },
  };
}

/**
 * A fault that fills nothing: a write to a resident clean page, which only sets its tag. A CLOCK
 * soft fault (mmu.ts) takes the same path, so this is what emulating a reference bit costs.
 */
export function softFaultSubject(ws: WorkingSet, label: string): Subject {
  const mmu = ws.inst.mmu!;
  const info = 4 | FAULT_WRITE;
  const clean = (): number[] => {
    const out: number[] = [];
    for (let p = ws.firstPage; p < ws.firstPage + ws.pages && out.length < BATCH_PAGES; p++) {
      if ((mmu.tagOf(p) & (TAG_RESIDENT | TAG_DIRTY)) === TAG_RESIDENT) out.push(p);
    }
    return out;
  };
  return {
    name: `${label}: a fault without a fill (a soft fault)`,
    prepare: () => mmu.flush(),
    batch: () => {
      let pages = clean();
      if (pages.length < BATCH_PAGES) {
        mmu.flush(); // untimed: every resident page clean again
        pages = clean();
      }
      const s0 = mmu.stats.fills + mmu.stats.zeroFills;
      const start = nowMs();
      for (const p of pages) mmu.fault(p * PAGE_SIZE, 0, info);
      const ms = nowMs() - start;
      if (mmu.stats.fills + mmu.stats.zeroFills !== s0) throw new Error(`${label}: a fault on a resident page filled a page`);
      return { units: pages.length, ms };
    },
  };
}
