// Executes the commands of one converted .wast script on one engine (spec test format,
// WebAssembly/spec interpreter/README.md "Scripts"), counting pass, fail and skip.

import type { MmuStats } from "../../../host/wasm/mmu";
import type { Engine } from "./engine";
import { Invoker } from "./invoke-wrapper";
import type { Action, ActionCommand, ModuleAssertion, WastCommand } from "./script";
import { spectestImports } from "./spectest";
import { ExternRefs } from "./values";
import type { ConvertedScript } from "./wast2json";

export interface Note {
  line: number;
  command: string;
  reason: string;
}

/** A trap the script expected: the spec's text next to the engine's message (compared loosely). */
export interface TrapNote {
  line: number;
  expected: string;
  actual: string;
}

export interface ScriptRun {
  file: string;
  engine: Engine["name"];
  pass: number;
  fail: number;
  skip: number;
  failures: Note[];
  skips: Note[];
  traps: TrapNote[];
  /** assert_invalid / assert_malformed: which stage rejected the module. */
  rejectedBy: Record<string, number>;
  mmu: MmuStats;
}

const errorText = (e: unknown): string =>
  e instanceof Error ? `${e.constructor.name}: ${e.message}` : `non-Error thrown: ${String(e)}`;

class ScriptState {
  current: WebAssembly.Exports | undefined;
  readonly named = new Map<string, WebAssembly.Exports | undefined>();
  readonly registered: Record<string, WebAssembly.ModuleImports> = {};
  readonly externs = new ExternRefs();
  readonly invoker = new Invoker(this.externs);
  readonly imports: WebAssembly.Imports;

  constructor(engine: Engine) {
    this.imports = { spectest: spectestImports(engine.createSpectestMemory()) };
  }

  allImports(): WebAssembly.Imports {
    return { ...this.imports, ...this.registered };
  }

  target(moduleName: string | undefined): WebAssembly.Exports {
    const exports = moduleName === undefined ? this.current : this.named.get(moduleName);
    if (!exports) {
      throw new HarnessError(
        moduleName === undefined ? "no current module (the last module failed to load)" : `no module named ${moduleName}`,
      );
    }
    return exports;
  }
}

/** A problem of the script or harness, not of the module under test. */
class HarnessError extends Error {}

type Verdict = { ok: true } | { ok: false; reason: string } | { skip: string };
const ok: Verdict = { ok: true };
const bad = (reason: string): Verdict => ({ ok: false, reason });

function emptyRun(file: string, engine: Engine): ScriptRun {
  return {
    file,
    engine: engine.name,
    pass: 0,
    fail: 0,
    skip: 0,
    failures: [],
    skips: [],
    traps: [],
    rejectedBy: {},
    mmu: engine.totals(),
  };
}

/** The run of a script that wast2json could not convert: one failure, nothing executed. */
export function unconvertible(file: string, engine: Engine, reason: string): ScriptRun {
  const run = emptyRun(file, engine);
  run.fail = 1;
  run.failures.push({ line: 0, command: "wast2json", reason });
  return run;
}

export async function runScript(file: string, converted: ConvertedScript, engine: Engine): Promise<ScriptRun> {
  const run = emptyRun(file, engine);
  const state = new ScriptState(engine);
  for (const command of converted.script.commands) {
    let verdict: Verdict;
    try {
      verdict = await execute(command, state, converted, engine, run);
    } catch (e) {
      verdict = bad(errorText(e));
    }
    if ("skip" in verdict) {
      run.skip++;
      run.skips.push({ line: command.line, command: command.type, reason: verdict.skip });
    } else if (verdict.ok) {
      run.pass++;
    } else {
      run.fail++;
      run.failures.push({ line: command.line, command: command.type, reason: verdict.reason });
    }
  }
  run.mmu = engine.totals();
  return run;
}

async function execute(
  c: WastCommand,
  state: ScriptState,
  converted: ConvertedScript,
  engine: Engine,
  run: ScriptRun,
): Promise<Verdict> {
  switch (c.type) {
    case "module": {
      state.current = undefined;
      if (c.name !== undefined) state.named.set(c.name, undefined);
      if (!c.filename.endsWith(".wasm")) return { skip: "text-format module (module quote): no binary to run" };
      const exports = await engine.instantiate(await converted.readModule(c.filename), state.allImports());
      state.current = exports;
      if (c.name !== undefined) state.named.set(c.name, exports);
      return ok;
    }
    case "register":
      state.registered[c.as] = state.target(c.name) as WebAssembly.ModuleImports;
      return ok;
    case "action":
    case "assert_return":
    case "assert_trap":
    case "assert_exhaustion":
      return runAction(c, state, run);
    default:
      return assertModule(c, state, converted, engine, run);
  }
}

function perform(action: Action, c: ActionCommand, state: ScriptState) {
  const exports = state.target(action.module);
  const value = exports[action.field];
  if (value === undefined) throw new HarnessError(`no export named ${JSON.stringify(action.field)}`);
  const types = c.expected.map((e) => e.type);
  if (action.type === "get") {
    if (types.length !== 1) throw new HarnessError(`get of ${action.field} must expect exactly one value`);
    return state.invoker.get(value, types[0]!);
  }
  return state.invoker.invoke(value, action.args, types);
}

function runAction(c: ActionCommand, state: ScriptState, run: ScriptRun): Verdict {
  const name = `${c.action.type} ${JSON.stringify(c.action.field)}`;
  if (c.type === "action" || c.type === "assert_return") {
    let outcome;
    try {
      outcome = perform(c.action, c, state);
    } catch (e) {
      if (e instanceof HarnessError) throw e;
      return bad(`${name}: ${errorText(e)}`);
    }
    const diff = c.type === "action" ? null : outcome.mismatch(c.expected);
    return diff === null ? ok : bad(`${name}: ${diff}`);
  }
  try {
    perform(c.action, c, state);
  } catch (e) {
    if (e instanceof HarnessError) throw e;
    if (c.type === "assert_trap" && e instanceof WebAssembly.RuntimeError) {
      run.traps.push({ line: c.line, expected: c.text ?? "", actual: e.message });
      return ok;
    }
    // V8 reports call-stack exhaustion as a RangeError, not a Wasm trap.
    if (c.type === "assert_exhaustion" && e instanceof RangeError) return ok;
    return bad(`${name}: expected ${c.type === "assert_trap" ? "a trap" : "stack exhaustion"} (${c.text}), got ${errorText(e)}`);
  }
  return bad(`${name}: expected ${c.type === "assert_trap" ? "a trap" : "stack exhaustion"} (${c.text}), but it returned`);
}

async function assertModule(
  c: ModuleAssertion,
  state: ScriptState,
  converted: ConvertedScript,
  engine: Engine,
  run: ScriptRun,
): Promise<Verdict> {
  if (c.module_type === "text") {
    return { skip: `${c.type} of a text-format module (module quote): it tests the .wat parser, there is no binary` };
  }
  const bytes = await converted.readModule(c.filename);
  const expected = `${c.type} (${c.text})`;
  try {
    if (c.type === "assert_invalid" || c.type === "assert_malformed") await engine.compile(bytes);
    else await engine.instantiate(bytes, state.allImports());
  } catch (e) {
    const rejected = engine.isRejection(e);
    if ((c.type === "assert_invalid" || c.type === "assert_malformed") && rejected) {
      const by = e instanceof WebAssembly.CompileError ? "V8" : "rewriter";
      run.rejectedBy[by] = (run.rejectedBy[by] ?? 0) + 1;
      return ok;
    }
    if (c.type === "assert_unlinkable" && e instanceof WebAssembly.LinkError) return ok;
    if (c.type === "assert_uninstantiable" && e instanceof WebAssembly.RuntimeError) {
      run.traps.push({ line: c.line, expected: c.text, actual: e.message });
      return ok;
    }
    return bad(`${expected}: got ${errorText(e)}`);
  }
  return bad(`${expected}: the module was accepted`);
}
