// Runs of whole 4 KiB pages: kv's blocks above SLAB_MAX, and the pages slab.ts carves into objects.
// This heap grows the Wasm memory itself, against a limit (setHeapLimit), and says so when it
// cannot: heapAlloc returns 0, never traps. (AssemblyScript's TLSF, which the GC's temporaries keep
// using, traps when memory.grow fails; kv turns this heap's 0 into an -OOM reply.) It allows:
//
//   - runs of 1 to 2^20 pages, each starting with a 16-byte header, its payload 16-byte aligned
//     after it: u32 info (page count | FREE | LEFT_FREE), u32 spare, and for a free run the u32
//     addresses of the previous and next free run of its class;
//   - a free run's last 4 bytes repeat its page count (a footer), so that freeing the run after it
//     finds it through LEFT_FREE; no two free runs are ever neighbours (they merge);
//   - regions: the spans of memory this heap grew, in order; a run never crosses a region's end,
//     and memory the runtime grew between two regions is never touched;
//   - free lists by size: one class per page count up to 32, then one per power of two; a fit is
//     the first run of the request's class that is large enough, else the head of a larger class.
//
// Everything a call reads is in the headers of the run and its neighbours and in the class heads
// (one static page): under the software MMU, allocating or freeing a run touches no other page.
const PAGE: usize = 4096;
export const RUN_HEADER: usize = 16;
const FREE: u32 = 0x8000_0000;
const LEFT_FREE: u32 = 0x4000_0000;
const PAGES_MASK: u32 = 0x3fff_ffff;
const MAX_RUN_PAGES: u32 = 1 << 20;
const WASM_PAGE: u64 = 65536;

const CLASSES = 48;
const heads = memory.data(CLASSES * 4);
const MAX_REGIONS = 1024;
const regionStart = memory.data(MAX_REGIONS * 4);
const regionEnd = memory.data(MAX_REGIONS * 4);
/** Per region: is its last run free (the LEFT_FREE of the run there would be after its end)? */
const regionTailFree = memory.data(MAX_REGIONS);
let regions: i32 = 0;

/** Most bytes this heap may grow the memory by, and how many it has grown it by. */
let limit: u64 = 0xffff_ffff;
let grown: u64 = 0;

/** Caps the memory this heap grows (bytes in all, from the start); past it heapAlloc returns 0. */
export function setHeapLimit(bytes: u64): void {
  limit = bytes;
}

/** The limit setHeapLimit set. */
export function heapLimit(): u64 {
  return limit;
}

/** Bytes of memory this heap has grown (its footprint: free runs included). */
export function heapFootprint(): u64 {
  return grown;
}

// @ts-ignore: decorator
@inline function info(r: usize): u32 {
  return load<u32>(r);
}

// @ts-ignore: decorator
@inline function pagesOf(r: usize): u32 {
  return load<u32>(r) & PAGES_MASK;
}

// @ts-ignore: decorator
@inline function classOf(pages: u32): i32 {
  return pages <= 32 ? <i32>pages - 1 : 32 + (31 - <i32>clz<u32>(pages - 1)) - 5;
}

/** The index of the region holding `r` (binary search: regions are in address order). */
function regionOf(r: usize): i32 {
  let lo = 0;
  let hi = regions - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (<usize>load<u32>(regionStart + (<usize>mid << 2)) <= r) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// @ts-ignore: decorator
@inline function endOf(region: i32): usize {
  return <usize>load<u32>(regionEnd + (<usize>region << 2));
}

function insert(r: usize, pages: u32): void {
  const head = heads + (<usize>classOf(pages) << 2);
  const first = load<u32>(head);
  store<u32>(r, 0, 8);
  store<u32>(r, first, 12);
  if (first != 0) store<u32>(<usize>first, <u32>r, 8);
  store<u32>(head, <u32>r);
}

function unlink(r: usize): void {
  const prev = load<u32>(r, 8);
  const next = load<u32>(r, 12);
  if (prev != 0) store<u32>(<usize>prev, next, 12);
  else store<u32>(heads + (<usize>classOf(pagesOf(r)) << 2), next);
  if (next != 0) store<u32>(<usize>next, prev, 8);
}

/** Marks `r` (pages long, in `region`) free: merged with free neighbours, footed, listed. */
function release(r: usize, pages: u32, region: i32): void {
  const end = endOf(region);
  const right = r + (<usize>pages << 12);
  if (right < end && (info(right) & FREE) != 0) {
    unlink(right);
    pages += pagesOf(right);
  }
  if ((info(r) & LEFT_FREE) != 0) {
    const leftPages = load<u32>(r - 4);
    r -= <usize>leftPages << 12;
    unlink(r);
    pages += leftPages;
  }
  store<u32>(r, pages | FREE); // a free run's left neighbour is never free: it would have merged
  store<u32>(r + (<usize>pages << 12) - 4, pages);
  insert(r, pages);
  const after = r + (<usize>pages << 12);
  if (after < end) store<u32>(after, info(after) | LEFT_FREE);
  else store<u8>(regionTailFree + <usize>region, 1);
}

/** Takes `pages` from the free run `r` (at least that long): the rest stays free after them. */
function take(r: usize, pages: u32): void {
  unlink(r);
  const have = pagesOf(r);
  const region = regionOf(r);
  store<u32>(r, pages | (info(r) & LEFT_FREE));
  const after = r + (<usize>pages << 12);
  if (have > pages) {
    const rest = have - pages;
    store<u32>(after, rest | FREE);
    store<u32>(after + (<usize>rest << 12) - 4, rest);
    insert(after, rest);
  } else if (after < endOf(region)) {
    store<u32>(after, info(after) & ~LEFT_FREE);
  } else {
    store<u8>(regionTailFree + <usize>region, 0);
  }
}

/** A free run of at least `pages`, or 0. */
function find(pages: u32): usize {
  const c = classOf(pages);
  let r = <usize>load<u32>(heads + (<usize>c << 2));
  while (r != 0 && pagesOf(r) < pages) r = <usize>load<u32>(r, 12);
  if (r != 0) return r;
  for (let k = c + 1; k < CLASSES; k++) {
    r = <usize>load<u32>(heads + (<usize>k << 2));
    if (r != 0) return r;
  }
  return 0;
}

/** Grows the memory by at least `pages` pages for this heap; false at the limit or when memory.grow fails. */
function grow(pages: u32): bool {
  const need = <u64>pages << 12;
  if (grown + need > limit) return false;
  // A little more than asked, so that a growing store grows the memory seldom.
  let want = max<u64>(need, min<u64>(grown >> 3, 64 << 20));
  want = min<u64>(want, limit - grown);
  let wasmPages = <i32>((want + WASM_PAGE - 1) / WASM_PAGE);
  const before = <usize>memory.size() << 16;
  if (memory.grow(wasmPages) < 0) {
    wasmPages = <i32>((need + WASM_PAGE - 1) / WASM_PAGE);
    if (memory.grow(wasmPages) < 0) return false;
  }
  const bytes = <usize>wasmPages << 16;
  grown += <u64>bytes;
  const newPages = <u32>(bytes >> 12);
  let region = regions - 1;
  if (region >= 0 && endOf(region) == before) {
    store<u32>(regionEnd + (<usize>region << 2), <u32>(before + bytes));
    store<u32>(before, newPages | (load<u8>(regionTailFree + <usize>region) != 0 ? LEFT_FREE : 0));
  } else {
    if (regions == MAX_REGIONS) return false;
    region = regions++;
    store<u32>(regionStart + (<usize>region << 2), <u32>before);
    store<u32>(regionEnd + (<usize>region << 2), <u32>(before + bytes));
    store<u8>(regionTailFree + <usize>region, 0);
    store<u32>(before, newPages);
  }
  release(before, newPages, region);
  return true;
}

/** A block of at least `bytes` bytes (its payload, 16-byte aligned), or 0 when memory is out. */
export function heapAlloc(bytes: usize): usize {
  const pages64 = (<u64>bytes + RUN_HEADER + PAGE - 1) >> 12;
  if (pages64 > <u64>MAX_RUN_PAGES) return 0;
  const pages = <u32>pages64;
  let r = find(pages);
  if (r == 0) {
    if (!grow(pages)) return 0;
    r = find(pages);
  }
  take(r, pages);
  return r + RUN_HEADER;
}

/** Bytes the block at `p` can hold. */
export function heapUsable(p: usize): usize {
  return (<usize>pagesOf(p - RUN_HEADER) << 12) - RUN_HEADER;
}

export function heapFree(p: usize): void {
  const r = p - RUN_HEADER;
  release(r, pagesOf(r), regionOf(r));
}

/**
 * Makes the block at `p` hold `bytes` in place, taking pages from a free run right after it, or,
 * for the last run of the memory, growing the memory under it; false (nothing changed) if neither
 * can. A buffer that keeps growing at the top of the heap so never moves and never leaves a hole.
 */
export function heapGrowInPlace(p: usize, bytes: usize): bool {
  const r = p - RUN_HEADER;
  const pages = pagesOf(r);
  const want64 = (<u64>bytes + RUN_HEADER + PAGE - 1) >> 12;
  if (want64 <= <u64>pages) return true;
  if (want64 > <u64>MAX_RUN_PAGES) return false;
  const want = <u32>want64;
  const right = r + (<usize>pages << 12);
  const region = regionOf(r);
  let end = endOf(region);
  const atTop = region == regions - 1 && end == <usize>memory.size() << 16;
  const free: u32 = right < end && (info(right) & FREE) != 0 ? pagesOf(right) : 0;
  if (pages + free < want) {
    // Only the last run of the memory can grow it, with its free tail if it has one.
    if (!atTop || (right < end && free == 0) || (free != 0 && right + (<usize>free << 12) != end)) return false;
    if (!grow(want - pages - free)) return false;
    end = endOf(region);
  }
  take(right, want - pages); // the right neighbour's first pages: they become part of this run
  store<u32>(r, want | (info(r) & LEFT_FREE));
  return true;
}
