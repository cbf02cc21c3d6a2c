// The root of the Wasm layer's errors: a module the rewriter refuses (rewrite-error.ts), a
// malformed binary (binary.ts), a guest that cannot be linked (guest.ts), and the one way a guest
// stops (enclave-stopped.ts).

export class WasmError extends Error {
  override name = "WasmError";
}
