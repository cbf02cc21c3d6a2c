// The `spectest` module every spec script may import from (WebAssembly spec interpreter,
// "host/spectest.ml"): print functions, four immutable globals of value 666, a table of 10 to 20
// funcrefs, and a memory of 1 to 2 pages. One instance is shared by all modules of one script.

export function spectestImports(memory: WebAssembly.Memory): WebAssembly.ModuleImports {
  // The prints of the reference interpreter write to stdout; here they only need to link.
  const print = () => undefined;
  return {
    print,
    print_i32: print,
    print_i64: print,
    print_f32: print,
    print_f64: print,
    print_i32_f32: print,
    print_f64_f64: print,
    global_i32: new WebAssembly.Global({ value: "i32", mutable: false }, 666),
    global_i64: new WebAssembly.Global({ value: "i64", mutable: false }, 666n),
    global_f32: new WebAssembly.Global({ value: "f32", mutable: false }, 666.6),
    global_f64: new WebAssembly.Global({ value: "f64", mutable: false }, 666.6),
    table: new WebAssembly.Table({ initial: 10, maximum: 20, element: "anyfunc" }),
    memory,
  };
}

/** The limits of `spectest.memory`, in Wasm pages. */
export const SPECTEST_MEMORY = { initial: 1, maximum: 2 } as const;
