// The index spaces of the rewritten module. The MMU's functions are imported right after the
// module's own function imports, so every defined function moves up by their number; their types
// follow the module's own types, the fuel counter its globals, and our start function its
// functions, so that no type or global index moves.
import type { MmuFunctions } from "./code-rewriter";
import type { InputModule } from "./input-module";
import { ValType } from "./opcodes";

/** The types the rewrite appends after the module's own, in this order. */
export const ADDED_TYPES = [
  { name: "i32x3", params: [ValType.I32, ValType.I32, ValType.I32], results: [] },
  { name: "grow", params: [ValType.I32], results: [ValType.I32] },
  { name: "i32x4", params: [ValType.I32, ValType.I32, ValType.I32, ValType.I32], results: [] },
  { name: "i32x1", params: [ValType.I32], results: [] },
  { name: "void", params: [], results: [] },
  { name: "range", params: [ValType.F64, ValType.F64, ValType.I32], results: [ValType.I32] },
  { name: "i64", params: [], results: [ValType.I64] },
] as const;

type AddedType = (typeof ADDED_TYPES)[number]["name"];

/** The MMU's functions and their types, imported in this order. */
export const MMU_IMPORTS = [
  { name: "fault", type: "i32x3" },
  { name: "grow", type: "grow" },
  { name: "fill", type: "i32x3" },
  { name: "copy", type: "i32x3" },
  { name: "init", type: "i32x4" },
  { name: "drop", type: "i32x1" },
  { name: "range", type: "range" },
  { name: "outOfFuel", type: "void" },
  { name: "fuelInit", type: "i64" },
] as const satisfies ReadonlyArray<{ name: keyof MmuFunctions; type: AddedType }>;

/** The export through which a host reads a metered guest's remaining fuel. */
export const FUEL_EXPORT = "__enclave_fuel";

export interface RewritePlan {
  /** Maps an input function index to its index in the output. */
  funcIndex(f: number): number;
  mmu: MmuFunctions;
  types: Record<AddedType, number>;
  /** The fuel counter's global when the guest is metered, else -1. */
  fuelGlobal: number;
  /** The start function the rewrite adds (start-function.ts), or null when none is needed. */
  ownStart: number | null;
}

export function planRewrite(module: InputModule, fuel: boolean): RewritePlan {
  const { funcImports } = module;
  const needsOwnStart = module.dataSegments.some((s) => s.active) || fuel;
  return {
    funcIndex: (f) => (f < funcImports ? f : f + MMU_IMPORTS.length),
    mmu: numbered(MMU_IMPORTS.map((m) => m.name), funcImports),
    types: numbered(ADDED_TYPES.map((t) => t.name), module.typeParams.length),
    fuelGlobal: fuel ? module.globalImports + module.definedGlobals : -1,
    ownStart: needsOwnStart ? funcImports + MMU_IMPORTS.length + module.funcTypes.length : null,
  };
}

/** Gives `names` consecutive indices from `first` on. */
function numbered<K extends string>(names: readonly K[], first: number): Record<K, number> {
  return Object.fromEntries(names.map((name, i) => [name, first + i])) as Record<K, number>;
}
