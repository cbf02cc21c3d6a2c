// The clock of expiry: the host's wall clock (untrustedTimeMs, UNTRUSTED: see kv.ts). It is read at
// most once per batch of requests, and only when a TTL needs it: each read is a call out to the host.
import { untrustedTimeMs } from "../../assembly/index";

let value: i64 = 0;
let fresh = false;

/** A new batch of requests (one on_data, a snapshot): the next now() reads the clock again. */
export function newBatch(): void {
  fresh = false;
}

/** The clock as last read (0 before the first read): a time without a call out, for what may be approximate (CLIENT LIST's idle). */
export function lastRead(): i64 {
  return value;
}

/** Milliseconds since the Unix epoch, by the host's clock, for the current batch. */
export function now(): i64 {
  if (!fresh) {
    value = <i64>untrustedTimeMs();
    fresh = true;
  }
  return value;
}
