// Hash commands (Redis t_hash.c): HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HGETALL, HKEYS, HVALS,
// HLEN, HSTRLEN, HEXISTS, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN. A hash's
// fields are records (record.ts) in a table inline in the key's record (store.ts, hashOf).
import { parseI64, parsedInt, writeDecimal } from "./bytes";
import { al, ap, argInt, argc, lookup, lookupOfType, wrongTypeReplied } from "./args";
import { DIGITS, LD_TEXT, addChecked, argBytes, roomFor } from "./cmd-strings";
import { addLongDouble, formatLongDouble, ldE, ldInf, ldM, ldNeg, parseLongDouble, setLongDouble } from "./long-double";
import { logFloatResult } from "./aof-feed";
import { hashGrew } from "./encoding";
import { notInteger, wrongArity } from "./errors";
import { WITH_VALUES, scanMembers } from "./member-scan";
import { freeRecBlock, keyPtr, newString, valPtr } from "./record";
import { replyArray, replyBulk, replyEmptyArray, replyError, replyInt, replyMap, replyNil, replyOk, replyOom, replyWrongType } from "./reply";
import { db } from "./server-state";
import { snapshotWillChange } from "./snapshot-writer";
import { Rec, TYPE_HASH, hashOf, setStringIn } from "./store";
import { Table, add, at, find, hashBytes, remove, slotCount } from "./table";

/** The hash at key argument 1, made if absent; null after a WRONGTYPE (or -OOM) reply. */
function hashForWrite(): Table | null {
  const e = lookup(1);
  if (e != null) {
    if (e.type != TYPE_HASH) {
      replyWrongType();
      return null;
    }
    snapshotWillChange(e);
    written = e;
    return hashOf(e);
  }
  const made = db.addHash(ap(1), al(1));
  if (made == null) {
    replyOom();
    return null;
  }
  written = made;
  return hashOf(made);
}

/** The key's record hashForWrite gave the table of (for setField's encoding mark). */
let written: Rec | null = null;

/** The key's record hashForRead found. */
let found: Rec | null = null;
/** The hash at key argument 1; null when absent or after a WRONGTYPE reply (wrongTypeReplied). */
function hashForRead(): Table | null {
  const e = lookupOfType(1, TYPE_HASH);
  found = e;
  return e == null ? null : hashOf(e);
}

/** The field named by argument `i`, or null. */
function field(h: Table, i: u32): Rec | null {
  return find(h, ap(i), al(i), hashBytes(ap(i), al(i)));
}

const FIELD_SET = 0, FIELD_ADDED = 1, FIELD_NO_MEMORY = -1;

/** Sets field `f` (argument index) of `h` to the `n` bytes at `p`: FIELD_ADDED, FIELD_SET, or FIELD_NO_MEMORY (the field unchanged). */
function setField(h: Table, f: u32, p: usize, n: u32): i32 {
  const hash = hashBytes(ap(f), al(f));
  const r = find(h, ap(f), al(f), hash);
  if (r != null) {
    if (setStringIn(h, r, p, n) == null) return FIELD_NO_MEMORY;
    hashGrew(changetype<Rec>(written), h.count, al(f), n);
    return FIELD_SET;
  }
  const made = newString(ap(f), al(f), hash, p, n);
  if (made == null) return FIELD_NO_MEMORY;
  if (!add(h, made)) {
    freeRecBlock(made);
    return FIELD_NO_MEMORY;
  }
  hashGrew(changetype<Rec>(written), h.count, al(f), n);
  return FIELD_ADDED;
}

/** Removes key argument 1 once its hash has no field left (Redis deletes empty hashes). */
function dropIfEmpty(h: Table): void {
  if (h.count == 0) db.remove(changetype<Rec>(lookup(1)));
}

/** HSET, and HMSET (`multi`: the same, answering +OK). */
export function hset(multi: bool = false): void {
  if ((argc & 1) != 0) return wrongArity(multi ? "hmset" : "hset");
  if (!roomFor(argBytes(1), argc >> 1)) return replyOom();
  const h = hashForWrite();
  if (h == null) return;
  let added = 0;
  for (let i: u32 = 2; i < argc; i += 2) {
    const r = setField(h, i, ap(i + 1), al(i + 1));
    if (r == FIELD_NO_MEMORY) { // rare: the check above said there was room
      dropIfEmpty(h);
      return replyOom();
    }
    added += r;
  }
  if (multi) replyOk();
  else replyInt(added);
}

export function hsetnx(): void {
  if (!roomFor(argBytes(1), 1)) return replyOom();
  const e = lookup(1);
  if (e != null && e.type != TYPE_HASH) return replyWrongType();
  if (e != null && field(hashOf(e), 2) != null) return replyInt(0);
  const h = hashForWrite();
  if (h == null) return;
  if (setField(h, 2, ap(3), al(3)) == FIELD_NO_MEMORY) {
    dropIfEmpty(h);
    return replyOom();
  }
  replyInt(1);
}

export function hmget(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  replyArray(argc - 2);
  for (let i: u32 = 2; i < argc; i++) {
    const f: Rec | null = h == null ? null : field(h, i);
    if (f == null) replyNil();
    else replyBulk(valPtr(f), f.valLen);
  }
}

/** HKEYS (`keys`) and HVALS. */
export function hkeysOrVals(keys: bool): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  if (h == null) return replyEmptyArray();
  replyArray(h.count);
  const n = slotCount(h);
  for (let i: u32 = 0; i < n; i++) {
    const f = at(h, i);
    if (f == null) continue;
    if (keys) replyBulk(keyPtr(f), f.keyLen);
    else replyBulk(valPtr(f), f.valLen);
  }
}

export function hstrlen(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  const f: Rec | null = h == null ? null : field(h, 2);
  replyInt(f == null ? 0 : f.valLen);
}

export function hget(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  const f: Rec | null = h == null ? null : field(h, 2);
  if (f == null) replyNil();
  else replyBulk(valPtr(f), f.valLen);
}

export function hdel(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  if (h == null) return replyInt(0);
  snapshotWillChange(changetype<Rec>(found));
  let n = 0;
  for (let i: u32 = 2; i < argc; i++) {
    const f = field(h, i);
    if (f != null) {
      remove(h, f);
      freeRecBlock(f);
      n++;
    }
  }
  dropIfEmpty(h);
  replyInt(n);
}

export function hgetall(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  if (h == null) return replyMap(0);
  replyMap(h.count);
  const n = slotCount(h);
  for (let i: u32 = 0; i < n; i++) {
    const f = at(h, i);
    if (f == null) continue;
    replyBulk(keyPtr(f), f.keyLen);
    replyBulk(valPtr(f), f.valLen);
  }
}

export function hlen(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  replyInt(h == null ? 0 : h.count);
}

export function hexists(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  replyInt(h != null && field(h, 2) != null ? 1 : 0);
}

export function hincrby(): void {
  if (!argInt(3)) return notInteger();
  const by = parsedInt;
  const h = hashForWrite();
  if (h == null) return;
  const f = field(h, 2);
  let old: i64 = 0;
  if (f != null) {
    if (!parseI64(valPtr(f), f.valLen)) return replyError("hash value is not an integer");
    old = parsedInt;
  }
  if (!addChecked(old, by)) {
    dropIfEmpty(h); // a hash made by this command, with no field
    return;
  }
  const v = old + by;
  if (setField(h, 2, DIGITS, writeDecimal(DIGITS, v)) == FIELD_NO_MEMORY) {
    dropIfEmpty(h);
    return replyOom();
  }
  replyInt(v);
}

export function hscan(): void {
  const h = hashForRead();
  if (wrongTypeReplied) return;
  scanMembers(found, h, WITH_VALUES);
}

/** HINCRBYFLOAT key field increment: in long double arithmetic (long-double.ts), logged as the HSET of its result. */
export function hincrbyfloat(): void {
  if (!parseLongDouble(ap(3), al(3))) return replyError("value is not a valid float");
  if (ldInf) return replyError("value is NaN or Infinity");
  const neg = ldNeg, m = ldM, x = ldE;
  const h = hashForWrite();
  if (h == null) return;
  const f = field(h, 2);
  if (f != null) {
    if (!parseLongDouble(valPtr(f), f.valLen)) return replyError("hash value is not a float");
    if (ldInf) return replyError("increment would produce NaN or Infinity");
  } else {
    setLongDouble(false, 0, 0); // 0 + increment
  }
  if (!addLongDouble(neg, m, x)) {
    dropIfEmpty(h);
    return replyError("increment would produce NaN or Infinity");
  }
  const n = formatLongDouble(LD_TEXT);
  if (setField(h, 2, LD_TEXT, n) == FIELD_NO_MEMORY) {
    dropIfEmpty(h);
    return replyOom();
  }
  logFloatResult(true, LD_TEXT, n);
  replyBulk(LD_TEXT, n);
}
