// The slow path of a wide access (2 to 16 bytes) whose pair bit is off, as one function the rewrite
// adds to the module, so that every checked access keeps a call of the same size as before
// (code-rewriter.ts). An access inside its page needs only that page's own tag bit (resident for
// a load, dirty for a store): then it returns without calling the MMU, so a neighbour that is not
// resident costs neither a call nor a fill. Otherwise it calls the MMU's fault.
// The effective address wraps in i32 as the inline tag test's does; an access for which it wraps,
// or that reaches past the largest guest memory (whose tag bytes are pin slots), is out of bounds
// whatever the tag says, and traps by itself once this returns.
import { Writer } from "./binary";
import { FAULT_SIZE_MASK, FAULT_WRITE, TAG_DIRTY, TAG_RESIDENT } from "./layout";
import { Align, BlockType, Op, ValType } from "./opcodes";
import { PAGE_SHIFT, PAGE_SIZE } from "../page";

const FAULT_WRITE_BIT = Math.log2(FAULT_WRITE);
// The mask arithmetic below relies on these values.
if (TAG_RESIDENT !== 1 || TAG_DIRTY !== 2 || !Number.isInteger(FAULT_WRITE_BIT)) throw new Error("wide-fault.ts assumes TAG_RESIDENT = 1, TAG_DIRTY = 2 and FAULT_WRITE a single bit");

/** The body of (addr, offset, info) -> [], the fault import's own type; `fault` is its index. */
export function buildWideFault(fault: number): Writer {
  const [addr, offset, info, ea] = [0, 1, 2, 3];
  const w = new Writer(96);
  w.u32(1).u32(1).u8(ValType.I32); // one local: ea
  // PAGE_SIZE - size >= (ea & (PAGE_SIZE - 1)): the access ends inside its page
  w.u8(Op.I32Const).s32(PAGE_SIZE).u8(Op.LocalGet).u32(info).u8(Op.I32Const).s32(FAULT_SIZE_MASK).u8(Op.I32And).u8(Op.I32Sub);
  w.u8(Op.LocalGet).u32(addr).u8(Op.LocalGet).u32(offset).u8(Op.I32Add).u8(Op.LocalTee).u32(ea);
  w.u8(Op.I32Const).s32(PAGE_SIZE - 1).u8(Op.I32And);
  w.u8(Op.I32GeU).u8(Op.If).u8(BlockType.Empty);
  // tag[ea >> 12] & (store ? TAG_DIRTY : TAG_RESIDENT): the mask is 1 + the FAULT_WRITE bit
  w.u8(Op.LocalGet).u32(ea).u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU).u8(Op.I32Load8U).u32(Align.To1).u32(0);
  w.u8(Op.LocalGet).u32(info).u8(Op.I32Const).s32(FAULT_WRITE_BIT).u8(Op.I32ShrU).u8(Op.I32Const).s32(1).u8(Op.I32And);
  w.u8(Op.I32Const).s32(1).u8(Op.I32Add).u8(Op.I32And);
  w.u8(Op.If).u8(BlockType.Empty).u8(Op.Return).u8(Op.End);
  w.u8(Op.End);
  w.u8(Op.LocalGet).u32(addr).u8(Op.LocalGet).u32(offset).u8(Op.LocalGet).u32(info).u8(Op.Call).u32(fault);
  w.u8(Op.End);
  return w;
}
