// Keyspace commands (Redis db.c): DEL (and UNLINK), EXISTS, TOUCH, TYPE, KEYS, SCAN, RANDOMKEY,
// RENAME, RENAMENX, COPY, MOVE, SWAPDB, FLUSHDB and FLUSHALL. DBSIZE is a line in execute.
import { ByteBuf, ascii, parsedInt } from "./bytes";
import { now } from "./clock";
import { globMatch } from "./glob";
import { al, ap, argIs, argInt, argc, lookup } from "./args";
import { notInteger, syntaxError } from "./errors";
import { freeRecBlock, keyPtr } from "./record";
import { dbArg } from "./cmd-connection";
import { countChange, snapshotWillChange } from "./snapshot-writer";
import { replyArray, replyBulk, replyBulkInt, replyError, replyInt, replyNil, replyOk, replyOom, replyStatus } from "./reply";
import { DATABASES, db, dbAt, dbIndex, swapDbs } from "./server-state";
import { anyWatch, touchAllExisting, touchKey } from "./multi";
import { Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_ZSET, copiedRec, freeRec, renamedRec } from "./store";
import { keepMatches, parseScanArgs, scanCount, scanCursor, scanMatch, scanType } from "./scan-args";
import { at, hashBytes, randomWord, recOfWord, scanSteps, slotCount } from "./table";

export function del(): void {
  let n = 0;
  for (let i: u32 = 1; i < argc; i++) {
    const e = lookup(i);
    if (e != null) {
      db.remove(e);
      n++;
    }
  }
  replyInt(n);
}

export function randomkey(): void {
  // A random record may have expired: purge first, so that the one picked is live (Redis retries instead).
  db.purge();
  if (db.keys.count == 0) return replyNil();
  const r = recOfWord(randomWord(db.keys));
  replyBulk(keyPtr(r), r.keyLen);
}

/** EXISTS and TOUCH: how many of the keys exist (TOUCH's lookups update the access clock). */
export function exists(): void {
  let n = 0;
  for (let i: u32 = 1; i < argc; i++) if (lookup(i) != null) n++;
  replyInt(n);
}

function typeName(e: Rec | null): string {
  if (e == null) return "none";
  if (e.type == TYPE_HASH) return "hash";
  if (e.type == TYPE_LIST) return "list";
  if (e.type == TYPE_SET) return "set";
  if (e.type == TYPE_ZSET) return "zset";
  return "string";
}

export function type(): void {
  replyStatus(ascii(typeName(lookup(1))));
}

export function keys(): void {
  db.purge();
  const pat = ap(1);
  const pn = al(1);
  const all = pn == 1 && load<u8>(pat) == 0x2a;
  // The matches' addresses in unmanaged memory (a million keys would not grow the GC's heap).
  const found = new ByteBuf();
  const t = db.keys;
  const n = slotCount(t);
  for (let i: u32 = 0; i < n; i++) {
    const e = at(t, i);
    if (e != null && (all || globMatch(pat, pn, keyPtr(e), e.keyLen))) found.putU32(<u32>changetype<usize>(e));
  }
  if (found.failed) {
    found.free();
    return replyOom();
  }
  const count = found.len >> 2;
  replyArray(count);
  for (let i: u32 = 0; i < count; i++) replyKey(changetype<Rec>(load<u32>(found.ptr + (<usize>i << 2))));
  found.free();
}

export function scan(): void {
  if (!parseScanArgs(1, true)) return;
  const count = scanCount;
  const found = new ByteBuf(); // record addresses, unmanaged as in keys()
  const c = scanSteps(db.keys, <u32>scanCursor, count, found);
  if (found.failed) {
    found.free();
    return replyOom();
  }
  const matched = keepMatches(found, scanKeeps);
  replyArray(2);
  replyBulkInt(c);
  replyArray(matched);
  for (let i: u32 = 0; i < matched; i++) replyKey(changetype<Rec>(load<u32>(found.ptr + (<usize>i << 2))));
  found.free();
}

/** A key SCAN answers: not expired, and matching MATCH and TYPE if given. */
function scanKeeps(e: Rec): bool {
  if (e.expireAt != 0 && e.expireAt <= now()) return false;
  if (scanMatch != 0 && !globMatch(ap(scanMatch), al(scanMatch), keyPtr(e), e.keyLen)) return false;
  return scanType == 0 || argIs(scanType, typeName(e));
}

function replyKey(e: Rec): void {
  replyBulk(keyPtr(e), e.keyLen);
}

/** FLUSHDB, and FLUSHALL (`all`). */
export function flush(all: bool): void {
  if (argc > 2 || (argc == 2 && !argIs(1, "async") && !argIs(1, "sync"))) return syntaxError();
  if (anyWatch()) touchAllExisting(all ? -1 : dbIndex);
  if (all) for (let i = 0; i < DATABASES; i++) dbAt(i).flush();
  else db.flush();
  replyOk();
}

const SAME_OBJECT = "source and destination objects are the same";

/** RENAME, and RENAMENX (`nx`): the value and its expiry under the new name, which is overwritten unless nx. */
export function rename(nx: bool): void {
  const same = al(1) == al(2) && memory.compare(ap(1), ap(2), al(1)) == 0;
  const src = lookup(1);
  if (src == null) return replyError("no such key");
  if (same) return nx ? replyInt(0) : replyOk();
  const dst = lookup(2);
  if (dst != null && nx) return replyInt(0);
  snapshotWillChange(src); // a snapshot being written keeps its own copy: the value moves to another record
  const moved = renamedRec(src, ap(2), al(2), hashBytes(ap(2), al(2)));
  if (moved == null) return replyOom();
  if (dst != null) db.remove(dst);
  db.detach(src);
  if (!db.attach(moved)) { // memory out: the old name keeps it
    moved.expireAt = 0;
    freeRecBlock(moved);
    db.attach(src);
    return replyOom();
  }
  freeRecBlock(src); // its value is the new record's now
  if (nx) replyInt(1);
  else replyOk();
}

/** COPY source destination [DB destination-db] [REPLACE] */
export function copy(): void {
  let replace = false;
  let to = dbIndex;
  for (let j: u32 = 3; j < argc; j++) {
    if (argIs(j, "replace")) replace = true;
    else if (argIs(j, "db") && j + 1 < argc) {
      if (!argInt(j + 1)) return notInteger();
      if (parsedInt < 0 || parsedInt >= DATABASES) return replyError("DB index is out of range");
      to = <i32>parsedInt;
      j++;
    } else {
      return syntaxError();
    }
  }
  if (to == dbIndex && al(1) == al(2) && memory.compare(ap(1), ap(2), al(1)) == 0) return replyError(SAME_OBJECT);
  const src = lookup(1);
  if (src == null) return replyInt(0);
  const target = dbAt(to);
  const dst = target.lookup(ap(2), al(2));
  if (dst != null && !replace) return replyInt(0);
  const c = copiedRec(src, ap(2), al(2), hashBytes(ap(2), al(2)));
  if (c == null) return replyOom();
  if (dst != null) target.remove(dst);
  if (!target.attach(c)) {
    freeRec(c);
    return replyOom();
  }
  if (anyWatch()) touchKey(ap(2), al(2), to);
  replyInt(1);
}

/** MOVE key db */
export function move(): void {
  const to = dbArg(2);
  if (to < 0) return;
  if (to == dbIndex) return replyError(SAME_OBJECT);
  const r = lookup(1);
  if (r == null) return replyInt(0);
  const target = dbAt(to);
  if (target.lookup(ap(1), al(1)) != null) return replyInt(0);
  snapshotWillChange(r); // the snapshot lists it under this database
  db.detach(r);
  if (!target.attach(r)) {
    db.attach(r); // memory out: it stays where it was (its slot is still free)
    return replyOom();
  }
  if (anyWatch()) touchKey(ap(1), al(1), to);
  replyInt(1);
}

/** SWAPDB index1 index2 */
export function swapdb(): void {
  if (!argInt(1)) return replyError("invalid first DB index");
  const a = parsedInt;
  if (!argInt(2)) return replyError("invalid second DB index");
  const b = parsedInt;
  if (a < 0 || a >= DATABASES || b < 0 || b >= DATABASES) return replyError("DB index is out of range");
  if (a != b) {
    if (anyWatch()) touchAllExisting(<i32>a, <i32>b);
    swapDbs(<i32>a, <i32>b);
    countChange(); // logged, and a change for the next snapshot
  }
  replyOk();
}
