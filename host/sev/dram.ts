// DRAM: a sparse set of 4 KiB system-physical frames. It stores whatever bytes reach it (the
// memory controller writes ciphertext for private pages); it knows nothing of keys or owners.
// Only the hypervisor allocates frames (DESIGN.md section 2). As on real DRAM, freeing a frame
// does not scrub it: the next owner finds the old bytes until it writes its own.
import { checkFrame, checkPage, hexFrame, PAGE_SIZE } from "./page";

export class DramError extends Error {
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
  /** Contents of frames written at least once; allocated frames never written read as zeroes. */
  readonly #contents = new Map<number, Uint8Array>();
  readonly #allocated = new Set<number>();
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
  }

  /** Allocates a frame; the most recently freed one first (it may hold a previous owner's bytes). */
  allocate(): number {
    const reused = this.#freeList.pop();
    if (reused !== undefined) {
      this.#allocated.add(reused);
      return reused;
    }
    if (this.#next >= this.base + this.capacity) {
      throw new DramError(`DRAM exhausted: all ${this.capacity} frames are allocated`);
    }
    const spa = this.#next++;
    this.#allocated.add(spa);
    return spa;
  }

  free(spa: number): void {
    this.#check(spa);
    this.#allocated.delete(spa);
    this.#freeList.push(spa);
  }

  has(spa: number): boolean {
    return this.#allocated.has(spa);
  }

  /** A copy of the frame's bytes. */
  read(spa: number): Uint8Array {
    this.#check(spa);
    const stored = this.#contents.get(spa);
    return stored ? stored.slice() : new Uint8Array(PAGE_SIZE);
  }

  write(spa: number, bytes: Uint8Array): void {
    this.#check(spa);
    checkPage(bytes, "DRAM write");
    this.#frame(spa).set(bytes);
  }

  /** Batched read into `out` (frames.length pages), for the memory controller's batched path. */
  readInto(frames: ArrayLike<number>, out: Uint8Array): void {
    for (let i = 0; i < frames.length; i++) {
      const spa = frames[i]!;
      this.#check(spa);
      const stored = this.#contents.get(spa);
      if (stored) out.set(stored, i * PAGE_SIZE);
      else out.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    }
  }

  /** Batched write of frames.length pages from `data`. */
  writeFrom(frames: ArrayLike<number>, data: Uint8Array): void {
    for (let i = 0; i < frames.length; i++) this.#check(frames[i]!);
    for (let i = 0; i < frames.length; i++) {
      this.#frame(frames[i]!).set(data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    }
  }

  /** Number of allocated frames, and of frames that hold bytes (the sparse part). */
  stats(): { allocated: number; backed: number; capacity: number } {
    return { allocated: this.#allocated.size, backed: this.#contents.size, capacity: this.capacity };
  }

  #frame(spa: number): Uint8Array {
    let f = this.#contents.get(spa);
    if (!f) {
      f = new Uint8Array(PAGE_SIZE);
      this.#contents.set(spa, f);
    }
    return f;
  }

  #check(spa: number): void {
    if (!this.#allocated.has(spa)) {
      checkFrame(spa, "SPA");
      throw new DramError(`SPA ${hexFrame(spa)} is not an allocated DRAM frame`);
    }
  }
}
