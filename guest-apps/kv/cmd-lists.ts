// List commands (Redis t_list.c): LPUSH, RPUSH, LPOP, RPOP, LLEN, LRANGE.
import { copyBytes, parsedInt } from "./bytes";
import { al, ap, argInt, argc, lookup } from "./args";
import { notInteger, wrongArity } from "./errors";
import {
  replyArray, replyBulkBuf, replyEmptyArray, replyError, replyInt, replyNil, replyNullArray, replyWrongType,
} from "./reply";
import { db } from "./server-state";
import { Deque, TYPE_LIST } from "./store";

export function push(front: bool): void {
  let e = lookup(1);
  if (e != null && e.type != TYPE_LIST) return replyWrongType();
  if (e == null) {
    e = db.addMissing(ap(1), al(1));
    e.type = TYPE_LIST;
    e.str = null;
    e.list = new Deque();
  }
  const list = changetype<Deque>(e.list);
  for (let i: u32 = 2; i < argc; i++) {
    const v = copyBytes(ap(i), al(i));
    if (front) list.pushFront(v);
    else list.pushBack(v);
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
  const list = changetype<Deque>(e.list);
  if (!hasCount) {
    replyBulkBuf(front ? list.popFront() : list.popBack());
  } else {
    const n = min<i64>(count, list.length);
    replyArray(n);
    for (let i: i64 = 0; i < n; i++) replyBulkBuf(front ? list.popFront() : list.popBack());
  }
  if (list.length == 0) db.remove(e);
}

export function llen(): void {
  const e = lookup(1);
  if (e == null) replyInt(0);
  else if (e.type != TYPE_LIST) replyWrongType();
  else replyInt(changetype<Deque>(e.list).length);
}

export function lrange(): void {
  if (!argInt(2)) return notInteger();
  let start = parsedInt;
  if (!argInt(3)) return notInteger();
  let stop = parsedInt;
  const e = lookup(1);
  if (e == null) return replyEmptyArray();
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = changetype<Deque>(e.list);
  const len = <i64>list.length;
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return replyEmptyArray();
  if (stop >= len) stop = len - 1;
  replyArray(stop - start + 1);
  for (let i = start; i <= stop; i++) replyBulkBuf(list.at(<u32>i));
}
