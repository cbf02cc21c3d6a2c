// Wasm values of a spec script: encoding arguments bit for bit and matching results against
// the expected constants, NaN patterns included (spec test format, "Assertions": nan:canonical
// is the canonical NaN of either sign, nan:arithmetic any NaN with the quiet bit set).

import type { V128Const, ValueType, WastConst } from "./script";

export const isRefType = (t: ValueType): t is "funcref" | "externref" =>
  t === "funcref" || t === "externref";

/** Bytes a numeric value takes in the invoke wrapper's memory (references are passed directly). */
export function byteSize(t: ValueType): number {
  switch (t) {
    case "i32":
    case "f32":
      return 4;
    case "i64":
    case "f64":
      return 8;
    case "v128":
      return 16;
    default:
      return 0;
  }
}

const LANE_BITS = { i8: 8, i16: 16, i32: 32, f32: 32, i64: 64, f64: 64 } as const;

function required(c: WastConst): string {
  if (c.value === undefined || Array.isArray(c.value)) throw new Error(`${c.type} constant without a value`);
  return c.value;
}

function writeBits(view: DataView, offset: number, bits: number, value: string): void {
  if (value.startsWith("nan:")) throw new Error(`NaN pattern ${value} is only valid as an expected result`);
  const v = BigInt.asUintN(bits, BigInt(value));
  if (bits === 8) view.setUint8(offset, Number(v));
  else if (bits === 16) view.setUint16(offset, Number(v), true);
  else if (bits === 32) view.setUint32(offset, Number(v), true);
  else view.setBigUint64(offset, v, true);
}

/** Writes a numeric argument (i32 / i64 / f32 / f64 / v128) at `offset`, exactly its bits. */
export function encodeNumeric(c: WastConst, view: DataView, offset: number): void {
  if (c.type === "v128") {
    const lanes = c.value ?? [];
    const bits = LANE_BITS[c.lane_type];
    if (lanes.length * bits !== 128) throw new Error(`v128 ${c.lane_type} constant with ${lanes.length} lanes`);
    lanes.forEach((lane, i) => writeBits(view, offset + (i * bits) / 8, bits, lane));
    return;
  }
  writeBits(view, offset, byteSize(c.type) * 8, required(c));
}

/** Host references of `ref.extern N`: one stable object per N within a script run. */
export class ExternRefs {
  private readonly refs = new Map<string, object>();
  get(n: string): object {
    let r = this.refs.get(n);
    if (!r) {
      r = Object.freeze({ externref: n });
      this.refs.set(n, r);
    }
    return r;
  }
  /** The N of a reference this table made, or undefined for any other value. */
  numberOf(value: unknown): string | undefined {
    for (const [n, r] of this.refs) if (r === value) return n;
    return undefined;
  }
}

/** A reference argument as the JS API takes it. */
export function refArgument(c: WastConst, externs: ExternRefs): unknown {
  const v = required(c);
  if (v === "null") return null;
  if (c.type === "externref") return externs.get(v);
  throw new Error(`funcref argument ${v}: only null can be written in a script`);
}

const F32_QUIET = 0x7fc00000;
const F64_QUIET = 0x7ff8000000000000n;

function matchLane(bits: 8 | 16 | 32 | 64, float: boolean, expected: string, actual: bigint): boolean {
  if (float && expected === "nan:canonical") {
    return bits === 32
      ? (Number(actual) & 0x7fffffff) === F32_QUIET
      : (actual & 0x7fffffffffffffffn) === F64_QUIET;
  }
  if (float && expected === "nan:arithmetic") {
    return bits === 32 ? (Number(actual) & F32_QUIET) === F32_QUIET : (actual & F64_QUIET) === F64_QUIET;
  }
  return BigInt.asUintN(bits, BigInt(expected)) === actual;
}

function readBits(view: DataView, offset: number, bits: number): bigint {
  if (bits === 8) return BigInt(view.getUint8(offset));
  if (bits === 16) return BigInt(view.getUint16(offset, true));
  if (bits === 32) return BigInt(view.getUint32(offset, true));
  return view.getBigUint64(offset, true);
}

function showBits(t: string, bits: bigint): string {
  if (t === "i32") return `${BigInt.asIntN(32, bits)}`;
  if (t === "i64") return `${BigInt.asIntN(64, bits)}`;
  return `0x${bits.toString(16)}`;
}

/** Compares a numeric result read from `view`; returns a description of the difference or null. */
export function matchNumeric(expected: WastConst, view: DataView, offset: number): string | null {
  if (expected.type === "v128") {
    const v = expected as V128Const;
    const bits = LANE_BITS[v.lane_type];
    const lanes = v.value ?? [];
    const actual = lanes.map((_, i) => readBits(view, offset + (i * bits) / 8, bits));
    const float = v.lane_type.startsWith("f");
    const ok = lanes.every((lane, i) => matchLane(bits, float, lane, actual[i]!));
    const show = (x: bigint) => (float ? `0x${x.toString(16)}` : `${x}`);
    const want = lanes.map((l) => (l.startsWith("nan:") ? l : show(BigInt.asUintN(bits, BigInt(l)))));
    return ok ? null : `v128 ${v.lane_type} lanes: expected [${want.join(" ")}], got [${actual.map(show).join(" ")}]`;
  }
  const bits = (byteSize(expected.type) * 8) as 32 | 64;
  const actual = readBits(view, offset, bits);
  const want = required(expected);
  if (matchLane(bits, expected.type[0] === "f", want, actual)) return null;
  const shown = want.startsWith("nan:") ? want : showBits(expected.type, BigInt(want));
  return `${expected.type}: expected ${shown}, got ${showBits(expected.type, actual)}`;
}

/** Compares a reference result; returns a description of the difference or null. */
export function matchRef(expected: WastConst, actual: unknown, externs: ExternRefs): string | null {
  const want = required(expected);
  if (want === "null") return actual === null ? null : `${expected.type}: expected null, got a non-null reference`;
  if (expected.type === "funcref") {
    return typeof actual === "function" ? null : `funcref: expected a function, got ${actual === null ? "null" : typeof actual}`;
  }
  if (actual === externs.get(want)) return null;
  const n = externs.numberOf(actual);
  return `externref: expected ref.extern ${want}, got ${actual === null ? "null" : n !== undefined ? `ref.extern ${n}` : typeof actual}`;
}
