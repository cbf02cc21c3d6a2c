// The baseline: V8 runs each module exactly as given.

import { noMmuActivity, type Engine } from "./engine";
import { SPECTEST_MEMORY } from "./spectest";

export function nativeEngine(): Engine {
  return {
    name: "native",
    createSpectestMemory: () => new WebAssembly.Memory(SPECTEST_MEMORY),
    compile: async (bytes) => {
      await WebAssembly.compile(bytes as BufferSource);
    },
    instantiate: async (bytes, imports) => {
      const module = await WebAssembly.compile(bytes as BufferSource);
      return (await WebAssembly.instantiate(module, imports)).exports;
    },
    isRejection: (e) => e instanceof WebAssembly.CompileError,
    totals: noMmuActivity,
  };
}
