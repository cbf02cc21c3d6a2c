// INCRBYFLOAT's arithmetic (Redis t_string.c, t_hash.c): C's long double on x86-64, the x87 80-bit
// format, emulated exactly, since Wasm has no such type. A value is sign * m * 2^e with a 64-bit
// mantissa m (its top bit set unless the value is 0). What Redis does with it:
//   - string2ld (util.c): strtold's whole-string parse, refusing a leading space, NaN, and a text
//     that overflows or underflows to zero (ERANGE), rounded to 64 bits, ties to even;
//   - value + increment, rounded to 64 bits, ties to even (the x87 default);
//   - ld2string(LD_STR_HUMAN): printf "%.17Lf" (17 digits after the point, the exact value rounded,
//     ties to even), trailing zeros and a bare point dropped, "-0" written "0".
// Departures: the x87 subnormals (below 2^-16382) are not modelled: such values read as zero,
// which string2ld refuses (ERANGE); and a text of more than 780 significant digits is read as if
// its later digits were one nonzero digit, exact for doubles (float-text.ts) but not for every
// halfway point between long doubles.
import { Big } from "./big-int";
import { decExp, parseDecimal, parsedInfinity, parsedNegative, sig, sigLen } from "./float-text";

// Big enough for a 781-digit decimal times 10^4951 or 2^16446 (about 19000 bits), with room.
const CAP = 700;
const a = new Big(CAP);
const b = new Big(CAP);
const t = new Big(CAP);
const q = new Big(CAP);

/** The value parsed or computed last: an infinity (parsed, which INCRBYFLOAT then refuses), or sign, mantissa and exponent. */
export let ldInf = false;
export let ldNeg = false;
export let ldM: u64 = 0;
export let ldE: i32 = 0;

export function setLongDouble(neg: bool, m: u64, e: i32): void {
  ldInf = false;
  ldNeg = neg;
  ldM = m;
  ldE = e;
}

const MIN_EXP: i32 = -16382 - 63; // the smallest normal long double is 2^-16382 = m * 2^e with m's top bit set
const MAX_EXP: i32 = 16383 - 63;

/**
 * Rounds the big integer `x` (times 2^shift, plus a sticky bit below it when `sticky`) to 64 bits,
 * ties to even, into ldM and ldE. False when the result overflows or underflows.
 */
function roundTo64(x: Big, shift: i32, sticky: bool): bool {
  const bits = x.bitLength();
  if (bits == 0) {
    ldM = 0;
    ldE = 0;
    return !sticky;
  }
  if (bits <= 64) {
    ldM = x.bits64(0) << <u64>(64 - bits);
    ldE = shift - (64 - bits);
  } else {
    const drop = bits - 64;
    let m = x.bits64(drop);
    const half = x.testBit(drop - 1);
    const rest = sticky || x.anyBelow(drop - 1);
    ldE = shift + drop;
    if (half && (rest || (m & 1) == 1)) {
      m++;
      if (m == 0) { // carried out of 64 bits
        m = 1 << 63;
        ldE++;
      }
    }
    ldM = m;
  }
  return ldE >= MIN_EXP && ldE <= MAX_EXP;
}

/** Parses the `n` bytes at `p` as string2ld does, into ldNeg, ldM, ldE; false when they are not a valid float. */
export function parseLongDouble(p: usize, n: u32): bool {
  if (n == 0 || n >= 5 * 1024) return false; // MAX_LONG_DOUBLE_CHARS
  if (!parseDecimal(p, n)) return false;
  ldNeg = parsedNegative;
  ldInf = parsedInfinity;
  if (ldInf) return true;
  if (sigLen == 0) {
    ldM = 0;
    ldE = 0;
    return true;
  }
  // ERANGE before the big integers grow: past 10^4933 or below 10^-4952 there is no long double.
  if (<i64>sigLen + decExp > 4933 || <i64>sigLen + decExp < -4952) return false;
  a.set(0);
  for (let i = 0; i < sigLen; i++) a.mulAdd(10, unchecked(sig[i]));
  if (decExp >= 0) {
    a.mulPow5(<i32>decExp);
    a.shiftLeft(<i32>decExp);
    return roundTo64(a, 0, false);
  }
  // value = a / 10^-decExp: a quotient of 66 bits or more, then the remainder as a sticky bit.
  b.set(1);
  b.mulPow5(<i32>-decExp);
  b.shiftLeft(<i32>-decExp);
  const s = 67 - (a.bitLength() - b.bitLength());
  if (s > 0) a.shiftLeft(s);
  else b.shiftLeft(-s);
  // The quotient's bits, 68 down to 0, by restoring division; bits 64..68 in qHigh.
  let qLow: u64 = 0, qHigh: u64 = 0;
  for (let k = 68; k >= 0; k--) {
    if (a.compareShifted(b, k) < 0) continue;
    a.subShifted(b, k);
    if (k >= 64) qHigh |= <u64>1 << <u64>(k - 64);
    else qLow |= <u64>1 << <u64>k;
  }
  q.set(qHigh);
  q.shiftLeft(64);
  t.set(qLow);
  q.add(t);
  return roundTo64(q, s > 0 ? -s : 0, !a.isZero());
}


/** ldNeg, ldM, ldE += (neg, m, e): false when the sum overflows (Redis: "would produce NaN or Infinity"). */
export function addLongDouble(neg: bool, m: u64, e: i32): bool {
  if (m == 0) return true;
  if (ldM == 0) {
    ldNeg = neg;
    ldM = m;
    ldE = e;
    return true;
  }
  // Far apart, the smaller is below half an ulp of the larger: round to nearest leaves the larger.
  if (ldE - e > 130) return true;
  if (e - ldE > 130) {
    ldNeg = neg;
    ldM = m;
    ldE = e;
    return true;
  }
  const base = min(ldE, e);
  a.set(ldM);
  a.shiftLeft(ldE - base);
  b.set(m);
  b.shiftLeft(e - base);
  let negative = ldNeg;
  if (ldNeg == neg) {
    a.add(b);
  } else if (a.compare(b) >= 0) {
    a.sub(b);
  } else {
    b.sub(a);
    a.copyFrom(b);
    negative = neg;
  }
  if (a.isZero()) { // x + -x is +0 in round-to-nearest
    ldNeg = false;
    ldM = 0;
    ldE = 0;
    return true;
  }
  ldNeg = negative;
  return roundTo64(a, base, false);
}

/** Room formatLongDouble needs (MAX_LONG_DOUBLE_CHARS). */
export const LONG_DOUBLE_TEXT_BYTES: u32 = 5 * 1024;

/** Writes ldNeg, ldM, ldE as ld2string(LD_STR_HUMAN) does at `p` (LONG_DOUBLE_TEXT_BYTES of room); returns the length. */
export function formatLongDouble(p: usize): u32 {
  // N = the value * 10^17, rounded to an integer, ties to even.
  a.set(ldM);
  a.mulPow5(17);
  if (ldE + 17 >= 0) {
    a.shiftLeft(ldE + 17);
  } else {
    const drop = -(ldE + 17);
    const half = a.testBit(drop - 1);
    const rest = a.anyBelow(drop - 1);
    a.shiftRight(drop);
    if (half && (rest || a.testBit(0))) {
      t.set(1);
      a.add(t);
    }
  }
  // The digits, least significant first.
  const digits = new Array<u8>();
  while (!a.isZero()) {
    let v = a.divBillion();
    const last = a.isZero();
    for (let k = 0; k < 9 && (!last || v != 0); k++) {
      digits.push(<u8>(0x30 + v % 10));
      v /= 10;
    }
  }
  while (digits.length < 18) digits.push(0x30); // at least "0." and 17 decimals
  // Drop the decimals' trailing zeros (and the point, if none is left).
  let from = 0;
  while (from < 17 && digits[from] == 0x30) from++;
  let n: u32 = 0;
  const zero = digits.length == 18 && from == 17 && digits[17] == 0x30;
  if (ldNeg && !zero) store<u8>(p + n++, 0x2d);
  for (let i = digits.length - 1; i >= 17; i--) store<u8>(p + n++, digits[i]);
  if (from < 17) {
    store<u8>(p + n++, 0x2e);
    for (let i = 16; i >= from; i--) store<u8>(p + n++, digits[i]);
  }
  return n;
}
