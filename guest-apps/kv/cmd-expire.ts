// Expiry commands (Redis expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME,
// PEXPIRETIME, PERSIST. Keys
// expire in Db.lookup and Db.sweep (store.ts). The log has every new expiry as PEXPIREAT, and a key
// deleted because its new time is past as DEL (aof-feed.ts), as Redis propagates them.
import { parsedInt } from "./bytes";
import { now } from "./clock";
import { argIs, argInt, argText, argc, lookup } from "./args";
import { notInteger } from "./errors";
import { replyError, replyInt, replyOom } from "./reply";
import { db } from "./server-state";
import { logDelInstead, logPexpireat } from "./aof-feed";

/** EXPIRE (unit 1000) and PEXPIRE (1), or with `absolute` EXPIREAT and PEXPIREAT. */
export function expire(unit: i64, name: string, absolute: bool): void {
  let nx = false, xx = false, gt = false, lt = false;
  for (let j: u32 = 3; j < argc; j++) {
    if (argIs(j, "nx")) nx = true;
    else if (argIs(j, "xx")) xx = true;
    else if (argIs(j, "gt")) gt = true;
    else if (argIs(j, "lt")) lt = true;
    else return replyError("Unsupported option " + argText(j));
  }
  if (nx && (xx || gt || lt)) return replyError("NX and XX, GT or LT options at the same time are not compatible");
  if (gt && lt) return replyError("GT and LT options at the same time are not compatible");
  if (!argInt(2)) return notInteger();
  let when = parsedInt;
  if (unit == 1000) {
    if (when > i64.MAX_VALUE / 1000 || when < i64.MIN_VALUE / 1000) return replyError("invalid expire time in '" + name + "' command");
    when *= 1000;
  }
  if (!absolute) {
    if (when > i64.MAX_VALUE - now()) return replyError("invalid expire time in '" + name + "' command");
    when += now();
  }
  const e = lookup(1);
  if (e == null) return replyInt(0);
  const current: i64 = e.expireAt != 0 ? e.expireAt : -1;
  if ((nx && current != -1) || (xx && current == -1) || (gt && (current == -1 || when <= current)) || (lt && current != -1 && when >= current)) {
    return replyInt(0);
  }
  if (when <= now()) {
    db.remove(e);
    logDelInstead(1);
  } else {
    if (!db.setExpiry(e, when)) return replyOom();
    logPexpireat(1, when);
  }
  replyInt(1);
}

export function ttl(unit: i64): void {
  const e = lookup(1);
  if (e == null) return replyInt(-2);
  if (e.expireAt == 0) return replyInt(-1);
  let left = e.expireAt - now();
  if (left < 0) left = 0;
  replyInt(unit == 1 ? left : (left + 500) / 1000);
}

/** EXPIRETIME (unit 1000) and PEXPIRETIME (1): the instant the key expires, -1 without one, -2 without the key. */
export function expiretime(unit: i64): void {
  const e = lookup(1);
  if (e == null) return replyInt(-2);
  if (e.expireAt == 0) return replyInt(-1);
  replyInt(e.expireAt / unit);
}

export function persist(): void {
  const e = lookup(1);
  if (e == null || e.expireAt == 0) return replyInt(0);
  db.clearExpiry(e);
  replyInt(1);
}
