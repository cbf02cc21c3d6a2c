// Taking a sealed snapshot (format in snapshot-format.ts) as a stream: snapshot_begin prepares, each
// snapshot_read hands the host the next bytes, serialising and sealing one chunk at a time, and
// snapshot_commit advances the enclave's counter once the host has stored them all. The enclave
// holds one chunk of plaintext and one sealed chunk at a time, plus 4 bytes per key: a store of any
// size is saved without doubling its memory.
//
// Keys are written in the order of their records' addresses, so that reading them walks memory
// upwards: under the software MMU the records' pages are filled once each, in runs (a sequential
// fault stream), rather than once per key in hash order.
//
// Between snapshot_begin and the last snapshot_read the store must not change (records are read in
// place): a request in between (on_data) cancels the snapshot, and its next snapshot_read or
// snapshot_commit says SNAPSHOT_BAD_CALL.
import { SEAL_OVERHEAD, counterAdvance, counterRead, randomBytes, sealRaw } from "../../assembly/index";
import { SNAPSHOT_BAD_CALL, SNAPSHOT_NO_MEMORY, SNAPSHOT_ROLLBACK, SNAPSHOT_UNAVAILABLE } from "../../assembly/server";
import { copyMemory } from "./bytes";
import { itemAt, itemData, itemLen } from "./list";
import { Rec, TYPE_HASH, TYPE_LIST, TYPE_STRING, keyPtr } from "./record";
import { instanceName } from "./instance";
import {
  CHUNK_BYTES, CHUNK_FLAGS, CHUNK_HEADER, CHUNK_ID, CHUNK_INDEX, CHUNK_INSTANCE, CHUNK_INSTANCE_LEN, CHUNK_LAST, CHUNK_MAGIC,
  CHUNK_VALUE, INSTANCE_BYTES, PAYLOAD_MAGIC, PAYLOAD_VERSION, SNAPSHOT_ID_BYTES,
} from "./snapshot-format";
import { sortU32 } from "./sort-u32";
import { Db, hashOf, listOf } from "./store";
import { at, slotCount } from "./table";
import { zalloc, zfree } from "./zmalloc";

const IDLE = 0, WRITING = 1, WRITTEN = 2;
let state = IDLE;

// What goes into the payload next (step).
const P_START = 0, P_KEY = 1, P_FIELDS = 2, P_ITEMS = 3, P_END = 4;
let phase = P_START;
/** The records in address order (u32 each), and the next to write. */
let order: usize = 0;
let orderLen: u32 = 0;
let next: u32 = 0;
/** The hash or list being written, and the next field slot or item. */
let current: Rec = changetype<Rec>(0);
let sub: u32 = 0;
/** Small fields to write (a key's header), then a run of bytes written in place (a key and its value). */
const head = memory.data(24);
let headLen: u32 = 0;
let headAt: u32 = 0;
let runPtr: usize = 0;
let runLeft: u32 = 0;
let payloadDone = false;

/** One chunk's plaintext, and the sealed chunk after its u32 length: what snapshot_read hands out. */
let plain: usize = 0;
let plainLen: u32 = 0;
let sealed: usize = 0;
let sealedLen: u32 = 0;
let sealedAt: u32 = 0;
let chunkIndex: u32 = 0;
/** The counter value sealed into every chunk, and the snapshot's id. */
let value: f64 = -1;
const id = memory.data(SNAPSHOT_ID_BYTES);

/**
 * Starts a snapshot of `db`: 0, SNAPSHOT_UNAVAILABLE when the enclave cannot seal or has no counter,
 * or SNAPSHOT_NO_MEMORY when its buffers (2 MiB and 4 bytes a key) do not fit.
 */
export function snapshotBegin(db: Db): i32 {
  snapshotCancel();
  const counter = counterRead(instanceName());
  if (counter < 0) return SNAPSHOT_UNAVAILABLE;
  value = counter + 1;
  db.purge();
  const t = db.keys;
  orderLen = t.count;
  order = zalloc(<usize>max<u32>(orderLen, 1) << 2);
  plain = zalloc(CHUNK_BYTES);
  sealed = zalloc(4 + <usize>CHUNK_BYTES + SEAL_OVERHEAD);
  if (order == 0 || plain == 0 || sealed == 0) {
    snapshotCancel();
    return SNAPSHOT_NO_MEMORY;
  }
  let k: u32 = 0;
  const n = slotCount(t);
  for (let i: u32 = 0; i < n; i++) {
    const r = at(t, i);
    if (r == null) continue;
    store<u32>(order + (<usize>k << 2), changetype<usize>(r));
    k++;
  }
  sortU32(order, orderLen);
  memory.copy(id, randomBytes(SNAPSHOT_ID_BYTES).dataStart, SNAPSHOT_ID_BYTES);
  next = 0;
  phase = P_START;
  headLen = headAt = runLeft = 0;
  payloadDone = false;
  sealedLen = sealedAt = 0;
  chunkIndex = 0;
  state = WRITING;
  return 0;
}

/**
 * Copies the next at most `cap` bytes of the sealed snapshot to `dest`: their count, 0 once all of
 * it was read, SNAPSHOT_UNAVAILABLE if sealing failed, SNAPSHOT_BAD_CALL with no snapshot begun (or
 * one cancelled).
 */
export function snapshotRead(dest: usize, cap: u32): i32 {
  if (state == WRITTEN) return 0;
  if (state != WRITING) return SNAPSHOT_BAD_CALL;
  if (sealedAt == sealedLen) {
    if (payloadDone) {
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
  snapshotCancel();
  if (r == -1) return SNAPSHOT_UNAVAILABLE;
  // The counter passed this snapshot's value: a newer one was committed since it began.
  if (r != 0) return SNAPSHOT_ROLLBACK;
  return 0;
}

/** Drops a snapshot in progress (the store is about to change), freeing its buffers. */
export function snapshotCancel(): void {
  state = IDLE;
  zfree(order);
  zfree(plain);
  zfree(sealed);
  order = plain = sealed = 0;
  orderLen = 0;
}

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
  const n = sealRaw(plain, plainLen, sealed + 4, CHUNK_BYTES + SEAL_OVERHEAD);
  memory.fill(plain, 0, plainLen); // no plaintext of the store left in a buffer that outlives the snapshot
  if (n < 0) return false;
  store<u32>(sealed, n);
  sealedLen = 4 + <u32>n;
  sealedAt = 0;
  chunkIndex++;
  return true;
}

/** Fills the chunk with payload bytes, up to its size or the payload's end. */
function fillPayload(): void {
  while (plainLen < CHUNK_BYTES) {
    const room = CHUNK_BYTES - plainLen;
    if (headAt < headLen) {
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
    } else if (!step()) {
      payloadDone = true;
      return;
    }
  }
}

/** Sets up the next header and run of the payload; false at its end. */
function step(): bool {
  headAt = 0;
  while (true) {
    if (phase == P_START) {
      store<u32>(head, PAYLOAD_MAGIC);
      store<u32>(head, PAYLOAD_VERSION, 4);
      headLen = 8;
      phase = P_KEY;
      return true;
    }
    if (phase == P_KEY) {
      if (next == orderLen) {
        store<u8>(head, 0);
        headLen = 1;
        phase = P_END;
        return true;
      }
      const r = changetype<Rec>(load<u32>(order + (<usize>next << 2)));
      next++;
      let n: u32 = r.valLen;
      let bytes: u32 = r.keyLen + r.valLen; // a string's key and value lie side by side
      if (r.type == TYPE_HASH) {
        n = hashOf(r).count;
        bytes = r.keyLen;
        phase = P_FIELDS;
      } else if (r.type == TYPE_LIST) {
        n = listOf(r).length;
        bytes = r.keyLen;
        phase = P_ITEMS;
      } else {
        assert(r.type == TYPE_STRING);
      }
      current = r;
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
    if (phase == P_FIELDS) {
      const t = hashOf(current);
      const slots = slotCount(t);
      while (sub < slots && at(t, sub) == null) sub++;
      if (sub == slots) {
        phase = P_KEY;
        continue;
      }
      const f = changetype<Rec>(at(t, sub++));
      store<u32>(head, f.keyLen);
      store<u32>(head, f.valLen, 4);
      headLen = 8;
      runPtr = keyPtr(f);
      runLeft = f.keyLen + f.valLen;
      return true;
    }
    if (phase == P_ITEMS) {
      const l = listOf(current);
      if (sub == l.length) {
        phase = P_KEY;
        continue;
      }
      const item = itemAt(l, sub++);
      store<u32>(head, itemLen(item));
      headLen = 4;
      runPtr = itemData(item);
      runLeft = itemLen(item);
      return true;
    }
    return false; // P_END
  }
}
