// Eliminating MMU checks inside loops where that is provably safe (docs/architecture.md, "The path
// of one memory access", step 1). Two techniques, both for loops that make no calls (so no other
// code runs while the loop does, and nothing but this loop's own faults can evict a page):
//
// - Hoisting: an access whose address is a loop-invariant simple value (a local the loop never
//   writes, a global, a constant) plus a static offset is checked once before the outermost such
//   loop, together with every other access of the loop on the same base within one page of
//   offsets: one pair check (this page and the next) covers them all.
// - Ranges: in a counted innermost loop (`loop { if (i < n) { ...; i += c; br } }`, the shape
//   AssemblyScript emits for `for`), an access whose address is affine in the induction variable
//   (base + k*i + offset, base invariant) touches a range known before the loop starts. The
//   range is made resident once; a flag then lets the loop skip those checks. When the range
//   cannot be had (too large for the resident set, wrapping, out of bounds), the flag stays off
//   and every access is checked as usual.
//
// Either way the pages relied on are pinned in a slot (layout.ts PIN_SLOTS) so that the faults of
// the loop's other accesses never evict them.
import { BASE, MAX_PIN_SLOTS, MAX_RANGE_ACCESSES } from "./layout";
import { PAGE_SIZE } from "../page";
import { Kind } from "./instructions";
import type { Instr } from "./instructions";
import { BlockType, FcOp, Op, isNumeric } from "./opcodes";

export interface LoopInfo {
  /** Index of the `loop` instruction and of its `end`. */
  at: number;
  end: number;
  /** Contains a call, call_indirect or memory.grow (at any depth). */
  calls: boolean;
  /** Contains another loop. */
  nested: boolean;
  /** Locals and globals written inside (at any depth), with the number of writes of each local. */
  locals: Map<number, number>;
  globals: Set<number>;
  parent: number;
}

export interface LoopAnalysis {
  loops: LoopInfo[];
  /** Innermost loop around each instruction (-1: none). */
  enclosing: number[];
}

export function analyzeLoops(code: Instr[]): LoopAnalysis {
  const loops: LoopInfo[] = [];
  const stack: number[] = []; // indices into `loops` (-1 for blocks)
  const enclosing: number[] = new Array(code.length).fill(-1);
  for (let i = 0; i < code.length; i++) {
    const ins = code[i]!;
    let current = -1;
    for (let s = stack.length - 1; s >= 0 && current === -1; s--) current = stack[s]!;
    enclosing[i] = current;
    if (ins.kind === Kind.Block) {
      stack.push(-1);
      continue;
    }
    if (ins.kind === Kind.Loop) {
      for (let l = current; l >= 0; l = loops[l]!.parent) loops[l]!.nested = true;
      loops.push({ at: i, end: -1, calls: false, nested: false, locals: new Map(), globals: new Set(), parent: current });
      stack.push(loops.length - 1);
      continue;
    }
    if (ins.kind === Kind.End) {
      const top = stack.pop();
      if (top !== undefined && top >= 0) loops[top]!.end = i;
      continue;
    }
    for (let l = current; l >= 0; l = loops[l]!.parent) {
      const info = loops[l]!;
      if ((ins.kind === Kind.Call && ins.op !== Op.RefFunc) || ins.kind === Kind.Grow) info.calls = true;
      else if (ins.kind === Kind.LocalWrite) info.locals.set(ins.imm, (info.locals.get(ins.imm) ?? 0) + 1);
      else if (ins.kind === Kind.GlobalWrite) info.globals.add(ins.imm);
    }
  }
  return { loops, enclosing };
}

/** Is the simple push `leaf` (local.get, global.get, i32.const) invariant in `loop`? */
function invariant(leaf: Instr, loop: LoopInfo): boolean {
  if (leaf.op === Op.LocalGet) return !loop.locals.has(leaf.imm);
  if (leaf.op === Op.GlobalGet) return !loop.globals.has(leaf.imm) && !loop.calls;
  return true;
}

// ---- hoisting -------------------------------------------------------------------------------

/** A hoisted check: one base value and a window of offsets, checked once before a loop. */
export interface HoistGroup {
  loop: number;
  base: Instr;
  minOffset: number;
  maxEnd: number;
  write: boolean;
  slot: number;
}

/** Accesses served by a group get `link` = its index. */
export function hoistChecks(code: Instr[], { loops, enclosing }: LoopAnalysis): HoistGroup[] {
  const outermost = (i: number, base: Instr): number => {
    let target = -1;
    for (let l = enclosing[i]!; l >= 0; l = loops[l]!.parent) {
      if (loops[l]!.calls || !invariant(base, loops[l]!)) break;
      target = l;
    }
    return target;
  };
  const groups: HoistGroup[] = [];
  const groupOf = new Map<string, number>(); // `${loop}|${base}` -> index in groups
  // A constant base is an address of its own: accesses at constant addresses group by where they
  // land, not by their constant (an optimiser folds `p + k` into one constant per field).
  const constant = (base: Instr): number | null => (base.op === Op.I32Const ? base.imm >>> 0 : null);
  const candidates: Array<{ loop: number; ins: Instr; base: Instr; at: number }> = [];
  for (let i = 0; i < code.length; i++) {
    const ins = code[i]!;
    if (ins.kind !== Kind.Access || enclosing[i] === -1 || ins.offset + BASE > 0xffffffff) continue;
    const a = ins.access!;
    // The address must be a simple push right before the access (or before its simple operand).
    const base = a.operand === null ? code[i - 1] : code[i - 2];
    if (!base || base.kind !== Kind.SimplePush) continue;
    if (a.operand !== null && code[i - 1]!.kind !== Kind.SimplePush) continue;
    const target = outermost(i, base);
    if (target >= 0) candidates.push({ loop: target, ins, base, at: (constant(base) ?? 0) + ins.offset });
  }
  // Group by loop and base; a group spans at most one page of offsets from its smallest.
  candidates.sort((x, y) => x.loop - y.loop || x.at - y.at);
  for (const { loop, ins, base, at } of candidates) {
    const key = constant(base) === null ? `${loop}|${base.op}:${base.imm}` : `${loop}|const`;
    let index = groupOf.get(key);
    // The offset from a group's base (for constants, from the group's lowest constant).
    const endIn = (g: HoistGroup) => at - (constant(g.base) ?? 0) + ins.access!.size;
    if (index !== undefined && constant(base) !== null && endIn(groups[index]!) - groups[index]!.minOffset > PAGE_SIZE) {
      index = undefined; // constants further on: a window of their own
    }
    if (index === undefined) {
      if (groups.length >= MAX_PIN_SLOTS) continue;
      index = groups.length;
      groups.push({ loop: loops[loop]!.at, base, minOffset: ins.offset, maxEnd: ins.offset + ins.access!.size, write: false, slot: index });
      groupOf.set(key, index);
    }
    const g = groups[index]!;
    const end = endIn(g);
    if (end - g.minOffset > PAGE_SIZE) continue; // outside the window: keeps its own check
    g.maxEnd = Math.max(g.maxEnd, end);
    g.write ||= ins.access!.store;
    ins.link = index;
  }
  return groups;
}

// ---- ranges ---------------------------------------------------------------------------------

/** An address expression over simple pushes and i32 add/sub/mul/shl. */
export type Expr = { leaf: Instr } | { op: number; a: Expr; b: Expr };

/** coef * i + rest, with rest invariant (null: 0). */
interface Affine {
  coef: number;
  rest: Expr | null;
}

export interface RangeAccess {
  ins: Instr;
  coef: number;
  rest: Expr | null;
  /** The access comes after the increment: it sees i in [i0 + step, n + step). */
  afterStep: boolean;
}

export interface RangeLoop {
  loop: number;
  /** The induction variable, its bound (a simple push), the comparison, and the step. */
  induction: number;
  bound: Instr;
  unsigned: boolean;
  step: number;
  accesses: RangeAccess[];
}

/** Operand counts of the numeric instructions (spec 5.4.7). */
function numericArity(op: number): number {
  if (op === Op.I32Eqz || op === Op.I64Eqz) return 1;
  if (op >= Op.I32Eq && op <= Op.F64Ge) return 2; // comparisons
  if (
    (op >= Op.I32Clz && op <= Op.I32Popcnt) ||
    (op >= Op.I64Clz && op <= Op.I64Popcnt) ||
    (op >= Op.F32Abs && op <= Op.F32Sqrt) ||
    (op >= Op.F64Abs && op <= Op.F64Sqrt)
  ) {
    return 1;
  }
  if (op >= Op.I32WrapI64) return 1; // conversions
  return 2; // binary arithmetic
}

/**
 * Finds counted innermost loops and the accesses in them whose addresses are affine in the
 * induction variable. Covered accesses get `guard` = index of their RangeLoop.
 */
export function planRanges(code: Instr[], body: Uint8Array, analysis: LoopAnalysis): RangeLoop[] {
  const result: RangeLoop[] = [];
  for (const loop of analysis.loops) {
    if (loop.calls || loop.nested || loop.end < 0) continue;
    const shape = countedShape(code, body, loop);
    if (!shape) continue;
    const exprs = addressExprs(code, loop, shape.induction);
    const accesses: RangeAccess[] = [];
    for (const [index, expr] of exprs) {
      const ins = code[index]!;
      if (ins.link >= 0 || ins.offset + BASE > 0xffffffff) continue; // hoisted, or always out of bounds
      const aff = affine(expr, shape.induction, loop);
      if (!aff || aff.coef <= 0 || aff.coef > 0x10000) continue;
      accesses.push({ ins, coef: aff.coef, rest: aff.rest, afterStep: index > shape.stepAt });
      if (accesses.length === MAX_RANGE_ACCESSES) break;
    }
    if (accesses.length === 0) continue;
    for (const a of accesses) a.ins.guard = result.length;
    result.push({ loop: loop.at, induction: shape.induction, bound: shape.bound, unsigned: shape.unsigned, step: shape.step, accesses });
  }
  return result;
}

interface CountedShape {
  induction: number;
  bound: Instr;
  unsigned: boolean;
  step: number;
  /** Index of the `local.set i` of the increment. */
  stepAt: number;
}

/**
 * `loop (if (i < n) (then ... i = i + c ... br 0))` with nothing after the if, `i` written only
 * by that increment at the top level of the if, `n` invariant, c > 0.
 */
function countedShape(code: Instr[], body: Uint8Array, loop: LoopInfo): CountedShape | null {
  const at = loop.at;
  if (body[code[at]!.start + 1] !== BlockType.Empty) return null;
  const [x, y, cmp, iff] = [code[at + 1], code[at + 2], code[at + 3], code[at + 4]];
  if (!x || !y || !cmp || !iff || x.kind !== Kind.SimplePush || y.kind !== Kind.SimplePush) return null;
  if (iff.op !== Op.If || body[iff.start + 1] !== BlockType.Empty) return null;
  let i: Instr;
  let n: Instr;
  let unsigned: boolean;
  if (cmp.op === Op.I32LtS || cmp.op === Op.I32LtU) [i, n, unsigned] = [x, y, cmp.op === Op.I32LtU]; // i < n
  else if (cmp.op === Op.I32GtS || cmp.op === Op.I32GtU) [i, n, unsigned] = [y, x, cmp.op === Op.I32GtU]; // n > i
  else return null;
  if (i.op !== Op.LocalGet || !invariant(n, loop) || (n.op === Op.LocalGet && n.imm === i.imm)) return null;
  if (loop.locals.get(i.imm) !== 1) return null;
  // The if must end right before the loop's end, without an else; find the increment at depth 1.
  let depth = 0;
  let stepAt = -1;
  for (let k = at + 5; k < loop.end; k++) {
    const ins = code[k]!;
    if (ins.kind === Kind.Block || ins.kind === Kind.Loop) depth++;
    else if (ins.kind === Kind.End) {
      if (depth === 0) {
        if (k !== loop.end - 1) return null;
        break;
      }
      depth--;
    } else if (ins.op === Op.Else && depth === 0) return null;
    else if (ins.kind === Kind.LocalWrite && ins.imm === i.imm) {
      if (depth !== 0 || ins.op !== Op.LocalSet) return null;
      const [a, b, add] = [code[k - 3], code[k - 2], code[k - 1]];
      if (!a || !b || !add || add.op !== Op.I32Add) return null;
      const isI = (p: Instr) => p.op === Op.LocalGet && p.imm === i.imm;
      const c = isI(a) && b.op === Op.I32Const ? b : isI(b) && a.op === Op.I32Const ? a : null;
      if (!c || c.imm <= 0) return null;
      stepAt = k;
      return { induction: i.imm, bound: n, unsigned, step: c.imm, stepAt };
    }
  }
  return null;
}

/**
 * Symbolic execution of the loop body's operand stack, just far enough to know the address
 * expression of each access. Anything not modelled forgets what is on the stack (conservative:
 * a forgotten value is never an address we claim to know).
 */
function addressExprs(code: Instr[], loop: LoopInfo, induction: number): Map<number, Expr> {
  const out = new Map<number, Expr>();
  type Val = Expr | null;
  const frames: Array<{ stack: Val[]; defined: number[] }> = [{ stack: [], defined: [] }];
  // local -> expression it holds, for locals written once in the loop, valid in its frame
  const holds = new Map<number, Expr>();
  const top = () => frames[frames.length - 1]!;
  const pop = (): Val => top().stack.pop() ?? null;
  const push = (v: Val) => top().stack.push(v);
  const dependsOnInduction = (e: Expr): boolean =>
    "leaf" in e ? e.leaf.op === Op.LocalGet && e.leaf.imm === induction : dependsOnInduction(e.a) || dependsOnInduction(e.b);
  for (let k = loop.at + 1; k < loop.end; k++) {
    const ins = code[k]!;
    switch (ins.kind) {
      case Kind.Block:
        if (ins.op === Op.If) pop();
        frames.push({ stack: [], defined: [] });
        continue;
      case Kind.End: {
        const f = frames.pop()!;
        for (const l of f.defined) holds.delete(l);
        if (frames.length === 0) return out;
        top().stack.length = 0; // a block's results are not modelled
        continue;
      }
      case Kind.SimplePush:
        push(ins.op === Op.LocalGet && holds.has(ins.imm) ? holds.get(ins.imm)! : { leaf: ins });
        continue;
      case Kind.LocalWrite: {
        const v = pop();
        if (ins.op === Op.LocalTee) push(v);
        holds.delete(ins.imm);
        if (ins.imm === induction) {
          for (const [l, e] of holds) if (dependsOnInduction(e)) holds.delete(l);
        } else if (v && loop.locals.get(ins.imm) === 1) {
          holds.set(ins.imm, v);
          top().defined.push(ins.imm);
        }
        continue;
      }
      case Kind.GlobalWrite:
        pop();
        continue;
      case Kind.Access: {
        const a = ins.access!;
        if (a.operand !== null) pop();
        const addr = pop();
        if (addr) out.set(k, addr);
        if (!a.store) push(null);
        continue;
      }
      case Kind.Size:
        push(null);
        continue;
      case Kind.Bulk:
        if (ins.op !== FcOp.DataDrop) {
          pop();
          pop();
          pop();
        }
        continue;
      default:
        break;
    }
    const op = ins.op;
    if (isNumeric(op)) {
      const b = numericArity(op) === 2 ? pop() : null;
      const a = pop();
      push(a && b && (op === Op.I32Add || op === Op.I32Sub || op === Op.I32Mul || op === Op.I32Shl) ? { op, a, b } : null);
    } else if (op === Op.Drop || op === Op.BrIf) {
      pop();
    } else if (op === Op.Select) {
      pop();
      pop();
      pop();
      push(null);
    } else if (op === Op.I64Const || op === Op.F32Const || op === Op.F64Const) {
      push(null);
    } else if (op !== Op.Nop) {
      top().stack.length = 0; // control transfer or an unmodelled instruction
      if (op === Op.Else) for (const l of top().defined.splice(0)) holds.delete(l);
    }
  }
  return out;
}

/**
 * Writes an address as coef * i + rest. Wasm's i32 add, sub, mul and shl are arithmetic modulo
 * 2^32, so the address is (coef * i + rest) mod 2^32 whatever wraps in between; the pre-loop
 * code checks that the range of coef * i + rest itself does not wrap.
 */
function affine(e: Expr, induction: number, loop: LoopInfo): Affine | null {
  if ("leaf" in e) {
    const leaf = e.leaf;
    if (leaf.op === Op.LocalGet && leaf.imm === induction) return { coef: 1, rest: null };
    return invariant(leaf, loop) ? { coef: 0, rest: e } : null;
  }
  if (e.op === Op.I32Add || e.op === Op.I32Sub) {
    const a = affine(e.a, induction, loop);
    const b = affine(e.b, induction, loop);
    if (!a || !b) return null;
    if (e.op === Op.I32Add) {
      return { coef: a.coef + b.coef, rest: a.rest && b.rest ? { op: Op.I32Add, a: a.rest, b: b.rest } : (a.rest ?? b.rest) };
    }
    if (b.coef !== 0) return null;
    if (!b.rest) return a;
    return a.rest ? { coef: a.coef, rest: { op: Op.I32Sub, a: a.rest, b: b.rest } } : null;
  }
  // mul or shl by a constant (on the right for shl, on either side for mul)
  const isConst = (x: Expr): x is { leaf: Instr } => "leaf" in x && x.leaf.op === Op.I32Const;
  let variable: Expr;
  let constant: { leaf: Instr };
  if (isConst(e.b)) [variable, constant] = [e.a, e.b];
  else if (e.op === Op.I32Mul && isConst(e.a)) [variable, constant] = [e.b, e.a];
  else return null;
  const k = constant.leaf.imm;
  const factor = e.op === Op.I32Shl ? 2 ** (k & 31) : k;
  if (factor <= 0 || factor > 0x10000) return null;
  const v = affine(variable, induction, loop);
  if (!v) return null;
  return { coef: v.coef * factor, rest: v.rest ? { op: e.op, a: v.rest, b: constant } : null };
}
