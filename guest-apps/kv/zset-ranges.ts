// The ranges of sorted-set commands (Redis t_zset.c zslParseRange, zslParseLexRange and the tests
// beside them): a score range [min, max] with either end exclusive, and a lexicographic range over
// member bytes whose ends are "-", "+", "[member" or "(member". One range at a time, parsed from the
// command's arguments, which stay valid while the command runs.
import { al, ap } from "./args";
import { parseDouble, parsedDouble } from "./float-text";
import { Rec, keyPtr } from "./record";
import { Zset, compareBytes, nodeMember, nodeNext, nodeScore, zslLastWhile } from "./zset";

let min: f64 = 0;
let max: f64 = 0;
let minEx = false;
let maxEx = false;

/** Reads a score bound: "(" for an exclusive one, then what strtod takes (inf, -inf...). */
function scoreBound(i: u32, isMin: bool): bool {
  let p = ap(i), n = al(i);
  const ex = n > 0 && load<u8>(p) == 0x28; // '('
  if (ex) {
    p++;
    n--;
  }
  if (!parseDouble(p, n, true)) return false;
  if (isMin) {
    min = parsedDouble;
    minEx = ex;
  } else {
    max = parsedDouble;
    maxEx = ex;
  }
  return true;
}

/** Parses score arguments `lo` and `hi`; false when either is not a float (the caller answers). */
export function parseScoreRange(lo: u32, hi: u32): bool {
  return scoreBound(lo, true) && scoreBound(hi, false);
}

// @ts-ignore: decorator
@inline export function gteMin(v: f64): bool {
  return minEx ? v > min : v >= min;
}

// @ts-ignore: decorator
@inline export function lteMax(v: f64): bool {
  return maxEx ? v < max : v <= max;
}

// @ts-ignore: decorator
@inline function notHead(z: Zset, n: usize): usize {
  return n == z.head ? 0 : n;
}

/** Can no score lie in the range? (zslIsInRange's first test) */
function scoreRangeEmpty(): bool {
  return min > max || (min == max && (minEx || maxEx));
}

function belowMin(n: usize): bool {
  return !gteMin(nodeScore(n));
}

function nodeLteMax(n: usize): bool {
  return lteMax(nodeScore(n));
}

/** The first node in the score range, or 0. */
export function firstInScoreRange(z: Zset): usize {
  if (scoreRangeEmpty()) return 0;
  const n = nodeNext(zslLastWhile(z, belowMin));
  return n != 0 && lteMax(nodeScore(n)) ? n : 0;
}

/** The last node in the score range, or 0. */
export function lastInScoreRange(z: Zset): usize {
  if (scoreRangeEmpty()) return 0;
  const n = notHead(z, zslLastWhile(z, nodeLteMax));
  return n != 0 && gteMin(nodeScore(n)) ? n : 0;
}

// A lexicographic bound: "-" below everything, "+" above, else the argument's bytes after its "[" or "(".
const LEX_BYTES = 0, LEX_MINUS = 1, LEX_PLUS = 2;
let lexMinKind = LEX_BYTES;
let lexMaxKind = LEX_BYTES;
let lexMinP: usize = 0;
let lexMinN: u32 = 0;
let lexMaxP: usize = 0;
let lexMaxN: u32 = 0;
let lexMinEx = false;
let lexMaxEx = false;

function lexBound(i: u32, isMin: bool): bool {
  const p = ap(i), n = al(i);
  if (n == 0) return false;
  const c = load<u8>(p);
  let kind = LEX_BYTES;
  let ex = false;
  if (c == 0x2b || c == 0x2d) { // '+', '-': alone, and exclusive (shared.maxstring, minstring)
    if (n != 1) return false;
    kind = c == 0x2b ? LEX_PLUS : LEX_MINUS;
    ex = true;
  } else if (c == 0x28 || c == 0x5b) { // '(', '['
    ex = c == 0x28;
  } else {
    return false;
  }
  if (isMin) {
    lexMinKind = kind;
    lexMinEx = ex;
    lexMinP = p + 1;
    lexMinN = n - 1;
  } else {
    lexMaxKind = kind;
    lexMaxEx = ex;
    lexMaxP = p + 1;
    lexMaxN = n - 1;
  }
  return true;
}

/** Parses lexicographic arguments `lo` and `hi`; false when either is not a valid range item. */
export function parseLexRange(lo: u32, hi: u32): bool {
  return lexBound(lo, true) && lexBound(hi, false);
}

/** Compares member bytes with a bound (sdscmplex: "-" below all, "+" above all). */
function cmpBound(p: usize, n: u32, kind: i32, bp: usize, bn: u32): i32 {
  if (kind == LEX_MINUS) return 1;
  if (kind == LEX_PLUS) return -1;
  return compareBytes(p, n, bp, bn);
}

export function lexGteMin(m: Rec): bool {
  const c = cmpBound(keyPtr(m), m.keyLen, lexMinKind, lexMinP, lexMinN);
  return lexMinEx ? c > 0 : c >= 0;
}

export function lexLteMax(m: Rec): bool {
  const c = cmpBound(keyPtr(m), m.keyLen, lexMaxKind, lexMaxP, lexMaxN);
  return lexMaxEx ? c < 0 : c <= 0;
}

/** Can no member lie in the range? (zslIsInLexRange's first test) */
function lexRangeEmpty(): bool {
  let c: i32;
  if (lexMinKind == lexMaxKind && lexMinKind != LEX_BYTES) c = 0;
  else if (lexMinKind == LEX_MINUS || lexMaxKind == LEX_PLUS) c = -1;
  else if (lexMinKind == LEX_PLUS || lexMaxKind == LEX_MINUS) c = 1;
  else c = compareBytes(lexMinP, lexMinN, lexMaxP, lexMaxN);
  return c > 0 || (c == 0 && (lexMinEx || lexMaxEx));
}

function belowLexMin(n: usize): bool {
  return !lexGteMin(nodeMember(n));
}

function nodeLexLteMax(n: usize): bool {
  return lexLteMax(nodeMember(n));
}

/** The first node in the lexicographic range, or 0. */
export function firstInLexRange(z: Zset): usize {
  if (lexRangeEmpty()) return 0;
  const n = nodeNext(zslLastWhile(z, belowLexMin));
  return n != 0 && lexLteMax(nodeMember(n)) ? n : 0;
}

/** The last node in the lexicographic range, or 0. */
export function lastInLexRange(z: Zset): usize {
  if (lexRangeEmpty()) return 0;
  const n = notHead(z, zslLastWhile(z, nodeLexLteMax));
  return n != 0 && lexGteMin(nodeMember(n)) ? n : 0;
}
