// Runs one translate-to-fuzz module the way binaryen's own harness does (scripts/fuzz_shell.js:
// the `fuzzing-support` imports, then every export called in order with null arguments) and
// records everything observable: the log, results, exceptions and traps, exported globals and a
// hash of the final guest memory. Native and rewritten runs of a module must record the same.

import { createHash } from "node:crypto";
import { instantiateGuest } from "../../../host/wasm/guest";
import type { MmuStats } from "../../../host/wasm/mmu";
import { HASH_EXPORT, withMemoryExport } from "./memory-export";

export interface RunOptions {
  rewrite: boolean;
  /** Resident capacity of the MMU in 4 KiB pages (rewritten runs). */
  capacityPages: number;
  /**
   * Rewritten runs: evict every resident page whenever the guest calls the host (logging,
   * call-export, ...). Guest code must then fault its pages in again, which catches a residency
   * check wrongly hoisted or elided across a call, and a write-back or fill that loses data.
   */
  evictOnHostCall: boolean;
}

export interface Transcript {
  /** What the harness printed, one entry per line, in fuzz_shell.js's format. */
  log: string[];
  /** Exports called from the top level. */
  calls: number;
  /** Top-level calls that ended in a Wasm trap. */
  traps: number;
  /** `name = value` for each exported global, after the calls. */
  globals: string[];
  /** Size and SHA-256 of the guest memory after the calls (null: no memory). */
  memory: { bytes: number; sha256: string } | null;
  /** The run hit a host limit (stack overflow, out of memory): not comparable beyond that point. */
  hostLimit: boolean;
  /** MMU counters of a rewritten run. */
  mmu: MmuStats | null;
  /** Resident capacity the rewritten run used (raised to the module's minimum when needed). */
  capacityPages: number | null;
}

/** Host limitations, as fuzz_shell.js lists them: an outcome that must not be compared. */
const HOST_LIMITS = ["Maximum call stack size exceeded", "out of memory", "requested new array is too large"];
export const isHostLimit = (text: string) => HOST_LIMITS.some((h) => text.includes(h));

/** fuzz_shell.js's printing: a legalized i64 pair, null, a number, or else the type only. */
function printed(x: unknown, y?: unknown): string {
  if (y !== undefined) return `${String(x)} ${String(y)}`;
  if (x === null) return "null";
  if (typeof x === "bigint") return `${Number(BigInt.asIntN(32, x))} ${Number(BigInt.asIntN(32, x >> 32n))}`;
  if (typeof x === "number") return `${x}`;
  return typeof x;
}

type Fn = (...args: unknown[]) => unknown;

export async function runFuzzModule(bytes: Uint8Array, options: RunOptions): Promise<Transcript> {
  const t: Transcript = { log: [], calls: 0, traps: 0, globals: [], memory: null, hostLimit: false, mmu: null, capacityPages: null };
  const exports: Record<string, unknown> = {};
  const exportList: Array<{ name: string; value: unknown }> = [];

  const callFunc = (f: unknown) => {
    const fn = f as Fn;
    return fn(...new Array<null>(fn.length).fill(null));
  };
  // Catches JS exceptions and returns 1; Wasm traps and host limits propagate (fuzz_shell.js).
  const tryCall = (f: () => unknown, rethrow = 0): number => {
    try {
      f();
      return 0;
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError || isHostLimit(String(e)) || rethrow) throw e;
      return 1;
    }
  };
  const log = (x: unknown, y?: unknown) => {
    t.log.push(`[LoggingExternalInterface logging ${printed(x, y)}]`);
  };
  const table = () => exports.table as WebAssembly.Table;
  const support: Record<string, Fn> = {
    "log-i32": log,
    "log-i64": log,
    "log-f32": log,
    "log-f64": log,
    "log-v128": log,
    throw: () => {
      throw new Error("js exception");
    },
    "table-get": (i) => table().get((i as number) >>> 0),
    "table-set": (i, v) => table().set((i as number) >>> 0, v),
    "call-export": (i, flags) => {
      const f = exportList[i as number]!.value;
      if ((flags as number) & 1) tryCall(() => callFunc(f), 1);
      else callFunc(f);
    },
    "call-export-catch": (i) => tryCall(() => callFunc(exportList[i as number]!.value)),
    "call-ref": (ref, flags) => {
      if ((flags as number) & 1) tryCall(() => callFunc(ref), 1);
      else callFunc(ref);
    },
    "call-ref-catch": (ref) => tryCall(() => callFunc(ref)),
    sleep: (_ms, id) => id,
    "log-branch": (id, expected, actual) => {
      t.log.push(`[LoggingExternalInterface log-branch ${String(id)} ${String(expected)} ${String(actual)}]`);
    },
  };
  let evict: (() => void) | null = null;
  const hostCalls: Record<string, Fn> = {};
  for (const [name, f] of Object.entries(support)) {
    hostCalls[name] = (...args) => {
      evict?.();
      return f(...args);
    };
  }
  const original = new WebAssembly.Module(bytes as BufferSource);
  const imports: WebAssembly.Imports = { "fuzzing-support": hostCalls as WebAssembly.ModuleImports };
  // Imported externref globals (binaryen's `__fuzz_import`): any non-null host value will do.
  for (const imp of WebAssembly.Module.imports(original)) {
    if (imp.kind === "global") {
      const ns = (imports[imp.module] ??= {}) as Record<string, unknown>;
      ns[imp.name] = new WebAssembly.Global({ value: "externref", mutable: false }, { import: imp.name });
    }
  }

  let instance: WebAssembly.Instance;
  let readMemory: (() => Uint8Array) | null = null;
  try {
    if (options.rewrite) {
      // The smallest cache the module accepts: hoisted loop checks pin pages (minCapacityFor).
      const guest = await instantiateGuest(bytes, imports, {
        rewrite: true,
        capacityPages: options.capacityPages,
        atLeastModuleMinimum: true,
        cache: false,
      });
      instance = guest.instance;
      const mmu = guest.mmu;
      if (mmu) {
        readMemory = () => guest.read(0, mmu.guestBytes);
        t.mmu = mmu.stats;
        t.capacityPages = mmu.capacity;
        if (options.evictOnHostCall) evict = () => mmu.evictAll();
      }
    } else {
      const hashable = withMemoryExport(bytes);
      instance = (await WebAssembly.instantiate((hashable ?? bytes) as BufferSource, imports)).instance;
      if (hashable) readMemory = () => new Uint8Array((instance.exports[HASH_EXPORT] as WebAssembly.Memory).buffer);
    }
  } catch (e) {
    t.log.push(`exception thrown: failed to instantiate module: ${String(e)}`);
    return t;
  }

  // The module's own exports, in binary order: call-export indexes into this list.
  for (const e of WebAssembly.Module.exports(original)) {
    exports[e.name] = instance.exports[e.name];
    exportList.push({ name: e.name, value: instance.exports[e.name] });
  }
  for (const { name, value } of exportList) {
    if (typeof value !== "function") continue;
    t.log.push(`[fuzz-exec] calling ${name}`);
    t.calls++;
    try {
      const result = callFunc(value);
      if (result !== undefined) t.log.push(`[fuzz-exec] note result: ${name} => ${printed(result)}`);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) t.traps++;
      if (isHostLimit(String(e))) t.hostLimit = true;
      t.log.push(`exception thrown: ${String(e)}`);
    }
  }
  for (const { name, value } of exportList) {
    if (!(value instanceof WebAssembly.Global)) continue;
    let shown: string;
    try {
      shown = printed(value.value);
    } catch (e) {
      shown = `unreadable (${String(e)})`; // a v128 global cannot cross into JS
    }
    t.globals.push(`${name} = ${shown}`);
  }
  if (readMemory) {
    const mem = readMemory();
    t.memory = { bytes: mem.length, sha256: createHash("sha256").update(mem).digest("hex") };
  }
  if (t.mmu) t.mmu = { ...t.mmu };
  return t;
}
