// The subject: each module goes through the rewriter and runs on the software MMU with a resident
// capacity small enough that the spec scripts really fault, evict and write back.

import { instantiateGuest } from "../../../host/wasm/guest";
import { SoftMmu } from "../../../host/wasm/mmu";
import { rewriteModule, RewriteError } from "../../../host/wasm/rewrite";
import { noMmuActivity, type Engine } from "./engine";
import { SPECTEST_MEMORY } from "./spectest";

/** Resident pages (4 KiB) of each MMU in the rewritten spec run. */
export const SPEC_CAPACITY_PAGES = 4;

export function rewrittenEngine(capacityPages = SPEC_CAPACITY_PAGES): Engine {
  // Several guests can share one MMU (an imported memory): count each MMU once.
  const mmus = new Set<SoftMmu>();
  return {
    name: "rewritten",
    createSpectestMemory: () => {
      const memory = SoftMmu.createMemory({ ...SPECTEST_MEMORY, capacityPages });
      mmus.add(SoftMmu.of(memory)!);
      return memory;
    },
    compile: async (bytes) => {
      await WebAssembly.compile(rewriteModule(bytes).binary as BufferSource);
    },
    instantiate: async (bytes, imports) => {
      // No rewrite cache: thousands of one-off script modules would only fill it.
      const guest = await instantiateGuest(bytes, imports, { rewrite: true, capacityPages, atLeastModuleMinimum: true, cache: false });
      if (guest.mmu) mmus.add(guest.mmu);
      return guest.instance.exports;
    },
    isRejection: (e) => e instanceof RewriteError || e instanceof WebAssembly.CompileError,
    totals: () => {
      const sum = noMmuActivity();
      for (const mmu of mmus) for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += mmu.stats[k];
      return sum;
    },
  };
}
