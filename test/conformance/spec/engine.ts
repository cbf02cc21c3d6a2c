// How a spec run loads modules: natively (the module as given) or through the rewriter and the
// software MMU. The script runner is the same for both; only these operations differ.

import type { MmuStats } from "../../../host/wasm/mmu";

export interface Engine {
  readonly name: "native" | "rewritten";
  /** The memory that `spectest.memory` exports in this run. */
  createSpectestMemory(): WebAssembly.Memory;
  /** Compiles without instantiating; throws when the module is rejected. */
  compile(bytes: Uint8Array): Promise<void>;
  /** Compiles and instantiates; throws what compilation, linking or the start function throws. */
  instantiate(bytes: Uint8Array, imports: WebAssembly.Imports): Promise<WebAssembly.Exports>;
  /** Whether an error thrown by compile/instantiate means "this module is rejected". */
  isRejection(e: unknown): boolean;
  /** MMU activity so far, summed over every MMU of the run (all zero for the native engine). */
  totals(): MmuStats;
}

export const noMmuActivity = (): MmuStats => ({
  faults: 0,
  fills: 0,
  zeroFills: 0,
  evictions: 0,
  writeBacks: 0,
  bulkOps: 0,
  fillRuns: 0,
  writeBackBatches: 0,
  softFaults: 0,
});
