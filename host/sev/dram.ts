// DRAM: a sparse set of 4 KiB system-physical frames. It stores whatever bytes reach it (the memory
// controller writes ciphertext for private pages); it knows nothing of keys or owners. Only the
// hypervisor allocates frames (docs/architecture.md, "The threat model"). As on real DRAM, freeing
// a frame does not scrub it: the next owner finds the old bytes until it writes its own.
//
// Frames live in slabs of SLAB_FRAMES, made on the first write into them, and are found by index,
// not through hash tables: a page miss finds its frame without chasing cold pointers.
import { checkFrame, checkPage, hexFrame } from "./page";
import { PAGE_SIZE } from "../page";
import { SevError } from "./sev-error";

/** Frames per slab: 1 MiB of storage, made on the first write to any of its frames. */
const SLAB_FRAMES = 256;
const SLAB_SHIFT = 8;

/** What a frame never written holds; handed out by frameBytes, never written. */
const ZERO_FRAME = new Uint8Array(PAGE_SIZE);

export class DramError extends SevError {
  override readonly name = "DramError";
}

export interface DramOptions {
  /** Capacity in frames (default 2^20 frames = 4 GiB). */
  frames?: number;
  /** First frame number handed out (default 0x100: the low 1 MiB is left to firmware, as on a PC). */
  base?: number;
}

export class Dram {
  readonly capacity: number;
  readonly base: number;
  /** Per frame (by index from base): 1 while allocated. */
  readonly #allocated: Uint8Array;
  /** Per frame: 1 once written; frames never written read as zeroes and take no storage. */
  readonly #written: Uint8Array;
  #allocatedCount = 0;
  #backed = 0;
  readonly #slabs: (Uint8Array | undefined)[] = [];
  readonly #freeList: number[] = [];
  #next: number;

  constructor(opts: DramOptions = {}) {
    const frames = opts.frames ?? 2 ** 20;
    const base = opts.base ?? 0x100;
    if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`DRAM capacity must be a positive number of frames, got ${frames}`);
    checkFrame(base, "DRAM base frame");
    checkFrame(base + frames - 1, "DRAM last frame");
    this.capacity = frames;
    this.base = base;
    this.#next = base;
    this.#allocated = new Uint8Array(frames);
    this.#written = new Uint8Array(frames);
  }

  /** Allocates a frame; the most recently freed one first (it may hold a previous owner's bytes). */
  allocate(): number {
    const reused = this.#freeList.pop();
    if (reused !== undefined) {
      this.#allocated[reused - this.base] = 1;
      this.#allocatedCount++;
      return reused;
    }
    if (this.#next >= this.base + this.capacity) {
      throw new DramError(`DRAM exhausted: all ${this.capacity} frames are allocated`);
    }
    const spa = this.#next++;
    this.#allocated[spa - this.base] = 1;
    this.#allocatedCount++;
    return spa;
  }

  free(spa: number): void {
    this.#allocated[this.#check(spa)] = 0;
    this.#allocatedCount--;
    this.#freeList.push(spa);
  }

  has(spa: number): boolean {
    return this.#allocated[spa - this.base] === 1;
  }

  /** A copy of the frame's bytes. */
  read(spa: number): Uint8Array {
    return this.frameBytes(spa).slice();
  }

  write(spa: number, bytes: Uint8Array): void {
    const i = this.#check(spa);
    checkPage(bytes, "DRAM write");
    this.#frame(i).set(bytes);
  }

  /**
   * The frame's bytes themselves, not a copy (zeroes for a frame never written): the memory
   * controller's cipher reads them in place. The caller must not write through the result.
   */
  frameBytes(spa: number): Uint8Array {
    const i = this.#check(spa);
    if (this.#written[i] !== 1) return ZERO_FRAME;
    const at = (i & (SLAB_FRAMES - 1)) * PAGE_SIZE;
    return this.#slabs[i >>> SLAB_SHIFT]!.subarray(at, at + PAGE_SIZE);
  }

  /** The frame's storage, for the memory controller's cipher to write a whole page into in place. */
  frameStorage(spa: number): Uint8Array {
    return this.#frame(this.#check(spa));
  }

  /** Batched read into `out` (frames.length pages), for the memory controller's batched path. */
  readInto(frames: ArrayLike<number>, out: Uint8Array): void {
    for (let i = 0; i < frames.length; i++) out.set(this.frameBytes(frames[i]!), i * PAGE_SIZE);
  }

  /** Batched write of frames.length pages from `data`. */
  writeFrom(frames: ArrayLike<number>, data: Uint8Array): void {
    const at = Array.from(frames, (spa) => this.#check(spa)); // all of them before any frame changes
    for (let k = 0; k < at.length; k++) this.#frame(at[k]!).set(data.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE));
  }

  /** Number of allocated frames, and of frames that hold bytes (the sparse part). */
  stats(): { allocated: number; backed: number; capacity: number } {
    return { allocated: this.#allocatedCount, backed: this.#backed, capacity: this.capacity };
  }

  /** Frame `i` (index from base)'s storage; its slab is made on the first write into it. */
  #frame(i: number): Uint8Array {
    const s = i >>> SLAB_SHIFT;
    const slab = (this.#slabs[s] ??= new Uint8Array(SLAB_FRAMES * PAGE_SIZE));
    if (this.#written[i] !== 1) {
      this.#written[i] = 1;
      this.#backed++;
    }
    const at = (i & (SLAB_FRAMES - 1)) * PAGE_SIZE;
    return slab.subarray(at, at + PAGE_SIZE);
  }

  /** The frame's index from base; a DramError unless `spa` is an allocated frame. */
  #check(spa: number): number {
    const i = spa - this.base;
    if (this.#allocated[i] !== 1) {
      checkFrame(spa, "SPA");
      throw new DramError(`SPA ${hexFrame(spa)} is not an allocated DRAM frame`);
    }
    return i;
  }
}
