// What a rewrite takes and gives (rewrite.ts): its options, and the rewritten binary with what the
// MMU needs to know of it (the guest's memory limits, the data segments it writes at start).

export interface MemoryInfo {
  /** Guest-visible limits, in Wasm pages. */
  initial: number;
  maximum: number | null;
  /** Where the original module imported its memory from, if it did. */
  imported: { module: string; name: string } | null;
}

export interface SegmentInfo {
  /** Byte range of the segment's contents inside the rewritten binary. */
  start: number;
  length: number;
  /** Was active in the original (and is therefore dropped once instantiation is done). */
  active: boolean;
}

export interface RewriteStats {
  inputBytes: number;
  outputBytes: number;
  /** Loads and stores given a check. */
  accesses: number;
  /** memory.copy/fill/init sent to the host. */
  bulk: number;
  /** Checks hoisted out of loops (each serves one or more accesses). */
  hoisted: number;
  /** Accesses in counted loops whose check a range check before the loop can make unnecessary. */
  ranged: number;
  /** Most pin slots one function uses: the MMU keeps 2 pages per slot out of eviction. */
  pinSlots: number;
  functions: number;
  milliseconds: number;
}

export interface RewriteOptions {
  /**
   * Meter the guest (docs/architecture.md, "Errors and stops"): an exported i64 global
   * (FUEL_EXPORT) is decremented at every function entry and loop header; when it reaches zero the
   * guest calls `__mmu.outOfFuel`, which stops it. The start function sets it from
   * `__mmu.fuelInit()` before anything runs.
   */
  fuel?: boolean;
}

export interface RewriteResult {
  binary: Uint8Array;
  /** null: the module has no memory and passes through unchanged. */
  memory: MemoryInfo | null;
  segments: SegmentInfo[];
  stats: RewriteStats;
}
