// Compute kernels for the hit-path benchmark (`npm run bench -- mmu`) and for the conformance check
// that a guest behaves identically as given and rewritten.
//
// Calling convention: `setup(kernel, bytes, seed)` allocates a working set of about `bytes` bytes
// for one kernel and fills it from a seeded PRNG; `step(kernel, iters)` runs `iters` iterations and
// returns a checksum. Work is split into calls because V8 has no on-stack replacement for Wasm: a
// long call would stay in the baseline tier. Kernel ids are exported as immutable globals so that
// hosts find them by name.
//
// The arithmetic is all 32-bit wrapping integer (or integer-valued f64) so that a TypeScript
// reference can reproduce every checksum exactly.

export const SORT: i32 = 0;
export const HASH_TABLE: i32 = 1;
export const MATMUL: i32 = 2;
export const SEQ_SCAN: i32 = 3;
export const RANDOM_SCAN: i32 = 4;
export const KERNEL_COUNT: i32 = 5;

// xorshift32 (Marsaglia 2003): tiny, deterministic and easy to mirror in TypeScript.
let rng: u32 = 1;

function seedRng(seed: i32): void {
  rng = seed != 0 ? <u32>seed : 0x9e3779b9;
}

// @ts-ignore: decorator
@inline
function nextRandom(): u32 {
  let x = rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng = x;
  return x;
}

/** A uniform index in [0, n) without a division: the high half of a 32x32-bit product. */
// @ts-ignore: decorator
@inline
function below(x: u32, n: i32): i32 {
  return <i32>((<u64>x * <u64>n) >> 32);
}

// ---- working sets (one kernel at a time; setup drops the others so the GC can reclaim them) ----

let sortData = new StaticArray<i32>(0);
let tableKeys = new StaticArray<i32>(0);
let tableValues = new StaticArray<i32>(0);
let tableBits: i32 = 0;
let tableInserts: i32 = 0;
let matA = new StaticArray<f64>(0);
let matB = new StaticArray<f64>(0);
let matC = new StaticArray<f64>(0);
let matN: i32 = 0;
let scanData = new StaticArray<i32>(0);

/** Allocates and fills the working set of `kernel` (about `bytes` bytes) from `seed`. */
export function setup(kernel: i32, bytes: i32, seed: i32): void {
  if (bytes < 64) bytes = 64;
  sortData = new StaticArray<i32>(0);
  tableKeys = new StaticArray<i32>(0);
  tableValues = new StaticArray<i32>(0);
  matA = new StaticArray<f64>(0);
  matB = new StaticArray<f64>(0);
  matC = new StaticArray<f64>(0);
  scanData = new StaticArray<i32>(0);
  seedRng(seed);
  switch (kernel) {
    case SORT:
      sortData = new StaticArray<i32>(bytes >> 2);
      break;
    case HASH_TABLE: {
      // Keys and values: 8 bytes per slot, a power of two of slots, filled to at most half.
      let bits = 3;
      while ((<i64>16 << bits) <= <i64>bytes) bits++;
      tableBits = bits;
      tableKeys = new StaticArray<i32>(1 << bits);
      tableValues = new StaticArray<i32>(1 << bits);
      tableInserts = 1 << (bits - 1);
      break;
    }
    case MATMUL: {
      // Three n x n matrices of f64. Entries are small integers, so every sum is exact.
      const n = max(<i32>Math.sqrt(<f64>bytes / 24.0), 2);
      matN = n;
      matA = new StaticArray<f64>(n * n);
      matB = new StaticArray<f64>(n * n);
      matC = new StaticArray<f64>(n * n);
      for (let i = 0; i < n * n; i++) unchecked((matA[i] = <f64>(nextRandom() & 15)));
      for (let i = 0; i < n * n; i++) unchecked((matB[i] = <f64>(nextRandom() & 15)));
      break;
    }
    case SEQ_SCAN:
    case RANDOM_SCAN: {
      const data = new StaticArray<i32>(bytes >> 2);
      for (let i = 0; i < data.length; i++) unchecked((data[i] = <i32>nextRandom()));
      scanData = data;
      break;
    }
    default:
      throw new Error("unknown kernel " + kernel.toString());
  }
}

/** Runs `iters` iterations of `kernel` on the working set from setup; returns a checksum. */
export function step(kernel: i32, iters: i32): i32 {
  switch (kernel) {
    case SORT:
      return stepSort(iters);
    case HASH_TABLE:
      return stepHashTable(iters);
    case MATMUL:
      return stepMatmul(iters);
    case SEQ_SCAN:
      return stepSeqScan(iters);
    case RANDOM_SCAN:
      return stepRandomScan(iters);
    default:
      throw new Error("unknown kernel " + kernel.toString());
  }
}

/** Address and length in elements of the sort array, so a host can check the result. */
export function sortDataPtr(): usize {
  return changetype<usize>(sortData);
}

export function sortDataLength(): i32 {
  return sortData.length;
}

// ---- sort: refill from the PRNG, then quicksort (median of three, insertion sort below 16) ----

function stepSort(iters: i32): i32 {
  const a = sortData;
  const n = a.length;
  let h: i32 = 0;
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) unchecked((a[i] = <i32>nextRandom()));
    quicksort(a, 0, n - 1);
    h = (h * 31) ^ unchecked(a[0]);
    h = (h * 31) ^ unchecked(a[n >> 1]);
    h = (h * 31) ^ unchecked(a[n - 1]);
  }
  return h;
}

function quicksort(a: StaticArray<i32>, lo: i32, hi: i32): void {
  while (hi - lo > 16) {
    const x = unchecked(a[lo]);
    const y = unchecked(a[lo + ((hi - lo) >> 1)]);
    const z = unchecked(a[hi]);
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    // Hoare partition: the pivot value lies in [lo, hi], so both scans stop inside it.
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (unchecked(a[i]) < pivot) i++;
      while (unchecked(a[j]) > pivot) j--;
      if (i <= j) {
        const t = unchecked(a[i]);
        unchecked((a[i] = a[j]));
        unchecked((a[j] = t));
        i++;
        j--;
      }
    }
    // Recurse into the smaller side and loop on the larger one: stack depth stays O(log n).
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = unchecked(a[i]);
    let j = i - 1;
    while (j >= lo && unchecked(a[j]) > v) {
      unchecked((a[j + 1] = a[j]));
      j--;
    }
    unchecked((a[j + 1] = v));
  }
}

// ---- hash table: open addressing with linear probing; inserts then lookups ----

/** Linear probing (Fibonacci hashing): the slot holding `key`, or the empty slot where it would go. */
// @ts-ignore: decorator
@inline
function probe(keys: StaticArray<i32>, key: i32, shift: i32, mask: i32): i32 {
  let slot = <i32>((<u32>key * 0x9e3779b1) >> shift);
  let k = unchecked(keys[slot]);
  while (k != 0 && k != key) {
    slot = (slot + 1) & mask;
    k = unchecked(keys[slot]);
  }
  return slot;
}

function stepHashTable(iters: i32): i32 {
  const keys = tableKeys;
  const values = tableValues;
  const mask = keys.length - 1;
  const shift = 32 - tableBits;
  const count = tableInserts;
  // Keys come from [1, 2 * count] (0 marks an empty slot): some inserts update, some lookups miss.
  const domain = count << 1;
  let h: i32 = 0;
  for (let it = 0; it < iters; it++) {
    keys.fill(0);
    for (let i = 0; i < count; i++) {
      const key = below(nextRandom(), domain) + 1;
      const slot = probe(keys, key, shift, mask);
      const k = unchecked(keys[slot]);
      unchecked((keys[slot] = key));
      unchecked((values[slot] = i));
    }
    let found: i32 = 0;
    let sum: i32 = 0;
    for (let i = 0; i < count; i++) {
      const key = below(nextRandom(), domain) + 1;
      const slot = probe(keys, key, shift, mask);
      const k = unchecked(keys[slot]);
      if (k == key) {
        found++;
        sum += unchecked(values[slot]);
      }
    }
    h = (h * 31) ^ found;
    h = (h * 31) ^ sum;
  }
  return h;
}

// ---- matrix multiply: C = A x B, i-k-j order (row-wise, cache friendly) ----

function stepMatmul(iters: i32): i32 {
  const a = matA;
  const b = matB;
  const c = matC;
  const n = matN;
  let h: i32 = 0;
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < n; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) unchecked((c[row + j] = 0));
      for (let k = 0; k < n; k++) {
        const aik = unchecked(a[row + k]);
        const bk = k * n;
        for (let j = 0; j < n; j++) unchecked((c[row + j] += aik * b[bk + j]));
      }
    }
    let total: f64 = 0;
    for (let i = 0; i < n * n; i++) total += unchecked(c[i]);
    h = (h * 31) ^ <i32>(<i64>total);
  }
  return h;
}

// ---- scans over one large array: in order, and at PRNG-chosen indices ----

function stepSeqScan(iters: i32): i32 {
  const a = scanData;
  const n = a.length;
  let h: i32 = 0;
  for (let it = 0; it < iters; it++) {
    let sum: i32 = 0;
    for (let i = 0; i < n; i++) sum += unchecked(a[i]);
    h = (h * 31) ^ sum;
  }
  return h;
}

function stepRandomScan(iters: i32): i32 {
  const a = scanData;
  const n = a.length;
  let h: i32 = 0;
  let x = rng;
  for (let it = 0; it < iters; it++) {
    let sum: i32 = 0;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      sum += unchecked(a[below(x, n)]);
    }
    h = (h * 31) ^ sum;
  }
  rng = x;
  return h;
}
