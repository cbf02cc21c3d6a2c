// Where the MMU keeps the pages that are not resident (docs/architecture.md, "The path of one
// memory access"). Enclavisor's encrypted, integrity-checked DRAM (host/enclavisor/enclave-memory.ts)
// and the SGX model's EPC (host/sgx/epc-backing.ts) implement it; MemoryPageStore is the plain
// baseline.
//
// The contract: one call per miss. load() finds the page once, checks what it must and fills the
// guest's page, or says that the page was never stored (its first touch: the MMU makes it resident
// as the zeroes already there). store() takes a dirty page that leaves the resident set. A backing
// that refuses (a fault, a failed check) throws an EnclaveStopped, leaves `dst` all zeroes, and
// refuses every later call with the same error (its `stopped`): the MMU gives the page no resident
// slot, and the guest (guest.ts) counts itself stopped too.
//
// Batches: a backing may also take a run of consecutive pages in one load (the MMU fills a
// sequential stream so) and several dirty pages in one store (victims evicted together), with the
// same checks per page as one at a time, so that its per-call costs are paid once per batch. A
// batch that refuses stops the enclave as one page would, and leaves the whole run zeroes.
import type { EnclaveStopped } from "./enclave-stopped";
import { PAGE_SIZE } from "../page";

/** The backing store of one guest memory, addressed by guest page number (guest address >> 12). */
export interface PageBacking {
  /**
   * Fills `dst` (4096 bytes) with the stored contents of `page` and returns true; returns false,
   * leaving `dst` as it is (the MMU passes zeroes), when the page was never stored.
   */
  load(page: number, dst: Uint8Array): boolean;
  /** Stores the contents of a dirty page that leaves the resident set. */
  store(page: number, src: Uint8Array): void;
  /**
   * Optional batch of load(): pages first..first+count-1 into dst (count * 4096 bytes, page k at
   * k * 4096); stored[k] is set to 1 when page first + k was stored, else 0 (its bytes untouched).
   */
  loadRun?(first: number, count: number, dst: Uint8Array, stored: Uint8Array): void;
  /** Optional batch of store(): page pages[i] with the contents srcs[i]. */
  storeMany?(pages: readonly number[], srcs: readonly Uint8Array[]): void;
  /** The refusal that stopped the enclave, once one did. */
  readonly stopped: EnclaveStopped | null;
}

/** Most pages the MMU hands a backing in one batch. */
export const MAX_BATCH_PAGES = 64;

/** A plain in-memory backing store: the baseline, with no encryption and no integrity. */
export class MemoryPageStore implements PageBacking {
  private readonly pages = new Map<number, Uint8Array>();
  /** A plain store never refuses. */
  readonly stopped = null;

  load(page: number, dst: Uint8Array): boolean {
    const stored = this.pages.get(page);
    if (stored) dst.set(stored);
    return stored !== undefined;
  }

  store(page: number, src: Uint8Array): void {
    const stored = this.pages.get(page);
    if (stored) stored.set(src);
    else this.pages.set(page, src.slice());
  }

  loadRun(first: number, count: number, dst: Uint8Array, stored: Uint8Array): void {
    for (let k = 0; k < count; k++) stored[k] = this.load(first + k, dst.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE)) ? 1 : 0;
  }

  storeMany(pages: readonly number[], srcs: readonly Uint8Array[]): void {
    for (let i = 0; i < pages.length; i++) this.store(pages[i]!, srcs[i]!);
  }

  /** Number of pages held. */
  get size(): number {
    return this.pages.size;
  }
}
