// Every byte kv keeps, in unmanaged memory, counted as Redis's zmalloc.c counts it: the store's
// records, tables and lists, and the connections' buffers all come from here, so that INFO's
// used_memory is what kv holds now (it falls after DEL, FLUSHALL, expiry and overwrites) and
// maxmemory has a figure to compare with.
//
// Blocks of up to SLAB_MAX bytes come from slab size classes (slab.ts: an object never crosses a
// page); larger ones from runs of pages (page-heap.ts). Both reuse freed memory before they grow
// it, and both say when memory is out: zalloc and zrealloc then return 0 and change nothing, and
// the caller answers -OOM or closes its connection; no allocation here ever traps. A block counts
// for its usable size, as zmalloc counts malloc_usable_size: its class's size, or its run's pages
// less the run header. The runtime's GC objects live in AssemblyScript's TLSF and are not counted:
// with the store unmanaged they are only a request's temporaries.
import { heapAlloc, heapFree, heapGrowInPlace, heapLimit, heapUsable } from "./page-heap";
import { SLAB_MAX, classAt, classOf, inSlab, sizeOfClass, slabAlloc, slabFree } from "./slab";

let used: u64 = 0;
let peak: u64 = 0;

/** Bytes the block at `p` holds (what it counts for). */
export function zusable(p: usize): usize {
  return inSlab(p) ? sizeOfClass(classAt(p)) : heapUsable(p);
}

/** A block of at least `n` bytes, or 0 when memory is out. */
export function zalloc(n: usize): usize {
  const p = n != 0 && n <= SLAB_MAX ? slabAlloc(classOf(n)) : heapAlloc(n);
  if (p == 0) return 0;
  used += <u64>zusable(p);
  if (used > peak) peak = used;
  return p;
}

/**
 * Resizes the block at `p` (0: a new one), keeping its bytes up to the smaller size; it may move.
 * Returns 0, `p` still valid and unchanged, when memory is out.
 */
export function zrealloc(p: usize, n: usize): usize {
  if (p == 0) return zalloc(n);
  const had = zusable(p);
  if (inSlab(p)) {
    if (n != 0 && n <= SLAB_MAX && classOf(n) == classAt(p)) return p; // the same class
  } else if (n > SLAB_MAX && heapGrowInPlace(p, n)) {
    used += <u64>(zusable(p) - had);
    if (used > peak) peak = used;
    return p;
  }
  const q = zalloc(n);
  if (q == 0) return 0;
  memory.copy(q, p, min<usize>(had, n));
  zfree(p);
  return q;
}

export function zfree(p: usize): void {
  if (p == 0) return;
  used -= <u64>zusable(p);
  if (inSlab(p)) slabFree(p);
  else heapFree(p);
}

/**
 * About how many more bytes kv may allocate before memory is out (its heap's limit less what is
 * held): commands that store several things check it first, so that they rarely run out half-way.
 */
export function memoryAvailable(): u64 {
  const limit = heapLimit();
  return limit > used ? limit - used : 0;
}

/** Bytes held now (INFO used_memory). */
export function usedMemory(): u64 {
  return used;
}

/** The most bytes held at once since start (INFO used_memory_peak). */
export function peakMemory(): u64 {
  return peak;
}
