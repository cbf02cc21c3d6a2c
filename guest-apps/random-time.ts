// Random bytes and untrusted time: the app draws a nonce with randomBytes and reads the host's
// clock with untrustedTimeMs, and logs only what is safe to show: the length of the nonce, whether
// it is all zero, whether two draws differ, and whether the clock looks sane.
import { log, randomBytes, untrustedTimeMs } from "../assembly";

function allZero(b: Uint8Array): bool {
  for (let i = 0; i < b.byteLength; i++) if (b[i] != 0) return false;
  return true;
}

function equal(a: Uint8Array, b: Uint8Array): bool {
  if (a.byteLength != b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] != b[i]) return false;
  return true;
}

export function _start(): void {
  const a = randomBytes(32);
  const b = randomBytes(32);
  log(`nonce: ${a.byteLength} bytes, ${allZero(a) ? "all zero" : "not all zero"}`);
  log(equal(a, b) ? "two draws are equal" : "two draws differ");
  // The host may report any time at all: the app only uses it for a log line.
  const t = untrustedTimeMs();
  log(t > 1.6e12 ? "untrusted clock: after 2020" : "untrusted clock: implausible");
}

/** Fills a fresh buffer of `n` random bytes and returns where it is (for the host's tests). */
export function randomAt(n: i32): usize {
  return randomBytes(n).dataStart;
}

/** The host's clock as the guest sees it. */
export function now(): f64 {
  return untrustedTimeMs();
}

/** Spins forever: a runaway guest, for the fuel limit. */
export function spin(): void {
  let x: u32 = 1;
  while (x != 0) x = x * 1664525 + 1013904223 | 1;
}

/** Fails an assertion with a message, as an app's bug would. */
export function fail(): void {
  assert(false, "the vault is empty");
}

/** Traps with unreachable, as a corrupted guest would. */
export function crash(): void {
  unreachable();
}
