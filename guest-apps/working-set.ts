// Working-set scans for the paging benchmark (`npm run bench -- paging`).
//
// kernels.ts keeps its data in a StaticArray, which stops short of 1 GiB, and its scans touch the
// whole array per call, so a random scan of a working set far larger than the resident cache
// would take minutes per call. Here the working set is raw linear memory grown for it, up to the
// guest maximum, and each call makes a bounded number of accesses.
//
// Calling convention: `setup(bytes, seed)` grows the memory by `bytes` (a multiple of 64 KiB),
// fills every word from a seeded PRNG (so every page is written once) and returns the region's
// address; `seqScan(start, count)` sums `count` words from word `start`; `randomScan(seed, count)`
// sums `count` words at PRNG-chosen indices. Every call depends only on its arguments and the
// data, so a host can compare any call's checksum with the same call on another instance.

let base: usize = 0;
let words: i32 = 0;

// xorshift32 (Marsaglia 2003), as in kernels.ts.
// @ts-ignore: decorator
@inline
function next(x: u32): u32 {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/** A uniform index in [0, n) without a division: the high half of a 32x32-bit product. */
// @ts-ignore: decorator
@inline
function below(x: u32, n: i32): i32 {
  return <i32>((<u64>x * <u64>n) >> 32);
}

/** Grows the memory by `bytes` for the working set, fills it from `seed`; returns its address. */
export function setup(bytes: i32, seed: i32): usize {
  if (words != 0) throw new Error("setup: the working set exists already");
  if (bytes <= 0 || (bytes & 0xffff) != 0) throw new Error("setup: bytes must be a positive multiple of 64 KiB");
  const before = memory.grow(bytes >>> 16);
  if (before < 0) throw new Error("setup: the memory cannot grow by " + bytes.toString() + " bytes");
  base = <usize>before << 16;
  words = bytes >>> 2;
  let x: u32 = seed != 0 ? <u32>seed : 0x9e3779b9;
  for (let i = 0; i < words; i++) {
    x = next(x);
    store<u32>(base + (<usize>i << 2), x);
  }
  return base;
}

/** Words in the working set. */
export function wordCount(): i32 {
  return words;
}

/** Sum of words [start, start + count) of the working set. */
export function seqScan(start: i32, count: i32): i32 {
  if (start < 0 || count < 0 || start > words - count) throw new Error("seqScan: range outside the working set");
  let sum: i32 = 0;
  const end = start + count;
  for (let i = start; i < end; i++) sum += load<i32>(base + (<usize>i << 2));
  return sum;
}

/** Sum of `count` words at indices drawn from a PRNG seeded with `seed`. */
export function randomScan(seed: i32, count: i32): i32 {
  if (words == 0) throw new Error("randomScan: no working set (call setup first)");
  let x: u32 = seed != 0 ? <u32>seed : 0x9e3779b9;
  let sum: i32 = 0;
  for (let i = 0; i < count; i++) {
    x = next(x);
    sum += load<i32>(base + (<usize>below(x, words) << 2));
  }
  return sum;
}
