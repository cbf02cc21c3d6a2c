// Rewrites one function body so that every access to linear memory is checked by the software
// MMU first (DESIGN.md section 4). The body is decoded into instruction records, analysed, and
// re-emitted byte for byte, except:
// - a load or store gets an inline tag check, and its static offset is shifted by BASE;
// - memory.size answers in guest pages; memory.grow and the bulk operations call the host;
// - function indices move past the imports the rewrite adds;
// - checks of loop-invariant addresses are hoisted out of loops (see hoistChecks).
import { Reader, Writer } from "./binary";
import {
  BASE, FAULT_PAIR, FAULT_WRITE, MAX_PIN_SLOTS, PAGE_SHIFT, PAGE_SIZE, PIN_SLOTS, RESERVED_WASM_PAGES,
  TAG_PAIR_DIRTY, TAG_PAIR_RESIDENT, accessMask,
} from "./layout";
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
  stats: { accesses: number; bulk: number; hoisted: number; pinSlots: number };
}

const enum Kind {
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
}

interface Instr {
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
  /** For Loop: index of its End. For an Access: the hoisted group serving it, or -1. */
  link: number;
}

/** A hoisted check: one base value and a window of offsets, checked once before a loop. */
interface HoistGroup {
  loop: number;
  base: Instr;
  minOffset: number;
  maxEnd: number;
  write: boolean;
  slot: number;
}

/** Scratch locals appended to a function, one per type and role the rewrite needs. */
class Scratch {
  private readonly order: ValType[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly first: number) {}

  get(type: ValType, role: "addr" | "value" | "page"): number {
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

function decode(r: Reader): Instr[] {
  const out: Instr[] = [];
  while (!r.eof) {
    const start = r.pos;
    const op = r.u8();
    const ins: Instr = { kind: Kind.Plain, start, end: 0, opEnd: 0, imm: 0, op, access: null, align: 0, offset: 0, lane: -1, link: -1 };
    out.push(ins);
    if (op >= 0x45 && op <= 0xc4) {
      ins.end = r.pos; // numeric instructions: no immediates
      continue;
    }
    switch (op) {
      case Op.Unreachable: case 0x01: case Op.Else: case Op.Return: case Op.Drop: case 0x1b: case 0xd1:
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
      case 0x24: // global.set
        ins.kind = Kind.GlobalWrite;
        ins.imm = r.u32();
        break;
      case Op.Br: case Op.BrIf: case 0x25: case 0x26:
        r.u32();
        break;
      case Op.BrTable: {
        const n = r.u32();
        for (let i = 0; i <= n; i++) r.u32();
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
        if (r.u8() !== 0) throw unsupported("multiple memories", "memory.size/grow with a memory index");
        ins.kind = op === Op.MemorySize ? Kind.Size : Kind.Grow;
        break;
      case Op.PrefixFC: {
        const sub = r.u32();
        if (sub <= 7) break; // saturating truncations
        switch (sub) {
          case 8: // memory.init dataidx memidx
            ins.kind = Kind.Bulk;
            ins.op = sub;
            ins.imm = r.u32();
            if (r.u8() !== 0) throw unsupported("multiple memories", "memory.init");
            break;
          case 9: // data.drop dataidx
            ins.kind = Kind.Bulk;
            ins.op = sub;
            ins.imm = r.u32();
            break;
          case 10: case 11: // memory.copy dst src, memory.fill
            if (r.u8() !== 0 || (sub === 10 && r.u8() !== 0)) throw unsupported("multiple memories", "memory.copy/fill");
            ins.kind = Kind.Bulk;
            ins.op = sub;
            break;
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
  if (ins.align & 0x40) throw unsupported("multiple memories", "a memarg with a memory index");
  ins.offset = r.u32();
  if (access.lane) ins.lane = r.u8();
}

/** Identity of a base value: the same key means the same value anywhere in a loop that writes neither. */
function baseKey(ins: Instr): string {
  return `${ins.op}:${ins.imm}`;
}

/**
 * Hoists checks out of loops (DESIGN.md section 4 allows eliminating checks where that is
 * provably safe). An access whose address is a loop-invariant simple value (a local the loop
 * never writes, a global, a constant) plus a static offset is checked once before the outermost
 * such loop that makes no calls, together with every other access of the loop on the same base
 * within one page of offsets: one pair check (this page and the next) covers them all. The loop
 * pins that pair in a slot, so that no fault of another access inside the loop can evict it.
 * Calls are excluded, so no other code runs meanwhile, and only this function's loops use its
 * slots. Accesses served by a group get `link` = its index.
 */
function hoistChecks(code: Instr[]): HoistGroup[] {
  interface LoopInfo { at: number; end: number; calls: boolean; locals: Set<number>; globals: Set<number>; parent: number }
  const loops: LoopInfo[] = [];
  const stack: number[] = []; // indices into `loops` (-1 for blocks)
  const enclosing: number[] = new Array(code.length).fill(-1); // innermost loop of each instruction
  for (let i = 0; i < code.length; i++) {
    const ins = code[i]!;
    let current = -1;
    for (let s = stack.length - 1; s >= 0 && current === -1; s--) current = stack[s]!;
    enclosing[i] = current;
    if (ins.kind === Kind.Block || ins.kind === Kind.Loop) {
      if (ins.kind === Kind.Loop) {
        loops.push({ at: i, end: -1, calls: false, locals: new Set(), globals: new Set(), parent: current });
        stack.push(loops.length - 1);
      } else stack.push(-1);
      continue;
    }
    if (ins.kind === Kind.End) {
      const top = stack.pop();
      if (top !== undefined && top >= 0) loops[top]!.end = i;
      continue;
    }
    // Facts about each enclosing loop.
    for (let l = current; l >= 0; l = loops[l]!.parent) {
      const info = loops[l]!;
      if (ins.kind === Kind.Call && ins.op !== Op.RefFunc) info.calls = true;
      else if (ins.kind === Kind.Grow) info.calls = true;
      else if (ins.kind === Kind.LocalWrite) info.locals.add(ins.imm);
      else if (ins.kind === Kind.GlobalWrite) info.globals.add(ins.imm);
    }
  }

  // The outermost enclosing loop without calls in which `base` is invariant.
  const outermost = (i: number, base: Instr): number => {
    let target = -1;
    for (let l = enclosing[i]!; l >= 0; l = loops[l]!.parent) {
      const info = loops[l]!;
      if (info.calls) break;
      if (base.op === Op.LocalGet && info.locals.has(base.imm)) break;
      if (base.op === Op.GlobalGet && info.globals.has(base.imm)) break;
      target = l;
    }
    return target;
  };
  const groups: HoistGroup[] = [];
  const groupOf = new Map<string, number>(); // `${loop}|${baseKey}` -> index in groups
  const candidates: Array<{ loop: number; ins: Instr; base: Instr }> = [];
  for (let i = 0; i < code.length; i++) {
    const ins = code[i]!;
    if (ins.kind !== Kind.Access || enclosing[i] === -1) continue;
    if (ins.offset + BASE > 0xffffffff) continue;
    const a = ins.access!;
    // The address must be a simple push right before the access (or before its simple operand).
    const base = a.operand === null ? code[i - 1] : code[i - 2];
    if (!base || base.kind !== Kind.SimplePush) continue;
    if (a.operand !== null && code[i - 1]!.kind !== Kind.SimplePush) continue;
    const target = outermost(i, base);
    if (target >= 0) candidates.push({ loop: target, ins, base });
  }
  // Group by loop and base; a group spans at most one page of offsets from its smallest.
  candidates.sort((x, y) => x.loop - y.loop || x.ins.offset - y.ins.offset);
  for (const { loop, ins, base } of candidates) {
    const key = `${loop}|${baseKey(base)}`;
    let index = groupOf.get(key);
    const end = ins.offset + ins.access!.size;
    if (index === undefined) {
      if (groups.length >= MAX_PIN_SLOTS) continue;
      index = groups.length;
      groups.push({ loop: loops[loop]!.at, base, minOffset: ins.offset, maxEnd: end, write: false, slot: index });
      groupOf.set(key, index);
    }
    const g = groups[index]!;
    if (end - g.minOffset > PAGE_SIZE) continue; // outside the window: keeps its own check
    g.maxEnd = Math.max(g.maxEnd, end);
    g.write ||= ins.access!.store;
    ins.link = index;
  }
  return groups;
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
  const groups = hoistChecks(instrs);
  const hoistAt = new Map<number, HoistGroup[]>();
  for (const g of groups) hoistAt.set(g.loop, [...(hoistAt.get(g.loop) ?? []), g]);
  ctx.stats.pinSlots = Math.max(ctx.stats.pinSlots, groups.length);

  const scratch = new Scratch(locals);
  const code = new Writer(body.length * 2 + 64);
  let copied = codeStart; // bytes before `copied` are already in `code`
  const flush = (upTo: number): void => {
    if (upTo > copied) code.bytes(body.subarray(copied, upTo));
    copied = upTo;
  };

  for (let i = 0; i < instrs.length; i++) {
    const ins = instrs[i]!;
    switch (ins.kind) {
      case Kind.Call:
        if (ins.imm < 0) break; // call_indirect
        flush(ins.start);
        code.u8(ins.op).u32(ctx.funcIndex(ins.imm));
        copied = ins.end;
        break;
      case Kind.Size:
        flush(ins.start);
        code.u8(Op.MemorySize).u8(0).u8(Op.I32Const).s32(RESERVED_WASM_PAGES).u8(Op.I32Sub);
        copied = ins.end;
        break;
      case Kind.Grow:
        flush(ins.start);
        code.u8(Op.Call).u32(ctx.mmu.grow);
        copied = ins.end;
        break;
      case Kind.Bulk:
        flush(ins.start);
        if (ins.op === 8 || ins.op === 9) code.u8(Op.I32Const).s32(ins.imm);
        code.u8(Op.Call).u32(ins.op === 8 ? ctx.mmu.init : ins.op === 9 ? ctx.mmu.drop : ins.op === 10 ? ctx.mmu.copy : ctx.mmu.fill);
        if (ins.op !== 9) ctx.stats.bulk++;
        copied = ins.end;
        break;
      case Kind.Loop: {
        const hoisted = hoistAt.get(i);
        if (!hoisted) break;
        flush(ins.start);
        for (const g of hoisted) emitHoistedCheck(g);
        break;
      }
      case Kind.Access:
        flush(ins.start);
        emitAccess(ins, body.subarray(ins.start, ins.opEnd));
        copied = ins.end;
        break;
      default:
        break;
    }
  }
  flush(body.length);

  const out = new Writer(code.length + 32);
  const extra = scratch.declarations();
  out.u32(decls.length + extra.length);
  for (const [n, t] of decls) out.u32(n).u8(t);
  for (const t of extra) out.u32(1).u8(t);
  out.bytes(code.finish());
  return out.finish();

  /** Before a loop: check the pair of pages of base + minOffset once, then pin it. */
  function emitHoistedCheck(g: HoistGroup): void {
    const addr = scratch.get(ValType.I32, "addr");
    const page = scratch.get(ValType.I32, "page");
    code.bytes(body.subarray(g.base.start, g.base.end));
    code.u8(Op.LocalTee).u32(addr);
    if (g.minOffset !== 0) code.u8(Op.I32Const).s32(g.minOffset | 0).u8(Op.I32Add);
    code.u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU).u8(Op.LocalTee).u32(page);
    code.u8(Op.I32Load8U).u32(0).u32(0);
    code.u8(Op.I32Const).s32(g.write ? TAG_PAIR_DIRTY : TAG_PAIR_RESIDENT).u8(Op.I32And);
    code.u8(Op.I32Eqz).u8(Op.If).u8(Op.BlockTypeEmpty);
    code.u8(Op.LocalGet).u32(addr).u8(Op.I32Const).s32(g.minOffset | 0);
    code.u8(Op.I32Const).s32((g.maxEnd - g.minOffset) | FAULT_PAIR | (g.write ? FAULT_WRITE : 0));
    code.u8(Op.Call).u32(ctx.mmu.fault).u8(Op.End);
    // slot = page + 1
    code.u8(Op.I32Const).s32(PIN_SLOTS + 4 * g.slot).u8(Op.LocalGet).u32(page).u8(Op.I32Const).s32(1).u8(Op.I32Add);
    code.u8(0x36 /* i32.store */).u32(2).u32(0);
    ctx.stats.hoisted++;
  }

  /**
   * Emits the checked form of a memory instruction. Stack before: [addr] or [addr, operand];
   * after: as the original. An access served by a hoisted check keeps only the shifted offset.
   */
  function emitAccess(ins: Instr, opBytes: Uint8Array): void {
    const access = ins.access!;
    const { offset } = ins;
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
    if (ins.link < 0) {
      const addr = scratch.get(ValType.I32, "addr");
      const value = access.operand !== null ? scratch.get(access.operand, "value") : -1;
      if (value >= 0) code.u8(Op.LocalSet).u32(value);
      code.u8(Op.LocalTee).u32(addr);
      if (offset !== 0) code.u8(Op.I32Const).s32(offset | 0).u8(Op.I32Add);
      code.u8(Op.I32Const).s32(PAGE_SHIFT).u8(Op.I32ShrU);
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
    }
    code.bytes(opBytes).u32(ins.align).u32(realOffset);
    if (ins.lane >= 0) code.u8(ins.lane);
  }
}
