// The one way a guest stops, as wasmtime's Trap is for its guests. Whatever ends a guest's run
// reaches the host as an EnclaveStopped: a Wasm trap, the guest's own abort, its fuel running out,
// a bad call into the host, or a refusal on the path to its memory (an RMP or NPT fault, an
// integrity violation, the memory limit, a frame the ownership table does not give it). `reason`
// is what a program switches on; `cause` is the error of the layer that refused, with its details.
//
// A stopped guest takes no more calls (guest.ts): it may have stopped half-way through updating
// its heap, and running on from there could corrupt its data silently. Messages name the reason,
// the page or GPA and the check, never a key or a byte of enclave data.
import { WasmError } from "./wasm-error";

export const STOP_REASONS = [
  /** A Wasm trap: unreachable, an out-of-bounds access, a division by zero, a stack overflow... */
  "trap",
  /** The guest called env.abort (an AssemblyScript assertion or `throw`). */
  "abort",
  /** The guest used up its fuel (function entries and loop iterations). */
  "fuel",
  /** The hardware refused a fill or write-back: an RMP check or a nested page fault. */
  "memory-fault",
  /** A page or tree node did not match what the integrity scheme last recorded. */
  "integrity",
  /** The enclave asked for a frame beyond its memory limit. */
  "memory-limit",
  /** The frame ownership table refused the enclave a frame. */
  "frame-not-owned",
  /** The guest called the host with arguments it refuses: a pointer outside its memory, say. */
  "bad-call",
  /** The guest broke a contract of its exports (a server app's result word, say). */
  "contract",
  /** Host code failed while the guest ran: a bug of the host, reported with its cause. */
  "host-error",
] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** Where a stop on the path to memory happened: the guest page, and its guest-physical frame. */
export interface StopSite {
  readonly page: number;
  readonly gpa?: number;
}

export class EnclaveStopped extends WasmError {
  override readonly name = "EnclaveStopped";
  /** The guest page (and GPA) whose load or store was refused; absent for the other reasons. */
  readonly site: StopSite | undefined;

  constructor(
    readonly reason: StopReason,
    /** What happened, without the "enclave stopped (reason)" the message starts with. */
    readonly detail: string,
    options?: { cause?: unknown; site?: StopSite },
  ) {
    super(`enclave stopped (${reason}): ${detail}`, options);
    this.site = options?.site;
  }

  /** The EnclaveStopped for whatever a call of the export `where` threw: itself, a trap, or a host error. */
  static of(e: unknown, where: string): EnclaveStopped {
    if (e instanceof EnclaveStopped) return e;
    const message = `${where}: ${e instanceof Error ? e.message : String(e)}`;
    // V8 reports a Wasm stack overflow as a RangeError, the other traps as RuntimeErrors.
    if (e instanceof WebAssembly.RuntimeError || (e instanceof RangeError && message.includes("call stack size"))) {
      return new EnclaveStopped("trap", message, { cause: e });
    }
    return new EnclaveStopped("host-error", message, { cause: e });
  }
}
