// A list value: a ring buffer of item addresses, O(1) at both ends, all unmanaged. The header sits
// inline in the list's record (record.ts); each item is a block of its own, a u32 length then the
// bytes.
import { copyMemory } from "./bytes";
import { zalloc, zfree } from "./zmalloc";

@unmanaged
export class List {
  items: usize;
  cap: u32;
  head: u32;
  length: u32;
}

export const LIST_HEADER: u32 = <u32>offsetof<List>();
const MIN_ITEMS: u32 = 8;

export function initList(l: List): void {
  l.items = zalloc(<usize>MIN_ITEMS << 2);
  l.cap = MIN_ITEMS;
  l.head = 0;
  l.length = 0;
}

// @ts-ignore: decorator
@inline export function itemLen(item: usize): u32 {
  return load<u32>(item);
}

// @ts-ignore: decorator
@inline export function itemData(item: usize): usize {
  return item + 4;
}

/** An item with room for `n` bytes (left as they are). */
export function allocItem(n: u32): usize {
  const item = zalloc(4 + <usize>n);
  store<u32>(item, n);
  return item;
}

function newItem(p: usize, n: u32): usize {
  const item = allocItem(n);
  copyMemory(item + 4, p, n);
  return item;
}

export function freeItem(item: usize): void {
  zfree(item);
}

// @ts-ignore: decorator
@inline function cell(l: List, i: u32): usize {
  return l.items + (<usize>((l.head + i) & (l.cap - 1)) << 2);
}

/** The i-th item (i < length). */
export function itemAt(l: List, i: u32): usize {
  return load<u32>(cell(l, i));
}

export function pushFront(l: List, p: usize, n: u32): void {
  grow(l);
  l.head = (l.head - 1) & (l.cap - 1);
  store<u32>(l.items + (<usize>l.head << 2), newItem(p, n));
  l.length++;
}

export function pushBack(l: List, p: usize, n: u32): void {
  pushItem(l, newItem(p, n));
}

/** Appends an item made by allocItem; the list owns it from then on. */
export function pushItem(l: List, item: usize): void {
  grow(l);
  store<u32>(cell(l, l.length), item);
  l.length++;
}

/** Takes the first item out (length > 0); the caller frees it with freeItem. */
export function popFront(l: List): usize {
  const item = itemAt(l, 0);
  l.head = (l.head + 1) & (l.cap - 1);
  l.length--;
  shrink(l);
  return item;
}

/** Takes the last item out (length > 0); the caller frees it with freeItem. */
export function popBack(l: List): usize {
  const item = itemAt(l, l.length - 1);
  l.length--;
  shrink(l);
  return item;
}

/** Frees every item and the ring. */
export function freeList(l: List): void {
  for (let i: u32 = 0; i < l.length; i++) zfree(itemAt(l, i));
  zfree(l.items);
  l.items = 0;
  l.length = 0;
}

function grow(l: List): void {
  if (l.length < l.cap) return;
  relocate(l, l.cap << 1);
}

function shrink(l: List): void {
  if (l.cap > MIN_ITEMS && l.length < l.cap >> 2) relocate(l, l.cap >> 1);
}

function relocate(l: List, cap: u32): void {
  const fresh = zalloc(<usize>cap << 2);
  for (let i: u32 = 0; i < l.length; i++) store<u32>(fresh + (<usize>i << 2), itemAt(l, i));
  zfree(l.items);
  l.items = fresh;
  l.cap = cap;
  l.head = 0;
}
