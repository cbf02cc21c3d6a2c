// Glob-style matching for KEYS, SCAN MATCH and CONFIG GET: a port of Redis's stringmatchlen
// (util.c, Redis 7.0): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\x` escapes, on bytes. Redis's C code
// reads the NUL after the pattern; `at` stands in for it with 0 past the end.

// @ts-ignore: decorator
@inline function at(p: usize, i: i32, n: i32): u32 {
  return i < n ? <u32>load<u8>(p + <usize>i) : 0;
}

/** Set when a `*` failed against every suffix: a longer match cannot succeed either. */
let skipLonger = false;

function matchImpl(pat: usize, pi: i32, pn: i32, str: usize, si: i32, sn: i32): bool {
  while (pi < pn && si < sn) {
    const c = at(pat, pi, pn);
    if (c == 0x2a) {
      // '*'
      while (pi < pn && at(pat, pi + 1, pn) == 0x2a) pi++;
      if (pn - pi == 1) return true;
      while (si < sn) {
        if (matchImpl(pat, pi + 1, pn, str, si, sn)) return true;
        if (skipLonger) return false;
        si++;
      }
      skipLonger = true;
      return false;
    } else if (c == 0x3f) {
      // '?'
      si++;
    } else if (c == 0x5b) {
      // '['
      pi++;
      const not = at(pat, pi, pn) == 0x5e;
      if (not) pi++;
      let match = false;
      const s = at(str, si, sn);
      while (true) {
        const q = at(pat, pi, pn);
        if (q == 0x5c && pn - pi >= 2) {
          pi++;
          if (at(pat, pi, pn) == s) match = true;
        } else if (q == 0x5d) {
          break;
        } else if (pi >= pn) {
          pi--;
          break;
        } else if (pn - pi >= 3 && at(pat, pi + 1, pn) == 0x2d) {
          let lo = q;
          let hi = at(pat, pi + 2, pn);
          if (lo > hi) {
            const t = lo;
            lo = hi;
            hi = t;
          }
          pi += 2;
          if (s >= lo && s <= hi) match = true;
        } else if (q == s) {
          match = true;
        }
        pi++;
      }
      if (not) match = !match;
      if (!match) return false;
      si++;
    } else {
      if (c == 0x5c && pn - pi >= 2) pi++; // '\': the next byte literally
      if (at(pat, pi, pn) != at(str, si, sn)) return false;
      si++;
    }
    pi++;
    if (si == sn) {
      while (at(pat, pi, pn) == 0x2a) pi++;
      break;
    }
  }
  return pi >= pn && si == sn;
}

/** Does the `sn` bytes at `str` match the glob pattern of `pn` bytes at `pat`? */
export function globMatch(pat: usize, pn: u32, str: usize, sn: u32): bool {
  skipLonger = false;
  return matchImpl(pat, 0, <i32>pn, str, 0, <i32>sn);
}
