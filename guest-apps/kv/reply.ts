// Replies, appended straight to the current connection's output buffer (no intermediate strings on
// the hot path), in the protocol the connection chose with HELLO: RESP2, or RESP3, where nulls,
// doubles, maps, sets and verbatim strings have types of their own (Redis networking.c: addReplyNull,
// addReplyDouble, addReplyMapLen, addReplySetLen, addReplyVerbatim). Errors are built as strings:
// they are the slow path. When memory is out the buffer takes no more (ByteBuf.failed) and the
// replies that follow are dropped: the connection is then closed (kv.ts), as Redis closes a client
// over its output buffer limit.
import { ByteBuf, ascii, copyMemory, writeDecimal } from "./bytes";
import { DOUBLE_TEXT_BYTES, formatDouble } from "./float-text";

let out: ByteBuf = new ByteBuf();
/** The connection being served speaks RESP3. */
export let resp3 = false;

/** Directs the replies that follow to `buf` (the connection being served), in RESP3 if `v3`. */
export function replyTo(buf: ByteBuf, v3: bool): void {
  out = buf;
  resp3 = v3;
}

/** Switches the protocol of the replies that follow (HELLO). */
export function replyProtocol(v3: bool): void {
  resp3 = v3;
}

/** Where the replies stand now, for replyRollback. */
export function replyMark(): u32 {
  return out.len;
}

/** The first reply since `mark` is an error. */
export function replyIsErrorSince(mark: u32): bool {
  return out.len > mark && load<u8>(out.ptr + mark) == 0x2d; // '-'
}

/** Takes back the replies written since `mark` (a command that found memory out after replying). */
export function replyRollback(mark: u32): void {
  out.len = mark;
}

const NULL_ARRAY = ascii("*-1\r\n");
const EMPTY_ARRAY = ascii("*0\r\n");
const WRONGTYPE = ascii("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
const OOM = ascii("-OOM command not allowed when used memory > 'maxmemory'.\r\n");

/**
 * Where `n` more bytes of output go (room made for them), or 0 when memory is out; the caller
 * stores them there, then calls wrote(). The hot replies write through this with plain stores:
 * under the software MMU every field load and store of the buffer is a checked access, so each
 * reply makes as few as it can.
 */
// @ts-ignore: decorator
@inline function room(n: u32): usize {
  const o = out;
  if (o.len + n > o.cap && !o.reserve(n)) return 0;
  return o.ptr + o.len;
}

// @ts-ignore: decorator
@inline function wrote(at: usize, n: u32): void {
  out.len = <u32>(at - out.ptr) + n;
}

/** Five bytes of a reply, as a u32 (little endian) and its last byte. */
// @ts-ignore: decorator
@inline function reply5(first4: u32, last: u8): void {
  const w = room(5);
  if (w == 0) return;
  store<u32>(w, first4);
  store<u8>(w, last, 4);
  wrote(w, 5);
}

export function replyOk(): void {
  reply5(0x0d4b4f2b, 0x0a); // "+OK\r\n"
}

export function replyNil(): void {
  if (resp3) out.putBuf(NULL3);
  else reply5(0x0d312d24, 0x0a); // "$-1\r\n"
}

export function replyNullArray(): void {
  out.putBuf(resp3 ? NULL3 : NULL_ARRAY);
}

const NULL3 = ascii("_\r\n");

/** A map of `n` pairs: its keys and values follow (RESP2: an array of 2n). */
export function replyMap(n: i64): void {
  out.putByte(resp3 ? 0x25 : 0x2a); // '%', '*'
  out.putDecimal(resp3 ? n : n * 2);
  crlf();
}

/** A push of `n` items (RESP3 only: pub/sub messages). */
export function replyPush(n: i64): void {
  out.putByte(0x3e); // '>'
  out.putDecimal(n);
  crlf();
}

/** A set of `n` members (RESP2: an array). */
export function replySet(n: i64): void {
  out.putByte(resp3 ? 0x7e : 0x2a); // '~', '*'
  out.putDecimal(n);
  crlf();
}

/**
 * `n` pairs (a member and its score or value), which RESP3 nests as arrays of two and RESP2 lays
 * flat: the header; each pair then starts with replyPair().
 */
export function replyPairs(n: i64): void {
  replyArray(resp3 ? n : n * 2);
}

export function replyPair(): void {
  if (resp3) replyArray(2);
}

/** A verbatim string of format "txt" (RESP2: a bulk string): INFO, CLIENT LIST, CLIENT INFO. */
export function replyVerbatim(s: string): void {
  const bytes = String.UTF8.encode(s);
  if (!resp3) return replyBulkBuf(bytes);
  out.putByte(0x3d); // '='
  out.putDecimal(bytes.byteLength + 4);
  crlf();
  out.put(changetype<usize>(TXT), 4);
  out.putBuf(bytes);
  crlf();
}

const TXT = ascii("txt:");

export function replyEmptyArray(): void {
  out.putBuf(EMPTY_ARRAY);
}

/** Error replies written so far: a command that adds one failed (INFO commandstats' failed_calls). */
export let errorReplies: u32 = 0;

export function replyWrongType(): void {
  errorReplies++;
  out.putBuf(WRONGTYPE);
}

/** Redis's shared.oomerr: a command that may grow memory, refused above maxmemory (evict.ts). */
export function replyOom(): void {
  errorReplies++;
  out.putBuf(OOM);
}

/** A simple string (`+...`) of bytes known to hold no CR or LF. */
export function replyStatus(text: ArrayBuffer): void {
  out.putByte(0x2b);
  out.putBuf(text);
  out.put(changetype<usize>(CRLF), 2);
}

const CRLF = ascii("\r\n");

// @ts-ignore: decorator
@inline function crlf(): void {
  const w = room(2);
  if (w == 0) return;
  store<u16>(w, 0x0a0d);
  wrote(w, 2);
}

export function replyInt(v: i64): void {
  const w = room(23);
  if (w == 0) return;
  store<u8>(w, 0x3a);
  const k = 1 + writeDecimal(w + 1, v);
  store<u16>(w + k, 0x0a0d);
  wrote(w, k + 2);
}

export function replyArray(n: i64): void {
  out.putByte(0x2a);
  out.putDecimal(n);
  crlf();
}

export function replyBulk(p: usize, n: u32): void {
  const w = room(n + 16);
  if (w == 0) return;
  store<u8>(w, 0x24);
  const k = 1 + writeDecimal(w + 1, n);
  store<u16>(w + k, 0x0a0d);
  copyMemory(w + k + 2, p, n);
  store<u16>(w + k + 2 + n, 0x0a0d);
  wrote(w, k + n + 4);
}

// @ts-ignore: decorator
@inline export function replyBulkBuf(b: ArrayBuffer): void {
  replyBulk(changetype<usize>(b), <u32>b.byteLength);
}

/** A bulk string of the UTF-8 text of `s` (INFO, CONFIG GET: the slow path). */
export function replyBulkText(s: string): void {
  replyBulkBuf(String.UTF8.encode(s));
}

const SCRATCH = memory.data(DOUBLE_TEXT_BYTES); // room for an i64's digits too

export function replyBulkInt(v: i64): void {
  replyBulk(SCRATCH, writeDecimal(SCRATCH, v));
}

/**
 * An error reply `-ERR message`. CR and LF in the message become spaces, as Redis does, so that a client's bytes
 * quoted back cannot break the protocol.
 */
export function replyError(message: string): void {
  errorReplies++;
  const bytes = String.UTF8.encode(message);
  const p = changetype<usize>(bytes);
  for (let i = 0; i < bytes.byteLength; i++) {
    const c = load<u8>(p + i);
    if (c == 0x0d || c == 0x0a) store<u8>(p + i, 0x20);
  }
  out.putByte(0x2d);
  out.put(changetype<usize>(ERR_PREFIX), 4);
  out.putBuf(bytes);
  crlf();
}

const ERR_PREFIX = ascii("ERR ");

/** An error reply whose text starts with its own code (`-EXECABORT ...`); the text holds no CR or LF. */
export function replyErrorLine(text: string): void {
  errorReplies++;
  out.putByte(0x2d);
  out.putBuf(String.UTF8.encode(text));
  crlf();
}

/** A double as addReplyDouble writes it (float-text.ts): a bulk string in RESP2, a double in RESP3. */
export function replyDouble(v: f64): void {
  const n = formatDouble(SCRATCH, v);
  if (!resp3) return replyBulk(SCRATCH, n);
  out.putByte(0x2c); // ','
  out.put(SCRATCH, n);
  crlf();
}
