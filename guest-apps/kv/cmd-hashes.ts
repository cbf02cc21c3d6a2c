// Hash commands (Redis t_hash.c): HSET, HGET, HDEL, HGETALL, HLEN, HEXISTS, HINCRBY.
import { copyBytes, parseBufI64, parsedInt, writeDecimal } from "./bytes";
import { al, ap, argInt, argc, lookup } from "./args";
import { DIGITS, addChecked } from "./cmd-strings";
import { notInteger, wrongArity } from "./errors";
import { replyArray, replyBulkBuf, replyEmptyArray, replyError, replyInt, replyNil, replyWrongType } from "./reply";
import { db } from "./server-state";
import { Dict, Entry, TYPE_HASH, created, hashBytes } from "./store";

/** The hash at key argument 1, made if absent; null after a WRONGTYPE reply. */
function hashForWrite(): Dict | null {
  const e = lookup(1);
  if (e != null) {
    if (e.type != TYPE_HASH) {
      replyWrongType();
      return null;
    }
    return e.hash;
  }
  const made = db.addMissing(ap(1), al(1));
  made.type = TYPE_HASH;
  made.str = null;
  const h = new Dict();
  made.hash = h;
  return h;
}

/** The hash at key argument 1; null when absent (wrongType tells a WRONGTYPE reply was sent). */
let wrongType = false;
function hashForRead(): Dict | null {
  wrongType = false;
  const e = lookup(1);
  if (e == null) return null;
  if (e.type != TYPE_HASH) {
    wrongType = true;
    replyWrongType();
    return null;
  }
  return e.hash;
}

export function hset(): void {
  if ((argc & 1) != 0) return wrongArity("hset");
  const h = hashForWrite();
  if (h == null) return;
  let added = 0;
  for (let i: u32 = 2; i < argc; i += 2) {
    const f = h.findOrAdd(ap(i), al(i));
    if (created) added++;
    f.str = copyBytes(ap(i + 1), al(i + 1));
  }
  replyInt(added);
}

export function hget(): void {
  const h = hashForRead();
  if (wrongType) return;
  const f: Entry | null = h == null ? null : h.find(ap(2), al(2), hashBytes(ap(2), al(2)));
  if (f == null) replyNil();
  else replyBulkBuf(changetype<ArrayBuffer>(f.str));
}

export function hdel(): void {
  const h = hashForRead();
  if (wrongType) return;
  if (h == null) return replyInt(0);
  let n = 0;
  for (let i: u32 = 2; i < argc; i++) {
    const f = h.find(ap(i), al(i), hashBytes(ap(i), al(i)));
    if (f != null) {
      h.remove(f);
      n++;
    }
  }
  if (h.count == 0) db.remove(changetype<Entry>(lookup(1)));
  replyInt(n);
}

export function hgetall(): void {
  const h = hashForRead();
  if (wrongType) return;
  if (h == null) return replyEmptyArray();
  replyArray(<i64>h.count * 2);
  for (let i = 0; i < h.size; i++) {
    const f = h.at(i);
    if (f == null) continue;
    replyBulkBuf(f.key);
    replyBulkBuf(changetype<ArrayBuffer>(f.str));
  }
}

export function hlen(): void {
  const h = hashForRead();
  if (wrongType) return;
  replyInt(h == null ? 0 : h.count);
}

export function hexists(): void {
  const h = hashForRead();
  if (wrongType) return;
  replyInt(h != null && h.find(ap(2), al(2), hashBytes(ap(2), al(2))) != null ? 1 : 0);
}

export function hincrby(): void {
  if (!argInt(3)) return notInteger();
  const by = parsedInt;
  const h = hashForWrite();
  if (h == null) return;
  const f = h.findOrAdd(ap(2), al(2));
  let old: i64 = 0;
  if (!created) {
    if (!parseBufI64(changetype<ArrayBuffer>(f.str))) return replyError("hash value is not an integer");
    old = parsedInt;
  }
  if (!addChecked(old, by)) {
    if (created) {
      h.remove(f);
      if (h.count == 0) db.remove(changetype<Entry>(lookup(1)));
    }
    return;
  }
  const v = old + by;
  f.str = copyBytes(DIGITS, writeDecimal(DIGITS, v));
  replyInt(v);
}
