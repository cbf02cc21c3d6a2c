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
