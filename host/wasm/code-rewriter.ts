// Rewrites one function body so that every access to linear memory is checked by the software
// MMU first (DESIGN.md section 4). The body is re-emitted byte for byte, except:
// - a load or store gets an inline tag check, and its static offset is shifted by BASE;
// - memory.size answers in guest pages; memory.grow and the bulk operations call the host;
// - function indices move past the imports the rewrite adds.
import { Reader, Writer } from "./binary";
import { BASE, FAULT_WRITE, PAGE_SHIFT, RESERVED_WASM_PAGES, accessMask } from "./layout";
import { MVP_ACCESS, Op, SIMD_ACCESS, ValType, simdImmediateBytes, unsupportedOpcode } from "./opcodes";
import type { MemAccess } from "./opcodes";
import { unsupported } from "./rewrite-error";

/** Indices of the MMU host functions inside the rewritten module. */
export interface MmuFunctions {
  fault: number;
  grow: number;
  fill: number;
  copy: number;
  init: number;
  drop: number;
}

export interface BodyContext {
  /** Maps an input function index to its index in the output. */
  funcIndex(f: number): number;
  mmu: MmuFunctions;
  /** Number of parameters of the function (its first locals). */
  paramCount: number;
  /** Counters, summed over the module. */
  stats: { accesses: number; bulk: number };
}

/** Scratch locals appended to a function, one per type the rewrite needs. */
class Scratch {
  private readonly order: ValType[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly first: number) {}

  get(type: ValType, role: "addr" | "value"): number {
    const key = `${role}:${type}`;
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.first + this.order.length;
      this.order.push(type);
      this.index.set(key, i);
    }
    return i;
  }

  declarations(): ValType[] {
    return this.order;
  }
}

export function rewriteBody(body: Uint8Array, ctx: BodyContext): Uint8Array {
  const r = new Reader(body);
  const declCount = r.u32();
  const decls: Array<[number, number]> = [];
  let locals = ctx.paramCount;
  for (let i = 0; i < declCount; i++) {
    const n = r.u32();
    const t = r.u8();
    decls.push([n, t]);
    locals += n;
  }
  const scratch = new Scratch(locals);
  const code = new Writer(body.length * 2 + 64);
  let copied = r.pos; // bytes before `copied` are already in `code`, or belong to the locals

  const flush = (upTo: number): void => {
    if (upTo > copied) code.bytes(body.subarray(copied, upTo));
  };

  while (!r.eof) {
    const start = r.pos;
    const op = r.u8();
    if (op >= 0x45 && op <= 0xc4) continue; // numeric instructions: no immediates
    switch (op) {
      case Op.Unreachable: case 0x01: case Op.Else: case Op.End: case Op.Return: case Op.Drop: case 0x1b: case 0xd1:
        break;
      case Op.Block: case Op.Loop: case Op.If:
        r.s33();
        break;
      case Op.Br: case Op.BrIf: case Op.LocalGet: case Op.LocalSet: case Op.LocalTee: case Op.GlobalGet: case 0x24:
      case 0x25: case 0x26:
        r.u32();
        break;
      case Op.BrTable: {
        const n = r.u32();
        for (let i = 0; i <= n; i++) r.u32();
        break;
      }
      case Op.Call: {
        const f = r.u32();
        flush(start);
        code.u8(Op.Call).u32(ctx.funcIndex(f));
        copied = r.pos;
        break;
      }
      case Op.CallIndirect:
        r.u32();
        r.u32();
        break;
      case Op.SelectT:
        r.skip(r.u32());
        break;
      case Op.I32Const: case Op.I64Const:
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
      case Op.RefFunc: {
        const f = r.u32();
        flush(start);
        code.u8(Op.RefFunc).u32(ctx.funcIndex(f));
        copied = r.pos;
        break;
      }
      case Op.MemorySize:
      case Op.MemoryGrow: {
        if (r.u8() !== 0) throw unsupported("multiple memories", "memory.size/grow with a memory index");
        flush(start);
        if (op === Op.MemorySize) {
          code.u8(Op.MemorySize).u8(0).u8(Op.I32Const).s32(RESERVED_WASM_PAGES).u8(Op.I32Sub);
        } else {
          code.u8(Op.Call).u32(ctx.mmu.grow);
        }
        copied = r.pos;
        break;
      }
      case Op.PrefixFC: {
        const sub = r.u32();
        if (sub <= 7) break; // saturating truncations
        switch (sub) {
          case 8: { // memory.init dataidx memidx
            const seg = r.u32();
            if (r.u8() !== 0) throw unsupported("multiple memories", "memory.init");
            flush(start);
            code.u8(Op.I32Const).s32(seg).u8(Op.Call).u32(ctx.mmu.init);
            ctx.stats.bulk++;
            copied = r.pos;
            break;
          }
          case 9: { // data.drop
            const seg = r.u32();
            flush(start);
            code.u8(Op.I32Const).s32(seg).u8(Op.Call).u32(ctx.mmu.drop);
            copied = r.pos;
            break;
          }
          case 10: // memory.copy dst src
          case 11: { // memory.fill
            if (r.u8() !== 0 || (sub === 10 && r.u8() !== 0)) throw unsupported("multiple memories", "memory.copy/fill");
            flush(start);
            code.u8(Op.Call).u32(sub === 10 ? ctx.mmu.copy : ctx.mmu.fill);
            ctx.stats.bulk++;
            copied = r.pos;
            break;
          }
          case 12: case 14: // table.init elem table, table.copy table table
            r.u32();
            r.u32();
            break;
          case 13: case 15: case 16: case 17: // elem.drop, table.grow/size/fill
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
        if (access) {
          const opEnd = r.pos;
          emitAccess(r, body.subarray(start, opEnd), access, start);
        } else if (sub > 0xff) {
          throw unsupported("relaxed SIMD", `0xFD ${sub}`);
        } else {
          r.skip(simdImmediateBytes(sub));
        }
        break;
      }
      default: {
        const access = MVP_ACCESS.get(op);
        if (access) {
          emitAccess(r, body.subarray(start, start + 1), access, start);
          break;
        }
        throw unsupported(unsupportedOpcode(op) ?? `opcode 0x${op.toString(16)}`, `in a function body`);
      }
    }
  }
  flush(r.pos);

  const out = new Writer(code.length + 32);
  const extra = scratch.declarations();
  out.u32(decls.length + extra.length);
  for (const [n, t] of decls) out.u32(n).u8(t);
  for (const t of extra) out.u32(1).u8(t);
  out.bytes(code.finish());
  return out.finish();

  /**
   * Emits the checked form of a memory instruction whose opcode bytes are `opBytes`; the reader
   * stands on its memarg. Stack before: [addr] or [addr, operand]; after: as the original.
   */
  function emitAccess(rd: Reader, opBytes: Uint8Array, access: MemAccess, start: number): void {
    const align = rd.u32();
    if (align & 0x40) throw unsupported("multiple memories", "a memarg with a memory index");
    const offset = rd.u32();
    const lane = access.lane ? rd.u8() : -1;
    flush(start);
    copied = rd.pos;
    ctx.stats.accesses++;

    const realOffset = offset + BASE;
    if (realOffset > 0xffffffff) {
      // address + offset >= offset > the largest guest memory: the original traps out of bounds.
      // Keep the operands' evaluation, then trap the same way; `unreachable` only keeps the
      // validator's stack typing (it is never reached).
      if (access.operand !== null) code.u8(Op.Drop);
      code.u8(Op.Drop);
      code.u8(Op.I32Const).s32(-1).u8(Op.I32Load).u32(0).u32(0xffffffff).u8(Op.Drop).u8(Op.Unreachable);
      return;
    }
    const addr = scratch.get(ValType.I32, "addr");
    const value = access.operand !== null ? scratch.get(access.operand, "value") : -1;
    if (value >= 0) code.u8(Op.LocalSet).u32(value);
    code.u8(Op.LocalTee).u32(addr);
    if (offset !== 0) code.u8(Op.I32Const).s32(offset | 0).u8(Op.I32Add);
    code.u8(Op.I32Const).s32(PAGE_SHIFT).u8(0x76 /* i32.shr_u */);
    code.u8(Op.I32Load8U).u32(0).u32(0); // the tag table starts at real address 0
    const mask = accessMask(access.size, access.store);
    // Any non-zero tag has the resident bit, so a byte load tests the tag as it is.
    if (mask !== 1) code.u8(Op.I32Const).s32(mask).u8(Op.I32And);
    code.u8(Op.I32Eqz).u8(Op.If).u8(Op.BlockTypeEmpty);
    code.u8(Op.LocalGet).u32(addr).u8(Op.I32Const).s32(offset | 0);
    code.u8(Op.I32Const).s32(access.size | (access.store ? FAULT_WRITE : 0));
    code.u8(Op.Call).u32(ctx.mmu.fault).u8(Op.End);
    code.u8(Op.LocalGet).u32(addr);
    if (value >= 0) code.u8(Op.LocalGet).u32(value);
    code.bytes(opBytes).u32(align).u32(realOffset);
    if (lane >= 0) code.u8(lane);
  }
}
