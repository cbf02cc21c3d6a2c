// Part 5 of the paging suite: the replacement policy. The MMU sees misses only (the inline check
// records nothing on a hit), so any policy but FIFO and random needs references the way hardware
// without accessed bits gets them: CLOCK over emulated reference bits, where the hand clears a
// page's tag instead of evicting it and the page's next access takes a soft fault (no fill) that
// sets its bit. Traces of page references, generated here, run through FIFO, random, CLOCK and
// LRU (a bound only: it needs every hit seen, which would cost a call per access). The estimated
// cost per access is the miss rate times the miss measured in part 1 plus the soft-fault rate
// times a soft fault measured beside it; a policy pays for itself where that beats FIFO's.
import { xorshift } from "./working-set";

export const POLICIES = ["FIFO", "random", "CLOCK (soft reference bits)", "LRU (bound: sees every hit)"] as const;
export type Policy = (typeof POLICIES)[number];

export interface PolicyRow {
  trace: string;
  perPolicy: Record<Policy, { missRate: number; softFaultRate: number; usPerAccess: number; vsFifo: number }>;
}

export interface EvictionFigures {
  cachePages: number;
  workingSetPages: number;
  accesses: number;
  missUs: number;
  softFaultUs: number;
  rows: PolicyRow[];
  /** The traces where a policy other than FIFO costs less by more than the margin, and which. */
  pays: { trace: string; policy: Policy; vsFifo: number }[];
  margin: number;
}

/** A policy worth its complexity must save more than this share of FIFO's cost. */
const MARGIN = 0.02;

type Trace = { name: string; next: () => number };

function traces(pages: number, cache: number, seed: number): Trace[] {
  let x = seed;
  const rand = () => (x = xorshift(x)) / 2 ** 32;
  // Zipf(0.99) over the pages, as YCSB's default key popularity: a key-value store's pages.
  const cdf = new Float64Array(pages);
  let sum = 0;
  for (let i = 0; i < pages; i++) cdf[i] = sum += 1 / Math.pow(i + 1, 0.99);
  for (let i = 0; i < pages; i++) cdf[i]! /= sum;
  const zipf = () => {
    const u = rand();
    let lo = 0;
    let hi = pages - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const hot = Math.floor(pages / 10);
  let seq = 0;
  let loop = 0;
  const loopPages = Math.floor(cache * 1.25);
  return [
    { name: `uniform over ${pages} pages`, next: () => Math.floor(rand() * pages) },
    { name: `Zipf 0.99 over ${pages} pages (key-value store)`, next: zipf },
    { name: `90% of accesses to ${hot} hot pages, 10% to the rest`, next: () => (rand() < 0.9 ? Math.floor(rand() * hot) : hot + Math.floor(rand() * (pages - hot))) },
    { name: `a loop over ${loopPages} pages (1.25x the cache)`, next: () => (loop = (loop + 1) % loopPages) },
    { name: `a sequential scan of ${pages} pages`, next: () => (seq = (seq + 1) % pages) },
  ];
}

/** Misses and soft faults of one policy over `n` references of a trace. */
function simulate(policy: Policy, next: () => number, pages: number, cache: number, n: number, seed: number): { misses: number; softFaults: number } {
  const slotOf = new Int32Array(pages).fill(-1);
  const ring = new Int32Array(cache);
  const ref = new Uint8Array(pages);
  const trapped = new Uint8Array(pages);
  // LRU: a doubly linked list through prev/next, most recent at head.
  const prev = new Int32Array(pages).fill(-1);
  const nxt = new Int32Array(pages).fill(-1);
  let head = -1;
  let tail = -1;
  const unlink = (p: number) => {
    if (prev[p]! >= 0) nxt[prev[p]!] = nxt[p]!;
    else head = nxt[p]!;
    if (nxt[p]! >= 0) prev[nxt[p]!] = prev[p]!;
    else tail = prev[p]!;
  };
  const pushHead = (p: number) => {
    prev[p] = -1;
    nxt[p] = head;
    if (head >= 0) prev[head] = p;
    head = p;
    if (tail < 0) tail = p;
  };
  let x = seed;
  let resident = 0;
  let hand = 0;
  let misses = 0;
  let softFaults = 0;
  for (let i = 0; i < n; i++) {
    const p = next();
    if (slotOf[p]! >= 0) {
      if (trapped[p]) {
        softFaults++;
        trapped[p] = 0;
        ref[p] = 1;
      }
      if (policy === "LRU (bound: sees every hit)") {
        unlink(p);
        pushHead(p);
      }
      continue;
    }
    misses++;
    let slot: number;
    if (resident < cache) slot = resident++;
    else if (policy === "FIFO") {
      slot = hand;
      hand = (hand + 1) % cache;
    } else if (policy === "random") {
      slot = (x = xorshift(x)) % cache;
    } else if (policy === "CLOCK (soft reference bits)") {
      // The faulting access counts as a reference; a pass of the hand clears the bit and traps the page.
      while (ref[ring[hand]!]) {
        ref[ring[hand]!] = 0;
        trapped[ring[hand]!] = 1;
        hand = (hand + 1) % cache;
      }
      slot = hand;
      hand = (hand + 1) % cache;
    } else {
      slot = slotOf[tail]!;
      unlink(tail);
    }
    if (misses > cache) {
      const victim = ring[slot]!;
      slotOf[victim] = -1;
      ref[victim] = 0;
      trapped[victim] = 0;
    }
    ring[slot] = p;
    slotOf[p] = slot;
    ref[p] = 1;
    if (policy === "LRU (bound: sees every hit)") pushHead(p);
  }
  return { misses, softFaults };
}

export function evictionPolicy(cachePages: number, accesses: number, missUs: number, softFaultUs: number, seed: number): EvictionFigures {
  const pages = 4 * cachePages;
  const rows: PolicyRow[] = [];
  const pays: EvictionFigures["pays"] = [];
  for (const t of traces(pages, cachePages, seed)) {
    const perPolicy = {} as PolicyRow["perPolicy"];
    for (const policy of POLICIES) {
      // Each policy sees the same references: the trace starts again from the same seed.
      const trace = traces(pages, cachePages, seed).find((u) => u.name === t.name)!;
      const { misses, softFaults } = simulate(policy, trace.next, pages, cachePages, accesses, seed ^ 0x5bd1e995);
      const missRate = misses / accesses;
      const softFaultRate = softFaults / accesses;
      perPolicy[policy] = { missRate, softFaultRate, usPerAccess: missRate * missUs + softFaultRate * softFaultUs, vsFifo: 0 };
    }
    for (const policy of POLICIES) perPolicy[policy].vsFifo = perPolicy[policy].usPerAccess / perPolicy.FIFO.usPerAccess;
    for (const policy of POLICIES) {
      if (policy === "FIFO" || policy === "LRU (bound: sees every hit)") continue;
      if (perPolicy[policy].vsFifo < 1 - MARGIN) pays.push({ trace: t.name, policy, vsFifo: perPolicy[policy].vsFifo });
    }
    rows.push({ trace: t.name, perPolicy });
  }
  return { cachePages, workingSetPages: pages, accesses, missUs, softFaultUs, rows, pays, margin: MARGIN };
}
