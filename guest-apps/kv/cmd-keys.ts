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
import { Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_ZSET } from "./store";
import { parseScanArgs, scanCount, scanCursor, scanMatch, scanType } from "./scan-args";
import { at, randomWord, recOfWord, scanSteps, slotCount } from "./table";

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
  const patArg = scanMatch;
  const typeArg = scanType;
  const found = new ByteBuf(); // record addresses, unmanaged as in keys()
  const c = scanSteps(db.keys, <u32>scanCursor, count, found);
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
