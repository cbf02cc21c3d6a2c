// A record: one key with its value (or one field of a hash with its value) in a single unmanaged
// block, header first, so that reading a key's value under the software MMU touches one block and,
// for values up to a few KiB, mostly one page. Nothing in a record is a GC object: the collector
// never walks the store, and freeing a record gives its bytes back at once (zmalloc.ts).
//
//    0  u32 hash       the key's hash (hashBytes), so that a table can move it without rehashing
//    4  u8  type       TYPE_STRING, TYPE_HASH, TYPE_LIST, TYPE_SET or TYPE_ZSET
//    5  u8  big        1 once the value outgrew the compact encoding Redis would give it (encoding.ts)
//    8  u32 keyLen
//   12  u32 valLen     a string's length; for a hash or a list, the size of its header (below)
//   16  i64 expireAt   ms since the epoch by the host's clock; 0: none
//   24  i32 expiring   index in the Db's expiring list while expireAt != 0, else -1
//   28  u32 access     the access clock of eviction (access-clock.ts: LRU seconds or LFU counter)
//   32  the key's bytes, then the value: a string's bytes, a Table header (hash, set), a List header
//       or a Zset header (zset.ts, a Table header first)
import { newAccess } from "./access-clock";
import { copyMemory } from "./bytes";
import { zalloc, zfree, zrealloc } from "./zmalloc";

export const TYPE_STRING: u8 = 1;
export const TYPE_HASH: u8 = 2;
export const TYPE_LIST: u8 = 3;
export const TYPE_SET: u8 = 4;
export const TYPE_ZSET: u8 = 5;

/** Does a value of this type start with a Table of member records (hash fields, set members, zset members)? */
// @ts-ignore: decorator
@inline export function holdsTable(type: u8): bool {
  return type == TYPE_HASH || type == TYPE_SET || type == TYPE_ZSET;
}

@unmanaged
export class Rec {
  hash: u32;
  type: u8;
  big: u8;
  pad1: u16;
  keyLen: u32;
  valLen: u32;
  expireAt: i64;
  expiring: i32;
  access: u32;
}

export const REC_HEADER: usize = offsetof<Rec>();

/** The largest record the allocator takes (AssemblyScript's TLSF: blocks under 1 GiB), with room to spare. */
const MAX_RECORD_BYTES: u64 = (1 << 30) - 256;

/** Can one record hold `kn` key and `vn` value bytes? */
export function recordFits(kn: u64, vn: u64): bool {
  return <u64>REC_HEADER + kn + vn <= MAX_RECORD_BYTES;
}

// @ts-ignore: decorator
@inline export function keyPtr(r: Rec): usize {
  return changetype<usize>(r) + REC_HEADER;
}

// @ts-ignore: decorator
@inline export function valPtr(r: Rec): usize {
  return changetype<usize>(r) + REC_HEADER + r.keyLen;
}

/**
 * A record with room for `kn` key and `vn` value bytes (left as they are), no hash and no expiry;
 * null when memory is out (every function here that makes a block returns null so, and changes
 * nothing).
 */
export function allocRec(type: u8, kn: u32, vn: u32): Rec | null {
  if (!recordFits(kn, vn)) return null;
  const p = zalloc(REC_HEADER + <usize>kn + vn);
  if (p == 0) return null;
  const r = changetype<Rec>(p);
  r.hash = 0;
  r.type = type;
  r.big = 0;
  r.pad1 = 0;
  r.keyLen = kn;
  r.valLen = vn;
  r.expireAt = 0;
  r.expiring = -1;
  r.access = newAccess();
  return r;
}

/** A new record for the `kn` key bytes at `k`, with room for `vn` value bytes (left as they are). */
export function newRec(k: usize, kn: u32, hash: u32, type: u8, vn: u32): Rec | null {
  const r = allocRec(type, kn, vn);
  if (r == null) return null;
  r.hash = hash;
  copyMemory(keyPtr(r), k, kn);
  return r;
}

/** A new string record holding key `k` and value `v`. */
export function newString(k: usize, kn: u32, hash: u32, v: usize, vn: u32): Rec | null {
  const r = newRec(k, kn, hash, TYPE_STRING, vn);
  if (r == null) return null;
  copyMemory(valPtr(r), v, vn);
  return r;
}

/**
 * `r` with room for a value of `vn` bytes: the same block when it fits, else a moved one whose key,
 * header and first min(old, vn) value bytes are kept. The caller points its table (and the expiring
 * list) at the result: see Db.resizeString.
 */
export function resizeRec(r: Rec, vn: u32): Rec | null {
  if (!recordFits(r.keyLen, vn)) return null;
  const p = zrealloc(changetype<usize>(r), REC_HEADER + <usize>r.keyLen + vn);
  if (p == 0) return null;
  const moved = changetype<Rec>(p);
  moved.valLen = vn;
  return moved;
}

/**
 * A copy of `r`'s header and key in a block with room for a new value of `vn` bytes (left as they
 * are), `r` left as it is: for an overwrite, which must not read the old value's pages only to drop
 * them. The caller frees `r` and repoints its table as after resizeRec.
 */
export function rebuildRec(r: Rec, vn: u32): Rec | null {
  if (!recordFits(r.keyLen, vn)) return null;
  const p = zalloc(REC_HEADER + <usize>r.keyLen + vn);
  if (p == 0) return null;
  const fresh = changetype<Rec>(p);
  copyMemory(p, changetype<usize>(r), <u32>(REC_HEADER + r.keyLen));
  fresh.valLen = vn;
  return fresh;
}

export function freeRecBlock(r: Rec): void {
  zfree(changetype<usize>(r));
}
