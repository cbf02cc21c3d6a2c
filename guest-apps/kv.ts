// asc-runtime: minimal (no shadow stack; kv collects at the end of its exports: kv/gc.ts)
// kv: a Redis-protocol (RESP2 and RESP3) key-value store that runs inside an enclave. Its whole
// state lives in enclave memory: encrypted in DRAM, integrity-checked and paged by the MMU. The
// host only moves bytes between the sockets and the shared channel (assembly/server.ts); parsing,
// commands and replies all run here. Serve it with `npm run enclave -- guest-apps/kv.wasm`.
//
// Commands (Redis 7.0 semantics and error texts; the table of errors and the dispatch are in
// kv/commands.ts, each group's commands in a module kv/cmd-*.ts, as Redis splits t_*.c):
//   connection  PING [msg], ECHO, QUIT, SELECT n (16 databases), HELLO [2|3] [AUTH default pw]
//               [SETNAME n], CLIENT ID|INFO|LIST|KILL|UNBLOCK|SETNAME|GETNAME|HELP (kv/cmd-client.ts)
//   strings     SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL], SETNX, SETEX, PSETEX,
//               GET, GETSET, GETDEL, GETEX [EX|PX|EXAT|PXAT|PERSIST], GETRANGE, SUBSTR, SETRANGE,
//               MGET, MSET, MSETNX, INCR, INCRBY, DECR, DECRBY, INCRBYFLOAT (x87 long double:
//               kv/long-double.ts), APPEND, STRLEN, LCS (kv/cmd-lcs.ts); SETBIT, GETBIT, BITCOUNT
//               (kv/cmd-bits.ts)
//   expiry      EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key n [NX|XX|GT|LT], TTL, PTTL, EXPIRETIME,
//               PEXPIRETIME, PERSIST
//   keyspace    DEL, UNLINK, EXISTS, TOUCH, KEYS pattern, SCAN cursor [MATCH p] [COUNT n] [TYPE t],
//               RANDOMKEY, TYPE, DBSIZE, RENAME, RENAMENX, COPY [DB n] [REPLACE], MOVE, SWAPDB, SORT,
//               SORT_RO (BY, LIMIT, GET, ASC|DESC, ALPHA, STORE: kv/cmd-sort.ts),
//               FLUSHDB, FLUSHALL, OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP (kv/cmd-object.ts)
//   hashes      HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HGETALL, HKEYS, HVALS, HLEN, HSTRLEN,
//               HEXISTS, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN
//   lists       LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP/RPOP key [count], LMPOP, LLEN, LRANGE, LINDEX, LPOS, LSET,
//               LTRIM, LREM, LINSERT, LMOVE, RPOPLPUSH; blocking BLPOP, BRPOP, BLMPOP, BLMOVE,
//               BRPOPLPUSH (kv/blocking.ts: woken, blocked_deadline and on_timer below)
//   sets        SADD, SREM, SMOVE, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SPOP, SRANDMEMBER, SINTER,
//               SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN (kv/cmd-sets.ts)
//   sorted sets ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZRANGE
//               (BYSCORE|BYLEX, REV, LIMIT), ZRANGESTORE, ZREVRANGE, Z[REV]RANGEBYSCORE,
//               Z[REV]RANGEBYLEX, ZREMRANGEBY{SCORE,RANK,LEX}, ZUNION, ZINTER, ZDIFF (+STORE),
//               ZINTERCARD, ZPOPMIN, ZPOPMAX, ZMPOP, blocking BZPOPMIN, BZPOPMAX, BZMPOP, ZRANDMEMBER,
//               ZSCAN (kv/cmd-zsets.ts; scores read and written as strtod and %.17g: kv/float-text.ts)
//   pub/sub     SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB CHANNELS|NUMSUB|
//               NUMPAT (kv/pubsub.ts: a subscriber is woken like a blocked client)
//   server      INFO [section...] (server, clients, memory, persistence, stats, replication, cpu,
//               commandstats, keyspace; default, all, everything), TIME, CONFIG RESETSTAT,
//               CONFIG GET pattern..., CONFIG SET name value... (maxmemory, maxmemory-policy,
//               maxmemory-samples, lfu-log-factor, lfu-decay-time, the client buffer limits, the
//               log's parameters, and Redis's encoding thresholds, which decide what OBJECT
//               ENCODING reports: kv/encoding.ts; kv/cmd-config.ts), COMMAND [COUNT|DOCS|INFO|LIST],
//               ATTEST nonce (fresh evidence: kv/cmd-attest.ts)
//   transactions MULTI, EXEC, DISCARD, WATCH, UNWATCH (kv/multi.ts)
//   persistence BGSAVE [SCHEDULE], BGREWRITEAOF, LASTSAVE (kv/cmd-persistence.ts), appendonly
// Requests are RESP multibulk or inline lines (telnet, redis-cli's inline mode), pipelined or
// split across any number of reads (kv/conn.ts); replies are RESP2, or RESP3 after HELLO 3.
//
// Limits: a bulk string over maxBulk (default 512 MiB, Redis's proto-max-bulk-len) or a request
// with more than maxArgs arguments (default 1024 * 1024) is a protocol error: the client gets
// `-ERR Protocol error: invalid bulk length` (or `invalid multibulk length`) and the connection
// closes, as Redis does. The host sets both with set_limits (its flag --max-bulk). Inline
// requests and count lines are limited to 64 KiB. Values are bytes: NUL and any other byte work.
//
// Memory: the store is unmanaged and laid out for paging (records from slab classes whose objects
// never cross a page, a table of hash-and-address slots: kv/record.ts, table.ts, slab.ts), counted
// in used_memory as Redis's zmalloc counts (kv/zmalloc.ts), and bounded by maxmemory with Redis's
// eviction policies (kv/evict.ts).
//
// Time: expiry (EX, PX, EXPIRE, TTL...) runs on untrustedTimeMs(), the host's clock. The host can
// stop it, move it or lie, and so make keys expire early or live forever: it cannot read or change
// a value, but it decides when a TTL ends. Expired keys are deleted when touched, and a sweep of
// a few expiring keys per request batch (plus a full pass before DBSIZE, KEYS and INFO keyspace)
// keeps the counts right.
//
// Snapshots, streamed (kv/snapshot-format.ts has the byte format): snapshot_begin(force) lists the
// keys (or answers SNAPSHOT_UNCHANGED, 1, when nothing changed since the last committed snapshot and
// force is 0), each snapshot_read seals the next chunk of at most 16 KiB when the last is out and
// hands out its bytes (0 at the end), every chunk carrying the counter value counterRead() + 1, a
// random snapshot id, its index and a last-chunk flag; the host stores them durably, then calls
// snapshot_commit, which advances the enclave's monotonic counter to that value (or
// snapshot_cancel when it could not store them). Requests go on between the calls, and the
// snapshot is still the store as it was at snapshot_begin (copy on write per key,
// kv/snapshot-writer.ts). restore_begin / restore_feed / restore_end unseal and check each chunk as
// it arrives and load it into a new store, refuse a snapshot sealed below the counter (a rollback,
// -3) unless the host passes allowRollback, and only then replace the store. Statuses: -1
// unavailable (a native run: no sealing, no counter), -2 refused (modified, truncated, reordered,
// mixed, another enclave or platform), -3 rollback, -4 called out of order, -5 no memory.
import { randomBytes } from "../assembly/index";
import {
  RESULT_CLOSE, RESULT_LENGTH_MASK, RESULT_LOG, RESULT_MORE, RESULT_SAVE, RESULT_WAKE, SNAPSHOT_BAD_CALL, dataIn, dataOut, io_in, io_in_cap, io_out, io_out_cap,
  io_private_in, io_private_open, io_private_out, openChannel,
} from "../assembly/server";
import { endTransaction } from "./kv/multi";
import { forgetBlocked, nextDeadline, nextWoken, takeWake } from "./kv/blocking";
import { conns } from "./kv/clients";
import { forgetSubscriptions } from "./kv/pubsub";
import { copyMemory } from "./kv/bytes";
import { lastRead, newBatch, now } from "./kv/clock";
import { dropClient, outputOverLimit, pendingOutput, queryOverLimit } from "./kv/client-limits";
import { Conn, nextCommand, setLimits } from "./kv/conn";
import { charge, collectIfDue } from "./kv/gc";
import { execute, initCommands, timeOutBlocked } from "./kv/commands";
import { askSave, takeSaveRequest } from "./kv/cmd-persistence";
import { setConfiguring } from "./kv/cmd-config";
import { setInstance } from "./kv/instance";
import { replayBegin, replayEnd, replayFeed, validBytes } from "./kv/aof-loader";
import {
  appendfsync, appendonly, handedOut, logCommit, logRead, rewriteDue, sealPending, setLogPosition, startFreshChain,
} from "./kv/aof-writer";
import { setMemoryLimit } from "./kv/memory-limit";
import { replyError, replyOom, replyTo } from "./kv/reply";
import { argIs, useArgs } from "./kv/args";
import { clientClosed, clientOpened, markStart, replaceDbs, sweepExpired } from "./kv/server-state";
import { seedRandom } from "./kv/random";
import { restoreBegin, restoreEnd, restoreFeed, restoredDbs, restoredIsCurrent, restoredLogId, restoredLogSeq } from "./kv/snapshot-reader";
import {
  countChange, lastSnapshotBytes, resetChanges, snapshotBegin, snapshotCancel, snapshotCommit, snapshotRead, snapshotRunning,
} from "./kv/snapshot-writer";
import { Db } from "./kv/store";
import { seedHash } from "./kv/table";

export { io_in, io_in_cap, io_out, io_out_cap, io_private_in, io_private_open, io_private_out };


/** Output not yet taken by the host at which a client's commands wait for it (backpressure in the enclave). */
const OUTPUT_PAUSE: u64 = 1 << 20;

export function _start(): void {
  openChannel();
  initCommands();
  const seed = randomBytes(8).dataStart;
  seedHash(load<u32>(seed));
  seedRandom(load<u32>(seed, 4));
  markStart(now());
  setMemoryLimit(0);
}

/**
 * Sets the limits (assembly/server.ts): the longest bulk string and the most arguments of a request
 * (the host's --max-bulk), and the enclave's memory limit in 4 KiB pages (its --memory-limit; 0:
 * none), under which kv answers -OOM rather than be stopped. Called before serving.
 */
export function set_limits(maxBulk: u32, maxArgs: u32, memoryPages: u32): void {
  setLimits(maxBulk, maxArgs);
  setMemoryLimit(memoryPages);
}

/**
 * Names the store instance (`len` bytes at io_in, 1 to 64; assembly/server.ts): its counter and
 * the binding of its snapshots (kv/instance.ts). Called before restoring or saving; 0, or
 * SNAPSHOT_BAD_CALL for a wrong length.
 */
export function set_instance(len: u32): i32 {
  if (len > io_in_cap() || !setInstance(io_in(), len)) return SNAPSHOT_BAD_CALL;
  startFreshChain(); // the log's chain, until a restore or a replay says where it goes on
  return 0;
}

/**
 * Configuration from the host's flags (assembly/server.ts): a CONFIG SET request of `len` bytes at
 * io_in, before serving; its reply goes to io_out (+OK, or the error), and its length is returned.
 */
export function configure(len: u32): i32 {
  if (len > io_in_cap()) return SNAPSHOT_BAD_CALL;
  const c = new Conn(0);
  c.input.put(io_in(), len);
  replyTo(c.output, c.resp3);
  if (nextCommand(c) == 1) {
    if (c.argc >= 2 && isConfigSet(c)) {
      setConfiguring(true);
      execute(c);
      setConfiguring(false);
    } else {
      replyError("configure takes a CONFIG SET request");
    }
  }
  const n = min<u32>(c.output.len, io_out_cap());
  copyMemory(io_out(), c.output.ptr, n);
  c.free();
  return <i32>n;
}

function isConfigSet(c: Conn): bool {
  useArgs(c);
  return argIs(0, "config") && argIs(1, "set");
}

// The append-only log (kv/aof-writer.ts, kv/aof-loader.ts; the host's side in assembly/server.ts).

/** What the host does with the records: LOG_OFF (-1), or appendfsync's policy (0 no, 1 everysec, 2 always). */
export function log_policy(): i32 {
  return appendonly ? appendfsync : -1;
}

export function log_read(): i32 {
  return <i32>logRead(io_out(), io_out_cap());
}

export function log_seq(): f64 {
  return <f64>handedOut();
}

export function log_commit(seq: f64): i32 {
  return logCommit(<u64>seq);
}

export function log_replay_begin(): i32 {
  newBatch();
  return replayBegin();
}

export function log_replay_feed(len: u32): i32 {
  if (len > io_in_cap()) return SNAPSHOT_BAD_CALL;
  newBatch();
  return replayFeed(io_in(), len);
}

export function log_replay_end(allowRollback: u32): i32 {
  return replayEnd(allowRollback != 0);
}

export function log_replay_valid(): f64 {
  return validBytes;
}

export function on_open(conn: u32): void {
  if (conns.has(conn)) return;
  const c = new Conn(conn);
  c.createdAt = c.lastAt = now();
  conns.set(conn, c);
  clientOpened();
  charge(CONN_BYTES);
  collectIfDue();
}

/** What a connection counts for in kv/gc.ts's trigger (its Conn and the entry in conns). */
const CONN_BYTES: u64 = 256;

export function on_data(conn: u32, len: u32): u32 {
  if (!conns.has(conn)) return RESULT_CLOSE;
  const c = conns.get(conn);
  if (c.closing) return flush(c);
  // The one copy of the client's bytes: out of the channel (a shared page the host may change at
  // any moment, or the private channel under TLS) into the connection's memory, where they are parsed.
  c.input.put(dataIn(), min<u32>(len, io_in_cap()));
  c.lastAt = lastRead(); // the clock as last read: no call out for CLIENT LIST's idle
  newBatch();
  replyTo(c.output, c.resp3);
  if (c.input.failed) {
    replyOom(); // its input could not grow: the request cannot be read, so the connection ends
    dropInput(c);
  } else if (queryOverLimit(c)) {
    dropClient(c, "reached max query buffer length (client-query-buffer-limit)");
  } else {
    serve(c);
  }
  charge(<u64>len + c.output.len - c.sent);
  const result = flush(c);
  collectIfDue(); // last: nothing managed is used after it
  return result;
}

export function on_drain(conn: u32): u32 {
  if (!conns.has(conn)) return RESULT_CLOSE;
  const c = conns.get(conn);
  if (c.paused && !c.closing && pendingOutput(c) < OUTPUT_PAUSE) {
    // What the host took goes first, so that the buffer holds only pending output, never all of it.
    c.output.consume(c.sent);
    c.sent = 0;
    newBatch();
    replyTo(c.output, c.resp3);
    serve(c);
    charge(c.output.len - c.sent);
  }
  const result = flush(c);
  collectIfDue();
  return result;
}

/**
 * Runs c's complete commands until its input is used up or its output waits for the host
 * (OUTPUT_PAUSE: commands go on from on_drain), closing it over its limits.
 */
function serve(c: Conn): void {
  c.paused = false;
  while (!c.closing && !c.blocked) {
    if (pendingOutput(c) >= OUTPUT_PAUSE) {
      c.paused = true;
      break;
    }
    if (nextCommand(c) != 1) break;
    execute(c);
    if (c.output.failed) dropClient(c, "no memory left for its output");
    else if (outputOverLimit(c)) dropClient(c, "scheduled to be closed ASAP for overcoming of output buffer limits (client-output-buffer-limit)");
  }
  if (!c.closing) c.compact();
  sweepExpired();
}

/** The input is dropped and the connection closes once its output (the -OOM) is out. */
function dropInput(c: Conn): void {
  c.input.free();
  c.closing = true;
  c.paused = false;
}

export function on_close(conn: u32): void {
  if (!conns.has(conn)) return;
  const c = conns.get(conn);
  endTransaction(c);
  forgetBlocked(c);
  forgetSubscriptions(c);
  c.free();
  conns.delete(conn);
  clientClosed();
  charge(CONN_BYTES);
  collectIfDue();
}

/** Hands the next part of c's output to the host: a result word (assembly/server.ts). */
function flush(c: Conn): u32 {
  const out = c.output;
  if (rewriteDue(lastSnapshotBytes) && !snapshotRunning()) askSave(); // auto-aof-rewrite
  let n = min<u32>(out.len - c.sent, io_out_cap()) | (takeSaveRequest() ? RESULT_SAVE : 0);
  if (appendonly && sealPending()) n |= RESULT_LOG; // the host stores the log before it sends these replies
  if (takeWake()) n |= RESULT_WAKE; // blocked clients were served, or one blocked
  copyMemory(dataOut(), out.ptr + c.sent, n & RESULT_LENGTH_MASK);
  c.sent += n & RESULT_LENGTH_MASK;
  if (c.sent < out.len) return n | RESULT_MORE;
  out.clear();
  c.sent = 0;
  if (c.closing) {
    c.input.clear();
    return n | RESULT_CLOSE;
  }
  return c.paused ? n | RESULT_MORE : n; // commands wait for on_drain
}

export function snapshot_begin(force: u32): i32 {
  newBatch();
  return snapshotBegin(force != 0);
}

export function snapshot_read(): i32 {
  return snapshotRead(io_out(), io_out_cap());
}

export function snapshot_commit(): i32 {
  return snapshotCommit();
}

export function snapshot_cancel(): void {
  snapshotCancel();
}

export function restore_begin(total: u32): i32 {
  return restoreBegin(total);
}

export function restore_feed(len: u32): i32 {
  if (len > io_in_cap()) return SNAPSHOT_BAD_CALL;
  return restoreFeed(io_in(), len);
}

export function restore_end(allowRollback: u32): i32 {
  newBatch();
  const r = restoreEnd(allowRollback != 0);
  if (r == 0) {
    snapshotCancel(); // it reads the store being replaced
    replaceDbs(changetype<StaticArray<Db>>(restoredDbs));
    setLogPosition(restoredLogSeq, restoredLogId); // the log goes on from where the snapshot began
    if (restoredIsCurrent) resetChanges();
    else countChange(); // a rollback let through: the next snapshot must be written, to catch the file up with the counter
  }
  return r;
}

/**
 * The next connection whose replies wait since a RESULT_WAKE (a blocked client was served or timed
 * out): the host drains it (on_drain). 0 when none is left.
 */
export function woken(): u32 {
  return nextWoken();
}

/** When the host must call on_timer next (ms on its clock), 0 while no blocked client has a timeout. */
export function blocked_deadline(): f64 {
  return nextDeadline();
}

/** The host's timer: blocked clients whose timeout passed get their null reply; RESULT_WAKE if any did. */
export function on_timer(): u32 {
  newBatch();
  timeOutBlocked();
  return takeWake() ? RESULT_WAKE : 0;
}
