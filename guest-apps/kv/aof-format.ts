// The byte format of kv's sealed append-only log (aof-writer.ts writes it, aof-loader.ts reads it).
// Integers are little-endian.
//
// What is logged is a stream of write commands as RESP2 multibulk requests, as Redis's AOF has
// them (with relative expiry times made absolute, aof-writer.ts). The stream is cut into records
// of at most RECORD_BYTES, each sealed on its own; a record's plaintext is
//   "KVLG" | seq u64 | id (16 random bytes) | previous record's id (16 bytes) |
//   instance name length u32 | instance name (64 bytes, zero-padded) | payload length u32 | payload
// and the log is the blobs in order, each after its length (u32), as the host stores them.
//
// The records form a chain: seq goes up by one, and each names its predecessor's id (random per
// record), so dropping, reordering, repeating or splicing in records of another chain (even of the
// same instance) is refused, as is a record of another store instance. Where the chain starts is
// in the snapshot (its payload's header: the seq and id of the last record before it, snapshot-
// format.ts), so snapshot and log are bound together. What the chain cannot show is its own end:
// that is the log counter's job, a monotonic counter named after the instance that the host
// advances to the seq of the last record it made durable (log_commit); a log that ends below it
// was cut (a rollback).
export const RECORD_MAGIC: u32 = 0x474c564b; // "KVLG"
export const LOG_ID_BYTES: u32 = 16;
/** Offsets in a record's plaintext. */
export const RECORD_SEQ: u32 = 4;
export const RECORD_ID: u32 = 12;
export const RECORD_PREV: u32 = 28;
export const RECORD_INSTANCE_LEN: u32 = 44;
export const RECORD_INSTANCE: u32 = 48;
export const RECORD_PAYLOAD_LEN: u32 = 112;
export const RECORD_HEADER: u32 = 116;
/** Payload bytes per record: commands are cut anywhere, a large one spans records. */
export const RECORD_PAYLOAD: u32 = 64 * 1024;
export const RECORD_BYTES: u32 = RECORD_HEADER + RECORD_PAYLOAD;
