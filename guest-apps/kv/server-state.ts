// What outlives a command, as Redis keeps it in its `server` struct (server.h): the one database
// and the counters INFO reports.
import { Db, newDb } from "./store";

/** The one database (SELECT 0). */
export let db = changetype<Db>(newDb()); // at start memory is there

/** Replaces the database (a restored snapshot), freeing the old one. */
export function replaceDb(restored: Db): void {
  db.free();
  db = restored;
}

/** Counters for INFO. */
export let commandsProcessed: i64 = 0;
export let connectionsReceived: i64 = 0;
export let connectedClients: i64 = 0;
export let startedAt: i64 = 0;

export function clientOpened(): void {
  connectionsReceived++;
  connectedClients++;
}

export function clientClosed(): void {
  connectedClients--;
}

export function markStart(t: i64): void {
  startedAt = t;
}

/** Counts a command that passed the name and arity checks (INFO's total_commands_processed). */
// @ts-ignore: decorator
@inline export function countCommand(): void {
  commandsProcessed++;
}
