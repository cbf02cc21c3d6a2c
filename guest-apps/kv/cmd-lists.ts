// List commands (Redis t_list.c): LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LMPOP, LLEN, LRANGE,
// LINDEX, LPOS, LSET, LTRIM, LREM, LINSERT, LMOVE, RPOPLPUSH, and the blocking BLPOP, BRPOP, BLMPOP,
// BLMOVE, BRPOPLPUSH. A blocking command with data replies as its plain form does; without, it
// replies nothing and returns the deadline it would block until (commands.ts blocks the client, or
// answers at once where it may not block: inside EXEC, replaying the log).
import { copyMemory, parsedInt } from "./bytes";
import { al, ap, argInt, argIs, argc, lookup } from "./args";
import { notInteger, syntaxError, wrongArity } from "./errors";
import {
  replyArray, replyBulk, replyEmptyArray, replyError, replyInt, replyNil, replyNullArray, replyOk, replyOom, replyWrongType,
} from "./reply";
import { argBytes, roomFor } from "./cmd-strings";
import { db } from "./server-state";
import {
  List, allocItem, freeItem, insertAt, itemAt, itemData, itemLen, popBack, popFront, pushBack, pushFront, pushItem, removeMarked,
  removeRange, replaceAt, unshiftItem,
} from "./list";
import { zalloc, zfree } from "./zmalloc";
import { snapshotWillChange } from "./snapshot-writer";
import { Rec, TYPE_LIST, listOf } from "./store";
import { NONE_READY, REPLIED, numkeysEnd, readyKey, readyRec, retrying, timeoutArg } from "./blocking";

/** Replies with an item taken out of its list, and frees it. */
function replyTaken(item: usize): void {
  replyBulk(itemData(item), itemLen(item));
  freeItem(item);
}

/** LPUSH, RPUSH, and with `onlyIfExists` LPUSHX, RPUSHX (which never make the key). */
export function push(front: bool, onlyIfExists: bool = false): void {
  let e = lookup(1);
  if (e != null && e.type != TYPE_LIST) return replyWrongType();
  if (e == null && onlyIfExists) return replyInt(0);
  if (!roomFor(argBytes(2), argc - 2)) return replyOom();
  if (e == null) e = db.addList(ap(1), al(1));
  else snapshotWillChange(e);
  if (e == null) return replyOom();
  const list = listOf(e);
  for (let i: u32 = 2; i < argc; i++) {
    if (!(front ? pushFront(list, ap(i), al(i)) : pushBack(list, ap(i), al(i)))) { // rare: the check above said there was room
      if (list.length == 0) db.remove(e);
      return replyOom();
    }
  }
  replyInt(list.length);
}

export function pop(front: bool, name: string): void {
  if (argc > 3) return wrongArity(name);
  let count: i64 = 1;
  const hasCount = argc == 3;
  if (hasCount) {
    if (!argInt(2) || parsedInt < 0) return replyError("value is out of range, must be positive");
    count = parsedInt;
  }
  const e = lookup(1);
  if (e == null) return hasCount ? replyNullArray() : replyNil();
  if (e.type != TYPE_LIST) return replyWrongType();
  snapshotWillChange(e);
  const list = listOf(e);
  if (!hasCount) {
    replyTaken(front ? popFront(list) : popBack(list));
  } else {
    const n = min<i64>(count, list.length);
    replyArray(n);
    for (let i: i64 = 0; i < n; i++) replyTaken(front ? popFront(list) : popBack(list));
  }
  if (list.length == 0) db.remove(e);
}

export function llen(): void {
  const e = lookup(1);
  if (e == null) replyInt(0);
  else if (e.type != TYPE_LIST) replyWrongType();
  else replyInt(listOf(e).length);
}

export function lrange(): void {
  if (!argInt(2)) return notInteger();
  let start = parsedInt;
  if (!argInt(3)) return notInteger();
  let stop = parsedInt;
  const e = lookup(1);
  if (e == null) return replyEmptyArray();
  if (e.type != TYPE_LIST) return replyWrongType();
  const list: List = listOf(e);
  const len = <i64>list.length;
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return replyEmptyArray();
  if (stop >= len) stop = len - 1;
  replyArray(stop - start + 1);
  for (let i = start; i <= stop; i++) {
    const item = itemAt(list, <u32>i);
    replyBulk(itemData(item), itemLen(item));
  }
}

/** The list of key argument 1 for a read: null with nothing replied if there is none, null with WRONGTYPE replied if it is not a list. */
let wrongType = false;
function listForRead(): List | null {
  wrongType = false;
  const e = lookup(1);
  if (e == null) return null;
  if (e.type != TYPE_LIST) {
    wrongType = true;
    replyWrongType();
    return null;
  }
  return listOf(e);
}

/** An index from argument `i`, counted from the end when negative; -1 if out of [0, len). */
function indexIn(len: u32, i: i64): i64 {
  if (i < 0) i += <i64>len;
  return i < 0 || i >= <i64>len ? -1 : i;
}

export function lindex(): void {
  if (!argInt(2)) return notInteger();
  const at = parsedInt;
  const list = listForRead();
  if (list == null) {
    if (!wrongType) replyNil();
    return;
  }
  const i = indexIn(list.length, at);
  if (i < 0) return replyNil();
  const item = itemAt(list, <u32>i);
  replyBulk(itemData(item), itemLen(item));
}

export function lset(): void {
  if (!argInt(2)) return notInteger();
  const at = parsedInt;
  const e = lookup(1);
  if (e == null) return replyError("no such key");
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = listOf(e);
  const i = indexIn(list.length, at);
  if (i < 0) return replyError("index out of range");
  const item = allocItem(al(3));
  if (item == 0) return replyOom();
  copyMemory(itemData(item), ap(3), al(3));
  snapshotWillChange(e);
  freeItem(replaceAt(list, <u32>i, item));
  replyOk();
}

export function ltrim(): void {
  if (!argInt(2)) return notInteger();
  let start = parsedInt;
  if (!argInt(3)) return notInteger();
  let stop = parsedInt;
  const e = lookup(1);
  if (e == null) return replyOk();
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = listOf(e);
  const len = <i64>list.length;
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  let keepFrom: i64 = 0, keepTo: i64 = 0; // [keepFrom, keepTo)
  if (!(start > stop || start >= len)) {
    if (stop >= len) stop = len - 1;
    keepFrom = start;
    keepTo = stop + 1;
  }
  if (keepFrom > 0 || keepTo < len) {
    snapshotWillChange(e);
    removeRange(list, <u32>keepTo, <u32>len);
    removeRange(list, 0, <u32>keepFrom);
  }
  if (list.length == 0) db.remove(e);
  replyOk();
}

/** Does item `item` hold the bytes of argument `a`? */
function itemIs(item: usize, a: u32): bool {
  return itemLen(item) == al(a) && memory.compare(itemData(item), ap(a), al(a)) == 0;
}

/** LREM key count element: removes the first `count` matches from the head (from the tail if negative, all if 0). */
export function lrem(): void {
  if (!argInt(2)) return notInteger();
  const count = parsedInt;
  const e = lookup(1);
  if (e == null) return replyInt(0);
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = listOf(e);
  const len = list.length;
  const marks = zalloc((<usize>len + 7) >> 3);
  if (marks == 0) return replyOom();
  memory.fill(marks, 0, (<usize>len + 7) >> 3);
  const limit: u64 = count == 0 ? u64.MAX_VALUE : <u64>(count < 0 ? -count : count);
  let removed: u64 = 0;
  for (let k: u32 = 0; k < len && removed < limit; k++) {
    const i = count < 0 ? len - 1 - k : k;
    if (!itemIs(itemAt(list, i), 3)) continue;
    store<u8>(marks + (i >> 3), <u32>load<u8>(marks + (i >> 3)) | (<u32>1 << (i & 7)));
    removed++;
  }
  if (removed > 0) {
    snapshotWillChange(e);
    removeMarked(list, marks);
  }
  zfree(marks);
  if (list.length == 0) db.remove(e);
  replyInt(<i64>removed);
}

/** LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without the key. */
export function linsert(): void {
  let after = false;
  if (argIs(2, "after")) after = true;
  else if (!argIs(2, "before")) return syntaxError();
  const e = lookup(1);
  if (e == null) return replyInt(0);
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = listOf(e);
  let at: i64 = -1;
  for (let i: u32 = 0; i < list.length; i++) {
    if (itemIs(itemAt(list, i), 3)) {
      at = i;
      break;
    }
  }
  if (at < 0) return replyInt(-1);
  const item = allocItem(al(4));
  if (item == 0) return replyOom();
  copyMemory(itemData(item), ap(4), al(4));
  snapshotWillChange(e);
  if (!insertAt(list, <u32>(after ? at + 1 : at), item)) {
    freeItem(item);
    return replyOom();
  }
  replyInt(list.length);
}

/** Argument `i` as LEFT (1) or RIGHT (0); -1, the syntax error replied, if neither. */
function side(i: u32): i32 {
  if (argIs(i, "left")) return 1;
  if (argIs(i, "right")) return 0;
  syntaxError();
  return -1;
}

/** LMOVE source destination LEFT|RIGHT LEFT|RIGHT, and RPOPLPUSH (RIGHT LEFT): the element moved. */
export function lmove(fromLeft: bool, toLeft: bool): void {
  if (argc == 5) {
    const from = side(3);
    if (from < 0) return;
    const to = side(4);
    if (to < 0) return;
    fromLeft = from == 1;
    toLeft = to == 1;
  }
  const src = lookup(1);
  if (src == null) return replyNil();
  if (src.type != TYPE_LIST) return replyWrongType();
  moveFrom(src, fromLeft, toLeft);
}

/** Moves an item of the non-empty list `src` (key argument 1) to key argument 2's list, replying with it. */
function moveFrom(src: Rec, fromLeft: bool, toLeft: bool): void {
  let dst = lookup(2);
  if (dst != null && dst.type != TYPE_LIST) return replyWrongType();
  if (dst == null) {
    dst = db.addList(ap(2), al(2)); // the last lookup found nothing for it
    if (dst == null) return replyOom();
  } else {
    snapshotWillChange(dst);
  }
  snapshotWillChange(src);
  const from = listOf(src);
  const to = listOf(dst);
  const item = fromLeft ? popFront(from) : popBack(from);
  const pushed = toLeft ? unshiftItem(to, item) : pushItem(to, item);
  if (!pushed) {
    // Memory is out: the item goes back where it was taken from (the room it left is still there).
    if (fromLeft) unshiftItem(from, item);
    else pushItem(from, item);
    if (to.length == 0) db.remove(dst);
    return replyOom();
  }
  replyBulk(itemData(item), itemLen(item));
  if (from.length == 0) db.remove(src);
}

/** Pops `count` items (at most its length) from the front or back of key argument `k`'s list, replying [key, item] or [key, [items]]. */
function popReply(e: Rec, k: u32, front: bool, count: i64, asArray: bool): void {
  snapshotWillChange(e);
  const list = listOf(e);
  replyArray(2);
  replyBulk(ap(k), al(k));
  if (asArray) {
    const n = min<i64>(count, list.length);
    replyArray(n);
    for (let i: i64 = 0; i < n; i++) replyTaken(front ? popFront(list) : popBack(list));
  } else {
    replyTaken(front ? popFront(list) : popBack(list));
  }
  if (list.length == 0) db.remove(e);
}

/** BLPOP and BRPOP key [key ...] timeout. */
export function bpop(front: bool): i64 {
  const deadline = timeoutArg(argc - 1);
  if (deadline == REPLIED) return REPLIED;
  const k = readyKey(1, argc - 1, TYPE_LIST);
  if (k == NONE_READY) return deadline;
  if (k >= 0) popReply(changetype<Rec>(readyRec), k, front, 1, false);
  return REPLIED;
}

/** BRPOPLPUSH source destination timeout, and BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout. */
export function blmove(fromLeft: bool, toLeft: bool): i64 {
  if (argc == 6) {
    const from = side(3);
    if (from < 0) return REPLIED;
    const to = side(4);
    if (to < 0) return REPLIED;
    fromLeft = from == 1;
    toLeft = to == 1;
  }
  const deadline = timeoutArg(argc - 1);
  if (deadline == REPLIED) return REPLIED;
  const src = lookup(1);
  if (src == null || (retrying && src.type != TYPE_LIST)) return deadline;
  if (src.type != TYPE_LIST) {
    replyWrongType();
    return REPLIED;
  }
  moveFrom(src, fromLeft, toLeft);
  return REPLIED;
}

/**
 * LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] (`first` = 1), and BLMPOP timeout numkeys ...
 * (`first` = 2): [key, [items]] from the first non-empty list; LMPOP answers a null array without one.
 */
export function lmpop(first: u32): i64 {
  let deadline: i64 = REPLIED;
  if (first == 2) {
    deadline = timeoutArg(1);
    if (deadline == REPLIED) return REPLIED;
  }
  const end = numkeysEnd(first);
  if (end < 0) return REPLIED;
  const where = <u32>end;
  const front = side(where);
  if (front < 0) return REPLIED;
  let count: i64 = 1;
  let j = where + 1;
  if (j < argc) {
    if (j + 2 != argc || !argIs(j, "count")) {
      syntaxError();
      return REPLIED;
    }
    if (!argInt(j + 1) || parsedInt <= 0) {
      replyError("count should be greater than 0");
      return REPLIED;
    }
    count = parsedInt;
  }
  const k = readyKey(first + 1, where, TYPE_LIST);
  if (k >= 0) popReply(changetype<Rec>(readyRec), k, front == 1, count, true);
  if (k != NONE_READY) return REPLIED;
  if (first == 1) {
    replyNullArray();
    return REPLIED;
  }
  return deadline;
}

/** LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] (t_list.c lposCommand). */
export function lpos(): void {
  let rank: i64 = 1, count: i64 = -1, maxlen: i64 = 0;
  for (let j: u32 = 3; j < argc; j++) {
    const more = j + 1 < argc;
    if (argIs(j, "rank") && more) {
      j++;
      if (!argInt(j)) return notInteger();
      rank = parsedInt; // i64's minimum stays negative when negated, as in Redis: the first match from the tail
      if (rank == 0) {
        return replyError("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
      }
    } else if (argIs(j, "count") && more) {
      j++;
      if (!argInt(j) || parsedInt < 0) return replyError("COUNT can't be negative");
      count = parsedInt;
    } else if (argIs(j, "maxlen") && more) {
      j++;
      if (!argInt(j) || parsedInt < 0) return replyError("MAXLEN can't be negative");
      maxlen = parsedInt;
    } else {
      return syntaxError();
    }
  }
  const fromTail = rank < 0;
  if (fromTail) rank = -rank;
  const e = lookup(1);
  if (e == null) return count != -1 ? replyEmptyArray() : replyNil();
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = listOf(e);
  const len = <i64>list.length;
  const p = ap(2), n = al(2);
  const found = new Array<i64>();
  let matches: i64 = 0;
  for (let index: i64 = 0; index < len && (maxlen == 0 || index < maxlen); index++) {
    const at = fromTail ? len - index - 1 : index;
    const item = itemAt(list, <u32>at);
    if (itemLen(item) != n || memory.compare(itemData(item), p, n) != 0) continue;
    matches++;
    if (matches < rank) continue;
    found.push(at);
    if (count == -1 || (count != 0 && matches - rank + 1 >= count)) break;
  }
  if (count == -1) return found.length > 0 ? replyInt(found[0]) : replyNil();
  replyArray(found.length);
  for (let i = 0; i < found.length; i++) replyInt(found[i]);
}
