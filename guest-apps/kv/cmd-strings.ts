// String commands (Redis t_string.c): SET, SETNX, SETEX, PSETEX, GET, GETSET, GETDEL, GETEX,
// GETRANGE (SUBSTR), SETRANGE, MGET, MSET, MSETNX, INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT, APPEND,
// STRLEN.
import { copyMemory, parseI64, parsedInt, writeDecimal } from "./bytes";
import { maxBulk } from "./conn";
import { now } from "./clock";
import { al, ap, argIs, argInt, argc, lookup } from "./args";
import { notInteger, syntaxError, wrongArity } from "./errors";
import { replyArray, replyBulk, replyError, replyInt, replyMark, replyNil, replyOk, replyOom, replyRollback, replyWrongType } from "./reply";
import { memoryAvailable } from "./zmalloc";
import { db } from "./server-state";
import { Rec, TYPE_STRING } from "./store";
import { valPtr } from "./record";
import { logDelInstead, logFloatResult, logPexpireat, logSetPxat } from "./aof-feed";
import { LONG_DOUBLE_TEXT_BYTES, addLongDouble, formatLongDouble, ldE, ldInf, ldM, ldNeg, parseLongDouble } from "./long-double";

/**
 * Sets key argument `k` to the bytes of argument `v` (a string), keeping the TTL only if asked.
 * `found` is what lookup(k), the last lookup, returned. Returns the key's record, or null, nothing
 * changed, when memory is out.
 */
function setString(k: u32, v: u32, keepTtl: bool, found: Rec | null): Rec | null {
  if (found == null) return db.addString(ap(k), al(k), ap(v), al(v));
  const stored = db.setString(found, ap(v), al(v));
  if (stored != null && stored.expireAt != 0 && !keepTtl) db.clearExpiry(stored);
  return stored;
}

/** Would `records` new records holding `bytes` of arguments fit? (the check of a command that stores several) */
export function roomFor(bytes: u64, records: u64): bool {
  return bytes + records * 64 <= memoryAvailable();
}

/** The bytes of arguments from..argc-1. */
export function argBytes(from: u32): u64 {
  let n: u64 = 0;
  for (let i = from; i < argc; i++) n += <u64>al(i);
  return n;
}

// @ts-ignore: decorator
@inline function replyValue(r: Rec): void {
  replyBulk(valPtr(r), r.valLen);
}

const FLAG_NX = 1, FLAG_XX = 2, FLAG_GET = 4, FLAG_KEEPTTL = 8, FLAG_EX = 16, FLAG_PX = 32, FLAG_EXAT = 64, FLAG_PXAT = 128;
const EXPIRE_FLAGS = FLAG_EX | FLAG_PX | FLAG_EXAT | FLAG_PXAT;

export function set(): void {
  let flags = 0;
  let expireArg: u32 = 0;
  for (let j: u32 = 3; j < argc; j++) {
    const hasNext = j + 1 < argc;
    if (argIs(j, "nx") && !(flags & FLAG_XX)) flags |= FLAG_NX;
    else if (argIs(j, "xx") && !(flags & FLAG_NX)) flags |= FLAG_XX;
    else if (argIs(j, "get")) flags |= FLAG_GET;
    else if (argIs(j, "keepttl") && !(flags & EXPIRE_FLAGS)) flags |= FLAG_KEEPTTL;
    else if (argIs(j, "ex") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_EX))) && hasNext) {
      flags |= FLAG_EX;
      expireArg = ++j;
    } else if (argIs(j, "px") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_PX))) && hasNext) {
      flags |= FLAG_PX;
      expireArg = ++j;
    } else if (argIs(j, "exat") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_EXAT))) && hasNext) {
      flags |= FLAG_EXAT;
      expireArg = ++j;
    } else if (argIs(j, "pxat") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_PXAT))) && hasNext) {
      flags |= FLAG_PXAT;
      expireArg = ++j;
    } else {
      syntaxError();
      return;
    }
  }
  let at: i64 = 0;
  if (flags & EXPIRE_FLAGS) {
    at = expireArgument(expireArg, (flags & (FLAG_EX | FLAG_EXAT)) != 0, (flags & (FLAG_EX | FLAG_PX)) != 0, "set");
    if (at == 0) return;
  }
  const e = lookup(1);
  const mark = replyMark();
  if (flags & FLAG_GET) {
    if (e == null) replyNil();
    else if (e.type != TYPE_STRING) return replyWrongType();
    else replyValue(e);
  }
  if (((flags & FLAG_NX) && e != null) || ((flags & FLAG_XX) && e == null)) {
    if (!(flags & FLAG_GET)) replyNil();
    return;
  }
  if (at != 0 && !db.reserveExpiry()) return oom(mark);
  const stored = setString(1, 2, (flags & FLAG_KEEPTTL) != 0, e);
  if (stored == null) return oom(mark);
  if (at != 0) {
    if (at <= now()) db.remove(stored); // an absolute time in the past: Redis deletes at once
    else db.setExpiry(stored, at); // room reserved above
    if (flags & (FLAG_EX | FLAG_PX)) logSetPxat(1, 2, at); // the log has the instant, not the time left
  }
  if (!(flags & FLAG_GET)) replyOk();
}

/**
 * The expiry instant (ms) that argument `arg` gives, in seconds or ms, relative to now or not, as
 * Redis's getExpireMillisecondsOrReply checks it; 0, with the error replied, if it is not one.
 */
function expireArgument(arg: u32, seconds: bool, relative: bool, command: string): i64 {
  if (!argInt(arg)) {
    notInteger();
    return 0;
  }
  let ms = parsedInt;
  if (ms <= 0 || (seconds && ms > i64.MAX_VALUE / 1000)) return invalidExpire(command);
  if (seconds) ms *= 1000;
  if (relative) {
    if (ms > i64.MAX_VALUE - now()) return invalidExpire(command);
    ms += now();
  }
  return ms;
}

function invalidExpire(command: string): i64 {
  replyError("invalid expire time in '" + command + "' command");
  return 0;
}

export function setnx(): void {
  if (lookup(1) != null) return replyInt(0);
  if (setString(1, 2, false, null) == null) return replyOom();
  replyInt(1);
}

/** SETEX key seconds value, PSETEX key milliseconds value: SET with EX or PX, logged as SET PXAT. */
export function setex(seconds: bool): void {
  const at = expireArgument(2, seconds, true, seconds ? "setex" : "psetex");
  if (at == 0) return;
  const e = lookup(1);
  if (!db.reserveExpiry()) return replyOom();
  const stored = setString(1, 3, false, e);
  if (stored == null) return replyOom();
  db.setExpiry(stored, at); // room reserved above
  logSetPxat(1, 3, at);
  replyOk();
}

export function getdel(): void {
  const e = lookup(1);
  if (e == null) return replyNil();
  if (e.type != TYPE_STRING) return replyWrongType();
  replyValue(e);
  db.remove(e);
}

const GETEX_PERSIST = 256;

/** GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: GET that also sets or clears the expiry. */
export function getex(): void {
  let flags = 0;
  let expireArg: u32 = 0;
  for (let j: u32 = 2; j < argc; j++) {
    const hasNext = j + 1 < argc;
    // As t_string.c parses it: an option may repeat (the last wins), but not meet another.
    if (argIs(j, "persist") && (flags & ~GETEX_PERSIST) == 0) {
      flags = GETEX_PERSIST;
      continue;
    }
    if (hasNext && argIs(j, "ex") && (flags & ~FLAG_EX) == 0) flags = FLAG_EX;
    else if (hasNext && argIs(j, "px") && (flags & ~FLAG_PX) == 0) flags = FLAG_PX;
    else if (hasNext && argIs(j, "exat") && (flags & ~FLAG_EXAT) == 0) flags = FLAG_EXAT;
    else if (hasNext && argIs(j, "pxat") && (flags & ~FLAG_PXAT) == 0) flags = FLAG_PXAT;
    else return syntaxError();
    expireArg = ++j;
  }
  let at: i64 = 0;
  if (flags & EXPIRE_FLAGS) {
    at = expireArgument(expireArg, (flags & (FLAG_EX | FLAG_EXAT)) != 0, (flags & (FLAG_EX | FLAG_PX)) != 0, "getex");
    if (at == 0) return;
  }
  const e = lookup(1);
  if (e == null) return replyNil();
  if (e.type != TYPE_STRING) return replyWrongType();
  if (at != 0 && at > now() && !db.reserveExpiry()) return replyOom();
  replyValue(e);
  if (at != 0) {
    if (at <= now()) {
      db.remove(e); // an absolute time in the past: Redis deletes, and propagates a DEL
      logDelInstead(1);
    } else {
      db.setExpiry(e, at);
      logPexpireat(1, at);
    }
  } else if (flags == GETEX_PERSIST && e.expireAt != 0) {
    db.clearExpiry(e); // logged as it came: GETEX key PERSIST
  }
}

/** GETRANGE key start end (and SUBSTR): Redis's clamping of the two indexes, from the end when negative. */
export function getrange(): void {
  if (!argInt(2)) return notInteger();
  let start = parsedInt;
  if (!argInt(3)) return notInteger();
  let end = parsedInt;
  const e = lookup(1);
  if (e == null) return replyBulk(0, 0);
  if (e.type != TYPE_STRING) return replyWrongType();
  const len = <i64>e.valLen;
  if (start < 0 && end < 0 && start > end) return replyBulk(0, 0);
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return replyBulk(0, 0);
  replyBulk(valPtr(e) + <usize>start, <u32>(end - start + 1));
}

/** SETRANGE key offset value: overwrites from `offset`, zero-padding a shorter string; the new length. */
export function setrange(): void {
  if (!argInt(2)) return notInteger();
  const offset = parsedInt;
  if (offset < 0 || offset > <i64>i32.MAX_VALUE) return replyError("offset is out of range");
  const n = al(3);
  const e = lookup(1);
  if (e != null && e.type != TYPE_STRING) return replyWrongType();
  if (n == 0) return replyInt(e == null ? 0 : e.valLen);
  const total = offset + <i64>n;
  if (total > <i64>maxBulk) return replyError("string exceeds maximum allowed size (proto-max-bulk-len)");
  let r = e != null ? e : db.addString(ap(1), al(1), 0, 0);
  if (r == null) return replyOom();
  const had = r.valLen;
  r = db.resizeString(r, max<u32>(had, <u32>total)); // also the snapshot's copy before a change in place
  if (r == null) return replyOom();
  if (<i64>had < offset) memory.fill(valPtr(r) + had, 0, <usize>(offset - <i64>had));
  copyMemory(valPtr(r) + <usize>offset, ap(3), n);
  replyInt(r.valLen);
}

/** MSETNX: sets every pair, or none if any key exists. */
export function msetnx(): void {
  if ((argc & 1) == 0) return wrongArity("msetnx");
  for (let i: u32 = 1; i < argc; i += 2) if (lookup(i) != null) return replyInt(0);
  if (!roomFor(argBytes(1), argc >> 1)) return replyOom();
  for (let i: u32 = 1; i < argc; i += 2) {
    // A key named twice: the later pair wins, as in MSET.
    if (setString(i, i + 1, false, lookup(i)) == null) return replyOom();
  }
  replyInt(1);
}

/** Memory is out: -OOM instead of whatever the command had replied since `mark`, nothing stored. */
function oom(mark: u32): void {
  replyRollback(mark);
  replyOom();
}

export function get(): void {
  const e = lookup(1);
  if (e == null) replyNil();
  else if (e.type != TYPE_STRING) replyWrongType();
  else replyValue(e);
}

export function getset(): void {
  const e = lookup(1);
  if (e != null && e.type != TYPE_STRING) return replyWrongType();
  if (e == null) replyNil();
  else replyValue(e);
  setString(1, 2, false, e);
}

export function mget(): void {
  replyArray(argc - 1);
  for (let i: u32 = 1; i < argc; i++) {
    const e = lookup(i);
    if (e == null || e.type != TYPE_STRING) replyNil();
    else replyValue(e);
  }
}

export function mset(): void {
  if ((argc & 1) == 0) return wrongArity("mset");
  for (let i: u32 = 1; i < argc; i += 2) {
    setString(i, i + 1, false, lookup(i));
  }
  replyOk();
}

const OVERFLOW = "increment or decrement would overflow";

/** Whether old + by fits in an i64; replies the overflow error if not. */
export function addChecked(old: i64, by: i64): bool {
  if ((by < 0 && old < 0 && by < i64.MIN_VALUE - old) || (by > 0 && old > 0 && by > i64.MAX_VALUE - old)) {
    replyError(OVERFLOW);
    return false;
  }
  return true;
}

export const DIGITS = memory.data(32);

export function incrBy(by: i64): void {
  const e = lookup(1);
  let old: i64 = 0;
  if (e != null) {
    if (e.type != TYPE_STRING) return replyWrongType();
    if (!parseI64(valPtr(e), e.valLen)) return notInteger();
    old = parsedInt;
  }
  if (!addChecked(old, by)) return;
  const v = old + by;
  const n = writeDecimal(DIGITS, v);
  const stored = e == null ? db.addString(ap(1), al(1), DIGITS, n) : db.setString(e, DIGITS, n);
  if (stored == null) return replyOom();
  replyInt(v);
}

/** Where INCRBYFLOAT and HINCRBYFLOAT write their result's text. */
export const LD_TEXT = memory.data(LONG_DOUBLE_TEXT_BYTES);

/** INCRBYFLOAT key increment: in long double arithmetic (long-double.ts), logged as the SET of its result. */
export function incrbyfloat(): void {
  const e = lookup(1);
  if (e != null && e.type != TYPE_STRING) return replyWrongType();
  let inf = false, neg = false, m: u64 = 0, x: i32 = 0;
  if (e != null) {
    if (!parseLongDouble(valPtr(e), e.valLen)) return replyError("value is not a valid float");
    inf = ldInf;
    neg = ldNeg;
    m = ldM;
    x = ldE;
  }
  if (!parseLongDouble(ap(2), al(2))) return replyError("value is not a valid float");
  if (inf || ldInf || !addLongDouble(neg, m, x)) return replyError("increment would produce NaN or Infinity");
  const n = formatLongDouble(LD_TEXT);
  const stored = e == null ? db.addString(ap(1), al(1), LD_TEXT, n) : db.setString(e, LD_TEXT, n);
  if (stored == null) return replyOom();
  logFloatResult(false, LD_TEXT, n);
  replyBulk(LD_TEXT, n);
}

export function decrBy(): void {
  if (!argInt(2)) return notInteger();
  if (parsedInt == i64.MIN_VALUE) return replyError("decrement would overflow");
  incrBy(-parsedInt);
}

export function append(): void {
  const e = lookup(1);
  const n = al(2);
  if (e == null) {
    if (setString(1, 2, false, null) == null) return replyOom();
    replyInt(n);
    return;
  }
  if (e.type != TYPE_STRING) return replyWrongType();
  const had = e.valLen;
  const total = <u64>had + <u64>n;
  if (total > <u64>maxBulk) return replyError("string exceeds maximum allowed size (proto-max-bulk-len)");
  const grown = db.resizeString(e, <u32>total);
  if (grown == null) return replyOom();
  copyMemory(valPtr(grown) + had, ap(2), n);
  replyInt(<i64>total);
}

export function strlen(): void {
  const e = lookup(1);
  if (e == null) replyInt(0);
  else if (e.type != TYPE_STRING) replyWrongType();
  else replyInt(e.valLen);
}
