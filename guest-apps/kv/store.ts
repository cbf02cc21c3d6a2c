// The database (Db): the keyspace table of records (table.ts, record.ts) with its expiry
// bookkeeping, and the rules every type's record follows when it is made, resized and freed. Keys
// and values are bytes in unmanaged memory, never GC objects or strings.
//
// A snapshot may be reading the store while it changes (snapshot-writer.ts): every change to a key's
// record goes through snapshotWillChange before it is made, and every record that leaves the store
// through snapshotRelease, which may keep it for the snapshot instead of it being freed here.
import { touch } from "./access-clock";
import { copyMemory } from "./bytes";
import { now } from "./clock";
import { LIST_HEADER, List, freeList, initList, itemAt, itemData, itemLen, pushBack } from "./list";
import { nextRandom } from "./random";
import {
  Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, freeRecBlock, holdsTable, keyPtr, newRec, newString,
  rebuildRec, resizeRec, valPtr,
} from "./record";
import { countChange, snapshotRelease, snapshotWillChange } from "./snapshot-writer";
import {
  TABLE_HEADER, Table, add, at, clearTable, find, freeSlots, hashBytes, initTable, newTable, remove, replace, slotCount,
} from "./table";
import { zfree, zrealloc, zusable } from "./zmalloc";
import { ZSET_HEADER, Zset, freeNodes, initZset, nodeBytes, scoreOf, zslInsert } from "./zset";

export { Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, hashBytes };

/** The table of member records of a hash (its fields), a set (its members) or a zset (inline in its record). */
// @ts-ignore: decorator
@inline export function hashOf(r: Rec): Table {
  return changetype<Table>(valPtr(r));
}

/** A zset value (inline in its record): its member table, then its skiplist (zset.ts). */
// @ts-ignore: decorator
@inline export function zsetOf(r: Rec): Zset {
  return changetype<Zset>(valPtr(r));
}

/** A list value's ring (inline in its record). */
// @ts-ignore: decorator
@inline export function listOf(r: Rec): List {
  return changetype<List>(valPtr(r));
}

/** A sorted set's record for the `n` key bytes at `p` (hash `hash`), empty and in no table; null when memory is out. */
export function newZsetRec(p: usize, n: u32, hash: u32): Rec | null {
  const r = newRec(p, n, hash, TYPE_ZSET, ZSET_HEADER);
  if (r == null) return null;
  if (!initZset(zsetOf(r))) {
    freeRecBlock(r);
    return null;
  }
  return r;
}

/**
 * `r` under another key (the `kn` bytes at `k`, hash `hash`): a new block with r's header and value
 * header, which takes over what the value owns (fields, items, nodes). The caller takes `r` out of
 * its table first (snapshotWillChange before, so that a snapshot keeps its own copy) and frees r's
 * block alone (freeRecBlock). Null when memory is out.
 */
export function renamedRec(r: Rec, k: usize, kn: u32, hash: u32): Rec | null {
  const moved = newRec(k, kn, hash, r.type, r.valLen);
  if (moved == null) return null;
  copyMemory(valPtr(moved), valPtr(r), r.valLen); // nothing the value owns points back at the key's record
  moved.big = r.big;
  moved.access = r.access;
  moved.expireAt = r.expireAt;
  return moved;
}

/** A deep copy of `r` under key `k` (COPY), its expiry included, in no table. Null when memory is out. */
export function copiedRec(r: Rec, k: usize, kn: u32, hash: u32): Rec | null {
  if (r.type == TYPE_STRING) {
    const c = newString(k, kn, hash, valPtr(r), r.valLen);
    if (c != null) {
      c.big = r.big;
      c.expireAt = r.expireAt;
    }
    return c;
  }
  let c: Rec | null;
  if (r.type == TYPE_ZSET) c = newZsetRec(k, kn, hash);
  else {
    c = newRec(k, kn, hash, r.type, r.type == TYPE_LIST ? LIST_HEADER : TABLE_HEADER);
    if (c != null && !(r.type == TYPE_LIST ? initList(listOf(c)) : initTable(hashOf(c)))) {
      freeRecBlock(c);
      c = null;
    }
  }
  if (c == null) return null;
  c.big = r.big;
  let ok = true;
  if (r.type == TYPE_LIST) {
    const from = listOf(r);
    for (let i: u32 = 0; i < from.length && ok; i++) {
      const item = itemAt(from, i);
      ok = pushBack(listOf(c), itemData(item), itemLen(item));
    }
  } else {
    const from = hashOf(r);
    const slots = slotCount(from);
    for (let i: u32 = 0; i < slots && ok; i++) {
      const f = at(from, i);
      if (f == null) continue;
      const m = newString(keyPtr(f), f.keyLen, f.hash, valPtr(f), f.valLen);
      ok = m != null && add(hashOf(c), m);
      if (!ok && m != null) freeRecBlock(m);
      if (ok && r.type == TYPE_ZSET) ok = zslInsert(zsetOf(c), scoreOf(changetype<Rec>(m)), changetype<Rec>(m));
    }
  }
  if (!ok) {
    freeRec(c);
    return null;
  }
  c.expireAt = r.expireAt;
  return c;
}

/** Frees what a record's value owns beyond the record (a hash's fields, a list's items), then the record. */
export function freeRec(r: Rec): void {
  freeValue(r);
  freeRecBlock(r);
}

/** The bytes freeRec(r) would give back (what a record kept for a snapshot holds). */
export function recordBytes(r: Rec): u64 {
  let n = <u64>zusable(changetype<usize>(r));
  if (r.type == TYPE_ZSET) n += nodeBytes(zsetOf(r));
  if (holdsTable(r.type)) {
    const h = hashOf(r);
    const slots = slotCount(h);
    for (let i: u32 = 0; i < slots; i++) {
      const f = at(h, i);
      if (f != null) n += zusable(changetype<usize>(f));
    }
    if (h.slots != 0) n += zusable(h.slots);
  } else if (r.type == TYPE_LIST) {
    const l = listOf(r);
    for (let i: u32 = 0; i < l.length; i++) n += zusable(itemAt(l, i));
    if (l.items != 0) n += zusable(l.items);
  }
  return n;
}

/** Frees a record that left its table, unless the snapshot being written keeps it. */
function release(r: Rec): void {
  if (!snapshotRelease(r)) freeRec(r);
}

function freeValue(r: Rec): void {
  if (r.type == TYPE_ZSET) freeNodes(zsetOf(r));
  if (holdsTable(r.type)) {
    const h = hashOf(r);
    const n = slotCount(h);
    for (let i: u32 = 0; i < n; i++) {
      const f = at(h, i);
      if (f != null) freeRecBlock(f);
    }
    freeSlots(h);
  } else if (r.type == TYPE_LIST) {
    freeList(listOf(r));
  }
}

/**
 * Sets the string record `r` of table `t` to the `n` bytes at `p` (which must not lie in `r`): in
 * place when the length is the same, else in a rebuilt block that never reads the old value.
 * Returns the record, which the caller must use from then on (the Db's, through Db.setString), or
 * null, `r` unchanged, when memory is out.
 */
export function setStringIn(t: Table, r: Rec, p: usize, n: u32): Rec | null {
  if (r.type == TYPE_STRING && r.valLen == n) {
    snapshotWillChange(r);
    copyMemory(valPtr(r), p, n);
    r.big = 0;
    return r;
  }
  const moved = rebuildRec(r, n);
  if (moved == null) return null;
  moved.type = TYPE_STRING;
  moved.big = 0;
  copyMemory(valPtr(moved), p, n);
  replace(t, changetype<usize>(r), moved);
  release(r);
  return moved;
}

/** Expiring keys checked per active sweep (Redis samples 20 per cycle too). */
const SWEEP_KEYS: u32 = 20;

/** Hash of the key of the last Db.lookup, so that adding that key after a miss does not hash it again. */
let lastHash: u32 = 0;

// What Db.lookup does besides finding, for the command being run (set by lookupMode).
let touching = false;
let counting = false;

/**
 * How the next lookups treat the keys they find: `touch` updates their access clock
 * (access-clock.ts), `count` counts hits and misses (INFO keyspace_hits, keyspace_misses: reads only,
 * as Redis counts them).
 */
export function lookupMode(touch: bool, count: bool): void {
  touching = touch;
  counting = count;
}

/** Lookups of read commands that found their key, and that did not (INFO). */
export let keyspaceHits: i64 = 0;
export let keyspaceMisses: i64 = 0;

/** CONFIG RESETSTAT. */
export function resetKeyspaceStats(): void {
  keyspaceHits = 0;
  keyspaceMisses = 0;
}

/** An empty database, or null when memory is out. */
export function newDb(): Db | null {
  const keys = newTable();
  return keys == null ? null : new Db(keys);
}

/** The database: the keyspace and its expiring keys. */
export class Db {
  keys: Table;
  /** The records with an expiry (u32 addresses), so that sweeps and DBSIZE look at those only. */
  private expiring: usize = 0;
  expiringCount: u32 = 0;
  private expiringCap: u32 = 0;
  private sweepAt: u32 = 0;
  /** Keys removed because their time passed (INFO expired_keys). */
  expiredKeys: i64 = 0;

  /** An empty database over an empty table: see newDb. */
  constructor(keys: Table) {
    this.keys = keys;
  }

  /** The live record of a key, deleting it first if it has expired (lazy expiry). */
  lookup(p: usize, n: u32): Rec | null {
    const h = hashBytes(p, n);
    lastHash = h;
    let r = find(this.keys, p, n, h);
    if (r != null && r.expireAt != 0 && r.expireAt <= now()) {
      this.expire(r);
      r = null;
    }
    if (r != null) {
      if (touching) touch(r);
      if (counting) keyspaceHits++;
    } else if (counting) {
      keyspaceMisses++;
    }
    return r;
  }

  // Each function below that makes or grows a record returns null, and changes nothing, when memory
  // is out: the command answers -OOM.

  /** Adds the key of the last lookup, which found nothing, with the string value at `v`. */
  addString(p: usize, n: u32, v: usize, vn: u32): Rec | null {
    const r = newRec(p, n, lastHash, TYPE_STRING, vn);
    if (r == null) return null;
    copyMemory(valPtr(r), v, vn);
    return this.added(r);
  }

  /** Adds the key of the last lookup, which found nothing, as an empty hash. */
  addHash(p: usize, n: u32): Rec | null {
    return this.addTable(p, n, TYPE_HASH);
  }

  /** Adds the key of the last lookup, which found nothing, as an empty set. */
  addSet(p: usize, n: u32): Rec | null {
    return this.addTable(p, n, TYPE_SET);
  }

  /** Adds the key of the last lookup, which found nothing, as an empty sorted set. */
  addZset(p: usize, n: u32): Rec | null {
    const r = newZsetRec(p, n, lastHash);
    return r == null ? null : this.added(r);
  }

  /** Adds `r`, made elsewhere for a key that is not in the keyspace (a sorted set built whole); null, `r` freed, when memory is out. */
  addMade(r: Rec): Rec | null {
    return this.added(r);
  }

  private addTable(p: usize, n: u32, type: u8): Rec | null {
    const r = newRec(p, n, lastHash, type, TABLE_HEADER);
    if (r == null) return null;
    if (!initTable(hashOf(r))) {
      freeRecBlock(r);
      return null;
    }
    return this.added(r);
  }

  /** Adds the key of the last lookup, which found nothing, as an empty list. */
  addList(p: usize, n: u32): Rec | null {
    const r = newRec(p, n, lastHash, TYPE_LIST, LIST_HEADER);
    if (r == null) return null;
    if (!initList(listOf(r))) {
      freeRecBlock(r);
      return null;
    }
    return this.added(r);
  }

  /** `r` into the keyspace, or freed (null) if the table cannot take it. */
  private added(r: Rec): Rec | null {
    if (add(this.keys, r)) {
      countChange();
      return r;
    }
    freeRec(r);
    return null;
  }

  /** Adds a record made elsewhere (a snapshot's), whose key is not in the table; false, `r` still the caller's, when memory is out. */
  adopt(r: Rec): bool {
    const at = r.expireAt;
    r.expireAt = 0;
    if (!add(this.keys, r)) return false;
    if (at != 0 && !this.setExpiry(r, at)) {
      remove(this.keys, r);
      return false;
    }
    return true;
  }

  /** Sets the record of a key to a string value, keeping its expiry; returns the record to use from then on. */
  setString(r: Rec, p: usize, n: u32): Rec | null {
    const moved = setStringIn(this.keys, r, p, n);
    if (moved != null && moved !== r) this.moved(moved);
    return moved;
  }

  /**
   * Resizes a string record's value (keeping its bytes) for a change in place (APPEND, SETRANGE,
   * SETBIT: which leave Redis a raw string); returns the record to use from then on.
   */
  resizeString(r: Rec, n: u32): Rec | null {
    snapshotWillChange(r);
    const moved = resizeRec(r, n);
    if (moved == null) return null;
    moved.big = 1;
    if (moved !== r) {
      replace(this.keys, changetype<usize>(r), moved);
      this.moved(moved);
    }
    return moved;
  }

  /** Repoints the expiring list at a record that moved. */
  private moved(r: Rec): void {
    if (r.expiring >= 0) store<u32>(this.expiring + (<usize>r.expiring << 2), changetype<usize>(r));
  }

  /** Takes `r` out of the keyspace without freeing it (RENAME, MOVE: it, or its value, goes elsewhere). */
  detach(r: Rec): void {
    this.unlistExpiry(r);
    remove(this.keys, r);
    countChange();
  }

  /** Puts `r` (its key not in this keyspace) in, with the expiry it carries; false, `r` still the caller's, when memory is out. */
  attach(r: Rec): bool {
    const at = r.expireAt;
    if (at != 0 && !this.reserveExpiry()) return false;
    r.expireAt = 0;
    r.expiring = -1;
    if (!add(this.keys, r)) {
      r.expireAt = at;
      return false;
    }
    countChange();
    if (at != 0) this.setExpiry(r, at); // room reserved above
    return true;
  }

  /** Takes a key out and frees it (its expiry stays in the record, for a snapshot that keeps it). */
  remove(r: Rec): void {
    this.unlistExpiry(r);
    remove(this.keys, r);
    release(r);
  }

  /** Room in the list of expiring keys for one more; false when it is full and memory is out. */
  reserveExpiry(): bool {
    if (this.expiringCount < this.expiringCap) return true;
    const cap = max<u32>(16, this.expiringCap << 1);
    const grown = zrealloc(this.expiring, <usize>cap << 2);
    if (grown == 0) return false;
    this.expiring = grown;
    this.expiringCap = cap;
    return true;
  }

  /** Gives `r` an expiry; false, `r` unchanged, when memory is out (reserveExpiry first, to know before). */
  setExpiry(r: Rec, at: i64): bool {
    snapshotWillChange(r);
    if (r.expiring < 0) {
      if (!this.reserveExpiry()) return false;
      r.expiring = this.expiringCount;
      store<u32>(this.expiring + (<usize>this.expiringCount << 2), changetype<usize>(r));
      this.expiringCount++;
    }
    r.expireAt = at;
    return true;
  }

  clearExpiry(r: Rec): void {
    snapshotWillChange(r);
    this.unlistExpiry(r);
    r.expireAt = 0;
  }

  private unlistExpiry(r: Rec): void {
    const i = r.expiring;
    if (i < 0) return;
    this.expiringCount--;
    const last = changetype<Rec>(load<u32>(this.expiring + (<usize>this.expiringCount << 2)));
    if (last !== r) {
      store<u32>(this.expiring + (<usize>i << 2), changetype<usize>(last));
      last.expiring = i;
    }
    r.expiring = -1;
    // Give a mostly empty list back, as the tables do (if memory allows the smaller one).
    if (this.expiringCap > 16 && this.expiringCount < this.expiringCap >> 3) {
      const smaller = zrealloc(this.expiring, <usize>(this.expiringCap >> 1) << 2);
      if (smaller != 0) {
        this.expiring = smaller;
        this.expiringCap >>= 1;
      }
    }
  }

  private expiringAt(i: u32): Rec {
    return changetype<Rec>(load<u32>(this.expiring + (<usize>i << 2)));
  }

  /** A random key with a TTL, or null if none has one (volatile eviction policies). */
  randomExpiring(): Rec | null {
    if (this.expiringCount == 0) return null;
    return this.expiringAt(nextRandom() % this.expiringCount);
  }

  private expire(r: Rec): void {
    this.remove(r);
    this.expiredKeys++;
  }

  /** Active expiry: checks a few expiring keys, round robin, so that expired keys do not pile up. */
  sweep(): void {
    if (this.expiringCount == 0) return;
    const t = now();
    for (let k: u32 = 0; k < SWEEP_KEYS && this.expiringCount > 0; k++) {
      if (this.sweepAt >= this.expiringCount) this.sweepAt = 0;
      const r = this.expiringAt(this.sweepAt);
      if (r.expireAt <= t) this.expire(r);
      else this.sweepAt++;
    }
  }

  /** Removes every expired key (before DBSIZE, KEYS and snapshots, which must not count them). */
  purge(): void {
    if (this.expiringCount == 0) return;
    const t = now();
    for (let i: u32 = 0; i < this.expiringCount; ) {
      const r = this.expiringAt(i);
      if (r.expireAt <= t) this.expire(r);
      else i++;
    }
  }

  /** Frees every key (or leaves it to the snapshot being written), leaving the database empty. */
  flush(): void {
    const t = this.keys;
    const n = slotCount(t);
    for (let i: u32 = 0; i < n; i++) {
      const r = at(t, i);
      if (r != null) release(r);
    }
    clearTable(this.keys);
    zfree(this.expiring);
    this.expiring = 0;
    this.expiringCount = 0;
    this.expiringCap = 0;
    this.sweepAt = 0;
  }

  /** Frees everything the database holds (no snapshot may be reading it); it must not be used again. */
  free(): void {
    this.freeRecords();
    freeSlots(this.keys);
    zfree(changetype<usize>(this.keys));
    zfree(this.expiring);
    this.expiring = 0;
    this.expiringCount = 0;
  }

  private freeRecords(): void {
    const t = this.keys;
    const n = slotCount(t);
    for (let i: u32 = 0; i < n; i++) {
      const r = at(t, i);
      if (r != null) freeRec(r);
    }
  }
}
