// Byte-level reading and writing of the WebAssembly binary format (spec section 5.2: LEB128
// integers, vectors, names).
import { WasmError } from "./wasm-error";

export class DecodeError extends WasmError {
  override name = "DecodeError";
}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  get eof(): boolean {
    return this.pos >= this.end;
  }

  fail(what: string): never {
    throw new DecodeError(`${what} at byte offset ${this.pos}`);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail("unexpected end of input");
    return this.buf[this.pos++]!;
  }

  /** Unsigned LEB128 of at most 32 bits. */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) this.fail("integer too large");
        return result;
      }
      shift += 7;
    }
    return this.fail("integer representation too long");
  }

  /** Signed LEB128 of at most 32 bits, returned as a JS number. */
  s32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    let i = 0;
    do {
      if (i++ === 5) this.fail("integer representation too long");
      b = this.u8();
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 32 && b & 0x40) result |= -1 << shift;
    return result | 0;
  }

  /** Skips any LEB128 integer (signed or unsigned, up to 64 bits). */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) if ((this.u8() & 0x80) === 0) return;
    this.fail("integer representation too long");
  }

  /** Signed 33-bit LEB128 (block types): returns the value as a number. */
  s33(): number {
    let result = 0;
    let mul = 1;
    let b: number;
    let i = 0;
    do {
      if (i++ === 5) this.fail("integer representation too long");
      b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    if (b & 0x40) result -= mul;
    return result;
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) this.fail("unexpected end of input");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    if (this.pos + n > this.end) this.fail("unexpected end of input");
    this.pos += n;
  }

  name(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes(this.u32()));
  }
}

export class Writer {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(b: number): this {
    this.reserve(1);
    this.buf[this.length++] = b;
    return this;
  }

  u32(v: number): this {
    this.reserve(5);
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.length++] = b;
    } while (v !== 0);
    return this;
  }

  s32(v: number): this {
    this.reserve(5);
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
        this.buf[this.length++] = b;
        return this;
      }
      this.buf[this.length++] = b | 0x80;
    }
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  /** Appends another writer's bytes prefixed by their length (a section or a function body). */
  sized(inner: Writer): this {
    this.u32(inner.length);
    return this.bytes(inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
