// What the rewrite reads from its input before writing anything: the types, the imports, the one
// memory, the defined functions and the data segments. Sections it only copies or renumbers are
// read again as they are emitted (section-emitters.ts).
import { Reader, Writer } from "./binary";
import { copyConstExpr } from "./const-expr";
import { MAX_WASM_PAGES, RESERVED_WASM_PAGES } from "./layout";
import { SectionId } from "./module-sections";
import type { Section } from "./module-sections";
import { ExternKind, FUNC_TYPE, MEMORY_0, ValType } from "./opcodes";
import { RewriteError, unsupported } from "./rewrite-error";
import type { MemoryInfo } from "./rewrite-result";

export interface Limits {
  min: number;
  max: number | null;
}

/** Flags of a limits pair (spec 5.3.7, with the threads and memory64 extensions). */
const enum LimitsFlag {
  MinOnly = 0x00,
  HasMax = 0x01,
  Shared = 0x02,
  Is64 = 0x04,
}

/** The first field of a data segment (spec 5.5.14). */
export const enum DataMode {
  Active = 0,
  Passive = 1,
  ActiveWithMemory = 2,
}

export interface ImportEntry {
  kind: ExternKind;
  /** The whole entry as encoded, for imports that are copied as they are. */
  raw: Uint8Array;
}

export interface DataSegment {
  active: boolean;
  /** An active segment's offset expression, with its `end`. */
  offsetExpr: Uint8Array | null;
  bytes: Uint8Array;
}

export interface GuestMemory {
  info: MemoryInfo;
  /** The limits of the real memory, the MMU's: the tag table is added below the guest's. */
  real: Limits;
}

export interface InputModule {
  /** The known sections by id (custom sections aside). */
  sections: Map<SectionId, Section>;
  /** The parameter count of each type. */
  typeParams: number[];
  imports: ImportEntry[];
  funcImports: number;
  globalImports: number;
  memory: GuestMemory;
  /** The type of each defined function. */
  funcTypes: number[];
  dataSegments: DataSegment[];
  definedGlobals: number;
  start: number | null;
}

/**
 * Reads the input module, or returns null when it has no memory (there is nothing to protect,
 * and the module passes through unchanged). Sections are read in this order, so that of two
 * problems the same one is always reported.
 */
export function readInputModule(list: Section[]): InputModule | null {
  const sections = new Map<SectionId, Section>();
  for (const s of list) if (s.id !== SectionId.Custom) sections.set(s.id, s);
  const typeParams = readTypeParams(sections.get(SectionId.Type));
  const imports = readImports(sections.get(SectionId.Import));
  const memory = readMemory(imports.memory, sections.get(SectionId.Memory));
  if (!memory) return null;
  return {
    sections,
    typeParams,
    imports: imports.entries,
    funcImports: imports.functions,
    globalImports: imports.globals,
    memory,
    funcTypes: readFuncTypes(sections.get(SectionId.Function)),
    dataSegments: readDataSegments(sections.get(SectionId.Data)),
    definedGlobals: sections.has(SectionId.Global) ? new Reader(sections.get(SectionId.Global)!.payload).u32() : 0,
    start: sections.has(SectionId.Start) ? new Reader(sections.get(SectionId.Start)!.payload).u32() : null,
  };
}

export function readValType(r: Reader): number {
  const t = r.u8();
  if (t === ValType.RefNullHeap || t === ValType.RefHeap) throw unsupported("typed function references", "a reference type with a heap type");
  return t;
}

function readLimits(r: Reader, what: string): Limits {
  const flags = r.u8();
  if (flags & LimitsFlag.Shared) throw unsupported("threads and atomics", `a shared ${what}`);
  if (flags & LimitsFlag.Is64) throw unsupported(what === "memory" ? "memory64" : "table64", `a 64-bit ${what}`);
  if (flags > LimitsFlag.HasMax) throw new RewriteError(`malformed module: bad limits flags 0x${flags.toString(16)}`);
  const min = r.u32();
  return { min, max: flags & LimitsFlag.HasMax ? r.u32() : null };
}

export function writeLimits(w: Writer, l: Limits): void {
  if (l.max === null) w.u8(LimitsFlag.MinOnly).u32(l.min);
  else w.u8(LimitsFlag.HasMax).u32(l.min).u32(l.max);
}

/** The parameter counts give the index of the first scratch local of each function. */
function readTypeParams(section: Section | undefined): number[] {
  const typeParams: number[] = [];
  if (!section) return typeParams;
  const r = new Reader(section.payload);
  for (let n = r.u32(), i = 0; i < n; i++) {
    if (r.u8() !== FUNC_TYPE) throw unsupported("garbage collection (GC)", "a non-function type");
    const params = r.u32();
    for (let j = 0; j < params; j++) readValType(r);
    for (let res = r.u32(), j = 0; j < res; j++) readValType(r);
    typeParams.push(params);
  }
  return typeParams;
}

interface Imports {
  entries: ImportEntry[];
  functions: number;
  globals: number;
  memory: { limits: Limits; from: { module: string; name: string } } | null;
}

function readImports(section: Section | undefined): Imports {
  const imports: Imports = { entries: [], functions: 0, globals: 0, memory: null };
  if (!section) return imports;
  const r = new Reader(section.payload);
  for (let n = r.u32(), i = 0; i < n; i++) {
    const start = r.pos;
    const module = r.name();
    const name = r.name();
    const kind = r.u8();
    switch (kind) {
      case ExternKind.Func: r.u32(); imports.functions++; break;
      case ExternKind.Table: readValType(r); readLimits(r, "table"); break;
      case ExternKind.Memory: {
        const limits = readLimits(r, "memory");
        if (imports.memory) throw unsupported("multiple memories", "two imported memories");
        imports.memory = { limits, from: { module, name } };
        break;
      }
      case ExternKind.Global: readValType(r); r.u8(); imports.globals++; break;
      case ExternKind.Tag: throw unsupported("exception handling", "an imported tag");
      default: throw new RewriteError(`malformed module: import kind ${kind}`);
    }
    imports.entries.push({ kind, raw: section.payload.subarray(start, r.pos) });
  }
  return imports;
}

/** The module's one memory, imported or defined, or null when it has none. */
function readMemory(imported: Imports["memory"], section: Section | undefined): GuestMemory | null {
  let limits = imported?.limits ?? null;
  let from = imported?.from ?? null;
  if (section) {
    const r = new Reader(section.payload);
    const n = r.u32();
    if (n + (imported ? 1 : 0) > 1) throw unsupported("multiple memories", "more than one memory");
    if (n === 1) {
      limits = readLimits(r, "memory");
      from = null;
    }
  }
  if (!limits) return null;
  return { info: { initial: limits.min, maximum: limits.max, imported: from }, real: realLimits(limits) };
}

/** Guest limits -> limits of the real memory: the tag table is added below the guest. */
function realLimits(l: Limits): Limits {
  const min = l.min + RESERVED_WASM_PAGES;
  if (min > MAX_WASM_PAGES) {
    throw new RewriteError(
      `memory of ${l.min} pages is too large to rewrite: at most ${MAX_WASM_PAGES - RESERVED_WASM_PAGES} pages fit beside the MMU's tag table`,
    );
  }
  return { min, max: l.max === null ? null : Math.min(l.max + RESERVED_WASM_PAGES, MAX_WASM_PAGES) };
}

function readFuncTypes(section: Section | undefined): number[] {
  const funcTypes: number[] = [];
  if (!section) return funcTypes;
  const r = new Reader(section.payload);
  for (let n = r.u32(), i = 0; i < n; i++) funcTypes.push(r.u32());
  return funcTypes;
}

function readDataSegments(section: Section | undefined): DataSegment[] {
  const segments: DataSegment[] = [];
  if (!section) return segments;
  const r = new Reader(section.payload);
  for (let n = r.u32(), i = 0; i < n; i++) {
    const mode = r.u32();
    if (mode === DataMode.Passive) {
      segments.push({ active: false, offsetExpr: null, bytes: r.bytes(r.u32()) });
      continue;
    }
    if (mode === DataMode.ActiveWithMemory && r.u32() !== MEMORY_0) throw unsupported("multiple memories", "a data segment for memory 1");
    if (mode !== DataMode.Active && mode !== DataMode.ActiveWithMemory) throw new RewriteError(`malformed module: data segment flags ${mode}`);
    const offsetExpr = copyConstExpr(r, new Writer(16), (f) => f);
    segments.push({ active: true, offsetExpr, bytes: r.bytes(r.u32()) });
  }
  return segments;
}
