// The command list that wabt's wast2json writes for a .wast script (wabt 1.0.32, JSON "spec
// test" format): one object per command, modules as side files next to the JSON.

/** A constant as wast2json writes it: integers and float bit patterns as unsigned decimal. */
export interface ScalarConst {
  type: "i32" | "i64" | "f32" | "f64";
  /** Absent in the result types of assert_trap / assert_exhaustion / action. */
  value?: string;
}
export interface V128Const {
  type: "v128";
  lane_type: "i8" | "i16" | "i32" | "i64" | "f32" | "f64";
  value?: string[];
}
export interface RefConst {
  type: "funcref" | "externref";
  /** "null", or the host reference number of `ref.extern N`. */
  value?: string;
}
export type WastConst = ScalarConst | V128Const | RefConst;
export type ValueType = WastConst["type"];

export interface InvokeAction {
  type: "invoke";
  module?: string;
  field: string;
  args: WastConst[];
}
export interface GetAction {
  type: "get";
  module?: string;
  field: string;
}
export type Action = InvokeAction | GetAction;

interface Located {
  line: number;
}
export interface ModuleCommand extends Located {
  type: "module";
  filename: string;
  name?: string;
}
export interface RegisterCommand extends Located {
  type: "register";
  name?: string;
  as: string;
}
export interface ActionCommand extends Located {
  type: "action" | "assert_return" | "assert_trap" | "assert_exhaustion";
  action: Action;
  expected: WastConst[];
  text?: string;
}
export interface ModuleAssertion extends Located {
  type: "assert_invalid" | "assert_malformed" | "assert_unlinkable" | "assert_uninstantiable";
  filename: string;
  text: string;
  module_type: "binary" | "text";
}
export type WastCommand = ModuleCommand | RegisterCommand | ActionCommand | ModuleAssertion;

export interface WastScript {
  source_filename: string;
  commands: WastCommand[];
}

const ACTION_COMMANDS = new Set(["action", "assert_return", "assert_trap", "assert_exhaustion"]);
const MODULE_ASSERTIONS = new Set([
  "assert_invalid",
  "assert_malformed",
  "assert_unlinkable",
  "assert_uninstantiable",
]);

export class ScriptError extends Error {}

/**
 * Checks the shape of a parsed wast2json document, so that a command this runner does not know
 * is reported by name instead of being silently ignored.
 */
export function parseScript(json: unknown, origin: string): WastScript {
  if (typeof json !== "object" || json === null || !Array.isArray((json as WastScript).commands)) {
    throw new ScriptError(`${origin}: not a wast2json command list`);
  }
  const script = json as WastScript;
  for (const c of script.commands) {
    const where = `${origin}:${c.line}`;
    if (c.type === "module" || c.type === "register") continue;
    if (ACTION_COMMANDS.has(c.type)) {
      const kind: unknown = (c as ActionCommand).action?.type;
      if (kind !== "invoke" && kind !== "get") {
        throw new ScriptError(`${where}: unknown action type ${JSON.stringify(kind)}`);
      }
      continue;
    }
    if (MODULE_ASSERTIONS.has(c.type)) continue;
    throw new ScriptError(`${where}: unknown command type ${JSON.stringify((c as { type: unknown }).type)}`);
  }
  return script;
}
