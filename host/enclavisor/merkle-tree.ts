// The Merkle integrity scheme: a tree of SHA-256 digests over one VM's guest-physical frames, after
// the tree of SGX's memory encryption engine (Gueron, "A Memory Encryption Engine Suitable for
// General Purpose Processors", 2016) with hashes for MACs. It is the second scheme, kept so that
// benchmarks and attacks compare it with the counter tree (counter-tree.ts), the default.
//
// Trusted (on chip): the root digest and the cache of verified nodes (node-cache.ts), and a
// per-tree secret salt. Untrusted (a NodeStore the hypervisor can tamper with): every node, the leaf
// metadata included. Layout, all little-endian:
//   leaf node (level 0): recordsPerLeafNode records of (version u64, leaf digest), one per GPA;
//     leaf digest = H(salt | gpa u64 | version u64 | page): it binds the GPA, the page and its
//     version, and the salt keeps the untrusted copy from being an oracle for guessed plaintext;
//     version 0 means never written, and such a page must be all zeroes.
//   inner node (level >= 1): `arity` child digests.
//   node digest = H(level u64 | index in level u64 | node bytes) (node-cache.ts).
// A digest of all zeroes in a parent (or root) stands for a child never written: its bytes must be
// all zeroes. So a fresh tree needs no initialisation and the store holds only nodes written back.
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
import type { IntegrityScheme, IntegrityStats } from "./integrity-scheme";
import { IntegrityViolation } from "./integrity-violation";
import { equalAt, getU64, NodeCache, putU64 } from "./node-cache";
import type { NodeStore } from "./node-store";

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

const VERSION_BYTES = 8;
const SALT_BYTES = 32;
/** salt | gpa u64 | version u64, in front of the page in the leaf digest's input. */
const LEAF_PREFIX = SALT_BYTES + 16;
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export interface MerkleTreeOptions {
  /** Number of leaves: GPA frames 0..frames-1 of the VM. */
  frames: number;
  /** Children per inner node (default DEFAULT_ARITY). */
  arity?: number;
  /** Bounded integrity cache of verified nodes, trusted (default DEFAULT_CACHE_NODES). */
  cacheNodes?: number;
  hash?: TreeHash;
  store: NodeStore;
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

export class MerkleTree implements IntegrityScheme {
  /** Node size for the given arity and hash (what the NodeStore must be built with). */
  static nodeBytesFor(opts: { arity?: number; hash?: TreeHash } = {}): number {
    const arity = opts.arity ?? DEFAULT_ARITY;
    const name = opts.hash ?? DEFAULT_TREE_HASH;
    checkArity(arity);
    checkHash(name);
    return arity * DIGEST_BYTES[name];
  }

  /** Node size of a tree with the default arity and hash. */
  static readonly nodeBytes: number = MerkleTree.nodeBytesFor();

  readonly scheme = "merkle";
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
  readonly stats: IntegrityStats;

  readonly #cache: NodeCache;
  /** Trusted, secret: keeps leaf digests in untrusted memory from confirming guessed pages. */
  readonly #leafInput: Uint8Array;

  constructor(opts: MerkleTreeOptions) {
    if (typeof opts !== "object" || opts === null) throw new TypeError("MerkleTree needs an options object");
    const { frames, store } = opts;
    if (!Number.isInteger(frames) || frames < 1 || frames > MAX_FRAME + 1) {
      throw new RangeError(`integrity tree frames must be an integer in 1..2^40, got ${String(frames)}`);
    }
    this.arity = opts.arity ?? DEFAULT_ARITY;
    this.hash = opts.hash ?? DEFAULT_TREE_HASH;
    this.nodeBytes = MerkleTree.nodeBytesFor({ arity: this.arity, hash: this.hash });
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
    const levelNodes: number[] = [];
    for (let nodes = Math.ceil(frames / this.recordsPerLeafNode); ; nodes = Math.ceil(nodes / this.arity)) {
      levelNodes.push(nodes);
      if (nodes === 1) break;
    }
    const hash = this.hash;
    this.#cache = new NodeCache({
      levelNodes,
      arity: this.arity,
      nodeBytes: this.nodeBytes,
      digestBytes: this.digestBytes,
      cacheNodes: opts.cacheNodes ?? DEFAULT_CACHE_NODES,
      store,
      digest: (headerAndNode) => cryptoHash(hash, headerAndNode, "buffer"),
    });
    this.levels = this.#cache.levels;
    this.cacheNodes = this.#cache.cacheNodes;
    this.stats = Object.assign(this.#cache.stats, { leafUpdates: 0 });
    this.#leafInput = new Uint8Array(LEAF_PREFIX + PAGE_SIZE);
    this.#leafInput.set(randomBytes(SALT_BYTES));
  }

  get pagesPerLeaf(): number {
    return this.recordsPerLeafNode;
  }

  /** The first byte of the page's record in its leaf: its version's lowest byte. */
  versionByteOf(gpa: number): number {
    this.#checkGpa(gpa);
    return (gpa % this.recordsPerLeafNode) * this.recordBytes;
  }

  /** Nodes in the store: every level's nodes, bottom-up. */
  get storeNodes(): number {
    return this.#cache.storeNodes;
  }

  /** Nodes in the integrity cache now (never more than cacheNodes). */
  get cachedNodes(): number {
    return this.#cache.cachedNodes;
  }

  /** Store index of the node at `level` on the path of `gpa` (0: its leaf node). */
  nodeIndexOf(gpa: number, level = 0): number {
    this.#checkGpa(gpa);
    return this.#cache.pathIndex(Math.floor(gpa / this.recordsPerLeafNode), level);
  }

  verifyPage(gpa: number, plaintext: Uint8Array): void {
    this.#checkGpa(gpa);
    checkPage(plaintext, "page to verify");
    const leaf = this.#cache.node(this.#cache.fetch(0, Math.floor(gpa / this.recordsPerLeafNode), gpa));
    const at = (gpa % this.recordsPerLeafNode) * this.recordBytes;
    const version = getU64(leaf, at);
    if (version === 0) {
      if (!equalAt(ZERO_PAGE, plaintext, 0, PAGE_SIZE)) throw new IntegrityViolation(gpa, "page hash", "a page never written back must be zeroes");
      return;
    }
    const digest = this.#leafDigest(gpa, version, plaintext);
    if (!equalAt(digest, leaf, at + VERSION_BYTES, this.digestBytes)) {
      throw new IntegrityViolation(gpa, "page hash", `the page does not match version ${version} of its leaf`);
    }
  }

  updatePage(gpa: number, plaintext: Uint8Array): void {
    this.#checkGpa(gpa);
    checkPage(plaintext, "page to record");
    const slot = this.#cache.fetch(0, Math.floor(gpa / this.recordsPerLeafNode), gpa);
    const leaf = this.#cache.node(slot);
    const at = (gpa % this.recordsPerLeafNode) * this.recordBytes;
    const version = getU64(leaf, at) + 1;
    const digest = this.#leafDigest(gpa, version, plaintext);
    putU64(leaf, at, version);
    leaf.set(digest, at + VERSION_BYTES);
    this.#cache.markDirty(slot);
    this.stats.leafUpdates++;
  }

  flush(): void {
    this.#cache.flush();
  }

  evictAll(): void {
    this.#cache.evictAll();
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
