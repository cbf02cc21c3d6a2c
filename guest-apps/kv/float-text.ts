// Doubles as Redis 7.0 reads and writes them (sorted-set scores).
//
// Writing: addReplyDouble (networking.c) prints with printf's "%.17g": the value rounded to 17
// significant digits (ties to even, as glibc rounds an exact decimal expansion), fixed notation when
// the decimal exponent X satisfies -4 <= X < 17, else d.ddde+XX, trailing zeros and a bare point
// dropped (C11 7.21.6.1, the g conversion). The rounding needs the exact decimal expansion of the
// double, so it is done on a big integer: v = m * 2^e is m << e, or m * 5^-e over 10^-e.
//
// Reading: getDoubleFromObject (object.c) takes strtod's whole-string parses, refusing a leading
// space, NaN, and a finite text that overflows or underflows to zero (ERANGE). strtod's hexadecimal
// form ("0x1p3") is not taken here: kv refuses it as not a valid float.

import { Big } from "./big-int";

/** Room formatDouble needs at `p`. */
export const DOUBLE_TEXT_BYTES: u32 = 32;

// Sizes: formatting holds at most 2^1024 or 2^53 * 5^1074 (84 limbs); parsing a decimal of up to
// MAX_DIGITS digits scaled by 10^1130 and 2^1075 (under 460 limbs).
const big = new Big(96);
const cmpA = new Big(480);
const cmpB = new Big(480);
/** The decimal digits of the big integer, most significant first (at most 9 * 96). */
const digits = new StaticArray<u8>(9 * 96 + 1);

/** Nine-digit chunks of the big integer, least significant first (bigToDigits: kept, not made per call). */
const CHUNKS = new StaticArray<u32>(104);

/** The big integer's decimal digits into `digits` (it is consumed); returns how many. */
function bigToDigits(): i32 {
  // Chunks of nine digits come out least significant first; they are written from the end.
  const chunks = CHUNKS;
  let n = 0;
  while (big.len > 0) unchecked((chunks[n++] = big.divBillion()));
  let len = 0;
  for (let c = n - 1; c >= 0; c--) {
    let v = unchecked(chunks[c]);
    const width = c == n - 1 ? decimalWidth(v) : 9;
    for (let k = width - 1; k >= 0; k--) {
      unchecked((digits[len + k] = <u8>(0x30 + v % 10)));
      v /= 10;
    }
    len += width;
  }
  return len;
}

function decimalWidth(v: u32): i32 {
  let w = 1;
  while (v >= 10) {
    v /= 10;
    w++;
  }
  return w;
}

/**
 * Writes `v` as "%.17g" would (and "inf" / "-inf", as addReplyDouble does) at `p`, which has
 * DOUBLE_TEXT_BYTES of room; returns the length.
 */
export function formatDouble(p: usize, v: f64): u32 {
  let n: u32 = 0;
  if (v < 0 || (v == 0 && 1 / v < 0)) {
    store<u8>(p, 0x2d);
    n = 1;
    v = -v;
  }
  if (isNaN(v)) return writeText(p, 0, "nan");
  if (!isFinite(v)) return writeText(p, n, "inf");
  if (v == 0) return writeText(p, n, "0");
  // Integers of up to 17 digits print whole under %.17g: the common score, done without the big integer.
  if (v < 1e17 && Math.floor(v) == v) return n + writeUnsigned(p + n, <u64>v);
  const bits = reinterpret<u64>(v);
  const exp = <i32>((bits >> 52) & 0x7ff);
  let m = bits & 0xf_ffff_ffff_ffff;
  let e: i32;
  if (exp == 0) e = -1074; // subnormal
  else {
    m |= 1 << 52;
    e = exp - 1075;
  }
  const tz = <i32>ctz(m);
  m >>= tz;
  e += tz;
  big.set(m);
  let point: i32; // the decimal point sits `point` digits from the left of the digit string
  if (e >= 0) {
    big.shiftLeft(e);
    point = 0;
  } else {
    big.mulPow5(-e);
    point = e;
  }
  let len = bigToDigits();
  point += len;
  // Round to 17 significant digits, ties to even.
  if (len > 17) {
    const next = unchecked(digits[17]);
    let up = next > 0x35;
    if (next == 0x35) {
      let rest = false;
      for (let i = 18; i < len && !rest; i++) rest = unchecked(digits[i]) != 0x30;
      up = rest || ((unchecked(digits[16]) - 0x30) & 1) == 1;
    }
    len = 17;
    if (up) {
      let i = 16;
      while (i >= 0 && unchecked(digits[i]) == 0x39) unchecked((digits[i--] = 0x30));
      if (i >= 0) unchecked((digits[i] = digits[i] + 1));
      else {
        unchecked((digits[0] = 0x31)); // 99..9 rounded up to 100..0: one more integer digit
        point++;
      }
    }
  }
  while (len > 1 && unchecked(digits[len - 1]) == 0x30) len--;
  const x = point - 1; // the decimal exponent of the first digit
  if (x < -4 || x >= 17) {
    store<u8>(p + n++, unchecked(digits[0]));
    if (len > 1) {
      store<u8>(p + n++, 0x2e);
      for (let i = 1; i < len; i++) store<u8>(p + n++, unchecked(digits[i]));
    }
    store<u8>(p + n++, 0x65);
    store<u8>(p + n++, x < 0 ? 0x2d : 0x2b);
    const ax = <u32>abs(x);
    if (ax < 10) store<u8>(p + n++, 0x30);
    return n + writeUnsigned(p + n, ax);
  }
  if (point <= 0) {
    store<u8>(p + n++, 0x30);
    store<u8>(p + n++, 0x2e);
    for (let i = point; i < 0; i++) store<u8>(p + n++, 0x30);
    for (let i = 0; i < len; i++) store<u8>(p + n++, unchecked(digits[i]));
    return n;
  }
  for (let i = 0; i < max(len, point); i++) {
    if (i == point) store<u8>(p + n++, 0x2e);
    store<u8>(p + n++, i < len ? unchecked(digits[i]) : 0x30);
  }
  return n;
}


function writeText(p: usize, n: u32, s: string): u32 {
  for (let i = 0; i < s.length; i++) store<u8>(p + n + i, <u8>s.charCodeAt(i));
  return n + <u32>s.length;
}

function writeUnsigned(p: usize, v: u64): u32 {
  let w: u32 = 1;
  for (let t = v; t >= 10; t /= 10) w++;
  for (let i = w; i > 0; i--) {
    store<u8>(p + i - 1, <u8>(0x30 + <u32>(v % 10)));
    v /= 10;
  }
  return w;
}

/** The value of the last successful parseDouble. */
export let parsedDouble: f64 = 0;

/**
 * Parses the `n` bytes at `p` as getDoubleFromObject does; false when they are not a valid float.
 * `lenient` parses as zslParseRange's bare strtod does (a score range's bounds): leading spaces
 * skipped, nothing at all read as 0, and a value past the double's range taken as infinity or zero.
 */
export function parseDouble(p: usize, n: u32, lenient: bool = false): bool {
  if (!parseDecimal(p, n, lenient)) return false;
  if (parsedInfinity) {
    parsedDouble = parsedNegative ? -Infinity : Infinity;
    return true;
  }
  const v = decimalToDouble(sigLen, decExp);
  if (!lenient && (!isFinite(v) || (v == 0 && sigLen > 0))) return false; // ERANGE: overflow, or underflow to zero
  parsedDouble = parsedNegative ? -v : v;
  return true;
}

/** What parseDecimal read: the sign, an infinity, or the significant digits sig[0..sigLen) and the value sig * 10^decExp. */
export let parsedNegative = false;
export let parsedInfinity = false;
export let sigLen: i32 = 0;
export let decExp: i64 = 0;

/**
 * Reads strtod's decimal syntax over the whole of the `n` bytes at `p`: [sign] (inf | infinity |
 * digits [. digits] [e [sign] digits]), any case; false when they do not follow it. `lenient`
 * skips leading spaces and reads nothing at all as 0 (see parseDouble). Hexadecimal floats are not
 * read (see the top of this file).
 */
export function parseDecimal(p: usize, n: u32, lenient: bool = false): bool {
  parsedNegative = false;
  parsedInfinity = false;
  sigLen = 0;
  decExp = 0;
  if (lenient) {
    while (n > 0 && isSpace(load<u8>(p))) {
      p++;
      n--;
    }
    if (n == 0) return true;
  }
  if (n == 0 || n > 5000) return false;
  let i: u32 = 0;
  const c0 = load<u8>(p);
  if (c0 == 0x2b || c0 == 0x2d) {
    parsedNegative = c0 == 0x2d;
    i = 1;
  }
  if (isInfinityWord(p + i, n - i)) {
    parsedInfinity = true;
    return true;
  }
  // digits [. digits] [e [sign] digits], with at least one digit before the exponent. The
  // significant digits go to `sig` (leading zeros skipped).
  let mantissaDigits = 0;
  let dropped = 0; // significant digits past MAX_DIGITS
  let droppedNonZero = false;
  let exp10: i64 = 0;
  let afterPoint = false;
  for (; i < n; i++) {
    const c = load<u8>(p + i);
    if (c == 0x2e && !afterPoint) {
      afterPoint = true;
      continue;
    }
    if (!isDigit(c)) break;
    mantissaDigits++;
    if (afterPoint) exp10--;
    if (sigLen == 0 && c == 0x30) continue;
    if (sigLen < MAX_DIGITS) unchecked((sig[sigLen++] = c - 0x30));
    else {
      dropped++;
      droppedNonZero = droppedNonZero || c != 0x30;
    }
  }
  if (mantissaDigits == 0) return false;
  if (i < n && (load<u8>(p + i) | 0x20) == 0x65) {
    i++;
    let expNegative = false;
    if (i < n && (load<u8>(p + i) == 0x2b || load<u8>(p + i) == 0x2d)) expNegative = load<u8>(p + i++) == 0x2d;
    const from = i;
    let x: i64 = 0;
    for (; i < n && isDigit(load<u8>(p + i)); i++) if (x < 1_000_000) x = x * 10 + (load<u8>(p + i) - 0x30);
    if (i == from) return false;
    exp10 += expNegative ? -x : x;
  }
  if (i != n) return false;
  exp10 += dropped;
  if (droppedNonZero) { // a sticky last digit: no halfway point between doubles has this many digits
    unchecked((sig[sigLen++] = 1));
    exp10--;
  }
  decExp = exp10;
  return true;
}

/** Significant digits kept (a double's halfway points have at most 767); later ones only stick. */
const MAX_DIGITS: i32 = 780;
export const sig = new StaticArray<u8>(MAX_DIGITS + 1);
const POW10: StaticArray<f64> = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
  1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** The double nearest sig[0..len) * 10^exp10 (ties to even), positive; infinity past the largest. */
function decimalToDouble(len: i32, exp10: i64): f64 {
  if (len == 0) return 0;
  if (<i64>len + exp10 > 310) return Infinity;
  if (<i64>len + exp10 < -330) return 0;
  const e = <i32>exp10;
  if (len <= 15 && e >= -22 && e <= 22) { // Clinger's fast path: both exact, one rounding
    let d: u64 = 0;
    for (let k = 0; k < len; k++) d = d * 10 + unchecked(sig[k]);
    return e >= 0 ? <f64>d * unchecked(POW10[e]) : <f64>d / unchecked(POW10[-e]);
  }
  // A first guess from the leading digits, then corrected against the exact halfway points.
  let lead: u64 = 0;
  const take = min(len, 19);
  for (let k = 0; k < take; k++) lead = lead * 10 + unchecked(sig[k]);
  const x = e + len - take; // two steps, so that neither power of ten leaves the normal range
  let b = <f64>lead * Math.pow(10, <f64>(x >> 1)) * Math.pow(10, <f64>(x - (x >> 1)));
  if (!isFinite(b)) b = f64.MAX_VALUE;
  if (b == 0) b = reinterpret<f64>(<u64>1); // the smallest subnormal
  for (let round = 0; round < 64; round++) {
    const up = nextUp(b);
    // Above the halfway point to the next double (or on it, and b's mantissa odd): round up.
    const cUp = compareHalfway(len, e, b, up);
    if (cUp > 0 || (cUp == 0 && isOddMantissa(b))) {
      if (!isFinite(up)) return Infinity;
      b = up;
      continue;
    }
    const down = nextDown(b);
    const cDown = compareHalfway(len, e, down, b);
    if (cDown < 0 || (cDown == 0 && isOddMantissa(b))) {
      b = down;
      if (b == 0) return 0;
      continue;
    }
    return b;
  }
  return b; // not reached: the first guess is a few doubles off at most, and each round moves one
}

function isOddMantissa(b: f64): bool {
  return (reinterpret<u64>(b) & 1) == 1;
}

function nextUp(b: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(b) + 1);
}

function nextDown(b: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(b) - 1);
}

/** m and e of a finite double b >= 0: b = m * 2^e. */
let partM: u64 = 0;
let partE: i32 = 0;
function parts(b: f64): void {
  const bits = reinterpret<u64>(b);
  const exp = <i32>((bits >> 52) & 0x7ff);
  partM = bits & 0xf_ffff_ffff_ffff;
  if (exp == 0) partE = -1074;
  else {
    partM |= 1 << 52;
    partE = exp - 1075;
  }
}

/** Compares sig * 10^e with the point halfway between the doubles lo < hi (hi may be infinity: 2^1024). */
function compareHalfway(len: i32, e: i32, lo: f64, hi: f64): i32 {
  parts(lo);
  const mLo = partM, eLo = partE;
  let mHi: u64, eHi: i32;
  if (isFinite(hi)) {
    parts(hi);
    mHi = partM;
    eHi = partE;
  } else {
    mHi = 1;
    eHi = 1024;
  }
  // halfway = (mLo * 2^eLo + mHi * 2^eHi) / 2 = M * 2^(k - 1), with k the smaller exponent
  const k = min(eLo, eHi);
  const M = (mLo << <u64>(eLo - k)) + (mHi << <u64>(eHi - k));
  // A = sig * 10^e, B = M * 2^(k-1), both scaled to integers
  cmpA.set(0);
  for (let i = 0; i < len; i++) cmpA.mulAdd(10, unchecked(sig[i]));
  cmpB.set(M);
  if (e >= 0) {
    cmpA.mulPow5(e);
    cmpA.shiftLeft(e);
  } else {
    cmpB.mulPow5(-e);
    cmpB.shiftLeft(-e);
  }
  if (k - 1 >= 0) cmpB.shiftLeft(k - 1);
  else cmpA.shiftLeft(1 - k);
  return cmpA.compare(cmpB);
}

/** C's isspace in the "C" locale. */
// @ts-ignore: decorator
@inline function isSpace(c: u8): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0d);
}

// @ts-ignore: decorator
@inline function isDigit(c: u8): bool {
  return <u32>(c - 0x30) < 10;
}

/** "inf" or "infinity", any case (strtod's words for an infinity). */
function isInfinityWord(p: usize, n: u32): bool {
  if (n != 3 && n != 8) return false;
  const word = "infinity";
  for (let k: u32 = 0; k < n; k++) if ((load<u8>(p + k) | 0x20) != <u8>word.charCodeAt(k)) return false;
  return true;
}
