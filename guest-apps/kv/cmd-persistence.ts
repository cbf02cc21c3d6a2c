// Persistence commands (Redis rdb.c, aof.c, server.c): BGSAVE [SCHEDULE], BGREWRITEAOF and
// LASTSAVE. kv cannot write a file: BGSAVE asks the host through the result word (RESULT_SAVE,
// assembly/server.ts), and a host that keeps kv's snapshots (`enclave serve --data`, which names
// the store instance first) begins one right after the reply, in the background
// (snapshot-writer.ts). BGREWRITEAOF is the same save: the append-only log starts again from the
// snapshot (Redis 7's AOF with an RDB preamble), and so do the rewrites auto-aof-rewrite-* ask for.
//
// Departures: a kv whose host keeps no snapshots (no --data: no instance was named) answers BGSAVE
// with an error, where Redis would write dump.rdb; SAVE (a blocking save) is not provided.
import { argIs, argc } from "./args";
import { ascii } from "./bytes";
import { instanceName } from "./instance";
import { replyError, replyInt, replyStatus } from "./reply";
import { startedAt } from "./server-state";
import { lastSaveAt, snapshotRunning } from "./snapshot-writer";

const STARTED = ascii("Background saving started");
const REWRITE_STARTED = ascii("Background append only file rewriting started");

let asked = false;

/** BGSAVE asked for a save since the last call: the result word carries RESULT_SAVE. */
export function takeSaveRequest(): bool {
  const r = asked;
  asked = false;
  return r;
}

/** Asks the host for a save (the log was turned on, or has grown enough: a rewrite). */
export function askSave(): void {
  asked = true;
}

export function bgsave(): void {
  if (argc > 1 && !(argc == 2 && argIs(1, "schedule"))) return replyError("syntax error");
  if (instanceName() == null) return replyError("no data directory to save to: start kv with `enclave serve --data DIR`");
  if (snapshotRunning() || asked) return replyError("Background save already in progress");
  asked = true;
  replyStatus(STARTED);
}

/** BGREWRITEAOF: the rewrite is a snapshot, from which the log starts again (aof-writer.ts). */
export function bgrewriteaof(): void {
  if (instanceName() == null) return replyError("no data directory to save to: start kv with `enclave serve --data DIR`");
  if (snapshotRunning() || asked) return replyError("Background append only file rewriting already in progress");
  asked = true;
  replyStatus(REWRITE_STARTED);
}

/** The last save's time (Unix seconds, host clock), or the start's before any, as Redis's server.lastsave. */
export function lastsave(): void {
  replyInt((lastSaveAt != 0 ? lastSaveAt : startedAt) / 1000);
}
