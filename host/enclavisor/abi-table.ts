// The guest ABI's functions: every import the host serves (guest-abi.ts implements exactly these)
// and the exports by which the host drives a server app (assembly/server.ts). The numbers of the
// ABI are in abi-constants.ts. A test compiles the SDK and checks that each import it declares is
// here with the same signature, and that guest-abi.ts serves each one.

/** A Wasm value type as the imports use them (pointers and lengths are i32 on wasm32). */
export type AbiType = "i32" | "i64" | "f64";

export interface AbiFunction {
  readonly module: string;
  readonly name: string;
  readonly params: readonly AbiType[];
  readonly results: readonly AbiType[];
}

/** The import namespace of the enclave SDK. */
export const ENCLAVE_MODULE = "enclave";
/** The AssemblyScript runtime's own imports. */
export const RUNTIME_MODULE = "env";

const fn = (module: string, name: string, params: AbiType[], results: AbiType[] = []): AbiFunction => ({ module, name, params, results });

export const ABI_IMPORTS: readonly AbiFunction[] = [
  fn(ENCLAVE_MODULE, "log", ["i32", "i32"]),
  fn(ENCLAVE_MODULE, "share", ["i32", "i32"]),
  fn(ENCLAVE_MODULE, "seal", ["i32", "i32", "i32", "i32"], ["i32"]),
  fn(ENCLAVE_MODULE, "unseal", ["i32", "i32", "i32", "i32"], ["i32"]),
  fn(ENCLAVE_MODULE, "attest", ["i32", "i32", "i32"], ["i32"]),
  fn(ENCLAVE_MODULE, "random", ["i32", "i32"], ["i32"]),
  fn(ENCLAVE_MODULE, "untrusted_time_ms", [], ["f64"]),
  fn(ENCLAVE_MODULE, "untrusted_cpu_ms", ["i32"], ["f64"]),
  fn(ENCLAVE_MODULE, "counter_read", ["i32", "i32"], ["f64"]),
  fn(ENCLAVE_MODULE, "counter_advance", ["i32", "i32", "f64"], ["i32"]),
  fn(ENCLAVE_MODULE, "channel_binding", ["i32", "i32"], ["i32"]),
  // AssemblyScript's runtime: abort(message, file, line, column), trace(message, n, a0..a4), seed().
  fn(RUNTIME_MODULE, "abort", ["i32", "i32", "i32", "i32"]),
  fn(RUNTIME_MODULE, "trace", ["i32", "i32", "f64", "f64", "f64", "f64", "f64"]),
  fn(RUNTIME_MODULE, "seed", [], ["f64"]),
];

/** The I/O channel a server app exports (assembly/server.ts); a server app is told by on_data. */
export const SERVER_CHANNEL_EXPORTS: readonly AbiFunction[] = [
  fn("", "on_open", ["i32"]),
  fn("", "on_data", ["i32", "i32"], ["i32"]),
  fn("", "on_drain", ["i32"], ["i32"]),
  fn("", "on_close", ["i32"]),
  fn("", "io_in", [], ["i32"]),
  fn("", "io_in_cap", [], ["i32"]),
  fn("", "io_out", [], ["i32"]),
  fn("", "io_out_cap", [], ["i32"]),
];

/** The exports of a server app that can save and load its state as sealed snapshots. */
export const SERVER_SNAPSHOT_EXPORTS: readonly AbiFunction[] = [
  fn("", "snapshot_begin", ["i32"], ["i32"]),
  fn("", "snapshot_read", [], ["i32"]),
  fn("", "snapshot_commit", [], ["i32"]),
  fn("", "snapshot_cancel", []),
  fn("", "restore_begin", ["i32"], ["i32"]),
  fn("", "restore_feed", ["i32"], ["i32"]),
  fn("", "restore_end", ["i32"], ["i32"]),
];

/**
 * Optional: a server app's append-only log (kv's AOF). log_policy() says what the host does with
 * the records (LOG_OFF, LOG_FSYNC_*); log_read() copies the next records' bytes to io_out (their
 * count, 0 when none wait); log_seq() is the seq of the last record read out whole, and
 * log_commit(seq) tells the app that the records up to it are durable. log_replay_begin,
 * log_replay_feed(len) (bytes at io_in) and log_replay_end(allowRollback) replay the stored log at
 * start; log_replay_valid() is then how many of its bytes count (the host cuts the rest).
 */
export const SERVER_LOG_EXPORTS: readonly AbiFunction[] = [
  fn("", "log_policy", [], ["i32"]),
  fn("", "log_read", [], ["i32"]),
  fn("", "log_seq", [], ["f64"]),
  fn("", "log_commit", ["f64"], ["i32"]),
  fn("", "log_replay_begin", [], ["i32"]),
  fn("", "log_replay_feed", ["i32"], ["i32"]),
  fn("", "log_replay_end", ["i32"], ["i32"]),
  fn("", "log_replay_valid", [], ["f64"]),
];

/**
 * Optional: configuration from the host's flags (configure(len): a RESP request of `len` bytes at
 * io_in, for kv a CONFIG SET; the reply goes to io_out, its length is returned).
 */
export const SERVER_CONFIGURE_EXPORT: AbiFunction = fn("", "configure", ["i32"], ["i32"]);

/**
 * Optional: the limits a server app takes from the host (set_limits(maxBulk, maxArgs, memoryPages):
 * the longest bulk string, the most arguments of a request, and the memory limit in 4 KiB pages, 0
 * for none).
 */
export const SERVER_LIMITS_EXPORT: AbiFunction = fn("", "set_limits", ["i32", "i32", "i32"]);

/**
 * Optional: the name of the store instance a server app serves (set_instance(len): `len` bytes the
 * host wrote at io_in, 1 to 64), for it to name its counter and bind its snapshots with.
 */
/**
 * Optional: the private channel of a server app (assembly/server.ts), in private memory, through
 * which Enclavisor hands it the plaintext of attested-TLS connections. io_private_open() opens it
 * (0); io_private_in() and io_private_out() are its buffers, of io_in_cap and io_out_cap bytes.
 */
export const SERVER_PRIVATE_CHANNEL_EXPORTS: readonly AbiFunction[] = [
  fn("", "io_private_open", [], ["i32"]),
  fn("", "io_private_in", [], ["i32"]),
  fn("", "io_private_out", [], ["i32"]),
];

/**
 * Optional: blocked clients (kv's BLPOP and the like). woken() names the next connection to drain
 * after a RESULT_WAKE (0: none left); blocked_deadline() is when to call on_timer (ms on the host's
 * clock, 0: no timer); on_timer() times out the clients due and returns a result word (RESULT_WAKE or
 * 0, no bytes).
 */
export const SERVER_BLOCKING_EXPORTS: readonly AbiFunction[] = [
  fn("", "woken", [], ["i32"]),
  fn("", "blocked_deadline", [], ["f64"]),
  fn("", "on_timer", [], ["i32"]),
];

export const SERVER_INSTANCE_EXPORT: AbiFunction = fn("", "set_instance", ["i32"], ["i32"]);
