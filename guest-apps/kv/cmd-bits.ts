// Bit commands on strings (Redis bitops.c): SETBIT, GETBIT, BITCOUNT. Bit 0 is the most
// significant bit of byte 0; a string grows (zero-filled) to hold a bit set past its end.
import { parsedInt } from "./bytes";
import { maxBulk } from "./conn";
import { al, ap, argInt, argIs, argc, lookup } from "./args";
import { notInteger, syntaxError } from "./errors";
import { replyError, replyInt, replyOom, replyWrongType } from "./reply";
import { db } from "./server-state";
import { TYPE_STRING } from "./store";
import { valPtr } from "./record";

/** The bit offset of argument `i` (getBitOffsetFromArgument), or -1 with the error replied. */
function bitOffset(i: u32): i64 {
  if (!argInt(i) || parsedInt < 0 || (parsedInt >> 3) >= <i64>maxBulk) {
    replyError("bit offset is not an integer or out of range");
    return -1;
  }
  return parsedInt;
}

export function setbit(): void {
  const offset = bitOffset(2);
  if (offset < 0) return;
  if (!(al(3) == 1 && (load<u8>(ap(3)) == 0x30 || load<u8>(ap(3)) == 0x31))) return replyError("bit is not an integer or out of range");
  const on = load<u8>(ap(3)) == 0x31;
  let e = lookup(1);
  if (e != null && e.type != TYPE_STRING) return replyWrongType();
  if (e == null) e = db.addString(ap(1), al(1), 0, 0);
  if (e == null) return replyOom();
  const byte = <u32>(offset >> 3);
  const had = e.valLen;
  const r = db.resizeString(e, max<u32>(had, byte + 1)); // also the snapshot's copy before a change in place
  if (r == null) return replyOom();
  if (byte >= had) memory.fill(valPtr(r) + had, 0, byte + 1 - had);
  const p = valPtr(r) + byte;
  const mask = <u32>1 << (7 - <u32>(offset & 7));
  const old = <u32>load<u8>(p);
  store<u8>(p, on ? old | mask : old & ~mask);
  replyInt((old & mask) != 0 ? 1 : 0);
}

export function getbit(): void {
  const offset = bitOffset(2);
  if (offset < 0) return;
  const e = lookup(1);
  if (e == null) return replyInt(0);
  if (e.type != TYPE_STRING) return replyWrongType();
  const byte = offset >> 3;
  if (byte >= <i64>e.valLen) return replyInt(0);
  replyInt((<u32>load<u8>(valPtr(e) + <usize>byte) >> (7 - <u32>(offset & 7))) & 1);
}

/** BITCOUNT key [start end [BYTE|BIT]]: set bits in the range, its ends from the end when negative. */
export function bitcount(): void {
  if (argc == 3 || argc > 5) return syntaxError();
  let start: i64 = 0, end: i64 = -1;
  let bits = false;
  if (argc >= 4) {
    if (!argInt(2)) return notInteger();
    start = parsedInt;
    if (!argInt(3)) return notInteger();
    end = parsedInt;
    if (argc == 5) {
      if (argIs(4, "bit")) bits = true;
      else if (!argIs(4, "byte")) return syntaxError();
    }
  }
  const e = lookup(1);
  if (e == null) return replyInt(0);
  if (e.type != TYPE_STRING) return replyWrongType();
  const len = bits ? <i64>e.valLen << 3 : <i64>e.valLen;
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return replyInt(0);
  const p = valPtr(e);
  let n: i64 = 0;
  if (!bits) {
    for (let i = start; i <= end; i++) n += popcnt<u32>(load<u8>(p + <usize>i));
  } else {
    for (let i = start; i <= end; i++) n += (<u32>load<u8>(p + <usize>(i >> 3)) >> (7 - <u32>(i & 7))) & 1;
  }
  replyInt(n);
}
