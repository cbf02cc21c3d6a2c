// The numbers of the guest ABI, the one source for both sides of it: the host's guest-abi.ts and
// server-app contract import them, and so does the SDK in assembly/. AssemblyScript compiles this
// file too, so it holds integer constants only (each side gives them its own types). The imports
// themselves are listed in abi-imports.ts; test/enclavisor/abi-table.test.ts checks the SDK's
// compiled imports and the host's implementations against that list.

/**
 * Version of the guest ABI (the `enclave` and `env` imports and their semantics). It is part of
 * the enclave measurement (measurement.ts, ABI record), so a verifier knows which host interface
 * an enclave was launched against. Bump it on any change. Version 2 added `enclave.counter_read`
 * and `enclave.counter_advance`. Version 3 made a server app's snapshots streams: `snapshot_begin`
 * returns 0 instead of the total size, `snapshot_read` returns the bytes of each piece, 0 at the
 * end, or a status below zero, SNAPSHOT_NO_MEMORY is a status, `set_limits` takes the memory
 * limit as a third argument, the counter imports take a name (empty: the unnamed counter), and a
 * server app may export `set_instance`. Version 4 made snapshots point in time while requests go
 * on (a request no longer cancels one), `snapshot_begin` takes `force` and may answer
 * SNAPSHOT_UNCHANGED, a server app that saves exports `snapshot_cancel`, a result word may ask for
 * a save (RESULT_SAVE, bit 28) or say that log records wait (RESULT_LOG, bit 27; lengths take bits
 * 0-26), and a server app may export the log's functions (SERVER_LOG_EXPORTS) and `configure`.
 * Version 5 added `enclave.channel_binding` and a server app's private channel
 * (SERVER_PRIVATE_CHANNEL_EXPORTS), through which Enclavisor serves it over attested TLS, and
 * blocked clients: the result word's bit 31 (RESULT_WAKE) and SERVER_BLOCKING_EXPORTS.
 * Version 6 added `enclave.untrusted_cpu_ms`, the host process's CPU time (kv's INFO cpu).
 */
export const ABI_VERSION = 6;

/** Bytes a sealed blob has beyond its data: the blob header (sealing.ts, blob format). */
export const SEAL_OVERHEAD = 36;
/** Largest plaintext one `enclave.seal` call takes (1 MiB): bounds what a guest makes the host allocate. */
export const MAX_SEAL_PLAINTEXT = 1048576;
/** Bytes of guest data an enclave report carries (attestation.ts, REPORT_DATA). */
export const ATTEST_DATA_BYTES = 64;
/**
 * Bytes of a connection's channel binding (`enclave.channel_binding`): the TLS exporter of RFC 9266
 * (tls-exporter), 32 bytes.
 */
export const CHANNEL_BINDING_BYTES = 32;
/** Most bytes one `enclave.random` call fills; the SDK asks in chunks of at most this. */
export const MAX_RANDOM_BYTES = 65536;
/** Longest guest text the host decodes for `enclave.log` and a message of `env.abort` (longer is cut). */
export const MAX_MESSAGE_BYTES = 65536;
/** Pages shared with the host (`enclave.share`) are whole pages of this size. */
export const SHARED_PAGE_SIZE = 4096;

// Results of `enclave.seal` and `enclave.unseal` below zero (the SDK turns them into null).
/** The enclave has no sealing key (a native or sgx run). */
export const SEAL_UNAVAILABLE = -1;
/** Bad arguments: too large an input, or an output buffer too small. */
export const SEAL_BAD_INPUT = -2;
/** The blob was refused: malformed, modified, or sealed by another enclave or platform. */
export const SEAL_REFUSED = -3;

/** `enclave.attest`: the enclave cannot attest (native, sgx, or a VM without SNP reports). */
export const ATTEST_UNAVAILABLE = -1;

/** Longest name of a named counter (`enclave.counter_read` and `counter_advance`). */
export const MAX_COUNTER_NAME = 64;

// Results of `enclave.counter_advance` (`enclave.counter_read` returns -1 without a counter, and
// COUNTER_REFUSED for a name over MAX_COUNTER_NAME bytes).
export const COUNTER_OK = 0;
/** The enclave has no counter (a native or sgx run). */
export const COUNTER_UNAVAILABLE = -1;
/** Below the counter, or not a whole number from 0 to 2^53 - 1: a counter never goes back. */
export const COUNTER_REFUSED = -2;

// The server-app contract (assembly/server.ts): the result word of on_data and on_drain.
/** Bytes the guest wrote at io_out(), bits 0-26. */
export const RESULT_LENGTH_MASK = 0x07ffffff;
/** Records of the app's append-only log wait for the host (log_read): it stores them before it sends the bytes. */
export const RESULT_LOG = 0x08000000;
/** Save the app's state now (BGSAVE): a host that persists it begins a snapshot. */
export const RESULT_SAVE = 0x10000000;
/** Close the connection once this result's bytes are sent. */
export const RESULT_CLOSE = 0x20000000;
/** More output is queued in the guest: the host calls on_drain. */
export const RESULT_MORE = 0x40000000;
/**
 * Other connections have replies waiting (blocked clients served or timed out), or a client
 * blocked: the host drains each connection woken() names and times on_timer by blocked_deadline().
 */
export const RESULT_WAKE = 0x80000000;
/** Default size of each of the two channel buffers. */
export const CHANNEL_BYTES = 65536;

/** `snapshot_begin(0)`: nothing changed since the last committed snapshot, and none was begun. */
export const SNAPSHOT_UNCHANGED = 1;

/** log_policy(): the app keeps no log; or what the host does with the records it stores. */
export const LOG_OFF = -1;
/** Store the records; the kernel writes them when it likes (appendfsync no). */
export const LOG_FSYNC_NO = 0;
/** fsync and commit about once a second (appendfsync everysec). */
export const LOG_FSYNC_EVERYSEC = 1;
/** fsync and commit before the replies of the commands they log are sent (appendfsync always). */
export const LOG_FSYNC_ALWAYS = 2;

// Statuses of a server app's snapshot exports below zero.
/** No sealing or no counter (a native or sgx run). */
export const SNAPSHOT_UNAVAILABLE = -1;
/** The snapshot was refused: modified, truncated, reordered, or another enclave's or platform's. */
export const SNAPSHOT_REFUSED = -2;
/** The snapshot is older than the enclave's counter. */
export const SNAPSHOT_ROLLBACK = -3;
/** The calls came out of order, or the sizes do not add up. */
export const SNAPSHOT_BAD_CALL = -4;
/** The enclave has no memory left for the snapshot's buffers, or for the store a restore builds. */
export const SNAPSHOT_NO_MEMORY = -5;
