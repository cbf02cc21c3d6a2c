// The encodings Redis 7.0 would give a value, for OBJECT ENCODING and the clients and tests that read
// it. kv keeps one layout per type (record.ts); a record's `big` flag says that the value has
// outgrown the compact encoding by Redis's conversion rules, which never convert back:
//   hash  listpack -> hashtable   more than hash-max-listpack-entries fields, or a field or value
//                                 longer than hash-max-listpack-value (t_hash.c hashTypeTryConversion)
//   set   intset -> hashtable     a member that is not an integer, or more than
//                                 set-max-intset-entries members (t_set.c setTypeAdd)
//   zset  listpack -> skiplist    more than zset-max-listpack-entries members, or one longer than
//                                 zset-max-listpack-value (t_zset.c zsetTypeMaybeConvert, zsetAdd)
// A list is a quicklist, and a string int, embstr (up to 44 bytes) or raw (object.c), raw also once
// APPEND, SETRANGE or SETBIT changed it in place.
import { parseI64 } from "./bytes";
import { Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, valPtr } from "./record";

/** The thresholds, in the order of their CONFIG slots (cmd-config.ts): Redis's defaults. */
export const encodingValues: StaticArray<i64> = [128, 64, -2, 0, 512, 128, 64];
const HASH_ENTRIES = 0, HASH_VALUE = 1, SET_ENTRIES = 4, ZSET_ENTRIES = 5, ZSET_VALUE = 6;
const EMBSTR_LIMIT: u32 = 44; // OBJ_ENCODING_EMBSTR_SIZE_LIMIT

/** Marks hash `r` big if it now holds `count` fields, one of them `fn` bytes with a value of `vn`. */
export function hashGrew(r: Rec, count: u32, fn: u32, vn: u32): void {
  const limit = unchecked(encodingValues[HASH_VALUE]);
  if (<i64>count > unchecked(encodingValues[HASH_ENTRIES]) || <i64>fn > limit || <i64>vn > limit) r.big = 1;
}

/** Marks set `r` big if it now holds `count` members, the newest `n` bytes at `p`. */
export function setGrew(r: Rec, count: u32, p: usize, n: u32): void {
  if (<i64>count > unchecked(encodingValues[SET_ENTRIES]) || !parseI64(p, n)) r.big = 1;
}

/** Does a member of `n` bytes keep a set of `count` members an intset? (for sets built whole: SINTERSTORE...) */
export function fitsIntset(count: u32): bool {
  return <i64>count <= unchecked(encodingValues[SET_ENTRIES]);
}

/** Marks zset `r` big if it now holds `count` members, the newest `n` bytes long. */
export function zsetGrew(r: Rec, count: u32, n: u32): void {
  if (<i64>count > unchecked(encodingValues[ZSET_ENTRIES]) || <i64>n > unchecked(encodingValues[ZSET_VALUE])) r.big = 1;
}

/** Would Redis make a new zset for `count` members, the longest `n` bytes, a skiplist? (zsetTypeCreate) */
export function zsetStartsBig(count: u32, n: u32): bool {
  const entries = unchecked(encodingValues[ZSET_ENTRIES]);
  return entries == 0 || <i64>count > entries || <i64>n > unchecked(encodingValues[ZSET_VALUE]);
}

export function encodingName(r: Rec): string {
  const big = r.big != 0;
  switch (r.type) {
    case TYPE_STRING:
      if (!big && r.valLen <= 20 && parseI64(valPtr(r), r.valLen)) return "int";
      return !big && r.valLen <= EMBSTR_LIMIT ? "embstr" : "raw";
    case TYPE_HASH: return big ? "hashtable" : "listpack";
    case TYPE_LIST: return "quicklist";
    case TYPE_SET: return big ? "hashtable" : "intset";
    case TYPE_ZSET: return big ? "skiplist" : "listpack";
  }
  return "unknown";
}
