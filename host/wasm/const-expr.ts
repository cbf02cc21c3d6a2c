// Constant expressions (spec 5.4.9: global initializers, segment offsets, element expressions),
// copied into the rewritten module with their function indices renumbered.
import type { Reader, Writer } from "./binary";
import { Op, SimdOp } from "./opcodes";
import { RewriteError } from "./rewrite-error";

/** Copies a constant expression up to and including `end`, renumbering ref.func. */
export function copyConstExpr(r: Reader, w: Writer, funcIndex: (f: number) => number): Uint8Array {
  const start = w.length;
  for (;;) {
    const op = r.u8();
    w.u8(op);
    switch (op) {
      case Op.End:
        return w.finish().slice(start);
      case Op.I32Const: w.s32(r.s32()); break;
      case Op.I64Const: { const s = r.pos; r.skipLeb(); w.bytes(r.buf.subarray(s, r.pos)); break; }
      case Op.F32Const: w.bytes(r.bytes(4)); break;
      case Op.F64Const: w.bytes(r.bytes(8)); break;
      case Op.GlobalGet: w.u32(r.u32()); break;
      case Op.RefNull: w.u8(r.u8()); break;
      case Op.RefFunc: w.u32(funcIndex(r.u32())); break;
      case Op.PrefixSIMD: {
        const sub = r.u32();
        if (sub !== SimdOp.V128Const) throw new RewriteError("malformed module: non-constant SIMD instruction in a constant expression");
        w.u32(sub).bytes(r.bytes(16));
        break;
      }
      // extended-const arithmetic
      case Op.I32Add: case Op.I32Sub: case Op.I32Mul: case Op.I64Add: case Op.I64Sub: case Op.I64Mul: break;
      default:
        throw new RewriteError(`malformed module: opcode 0x${op.toString(16)} in a constant expression`);
    }
  }
}
