// kv's append-only log (Redis aof.c, feedAppendOnlyFile; format in aof-format.ts). With appendonly
// yes, every write command that changed the store is appended as a RESP request to `pending`; at
// the end of each on_data or on_drain (kv.ts, flush) the pending bytes are sealed into records,
// and the result word says so (RESULT_LOG): the host reads them out (aof_read), stores them, and
// once they are durable (at once under appendfsync always, every second under everysec) calls
// log_commit, which advances the log counter to the last durable record's seq.
//
// What is logged is what replaying needs to rebuild the same store, as Redis propagates it:
// relative expiry times become absolute (EXPIRE and PEXPIRE as PEXPIREAT, SET's EX and PX as
// PXAT), a key an EXPIRE deletes at once is a DEL, and a key evicted by maxmemory is a DEL.
// Expired keys need no DEL: their absolute time is in the log.
//
// The log continues the chain of the snapshot it follows: a snapshot records the seq and id of the
// last record before it (logPosition), and a restore or a replay sets where the chain goes on
// (setLogPosition). Turning appendonly on while the store runs starts a chain of its own, whose
// base is the snapshot asked for then (cmd-persistence.ts): until that snapshot is committed, the
// log counter is not advanced (its records may not survive a crash, as in Redis, where the AOF is
// only on once the first rewrite is done).
//
// If the log cannot get memory, writes are refused (-MISCONF, as Redis refuses them after an AOF
// write error) until a snapshot gives the log a new base.
import { SEAL_OVERHEAD, counterAdvance, counterRead, randomBytes, sealRaw } from "../../assembly/index";
import {
  LOG_ID_BYTES, RECORD_BYTES, RECORD_HEADER, RECORD_ID, RECORD_INSTANCE, RECORD_INSTANCE_LEN, RECORD_MAGIC, RECORD_PAYLOAD,
  RECORD_PAYLOAD_LEN, RECORD_PREV, RECORD_SEQ,
} from "./aof-format";
import { ByteBuf } from "./bytes";
import { INSTANCE_BYTES } from "./snapshot-format";
import { instanceName, logCounterName } from "./instance";
import { zalloc, zfree } from "./zmalloc";

export const FSYNC_NO = 0, FSYNC_EVERYSEC = 1, FSYNC_ALWAYS = 2;
export const FSYNC_NAMES = ["no", "everysec", "always"];

/** appendonly (CONFIG), and appendfsync: what the host does with the records (it asks log_policy). */
export let appendonly = false;
export let appendfsync = FSYNC_EVERYSEC;

/** Commands logged and not yet sealed. */
const pending = new ByteBuf();
/**
 * The database the logged commands so far ran in (a SELECT goes before one of another, as Redis's
 * feedAppendOnlyFile does); -1 where a replay would start (at db 0) not knowing it: a fresh
 * process, a new chain position.
 */
let loggedDb: i32 = -1;

/** Does a command of database `db` need a SELECT before it in the log? (It will have one: `db` is the logged one from now.) */
export function logNeedsSelect(db: i32): bool {
  if (db == loggedDb) return false;
  loggedDb = db;
  return true;
}
/** Sealed records not yet read out by the host: u32 length, blob, ... */
const out = new ByteBuf();
let outAt: u32 = 0;
/** One record's plaintext while it is sealed. */
let plain: usize = 0;

/** The last record sealed, and the last one the host has read out whole. */
let seq: u64 = 0;
const lastId = memory.data(LOG_ID_BYTES);
let handedSeq: u64 = 0;
/** The chain's base snapshot is not committed yet: records are not committed either. */
let rebasing = false;
/** The log could not get memory: writes are refused until a snapshot rebases it. */
export let logFailed = false;

/** Log bytes sealed since the last snapshot began. */
export let logBytesSinceSnapshot: u64 = 0;

/**
 * auto-aof-rewrite-percentage and auto-aof-rewrite-min-size (Redis's defaults): a snapshot (the
 * rewrite: the log starts again from it) is asked for once the log since the last one is at
 * least the minimum and at least this percentage of that snapshot's size (0: never).
 */
export let autoAofRewritePercentage: i32 = 100;
export let autoAofRewriteMinSize: u64 = 64 * 1024 * 1024;

export function setAutoAofRewritePercentage(v: i32): void {
  autoAofRewritePercentage = v;
}

export function setAutoAofRewriteMinSize(v: u64): void {
  autoAofRewriteMinSize = v;
}

/** The log has grown enough since the last snapshot of `snapshotBytes` for a rewrite. */
export function rewriteDue(snapshotBytes: u64): bool {
  return appendonly && autoAofRewritePercentage > 0 && logBytesSinceSnapshot >= autoAofRewriteMinSize &&
    logBytesSinceSnapshot * 100 >= max<u64>(snapshotBytes, 1) * <u64>autoAofRewritePercentage;
}

/** INFO persistence's log fields (Redis server.c, genRedisInfoString), those that mean something here. */
export function aofInfo(rewriting: bool): string {
  return "aof_enabled:" + (appendonly ? "1" : "0") + "\r\naof_rewrite_in_progress:" + (appendonly && rewriting ? "1" : "0") +
    "\r\naof_last_write_status:" + (logFailed ? "err" : "ok") + "\r\naof_current_size:" + logBytesSinceSnapshot.toString() + "\r\n";
}

/** Sets appendfsync. */
export function setAppendfsync(policy: i32): void {
  appendfsync = policy;
}

/**
 * Turns the log on or off. Turned on while the store runs, the log starts a chain of its own
 * whose base is the next snapshot; the caller asks the host for one. At start (before any request)
 * the chain goes on from the restored position, which the store is at.
 */
export function setAppendonly(on: bool, rebase: bool): void {
  if (on == appendonly) return;
  appendonly = on;
  pending.free();
  loggedDb = -1;
  if (!on) {
    zfree(plain);
    plain = 0;
  } else if (rebase) {
    // A chain of its own, numbered above every record that was ever made durable, so that no
    // stale record of an older chain continues it.
    memory.copy(lastId, randomBytes(LOG_ID_BYTES).dataStart, LOG_ID_BYTES);
    seq = max<u64>(seq, <u64>max<f64>(0, counterRead(logCounterName())));
    handedSeq = seq;
    rebasing = true;
  }
}

/** Where the chain goes on from (a restore, a replay, or a fresh store's random start). */
export function setLogPosition(at: u64, id: usize): void {
  loggedDb = -1;
  seq = at;
  handedSeq = at;
  memory.copy(lastId, id, LOG_ID_BYTES);
}

/** A fresh store's chain starts from a random id, so that no two chains of an instance meet. */
export function startFreshChain(): void {
  loggedDb = -1;
  seq = <u64>max<f64>(0, counterRead(logCounterName()));
  handedSeq = seq;
  memory.copy(lastId, randomBytes(LOG_ID_BYTES).dataStart, LOG_ID_BYTES);
}

/** Where the chain stands (a replay goes on from there): the last record's seq, and its id at `idOut`. */
export function chainPosition(idOut: usize): u64 {
  memory.copy(idOut, lastId, LOG_ID_BYTES);
  return seq;
}

/**
 * The chain's position for a snapshot that begins: the last record's seq, and its id at `idOut`. Seals what is pending first. With the log off, the position moves past every
 * record that was ever made durable, to a new random id: the snapshot then continues no log, and
 * a stale record of an older one (its files not yet removed) is not taken as its continuation.
 */
export function logPosition(idOut: usize): u64 {
  if (appendonly) {
    sealPending();
  } else {
    seq = max<u64>(seq, <u64>max<f64>(0, counterRead(logCounterName())));
    handedSeq = seq;
    memory.copy(lastId, randomBytes(LOG_ID_BYTES).dataStart, LOG_ID_BYTES);
  }
  memory.copy(idOut, lastId, LOG_ID_BYTES);
  logBytesSinceSnapshot = 0;
  loggedDb = -1; // a replay of what follows starts from this snapshot, at db 0
  return seq;
}

/** A snapshot was committed: a chain started by turning the log on has its base now, and a failed log a new one. */
export function snapshotCommitted(): void {
  rebasing = false;
  logFailed = false;
}

// ---- feeding ----

/** The bytes being logged for the current command go here (aof-feed.ts writes the RESP). */
export function logBuffer(): ByteBuf {
  return pending;
}

/** The command just logged could not get memory: the log stops taking writes. */
export function logNoMemory(): void {
  logFailed = true;
  pending.free();
  loggedDb = -1;
}

// ---- sealing and handing out ----

/** Seals what is pending into records (end of each on_data and on_drain); true if records wait for the host. */
export function sealPending(): bool {
  if (logFailed) return false;
  let at: u32 = 0;
  while (at < pending.len) {
    const n = min<u32>(RECORD_PAYLOAD, pending.len - at);
    if (!sealRecord(pending.ptr + at, n)) {
      logNoMemory();
      return false;
    }
    at += n;
  }
  pending.clear();
  return outAt < out.len;
}

function sealRecord(p: usize, n: u32): bool {
  if (plain == 0) plain = zalloc(RECORD_BYTES);
  if (plain == 0 || !out.reserve(4 + RECORD_HEADER + n + SEAL_OVERHEAD)) return false;
  const next = seq + 1;
  store<u32>(plain, RECORD_MAGIC);
  store<u64>(plain + RECORD_SEQ, next);
  memory.copy(plain + RECORD_ID, randomBytes(LOG_ID_BYTES).dataStart, LOG_ID_BYTES);
  memory.copy(plain + RECORD_PREV, lastId, LOG_ID_BYTES);
  const name = instanceName();
  memory.fill(plain + RECORD_INSTANCE, 0, INSTANCE_BYTES);
  store<u32>(plain + RECORD_INSTANCE_LEN, name == null ? 0 : name.byteLength);
  if (name != null) memory.copy(plain + RECORD_INSTANCE, name.dataStart, name.byteLength);
  store<u32>(plain + RECORD_PAYLOAD_LEN, n);
  memory.copy(plain + RECORD_HEADER, p, n);
  const sealed = sealRaw(plain, RECORD_HEADER + n, out.ptr + out.len + 4, RECORD_HEADER + n + SEAL_OVERHEAD);
  memory.fill(plain + RECORD_HEADER, 0, n); // no plaintext left behind
  if (sealed < 0) return false;
  store<u32>(out.ptr + out.len, sealed);
  out.len += 4 + <u32>sealed;
  seq = next;
  memory.copy(lastId, plain + RECORD_ID, LOG_ID_BYTES);
  logBytesSinceSnapshot += 4 + <u64>sealed;
  return true;
}

/** Copies the next at most `cap` bytes of sealed records to `dest`: their count, 0 when none wait. */
export function logRead(dest: usize, cap: u32): u32 {
  const n = min<u32>(cap, out.len - outAt);
  memory.copy(dest, out.ptr + outAt, n);
  outAt += n;
  if (outAt == out.len) {
    out.clear();
    outAt = 0;
    handedSeq = seq;
  }
  return n;
}

/** The seq of the last record the host has read out whole (log_seq). */
export function handedOut(): u64 {
  return handedSeq;
}

/**
 * The host made the records up to `to` durable: advances the log counter to it (no further than
 * what was handed out). 0; 1 when not advanced because the chain's base snapshot is not committed
 * yet; -1 without a counter.
 */
export function logCommit(to: u64): i32 {
  if (rebasing) return 1;
  const value = <f64>min<u64>(to, handedSeq);
  if (value <= counterRead(logCounterName())) return 0;
  return counterAdvance(value, logCounterName()) == -1 ? -1 : 0;
}
