// The victim of the attack conformance suite (`npm run conformance`): an enclave app that keeps a
// secret page, a decoy page and a counter in its own memory and checks them itself, so a test
// learns whether an attack on DRAM changed what the guest runs on without reading the memory.
//
// Each of the three lives alone in a 4 KiB-aligned static page (memory.data), untouched by the
// runtime's heap: an attack aimed at one guest page hits exactly one of them, and the counter's
// page holds nothing but the counter, so its plaintext repeats exactly when the counter does.

const PAGE: i32 = 4096;
const SECRET: usize = memory.data(PAGE, PAGE);
const DECOY: usize = memory.data(PAGE, PAGE);
const COUNTER: usize = memory.data(PAGE, PAGE);

/** Guest addresses of the three pages (where a host aims its attacks). */
export function secretPtr(): usize {
  return SECRET;
}
export function decoyPtr(): usize {
  return DECOY;
}
export function counterPtr(): usize {
  return COUNTER;
}

// xorshift32 (Marsaglia 2003): the page contents follow from a seed, so the host can check them.
function next(x: u32): u32 {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

function fill(page: usize, seed: u32): void {
  let x = seed != 0 ? seed : 0x9e3779b9;
  for (let i = 0; i < PAGE; i += 4) {
    x = next(x);
    store<u32>(page + <usize>i, x);
  }
}

/** Bytes of `page` that differ from the stream of `seed` (0: intact). */
function mismatches(page: usize, seed: u32): i32 {
  let x = seed != 0 ? seed : 0x9e3779b9;
  let wrong = 0;
  for (let i = 0; i < PAGE; i += 4) {
    x = next(x);
    const got = load<u32>(page + <usize>i);
    for (let b = 0; b < 32; b += 8) if (((got >> b) & 0xff) != ((x >> b) & 0xff)) wrong++;
  }
  return wrong;
}

export function setSecret(seed: u32): void {
  fill(SECRET, seed);
}
export function secretMismatches(seed: u32): i32 {
  return mismatches(SECRET, seed);
}
export function setDecoy(seed: u32): void {
  fill(DECOY, seed);
}
export function decoyMismatches(seed: u32): i32 {
  return mismatches(DECOY, seed);
}

export function counter(): u32 {
  return load<u32>(COUNTER);
}
export function increment(): u32 {
  const v = load<u32>(COUNTER) + 1;
  store<u32>(COUNTER, v);
  return v;
}
export function decrement(): u32 {
  const v = load<u32>(COUNTER) - 1;
  store<u32>(COUNTER, v);
  return v;
}
