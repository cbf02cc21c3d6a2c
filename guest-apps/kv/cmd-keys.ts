// Keyspace commands (Redis db.c): DEL (and UNLINK), EXISTS, TOUCH, TYPE, KEYS, SCAN, RANDOMKEY,
// FLUSHDB and FLUSHALL. DBSIZE is a line in execute.
import { ByteBuf, ascii, parsedInt } from "./bytes";
import { now } from "./clock";
import { globMatch } from "./glob";
import { al, ap, argIs, argInt, argc, lookup } from "./args";
import { notInteger, syntaxError } from "./errors";
import { keyPtr } from "./record";
import { replyArray, replyBulk, replyBulkInt, replyError, replyInt, replyNil, replyOk, replyOom, replyStatus } from "./reply";
import { db } from "./server-state";
import { anyWatch, touchAllExisting } from "./multi";
import { Rec, TYPE_HASH, TYPE_LIST } from "./store";
import { at, nextCursor, randomWord, recOfWord, scanHome, slotCount } from "./table";

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
  // The cursor: decimal digits only (Redis: strtoul, refusing spaces and trailing bytes).
  const cp = ap(1);
  const cn = al(1);
  let cursor: u64 = 0;
  for (let k: u32 = 0; k < cn; k++) {
    const d = <u32>load<u8>(cp + k) - 0x30;
    if (d > 9 || cursor > (u64.MAX_VALUE - d) / 10) return replyError("invalid cursor");
    cursor = cursor * 10 + d;
  }
  let count: i64 = 10;
  let patArg: u32 = 0;
  let typeArg: u32 = 0;
  for (let j: u32 = 2; j < argc; j++) {
    const hasNext = j + 1 < argc;
    if (argIs(j, "count") && hasNext) {
      if (!argInt(j + 1)) return notInteger();
      count = parsedInt;
      if (count < 1) return syntaxError();
      j++;
    } else if (argIs(j, "match") && hasNext) {
      patArg = ++j;
    } else if (argIs(j, "type") && hasNext) {
      typeArg = ++j;
    } else {
      return syntaxError();
    }
  }
  const t = db.keys;
  let c = <u32>cursor;
  const found = new ByteBuf(); // record addresses, unmanaged as in keys()
  let budget = count * 10;
  if (t.count > 0) {
    do {
      scanHome(t, c, found);
      c = nextCursor(t, c);
    } while (c != 0 && budget-- > 0 && <i64>(found.len >> 2) < count);
  } else {
    c = 0;
  }
  if (found.failed) {
    found.free();
    return replyOom();
  }
  // The matches are moved to the front of `found` in place.
  let matched: u32 = 0;
  const total = found.len >> 2;
  for (let i: u32 = 0; i < total; i++) {
    const e = changetype<Rec>(load<u32>(found.ptr + (<usize>i << 2)));
    if (e.expireAt != 0 && e.expireAt <= now()) continue;
    if (patArg != 0 && !globMatch(ap(patArg), al(patArg), keyPtr(e), e.keyLen)) continue;
    if (typeArg != 0 && !argIs(typeArg, typeName(e))) continue;
    store<u32>(found.ptr + (<usize>matched << 2), changetype<usize>(e));
    matched++;
  }
  replyArray(2);
  replyBulkInt(c);
  replyArray(matched);
  for (let i: u32 = 0; i < matched; i++) replyKey(changetype<Rec>(load<u32>(found.ptr + (<usize>i << 2))));
  found.free();
}

function replyKey(e: Rec): void {
  replyBulk(keyPtr(e), e.keyLen);
}

export function flush(): void {
  if (argc > 2 || (argc == 2 && !argIs(1, "async") && !argIs(1, "sync"))) return syntaxError();
  if (anyWatch()) touchAllExisting();
  db.flush();
  replyOk();
}
