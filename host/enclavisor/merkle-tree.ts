// The Merkle integrity tree of one VM over its guest-physical frames, with its integrity cache
// (docs/architecture.md, "The path of one memory access", step 4d), after the tree of SGX's
// memory encryption engine (Gueron, "A Memory Encryption Engine Suitable for General Purpose
// Processors", 2016).
//
// Trusted (on chip; plain fields of this object): the root digest, the integrity cache of
// verified nodes, and a per-tree secret salt. Untrusted (a NodeStore the hypervisor can tamper
// with): every node, the leaf metadata included. Layout, all little-endian:
//   leaf node (level 0): recordsPerLeafNode records of (version u64, leaf digest), one per GPA;
//     leaf digest = H(salt | gpa u64 | version u64 | page): it binds the GPA, the page and its
//     version, and the salt keeps the untrusted copy from being an oracle for guessed plaintext;
//     version 0 means never written, and such a page must be all zeroes.
//   inner node (level >= 1): `arity` child digests.
//   node digest = H(level u32 | 0 u32 | index in level u64 | node bytes): the header binds the
//     node's place, so a node copied elsewhere in the store (relocation) does not verify.
// A digest of all zeroes in a parent (or root) stands for a child never written: its bytes must be
// all zeroes. So a fresh tree needs no initialisation and the store holds only nodes written back.
//
// The cache is inclusive: a cached node's parent is cached too, so a fill walks up only to the
// first cached node and verifies downwards from it. Updates are lazy: a leaf update only dirties
// the cached leaf node; a dirty node is written to the store, and its digest put into its
// (cached) parent, only when the clock evicts it (a node with cached children is never a victim)
// or on flush(). The top node's digest goes to the root.
//
// Defaults, measured by `npm run bench -- integrity --full` (bench/integrity.ts; Node 20.20, 2-core
// AMD EPYC, loaded): random fills and write-backs over 262144 pages of a 2^20-frame tree, every
// tree given the same 256 KiB cache, medians of 15 rounds. One fill plus one write-back cost, in us:
//   SHA-256 at arity 2 / 8 / 16 / 32 / 64 / 128: 112.7 / 32.6 / 26.0 / 23.8 / 22.7 / 23.8;
//   best arity of SHA-512/256 33.2, BLAKE2b-512 36.8, BLAKE2s-256 42.7.
// SHA-256 hashes a 4 KiB page in 3.9 us (SHA extensions) against 5.7-9.5 us for the others. Arities
// 32 to 128 are within noise of each other (a shorter run put 32 first); 64 led both long runs.
import { hash as cryptoHash, randomBytes } from "node:crypto";
import { checkPage, hexFrame, MAX_FRAME } from "../sev/page";
import { PAGE_SIZE } from "../page";
import { IntegrityViolation } from "./integrity-violation";
import type { NodeStore } from "./node-store";
import { EnclavisorError } from "./enclavisor-error";

/** Sound hashes node:crypto computes fast; each digest is used whole. */
export const TREE_HASHES = ["sha256", "sha512-256", "blake2s256", "blake2b512"] as const;
export type TreeHash = (typeof TREE_HASHES)[number];
const DIGEST_BYTES: Readonly<Record<TreeHash, number>> = { sha256: 32, "sha512-256": 32, blake2s256: 32, blake2b512: 64 };

export const DEFAULT_TREE_HASH: TreeHash = "sha256";
/** Children per inner node: 64 SHA-256 digests make a 2 KiB node (see the measurements above). */
export const DEFAULT_ARITY = 64;
/** Verified nodes kept on chip when the caller does not say: 256 KiB of default nodes. */
export const DEFAULT_CACHE_NODES = 128;
export const MAX_ARITY = 128;
export const MAX_CACHE_NODES = 2 ** 20;

const HEADER_BYTES = 16;
const VERSION_BYTES = 8;
const SALT_BYTES = 32;
/** salt | gpa u64 | version u64, in front of the page in the leaf digest's input. */
const LEAF_PREFIX = SALT_BYTES + 16;
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export interface IntegrityTreeOptions {
  /** Number of leaves: GPA frames 0..frames-1 of the VM. */
  frames: number;
  /** Children per inner node (default DEFAULT_ARITY). */
  arity?: number;
  /** Bounded integrity cache of verified nodes, trusted (default DEFAULT_CACHE_NODES). */
  cacheNodes?: number;
  hash?: TreeHash;
  store: NodeStore;
}

export interface IntegrityStats {
  /** Nodes read from the store and checked against their parent (or the root). */
  nodesVerified: number;
  /** Node lookups served by the integrity cache, and those that went to the store. */
  cacheHits: number;
  cacheMisses: number;
  /** Dirty nodes written to the store (on eviction or flush). */
  nodeWriteBacks: number;
  /** Pages recorded by updatePage. */
  leafUpdates: number;
}

function putU64(buf: Uint8Array, at: number, v: number): void {
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

function getU64(buf: Uint8Array, at: number): number {
  const lo = (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
  const hi = (buf[at + 4]! | (buf[at + 5]! << 8) | (buf[at + 6]! << 16) | (buf[at + 7]! << 24)) >>> 0;
  return hi * 2 ** 32 + lo;
}

function checkArity(arity: number): void {
  if (!Number.isInteger(arity) || arity < 2 || arity > MAX_ARITY) {
    throw new RangeError(`integrity tree arity must be an integer in 2..${MAX_ARITY}, got ${String(arity)}`);
  }
}

function checkHash(name: string): asserts name is TreeHash {
  if (!(TREE_HASHES as readonly string[]).includes(name)) {
    throw new RangeError(`integrity tree hash must be one of ${TREE_HASHES.join(", ")}, got '${String(name)}'`);
  }
}

/** The check a node at `level` fails: its name in IntegrityViolation. */
function checkName(level: number): string {
  return level === 0 ? "leaf" : `node level ${level}`;
}

export class IntegrityTree {
  /** Node size for the given arity and hash (what the NodeStore must be built with). */
  static nodeBytesFor(opts: { arity?: number; hash?: TreeHash } = {}): number {
    const arity = opts.arity ?? DEFAULT_ARITY;
    const name = opts.hash ?? DEFAULT_TREE_HASH;
    checkArity(arity);
    checkHash(name);
    return arity * DIGEST_BYTES[name];
  }

  /** Node size of a tree with the default arity and hash. */
  static readonly nodeBytes: number = IntegrityTree.nodeBytesFor();

  readonly frames: number;
  readonly arity: number;
  readonly hash: TreeHash;
  readonly digestBytes: number;
  readonly nodeBytes: number;
  /** Bytes of one leaf record (version and leaf digest), and how many fit in a leaf node. */
  readonly recordBytes: number;
  readonly recordsPerLeafNode: number;
  /** Levels from the leaf nodes (0) to the single top node (levels - 1). */
  readonly levels: number;
  readonly cacheNodes: number;
  readonly stats: IntegrityStats = { nodesVerified: 0, cacheHits: 0, cacheMisses: 0, nodeWriteBacks: 0, leafUpdates: 0 };

  readonly #store: NodeStore;
  /** Store index of each level's first node; levels are laid out bottom-up. */
  readonly #levelBase: number[] = [];
  /** Trusted: the digest of the top node (zeroes while it was never written back). */
  readonly #root: Uint8Array;
  /** Trusted, secret: keeps leaf digests in untrusted memory from confirming guessed pages. */
  readonly #leafInput: Uint8Array;

  // The integrity cache: a pool of `cacheNodes` slots, each header + node (what is hashed).
  readonly #map = new Map<number, number>();
  readonly #slot: Uint8Array[] = [];
  readonly #slotNode: Uint8Array[] = [];
  readonly #id: Float64Array;
  readonly #level: Int32Array;
  readonly #index: Float64Array;
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

  constructor(opts: IntegrityTreeOptions) {
    if (typeof opts !== "object" || opts === null) throw new TypeError("IntegrityTree needs an options object");
    const { frames, store } = opts;
    if (!Number.isInteger(frames) || frames < 1 || frames > MAX_FRAME + 1) {
      throw new RangeError(`integrity tree frames must be an integer in 1..2^40, got ${String(frames)}`);
    }
    this.arity = opts.arity ?? DEFAULT_ARITY;
    this.hash = opts.hash ?? DEFAULT_TREE_HASH;
    this.nodeBytes = IntegrityTree.nodeBytesFor({ arity: this.arity, hash: this.hash });
    if (typeof store !== "object" || store === null || typeof store.read !== "function" || typeof store.write !== "function") {
      throw new TypeError("integrity tree needs a NodeStore (read, write, nodeBytes)");
    }
    if (store.nodeBytes !== this.nodeBytes) {
      throw new RangeError(`node store holds ${store.nodeBytes}-byte nodes, but arity ${this.arity} with ${this.hash} needs ${this.nodeBytes}`);
    }
    this.frames = frames;
    this.digestBytes = DIGEST_BYTES[this.hash];
    this.recordBytes = VERSION_BYTES + this.digestBytes;
    this.recordsPerLeafNode = Math.floor(this.nodeBytes / this.recordBytes);
    let nodes = Math.ceil(frames / this.recordsPerLeafNode);
    let base = 0;
    for (;;) {
      this.#levelBase.push(base);
      base += nodes;
      if (nodes === 1) break;
      nodes = Math.ceil(nodes / this.arity);
    }
    this.levels = this.#levelBase.length;

    const cacheNodes = opts.cacheNodes ?? DEFAULT_CACHE_NODES;
    // A fill holds one whole path in the cache, so the cache must fit one.
    if (!Number.isInteger(cacheNodes) || cacheNodes < this.levels || cacheNodes > MAX_CACHE_NODES) {
      throw new RangeError(`integrity cache must hold an integer number of nodes in ${this.levels}..${MAX_CACHE_NODES} ` +
        `(at least one path of this ${this.levels}-level tree), got ${String(cacheNodes)}`);
    }
    this.cacheNodes = cacheNodes;
    this.#store = store;
    this.#root = new Uint8Array(this.digestBytes);
    this.#leafInput = new Uint8Array(LEAF_PREFIX + PAGE_SIZE);
    this.#leafInput.set(randomBytes(SALT_BYTES));

    const slotBytes = HEADER_BYTES + this.nodeBytes;
    const pool = new Uint8Array(cacheNodes * slotBytes);
    for (let s = 0; s < cacheNodes; s++) {
      this.#slot.push(pool.subarray(s * slotBytes, (s + 1) * slotBytes));
      this.#slotNode.push(pool.subarray(s * slotBytes + HEADER_BYTES, (s + 1) * slotBytes));
    }
    this.#id = new Float64Array(cacheNodes).fill(-1);
    this.#level = new Int32Array(cacheNodes);
    this.#index = new Float64Array(cacheNodes);
    this.#dirty = new Uint8Array(cacheNodes);
    this.#referenced = new Uint8Array(cacheNodes);
    this.#children = new Int32Array(cacheNodes);
    this.#scratch = new Uint8Array(slotBytes);
    this.#scratchNode = this.#scratch.subarray(HEADER_BYTES);
    this.#zeroNode = new Uint8Array(this.nodeBytes);
  }

  /** Nodes in the store: every level's nodes, bottom-up. */
  get storeNodes(): number {
    return this.#levelBase[this.levels - 1]! + 1;
  }

  /** Nodes in the integrity cache now (never more than cacheNodes). */
  get cachedNodes(): number {
    return this.#map.size;
  }

  /** Store index of the node at `level` on the path of `gpa` (0: its leaf node). */
  nodeIndexOf(gpa: number, level = 0): number {
    this.#checkGpa(gpa);
    if (!Number.isInteger(level) || level < 0 || level >= this.levels) {
      throw new RangeError(`tree level must be an integer in 0..${this.levels - 1}, got ${String(level)}`);
    }
    let index = Math.floor(gpa / this.recordsPerLeafNode);
    for (let l = 0; l < level; l++) index = Math.floor(index / this.arity);
    return this.#levelBase[level]! + index;
  }

  /**
   * Fill path: the plaintext just decrypted for `gpa` must match its leaf (GPA, version, page); the
   * path is verified up to the first cached node or the root. A page never written must be zeroes.
   */
  verifyPage(gpa: number, plaintext: Uint8Array): void {
    this.#checkGpa(gpa);
    checkPage(plaintext, "page to verify");
    const slot = this.#fetch(0, Math.floor(gpa / this.recordsPerLeafNode), gpa);
    const leaf = this.#slot[slot]!;
    const at = HEADER_BYTES + (gpa % this.recordsPerLeafNode) * this.recordBytes;
    const version = getU64(leaf, at);
    if (version === 0) {
      if (Buffer.compare(plaintext, ZERO_PAGE) !== 0) throw new IntegrityViolation(gpa, "page hash", "a page never written back must be zeroes");
      return;
    }
    const digest = this.#leafDigest(gpa, version, plaintext);
    if (!equalAt(digest, leaf, at + VERSION_BYTES, this.digestBytes)) {
      throw new IntegrityViolation(gpa, "page hash", `the page does not match version ${version} of its leaf`);
    }
  }

  /** Write-back path: records a new version of the page; the tree above it is updated lazily. */
  updatePage(gpa: number, plaintext: Uint8Array): void {
    this.#checkGpa(gpa);
    checkPage(plaintext, "page to record");
    const slot = this.#fetch(0, Math.floor(gpa / this.recordsPerLeafNode), gpa);
    const leaf = this.#slot[slot]!;
    const at = HEADER_BYTES + (gpa % this.recordsPerLeafNode) * this.recordBytes;
    const version = getU64(leaf, at) + 1;
    const digest = this.#leafDigest(gpa, version, plaintext);
    putU64(leaf, at, version);
    leaf.set(digest, at + VERSION_BYTES);
    this.#dirty[slot] = 1;
    this.stats.leafUpdates++;
  }

  /** Writes every dirty cached node back, children before parents, so the store matches the root. */
  flush(): void {
    for (let level = 0; level < this.levels; level++) {
      for (let s = 0; s < this.#used; s++) {
        if (this.#id[s]! >= 0 && this.#level[s] === level && this.#dirty[s]) this.#writeBack(s, this.#parentSlot(s));
      }
    }
  }

  /** flush(), then empties the integrity cache: the next access verifies its path from the root. */
  evictAll(): void {
    this.flush();
    this.#map.clear();
    this.#id.fill(-1);
    this.#children.fill(0);
    this.#referenced.fill(0);
    this.#used = 0;
    this.#hand = 0;
  }

  /** The cache slot of node (level, index), verified from the store on a miss. */
  #fetch(level: number, index: number, gpa: number): number {
    const id = this.#levelBase[level]! + index;
    const cached = this.#map.get(id);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      this.#referenced[cached] = 1;
      return cached;
    }
    this.stats.cacheMisses++;
    const top = level === this.levels - 1;
    const parent = top ? -1 : this.#fetch(level + 1, Math.floor(index / this.arity), gpa);
    const node = this.#scratch;
    putU64(node, 0, level);
    putU64(node, 8, index);
    this.#store.read(id, this.#scratchNode);
    this.stats.nodesVerified++;
    const expected = top ? this.#root : this.#slot[parent]!;
    const at = top ? 0 : HEADER_BYTES + (index % this.arity) * this.digestBytes;
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
    this.#index[slot] = index;
    this.#dirty[slot] = 0;
    this.#referenced[slot] = 1;
    this.#children[slot] = 0;
    this.#map.set(id, slot);
    return slot;
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
    if (!written) return Buffer.compare(this.#scratchNode, this.#zeroNode) === 0;
    return equalAt(cryptoHash(this.hash, this.#scratch, "buffer"), expected, at, this.digestBytes);
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
      this.#map.delete(this.#id[s]!);
      this.#id[s] = -1;
      return s;
    }
    throw new EnclavisorError("integrity cache has no evictable node (internal error)");
  }

  /** The slot of a cached node's parent (cached, as the cache is inclusive), or -1 for the top node. */
  #parentSlot(s: number): number {
    const level = this.#level[s]!;
    if (level === this.levels - 1) return -1;
    const parent = this.#map.get(this.#levelBase[level + 1]! + Math.floor(this.#index[s]! / this.arity));
    if (parent === undefined) throw new EnclavisorError("integrity cache lost a parent of a cached node (internal error)");
    return parent;
  }

  /** Writes a dirty node to the store and its digest into its parent (or the root). */
  #writeBack(s: number, parent: number): void {
    const digest = cryptoHash(this.hash, this.#slot[s]!, "buffer");
    this.#store.write(this.#id[s]!, this.#slotNode[s]!);
    this.stats.nodeWriteBacks++;
    if (parent < 0) this.#root.set(digest);
    else {
      this.#slot[parent]!.set(digest, HEADER_BYTES + (this.#index[s]! % this.arity) * this.digestBytes);
      this.#dirty[parent] = 1;
    }
    this.#dirty[s] = 0;
  }

  /** H(salt | gpa | version | page); the copy of the page is scrubbed at once. */
  #leafDigest(gpa: number, version: number, plaintext: Uint8Array): Buffer {
    const input = this.#leafInput;
    putU64(input, SALT_BYTES, gpa);
    putU64(input, SALT_BYTES + 8, version);
    input.set(plaintext, LEAF_PREFIX);
    const digest = cryptoHash(this.hash, input, "buffer");
    input.fill(0, LEAF_PREFIX);
    return digest;
  }

  #checkGpa(gpa: number): void {
    if (!Number.isInteger(gpa) || gpa < 0 || gpa >= this.frames) {
      throw new RangeError(`GPA must be an integer frame number in 0..${hexFrame(this.frames - 1)} (the tree's frames), got ${typeof gpa === "number" ? String(gpa) : typeof gpa}`);
    }
  }
}

function equalAt(digest: Uint8Array, buf: Uint8Array, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (digest[i] !== buf[at + i]) return false;
  return true;
}
