// Sealed snapshots of the store, with rollback protection by the enclave's monotonic counter (the
// server-app contract; docs/writing-apps.md, "A server app: kv").
//
// The state is serialised into one stream (the payload):
//   "KVDB" u32 version(1), then one record per key:
//     type u8 (1 string, 2 hash, 3 list), expireAt i64 (ms, 0: none), key (u32 length + bytes), then
//     string: u32 length + bytes | hash: u32 n, n x (field, value) | list: u32 n, n x item
//   and a type byte 0 at the end. Integers are little-endian.
// The payload is cut into chunks; each chunk's plaintext is
//   "KVSC" | counter value f64 | chunk index u32 | chunk count u32 | up to CHUNK_PAYLOAD bytes
// and is sealed on its own (at most MAX_SEAL_PLAINTEXT, 1 MiB, per seal). The sealed snapshot is
// the blobs in order, each preceded by its length (u32): the framing is in clear, but every byte a
// chunk carries is authenticated, and the index, count and counter value inside it stop chunks
// from being reordered, dropped or mixed between snapshots.
import { SEAL_OVERHEAD, counterAdvance, counterRead, seal, unseal } from "../../assembly/index";
import { SNAPSHOT_BAD_CALL, SNAPSHOT_REFUSED, SNAPSHOT_ROLLBACK, SNAPSHOT_UNAVAILABLE } from "../../assembly/server";
import { ByteBuf } from "./bytes";
import { now } from "./clock";
import { Db, Deque, Dict, Entry, TYPE_HASH, TYPE_LIST, TYPE_STRING, hashBytes } from "./store";

const PAYLOAD_MAGIC: u32 = 0x4244564b; // "KVDB"
const CHUNK_MAGIC: u32 = 0x4353564b; // "KVSC"
const VERSION: u32 = 1;
const MAX_SEAL_PLAINTEXT: u32 = 1 << 20;
const CHUNK_HEADER: u32 = 20;
const CHUNK_PAYLOAD: u32 = MAX_SEAL_PLAINTEXT - CHUNK_HEADER;

// ---- serialising ----

function putBytes(out: ByteBuf, b: ArrayBuffer): void {
  out.putU32(b.byteLength);
  out.putBuf(b);
}

function serialise(db: Db, out: ByteBuf): void {
  out.putU32(PAYLOAD_MAGIC);
  out.putU32(VERSION);
  const keys = db.keys;
  for (let b = 0; b < keys.size; b++) {
    const e = keys.at(b);
    if (e != null) {
      out.putByte(e.type);
      out.putI64(e.expireAt);
      putBytes(out, e.key);
      if (e.type == TYPE_STRING) {
        putBytes(out, changetype<ArrayBuffer>(e.str));
      } else if (e.type == TYPE_HASH) {
        const h = changetype<Dict>(e.hash);
        out.putU32(h.count);
        for (let i = 0; i < h.size; i++) {
          const f = h.at(i);
          if (f == null) continue;
          putBytes(out, f.key);
          putBytes(out, changetype<ArrayBuffer>(f.str));
        }
      } else {
        const l = changetype<Deque>(e.list);
        out.putU32(l.length);
        for (let i: u32 = 0; i < l.length; i++) putBytes(out, l.at(i));
      }
    }
  }
  out.putByte(0);
}

/** A bounds-checked reader over a payload; `ok` turns false at the first short read. */
class Reader {
  pos: u32 = 0;
  ok: bool = true;
  constructor(public ptr: usize, public len: u32) {}

  private has(n: u32): bool {
    if (!this.ok || <u64>this.pos + n > <u64>this.len) this.ok = false;
    return this.ok;
  }
  u8(): u8 {
    if (!this.has(1)) return 0;
    return load<u8>(this.ptr + this.pos++);
  }
  u32(): u32 {
    if (!this.has(4)) return 0;
    const v = load<u32>(this.ptr + this.pos);
    this.pos += 4;
    return v;
  }
  i64(): i64 {
    if (!this.has(8)) return 0;
    const v = load<i64>(this.ptr + this.pos);
    this.pos += 8;
    return v;
  }
  bytes(): ArrayBuffer {
    const n = this.u32();
    if (!this.has(n)) return new ArrayBuffer(0);
    const b = new ArrayBuffer(<i32>n);
    memory.copy(changetype<usize>(b), this.ptr + this.pos, n);
    this.pos += n;
    return b;
  }
}

/** The database in a payload, or null if it is malformed. Keys already expired are left out. */
function deserialise(r: Reader): Db | null {
  if (r.u32() != PAYLOAD_MAGIC || r.u32() != VERSION) return null;
  const db = new Db();
  while (r.ok) {
    const type = r.u8();
    if (type == 0) break;
    const expireAt = r.i64();
    const key = r.bytes();
    const k = changetype<usize>(key);
    const kn = <u32>key.byteLength;
    const e = new Entry(key, hashBytes(k, kn));
    e.type = type;
    if (type == TYPE_STRING) {
      e.str = r.bytes();
    } else if (type == TYPE_HASH) {
      const h = new Dict();
      const n = r.u32();
      for (let i: u32 = 0; i < n && r.ok; i++) {
        const field = r.bytes();
        const f = h.findOrAdd(changetype<usize>(field), field.byteLength);
        f.str = r.bytes();
      }
      if (h.count == 0) return null;
      e.hash = h;
    } else if (type == TYPE_LIST) {
      const l = new Deque();
      const n = r.u32();
      for (let i: u32 = 0; i < n && r.ok; i++) l.pushBack(r.bytes());
      if (l.length == 0) return null;
      e.list = l;
    } else {
      return null;
    }
    if (!r.ok || db.keys.find(k, kn, e.keyHash) != null) return null;
    if (expireAt != 0 && expireAt <= now()) continue;
    db.keys.add(e);
    if (expireAt != 0) db.setExpiry(e, expireAt);
  }
  return r.ok && r.pos == r.len ? db : null;
}

// ---- taking a snapshot ----

const sealed = new ByteBuf();
let readAt: u32 = 0;
/** The counter value sealed into the snapshot being taken (-1: none begun). */
let snapshotValue: f64 = -1;

export function snapshotBegin(db: Db): i32 {
  sealed.free();
  readAt = 0;
  snapshotValue = -1;
  const counter = counterRead();
  if (counter < 0) return SNAPSHOT_UNAVAILABLE;
  const value = counter + 1;
  db.purge();
  const payload = new ByteBuf();
  serialise(db, payload);
  const count = max<u32>(1, (payload.len + CHUNK_PAYLOAD - 1) / CHUNK_PAYLOAD);
  for (let i: u32 = 0; i < count; i++) {
    const from = i * CHUNK_PAYLOAD;
    const n = min<u32>(CHUNK_PAYLOAD, payload.len - from);
    const plain = new Uint8Array(<i32>(CHUNK_HEADER + n));
    const p = plain.dataStart;
    store<u32>(p, CHUNK_MAGIC);
    store<f64>(p, value, 4);
    store<u32>(p, i, 12);
    store<u32>(p, count, 16);
    memory.copy(p + CHUNK_HEADER, payload.ptr + from, n);
    const blob = seal(plain);
    memory.fill(p, 0, plain.byteLength); // no plaintext left behind in the GC's heap
    if (blob == null) {
      payload.free();
      sealed.free();
      return SNAPSHOT_UNAVAILABLE;
    }
    sealed.putU32(blob.byteLength);
    sealed.put(blob.dataStart, blob.byteLength);
  }
  memory.fill(payload.ptr, 0, payload.len);
  payload.free();
  snapshotValue = value;
  return <i32>sealed.len;
}

/** Copies the next at most `cap` sealed bytes to `dest`; 0 at the end. */
export function snapshotRead(dest: usize, cap: u32): u32 {
  const n = min<u32>(cap, sealed.len - readAt);
  memory.copy(dest, sealed.ptr + readAt, n);
  readAt += n;
  return n;
}

export function snapshotCommit(): i32 {
  if (snapshotValue < 0) return SNAPSHOT_BAD_CALL;
  const r = counterAdvance(snapshotValue);
  snapshotValue = -1;
  sealed.free();
  readAt = 0;
  if (r == -1) return SNAPSHOT_UNAVAILABLE;
  // The counter passed this snapshot's value: a newer one was committed since it began.
  if (r != 0) return SNAPSHOT_ROLLBACK;
  return 0;
}

// ---- restoring one ----

const incoming = new ByteBuf();
let incomingTotal: u32 = 0;
let restoring = false;

export function restoreBegin(total: u32): i32 {
  incoming.free();
  restoring = false;
  if (total == 0) return SNAPSHOT_BAD_CALL;
  if (!incoming.reserve(total)) return SNAPSHOT_BAD_CALL;
  incomingTotal = total;
  restoring = true;
  return 0;
}

export function restoreFeed(src: usize, len: u32): i32 {
  if (!restoring) return SNAPSHOT_BAD_CALL;
  if (<u64>incoming.len + len > <u64>incomingTotal) {
    incoming.free();
    restoring = false;
    return SNAPSHOT_BAD_CALL;
  }
  incoming.put(src, len);
  return 0;
}

/** Set by restoreEnd on success: the restored database. */
export let restoredDb: Db | null = null;

export function restoreEnd(allowRollback: bool): i32 {
  restoredDb = null;
  if (!restoring || incoming.len != incomingTotal) {
    incoming.free();
    restoring = false;
    return SNAPSHOT_BAD_CALL;
  }
  restoring = false;
  const r = openChunks(allowRollback);
  incoming.free();
  return r;
}

function openChunks(allowRollback: bool): i32 {
  const counter = counterRead();
  if (counter < 0) return SNAPSHOT_UNAVAILABLE;
  const payload = new ByteBuf();
  let value: f64 = -1;
  let count: u32 = 0;
  let index: u32 = 0;
  let pos: u32 = 0;
  const total = incoming.len;
  while (pos < total) {
    if (total - pos < 4) return refuse(payload);
    const n = load<u32>(incoming.ptr + pos);
    pos += 4;
    if (n < <u32>SEAL_OVERHEAD || n > total - pos) return refuse(payload);
    const blob = new Uint8Array(<i32>n);
    memory.copy(blob.dataStart, incoming.ptr + pos, n);
    pos += n;
    const plain = unseal(blob);
    if (plain == null) return refuse(payload);
    const p = plain.dataStart;
    const ok = <u32>plain.byteLength >= CHUNK_HEADER && load<u32>(p) == CHUNK_MAGIC;
    const v = ok ? load<f64>(p, 4) : -1;
    const i = ok ? load<u32>(p, 12) : 0;
    const c = ok ? load<u32>(p, 16) : 0;
    if (!ok || i != index || c == 0 || (index > 0 && (c != count || v != value))) {
      memory.fill(p, 0, plain.byteLength);
      return refuse(payload);
    }
    count = c;
    value = v;
    payload.put(p + CHUNK_HEADER, <u32>plain.byteLength - CHUNK_HEADER);
    memory.fill(p, 0, plain.byteLength);
    index++;
  }
  if (index == 0 || index != count) return refuse(payload);
  if (value < counter && !allowRollback) {
    wipe(payload);
    return SNAPSHOT_ROLLBACK;
  }
  const db = deserialise(new Reader(payload.ptr, payload.len));
  wipe(payload);
  if (db == null) return SNAPSHOT_REFUSED;
  if (value > counter && counterAdvance(value) != 0) return SNAPSHOT_REFUSED;
  restoredDb = db;
  return 0;
}

function wipe(b: ByteBuf): void {
  memory.fill(b.ptr, 0, b.len);
  b.free();
}

function refuse(payload: ByteBuf): i32 {
  wipe(payload);
  return SNAPSHOT_REFUSED;
}
