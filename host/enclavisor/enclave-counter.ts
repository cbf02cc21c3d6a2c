// An enclave's monotonic counter: one per enclave measurement on a platform, kept by the secure
// processor in its persistent state, so that it survives restarts and the untrusted host cannot
// lower it. Sealed snapshots carry the counter's next value; a snapshot whose value is below the
// counter is a rollback.
import type { SecureProcessor } from "../sev/secure-processor";
import { MEASUREMENT_BYTES, toHex } from "./measurement";

/** Bytes of the measurement in the counter's name (192 bits: the state's names are at most 64 characters). */
const NAME_BYTES = 24;

export interface EnclaveCounter {
  /** The counter's name in the secure processor's state. */
  readonly name: string;
  read(): number;
  /** Raises the counter to `to`; false (and no change) if `to` is below it or not a whole number from 0 to 2^53 - 1. */
  advance(to: number): boolean;
}

/** The counter's name for an enclave measurement. */
export function counterName(measurement: Uint8Array): string {
  if (measurement.length !== MEASUREMENT_BYTES) throw new RangeError(`an enclave measurement is ${MEASUREMENT_BYTES} bytes, got ${measurement.length}`);
  return `enclave-${toHex(measurement.subarray(0, NAME_BYTES))}`;
}

export function enclaveCounter(sp: SecureProcessor, measurement: Uint8Array): EnclaveCounter {
  const name = counterName(measurement);
  return {
    name,
    read: () => sp.counterRead(name),
    advance(to) {
      if (!Number.isSafeInteger(to) || to < 0 || to < sp.counterRead(name)) return false;
      sp.counterAdvance(name, to);
      return true;
    },
  };
}
