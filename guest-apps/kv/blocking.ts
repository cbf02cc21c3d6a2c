// Blocked clients (Redis blocked.c): BLPOP, BRPOP, BRPOPLPUSH, BLMOVE and BLMPOP on lists, and
// BZPOPMIN, BZPOPMAX and BZMPOP on sorted sets, that are all empty block their client until a write
// makes one of its keys ready, or its timeout passes. A blocked client's later commands wait in its input.
//
// The guest cannot call the host, so waking goes through the I/O contract (assembly/server.ts):
// the command that made data ready (or the host's on_timer, for timeouts) answers with
// RESULT_WAKE; the host then asks woken() for each connection to drain, and blocked_deadline() for
// when to call on_timer next. The host learns which connection to wake and when, nothing of what
// it waited for or got.
//
// Serving is Redis's: after a write command (after the whole of an EXEC), the blocked clients are
// tried in the order they blocked, each one's command run again as it came with the keys now
// ready; a served command can make another key ready (BLMOVE), so the round repeats until no
// client is served.
import { ByteBuf } from "./bytes";
import { ldE, ldInf, ldM, ldNeg, parseLongDouble } from "./long-double";
import { Conn } from "./conn";
import { SavedCommands, al, ap, argInt, argc, saveArgs } from "./args";
import { parsedInt } from "./bytes";
import { syntaxError } from "./errors";
import { now } from "./clock";
import { replyError, replyErrorLine, replyTo, replyWrongType } from "./reply";
import { Rec } from "./record";
import { lookup } from "./args";

/** A blocked client's command runs again (blocking.ts): a key of another type is not ready, not an error. */
export let retrying = false;
export function setRetrying(on: bool): void {
  retrying = on;
}

/** No deadline: block until data comes. A deadline is otherwise ms on the host's clock. */
const FOREVER: i64 = 0;
/** The command replied (data, or an error): it does not block. */
export const REPLIED: i64 = -1;

/**
 * The deadline of the timeout argument `i` (seconds, decimals allowed), as Redis's
 * getTimeoutFromObjectOrReply reads it: strtold (long-double.ts), then (long long)ceill(s * 1000),
 * where an infinity or a value past i64 converts to i64's minimum on x86-64, a negative timeout.
 * REPLIED after its error.
 */
export function timeoutArg(i: u32): i64 {
  if (!parseLongDouble(ap(i), al(i))) {
    replyError("timeout is not a float or out of range");
    return REPLIED;
  }
  const seconds = ldInf ? Infinity : <f64>ldM * Math.pow(2, ldE);
  const ms = Math.ceil((ldNeg ? -seconds : seconds) * 1000);
  if (!isFinite(ms) || ms < 0 || ms >= 9.223372036854775807e18) {
    replyError("timeout is negative");
    return REPLIED;
  }
  return ms == 0 ? FOREVER : now() + <i64>ms;
}

/**
 * LMPOP's and ZMPOP's keys (and their blocking forms'): numkeys at argument `at`, the keys after
 * it; returns the argument after the keys (LEFT|RIGHT, MIN|MAX), or -1 after the error reply.
 */
export function numkeysEnd(at: u32): i32 {
  if (!argInt(at) || parsedInt < 1) {
    replyError("numkeys should be greater than 0");
    return -1;
  }
  if (parsedInt > <i64>(argc - at - 1)) { // the argument after the keys would lie past the last
    syntaxError();
    return -1;
  }
  const end = at + 1 + <u32>parsedInt;
  if (end >= argc) {
    syntaxError();
    return -1;
  }
  return <i32>end;
}

/** No key of a blocking command's keys is ready (readyKey). */
export const NONE_READY: i32 = -2; // not REPLIED (-1)

/** The record readyKey found. */
export let readyRec: Rec | null = null;

/**
 * The first of key arguments from..to-1 that holds a value of `type` (readyRec its record), the
 * first key of another type after a WRONGTYPE reply (REPLIED), or NONE_READY. A blocked client's
 * retry skips a key of another type: another command made it, and it is not what the client waits for.
 */
export function readyKey(from: u32, to: u32, type: u8): i32 {
  for (let i = from; i < to; i++) {
    const e = lookup(i);
    if (e == null || (retrying && e.type != type)) continue;
    if (e.type != type) {
      replyWrongType();
      return <i32>REPLIED;
    }
    readyRec = e;
    return <i32>i;
  }
  return NONE_READY;
}

class Blocked {
  /** The command's arguments (args.ts, saveArgs). */
  readonly command: ByteBuf = new ByteBuf();
  constructor(public conn: Conn, public deadline: i64) {}
}

const blocked = new Array<Blocked>();
const woken = new Array<u32>();

export function blockedClients(): i32 {
  return blocked.length;
}

/** Blocks c on the current command (its arguments copied), until `deadline` (ms on the host's clock; 0: for ever). */
export function blockClient(c: Conn, deadline: i64): void {
  const b = new Blocked(c, deadline);
  saveArgs(b.command);
  blocked.push(b);
  c.blocked = true;
}

/** c went away: it waits for nothing any more. */
export function forgetBlocked(c: Conn): void {
  if (!c.blocked) return;
  for (let i = 0; i < blocked.length; i++) {
    if (blocked[i].conn === c) {
      blocked[i].command.free();
      blocked.splice(i, 1);
      break;
    }
  }
  c.blocked = false;
}

/** Something for the host to do: connections to drain, or a new deadline to time. */
let wakePending = false;

export function takeWake(): bool {
  const w = wakePending;
  wakePending = false;
  return w;
}

/** A client blocked: the host has a new deadline to look at. */
export function deadlineChanged(): void {
  wakePending = true;
}

/** The next connection the host must drain (its replies wait), or 0. */
export function nextWoken(): u32 {
  return woken.length == 0 ? 0 : woken.shift();
}

/** The earliest deadline of a blocked client (ms on the host's clock), or 0 if none waits with one. */
export function nextDeadline(): f64 {
  let d: i64 = 0;
  for (let i = 0; i < blocked.length; i++) {
    const t = blocked[i].deadline;
    if (t != 0 && (d == 0 || t < d)) d = t;
  }
  return <f64>d;
}

/**
 * Tries the blocked clients in order: `ready(b)` runs b's command again (its arguments made
 * current) into b's output and says whether it was served. Repeats while any is.
 */
export function serveBlocked(ready: (c: Conn, from: usize, argv: usize, n: u32) => bool): void {
  let served = true;
  while (served && blocked.length > 0) {
    served = false;
    for (let i = 0; i < blocked.length; i++) {
      const b = blocked[i];
      const queued = new SavedCommands(b.command);
      const n = queued.next();
      const ok = ready(b.conn, b.command.ptr, queued.argv.ptr, n);
      queued.argv.free();
      if (!ok) continue;
      unblock(i);
      served = true;
      break; // the list changed: start again from the first
    }
  }
}

/** Times out the clients whose deadline passed: `timedOut(c)` replies for each (into its output). */
export function expireBlocked(timedOut: (c: Conn, from: usize, argv: usize, n: u32) => void): void {
  const t = now();
  for (let i = 0; i < blocked.length; ) {
    const b = blocked[i];
    if (b.deadline == 0 || b.deadline > t) {
      i++;
      continue;
    }
    const queued = new SavedCommands(b.command);
    const n = queued.next();
    timedOut(b.conn, b.command.ptr, queued.argv.ptr, n);
    queued.argv.free();
    unblock(i);
  }
}

/**
 * CLIENT UNBLOCK: c, if blocked, answers as a timeout would (replyTimeout) or with an error, into
 * its own output, and goes on; false if it was not blocked.
 */
export function unblockByClient(c: Conn, error: bool, replyTimeout: () => void): bool {
  if (!c.blocked) return false;
  for (let i = 0; i < blocked.length; i++) {
    if (blocked[i].conn !== c) continue;
    replyTo(c.output, c.resp3);
    if (error) replyErrorLine("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else replyTimeout();
    unblock(i);
    return true;
  }
  return false;
}

/** c has something for the host to do without a request of its own (CLIENT KILL closes it): the host drains it. */
export function wakeConnection(c: Conn): void {
  woken.push(c.id);
  wakePending = true;
}

function unblock(i: i32): void {
  const b = blocked[i];
  blocked.splice(i, 1);
  b.command.free();
  b.conn.blocked = false;
  b.conn.paused = true; // its waiting commands go on from on_drain
  woken.push(b.conn.id);
  wakePending = true;
}
