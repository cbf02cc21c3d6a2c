// The host side of the guest ABI (DESIGN.md section 8): the `enclave` namespace the SDK in
// assembly/ imports, and the AssemblyScript runtime's own `env` imports. Every read of guest
// memory goes through the guest's MMU, so it sees exactly what the guest sees.

/** Guest-view memory access (the MMU's, or direct for a native run). */
export interface GuestMemory {
  read(gva: number, len: number): Uint8Array;
  /** Declares page-aligned guest memory shared with the host (DESIGN.md section 4). */
  share(gva: number, len: number): void;
}

/** A guest's call of env.abort: the AssemblyScript runtime's assertion or `throw`. */
export class GuestAbort extends Error {
  override name = "GuestAbort";
}

export interface AbiHost {
  /** One line the guest logged. */
  log(line: string): void;
}

const utf8 = new TextDecoder("utf-8");
const utf16 = new TextDecoder("utf-16le");
/** Longest guest string the host decodes for a message (a runaway length is cut, not trusted). */
const MAX_MESSAGE_BYTES = 64 * 1024;

/** An AssemblyScript string: UTF-16LE, its byte length in the u32 before it (rtSize). */
export function readAsString(mem: GuestMemory, ptr: number): string {
  if (ptr === 0) return "";
  const len = new DataView(mem.read(ptr - 4, 4).buffer).getUint32(0, true);
  return utf16.decode(mem.read(ptr, Math.min(len, MAX_MESSAGE_BYTES) & ~1));
}

/** The imports of one guest. */
export function abiImports(mem: GuestMemory, host: AbiHost): WebAssembly.Imports {
  return {
    env: {
      abort(msg: number, file: number, line: number, column: number): never {
        throw new GuestAbort(`${readAsString(mem, msg) || "abort"} (${readAsString(mem, file)}:${line}:${column})`);
      },
      trace(msg: number, n: number, ...args: number[]): void {
        host.log(`trace: ${readAsString(mem, msg)}${n > 0 ? " " + args.slice(0, n).join(", ") : ""}`);
      },
      seed(): number {
        return Date.now() * Math.random();
      },
    },
    enclave: {
      share(ptr: number, len: number): void {
        mem.share(ptr >>> 0, len >>> 0);
      },
      log(ptr: number, len: number): void {
        host.log(utf8.decode(mem.read(ptr >>> 0, Math.min(len >>> 0, MAX_MESSAGE_BYTES))));
      },
    },
  };
}
