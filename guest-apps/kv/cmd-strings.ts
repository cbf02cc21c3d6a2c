// String commands (Redis t_string.c): SET, GET, GETSET, MGET, MSET, INCR, INCRBY, DECR, DECRBY,
// APPEND, STRLEN.
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
import { logSetPxat } from "./aof-feed";

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
    if (!argInt(expireArg)) return notInteger();
    let ms = parsedInt;
    const seconds = (flags & (FLAG_EX | FLAG_EXAT)) != 0;
    if (ms <= 0 || (seconds && ms > i64.MAX_VALUE / 1000)) return replyError("invalid expire time in 'set' command");
    if (seconds) ms *= 1000;
    if (flags & (FLAG_EX | FLAG_PX)) {
      if (ms > i64.MAX_VALUE - now()) return replyError("invalid expire time in 'set' command");
      ms += now();
    }
    at = ms;
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
    if (flags & (FLAG_EX | FLAG_PX)) logSetPxat(at); // the log has the instant, not the time left
  }
  if (!(flags & FLAG_GET)) replyOk();
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
