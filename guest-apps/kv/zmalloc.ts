// Every byte kv keeps, in unmanaged memory, counted as Redis's zmalloc.c counts it: the store's
// records, tables and lists, and the connections' buffers all come from here, so that INFO's
// used_memory is what kv holds now (it falls after DEL, FLUSHALL, expiry and overwrites) and
// maxmemory has a figure to compare with.
//
// Blocks of up to SLAB_MAX bytes come from slab size classes (slab.ts: an object never crosses a
// page); larger ones from the runtime's TLSF (segregated fit, O(1) alloc and free, neighbours
// coalesced on free). Both reuse freed memory before they grow it. A block counts for its usable
// size, as zmalloc counts malloc_usable_size: its class's size, or TLSF's block size read from its
// header (the u32 just below the payload: AssemblyScript's rt/common.ts BLOCK.mmInfo, whose two low
// bits are tags). The runtime's GC objects also live in TLSF but are not counted: with the store
// unmanaged they are only a request's temporaries.
import { SLAB_MAX, classAt, classOf, inSlab, sizeOfClass, slabAlloc, slabFree } from "./slab";

const BLOCK_OVERHEAD: usize = 4;
const TAGS_MASK: u32 = 3;

let used: u64 = 0;
let peak: u64 = 0;

// @ts-ignore: decorator
@inline function usable(p: usize): u64 {
  if (inSlab(p)) return <u64>sizeOfClass(classAt(p));
  return <u64>(load<u32>(p - BLOCK_OVERHEAD) & ~TAGS_MASK) + BLOCK_OVERHEAD;
}

export function zalloc(n: usize): usize {
  let p: usize;
  let size: u64;
  if (n != 0 && n <= SLAB_MAX) {
    const c = classOf(n);
    p = slabAlloc(c);
    size = <u64>sizeOfClass(c);
  } else {
    p = heap.alloc(n);
    size = usable(p);
  }
  used += size;
  if (used > peak) peak = used;
  return p;
}

/** Resizes the block at `p` (0: a new one), keeping its bytes up to the smaller size; it may move. */
export function zrealloc(p: usize, n: usize): usize {
  if (p == 0) return zalloc(n);
  const slab = inSlab(p);
  if (slab && n != 0 && n <= SLAB_MAX && classOf(n) == classAt(p)) return p; // the same class
  if (!slab && n > SLAB_MAX) {
    used -= usable(p);
    const q = heap.realloc(p, n);
    used += usable(q);
    if (used > peak) peak = used;
    return q;
  }
  const q = zalloc(n);
  memory.copy(q, p, <usize>min<u64>(usable(p), <u64>n));
  zfree(p);
  return q;
}

export function zfree(p: usize): void {
  if (p == 0) return;
  used -= usable(p);
  if (inSlab(p)) slabFree(p);
  else heap.free(p);
}

/** Bytes held now (INFO used_memory). */
export function usedMemory(): u64 {
  return used;
}

/** The most bytes held at once since start (INFO used_memory_peak). */
export function peakMemory(): u64 {
  return peak;
}
