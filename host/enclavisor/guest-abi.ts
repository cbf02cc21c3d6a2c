// The host side of the guest ABI (docs/architecture.md, "The guest ABI"): the imports listed in
// abi-table.ts, with the numbers of abi-constants.ts. Every read of guest memory goes through the
// guest's MMU, so it sees exactly what the guest sees. A call the host refuses (a pointer or length
// outside the guest's memory) stops the guest with reason "bad-call"; a refusal the SDK expects
// (sealing a blob of another enclave, say) is a status, never an exception.
import { randomFillSync } from "node:crypto";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import {
  ATTEST_DATA_BYTES, ATTEST_UNAVAILABLE, COUNTER_OK, COUNTER_REFUSED, COUNTER_UNAVAILABLE, MAX_COUNTER_NAME, MAX_MESSAGE_BYTES, MAX_RANDOM_BYTES,
  MAX_SEAL_PLAINTEXT, SEAL_BAD_INPUT, SEAL_OVERHEAD, SEAL_REFUSED, SEAL_UNAVAILABLE,
} from "./abi-constants";
import { ABI_IMPORTS } from "./abi-table";
import { SealingError } from "./sealing";
import type { Sealer } from "./sealing";
import type { EnclaveCounter } from "./enclave-counter";
import { EnclavisorError } from "./enclavisor-error";

/** Guest-view memory access (the MMU's, or direct for a native run). */
export interface GuestMemory {
  read(gva: number, len: number): Uint8Array;
  write(gva: number, bytes: Uint8Array): void;
  /** Declares page-aligned guest memory shared with the host (docs/architecture.md, "Shared pages"). */
  share(gva: number, len: number): void;
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

/** An AssemblyScript string: UTF-16LE, its byte length in the u32 before it (rtSize). */
export function readAsString(mem: GuestMemory, ptr: number): string {
  if (ptr === 0) return "";
  const len = new DataView(mem.read(ptr - 4, 4).buffer).getUint32(0, true);
  return utf16.decode(mem.read(ptr, Math.min(len, MAX_MESSAGE_BYTES) & ~1));
}

export interface AbiOptions {
  /**
   * The enclave's sealer (sealing.ts: sealerFor with the enclave's VM and measurement). Without it,
   * `enclave.seal` and `enclave.unseal` return SEAL_UNAVAILABLE.
   */
  sealer?: Sealer;
  /**
   * Issues an evidence bundle (evidence.ts) for the guest's 64 bytes of report data. Without it,
   * `enclave.attest` returns ATTEST_UNAVAILABLE.
   */
  attest?: (reportData: Uint8Array) => Uint8Array;
  /**
   * The enclave's monotonic counter (enclave-counter.ts). Without it, `enclave.counter_read` returns
   * -1 and `enclave.counter_advance` COUNTER_UNAVAILABLE.
   */
  counter?: EnclaveCounter;
  /**
   * The channel binding of a server connection (the TLS exporter of an attested-TLS session,
   * CHANNEL_BINDING_BYTES), or null for a plaintext one. Without it, `enclave.channel_binding`
   * returns 0.
   */
  channelBinding?: (conn: number) => Uint8Array | null;
}

/**
 * One sealing call: reads the input from guest memory, writes the result to the guest's output
 * buffer, and returns its length or a SEAL_* status. A refusal is a status, never an exception: the
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
  if (!op) return SEAL_UNAVAILABLE;
  if (len > maxInput) return SEAL_BAD_INPUT;
  let result: Uint8Array;
  try {
    result = op(mem.read(ptr, len));
  } catch (e) {
    if (e instanceof SealingError) return SEAL_REFUSED;
    throw e;
  }
  if (result.length > outCap) return SEAL_BAD_INPUT;
  mem.write(out, result);
  result.fill(0);
  return result.length;
}

type Implementation = (...args: number[]) => number | void;

/** The imports of one guest: each function of ABI_IMPORTS, served by the implementations below. */
export function abiImports(mem: GuestMemory, host: AbiHost, options: AbiOptions = {}): WebAssembly.Imports {
  const impl = implementations(mem, host, options);
  const imports: Record<string, Record<string, Implementation>> = {};
  for (const f of ABI_IMPORTS) {
    const serve = impl[`${f.module}.${f.name}`];
    if (!serve) throw new EnclavisorError(`the guest ABI table lists ${f.module}.${f.name}, but the host does not serve it`);
    (imports[f.module] ??= {})[f.name] = refusingBadCalls(`${f.module}.${f.name}`, serve);
  }
  return imports;
}

/** A pointer or length outside the guest's memory (a RangeError of the access) stops the guest. */
function refusingBadCalls(name: string, serve: Implementation): Implementation {
  return (...args) => {
    try {
      return serve(...args);
    } catch (e) {
      if (e instanceof RangeError) throw new EnclaveStopped("bad-call", `${name}: ${e.message}`, { cause: e });
      throw e;
    }
  };
}

function implementations(mem: GuestMemory, host: AbiHost, options: AbiOptions): Record<string, Implementation> {
  const { sealer } = options;
  return {
    "env.abort": (msg, file, line, column) => {
      throw new EnclaveStopped("abort", `${readAsString(mem, msg) || "abort"} (${readAsString(mem, file)}:${line}:${column})`);
    },
    "env.trace": (msg, n, a0, a1, a2, a3, a4) => {
      const args = [a0, a1, a2, a3, a4].slice(0, Math.max(0, Math.min(n, 5)));
      host.log(`trace: ${readAsString(mem, msg)}${args.length > 0 ? " " + args.join(", ") : ""}`);
    },
    // Seeds AssemblyScript's Math.random, which is not a CSPRNG: nothing security-relevant may
    // use it (the SDK's randomBytes uses enclave.random), so a host-chosen seed is harmless.
    "env.seed": () => Date.now() * Math.random(),
    /**
     * Fills `len` bytes at `ptr` with random bytes from node:crypto's CSPRNG; returns `len`, or
     * -1 if `len` is over MAX_RANDOM_BYTES. A real enclave would take them from RDRAND or the
     * secure processor; here the host supplies them, so they are as trusted as the host.
     */
    "enclave.random": (ptr, len) => {
      len >>>= 0;
      if (len > MAX_RANDOM_BYTES) return -1;
      const bytes = randomFillSync(new Uint8Array(len));
      mem.write(ptr >>> 0, bytes);
      bytes.fill(0);
      return len;
    },
    /** The host's wall clock in ms since the Unix epoch: UNTRUSTED, the host may return any value. */
    "enclave.untrusted_time_ms": () => Date.now(),
    /** The host process's CPU time in ms, user (0) or system (1), as getrusage(RUSAGE_SELF): UNTRUSTED. */
    "enclave.untrusted_cpu_ms": (which) => {
      const used = process.cpuUsage();
      return (which === 1 ? used.system : used.user) / 1000;
    },
    "enclave.share": (ptr, len) => mem.share(ptr >>> 0, len >>> 0),
    "enclave.log": (ptr, len) => host.log(utf8.decode(mem.read(ptr >>> 0, Math.min(len >>> 0, MAX_MESSAGE_BYTES)))),
    /** Seals `len` bytes at `ptr` into `out` (room for len + SEAL_OVERHEAD); blob length or a SEAL_* status. */
    "enclave.seal": (ptr, len, out, outCap) =>
      sealingCall(mem, sealer && ((d) => sealer.seal(d)), MAX_SEAL_PLAINTEXT, ptr >>> 0, len >>> 0, out >>> 0, outCap >>> 0),
    /** Unseals the blob at `ptr` into `out`; plaintext length or a SEAL_* status. */
    "enclave.unseal": (ptr, len, out, outCap) =>
      sealingCall(mem, sealer && ((b) => sealer.unseal(b)), MAX_SEAL_PLAINTEXT + SEAL_OVERHEAD, ptr >>> 0, len >>> 0, out >>> 0, outCap >>> 0),
    /**
     * Issues evidence for the 64 bytes at `dataPtr` and returns its length. The evidence is written
     * to `out` only when it fits in `outCap`; otherwise nothing is written and the guest retries with
     * a buffer of the returned length (each call signs a fresh report with a fresh nonce).
     */
    "enclave.attest": (dataPtr, out, outCap) => {
      if (!options.attest) return ATTEST_UNAVAILABLE;
      const evidence = options.attest(mem.read(dataPtr >>> 0, ATTEST_DATA_BYTES));
      if (evidence.length <= outCap >>> 0) mem.write(out >>> 0, evidence);
      return evidence.length;
    },
    /** Writes conn's channel binding at `out` and returns its length, CHANNEL_BINDING_BYTES; 0 for a connection without one. */
    "enclave.channel_binding": (conn, out) => {
      const binding = options.channelBinding?.(conn >>> 0) ?? null;
      if (binding === null) return 0;
      mem.write(out >>> 0, binding);
      return binding.length;
    },
    /** The counter named by the `len` bytes at `ptr` (none: the unnamed one), as f64; -1 without counters, COUNTER_REFUSED for too long a name. */
    "enclave.counter_read": (ptr, len) => {
      if (!options.counter) return -1;
      if (len >>> 0 > MAX_COUNTER_NAME) return COUNTER_REFUSED;
      return options.counter.read(mem.read(ptr >>> 0, len >>> 0));
    },
    /** Raises the counter named by the `len` bytes at `ptr` to `to`; a COUNTER_* status. */
    "enclave.counter_advance": (ptr, len, to) => {
      if (!options.counter) return COUNTER_UNAVAILABLE;
      if (len >>> 0 > MAX_COUNTER_NAME) return COUNTER_REFUSED;
      return options.counter.advance(to, mem.read(ptr >>> 0, len >>> 0)) ? COUNTER_OK : COUNTER_REFUSED;
    },
  };
}
