// What outlives a command, as Redis keeps it in its `server` struct (server.h): the databases and
// the counters INFO reports.
import { Db, newDb } from "./store";
import { DATABASES } from "./config";

export { DATABASES };

const dbs = new StaticArray<Db>(DATABASES);
for (let i = 0; i < DATABASES; i++) dbs[i] = changetype<Db>(newDb()); // at start memory is there

/** The database the command being run works on (its client's SELECT), and its index. */
export let db: Db = dbs[0];
export let dbIndex: i32 = 0;

/** Makes database `i` (0 <= i < DATABASES) the current one. */
// @ts-ignore: decorator
@inline export function selectDb(i: i32): void {
  db = unchecked(dbs[i]);
  dbIndex = i;
}

export function dbAt(i: i32): Db {
  return unchecked(dbs[i]);
}

/** SWAPDB: the two databases trade places (their clients stay on the index they selected). */
export function swapDbs(a: i32, b: i32): void {
  const t = unchecked(dbs[a]);
  unchecked((dbs[a] = dbs[b]));
  unchecked((dbs[b] = t));
  db = unchecked(dbs[dbIndex]);
}

let sweepNext: i32 = 0;

/** Active expiry, a little at a time: one database's sweep, the next database with expiring keys each call. */
export function sweepExpired(): void {
  for (let k = 0; k < DATABASES; k++) {
    const i = (sweepNext + k) % DATABASES;
    const d = unchecked(dbs[i]);
    if (d.expiringCount == 0) continue;
    d.sweep();
    sweepNext = (i + 1) % DATABASES;
    return;
  }
}

/** Expired keys removed, in every database (INFO expired_keys). */
export function expiredKeys(): i64 {
  let n: i64 = 0;
  for (let i = 0; i < DATABASES; i++) n += unchecked(dbs[i]).expiredKeys;
  return n;
}

/** Replaces every database (a restored snapshot's), freeing the old ones. */
export function replaceDbs(restored: StaticArray<Db>): void {
  for (let i = 0; i < DATABASES; i++) {
    unchecked(dbs[i]).free();
    unchecked((dbs[i] = restored[i]));
  }
  db = unchecked(dbs[dbIndex]);
}

/** Counters for INFO. */
export let commandsProcessed: i64 = 0;
export let connectionsReceived: i64 = 0;
export let connectedClients: i64 = 0;
export let startedAt: i64 = 0;

/** CONFIG RESETSTAT: the totals start again (the expired keys of every database too). */
export function resetServerStats(): void {
  commandsProcessed = 0;
  connectionsReceived = 0;
  for (let i = 0; i < DATABASES; i++) unchecked(dbs[i]).expiredKeys = 0;
}

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
