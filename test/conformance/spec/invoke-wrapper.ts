// Calls an exported function or reads an exported global bit for bit. Through the JS API an f32
// NaN loses its payload (a signalling NaN comes back quiet) and a v128 cannot cross at all, so
// each call goes through a small generated Wasm module that imports the target with the
// script's types, loads numeric arguments from its own memory, and stores the results there.
// Wasm-to-Wasm calls pass values unchanged (core spec 4.4.10, "invocation").

import { Writer } from "../../../host/wasm/binary";
import type { ValueType, WastConst } from "./script";
import { byteSize, encodeNumeric, ExternRefs, isRefType, matchNumeric, matchRef, refArgument } from "./values";

const TYPE_CODE: Record<ValueType, number> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
};
const LOAD: Partial<Record<ValueType, number[]>> = {
  i32: [0x28],
  i64: [0x29],
  f32: [0x2a],
  f64: [0x2b],
  v128: [0xfd, 0x00],
};
const STORE: Partial<Record<ValueType, number[]>> = {
  i32: [0x36],
  i64: [0x37],
  f32: [0x38],
  f64: [0x39],
  v128: [0xfd, 0x0b],
};

function section(out: Writer, id: number, body: (w: Writer) => void): void {
  const w = new Writer();
  body(w);
  out.u8(id).sized(w);
}

function funcType(w: Writer, params: ValueType[], results: ValueType[]): void {
  w.u8(0x60).u32(params.length);
  for (const p of params) w.u8(TYPE_CODE[p]);
  w.u32(results.length);
  for (const r of results) w.u8(TYPE_CODE[r]);
}

/** Offsets of the numeric values in the wrapper memory, laid out one after the other. */
function layout(types: ValueType[], start: number): number[] {
  let at = start;
  return types.map((t) => {
    const here = at;
    at += byteSize(t);
    return here;
  });
}

type Target = { kind: "func"; params: ValueType[] } | { kind: "global"; mutable: boolean };

/** Builds the wrapper: export "run" takes the reference arguments and returns the reference results. */
function buildWrapper(target: Target, results: ValueType[]): Uint8Array {
  const params = target.kind === "func" ? target.params : [];
  const refParams = params.filter(isRefType);
  const refResults = results.filter(isRefType);
  const argAt = layout(params, 0);
  const resAt = layout(results, argAt.length ? argAt.at(-1)! + byteSize(params.at(-1)!) : 0);
  const out = new Writer();
  out.bytes(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
  section(out, 1, (w) => {
    w.u32(target.kind === "func" ? 2 : 1);
    if (target.kind === "func") funcType(w, params, results);
    funcType(w, refParams, refResults);
  });
  section(out, 2, (w) => {
    w.u32(1).name("m");
    if (target.kind === "func") w.name("f").u8(0x00).u32(0);
    else w.name("g").u8(0x03).u8(TYPE_CODE[results[0]!]).u8(target.mutable ? 1 : 0);
  });
  const runType = target.kind === "func" ? 1 : 0;
  section(out, 3, (w) => w.u32(1).u32(runType));
  section(out, 5, (w) => w.u32(1).u8(0x00).u32(1));
  const runIndex = target.kind === "func" ? 1 : 0;
  section(out, 7, (w) => {
    w.u32(2);
    w.name("run").u8(0x00).u32(runIndex);
    w.name("mem").u8(0x02).u32(0);
  });
  section(out, 10, (w) => {
    const body = new Writer();
    body.u32(results.length);
    for (const r of results) body.u32(1).u8(TYPE_CODE[r]);
    let refIndex = 0;
    params.forEach((p, i) => {
      if (isRefType(p)) body.u8(0x20).u32(refIndex++);
      else body.u8(0x41).s32(0).bytes(new Uint8Array(LOAD[p]!)).u32(0).u32(argAt[i]!);
    });
    if (target.kind === "func") body.u8(0x10).u32(0);
    else body.u8(0x23).u32(0);
    const local = (i: number) => refParams.length + i;
    for (let i = results.length - 1; i >= 0; i--) body.u8(0x21).u32(local(i));
    results.forEach((r, i) => {
      if (!isRefType(r)) {
        body.u8(0x41).s32(0).u8(0x20).u32(local(i)).bytes(new Uint8Array(STORE[r]!)).u32(0).u32(resAt[i]!);
      }
    });
    results.forEach((r, i) => {
      if (isRefType(r)) body.u8(0x20).u32(local(i));
    });
    body.u8(0x0b);
    w.u32(1).sized(body);
  });
  return out.finish();
}

export class SignatureError extends Error {}

/** The results of one call, checked against the script's expectations. */
export interface Outcome {
  /** null when every result matches; otherwise what differs. */
  mismatch(expected: WastConst[]): string | null;
}

export class Invoker {
  private readonly modules = new Map<string, WebAssembly.Module>();

  constructor(private readonly externs: ExternRefs) {}

  private module(key: string, target: Target, results: ValueType[]): WebAssembly.Module {
    let m = this.modules.get(key);
    if (!m) {
      m = new WebAssembly.Module(buildWrapper(target, results) as BufferSource);
      this.modules.set(key, m);
    }
    return m;
  }

  /** Calls `func` with the script's arguments; traps and host errors propagate unchanged. */
  invoke(func: unknown, args: WastConst[], results: ValueType[]): Outcome {
    const params = args.map((a) => a.type);
    const key = `f:${params.join(",")}->${results.join(",")}`;
    const module = this.module(key, { kind: "func", params }, results);
    const instance = this.link(module, { f: func }, "function");
    const view = new DataView((instance.exports.mem as WebAssembly.Memory).buffer);
    const argAt = layout(params, 0);
    const refArgs: unknown[] = [];
    args.forEach((a, i) => {
      if (isRefType(a.type)) refArgs.push(refArgument(a, this.externs));
      else encodeNumeric(a, view, argAt[i]!);
    });
    const returned: unknown = (instance.exports.run as (...a: unknown[]) => unknown)(...refArgs);
    return this.outcome(view, argAt.length ? argAt.at(-1)! + byteSize(params.at(-1)!) : 0, results, returned);
  }

  /** Reads an exported global; its type is the one the script expects. */
  get(global: unknown, type: ValueType): Outcome {
    let instance: WebAssembly.Instance | undefined;
    let lastError: unknown;
    // The JS API does not tell a global's mutability; an import must match it exactly.
    for (const mutable of [false, true]) {
      try {
        instance = this.link(this.module(`g:${type}:${mutable}`, { kind: "global", mutable }, [type]), { g: global }, "global");
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (!instance) throw lastError;
    const view = new DataView((instance.exports.mem as WebAssembly.Memory).buffer);
    const returned: unknown = (instance.exports.run as () => unknown)();
    return this.outcome(view, 0, [type], returned);
  }

  private link(module: WebAssembly.Module, m: Record<string, unknown>, what: string): WebAssembly.Instance {
    try {
      return new WebAssembly.Instance(module, { m: m as WebAssembly.ModuleImports });
    } catch (e) {
      if (e instanceof WebAssembly.LinkError) {
        throw new SignatureError(`the exported ${what} does not have the script's types (${e.message})`);
      }
      throw e;
    }
  }

  private outcome(view: DataView, start: number, results: ValueType[], returned: unknown): Outcome {
    const resAt = layout(results, start);
    const refs = results.filter(isRefType).length;
    const refValues: unknown[] = refs === 0 ? [] : refs === 1 ? [returned] : [...(returned as unknown[])];
    return {
      mismatch: (expected) => {
        if (expected.length !== results.length) return `expected ${expected.length} results, the call has ${results.length}`;
        let refIndex = 0;
        const diffs = expected.map((e, i) =>
          isRefType(e.type) ? matchRef(e, refValues[refIndex++], this.externs) : matchNumeric(e, view, resAt[i]!),
        );
        const bad = diffs.filter((d) => d !== null);
        return bad.length ? bad.join("; ") : null;
      },
    };
  }
}
