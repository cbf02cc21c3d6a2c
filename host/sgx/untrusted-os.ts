// The untrusted OS's side of SGX paging: it owns the page tables that map an enclave's linear pages
// to EPC frames, chooses which page to evict when the EPC is full (least recently brought in or
// touched), keeps evicted pages in its own memory, and runs EPA/EWB/ELDU/EAUG for the enclave's
// page faults. Nothing here is trusted: the EPCM (epc.ts) and the paging MACs (paging.ts) are what
// stop it from cheating, and attacks reach the enclave through exactly these structures.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import type { Epc } from "./epc";
import type { EpcPaging, EvictedPage } from "./paging";

export interface OsCounters {
  /** Page faults the OS handled for enclaves. */
  faults: number;
  /** Fresh pages added to an enclave (EAUG). */
  eaug: number;
}

export class UntrustedOs {
  readonly counters: OsCounters = { faults: 0, eaug: 0 };
  readonly #epc: Epc;
  readonly #paging: EpcPaging;
  /** Per enclave: linear page -> EPC frame (the OS's page tables). */
  readonly #tables = new Map<number, Map<number, number>>();
  /** Per enclave: linear page -> evicted blob (untrusted memory). */
  readonly #swap = new Map<number, Map<number, EvictedPage>>();
  /** REG frames in eviction order: a doubly linked list over frame numbers, oldest at the head. */
  readonly #lru: FrameList;

  constructor(epc: Epc, paging: EpcPaging) {
    this.#epc = epc;
    this.#paging = paging;
    this.#lru = new FrameList(epc.pages);
  }

  /** The OS's page table of an enclave (the adversary edits it to remap pages). */
  table(owner: number): Map<number, number> {
    let t = this.#tables.get(owner);
    if (!t) this.#tables.set(owner, (t = new Map()));
    return t;
  }

  /** The evicted pages of an enclave, in the OS's memory (the adversary may replay old ones). */
  swap(owner: number): Map<number, EvictedPage> {
    let s = this.#swap.get(owner);
    if (!s) this.#swap.set(owner, (s = new Map()));
    return s;
  }

  /** Marks a page as just used, so that it is evicted last. */
  touch(frame: number): void {
    if (this.#lru.has(frame)) this.#lru.moveToTail(frame);
  }

  /**
   * The #PF handler for an enclave page with no EPC frame: makes room, then loads the page back
   * (ELDU) if it was evicted, or adds it as zeroes (EAUG) if it is new. Returns the frame.
   */
  handleFault(owner: number, page: number): number {
    this.counters.faults++;
    this.#makeRoom();
    const swapped = this.swap(owner).get(page);
    let frame: number;
    if (swapped) {
      frame = this.#paging.eldu(swapped, owner, page);
      this.swap(owner).delete(page);
    } else {
      frame = this.#epc.alloc(owner, page, "REG")!;
      this.counters.eaug++;
    }
    this.table(owner).set(page, frame);
    this.#lru.append(frame, owner, page);
    return frame;
  }

  /** EREMOVE of every page of an enclave: its frames go back to the EPC, its blobs are dropped. */
  release(owner: number): void {
    for (const frame of this.table(owner).values()) {
      if (this.#epc.entry(frame)?.owner === owner) {
        if (this.#lru.has(frame)) this.#lru.remove(frame);
        this.#epc.free(frame);
      }
    }
    this.#tables.delete(owner);
    this.#swap.delete(owner);
  }

  /**
   * Leaves a free frame, evicting the least recently used pages. A free VA slot is kept at all
   * times: when an eviction takes the last one, the frame it freed becomes a new VA page (EPA).
   */
  #makeRoom(): void {
    if (this.#paging.freeSlots === 0 && !this.#paging.epa()) throw new RangeError("the EPC has no free frame for a first VA page");
    while (this.#epc.freeFrames === 0) {
      const frame = this.#lru.head;
      if (frame < 0) throw new RangeError("the EPC is full of VA pages: no enclave page left to evict");
      const owner = this.#lru.owner[frame]!;
      const page = this.#lru.page[frame]!;
      this.#lru.remove(frame);
      const evicted = this.#paging.ewb(frame, owner, page);
      this.table(owner).delete(page);
      this.swap(owner).set(page, evicted);
      if (this.#paging.freeSlots === 0) this.#paging.epa(); // takes the frame just freed
    }
  }
}

/**
 * Frames in order, with O(1) append, removal and move to the tail (a Map used as a queue slows
 * down as deletions at its front pile up in its table).
 */
class FrameList {
  head = -1;
  tail = -1;
  readonly owner: Int32Array;
  readonly page: Float64Array;
  readonly #prev: Int32Array;
  readonly #next: Int32Array;
  readonly #in: Uint8Array;

  constructor(frames: number) {
    this.owner = new Int32Array(frames);
    this.page = new Float64Array(frames);
    this.#prev = new Int32Array(frames).fill(-1);
    this.#next = new Int32Array(frames).fill(-1);
    this.#in = new Uint8Array(frames);
  }

  has(frame: number): boolean {
    return this.#in[frame] === 1;
  }

  append(frame: number, owner: number, page: number): void {
    if (this.#in[frame]) this.remove(frame);
    this.owner[frame] = owner;
    this.page[frame] = page;
    this.#link(frame);
  }

  moveToTail(frame: number): void {
    if (this.tail === frame) return;
    this.remove(frame);
    this.#link(frame);
  }

  remove(frame: number): void {
    const p = this.#prev[frame]!;
    const n = this.#next[frame]!;
    if (p >= 0) this.#next[p] = n;
    else this.head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.tail = p;
    this.#prev[frame] = -1;
    this.#next[frame] = -1;
    this.#in[frame] = 0;
  }

  #link(frame: number): void {
    this.#prev[frame] = this.tail;
    this.#next[frame] = -1;
    if (this.tail >= 0) this.#next[this.tail] = frame;
    else this.head = frame;
    this.tail = frame;
    this.#in[frame] = 1;
  }
}
