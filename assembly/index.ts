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
