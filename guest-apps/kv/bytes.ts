// Growable byte buffers in unmanaged memory (zmalloc.ts, not the GC's heap): a connection's input
// and output. Unmanaged, so that the request path leaves no garbage for the GC to trace, and a
// buffer's memory goes back to the allocator the moment it is freed; counted in used_memory, as
// Redis counts its clients' buffers. When memory is out a buffer stops growing: what would not fit
// is dropped and `failed` says so, for the owner to answer -OOM or close the connection.
import { zfree, zrealloc, zusable } from "./zmalloc";

/** Buffers above this capacity are given back when they empty (an idle client keeps little). */
const KEEP_BYTES: u32 = 64 * 1024;

export class ByteBuf {
  ptr: usize = 0;
  /** Bytes in use, from ptr. */
  len: u32 = 0;
  cap: u32 = 0;
  /** A write did not fit: memory was out (or the buffer would pass 2 GiB). */
  failed: bool = false;
  /** A size the doubling stops at, once reached (0: none): a bulk string's announced end. */
  growCap: u32 = 0;

  /**
   * Makes room for `extra` more bytes (doubling); false, and `failed` set, if memory is out or the
   * buffer would pass 2 GiB.
   */
  reserve(extra: u32): bool {
    const need = <u64>this.len + <u64>extra;
    if (need <= <u64>this.cap) return true;
    if (need > 0x8000_0000) {
      this.failed = true;
      return false;
    }
    let cap = max<u64>(<u64>this.cap << 1, 256);
    while (cap < need) cap <<= 1;
    if (cap > 0x8000_0000) cap = need;
    if (this.growCap != 0 && need <= <u64>this.growCap) cap = min<u64>(cap, <u64>this.growCap);
    const p = zrealloc(this.ptr, <usize>cap);
    if (p == 0) {
      this.failed = true;
      return false;
    }
    this.ptr = p;
    this.cap = <u32>min<usize>(zusable(p), 0x8000_0000);
    return true;
  }

  /** Appends `n` bytes from `src` (which must not point into this buffer). */
  put(src: usize, n: u32): void {
    if (!this.reserve(n)) return;
    copyMemory(this.ptr + this.len, src, n);
    this.len += n;
  }

  putBuf(b: ArrayBuffer): void {
    this.put(changetype<usize>(b), <u32>b.byteLength);
  }

  putByte(c: u8): void {
    if (!this.reserve(1)) return;
    store<u8>(this.ptr + this.len, c);
    this.len++;
  }

  putU32(v: u32): void {
    if (!this.reserve(4)) return;
    store<u32>(this.ptr + this.len, v);
    this.len += 4;
  }

  putI64(v: i64): void {
    if (!this.reserve(8)) return;
    store<i64>(this.ptr + this.len, v);
    this.len += 8;
  }

  /** Appends the decimal text of `v`. */
  putDecimal(v: i64): void {
    if (!this.reserve(20)) return;
    this.len += writeDecimal(this.ptr + this.len, v);
  }

  /** Drops the first `n` bytes, moving the rest to the front. */
  consume(n: u32): void {
    if (n == 0) return;
    const rest = this.len - n;
    if (rest > 0) memory.copy(this.ptr, this.ptr + n, rest);
    this.len = rest;
    if (rest == 0) this.trim();
  }

  /** Empties the buffer, giving a large allocation back. */
  clear(): void {
    this.len = 0;
    this.failed = false;
    this.trim();
  }

  private trim(): void {
    if (this.cap > KEEP_BYTES) this.free();
  }

  free(): void {
    zfree(this.ptr);
    this.ptr = 0;
    this.len = 0;
    this.cap = 0;
    this.failed = false;
  }
}

/** Copies shorter than this run inline (see copyMemory). */
const INLINE_COPY: u32 = 128;

/**
 * Copies `n` bytes from `src` to `dst` (which do not overlap). In a rewritten guest a bulk
 * memory.copy is a call out to the host's MMU, which costs far more than the few checked loads
 * and stores of a short copy; and most copies here are short (keys, small values, replies).
 */
export function copyMemory(dst: usize, src: usize, n: u32): void {
  if (n >= INLINE_COPY) {
    memory.copy(dst, src, n);
    return;
  }
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(src + i));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}

/** Writes the decimal text of `v` at `p` (room for 20 bytes); returns its length. */
export function writeDecimal(p: usize, v: i64): u32 {
  let u: u64 = v < 0 ? <u64>(-v) : <u64>v; // -i64.MIN wraps to 2^63 as u64: still right
  let n: u32 = 0;
  if (v < 0) {
    store<u8>(p, 0x2d);
    n = 1;
  }
  let digits: u32 = 1;
  for (let t = u; t >= 10; t /= 10) digits++;
  let q = p + n + digits;
  do {
    q--;
    store<u8>(q, <u8>(0x30 + <u32>(u % 10)));
    u /= 10;
  } while (u != 0);
  return n + digits;
}

/** An ArrayBuffer holding `n` bytes copied from `p`. */
export function copyBytes(p: usize, n: u32): ArrayBuffer {
  const b = new ArrayBuffer(<i32>n);
  copyMemory(changetype<usize>(b), p, n);
  return b;
}

/** ASCII bytes of a string literal (for constant replies and names). */
export function ascii(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Text of `n` bytes at `p` as a string (for error messages only: may allocate). */
export function bytesToString(p: usize, n: u32): string {
  return String.UTF8.decodeUnsafe(p, n);
}

// Redis's string2ll (util.c): the strict integer syntax of every integer argument and value. No
// sign but '-', no leading zeros, no spaces, at most 20 characters, and within i64.
/** The value parsed by the last successful parseI64. */
export let parsedInt: i64 = 0;

export function parseI64(p: usize, n: u32): bool {
  if (n == 0 || n >= 21) return false;
  if (n == 1 && load<u8>(p) == 0x30) {
    parsedInt = 0;
    return true;
  }
  let i: u32 = 0;
  let negative = false;
  if (load<u8>(p) == 0x2d) {
    negative = true;
    i = 1;
    if (n == 1) return false;
  }
  let c = load<u8>(p + i);
  if (c < 0x31 || c > 0x39) return false;
  let v: u64 = <u64>(c - 0x30);
  i++;
  for (; i < n; i++) {
    c = load<u8>(p + i);
    if (c < 0x30 || c > 0x39) return false;
    const d = <u64>(c - 0x30);
    if (v > u64.MAX_VALUE / 10) return false;
    v *= 10;
    if (v > u64.MAX_VALUE - d) return false;
    v += d;
  }
  if (negative) {
    if (v > <u64>i64.MAX_VALUE + 1) return false;
    parsedInt = -(<i64>v);
  } else {
    if (v > <u64>i64.MAX_VALUE) return false;
    parsedInt = <i64>v;
  }
  return true;
}
