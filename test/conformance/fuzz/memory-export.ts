// Gives a module an export of its memory, so that the native run can hash the final guest memory
// even when the module keeps its memory private. The harness never lists this export, so the
// module's own view of its exports (call-export by index) is unchanged.

import { Reader, Writer } from "../../../host/wasm/binary";

const MEMORY_SECTION = 5;
const EXPORT_SECTION = 7;
/** Sections that must come after the export section (binary format 5.5.2: start, element, data count, code, data). */
const AFTER_EXPORT = new Set([8, 9, 10, 11, 12]);
const EXTERNAL_MEMORY = 0x02;

export const HASH_EXPORT = "__fuzz_memory";

/** The module with `HASH_EXPORT` exporting memory 0, or null when it defines no memory. */
export function withMemoryExport(bytes: Uint8Array): Uint8Array | null {
  const r = new Reader(bytes, 8);
  const sections: Array<{ id: number; payload: Uint8Array }> = [];
  while (!r.eof) {
    const id = r.u8();
    sections.push({ id, payload: r.bytes(r.u32()) });
  }
  if (!sections.some((s) => s.id === MEMORY_SECTION)) return null;
  const entry = new Writer().name(HASH_EXPORT).u8(EXTERNAL_MEMORY).u32(0).finish();
  const existing = sections.find((s) => s.id === EXPORT_SECTION);
  if (existing) {
    const er = new Reader(existing.payload);
    const count = er.u32();
    existing.payload = new Writer().u32(count + 1).bytes(existing.payload.subarray(er.pos)).bytes(entry).finish();
  } else {
    const at = sections.findIndex((s) => AFTER_EXPORT.has(s.id));
    const payload = new Writer().u32(1).bytes(entry).finish();
    sections.splice(at < 0 ? sections.length : at, 0, { id: EXPORT_SECTION, payload });
  }
  const out = new Writer(bytes.length + 64).bytes(bytes.subarray(0, 8));
  for (const s of sections) out.u8(s.id).u32(s.payload.length).bytes(s.payload);
  return out.finish();
}
