// The "name" custom section (spec 7.4) keeps naming the right functions after the renumbering;
// other custom sections pass as they are.
import { Reader, Writer } from "./binary";

const enum NameSubsection {
  Functions = 1,
  Locals = 2,
}

export function rewriteCustomSection(payload: Uint8Array, funcIndex: (f: number) => number): Uint8Array {
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
      if (sub !== NameSubsection.Functions && sub !== NameSubsection.Locals) w.u8(sub).u32(size).bytes(body);
      else w.u8(sub).sized(renumberNameMap(sub, body, funcIndex));
    }
    return w.finish().slice();
  } catch {
    // A malformed name section is only debug information: drop its contents, keep a valid section.
    return new Writer(8).name("name").finish().slice();
  }
}

/** A function name map, or an indirect map of local names: both are keyed by function index. */
function renumberNameMap(sub: NameSubsection, body: Uint8Array, funcIndex: (f: number) => number): Writer {
  const r = new Reader(body);
  const w = new Writer(body.length + 16);
  const n = r.u32();
  w.u32(n);
  for (let i = 0; i < n; i++) {
    w.u32(funcIndex(r.u32()));
    if (sub === NameSubsection.Functions) w.name(r.name());
    else {
      const m = r.u32();
      w.u32(m);
      for (let j = 0; j < m; j++) w.u32(r.u32()).name(r.name());
    }
  }
  return w;
}
