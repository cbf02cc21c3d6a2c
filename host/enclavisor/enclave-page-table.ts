// Enclavisor's enclave page table: guest-virtual page (the Wasm address >> 12) -> guest-physical
// frame of the enclave's VM (docs/architecture.md, "The path of one memory access", step 4a). It
// lives in Enclavisor's own (trusted) memory. A page gets its frame on first touch, so that an
// enclave may grow to the Wasm maximum while only the pages it touched take frames; a configured
// limit caps those frames.
//
// A function clone's table has a base: its template's table (frozen). A page the clone has not
// mapped itself translates through the base to the template's frame; the clone's first write-back
// of such a page maps it to a frame of its own (copy-on-write), which shadows the base entry.
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

export interface PageTableEntry {
  /** Guest-physical frame number. */
  readonly gpa: number;
  /** The page has been written back at least once: its frame holds its contents (else it is all zeroes). */
  written: boolean;
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
  readonly #entries = new Map<number, PageTableEntry>();

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
    return this.#entries.get(page) ?? this.base?.lookup(page);
  }

  /** The page's entry in this table's own frames (not one read through the base). */
  ownEntry(page: number): PageTableEntry | undefined {
    return this.#entries.get(page);
  }

  /** True when the page has a frame of this table's own (not one read through the base). */
  owns(page: number): boolean {
    return this.#entries.has(page);
  }

  /**
   * Maps `page` to the next free GPA (the caller backs it with a frame), shadowing any base entry.
   * Throws MemoryLimitError, leaving the table unchanged, when the enclave already holds its limit.
   */
  map(page: number): PageTableEntry {
    if (!Number.isInteger(page) || page < 0) throw new RangeError(`guest page must be a non-negative integer, got ${page}`);
    if (this.#entries.has(page)) throw new RangeError(`guest page ${page} is already mapped`);
    if (this.#entries.size >= this.limitPages) throw new MemoryLimitError(page, this.limitPages);
    const entry: PageTableEntry = { gpa: this.firstGpa + this.#entries.size, written: false };
    this.#entries.set(page, entry);
    return entry;
  }

  /** Frames of its own mapped so far. */
  get mappedPages(): number {
    return this.#entries.size;
  }

  /** This table's own entries. */
  entries(): IterableIterator<[page: number, entry: PageTableEntry]> {
    return this.#entries.entries();
  }
}

function formatBytes(n: number): string {
  if (n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n % 2 ** 10 === 0) return `${n / 2 ** 10} KiB`;
  return `${n} bytes`;
}
