// Tables keyed by frame number (a GPA or an SPA, 0..MAX_FRAME) for the lookups of every page miss:
// the NPT, the RMP, and Enclavisor's page, ownership and node-store tables. A radix tree, as the
// hardware's page tables are: four levels of 1024 slots over the 40 bits of a frame number, the
// last one a leaf that each table lays out in typed arrays of its own. Finding a frame's leaf is
// three array loads and some arithmetic, with no hashing, no allocation and no string, and a table
// takes memory only for the runs of 1024 frames it holds (a VM's frames sit in a few dense runs:
// each enclave's slot, the Enclavisor image, the node stores).
import { MAX_FRAME } from "./page";

/** Frames per leaf, and slots per level above it. */
export const LEAF_FRAMES = 1024;
const LEVEL_MASK = LEAF_FRAMES - 1;
/** Frames under one slot of the second level (two levels of 10 bits). */
const UPPER_SPAN = 2 ** 20;

/**
 * A level's slots; one starts empty and grows to the highest slot written, so a table made at every
 * launch (a page table, an NPT) costs next to nothing until it holds frames. A slot beyond its
 * length reads as undefined like an empty one.
 */
type Level<T> = (T | undefined)[];

function level<T>(): Level<T> {
  return [];
}

/** The slot of `frame` in its leaf. */
export function slotOf(frame: number): number {
  return frame & LEVEL_MASK;
}

export class FrameTable<Leaf> {
  readonly #root: Level<Level<Level<Leaf>>> = level();
  readonly #makeLeaf: () => Leaf;

  /** `makeLeaf` makes the leaf of a run of LEAF_FRAMES frames, reading as "nothing held" until written. */
  constructor(makeLeaf: () => Leaf) {
    this.#makeLeaf = makeLeaf;
  }

  /** The leaf holding `frame`; undefined when none was made or `frame` is not a frame number. */
  leaf(frame: number): Leaf | undefined {
    if (!(frame >= 0 && frame <= MAX_FRAME) || !Number.isInteger(frame)) return undefined;
    // Bits 20..39 by division: a frame number may exceed the 32 bits of JS's bitwise operators.
    const upper = (frame / UPPER_SPAN) >>> 0;
    return this.#root[upper >>> 10]?.[upper & LEVEL_MASK]?.[(frame >>> 10) & LEVEL_MASK];
  }

  /** The leaf holding `frame`, made on first use; the caller has checked that `frame` is a frame number. */
  leafFor(frame: number): Leaf {
    const upper = (frame / UPPER_SPAN) >>> 0;
    const middle = (this.#root[upper >>> 10] ??= level());
    const lower = (middle[upper & LEVEL_MASK] ??= level());
    return (lower[(frame >>> 10) & LEVEL_MASK] ??= this.#makeLeaf());
  }

  /** Every leaf made, with the frame of its slot 0, in frame order. */
  *leaves(): Generator<[first: number, leaf: Leaf]> {
    for (let a = 0; a < LEAF_FRAMES; a++) {
      const middle = this.#root[a];
      if (middle === undefined) continue;
      for (let b = 0; b < LEAF_FRAMES; b++) {
        const lower = middle[b];
        if (lower === undefined) continue;
        for (let c = 0; c < LEAF_FRAMES; c++) {
          const leaf = lower[c];
          if (leaf !== undefined) yield [(a * LEAF_FRAMES + b) * UPPER_SPAN + c * LEAF_FRAMES, leaf];
        }
      }
    }
  }
}
