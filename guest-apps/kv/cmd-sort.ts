// SORT and SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
// [STORE destination] (Redis sort.c): the elements of a list, set or sorted set, ordered by
// themselves or by the values the BY pattern names (key*, or key*->field of a hash), with the
// values GET patterns name ("#": the element itself), answered or stored as a list.
//
// Departure: ALPHA compares bytes, as Redis does under the C locale (it uses strcoll when it
// answers, whose order is the locale's).
import { ByteBuf, parsedInt } from "./bytes";
import { al, ap, argIs, argInt, argc, lookup } from "./args";
import { notInteger, syntaxError } from "./errors";
import { parseDouble, parsedDouble, parsedInfinity, sigLen } from "./float-text";
import { itemAt, itemData, itemLen, pushBack } from "./list";
import { Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, keyPtr, valPtr } from "./record";
import { replyArray, replyBulk, replyError, replyInt, replyNil, replyOom, replyWrongType } from "./reply";
import { db } from "./server-state";
import { hashOf, listOf, zsetOf } from "./store";
import { at, find, hashBytes, slotCount } from "./table";
import { compareBytes, nodeBackward, nodeMember, nodeNext, zslAtRank, zslFirst } from "./zset";

class Item {
  constructor(public p: usize, public n: u32) {}
  score: f64 = 0;
  /** The BY value an ALPHA sort compares (0 with `hasBy` false: none found). */
  byP: usize = 0;
  byN: u32 = 0;
  hasBy: bool = false;
}

let desc = false;
let alpha = false;
let byPattern = false;

function compareItems(a: Item, b: Item): i32 {
  let c: i32;
  if (!alpha) {
    c = a.score > b.score ? 1 : a.score < b.score ? -1 : compareBytes(a.p, a.n, b.p, b.n);
  } else if (byPattern) {
    if (!a.hasBy || !b.hasBy) c = a.hasBy == b.hasBy ? 0 : !a.hasBy ? -1 : 1;
    else c = compareBytes(a.byP, a.byN, b.byP, b.byN);
  } else {
    c = compareBytes(a.p, a.n, b.p, b.n);
  }
  return desc ? -c : c;
}

// What lookupByPattern found: the bytes of a string value or a hash field's value.
let foundP: usize = 0;
let foundN: u32 = 0;
const keyBuf = new ByteBuf();

/**
 * The value pattern argument `pat` names for the element at `p` (lookupKeyByPattern): "#" is the
 * element; else the first '*' takes the element's place, and "->field" after it reads a hash's
 * field. False when there is no '*', no such key, or a key of the wrong type.
 */
function lookupByPattern(pat: u32, p: usize, n: u32): bool {
  const pp = ap(pat), pn = al(pat);
  if (pn == 1 && load<u8>(pp) == 0x23) { // '#'
    foundP = p;
    foundN = n;
    return true;
  }
  let star: i32 = -1;
  for (let i: u32 = 0; i < pn; i++) {
    if (load<u8>(pp + i) == 0x2a) {
      star = <i32>i;
      break;
    }
  }
  if (star < 0) return false;
  let arrow: i32 = -1; // "->" after the '*', with a field after it
  for (let i = <u32>star + 1; i + 2 < pn; i++) {
    if (load<u8>(pp + i) == 0x2d && load<u8>(pp + i + 1) == 0x3e) {
      arrow = <i32>i;
      break;
    }
  }
  const end = arrow >= 0 ? <u32>arrow : pn;
  keyBuf.clear();
  keyBuf.put(pp, <u32>star);
  keyBuf.put(p, n);
  keyBuf.put(pp + <u32>star + 1, end - <u32>star - 1);
  if (keyBuf.failed) return false;
  const r = db.lookup(keyBuf.ptr, keyBuf.len);
  if (r == null) return false;
  if (arrow < 0) {
    if (r.type != TYPE_STRING) return false;
    foundP = valPtr(r);
    foundN = r.valLen;
    return true;
  }
  if (r.type != TYPE_HASH) return false;
  const fp = pp + <u32>arrow + 2, fn = pn - <u32>arrow - 2;
  const f = find(hashOf(r), fp, fn, hashBytes(fp, fn));
  if (f == null) return false;
  foundP = valPtr(f);
  foundN = f.valLen;
  return true;
}

/** SORT (`readonly` false) and SORT_RO. */
export function sort(readonly: bool): void {
  desc = false;
  alpha = false;
  let by: u32 = 0;
  let dontSort = false;
  let store: u32 = 0;
  let limitStart: i64 = 0, limitCount: i64 = -1;
  const gets = new Array<u32>();
  for (let j: u32 = 2; j < argc; j++) {
    const left = argc - j - 1;
    if (argIs(j, "asc")) desc = false;
    else if (argIs(j, "desc")) desc = true;
    else if (argIs(j, "alpha")) alpha = true;
    else if (argIs(j, "limit") && left >= 2) {
      if (!argInt(j + 1)) return notInteger();
      limitStart = parsedInt;
      if (!argInt(j + 2)) return notInteger();
      limitCount = parsedInt;
      j += 2;
    } else if (!readonly && argIs(j, "store") && left >= 1) {
      store = ++j;
    } else if (argIs(j, "by") && left >= 1) {
      by = ++j;
      let star = false;
      for (let i: u32 = 0; i < al(by) && !star; i++) star = load<u8>(ap(by) + i) == 0x2a;
      dontSort = !star;
    } else if (argIs(j, "get") && left >= 1) {
      gets.push(++j);
    } else {
      return syntaxError();
    }
  }
  const src = lookup(1);
  if (src != null && src.type != TYPE_SET && src.type != TYPE_LIST && src.type != TYPE_ZSET) return replyWrongType();
  // A set has no order of its own: sorted by itself (ALPHA) when the result is kept.
  if (dontSort && src != null && src.type == TYPE_SET && store != 0) {
    dontSort = false;
    alpha = true;
    by = 0;
  }
  byPattern = by != 0;
  const length: i64 = src == null ? 0 : src.type == TYPE_LIST ? listOf(src).length : hashOf(src).count;
  let start = min(max(limitStart, 0), length);
  limitCount = min(max(limitCount, -1), length);
  let end = limitCount < 0 ? length - 1 : start + limitCount - 1;
  if (start >= length) {
    start = length - 1;
    end = length - 2;
  }
  if (end >= length) end = length - 1;
  const items = new Array<Item>();
  if (src != null) collect(src, dontSort, start, end, items);
  if (dontSort && src != null && src.type != TYPE_SET) { // taken in order, already limited
    end -= start;
    start = 0;
  }
  if (!dontSort) {
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      let vp = it.p, vn = it.n;
      if (by != 0) {
        if (!lookupByPattern(by, it.p, it.n)) continue;
        vp = foundP;
        vn = foundN;
      }
      if (alpha) {
        if (by != 0) {
          it.byP = vp;
          it.byN = vn;
          it.hasBy = true;
        }
      } else {
        // strtod's parse, refusing trailing bytes, NaN and ERANGE (a finite text past the double's range).
        const v = parseDouble(vp, vn, true) ? parsedDouble : NaN;
        if (isNaN(v) || (!parsedInfinity && (!isFinite(v) || (v == 0 && sigLen > 0)))) {
          return replyError("One or more scores can't be converted into double");
        }
        it.score = v;
      }
    }
    items.sort(compareItems);
  }
  const count = end >= start ? end - start + 1 : 0;
  const outLen = gets.length > 0 ? count * gets.length : count;
  if (store == 0) {
    replyArray(outLen);
    for (let k = start; k <= end; k++) {
      const it = items[<i32>k];
      if (gets.length == 0) replyBulk(it.p, it.n);
      for (let g = 0; g < gets.length; g++) {
        if (lookupByPattern(gets[g], it.p, it.n)) replyBulk(foundP, foundN);
        else replyNil();
      }
    }
    return;
  }
  // STORE: the values first (the destination may be the source, and it goes now), then the list.
  const values = new ByteBuf();
  for (let k = start; k <= end; k++) {
    const it = items[<i32>k];
    if (gets.length == 0) putValue(values, it.p, it.n);
    for (let g = 0; g < gets.length; g++) {
      if (lookupByPattern(gets[g], it.p, it.n)) putValue(values, foundP, foundN);
      else putValue(values, 0, 0);
    }
  }
  if (values.failed) {
    values.free();
    return replyOom();
  }
  const old = lookup(store);
  if (old != null) db.remove(old);
  if (outLen > 0) {
    lookup(store); // a miss now: addList makes the key
    const made = db.addList(ap(store), al(store));
    let ok = made != null;
    for (let at: u32 = 0; ok && at < values.len; ) {
      const n = load<u32>(values.ptr + at);
      ok = pushBack(listOf(changetype<Rec>(made)), values.ptr + at + 4, n);
      at += 4 + n;
    }
    if (!ok) {
      if (made != null) db.remove(made);
      values.free();
      return replyOom();
    }
  }
  values.free();
  replyInt(outLen);
}

function putValue(b: ByteBuf, p: usize, n: u32): void {
  b.putU32(n);
  if (n > 0) b.put(p, n);
}

/** The elements of `src` into `items`: all of them, or with `dontSort` a list's or zset's range in its order. */
function collect(src: Rec, dontSort: bool, start: i64, end: i64, items: Array<Item>): void {
  if (src.type == TYPE_LIST) {
    const l = listOf(src);
    if (dontSort) {
      for (let k = start; k <= end; k++) {
        const item = itemAt(l, <u32>(desc ? <i64>l.length - 1 - k : k));
        items.push(new Item(itemData(item), itemLen(item)));
      }
      return;
    }
    for (let i: u32 = 0; i < l.length; i++) {
      const item = itemAt(l, i);
      items.push(new Item(itemData(item), itemLen(item)));
    }
    return;
  }
  if (src.type == TYPE_ZSET && dontSort) {
    const z = zsetOf(src);
    if (end < start) return;
    let node = desc ? (start > 0 ? zslAtRank(z, <u32>(<i64>z.length - start)) : z.tail) : (start > 0 ? zslAtRank(z, <u32>start + 1) : zslFirst(z));
    for (let k = start; k <= end && node != 0; k++) {
      const m = nodeMember(node);
      items.push(new Item(keyPtr(m), m.keyLen));
      node = desc ? nodeBackward(node) : nodeNext(node);
    }
    return;
  }
  const t = hashOf(src); // a set's or a zset's members
  const slots = slotCount(t);
  for (let i: u32 = 0; i < slots; i++) {
    const m = at(t, i);
    if (m != null) items.push(new Item(keyPtr(m), m.keyLen));
  }
}
