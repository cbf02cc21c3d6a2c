// The payloads of the sections the rewrite changes or adds, one emitter per section. A section
// without an emitter is copied as it is.
import { Reader, Writer } from "./binary";
import { rewriteBody } from "./code-rewriter";
import { copyConstExpr } from "./const-expr";
import { DataMode, readValType, writeLimits } from "./input-module";
import type { InputModule } from "./input-module";
import { MMU_MODULE } from "./layout";
import { SectionId } from "./module-sections";
import { ExternKind, FUNC_TYPE, Op, ValType } from "./opcodes";
import type { RewriteStats, SegmentInfo } from "./rewrite-result";
import { RewriteError } from "./rewrite-error";
import { ADDED_TYPES, FUEL_EXPORT, MMU_IMPORTS } from "./rewrite-plan";
import type { RewritePlan } from "./rewrite-plan";
import { buildStartFunction } from "./start-function";

export interface EmitContext {
  module: InputModule;
  plan: RewritePlan;
  /** Summed over the function bodies as the code section is emitted. */
  stats: RewriteStats;
  /** Filled as the data section is emitted, with offsets inside its payload. */
  segments: SegmentInfo[];
}

/** A section's new payload, or null to leave the section out. */
type Emitter = (ctx: EmitContext) => Writer | null;

const MUTABLE = 1;

export const SECTION_EMITTERS: Partial<Record<SectionId, Emitter>> = {
  [SectionId.Type]: emitTypes,
  [SectionId.Import]: emitImports,
  [SectionId.Function]: emitFunctions,
  [SectionId.Memory]: () => null, // the memory is imported from the MMU now
  [SectionId.Global]: emitGlobals,
  [SectionId.Export]: emitExports,
  [SectionId.Start]: emitStart,
  [SectionId.Element]: emitElements,
  [SectionId.Code]: emitCode,
  [SectionId.Data]: emitData,
};

/** The module's types, then those of the MMU's functions and of our start function. */
function emitTypes({ module }: EmitContext): Writer {
  const section = module.sections.get(SectionId.Type);
  const w = new Writer(section ? section.payload.length + 32 : 32);
  w.u32(module.typeParams.length + ADDED_TYPES.length);
  if (section) {
    const r = new Reader(section.payload);
    r.u32();
    w.bytes(section.payload.subarray(r.pos));
  }
  for (const { params, results } of ADDED_TYPES) {
    w.u8(FUNC_TYPE).u32(params.length);
    for (const t of params) w.u8(t);
    w.u32(results.length);
    for (const t of results) w.u8(t);
  }
  return w;
}

/** The module's imports with its memory replaced by the MMU's, then the MMU's functions. */
function emitImports({ module, plan }: EmitContext): Writer {
  const { memory } = module;
  const w = new Writer(512);
  w.u32(module.imports.length + MMU_IMPORTS.length + (memory.info.imported ? 0 : 1));
  const importMemory = (): void => {
    w.name(MMU_MODULE).name("memory").u8(ExternKind.Memory);
    writeLimits(w, memory.real);
  };
  for (const e of module.imports) {
    if (e.kind === ExternKind.Memory) importMemory();
    else w.bytes(e.raw);
  }
  for (const { name, type } of MMU_IMPORTS) w.name(MMU_MODULE).name(name).u8(ExternKind.Func).u32(plan.types[type]);
  if (!memory.info.imported) importMemory();
  return w;
}

function emitFunctions({ module, plan }: EmitContext): Writer | null {
  const { funcTypes } = module;
  const ownStart = plan.ownStart !== null;
  if (funcTypes.length === 0 && !ownStart) return null;
  const w = new Writer(funcTypes.length * 2 + 8);
  w.u32(funcTypes.length + (ownStart ? 1 : 0));
  for (const t of funcTypes) w.u32(t);
  if (ownStart) w.u32(plan.types.void);
  return w;
}

/** The module's globals, renumbered, then the fuel counter when metered. */
function emitGlobals({ module, plan }: EmitContext): Writer | null {
  const section = module.sections.get(SectionId.Global);
  const metered = plan.fuelGlobal >= 0;
  if (!section && !metered) return null;
  const w = new Writer((section?.payload.length ?? 0) + 16);
  w.u32(module.definedGlobals + (metered ? 1 : 0));
  if (section) {
    const r = new Reader(section.payload);
    r.u32();
    for (let i = 0; i < module.definedGlobals; i++) {
      w.u8(readValType(r)).u8(r.u8());
      copyConstExpr(r, w, plan.funcIndex);
    }
  }
  // (mut i64), set by the start function
  if (metered) w.u8(ValType.I64).u8(MUTABLE).u8(Op.I64Const).s32(0).u8(Op.End);
  return w;
}

/** The module's exports, renumbered, then the fuel counter when metered. */
function emitExports({ module, plan }: EmitContext): Writer | null {
  const section = module.sections.get(SectionId.Export);
  const metered = plan.fuelGlobal >= 0;
  if (!section && !metered) return null;
  const r = section ? new Reader(section.payload) : null;
  const w = new Writer((section?.payload.length ?? 0) + 32);
  const n = r ? r.u32() : 0;
  w.u32(n + (metered ? 1 : 0));
  for (let i = 0; i < n; i++) {
    const name = r!.name();
    if (metered && name === FUEL_EXPORT) throw new RewriteError(`cannot meter a module that exports '${FUEL_EXPORT}' itself`);
    w.name(name);
    const kind = r!.u8();
    const index = r!.u32();
    w.u8(kind).u32(kind === ExternKind.Func ? plan.funcIndex(index) : index);
  }
  if (metered) w.name(FUEL_EXPORT).u8(ExternKind.Global).u32(plan.fuelGlobal);
  return w;
}

/** Our start function, which calls the original one, or else the original one renumbered. */
function emitStart({ module, plan }: EmitContext): Writer | null {
  const f = plan.ownStart ?? (module.start === null ? null : plan.funcIndex(module.start));
  return f === null ? null : new Writer(5).u32(f);
}

/** Element segments (spec 5.5.12, flags 0-7): renumber function indices. */
function emitElements({ module, plan }: EmitContext): Writer | null {
  const section = module.sections.get(SectionId.Element);
  if (!section) return null;
  const { funcIndex } = plan;
  const r = new Reader(section.payload);
  const w = new Writer(section.payload.length + 32);
  const n = r.u32();
  w.u32(n);
  for (let i = 0; i < n; i++) {
    const flags = r.u32();
    w.u32(flags);
    if (flags > 7) throw new RewriteError(`malformed module: element segment flags ${flags}`);
    const active = (flags & 1) === 0;
    const explicitTable = (flags & 2) !== 0;
    const exprs = (flags & 4) !== 0;
    if (active && explicitTable) w.u32(r.u32());
    if (active) copyConstExpr(r, w, funcIndex);
    if (!active || explicitTable) w.u8(r.u8()); // elemkind (0x00) or reftype
    const count = r.u32();
    w.u32(count);
    for (let j = 0; j < count; j++) {
      if (exprs) copyConstExpr(r, w, funcIndex);
      else w.u32(funcIndex(r.u32()));
    }
  }
  return w;
}

/** Every function body rewritten (code-rewriter.ts), then the body of our start function. */
function emitCode(ctx: EmitContext): Writer | null {
  const { module, plan } = ctx;
  const section = module.sections.get(SectionId.Code);
  const ownStart = plan.ownStart !== null;
  if (!section && !ownStart) return null;
  const w = new Writer((section?.payload.length ?? 0) * 2 + 64);
  w.u32(module.funcTypes.length + (ownStart ? 1 : 0));
  if (section) rewriteBodies(section.payload, w, ctx);
  if (ownStart) w.sized(buildStartFunction(module, plan));
  return w;
}

function rewriteBodies(payload: Uint8Array, w: Writer, { module, plan, stats }: EmitContext): void {
  const r = new Reader(payload);
  for (let n = r.u32(), i = 0; i < n; i++) {
    const size = r.u32();
    const body = rewriteBody(r.bytes(size), {
      funcIndex: plan.funcIndex, mmu: plan.mmu, paramCount: module.typeParams[module.funcTypes[i]!]!, stats, fuelGlobal: plan.fuelGlobal,
    });
    w.u32(body.length).bytes(body);
  }
}

/** Every segment passive: the start function writes the active ones through the MMU. */
function emitData({ module, segments }: EmitContext): Writer | null {
  const section = module.sections.get(SectionId.Data);
  if (!section) return null;
  const w = new Writer(section.payload.length + 16);
  w.u32(module.dataSegments.length);
  for (const seg of module.dataSegments) {
    w.u32(DataMode.Passive).u32(seg.bytes.length);
    segments.push({ start: w.length, length: seg.bytes.length, active: seg.active });
    w.bytes(seg.bytes);
  }
  return w;
}
