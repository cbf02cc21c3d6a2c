// The backend interface: one way to launch, measure, attest and count an enclave, whichever TEE
// model runs it. One implementation per model, one file each (backends/): native (the module as
// given, the baseline), sev (the SEV family through Enclavisor, host/enclavisor) and sgx (the SGX
// model, host/sgx). An Enclave is a union keyed on its kind, so that what only one model has (a VM,
// an EPC) is reached after a check of `kind`, never through a nullable field.
//
// What the host gets, and what it never gets: it launches and destroys enclaves, calls their
// exports, reads their counters and statistics, and asks for evidence of an enclave as launched.
// It never holds a sealing key or an unsealing call: sealing is the guest's own (the `enclave.seal`
// import), and a backend only says whether it offers it and to what the key is bound (features).
import type { GranularityName } from "../enclavisor/attestation";
import type { EnclaveStats } from "../enclavisor/enclave-stats";
import type { EnclavisorEnclave } from "../enclavisor/enclavisor";
import type { EnclaveKind, ProtectionSwitches } from "../enclavisor/protection";
import type { Platform } from "../sev/platform";
import type { EpcBacking } from "../sgx/epc-backing";
import type { SgxMachine } from "../sgx/machine";
import type { EnclaveStopped } from "../wasm/enclave-stopped";
import { BackendError } from "./launcher-error";

export interface LaunchOptions {
  switches: ProtectionSwitches;
  /** vm (the default), process or function: Enclavisor's granularities (the other backends run vm only). */
  granularity?: GranularityName;
  /** sev: the platform to launch on (default: one booted for these switches). */
  platform?: Platform;
  /** sev: the state directory of a platform booted here (see host/sev/platform.ts). */
  stateDir?: string;
  /** sgx: the machine to launch on (default: a new one with the switches' EPC). */
  machine?: SgxMachine;
  /** Most 4 KiB frames the enclave may take (sev only; default: no limit). Measured. */
  memoryLimitPages?: number;
  /**
   * Stop the guest after this many function entries and loop iterations (sev and sgx; default: no
   * limit). A host-side resource limit, like a timeout: it is not part of the measurement.
   */
  fuel?: number;
  /** Receives each line as the guest logs it. */
  onLog?: (line: string) => void;
}

/** What a backend offers the guest and the host; `why` says what is missing and where to find it. */
export type Feature = { readonly available: true; readonly binding: string } | { readonly available: false; readonly why: string };

export interface BackendFeatures {
  /** Evidence: the guest's attest() and the host's attest() of the enclave as launched. */
  readonly attestation: Feature;
  /** The guest's seal() and unseal(); `binding` says what the key is bound to. */
  readonly sealing: Feature;
  /** The guest's monotonic counter (rollback protection of sealed state). */
  readonly counter: Feature;
}

export interface EnclaveBackend {
  readonly kind: EnclaveKind;
  /** What an enclave with these switches gets. */
  features(switches: ProtectionSwitches): BackendFeatures;
  /** The measurement an enclave of these bytes and options reports (the offline `enclave measure`). */
  measure(bytes: Uint8Array, options: Pick<LaunchOptions, "switches" | "memoryLimitPages">): Uint8Array;
  /** Launches the enclave: its module instantiated, `_start` not yet called. */
  launch(bytes: Uint8Array, options: LaunchOptions): Promise<Enclave>;
}

/** What every enclave has, whatever its kind: the fields of Enclavisor's own, and the calls below. */
interface EnclaveCommon extends Pick<EnclavisorEnclave, "id" | "granularity" | "switches" | "measurement" | "guest" | "output"> {
  readonly features: BackendFeatures;
  /** Why the guest stopped, once it did; then it takes no more calls. */
  readonly stopped: EnclaveStopped | null;
  /** Calls an export; whatever stops the guest comes out as an EnclaveStopped (host/wasm/guest.ts). */
  call(name: string, ...args: (number | bigint)[]): unknown;
  /** Runs `_start` if the app exports one. */
  start(): void;
  /**
   * Evidence of the enclave as launched (host/enclavisor/evidence.ts): report data all zero, so
   * it binds the measurement and nothing else. BackendError UNSUPPORTED where the backend has none.
   */
  attest(): Promise<Uint8Array>;
  /** The monotonic counter's value (the one named `instance`, if given), or null where the backend has none. */
  counterValue(instance?: Uint8Array): number | null;
  stats(): EnclaveStats;
  /** Scrubs and frees the enclave's memory; the enclave is gone. */
  destroy(): void;
}

export interface NativeEnclave extends EnclaveCommon {
  readonly kind: "native";
}

export interface SevEnclave extends EnclaveCommon, Pick<EnclavisorEnclave, "platform" | "vm" | "memory" | "tree" | "nodeStore" | "macStore" | "attester" | "attestedTls"> {
  readonly kind: "sev";
}

export interface SgxEnclave extends EnclaveCommon {
  readonly kind: "sgx";
  readonly machine: SgxMachine;
  readonly memory: EpcBacking;
}

export type Enclave = NativeEnclave | SevEnclave | SgxEnclave;

/** A feature the backend offers, with what it is bound to. */
export function offered(binding: string): Feature {
  return { available: true, binding };
}

/** A feature the backend lacks, with why. */
export function missing(why: string): Feature {
  return { available: false, why };
}

/** The refusal of a call for a feature the backend lacks. */
export function unsupported(feature: Feature): BackendError {
  return new BackendError("UNSUPPORTED", feature.available ? "the feature is offered" : feature.why);
}

/**
 * Completes an enclave with the calls every backend shares: `stopped`, `call` and `start` go
 * through the guest's one stop latch (host/wasm/guest.ts).
 */
export function withGuestCalls<E extends Enclave>(fields: Omit<E, "stopped" | "call" | "start">): E {
  const guest = fields.guest;
  return Object.defineProperties(fields, {
    stopped: { get: () => guest.stopped, enumerable: true },
    call: { value: (name: string, ...args: (number | bigint)[]) => guest.call(name, ...args) },
    start: {
      value: () => {
        if (typeof guest.instance.exports._start === "function") guest.call("_start");
      },
    },
  }) as unknown as E;
}
