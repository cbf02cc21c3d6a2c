// Where the MMU keeps the pages that are not resident. The later memory layers plug in here:
// Enclavisor's encrypted, integrity-checked DRAM implements the same interface (DESIGN.md
// section 4, miss path steps 2-4).

/** The backing store of one guest memory, addressed by guest page number (guest address >> 12). */
export interface PageBacking {
  /** True when the page has contents in the store (it was written back before). */
  has(page: number): boolean;
  /** Copies the stored contents of `page` into `dst` (4096 bytes). Called only when has(page). */
  fill(page: number, dst: Uint8Array): void;
  /** Stores the contents of a dirty page that leaves the resident set. */
  writeBack(page: number, src: Uint8Array): void;
}

/** A plain in-memory backing store: the baseline, with no encryption and no integrity. */
export class MemoryPageStore implements PageBacking {
  private readonly pages = new Map<number, Uint8Array>();

  has(page: number): boolean {
    return this.pages.has(page);
  }

  fill(page: number, dst: Uint8Array): void {
    dst.set(this.pages.get(page)!);
  }

  writeBack(page: number, src: Uint8Array): void {
    const stored = this.pages.get(page);
    if (stored) stored.set(src);
    else this.pages.set(page, src.slice());
  }

  /** Number of pages held. */
  get size(): number {
    return this.pages.size;
  }
}
