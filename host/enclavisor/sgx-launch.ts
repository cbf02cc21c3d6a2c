// Launches an enclave under the `sgx` preset (issue 7): the module rewritten for the software MMU,
// paging through SgxEnclaveMemory on an SGX machine (host/sgx) instead of an SEV VM. One enclave per
// machine unless the caller passes one to share (its EPC is then shared, as on a real part).
//
// The preset models SGX's memory only: an sgx enclave has no sealing key, attestation or
// monotonic counter here (the guest's calls answer "unavailable"), and no memory limit.
//
// host/enclavisor -> host/sgx is a departure from DESIGN.md's layers: see sgx-enclave-memory.ts.
import { SgxMachine } from "../sgx/machine";
import { instantiateGuest } from "../wasm/guest";
import type { GranularityName } from "./attestation";
import { EnclaveError } from "./enclave-error";
import { enclaveStats } from "./enclave-stats";
import type { Enclave } from "./enclavisor";
import { abiImports, collectingHost } from "./guest-abi";
import { measureEnclave } from "./measurement";
import { ProtectionError } from "./protection";
import type { ProtectionSwitches } from "./protection";
import { SgxEnclaveMemory } from "./sgx-enclave-memory";

export interface SgxLaunchOptions {
  switches: ProtectionSwitches;
  granularity?: GranularityName;
  memoryLimitPages?: number;
  fuel?: number;
  onLog?: (line: string) => void;
  /** The machine to launch on (default: a new one with the switches' EPC size). */
  machine?: SgxMachine;
}

export interface SgxEnclave extends Enclave {
  readonly sgx: { readonly machine: SgxMachine; readonly memory: SgxEnclaveMemory };
}

export function isSgxEnclave(e: Enclave): e is SgxEnclave {
  return (e as Partial<SgxEnclave>).sgx !== undefined;
}

export async function launchSgxEnclave(bytes: Uint8Array, options: SgxLaunchOptions): Promise<SgxEnclave> {
  const { switches } = options;
  const granularity = options.granularity ?? "vm";
  if (switches.epcPages <= 0) throw new ProtectionError("an sgx enclave needs an EPC: the switches have epcPages 0");
  if (granularity !== "vm") {
    throw new EnclaveError("BAD_CONFIG", `granularity ${granularity} is Enclavisor's: an sgx enclave is one enclave with its own pages, as SGX runs it`);
  }
  if (options.memoryLimitPages !== undefined) throw new ProtectionError("a memory limit is not modelled in the sgx preset (the EPC size bounds what is resident)");
  const machine = options.machine ?? new SgxMachine({ epcPages: switches.epcPages, meeCacheNodes: switches.integrityCacheNodes });
  if (machine.epc.pages !== switches.epcPages) {
    throw new ProtectionError(`the machine's EPC holds ${machine.epc.pages} pages, but the switches ask for ${switches.epcPages}`);
  }
  const memory = new SgxEnclaveMemory(machine);
  const { host, output } = collectingHost(options.onLog);
  try {
    const measurement = measureEnclave(bytes, { switches });
    const guest = await instantiateGuest(bytes, (access) => abiImports(access, host), {
      fuel: options.fuel,
      rewrite: true,
      capacityPages: switches.cachePages,
      backing: memory,
    });
    const tree = machine.epc.tree.stats;
    const epc = machine.epc.counters;
    return {
      id: memory.id, granularity, switches, measurement, guest, output,
      platform: null, vm: null, memory: null, tree: null, nodeStore: null, attester: null,
      sgx: { machine, memory },
      // Encryption and tree counters are the machine's (its EPC may be shared); the rest are this enclave's.
      stats: () => enclaveStats(guest.mmu ? guest.mmu.stats : null,
        { framesAllocated: memory.counters.epcFrames, bytesEncrypted: epc.bytesEncrypted, bytesDecrypted: epc.bytesDecrypted },
        { nodesVerified: tree.nodesVerified, cacheHits: tree.cacheHits, cacheMisses: tree.cacheMisses, nodeWriteBacks: tree.nodesWritten, leafUpdates: 0 }),
      destroy: () => memory.release(),
    };
  } catch (e) {
    memory.release();
    throw e;
  }
}
