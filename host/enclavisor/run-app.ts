// Launches and runs run-to-completion enclave apps. A protected enclave goes through Enclavisor
// (enclavisor.ts) at its granularity: `vm` (its own SEV VM, the default), `process` (a slot of the
// platform's shared Enclavisor VM) or `function` (a copy-on-write clone of a template). Each
// platform has one Enclavisor, so enclaves launched on it share its VMs and templates. A native
// enclave is the module as given (the baseline), with no Enclavisor. `_start` is called if the app
// exports it.
import { instantiateGuest } from "../wasm/guest";
import type { GranularityName } from "./attestation";
import { EnclaveError } from "./enclave-error";
import { enclaveStats } from "./enclave-stats";
import type { EnclaveStats } from "./enclave-stats";
import { DEFAULT_GRANULARITY, Enclavisor } from "./enclavisor";
import type { Enclave } from "./enclavisor";
import { abiImports, collectingHost } from "./guest-abi";
import { measureEnclave } from "./measurement";
import { Platform } from "./platform";
import { launchSgxEnclave } from "./sgx-launch";
import { ProtectionError } from "./protection";
import type { ProtectionSwitches } from "./protection";

export type { Enclave } from "./enclavisor";

export interface EnclaveOptions {
  switches: ProtectionSwitches;
  /** vm (default), process or function (protected modes). */
  granularity?: GranularityName;
  /** The platform to launch on (protected modes); default: one booted for these switches. */
  platform?: Platform;
  /** State directory of a platform booted here (see platform.ts). */
  stateDir?: string;
  /** Most 4 KiB frames the enclave may take (protected modes; default: no limit). */
  memoryLimitPages?: number;
  /**
   * Stop the guest after this many function entries and loop iterations (protected modes; default:
   * no limit). A host-side resource limit, like a timeout: it is not part of the measurement.
   */
  fuel?: number;
  /** Receives each line as the guest logs it. */
  onLog?: (line: string) => void;
}

const enclavisors = new WeakMap<Platform, Enclavisor>();

/** The Enclavisor of a platform: one per platform, so its shared VM and templates serve every launch on it. */
export function enclavisorOf(platform: Platform): Enclavisor {
  let e = enclavisors.get(platform);
  if (!e) enclavisors.set(platform, (e = new Enclavisor(platform)));
  return e;
}

export async function launchEnclave(bytes: Uint8Array, options: EnclaveOptions): Promise<Enclave> {
  const { switches } = options;
  const granularity = options.granularity ?? DEFAULT_GRANULARITY;
  if (!switches.mmu) return launchNative(bytes, options, granularity);
  if (switches.epcPages > 0) return launchSgxEnclave(bytes, options); // the sgx preset: host/sgx's memory, no SEV VM
  const platform = options.platform ?? new Platform({ switches, stateDir: options.stateDir });
  const enclavisor = enclavisorOf(platform);
  const handle = enclavisor.create(bytes, {
    switches,
    granularity,
    memoryLimitPages: options.memoryLimitPages,
    fuel: options.fuel,
    onLog: options.onLog,
  });
  try {
    return await enclavisor.launch(handle);
  } catch (e) {
    enclavisor.destroy(handle);
    throw e;
  }
}

async function launchNative(bytes: Uint8Array, options: EnclaveOptions, granularity: GranularityName): Promise<Enclave> {
  const { switches } = options;
  if (options.memoryLimitPages !== undefined) {
    throw new ProtectionError("a memory limit needs the software MMU: a native run cannot count the pages it touches");
  }
  if (options.fuel !== undefined) {
    throw new ProtectionError("a fuel limit needs the software MMU's rewrite: a native run is not metered");
  }
  if (granularity !== "vm") {
    throw new EnclaveError("BAD_CONFIG", `granularity ${granularity} needs Enclavisor: a native run is the module as given, one per process`);
  }
  const { host, output } = collectingHost(options.onLog);
  const measurement = measureEnclave(bytes, { switches, memoryLimitPages: options.memoryLimitPages });
  const guest = await instantiateGuest(bytes, (memory) => abiImports(memory, host), { rewrite: false });
  return {
    id: 0, granularity, switches, measurement, guest, output,
    platform: null, vm: null, memory: null, tree: null, nodeStore: null, attester: null,
    stats: () => enclaveStats(null),
    destroy: () => {},
  };
}

export interface RunResult {
  output: string[];
  stats: EnclaveStats;
  milliseconds: number;
}

/** Launches the app, runs `_start`, and tears it down; throws what stopped the guest. */
export async function runApp(bytes: Uint8Array, options: EnclaveOptions): Promise<RunResult> {
  const t0 = performance.now();
  const enclave = await launchEnclave(bytes, options);
  try {
    const start = enclave.guest.instance.exports._start;
    if (typeof start === "function") (start as () => void)();
    return { output: enclave.output, stats: enclave.stats(), milliseconds: performance.now() - t0 };
  } finally {
    enclave.destroy();
  }
}
