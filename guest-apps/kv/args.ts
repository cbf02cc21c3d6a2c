// The command being run, as every command module reads it: its arguments (where they lie in the
// client's input buffer), its client, and the records its key arguments name.
import { ByteBuf, bytesToString, parseI64 } from "./bytes";
import { Conn } from "./conn";
import { db, selectDb } from "./server-state";
import { Rec } from "./store";
import { replyWrongType } from "./reply";

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
  selectDb(c.db);
}

/**
 * Appends a copy of the current command's arguments to `into`: u32 argc, then per argument a u32
 * length and its bytes (a transaction's queue, a blocked client's command).
 */
export function saveArgs(into: ByteBuf): void {
  into.putU32(argc);
  for (let i: u32 = 0; i < argc; i++) {
    into.putU32(al(i));
    into.put(ap(i), al(i));
  }
}

/** Commands saved by saveArgs, one after another: where each one's arguments are, for useQueued. */
export class SavedCommands {
  private at: u32 = 0;
  readonly argv: ByteBuf = new ByteBuf();

  constructor(private readonly queue: ByteBuf) {}

  /** Fills argv with the next command's (offset from queue.ptr, length) pairs; its argc, or 0 at the end. */
  next(): u32 {
    if (this.at >= this.queue.len) return 0;
    const base = this.queue.ptr;
    const n = load<u32>(base + this.at);
    this.at += 4;
    this.argv.len = 0;
    for (let i: u32 = 0; i < n; i++) {
      const len = load<u32>(base + this.at);
      this.argv.putU32(this.at + 4);
      this.argv.putU32(len);
      this.at += 4 + len;
    }
    return n;
  }
}

/** Makes a saved command (its argument pairs at `args`, offsets from `from`: SavedCommands) the one read, for client c. */
export function useQueued(from: usize, args: usize, n: u32, c: Conn): void {
  base = from;
  argvPtr = args;
  argc = n;
  conn = c;
  selectDb(c.db);
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

/** Set by lookupOfType: the key held a value of another type, and WRONGTYPE was answered. */
export let wrongTypeReplied = false;

/** The live record of key argument `i` if it holds a `type` value; null when absent, or after a WRONGTYPE reply (wrongTypeReplied). */
export function lookupOfType(i: u32, type: u8): Rec | null {
  wrongTypeReplied = false;
  const e = lookup(i);
  if (e != null && e.type != type) {
    wrongTypeReplied = true;
    replyWrongType();
    return null;
  }
  return e;
}
