// Taking a sealed snapshot (format in snapshot-format.ts) as a stream, while the store goes on
// serving: snapshot_begin lists the keys, each snapshot_read hands the host the next bytes,
// serialising and sealing one chunk at a time, and snapshot_commit advances the counter once the
// host has stored them all. Requests run between snapshot_read calls, and the snapshot is still
// the store as it was at snapshot_begin, by copy on write at the level of keys:
//
//   - snapshot_begin lists the records of every key, database by database, each database's in
//     address order (so that writing them walks memory upwards: under the software MMU their pages
//     are filled once each, in runs); a database mark goes before the keys of each database;
//   - a command about to change a listed record the writer has not reached (willChange) first
//     serialises it as it is into `preserved`, and the writer skips it later; if it is the record
//     being written, what is left of it goes to `continuation`, written next;
//   - a listed record about to leave the store (release: DEL, an overwrite, expiry, eviction,
//     FLUSHALL) is kept as it is until the snapshot ends (`graveyard`), and written in its turn;
//   - keys made after snapshot_begin are in no list, so they are not in this snapshot.
//
// The enclave holds one chunk of plaintext and one sealed chunk at a time, 4 bytes and 1 bit per
// key, and the keys changed while the snapshot runs: a store of any size is saved without doubling
// its memory. When the copies cannot get memory the snapshot fails (SNAPSHOT_NO_MEMORY) and the
// command goes on.
import { SEAL_OVERHEAD, counterAdvance, counterRead, randomBytes, sealRaw } from "../../assembly/index";
import {
  SNAPSHOT_BAD_CALL, SNAPSHOT_NO_MEMORY, SNAPSHOT_ROLLBACK, SNAPSHOT_UNAVAILABLE, SNAPSHOT_UNCHANGED,
} from "../../assembly/server";
import { ByteBuf, copyMemory } from "./bytes";
import { now } from "./clock";
import { itemAt, itemData, itemLen } from "./list";
import { Rec, TYPE_LIST, holdsTable, keyPtr } from "./record";
import { instanceName } from "./instance";
import {
  CHUNK_FLAGS, CHUNK_HEADER, CHUNK_ID, CHUNK_INDEX, CHUNK_INSTANCE, CHUNK_INSTANCE_LEN, CHUNK_LAST, CHUNK_MAGIC, CHUNK_VALUE,
  INSTANCE_BYTES, PAYLOAD_HEADER, PAYLOAD_MAGIC, PAYLOAD_VERSION, SELECT_DB, SNAPSHOT_ID_BYTES,
} from "./snapshot-format";
import { LOG_ID_BYTES } from "./aof-format";
import { logPosition, snapshotCommitted } from "./aof-writer";
import { sortU32 } from "./sort-u32";
import { dbAt, startedAt } from "./server-state";
import { DATABASES } from "./config";
import { freeRec, hashOf, listOf, recordBytes } from "./store";
import { Table, at, slotCount } from "./table";
import { zalloc, zfree, zusable } from "./zmalloc";

/**
 * Plaintext bytes per chunk this writer seals (the format allows up to 1 MiB). A request that
 * arrives while a chunk is made waits for it, so the chunk is small: 16 KiB of records may take
 * four page misses of encrypted memory, a fraction of a millisecond, while the chunk's header and
 * seal add under 1% to the file.
 */
const WRITE_CHUNK: u32 = 8 * 1024;

const IDLE = 0, WRITING = 1, WRITTEN = 2;
let state = IDLE;

// Where the payload stands (step).
const P_START = 0, P_KEY = 1, P_FIELDS = 2, P_ITEMS = 3, P_END = 4;
let phase = P_START;
/** The listed records in address order (u32 each), one bit each once written or copied, and the next to write. */
let order: usize = 0;
/** Where each database's records start in `order` (and where the last ends): sorted within each. */
const segStart = new StaticArray<u32>(DATABASES + 1);
/** The database of the payload's last mark (-1 after the copies: the next key marks its own). */
let writtenDb: i32 = 0;
let done: usize = 0;
let orderLen: u32 = 0;
let next: u32 = 0;
/** The record being written, and for a hash or list the next field slot or item. */
let current: usize = 0;
let sub: u32 = 0;
/** Small fields to write (a key's header), then a run of bytes written in place (a key and its value). */
const head = memory.data(32);
let headLen: u32 = 0;
let headAt: u32 = 0;
let runPtr: usize = 0;
let runLeft: u32 = 0;
let payloadDone = false;

// The copies made for commands (see above), written by offset: they may grow while being written.
const continuation = new ByteBuf();
let continuationAt: u32 = 0;
const preserved = new ByteBuf();
let preservedAt: u32 = 0;
const graveyard = new ByteBuf();
/** What the records in `graveyard` hold. */
let keptBytes: u64 = 0;
/** A copy could not get memory: the snapshot fails at its next snapshot_read. */
let broken = false;

/** One chunk's plaintext, and the sealed chunk after its u32 length: what snapshot_read hands out. */
let plain: usize = 0;
let plainLen: u32 = 0;
let sealed: usize = 0;
let sealedLen: u32 = 0;
let sealedAt: u32 = 0;
let chunkIndex: u32 = 0;
/** Where the append-only log stood when the snapshot began (its payload's header). */
let logSeqAtBegin: u64 = 0;
const logIdAtBegin = memory.data(LOG_ID_BYTES);
/** The counter value sealed into every chunk, and the snapshot's id. */
let value: f64 = -1;
const id = memory.data(SNAPSHOT_ID_BYTES);

/** Changes since the last committed snapshot (Redis's server.dirty, counted per key a command changes), and their count when this one began. */
let dirty: u64 = 0;
let dirtyAtBegin: u64 = 0;

/** A key was added (store.ts; changes and removals count through the hooks below). */
export function countChange(): void {
  dirty++;
}

/** Changes so far (they only go up until a commit): a command changed the store if they moved. */
export function changes(): u64 {
  return dirty;
}

/** The store was replaced by a restored snapshot: it is the same as a stored one. */
export function resetChanges(): void {
  dirty = 0;
}

/**
 * What the snapshot being written holds (its buffers, its copies and the records it keeps): memory
 * that maxmemory does not count, since it goes when the snapshot ends, as Redis leaves out its
 * replication and AOF buffers (evict.c, freeMemoryGetNotCountedMemory).
 */
export function snapshotMemory(): u64 {
  if (state == IDLE) return 0;
  return usable(order) + usable(done) + usable(plain) + usable(sealed) + usable(continuation.ptr) + usable(preserved.ptr) +
    usable(graveyard.ptr) + keptBytes;
}

// @ts-ignore: decorator
@inline function usable(p: usize): u64 {
  return p == 0 ? 0 : <u64>zusable(p);
}

/** Bytes of the snapshot being written so far, and of the last one committed (auto-aof-rewrite's base). */
let writtenBytes: u64 = 0;
export let lastSnapshotBytes: u64 = 0;

/** Snapshots begun since start (INFO rdb_saves, counted as Redis's rdbSaveBackground does), and when the last was committed (ms, host clock; 0: none). */
let savesBegun: i64 = 0;
export let lastSaveAt: i64 = 0;

/** A snapshot is begun and not yet committed or cancelled (INFO rdb_bgsave_in_progress). */
export function snapshotRunning(): bool {
  return state != IDLE;
}

/**
 * INFO's persistence section (Redis server.c, genRedisInfoString): the fields that have a meaning
 * here, the copy-on-write ones counting the copies and the kept records of the snapshot running.
 */
export function persistenceInfo(): string {
  const writing = state == WRITING;
  const cow = writing ? usable(continuation.ptr) + usable(preserved.ptr) + keptBytes : 0;
  return "current_cow_size:" + cow.toString() + "\r\ncurrent_save_keys_processed:" + (writing ? next : 0).toString() +
    "\r\ncurrent_save_keys_total:" + (writing ? orderLen : 0).toString() +
    "\r\nrdb_changes_since_last_save:" + dirty.toString() + "\r\nrdb_bgsave_in_progress:" + (snapshotRunning() ? "1" : "0") +
    "\r\nrdb_last_save_time:" + ((lastSaveAt != 0 ? lastSaveAt : startedAt) / 1000).toString() +
    "\r\nrdb_saves:" + savesBegun.toString() + "\r\n";
}

/**
 * Starts a snapshot of every database: 0; SNAPSHOT_UNCHANGED, with nothing begun, when nothing changed since
 * the last committed one and `force` is false; SNAPSHOT_UNAVAILABLE when the enclave cannot seal or
 * has no counter; SNAPSHOT_NO_MEMORY when its buffers do not fit.
 */
export function snapshotBegin(force: bool): i32 {
  snapshotCancel();
  const counter = counterRead(instanceName());
  if (counter < 0) return SNAPSHOT_UNAVAILABLE;
  if (!force && dirty == 0) return SNAPSHOT_UNCHANGED;
  value = counter + 1;
  orderLen = 0;
  for (let d = 0; d < DATABASES; d++) {
    dbAt(d).purge();
    orderLen += dbAt(d).keys.count;
  }
  order = zalloc(<usize>max<u32>(orderLen, 1) << 2);
  done = zalloc(<usize>(orderLen >> 3) + 1);
  plain = zalloc(WRITE_CHUNK);
  sealed = zalloc(4 + <usize>WRITE_CHUNK + SEAL_OVERHEAD);
  if (order == 0 || done == 0 || plain == 0 || sealed == 0) {
    snapshotCancel();
    return SNAPSHOT_NO_MEMORY;
  }
  memory.fill(done, 0, <usize>(orderLen >> 3) + 1);
  let k: u32 = 0;
  for (let d = 0; d < DATABASES; d++) {
    unchecked((segStart[d] = k));
    const t = dbAt(d).keys;
    const n = slotCount(t);
    for (let i: u32 = 0; i < n; i++) {
      const r = at(t, i);
      if (r == null) continue;
      store<u32>(order + (<usize>k << 2), changetype<usize>(r));
      k++;
    }
    sortU32(order + (<usize>unchecked(segStart[d]) << 2), k - unchecked(segStart[d]));
  }
  unchecked((segStart[DATABASES] = k));
  writtenDb = 0; // a reader starts in database 0
  memory.copy(id, randomBytes(SNAPSHOT_ID_BYTES).dataStart, SNAPSHOT_ID_BYTES);
  logSeqAtBegin = logPosition(logIdAtBegin); // the log's records up to here are in the snapshot
  next = 0;
  current = 0;
  phase = P_START;
  headLen = headAt = runLeft = 0;
  payloadDone = false;
  broken = false;
  sealedLen = sealedAt = 0;
  chunkIndex = 0;
  dirtyAtBegin = dirty;
  writtenBytes = 0;
  savesBegun++;
  state = WRITING;
  return 0;
}

/**
 * Copies the next at most `cap` bytes of the sealed snapshot to `dest`: their count, 0 once all of
 * it was read, SNAPSHOT_UNAVAILABLE if sealing failed, SNAPSHOT_NO_MEMORY if a copy could not get
 * memory, SNAPSHOT_BAD_CALL with no snapshot begun.
 */
export function snapshotRead(dest: usize, cap: u32): i32 {
  if (state == WRITTEN) return 0;
  if (state != WRITING) return SNAPSHOT_BAD_CALL;
  if (broken) {
    snapshotCancel();
    return SNAPSHOT_NO_MEMORY;
  }
  if (sealedAt == sealedLen) {
    if (payloadDone) {
      finish();
      state = WRITTEN;
      return 0;
    }
    if (!sealNextChunk()) {
      snapshotCancel();
      return SNAPSHOT_UNAVAILABLE;
    }
  }
  const n = min<u32>(min<u32>(cap, sealedLen - sealedAt), 0x7fff_ffff);
  memory.copy(dest, sealed + sealedAt, n);
  sealedAt += n;
  return <i32>n;
}

/** The host stored every byte: advances the counter to the snapshot's value. */
export function snapshotCommit(): i32 {
  if (state != WRITTEN) {
    snapshotCancel();
    return SNAPSHOT_BAD_CALL;
  }
  const r = counterAdvance(value, instanceName());
  state = IDLE;
  if (r == -1) return SNAPSHOT_UNAVAILABLE;
  // The counter passed this snapshot's value: a newer one was committed since it began.
  if (r != 0) return SNAPSHOT_ROLLBACK;
  dirty -= dirtyAtBegin; // changes made while it ran are not in it
  lastSaveAt = now();
  lastSnapshotBytes = writtenBytes;
  snapshotCommitted();
  return 0;
}

/** Drops a snapshot in progress (the store is about to be replaced), freeing what it holds. */
export function snapshotCancel(): void {
  finish();
  state = IDLE;
}

/** Frees what the snapshot holds once its payload is out: its lists, copies and the records kept for it. */
function finish(): void {
  zfree(order);
  zfree(done);
  zfree(plain);
  zfree(sealed);
  order = done = plain = sealed = 0;
  orderLen = next = 0;
  current = 0;
  continuation.free();
  preserved.free();
  continuationAt = preservedAt = 0;
  for (let i: u32 = 0; i < graveyard.len; i += 4) freeRec(changetype<Rec>(load<u32>(graveyard.ptr + i)));
  graveyard.free();
  keptBytes = 0;
}

// ---- copy on write: what the store calls before it changes or frees a record ----

/** The record is being written now: its header, its run, or its fields or items are not all out. */
// @ts-ignore: decorator
@inline function inProgress(r: usize): bool {
  return r == current && (headAt < headLen || runLeft > 0 || phase == P_FIELDS || phase == P_ITEMS);
}

/** The index of `r` in the list if the writer has not reached it nor copied it, else -1. */
function pendingIndex(r: usize): i32 {
  for (let d = 0; d < DATABASES; d++) {
    let lo = max<u32>(next, unchecked(segStart[d]));
    const end = unchecked(segStart[d + 1]);
    if (lo >= end) continue;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const at = <usize>load<u32>(order + (<usize>mid << 2));
      if (at < r) lo = mid + 1;
      else hi = mid;
    }
    if (lo < end && <usize>load<u32>(order + (<usize>lo << 2)) == r) return isDone(lo) ? -1 : <i32>lo;
  }
  return -1;
}

/** The database of the listed record at index `i`. */
function dbOfIndex(i: u32): i32 {
  let d = 0;
  while (unchecked(segStart[d + 1]) <= i) d++;
  return d;
}

// @ts-ignore: decorator
@inline function isDone(i: u32): bool {
  return (load<u8>(done + (<usize>i >> 3)) & (1 << <u8>(i & 7))) != 0;
}

// @ts-ignore: decorator
@inline function markDone(i: u32): void {
  const p = done + (<usize>i >> 3);
  store<u8>(p, load<u8>(p) | <u8>(1 << <u8>(i & 7)));
}

/** `r` (a key's record) is about to change in place: the snapshot keeps it as it is now. */
export function snapshotWillChange(r: Rec): void {
  dirty++;
  if (state != WRITING) return;
  const p = changetype<usize>(r);
  if (inProgress(p)) {
    drainCurrent(continuation);
  } else {
    const i = pendingIndex(p);
    if (i < 0) return;
    preserved.putByte(SELECT_DB); // copies are whole entries written between others: each marks its database
    preserved.putByte(<u8>dbOfIndex(<u32>i));
    writeEntry(r, preserved);
    markDone(<u32>i);
  }
  if (continuation.failed || preserved.failed) broken = true;
}

/**
 * `r` (a key's record) is leaving the store: true if the snapshot keeps it until it ends (the
 * caller must not free it), false if the caller frees it as usual.
 */
export function snapshotRelease(r: Rec): bool {
  dirty++;
  if (state != WRITING) return false;
  const p = changetype<usize>(r);
  if (inProgress(p)) {
    drainCurrent(continuation);
    if (continuation.failed) broken = true;
    return false;
  }
  if (pendingIndex(p) < 0) return false;
  graveyard.putU32(<u32>p);
  if (!graveyard.failed) {
    keptBytes += recordBytes(r);
    return true;
  }
  broken = true; // no room even to keep it: the snapshot fails, the record goes
  return false;
}

/** Appends a whole key's entry (as the payload has it) for `r` to `into`. */
function writeEntry(r: Rec, into: ByteBuf): void {
  let n: u32 = r.valLen;
  let bytes: u32 = r.keyLen + r.valLen; // a string's key and value lie side by side
  if (holdsTable(r.type)) {
    n = hashOf(r).count;
    bytes = r.keyLen;
  } else if (r.type == TYPE_LIST) {
    n = listOf(r).length;
    bytes = r.keyLen;
  }
  into.putByte(r.type);
  into.putI64(r.expireAt);
  into.putU32(r.keyLen);
  into.putU32(n);
  into.put(keyPtr(r), bytes);
  if (holdsTable(r.type)) writeFields(hashOf(r), 0, into);
  else if (r.type == TYPE_LIST) writeItems(r, 0, into);
}

function writeFields(t: Table, from: u32, into: ByteBuf): void {
  const slots = slotCount(t);
  for (let i = from; i < slots; i++) {
    const f = at(t, i);
    if (f == null) continue;
    into.putU32(f.keyLen);
    into.putU32(f.valLen);
    into.put(keyPtr(f), f.keyLen + f.valLen);
  }
}

function writeItems(r: Rec, from: u32, into: ByteBuf): void {
  const l = listOf(r);
  for (let i = from; i < l.length; i++) {
    const item = itemAt(l, i);
    into.putU32(itemLen(item));
    into.put(itemData(item), itemLen(item));
  }
}

/** Moves what is left of the record being written to `into`, written next: the record is then free to change. */
function drainCurrent(into: ByteBuf): void {
  into.put(head + headAt, headLen - headAt);
  headAt = headLen;
  into.put(runPtr, runLeft);
  runLeft = 0;
  if (phase == P_FIELDS) writeFields(hashOf(changetype<Rec>(current)), sub, into);
  else if (phase == P_ITEMS) writeItems(changetype<Rec>(current), sub, into);
  if (phase == P_FIELDS || phase == P_ITEMS) phase = P_KEY;
  current = 0;
}

// ---- sealing chunks ----

/** Serialises the next chunk and seals it after its length; false if sealing failed. */
function sealNextChunk(): bool {
  store<u32>(plain, CHUNK_MAGIC);
  memory.copy(plain + CHUNK_ID, id, SNAPSHOT_ID_BYTES);
  store<f64>(plain + CHUNK_VALUE, value);
  store<u32>(plain + CHUNK_INDEX, chunkIndex);
  const name = instanceName();
  memory.fill(plain + CHUNK_INSTANCE, 0, INSTANCE_BYTES);
  store<u32>(plain + CHUNK_INSTANCE_LEN, name == null ? 0 : name.byteLength);
  if (name != null) memory.copy(plain + CHUNK_INSTANCE, name.dataStart, name.byteLength);
  plainLen = CHUNK_HEADER;
  fillPayload();
  store<u32>(plain + CHUNK_FLAGS, payloadDone ? CHUNK_LAST : 0);
  const n = sealRaw(plain, plainLen, sealed + 4, WRITE_CHUNK + SEAL_OVERHEAD);
  memory.fill(plain, 0, plainLen); // no plaintext of the store left in a buffer that outlives the snapshot
  if (n < 0) return false;
  store<u32>(sealed, n);
  sealedLen = 4 + <u32>n;
  writtenBytes += sealedLen;
  sealedAt = 0;
  chunkIndex++;
  return true;
}

/** Copies up to `room` bytes from offset `at` of `b`; how many. */
function fromBuf(b: ByteBuf, at: u32, room: u32): u32 {
  const n = min<u32>(room, b.len - at);
  memory.copy(plain + plainLen, b.ptr + at, n);
  plainLen += n;
  return n;
}

/** Fills the chunk with payload bytes, up to its size or the payload's end. */
function fillPayload(): void {
  while (plainLen < WRITE_CHUNK) {
    const room = WRITE_CHUNK - plainLen;
    if (continuationAt < continuation.len) {
      continuationAt += fromBuf(continuation, continuationAt, room);
      if (continuationAt == continuation.len) {
        continuation.clear();
        continuationAt = 0;
      }
    } else if (headAt < headLen) {
      const n = min<u32>(room, headLen - headAt);
      copyMemory(plain + plainLen, head + headAt, n);
      headAt += n;
      plainLen += n;
    } else if (runLeft > 0) {
      const n = min<u32>(room, runLeft);
      memory.copy(plain + plainLen, runPtr, n);
      runPtr += n;
      runLeft -= n;
      plainLen += n;
    } else if (phase == P_KEY && preservedAt < preserved.len) { // whole entries, between two of the list's
      writtenDb = -1;
      preservedAt += fromBuf(preserved, preservedAt, room);
      if (preservedAt == preserved.len) {
        preserved.clear();
        preservedAt = 0;
      }
    } else if (!step()) {
      payloadDone = true;
      return;
    }
  }
}

/** Sets up the next header and run of the payload; false at its end. */
function step(): bool {
  headAt = 0;
  // Each phase's accesses are in functions of their own, so that this loop pins no page.
  while (true) {
    if (phase == P_START) return startPayload();
    if (phase == P_KEY) return nextKey();
    if (phase == P_FIELDS && nextField()) return true;
    if (phase == P_ITEMS && nextItem()) return true;
    if (phase == P_END) return false;
    phase = P_KEY; // the hash's fields or the list's items are all out
  }
}

function startPayload(): bool {
  store<u32>(head, PAYLOAD_MAGIC);
  store<u32>(head, PAYLOAD_VERSION, 4);
  store<u64>(head, logSeqAtBegin, 8);
  memory.copy(head + 16, logIdAtBegin, LOG_ID_BYTES);
  headLen = PAYLOAD_HEADER;
  phase = P_KEY;
  return true;
}

/** The next listed key not written yet; else the copies, then the end mark. */
function nextKey(): bool {
  current = 0;
  while (next < orderLen && isDone(next)) next++; // copied already, into `preserved`
  if (next == orderLen) {
    if (preservedAt < preserved.len) return true; // the copies go before the end mark
    store<u8>(head, 0);
    headLen = 1;
    phase = P_END;
    return true;
  }
  const d = dbOfIndex(next);
  if (d != writtenDb) {
    store<u8>(head, SELECT_DB);
    store<u8>(head, <u8>d, 1);
    headLen = 2;
    writtenDb = d;
    return true;
  }
  const r = changetype<Rec>(load<u32>(order + (<usize>next << 2)));
  markDone(next);
  next++;
  let n: u32 = r.valLen;
  let bytes: u32 = r.keyLen + r.valLen; // a string's key and value lie side by side
  if (holdsTable(r.type)) {
    n = hashOf(r).count;
    bytes = r.keyLen;
    phase = P_FIELDS;
  } else if (r.type == TYPE_LIST) {
    n = listOf(r).length;
    bytes = r.keyLen;
    phase = P_ITEMS;
  }
  current = changetype<usize>(r);
  sub = 0;
  store<u8>(head, r.type);
  store<i64>(head, r.expireAt, 1);
  store<u32>(head, r.keyLen, 9);
  store<u32>(head, n, 13);
  headLen = 17;
  runPtr = keyPtr(r);
  runLeft = bytes;
  return true;
}

/** The next field of the hash being written; false after its last. */
function nextField(): bool {
  const t = hashOf(changetype<Rec>(current));
  const slots = slotCount(t);
  while (sub < slots && at(t, sub) == null) sub++;
  if (sub == slots) return false;
  const f = changetype<Rec>(at(t, sub++));
  store<u32>(head, f.keyLen);
  store<u32>(head, f.valLen, 4);
  headLen = 8;
  runPtr = keyPtr(f);
  runLeft = f.keyLen + f.valLen;
  return true;
}

/** The next item of the list being written; false after its last. */
function nextItem(): bool {
  const l = listOf(changetype<Rec>(current));
  if (sub == l.length) return false;
  const item = itemAt(l, sub++);
  store<u32>(head, itemLen(item));
  headLen = 4;
  runPtr = itemData(item);
  runLeft = itemLen(item);
  return true;
}
