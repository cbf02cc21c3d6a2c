// The command being run, as every command module reads it: its arguments (where they lie in the
// client's input buffer), its client, and the records its key arguments name.
import { bytesToString, parseI64 } from "./bytes";
import { Conn } from "./conn";
import { db } from "./server-state";
import { Rec } from "./store";

// Set by useArgs.
let base: usize = 0;
let argvPtr: usize = 0;
export let argc: u32 = 0;
export let conn: Conn | null = null;

/** Makes c's command (c.argv, argc >= 1) the one the functions below read. */
// @ts-ignore: decorator
@inline export function useArgs(c: Conn): void {
  base = c.input.ptr;
  argvPtr = c.argv.ptr;
  argc = c.argc;
  conn = c;
}

/** Makes a queued command (multi.ts: its argument pairs at `args`, offsets from `from`) the one read, for client c. */
export function useQueued(from: usize, args: usize, n: u32, c: Conn): void {
  base = from;
  argvPtr = args;
  argc = n;
  conn = c;
}

// @ts-ignore: decorator
@inline export function ap(i: u32): usize {
  return base + load<u32>(argvPtr + (i << 3));
}
// @ts-ignore: decorator
@inline export function al(i: u32): u32 {
  return load<u32>(argvPtr + (i << 3) + 4);
}

export function argText(i: u32): string {
  return bytesToString(ap(i), al(i));
}

/** Is argument `i` the word `lower` (ASCII lower case), ignoring case? */
export function argIs(i: u32, lower: string): bool {
  const n = al(i);
  if (<i32>n != lower.length) return false;
  const p = ap(i);
  for (let k: u32 = 0; k < n; k++) {
    let b = <u32>load<u8>(p + k);
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b != <u32>lower.charCodeAt(k)) return false;
  }
  return true;
}

export function argInt(i: u32): bool {
  return parseI64(ap(i), al(i));
}

/** The live record of key argument `i`, or null. */
export function lookup(i: u32): Rec | null {
  return db.lookup(ap(i), al(i));
}
