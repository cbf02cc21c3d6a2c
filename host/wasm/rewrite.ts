// The software-MMU rewrite of a guest module (docs/architecture.md, "The path of one memory
// access").
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
//
// The steps: input-module.ts reads what the rewrite needs to know, rewrite-plan.ts lays out the
// new index spaces, section-emitters.ts writes each changed section (code-rewriter.ts each body,
// start-function.ts the added start function), and this file puts the sections in order.
import { Writer } from "./binary";
import { readInputModule } from "./input-module";
import { HEADER, SECTION_ORDER, SectionId, splitSections } from "./module-sections";
import type { Section } from "./module-sections";
import { rewriteCustomSection } from "./name-section";
import { RewriteError } from "./rewrite-error";
import { planRewrite } from "./rewrite-plan";
import { SECTION_EMITTERS } from "./section-emitters";
import type { EmitContext } from "./section-emitters";
import type { RewriteOptions, RewriteResult, RewriteStats } from "./rewrite-result";
import { WasmError } from "./wasm-error";

export { RewriteError } from "./rewrite-error";
export { FUEL_EXPORT } from "./rewrite-plan";

/**
 * Bumped whenever the output for a given input changes. It keys the rewrite cache together with
 * the rewriter's source text (rewrite-cache.ts), so a forgotten bump cannot serve a stale rewrite.
 */
export const REWRITER_VERSION = "7";

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
    if (broken !== null) throw new WasmError(`internal error: the rewritten module does not validate (${broken}); please report this input`);
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

/** The rewrite itself; rewriteModule adds V8's validation of its input and output. */
function rewriteUnchecked(input: Uint8Array, options: RewriteOptions): RewriteResult {
  const sections = splitSections(input);
  const module = readInputModule(sections);
  if (!module) return passThrough(input);
  const ctx: EmitContext = {
    module,
    plan: planRewrite(module, options.fuel === true),
    stats: newStats(input.length, 0, module.funcTypes.length),
    segments: [],
  };
  const { binary, payloadAt } = writeSections(sections, ctx, input.length * 2 + 256);
  const dataAt = payloadAt.get(SectionId.Data) ?? 0;
  for (const seg of ctx.segments) seg.start += dataAt;
  ctx.stats.outputBytes = binary.length;
  return { binary, memory: module.memory.info, segments: ctx.segments, stats: ctx.stats };
}

/** A module without memory has nothing to protect: it passes through unchanged. */
function passThrough(input: Uint8Array): RewriteResult {
  return { binary: input, memory: null, segments: [], stats: newStats(input.length, input.length, 0) };
}

function newStats(inputBytes: number, outputBytes: number, functions: number): RewriteStats {
  return { inputBytes, outputBytes, accesses: 0, bulk: 0, hoisted: 0, ranged: 0, pinSlots: 0, functions, milliseconds: 0 };
}

/**
 * Writes the known sections in the required order, each rewritten, copied or synthesized, and
 * keeps each custom section after the known section it followed. Returns the binary and where
 * the payload of each section written starts in it.
 */
function writeSections(
  sections: Section[],
  ctx: EmitContext,
  capacity: number,
): { binary: Uint8Array; payloadAt: Map<SectionId, number> } {
  const out = new Writer(capacity);
  const payloadAt = new Map<SectionId, number>();
  const write = (id: SectionId, payload: Uint8Array): void => {
    out.u8(id).u32(payload.length);
    payloadAt.set(id, out.length);
    out.bytes(payload);
  };
  const customs = customSectionsByPredecessor(sections);
  const writeCustoms = (after: SectionId | -1): void => {
    for (const c of customs.get(after) ?? []) write(SectionId.Custom, rewriteCustomSection(c.payload, ctx.plan.funcIndex));
  };
  out.bytes(HEADER);
  writeCustoms(-1);
  for (const id of SECTION_ORDER) {
    const payload = sectionPayload(id, ctx);
    if (payload) write(id, payload);
    writeCustoms(id);
  }
  return { binary: out.finish().slice(), payloadAt };
}

/** A known section's payload in the output: emitted, or copied when no emitter changes it. */
function sectionPayload(id: SectionId, ctx: EmitContext): Uint8Array | null {
  const emit = SECTION_EMITTERS[id];
  if (emit) return emit(ctx)?.finish() ?? null;
  return ctx.module.sections.get(id)?.payload ?? null;
}

/** The custom sections after each known section (-1: before the first). */
function customSectionsByPredecessor(sections: Section[]): Map<SectionId | -1, Section[]> {
  const after = new Map<SectionId | -1, Section[]>();
  let last: SectionId | -1 = -1;
  for (const s of sections) {
    if (s.id !== SectionId.Custom) last = s.id;
    else after.set(last, [...(after.get(last) ?? []), s]);
  }
  return after;
}
