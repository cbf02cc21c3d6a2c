// The host side of a server app (assembly/server.ts): a typed wrapper over the guest's I/O channel
// (open, data, drain, close, decoding the result words) and its sealed snapshots (snapshot and
// restore, with typed errors that name the problem). The host only moves bytes: it writes a
// client's bytes at io_in (shared pages: a direct write), and copies the guest's answer from io_out.
// The exports and numbers of the contract are the guest ABI's (host/enclavisor/abi-table.ts and
// abi-constants.ts).
//
// A guest that throws or traps in a handler (a bug, an integrity violation, an abort) may have
// left its heap half-updated (AssemblyScript's allocator is not unwound), so it stops for good
// (EnclaveStopped, host/wasm/guest.ts) and refuses every later call. A guest that breaks the
// contract (a result word with undefined bits, more bytes than io_out holds) is stopped the same
// way, with reason "contract". Serving on from a state that may be inconsistent could corrupt data
// silently; the caller stops the server instead.
import {
  LOG_OFF, SNAPSHOT_BAD_CALL, SNAPSHOT_NO_MEMORY, SNAPSHOT_REFUSED, SNAPSHOT_ROLLBACK,
  SNAPSHOT_UNAVAILABLE, SNAPSHOT_UNCHANGED,
} from "../enclavisor/abi-constants";
import {
  SERVER_BLOCKING_EXPORTS, SERVER_CHANNEL_EXPORTS, SERVER_CONFIGURE_EXPORT, SERVER_INSTANCE_EXPORT, SERVER_LIMITS_EXPORT, SERVER_LOG_EXPORTS, SERVER_SNAPSHOT_EXPORTS,
} from "../enclavisor/abi-table";
import { decodeResult } from "../enclavisor/channel";
import type { Channel, Output, OutputBuffer } from "../enclavisor/channel";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import { PAGE_SIZE } from "../page";
import type { Enclave } from "./backend";
import { LauncherError } from "./launcher-error";

const CHANNEL_EXPORTS = SERVER_CHANNEL_EXPORTS.map((f) => f.name);
const SNAPSHOT_EXPORTS = SERVER_SNAPSHOT_EXPORTS.map((f) => f.name);
const LIMITS_EXPORT = SERVER_LIMITS_EXPORT.name;
const INSTANCE_EXPORT = SERVER_INSTANCE_EXPORT.name;
const LOG_EXPORTS = SERVER_LOG_EXPORTS.map((f) => f.name);
const CONFIGURE_EXPORT = SERVER_CONFIGURE_EXPORT.name;
const BLOCKING_EXPORTS = SERVER_BLOCKING_EXPORTS.map((f) => f.name);

export type { Output };

/** The module is not a server app: an export of the channel is missing, or the channel is not open. */
export class ServerAppError extends LauncherError {
  override name = "ServerAppError";
}

export type SnapshotProblem = "unavailable" | "refused" | "rollback" | "bad-call" | "no-memory" | "unsupported";

/** A snapshot or restore the guest refused; `problem` says why, the message says it in words. */
export class SnapshotError extends LauncherError {
  override name = "SnapshotError";
  constructor(readonly problem: SnapshotProblem, message: string) {
    super(message);
  }
}

/** True if the module exports `on_data` (checked without instantiating it; false for an invalid module). */
export function isServerModule(bytes: Uint8Array): boolean {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as BufferSource);
  } catch {
    return false;
  }
  return WebAssembly.Module.exports(module).some((e) => e.name === "on_data" && e.kind === "function");
}

type Fn = (...args: number[]) => number;

interface SharedRange {
  view(): Uint8Array;
}

export interface SnapshotInfo {
  /** Bytes of the sealed snapshot. */
  bytes: number;
  /** The counter value sealed into it (the counter's value before, plus one). */
  counter: number;
}

/** Drives a launched server enclave whose `_start` has run (it opened the channel). */
export class ServerApp implements Channel {
  readonly inCap: number;
  readonly outCap: number;
  /** The app exports the snapshot functions (it can persist its state). */
  readonly persistent: boolean;
  private snapshotCounter = -1;
  /** The app takes request limits (set_limits). */
  readonly takesLimits: boolean;
  /** The app names its store instance (set_instance): its counter and snapshots are then per instance. */
  readonly takesInstance: boolean;
  /** The app keeps an append-only log (the log exports) and takes configuration (configure). */
  readonly logs: boolean;
  readonly configurable: boolean;
  /** The app has blocked clients to wake and time (woken, blocked_deadline, on_timer). */
  readonly blocks: boolean;
  private readonly fns: Record<string, Fn>;
  private readonly ioIn: number;
  private readonly ioOut: number;
  /** Direct views of io_in and io_out when the guest shared them (as assembly/server.ts's openChannel does). */
  private readonly inView: SharedRange | null;
  private readonly outView: SharedRange | null;

  constructor(private readonly enclave: Enclave) {
    const exports = enclave.guest.instance.exports;
    const missing = CHANNEL_EXPORTS.filter((name) => typeof exports[name] !== "function");
    if (missing.length > 0) {
      throw new ServerAppError(
        typeof exports.on_data !== "function"
          ? "the app does not export on_data: it is not a server app"
          : `the server app does not export ${missing.join(", ")} (assembly/server.ts lists the exports a server app needs)`,
      );
    }
    this.fns = {};
    for (const [name, value] of Object.entries(exports)) if (typeof value === "function") this.fns[name] = enclave.guest.func(name) as Fn;
    this.persistent = SNAPSHOT_EXPORTS.every((name) => name in this.fns);
    this.takesLimits = LIMITS_EXPORT in this.fns;
    this.takesInstance = INSTANCE_EXPORT in this.fns;
    this.logs = LOG_EXPORTS.every((name) => name in this.fns);
    this.configurable = CONFIGURE_EXPORT in this.fns;
    this.blocks = BLOCKING_EXPORTS.every((name) => name in this.fns);
    this.ioIn = this.call("io_in") >>> 0;
    this.ioOut = this.call("io_out") >>> 0;
    this.inCap = this.call("io_in_cap") >>> 0;
    this.outCap = this.call("io_out_cap") >>> 0;
    if (this.ioIn === 0 || this.ioOut === 0 || this.inCap === 0 || this.outCap === 0) {
      throw new ServerAppError("the server app's channel is not open: its _start must call openChannel()");
    }
    this.inView = this.sharedRange(this.ioIn, this.inCap);
    this.outView = this.sharedRange(this.ioOut, this.outCap);
    this.outBuffer = { name: "io_out", cap: this.outCap, read: (n) => this.readOut(n) };
  }

  /** Why the guest stopped, once it did. */
  get stopped(): EnclaveStopped | null {
    return this.enclave.stopped;
  }

  /**
   * A direct view of [gva, gva + len) if the guest shared those pages (they are then resident and
   * plain for good, and lie side by side in the Wasm memory); null otherwise: private pages go
   * through the MMU, and a native guest's memory is read and written directly anyway.
   */
  private sharedRange(gva: number, len: number): SharedRange | null {
    const mmu = this.enclave.guest.mmu;
    if (!mmu || gva % PAGE_SIZE !== 0) return null;
    const first = gva / PAGE_SIZE;
    const pages = Math.ceil(len / PAGE_SIZE);
    const make = (): Uint8Array | null => {
      try {
        const head = mmu.sharedView(first);
        for (let p = 1; p < pages; p++) {
          const page = mmu.sharedView(first + p); // throws unless every page is shared
          if (page.buffer !== head.buffer || page.byteOffset !== head.byteOffset + p * PAGE_SIZE) return null;
        }
        return new Uint8Array(head.buffer, head.byteOffset, len);
      } catch {
        return null; // not shared
      }
    };
    let current = make();
    if (!current) return null;
    return {
      // memory.grow detaches the old buffer: make the view again then.
      view: () => (current!.buffer.byteLength === 0 ? (current = make()!) : current!),
    };
  }

  /** The counter the app's snapshots use: its instance's, or the enclave's (null without one: a native or sgx run). */
  counter(): number | null {
    return this.enclave.counterValue(this.instance ?? undefined);
  }

  private instance: Uint8Array | null = null;

  /**
   * Names the store instance the app serves (1 to 64 bytes; set_instance): its counter and the
   * binding of its snapshots, so that two stores of one app on a platform never share either. Call
   * before restoring or saving.
   */
  setInstance(name: Uint8Array): void {
    if (!this.takesInstance) throw new ServerAppError(`the app does not export ${INSTANCE_EXPORT}: it has no instances`);
    if (name.length < 1 || name.length > 64) throw new RangeError(`an instance name is 1 to 64 bytes, got ${name.length}`);
    this.writeIn(name);
    if (this.call(INSTANCE_EXPORT, name.length) < 0) throw this.stop(`${INSTANCE_EXPORT} refused a ${name.length}-byte name`);
    this.instance = name.slice();
  }

  open(conn: number): void {
    this.call("on_open", conn);
  }

  /** Hands the guest `bytes` (at most inCap) of conn's stream. */
  data(conn: number, bytes: Uint8Array): Output {
    if (bytes.length > this.inCap) throw new RangeError(`on_data takes at most ${this.inCap} bytes at a time, got ${bytes.length}`);
    this.writeIn(bytes);
    return this.output("on_data", this.call("on_data", conn, bytes.length));
  }

  /** Asks the guest for more of conn's queued output. */
  drain(conn: number): Output {
    return this.output("on_drain", this.call("on_drain", conn));
  }

  close(conn: number): void {
    this.call("on_close", conn);
  }

  /** After a RESULT_WAKE: the connections whose replies wait, to drain (woken until 0). */
  woken(): number[] {
    if (!this.blocks) return [];
    const ids: number[] = [];
    for (let id = this.call("woken") >>> 0; id !== 0; id = this.call("woken") >>> 0) ids.push(id);
    return ids;
  }

  /** When to call timer() next (ms on this host's clock, as Date.now()), or null for no timer. */
  deadline(): number | null {
    if (!this.blocks) return null;
    const at = this.call("blocked_deadline");
    if (!Number.isFinite(at) || at < 0) throw this.stop(`blocked_deadline returned ${at}, not a time`);
    return at === 0 ? null : at;
  }

  /** The app's timer (on_timer): blocked clients due time out; `wake` says whether to look at woken(). */
  timer(): Output {
    const out = this.output("on_timer", this.call("on_timer"));
    if (out.bytes.length > 0) throw this.stop(`on_timer returned ${out.bytes.length} bytes: it writes none`);
    return out;
  }

  /**
   * set_limits(maxBulk, maxArgs, memoryPages): the longest bulk string, the most arguments a request
   * may have, and the enclave's memory limit in 4 KiB pages (0: none), so that the app can refuse
   * what would pass it instead of being stopped by it.
   */
  setLimits(maxBulk: number, maxArgs: number, memoryPages = 0): void {
    if (!this.takesLimits) throw new ServerAppError(`the app does not export ${LIMITS_EXPORT}: it takes no limits`);
    this.call(LIMITS_EXPORT, maxBulk, maxArgs, memoryPages);
  }

  /**
   * Begins a sealed snapshot of the guest's whole state as it is now: false, with nothing begun,
   * when nothing changed since its last committed snapshot and `force` is false. Read it out with
   * readSnapshot; requests may be served in between, and the snapshot stays the state at this call
   * (the guest copies what a request is about to change). Store it durably, then commitSnapshot.
   */
  beginSnapshot(force: boolean): boolean {
    this.needSnapshots();
    const before = this.counter();
    const status = this.call("snapshot_begin", force ? 1 : 0);
    if (status === SNAPSHOT_UNCHANGED) return false;
    if (status < 0) throw this.statusError("snapshot", status);
    if (status !== 0) throw this.stop(`snapshot_begin returned ${status}, not a status it may return`);
    this.snapshotCounter = (before ?? -1) + 1;
    return true;
  }

  /** The next piece of the snapshot begun (at most outCap bytes, as the guest seals them), or null at its end. */
  readSnapshot(): Uint8Array | null {
    const n = this.call("snapshot_read") | 0;
    if (n === 0) return null;
    if (n < 0) throw this.statusError("snapshot", n);
    if (n > this.outCap) throw this.stop(`snapshot_read returned ${n} bytes, more than io_out holds (${this.outCap})`);
    return this.readOut(n);
  }

  /** The counter value sealed into the snapshot begun last (the counter's value then, plus one). */
  get snapshotValue(): number {
    return this.snapshotCounter;
  }

  /**
   * Streams a sealed snapshot of the guest's whole state to `sink` (beginSnapshot, then each piece
   * of readSnapshot), so neither side ever holds all of it; null when nothing changed and `force`
   * is false. Store the pieces durably, in order, then call commitSnapshot.
   */
  snapshot(sink: (piece: Uint8Array) => void, force = true): SnapshotInfo | null {
    if (!this.beginSnapshot(force)) return null;
    let bytes = 0;
    for (let piece = this.readSnapshot(); piece; piece = this.readSnapshot()) {
      sink(piece);
      bytes += piece.length;
    }
    return { bytes, counter: this.snapshotCounter };
  }

  /** Tells the guest its last snapshot is stored durably: it advances its counter to the snapshot's value. */
  commitSnapshot(): void {
    const status = this.call("snapshot_commit");
    if (status < 0) throw this.statusError("snapshot commit", status);
  }

  /** Tells the guest its snapshot begun could not be stored: it drops it, and the copies it kept for it. */
  cancelSnapshot(): void {
    this.call("snapshot_cancel");
  }

  /**
   * Replaces the guest's state with a sealed snapshot of `total` bytes, given in `pieces` of any
   * size (fed to the guest at most inCap bytes at a time; it unseals and loads chunk by chunk).
   * Throws SnapshotError: "refused" (modified, truncated, or sealed by another enclave or
   * platform), "rollback" (older than the counter; only without allowRollback), "unavailable" (no
   * sealing: a native run), "bad-call" (the pieces do not add up to `total`).
   */
  restore(total: number, pieces: Iterable<Uint8Array>, allowRollback: boolean): void {
    this.needSnapshots();
    let status = this.call("restore_begin", total);
    if (status < 0) throw this.statusError("restore", status);
    for (const piece of pieces) {
      for (let at = 0; at < piece.length; at += this.inCap) {
        const chunk = piece.subarray(at, Math.min(piece.length, at + this.inCap));
        this.writeIn(chunk);
        status = this.call("restore_feed", chunk.length);
        if (status < 0) throw this.statusError("restore", status);
      }
    }
    status = this.call("restore_end", allowRollback ? 1 : 0);
    if (status < 0) throw this.statusError("restore", status);
  }

  /**
   * Passes configuration to the app before it serves (configure): `args` are a command, for kv
   * `CONFIG SET name value ...`. Returns the app's reply as text (kv: "+OK\r\n", or an error).
   */
  configure(args: readonly string[]): string {
    if (!this.configurable) throw new ServerAppError(`the app does not export ${CONFIGURE_EXPORT}: it takes no configuration`);
    const request = Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
    if (request.length > this.inCap) throw new RangeError(`a configuration of ${request.length} bytes does not fit io_in (${this.inCap})`);
    this.writeIn(request);
    const n = this.call(CONFIGURE_EXPORT, request.length);
    if (n < 0 || n > this.outCap) throw this.stop(`${CONFIGURE_EXPORT} returned ${n}, not a reply's length`);
    return Buffer.from(this.readOut(n)).toString("latin1");
  }

  /** What to do with the log's records: LOG_OFF, or LOG_FSYNC_NO, _EVERYSEC or _ALWAYS (abi-constants.ts). */
  logPolicy(): number {
    return this.logs ? this.call("log_policy") : LOG_OFF;
  }

  /** The log records waiting, read out (log_read until it says 0), or null if none wait. */
  readLog(): Uint8Array[] | null {
    let pieces: Uint8Array[] | null = null;
    for (let n = this.call("log_read") | 0; n !== 0; n = this.call("log_read") | 0) {
      if (n < 0 || n > this.outCap) throw this.stop(`log_read returned ${n}, not a length io_out holds (${this.outCap})`);
      (pieces ??= []).push(this.readOut(n));
    }
    return pieces;
  }

  /** The seq of the last log record read out whole: what a commit after making them durable names. */
  logSeq(): number {
    return this.call("log_seq");
  }

  /** Tells the app that its log records up to `seq` are durable: it advances its log counter. */
  commitLog(seq: number): void {
    if (this.call("log_commit", seq) < 0) throw new SnapshotError("unavailable", "log commit: the enclave has no counter (a native or sgx run)");
  }

  /**
   * Replays the stored log, given in `pieces` of any size, after the snapshot was restored. Returns
   * how many of its bytes count: the rest does not continue the log's chain (a crash while it was
   * written), and the caller cuts it off. Throws SnapshotError: "refused" (a record modified, or of
   * another store), "rollback" (records made durable are missing; only without allowRollback).
   */
  replayLog(pieces: Iterable<Uint8Array>, allowRollback: boolean): number {
    let status = this.call("log_replay_begin");
    if (status < 0) throw this.logError(status);
    for (const piece of pieces) {
      for (let at = 0; at < piece.length; at += this.inCap) {
        const chunk = piece.subarray(at, Math.min(piece.length, at + this.inCap));
        this.writeIn(chunk);
        status = this.call("log_replay_feed", chunk.length);
        if (status < 0) throw this.logError(status);
      }
    }
    status = this.call("log_replay_end", allowRollback ? 1 : 0);
    if (status < 0) throw this.logError(status);
    return this.call("log_replay_valid");
  }

  private logError(status: number): SnapshotError {
    switch (status) {
      case SNAPSHOT_REFUSED:
        return new SnapshotError(
          "refused",
          "log replay: the enclave refused a record of the log: it was modified, or sealed by another store instance, enclave or platform",
        );
      case SNAPSHOT_ROLLBACK:
        return new SnapshotError(
          "rollback",
          "log replay: the log stops before the last record that was made durable (the log counter's): records were cut, " +
            "reordered or replaced (a rollback)",
        );
      default:
        return this.statusError("log replay", status);
    }
  }

  private needSnapshots(): void {
    if (!this.persistent) {
      throw new SnapshotError("unsupported", `the app does not export ${SNAPSHOT_EXPORTS.join(", ")}: it cannot save or load its state`);
    }
  }

  private statusError(what: string, status: number): SnapshotError {
    switch (status) {
      case SNAPSHOT_UNAVAILABLE:
        return new SnapshotError("unavailable", `${what}: the enclave cannot seal (no sealing key or no counter: a native or sgx run)`);
      case SNAPSHOT_REFUSED:
        return new SnapshotError(
          "refused",
          `${what}: the enclave refused the snapshot: it was modified, truncated or malformed, or sealed by another enclave ` +
            "(another app, mode or --cache), under another Enclavisor build (the sealing key is bound to Enclavisor's " +
            "measurement, which covers the source of host/enclavisor and host/wasm) or on another platform (another state directory)",
        );
      case SNAPSHOT_ROLLBACK:
        return new SnapshotError("rollback", `${what}: the snapshot is older than the enclave's counter (a rollback)`);
      case SNAPSHOT_NO_MEMORY:
        return new SnapshotError("no-memory", `${what}: the enclave has no memory left for it (raise --memory-limit, or free some first)`);
      case SNAPSHOT_BAD_CALL:
        return new SnapshotError(
          "bad-call",
          `${what}: the enclave says the calls came out of order or the sizes do not add up`,
        );
      default:
        return new SnapshotError("bad-call", `${what}: the enclave returned the unknown status ${status}`);
    }
  }

  private writeIn(bytes: Uint8Array): void {
    try {
      // Shared pages are plain and resident for good: the host writes them directly (SoftMmu.sharedView).
      if (this.inView) this.inView.view().set(bytes);
      else this.enclave.guest.write(this.ioIn, bytes);
    } catch (e) {
      throw this.stop(`writing the input at io_in failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** A copy of `length` bytes of the guest's output at io_out. */
  private readOut(length: number): Uint8Array {
    return this.outView ? this.outView.view().slice(0, length) : this.enclave.guest.read(this.ioOut, length);
  }

  private readonly outBuffer: OutputBuffer;

  private output(handler: string, word: number): Output {
    return decodeResult(handler, word, this.outBuffer, (why) => this.stop(why));
  }

  /** Calls an export; whatever the guest throws stops it (EnclaveStopped). */
  private call(name: string, ...args: number[]): number {
    const fn = this.fns[name];
    if (!fn) throw new ServerAppError(`the app does not export ${name}`);
    return fn(...args);
  }

  /** Stops the guest for breaking the contract. */
  private stop(why: string): EnclaveStopped {
    return this.enclave.guest.stop(new EnclaveStopped("contract", why));
  }
}

