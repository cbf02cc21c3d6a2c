// Shared pages: the guest declares two pages shared with the host and writes a message there; a
// secret stays in private memory. `_start` logs where the shared pages are.
import { allocShared, log } from "../assembly";

let shared: usize = 0;
const secret = new Uint8Array(4 * 4096);

export function _start(): void {
  shared = allocShared(8192);
  const message = String.UTF8.encode("visible to the host");
  memory.copy(shared, changetype<usize>(message), message.byteLength);
  for (let i = 0; i < secret.length; i++) secret[i] = <u8>(i * 7 + 3);
  log("shared at " + shared.toString());
}

/** Where the shared pages start. */
export function sharedAt(): usize {
  return shared;
}

/** Reads one byte the host may have written into the shared pages. */
export function sharedByte(offset: i32): u8 {
  return load<u8>(shared + <usize>offset);
}

/** Sum of the private secret, to check it survives paging. */
export function secretSum(): u32 {
  let sum: u32 = 0;
  for (let i = 0; i < secret.length; i++) sum += secret[i];
  return sum;
}
