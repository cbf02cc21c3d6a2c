// An enclave's monotonic counters, kept by the secure processor in its persistent state, so that
// they survive restarts and the untrusted host cannot lower them: per enclave measurement on a
// platform, one unnamed counter and any number of named ones (up to MAX_COUNTER_NAME bytes of name,
// chosen by the guest: kv names one per store instance, so that two stores of the same enclave on
// one platform never share a counter). Sealed snapshots carry a counter's next value; a snapshot
// whose value is below it is a rollback.
import { createHash } from "node:crypto";
import type { SecureProcessor } from "../sev/secure-processor";
import { MAX_COUNTER_NAME } from "./abi-constants";
import { MEASUREMENT_BYTES, toHex } from "./measurement";

/** Bytes of the measurement in the counter's name (192 bits: the state's names are at most 64 characters). */
const NAME_BYTES = 24;

export interface EnclaveCounter {
  /** The unnamed counter's name in the secure processor's state. */
  readonly name: string;
  /** The counter named `instance` (none: the unnamed one). */
  read(instance?: Uint8Array): number;
  /** Raises it to `to`; false (and no change) if `to` is below it or not a whole number from 0 to 2^53 - 1. */
  advance(to: number, instance?: Uint8Array): boolean;
}

/**
 * A counter's name in the secure processor's state: for the unnamed counter, the measurement's
 * first 24 bytes; for a named one, the first 24 bytes of SHA-256(measurement | instance name), so
 * that every name fits the state's 64 characters and no two meet.
 */
export function counterName(measurement: Uint8Array, instance: Uint8Array = new Uint8Array(0)): string {
  if (measurement.length !== MEASUREMENT_BYTES) throw new RangeError(`an enclave measurement is ${MEASUREMENT_BYTES} bytes, got ${measurement.length}`);
  if (instance.length > MAX_COUNTER_NAME) throw new RangeError(`a counter's name is at most ${MAX_COUNTER_NAME} bytes, got ${instance.length}`);
  if (instance.length === 0) return `enclave-${toHex(measurement.subarray(0, NAME_BYTES))}`;
  const digest = createHash("sha256").update(measurement).update(instance).digest();
  return `instance-${toHex(digest.subarray(0, NAME_BYTES))}`;
}

export function enclaveCounter(sp: SecureProcessor, measurement: Uint8Array): EnclaveCounter {
  const named = (instance?: Uint8Array) => counterName(measurement, instance);
  return {
    name: named(),
    read: (instance) => sp.counterRead(named(instance)),
    advance(to, instance) {
      const name = named(instance);
      if (!Number.isSafeInteger(to) || to < 0 || to < sp.counterRead(name)) return false;
      sp.counterAdvance(name, to);
      return true;
    },
  };
}
