// RESP2 replies, appended straight to the current connection's output buffer (no intermediate
// strings on the hot path). Errors are built as strings: they are the slow path.
import { ByteBuf, ascii, writeDecimal } from "./bytes";

let out: ByteBuf = new ByteBuf();

/** Directs the replies that follow to `buf` (the connection being served). */
export function replyTo(buf: ByteBuf): void {
  out = buf;
}

const OK = ascii("+OK\r\n");
const NIL = ascii("$-1\r\n");
const NULL_ARRAY = ascii("*-1\r\n");
const EMPTY_ARRAY = ascii("*0\r\n");
const WRONGTYPE = ascii("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");

export function replyOk(): void {
  out.putBuf(OK);
}

export function replyNil(): void {
  out.putBuf(NIL);
}

export function replyNullArray(): void {
  out.putBuf(NULL_ARRAY);
}

export function replyEmptyArray(): void {
  out.putBuf(EMPTY_ARRAY);
}

export function replyWrongType(): void {
  out.putBuf(WRONGTYPE);
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
  out.reserve(2);
  store<u16>(out.ptr + out.len, 0x0a0d);
  out.len += 2;
}

export function replyInt(v: i64): void {
  out.putByte(0x3a);
  out.putDecimal(v);
  crlf();
}

export function replyArray(n: i64): void {
  out.putByte(0x2a);
  out.putDecimal(n);
  crlf();
}

export function replyBulk(p: usize, n: u32): void {
  out.reserve(n + 16);
  out.putByte(0x24);
  out.putDecimal(n);
  crlf();
  out.put(p, n);
  crlf();
}

export function replyBulkBuf(b: ArrayBuffer): void {
  replyBulk(changetype<usize>(b), <u32>b.byteLength);
}

/** A bulk string of the UTF-8 text of `s` (INFO, CONFIG GET: the slow path). */
export function replyBulkText(s: string): void {
  replyBulkBuf(String.UTF8.encode(s));
}

const SCRATCH = memory.data(32);

export function replyBulkInt(v: i64): void {
  replyBulk(SCRATCH, writeDecimal(SCRATCH, v));
}

/**
 * An error reply `-ERR message`. CR and LF in the message become spaces, as Redis does, so that a client's bytes
 * quoted back cannot break the protocol.
 */
export function replyError(message: string): void {
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
