// The integrity cache of a tree over untrusted memory: the verified nodes kept on chip, shared by
// both integrity schemes (merkle-tree.ts, counter-tree.ts). The tree's nodes live in a NodeStore the
// hypervisor can tamper with; each parent holds a digest of each child (a hash, or a MAC), and the
// top node's digest is the root, on chip. What the cache guarantees:
//   - a node enters the cache only after its digest matched its parent's (or the root's), and a
//     digest of all zeroes stands for a child never written, whose bytes must be all zeroes;
//   - the cache is inclusive: a cached node's parent is cached too, so a fetch walks up only to the
//     first cached node and verifies downwards from it;
//   - updates are lazy: a changed node is only marked dirty; it is written to the store, and its
//     digest put into its (cached) parent, when the clock evicts it (a node with cached children is
//     never a victim) or on flush(). The top node's digest goes to the root.
// A node is hashed with a 16-byte header in front, level u64 | index in level u64 (little-endian),
// so that a node copied elsewhere in the store (relocation) does not verify.
import { IntegrityViolation } from "./integrity-violation";
import type { NodeStore } from "./node-store";
import { EnclavisorError } from "./enclavisor-error";
import { NodeIndex } from "./node-index";

export const NODE_HEADER_BYTES = 16;
export const MAX_CACHE_NODES = 2 ** 20;

export interface NodeCacheStats {
  /** Nodes read from the store and checked against their parent (or the root). */
  nodesVerified: number;
  /** Node lookups served by the cache, and those that went to the store. */
  cacheHits: number;
  cacheMisses: number;
  /** Dirty nodes written to the store (on eviction or flush). */
  nodeWriteBacks: number;
}

export interface NodeCacheOptions {
  /** Nodes on each level, from the leaves (level 0) up to the single top node. */
  levelNodes: readonly number[];
  /** Children per inner node. */
  arity: number;
  /** Bytes of every node in the store. */
  nodeBytes: number;
  /** Bytes of the digest a parent holds for each child (and the root for the top node). */
  digestBytes: number;
  cacheNodes: number;
  store: NodeStore;
  /** The digest of a node, given header and node bytes as one array; at least digestBytes long. */
  digest(headerAndNode: Uint8Array): Uint8Array;
}

/** The check a node at `level` fails: its name in IntegrityViolation. */
export function checkName(level: number): string {
  return level === 0 ? "leaf" : `node level ${level}`;
}

export function putU64(buf: Uint8Array, at: number, v: number): void {
  const lo = v >>> 0;
  const hi = Math.floor(v / 2 ** 32) >>> 0;
  buf[at] = lo & 0xff;
  buf[at + 1] = (lo >>> 8) & 0xff;
  buf[at + 2] = (lo >>> 16) & 0xff;
  buf[at + 3] = lo >>> 24;
  buf[at + 4] = hi & 0xff;
  buf[at + 5] = (hi >>> 8) & 0xff;
  buf[at + 6] = (hi >>> 16) & 0xff;
  buf[at + 7] = hi >>> 24;
}

export function getU64(buf: Uint8Array, at: number): number {
  const lo = (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
  const hi = (buf[at + 4]! | (buf[at + 5]! << 8) | (buf[at + 6]! << 16) | (buf[at + 7]! << 24)) >>> 0;
  return hi * 2 ** 32 + lo;
}

export function equalAt(digest: Uint8Array, buf: Uint8Array, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (digest[i] !== buf[at + i]) return false;
  return true;
}

export class NodeCache {
  readonly levels: number;
  readonly cacheNodes: number;
  readonly arity: number;
  readonly nodeBytes: number;
  readonly digestBytes: number;
  readonly stats: NodeCacheStats = { nodesVerified: 0, cacheHits: 0, cacheMisses: 0, nodeWriteBacks: 0 };

  readonly #store: NodeStore;
  readonly #digest: (headerAndNode: Uint8Array) => Uint8Array;
  /** Store index of each level's first node; levels are laid out bottom-up. */
  readonly #levelBase: number[] = [];
  /** Trusted: the digest of the top node (zeroes while it was never written back). */
  readonly #root: Uint8Array;

  // A pool of `cacheNodes` slots, each header + node (what is digested).
  readonly #index: NodeIndex;
  readonly #slot: Uint8Array[] = [];
  readonly #slotNode: Uint8Array[] = [];
  readonly #id: Float64Array;
  readonly #level: Int32Array;
  readonly #nodeIndex: Float64Array;
  readonly #dirty: Uint8Array;
  readonly #referenced: Uint8Array;
  /** Cached children of each slot: a node with any is not evictable (the cache is inclusive). */
  readonly #children: Int32Array;
  #used = 0;
  #hand = 0;
  /** A node on its way from the store: verified here before it enters the cache. */
  readonly #scratch: Uint8Array;
  readonly #scratchNode: Uint8Array;
  /** What a node never written holds. */
  readonly #zeroNode: Uint8Array;

  constructor(opts: NodeCacheOptions) {
    let base = 0;
    for (const n of opts.levelNodes) {
      this.#levelBase.push(base);
      base += n;
    }
    this.levels = opts.levelNodes.length;
    this.arity = opts.arity;
    this.nodeBytes = opts.nodeBytes;
    this.digestBytes = opts.digestBytes;
    const cacheNodes = opts.cacheNodes;
    // A fetch holds one whole path in the cache, so the cache must fit one.
    if (!Number.isInteger(cacheNodes) || cacheNodes < this.levels || cacheNodes > MAX_CACHE_NODES) {
      throw new RangeError(`integrity cache must hold an integer number of nodes in ${this.levels}..${MAX_CACHE_NODES} ` +
        `(at least one path of this ${this.levels}-level tree), got ${String(cacheNodes)}`);
    }
    this.cacheNodes = cacheNodes;
    this.#store = opts.store;
    this.#digest = opts.digest;
    this.#root = new Uint8Array(this.digestBytes);

    const slotBytes = NODE_HEADER_BYTES + this.nodeBytes;
    const pool = new Uint8Array(cacheNodes * slotBytes);
    for (let s = 0; s < cacheNodes; s++) {
      this.#slot.push(pool.subarray(s * slotBytes, (s + 1) * slotBytes));
      this.#slotNode.push(pool.subarray(s * slotBytes + NODE_HEADER_BYTES, (s + 1) * slotBytes));
    }
    this.#index = new NodeIndex(cacheNodes);
    this.#id = new Float64Array(cacheNodes).fill(-1);
    this.#level = new Int32Array(cacheNodes);
    this.#nodeIndex = new Float64Array(cacheNodes);
    this.#dirty = new Uint8Array(cacheNodes);
    this.#referenced = new Uint8Array(cacheNodes);
    this.#children = new Int32Array(cacheNodes);
    this.#scratch = new Uint8Array(slotBytes);
    this.#scratchNode = this.#scratch.subarray(NODE_HEADER_BYTES);
    this.#zeroNode = new Uint8Array(this.nodeBytes);
  }

  /** Nodes in the store: every level's nodes, bottom-up. */
  get storeNodes(): number {
    return this.#levelBase[this.levels - 1]! + 1;
  }

  /** Nodes in the cache now (never more than cacheNodes). */
  get cachedNodes(): number {
    return this.#index.size;
  }

  /** Store index of node `index` of `level`. */
  storeIndex(level: number, index: number): number {
    return this.#levelBase[level]! + index;
  }

  /** Store index of the node at `level` on the path up from leaf node `leaf` (level 0: the leaf itself). */
  pathIndex(leaf: number, level: number): number {
    if (!Number.isInteger(level) || level < 0 || level >= this.levels) {
      throw new RangeError(`tree level must be an integer in 0..${this.levels - 1}, got ${String(level)}`);
    }
    let index = leaf;
    for (let l = 0; l < level; l++) index = Math.floor(index / this.arity);
    return this.storeIndex(level, index);
  }

  /** The cached node of a slot (without its header): read and change it, then markDirty. */
  node(slot: number): Uint8Array {
    return this.#slotNode[slot]!;
  }

  markDirty(slot: number): void {
    this.#dirty[slot] = 1;
  }

  /**
   * The cache slot of node (level, index), verified from the store on a miss; `gpa` names the page
   * whose access needs it, for the IntegrityViolation of a node that does not verify.
   */
  fetch(level: number, index: number, gpa: number): number {
    const id = this.#levelBase[level]! + index;
    const cached = this.#index.get(id);
    if (cached >= 0) {
      this.stats.cacheHits++;
      this.#referenced[cached] = 1;
      return cached;
    }
    this.stats.cacheMisses++;
    const top = level === this.levels - 1;
    const parent = top ? -1 : this.fetch(level + 1, Math.floor(index / this.arity), gpa);
    const node = this.#scratch;
    putU64(node, 0, level);
    putU64(node, 8, index);
    this.#store.read(id, this.#scratchNode);
    this.stats.nodesVerified++;
    const expected = top ? this.#root : this.#slot[parent]!;
    const at = top ? 0 : NODE_HEADER_BYTES + (index % this.arity) * this.digestBytes;
    if (!this.#matches(expected, at)) {
      throw new IntegrityViolation(gpa, checkName(level), top ? "the top node does not match the root" : `the node does not match its parent at level ${level + 1}`);
    }
    if (!top) this.#children[parent]!++; // the parent stays while its child is cached
    let slot: number;
    try {
      slot = this.#freeSlot();
    } catch (e) {
      if (!top) this.#children[parent]!--; // a store that failed a write-back: the child stays out
      throw e;
    }
    this.#slot[slot]!.set(node);
    this.#id[slot] = id;
    this.#level[slot] = level;
    this.#nodeIndex[slot] = index;
    this.#dirty[slot] = 0;
    this.#referenced[slot] = 1;
    this.#children[slot] = 0;
    this.#index.set(id, slot);
    return slot;
  }

  /** Writes every dirty cached node back, children before parents, so the store matches the root. */
  flush(): void {
    for (let level = 0; level < this.levels; level++) {
      for (let s = 0; s < this.#used; s++) {
        if (this.#id[s]! >= 0 && this.#level[s] === level && this.#dirty[s]) this.#writeBack(s, this.#parentSlot(s));
      }
    }
  }

  /** flush(), then empties the cache: the next access verifies its path from the root. */
  evictAll(): void {
    this.flush();
    this.#index.clear();
    this.#id.fill(-1);
    this.#children.fill(0);
    this.#referenced.fill(0);
    this.#used = 0;
    this.#hand = 0;
  }

  /** Whether the scratch node matches the digest at expected[at..]: all zeroes stand for a node never written. */
  #matches(expected: Uint8Array, at: number): boolean {
    let written = false;
    for (let i = 0; i < this.digestBytes; i++) {
      if (expected[at + i] !== 0) {
        written = true;
        break;
      }
    }
    if (!written) return equalAt(this.#zeroNode, this.#scratchNode, 0, this.nodeBytes);
    return equalAt(this.#digest(this.#scratch), expected, at, this.digestBytes);
  }

  /** A free slot, evicting by clock when the cache is full; nodes with cached children are skipped. */
  #freeSlot(): number {
    const cap = this.cacheNodes;
    if (this.#used < cap) return this.#used++;
    // Two sweeps clear every reference bit; an evictable node always exists when cap >= levels
    // (a full cache of one chain would be a whole path).
    for (let scanned = 0; scanned < 2 * cap + 1; scanned++) {
      const s = this.#hand;
      this.#hand = s + 1 === cap ? 0 : s + 1;
      if (this.#children[s]! > 0) continue;
      if (this.#referenced[s]) {
        this.#referenced[s] = 0;
        continue;
      }
      const parent = this.#parentSlot(s);
      if (this.#dirty[s]) this.#writeBack(s, parent);
      if (parent >= 0) this.#children[parent]!--;
      this.#index.delete(this.#id[s]!);
      this.#id[s] = -1;
      return s;
    }
    throw new EnclavisorError("integrity cache has no evictable node (internal error)");
  }

  /** The slot of a cached node's parent (cached, as the cache is inclusive), or -1 for the top node. */
  #parentSlot(s: number): number {
    const level = this.#level[s]!;
    if (level === this.levels - 1) return -1;
    const parent = this.#index.get(this.#levelBase[level + 1]! + Math.floor(this.#nodeIndex[s]! / this.arity));
    if (parent < 0) throw new EnclavisorError("integrity cache lost a parent of a cached node (internal error)");
    return parent;
  }

  /** Writes a dirty node to the store and its digest into its parent (or the root). */
  #writeBack(s: number, parent: number): void {
    const digest = this.#digest(this.#slot[s]!).subarray(0, this.digestBytes);
    this.#store.write(this.#id[s]!, this.#slotNode[s]!);
    this.stats.nodeWriteBacks++;
    if (parent < 0) this.#root.set(digest);
    else {
      this.#slot[parent]!.set(digest, NODE_HEADER_BYTES + (this.#nodeIndex[s]! % this.arity) * this.digestBytes);
      this.#dirty[parent] = 1;
    }
    this.#dirty[s] = 0;
  }
}
