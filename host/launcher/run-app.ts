// Launches enclaves through the backend of their kind (backend.ts), and runs run-to-completion
// apps: launch, `_start`, tear down.
import type { EnclaveStats } from "../enclavisor/enclave-stats";
import type { Enclave, LaunchOptions } from "./backend";
import { backendFor } from "./backends/registry";

/** Launches an enclave with the backend its switches name; `_start` is not called yet. */
export function launchEnclave(bytes: Uint8Array, options: LaunchOptions): Promise<Enclave> {
  return backendFor(options.switches.kind).launch(bytes, options);
}

export interface RunResult {
  output: string[];
  stats: EnclaveStats;
  milliseconds: number;
}

/** Launches the app, runs `_start`, and tears it down; throws what stopped the guest (an EnclaveStopped). */
export async function runApp(bytes: Uint8Array, options: LaunchOptions): Promise<RunResult> {
  const t0 = performance.now();
  const enclave = await launchEnclave(bytes, options);
  try {
    enclave.start();
    return { output: enclave.output, stats: enclave.stats(), milliseconds: performance.now() - t0 };
  } finally {
    enclave.destroy();
  }
}
