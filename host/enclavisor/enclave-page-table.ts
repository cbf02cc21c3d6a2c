// Enclavisor's enclave page table: guest-virtual page (the Wasm address >> 12) -> guest-physical
// frame of the enclave's VM (docs/architecture.md, "The path of one memory access", step 4a). It
// lives in Enclavisor's own (trusted) memory. A page gets its frame on first touch, so that an
// enclave may grow to the Wasm maximum while only the pages it touched take frames; a configured
// limit caps those frames.
//
// A function clone's table has a base: its template's table (frozen). A page the clone has not
// mapped itself translates through the base to the template's frame; the clone's first write-back
// of such a page maps it to a frame of its own (copy-on-write), which shadows the base entry.
import { FrameTable, LEAF_FRAMES, slotOf } from "../sev/frame-table";
import { MAX_FRAME } from "../sev/page";
import { EnclavisorError } from "./enclavisor-error";

export class MemoryLimitError extends EnclavisorError {
  override readonly name = "MemoryLimitError";
  constructor(
    readonly page: number,
    readonly limitPages: number,
  ) {
    super(
      `enclave memory limit reached: guest page ${page} (address 0x${(page * 4096).toString(16)}) would be frame ${limitPages + 1}, ` +
        `but the limit is ${limitPages} pages (${formatBytes(limitPages * 4096)})`,
    );
  }
}

/** A page's entry as it is when asked for (a copy: markWritten changes the table, not the copy). */
export interface PageTableEntry {
  /** Guest-physical frame number. */
  readonly gpa: number;
  /** The page has been written back at least once: its frame holds its contents (else it is all zeroes). */
  readonly written: boolean;
}

export interface EnclavePageTableOptions {
  /** First GPA handed out; the next pages get consecutive frames. */
  firstGpa: number;
  /** Most frames the enclave may take (default: no limit); frames of the base do not count. */
  limitPages?: number;
  /** A template's table this one reads through (copy-on-write); never changed through this one. */
  base?: EnclavePageTable;
}

export class EnclavePageTable {
  readonly firstGpa: number;
  readonly limitPages: number;
  readonly base: EnclavePageTable | undefined;
  /**
   * Per guest page, the ordinal of its frame + 1 (0: not mapped here), in the leaves of a radix
   * table (host/sev/frame-table.ts): every miss finds its page here, so a lookup is a few array
   * loads, no hash. The n-th page mapped gets frame firstGpa + n, so the ordinal is the entry.
   */
  readonly #ordinals = new FrameTable(() => new Uint32Array(LEAF_FRAMES));
  /** Per ordinal, its guest page (entries() in the order mapped) and 1 once written back; grown by doubling. */
  #pages = new Float64Array(16);
  #written = new Uint8Array(16);
  #mapped = 0;

  constructor(opts: EnclavePageTableOptions) {
    if (!Number.isInteger(opts.firstGpa) || opts.firstGpa < 0) throw new RangeError(`first GPA must be a frame number, got ${opts.firstGpa}`);
    const limit = opts.limitPages ?? Infinity;
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
      throw new RangeError(`enclave memory limit must be at least one page of 4 KiB, got ${limit} pages`);
    }
    this.firstGpa = opts.firstGpa;
    this.limitPages = limit;
    this.base = opts.base;
  }

  /** The page's entry: this table's own, else the base's (a frame of the template). */
  lookup(page: number): PageTableEntry | undefined {
    return this.ownEntry(page) ?? this.base?.lookup(page);
  }

  /** The page's entry in this table's own frames (not one read through the base). */
  ownEntry(page: number): PageTableEntry | undefined {
    const ordinal = this.#ordinal(page);
    return ordinal < 0 ? undefined : this.#entry(ordinal);
  }

  /** True when the page has a frame of this table's own (not one read through the base). */
  owns(page: number): boolean {
    return this.#ordinal(page) >= 0;
  }

  /**
   * Maps `page` to the next free GPA (the caller backs it with a frame), shadowing any base entry.
   * Throws MemoryLimitError, leaving the table unchanged, when the enclave already holds its limit.
   */
  map(page: number): PageTableEntry {
    if (!Number.isInteger(page) || page < 0) throw new RangeError(`guest page must be a non-negative integer, got ${page}`);
    if (page > MAX_FRAME) throw new RangeError(`guest page must be at most 2^40-1 (a 52-bit address space), got ${page}`);
    if (this.owns(page)) throw new RangeError(`guest page ${page} is already mapped`);
    if (this.#mapped >= this.limitPages) throw new MemoryLimitError(page, this.limitPages);
    const ordinal = this.#mapped++;
    if (ordinal === this.#pages.length) {
      const pages = new Float64Array(2 * ordinal);
      pages.set(this.#pages);
      this.#pages = pages;
      const written = new Uint8Array(2 * ordinal);
      written.set(this.#written);
      this.#written = written;
    }
    this.#pages[ordinal] = page;
    this.#ordinals.leafFor(page)[slotOf(page)] = ordinal + 1;
    return this.#entry(ordinal);
  }

  /** Records that `page`'s own frame now holds its contents (its first write-back). */
  markWritten(page: number): void {
    const ordinal = this.#ordinal(page);
    if (ordinal < 0) throw new RangeError(`guest page ${page} has no frame of this table's own`);
    this.#written[ordinal] = 1;
  }

  /** Frames of its own mapped so far. */
  get mappedPages(): number {
    return this.#mapped;
  }

  /** This table's own entries, in the order mapped. */
  *entries(): IterableIterator<[page: number, entry: PageTableEntry]> {
    for (let ordinal = 0; ordinal < this.#mapped; ordinal++) yield [this.#pages[ordinal]!, this.#entry(ordinal)];
  }

  /** The ordinal of `page`'s own frame, or -1. */
  #ordinal(page: number): number {
    return (this.#ordinals.leaf(page)?.[slotOf(page)] ?? 0) - 1;
  }

  #entry(ordinal: number): PageTableEntry {
    return { gpa: this.firstGpa + ordinal, written: this.#written[ordinal] === 1 };
  }
}

function formatBytes(n: number): string {
  if (n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n % 2 ** 10 === 0) return `${n / 2 ** 10} KiB`;
  return `${n} bytes`;
}
