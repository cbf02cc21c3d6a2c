import { WasmError } from "./wasm-error";
/** The rewriter refused its input: malformed, invalid, or using a feature it does not support. */
export class RewriteError extends WasmError {
  constructor(
    message: string,
    /** The unsupported feature, when that is the reason. */
    readonly feature?: string,
  ) {
    super(message);
    this.name = "RewriteError";
  }
}

export function unsupported(feature: string, where: string): RewriteError {
  return new RewriteError(`unsupported WebAssembly feature: ${feature} (${where})`, feature);
}
