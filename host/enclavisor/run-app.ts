// Runs a run-to-completion enclave app: instantiate (rewritten through the software MMU, or
// natively as the baseline), call `_start` if it is exported, and collect its output.
import { instantiateGuest } from "../wasm/guest";
import type { MmuStats } from "../wasm/mmu";
import { abiImports } from "./guest-abi";

export interface RunOptions {
  /** false runs the module as given, without the software MMU. */
  protect: boolean;
  /** Resident capacity in 4 KiB pages. */
  capacityPages?: number;
  /** Receives each line as the guest logs it. */
  onLog?: (line: string) => void;
}

export interface RunResult {
  output: string[];
  stats: MmuStats | null;
  milliseconds: number;
}

export async function runApp(bytes: Uint8Array, options: RunOptions): Promise<RunResult> {
  const t0 = performance.now();
  const output: string[] = [];
  const host = {
    log: (line: string) => {
      output.push(line);
      options.onLog?.(line);
    },
  };
  const guest = await instantiateGuest(bytes, (memory) => abiImports(memory, host), {
    rewrite: options.protect,
    capacityPages: options.capacityPages,
  });
  const start = guest.instance.exports._start;
  if (typeof start === "function") (start as () => void)();
  return { output, stats: guest.mmu ? { ...guest.mmu.stats } : null, milliseconds: performance.now() - t0 };
}
