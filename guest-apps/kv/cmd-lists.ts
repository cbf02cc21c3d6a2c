// List commands (Redis t_list.c): LPUSH, RPUSH, LPOP, RPOP, LLEN, LRANGE.
import { parsedInt } from "./bytes";
import { al, ap, argInt, argc, lookup } from "./args";
import { notInteger, wrongArity } from "./errors";
import {
  replyArray, replyBulk, replyEmptyArray, replyError, replyInt, replyNil, replyNullArray, replyOom, replyWrongType,
} from "./reply";
import { argBytes, roomFor } from "./cmd-strings";
import { db } from "./server-state";
import { List, freeItem, itemAt, itemData, itemLen, popBack, popFront, pushBack, pushFront } from "./list";
import { snapshotWillChange } from "./snapshot-writer";
import { TYPE_LIST, listOf } from "./store";

/** Replies with an item taken out of its list, and frees it. */
function replyTaken(item: usize): void {
  replyBulk(itemData(item), itemLen(item));
  freeItem(item);
}

export function push(front: bool): void {
  let e = lookup(1);
  if (e != null && e.type != TYPE_LIST) return replyWrongType();
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
