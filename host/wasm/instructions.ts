// Decoding of function bodies into instruction records (WebAssembly 2.0, spec section 5.4):
// the rewriter's view of a body, with just the facts it needs about each instruction.
import type { Reader } from "./binary";
import { FcOp, MEMARG_MEMORY_INDEX, MEMORY_0, MVP_ACCESS, Op, SIMD_ACCESS, isNumeric, simdImmediateBytes, unsupportedOpcode } from "./opcodes";
import type { MemAccess } from "./opcodes";
import { unsupported } from "./rewrite-error";

export const enum Kind {
  Plain, // copied as is
  Call, // call / ref.func: index renumbered
  Access, // load or store
  Size, // memory.size
  Grow,
  Bulk, // memory.copy / fill / init, data.drop
  Block, // block, if: opens a scope
  Loop,
  End,
  LocalWrite, // local.set / local.tee
  GlobalWrite,
  SimplePush, // local.get / global.get / i32.const: a value that needs no other instruction
  Branch, // br, br_if, br_table: label depths in `targets`
}

export interface Instr {
  kind: Kind;
  start: number;
  end: number;
  /** Opcode and sub-opcode bytes of an access (end of the opcode, before its memarg). */
  opEnd: number;
  /** Call / ref.func target; local or global index; i32.const value; bulk sub-opcode. */
  imm: number;
  /** For SimplePush: the opcode (local.get, global.get or i32.const). */
  op: number;
  access: MemAccess | null;
  align: number;
  offset: number;
  lane: number;
  /** For an Access: the hoisted group serving it, or -1. */
  link: number;
  /** For an Access: the range loop whose flag lets it skip its check, or -1. */
  guard: number;
  /** For a Branch: its label depths (br_table: the table, then the default). */
  targets?: number[];
}

/** Decodes instructions from the reader to its end. */
export function decode(r: Reader): Instr[] {
  const out: Instr[] = [];
  while (!r.eof) {
    const start = r.pos;
    const op = r.u8();
    const ins: Instr = { kind: Kind.Plain, start, end: 0, opEnd: 0, imm: 0, op, access: null, align: 0, offset: 0, lane: -1, link: -1, guard: -1 };
    out.push(ins);
    if (isNumeric(op)) {
      ins.end = r.pos;
      continue;
    }
    switch (op) {
      case Op.Unreachable: case Op.Nop: case Op.Else: case Op.Return: case Op.Drop: case Op.Select: case Op.RefIsNull:
        break;
      case Op.End:
        ins.kind = Kind.End;
        break;
      case Op.Block: case Op.If:
        ins.kind = Kind.Block;
        r.s33();
        break;
      case Op.Loop:
        ins.kind = Kind.Loop;
        r.s33();
        break;
      case Op.LocalGet: case Op.GlobalGet:
        ins.kind = Kind.SimplePush;
        ins.imm = r.u32();
        break;
      case Op.LocalSet: case Op.LocalTee:
        ins.kind = Kind.LocalWrite;
        ins.imm = r.u32();
        break;
      case Op.GlobalSet:
        ins.kind = Kind.GlobalWrite;
        ins.imm = r.u32();
        break;
      case Op.Br: case Op.BrIf:
        ins.kind = Kind.Branch;
        ins.targets = [r.u32()];
        break;
      case Op.TableGet: case Op.TableSet:
        r.u32();
        break;
      case Op.BrTable: {
        const n = r.u32();
        ins.kind = Kind.Branch;
        ins.targets = [];
        for (let i = 0; i <= n; i++) ins.targets.push(r.u32());
        break;
      }
      case Op.Call: case Op.RefFunc:
        ins.kind = Kind.Call;
        ins.imm = r.u32();
        break;
      case Op.CallIndirect:
        ins.kind = Kind.Call;
        ins.imm = -1;
        r.u32();
        r.u32();
        break;
      case Op.SelectT:
        r.skip(r.u32());
        break;
      case Op.I32Const:
        ins.kind = Kind.SimplePush;
        ins.imm = r.s32();
        break;
      case Op.I64Const:
        r.skipLeb();
        break;
      case Op.F32Const:
        r.skip(4);
        break;
      case Op.F64Const:
        r.skip(8);
        break;
      case Op.RefNull:
        r.u8();
        break;
      case Op.MemorySize: case Op.MemoryGrow:
        if (r.u8() !== MEMORY_0) throw unsupported("multiple memories", "memory.size/grow with a memory index");
        ins.kind = op === Op.MemorySize ? Kind.Size : Kind.Grow;
        break;
      case Op.PrefixFC: {
        const sub = r.u32();
        if (sub <= FcOp.I64TruncSatF64U) break; // saturating truncations
        switch (sub) {
          case FcOp.MemoryInit: // dataidx memidx
            ins.kind = Kind.Bulk;
            ins.op = sub;
            ins.imm = r.u32();
            if (r.u8() !== MEMORY_0) throw unsupported("multiple memories", "memory.init");
            break;
          case FcOp.DataDrop: // dataidx
            ins.kind = Kind.Bulk;
            ins.op = sub;
            ins.imm = r.u32();
            break;
          case FcOp.MemoryCopy: case FcOp.MemoryFill: // memidx dst src, memidx
            if (r.u8() !== MEMORY_0 || (sub === FcOp.MemoryCopy && r.u8() !== MEMORY_0)) throw unsupported("multiple memories", "memory.copy/fill");
            ins.kind = Kind.Bulk;
            ins.op = sub;
            break;
          case FcOp.TableInit: case FcOp.TableCopy: // elemidx tableidx, tableidx tableidx
            r.u32();
            r.u32();
            break;
          case FcOp.ElemDrop: case FcOp.TableGrow: case FcOp.TableSize: case FcOp.TableFill:
            r.u32();
            break;
          default:
            throw unsupported(`0xFC ${sub}`, "an instruction beyond WebAssembly 2.0");
        }
        break;
      }
      case Op.PrefixSIMD: {
        const sub = r.u32();
        const access = SIMD_ACCESS.get(sub);
        if (access) readAccess(r, ins, access);
        else if (sub > 0xff) throw unsupported("relaxed SIMD", `0xFD ${sub}`);
        else r.skip(simdImmediateBytes(sub));
        break;
      }
      default: {
        const access = MVP_ACCESS.get(op);
        if (!access) throw unsupported(unsupportedOpcode(op) ?? `opcode 0x${op.toString(16)}`, "in a function body");
        readAccess(r, ins, access);
      }
    }
    ins.end = r.pos;
  }
  return out;
}

function readAccess(r: Reader, ins: Instr, access: MemAccess): void {
  ins.kind = Kind.Access;
  ins.access = access;
  ins.opEnd = r.pos;
  ins.align = r.u32();
  if (ins.align & MEMARG_MEMORY_INDEX) throw unsupported("multiple memories", "a memarg with a memory index");
  ins.offset = r.u32();
  if (access.lane) ins.lane = r.u8();
}

