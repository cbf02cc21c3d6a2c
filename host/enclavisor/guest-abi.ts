// The host side of the guest ABI (DESIGN.md section 8): the `enclave` namespace the SDK in
// assembly/ imports, and the AssemblyScript runtime's own `env` imports. Every read of guest
// memory goes through the guest's MMU, so it sees exactly what the guest sees.
import { randomFillSync } from "node:crypto";
import { MAX_SEAL_PLAINTEXT, SEAL_HEADER_BYTES, SealingError } from "./sealing";
import type { Sealer } from "./sealing";
import { REPORT_DATA_BYTES } from "./attestation";
import type { EnclaveCounter } from "./enclave-counter";

/**
 * Version of the guest ABI below (the `enclave` and `env` imports and their semantics). The ABI is
 * versioned and the version is part of the enclave measurement (measurement.ts, ABI record), so a
 * verifier knows which host interface an enclave was launched against. Bump it on any change.
 * Version 2 added `enclave.counter_read` and `enclave.counter_advance`.
 */
export const ABI_VERSION = 2;

/** Guest-view memory access (the MMU's, or direct for a native run). */
export interface GuestMemory {
  read(gva: number, len: number): Uint8Array;
  write(gva: number, bytes: Uint8Array): void;
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

/** An AbiHost that keeps every line the guest logs in `output` and passes it on to `onLog`. */
export function collectingHost(onLog?: (line: string) => void): { host: AbiHost; output: string[] } {
  const output: string[] = [];
  return {
    output,
    host: {
      log: (line) => {
        output.push(line);
        onLog?.(line);
      },
    },
  };
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

/** Most bytes one `enclave.random` call fills (the SDK asks in chunks of at most this). */
export const MAX_RANDOM_BYTES = 64 * 1024;

/** Results of `enclave.seal` / `enclave.unseal` below zero (the SDK turns them into null). */
export const SealStatus = {
  /** The enclave has no sealing key (a native run, or the launcher passed no sealer). */
  UNAVAILABLE: -1,
  /** Bad arguments: too large an input, or an output buffer too small. */
  BAD_INPUT: -2,
  /** The blob was refused: malformed, modified, or sealed by another enclave or platform. */
  REFUSED: -3,
} as const;

/** Results of `enclave.attest` below zero (the SDK turns them into null). */
export const AttestStatus = {
  /** The enclave has no attester (a native run, or a VM without SNP reports). */
  UNAVAILABLE: -1,
} as const;

export interface AbiOptions {
  /**
   * The enclave's sealer (sealing.ts: sealerFor with the enclave's VM and measurement). Without it,
   * `enclave.seal` and `enclave.unseal` return SealStatus.UNAVAILABLE.
   */
  sealer?: Sealer;
  /**
   * Issues an evidence bundle (evidence.ts) for the guest's 64 bytes of report data. Without it,
   * `enclave.attest` returns AttestStatus.UNAVAILABLE.
   */
  attest?: (reportData: Uint8Array) => Uint8Array;
  /**
   * The enclave's monotonic counter (enclave-counter.ts). Without it, `enclave.counter_read` returns
   * -1 and `enclave.counter_advance` CounterStatus.UNAVAILABLE.
   */
  counter?: EnclaveCounter;
}

/** Results of `enclave.counter_advance`. */
export const CounterStatus = {
  OK: 0,
  /** The enclave has no counter (a native run). */
  UNAVAILABLE: -1,
  /** Below the counter, or not a whole number from 0 to 2^53 - 1: a counter never goes back. */
  REFUSED: -2,
} as const;

/**
 * One sealing call: reads the input from guest memory, writes the result to the guest's output
 * buffer, and returns its length or a SealStatus. A refusal is a status, never an exception: the
 * guest decides what to do, and the host stays up. No key or plaintext goes into a log.
 */
function sealingCall(
  mem: GuestMemory,
  op: ((data: Uint8Array) => Uint8Array) | undefined,
  maxInput: number,
  ptr: number,
  len: number,
  out: number,
  outCap: number,
): number {
  if (!op) return SealStatus.UNAVAILABLE;
  if (len > maxInput) return SealStatus.BAD_INPUT;
  let result: Uint8Array;
  try {
    result = op(mem.read(ptr, len));
  } catch (e) {
    if (e instanceof SealingError) return SealStatus.REFUSED;
    throw e;
  }
  if (result.length > outCap) return SealStatus.BAD_INPUT;
  mem.write(out, result);
  result.fill(0);
  return result.length;
}

/** The imports of one guest. */
export function abiImports(mem: GuestMemory, host: AbiHost, options: AbiOptions = {}): WebAssembly.Imports {
  const { sealer } = options;
  return {
    env: {
      abort(msg: number, file: number, line: number, column: number): never {
        throw new GuestAbort(`${readAsString(mem, msg) || "abort"} (${readAsString(mem, file)}:${line}:${column})`);
      },
      trace(msg: number, n: number, ...args: number[]): void {
        host.log(`trace: ${readAsString(mem, msg)}${n > 0 ? " " + args.slice(0, n).join(", ") : ""}`);
      },
      // Seeds AssemblyScript's Math.random, which is not a CSPRNG: nothing security-relevant may
      // use it (the SDK's randomBytes uses enclave.random), so a host-chosen seed is harmless.
      seed(): number {
        return Date.now() * Math.random();
      },
    },
    enclave: {
      /**
       * Fills `len` bytes at `ptr` with random bytes from node:crypto's CSPRNG; returns `len`, or
       * -1 if `len` is over MAX_RANDOM_BYTES. A real enclave would take them from RDRAND or the
       * secure processor; here the host supplies them, so they are as trusted as the host.
       */
      random(ptr: number, len: number): number {
        len >>>= 0;
        if (len > MAX_RANDOM_BYTES) return -1;
        const bytes = randomFillSync(new Uint8Array(len));
        mem.write(ptr >>> 0, bytes);
        bytes.fill(0);
        return len;
      },
      /** The host's wall clock in ms since the Unix epoch: UNTRUSTED, the host may return any value. */
      untrusted_time_ms(): number {
        return Date.now();
      },
      share(ptr: number, len: number): void {
        mem.share(ptr >>> 0, len >>> 0);
      },
      log(ptr: number, len: number): void {
        host.log(utf8.decode(mem.read(ptr >>> 0, Math.min(len >>> 0, MAX_MESSAGE_BYTES))));
      },
      /** Seals `len` bytes at `ptr` into `out` (room for len + SEAL_HEADER_BYTES); blob length or SealStatus. */
      seal(ptr: number, len: number, out: number, outCap: number): number {
        return sealingCall(mem, sealer && ((d) => sealer.seal(d)), MAX_SEAL_PLAINTEXT, ptr >>> 0, len >>> 0, out >>> 0, outCap >>> 0);
      },
      /** Unseals the blob at `ptr` into `out`; plaintext length or SealStatus. */
      unseal(ptr: number, len: number, out: number, outCap: number): number {
        const maxBlob = MAX_SEAL_PLAINTEXT + SEAL_HEADER_BYTES;
        return sealingCall(mem, sealer && ((b) => sealer.unseal(b)), maxBlob, ptr >>> 0, len >>> 0, out >>> 0, outCap >>> 0);
      },
      /**
       * Issues evidence for the 64 bytes at `dataPtr` and returns its length. The evidence is written
       * to `out` only when it fits in `outCap`; otherwise nothing is written and the guest retries with
       * a buffer of the returned length (each call signs a fresh report with a fresh nonce).
       */
      attest(dataPtr: number, out: number, outCap: number): number {
        if (!options.attest) return AttestStatus.UNAVAILABLE;
        const evidence = options.attest(mem.read(dataPtr >>> 0, REPORT_DATA_BYTES));
        if (evidence.length <= outCap >>> 0) mem.write(out >>> 0, evidence);
        return evidence.length;
      },
      /** The enclave's monotonic counter (a whole number, as f64), or -1 without one. */
      counter_read(): number {
        return options.counter ? options.counter.read() : -1;
      },
      /** Raises the counter to `to`; a CounterStatus. */
      counter_advance(to: number): number {
        if (!options.counter) return CounterStatus.UNAVAILABLE;
        return options.counter.advance(to) ? CounterStatus.OK : CounterStatus.REFUSED;
      },
    },
  };
}
