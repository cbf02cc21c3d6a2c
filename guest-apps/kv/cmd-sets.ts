// Set commands (Redis t_set.c): SADD, SREM, SMOVE, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SPOP,
// SRANDMEMBER (in member-random.ts, beside HRANDFIELD and ZRANDMEMBER), SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN. A set's
// members are records with an empty value in a table inline in the key's record (store.ts, hashOf).
//
// Reply order: Redis answers a set it holds as an intset (all members integers, at most
// set-max-intset-entries: encoding.ts) in ascending order, and a hashtable in its table's order;
// kv sorts the same replies the same way (SMEMBERS, and the sets SINTER, SUNION and SDIFF build).
import { ByteBuf, parseI64, parsedInt, writeDecimal } from "./bytes";
import { al, ap, argInt, argIs, argc, lookup, lookupOfType, wrongTypeReplied } from "./args";
import { logMembers } from "./aof-feed";
import { argBytes, roomFor } from "./cmd-strings";
import { fitsIntset, setGrew } from "./encoding";
import { syntaxError } from "./errors";
import { MEMBERS_ONLY, scanMembers } from "./member-scan";
import { freeRecBlock, keyPtr, newString } from "./record";
import { replyArray, replyBulk, replyError, replyInt, replyNil, replyOom, replySet, replyWrongType } from "./reply";
import { db } from "./server-state";
import { snapshotWillChange } from "./snapshot-writer";
import { Rec, TYPE_SET, hashOf } from "./store";
import { Table, add, at, fairRandomRec, find, freeSlots, hashBytes, newTable, remove, slotCount } from "./table";
import { zfree } from "./zmalloc";

const ADDED = 1, PRESENT = 0, NO_MEMORY = -1;

/** The set at key argument `i`, made if absent and readied for a change; null after a WRONGTYPE or -OOM reply. */
function setForWrite(i: u32): Rec | null {
  const e = lookup(i);
  if (e != null) {
    if (e.type != TYPE_SET) {
      replyWrongType();
      return null;
    }
    snapshotWillChange(e);
    return e;
  }
  const made = db.addSet(ap(i), al(i));
  if (made == null) replyOom();
  return made;
}

/** Adds the `n` bytes at `p` to set `r` (readied for a change): ADDED, PRESENT or NO_MEMORY. */
function addMember(r: Rec, p: usize, n: u32): i32 {
  const t = hashOf(r);
  const h = hashBytes(p, n);
  if (find(t, p, n, h) != null) return PRESENT;
  const m = newString(p, n, h, 0, 0);
  if (m == null) return NO_MEMORY;
  if (!add(t, m)) {
    freeRecBlock(m);
    return NO_MEMORY;
  }
  setGrew(r, t.count, p, n);
  return ADDED;
}

function member(t: Table, i: u32): Rec | null {
  return find(t, ap(i), al(i), hashBytes(ap(i), al(i)));
}

function dropIfEmpty(r: Rec): void {
  if (hashOf(r).count == 0) db.remove(r);
}

export function sadd(): void {
  if (!roomFor(argBytes(2), argc - 2)) return replyOom();
  const r = setForWrite(1);
  if (r == null) return;
  let added = 0;
  for (let i: u32 = 2; i < argc; i++) {
    const a = addMember(r, ap(i), al(i));
    if (a == NO_MEMORY) { // rare: the check above said there was room
      dropIfEmpty(r);
      return replyOom();
    }
    added += a;
  }
  replyInt(added);
}

export function srem(): void {
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  if (r == null) return replyInt(0);
  snapshotWillChange(r);
  const t = hashOf(r);
  let n = 0;
  for (let i: u32 = 2; i < argc && t.count > 0; i++) {
    const m = member(t, i);
    if (m == null) continue;
    remove(t, m);
    freeRecBlock(m);
    n++;
  }
  dropIfEmpty(r);
  replyInt(n);
}

export function smove(): void {
  const src = lookup(1);
  const dst = lookup(2); // the last lookup: addSet below makes this key
  if (src == null) return replyInt(0);
  if (src.type != TYPE_SET || (dst != null && dst.type != TYPE_SET)) return replyWrongType();
  const m = member(hashOf(src), 3);
  if (src === dst) return replyInt(m != null ? 1 : 0);
  if (m == null) return replyInt(0);
  let to = dst;
  if (to == null) {
    to = db.addSet(ap(2), al(2));
    if (to == null) return replyOom();
  } else {
    snapshotWillChange(to);
  }
  snapshotWillChange(src);
  const into = hashOf(to);
  if (find(into, keyPtr(m), m.keyLen, m.hash) == null) {
    // The member's record itself moves: both tables hold only its address.
    if (!add(into, m)) {
      if (into.count == 0) db.remove(to);
      return replyOom();
    }
    setGrew(to, into.count, keyPtr(m), m.keyLen);
    remove(hashOf(src), m);
  } else {
    remove(hashOf(src), m);
    freeRecBlock(m);
  }
  dropIfEmpty(src);
  replyInt(1);
}

export function sismember(): void {
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  replyInt(r != null && member(hashOf(r), 2) != null ? 1 : 0);
}

export function smismember(): void {
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  replyArray(argc - 2);
  for (let i: u32 = 2; i < argc; i++) replyInt(r != null && member(hashOf(r), i) != null ? 1 : 0);
}

export function scard(): void {
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  replyInt(r == null ? 0 : hashOf(r).count);
}

export function smembers(): void {
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  if (r == null) return replySet(0);
  const all = new ByteBuf();
  collect(hashOf(r), all);
  replyMembers(all, r.big == 0 ? ASCENDING : AS_THEY_COME);
}

/** Appends the addresses of every member of `t` to `into`. */
function collect(t: Table, into: ByteBuf): void {
  const n = slotCount(t);
  for (let i: u32 = 0; i < n; i++) {
    const m = at(t, i);
    if (m != null) into.putU32(<u32>changetype<usize>(m));
  }
}

// @ts-ignore: decorator
@inline function memberAt(b: ByteBuf, i: u32): Rec {
  return changetype<Rec>(<usize>load<u32>(b.ptr + (<usize>i << 2)));
}

// How replyMembers orders: as the members come (a hashtable's order), ascending (an intset's), or
// ascending if Redis would hold them as an intset (a set SUNION or SDIFF builds, from an intset on).
const AS_THEY_COME = 0, ASCENDING = 1, ASCENDING_IF_INTSET = 2;

/** Replies with the members whose addresses `b` holds (then frees it), in the order `order` says: a set, or an array (`asArray`). */
function replyMembers(b: ByteBuf, order: i32 = ASCENDING_IF_INTSET, asArray: bool = false): void {
  if (b.failed) {
    b.free();
    return replyOom();
  }
  const n = b.len >> 2;
  if (order == ASCENDING || (order == ASCENDING_IF_INTSET && fitsIntset(n))) {
    const values = new Array<i64>();
    for (let i: u32 = 0; i < n; i++) {
      const m = memberAt(b, i);
      if (!parseI64(keyPtr(m), m.keyLen)) break;
      values.push(parsedInt);
    }
    if (values.length == <i32>n) {
      b.free();
      values.sort((x: i64, y: i64): i32 => (x < y ? -1 : x > y ? 1 : 0));
      const digits = memory.data(24);
      if (asArray) replyArray(n);
      else replySet(n);
      for (let i = 0; i < values.length; i++) replyBulk(digits, writeDecimal(digits, unchecked(values[i])));
      return;
    }
  }
  if (asArray) replyArray(n);
  else replySet(n);
  for (let i: u32 = 0; i < n; i++) {
    const m = memberAt(b, i);
    replyBulk(keyPtr(m), m.keyLen);
  }
  b.free();
}

/** SPOP key [count] */
export function spop(): void {
  if (argc > 3) return syntaxError();
  const withCount = argc == 3;
  let count: i64 = 1;
  if (withCount) {
    if (!argInt(2) || parsedInt < 0) return replyError("value is out of range, must be positive");
    count = parsedInt;
  }
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  if (r == null) return withCount ? replySet(0) : replyNil();
  if (count == 0) return replySet(0);
  snapshotWillChange(r);
  const t = hashOf(r);
  const taken = new ByteBuf();
  if (count >= <i64>t.count) {
    // The whole set: Redis answers it as SUNION would, and deletes the key.
    collect(t, taken);
    if (taken.failed) {
      taken.free();
      return replyOom();
    }
    logMembers("SREM", 1, taken);
    if (withCount) replyMembers(taken, r.big == 0 ? ASCENDING : AS_THEY_COME);
    else {
      replyBulk(keyPtr(memberAt(taken, 0)), memberAt(taken, 0).keyLen);
      taken.free();
    }
    db.remove(r);
    return;
  }
  if (!taken.reserve(<u32>count << 2)) {
    taken.free();
    return replyOom();
  }
  for (let k: i64 = 0; k < count; k++) {
    const m = fairRandomRec(t);
    remove(t, m); // out of the table, so that it is not picked again
    taken.putU32(<u32>changetype<usize>(m));
  }
  logMembers("SREM", 1, taken);
  if (withCount) replySet(count);
  for (let i: u32 = 0; i < <u32>count; i++) {
    const m = memberAt(taken, i);
    replyBulk(keyPtr(m), m.keyLen);
    freeRecBlock(m);
  }
  taken.free();
}

/** Replies with all of set `r`'s members, in its order (an intset's ascending), as an array (SRANDMEMBER). */
export function replyAllMembers(r: Rec): void {
  const all = new ByteBuf();
  collect(hashOf(r), all);
  replyMembers(all, r.big == 0 ? ASCENDING : AS_THEY_COME, true);
}

export const OP_UNION = 0, OP_DIFF = 1, OP_INTER = 2;

/**
 * SUNION, SDIFF, SINTER (`store` false: the keys from argument 1) and SUNIONSTORE, SDIFFSTORE,
 * SINTERSTORE (the result into key argument 1, the keys from argument 2).
 */
export function setAlgebra(op: i32, store: bool): void {
  const from: u32 = store ? 2 : 1;
  const sets = setsFrom(from, argc - from);
  if (sets == null) return;
  const result = new ByteBuf();
  const smallest = combine(op, sets, argc - from, result, 0);
  sets.free();
  if (store) return storeInto(result);
  // SINTER replies as it walks the smallest set; SUNION and SDIFF reply with the set they built.
  if (op == OP_INTER) replyMembers(result, smallest != null && smallest.big == 0 ? ASCENDING : AS_THEY_COME);
  else replyMembers(result);
}

/** SINTERCARD numkeys key [key ...] [LIMIT limit] */
export function sintercard(): void {
  const tooFew = "numkeys should be greater than 0";
  if (!argInt(1) || parsedInt < 1) return replyError(tooFew);
  const numkeys = parsedInt;
  if (numkeys > <i64>(argc - 2)) return replyError("Number of keys can't be greater than number of args");
  let limit: i64 = 0;
  for (let j = <u32>(2 + numkeys); j < argc; j++) {
    if (argIs(j, "limit") && j + 1 < argc) {
      j++;
      if (!argInt(j) || parsedInt < 0) return replyError("LIMIT can't be negative");
      limit = parsedInt;
    } else {
      return syntaxError();
    }
  }
  const sets = setsFrom(2, <u32>numkeys);
  if (sets == null) return;
  const result = new ByteBuf();
  combine(OP_INTER, sets, <u32>numkeys, result, limit);
  sets.free();
  if (result.failed) {
    result.free();
    return replyOom();
  }
  replyInt(result.len >> 2);
  result.free();
}

/** The sets of key arguments from..from+n-1 (address, 0 for an absent key); null after a WRONGTYPE or -OOM reply. */
function setsFrom(from: u32, n: u32): ByteBuf | null {
  const sets = new ByteBuf();
  for (let i = from; i < from + n; i++) {
    const e = lookup(i);
    if (e != null && e.type != TYPE_SET) {
      sets.free();
      replyWrongType();
      return null;
    }
    sets.putU32(e == null ? 0 : <u32>changetype<usize>(e));
  }
  if (sets.failed) {
    sets.free();
    replyOom();
    return null;
  }
  return sets;
}

// @ts-ignore: decorator
@inline function setAt(sets: ByteBuf, i: u32): Rec | null {
  const a = load<u32>(sets.ptr + (<usize>i << 2));
  return a == 0 ? null : changetype<Rec>(<usize>a);
}

/**
 * The members of op over the `n` sets into `out` (addresses of the sources' records); `limit` > 0
 * stops an intersection there. Returns the smallest set an intersection walked.
 */
function combine(op: i32, sets: ByteBuf, n: u32, out: ByteBuf, limit: i64): Rec | null {
  if (op == OP_INTER) {
    let smallest: Rec | null = null;
    for (let i: u32 = 0; i < n; i++) {
      const s = setAt(sets, i);
      if (s == null) return null; // an absent key is an empty set
      if (smallest == null || hashOf(s).count < hashOf(smallest).count) smallest = s;
    }
    const t = hashOf(changetype<Rec>(smallest));
    const slots = slotCount(t);
    for (let k: u32 = 0; k < slots; k++) {
      const m = at(t, k);
      if (m == null) continue;
      let inAll = true;
      for (let i: u32 = 0; i < n && inAll; i++) {
        const s = changetype<Rec>(setAt(sets, i));
        if (s !== smallest) inAll = find(hashOf(s), keyPtr(m), m.keyLen, m.hash) != null;
      }
      if (!inAll) continue;
      out.putU32(<u32>changetype<usize>(m));
      if (limit > 0 && <i64>(out.len >> 2) >= limit) break;
    }
    return smallest;
  } else if (op == OP_DIFF) {
    const first = setAt(sets, 0);
    if (first == null) return null;
    const t = hashOf(first);
    const slots = slotCount(t);
    for (let k: u32 = 0; k < slots; k++) {
      const m = at(t, k);
      if (m == null) continue;
      let elsewhere = false;
      for (let i: u32 = 1; i < n && !elsewhere; i++) {
        const s = setAt(sets, i);
        elsewhere = s != null && (s === first || find(hashOf(s), keyPtr(m), m.keyLen, m.hash) != null);
      }
      if (!elsewhere) out.putU32(<u32>changetype<usize>(m));
    }
  } else {
    const seen = newTable(); // the members so far, to skip repeats (it holds the sources' records, not copies)
    if (seen == null) {
      out.failed = true;
      return null;
    }
    for (let i: u32 = 0; i < n; i++) {
      const s = setAt(sets, i);
      if (s == null) continue;
      const t = hashOf(s);
      const slots = slotCount(t);
      for (let k: u32 = 0; k < slots; k++) {
        const m = at(t, k);
        if (m == null || find(seen, keyPtr(m), m.keyLen, m.hash) != null) continue;
        if (!add(seen, m)) out.failed = true;
        out.putU32(<u32>changetype<usize>(m));
      }
    }
    freeSlots(seen);
    zfree(changetype<usize>(seen));
  }
  return null;
}

/** Makes key argument 1 the set of the members `result` holds (deleted when there are none), and replies with their count. */
function storeInto(result: ByteBuf): void {
  if (result.failed) {
    result.free();
    return replyOom();
  }
  // The members' bytes first: the destination may be one of the sources, and it goes now.
  const n = result.len >> 2;
  const copy = new ByteBuf();
  for (let i: u32 = 0; i < n; i++) {
    const m = memberAt(result, i);
    copy.putU32(m.keyLen);
    copy.put(keyPtr(m), m.keyLen);
  }
  result.free();
  if (copy.failed) {
    copy.free();
    return replyOom();
  }
  const old = lookup(1);
  if (old != null) db.remove(old);
  if (n == 0) {
    copy.free();
    return replyInt(0);
  }
  lookup(1); // a miss now: addSet makes the key
  const r = db.addSet(ap(1), al(1));
  if (r == null) {
    copy.free();
    return replyOom();
  }
  let at: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const len = load<u32>(copy.ptr + at);
    if (addMember(r, copy.ptr + at + 4, len) == NO_MEMORY) {
      copy.free();
      db.remove(r);
      return replyOom();
    }
    at += 4 + len;
  }
  copy.free();
  replyInt(n);
}

export function sscan(): void {
  const r = lookupOfType(1, TYPE_SET);
  if (wrongTypeReplied) return;
  scanMembers(r, r == null ? null : hashOf(r), MEMBERS_ONLY);
}
