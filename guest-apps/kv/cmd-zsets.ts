// Sorted-set commands (Redis t_zset.c): ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK,
// ZCOUNT, ZLEXCOUNT, ZRANGE (BYSCORE, BYLEX, REV, LIMIT) with ZRANGESTORE and the older ZREVRANGE,
// Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, ZREMRANGEBYSCORE, ZREMRANGEBYLEX, ZREMRANGEBYRANK,
// ZUNION, ZINTER, ZDIFF with their STORE forms and ZINTERCARD, ZPOPMIN, ZPOPMAX, ZMPOP, the blocking
// BZPOPMIN, BZPOPMAX and BZMPOP, ZRANDMEMBER and ZSCAN. A sorted set is a table of member records and
// a skiplist (zset.ts); scores are read and written as Redis does (float-text.ts).
import { ByteBuf, parsedInt } from "./bytes";
import { al, ap, argInt, argIs, argc, lookup, lookupOfType, wrongTypeReplied } from "./args";
import { NONE_READY, REPLIED, numkeysEnd, readyKey, readyRec, timeoutArg } from "./blocking";
import { argBytes, roomFor } from "./cmd-strings";
import { zsetGrew, zsetStartsBig } from "./encoding";
import { notInteger, syntaxError } from "./errors";
import { parseDouble, parsedDouble } from "./float-text";
import { WITH_SCORES, scanMembers } from "./member-scan";
import { TYPE_SET, TYPE_STRING, TYPE_ZSET, freeRecBlock, keyPtr, newRec, valPtr } from "./record";
import {
  replyArray, replyBulk, replyDouble, replyEmptyArray, replyError, replyInt, replyNil, replyNullArray, replyOom, replyPair, replyPairs,
  replyWrongType, resp3,
} from "./reply";
import { db } from "./server-state";
import { snapshotWillChange } from "./snapshot-writer";
import { Rec, freeRec, hashOf, newZsetRec, zsetOf } from "./store";
import { add, at, find, hashBytes, remove, slotCount } from "./table";
import {
  Zset, membersOf, nodeBackward, nodeMember, nodeNext, nodeScore, scoreOf, zslAtRank, zslDelete, zslFirst, zslInsert, zslRank,
  zslUpdateScore,
} from "./zset";
import {
  firstInLexRange, firstInScoreRange, gteMin, lastInLexRange, lastInScoreRange, lexGteMin, lexLteMax, lteMax,
  parseLexRange, parseScoreRange,
} from "./zset-ranges";

const NOT_FLOAT = "value is not a valid float";
const RANGE_NOT_FLOAT = "min or max is not a float";
const RANGE_NOT_LEX = "min or max not valid string range item";

function member(z: Zset, p: usize, n: u32): Rec | null {
  return find(membersOf(z), p, n, hashBytes(p, n));
}

/** Adds a member (the `n` bytes at `p`, not in `r` yet) at `score` to the sorted set `r`, readied for a change; false when memory is out. */
function addMember(r: Rec, p: usize, n: u32, score: f64): bool {
  const z = zsetOf(r);
  const m = newRec(p, n, hashBytes(p, n), TYPE_STRING, 8);
  if (m == null) return false;
  store<f64>(valPtr(m), score);
  if (!add(membersOf(z), m)) {
    freeRecBlock(m);
    return false;
  }
  if (!zslInsert(z, score, m)) {
    remove(membersOf(z), m);
    freeRecBlock(m);
    return false;
  }
  zsetGrew(r, z.count, n);
  return true;
}

function setScore(z: Zset, m: Rec, to: f64): void {
  const from = scoreOf(m);
  if (from == to) return;
  zslUpdateScore(z, from, m, to);
  store<f64>(valPtr(m), to);
}

function removeMember(z: Zset, m: Rec): void {
  zslDelete(z, scoreOf(m), m);
  remove(membersOf(z), m);
  freeRecBlock(m);
}

function dropIfEmpty(r: Rec): void {
  if (zsetOf(r).count == 0) db.remove(r);
}

/** Replies with a member, then its score if asked (a pair: nested in RESP3). */
function replyMember(m: Rec, withScore: bool): void {
  if (withScore) replyPair();
  replyBulk(keyPtr(m), m.keyLen);
  if (withScore) replyDouble(scoreOf(m));
}

const Z_NX = 1, Z_XX = 2, Z_GT = 4, Z_LT = 8, Z_CH = 16, Z_INCR = 32;

/** ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY key increment member (`incrby`). */
export function zadd(incrby: bool): void {
  let flags = incrby ? Z_INCR : 0;
  let at: u32 = 2;
  if (!incrby) {
    for (; at < argc; at++) {
      if (argIs(at, "nx")) flags |= Z_NX;
      else if (argIs(at, "xx")) flags |= Z_XX;
      else if (argIs(at, "ch")) flags |= Z_CH;
      else if (argIs(at, "incr")) flags |= Z_INCR;
      else if (argIs(at, "gt")) flags |= Z_GT;
      else if (argIs(at, "lt")) flags |= Z_LT;
      else break;
    }
  }
  const elements = argc - at;
  if ((elements & 1) != 0 || elements == 0) return syntaxError();
  const pairs = elements >> 1;
  if ((flags & Z_NX) != 0 && (flags & Z_XX) != 0) return replyError("XX and NX options at the same time are not compatible");
  if (((flags & (Z_GT | Z_LT)) != 0 && (flags & Z_NX) != 0) || (flags & (Z_GT | Z_LT)) == (Z_GT | Z_LT)) {
    return replyError("GT, LT, and/or NX options at the same time are not compatible");
  }
  if ((flags & Z_INCR) != 0 && pairs > 1) return replyError("INCR option supports a single increment-element pair");
  // Every score is checked before anything changes: the command runs whole or not at all.
  for (let j: u32 = 0; j < pairs; j++) if (!parseDouble(ap(at + 2 * j), al(at + 2 * j))) return replyError(NOT_FLOAT);
  const incr = (flags & Z_INCR) != 0;
  let e = lookup(1);
  if (e != null && e.type != TYPE_ZSET) return replyWrongType();
  if (e == null) {
    if ((flags & Z_XX) != 0) return incr ? replyNil() : replyInt(0);
    if (!roomFor(argBytes(at), pairs)) return replyOom();
    e = db.addZset(ap(1), al(1));
    if (e == null) return replyOom();
  } else {
    snapshotWillChange(e);
  }
  const z = zsetOf(e);
  let added = 0, updated = 0, processed = 0;
  let result: f64 = 0;
  for (let j: u32 = 0; j < pairs; j++) {
    parseDouble(ap(at + 2 * j), al(at + 2 * j));
    let score = parsedDouble;
    const k = at + 2 * j + 1;
    const m = member(z, ap(k), al(k));
    if (m != null) {
      if ((flags & Z_NX) != 0) continue;
      const cur = scoreOf(m);
      if (incr) {
        score += cur;
        if (isNaN(score)) return replyError("resulting score is not a number (NaN)");
      }
      if (((flags & Z_LT) != 0 && score >= cur) || ((flags & Z_GT) != 0 && score <= cur)) continue;
      if (score != cur) {
        setScore(z, m, score);
        updated++;
      }
    } else {
      if ((flags & Z_XX) != 0) continue;
      if (!addMember(e, ap(k), al(k), score)) {
        dropIfEmpty(e);
        return replyOom();
      }
      added++;
    }
    processed++;
    result = score;
  }
  dropIfEmpty(e);
  if (incr) {
    if (processed > 0) replyDouble(result);
    else replyNil();
  } else {
    replyInt((flags & Z_CH) != 0 ? added + updated : added);
  }
}

export function zrem(): void {
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  if (r == null) return replyInt(0);
  snapshotWillChange(r);
  const z = zsetOf(r);
  let n = 0;
  for (let i: u32 = 2; i < argc && z.count > 0; i++) {
    const m = member(z, ap(i), al(i));
    if (m == null) continue;
    removeMember(z, m);
    n++;
  }
  dropIfEmpty(r);
  replyInt(n);
}

export function zcard(): void {
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  replyInt(r == null ? 0 : zsetOf(r).count);
}

export function zscore(): void {
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  const m: Rec | null = r == null ? null : member(zsetOf(r), ap(2), al(2));
  if (m == null) replyNil();
  else replyDouble(scoreOf(m));
}

export function zmscore(): void {
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  replyArray(argc - 2);
  for (let i: u32 = 2; i < argc; i++) {
    const m: Rec | null = r == null ? null : member(zsetOf(r), ap(i), al(i));
    if (m == null) replyNil();
    else replyDouble(scoreOf(m));
  }
}

/** ZRANK, and ZREVRANK (`rev`). */
export function zrank(rev: bool): void {
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  const m: Rec | null = r == null ? null : member(zsetOf(r), ap(2), al(2));
  if (m == null) return replyNil();
  const z = zsetOf(changetype<Rec>(r));
  const rank = zslRank(z, scoreOf(m), m) - 1;
  replyInt(rev ? z.length - 1 - rank : rank);
}

/** ZCOUNT (`lex` false) and ZLEXCOUNT key min max. */
export function zcount(lex: bool): void {
  if (lex ? !parseLexRange(2, 3) : !parseScoreRange(2, 3)) return replyError(lex ? RANGE_NOT_LEX : RANGE_NOT_FLOAT);
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  if (r == null) return replyInt(0);
  const z = zsetOf(r);
  const first = lex ? firstInLexRange(z) : firstInScoreRange(z);
  if (first == 0) return replyInt(0);
  const last = lex ? lastInLexRange(z) : lastInScoreRange(z);
  replyInt(zslRank(z, nodeScore(last), nodeMember(last)) - zslRank(z, nodeScore(first), nodeMember(first)) + 1);
}

const AUTO = -1, BY_RANK = 0, BY_SCORE = 1, BY_LEX = 2;

// The range a ZRANGE-like command selected: nodes from `rangeStart`, `rangeCount` of them at most
// (-1: while in range), forwards or backwards, each still checked against the range's far end.
let rangeBy = BY_RANK;
let rangeRev = false;

/** Clamps a rank range [start, end] (negative from the end) to a set of `len`: false when it is empty. */
let rankStart: i64 = 0;
let rankEnd: i64 = 0;
function clampRanks(start: i64, end: i64, len: i64): bool {
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (start > end || start >= len) return false;
  if (end >= len) end = len - 1;
  rankStart = start;
  rankEnd = end;
  return true;
}

/**
 * Appends to `out` (u32 each) the nodes of `z` in the range parsed last (rangeBy, rangeRev, and the
 * ranks, scores or bounds), after skipping `offset`, at most `limit` of them (< 0: no limit).
 */
function collectRange(z: Zset, offset: i64, limit: i64, out: ByteBuf): void {
  if (rangeBy == BY_RANK) {
    if (!clampRanks(rankStart, rankEnd, z.length)) return;
    let n = rangeRev
      ? (rankStart > 0 ? zslAtRank(z, <u32>(<i64>z.length - rankStart)) : z.tail)
      : (rankStart > 0 ? zslAtRank(z, <u32>rankStart + 1) : zslFirst(z));
    for (let k = rankStart; k <= rankEnd && n != 0; k++) {
      out.putU32(<u32>n);
      n = rangeRev ? nodeBackward(n) : nodeNext(n);
    }
    return;
  }
  if (rangeBy == BY_SCORE && offset > 0 && offset >= <i64>z.length) return;
  let n: usize;
  if (rangeBy == BY_SCORE) n = rangeRev ? lastInScoreRange(z) : firstInScoreRange(z);
  else n = rangeRev ? lastInLexRange(z) : firstInLexRange(z);
  // Redis's loops: `while (ln && offset--)` skips (a negative offset runs off the end), and
  // `while (ln && limit--)` takes (a negative limit takes all that is in range).
  while (n != 0 && offset != 0) {
    offset--;
    n = rangeRev ? nodeBackward(n) : nodeNext(n);
  }
  while (n != 0 && limit != 0) {
    limit--;
    const inRange = rangeBy == BY_SCORE
      ? (rangeRev ? gteMin(nodeScore(n)) : lteMax(nodeScore(n)))
      : (rangeRev ? lexGteMin(nodeMember(n)) : lexLteMax(nodeMember(n)));
    if (!inRange) break;
    out.putU32(<u32>n);
    n = rangeRev ? nodeBackward(n) : nodeNext(n);
  }
}

/**
 * ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES], its older forms
 * (`by` and `rev` fixed: ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX), and with `toKey`
 * ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] (zrangeGenericCommand).
 */
export function zrange(by: i32, rev: i32, toKey: bool): void {
  const src: u32 = toKey ? 2 : 1;
  let withScores = false;
  let offset: i64 = 0, limit: i64 = -1;
  for (let j = src + 3; j < argc; j++) {
    const left = argc - j - 1;
    if (!toKey && argIs(j, "withscores")) {
      withScores = true;
    } else if (argIs(j, "limit") && left >= 2) {
      if (!argInt(j + 1)) return notInteger();
      offset = parsedInt;
      if (!argInt(j + 2)) return notInteger();
      limit = parsedInt;
      j += 2;
    } else if (rev == AUTO && argIs(j, "rev")) {
      rev = 1;
    } else if (by == AUTO && argIs(j, "bylex")) {
      by = BY_LEX;
    } else if (by == AUTO && argIs(j, "byscore")) {
      by = BY_SCORE;
    } else {
      return syntaxError();
    }
  }
  if (rev == AUTO) rev = 0;
  if (by == AUTO) by = BY_RANK;
  if (limit != -1 && by == BY_RANK) return replyError("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  if (withScores && by == BY_LEX) return replyError("syntax error, WITHSCORES not supported in combination with BYLEX");
  let lo = src + 1, hi = src + 2;
  if (rev == 1 && by != BY_RANK) { // the range is given as max, min
    lo = src + 2;
    hi = src + 1;
  }
  if (by == BY_RANK) {
    if (!argInt(lo)) return notInteger();
    rankStart = parsedInt;
    if (!argInt(hi)) return notInteger();
    rankEnd = parsedInt;
  } else if (by == BY_SCORE) {
    if (!parseScoreRange(lo, hi)) return replyError(RANGE_NOT_FLOAT);
  } else if (!parseLexRange(lo, hi)) {
    return replyError(RANGE_NOT_LEX);
  }
  rangeBy = by;
  rangeRev = rev == 1;
  const r = lookupOfType(src, TYPE_ZSET);
  if (wrongTypeReplied) return;
  const nodes = new ByteBuf();
  if (r != null) collectRange(zsetOf(r), offset, limit, nodes);
  if (nodes.failed) {
    nodes.free();
    return replyOom();
  }
  const count = nodes.len >> 2;
  if (toKey) {
    const made = newResult(true);
    if (made == null) {
      nodes.free();
      return replyOom();
    }
    let maxLen: u32 = 0;
    for (let i: u32 = 0; i < count; i++) {
      const m = nodeMember(<usize>load<u32>(nodes.ptr + (<usize>i << 2)));
      maxLen = max(maxLen, m.keyLen);
      if (!addMember(made, keyPtr(m), m.keyLen, scoreOf(m))) {
        nodes.free();
        freeRec(made);
        return replyOom();
      }
    }
    nodes.free();
    return storeResult(made, maxLen);
  }
  if (withScores) replyPairs(count);
  else replyArray(count);
  for (let i: u32 = 0; i < count; i++) replyMember(nodeMember(<usize>load<u32>(nodes.ptr + (<usize>i << 2))), withScores);
  nodes.free();
}

/** A new sorted set outside the keyspace: for key argument 1 (`forKey`), or nameless (a reply's). */
function newResult(forKey: bool): Rec | null {
  return forKey ? newZsetRec(ap(1), al(1), hashBytes(ap(1), al(1))) : newZsetRec(0, 0, 0);
}

/**
 * Makes key argument 1 the sorted set `made` (from newResult(true)), deleting the key when it is
 * empty, and replies with its size. `made` is built before the old value goes: it may be a source.
 */
function storeResult(made: Rec, maxLen: u32): void {
  const n = zsetOf(made).count;
  const old = lookup(1);
  if (old != null) db.remove(old);
  if (n == 0) {
    freeRec(made);
    return replyInt(0);
  }
  made.big = zsetStartsBig(n, maxLen) ? 1 : 0; // zsetConvertToListpackIfNeeded
  if (db.addMade(made) == null) return replyOom();
  replyInt(n);
}

/** ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX key min max (`by`). */
export function zremrange(by: i32): void {
  if (by == BY_RANK) {
    if (!argInt(2)) return notInteger();
    rankStart = parsedInt;
    if (!argInt(3)) return notInteger();
    rankEnd = parsedInt;
  } else if (by == BY_SCORE) {
    if (!parseScoreRange(2, 3)) return replyError(RANGE_NOT_FLOAT);
  } else if (!parseLexRange(2, 3)) {
    return replyError(RANGE_NOT_LEX);
  }
  rangeBy = by;
  rangeRev = false;
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  if (r == null) return replyInt(0);
  const z = zsetOf(r);
  const nodes = new ByteBuf();
  collectRange(z, 0, -1, nodes);
  if (nodes.failed) {
    nodes.free();
    return replyOom();
  }
  const count = nodes.len >> 2;
  if (count > 0) snapshotWillChange(r);
  for (let i: u32 = 0; i < count; i++) removeMember(z, nodeMember(<usize>load<u32>(nodes.ptr + (<usize>i << 2))));
  nodes.free();
  dropIfEmpty(r);
  replyInt(count);
}

export const OP_UNION = 0, OP_INTER = 1, OP_DIFF = 2;
const AGG_SUM = 0, AGG_MIN = 1, AGG_MAX = 2;

/** The score a source's member counts with: a set's members count 1. */
// @ts-ignore: decorator
@inline function sourceScore(src: Rec, m: Rec): f64 {
  return src.type == TYPE_SET ? 1.0 : scoreOf(m);
}

function aggregate(target: f64, v: f64, how: i32): f64 {
  if (how == AGG_SUM) {
    const s = target + v;
    return isNaN(s) ? 0.0 : s; // inf + -inf: Redis keeps 0
  }
  if (how == AGG_MIN) return v < target ? v : target;
  return v > target ? v : target;
}

/**
 * ZUNION, ZINTER, ZDIFF numkeys key ... (numkeys at argument 1) and their STORE forms (`toKey`: into
 * key argument 1, numkeys at 2), and ZINTERCARD (`cardOnly`): zunionInterDiffGenericCommand.
 */
export function zsetAlgebra(op: i32, toKey: bool, cardOnly: bool, name: string): void {
  const numArg: u32 = toKey ? 2 : 1;
  if (!argInt(numArg)) return notInteger();
  const setnum = parsedInt;
  if (setnum < 1) return replyError("at least 1 input key is needed for '" + name + "' command");
  if (setnum > <i64>(argc - numArg - 1)) return syntaxError();
  const n = <u32>setnum;
  const sources = new StaticArray<u32>(n);
  const weights = new StaticArray<f64>(n);
  for (let i: u32 = 0; i < n; i++) {
    const e = lookup(numArg + 1 + i);
    if (e != null && e.type != TYPE_ZSET && e.type != TYPE_SET) return replyWrongType();
    unchecked((sources[i] = e == null ? 0 : <u32>changetype<usize>(e)));
    unchecked((weights[i] = 1.0));
  }
  let how = AGG_SUM;
  let withScores = false;
  let limit: i64 = 0;
  let j = numArg + 1 + n;
  while (j < argc) {
    const remaining = argc - j;
    if (op != OP_DIFF && !cardOnly && remaining >= n + 1 && argIs(j, "weights")) {
      j++;
      for (let i: u32 = 0; i < n; i++, j++) {
        if (!parseDouble(ap(j), al(j))) return replyError("weight value is not a float");
        unchecked((weights[i] = parsedDouble));
      }
    } else if (op != OP_DIFF && !cardOnly && remaining >= 2 && argIs(j, "aggregate")) {
      j++;
      if (argIs(j, "sum")) how = AGG_SUM;
      else if (argIs(j, "min")) how = AGG_MIN;
      else if (argIs(j, "max")) how = AGG_MAX;
      else return syntaxError();
      j++;
    } else if (remaining >= 1 && !toKey && !cardOnly && argIs(j, "withscores")) {
      j++;
      withScores = true;
    } else if (cardOnly && remaining >= 2 && argIs(j, "limit")) {
      j++;
      if (!argInt(j) || parsedInt < 0) return replyError("LIMIT can't be negative");
      limit = parsedInt;
      j++;
    } else {
      return syntaxError();
    }
  }
  // Union and intersection take the sources smallest first (a stable sort, where Redis's qsort is not).
  const order = new StaticArray<u32>(n);
  for (let i: u32 = 0; i < n; i++) unchecked((order[i] = i));
  if (op != OP_DIFF) {
    for (let i: u32 = 1; i < n; i++) {
      const v = unchecked(order[i]);
      let k = i;
      while (k > 0 && sizeOf(unchecked(sources[unchecked(order[k - 1])])) > sizeOf(unchecked(sources[v]))) {
        unchecked((order[k] = order[k - 1]));
        k--;
      }
      unchecked((order[k] = v));
    }
  }
  const made: Rec | null = cardOnly ? null : newResult(toKey);
  if (!cardOnly && made == null) return replyOom();
  let card: i64 = 0;
  let maxLen: u32 = 0;
  let ok = true;
  const first = unchecked(sources[unchecked(order[0])]);
  if (op == OP_INTER) {
    if (first != 0 && sizeOf(first) > 0) {
      const s0 = changetype<Rec>(<usize>first);
      const w0 = unchecked(weights[unchecked(order[0])]);
      const t = hashOf(s0);
      const slots = slotCount(t);
      for (let k: u32 = 0; k < slots && ok; k++) {
        const m = at(t, k);
        if (m == null) continue;
        const raw = sourceScore(s0, m);
        let score = w0 * raw;
        if (isNaN(score)) score = 0;
        let inAll = true;
        for (let i: u32 = 1; i < n && inAll; i++) {
          const si = unchecked(order[i]);
          const src = unchecked(sources[si]);
          if (src == first) {
            score = aggregate(score, raw * unchecked(weights[si]), how);
            continue;
          }
          const other: Rec | null = src == 0 ? null : find(hashOf(changetype<Rec>(<usize>src)), keyPtr(m), m.keyLen, m.hash);
          if (other == null) inAll = false;
          else score = aggregate(score, sourceScore(changetype<Rec>(<usize>src), changetype<Rec>(other)) * unchecked(weights[si]), how);
        }
        if (!inAll) continue;
        if (cardOnly) {
          card++;
          if (limit > 0 && card >= limit) break;
          continue;
        }
        maxLen = max(maxLen, m.keyLen);
        ok = addMember(changetype<Rec>(made), keyPtr(m), m.keyLen, score);
      }
    }
  } else if (op == OP_UNION) {
    const res = changetype<Rec>(made);
    const into = membersOf(zsetOf(res));
    // The members and their aggregated scores into the result's table first; the list is made once they are final.
    for (let i: u32 = 0; i < n && ok; i++) {
      const si = unchecked(order[i]);
      const src = unchecked(sources[si]);
      if (src == 0) continue;
      const s = changetype<Rec>(<usize>src);
      const t = hashOf(s);
      const slots = slotCount(t);
      for (let k: u32 = 0; k < slots && ok; k++) {
        const m = at(t, k);
        if (m == null) continue;
        let score = unchecked(weights[si]) * sourceScore(s, m);
        if (isNaN(score)) score = 0;
        const have = find(into, keyPtr(m), m.keyLen, m.hash);
        if (have != null) {
          store<f64>(valPtr(have), aggregate(scoreOf(have), score, how));
          continue;
        }
        const copy = newRec(keyPtr(m), m.keyLen, m.hash, TYPE_STRING, 8);
        ok = copy != null && add(into, copy);
        if (!ok) {
          if (copy != null) freeRecBlock(copy);
          break;
        }
        store<f64>(valPtr(copy!), score);
        maxLen = max(maxLen, m.keyLen);
      }
    }
    const slots = slotCount(into);
    for (let k: u32 = 0; k < slots && ok; k++) {
      const m = at(into, k);
      if (m != null) ok = zslInsert(zsetOf(res), scoreOf(m), m);
    }
  } else if (first != 0) { // OP_DIFF: the first source's members that no other has, with their scores
    const s0 = changetype<Rec>(<usize>first);
    const t = hashOf(s0);
    const slots = slotCount(t);
    for (let k: u32 = 0; k < slots && ok; k++) {
      const m = at(t, k);
      if (m == null) continue;
      let elsewhere = false;
      for (let i: u32 = 1; i < n && !elsewhere; i++) {
        const src = unchecked(sources[i]);
        elsewhere = src != 0 && (src == first || find(hashOf(changetype<Rec>(<usize>src)), keyPtr(m), m.keyLen, m.hash) != null);
      }
      if (elsewhere) continue;
      maxLen = max(maxLen, m.keyLen);
      ok = addMember(changetype<Rec>(made), keyPtr(m), m.keyLen, sourceScore(s0, m));
    }
  }
  if (cardOnly) return replyInt(card);
  const res = changetype<Rec>(made);
  if (!ok) {
    freeRec(res);
    return replyOom();
  }
  if (toKey) return storeResult(res, maxLen);
  const z = zsetOf(res);
  if (withScores) replyPairs(z.length);
  else replyArray(z.length);
  for (let node = zslFirst(z); node != 0; node = nodeNext(node)) replyMember(nodeMember(node), withScores);
  freeRec(res);
}

/** A source's size (0: absent). */
function sizeOf(src: u32): u32 {
  return src == 0 ? 0 : hashOf(changetype<Rec>(<usize>src)).count;
}

/**
 * Pops from the sorted set `e` at key argument `k`: its lowest (or highest: `max`) member, or `count`
 * of them (-1: one, as the plain form). The reply: ZPOPMIN's flat [member, score, ...] (!withKey),
 * BZPOPMIN's [key, member, score], or ZMPOP's [key, [[member, score], ...]] (`nested`).
 */
function popFrom(e: Rec, k: u32, max: bool, count: i64, withKey: bool, nested: bool): void {
  snapshotWillChange(e);
  const z = zsetOf(e);
  const n = count < 0 ? 1 : min<i64>(count, z.length);
  // ZPOPMIN with a count nests its pairs in RESP3, as ZMPOP does in both.
  if (!withKey && resp3 && count >= 0) nested = true;
  if (!withKey) {
    replyArray(nested ? n : n * 2);
  } else if (!nested) {
    replyArray(n * 2 + 1);
    replyBulk(ap(k), al(k));
  } else {
    replyArray(2);
    replyBulk(ap(k), al(k));
    replyArray(n);
  }
  for (let i: i64 = 0; i < n; i++) {
    const m = nodeMember(max ? z.tail : zslFirst(z));
    if (nested) replyArray(2);
    replyBulk(keyPtr(m), m.keyLen);
    replyDouble(scoreOf(m));
    removeMember(z, m);
  }
  dropIfEmpty(e);
}

/** ZPOPMIN and ZPOPMAX key [count]. */
export function zpop(max: bool): void {
  if (argc > 3) return syntaxError();
  let count: i64 = -1;
  if (argc == 3) {
    if (!argInt(2) || parsedInt < 0) return replyError("value is out of range, must be positive");
    count = parsedInt;
  }
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  if (r == null || count == 0) return replyEmptyArray();
  popFrom(r, 1, max, count, false, false);
}

/** BZPOPMIN and BZPOPMAX key [key ...] timeout: REPLIED, or the deadline to block until (blocking.ts). */
export function bzpop(max: bool): i64 {
  const deadline = timeoutArg(argc - 1);
  if (deadline == REPLIED) return REPLIED;
  const k = readyKey(1, argc - 1, TYPE_ZSET);
  if (k == NONE_READY) return deadline;
  if (k >= 0) popFrom(changetype<Rec>(readyRec), k, max, -1, true, false);
  return REPLIED;
}

/**
 * ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] (`first` = 1) and BZMPOP timeout numkeys ...
 * (`first` = 2): REPLIED, or BZMPOP's deadline to block until.
 */
export function zmpop(first: u32): i64 {
  const end = numkeysEnd(first);
  if (end < 0) return REPLIED;
  const where = <u32>end;
  let max = false;
  if (argIs(where, "max")) max = true;
  else if (!argIs(where, "min")) {
    syntaxError();
    return REPLIED;
  }
  let count: i64 = -1;
  for (let j = where + 1; j < argc; j++) {
    if (count == -1 && argIs(j, "count") && j + 1 < argc) {
      j++;
      if (!argInt(j) || parsedInt < 1) {
        replyError("count should be greater than 0");
        return REPLIED;
      }
      count = parsedInt;
    } else {
      syntaxError();
      return REPLIED;
    }
  }
  if (count == -1) count = 1;
  if (first == 2) {
    const deadline = timeoutArg(1);
    if (deadline == REPLIED) return REPLIED;
    const k = readyKey(first + 1, where, TYPE_ZSET);
    if (k == NONE_READY) return deadline;
    if (k >= 0) popFrom(changetype<Rec>(readyRec), k, max, count, true, true);
    return REPLIED;
  }
  for (let i = first + 1; i < where; i++) {
    const e = lookup(i);
    if (e == null) continue;
    if (e.type != TYPE_ZSET) {
      replyWrongType();
      return REPLIED;
    }
    popFrom(e, i, max, count, true, true);
    return REPLIED;
  }
  replyNullArray();
  return REPLIED;
}

export function zscan(): void {
  const r = lookupOfType(1, TYPE_ZSET);
  if (wrongTypeReplied) return;
  scanMembers(r, r == null ? null : membersOf(zsetOf(r)), WITH_SCORES);
}
