// The enclave SDK for AssemblyScript guests. Apps import from it with a plain relative import,
// e.g. `import { log } from "../assembly"`. The host serves these imports in the `enclave`
// namespace (DESIGN.md section 8).

// @ts-ignore: decorator
@external("enclave", "log")
declare function enclave_log(ptr: usize, len: i32): void;

/** Writes one line of output to the enclave's log (the host prints it; untrusted). */
export function log(message: string): void {
  const utf8 = String.UTF8.encode(message);
  enclave_log(changetype<usize>(utf8), utf8.byteLength);
}

// @ts-ignore: decorator
@external("enclave", "share")
declare function enclave_share(ptr: usize, len: usize): void;

/** Size of the pages that are shared whole. */
export const SHARED_PAGE_SIZE: usize = 4096;

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

/** Bytes a sealed blob has beyond its data (host/enclavisor/sealing.ts, blob header). */
export const SEAL_OVERHEAD: i32 = 36;

/**
 * Seals `data` with this enclave's sealing key: AES-256-GCM under a key derived from the
 * platform's secret, the Enclavisor measurement and this enclave's measurement. The blob may be
 * stored anywhere untrusted; only this enclave, on this platform, can unseal it. Returns null if
 * the enclave cannot seal (a native run) or `data` is too large (over 1 MiB).
 */
export function seal(data: Uint8Array): Uint8Array | null {
  const blob = new Uint8Array(data.byteLength + SEAL_OVERHEAD);
  const n = enclave_seal(data.dataStart, data.byteLength, blob.dataStart, blob.byteLength);
  return n < 0 ? null : blob.subarray(0, n);
}

/**
 * Opens a blob made by `seal`. Returns null if the blob was modified, truncated, made by another
 * enclave or on another platform, or if the enclave cannot seal.
 */
export function unseal(blob: Uint8Array): Uint8Array | null {
  if (blob.byteLength < SEAL_OVERHEAD) return null;
  const data = new Uint8Array(blob.byteLength - SEAL_OVERHEAD);
  const n = enclave_unseal(blob.dataStart, blob.byteLength, data.dataStart, data.byteLength);
  return n < 0 ? null : data.subarray(0, n);
}
