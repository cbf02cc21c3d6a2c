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

/** Makes `l` an empty list; false, `l` unusable, when memory is out. */
export function initList(l: List): bool {
  l.items = zalloc(<usize>MIN_ITEMS << 2);
  l.cap = MIN_ITEMS;
  l.head = 0;
  l.length = 0;
  return l.items != 0;
}

// @ts-ignore: decorator
@inline export function itemLen(item: usize): u32 {
  return load<u32>(item);
}

// @ts-ignore: decorator
@inline export function itemData(item: usize): usize {
  return item + 4;
}

/** An item with room for `n` bytes (left as they are); 0 when memory is out. */
export function allocItem(n: u32): usize {
  const item = zalloc(4 + <usize>n);
  if (item != 0) store<u32>(item, n);
  return item;
}

function newItem(p: usize, n: u32): usize {
  const item = allocItem(n);
  if (item != 0) copyMemory(item + 4, p, n);
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

/** Pushes a copy of the `n` bytes at `p` at the head; false, the list unchanged, when memory is out. */
export function pushFront(l: List, p: usize, n: u32): bool {
  if (!grow(l)) return false;
  const item = newItem(p, n);
  if (item == 0) return false;
  return unshiftItem(l, item);
}

/** Pushes a copy of the `n` bytes at `p` at the tail; false, the list unchanged, when memory is out. */
export function pushBack(l: List, p: usize, n: u32): bool {
  if (!grow(l)) return false;
  const item = newItem(p, n);
  if (item == 0) return false;
  pushItem(l, item);
  return true;
}

/** Puts an item made by allocItem at the head; the list owns it from then on. False, the list unchanged, when memory is out. */
export function unshiftItem(l: List, item: usize): bool {
  if (!grow(l)) return false;
  l.head = (l.head - 1) & (l.cap - 1);
  store<u32>(l.items + (<usize>l.head << 2), item);
  l.length++;
  return true;
}

/** Appends an item made by allocItem; the list owns it from then on. False, the list unchanged, when memory is out. */
export function pushItem(l: List, item: usize): bool {
  if (!grow(l)) return false;
  store<u32>(cell(l, l.length), item);
  l.length++;
  return true;
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

/** Puts `item` at index i (i < length) and returns the item it replaces, for the caller to free. */
export function replaceAt(l: List, i: u32, item: usize): usize {
  const old = itemAt(l, i);
  store<u32>(cell(l, i), item);
  return old;
}

/** Inserts an item made by allocItem at index i (i <= length), moving the rest back; false, unchanged, when memory is out. */
export function insertAt(l: List, i: u32, item: usize): bool {
  if (!grow(l)) return false;
  for (let j = l.length; j > i; j--) store<u32>(cell(l, j), itemAt(l, j - 1));
  store<u32>(cell(l, i), item);
  l.length++;
  return true;
}

/** Frees the items at indexes [from, to) (from <= to <= length), closing the gap. */
export function removeRange(l: List, from: u32, to: u32): void {
  const gone = to - from;
  if (gone == 0) return;
  for (let i = from; i < to; i++) zfree(itemAt(l, i));
  if (from == 0) l.head = (l.head + gone) & (l.cap - 1); // the usual LTRIM: no move
  else for (let i = to; i < l.length; i++) store<u32>(cell(l, i - gone), itemAt(l, i));
  l.length -= gone;
  shrink(l);
}

/**
 * Frees the items for which `drop[i]` is true (a bitmap over the indexes, from the caller), keeping
 * the others in order.
 */
export function removeMarked(l: List, drop: usize): void {
  let kept: u32 = 0;
  for (let i: u32 = 0; i < l.length; i++) {
    const item = itemAt(l, i);
    if ((load<u8>(drop + (i >> 3)) >> (i & 7)) & 1) zfree(item);
    else store<u32>(cell(l, kept++), item);
  }
  l.length = kept;
  shrink(l);
}

/** Frees every item and the ring. */
export function freeList(l: List): void {
  for (let i: u32 = 0; i < l.length; i++) zfree(itemAt(l, i));
  zfree(l.items);
  l.items = 0;
  l.length = 0;
}

/** Room for one more item; false when the ring is full and memory is out. */
function grow(l: List): bool {
  if (l.length < l.cap) return true;
  return relocate(l, l.cap << 1);
}

function shrink(l: List): void {
  if (l.cap > MIN_ITEMS && l.length < l.cap >> 2) relocate(l, l.cap >> 1);
}

function relocate(l: List, cap: u32): bool {
  const fresh = zalloc(<usize>cap << 2);
  if (fresh == 0) return false;
  for (let i: u32 = 0; i < l.length; i++) store<u32>(fresh + (<usize>i << 2), itemAt(l, i));
  zfree(l.items);
  l.items = fresh;
  l.cap = cap;
  l.head = 0;
  return true;
}
