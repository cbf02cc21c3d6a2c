// What a write command puts in the append-only log (aof-writer.ts): its own arguments as a RESP
// request (execute in commands.ts, once the command changed the store and did not answer an
// error), or, for the commands whose effect depends on the time they run, what Redis propagates
// instead (expire.c, t_string.c): a command that logged itself that way marks it (logged), and
// execute adds nothing.
import { al, ap, argc } from "./args";
import { ByteBuf, writeDecimal } from "./bytes";
import { appendonly, logBuffer, logNeedsSelect, logNoMemory } from "./aof-writer";
import { dbIndex } from "./server-state";
import { loading } from "./loading";
import { Rec, keyPtr } from "./record";

let logged = false;

/** The command wrote its own entry: true once, then false until the next one does. */
export function takeLogged(): bool {
  const r = logged;
  logged = false;
  return r;
}

/** The log's buffer for an entry of database `db`, after the SELECT it needs. */
function entry(db: i32 = dbIndex): ByteBuf {
  const b = logBuffer();
  if (logNeedsSelect(db)) {
    head(b, 2);
    text(b, "SELECT");
    decimal(b, db);
  }
  return b;
}

/** Logs the current command as it came (argument 0 on). */
export function logArgs(): void {
  const b = entry();
  head(b, argc);
  for (let i: u32 = 0; i < argc; i++) bulk(b, ap(i), al(i));
  check(b);
}

/** EXPIRE, PEXPIRE (and their AT forms) become PEXPIREAT key ms. */
export function logPexpireat(keyArg: u32, at: i64): void {
  if (!appendonly || loading) return;
  const b = entry();
  head(b, 3);
  text(b, "PEXPIREAT");
  bulk(b, ap(keyArg), al(keyArg));
  decimal(b, at);
  done(b);
}

/** SET with EX or PX (and SETEX, PSETEX) becomes SET key value PXAT ms: the key and value are arguments `k` and `v`. */
export function logSetPxat(k: u32, v: u32, at: i64): void {
  if (!appendonly || loading) return;
  const b = entry();
  head(b, 5);
  text(b, "SET");
  bulk(b, ap(k), al(k));
  bulk(b, ap(v), al(v));
  text(b, "PXAT");
  decimal(b, at);
  done(b);
}

/** A command chosen at random (SPOP) is logged as what it did: `name` key m1 m2..., the members' records' addresses in `members`. */
export function logMembers(name: string, keyArg: u32, members: ByteBuf): void {
  if (!appendonly || loading) return;
  const n = members.len >> 2;
  const b = entry();
  head(b, 2 + n);
  text(b, name);
  bulk(b, ap(keyArg), al(keyArg));
  for (let i: u32 = 0; i < n; i++) {
    const m = changetype<Rec>(<usize>load<u32>(members.ptr + (<usize>i << 2)));
    bulk(b, keyPtr(m), m.keyLen);
  }
  done(b);
}

/** INCRBYFLOAT is logged as SET key value KEEPTTL, and HINCRBYFLOAT as HSET key field value, with the value it computed. */
export function logFloatResult(hash: bool, p: usize, n: u32): void {
  if (!appendonly || loading) return;
  const b = entry();
  head(b, 4);
  text(b, hash ? "HSET" : "SET");
  bulk(b, ap(1), al(1));
  if (hash) bulk(b, ap(2), al(2));
  bulk(b, p, n);
  if (!hash) text(b, "KEEPTTL");
  done(b);
}

/** EXPIRE with a time already past deleted key argument `keyArg`: the command is logged as a DEL. */
export function logDelInstead(keyArg: u32): void {
  if (!appendonly || loading) return;
  logDel(ap(keyArg), al(keyArg), dbIndex);
  logged = true;
}

/** maxmemory evicted a key of database `db` (before the command runs, which is logged on its own). */
export function logEviction(p: usize, n: u32, db: i32): void {
  if (!appendonly || loading) return;
  logDel(p, n, db);
}

function logDel(p: usize, n: u32, db: i32): void {
  const b = entry(db);
  head(b, 2);
  text(b, "DEL");
  bulk(b, p, n);
  check(b);
}

function done(b: ByteBuf): void {
  logged = true;
  check(b);
}

function check(b: ByteBuf): void {
  if (b.failed) logNoMemory();
}

function head(b: ByteBuf, n: u32): void {
  b.putByte(0x2a); // '*'
  b.putDecimal(n);
  crlf(b);
}

function bulk(b: ByteBuf, p: usize, n: u32): void {
  b.putByte(0x24); // '$'
  b.putDecimal(n);
  crlf(b);
  b.put(p, n);
  crlf(b);
}

function text(b: ByteBuf, s: string): void {
  const n = <u32>s.length;
  b.putByte(0x24);
  b.putDecimal(n);
  crlf(b);
  for (let i: u32 = 0; i < n; i++) b.putByte(<u8>s.charCodeAt(i));
  crlf(b);
}

function decimal(b: ByteBuf, v: i64): void {
  const digits = memory.data(24);
  const n = writeDecimal(digits, v);
  bulk(b, digits, n);
}

function crlf(b: ByteBuf): void {
  b.putByte(0x0d);
  b.putByte(0x0a);
}
