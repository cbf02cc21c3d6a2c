// Rewrites one function body so that every access to linear memory is checked by the software
// MMU first (docs/architecture.md, "The path of one memory access", step 1). The body is decoded
// into instruction records, analysed, and re-emitted byte for byte, except:
// - a load or store gets an inline tag check, and its static offset is shifted by BASE;
// - memory.size answers in guest pages; memory.grow and memory.init call the host; memory.copy
//   and memory.fill run inline when small and their pages' tags allow it, else call the host;
// - function indices move past the imports the rewrite adds;
// - checks inside loops are hoisted or replaced by a range check where that is provably safe
//   (check-elimination.ts).
import { Reader, Writer } from "./binary";
import { analyzeLoops, hoistChecks, planRanges } from "./check-elimination";
import type { Expr, HoistGroup, RangeAccess, RangeLoop } from "./check-elimination";
import { decode, Kind } from "./instructions";
import type { Instr } from "./instructions";
import { BASE, FAULT_PAIR, FAULT_WRITE, FIRST_RANGE_SLOT, MAX_GUEST_WASM_PAGES, PIN_SLOTS, RANGE_FIRST, RANGE_WRITE, RESERVED_WASM_PAGES, TAG_DIRTY, TAG_PAIR_DIRTY, TAG_PAIR_RESIDENT, accessMask, pageMask } from "./layout";
import { PAGE_SHIFT, PAGE_SIZE } from "../page";
import { Align, BlockType, FcOp, MEMORY_0, Op, ValType } from "./opcodes";

/** Indices of the MMU host functions inside the rewritten module. */
export interface MmuFunctions {
  fault: number;
  grow: number;
  fill: number;
  copy: number;
  init: number;
  drop: number;
  range: number;
  outOfFuel: number;
  fuelInit: number;
}

export interface BodyContext {
  /** Maps an input function index to its index in the output. */
  funcIndex(f: number): number;
  mmu: MmuFunctions;
  /** Number of parameters of the function (its first locals). */
  paramCount: number;
  /** Counters, summed over the module. */
  stats: { accesses: number; bulk: number; hoisted: number; ranged: number; pinSlots: number };
  /** The fuel counter's global when the guest is metered, else -1. */
  fuelGlobal: number;
}

/** Below this guest address, a page's tag lies inside the tag table (the largest guest memory). */
const MAX_GUEST_BYTES_BELOW = MAX_GUEST_WASM_PAGES * 65536;

/** Scratch locals appended to a function, one per type and role the rewrite needs. */
class Scratch {
  private readonly order: ValType[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly first: number) {}

  get(type: ValType, role: "addr" | "ea" | "value" | "page" | "lo" | "hi" | "fuel" | "bulkDst" | "bulkSrc" | "bulkLen" | `fast${number}`): number {
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
  const codeStart = r.pos;
  const instrs = decode(r);
  const analysis = analyzeLoops(instrs);
  const groups = hoistChecks(instrs, analysis);
  const ranges = planRanges(instrs, body, analysis);
  const hoistAt = new Map<number, HoistGroup[]>();
  for (const g of groups) hoistAt.set(g.loop, [...(hoistAt.get(g.loop) ?? []), g]);
  const rangeAt = new Map<number, number>();
  ranges.forEach((r, k) => rangeAt.set(r.loop, k));
  const loopEnd = new Map<number, number>(analysis.loops.map((l) => [l.at, l.end]));
  ctx.stats.pinSlots = Math.max(ctx.stats.pinSlots, groups.length);

  const scratch = new Scratch(locals);
  const code = new Writer(body.length * 2 + 64);
  let copied = codeStart; // bytes before `copied` are already in `code`
  const flush = (upTo: number): void => {
    if (upTo > copied) code.bytes(body.subarray(copied, upTo));
    copied = upTo;
  };

  if (ctx.fuelGlobal >= 0) emitFuel(); // function entry: calls are metered too
  emitInstrs(0, instrs.length, null);
  flush(body.length);

  const out = new Writer(code.length + 32);
  const extra = scratch.declarations();
  out.u32(decls.length + extra.length);
  for (const [n, t] of decls) out.u32(n).u8(t);
  for (const t of extra) out.u32(1).u8(t);
  out.bytes(code.finish());
  return out.finish();

  /**
   * Emits instructions [from, to). Inside one copy of a versioned loop, `version` says whether
   * the covered accesses are unchecked, and counts the labels opened since the loop started:
   * branches to labels outside the loop pass one more label, the `if` around the two copies.
   */
  function emitInstrs(from: number, to: number, version: { unchecked: boolean; depth: number } | null): void {
    for (let i = from; i < to; i++) {
      const ins = instrs[i]!;
      switch (ins.kind) {
        case Kind.Block:
          if (version) version.depth++;
          break;
        case Kind.End:
          if (version) version.depth--;
          break;
        case Kind.Branch:
          if (version && ins.targets!.some((t) => t >= version.depth)) {
            flush(ins.start);
            const shifted = ins.targets!.map((t) => (t >= version.depth ? t + 1 : t));
            code.u8(ins.op);
            if (ins.op === Op.BrTable) code.u32(shifted.length - 1);
            for (const t of shifted) code.u32(t);
            copied = ins.end;
          }
          break;
        case Kind.Call:
          if (ins.imm < 0) break; // call_indirect
          flush(ins.start);
          code.u8(ins.op).u32(ctx.funcIndex(ins.imm));
          copied = ins.end;
          break;
        case Kind.Size:
          flush(ins.start);
          code.u8(Op.MemorySize).u8(MEMORY_0).u8(Op.I32Const).s32(RESERVED_WASM_PAGES).u8(Op.I32Sub);
          copied = ins.end;
          break;
        case Kind.Grow:
          flush(ins.start);
          code.u8(Op.Call).u32(ctx.mmu.grow);
          copied = ins.end;
          break;
        case Kind.Bulk:
          flush(ins.start);
          if (ins.op === FcOp.MemoryCopy || ins.op === FcOp.MemoryFill) emitCopyOrFill(ins.op === FcOp.MemoryCopy);
          else {
            if (ins.op === FcOp.MemoryInit || ins.op === FcOp.DataDrop) code.u8(Op.I32Const).s32(ins.imm);
            code.u8(Op.Call).u32(ins.op === FcOp.MemoryInit ? ctx.mmu.init : ctx.mmu.drop);
          }
          if (ins.op !== FcOp.DataDrop && !version?.unchecked) ctx.stats.bulk++;
          copied = ins.end;
          break;
        case Kind.Loop: {
          if (version) {
            version.depth++;
            meterLoop(ins);
            break;
          }
          const hoisted = hoistAt.get(i);
          const range = rangeAt.get(i);
          if (!hoisted && range === undefined) {
            meterLoop(ins);
            break;
          }
          flush(ins.start);
          for (const g of hoisted ?? []) emitHoistedCheck(g);
          if (range === undefined) {
            meterLoop(ins);
            break;
          }
          // Versioned: the range check decides which copy of the loop runs.
          emitRangeCheck(range);
          const end = loopEnd.get(i)!;
          code.u8(Op.LocalGet).u32(scratch.get(ValType.I32, `fast${range}`)).u8(Op.If).u8(BlockType.Empty);
          emitInstrs(i, end + 1, { unchecked: true, depth: 0 });
          flush(instrs[end]!.end);
          code.u8(Op.Else);
          copied = ins.start;
          emitInstrs(i, end + 1, { unchecked: false, depth: 0 });
          flush(instrs[end]!.end);
          code.u8(Op.End);
          i = end;
          break;
        }
        case Kind.Access:
          flush(ins.start);
          // In a versioned loop each access is counted once, in the checked copy.
          if (!version?.unchecked) ctx.stats.accesses++;
          emitAccess(ins, body.subarray(ins.start, ins.opEnd), version?.unchecked === true && ins.guard >= 0);
          copied = ins.end;
          break;
        default:
          break;
      }
    }
  }

  /**
   * Fuel: fuel -= 1; at zero, the host stops the guest (docs/architecture.md, "Errors and stops").
   */
  function emitFuel(): void {
    const t = scratch.get(ValType.I64, "fuel");
    code.u8(Op.GlobalGet).u32(ctx.fuelGlobal).u8(Op.I64Const).s32(1).u8(Op.I64Sub).u8(Op.LocalTee).u32(t);
    code.u8(Op.GlobalSet).u32(ctx.fuelGlobal).u8(Op.LocalGet).u32(t).u8(Op.I64Eqz);
    code.u8(Op.If).u8(BlockType.Empty).u8(Op.Call).u32(ctx.mmu.outOfFuel).u8(Op.End);
  }

  /** A loop header (its back-edge target) gets the fuel check, right after the `loop` itself. */
  function meterLoop(ins: Instr): void {
    if (ctx.fuelGlobal < 0) return;
    flush(ins.end);
    emitFuel();
  }

  /** Before a loop: check the pair of pages of base + minOffset once, then pin it. */
  function emitHoistedCheck(g: HoistGroup): void {
    const addr = scratch.get(ValType.I32, "addr");
    const page = scratch.get(ValType.I32, "page");
    code.bytes(body.subarray(g.base.start, g.base.end));
    code.u8(Op.LocalTee).u32(addr);
    if (g.minOffset !== 0) code.u8(Op.I32Const).s32(g.minOffset | 0).u8(Op.I32Add);
    code.u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU).u8(Op.LocalTee).u32(page);
    emitTagLoad();
    code.u8(Op.I32Const).s32(g.write ? TAG_PAIR_DIRTY : TAG_PAIR_RESIDENT).u8(Op.I32And);
    code.u8(Op.I32Eqz).u8(Op.If).u8(BlockType.Empty);
    code.u8(Op.LocalGet).u32(addr).u8(Op.I32Const).s32(g.minOffset | 0);
    code.u8(Op.I32Const).s32((g.maxEnd - g.minOffset) | FAULT_PAIR | (g.write ? FAULT_WRITE : 0));
    code.u8(Op.Call).u32(ctx.mmu.fault).u8(Op.End);
    emitPin(PIN_SLOTS + 8 * g.slot, page);
    ctx.stats.hoisted++;
  }

  /**
   * memory.copy (stack [dst, src, n]) or memory.fill ([dst, value, n]). Small operations on pages
   * whose tags already allow them run as the native instruction on the shifted addresses; the
   * rest call the host. The fast path is exact:
   * - n <= PAGE_SIZE, so each side lies in its first page and at most the next one. The source's
   *   pair-resident bit (the target's pair-dirty bit) says both pages are resident (dirty), or
   *   that the first is the last guest page: then a range crossing the end is out of bounds, and
   *   the native instruction traps before writing anything, as the guest's would, since the real
   *   memory ends exactly where the guest memory does (shifted by BASE). n = 0 only checks bounds,
   *   the same way.
   * - Else, when each side ends inside its first page, that page's own resident (dirty) bit is
   *   enough: such a range lies in one resident page, hence in bounds too.
   * - An address at or above MAX_GUEST_BYTES_BELOW would wrap when shifted in i32 (and its tag
   *   byte is a pin slot's): such operations always go to the host (which traps).
   * - The native copy has memmove semantics, like the guest's. Shared pages are resident and
   *   dirty, so a write to them is a plain write, as the host's would be.
   * - The fast path only reads tags: it brings nothing in and evicts nothing, so pinned pages
   *   and the ranges of check-elimination.ts stay as they were.
   */
  function emitCopyOrFill(copy: boolean): void {
    const dst = scratch.get(ValType.I32, "bulkDst");
    const src = scratch.get(ValType.I32, "bulkSrc"); // the fill's value
    const len = scratch.get(ValType.I32, "bulkLen");
    const tagOf = (local: number) => {
      code.u8(Op.LocalGet).u32(local).u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU);
      emitTagLoad();
    };
    // [] -> [tag[dst] & mask], for a copy [(tag[src] << 1) & tag[dst] & mask]
    const tagsAllow = (mask: number) => {
      if (copy) {
        tagOf(src);
        code.u8(Op.I32Const).s32(1).u8(Op.I32Shl);
      }
      tagOf(dst);
      if (copy) code.u8(Op.I32And);
      code.u8(Op.I32Const).s32(mask).u8(Op.I32And);
    };
    // [] -> [1 when [local, local + n) reaches past the end of local's page]; n <= PAGE_SIZE here
    const crosses = (local: number) => {
      code.u8(Op.LocalGet).u32(local).u8(Op.I32Const).s32(PAGE_SIZE - 1).u8(Op.I32And);
      code.u8(Op.LocalGet).u32(len).u8(Op.I32Add).u8(Op.I32Const).s32(PAGE_SIZE).u8(Op.I32GtU);
    };
    code.u8(Op.LocalSet).u32(len).u8(Op.LocalSet).u32(src).u8(Op.LocalSet).u32(dst);
    code.u8(Op.Block).u8(BlockType.Empty).u8(Op.Block).u8(BlockType.Empty);
    // to the host when n > PAGE_SIZE
    code.u8(Op.LocalGet).u32(len).u8(Op.I32Const).s32(PAGE_SIZE).u8(Op.I32GtU).u8(Op.BrIf).u32(0);
    // ... or an address would wrap (dst | src bounds both from above)
    code.u8(Op.LocalGet).u32(dst);
    if (copy) code.u8(Op.LocalGet).u32(src).u8(Op.I32Or);
    code.u8(Op.I32Const).s32(MAX_GUEST_BYTES_BELOW | 0).u8(Op.I32GeU).u8(Op.BrIf).u32(0);
    // ... or the tags do not allow it: fill needs tag[dst] & PAIR_DIRTY; copy also
    // tag[src] & PAIR_RESIDENT, tested at once as ((tag[src] << 1) & tag[dst]) & PAIR_DIRTY.
    // Failing that, sides that each stay inside their page need only that page's own bits,
    // tested the same way (RESIDENT << 1 is DIRTY).
    tagsAllow(TAG_PAIR_DIRTY);
    code.u8(Op.I32Eqz).u8(Op.If).u8(BlockType.Empty);
    crosses(dst);
    if (copy) {
      crosses(src);
      code.u8(Op.I32Or);
    }
    tagsAllow(TAG_DIRTY);
    code.u8(Op.I32Eqz).u8(Op.I32Or).u8(Op.BrIf).u32(1);
    code.u8(Op.End);
    code.u8(Op.LocalGet).u32(dst).u8(Op.I32Const).s32(BASE).u8(Op.I32Add);
    code.u8(Op.LocalGet).u32(src);
    if (copy) code.u8(Op.I32Const).s32(BASE).u8(Op.I32Add);
    code.u8(Op.LocalGet).u32(len);
    code.u8(Op.PrefixFC).u32(copy ? FcOp.MemoryCopy : FcOp.MemoryFill).u8(MEMORY_0);
    if (copy) code.u8(MEMORY_0);
    code.u8(Op.Br).u32(1);
    code.u8(Op.End);
    code.u8(Op.LocalGet).u32(dst).u8(Op.LocalGet).u32(src).u8(Op.LocalGet).u32(len);
    code.u8(Op.Call).u32(copy ? ctx.mmu.copy : ctx.mmu.fill);
    code.u8(Op.End);
  }

  function emitExpr(e: Expr): void {
    if ("leaf" in e) code.bytes(body.subarray(e.leaf.start, e.leaf.end));
    else {
      emitExpr(e.a);
      emitExpr(e.b);
      code.u8(e.op);
    }
  }

  /**
   * Before a counted loop: fast = 1 when the loop body will not run, or when the MMU made the
   * whole address range of every covered access resident (and pinned it); else fast = 0.
   * For an access coef * i + rest + offset with i in [i0, n + extra): the range is
   * [coef * i0 + rest + offset, coef * (n - 1 + extra) + rest + offset + size), computed in i64;
   * coef * (n - 1 + extra) + rest must stay below 2^32 (no wrapping).
   */
  function emitRangeCheck(k: number): void {
    const r: RangeLoop = ranges[k]!;
    const fast = scratch.get(ValType.I32, `fast${k}`);
    code.u8(Op.I32Const).s32(1).u8(Op.LocalSet).u32(fast);
    code.u8(Op.Block).u8(BlockType.Empty);
    // i0 >= n: the body never runs (fast stays 1)
    code.u8(Op.LocalGet).u32(r.induction);
    emitBound(r);
    code.u8(r.unsigned ? Op.I32GeU : Op.I32GeS).u8(Op.BrIf).u32(0);
    // i0 < 0 as a signed number: shifts would wrap, give up
    code.u8(Op.LocalGet).u32(r.induction).u8(Op.I32Const).s32(0).u8(Op.I32LtS);
    code.u8(Op.If).u8(BlockType.Empty);
    emitRangeFail(fast, 1);
    code.u8(Op.End);
    r.accesses.forEach((a, slot) => emitAccessRange(r, a, slot, fast));
    code.u8(Op.End);
  }

  /** fast = 0, then leaves `depth` + 1 blocks: to the end of the range check. */
  function emitRangeFail(fast: number, depth: number): void {
    code.u8(Op.I32Const).s32(0).u8(Op.LocalSet).u32(fast).u8(Op.Br).u32(depth);
  }

  function emitBound(r: RangeLoop): void {
    code.bytes(body.subarray(r.bound.start, r.bound.end));
  }

  /** One covered access of a range check, in a block of its own: makes its range resident, or fails. */
  function emitAccessRange(r: RangeLoop, a: RangeAccess, slot: number, fast: number): void {
    const lo = scratch.get(ValType.I64, "lo");
    const hi = scratch.get(ValType.I64, "hi");
    const extra = a.afterStep ? r.step : 0;
    code.u8(Op.Block).u8(BlockType.Empty);
    // lo = coef * i0 + rest + offset
    code.u8(Op.LocalGet).u32(r.induction).u8(Op.I64ExtendI32U).u8(Op.I64Const).s32(a.coef).u8(Op.I64Mul);
    if (a.rest) {
      emitExpr(a.rest);
      code.u8(Op.I64ExtendI32U).u8(Op.I64Add);
    }
    code.u8(Op.I64Const);
    writeI64(a.ins.offset);
    code.u8(Op.I64Add).u8(Op.LocalSet).u32(lo);
    // hi = coef * (n - 1 + extra) + rest; must be < 2^32
    emitBound(r);
    code.u8(Op.I64ExtendI32U).u8(Op.I64Const).s32(extra - 1).u8(Op.I64Add);
    code.u8(Op.I64Const).s32(a.coef).u8(Op.I64Mul);
    if (a.rest) {
      emitExpr(a.rest);
      code.u8(Op.I64ExtendI32U).u8(Op.I64Add);
    }
    code.u8(Op.LocalTee).u32(hi).u8(Op.I64Const);
    writeI64(0x100000000);
    code.u8(Op.I64GeU).u8(Op.If).u8(BlockType.Empty);
    emitRangeFail(fast, 2);
    code.u8(Op.End);
    // hi += offset + size; ask the MMU for [lo, hi)
    code.u8(Op.LocalGet).u32(hi).u8(Op.I64Const);
    writeI64(a.ins.offset + a.ins.access!.size);
    code.u8(Op.I64Add).u8(Op.LocalSet).u32(hi);
    // At most two pages, already resident: the pair bit says so, and the pin is two stores.
    // Else ask the MMU (slot | store | first access of the loop, when it forgets older ranges).
    const page = scratch.get(ValType.I32, "page");
    code.u8(Op.LocalGet).u32(hi).u8(Op.I64Const).s32(1).u8(Op.I64Sub).u8(Op.I64Const).s32(PAGE_SHIFT).u8(Op.I64ShrU);
    code.u8(Op.LocalGet).u32(lo).u8(Op.I64Const).s32(PAGE_SHIFT).u8(Op.I64ShrU).u8(Op.I64Sub);
    code.u8(Op.I64Const).s32(1).u8(Op.I64LeU);
    code.u8(Op.LocalGet).u32(lo).u8(Op.I64Const);
    writeI64(MAX_GUEST_BYTES_BELOW);
    code.u8(Op.I64LtU).u8(Op.I32And);
    code.u8(Op.If).u8(BlockType.Empty);
    code.u8(Op.LocalGet).u32(lo).u8(Op.I64Const).s32(PAGE_SHIFT).u8(Op.I64ShrU).u8(Op.I32WrapI64).u8(Op.LocalTee).u32(page);
    emitTagLoad();
    code.u8(Op.I32Const).s32(a.ins.access!.store ? TAG_PAIR_DIRTY : TAG_PAIR_RESIDENT).u8(Op.I32And);
    code.u8(Op.If).u8(BlockType.Empty);
    emitPin(PIN_SLOTS + 8 * (FIRST_RANGE_SLOT + slot), page);
    code.u8(Op.Br).u32(2); // next access
    code.u8(Op.End).u8(Op.End);
    code.u8(Op.LocalGet).u32(lo).u8(Op.F64ConvertI64U).u8(Op.LocalGet).u32(hi).u8(Op.F64ConvertI64U);
    code.u8(Op.I32Const).s32((FIRST_RANGE_SLOT + slot) | (a.ins.access!.store ? RANGE_WRITE : 0) | (slot === 0 ? RANGE_FIRST : 0));
    code.u8(Op.Call).u32(ctx.mmu.range).u8(Op.I32Eqz).u8(Op.If).u8(BlockType.Empty);
    emitRangeFail(fast, 2);
    code.u8(Op.End);
    code.u8(Op.End); // of the access's block
    ctx.stats.ranged++;
  }

  /** [page] -> [its tag byte]: the tag table starts at real address 0. */
  function emitTagLoad(): void {
    code.u8(Op.I32Load8U).u32(Align.To1).u32(0);
  }

  /** Pins a page and the next in the pin slot at `slotAt`, stored as [page + 1, page + 2]. */
  function emitPin(slotAt: number, page: number): void {
    code.u8(Op.I32Const).s32(slotAt).u8(Op.LocalGet).u32(page).u8(Op.I32Const).s32(1).u8(Op.I32Add);
    code.u8(Op.I32Store).u32(Align.To4).u32(0);
    code.u8(Op.I32Const).s32(slotAt).u8(Op.LocalGet).u32(page).u8(Op.I32Const).s32(2).u8(Op.I32Add);
    code.u8(Op.I32Store).u32(Align.To4).u32(4);
  }

  function writeI64(v: number): void {
    // non-negative v < 2^53 as a signed LEB128
    let n = BigInt(v);
    for (;;) {
      const b = Number(n & 0x7fn);
      n >>= 7n;
      if (n === 0n && (b & 0x40) === 0) {
        code.u8(b);
        return;
      }
      code.u8(b | 0x80);
    }
  }

  /**
   * The slow branch of a wide access, whose pair bit is off (its next page is not resident, or not
   * dirty), up to the fault call: an access inside its page needs only that page's own bit, so it
   * leaves the branch (`br_if 1`) without a call, and a neighbour that is not resident costs
   * neither a call nor a fill. Two branches rather than one combined test keep this code short
   * in the compiled loop, where it sits between the tag test and the access.
   * The effective address wraps in i32 as the tag test's does. An access for which it wraps, or
   * that reaches past the largest guest memory (whose tag bytes are pin slots), is out of bounds
   * whatever the tag says, and traps by itself.
   */
  function emitInPageExit(addr: number, offset: number, size: number, write: boolean): void {
    const ea = offset === 0 ? addr : scratch.get(ValType.I32, "ea");
    // PAGE_SIZE - size >= (ea & (PAGE_SIZE - 1)): the access ends inside its page
    code.u8(Op.I32Const).s32(PAGE_SIZE - size).u8(Op.LocalGet).u32(addr);
    if (offset !== 0) code.u8(Op.I32Const).s32(offset | 0).u8(Op.I32Add).u8(Op.LocalTee).u32(ea);
    code.u8(Op.I32Const).s32(PAGE_SIZE - 1).u8(Op.I32And).u8(Op.I32GeU).u8(Op.If).u8(BlockType.Empty);
    code.u8(Op.LocalGet).u32(ea).u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU);
    emitTagLoad();
    code.u8(Op.I32Const).s32(pageMask(write)).u8(Op.I32And).u8(Op.BrIf).u32(1);
    code.u8(Op.End);
  }

  /**
   * Emits the checked form of a memory instruction. Stack before: [addr] or [addr, operand];
   * after: as the original. An access served by a hoisted check keeps only the shifted offset.
   */
  function emitAccess(ins: Instr, opBytes: Uint8Array, unchecked: boolean): void {
    const access = ins.access!;
    const { offset } = ins;
    const realOffset = offset + BASE;
    if (realOffset > 0xffffffff) {
      // address + offset >= offset > the largest guest memory: the original traps out of bounds.
      // Keep the operands' evaluation, then trap the same way; `unreachable` only keeps the
      // validator's stack typing (it is never reached).
      if (access.operand !== null) code.u8(Op.Drop);
      code.u8(Op.Drop);
      code.u8(Op.I32Const).s32(-1).u8(Op.I32Load).u32(Align.To1).u32(0xffffffff).u8(Op.Drop).u8(Op.Unreachable);
      return;
    }
    if (ins.link < 0 && !unchecked) {
      const addr = scratch.get(ValType.I32, "addr");
      const value = access.operand !== null ? scratch.get(access.operand, "value") : -1;
      if (value >= 0) code.u8(Op.LocalSet).u32(value);
      code.u8(Op.LocalTee).u32(addr);
      if (offset !== 0) code.u8(Op.I32Const).s32(offset | 0).u8(Op.I32Add);
      code.u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU);
      emitTagLoad();
      const mask = accessMask(access.size, access.store);
      // Any non-zero tag has the resident bit, so a byte load tests the tag as it is.
      if (mask !== 1) code.u8(Op.I32Const).s32(mask).u8(Op.I32And);
      code.u8(Op.I32Eqz).u8(Op.If).u8(BlockType.Empty);
      if (access.size > 1) emitInPageExit(addr, offset, access.size, access.store);
      code.u8(Op.LocalGet).u32(addr).u8(Op.I32Const).s32(offset | 0);
      code.u8(Op.I32Const).s32(access.size | (access.store ? FAULT_WRITE : 0));
      code.u8(Op.Call).u32(ctx.mmu.fault).u8(Op.End);
      code.u8(Op.LocalGet).u32(addr);
      if (value >= 0) code.u8(Op.LocalGet).u32(value);
    }
    code.bytes(opBytes).u32(ins.align).u32(realOffset);
    if (ins.lane >= 0) code.u8(ins.lane);
  }
}
