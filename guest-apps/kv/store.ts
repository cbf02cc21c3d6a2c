// The keyspace: an open-addressing hash table over byte keys (Dict), the list type (Deque), and the
// database (Db) with its expiry bookkeeping. Keys and values are bytes (ArrayBuffer), never
// strings. Slots are a power of two, so SCAN can use Redis's reverse-binary cursor (dict.c,
// dictScan) over home slots, which visits every key present for the whole scan even if the table
// grows or shrinks.
import { copyBytes, sameBytes } from "./bytes";
import { now } from "./clock";

export const TYPE_STRING: u8 = 1;
export const TYPE_HASH: u8 = 2;
export const TYPE_LIST: u8 = 3;

let hashSeed: u32 = 0x9747b28c;

/** Seeds the key hash (from the platform's random bytes, so clients cannot pick colliding keys). */
export function seedHash(seed: u32): void {
  hashSeed = seed;
}

// MurmurHash3 x86_32 (Austin Appleby, public domain): fast on short keys, 4 bytes a step.
// @ts-ignore: decorator
@inline function mix(k: u32): u32 {
  k *= 0xcc9e2d51;
  k = rotl<u32>(k, 15);
  return k * 0x1b873593;
}

export function hashBytes(p: usize, n: u32): u32 {
  let h = hashSeed ^ n;
  let i: u32 = 0;
  for (; i + 4 <= n; i += 4) {
    h ^= mix(load<u32>(p + i));
    h = rotl<u32>(h, 13) * 5 + 0xe6546b64;
  }
  let k: u32 = 0;
  const rest = n & 3;
  if (rest == 3) k ^= <u32>load<u8>(p + i + 2) << 16;
  if (rest >= 2) k ^= <u32>load<u8>(p + i + 1) << 8;
  if (rest >= 1) {
    k ^= <u32>load<u8>(p + i);
    h ^= mix(k);
  }
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** A key of the database or a field of a hash, with its value. */
export class Entry {
  type: u8 = TYPE_STRING;
  /** A string's value, or a hash field's value. */
  str: ArrayBuffer | null = null;
  hash: Dict | null = null;
  list: Deque | null = null;
  /** Expiry in ms since the epoch by the host's (untrusted) clock; 0: none. */
  expireAt: i64 = 0;
  /** Index in Db.expiring while expireAt != 0. */
  expiringIndex: i32 = -1;

  constructor(public key: ArrayBuffer, public keyHash: u32) {}
}

const MIN_SLOTS: u32 = 16;

/** A slot's tag: the key's hash with the top bit set, so that 0 marks an empty slot. */
// @ts-ignore: decorator
@inline function tagOf(h: u32): u32 {
  return h | 0x8000_0000;
}

// Set by Dict.find on a miss: the empty slot where the probe ended, for the key's tag and table.
// Dict.add takes that slot for a key of the same hash (the same probe path) while the slot is
// still empty; a removal or a resize forgets it.
let missSlot: u32 = 0;
let missTag: u32 = 0;
let missDict: usize = 0;

/**
 * A hash table over byte keys: open addressing with linear probing (Knuth 6.4, algorithm L, with
 * algorithm R's deletion, so no tombstones). Each slot's tag (the key's hash) sits in an array of
 * its own beside the entries: a probe reads one u32 per slot and touches an entry only when the
 * whole hash matches, which under the software MMU saves the checked loads of the entry and its
 * key on every slot passed. At most half the slots are used, so a probe passes few slots.
 *
 * An entry's home slot is its hash & mask, and the entries of a home are in the run of occupied
 * slots that starts there; SCAN walks homes in reverse-binary order (Redis's dictScan cursor).
 */
export class Dict {
  tags: StaticArray<u32> = new StaticArray<u32>(MIN_SLOTS);
  slots: StaticArray<Entry | null> = new StaticArray<Entry | null>(MIN_SLOTS);
  mask: u32 = MIN_SLOTS - 1;
  count: u32 = 0;

  // @ts-ignore: decorator
  @inline find(p: usize, n: u32, h: u32): Entry | null {
    const tags = changetype<usize>(this.tags);
    const mask = this.mask;
    const tag = tagOf(h);
    let i = h & mask;
    while (true) {
      const t = load<u32>(tags + (<usize>i << 2));
      if (t == 0) break;
      if (t == tag) {
        const e = changetype<Entry>(unchecked(this.slots[i]));
        if (sameBytes(p, n, e.key)) return e;
      }
      i = (i + 1) & mask;
    }
    missSlot = i;
    missTag = tag;
    missDict = changetype<usize>(this);
    return null;
  }

  /** Adds an entry whose key is not in the table (right after a find of it that missed, or not). */
  add(e: Entry): void {
    if ((this.count + 1) << 1 > this.mask + 1) {
      this.resize((this.mask + 1) << 1);
    } else if (missDict == changetype<usize>(this) && missTag == tagOf(e.keyHash) && load<u32>(changetype<usize>(this.tags) + (<usize>missSlot << 2)) == 0) {
      this.place(missSlot, e);
      missDict = 0;
      return;
    }
    const tags = changetype<usize>(this.tags);
    let i = e.keyHash & this.mask;
    while (load<u32>(tags + (<usize>i << 2)) != 0) i = (i + 1) & this.mask;
    this.place(i, e);
  }

  // @ts-ignore: decorator
  @inline private place(i: u32, e: Entry): void {
    store<u32>(changetype<usize>(this.tags) + (<usize>i << 2), tagOf(e.keyHash));
    unchecked((this.slots[i] = e));
    this.count++;
  }

  /** The entry for the key, made (as an empty string entry) if absent; `created` tells which. */
  findOrAdd(p: usize, n: u32): Entry {
    const h = hashBytes(p, n);
    const found = this.find(p, n, h);
    created = found == null;
    if (found != null) return found;
    const e = new Entry(copyBytes(p, n), h);
    this.add(e);
    return e;
  }

  /** Removes `e` (which must be in the table), moving later entries of its run back into the gap. */
  remove(e: Entry): void {
    const tags = changetype<usize>(this.tags);
    const mask = this.mask;
    const tag = tagOf(e.keyHash);
    let i = e.keyHash & mask;
    while (true) {
      const t = load<u32>(tags + (<usize>i << 2));
      if (t == 0) return;
      if (t == tag && unchecked(this.slots[i]) === e) break;
      i = (i + 1) & mask;
    }
    // Algorithm R: an entry at j may move to the gap at i unless its home lies cyclically in (i, j].
    let j = i;
    while (true) {
      j = (j + 1) & mask;
      const t = load<u32>(tags + (<usize>j << 2));
      if (t == 0) break;
      const home = t & mask;
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      store<u32>(tags + (<usize>i << 2), t);
      unchecked((this.slots[i] = unchecked(this.slots[j])));
      i = j;
    }
    store<u32>(tags + (<usize>i << 2), 0);
    unchecked((this.slots[i] = null));
    missDict = 0;
    this.count--;
    // Shrink at 1/8 full, so that a table emptied by deletes gives its slots back.
    const size = mask + 1;
    if (size > MIN_SLOTS && this.count < size >> 3) this.resize(size >> 1);
  }

  clear(): void {
    this.tags = new StaticArray<u32>(MIN_SLOTS);
    this.slots = new StaticArray<Entry | null>(MIN_SLOTS);
    this.mask = MIN_SLOTS - 1;
    this.count = 0;
    missDict = 0;
  }

  private resize(size: u32): void {
    const oldTags = this.tags;
    const oldSlots = this.slots;
    const tags = new StaticArray<u32>(<i32>size);
    const slots = new StaticArray<Entry | null>(<i32>size);
    const mask = size - 1;
    for (let k = 0; k < oldTags.length; k++) {
      const t = unchecked(oldTags[k]);
      if (t == 0) continue;
      let i = t & mask;
      while (unchecked(tags[i]) != 0) i = (i + 1) & mask;
      unchecked((tags[i] = t));
      unchecked((slots[i] = unchecked(oldSlots[k])));
    }
    this.tags = tags;
    this.slots = slots;
    this.mask = mask;
    missDict = 0;
  }

  /** The entry in slot i, if any (for walks over every entry: KEYS, HGETALL, snapshots). */
  at(i: i32): Entry | null {
    return unchecked(this.slots[i]);
  }

  get size(): i32 {
    return this.slots.length;
  }

  /** The cursor after `cursor` in reverse-binary order (0: the scan is complete). */
  nextCursor(cursor: u32): u32 {
    let v = cursor | ~this.mask;
    v = bitReverse(v);
    v++;
    return bitReverse(v);
  }

  /** Appends to `into` the entries whose home is the slot of `cursor`. */
  scanHome(cursor: u32, into: Array<Entry>): void {
    const mask = this.mask;
    const home = cursor & mask;
    for (let i = home; ; i = (i + 1) & mask) {
      const t = unchecked(this.tags[i]);
      if (t == 0) break;
      if ((t & mask) == home) into.push(changetype<Entry>(unchecked(this.slots[i])));
    }
  }
}

/** Set by Dict.findOrAdd: whether it made the entry. */
export let created = false;

function bitReverse(v: u32): u32 {
  v = ((v >> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  return bswap<u32>(v);
}

/** A list value: a ring buffer of byte strings, O(1) at both ends. */
export class Deque {
  items: StaticArray<ArrayBuffer | null> = new StaticArray<ArrayBuffer | null>(8);
  head: u32 = 0;
  length: u32 = 0;

  at(i: u32): ArrayBuffer {
    return changetype<ArrayBuffer>(unchecked(this.items[(this.head + i) & (<u32>this.items.length - 1)]));
  }

  pushFront(v: ArrayBuffer): void {
    this.grow();
    const mask = <u32>this.items.length - 1;
    this.head = (this.head - 1) & mask;
    unchecked((this.items[this.head] = v));
    this.length++;
  }

  pushBack(v: ArrayBuffer): void {
    this.grow();
    const mask = <u32>this.items.length - 1;
    unchecked((this.items[(this.head + this.length) & mask] = v));
    this.length++;
  }

  popFront(): ArrayBuffer {
    const mask = <u32>this.items.length - 1;
    const v = changetype<ArrayBuffer>(unchecked(this.items[this.head]));
    unchecked((this.items[this.head] = null));
    this.head = (this.head + 1) & mask;
    this.length--;
    this.shrink();
    return v;
  }

  popBack(): ArrayBuffer {
    const mask = <u32>this.items.length - 1;
    const i = (this.head + this.length - 1) & mask;
    const v = changetype<ArrayBuffer>(unchecked(this.items[i]));
    unchecked((this.items[i] = null));
    this.length--;
    this.shrink();
    return v;
  }

  private grow(): void {
    const size = <u32>this.items.length;
    if (this.length < size) return;
    this.relocate(size << 1);
  }

  private shrink(): void {
    const size = <u32>this.items.length;
    if (size > 8 && this.length < size >> 2) this.relocate(size >> 1);
  }

  private relocate(size: u32): void {
    const fresh = new StaticArray<ArrayBuffer | null>(<i32>size);
    for (let i: u32 = 0; i < this.length; i++) unchecked((fresh[i] = this.at(i)));
    this.items = fresh;
    this.head = 0;
  }
}

/** Expiring keys checked per active sweep (Redis samples 20 per cycle too). */
const SWEEP_KEYS: i32 = 20;

/** Hash of the key of the last Db.lookup, so that adding that key after a miss does not hash it again. */
let lastHash: u32 = 0;

/** The database: the keyspace and its expiring keys. */
export class Db {
  keys: Dict = new Dict();
  /** Every entry with an expiry, so that sweeps and DBSIZE look at those only. */
  expiring: Array<Entry> = new Array<Entry>();
  private sweepAt: i32 = 0;
  /** Keys removed because their time passed (INFO expired_keys). */
  expiredKeys: i64 = 0;

  /** The live entry of a key, deleting it first if it has expired (lazy expiry). */
  lookup(p: usize, n: u32): Entry | null {
    const h = hashBytes(p, n);
    lastHash = h;
    const e = this.keys.find(p, n, h);
    if (e != null && e.expireAt != 0 && e.expireAt <= now()) {
      this.expire(e);
      return null;
    }
    return e;
  }

  /** Adds the key of the last lookup, which found nothing, as an entry (an empty string). */
  addMissing(p: usize, n: u32): Entry {
    const e = new Entry(copyBytes(p, n), lastHash);
    this.keys.add(e);
    return e;
  }

  remove(e: Entry): void {
    this.clearExpiry(e);
    this.keys.remove(e);
  }

  setExpiry(e: Entry, at: i64): void {
    if (e.expiringIndex < 0) {
      e.expiringIndex = this.expiring.length;
      this.expiring.push(e);
    }
    e.expireAt = at;
  }

  clearExpiry(e: Entry): void {
    const i = e.expiringIndex;
    if (i < 0) return;
    const last = this.expiring.pop();
    if (last !== e) {
      unchecked((this.expiring[i] = last));
      last.expiringIndex = i;
    }
    e.expiringIndex = -1;
    e.expireAt = 0;
  }

  private expire(e: Entry): void {
    this.remove(e);
    this.expiredKeys++;
  }

  /** Active expiry: checks a few expiring keys, round robin, so that expired keys do not pile up. */
  sweep(): void {
    if (this.expiring.length == 0) return;
    const t = now();
    for (let k = 0; k < SWEEP_KEYS && this.expiring.length > 0; k++) {
      if (this.sweepAt >= this.expiring.length) this.sweepAt = 0;
      const e = unchecked(this.expiring[this.sweepAt]);
      if (e.expireAt <= t) this.expire(e);
      else this.sweepAt++;
    }
  }

  /** Removes every expired key (before DBSIZE, KEYS and snapshots, which must not count them). */
  purge(): void {
    if (this.expiring.length == 0) return;
    const t = now();
    for (let i = 0; i < this.expiring.length; ) {
      const e = unchecked(this.expiring[i]);
      if (e.expireAt <= t) this.expire(e);
      else i++;
    }
  }

  flush(): void {
    this.keys.clear();
    this.expiring = new Array<Entry>();
    this.sweepAt = 0;
  }
}
