// The MEE's integrity tree over versions (Gueron 2016, section 4, "the integrity tree"): every EPC
// frame has a version (bumped on each write, part of the page's encryption seed); versions sit 8 to
// a node, and each level above holds 8 counters per node, one per child. A node's MAC is keyed with
// its parent's counter for it, so replaying an old node (or an old page with its old MAC) fails the
// check at the first level whose parent moved on. The top level's counters are on die (the root),
// every other node lives in untrusted memory, where a physical adversary can change it.
//
// A bounded cache of verified nodes (trusted, on die) stops walks early, as the MEE's cache does.
// Writes go through to memory at once (the MEE writes back lazily; the cost per write is the same
// order, and the state in memory is simpler to attack in tests).
//
// Node layout (ours; Gueron packs 56-bit counters and a 56-bit MAC into 64 bytes): 8 counters as
// u64 LE, then an 8-byte MAC: 72 bytes.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import { epcAddress, SgxIntegrityError } from "./faults";
import type { MeeCtr } from "./mee-ctr";
import { MEE_MAC_BYTES } from "./mee-ctr";

export const TREE_ARITY = 8;
export const NODE_BYTES = TREE_ARITY * 8 + MEE_MAC_BYTES;
const BODY_BYTES = TREE_ARITY * 8;

export interface VersionTreeStats {
  /** Nodes read from memory and MAC-checked. */
  nodesVerified: number;
  cacheHits: number;
  cacheMisses: number;
  /** Nodes re-MACed and written to memory by page writes. */
  nodesWritten: number;
}

export interface VersionTreeOptions {
  frames: number;
  mee: MeeCtr;
  /** Verified nodes kept on die. */
  cacheNodes: number;
}

export class VersionTree {
  /** Node levels in memory: level 0 holds versions; the root's counters, above the top level, are on die. */
  readonly levels: number;
  readonly nodesPerLevel: readonly number[];
  /** Every node, level 0 first: untrusted memory. */
  readonly memory: Uint8Array;
  readonly cacheNodes: number;
  readonly stats: VersionTreeStats = { nodesVerified: 0, cacheHits: 0, cacheMisses: 0, nodesWritten: 0 };
  readonly #mee: MeeCtr;
  readonly #levelBase: number[] = [];
  readonly #root: Float64Array;
  readonly #cache = new Map<number, Float64Array>();
  /** The cached ids in insertion order (a ring): the oldest goes when the cache is full. */
  readonly #ring: Int32Array;
  #hand = 0;
  readonly #view: DataView;

  constructor(opts: VersionTreeOptions) {
    if (!Number.isInteger(opts.frames) || opts.frames < 1) throw new RangeError(`the version tree needs at least 1 frame, got ${opts.frames}`);
    if (!Number.isInteger(opts.cacheNodes) || opts.cacheNodes < 1) throw new RangeError(`the MEE cache must hold at least 1 node, got ${opts.cacheNodes}`);
    this.#mee = opts.mee;
    this.cacheNodes = opts.cacheNodes;
    this.#ring = new Int32Array(opts.cacheNodes).fill(-1);
    const perLevel: number[] = [];
    let n = Math.ceil(opts.frames / TREE_ARITY);
    perLevel.push(n);
    while (n > TREE_ARITY) {
      n = Math.ceil(n / TREE_ARITY);
      perLevel.push(n);
    }
    this.nodesPerLevel = perLevel;
    this.levels = perLevel.length;
    let total = 0;
    for (const count of perLevel) {
      this.#levelBase.push(total);
      total += count;
    }
    this.memory = new Uint8Array(total * NODE_BYTES);
    this.#view = new DataView(this.memory.buffer);
    this.#root = new Float64Array(perLevel[this.levels - 1]!);
    // Every counter starts at 0; each node gets its MAC so that the first walk verifies.
    for (let level = 0; level < this.levels; level++) {
      for (let i = 0; i < perLevel[level]!; i++) this.#store(level, i, new Float64Array(TREE_ARITY), 0);
    }
    this.stats.nodesWritten = 0;
  }

  /** Byte offset of a node in `memory` (for the adversary and tests). */
  nodeOffset(level: number, index: number): number {
    return (this.#levelBase[level]! + index) * NODE_BYTES;
  }

  /** Index at `level` of the node on `frame`'s path. */
  nodeIndexOf(frame: number, level: number): number {
    return Math.floor(frame / TREE_ARITY ** (level + 1));
  }

  /** The verified version of a frame. */
  version(frame: number): number {
    return this.#node(0, this.nodeIndexOf(frame, 0), frame)[frame % TREE_ARITY]!;
  }

  /** A write of `frame`: its version and every counter on its path go up by one; returns the new version. */
  bump(frame: number): number {
    const path: Float64Array[] = [];
    for (let level = 0; level < this.levels; level++) path.push(this.#node(level, this.nodeIndexOf(frame, level), frame));
    path[0]![frame % TREE_ARITY]!++;
    for (let level = 0; level < this.levels; level++) {
      const index = this.nodeIndexOf(frame, level);
      const slot = index % TREE_ARITY;
      const parent = level + 1 < this.levels ? path[level + 1]! : this.#root;
      const at = level + 1 < this.levels ? slot : index;
      parent[at]!++;
      this.#store(level, index, path[level]!, parent[at]!);
    }
    return path[0]![frame % TREE_ARITY]!;
  }

  /** Drops every cached node (the next walks verify from memory up to the root). */
  evictCache(): void {
    this.#cache.clear();
    this.#ring.fill(-1);
    this.#hand = 0;
  }

  #node(level: number, index: number, frame: number): Float64Array {
    const id = this.#levelBase[level]! + index;
    const hit = this.#cache.get(id);
    if (hit) {
      this.stats.cacheHits++;
      return hit;
    }
    this.stats.cacheMisses++;
    const parent = level + 1 < this.levels ? this.#node(level + 1, Math.floor(index / TREE_ARITY), frame)[index % TREE_ARITY]! : this.#root[index]!;
    const at = id * NODE_BYTES;
    const body = this.memory.subarray(at, at + BODY_BYTES);
    const mac = this.#mee.mac(id, parent, body);
    this.stats.nodesVerified++;
    for (let k = 0; k < MEE_MAC_BYTES; k++) {
      if (mac[k] !== this.memory[at + BODY_BYTES + k]) throw new SgxIntegrityError(epcAddress(frame), `version tree level ${level}`);
    }
    const counters = new Float64Array(TREE_ARITY);
    for (let k = 0; k < TREE_ARITY; k++) counters[k] = this.#view.getUint32(at + 8 * k, true) + this.#view.getUint32(at + 8 * k + 4, true) * 2 ** 32;
    const old = this.#ring[this.#hand]!;
    if (old >= 0) this.#cache.delete(old);
    this.#ring[this.#hand] = id;
    this.#hand = (this.#hand + 1) % this.cacheNodes;
    this.#cache.set(id, counters);
    return counters;
  }

  #store(level: number, index: number, counters: Float64Array, parent: number): void {
    const id = this.#levelBase[level]! + index;
    const at = id * NODE_BYTES;
    for (let k = 0; k < TREE_ARITY; k++) {
      const c = counters[k]!;
      this.#view.setUint32(at + 8 * k, c % 2 ** 32, true);
      this.#view.setUint32(at + 8 * k + 4, Math.floor(c / 2 ** 32), true);
    }
    this.memory.set(this.#mee.mac(id, parent, this.memory.subarray(at, at + BODY_BYTES)), at + BODY_BYTES);
    this.stats.nodesWritten++;
  }
}
