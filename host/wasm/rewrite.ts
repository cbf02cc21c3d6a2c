// The software-MMU rewrite of a guest module (issue 2, DESIGN.md section 4).
//
// Input: any valid WebAssembly 2.0 module. Output: a module that behaves the same, except that
// - its memory is imported from the MMU (`__mmu.memory`), `RESERVED_WASM_PAGES` larger, with the
//   tag table at the bottom and guest address A at A + BASE;
// - every load and store checks the tag of its page inline and calls `__mmu.fault` when the page
//   is not resident (load) or not writable (store);
// - memory.grow, memory.copy, memory.fill, memory.init and data.drop call the MMU, which pages
//   them through the residency set with the exact bounds checks and trap order of the original;
// - active data segments become passive and are written through the MMU by a start function
//   that then calls the original start function, so that no page content bypasses residency.
import { Reader, Writer } from "./binary";
import { rewriteBody } from "./code-rewriter";
import type { MmuFunctions } from "./code-rewriter";
import { MAX_WASM_PAGES, MMU_MODULE, RESERVED_WASM_PAGES } from "./layout";
import { HEADER, SECTION_ORDER, SectionId, splitSections } from "./module-sections";
import type { Section } from "./module-sections";
import { Op, ValType } from "./opcodes";
import { RewriteError, unsupported } from "./rewrite-error";

export { RewriteError } from "./rewrite-error";

/**
 * Bumped whenever the output for a given input changes. It keys the rewrite cache together with
 * the rewriter's source text (rewrite-cache.ts), so a forgotten bump cannot serve a stale rewrite.
 */
export const REWRITER_VERSION = "4";

export interface MemoryInfo {
  /** Guest-visible limits, in Wasm pages. */
  initial: number;
  maximum: number | null;
  /** Where the original module imported its memory from, if it did. */
  imported: { module: string; name: string } | null;
}

export interface SegmentInfo {
  /** Byte range of the segment's contents inside the rewritten binary. */
  start: number;
  length: number;
  /** Was active in the original (and is therefore dropped once instantiation is done). */
  active: boolean;
}

export interface RewriteStats {
  inputBytes: number;
  outputBytes: number;
  /** Loads and stores given a check. */
  accesses: number;
  /** memory.copy/fill/init sent to the host. */
  bulk: number;
  /** Checks hoisted out of loops (each serves one or more accesses). */
  hoisted: number;
  /** Accesses in counted loops whose check a range check before the loop can make unnecessary. */
  ranged: number;
  /** Most pin slots one function uses: the MMU keeps 2 pages per slot out of eviction. */
  pinSlots: number;
  functions: number;
  milliseconds: number;
}

export interface RewriteOptions {
  /**
   * Meter the guest (DESIGN.md section 8): an exported i64 global (FUEL_EXPORT) is decremented at
   * every function entry and loop header; when it reaches zero the guest calls `__mmu.outOfFuel`,
   * which stops it. The start function sets it from `__mmu.fuelInit()` before anything runs.
   */
  fuel?: boolean;
}

/** The export through which a host reads a metered guest's remaining fuel. */
export const FUEL_EXPORT = "__enclave_fuel";

export interface RewriteResult {
  binary: Uint8Array;
  /** null: the module has no memory and passes through unchanged. */
  memory: MemoryInfo | null;
  segments: SegmentInfo[];
  stats: RewriteStats;
}

interface Limits {
  min: number;
  max: number | null;
}

function readLimits(r: Reader, what: string): Limits {
  const flags = r.u8();
  if (flags & 0x02) throw unsupported("threads and atomics", `a shared ${what}`);
  if (flags & 0x04) throw unsupported(what === "memory" ? "memory64" : "table64", `a 64-bit ${what}`);
  if (flags > 1) throw new RewriteError(`malformed module: bad limits flags 0x${flags.toString(16)}`);
  const min = r.u32();
  return { min, max: flags & 1 ? r.u32() : null };
}

function writeLimits(w: Writer, l: Limits): void {
  if (l.max === null) w.u8(0).u32(l.min);
  else w.u8(1).u32(l.min).u32(l.max);
}

/** Guest limits -> limits of the real memory: the tag table is added below the guest. */
function shiftedLimits(l: Limits): Limits {
  const min = l.min + RESERVED_WASM_PAGES;
  if (min > MAX_WASM_PAGES) {
    throw new RewriteError(
      `memory of ${l.min} pages is too large to rewrite: at most ${MAX_WASM_PAGES - RESERVED_WASM_PAGES} pages fit beside the MMU's tag table`,
    );
  }
  return { min, max: l.max === null ? null : Math.min(l.max + RESERVED_WASM_PAGES, MAX_WASM_PAGES) };
}

function readValType(r: Reader): number {
  const t = r.u8();
  if (t === 0x63 || t === 0x64) throw unsupported("typed function references", "a reference type with a heap type");
  return t;
}

/** Copies a constant expression up to and including `end`, renumbering ref.func. */
function copyConstExpr(r: Reader, w: Writer, funcIndex: (f: number) => number): Uint8Array {
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
        if (sub !== 12) throw new RewriteError("malformed module: non-constant SIMD instruction in a constant expression");
        w.u32(sub).bytes(r.bytes(16));
        break;
      }
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break; // extended-const arithmetic
      default:
        throw new RewriteError(`malformed module: opcode 0x${op.toString(16)} in a constant expression`);
    }
  }
}

export function rewriteModule(input: Uint8Array, options: RewriteOptions = {}): RewriteResult {
  // Our own decoder runs first, so that a feature we refuse is named even where V8 would reject
  // the module too; V8 then validates the input (a malformed module gets V8's reason), and the
  // output, so that a rewriter bug can never reach instantiation silently.
  const t0 = performance.now();
  let result: RewriteResult | null = null;
  let decodeFailure: unknown = null;
  try {
    result = rewriteUnchecked(input, options);
  } catch (e) {
    if (e instanceof RewriteError && e.feature) throw e;
    decodeFailure = e;
  }
  const invalid = v8Rejects(input);
  if (invalid !== null) throw new RewriteError(`malformed or invalid WebAssembly module: ${invalid}`);
  if (!result) {
    const why = decodeFailure instanceof Error ? decodeFailure.message : String(decodeFailure);
    throw new RewriteError(`cannot rewrite this module: ${why}`);
  }
  if (result.memory) {
    const broken = v8Rejects(result.binary);
    if (broken !== null) throw new Error(`internal error: the rewritten module does not validate (${broken}); please report this input`);
  }
  result.stats.milliseconds = performance.now() - t0;
  return result;
}

/** V8's reason for refusing a module, or null when it validates. */
function v8Rejects(bytes: Uint8Array): string | null {
  if (WebAssembly.validate(bytes as BufferSource)) return null;
  try {
    new WebAssembly.Module(bytes as BufferSource);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return "invalid module";
}

function rewriteUnchecked(input: Uint8Array, options: RewriteOptions): RewriteResult {
  const sections = splitSections(input);
  const byId = new Map<SectionId, Section>();
  for (const s of sections) if (s.id !== SectionId.Custom) byId.set(s.id, s);

  // --- types: parameter counts, for the index of the scratch locals
  const typeParams: number[] = [];
  const typeSection = byId.get(SectionId.Type);
  if (typeSection) {
    const r = new Reader(typeSection.payload);
    for (let n = r.u32(), i = 0; i < n; i++) {
      const form = r.u8();
      if (form !== 0x60) throw unsupported("garbage collection (GC)", "a non-function type");
      const params = r.u32();
      for (let j = 0; j < params; j++) readValType(r);
      for (let res = r.u32(), j = 0; j < res; j++) readValType(r);
      typeParams.push(params);
    }
  }

  // --- imports: count functions, find an imported memory
  let funcImports = 0;
  let globalImports = 0;
  let memory: MemoryInfo | null = null;
  let memoryLimits: Limits | null = null;
  const importSection = byId.get(SectionId.Import);
  const importEntries: Array<{ module: string; name: string; kind: number; raw: Uint8Array; limits?: Limits }> = [];
  if (importSection) {
    const r = new Reader(importSection.payload);
    for (let n = r.u32(), i = 0; i < n; i++) {
      const start = r.pos;
      const module = r.name();
      const name = r.name();
      const kind = r.u8();
      let limits: Limits | undefined;
      switch (kind) {
        case 0: r.u32(); funcImports++; break;
        case 1: readValType(r); readLimits(r, "table"); break;
        case 2:
          limits = readLimits(r, "memory");
          if (memory) throw unsupported("multiple memories", "two imported memories");
          memory = { initial: limits.min, maximum: limits.max, imported: { module, name } };
          memoryLimits = limits;
          break;
        case 3: readValType(r); r.u8(); globalImports++; break;
        case 4: throw unsupported("exception handling", "an imported tag");
        default: throw new RewriteError(`malformed module: import kind ${kind}`);
      }
      importEntries.push({ module, name, kind, raw: importSection.payload.subarray(start, r.pos), limits });
    }
  }
  const memorySection = byId.get(SectionId.Memory);
  if (memorySection) {
    const r = new Reader(memorySection.payload);
    const n = r.u32();
    if (n + (memory ? 1 : 0) > 1) throw unsupported("multiple memories", "more than one memory");
    if (n === 1) {
      const limits = readLimits(r, "memory");
      memory = { initial: limits.min, maximum: limits.max, imported: null };
      memoryLimits = limits;
    }
  }
  if (!memory || !memoryLimits) {
    // Nothing to protect: the module passes through unchanged.
    return {
      binary: input,
      memory: null,
      segments: [],
      stats: { inputBytes: input.length, outputBytes: input.length, accesses: 0, bulk: 0, hoisted: 0, ranged: 0, pinSlots: 0, functions: 0, milliseconds: 0 },
    };
  }
  const realLimits = shiftedLimits(memoryLimits);

  // --- function types of defined functions
  const funcTypes: number[] = [];
  const functionSection = byId.get(SectionId.Function);
  if (functionSection) {
    const r = new Reader(functionSection.payload);
    for (let n = r.u32(), i = 0; i < n; i++) funcTypes.push(r.u32());
  }

  // --- data segments: all active ones become passive, written by a synthesized start function
  interface DataSeg { active: boolean; offsetExpr: Uint8Array | null; bytes: Uint8Array }
  const dataSegs: DataSeg[] = [];
  const dataSection = byId.get(SectionId.Data);
  if (dataSection) {
    const r = new Reader(dataSection.payload);
    for (let n = r.u32(), i = 0; i < n; i++) {
      const flags = r.u32();
      if (flags === 1) {
        dataSegs.push({ active: false, offsetExpr: null, bytes: r.bytes(r.u32()) });
        continue;
      }
      if (flags === 2 && r.u32() !== 0) throw unsupported("multiple memories", "a data segment for memory 1");
      if (flags !== 0 && flags !== 2) throw new RewriteError(`malformed module: data segment flags ${flags}`);
      const expr = copyConstExpr(r, new Writer(16), (f) => f);
      dataSegs.push({ active: true, offsetExpr: expr, bytes: r.bytes(r.u32()) });
    }
  }

  // --- the new index spaces
  const added = ["fault", "grow", "fill", "copy", "init", "drop", "range", "outOfFuel", "fuelInit"] as const;
  const funcIndex = (f: number): number => (f < funcImports ? f : f + added.length);
  const mmu: MmuFunctions = {
    fault: funcImports, grow: funcImports + 1, fill: funcImports + 2,
    copy: funcImports + 3, init: funcImports + 4, drop: funcImports + 5, range: funcImports + 6,
    outOfFuel: funcImports + 7, fuelInit: funcImports + 8,
  };
  const baseType = typeParams.length;
  const T = { i32x3: baseType, grow: baseType + 1, i32x4: baseType + 2, i32x1: baseType + 3, void: baseType + 4, range: baseType + 5, i64: baseType + 6 };
  const importTypes: Record<(typeof added)[number], number> = {
    fault: T.i32x3, grow: T.grow, fill: T.i32x3, copy: T.i32x3, init: T.i32x4, drop: T.i32x1, range: T.range,
    outOfFuel: T.void, fuelInit: T.i64,
  };
  const fuel = options.fuel === true;
  // Globals: the fuel counter is appended after the module's own, so no global index moves.
  let definedGlobals = 0;
  const globalSection = byId.get(SectionId.Global);
  if (globalSection) definedGlobals = new Reader(globalSection.payload).u32();
  const fuelGlobal = fuel ? globalImports + definedGlobals : -1;
  const hasActive = dataSegs.some((s) => s.active);
  // A start function of ours writes the data segments through the MMU and sets the fuel.
  const ownStart = hasActive || fuel;
  const initFunc = ownStart ? funcImports + added.length + funcTypes.length : -1;
  let originalStart: number | null = null;
  const startSection = byId.get(SectionId.Start);
  if (startSection) originalStart = new Reader(startSection.payload).u32();

  const stats: RewriteStats = { inputBytes: input.length, outputBytes: 0, accesses: 0, bulk: 0, hoisted: 0, ranged: 0, pinSlots: 0, functions: funcTypes.length, milliseconds: 0 };
  const segments: SegmentInfo[] = [];

  const emit: Partial<Record<SectionId, () => Writer | null>> = {
    [SectionId.Type]: () => {
      const w = new Writer(typeSection ? typeSection.payload.length + 32 : 32);
      w.u32(typeParams.length + 7);
      if (typeSection) {
        const r = new Reader(typeSection.payload);
        r.u32();
        w.bytes(typeSection.payload.subarray(r.pos));
      }
      const fn = (params: number, results: number): void => {
        w.u8(0x60).u32(params);
        for (let i = 0; i < params; i++) w.u8(ValType.I32);
        w.u32(results);
        for (let i = 0; i < results; i++) w.u8(ValType.I32);
      };
      fn(3, 0); fn(1, 1); fn(4, 0); fn(1, 0); fn(0, 0);
      w.u8(0x60).u32(3).u8(ValType.F64).u8(ValType.F64).u8(ValType.I32).u32(1).u8(ValType.I32); // range
      w.u8(0x60).u32(0).u32(1).u8(ValType.I64); // fuelInit
      return w;
    },
    [SectionId.Import]: () => {
      const w = new Writer(512);
      w.u32(importEntries.length + added.length + (memory!.imported ? 0 : 1));
      const memoryImport = (): void => {
        w.name(MMU_MODULE).name("memory").u8(2);
        writeLimits(w, realLimits);
      };
      for (const e of importEntries) {
        if (e.kind === 2) memoryImport();
        else w.bytes(e.raw);
      }
      for (const name of added) w.name(MMU_MODULE).name(name).u8(0).u32(importTypes[name]);
      if (!memory!.imported) memoryImport();
      return w;
    },
    [SectionId.Function]: () => {
      if (funcTypes.length === 0 && !ownStart) return null;
      const w = new Writer(funcTypes.length * 2 + 8);
      w.u32(funcTypes.length + (ownStart ? 1 : 0));
      for (const t of funcTypes) w.u32(t);
      if (ownStart) w.u32(T.void);
      return w;
    },
    [SectionId.Memory]: () => null, // the memory is imported from the MMU now
    [SectionId.Global]: () => {
      const s = byId.get(SectionId.Global);
      if (!s && !fuel) return null;
      const w = new Writer((s?.payload.length ?? 0) + 16);
      w.u32(definedGlobals + (fuel ? 1 : 0));
      if (s) {
        const r = new Reader(s.payload);
        r.u32();
        for (let i = 0; i < definedGlobals; i++) {
          w.u8(readValType(r)).u8(r.u8());
          copyConstExpr(r, w, funcIndex);
        }
      }
      if (fuel) w.u8(ValType.I64).u8(1).u8(Op.I64Const).u8(0).u8(Op.End); // (mut i64) set by the start function
      return w;
    },
    [SectionId.Export]: () => {
      const s = byId.get(SectionId.Export);
      if (!s && !fuel) return null;
      const r = s ? new Reader(s.payload) : null;
      const w = new Writer((s?.payload.length ?? 0) + 32);
      const n = r ? r.u32() : 0;
      w.u32(n + (fuel ? 1 : 0));
      for (let i = 0; i < n; i++) {
        const name = r!.name();
        if (fuel && name === FUEL_EXPORT) throw new RewriteError(`cannot meter a module that exports '${FUEL_EXPORT}' itself`);
        w.name(name);
        const kind = r!.u8();
        const idx = r!.u32();
        w.u8(kind).u32(kind === 0 ? funcIndex(idx) : idx);
      }
      if (fuel) w.name(FUEL_EXPORT).u8(3).u32(fuelGlobal);
      return w;
    },
    [SectionId.Start]: () => {
      const f = ownStart ? initFunc : originalStart === null ? null : funcIndex(originalStart);
      return f === null ? null : new Writer(5).u32(f);
    },
    [SectionId.Element]: () => {
      const s = byId.get(SectionId.Element);
      if (!s) return null;
      return rewriteElements(s.payload, funcIndex);
    },
    [SectionId.Code]: () => {
      const s = byId.get(SectionId.Code);
      if (!s && !ownStart) return null;
      const w = new Writer((s?.payload.length ?? 0) * 2 + 64);
      w.u32(funcTypes.length + (ownStart ? 1 : 0));
      if (s) {
        const r = new Reader(s.payload);
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const size = r.u32();
          const body = rewriteBody(r.bytes(size), {
            funcIndex, mmu, paramCount: typeParams[funcTypes[i]!]!, stats, fuelGlobal,
          });
          w.u32(body.length).bytes(body);
        }
      }
      if (ownStart) {
        const body = new Writer(64);
        body.u32(0); // no locals
        if (fuel) body.u8(Op.Call).u32(mmu.fuelInit).u8(0x24 /* global.set */).u32(fuelGlobal);
        dataSegs.forEach((seg, i) => {
          if (!seg.active) return;
          // memory.init semantics through the MMU: dst, src=0, len, segment; then drop it.
          body.bytes(seg.offsetExpr!.subarray(0, seg.offsetExpr!.length - 1));
          body.u8(Op.I32Const).s32(0).u8(Op.I32Const).s32(seg.bytes.length);
          body.u8(Op.I32Const).s32(i).u8(Op.Call).u32(mmu.init);
          body.u8(Op.I32Const).s32(i).u8(Op.Call).u32(mmu.drop);
        });
        if (originalStart !== null) body.u8(Op.Call).u32(funcIndex(originalStart));
        body.u8(Op.End);
        w.sized(body);
      }
      return w;
    },
    [SectionId.Data]: () => {
      if (!dataSection) return null;
      const w = new Writer(dataSection.payload.length + 16);
      w.u32(dataSegs.length);
      for (const seg of dataSegs) {
        w.u32(1).u32(seg.bytes.length);
        segments.push({ start: w.length, length: seg.bytes.length, active: seg.active });
        w.bytes(seg.bytes);
      }
      return w;
    },
  };

  // Emit the sections in the required order, synthesizing missing ones, and keep each custom
  // section after the known section it followed.
  const out = new Writer(input.length * 2 + 256);
  out.bytes(HEADER);
  const customsAfter = new Map<SectionId | -1, Section[]>();
  let last: SectionId | -1 = -1;
  for (const s of sections) {
    if (s.id === SectionId.Custom) {
      const list = customsAfter.get(last) ?? [];
      list.push(s);
      customsAfter.set(last, list);
    } else last = s.id;
  }
  const writeSection = (id: SectionId, payload: Uint8Array): number => {
    out.u8(id).u32(payload.length);
    const at = out.length;
    out.bytes(payload);
    return at;
  };
  const writeCustoms = (after: SectionId | -1): void => {
    for (const c of customsAfter.get(after) ?? []) writeSection(SectionId.Custom, rewriteCustom(c.payload, funcIndex));
  };
  writeCustoms(-1);
  for (const id of SECTION_ORDER) {
    const make = emit[id];
    const existing = byId.get(id);
    const w = make ? make() : null;
    if (w) {
      const at = writeSection(id, w.finish());
      if (id === SectionId.Data) for (const seg of segments) seg.start += at;
    } else if (!make && existing) writeSection(id, existing.payload);
    writeCustoms(id);
  }
  const binary = out.finish().slice();
  stats.outputBytes = binary.length;
  return { binary, memory, segments, stats };
}

/** Element segments (spec 5.5.12, flags 0-7): renumber function indices. */
function rewriteElements(payload: Uint8Array, funcIndex: (f: number) => number): Writer {
  const r = new Reader(payload);
  const w = new Writer(payload.length + 32);
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

/** The "name" custom section keeps naming the right functions; other custom sections pass as is. */
function rewriteCustom(payload: Uint8Array, funcIndex: (f: number) => number): Uint8Array {
  const r = new Reader(payload);
  const name = r.name();
  if (name !== "name") return payload;
  try {
    const w = new Writer(payload.length + 16);
    w.name(name);
    while (!r.eof) {
      const sub = r.u8();
      const size = r.u32();
      const body = r.bytes(size);
      if (sub !== 1 && sub !== 2) {
        w.u8(sub).u32(size).bytes(body);
        continue;
      }
      const br = new Reader(body);
      const bw = new Writer(size + 16);
      const n = br.u32();
      bw.u32(n);
      for (let i = 0; i < n; i++) {
        bw.u32(funcIndex(br.u32()));
        if (sub === 1) bw.name(br.name());
        else {
          const m = br.u32();
          bw.u32(m);
          for (let j = 0; j < m; j++) bw.u32(br.u32()).name(br.name());
        }
      }
      w.u8(sub).sized(bw);
    }
    return w.finish().slice();
  } catch {
    // A malformed name section is only debug information: drop its contents, keep a valid section.
    return new Writer(8).name("name").finish().slice();
  }
}
