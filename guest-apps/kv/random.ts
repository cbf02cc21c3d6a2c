// The pseudo-random numbers of eviction sampling and the LFU counter's logarithmic increment, where
// Redis calls random(): xorshift32 (Marsaglia 2003), seeded once from the platform's randomness.
// Not for secrets: nothing here needs to be unpredictable, only spread out.
let state: u32 = 0x2545f491;

export function seedRandom(seed: u32): void {
  state = seed != 0 ? seed : 0x2545f491; // xorshift never leaves 0
}

export function nextRandom(): u32 {
  let x = state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  state = x;
  return x;
}

/** A double in [0, 1). */
export function randomUnit(): f64 {
  return <f64>nextRandom() / 4294967296.0;
}
