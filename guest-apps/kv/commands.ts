// The commands: lookup by name (case-insensitive, on bytes), Redis's arity check, and each
// command's semantics and replies as Redis 7.0 gives them (t_string.c, t_hash.c, t_list.c, db.c,
// expire.c, server.c). The error texts, and where each comes from:
//
//   ERR unknown command '<name>', with args beginning with: '<a>' '<b>'   server.c processCommand
//   ERR wrong number of arguments for '<name>' command                    server.c (arity), and
//                                         MSET/HSET with an odd count, PING with 2+ args, LPOP with 3+
//   ERR unknown subcommand '<sub>'. Try CONFIG HELP.                     CONFIG, COMMAND, CLIENT
//   WRONGTYPE Operation against a key holding the wrong kind of value    shared.wrongtypeerr
//   ERR syntax error                                                    shared.syntaxerr
//   ERR value is not an integer or out of range                         getLongLongFromObjectOrReply
//   ERR value is out of range                                           SELECT past an int
//   ERR value is out of range, must be positive                         LPOP/RPOP count
//   ERR increment or decrement would overflow                           INCR*, DECR*, HINCRBY
//   ERR decrement would overflow                                        DECRBY i64-min
//   ERR hash value is not an integer                                    HINCRBY
//   ERR invalid expire time in '<cmd>' command                          SET EX/PX, EXPIRE, PEXPIRE
//   ERR NX and XX, GT or LT options at the same time are not compatible EXPIRE
//   ERR GT and LT options at the same time are not compatible           EXPIRE
//   ERR Unsupported option <opt>                                        EXPIRE
//   ERR string exceeds maximum allowed size (proto-max-bulk-len)        APPEND
//   ERR DB index is out of range                                        SELECT n, n != 0
//   ERR invalid cursor                                                  SCAN
//   ERR Client names cannot contain spaces, newlines or special characters.   CLIENT SETNAME
//   ERR Protocol error: ...  (then the connection closes)               conn.ts
import { ascii, bytesToString, copyBytes, copyMemory, parseBufI64, parseI64, parsedInt, writeDecimal } from "./bytes";
import { Conn, maxBulk } from "./conn";
import { now } from "./clock";
import { charge } from "./gc";
import { globMatch } from "./glob";
import {
  replyArray, replyBulk, replyBulkBuf, replyBulkInt, replyBulkText, replyEmptyArray, replyError, replyInt,
  replyNil, replyNullArray, replyOk, replyStatus, replyWrongType,
} from "./reply";
import { Db, Deque, Dict, Entry, TYPE_HASH, TYPE_LIST, TYPE_STRING, created, hashBytes } from "./store";

/** The one database (SELECT 0). */
export let db = new Db();

/** Replaces the database (a restored snapshot). */
export function replaceDb(restored: Db): void {
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

// The arguments of the command being run (set by execute).
let base: usize = 0;
let argvPtr: usize = 0;
let argc: u32 = 0;
let conn: Conn | null = null;

// @ts-ignore: decorator
@inline function ap(i: u32): usize {
  return base + load<u32>(argvPtr + (i << 3));
}
// @ts-ignore: decorator
@inline function al(i: u32): u32 {
  return load<u32>(argvPtr + (i << 3) + 4);
}

function argText(i: u32): string {
  return bytesToString(ap(i), al(i));
}

/** Is argument `i` the word `lower` (ASCII lower case), ignoring case? */
function argIs(i: u32, lower: string): bool {
  const n = al(i);
  if (<i32>n != lower.length) return false;
  const p = ap(i);
  for (let k: u32 = 0; k < n; k++) {
    let b = <u32>load<u8>(p + k);
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b != <u32>lower.charCodeAt(k)) return false;
  }
  return true;
}

function argInt(i: u32): bool {
  return parseI64(ap(i), al(i));
}

// Command ids.
const PING = 0, ECHO = 1, QUIT = 2, SELECT = 3, SET = 4, GET = 5, GETSET = 6, DEL = 7, EXISTS = 8, MGET = 9,
  MSET = 10, INCR = 11, INCRBY = 12, DECR = 13, DECRBY = 14, APPEND = 15, STRLEN = 16, EXPIRE = 17, PEXPIRE = 18,
  TTL = 19, PTTL = 20, PERSIST = 21, KEYS = 22, SCAN = 23, TYPE = 24, DBSIZE = 25, FLUSHDB = 26, FLUSHALL = 27,
  HSET = 28, HGET = 29, HDEL = 30, HGETALL = 31, HLEN = 32, HEXISTS = 33, HINCRBY = 34, LPUSH = 35, RPUSH = 36,
  LPOP = 37, RPOP = 38, LLEN = 39, LRANGE = 40, INFO = 41, CONFIG = 42, COMMAND = 43, CLIENT = 44;

class Command {
  constructor(public name: string, public id: i32, public arity: i32, public flags: string, public firstKey: i32, public lastKey: i32) {}
}

const commands: Array<Command> = [
  new Command("ping", PING, -1, "fast", 0, 0),
  new Command("echo", ECHO, 2, "fast", 0, 0),
  new Command("quit", QUIT, -1, "fast", 0, 0),
  new Command("select", SELECT, 2, "fast", 0, 0),
  new Command("set", SET, -3, "write", 1, 1),
  new Command("get", GET, 2, "readonly fast", 1, 1),
  new Command("getset", GETSET, 3, "write fast", 1, 1),
  new Command("del", DEL, -2, "write", 1, -1),
  new Command("exists", EXISTS, -2, "readonly fast", 1, -1),
  new Command("mget", MGET, -2, "readonly fast", 1, -1),
  new Command("mset", MSET, -3, "write", 1, -1),
  new Command("incr", INCR, 2, "write fast", 1, 1),
  new Command("incrby", INCRBY, 3, "write fast", 1, 1),
  new Command("decr", DECR, 2, "write fast", 1, 1),
  new Command("decrby", DECRBY, 3, "write fast", 1, 1),
  new Command("append", APPEND, 3, "write", 1, 1),
  new Command("strlen", STRLEN, 2, "readonly fast", 1, 1),
  new Command("expire", EXPIRE, -3, "write fast", 1, 1),
  new Command("pexpire", PEXPIRE, -3, "write fast", 1, 1),
  new Command("ttl", TTL, 2, "readonly fast", 1, 1),
  new Command("pttl", PTTL, 2, "readonly fast", 1, 1),
  new Command("persist", PERSIST, 2, "write fast", 1, 1),
  new Command("keys", KEYS, 2, "readonly", 0, 0),
  new Command("scan", SCAN, -2, "readonly", 0, 0),
  new Command("type", TYPE, 2, "readonly fast", 1, 1),
  new Command("dbsize", DBSIZE, 1, "readonly fast", 0, 0),
  new Command("flushdb", FLUSHDB, -1, "write", 0, 0),
  new Command("flushall", FLUSHALL, -1, "write", 0, 0),
  new Command("hset", HSET, -4, "write fast", 1, 1),
  new Command("hget", HGET, 3, "readonly fast", 1, 1),
  new Command("hdel", HDEL, -3, "write fast", 1, 1),
  new Command("hgetall", HGETALL, 2, "readonly", 1, 1),
  new Command("hlen", HLEN, 2, "readonly fast", 1, 1),
  new Command("hexists", HEXISTS, 3, "readonly fast", 1, 1),
  new Command("hincrby", HINCRBY, 4, "write fast", 1, 1),
  new Command("lpush", LPUSH, -3, "write fast", 1, 1),
  new Command("rpush", RPUSH, -3, "write fast", 1, 1),
  new Command("lpop", LPOP, -2, "write fast", 1, 1),
  new Command("rpop", RPOP, -2, "write fast", 1, 1),
  new Command("llen", LLEN, 2, "readonly fast", 1, 1),
  new Command("lrange", LRANGE, 4, "readonly", 1, 1),
  new Command("info", INFO, -1, "", 0, 0),
  new Command("config", CONFIG, -2, "", 0, 0),
  new Command("command", COMMAND, -1, "", 0, 0),
  new Command("client", CLIENT, -2, "", 0, 0),
];

// The lookup by name makes no string and reads the name once: a name (at most 8 bytes) packed in
// a u64, lower-cased, indexes an open-addressing table of NAME_SLOTS slots (names: the packed names;
// ids: command id | name length << 8, -1 for an empty slot). Under the software MMU each load is
// a checked one, and this runs for every request.
const MAX_NAME = 8;
const NAME_SLOTS = 128;
const names = new StaticArray<u64>(NAME_SLOTS);
const ids = new StaticArray<i32>(NAME_SLOTS);
/** Each command's arity, by id: execute holds no Command reference (see its comment on the shadow stack). */
const arities = new StaticArray<i32>(NAME_SLOTS);

// @ts-ignore: decorator
@inline function nameSlot(key: u64): i32 {
  return <i32>((key * 0x9e3779b97f4a7c15) >> 57); // Fibonacci hashing (Knuth 6.4): the top 7 bits
}

/** The bytes at `p` (n <= 8) as a u64, ASCII letters lower-cased. */
function packName(p: usize, n: u32): u64 {
  let key: u64 = 0;
  for (let k: u32 = 0; k < n; k++) {
    let b = <u32>load<u8>(p + k);
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    key |= <u64>b << (<u64>k << 3);
  }
  return key;
}

export function initCommands(): void {
  for (let s = 0; s < NAME_SLOTS; s++) unchecked((ids[s] = -1));
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i];
    assert(c.id == i && c.name.length <= MAX_NAME && i < 0x100);
    const name = ascii(c.name);
    const key = packName(changetype<usize>(name), name.byteLength);
    let s = nameSlot(key);
    while (unchecked(ids[s]) >= 0) s = (s + 1) & (NAME_SLOTS - 1);
    unchecked((names[s] = key));
    unchecked((ids[s] = i | (name.byteLength << 8)));
    unchecked((arities[i] = c.arity));
  }
}

/** The id of the command named by the `n` bytes at `p`, or -1. */
function lookupCommand(p: usize, n: u32): i32 {
  if (n > <u32>MAX_NAME) return -1;
  const key = packName(p, n);
  const want = <i32>(n << 8);
  let s = nameSlot(key);
  let v = unchecked(ids[s]);
  while (v >= 0) {
    if ((v & ~0xff) == want && unchecked(names[s]) == key) return v & 0xff;
    s = (s + 1) & (NAME_SLOTS - 1);
    v = unchecked(ids[s]);
  }
  return -1;
}

function wrongArity(name: string): void {
  replyError("wrong number of arguments for '" + name + "' command");
}

function syntaxError(): void {
  replyError("syntax error");
}

function notInteger(): void {
  replyError("value is not an integer or out of range");
}

function unknownSubcommand(command: string): void {
  replyError("unknown subcommand '" + truncate(argText(1), 128) + "'. Try " + command + " HELP.");
}

function truncate(s: string, n: i32): string {
  return s.length > n ? s.substring(0, n) : s;
}

function unknownCommand(): void {
  // Redis quotes the arguments until 128 characters of them are out.
  let args = "";
  for (let i: u32 = 1; i < argc && args.length < 128; i++) args += "'" + truncate(argText(i), 128 - args.length) + "' ";
  replyError("unknown command '" + truncate(argText(0), 128) + "', with args beginning with: " + args);
}

/**
 * Runs the command in c.argv (argc >= 1), replying into c.output. The error paths are functions of
 * their own: each managed temporary of a function takes a slot of its shadow-stack frame, which is
 * zeroed on every entry (a memory.fill beyond a few slots) and stored to at every use, all of them
 * checked accesses under the software MMU.
 */
export function execute(c: Conn): void {
  base = c.input.ptr;
  argvPtr = c.argv.ptr;
  argc = c.argc;
  conn = c;
  const id = lookupCommand(ap(0), al(0));
  if (id < 0) return unknownCommand();
  const arity = unchecked(arities[id]);
  if ((arity > 0 && <i32>argc != arity) || (arity < 0 && <i32>argc < -arity)) {
    wrongArity(commands[id].name);
    return;
  }
  commandsProcessed++;
  switch (id) {
    case PING: ping(); break;
    case ECHO: replyBulk(ap(1), al(1)); break;
    case QUIT: replyOk(); c.closing = true; break;
    case SELECT: select(); break;
    case SET: set(); break;
    case GET: get(); break;
    case GETSET: getset(); break;
    case DEL: del(); break;
    case EXISTS: exists(); break;
    case MGET: mget(); break;
    case MSET: mset(); break;
    case INCR: incrBy(1); break;
    case DECR: incrBy(-1); break;
    case INCRBY: if (argInt(2)) incrBy(parsedInt); else notInteger(); break;
    case DECRBY: decrBy(); break;
    case APPEND: append(); break;
    case STRLEN: strlen(); break;
    case EXPIRE: expire(1000, "expire"); break;
    case PEXPIRE: expire(1, "pexpire"); break;
    case TTL: ttl(1000); break;
    case PTTL: ttl(1); break;
    case PERSIST: persist(); break;
    case KEYS: keys(); break;
    case SCAN: scan(); break;
    case TYPE: type(); break;
    case DBSIZE: db.purge(); replyInt(db.keys.count); break;
    case FLUSHDB: case FLUSHALL: flush(); break;
    case HSET: hset(); break;
    case HGET: hget(); break;
    case HDEL: hdel(); break;
    case HGETALL: hgetall(); break;
    case HLEN: hlen(); break;
    case HEXISTS: hexists(); break;
    case HINCRBY: hincrby(); break;
    case LPUSH: push(true); break;
    case RPUSH: push(false); break;
    case LPOP: pop(true, "lpop"); break;
    case RPOP: pop(false, "rpop"); break;
    case LLEN: llen(); break;
    case LRANGE: lrange(); break;
    case INFO: info(); break;
    case CONFIG: config(); break;
    case COMMAND: command(); break;
    case CLIENT: client(); break;
    default: unreachable();
  }
}

// ---- connection ----

const PONG = ascii("PONG");

function ping(): void {
  if (argc > 2) wrongArity("ping");
  else if (argc == 2) replyBulk(ap(1), al(1));
  else replyStatus(PONG);
}

function select(): void {
  if (!argInt(1)) notInteger();
  else if (parsedInt < i32.MIN_VALUE || parsedInt > i32.MAX_VALUE) replyError("value is out of range");
  else if (parsedInt != 0) replyError("DB index is out of range");
  else replyOk();
}

// ---- strings ----

function lookup(i: u32): Entry | null {
  return db.lookup(ap(i), al(i));
}

/**
 * Sets key argument `k` to the bytes of argument `v` (a string), keeping the TTL only if asked.
 * `found` is what lookup(k), the last lookup, returned.
 */
function setString(k: u32, v: u32, keepTtl: bool, found: Entry | null): Entry {
  const e = found != null ? found : db.addMissing(ap(k), al(k));
  if (e.expireAt != 0 && !keepTtl) db.clearExpiry(e);
  storeString(e, ap(v), al(v));
  return e;
}

function storeString(e: Entry, p: usize, n: u32): void {
  if (e.type == TYPE_STRING) {
    const old = e.str;
    if (old != null && <u32>old.byteLength == n) copyMemory(changetype<usize>(old), p, n); // same size: reuse the buffer
    else e.str = copyBytes(p, n);
    return;
  }
  e.str = copyBytes(p, n);
  e.type = TYPE_STRING;
  e.hash = null;
  e.list = null;
}

const FLAG_NX = 1, FLAG_XX = 2, FLAG_GET = 4, FLAG_KEEPTTL = 8, FLAG_EX = 16, FLAG_PX = 32, FLAG_EXAT = 64, FLAG_PXAT = 128;
const EXPIRE_FLAGS = FLAG_EX | FLAG_PX | FLAG_EXAT | FLAG_PXAT;

function set(): void {
  let flags = 0;
  let expireArg: u32 = 0;
  for (let j: u32 = 3; j < argc; j++) {
    const hasNext = j + 1 < argc;
    if (argIs(j, "nx") && !(flags & FLAG_XX)) flags |= FLAG_NX;
    else if (argIs(j, "xx") && !(flags & FLAG_NX)) flags |= FLAG_XX;
    else if (argIs(j, "get")) flags |= FLAG_GET;
    else if (argIs(j, "keepttl") && !(flags & EXPIRE_FLAGS)) flags |= FLAG_KEEPTTL;
    else if (argIs(j, "ex") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_EX))) && hasNext) {
      flags |= FLAG_EX;
      expireArg = ++j;
    } else if (argIs(j, "px") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_PX))) && hasNext) {
      flags |= FLAG_PX;
      expireArg = ++j;
    } else if (argIs(j, "exat") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_EXAT))) && hasNext) {
      flags |= FLAG_EXAT;
      expireArg = ++j;
    } else if (argIs(j, "pxat") && !(flags & (FLAG_KEEPTTL | (EXPIRE_FLAGS & ~FLAG_PXAT))) && hasNext) {
      flags |= FLAG_PXAT;
      expireArg = ++j;
    } else {
      syntaxError();
      return;
    }
  }
  let at: i64 = 0;
  if (flags & EXPIRE_FLAGS) {
    if (!argInt(expireArg)) return notInteger();
    let ms = parsedInt;
    const seconds = (flags & (FLAG_EX | FLAG_EXAT)) != 0;
    if (ms <= 0 || (seconds && ms > i64.MAX_VALUE / 1000)) return replyError("invalid expire time in 'set' command");
    if (seconds) ms *= 1000;
    if (flags & (FLAG_EX | FLAG_PX)) {
      if (ms > i64.MAX_VALUE - now()) return replyError("invalid expire time in 'set' command");
      ms += now();
    }
    at = ms;
  }
  const e = lookup(1);
  if (flags & FLAG_GET) {
    if (e == null) replyNil();
    else if (e.type != TYPE_STRING) return replyWrongType();
    else replyBulkBuf(changetype<ArrayBuffer>(e.str));
  }
  if (((flags & FLAG_NX) && e != null) || ((flags & FLAG_XX) && e == null)) {
    if (!(flags & FLAG_GET)) replyNil();
    return;
  }
  const stored = setString(1, 2, (flags & FLAG_KEEPTTL) != 0, e);
  if (at != 0) {
    if (at <= now()) db.remove(stored); // an absolute time in the past: Redis deletes at once
    else db.setExpiry(stored, at);
  }
  if (!(flags & FLAG_GET)) replyOk();
}

function get(): void {
  const e = lookup(1);
  if (e == null) replyNil();
  else if (e.type != TYPE_STRING) replyWrongType();
  else replyBulkBuf(changetype<ArrayBuffer>(e.str));
}

function getset(): void {
  const e = lookup(1);
  if (e != null && e.type != TYPE_STRING) return replyWrongType();
  if (e == null) replyNil();
  else replyBulkBuf(changetype<ArrayBuffer>(e.str));
  setString(1, 2, false, e);
}

function del(): void {
  let n = 0;
  for (let i: u32 = 1; i < argc; i++) {
    const e = lookup(i);
    if (e != null) {
      db.remove(e);
      n++;
    }
  }
  replyInt(n);
}

function exists(): void {
  let n = 0;
  for (let i: u32 = 1; i < argc; i++) if (lookup(i) != null) n++;
  replyInt(n);
}

function mget(): void {
  replyArray(argc - 1);
  for (let i: u32 = 1; i < argc; i++) {
    const e = lookup(i);
    if (e == null || e.type != TYPE_STRING) replyNil();
    else replyBulkBuf(changetype<ArrayBuffer>(e.str));
  }
}

function mset(): void {
  if ((argc & 1) == 0) return wrongArity("mset");
  for (let i: u32 = 1; i < argc; i += 2) {
    setString(i, i + 1, false, lookup(i));
  }
  replyOk();
}

const OVERFLOW = "increment or decrement would overflow";

/** Whether old + by fits in an i64; replies the overflow error if not. */
function addChecked(old: i64, by: i64): bool {
  if ((by < 0 && old < 0 && by < i64.MIN_VALUE - old) || (by > 0 && old > 0 && by > i64.MAX_VALUE - old)) {
    replyError(OVERFLOW);
    return false;
  }
  return true;
}

const DIGITS = memory.data(32);

function incrBy(by: i64): void {
  const e = lookup(1);
  let old: i64 = 0;
  if (e != null) {
    if (e.type != TYPE_STRING) return replyWrongType();
    if (!parseBufI64(changetype<ArrayBuffer>(e.str))) return notInteger();
    old = parsedInt;
  }
  if (!addChecked(old, by)) return;
  const v = old + by;
  const target = e != null ? e : db.addMissing(ap(1), al(1));
  storeString(target, DIGITS, writeDecimal(DIGITS, v));
  replyInt(v);
}

function decrBy(): void {
  if (!argInt(2)) return notInteger();
  if (parsedInt == i64.MIN_VALUE) return replyError("decrement would overflow");
  incrBy(-parsedInt);
}

function append(): void {
  const e = lookup(1);
  const n = al(2);
  if (e == null) {
    setString(1, 2, false, null);
    replyInt(n);
    return;
  }
  if (e.type != TYPE_STRING) return replyWrongType();
  const old = changetype<ArrayBuffer>(e.str);
  const total = <u64>old.byteLength + <u64>n;
  if (total > <u64>maxBulk) return replyError("string exceeds maximum allowed size (proto-max-bulk-len)");
  const grown = new ArrayBuffer(<i32>total);
  memory.copy(changetype<usize>(grown), changetype<usize>(old), old.byteLength);
  memory.copy(changetype<usize>(grown) + old.byteLength, ap(2), n);
  e.str = grown;
  replyInt(<i64>total);
}

function strlen(): void {
  const e = lookup(1);
  if (e == null) replyInt(0);
  else if (e.type != TYPE_STRING) replyWrongType();
  else replyInt(changetype<ArrayBuffer>(e.str).byteLength);
}

// ---- expiry ----

function expire(unit: i64, name: string): void {
  let nx = false, xx = false, gt = false, lt = false;
  for (let j: u32 = 3; j < argc; j++) {
    if (argIs(j, "nx")) nx = true;
    else if (argIs(j, "xx")) xx = true;
    else if (argIs(j, "gt")) gt = true;
    else if (argIs(j, "lt")) lt = true;
    else return replyError("Unsupported option " + argText(j));
  }
  if (nx && (xx || gt || lt)) return replyError("NX and XX, GT or LT options at the same time are not compatible");
  if (gt && lt) return replyError("GT and LT options at the same time are not compatible");
  if (!argInt(2)) return notInteger();
  let when = parsedInt;
  if (unit == 1000) {
    if (when > i64.MAX_VALUE / 1000 || when < i64.MIN_VALUE / 1000) return replyError("invalid expire time in '" + name + "' command");
    when *= 1000;
  }
  if (when > i64.MAX_VALUE - now()) return replyError("invalid expire time in '" + name + "' command");
  when += now();
  const e = lookup(1);
  if (e == null) return replyInt(0);
  const current: i64 = e.expireAt != 0 ? e.expireAt : -1;
  if ((nx && current != -1) || (xx && current == -1) || (gt && (current == -1 || when <= current)) || (lt && current != -1 && when >= current)) {
    return replyInt(0);
  }
  if (when <= now()) db.remove(e);
  else db.setExpiry(e, when);
  replyInt(1);
}

function ttl(unit: i64): void {
  const e = lookup(1);
  if (e == null) return replyInt(-2);
  if (e.expireAt == 0) return replyInt(-1);
  let left = e.expireAt - now();
  if (left < 0) left = 0;
  replyInt(unit == 1 ? left : (left + 500) / 1000);
}

function persist(): void {
  const e = lookup(1);
  if (e == null || e.expireAt == 0) return replyInt(0);
  db.clearExpiry(e);
  replyInt(1);
}

// ---- keyspace ----

function typeName(e: Entry | null): string {
  if (e == null) return "none";
  if (e.type == TYPE_HASH) return "hash";
  if (e.type == TYPE_LIST) return "list";
  return "string";
}

function type(): void {
  replyStatus(ascii(typeName(lookup(1))));
}

function keys(): void {
  db.purge();
  const pat = ap(1);
  const pn = al(1);
  const all = pn == 1 && load<u8>(pat) == 0x2a;
  const found = new Array<ArrayBuffer>();
  const dict = db.keys;
  for (let i = 0; i < dict.size; i++) {
    const e = dict.at(i);
    if (e != null && (all || globMatch(pat, pn, changetype<usize>(e.key), e.key.byteLength))) found.push(e.key);
  }
  replyArray(found.length);
  for (let i = 0; i < found.length; i++) replyBulkBuf(unchecked(found[i]));
}

function scan(): void {
  // The cursor: decimal digits only (Redis: strtoul, refusing spaces and trailing bytes).
  const cp = ap(1);
  const cn = al(1);
  let cursor: u64 = 0;
  for (let k: u32 = 0; k < cn; k++) {
    const d = <u32>load<u8>(cp + k) - 0x30;
    if (d > 9 || cursor > (u64.MAX_VALUE - d) / 10) return replyError("invalid cursor");
    cursor = cursor * 10 + d;
  }
  let count: i64 = 10;
  let patArg: u32 = 0;
  let typeArg: u32 = 0;
  for (let j: u32 = 2; j < argc; j++) {
    const hasNext = j + 1 < argc;
    if (argIs(j, "count") && hasNext) {
      if (!argInt(j + 1)) return notInteger();
      count = parsedInt;
      if (count < 1) return syntaxError();
      j++;
    } else if (argIs(j, "match") && hasNext) {
      patArg = ++j;
    } else if (argIs(j, "type") && hasNext) {
      typeArg = ++j;
    } else {
      return syntaxError();
    }
  }
  const dict = db.keys;
  let c = <u32>cursor;
  const found = new Array<Entry>();
  let budget = count * 10;
  if (dict.count > 0) {
    do {
      dict.scanHome(c, found);
      c = dict.nextCursor(c);
    } while (c != 0 && budget-- > 0 && <i64>found.length < count);
  } else {
    c = 0;
  }
  const matched = new Array<ArrayBuffer>();
  for (let i = 0; i < found.length; i++) {
    const e = unchecked(found[i]);
    if (e.expireAt != 0 && e.expireAt <= now()) continue;
    if (patArg != 0 && !globMatch(ap(patArg), al(patArg), changetype<usize>(e.key), e.key.byteLength)) continue;
    if (typeArg != 0 && !argIs(typeArg, typeName(e))) continue;
    matched.push(e.key);
  }
  replyArray(2);
  replyBulkInt(c);
  replyArray(matched.length);
  for (let i = 0; i < matched.length; i++) replyBulkBuf(unchecked(matched[i]));
}

function flush(): void {
  if (argc > 2 || (argc == 2 && !argIs(1, "async") && !argIs(1, "sync"))) return syntaxError();
  charge(<u64>memory.size() << 16); // all of the store is garbage: collect after this batch
  db.flush();
  replyOk();
}

// ---- hashes ----

/** The hash at key argument 1, made if absent; null after a WRONGTYPE reply. */
function hashForWrite(): Dict | null {
  const e = lookup(1);
  if (e != null) {
    if (e.type != TYPE_HASH) {
      replyWrongType();
      return null;
    }
    return e.hash;
  }
  const made = db.addMissing(ap(1), al(1));
  made.type = TYPE_HASH;
  made.str = null;
  const h = new Dict();
  made.hash = h;
  return h;
}

/** The hash at key argument 1; null when absent (wrongType tells a WRONGTYPE reply was sent). */
let wrongType = false;
function hashForRead(): Dict | null {
  wrongType = false;
  const e = lookup(1);
  if (e == null) return null;
  if (e.type != TYPE_HASH) {
    wrongType = true;
    replyWrongType();
    return null;
  }
  return e.hash;
}

function hset(): void {
  if ((argc & 1) != 0) return wrongArity("hset");
  const h = hashForWrite();
  if (h == null) return;
  let added = 0;
  for (let i: u32 = 2; i < argc; i += 2) {
    const f = h.findOrAdd(ap(i), al(i));
    if (created) added++;
    f.str = copyBytes(ap(i + 1), al(i + 1));
  }
  replyInt(added);
}

function hget(): void {
  const h = hashForRead();
  if (wrongType) return;
  const f: Entry | null = h == null ? null : h.find(ap(2), al(2), hashBytes(ap(2), al(2)));
  if (f == null) replyNil();
  else replyBulkBuf(changetype<ArrayBuffer>(f.str));
}

function hdel(): void {
  const h = hashForRead();
  if (wrongType) return;
  if (h == null) return replyInt(0);
  let n = 0;
  for (let i: u32 = 2; i < argc; i++) {
    const f = h.find(ap(i), al(i), hashBytes(ap(i), al(i)));
    if (f != null) {
      h.remove(f);
      n++;
    }
  }
  if (h.count == 0) db.remove(changetype<Entry>(lookup(1)));
  replyInt(n);
}

function hgetall(): void {
  const h = hashForRead();
  if (wrongType) return;
  if (h == null) return replyEmptyArray();
  replyArray(<i64>h.count * 2);
  for (let i = 0; i < h.size; i++) {
    const f = h.at(i);
    if (f == null) continue;
    replyBulkBuf(f.key);
    replyBulkBuf(changetype<ArrayBuffer>(f.str));
  }
}

function hlen(): void {
  const h = hashForRead();
  if (wrongType) return;
  replyInt(h == null ? 0 : h.count);
}

function hexists(): void {
  const h = hashForRead();
  if (wrongType) return;
  replyInt(h != null && h.find(ap(2), al(2), hashBytes(ap(2), al(2))) != null ? 1 : 0);
}

function hincrby(): void {
  if (!argInt(3)) return notInteger();
  const by = parsedInt;
  const h = hashForWrite();
  if (h == null) return;
  const f = h.findOrAdd(ap(2), al(2));
  let old: i64 = 0;
  if (!created) {
    if (!parseBufI64(changetype<ArrayBuffer>(f.str))) return replyError("hash value is not an integer");
    old = parsedInt;
  }
  if (!addChecked(old, by)) {
    if (created) {
      h.remove(f);
      if (h.count == 0) db.remove(changetype<Entry>(lookup(1)));
    }
    return;
  }
  const v = old + by;
  f.str = copyBytes(DIGITS, writeDecimal(DIGITS, v));
  replyInt(v);
}

// ---- lists ----

function push(front: bool): void {
  let e = lookup(1);
  if (e != null && e.type != TYPE_LIST) return replyWrongType();
  if (e == null) {
    e = db.addMissing(ap(1), al(1));
    e.type = TYPE_LIST;
    e.str = null;
    e.list = new Deque();
  }
  const list = changetype<Deque>(e.list);
  for (let i: u32 = 2; i < argc; i++) {
    const v = copyBytes(ap(i), al(i));
    if (front) list.pushFront(v);
    else list.pushBack(v);
  }
  replyInt(list.length);
}

function pop(front: bool, name: string): void {
  if (argc > 3) return wrongArity(name);
  let count: i64 = 1;
  const hasCount = argc == 3;
  if (hasCount) {
    if (!argInt(2) || parsedInt < 0) return replyError("value is out of range, must be positive");
    count = parsedInt;
  }
  const e = lookup(1);
  if (e == null) return hasCount ? replyNullArray() : replyNil();
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = changetype<Deque>(e.list);
  if (!hasCount) {
    replyBulkBuf(front ? list.popFront() : list.popBack());
  } else {
    const n = min<i64>(count, list.length);
    replyArray(n);
    for (let i: i64 = 0; i < n; i++) replyBulkBuf(front ? list.popFront() : list.popBack());
  }
  if (list.length == 0) db.remove(e);
}

function llen(): void {
  const e = lookup(1);
  if (e == null) replyInt(0);
  else if (e.type != TYPE_LIST) replyWrongType();
  else replyInt(changetype<Deque>(e.list).length);
}

function lrange(): void {
  if (!argInt(2)) return notInteger();
  let start = parsedInt;
  if (!argInt(3)) return notInteger();
  let stop = parsedInt;
  const e = lookup(1);
  if (e == null) return replyEmptyArray();
  if (e.type != TYPE_LIST) return replyWrongType();
  const list = changetype<Deque>(e.list);
  const len = <i64>list.length;
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return replyEmptyArray();
  if (stop >= len) stop = len - 1;
  replyArray(stop - start + 1);
  for (let i = start; i <= stop; i++) replyBulkBuf(list.at(<u32>i));
}

// ---- server ----

const INFO_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "keyspace"];

function infoSection(name: string): string {
  if (name == "server") {
    return "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nenclave_app:kv\r\narch_bits:32\r\n" +
      "uptime_in_seconds:" + ((now() - startedAt) / 1000).toString() + "\r\n";
  }
  if (name == "clients") return "# Clients\r\nconnected_clients:" + connectedClients.toString() + "\r\n";
  if (name == "memory") {
    const bytes = <i64>memory.size() << 16;
    return "# Memory\r\nused_memory:" + bytes.toString() + "\r\nused_memory_human:" + (bytes >> 20).toString() + "M\r\n" +
      "maxmemory:0\r\n";
  }
  if (name == "persistence") return "# Persistence\r\nloading:0\r\n";
  if (name == "stats") {
    return "# Stats\r\ntotal_connections_received:" + connectionsReceived.toString() + "\r\ntotal_commands_processed:" +
      commandsProcessed.toString() + "\r\nexpired_keys:" + db.expiredKeys.toString() + "\r\n";
  }
  // keyspace: Redis leaves the db0 line out when the database is empty.
  db.purge();
  let s = "# Keyspace\r\n";
  if (db.keys.count > 0) s += "db0:keys=" + db.keys.count.toString() + ",expires=" + db.expiring.length.toString() + ",avg_ttl=0\r\n";
  return s;
}

function info(): void {
  let wanted = new Array<string>();
  if (argc == 1) wanted = INFO_SECTIONS;
  for (let i: u32 = 1; i < argc; i++) {
    const name = argText(i).toLowerCase();
    if (name == "all" || name == "default" || name == "everything") wanted = INFO_SECTIONS;
    else if (INFO_SECTIONS.includes(name) && !wanted.includes(name)) wanted.push(name);
  }
  let text = "";
  for (let i = 0; i < INFO_SECTIONS.length; i++) {
    const name = INFO_SECTIONS[i];
    if (!wanted.includes(name)) continue;
    if (text.length > 0) text += "\r\n";
    text += infoSection(name);
  }
  replyBulkText(text);
}

/** CONFIG GET answers for these parameters (what redis-benchmark and clients ask for). */
function configValue(name: string): string {
  if (name == "save") return "";
  if (name == "appendonly") return "no";
  if (name == "proto-max-bulk-len") return maxBulk.toString();
  if (name == "maxmemory") return "0";
  if (name == "databases") return "1";
  return "";
}
const CONFIG_NAMES = ["save", "appendonly", "proto-max-bulk-len", "maxmemory", "databases"];

function config(): void {
  if (!argIs(1, "get")) return unknownSubcommand("CONFIG");
  if (argc < 3) return wrongArity("config|get");
  const pairs = new Array<string>();
  for (let i = 0; i < CONFIG_NAMES.length; i++) {
    const name = CONFIG_NAMES[i];
    const bytes = ascii(name);
    for (let j: u32 = 2; j < argc; j++) {
      if (globMatch(ap(j), al(j), changetype<usize>(bytes), bytes.byteLength)) {
        pairs.push(name);
        pairs.push(configValue(name));
        break;
      }
    }
  }
  replyArray(pairs.length);
  for (let i = 0; i < pairs.length; i++) replyBulkText(pairs[i]);
}

function commandInfo(c: Command): void {
  // Redis 7's ten fields: name, arity, flags, first key, last key, step, ACL categories, tips,
  // key specs, subcommands.
  replyArray(10);
  replyBulkText(c.name);
  replyInt(c.arity);
  const flags = c.flags.length > 0 ? c.flags.split(" ") : new Array<string>();
  replyArray(flags.length);
  for (let i = 0; i < flags.length; i++) replyStatus(ascii(flags[i]));
  replyInt(c.firstKey);
  replyInt(c.lastKey);
  replyInt(c.firstKey != 0 ? (c.id == MSET ? 2 : 1) : 0);
  replyEmptyArray();
  replyEmptyArray();
  replyEmptyArray();
  replyEmptyArray();
}

function command(): void {
  if (argc == 1) {
    replyArray(commands.length);
    for (let i = 0; i < commands.length; i++) commandInfo(commands[i]);
  } else if (argIs(1, "count")) {
    if (argc != 2) return wrongArity("command|count");
    replyInt(commands.length);
  } else if (argIs(1, "docs")) {
    // The documentation (summaries, argument trees) is not kept: an empty map, which is what
    // Redis gives for names it does not know. redis-cli then falls back to its built-in hints.
    replyEmptyArray();
  } else if (argIs(1, "info")) {
    if (argc == 2) {
      replyArray(commands.length);
      for (let i = 0; i < commands.length; i++) commandInfo(commands[i]);
      return;
    }
    replyArray(argc - 2);
    for (let j: u32 = 2; j < argc; j++) {
      const id = lookupCommand(ap(j), al(j));
      if (id < 0) replyNullArray();
      else commandInfo(commands[id]);
    }
  } else if (argIs(1, "list")) {
    replyArray(commands.length);
    for (let i = 0; i < commands.length; i++) replyBulkText(commands[i].name);
  } else {
    unknownSubcommand("COMMAND");
  }
}

function client(): void {
  const c = changetype<Conn>(conn);
  if (argIs(1, "setname")) {
    if (argc != 3) return wrongArity("client|setname");
    const p = ap(2);
    const n = al(2);
    for (let k: u32 = 0; k < n; k++) {
      const b = load<u8>(p + k);
      if (b < 0x21 || b > 0x7e) return replyError("Client names cannot contain spaces, newlines or special characters.");
    }
    c.name = n == 0 ? null : copyBytes(p, n);
    replyOk();
  } else if (argIs(1, "getname")) {
    if (argc != 2) return wrongArity("client|getname");
    const name = c.name;
    if (name == null) replyNil();
    else replyBulkBuf(name);
  } else if (argIs(1, "id")) {
    if (argc != 2) return wrongArity("client|id");
    replyInt(c.id);
  } else {
    unknownSubcommand("CLIENT");
  }
}
