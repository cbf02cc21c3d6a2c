// The start function the rewrite adds to a metered module or one with active data segments. It
// sets the fuel, writes each active segment through the MMU (which the rewrite made passive, so
// that no page content bypasses residency) and drops it, then calls the original start function.
import { Writer } from "./binary";
import type { InputModule } from "./input-module";
import { Op } from "./opcodes";
import type { RewritePlan } from "./rewrite-plan";

/** The body of the added start function, of type [] -> []. */
export function buildStartFunction(module: InputModule, plan: RewritePlan): Writer {
  const { mmu } = plan;
  const body = new Writer(64);
  body.u32(0); // no locals
  if (plan.fuelGlobal >= 0) body.u8(Op.Call).u32(mmu.fuelInit).u8(Op.GlobalSet).u32(plan.fuelGlobal);
  module.dataSegments.forEach((seg, i) => {
    if (!seg.active) return;
    // memory.init semantics through the MMU: dst, src=0, len, segment; then drop it.
    body.bytes(seg.offsetExpr!.subarray(0, seg.offsetExpr!.length - 1));
    body.u8(Op.I32Const).s32(0).u8(Op.I32Const).s32(seg.bytes.length);
    body.u8(Op.I32Const).s32(i).u8(Op.Call).u32(mmu.init);
    body.u8(Op.I32Const).s32(i).u8(Op.Call).u32(mmu.drop);
  });
  if (module.start !== null) body.u8(Op.Call).u32(plan.funcIndex(module.start));
  body.u8(Op.End);
  return body;
}
