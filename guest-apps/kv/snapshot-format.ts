// The byte format of kv's sealed snapshots, version 4 (snapshot-writer.ts writes it, snapshot-reader.ts
// reads it, and version 3, which had no sets or sorted sets). Integers are little-endian.
//
// The payload is one stream:
//   "KVDB" u32 version (4), the log's position when the snapshot began (the seq u64 and id, 16
//   bytes, of the last record of the append-only log before it: aof-format.ts), then per key:
//     type u8 (1 string, 2 hash, 3 list, 4 set, 5 sorted set), expireAt i64 (ms on the host's clock,
//     0: none), key length u32, n u32 (a string's length; a hash's, set's or sorted set's member
//     count; a list's item count), the key's bytes, then
//     string: n bytes | hash: n x (field length u32, value length u32, field bytes, value bytes) |
//     list: n x (length u32, bytes) | set: as a hash, every value empty | sorted set: as a hash,
//     every value the member's score, an f64 (8 bytes, never NaN)
//   where a type byte SELECT_DB (254, as RDB's opcode) followed by a database index u8 makes the
//   keys that follow that database's (0 until the first), and a type byte 0 at the end.
// Both lengths come before the bytes, so that a reader allocates a record once and copies the bytes
// straight into it, however the stream is cut.
//
// The payload is cut into chunks of at most MAX_SEAL_PLAINTEXT bytes, each sealed on its own; a
// chunk's plaintext is
//   "KVSC" | snapshot id (16 random bytes) | counter value f64 | chunk index u32 | flags u32 |
//   instance name length u32 | instance name (64 bytes, zero-padded) | payload
// with flag CHUNK_LAST on the last chunk. The sealed snapshot is the blobs in order, each after its
// length (u32). The framing is in clear, but everything a chunk carries is authenticated: the index
// stops reordering and dropping, the last flag stops truncation, the id (the same in every chunk of
// one snapshot, random per snapshot) stops chunks of two snapshots being mixed, even two taken at
// the same counter value, and the instance name (instance.ts) stops one store's snapshot opening in
// another: the counter value is that instance's counter's.
import { MAX_SEAL_PLAINTEXT } from "../../assembly/index";

export const PAYLOAD_MAGIC: u32 = 0x4244564b; // "KVDB"
export const PAYLOAD_VERSION: u32 = 4;
/** The oldest payload version a reader takes. */
export const PAYLOAD_VERSION_MIN: u32 = 3;
/** The payload's header: magic, version, the log's seq and id. */
export const PAYLOAD_HEADER: u32 = 32;
export const CHUNK_MAGIC: u32 = 0x4353564b; // "KVSC"
export const SNAPSHOT_ID_BYTES: u32 = 16;
/** Offsets in a chunk's plaintext. */
export const CHUNK_ID: u32 = 4;
export const CHUNK_VALUE: u32 = 20;
export const CHUNK_INDEX: u32 = 28;
export const CHUNK_FLAGS: u32 = 32;
export const CHUNK_INSTANCE_LEN: u32 = 36;
export const CHUNK_INSTANCE: u32 = 40;
export const INSTANCE_BYTES: u32 = 64;
export const CHUNK_HEADER: u32 = 104;
export const CHUNK_LAST: u32 = 1;
export const CHUNK_BYTES: u32 = <u32>MAX_SEAL_PLAINTEXT;

/** The type byte of a database mark. */
export const SELECT_DB: u8 = 254;

/** A key's header in the payload: type, expireAt, key length, n. */
export const ITEM_HEADER: u32 = 17;
