// Slab size classes for kv's small blocks (records, list items, small buffers): every object lies
// inside one 4 KiB page, so reading a record of up to SLAB_MAX bytes under the software MMU fills
// one page, never two. A slab is one page: a 16-byte header, then objects of its class. Class sizes
// are (4080 / k) rounded down to 16 bytes for k = 1 to 255, so a page wastes less than one object
// at its end; a block takes the smallest class that holds it (Redis's jemalloc also rounds up to
// size classes: 1024, 1280... for a 1 KB value).
//
//   page header: u16 class | u16 objects in use | u16 first free object (offset; 0: none) |
//                u16 first never-used object (offset) | u32 previous page | u32 next page
//
// A class keeps a list of its pages that have room (linked through their headers); a full page
// leaves it, and a page emptied goes back to a pool any class can take from. Free objects are
// linked through their first u16. All the bookkeeping a block needs is in its own page: allocating
// or freeing touches that page and the class heads (one static page), nothing else.
//
// Pages come from page-heap.ts in runs of CHUNK_PAGES (after the run's header page), and are kept
// for reuse, never given back. A bitmap of the 4 GiB address space (one bit per page) tells slab
// pages from the heap's blocks when a block is freed. When the heap has no more memory, slabAlloc
// returns 0.
import { RUN_HEADER, heapAlloc } from "./page-heap";

const PAGE_BYTES: usize = 4096;
export const SLAB_MAX: usize = 4080;
const HEADER: usize = 16;
const CHUNK_PAGES: usize = 64;
const MAX_CLASSES = 128;

/** Per class: its object size, objects per page, and the first page with room (0: none). */
const classSize = memory.data(MAX_CLASSES * 2);
const classCapacity = memory.data(MAX_CLASSES * 2);
const classHead = memory.data(MAX_CLASSES * 4);
/** Class of a block of n bytes, by (n + 15) >> 4 (n <= SLAB_MAX). */
const classOfUnits = memory.data(<i32>(SLAB_MAX >> 4) + 1);
/** One bit per 4 KiB page of the address space: set for slab pages. */
const slabPages = memory.data(1 << 17);

let pool: usize = 0; // emptied pages, linked through their first u32
let chunkNext: usize = 0;
let chunkEnd: usize = 0;

function init(): void {
  const units = <i32>(SLAB_MAX >> 4);
  // Descending sizes: class c holds (4080 / k) & ~15 for the k at which that size first appears.
  const sizes = new StaticArray<u16>(MAX_CLASSES);
  let n = 0;
  for (let k: usize = 1; k <= 255; k++) {
    const size = <u16>(((SLAB_MAX) / k) & ~15);
    if (size < 16) break;
    if (n > 0 && unchecked(sizes[n - 1]) == size) continue;
    unchecked((sizes[n++] = size));
  }
  // Ascending class numbers for ascending sizes.
  for (let c = 0; c < n; c++) {
    const size = unchecked(sizes[n - 1 - c]);
    store<u16>(classSize + (<usize>c << 1), size);
    store<u16>(classCapacity + (<usize>c << 1), <u16>((PAGE_BYTES - HEADER) / <usize>size));
  }
  let c = 0;
  for (let u = 1; u <= units; u++) {
    while (<i32>load<u16>(classSize + (<usize>c << 1)) < u << 4) c++;
    store<u8>(classOfUnits + <usize>u, <u8>c);
  }
  store<u8>(classOfUnits, 0);
}
init();

/** The class of a block of `n` bytes (1 to SLAB_MAX). */
// @ts-ignore: decorator
@inline export function classOf(n: usize): i32 {
  return load<u8>(classOfUnits + ((n + 15) >> 4));
}

// @ts-ignore: decorator
@inline export function sizeOfClass(c: i32): usize {
  return load<u16>(classSize + (<usize>c << 1));
}

/** Is `p` in a slab page (not a TLSF block)? */
// @ts-ignore: decorator
@inline export function inSlab(p: usize): bool {
  const page = p >> 12;
  return (load<u8>(slabPages + (page >> 3)) & (1 << <u8>(page & 7))) != 0;
}

/** The class of the slab object at `p`. */
// @ts-ignore: decorator
@inline export function classAt(p: usize): i32 {
  return load<u16>(p & ~(PAGE_BYTES - 1));
}

/** An object of class `c`, or 0 when memory is out. */
export function slabAlloc(c: i32): usize {
  let page = load<u32>(classHead + (<usize>c << 2));
  if (page == 0) {
    page = <u32>newPage(c);
    if (page == 0) return 0;
  }
  const p = <usize>page;
  const size = sizeOfClass(c);
  let off = <usize>load<u16>(p, 4);
  if (off != 0) {
    store<u16>(p, load<u16>(p + off), 4); // the next free object
  } else {
    off = <usize>load<u16>(p, 6);
    store<u16>(p, <u16>(off + size), 6);
  }
  const used = load<u16>(p, 2) + 1;
  store<u16>(p, used, 2);
  if (used == load<u16>(classCapacity + (<usize>c << 1))) unlink(c, p); // full
  return p + off;
}

export function slabFree(obj: usize): void {
  const p = obj & ~(PAGE_BYTES - 1);
  const c = <i32>load<u16>(p);
  const used = load<u16>(p, 2);
  store<u16>(obj, load<u16>(p, 4));
  store<u16>(p, <u16>(obj - p), 4);
  if (used == load<u16>(classCapacity + (<usize>c << 1))) link(c, p); // had no room: it has now
  store<u16>(p, used - 1, 2);
  if (used == 1) {
    unlink(c, p);
    store<u32>(p, <u32>pool);
    pool = p;
  }
}

/** A page for class `c`, listed as having room; 0 when memory is out. */
function newPage(c: i32): usize {
  let p = pool;
  if (p != 0) {
    pool = <usize>load<u32>(p);
  } else {
    if (chunkNext == chunkEnd) {
      // A run of CHUNK_PAGES + 1 pages: its header takes the first page, the rest are slabs.
      const raw = heapAlloc(CHUNK_PAGES * PAGE_BYTES + PAGE_BYTES - RUN_HEADER);
      if (raw == 0) return 0;
      chunkNext = (raw + PAGE_BYTES - 1) & ~(PAGE_BYTES - 1);
      chunkEnd = chunkNext + CHUNK_PAGES * PAGE_BYTES;
      for (let q = chunkNext; q < chunkEnd; q += PAGE_BYTES) {
        const page = q >> 12;
        const bits = slabPages + (page >> 3);
        store<u8>(bits, load<u8>(bits) | <u8>(1 << <u8>(page & 7)));
      }
    }
    p = chunkNext;
    chunkNext += PAGE_BYTES;
  }
  store<u16>(p, <u16>c);
  store<u16>(p, 0, 2);
  store<u16>(p, 0, 4);
  store<u16>(p, <u16>HEADER, 6);
  store<u32>(p, 0, 8);
  store<u32>(p, 0, 12);
  link(c, p);
  return p;
}

/** Puts page `p` first in its class's list of pages with room. */
function link(c: i32, p: usize): void {
  const head = classHead + (<usize>c << 2);
  const first = load<u32>(head);
  store<u32>(p, 0, 8);
  store<u32>(p, first, 12);
  if (first != 0) store<u32>(<usize>first, <u32>p, 8);
  store<u32>(head, <u32>p);
}

function unlink(c: i32, p: usize): void {
  const prev = load<u32>(p, 8);
  const next = load<u32>(p, 12);
  if (prev != 0) store<u32>(<usize>prev, next, 12);
  else store<u32>(classHead + (<usize>c << 2), next);
  if (next != 0) store<u32>(<usize>next, prev, 8);
  store<u32>(p, 0, 8);
  store<u32>(p, 0, 12);
}
