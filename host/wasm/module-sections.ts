// Splits a WebAssembly binary into its sections (spec section 5.5) without interpreting them.
import { Reader } from "./binary";
import { RewriteError, unsupported } from "./rewrite-error";

export const enum SectionId {
  Custom = 0,
  Type = 1,
  Import = 2,
  Function = 3,
  Table = 4,
  Memory = 5,
  Global = 6,
  Export = 7,
  Start = 8,
  Element = 9,
  Code = 10,
  Data = 11,
  DataCount = 12,
  Tag = 13,
}

/** Known sections in the order the binary format requires them. */
export const SECTION_ORDER: readonly SectionId[] = [
  SectionId.Type, SectionId.Import, SectionId.Function, SectionId.Table, SectionId.Memory,
  SectionId.Global, SectionId.Export, SectionId.Start, SectionId.Element, SectionId.DataCount,
  SectionId.Code, SectionId.Data,
];

export interface Section {
  id: SectionId;
  /** The payload, without id and size. */
  payload: Uint8Array;
}

export const HEADER = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

export function splitSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || HEADER.some((b, i) => bytes[i] !== b)) {
    throw new RewriteError("malformed module: not a WebAssembly 1.0 binary (bad magic or version)");
  }
  const r = new Reader(bytes, 8);
  const sections: Section[] = [];
  while (!r.eof) {
    const id = r.u8();
    const size = r.u32();
    if (id === SectionId.Tag) throw unsupported("exception handling", "a tag section");
    if (id > SectionId.Tag) throw unsupported(`section id ${id}`, "a section beyond WebAssembly 2.0");
    sections.push({ id, payload: r.bytes(size) });
  }
  return sections;
}
