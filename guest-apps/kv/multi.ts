// Transactions (Redis multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH. Between MULTI and EXEC a
// client's commands are checked (an unknown command or a wrong arity fails the transaction, as
// Redis's flagTransaction does) and queued, each a copy of its arguments (args.ts, saveArgs). EXEC runs them in order, one reply array, nothing of
// another client in between (kv serves one command at a time anyway).
//
// WATCH: a watched key touched by a write that changed the store, deleted, evicted or flushed
// makes the watching clients' EXEC fail (a null array), as Redis's touchWatchedKey. A watched key
// that existed at WATCH and has expired by EXEC fails it too (multi.c isWatchedKeyExpired); one that
// had already expired at WATCH does not.
import { ByteBuf } from "./bytes";
import { Conn } from "./conn";
import { al, ap, argc, lookup, saveArgs } from "./args";
import { replyError, replyErrorLine, replyNullArray, replyOk } from "./reply";
import { dbAt, dbIndex } from "./server-state";

/** A client's transaction in progress. */
export class Multi {
  queue: ByteBuf = new ByteBuf();
  count: u32 = 0;
  /** A command was refused while queuing: EXEC discards the lot. */
  failed: bool = false;
  /** A queued command may grow memory (denyoom): EXEC is refused while memory is out. */
  denyoom: bool = false;
}

class Watch {
  constructor(public conn: Conn, public db: i32, public key: ArrayBuffer, public existed: bool) {}
}

const watches = new Array<Watch>();

export function multi(c: Conn): void {
  if (c.multi != null) return replyError("MULTI calls can not be nested");
  c.multi = new Multi();
  replyOk();
}

/** Queues the current command (its arguments) in c's transaction; `denyoom`: it may grow memory. */
export function queueCommand(c: Conn, denyoom: bool): void {
  const m = c.multi!;
  saveArgs(m.queue);
  m.count++;
  if (denyoom) m.denyoom = true;
}

/** The transaction failed while queuing (a refused command): EXEC answers EXECABORT. */
export function failTransaction(c: Conn): void {
  if (c.multi != null) c.multi!.failed = true;
}

export function discard(c: Conn): void {
  if (c.multi == null) return replyError("DISCARD without MULTI");
  endTransaction(c);
  replyOk();
}

/** Forgets c's transaction and its watches (after EXEC or DISCARD, or when it goes away). */
export function endTransaction(c: Conn): void {
  if (c.multi != null) c.multi!.queue.free();
  c.multi = null;
  unwatchAll(c);
}

export function watch(c: Conn): void {
  if (c.multi != null) return replyError("WATCH inside MULTI is not allowed");
  for (let i: u32 = 1; i < argc; i++) {
    if (isWatching(c, ap(i), al(i))) continue;
    const key = new ArrayBuffer(al(i));
    memory.copy(changetype<usize>(key), ap(i), al(i));
    watches.push(new Watch(c, dbIndex, key, lookup(i) != null));
    c.watching++;
  }
  replyOk();
}

export function unwatch(c: Conn): void {
  unwatchAll(c);
  replyOk();
}

export function unwatchAll(c: Conn): void {
  if (c.watching == 0) return;
  for (let i = watches.length - 1; i >= 0; i--) {
    if (watches[i].conn === c) {
      watches[i] = watches[watches.length - 1];
      watches.pop();
    }
  }
  c.watching = 0;
  c.casDirty = false;
}

function isWatching(c: Conn, p: usize, n: u32): bool {
  for (let i = 0; i < watches.length; i++) {
    const w = watches[i];
    if (w.conn === c && w.db == dbIndex && keyIs(w.key, p, n)) return true;
  }
  return false;
}

// @ts-ignore: decorator
@inline function keyIs(key: ArrayBuffer, p: usize, n: u32): bool {
  return <u32>key.byteLength == n && memory.compare(changetype<usize>(key), p, n) == 0;
}

/** The key of `n` bytes at `p` of the current database (or of database `in`) was changed: the clients watching it fail their EXEC. */
export function touchKey(p: usize, n: u32, db: i32 = -1): void {
  const at = db < 0 ? dbIndex : db;
  for (let i = 0; i < watches.length; i++) {
    const w = watches[i];
    if (w.db == at && keyIs(w.key, p, n)) w.conn.casDirty = true;
  }
}

/** Any watch at all (the cheap test before touching keys). */
// @ts-ignore: decorator
@inline export function anyWatch(): bool {
  return watches.length > 0;
}

/**
 * FLUSHDB (database `a`), FLUSHALL (a = -1: all) and SWAPDB a b: every watched key of those
 * databases that exists in one of them now is about to be deleted or replaced.
 */
export function touchAllExisting(a: i32, b: i32 = -1): void {
  for (let i = 0; i < watches.length; i++) {
    const w = watches[i];
    if (a >= 0 && w.db != a && w.db != b) continue;
    const p = changetype<usize>(w.key), n = <u32>w.key.byteLength;
    const inA = dbAt(a < 0 ? w.db : a).lookup(p, n) != null;
    if (inA || (b >= 0 && dbAt(b).lookup(p, n) != null)) w.conn.casDirty = true;
  }
}

/** Whether c's EXEC must fail: a watched key touched, or expired since WATCH. */
export function casFailed(c: Conn): bool {
  if (c.casDirty) return true;
  for (let i = 0; i < watches.length; i++) {
    const w = watches[i];
    if (w.conn === c && w.existed && dbAt(w.db).lookup(changetype<usize>(w.key), w.key.byteLength) == null) return true;
  }
  return false;
}

/** EXEC without a transaction, or one that failed while queuing: replies and says so (true). */
export function execRefused(c: Conn): bool {
  if (c.multi == null) {
    replyError("EXEC without MULTI");
    return true;
  }
  if (c.multi!.failed) {
    endTransaction(c);
    replyExecAbort();
    return true;
  }
  if (casFailed(c)) {
    endTransaction(c);
    replyNullArray();
    return true;
  }
  return false;
}

function replyExecAbort(): void {
  replyErrorLine("EXECABORT Transaction discarded because of previous errors.");
}
