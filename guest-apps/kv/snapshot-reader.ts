// Restoring a sealed snapshot (format in snapshot-format.ts) as a stream: restore_begin, then
// restore_feed with the sealed bytes in pieces of any size, then restore_end. Each chunk is unsealed
// and checked as soon as its last byte arrives, and its payload parsed straight into the new store:
// the enclave holds one sealed and one plain chunk at a time, never the whole snapshot.
//
// Nothing of the new store is visible before restore_end accepts it, and a snapshot refused at any
// point (a chunk modified, cut, reordered, repeated or from another snapshot; a rollback) leaves the
// store as it was and frees everything built so far.
import { counterAdvance, counterRead, unsealRaw } from "../../assembly/index";
import {
  SNAPSHOT_BAD_CALL, SNAPSHOT_NO_MEMORY, SNAPSHOT_REFUSED, SNAPSHOT_ROLLBACK, SNAPSHOT_UNAVAILABLE,
} from "../../assembly/server";
import { now } from "./clock";
import { LIST_HEADER, allocItem, initList, itemData, pushItem } from "./list";
import {
  Rec, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, allocRec, freeRecBlock, holdsTable, keyPtr, recordFits, valPtr,
} from "./record";
import { hashGrew, setGrew, zsetGrew } from "./encoding";
import { ZSET_HEADER, initZset, zslInsert } from "./zset";
import { instanceName } from "./instance";
import {
  CHUNK_BYTES, CHUNK_FLAGS, CHUNK_HEADER, CHUNK_ID, CHUNK_INDEX, CHUNK_INSTANCE, CHUNK_INSTANCE_LEN, CHUNK_LAST, CHUNK_MAGIC,
  CHUNK_VALUE, ITEM_HEADER, PAYLOAD_HEADER, PAYLOAD_MAGIC, PAYLOAD_VERSION, PAYLOAD_VERSION_MIN, SELECT_DB, SNAPSHOT_ID_BYTES,
} from "./snapshot-format";
import { FrameGatherer } from "./sealed-frames";
import { Db, freeRec, hashOf, listOf, newDb, zsetOf } from "./store";
import { DATABASES } from "./config";
import { LOG_ID_BYTES } from "./aof-format";
import { TABLE_HEADER, add, find, hashBytes, initTable } from "./table";
import { zalloc, zfree } from "./zmalloc";

const IDLE = 0, FEEDING = 1, FAILED = 2;
let state = IDLE;
let failure: i32 = 0;
let total: u32 = 0;
let fed: u32 = 0;

const frames = new FrameGatherer(CHUNK_BYTES);
let plain: usize = 0;
let chunks: u32 = 0;
let lastSeen = false;
let value: f64 = -1;
const id = memory.data(SNAPSHOT_ID_BYTES);

/** The databases being built (and the one the keys read now go to), and those restore_end accepted. */
let targets: StaticArray<Db> | null = null;
let target: Db | null = null;
export let restoredDbs: StaticArray<Db> | null = null;

/** Empty databases to restore into; null when memory is out (none left allocated). */
function newTargets(): StaticArray<Db> | null {
  const made = new StaticArray<Db>(DATABASES);
  for (let i = 0; i < DATABASES; i++) {
    const d = newDb();
    if (d == null) {
      for (let j = 0; j < i; j++) made[j].free();
      return null;
    }
    made[i] = d;
  }
  return made;
}

export function restoreBegin(totalBytes: u32): i32 {
  reset();
  if (totalBytes == 0) return SNAPSHOT_BAD_CALL;
  if (counterRead(instanceName()) < 0) return SNAPSHOT_UNAVAILABLE;
  total = totalBytes;
  plain = zalloc(CHUNK_BYTES);
  targets = newTargets();
  if (!frames.open() || plain == 0 || targets == null) return fail(SNAPSHOT_NO_MEMORY);
  target = targets![0];
  startParser();
  state = FEEDING;
  return 0;
}

/** The next `len` bytes of the sealed snapshot, at `src` (the shared input: copied before use). */
export function restoreFeed(src: usize, len: u32): i32 {
  if (state == FAILED) return failure;
  if (state != FEEDING) return SNAPSHOT_BAD_CALL;
  if (<u64>fed + len > <u64>total) return fail(SNAPSHOT_BAD_CALL);
  fed += len;
  while (len > 0) {
    if (lastSeen) return fail(SNAPSHOT_REFUSED); // bytes after the last chunk
    const n = frames.take(src, len);
    if (n < 0) return fail(SNAPSHOT_REFUSED);
    src += n;
    len -= n;
    if (frames.whole) {
      if (!openChunk()) return fail(noMemory ? SNAPSHOT_NO_MEMORY : SNAPSHOT_REFUSED);
      frames.next();
    }
  }
  return 0;
}

/** Where the append-only log stood when the snapshot restored last began: its chain goes on from there. */
export let restoredLogSeq: u64 = 0;
export const restoredLogId = memory.data(LOG_ID_BYTES);

/** The store restored last is the newest snapshot (not a rollback let through), so saving it again would change nothing. */
export let restoredIsCurrent = false;

/**
 * Accepts the snapshot fed: 0 (restoredDbs are the new store; the counter advanced to its value if it
 * was below), or a status, the store left as it was.
 */
export function restoreEnd(allowRollback: bool): i32 {
  restoredDbs = null;
  restoredIsCurrent = false;
  if (state == FAILED) {
    const r = failure;
    reset();
    return r;
  }
  if (state != FEEDING || fed != total) {
    reset();
    return SNAPSHOT_BAD_CALL;
  }
  if (frames.partial || !lastSeen || !parserDone()) {
    reset();
    return SNAPSHOT_REFUSED; // cut short
  }
  const counter = counterRead(instanceName());
  if (counter < 0) {
    reset();
    return SNAPSHOT_UNAVAILABLE;
  }
  if (value < counter && !allowRollback) {
    reset();
    return SNAPSHOT_ROLLBACK;
  }
  if (value > counter && counterAdvance(value, instanceName()) != 0) {
    reset();
    return SNAPSHOT_REFUSED;
  }
  restoredDbs = targets;
  restoredIsCurrent = value >= counter;
  targets = null;
  target = null;
  reset();
  return 0;
}

function fail(status: i32): i32 {
  reset();
  state = FAILED;
  failure = status;
  return status;
}

/** Frees whatever a restore holds (a store half built included) and forgets it. */
function reset(): void {
  noMemory = false;
  abandonParse();
  if (targets != null) for (let i = 0; i < DATABASES; i++) targets![i].free();
  targets = null;
  target = null;
  if (plain != 0) memory.fill(plain, 0, CHUNK_BYTES);
  zfree(plain);
  frames.close();
  plain = 0;
  state = IDLE;
  total = fed = 0;
  chunks = 0;
  lastSeen = false;
  value = -1;
}

/** Unseals and checks the chunk received, and parses its payload; false if it is refused. */
function openChunk(): bool {
  const n = unsealRaw(frames.sealed, frames.length, plain, CHUNK_BYTES);
  if (n < <i32>CHUNK_HEADER || load<u32>(plain) != CHUNK_MAGIC) return false;
  const flags = load<u32>(plain + CHUNK_FLAGS);
  if (load<u32>(plain + CHUNK_INDEX) != chunks || (flags & ~CHUNK_LAST) != 0 || !sameInstance()) return false;
  const v = load<f64>(plain + CHUNK_VALUE);
  if (chunks == 0) {
    value = v;
    memory.copy(id, plain + CHUNK_ID, SNAPSHOT_ID_BYTES);
  } else if (v != value || memory.compare(id, plain + CHUNK_ID, SNAPSHOT_ID_BYTES) != 0) {
    return false;
  }
  lastSeen = (flags & CHUNK_LAST) != 0;
  chunks++;
  const ok = parse(plain + CHUNK_HEADER, <u32>n - CHUNK_HEADER);
  memory.fill(plain, 0, <usize>n);
  return ok;
}

/** Was the chunk in `plain` sealed by this instance (instance.ts)? */
function sameInstance(): bool {
  const name = instanceName();
  const len = name == null ? 0 : <u32>name.byteLength;
  if (load<u32>(plain + CHUNK_INSTANCE_LEN) != len) return false;
  return name == null || memory.compare(plain + CHUNK_INSTANCE, name.dataStart, len) == 0;
}

// ---- the payload parser: resumable at any byte ----

/** The parser stopped because memory is out (not because the payload is malformed). */
let noMemory = false;

function outOfMemory(): bool {
  noMemory = true;
  return false;
}

// What the parser waits for: a header of `need` bytes (gathered in `scratch`), or the bytes of a run
// copied in place into a record (sinkPtr, sinkLeft).
const S_MAGIC = 0, S_TYPE = 1, S_KEY = 2, S_KEY_BYTES = 3, S_FIELD = 4, S_FIELD_BYTES = 5, S_ITEM = 6,
  S_ITEM_BYTES = 7, S_END = 8, S_DB = 9;
let pstate = S_MAGIC;
const scratch = memory.data(32);
let need: u32 = 0;
let have: u32 = 0;
let sinkPtr: usize = 0;
let sinkLeft: u32 = 0;
/** The key being read, its expiry, the fields or items still to come, and the field or item being read. */
let key: Rec | null = null;
let keyExpireAt: i64 = 0;
let remaining: u32 = 0;
let field: Rec | null = null;
let item: usize = 0;

function startParser(): void {
  pstate = S_MAGIC;
  need = PAYLOAD_HEADER;
  have = 0;
  sinkLeft = 0;
}

function parserDone(): bool {
  return pstate == S_END;
}

/** Frees the key, field or item the parser was in the middle of. */
function abandonParse(): void {
  if (field != null) freeRecBlock(changetype<Rec>(field));
  if (key != null) freeRec(changetype<Rec>(key));
  if (item != 0) zfree(item);
  field = null;
  key = null;
  item = 0;
  pstate = S_MAGIC;
}

function parse(p: usize, n: u32): bool {
  while (n > 0) {
    if (sinkLeft > 0) {
      const k = min<u32>(n, sinkLeft);
      memory.copy(sinkPtr, p, k);
      sinkPtr += k;
      sinkLeft -= k;
      p += k;
      n -= k;
      if (sinkLeft == 0 && !runDone()) return false;
      continue;
    }
    if (pstate == S_END) return false; // bytes after the end
    const k = min<u32>(n, need - have);
    memory.copy(scratch + have, p, k);
    have += k;
    p += k;
    n -= k;
    if (have == need) {
      have = 0;
      if (!headerDone()) return false;
    }
  }
  return true;
}

function expect(state: i32, bytes: u32): bool {
  pstate = state;
  need = bytes;
  return true;
}

/** Copies the next `len` bytes into `ptr`; a run of none is done at once. */
function startRun(state: i32, ptr: usize, len: u32): bool {
  pstate = state;
  sinkPtr = ptr;
  sinkLeft = len;
  return len == 0 ? runDone() : true;
}

function headerDone(): bool {
  if (pstate == S_MAGIC) {
    const version = load<u32>(scratch, 4);
    if (load<u32>(scratch) != PAYLOAD_MAGIC || version < PAYLOAD_VERSION_MIN || version > PAYLOAD_VERSION) return false;
    restoredLogSeq = load<u64>(scratch, 8);
    memory.copy(restoredLogId, scratch + 16, LOG_ID_BYTES);
    return expect(S_TYPE, 1);
  }
  if (pstate == S_TYPE) {
    keyType = load<u8>(scratch);
    if (keyType == 0) {
      pstate = S_END;
      return true;
    }
    if (keyType == SELECT_DB) return expect(S_DB, 1);
    return expect(S_KEY, ITEM_HEADER - 1); // the rest of the key's header
  }
  if (pstate == S_KEY) return keyHeader();
  if (pstate == S_DB) {
    const i = <i32>load<u8>(scratch);
    if (i >= DATABASES) return false;
    target = targets![i];
    return expect(S_TYPE, 1);
  }
  if (pstate == S_FIELD) {
    const fn = load<u32>(scratch);
    const vn = load<u32>(scratch, 4);
    if (!recordFits(fn, vn)) return false;
    const type = changetype<Rec>(key).type;
    if ((type == TYPE_SET && vn != 0) || (type == TYPE_ZSET && vn != 8)) return false; // a member's value: none, or its score
    const f = allocRec(TYPE_STRING, fn, vn);
    if (f == null) return outOfMemory();
    field = f;
    return startRun(S_FIELD_BYTES, keyPtr(f), fn + vn);
  }
  // S_ITEM
  const len = load<u32>(scratch);
  if (!recordFits(len, 0)) return false;
  item = allocItem(len);
  if (item == 0) return outOfMemory();
  return startRun(S_ITEM_BYTES, itemData(item), len);
}

/** A key's type byte, gathered alone (S_TYPE) before the rest of its header. */
let keyType: u8 = 0;

function keyHeader(): bool {
  keyExpireAt = load<i64>(scratch);
  const kn = load<u32>(scratch, 8);
  const n = load<u32>(scratch, 12);
  const type = keyType;
  let vn: u32;
  if (type == TYPE_STRING) vn = n;
  else if (type == TYPE_HASH || type == TYPE_SET) vn = <u32>TABLE_HEADER;
  else if (type == TYPE_ZSET) vn = ZSET_HEADER;
  else if (type == TYPE_LIST) vn = <u32>LIST_HEADER;
  else return false;
  if (!recordFits(kn, vn) || (type != TYPE_STRING && n == 0)) return false; // Redis keeps no empty hash, list or set
  const r = allocRec(type, kn, vn);
  if (r == null) return outOfMemory();
  const made = type == TYPE_ZSET ? initZset(zsetOf(r)) : type == TYPE_LIST ? initList(listOf(r)) : type == TYPE_STRING || initTable(hashOf(r));
  if (!made) {
    freeRecBlock(r);
    return outOfMemory();
  }
  key = r;
  remaining = n;
  return startRun(S_KEY_BYTES, keyPtr(r), type == TYPE_STRING ? kn + n : kn);
}

/** A run of bytes is in place. */
function runDone(): bool {
  if (pstate == S_KEY_BYTES) {
    const r = changetype<Rec>(key);
    r.hash = hashBytes(keyPtr(r), r.keyLen);
    if (find(changetype<Db>(target).keys, keyPtr(r), r.keyLen, r.hash) != null) return false; // a key twice
    if (holdsTable(r.type)) return expect(S_FIELD, 8);
    if (r.type == TYPE_LIST) return expect(S_ITEM, 4);
    return keyDone();
  }
  if (pstate == S_FIELD_BYTES) {
    const f = changetype<Rec>(field);
    f.hash = hashBytes(keyPtr(f), f.keyLen);
    const r = changetype<Rec>(key);
    const h = hashOf(r);
    if (find(h, keyPtr(f), f.keyLen, f.hash) != null) return false; // a field twice
    const score = r.type == TYPE_ZSET ? load<f64>(valPtr(f)) : 0;
    if (isNaN(score)) return false;
    if (!add(h, f)) return outOfMemory();
    field = null; // the key's now: freed with it
    if (r.type == TYPE_ZSET && !zslInsert(zsetOf(r), score, f)) return outOfMemory();
    // The encoding Redis would load it with (encoding.ts).
    if (r.type == TYPE_HASH) hashGrew(r, h.count, f.keyLen, f.valLen);
    else if (r.type == TYPE_SET) setGrew(r, h.count, keyPtr(f), f.keyLen);
    else if (r.type == TYPE_ZSET) zsetGrew(r, h.count, f.keyLen);
    return --remaining == 0 ? keyDone() : expect(S_FIELD, 8);
  }
  // S_ITEM_BYTES
  if (!pushItem(listOf(changetype<Rec>(key)), item)) return outOfMemory();
  item = 0;
  return --remaining == 0 ? keyDone() : expect(S_ITEM, 4);
}

/** The key is complete: into the store, unless it has expired since the snapshot. */
function keyDone(): bool {
  const r = changetype<Rec>(key);
  key = null;
  if (keyExpireAt != 0 && keyExpireAt <= now()) {
    freeRec(r);
  } else {
    r.expireAt = keyExpireAt;
    if (!changetype<Db>(target).adopt(r)) {
      freeRec(r);
      return outOfMemory();
    }
  }
  return expect(S_TYPE, 1);
}
