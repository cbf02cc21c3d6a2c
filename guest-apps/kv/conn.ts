// A client connection and its RESP2 request parser (Redis 7.0 networking.c: processMultibulkBuffer
// and processInlineBuffer). The parser is resumable: a command may arrive split across any number
// of on_data calls, and one call may carry many commands (pipelining). Arguments are kept as
// (offset, length) pairs into the connection's private input buffer: nothing is copied twice.
import { Multi } from "./multi";
import { ByteBuf, parseI64, parsedInt } from "./bytes";
import { replyError, replyOom } from "./reply";

/** Redis's PROTO_INLINE_MAX_SIZE: longest inline request or count line before a protocol error. */
export const INLINE_MAX: u32 = 64 * 1024;

/** Largest bulk string (Redis's proto-max-bulk-len, 512 MiB by default); set_limits sets it. */
export let maxBulk: u32 = 512 * 1024 * 1024;
/** Most arguments in one command; set_limits sets it. */
export let maxArgs: u32 = 1024 * 1024;

export function setLimits(bulk: u32, args: u32): void {
  maxBulk = bulk;
  maxArgs = args;
}

export class Conn {
  /** The client's bytes not yet consumed, copied from the shared input buffer. */
  input: ByteBuf = new ByteBuf();
  /** Parse position in `input`. */
  pos: u32 = 0;
  /** Where the command being parsed starts in `input` (what must be kept on compaction). */
  cmdStart: u32 = 0;
  /** Bulk strings still to read in the current multibulk request (0: between requests). */
  pending: i64 = 0;
  /** Length of the bulk string being read, once its `$` line is in (-1: not yet). */
  bulkLen: i64 = -1;
  /** The arguments: u32 pairs (offset in `input`, length). */
  argv: ByteBuf = new ByteBuf();
  argc: u32 = 0;
  /** Replies not yet handed to the host; `sent` of them already were. */
  output: ByteBuf = new ByteBuf();
  sent: u32 = 0;
  /** Close once the output is sent (QUIT, a protocol error). */
  closing: bool = false;
  /** Commands wait: the output not yet taken by the host is over OUTPUT_PAUSE (kv.ts). */
  paused: bool = false;
  /** When the output went over the soft client-output-buffer-limit (ms on the host's clock; 0: it is not). */
  softSince: i64 = 0;
  name: ArrayBuffer | null = null;
  /** The transaction being queued (MULTI), and how many keys the client watches (multi.ts). */
  multi: Multi | null = null;
  watching: u32 = 0;
  /** A watched key changed: the next EXEC fails. */
  casDirty: bool = false;
  /** Blocked on a list (blocking.ts): its later commands wait. */
  blocked: bool = false;
  /** The database the client selected (SELECT). */
  db: i32 = 0;
  /** The client chose RESP3 (HELLO 3). */
  resp3: bool = false;
  /** When it connected, and when its last command came (by the clock as last read: see clock.ts lastRead). */
  createdAt: i64 = 0;
  lastAt: i64 = 0;
  /** The id of its last command (-1: none yet), for CLIENT LIST's cmd=. */
  lastCmd: i32 = -1;
  /** The channels and patterns it subscribes to (pubsub.ts). */
  channels: i32 = 0;
  patterns: i32 = 0;

  /** In subscriber mode: subscribed to a channel or a pattern. */
  get subscriptions(): i32 {
    return this.channels + this.patterns;
  }

  constructor(public id: u32) {}

  /** Drops what was parsed, keeping the command in progress (its argument offsets move with it). */
  compact(): void {
    const shift = this.pending == 0 ? this.pos : this.cmdStart;
    if (shift == 0) return;
    this.input.consume(shift);
    this.pos -= shift;
    this.cmdStart -= shift;
    if (this.pending == 0) this.argc = 0;
    const a = this.argv.ptr;
    for (let i: u32 = 0; i < this.argc; i++) store<u32>(a + (i << 3), load<u32>(a + (i << 3)) - shift);
  }

  free(): void {
    this.input.free();
    this.argv.free();
    this.output.free();
  }
}

/** A protocol error: Redis replies, then closes the connection once the reply is sent. */
function protocolError(c: Conn, what: string): i32 {
  replyError("Protocol error: " + what);
  c.closing = true;
  c.pending = 0;
  return -1;
}

/** Memory is out for the request's arguments: -OOM, then the connection closes (the stream cannot go on). */
function outOfMemory(c: Conn): i32 {
  replyOom();
  c.closing = true;
  c.pending = 0;
  return -1;
}

/** Out of nextCommand, so that its string temporaries do not widen nextCommand's frame (see execute in commands.ts). */
function expectedDollar(c: Conn, got: u8): i32 {
  return protocolError(c, "expected '$', got '" + String.fromCharCode(got) + "'");
}

function find(p: usize, from: u32, to: u32, byte: u8): i64 {
  for (let i = from; i < to; i++) if (load<u8>(p + i) == byte) return i;
  return -1;
}

/**
 * Parses the next request of `c`. Returns 1 when one is complete (its arguments in c.argv), 0 when
 * more bytes are needed, and -1 after a protocol error (replied; the connection is closing).
 * Replies must be directed at c.output (replyTo) before the call.
 *
 * The parse state lives in locals and goes back to `c` once, at the end: under the software MMU
 * each field access is a checked load or store, and this runs for every argument of every request.
 */
export function nextCommand(c: Conn): i32 {
  if (c.closing) return 0;
  const buf = c.input.ptr;
  const len = c.input.len;
  let pos = c.pos;
  let pending = c.pending;
  if (pending == 0) {
    c.argc = 0;
    c.argv.len = 0;
    while (true) {
      c.cmdStart = pos;
      if (pos >= len) {
        c.pos = pos;
        return 0;
      }
      if (load<u8>(buf + pos) != 0x2a) {
        c.pos = pos;
        const r = inlineCommand(c, buf, len);
        if (r == 1 && c.argc == 0) { // an empty line
          pos = c.pos;
          continue;
        }
        return r;
      }
      // "*<count>\r\n": Redis looks for the '\r' and wants one more byte after it.
      const cr = find(buf, pos, len, 0x0d);
      if (cr < 0 || <u32>cr + 1 >= len) {
        c.pos = pos;
        return len - pos > INLINE_MAX ? protocolError(c, "too big mbulk count string") : 0;
      }
      if (!parseI64(buf + pos + 1, <u32>cr - pos - 1) || parsedInt > <i64>maxArgs) {
        return protocolError(c, "invalid multibulk length");
      }
      pos = <u32>cr + 2;
      if (parsedInt <= 0) continue; // "*0" or "*-1": nothing to run
      pending = parsedInt;
      c.bulkLen = -1;
      if (!c.argv.reserve(<u32>min<i64>(pending, 1024) << 3)) return outOfMemory(c);
      break;
    }
  }
  const argv = c.argv;
  let args = argv.ptr;
  let argsLen = argv.len;
  let bulkLen = c.bulkLen;
  while (pending > 0) {
    if (bulkLen < 0) {
      const cr = find(buf, pos, len, 0x0d);
      if (cr < 0 || <u32>cr + 1 >= len) {
        saveState(c, pos, pending, bulkLen, argsLen);
        return len - pos > INLINE_MAX ? protocolError(c, "too big bulk count string") : 0;
      }
      const first = load<u8>(buf + pos);
      if (first != 0x24) return expectedDollar(c, first);
      if (!parseI64(buf + pos + 1, <u32>cr - pos - 1) || parsedInt < 0 || parsedInt > <i64>maxBulk) {
        return protocolError(c, "invalid bulk length");
      }
      pos = <u32>cr + 2;
      bulkLen = parsedInt;
    }
    const need = bulkLen + 2;
    if (<i64>(len - pos) < need) {
      // The input grows as the string's bytes arrive, never ahead of them (a client that announces
      // 512 MiB holds only what it sent), and doubles no further than the string's end.
      saveState(c, pos, pending, bulkLen, argsLen);
      c.input.growCap = <u32>min<i64>(<i64>pos + need, 0x8000_0000);
      return 0;
    }
    c.input.growCap = 0;
    if (argsLen + 8 > argv.cap) {
      argv.len = argsLen;
      if (!argv.reserve(8)) return outOfMemory(c);
      args = argv.ptr;
    }
    store<u32>(args + argsLen, pos);
    store<u32>(args + argsLen, <u32>bulkLen, 4);
    argsLen += 8;
    pos += <u32>need;
    bulkLen = -1;
    pending--;
  }
  saveState(c, pos, 0, -1, argsLen);
  return 1;
}

// @ts-ignore: decorator
@inline function saveState(c: Conn, pos: u32, pending: i64, bulkLen: i64, argsLen: u32): void {
  c.pos = pos;
  c.pending = pending;
  c.bulkLen = bulkLen;
  c.argv.len = argsLen;
  c.argc = argsLen >> 3;
}

// @ts-ignore: decorator
@inline function isSpace(b: u32): bool {
  return b == 0x20 || (b >= 0x09 && b <= 0x0d);
}

// @ts-ignore: decorator
@inline function hexValue(b: u32): i32 {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  b |= 0x20;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

/**
 * One inline request (a line of text, as telnet and redis-cli's inline mode send), split into
 * arguments in place by Redis's sdssplitargs rules: spaces separate, "double quotes" take \n \r \t
 * \b \a \xHH and \<c> escapes, 'single quotes' take \'. A closing quote must be followed by a space
 * or the end. Returns 1 (arguments in c.argv, possibly none), 0 for more bytes, -1 on error.
 */
function inlineCommand(c: Conn, buf: usize, len: u32): i32 {
  const nl = find(buf, c.pos, len, 0x0a);
  if (nl < 0) return len - c.pos > INLINE_MAX ? protocolError(c, "too big inline request") : 0;
  let end = <u32>nl;
  if (end > c.pos && load<u8>(buf + end - 1) == 0x0d) end--;
  let p = c.pos;
  let w = c.pos; // decoded bytes are written back over the line: never ahead of p
  while (true) {
    while (p < end && isSpace(load<u8>(buf + p))) p++;
    if (p >= end) break;
    const start = w;
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const ch: u32 = p < end ? load<u8>(buf + p) : 0;
      const next: u32 = p + 1 < end ? load<u8>(buf + p + 1) : 0;
      if (inDouble) {
        if (p >= end) return protocolError(c, "unbalanced quotes in request");
        if (ch == 0x5c && next == 0x78 && p + 3 < end && hexValue(load<u8>(buf + p + 2)) >= 0 && hexValue(load<u8>(buf + p + 3)) >= 0) {
          store<u8>(buf + w++, <u8>((hexValue(load<u8>(buf + p + 2)) << 4) | hexValue(load<u8>(buf + p + 3))));
          p += 3;
        } else if (ch == 0x5c && p + 1 < end) {
          p++;
          let e = next;
          if (e == 0x6e) e = 0x0a;
          else if (e == 0x72) e = 0x0d;
          else if (e == 0x74) e = 0x09;
          else if (e == 0x62) e = 0x08;
          else if (e == 0x61) e = 0x07;
          store<u8>(buf + w++, <u8>e);
        } else if (ch == 0x22) {
          if (p + 1 < end && !isSpace(next)) return protocolError(c, "unbalanced quotes in request");
          done = true;
        } else {
          store<u8>(buf + w++, <u8>ch);
        }
      } else if (inSingle) {
        if (p >= end) return protocolError(c, "unbalanced quotes in request");
        if (ch == 0x5c && next == 0x27) {
          p++;
          store<u8>(buf + w++, 0x27);
        } else if (ch == 0x27) {
          if (p + 1 < end && !isSpace(next)) return protocolError(c, "unbalanced quotes in request");
          done = true;
        } else {
          store<u8>(buf + w++, <u8>ch);
        }
      } else if (p >= end || ch == 0x20 || ch == 0x0a || ch == 0x0d || ch == 0x09 || ch == 0) {
        done = true;
      } else if (ch == 0x22) {
        inDouble = true;
      } else if (ch == 0x27) {
        inSingle = true;
      } else {
        store<u8>(buf + w++, <u8>ch);
      }
      if (p < end) p++;
    }
    c.argv.putU32(start);
    c.argv.putU32(w - start);
    if (c.argv.failed) return outOfMemory(c);
    c.argc++;
  }
  c.pos = <u32>nl + 1;
  return 1;
}
