// A sorted set's value: a Table of its members (records: the member as key, the score as an 8-byte
// f64 value), which answers ZSCORE and membership, then a skiplist (Pugh 1990, as Redis's t_zset.c
// keeps it: spans for ranks, a backward pointer at level 0) ordering the members by score, then by
// member bytes, which answers ranges and ranks. The Table comes first, so that a zset is a table of
// records to the code that walks every type with one (snapshots, freeing, memory accounting).
//
// A node is an unmanaged block:
//    0  f64 score      a copy of the member's score (comparisons read the node, not the record)
//    8  u32 member     the member's record in the Table
//   12  u32 backward   the previous node at level 0 (0 for the first)
//   16  u32 levels
//   20  u32 (padding)
//   24  per level: u32 forward, u32 span (the nodes the link skips, +1)
import { Rec, keyPtr, valPtr } from "./record";
import { nextRandom } from "./random";
import { TABLE_HEADER, Table, initTable } from "./table";
import { zalloc, zfree, zusable } from "./zmalloc";

const MAX_LEVEL: u32 = 32; // ZSKIPLIST_MAXLEVEL
const NODE_HEADER: usize = 24;

@unmanaged
export class Zset {
  // the Table (table.ts), inline
  slots: usize;
  mask: u32;
  count: u32;
  // the skiplist
  head: usize;
  tail: usize;
  level: u32;
  /** Nodes in the list: the table's count but while a set is built (a union collects its members, then links them). */
  length: u32;
}

export const ZSET_HEADER: u32 = <u32>offsetof<Zset>();

// @ts-ignore: decorator
@inline export function membersOf(z: Zset): Table {
  return changetype<Table>(z);
}

// Node fields.
// @ts-ignore: decorator
@inline export function nodeScore(n: usize): f64 {
  return load<f64>(n);
}
// @ts-ignore: decorator
@inline export function nodeMember(n: usize): Rec {
  return changetype<Rec>(<usize>load<u32>(n, 8));
}
// @ts-ignore: decorator
@inline export function nodeBackward(n: usize): usize {
  return <usize>load<u32>(n, 12);
}
// @ts-ignore: decorator
@inline function forward(n: usize, i: u32): usize {
  return <usize>load<u32>(n + NODE_HEADER + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function span(n: usize, i: u32): u32 {
  return load<u32>(n + NODE_HEADER + (<usize>i << 3), 4);
}
// @ts-ignore: decorator
@inline function setForward(n: usize, i: u32, to: usize): void {
  store<u32>(n + NODE_HEADER + (<usize>i << 3), <u32>to);
}
// @ts-ignore: decorator
@inline function setSpan(n: usize, i: u32, s: u32): void {
  store<u32>(n + NODE_HEADER + (<usize>i << 3), s, 4);
}

/** The node after `n` at level 0 (0 after the last). */
// @ts-ignore: decorator
@inline export function nodeNext(n: usize): usize {
  return forward(n, 0);
}

/** A member record's score. */
// @ts-ignore: decorator
@inline export function scoreOf(member: Rec): f64 {
  return load<f64>(valPtr(member));
}

function newNode(levels: u32, score: f64, member: usize): usize {
  const p = zalloc(NODE_HEADER + (<usize>levels << 3));
  if (p == 0) return 0;
  store<f64>(p, score);
  store<u32>(p, <u32>member, 8);
  store<u32>(p, 0, 12);
  store<u32>(p, levels, 16);
  for (let i: u32 = 0; i < levels; i++) {
    setForward(p, i, 0);
    setSpan(p, i, 0);
  }
  return p;
}

/** Makes `z` an empty sorted set (its header's memory is the caller's); false when memory is out. */
export function initZset(z: Zset): bool {
  z.head = 0;
  if (!initTable(membersOf(z))) return false;
  const head = newNode(MAX_LEVEL, 0, 0);
  if (head == 0) {
    zfree(z.slots);
    return false;
  }
  z.head = head;
  z.tail = 0;
  z.level = 1;
  z.length = 0;
  return true;
}

/** Frees the skiplist's nodes (not the member records or the table). */
export function freeNodes(z: Zset): void {
  let n = z.head;
  while (n != 0) {
    const next = nodeNext(n);
    zfree(n);
    n = next;
  }
  z.head = 0;
}

/** The bytes the skiplist's nodes hold (for memory accounting). */
export function nodeBytes(z: Zset): u64 {
  let total: u64 = 0;
  for (let n = z.head; n != 0; n = nodeNext(n)) total += zusable(n);
  return total;
}

/** Compares (score a, member a) with (score b, member b): < 0, 0, > 0. */
function compare(sa: f64, a: Rec, sb: f64, b: Rec): i32 {
  if (sa < sb) return -1;
  if (sa > sb) return 1;
  return compareBytes(keyPtr(a), a.keyLen, keyPtr(b), b.keyLen);
}

/** memcmp order, then the shorter first (Redis's sdscmp). */
export function compareBytes(a: usize, an: u32, b: usize, bn: u32): i32 {
  const n = min(an, bn);
  for (let i: u32 = 0; i < n; i++) {
    const x = load<u8>(a + i), y = load<u8>(b + i);
    if (x != y) return <i32>x - <i32>y;
  }
  return <i32>an - <i32>bn;
}

function randomLevel(): u32 {
  // ZSKIPLIST_P = 1/4: each further level with probability 1/4.
  let level: u32 = 1;
  while (level < MAX_LEVEL && (nextRandom() & 0xffff) < 0x4000) level++;
  return level;
}

// Scratch for insert and delete: the rightmost node before the position at each level, and its rank.
const update = new StaticArray<u32>(MAX_LEVEL);
const rank = new StaticArray<u32>(MAX_LEVEL);

/** Inserts `member` (not in the list) at `score`; false when memory is out. */
export function zslInsert(z: Zset, score: f64, member: Rec): bool {
  const node = newNode(randomLevel(), score, changetype<usize>(member));
  if (node == 0) return false;
  link(z, node);
  return true;
}

/** Links `node` (its score and member set) where its order puts it. */
function link(z: Zset, node: usize): void {
  const score = nodeScore(node);
  const member = nodeMember(node);
  let x = z.head;
  for (let i = <i32>z.level - 1; i >= 0; i--) {
    unchecked((rank[i] = i == <i32>z.level - 1 ? 0 : rank[i + 1]));
    let f = forward(x, i);
    while (f != 0 && compare(nodeScore(f), nodeMember(f), score, member) < 0) {
      unchecked((rank[i] += span(x, i)));
      x = f;
      f = forward(x, i);
    }
    unchecked((update[i] = <u32>x));
  }
  // One loop over every level either list has (new head levels, linked levels, levels the node
  // is under): each loop's fixed bases pin pages under the MMU, and one loop pins the fewest.
  const level = load<u32>(node, 16);
  const had = z.level;
  const head = z.head;
  const top = max(level, had);
  for (let i: u32 = 0; i < top; i++) {
    if (i >= had) { // a level the list had not reached: its link is the head's
      unchecked((rank[i] = 0));
      unchecked((update[i] = <u32>head));
      setSpan(head, i, z.length);
    }
    const u = <usize>unchecked(update[i]);
    if (i < level) {
      setForward(node, i, forward(u, i));
      setForward(u, i, node);
      const before = unchecked(rank[0]) - unchecked(rank[i]);
      setSpan(node, i, span(u, i) - before);
      setSpan(u, i, before + 1);
    } else {
      setSpan(u, i, span(u, i) + 1);
    }
  }
  if (level > had) z.level = level;
  const back = <usize>unchecked(update[0]);
  store<u32>(node, back == z.head ? 0 : <u32>back, 12);
  const next = forward(node, 0);
  if (next != 0) store<u32>(next, <u32>node, 12);
  else z.tail = node;
  z.length++;
}

/** Finds the node of `member` at `score` (which must be in the list), `update` set for unlinking it. */
function locate(z: Zset, score: f64, member: Rec): usize {
  let x = z.head;
  for (let i = <i32>z.level - 1; i >= 0; i--) {
    let f = forward(x, i);
    while (f != 0 && compare(nodeScore(f), nodeMember(f), score, member) < 0) {
      x = f;
      f = forward(x, i);
    }
    unchecked((update[i] = <u32>x));
  }
  const node = forward(x, 0);
  assert(node != 0 && nodeMember(node) === member, "zset member not in its skiplist");
  return node;
}

/**
 * Moves `member` from `score` to `to`: in place when its neighbours keep it in order, else relinked
 * (the same node: nothing is allocated, so this cannot fail). The member record's score is the
 * caller's to set.
 */
export function zslUpdateScore(z: Zset, score: f64, member: Rec, to: f64): void {
  const node = locate(z, score, member);
  const back = nodeBackward(node);
  const next = forward(node, 0);
  if ((back == 0 || nodeScore(back) < to) && (next == 0 || nodeScore(next) > to)) {
    store<f64>(node, to);
    return;
  }
  unlink(z, node);
  store<f64>(node, to);
  link(z, node);
}

/** Unlinks the node of `member` at `score` (which must be in the list) and frees it. */
export function zslDelete(z: Zset, score: f64, member: Rec): void {
  const node = locate(z, score, member);
  unlink(z, node);
  zfree(node);
}

function unlink(z: Zset, node: usize): void {
  for (let i: u32 = 0; i < z.level; i++) {
    const u = <usize>unchecked(update[i]);
    if (forward(u, i) == node) {
      setSpan(u, i, span(u, i) + span(node, i) - 1);
      setForward(u, i, forward(node, i));
    } else {
      setSpan(u, i, span(u, i) - 1);
    }
  }
  const next = forward(node, 0);
  if (next != 0) store<u32>(next, load<u32>(node, 12), 12);
  else z.tail = nodeBackward(node);
  while (z.level > 1 && forward(z.head, z.level - 1) == 0) z.level--;
  z.length--;
}

/** The 1-based rank of `member` at `score` (which must be in the list). */
export function zslRank(z: Zset, score: f64, member: Rec): u32 {
  let r: u32 = 0;
  let x = z.head;
  for (let i = <i32>z.level - 1; i >= 0; i--) {
    let f = forward(x, i);
    while (f != 0 && compare(nodeScore(f), nodeMember(f), score, member) <= 0) {
      r += span(x, i);
      x = f;
      f = forward(x, i);
    }
    if (x != z.head && nodeMember(x) === member) return r;
  }
  return 0;
}

/** The node at 1-based rank `r` (1 <= r <= count). */
export function zslAtRank(z: Zset, r: u32): usize {
  let traversed: u32 = 0;
  let x = z.head;
  for (let i = <i32>z.level - 1; i >= 0; i--) {
    let f = forward(x, i);
    while (f != 0 && traversed + span(x, i) <= r) {
      traversed += span(x, i);
      x = f;
      f = forward(x, i);
    }
    if (traversed == r) return x;
  }
  return 0;
}

/** The first node of the list (0 when empty). */
// @ts-ignore: decorator
@inline export function zslFirst(z: Zset): usize {
  return forward(z.head, 0);
}

/**
 * The last node of the prefix of the list for which `holds(node)` is true (`holds` must be true
 * for a prefix and false after it), or the head when it holds for none: a range's bounds are the
 * node after the prefix of those below it, and the last of those within it.
 */
export function zslLastWhile(z: Zset, holds: (n: usize) => bool): usize {
  let x = z.head;
  for (let i = <i32>z.level - 1; i >= 0; i--) {
    let f = forward(x, i);
    while (f != 0 && holds(f)) {
      x = f;
      f = forward(x, i);
    }
  }
  return x;
}

// A Zset begins with a Table: the layouts must agree.
assert(offsetof<Zset>("slots") == offsetof<Table>("slots") && offsetof<Zset>("count") == offsetof<Table>("count"));
assert(offsetof<Zset>("head") == TABLE_HEADER);
