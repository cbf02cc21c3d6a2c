// Replaying kv's append-only log at start (Redis aof.c, loadAppendOnlyFile; format in
// aof-format.ts), after the snapshot it follows was restored (or on a fresh store). The host feeds
// the stored records in pieces of any size (log_replay_feed); each record is unsealed and checked
// as its last byte arrives, and its commands run as they come, on a connection of their own whose
// replies are dropped.
//
// The rules:
//   - a record that does not open under the enclave's sealing key, or is another store instance's,
//     is refused (SNAPSHOT_REFUSED): the log was modified;
//   - records up to the snapshot's position are older than the snapshot: skipped;
//   - then the chain is followed: the next record must be the one after the snapshot's (its seq,
//     and its predecessor's id), and each one after that the next of the last. The replay stops at
//     the first that is not (a record dropped, reordered, repeated, or of another chain: one made
//     by turning appendonly on whose base snapshot was never committed, or a stale one), and at a
//     record cut short at the very end (a crash while it was written), as Redis's
//     aof-load-truncated does; validBytes tells the host where, for it to cut the log there;
//   - at the end, the last record replayed must be at or above the log counter, which says up to
//     which record the log was made durable: a log that stops below it lost durable records (cut,
//     reordered or spliced: a rollback), SNAPSHOT_ROLLBACK, unless the host allows it. What stops
//     above it is what a crash may lose: records not yet durable.
// A refused log leaves the store part replayed; the host then stops (enclave serve does).
import { counterAdvance, counterRead, unsealRaw } from "../../assembly/index";
import { SNAPSHOT_BAD_CALL, SNAPSHOT_NO_MEMORY, SNAPSHOT_REFUSED, SNAPSHOT_ROLLBACK, SNAPSHOT_UNAVAILABLE } from "../../assembly/server";
import {
  LOG_ID_BYTES, RECORD_BYTES, RECORD_HEADER, RECORD_ID, RECORD_INSTANCE, RECORD_INSTANCE_LEN, RECORD_MAGIC, RECORD_PAYLOAD,
  RECORD_PAYLOAD_LEN, RECORD_PREV, RECORD_SEQ,
} from "./aof-format";
import { chainPosition, setLogPosition } from "./aof-writer";
import { execute } from "./commands";
import { Conn, nextCommand } from "./conn";
import { instanceName, logCounterName } from "./instance";
import { setLoading } from "./loading";
import { FrameGatherer } from "./sealed-frames";
import { replyTo } from "./reply";
import { INSTANCE_BYTES } from "./snapshot-format";
import { zalloc, zfree } from "./zmalloc";

const IDLE = 0, FEEDING = 1, FAILED = 2;
let state = IDLE;
let failure: i32 = 0;

/** Where the chain stands: the last record applied (the snapshot's position to begin with). */
let lastSeq: u64 = 0;
const lastId = memory.data(LOG_ID_BYTES);
/** The snapshot's position: records up to it are skipped. */
let baseSeq: u64 = 0;
/** The chain stopped (a record that does not continue it): nothing after is replayed. */
let stopped = false;
/** Bytes fed so far, and the bytes of whole frames before the stop (what the host keeps). */
let fedBytes: f64 = 0;
export let validBytes: f64 = 0;

const frames = new FrameGatherer(RECORD_BYTES);
let plain: usize = 0;

/** Where the replayed commands run. */
let replay: Conn | null = null;
/** Records and bytes replayed (for the host's message). */
export let recordsReplayed: u64 = 0;

export function replayBegin(): i32 {
  replayReset();
  validBytes = 0;
  recordsReplayed = 0;
  if (counterRead(logCounterName()) < 0) return SNAPSHOT_UNAVAILABLE;
  plain = zalloc(RECORD_BYTES);
  if (!frames.open() || plain == 0) {
    replayReset();
    return SNAPSHOT_NO_MEMORY;
  }
  baseSeq = chainPosition(lastId); // where the restored snapshot (or a fresh store) stands
  lastSeq = baseSeq;
  replay = new Conn(0);
  setLoading(true);
  state = FEEDING;
  return 0;
}

/** Feeds `n` more bytes of the stored log. */
export function replayFeed(p: usize, n: u32): i32 {
  if (state == FAILED) return failure;
  if (state != FEEDING) return SNAPSHOT_BAD_CALL;
  fedBytes += n;
  if (stopped) return 0;
  while (n > 0) {
    const k = frames.take(p, n);
    if (k < 0) return fail(SNAPSHOT_REFUSED);
    p += k;
    n -= k;
    if (frames.whole) {
      const r = record();
      if (r != 0) return fail(r);
      frames.next();
      if (stopped) return 0;
      validBytes = fedBytes - n; // the stream offset where this frame ends
    }
  }
  return 0;
}

/**
 * The log is all fed: 0, with the chain going on from the last record applied (validBytes: where
 * the records that count end), or a status. A frame cut short at the end is dropped.
 */
export function replayEnd(allowRollback: bool): i32 {
  if (state == FAILED) {
    const r = failure;
    replayReset();
    return r;
  }
  if (state != FEEDING) return SNAPSHOT_BAD_CALL;
  const counter = counterRead(logCounterName());
  if (<f64>lastSeq < counter && !allowRollback) {
    replayReset();
    return SNAPSHOT_ROLLBACK;
  }
  // Records made durable and not committed before a crash: the counter catches up with them.
  if (<f64>lastSeq > counter && counterAdvance(<f64>lastSeq, logCounterName()) == -1) {
    replayReset();
    return SNAPSHOT_UNAVAILABLE;
  }
  setLogPosition(lastSeq, lastId);
  replayReset();
  return 0;
}

function fail(status: i32): i32 {
  replayReset();
  state = FAILED;
  failure = status;
  return status;
}

function replayReset(): void {
  frames.close();
  if (plain != 0) memory.fill(plain, 0, RECORD_BYTES);
  zfree(plain);
  plain = 0;
  stopped = false;
  fedBytes = 0;
  if (replay != null) replay!.free();
  replay = null;
  setLoading(false);
  state = IDLE;
}

/** Opens and checks the record gathered, then runs its commands: 0 or a status. */
function record(): i32 {
  const n = unsealRaw(frames.sealed, frames.length, plain, RECORD_BYTES);
  if (n < <i32>RECORD_HEADER || load<u32>(plain) != RECORD_MAGIC) return SNAPSHOT_REFUSED;
  const payload = load<u32>(plain + RECORD_PAYLOAD_LEN);
  if (payload > RECORD_PAYLOAD || <u32>n != RECORD_HEADER + payload || !ownInstance()) return SNAPSHOT_REFUSED;
  const seq = load<u64>(plain + RECORD_SEQ);
  if (seq <= baseSeq && lastSeq == baseSeq) return 0; // before the snapshot
  if (seq != lastSeq + 1 || memory.compare(plain + RECORD_PREV, lastId, LOG_ID_BYTES) != 0) {
    stopped = true;
    return 0;
  }
  const r = run(plain + RECORD_HEADER, payload);
  if (r != 0) return r;
  lastSeq = seq;
  memory.copy(lastId, plain + RECORD_ID, LOG_ID_BYTES);
  recordsReplayed++;
  return 0;
}

function ownInstance(): bool {
  const name = instanceName();
  const len = load<u32>(plain + RECORD_INSTANCE_LEN);
  if (len > INSTANCE_BYTES) return false;
  if (name == null) return len == 0;
  return len == <u32>name.byteLength && memory.compare(plain + RECORD_INSTANCE, name.dataStart, len) == 0;
}

/** Runs the commands in `n` bytes of the log's stream (a command may span records): 0 or a status. */
function run(p: usize, n: u32): i32 {
  const c = replay!;
  c.input.put(p, n);
  if (c.input.failed) return SNAPSHOT_NO_MEMORY;
  replyTo(c.output, c.resp3);
  while (nextCommand(c) == 1) {
    execute(c);
    c.output.clear(); // replies of a replay go nowhere
  }
  if (c.closing) return SNAPSHOT_REFUSED; // not a well-formed request, which a sealed log cannot hold
  c.compact();
  return 0;
}
