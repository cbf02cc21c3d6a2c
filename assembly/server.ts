// Server apps (docs/architecture.md, "The guest ABI"): the I/O channel through shared pages. The
// host owns the sockets and only moves bytes; the guest parses and answers.
//
// A server app calls openChannel() from `_start`, re-exports the four channel exports below, and
// exports its handlers:
//
//   on_open(conn: u32): void              a client connected (conn ids are never reused while open)
//   on_data(conn: u32, len: u32): u32     the host put `len` bytes of the client's stream at io_in()
//   on_drain(conn: u32): u32              the host wants more of the output queued for conn
//   on_close(conn: u32): void             the client went away (or the host closed it)
//
// on_data and on_drain return a result word: the number of bytes the guest wrote at io_out()
// (bits 0-26), RESULT_CLOSE when the host must close the connection once those bytes are sent,
// RESULT_MORE when more output is queued in private memory (the host calls on_drain for it, at
// its own pace: that is how backpressure reaches the guest), RESULT_SAVE when the app asks the
// host to save its state now (a host that keeps its snapshots begins one: kv's BGSAVE), and
// RESULT_LOG when records of the app's append-only log wait: the host reads them out (log_read),
// stores them (durably first, under LOG_FSYNC_ALWAYS) and only then sends the bytes, and
// RESULT_WAKE when other connections have replies waiting or a client blocked (an app with blocked
// clients exports woken(), blocked_deadline() and on_timer(): the host drains each connection
// woken() names, and calls on_timer at blocked_deadline()). The host decodes the word in
// host/launcher/server-app.ts; the exports and numbers of this contract are the guest ABI's
// (host/enclavisor/abi-table.ts, abi-constants.ts). An app that takes request limits from the host
// also exports set_limits(maxBulk: u32, maxArgs: u32, memoryPages: u32) (kv does: --max-bulk, and
// --memory-limit in 4 KiB pages, 0 for none, so that it answers -OOM before the limit stops it). The input buffer is shared with the untrusted host: copy what you
// read from it into private memory before you parse it, and never put a secret in the output
// buffer that the client must not see.
import {
  CHANNEL_BYTES as ABI_CHANNEL_BYTES, RESULT_CLOSE as ABI_RESULT_CLOSE, RESULT_LENGTH_MASK as ABI_RESULT_LENGTH_MASK,
  RESULT_LOG as ABI_RESULT_LOG, RESULT_MORE as ABI_RESULT_MORE, RESULT_WAKE as ABI_RESULT_WAKE, RESULT_SAVE as ABI_RESULT_SAVE, SNAPSHOT_BAD_CALL as ABI_SNAPSHOT_BAD_CALL, SNAPSHOT_REFUSED as ABI_SNAPSHOT_REFUSED,
  SNAPSHOT_NO_MEMORY as ABI_SNAPSHOT_NO_MEMORY, SNAPSHOT_ROLLBACK as ABI_SNAPSHOT_ROLLBACK, SNAPSHOT_UNAVAILABLE as ABI_SNAPSHOT_UNAVAILABLE,
  SNAPSHOT_UNCHANGED as ABI_SNAPSHOT_UNCHANGED,
} from "../host/enclavisor/abi-constants";
import { allocShared, SHARED_PAGE_SIZE } from "./index";

/** Bytes written at io_out(), in a result word. */
export const RESULT_LENGTH_MASK: u32 = ABI_RESULT_LENGTH_MASK;
/** Close the connection after sending this result's bytes. */
export const RESULT_CLOSE: u32 = ABI_RESULT_CLOSE;
/** More output is queued: call on_drain. */
export const RESULT_MORE: u32 = ABI_RESULT_MORE;
/** Save the app's state now (BGSAVE): a host that keeps its snapshots begins one. */
export const RESULT_SAVE: u32 = ABI_RESULT_SAVE;
/** Log records wait: the host reads them (log_read) and stores them before it sends these bytes. */
export const RESULT_LOG: u32 = ABI_RESULT_LOG;
/** Other connections have replies waiting, or a client blocked: the host calls woken() and blocked_deadline(). */
export const RESULT_WAKE: u32 = <u32>ABI_RESULT_WAKE;

/** Default size of each of the two channel buffers (input and output). */
export const CHANNEL_BYTES: u32 = ABI_CHANNEL_BYTES;

/** snapshot_begin(0): nothing changed since the last committed snapshot, so none was begun. */
export const SNAPSHOT_UNCHANGED: i32 = ABI_SNAPSHOT_UNCHANGED;

// Statuses of the snapshot exports below zero (snapshot_begin, snapshot_commit, restore_*), for
// apps that save their state (kv).
/** No sealing or no counter (a native or sgx run). */
export const SNAPSHOT_UNAVAILABLE: i32 = ABI_SNAPSHOT_UNAVAILABLE;
/** Modified, truncated, reordered, or sealed by another enclave or platform. */
export const SNAPSHOT_REFUSED: i32 = ABI_SNAPSHOT_REFUSED;
/** Older than the enclave's counter. */
export const SNAPSHOT_ROLLBACK: i32 = ABI_SNAPSHOT_ROLLBACK;
/** Called out of order, or the sizes do not add up. */
export const SNAPSHOT_BAD_CALL: i32 = ABI_SNAPSHOT_BAD_CALL;
/** No memory left for the snapshot's buffers, or for the store a restore builds. */
export const SNAPSHOT_NO_MEMORY: i32 = ABI_SNAPSHOT_NO_MEMORY;

let inPtr: usize = 0;
let outPtr: usize = 0;
let inCap: u32 = 0;
let outCap: u32 = 0;

/** Allocates the shared input and output buffers, `bytes` each (whole 4 KiB pages). Call once, from `_start`. */
export function openChannel(bytes: u32 = CHANNEL_BYTES): void {
  assert(inPtr == 0, "openChannel: the channel is already open");
  assert(bytes >= <u32>SHARED_PAGE_SIZE && bytes <= RESULT_LENGTH_MASK, "openChannel: a buffer must be 4 KiB to 128 MiB");
  inPtr = allocShared(bytes);
  outPtr = allocShared(bytes);
  inCap = bytes;
  outCap = bytes;
}

// The private channel: buffers in private memory for the clients' plaintext when Enclavisor
// terminates attested TLS for the app (host/enclavisor/attested-tls.ts). Enclavisor opens it
// (io_private_open) before any client connects, and from then on on_data's input and on_drain's
// output are there, read and written by Enclavisor alone; the shared buffers carry only what the
// host may see (sealed snapshots and logs, configuration). An app that re-exports
// io_private_open and reads dataIn()/writes dataOut() in its handlers can be served over TLS.
let privIn: usize = 0;
let privOut: usize = 0;

/** Opens the private channel (once; it is allocated like any heap object): 0. */
export function io_private_open(): i32 {
  if (privIn != 0) return 0;
  privIn = heap.alloc(inCap);
  privOut = heap.alloc(outCap);
  return 0;
}

/** The private input buffer (inCap bytes), 0 while the private channel is closed. */
export function io_private_in(): usize {
  return privIn;
}

/** The private output buffer (outCap bytes). */
export function io_private_out(): usize {
  return privOut;
}

/** Where on_data's input is: the private buffer once the private channel is open, else io_in(). */
export function dataIn(): usize {
  return privIn != 0 ? privIn : inPtr;
}

/** Where on_data and on_drain write their output: the private buffer once open, else io_out(). */
export function dataOut(): usize {
  return privOut != 0 ? privOut : outPtr;
}

/** Where the host writes a client's bytes (shared, untrusted). */
export function io_in(): usize {
  return inPtr;
}

export function io_in_cap(): u32 {
  return inCap;
}

/** Where the guest writes its answers (shared: the host reads them). */
export function io_out(): usize {
  return outPtr;
}

export function io_out_cap(): u32 {
  return outCap;
}
