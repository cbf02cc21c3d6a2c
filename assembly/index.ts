// The enclave SDK for AssemblyScript guests. Apps import from it with a plain relative import,
// e.g. `import { log } from "../assembly"`. The host serves these imports in the `enclave`
// namespace (docs/architecture.md, "The guest ABI"); their list is host/enclavisor/abi-table.ts,
// and the ABI's numbers come from their one source, host/enclavisor/abi-constants.ts.
import {
  ATTEST_DATA_BYTES as ABI_ATTEST_DATA_BYTES, CHANNEL_BINDING_BYTES as ABI_CHANNEL_BINDING_BYTES, MAX_COUNTER_NAME as ABI_MAX_COUNTER_NAME, MAX_RANDOM_BYTES as ABI_MAX_RANDOM_BYTES,
  MAX_SEAL_PLAINTEXT as ABI_MAX_SEAL_PLAINTEXT,
  SEAL_OVERHEAD as ABI_SEAL_OVERHEAD, SHARED_PAGE_SIZE as ABI_SHARED_PAGE_SIZE,
} from "../host/enclavisor/abi-constants";

// @ts-ignore: decorator
@external("enclave", "log")
declare function enclave_log(ptr: usize, len: i32): void;

/**
 * Writes one line to the enclave's output (`enclave run` prints it on stdout). The host sees the
 * text in clear, so never log a secret; nor trust that the host shows it faithfully.
 */
export function log(message: string): void {
  const utf8 = String.UTF8.encode(message);
  enclave_log(changetype<usize>(utf8), utf8.byteLength);
}

// @ts-ignore: decorator
@external("enclave", "share")
declare function enclave_share(ptr: usize, len: usize): void;

/** Size of the pages that are shared whole (allocShared rounds up to whole pages of this). */
export const SHARED_PAGE_SIZE: usize = ABI_SHARED_PAGE_SIZE;

/**
 * Allocates `bytes` of memory shared with the host, rounded up to whole 4 KiB pages: it stays
 * resident and is never encrypted, integrity-checked or paged out, so the (untrusted) host reads
 * and writes it directly. Put only what the host may see there; copy what you read from it into
 * private memory before you parse it. The memory is never freed.
 */
export function allocShared(bytes: usize): usize {
  const size = (bytes + SHARED_PAGE_SIZE - 1) & ~(SHARED_PAGE_SIZE - 1);
  const raw = heap.alloc(size + SHARED_PAGE_SIZE - 1);
  const ptr = (raw + SHARED_PAGE_SIZE - 1) & ~(SHARED_PAGE_SIZE - 1);
  enclave_share(ptr, size);
  return ptr;
}

// @ts-ignore: decorator
@external("enclave", "seal")
declare function enclave_seal(ptr: usize, len: i32, out: usize, outCap: i32): i32;

// @ts-ignore: decorator
@external("enclave", "unseal")
declare function enclave_unseal(ptr: usize, len: i32, out: usize, outCap: i32): i32;

/** Bytes a sealed blob has beyond its data: the 36-byte header (host/enclavisor/sealing.ts, blob format). */
export const SEAL_OVERHEAD: i32 = ABI_SEAL_OVERHEAD;
/** Most bytes one seal takes (1 MiB). */
export const MAX_SEAL_PLAINTEXT: i32 = ABI_MAX_SEAL_PLAINTEXT;

/**
 * Seals `data` with this enclave's sealing key: AES-256-GCM under a key derived from the
 * platform's secret, the Enclavisor measurement and this enclave's measurement. The blob may be
 * stored anywhere untrusted; only this enclave, on this platform, can unseal it. Returns null if
 * the enclave cannot seal (a native or sgx run) or `data` is too large (over 1 MiB).
 */
export function seal(data: Uint8Array): Uint8Array | null {
  const blob = new Uint8Array(data.byteLength + SEAL_OVERHEAD);
  const n = enclave_seal(data.dataStart, data.byteLength, blob.dataStart, blob.byteLength);
  return n < 0 ? null : blob.subarray(0, n);
}

/**
 * `seal` on raw memory, for apps that keep their buffers out of the GC's heap: seals the `len` bytes
 * at `ptr` into `out` (room for `len + SEAL_OVERHEAD` bytes). Returns the blob's length, or below
 * zero when the enclave cannot seal or the sizes are wrong.
 */
export function sealRaw(ptr: usize, len: i32, out: usize, outCap: i32): i32 {
  return enclave_seal(ptr, len, out, outCap);
}

/**
 * `unseal` on raw memory: opens the `len`-byte blob at `ptr` into `out` (room for `len -
 * SEAL_OVERHEAD` bytes). Returns the data's length, or below zero if the blob is refused (as
 * `unseal` returns null) or the enclave cannot seal.
 */
export function unsealRaw(ptr: usize, len: i32, out: usize, outCap: i32): i32 {
  return enclave_unseal(ptr, len, out, outCap);
}

/**
 * Opens a blob made by `seal` and returns its data, authenticated. Returns null if the blob was
 * modified, truncated, made by another enclave (another measurement) or on another platform, or
 * if the enclave cannot seal (a native or sgx run).
 */
export function unseal(blob: Uint8Array): Uint8Array | null {
  if (blob.byteLength < SEAL_OVERHEAD) return null;
  const data = new Uint8Array(blob.byteLength - SEAL_OVERHEAD);
  const n = enclave_unseal(blob.dataStart, blob.byteLength, data.dataStart, data.byteLength);
  return n < 0 ? null : data.subarray(0, n);
}

// @ts-ignore: decorator
@external("enclave", "attest")
declare function enclave_attest(dataPtr: usize, out: usize, outCap: i32): i32;

/** Bytes of guest data an enclave report carries (host/enclavisor/attestation.ts, REPORT_DATA). */
export const ATTEST_DATA_BYTES: i32 = ABI_ATTEST_DATA_BYTES;

/**
 * Asks Enclavisor for evidence that this enclave runs with its measurement on a genuine platform:
 * an enclave report carrying `data` (at most 64 bytes, zero-padded), signed by Enclavisor's key,
 * with the VM's SNP report binding that key and the AMD certificate chain. The result is the
 * evidence bundle itself (UTF-8 JSON, format in host/enclavisor/evidence.ts): send it to the
 * verifier, log it, or store it; `enclave verify --evidence FILE` checks it. It holds no secret.
 * Returns null if `data` is over 64 bytes or the enclave cannot attest (a native or sgx run, or
 * SEV without SNP).
 */
export function attest(data: Uint8Array): Uint8Array | null {
  if (data.byteLength > ATTEST_DATA_BYTES) return null;
  const padded = new Uint8Array(ATTEST_DATA_BYTES);
  padded.set(data);
  let evidence = new Uint8Array(16 * 1024);
  let n = enclave_attest(padded.dataStart, evidence.dataStart, evidence.byteLength);
  if (n > evidence.byteLength) {
    // Too small a buffer: the host wrote nothing and said how much it needs.
    evidence = new Uint8Array(n);
    n = enclave_attest(padded.dataStart, evidence.dataStart, evidence.byteLength);
  }
  return n < 0 || n > evidence.byteLength ? null : evidence.subarray(0, n);
}

// @ts-ignore: decorator
@external("enclave", "channel_binding")
declare function enclave_channel_binding(conn: u32, out: usize): i32;

/** Bytes of a channel binding: the TLS exporter of RFC 9266. */
export const CHANNEL_BINDING_BYTES: i32 = ABI_CHANNEL_BINDING_BYTES;

/**
 * The channel binding of server connection `conn` when Enclavisor serves it over attested TLS: the
 * connection's TLS exporter (RFC 9266, tls-exporter: 32 bytes of the session's exporter secret
 * under the label "EXPORTER-Channel-Binding"), which the client computes on its side of the same
 * session and no other session shares. null for a plaintext connection. Put it in the report data
 * of attest() beside a client's nonce, and the evidence proves it was made for this session.
 */
export function channelBinding(conn: u32): Uint8Array | null {
  const out = new Uint8Array(CHANNEL_BINDING_BYTES);
  return enclave_channel_binding(conn, out.dataStart) == CHANNEL_BINDING_BYTES ? out : null;
}

// @ts-ignore: decorator
@external("enclave", "random")
declare function enclave_random(ptr: usize, len: i32): i32;

/** Most bytes one enclave.random call fills. */
const RANDOM_CHUNK: i32 = ABI_MAX_RANDOM_BYTES;

/**
 * Returns `n` random bytes from the platform's cryptographic random generator (node:crypto's
 * CSPRNG in this emulation; RDRAND or the secure processor in a real enclave). Use these for keys
 * and nonces, never Math.random (seeded by the host, not cryptographic). Aborts if `n` < 0.
 */
export function randomBytes(n: i32): Uint8Array {
  assert(n >= 0, "randomBytes: negative length");
  const out = new Uint8Array(n);
  for (let done = 0; done < n; done += RANDOM_CHUNK) {
    const len = min(RANDOM_CHUNK, n - done);
    assert(enclave_random(out.dataStart + <usize>done, len) == len, "randomBytes: the host refused");
  }
  return out;
}

// @ts-ignore: decorator
@external("enclave", "untrusted_time_ms")
declare function enclave_untrusted_time_ms(): f64;

/**
 * The host's wall-clock time in milliseconds since the Unix epoch. UNTRUSTED: the host chooses
 * it and may move it backwards, freeze it or lie outright. Fine for logs and rough timing; never
 * base a security decision (an expiry, a freshness check, a rate limit) on it.
 */
export function untrustedTimeMs(): f64 {
  return enclave_untrusted_time_ms();
}

// @ts-ignore: decorator
@external("enclave", "untrusted_cpu_ms")
declare function enclave_untrusted_cpu_ms(which: i32): f64;

/**
 * The CPU time the host's process has used, in milliseconds: in user mode, or in the kernel
 * (`system`), as getrusage(RUSAGE_SELF) counts it. UNTRUSTED, as untrustedTimeMs: for statistics
 * (kv's INFO cpu), never for a decision.
 */
export function untrustedCpuMs(system: bool): f64 {
  return enclave_untrusted_cpu_ms(system ? 1 : 0);
}

// @ts-ignore: decorator
@external("enclave", "counter_read")
declare function enclave_counter_read(namePtr: usize, nameLen: i32): f64;

// @ts-ignore: decorator
@external("enclave", "counter_advance")
declare function enclave_counter_advance(namePtr: usize, nameLen: i32, to: f64): i32;

/** Longest name of a named counter, in bytes. */
export const MAX_COUNTER_NAME: i32 = ABI_MAX_COUNTER_NAME;

/**
 * This enclave's monotonic counter, kept by the secure processor in its persistent state (it
 * survives restarts, and the host cannot lower it): per enclave measurement and platform, one
 * unnamed counter and any number named by `name` (1 to 64 bytes: one per store instance, say, so
 * that two stores of this enclave on one platform never share one). Returns -1 if the enclave has
 * none (a native or sgx run), -2 for too long a name. Use it to detect a rollback to an older
 * sealed state: seal the counter's next value with the state, advance the counter once the state is
 * stored, and refuse a state whose sealed value is below the counter.
 */
export function counterRead(name: Uint8Array | null = null): f64 {
  return name == null ? enclave_counter_read(0, 0) : enclave_counter_read(name.dataStart, name.byteLength);
}

/**
 * Raises this enclave's monotonic counter (or the one named `name`, as counterRead) to `to` (a
 * whole number). Returns 0 on success (also when the counter already equals `to`), -1 if the
 * enclave has no counter (a native or sgx run), -2 if `to` is below the counter or not a whole
 * number from 0 to 2^53 - 1 (a counter never goes back), or the name is too long.
 */
export function counterAdvance(to: f64, name: Uint8Array | null = null): i32 {
  return name == null ? enclave_counter_advance(0, 0, to) : enclave_counter_advance(name.dataStart, name.byteLength, to);
}
