// Keyspace commands (Redis db.c): DEL, EXISTS, TYPE, KEYS, SCAN, FLUSHDB and FLUSHALL. DBSIZE is
// a line in execute.
import { ascii, parsedInt } from "./bytes";
import { now } from "./clock";
import { globMatch } from "./glob";
import { al, ap, argIs, argInt, argc, lookup } from "./args";
import { notInteger, syntaxError } from "./errors";
import { keyPtr } from "./record";
import { replyArray, replyBulk, replyBulkInt, replyError, replyInt, replyOk, replyStatus } from "./reply";
import { db } from "./server-state";
import { Rec, TYPE_HASH, TYPE_LIST } from "./store";
import { at, nextCursor, scanHome, slotCount } from "./table";

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
  const found = new Array<usize>();
  const t = db.keys;
  const n = slotCount(t);
  for (let i: u32 = 0; i < n; i++) {
    const e = at(t, i);
    if (e != null && (all || globMatch(pat, pn, keyPtr(e), e.keyLen))) found.push(changetype<usize>(e));
  }
  replyArray(found.length);
  for (let i = 0; i < found.length; i++) replyKey(changetype<Rec>(unchecked(found[i])));
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
  const found = new Array<usize>();
  let budget = count * 10;
  if (t.count > 0) {
    do {
      scanHome(t, c, found);
      c = nextCursor(t, c);
    } while (c != 0 && budget-- > 0 && <i64>found.length < count);
  } else {
    c = 0;
  }
  const matched = new Array<usize>();
  for (let i = 0; i < found.length; i++) {
    const e = changetype<Rec>(unchecked(found[i]));
    if (e.expireAt != 0 && e.expireAt <= now()) continue;
    if (patArg != 0 && !globMatch(ap(patArg), al(patArg), keyPtr(e), e.keyLen)) continue;
    if (typeArg != 0 && !argIs(typeArg, typeName(e))) continue;
    matched.push(changetype<usize>(e));
  }
  replyArray(2);
  replyBulkInt(c);
  replyArray(matched.length);
  for (let i = 0; i < matched.length; i++) replyKey(changetype<Rec>(unchecked(matched[i])));
}

function replyKey(e: Rec): void {
  replyBulk(keyPtr(e), e.keyLen);
}

export function flush(): void {
  if (argc > 2 || (argc == 2 && !argIs(1, "async") && !argIs(1, "sync"))) return syntaxError();
  db.flush();
  replyOk();
}
