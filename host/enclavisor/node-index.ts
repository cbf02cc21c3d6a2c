// The integrity cache's index: node id -> cache slot, for every node the cache holds. A miss of the
// guest looks a tree node up here on each level it walks, so the index is an open-addressing hash
// table in typed arrays (linear probing, deletion by backward shift): no allocation and no Map per
// lookup. Node ids are store indices below 2^41, exact in a Float64Array.

const EMPTY = -1;

export class NodeIndex {
  readonly #keys: Float64Array;
  readonly #slots: Int32Array;
  readonly #mask: number;
  #size = 0;

  /** An index for at most `capacity` nodes (kept at most half full). */
  constructor(capacity: number) {
    let buckets = 2;
    while (buckets < 2 * capacity) buckets *= 2;
    this.#keys = new Float64Array(buckets).fill(EMPTY);
    this.#slots = new Int32Array(buckets);
    this.#mask = buckets - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** The slot of node `id`, or -1. */
  get(id: number): number {
    const keys = this.#keys;
    for (let b = this.#bucket(id); ; b = (b + 1) & this.#mask) {
      const k = keys[b]!;
      if (k === id) return this.#slots[b]!;
      if (k === EMPTY) return -1;
    }
  }

  /** Records node `id` in `slot` (the id must not be there yet). */
  set(id: number, slot: number): void {
    const keys = this.#keys;
    let b = this.#bucket(id);
    while (keys[b] !== EMPTY) b = (b + 1) & this.#mask;
    keys[b] = id;
    this.#slots[b] = slot;
    this.#size++;
  }

  /** Forgets node `id`; the entries after it in its run move back so that lookups still find them. */
  delete(id: number): void {
    const keys = this.#keys;
    const mask = this.#mask;
    let b = this.#bucket(id);
    while (keys[b] !== id) {
      if (keys[b] === EMPTY) return;
      b = (b + 1) & mask;
    }
    this.#size--;
    for (let next = (b + 1) & mask; keys[next] !== EMPTY; next = (next + 1) & mask) {
      const home = this.#bucket(keys[next]!);
      // The entry at `next` may fill the hole at `b` unless its home lies in (b, next].
      const between = b <= next ? home > b && home <= next : home > b || home <= next;
      if (between) continue;
      keys[b] = keys[next]!;
      this.#slots[b] = this.#slots[next]!;
      b = next;
    }
    keys[b] = EMPTY;
  }

  clear(): void {
    this.#keys.fill(EMPTY);
    this.#size = 0;
  }

  #bucket(id: number): number {
    // Fibonacci hashing of both 32-bit halves: ids of one level are consecutive.
    const h = Math.imul((id >>> 0) ^ Math.imul(Math.floor(id / 4294967296), 0x85ebca6b), 0x9e3779b1);
    return (h ^ (h >>> 16)) & this.#mask;
  }
}
