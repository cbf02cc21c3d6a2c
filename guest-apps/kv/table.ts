// A hash table of records (record.ts) by key: the keyspace, and each hash value's fields. Open
// addressing with linear probing (Knuth 6.4, algorithm L, with algorithm R's deletion, so no
// tombstones), at most half full. A slot is one u64: the key's hash with its top bit set (0: empty)
// and the record's address, so a probe reads 8 bytes per slot, and touches a record only when the
// whole 31-bit hash matches: a lookup reads the slot array's page and the record's own, nothing
// else. The header (slot array, mask, count) is unmanaged too, inline in a hash's record or in a
// block of its own for the keyspace.
//
// Slots are a power of two, so SCAN can use Redis's reverse-binary cursor (dict.c, dictScan) over
// home slots, which visits every key present for the whole scan even if the table grows or shrinks.
import { ByteBuf } from "./bytes";
import { nextRandom } from "./random";
import { REC_HEADER, Rec } from "./record";
import { zalloc, zfree } from "./zmalloc";

@unmanaged
export class Table {
  slots: usize;
  mask: u32;
  count: u32;
}

export const TABLE_HEADER: u32 = <u32>offsetof<Table>();
const MIN_SLOTS: u32 = 16;

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

// @ts-ignore: decorator
@inline function tagOf(h: u32): u32 {
  return h | 0x8000_0000;
}

// @ts-ignore: decorator
@inline function slotAt(t: Table, i: u32): u64 {
  return load<u64>(t.slots + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function setSlot(t: Table, i: u32, tag: u32, r: usize): void {
  store<u64>(t.slots + (<usize>i << 3), <u64>tag | (<u64>r << 32));
}

// @ts-ignore: decorator
@inline function recOf(slot: u64): Rec {
  return changetype<Rec>(<usize>(slot >> 32));
}

/** Makes `t` an empty table (its header's memory is the caller's); false, `t` unusable, when memory is out. */
export function initTable(t: Table): bool {
  const slots = zalloc(<usize>MIN_SLOTS << 3);
  t.slots = slots;
  t.mask = MIN_SLOTS - 1;
  t.count = 0;
  if (slots == 0) return false;
  memory.fill(slots, 0, <usize>MIN_SLOTS << 3);
  return true;
}

/** A table in a block of its own, or null when memory is out. */
export function newTable(): Table | null {
  const p = zalloc(offsetof<Table>());
  if (p == 0) return null;
  const t = changetype<Table>(p);
  if (!initTable(t)) {
    zfree(p);
    return null;
  }
  return t;
}

// Set by find on a miss: the empty slot where the probe ended, for the key's tag and table. add
// takes that slot for a key of the same hash (the same probe path) while it is still empty; a
// removal or a resize forgets it.
let missSlot: u32 = 0;
let missTag: u32 = 0;
let missTable: usize = 0;

/** The record of the `n` key bytes at `p` (hash `h`), or null. */
export function find(t: Table, p: usize, n: u32, h: u32): Rec | null {
  const mask = t.mask;
  const tag = tagOf(h);
  let i = h & mask;
  while (true) {
    const s = slotAt(t, i);
    const st = <u32>s;
    if (st == 0) break;
    if (st == tag) {
      const r = recOf(s);
      if (r.keyLen == n && sameKey(keyOf(r), p, n)) return r;
    }
    i = (i + 1) & mask;
  }
  missSlot = i;
  missTag = tag;
  missTable = changetype<usize>(t);
  return null;
}

// @ts-ignore: decorator
@inline function keyOf(r: Rec): usize {
  return changetype<usize>(r) + REC_HEADER;
}

/** Eight bytes a step whatever the alignment: under the software MMU every load is a checked one. */
// @ts-ignore: decorator
@inline function sameKey(a: usize, b: usize, n: u32): bool {
  let i: usize = 0;
  for (; i + 8 <= <usize>n; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  for (; i < <usize>n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/**
 * Adds `r`, whose key is not in the table (right after a find of it that missed, or not). The table
 * doubles at half full; when memory is out it fills on past half, and refuses (false) only when
 * one slot is left, which a probe needs to end.
 */
export function add(t: Table, r: Rec): bool {
  const tag = tagOf(r.hash);
  if ((t.count + 1) << 1 > t.mask + 1 && !resize(t, (t.mask + 1) << 1)) {
    if (t.count + 2 > t.mask + 1) return false;
    missTable = 0;
  } else if (missTable == changetype<usize>(t) && missTag == tag && <u32>slotAt(t, missSlot) == 0) {
    setSlot(t, missSlot, tag, changetype<usize>(r));
    t.count++;
    missTable = 0;
    return true;
  }
  let i = r.hash & t.mask;
  while (<u32>slotAt(t, i) != 0) i = (i + 1) & t.mask;
  setSlot(t, i, tag, changetype<usize>(r));
  t.count++;
  return true;
}

/** The slot holding `word` (which must be in the table). */
function slotOfWord(t: Table, word: u64): u32 {
  const mask = t.mask;
  let i = <u32>word & mask;
  while (slotAt(t, i) != word) {
    assert(<u32>slotAt(t, i) != 0, "record not in its table");
    i = (i + 1) & mask;
  }
  return i;
}

/**
 * Points the slot of the record that was at `old` at `moved`, the same key in a block resized or
 * rebuilt. `old` may be freed already: only its address is used (the allocator reuses a freed
 * block's first bytes, where the hash was).
 */
export function replace(t: Table, old: usize, moved: Rec): void {
  if (old == changetype<usize>(moved)) return;
  const tag = tagOf(moved.hash);
  setSlot(t, slotOfWord(t, <u64>tag | (<u64>old << 32)), tag, changetype<usize>(moved));
}

/** Takes `r` out of the table (the record itself is the caller's), moving later entries of its run back into the gap. */
export function remove(t: Table, r: Rec): void {
  const mask = t.mask;
  let i = slotOfWord(t, wordOf(r));
  // Algorithm R: an entry at j may move to the gap at i unless its home lies cyclically in (i, j].
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const s = slotAt(t, j);
    const st = <u32>s;
    if (st == 0) break;
    const home = st & mask;
    if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
    store<u64>(t.slots + (<usize>i << 3), s);
    i = j;
  }
  store<u64>(t.slots + (<usize>i << 3), 0);
  missTable = 0;
  t.count--;
  // Shrink at 1/8 full, so that a table emptied by deletes gives its slots back (if memory allows).
  const size = mask + 1;
  if (size > MIN_SLOTS && t.count < size >> 3) resize(t, size >> 1);
}

/** Empties `t` (its records are the caller's: walk them first), giving a large slot array back. */
export function clearTable(t: Table): void {
  missTable = 0;
  t.count = 0;
  const slots = zalloc(<usize>MIN_SLOTS << 3);
  if (slots == 0) { // keep the array it has, emptied
    memory.fill(t.slots, 0, <usize>(t.mask + 1) << 3);
    return;
  }
  zfree(t.slots);
  memory.fill(slots, 0, <usize>MIN_SLOTS << 3);
  t.slots = slots;
  t.mask = MIN_SLOTS - 1;
}

/** Frees the slot array (not the records); `t` must not be used again unless initTable'd. */
export function freeSlots(t: Table): void {
  zfree(t.slots);
  t.slots = 0;
  t.count = 0;
  missTable = 0;
}

/** Moves the slots to an array of `size`; false, nothing changed, when memory is out. */
function resize(t: Table, size: u32): bool {
  const old = t.slots;
  const oldSize = t.mask + 1;
  const bytes = <usize>size << 3;
  const slots = zalloc(bytes);
  if (slots == 0) return false;
  memory.fill(slots, 0, bytes);
  const mask = size - 1;
  for (let k: u32 = 0; k < oldSize; k++) {
    const s = load<u64>(old + (<usize>k << 3));
    if (<u32>s == 0) continue;
    let i = <u32>s & mask;
    while (load<u32>(slots + (<usize>i << 3)) != 0) i = (i + 1) & mask;
    store<u64>(slots + (<usize>i << 3), s);
  }
  zfree(old);
  t.slots = slots;
  t.mask = mask;
  missTable = 0;
  return true;
}

/** Slots in the table (for walks over every record: KEYS, HGETALL, snapshots). */
// @ts-ignore: decorator
@inline export function slotCount(t: Table): u32 {
  return t.mask + 1;
}

/** The record in slot i, or null. */
export function at(t: Table, i: u32): Rec | null {
  const s = slotAt(t, i);
  return <u32>s == 0 ? null : recOf(s);
}

/** The cursor after `cursor` in reverse-binary order (0: the scan is complete). */
function nextCursor(t: Table, cursor: u32): u32 {
  let v = cursor | ~t.mask;
  v = bitReverse(v);
  v++;
  return bitReverse(v);
}

/** The slot word of `r` (its tag and address): what a table holds for it. */
export function wordOf(r: Rec): u64 {
  return <u64>tagOf(r.hash) | (<u64>changetype<usize>(r) << 32);
}

/** The record of a slot word. */
// @ts-ignore: decorator
@inline export function recOfWord(word: u64): Rec {
  return recOf(word);
}

/** Is `word` in the table? Reads the slots only, never a record (eviction checks its candidates so). */
export function holdsWord(t: Table, word: u64): bool {
  const mask = t.mask;
  let i = <u32>word & mask;
  while (true) {
    const s = slotAt(t, i);
    if (s == word) return true;
    if (<u32>s == 0) return false;
    i = (i + 1) & mask;
  }
}

/** The slot word of a random record of a table that holds at least one: the first one from a random slot on. */
export function randomWord(t: Table): u64 {
  const mask = t.mask;
  let i = nextRandom() & mask;
  while (<u32>slotAt(t, i) == 0) i = (i + 1) & mask;
  return slotAt(t, i);
}

/**
 * A record picked uniformly from a table that holds at least one: random slots until one is full
 * (every record has one slot, and a table is at least 1/8 full but for its smallest size).
 */
export function fairRandomRec(t: Table): Rec {
  const mask = t.mask;
  while (true) {
    const s = slotAt(t, nextRandom() & mask);
    if (<u32>s != 0) return recOf(s);
  }
}

/** Appends to `into` (u32 each) the addresses of the records whose home is the slot of `cursor`. */
function scanHome(t: Table, cursor: u32, into: ByteBuf): void {
  const mask = t.mask;
  const home = cursor & mask;
  for (let i = home; ; i = (i + 1) & mask) {
    const s = slotAt(t, i);
    if (<u32>s == 0) break;
    if ((<u32>s & mask) == home) into.putU32(<u32>(s >> 32));
  }
}

/**
 * One SCAN call's walk from `cursor`: home slots in reverse-binary order until `count` records are
 * in `into` or ten times `count` slots were visited (dict.c's emptyVisits bound). Returns the next
 * cursor, 0 when the walk is complete.
 */
export function scanSteps(t: Table, cursor: u32, count: i64, into: ByteBuf): u32 {
  if (t.count == 0) return 0;
  let c = cursor;
  let budget = count * 10;
  do {
    scanHome(t, c, into);
    c = nextCursor(t, c);
  } while (c != 0 && budget-- > 0 && <i64>(into.len >> 2) < count);
  return c;
}

function bitReverse(v: u32): u32 {
  v = ((v >> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  return bswap<u32>(v);
}
