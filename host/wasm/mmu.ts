// The software MMU's runtime half: it owns the real linear memory of a rewritten guest, keeps the
// tag table in step with the resident set, and serves the rewritten code's calls
// (docs/architecture.md, "The path of one memory access"): the fault handler, memory.grow, and the
// bulk operations.
//
// Residency: at most `capacity` 4 KiB pages hold plaintext in the Wasm memory at a time (the
// emulated on-chip cache). A page outside the set is all zeroes in the Wasm memory; its contents
// live in the PageBacking. A fault brings the page in (evicting a victim first when the set is
// full: write-back when dirty, then scrub) and sets its tag.
//
// Replacement is CLOCK over emulated reference bits (the default), or FIFO. The inline fast path
// records nothing, so the host does not see hits, as on hardware without accessed bits; so the
// hand, instead of evicting a page referenced since its last pass, clears that page's reference bit
// and its tag ("traps" it: the plaintext stays), and the page's next access takes a soft fault, no
// fill, that restores the tag and sets the bit. A page the guest keeps using survives for the cost
// of one soft fault per revolution of the hand; bench/paging/eviction-policy.ts measures both.
//
// Batches (page-backing.ts): a fault on the page right after the last one filled is a sequential
// stream, filled ahead in runs that double from 4 pages up to `batchPages` in one call of the
// backing; the victims that make room for a run are written back in one call, and so is a dirty
// victim together with the next dirty pages the hand will reach (`cleanAhead`). A random miss stays one
// page: nothing is filled that the guest did not ask for unless it is streaming.
import { MAX_BATCH_PAGES, MemoryPageStore } from "./page-backing";
import { clearSlot, isPinned, rangePinnedPages, setSlot } from "./pin-slots";
import type { PageBacking } from "./page-backing";
import { BASE, FAULT_PAIR, FAULT_SIZE_MASK, FAULT_WRITE, MAX_GUEST_WASM_PAGES, MAX_WASM_PAGES, MMU_MODULE, FIRST_RANGE_SLOT, MAX_PIN_SLOTS, MAX_RANGE_ACCESSES, PIN_SLOT_COUNT, RANGE_FIRST, RANGE_WRITE, RESERVED_WASM_PAGES, TAG_DIRTY, TAG_PAIR_DIRTY, TAG_PAIR_RESIDENT, TAG_RESIDENT, TAG_SHARED, WASM_PAGE_SIZE } from "./layout";
import { PAGE_SHIFT, PAGE_SIZE } from "../page";
import type { RewriteResult } from "./rewrite-result";
import { WasmError } from "./wasm-error";

export { MMU_MODULE };

/** Default resident capacity: 16 MiB. */
export const DEFAULT_CAPACITY_PAGES = 4096;
/** Pages per sequential fill, most: a stream's runs double from FIRST_RUN_PAGES up to it. */
export const DEFAULT_BATCH_PAGES = 32;
const FIRST_RUN_PAGES = 4;
/**
 * Dirty pages written back with a dirty victim, at most: the victim and the next ones due. The
 * paging suite measured random dirty misses 3-5% cheaper with 16 than with each victim alone.
 */
export const DEFAULT_CLEAN_AHEAD_PAGES = 16;

export const REPLACEMENT_POLICIES = ["clock", "fifo"] as const;
export type Replacement = (typeof REPLACEMENT_POLICIES)[number];

/** Per page, beside its tag: CLOCK's reference bit, and the residency a trap took from the tag. */
const CLOCK_REF = 1;
const CLOCK_TRAPPED = 2;
const CLOCK_DIRTY = 4;

/** An access can need two pages at once (one crossing a boundary, or a copy's source and target). */
export const MIN_CAPACITY_PAGES = 2;

/** The least capacity a rewritten module runs with: two pages, plus two per pin slot it uses. */
export function minCapacityFor(rewrite: RewriteResult): number {
  return MIN_CAPACITY_PAGES + 2 * rewrite.stats.pinSlots;
}

export interface MmuOptions {
  /** Resident capacity in 4 KiB pages (default 4096 = 16 MiB, at least 2). */
  capacityPages?: number;
  /** Where non-resident pages live (default: a plain in-memory store). */
  backing?: PageBacking;
  /** Most pages of one sequential fill (default 32; 1: one page per miss). */
  batchPages?: number;
  /** Most dirty pages written back with a dirty victim (default 16; 1: one page per eviction). */
  cleanAhead?: number;
  /** Replacement policy (default "clock"). */
  replacement?: Replacement;
}

export interface MmuStats {
  /** Calls of the slow path from rewritten code. */
  faults: number;
  /** Pages filled from the backing store. */
  fills: number;
  /** Pages made resident on first touch, as zeroes, without a fill. */
  zeroFills: number;
  evictions: number;
  /** Dirty pages written to the backing store. */
  writeBacks: number;
  /** memory.copy / memory.fill / memory.init done by the host. */
  bulkOps: number;
  /** Calls of the backing that filled a sequential run, and that wrote back more than one page. */
  fillRuns: number;
  writeBackBatches: number;
  /** CLOCK: faults on a trapped page, served without a fill. */
  softFaults: number;
}

export interface GuestLimits {
  /** In Wasm pages, as the guest declared them. */
  initial: number;
  maximum: number | null;
}

const registry = new WeakMap<WebAssembly.Memory, SoftMmu>();

function batchOption(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > MAX_BATCH_PAGES) throw new RangeError(`${name} must be an integer in 1..${MAX_BATCH_PAGES}, got ${String(value)}`);
  return v;
}

function replacementOption(v: string): Replacement {
  if (!(REPLACEMENT_POLICIES as readonly string[]).includes(v)) throw new RangeError(`replacement must be one of ${REPLACEMENT_POLICIES.join(", ")}, got ${String(v)}`);
  return v as Replacement;
}

function oob(): never {
  throw new WebAssembly.RuntimeError("memory access out of bounds");
}

export class SoftMmu {
  readonly memory: WebAssembly.Memory;
  readonly capacity: number;
  readonly backing: PageBacking;
  readonly stats: MmuStats = { faults: 0, fills: 0, zeroFills: 0, evictions: 0, writeBacks: 0, bulkOps: 0, fillRuns: 0, writeBackBatches: 0, softFaults: 0 };
  /** Batching (MmuOptions.batchPages, cleanAhead): it changes no contents, so it may change any time (setBatching). */
  batchPages: number;
  cleanAhead: number;
  /** Like the batches, it changes no contents, so it may change any time (setReplacement). */
  replacement: Replacement;
  /** Guest-visible maximum, in Wasm pages. */
  readonly maxGuestPages: number;

  private bytes: Uint8Array;
  /** Resident pages in the order they came in: the hand goes round it (the oldest first, for FIFO). */
  private readonly ring: Int32Array;
  private resident = 0;
  private hand = 0;
  /** The page after the last one a miss filled, and the length of the stream's next run. */
  private streamNext = -1;
  private runPages = FIRST_RUN_PAGES;
  private readonly stored = new Uint8Array(MAX_BATCH_PAGES);
  /** CLOCK_* bits per guest page (at least as many as the memory has); grows with the memory. */
  private clock: Uint8Array;

  constructor(limits: GuestLimits, options: MmuOptions = {}) {
    const capacity = options.capacityPages ?? DEFAULT_CAPACITY_PAGES;
    if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY_PAGES) {
      throw new RangeError(`resident capacity must be an integer of at least ${MIN_CAPACITY_PAGES} pages, got ${capacity}`);
    }
    if (limits.initial > MAX_GUEST_WASM_PAGES) {
      throw new RangeError(`a guest memory of ${limits.initial} pages does not fit beside the tag table (at most ${MAX_GUEST_WASM_PAGES})`);
    }
    this.capacity = capacity;
    this.backing = options.backing ?? new MemoryPageStore();
    this.batchPages = batchOption(options.batchPages, DEFAULT_BATCH_PAGES, "batchPages");
    this.cleanAhead = batchOption(options.cleanAhead, DEFAULT_CLEAN_AHEAD_PAGES, "cleanAhead");
    this.replacement = replacementOption(options.replacement ?? "clock");
    this.maxGuestPages = Math.min(limits.maximum ?? MAX_WASM_PAGES, MAX_GUEST_WASM_PAGES);
    this.memory = new WebAssembly.Memory({
      initial: limits.initial + RESERVED_WASM_PAGES,
      maximum: Math.min((limits.maximum ?? MAX_WASM_PAGES) + RESERVED_WASM_PAGES, MAX_WASM_PAGES),
    });
    this.bytes = new Uint8Array(this.memory.buffer);
    this.ring = new Int32Array(capacity);
    this.clock = new Uint8Array((limits.initial * WASM_PAGE_SIZE) / PAGE_SIZE);
    registry.set(this.memory, this);
  }

  /** Sets the batch sizes (MmuOptions): what is resident and its contents stay as they are. */
  setBatching(opts: { batchPages?: number; cleanAhead?: number }): void {
    const batchPages = batchOption(opts.batchPages, this.batchPages, "batchPages");
    const cleanAhead = batchOption(opts.cleanAhead, this.cleanAhead, "cleanAhead");
    this.batchPages = batchPages;
    this.cleanAhead = cleanAhead;
  }

  /**
   * Sets the replacement policy. From FIFO to CLOCK the pages keep their order; from CLOCK to FIFO
   * every trapped page gets its tag back, since FIFO never looks at a page before evicting it.
   */
  setReplacement(replacement: Replacement): void {
    this.replacement = replacementOption(replacement);
    if (replacement === "fifo") {
      for (let i = 0; i < this.resident; i++) {
        const p = this.ring[i]!;
        if (this.clock[p]! & CLOCK_TRAPPED) {
          this.untrap(p);
          this.retag(p);
        }
      }
    }
  }

  /** A memory managed by a new MMU, for a rewritten module that imports its memory. */
  static createMemory(opts: { initial: number; maximum?: number } & MmuOptions): WebAssembly.Memory {
    return new SoftMmu({ initial: opts.initial, maximum: opts.maximum ?? null }, opts).memory;
  }

  /** The MMU that manages `memory`, if any. */
  static of(memory: unknown): SoftMmu | undefined {
    return memory instanceof WebAssembly.Memory ? registry.get(memory) : undefined;
  }

  /** Current guest memory size in bytes. */
  get guestBytes(): number {
    return this.view().length - BASE;
  }

  /** Number of resident pages. */
  get residentPages(): number {
    return this.resident;
  }

  /** The imports a rewritten module needs, with this instance's own data-segment state. */
  importsFor(rewrite: RewriteResult): Record<string, WebAssembly.ImportValue> {
    if (this.capacity < minCapacityFor(rewrite)) {
      throw new RangeError(
        `a resident capacity of ${this.capacity} pages is too small for this module: its loops pin up to ${rewrite.stats.pinSlots} pairs of pages, so it needs at least ${minCapacityFor(rewrite)} pages`,
      );
    }
    const segments = rewrite.segments.map((s) => rewrite.binary.subarray(s.start, s.start + s.length));
    const dropped = segments.map(() => false);
    return {
      memory: this.memory,
      fault: (addr: number, offset: number, info: number) => this.fault(addr, offset, info),
      grow: (delta: number) => this.grow(delta),
      fill: (d: number, value: number, n: number) => this.fill(d, value, n),
      copy: (d: number, s: number, n: number) => this.copy(d, s, n),
      init: (d: number, s: number, n: number, seg: number) => {
        this.init(d, s, n, dropped[seg] ? new Uint8Array(0) : segments[seg]!);
      },
      drop: (seg: number) => {
        dropped[seg] = true;
      },
      range: (lo: number, hi: number, info: number) => this.range(lo, hi, info),
    };
  }

  // --- the rewritten code's calls ---------------------------------------------------------------

  /**
   * Slow path of one access of `info & FAULT_SIZE_MASK` bytes at addr + offset; a store when
   * FAULT_WRITE.
   */
  fault(addr: number, offset: number, info: number): void {
    this.stats.faults++;
    const ea = (addr >>> 0) + (offset >>> 0);
    const size = info & FAULT_SIZE_MASK;
    const write = (info & FAULT_WRITE) !== 0;
    const pages = this.guestBytes >>> PAGE_SHIFT;
    const first = Math.floor(ea / PAGE_SIZE);
    if (info & FAULT_PAIR) {
      // A hoisted check: the accesses it serves lie in this page and the next.
      if (first < pages) this.ensure(first, Math.min(first + 1, pages - 1), write);
      return;
    }
    if (ea + size > pages * PAGE_SIZE) return; // out of bounds: the access itself traps
    // The pages the access touches, no more: the rewritten check serves an access inside a page
    // whose own tag allows it without calling here, so a neighbour never costs a fill.
    const last = Math.floor((ea + size - 1) / PAGE_SIZE);
    if (first === last && this.streamNext === first && this.streamRun(first, pages, write)) return;
    this.streamNext = last + 1;
    this.runPages = FIRST_RUN_PAGES;
    this.ensure(first, last, write);
  }

  /**
   * A miss on the page after the last filled: fills a run from `first` (up to the stream's run
   * length, the pages not resident, a quarter of the capacity) in one call of the backing. False
   * when the page needs no fill or a run brings nothing over one page.
   */
  private streamRun(first: number, pages: number, write: boolean): boolean {
    const tags = this.view();
    if (tags[first]! & TAG_RESIDENT || this.clock[first]! & CLOCK_TRAPPED) return false;
    const n = this.runLength(first, Math.min(first + this.runPages, pages));
    if (n < 2) return false;
    this.fillRun(first, n, false);
    this.clock[first] = CLOCK_REF; // the faulting access; the rest of the run has no reference yet
    if (write) tags[first]! |= TAG_DIRTY;
    for (let p = Math.max(first - 1, 0); p < first + n; p++) this.pairBits(p);
    this.streamNext = first + n;
    this.runPages = Math.min(2 * this.runPages, this.batchPages);
    return true;
  }

  /**
   * Before a counted loop (check-elimination.ts): makes guest bytes [lo, hi) resident (dirty when
   * RANGE_WRITE) and pins them in slot `info & 0xff`, if they fit beside what is pinned already.
   * Returns 1 when the loop may skip the checks of that access, 0 when it must keep them.
   */
  range(lo: number, hi: number, info: number): number {
    const slot = info & 0xff;
    const write = (info & RANGE_WRITE) !== 0;
    if (info & RANGE_FIRST) for (let k = FIRST_RANGE_SLOT; k < PIN_SLOT_COUNT; k++) clearSlot(this.bytes, k);
    if (hi <= lo) return 1;
    if (hi > this.guestBytes) return 0; // the loop may trap: let every access check itself
    const first = Math.floor(lo / PAGE_SIZE);
    const last = Math.floor((hi - 1) / PAGE_SIZE);
    const need = write ? TAG_DIRTY : TAG_RESIDENT;
    const tags = this.view();
    let missing = false;
    for (let p = first; p <= last && !missing; p++) missing = (tags[p]! & need) === 0;
    if (missing) {
      // Pins never take the whole resident set: whatever ranges hold, there stays room for every
      // pair slot, every small range pinned from Wasm, the two pages of a faulting access, and two
      // more to choose a victim from.
      const reserve = 4 + 2 * MAX_PIN_SLOTS + 2 * MAX_RANGE_ACCESSES;
      if (last - first + 1 > this.capacity - reserve - rangePinnedPages(this.bytes, slot)) return 0;
      this.stats.faults++;
      setSlot(this.bytes, slot, first, last); // pinned first, so that its own fills never evict each other
      for (let p = first; p <= last; p++) {
        if (tags[p]! & TAG_RESIDENT) continue;
        if (this.clock[p]! & CLOCK_TRAPPED) {
          this.untrap(p);
          continue;
        }
        const n = this.runLength(p, last + 1);
        if (n > 1) this.fillRun(p, n, true);
        else this.bringIn(p, first, last);
      }
      if (write) for (let p = first; p <= last; p++) tags[p]! |= TAG_DIRTY;
      // Once the whole range is in: a page's pair bits depend on the next page. Left off, they
      // would send every later access of the range's pages through the slow branch.
      for (let p = Math.max(first - 1, 0); p <= last; p++) this.pairBits(p);
    } else {
      setSlot(this.bytes, slot, first, last);
    }
    return 1;
  }

  grow(delta: number): number {
    delta >>>= 0;
    const before = this.guestBytes / WASM_PAGE_SIZE;
    if (before + delta > this.maxGuestPages) return -1;
    try {
      this.memory.grow(delta);
    } catch {
      return -1;
    }
    this.bytes = new Uint8Array(this.memory.buffer);
    const pages = this.guestBytes / PAGE_SIZE;
    if (pages > this.clock.length) {
      // Doubling: a guest that grows a Wasm page at a time copies the bits O(log n) times, not n.
      const clock = new Uint8Array(Math.max(pages, 2 * this.clock.length));
      clock.set(this.clock);
      this.clock = clock;
    }
    // The old last page has a next page now, not resident: its pair bits change.
    const lastPage = (before * WASM_PAGE_SIZE) / PAGE_SIZE - 1;
    if (delta > 0 && lastPage >= 0) this.retag(lastPage);
    return before;
  }

  fill(d: number, value: number, n: number): void {
    d >>>= 0;
    n >>>= 0;
    if (d + n > this.guestBytes) oob();
    this.stats.bulkOps++;
    for (let pos = d, end = d + n; pos < end; ) {
      const page = Math.floor(pos / PAGE_SIZE);
      const stop = Math.min(end, (page + 1) * PAGE_SIZE);
      this.ensure(page, page, true);
      this.bytes.fill(value & 0xff, BASE + pos, BASE + stop);
      pos = stop;
    }
  }

  /** memmove semantics: chunks never cross a page on either side, in the safe direction. */
  copy(d: number, s: number, n: number): void {
    d >>>= 0;
    s >>>= 0;
    n >>>= 0;
    const size = this.guestBytes;
    if (s + n > size || d + n > size) oob();
    this.stats.bulkOps++;
    if (n === 0 || d === s) {
      if (n > 0) this.touchRange(d, n); // the target becomes dirty as a real store would make it
      return;
    }
    if (d < s) {
      for (let pos = 0; pos < n; ) {
        const chunk = Math.min(PAGE_SIZE - ((s + pos) % PAGE_SIZE), PAGE_SIZE - ((d + pos) % PAGE_SIZE), n - pos);
        this.copyChunk(d + pos, s + pos, chunk);
        pos += chunk;
      }
    } else {
      for (let pos = n; pos > 0; ) {
        const chunk = Math.min(((s + pos - 1) % PAGE_SIZE) + 1, ((d + pos - 1) % PAGE_SIZE) + 1, pos);
        pos -= chunk;
        this.copyChunk(d + pos, s + pos, chunk);
      }
    }
  }

  init(d: number, s: number, n: number, segment: Uint8Array): void {
    d >>>= 0;
    s >>>= 0;
    n >>>= 0;
    if (s + n > segment.length || d + n > this.guestBytes) oob();
    this.stats.bulkOps++;
    this.writeChunks(d, segment.subarray(s, s + n));
  }

  // --- host access to guest memory ---------------------------------------------------------------

  /** Reads guest memory through the MMU (faulting pages in as needed). */
  read(gva: number, len: number): Uint8Array {
    this.checkHostRange(gva, len);
    const out = new Uint8Array(len);
    for (let pos = 0; pos < len; ) {
      const page = Math.floor((gva + pos) / PAGE_SIZE);
      const chunk = Math.min(len - pos, (page + 1) * PAGE_SIZE - (gva + pos));
      this.ensure(page, page, false);
      out.set(this.bytes.subarray(BASE + gva + pos, BASE + gva + pos + chunk), pos);
      pos += chunk;
    }
    return out;
  }

  /** Writes guest memory through the MMU. */
  write(gva: number, data: Uint8Array): void {
    this.checkHostRange(gva, data.length);
    this.writeChunks(gva, data);
  }

  /**
   * Declares guest pages [first, first + count) shared with the host (docs/architecture.md, "The
   * path of one memory access"): they become resident with their current contents, stay so, and
   * are never encrypted, verified, evicted or written back; they do not count against the
   * capacity. The host reads and writes them directly (sharedView).
   */
  share(first: number, count: number): void {
    this.checkPages(first, count);
    const tags = this.view();
    for (let p = first; p < first + count; p++) {
      if (tags[p]! & TAG_SHARED) continue;
      if (this.clock[p]! & CLOCK_TRAPPED) this.untrap(p);
      this.clock[p] = 0;
      if (tags[p]! & TAG_RESIDENT) this.removeFromRing(p);
      else {
        const at = BASE + p * PAGE_SIZE;
        if (this.backing.load(p, this.bytes.subarray(at, at + PAGE_SIZE))) this.stats.fills++;
      }
      tags[p] = TAG_RESIDENT | TAG_DIRTY | TAG_SHARED;
      this.retag(p);
    }
  }

  /** Makes shared pages private again: they join the resident set (dirty), which may evict others. */
  unshare(first: number, count: number): void {
    this.checkPages(first, count);
    const tags = this.view();
    for (let p = first; p < first + count; p++) {
      if (!(tags[p]! & TAG_SHARED)) continue;
      tags[p] = 0;
      this.bringIn(p, p, p, false);
      tags[p] = TAG_RESIDENT | TAG_DIRTY;
      this.clock[p] = CLOCK_REF;
      this.retag(p);
    }
  }

  /** The host's direct view of a shared page (throws if the page is not shared). */
  sharedView(page: number): Uint8Array {
    if (!(this.view()[page]! & TAG_SHARED)) throw new RangeError(`guest page ${page} is not shared`);
    return this.bytes.subarray(BASE + page * PAGE_SIZE, BASE + (page + 1) * PAGE_SIZE);
  }

  /** Writes every dirty resident page back; they stay resident, clean. */
  flush(): void {
    this.view();
    for (let i = 0; i < this.resident; i++) {
      const page = this.ring[i]!;
      if (this.isDirty(page)) {
        this.writeBack(page);
        this.markClean(page);
      }
    }
  }

  /** Evicts every resident page (dirty ones are written back). */
  evictAll(): void {
    for (let i = 0; i < this.resident; i++) this.evict(this.ring[i]!);
    this.resident = 0;
    this.hand = 0;
  }

  /** Tag byte of a guest page (for tests and tools): 0 for a page CLOCK trapped, until its next access. */
  tagOf(page: number): number {
    return this.view()[page]!;
  }

  /** Whether the page holds its plaintext in the resident set (trapped or not). */
  isResident(page: number): boolean {
    return (this.view()[page]! & TAG_RESIDENT) !== 0 || (this.clock[page]! & CLOCK_TRAPPED) !== 0;
  }

  // --- residency -------------------------------------------------------------------------------

  private view(): Uint8Array {
    // A grow detaches the old buffer (length 0); the guest can only grow through grow(), but
    // a host holding the memory object may grow it too.
    if (this.bytes.length === 0) this.bytes = new Uint8Array(this.memory.buffer);
    return this.bytes;
  }

  private checkHostRange(gva: number, len: number): void {
    if (!Number.isInteger(gva) || !Number.isInteger(len) || gva < 0 || len < 0 || gva + len > this.guestBytes) {
      throw new RangeError(`guest range [${gva}, ${gva}+${len}) is outside the guest memory of ${this.guestBytes} bytes`);
    }
  }

  private writeChunks(d: number, data: Uint8Array): void {
    for (let pos = 0; pos < data.length; ) {
      const page = Math.floor((d + pos) / PAGE_SIZE);
      const chunk = Math.min(data.length - pos, (page + 1) * PAGE_SIZE - (d + pos));
      this.ensure(page, page, true);
      this.bytes.set(data.subarray(pos, pos + chunk), BASE + d + pos);
      pos += chunk;
    }
  }

  private touchRange(d: number, n: number): void {
    for (let page = Math.floor(d / PAGE_SIZE); page * PAGE_SIZE < d + n; page++) this.ensure(page, page, true);
  }

  private copyChunk(d: number, s: number, n: number): void {
    const dp = Math.floor(d / PAGE_SIZE);
    const sp = Math.floor(s / PAGE_SIZE);
    this.ensurePair(sp, false, dp, true);
    this.bytes.copyWithin(BASE + d, BASE + s, BASE + s + n);
  }

  /** Makes pages first..last (at most two) resident together; dirty when `write`. */
  private ensure(first: number, last: number, write: boolean): void {
    const tags = this.view();
    for (let p = first; p <= last; p++) {
      if (!(tags[p]! & TAG_RESIDENT)) this.present(p, first, last);
      if (write) tags[p]! |= TAG_DIRTY;
    }
    for (let p = first; p <= last; p++) this.retag(p);
  }

  /** A page whose tag says not resident: a soft fault when CLOCK trapped it, else a fill. */
  private present(page: number, pinA: number, pinB: number): void {
    if (this.clock[page]! & CLOCK_TRAPPED) this.untrap(page);
    else this.bringIn(page, pinA, pinB);
  }

  /** A soft fault: the page's tag back as the trap found it, and its reference bit set. */
  private untrap(page: number): void {
    this.bytes[page] = TAG_RESIDENT | (this.clock[page]! & CLOCK_DIRTY ? TAG_DIRTY : 0);
    this.clock[page] = CLOCK_REF;
    this.stats.softFaults++;
  }

  /** The hand passes a page referenced since its last pass: it stays, with its tag cleared. */
  private trap(page: number): void {
    this.clock[page] = CLOCK_TRAPPED | (this.bytes[page]! & TAG_DIRTY ? CLOCK_DIRTY : 0);
    this.bytes[page] = 0;
    this.retag(page);
  }

  private isDirty(page: number): boolean {
    return (this.bytes[page]! & TAG_DIRTY) !== 0 || (this.clock[page]! & CLOCK_DIRTY) !== 0;
  }

  /** A dirty page just written back: clean, in its tag or in what its trap keeps. */
  private markClean(page: number): void {
    if (this.clock[page]! & CLOCK_TRAPPED) this.clock[page]! &= ~CLOCK_DIRTY;
    else {
      this.bytes[page]! &= ~TAG_DIRTY;
      this.retag(page);
    }
  }

  /** Two possibly distant pages resident together (a copy's source and target). */
  private ensurePair(a: number, writeA: boolean, b: number, writeB: boolean): void {
    const tags = this.view();
    if (!(tags[a]! & TAG_RESIDENT)) this.present(a, a, b);
    if (!(tags[b]! & TAG_RESIDENT)) this.present(b, a, b);
    if (writeA) tags[a]! |= TAG_DIRTY;
    if (writeB) tags[b]! |= TAG_DIRTY;
    this.retag(a);
    this.retag(b);
  }

  private checkPages(first: number, count: number): void {
    const pages = this.guestBytes / PAGE_SIZE;
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > pages) {
      throw new RangeError(`guest pages [${first}, ${first}+${count}) are outside the guest memory of ${pages} pages`);
    }
  }

  private removeFromRing(page: number): void {
    const at = this.ring.subarray(0, this.resident).indexOf(page);
    if (at < 0) return;
    // Keep the ring's order: close the gap, and move the hand back if it was past the gap.
    this.ring.copyWithin(at, at + 1, this.resident);
    this.resident--;
    if (this.hand > at) this.hand--;
    if (this.hand >= this.resident) this.hand = 0;
  }

  /**
   * Brings `page` in (loading it from the backing unless `load` is false), never evicting pinA or
   * pinB. The page takes its resident slot only once the backing has filled it: a refused load
   * leaves it out of the set, its Wasm page all zeroes.
   */
  private bringIn(page: number, pinA: number, pinB: number, load = true): void {
    const full = this.resident === this.capacity;
    if (full) {
      const at = this.victimSlot(pinA, pinB, []);
      this.hand = at; // the page takes the victim's slot below
      const victim = this.ring[at]!;
      if (this.isDirty(victim) && this.cleanAhead > 1 && this.backing.storeMany) this.writeBackAhead(victim, at + 1, pinA, pinB);
      this.evict(victim);
    }
    if (load) {
      const at = BASE + page * PAGE_SIZE;
      if (this.backing.load(page, this.bytes.subarray(at, at + PAGE_SIZE))) this.stats.fills++;
      else this.stats.zeroFills++; // never stored: its contents are the zeroes already there
      this.bytes[page] = TAG_RESIDENT;
      this.clock[page] = CLOCK_REF; // the faulting access
    }
    if (full) {
      this.ring[this.hand] = page;
      this.hand = (this.hand + 1) % this.capacity;
    } else {
      this.ring[this.resident++] = page;
    }
  }

  /**
   * How many pages from `first` (not resident) before `end` one fill run can bring in: they are
   * not resident, at most batchPages and a quarter of the capacity, and a run takes free slots
   * only or victims only (a ring part full has no stale slot to evict). 1 when runs are off.
   */
  private runLength(first: number, end: number): number {
    if (this.batchPages === 1 || !this.backing.loadRun) return 1;
    const room = this.resident < this.capacity ? this.capacity - this.resident : this.capacity >>> 2;
    const most = Math.min(end - first, this.batchPages, room);
    const tags = this.bytes;
    let n = 1;
    while (n < most && !(tags[first + n]! & TAG_RESIDENT) && !(this.clock[first + n]! & CLOCK_TRAPPED)) n++;
    return n;
  }

  /**
   * Brings the n non-resident pages first..first+n-1 in with one call of the backing: n victims
   * leave first (their dirty ones written back in one call), then the run fills. Only then do the
   * pages take their slots, so that a refused run leaves none of them resident. `referenced`: the
   * guest is about to access all of them (a loop's range), so each gets its reference bit.
   */
  private fillRun(first: number, n: number, referenced: boolean): void {
    const slots: number[] = [];
    const victims: number[] = [];
    const free = this.resident < this.capacity;
    for (let k = 0; k < n; k++) {
      if (free) {
        slots.push(this.resident + k);
        continue;
      }
      const at = this.victimSlot(-1, -1, victims);
      victims.push(this.ring[at]!);
      slots.push(at);
    }
    this.writeBackAll(victims.filter((p) => this.isDirty(p)));
    for (const v of victims) this.scrub(v);
    const at = BASE + first * PAGE_SIZE;
    this.backing.loadRun!(first, n, this.bytes.subarray(at, at + n * PAGE_SIZE), this.stored);
    this.stats.fillRuns++;
    for (let k = 0; k < n; k++) {
      if (this.stored[k]) this.stats.fills++;
      else this.stats.zeroFills++;
      this.bytes[first + k] = TAG_RESIDENT;
      this.clock[first + k] = referenced ? CLOCK_REF : 0;
      const slot = slots[k]!;
      this.ring[slot] = first + k;
    }
    if (free) this.resident += n;
  }

  /**
   * The ring slot of the next victim from the hand on: never pinA, pinB, a pinned page, or one
   * already chosen (`taken`); under CLOCK never a page referenced since the hand last passed it.
   * Moves the hand past it.
   */
  private victimSlot(pinA: number, pinB: number, taken: readonly number[]): number {
    const clock = this.replacement === "clock";
    let victim = this.ring[this.hand]!;
    // CLOCK: a referenced page is trapped and passed over; after one revolution none is referenced.
    for (let tries = 0; ; tries++) {
      if (tries > 2 * this.capacity) {
        throw new WasmError(`all ${this.capacity} resident pages are pinned: the resident capacity is too small`);
      }
      const held = victim === pinA || victim === pinB || isPinned(this.bytes, victim) || taken.includes(victim);
      if (!held && !(clock && this.clock[victim]! & CLOCK_REF)) break;
      if (!held) this.trap(victim);
      this.hand = (this.hand + 1) % this.capacity;
      victim = this.ring[this.hand]!;
    }
    const at = this.hand;
    this.hand = (this.hand + 1) % this.capacity;
    return at;
  }

  /**
   * A dirty victim is written back together with the next dirty pages the hand will reach (up to
   * cleanAhead in all): they stay resident, clean. A pinned page stays dirty, since a loop whose
   * checks were eliminated may store to it without faulting; so do pinA and pinB, the pages of
   * the access being served, which it may store to once this fault returns.
   */
  private writeBackAhead(victim: number, from: number, pinA: number, pinB: number): void {
    const batch = [victim];
    // Only the pages the hand reaches next: a set with few dirty pages must not cost a scan of
    // the whole ring on every dirty eviction.
    const window = Math.min(this.resident - 1, 4 * this.cleanAhead);
    for (let i = 0; batch.length < this.cleanAhead && i < window; i++) {
      const page = this.ring[(from + i) % this.resident]!;
      if (this.isDirty(page) && page !== pinA && page !== pinB && !isPinned(this.bytes, page)) batch.push(page);
    }
    this.writeBackAll(batch);
    for (const page of batch) this.markClean(page);
  }

  /** Writes the dirty pages back: one call of the backing when it takes batches. */
  private writeBackAll(pages: readonly number[]): void {
    if (pages.length === 0) return;
    if (pages.length === 1 || !this.backing.storeMany) {
      for (const p of pages) this.writeBack(p);
      return;
    }
    this.backing.storeMany(pages, pages.map((p) => this.bytes.subarray(BASE + p * PAGE_SIZE, BASE + (p + 1) * PAGE_SIZE)));
    this.stats.writeBacks += pages.length;
    this.stats.writeBackBatches++;
  }

  private writeBack(page: number): void {
    const at = BASE + page * PAGE_SIZE;
    this.backing.store(page, this.bytes.subarray(at, at + PAGE_SIZE));
    this.stats.writeBacks++;
  }

  private evict(page: number): void {
    if (this.isDirty(page)) this.writeBack(page);
    this.scrub(page);
  }

  /** A page leaves the set, written back already: its plaintext scrubbed, its tag cleared. */
  private scrub(page: number): void {
    const tags = this.bytes;
    const at = BASE + page * PAGE_SIZE;
    tags.fill(0, at, at + PAGE_SIZE); // scrub the plaintext
    tags[page] = 0;
    this.clock[page] = 0;
    if (page > 0) this.retag(page - 1);
    this.stats.evictions++;
  }

  /** Recomputes the pair bits of `page` and of the page before it. */
  private retag(page: number): void {
    this.pairBits(page);
    if (page > 0) this.pairBits(page - 1);
  }

  private pairBits(page: number): void {
    const tags = this.bytes;
    let t = tags[page]! & (TAG_RESIDENT | TAG_DIRTY | TAG_SHARED);
    if (t & TAG_RESIDENT) {
      // Past the end of memory counts as present: an access crossing into it traps by itself.
      const next = page + 1 < (tags.length - BASE) / PAGE_SIZE ? tags[page + 1]! : TAG_RESIDENT | TAG_DIRTY;
      if (next & TAG_RESIDENT) t |= TAG_PAIR_RESIDENT;
      if (t & TAG_DIRTY && next & TAG_DIRTY) t |= TAG_PAIR_DIRTY;
    }
    tags[page] = t;
  }
}
