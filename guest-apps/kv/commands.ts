// The command table: lookup by name (case-insensitive, on bytes), Redis's arity check, the dispatch
// to each family's module (cmd-strings.ts, cmd-hashes.ts, cmd-lists.ts, cmd-sets.ts, cmd-zsets.ts, cmd-keys.ts,
// cmd-expire.ts, cmd-object.ts, cmd-connection.ts, cmd-server.ts, after Redis's t_string.c,
// t_hash.c, t_list.c, t_set.c, t_zset.c, db.c, expire.c, object.c, server.c), and COMMAND, which describes the table. Semantics and replies are Redis 7.0's. The
// error texts, and where each comes from:
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
//   OOM command not allowed when used memory > 'maxmemory'.             shared.oomerr (evict.ts)
import { ascii, parsedInt } from "./bytes";
import { Conn } from "./conn";
import { SavedCommands, al, ap, argInt, argIs, argText, argc, useArgs, useQueued } from "./args";
import {
  anyWatch, discard, endTransaction, execRefused, failTransaction, multi, queueCommand, touchKey, unwatch, unwatchAll, watch,
} from "./multi";
import {
  append, decrBy, get, getdel, getex, getrange, getset, incrBy, incrbyfloat, mget, mset, msetnx, set, setex, setnx, setrange, strlen,
} from "./cmd-strings";
import { copy, del, exists, flush, keys, move, randomkey, rename, scan, swapdb, type } from "./cmd-keys";
import { expire, expiretime, persist, ttl } from "./cmd-expire";
import {
  hdel, hexists, hget, hgetall, hincrby, hincrbyfloat, hkeysOrVals, hlen, hmget, hscan, hset, hsetnx, hstrlen,
} from "./cmd-hashes";
import {
  OP_DIFF, OP_INTER, OP_UNION, sadd, scard, setAlgebra, sintercard, sismember, smembers, smismember, smove, spop, srem, sscan,
} from "./cmd-sets";
import { object } from "./cmd-object";
import { randomMembers } from "./member-random";
import { lcs } from "./cmd-lcs";
import { sort } from "./cmd-sort";
import { psubscribe, publish, pubsub, punsubscribe, subscribe, subscribedClients, unsubscribe } from "./pubsub";
import { TYPE_HASH, TYPE_SET, TYPE_ZSET } from "./record";
import {
  OP_DIFF as Z_DIFF, OP_INTER as Z_INTER, OP_UNION as Z_UNION, bzpop, zadd, zcard, zcount, zmpop, zmscore, zpop, zrange, zrank, zrem, zremrange, zscan, zscore, zsetAlgebra,
} from "./cmd-zsets";
import {
  blmove, bpop, lindex, linsert, llen, lmove, lmpop, lpos, lrange, lrem, lset, ltrim, pop, push,
} from "./cmd-lists";
import { REPLIED, blockClient, blockedClients, deadlineChanged, expireBlocked, serveBlocked, setRetrying } from "./blocking";
import { hello, ping, select } from "./cmd-connection";
import { client } from "./cmd-client";
import { config } from "./cmd-config";
import { info, time } from "./cmd-server";
import { bgrewriteaof, bgsave, lastsave } from "./cmd-persistence";
import { attestCommand } from "./cmd-attest";
import { bitcount, getbit, setbit } from "./cmd-bits";
import { notInteger, truncate, unknownSubcommand, wrongArity } from "./errors";
import {
  replyArray, replyBulk, replyBulkText, replyEmptyArray, replyError, replyErrorLine, replyInt, replyIsErrorSince, replyMark, replyNil, replyNullArray,
  errorReplies, replyMap, replyOk, replyOom, replyStatus, replyTo,
} from "./reply";
import { countCommand, db } from "./server-state";
import { readsTouch } from "./access-clock";
import { maxmemory } from "./config";
import { EVICT_FAIL, performEvictions } from "./evict";
import { lookupMode } from "./store";
import { appendonly, logFailed } from "./aof-writer";
import { logArgs, takeLogged } from "./aof-feed";
import { loading } from "./loading";
import { changes } from "./snapshot-writer";

// Command ids.
const PING = 0, ECHO = 1, QUIT = 2, SELECT = 3, SET = 4, GET = 5, GETSET = 6, DEL = 7, EXISTS = 8, MGET = 9,
  MSET = 10, INCR = 11, INCRBY = 12, DECR = 13, DECRBY = 14, APPEND = 15, STRLEN = 16, EXPIRE = 17, PEXPIRE = 18,
  TTL = 19, PTTL = 20, PERSIST = 21, KEYS = 22, SCAN = 23, TYPE = 24, DBSIZE = 25, FLUSHDB = 26, FLUSHALL = 27,
  HSET = 28, HGET = 29, HDEL = 30, HGETALL = 31, HLEN = 32, HEXISTS = 33, HINCRBY = 34, LPUSH = 35, RPUSH = 36,
  LPOP = 37, RPOP = 38, LLEN = 39, LRANGE = 40, INFO = 41, CONFIG = 42, COMMAND = 43, CLIENT = 44, BGSAVE = 45,
  LASTSAVE = 46, EXPIREAT = 47, PEXPIREAT = 48, BGREWRITEAOF = 49, ATTEST = 50, SETNX = 51, SETEX = 52, PSETEX = 53,
  GETDEL = 54, GETEX = 55, GETRANGE = 56, SUBSTR = 57, SETRANGE = 58, MSETNX = 59, HMSET = 60, HSETNX = 61, HMGET = 62,
  HKEYS = 63, HVALS = 64, HSTRLEN = 65, LPUSHX = 66, RPUSHX = 67, LINDEX = 68, LSET = 69, LTRIM = 70, LREM = 71,
  LINSERT = 72, LMOVE = 73, RPOPLPUSH = 74, EXPIRETIME = 75, PEXPIRETIME = 76, UNLINK = 77, TOUCH = 78, RANDOMKEY = 79,
  TIME = 80, MULTI = 81, EXEC = 82, DISCARD = 83, WATCH = 84, UNWATCH = 85, BLPOP = 86, BRPOP = 87, BRPOPLPUSH = 88,
  BLMOVE = 89, BLMPOP = 90, LMPOP = 91, SETBIT = 92, GETBIT = 93, BITCOUNT = 94, SADD = 95, SREM = 96, SMOVE = 97,
  SISMEMBER = 98, SMISMEMBER = 99, SCARD = 100, SMEMBERS = 101, SPOP = 102, SRANDMEMBER = 103, SINTER = 104,
  SINTERCARD = 105, SINTERSTORE = 106, SUNION = 107, SUNIONSTORE = 108, SDIFF = 109, SDIFFSTORE = 110, SSCAN = 111,
  OBJECT = 112, HSCAN = 113;
// Keyspace, later.
const RENAME = 149, RENAMENX = 150, COPY = 151, MOVE = 152, SWAPDB = 153;
// Floats.
const INCRBYFLOAT = 154, HINCRBYFLOAT = 155;
// Hashes, later.
const HRANDFIELD = 156;
// Strings, later.
const LCS = 157;
// Connection, later.
const HELLO = 158;
// Pub/sub.
const SUBSCRIBE = 159, UNSUBSCRIBE = 160, PSUBSCRIBE = 161, PUNSUBSCRIBE = 162, PUBLISH = 163, PUBSUB = 164;
// Lists, later.
const LPOS = 165;
// Generic, later.
const SORT = 166, SORT_RO = 167;
// Sorted sets.
const ZADD = 114, ZINCRBY = 115, ZREM = 116, ZCARD = 117, ZSCORE = 118, ZMSCORE = 119, ZRANK = 120, ZREVRANK = 121, ZCOUNT = 122, ZLEXCOUNT = 123, ZRANGE = 124, ZRANGESTORE = 125, ZREVRANGE = 126, ZRANGEBYSCORE = 127, ZREVRANGEBYSCORE = 128, ZRANGEBYLEX = 129, ZREVRANGEBYLEX = 130, ZREMRANGEBYSCORE = 131, ZREMRANGEBYRANK = 132, ZREMRANGEBYLEX = 133, ZUNION = 134, ZINTER = 135, ZDIFF = 136, ZUNIONSTORE = 137, ZINTERSTORE = 138, ZDIFFSTORE = 139, ZINTERCARD = 140, ZPOPMIN = 141, ZPOPMAX = 142, BZPOPMIN = 143, BZPOPMAX = 144, ZMPOP = 145, BZMPOP = 146, ZRANDMEMBER = 147, ZSCAN = 148;

/**
 * A command: its name, id, arity, flags and key arguments (first, last: negative from the end, and
 * the step between them), or for a command whose keys follow a count (LMPOP, ZMPOP...) where that
 * count is (`numkeysAt`; first and last 0, as Redis's legacy key range says of movable keys).
 */
class Command {
  constructor(
    public name: string, public id: i32, public arity: i32, public flags: string, public firstKey: i32, public lastKey: i32,
    public step: i32 = 1, public numkeysAt: u32 = 0,
  ) {}
}

const commands: Array<Command> = [
  new Command("ping", PING, -1, "fast", 0, 0),
  new Command("echo", ECHO, 2, "fast", 0, 0),
  new Command("quit", QUIT, -1, "fast", 0, 0),
  new Command("select", SELECT, 2, "fast", 0, 0),
  new Command("set", SET, -3, "write denyoom", 1, 1),
  new Command("get", GET, 2, "readonly fast", 1, 1),
  new Command("getset", GETSET, 3, "write denyoom fast", 1, 1),
  new Command("del", DEL, -2, "write", 1, -1),
  new Command("exists", EXISTS, -2, "readonly fast", 1, -1),
  new Command("mget", MGET, -2, "readonly fast", 1, -1),
  new Command("mset", MSET, -3, "write denyoom", 1, -1, 2),
  new Command("incr", INCR, 2, "write denyoom fast", 1, 1),
  new Command("incrby", INCRBY, 3, "write denyoom fast", 1, 1),
  new Command("decr", DECR, 2, "write denyoom fast", 1, 1),
  new Command("decrby", DECRBY, 3, "write denyoom fast", 1, 1),
  new Command("append", APPEND, 3, "write denyoom fast", 1, 1),
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
  new Command("hset", HSET, -4, "write denyoom fast", 1, 1),
  new Command("hget", HGET, 3, "readonly fast", 1, 1),
  new Command("hdel", HDEL, -3, "write fast", 1, 1),
  new Command("hgetall", HGETALL, 2, "readonly", 1, 1),
  new Command("hlen", HLEN, 2, "readonly fast", 1, 1),
  new Command("hexists", HEXISTS, 3, "readonly fast", 1, 1),
  new Command("hincrby", HINCRBY, 4, "write denyoom fast", 1, 1),
  new Command("lpush", LPUSH, -3, "write denyoom fast", 1, 1),
  new Command("rpush", RPUSH, -3, "write denyoom fast", 1, 1),
  new Command("lpop", LPOP, -2, "write fast", 1, 1),
  new Command("rpop", RPOP, -2, "write fast", 1, 1),
  new Command("llen", LLEN, 2, "readonly fast", 1, 1),
  new Command("lrange", LRANGE, 4, "readonly", 1, 1),
  new Command("info", INFO, -1, "", 0, 0),
  new Command("config", CONFIG, -2, "", 0, 0),
  new Command("command", COMMAND, -1, "", 0, 0),
  new Command("client", CLIENT, -2, "", 0, 0),
  new Command("bgsave", BGSAVE, -1, "", 0, 0),
  new Command("lastsave", LASTSAVE, 1, "fast", 0, 0),
  new Command("expireat", EXPIREAT, -3, "write fast", 1, 1),
  new Command("pexpireat", PEXPIREAT, -3, "write fast", 1, 1),
  new Command("bgrewriteaof", BGREWRITEAOF, 1, "", 0, 0),
  new Command("attest", ATTEST, 2, "", 0, 0),
  new Command("setnx", SETNX, 3, "write denyoom fast", 1, 1),
  new Command("setex", SETEX, 4, "write denyoom", 1, 1),
  new Command("psetex", PSETEX, 4, "write denyoom", 1, 1),
  new Command("getdel", GETDEL, 2, "write fast", 1, 1),
  new Command("getex", GETEX, -2, "write fast", 1, 1),
  new Command("getrange", GETRANGE, 4, "readonly", 1, 1),
  new Command("substr", SUBSTR, 4, "readonly", 1, 1),
  new Command("setrange", SETRANGE, 4, "write denyoom", 1, 1),
  new Command("msetnx", MSETNX, -3, "write denyoom", 1, -1, 2),
  new Command("hmset", HMSET, -4, "write denyoom fast", 1, 1),
  new Command("hsetnx", HSETNX, 4, "write denyoom fast", 1, 1),
  new Command("hmget", HMGET, -3, "readonly fast", 1, 1),
  new Command("hkeys", HKEYS, 2, "readonly", 1, 1),
  new Command("hvals", HVALS, 2, "readonly", 1, 1),
  new Command("hstrlen", HSTRLEN, 3, "readonly fast", 1, 1),
  new Command("lpushx", LPUSHX, -3, "write denyoom fast", 1, 1),
  new Command("rpushx", RPUSHX, -3, "write denyoom fast", 1, 1),
  new Command("lindex", LINDEX, 3, "readonly", 1, 1),
  new Command("lset", LSET, 4, "write denyoom", 1, 1),
  new Command("ltrim", LTRIM, 4, "write", 1, 1),
  new Command("lrem", LREM, 4, "write", 1, 1),
  new Command("linsert", LINSERT, 5, "write denyoom", 1, 1),
  new Command("lmove", LMOVE, 5, "write denyoom", 1, 2),
  new Command("rpoplpush", RPOPLPUSH, 3, "write denyoom", 1, 2),
  new Command("expiretime", EXPIRETIME, 2, "readonly fast", 1, 1),
  new Command("pexpiretime", PEXPIRETIME, 2, "readonly fast", 1, 1),
  new Command("unlink", UNLINK, -2, "write fast", 1, -1),
  new Command("touch", TOUCH, -2, "readonly fast", 1, -1),
  new Command("randomkey", RANDOMKEY, 1, "readonly", 0, 0),
  new Command("time", TIME, 1, "loading stale fast", 0, 0),
  new Command("multi", MULTI, 1, "noscript loading stale fast allow_busy", 0, 0),
  new Command("exec", EXEC, 1, "noscript loading stale skip_slowlog", 0, 0),
  new Command("discard", DISCARD, 1, "noscript loading stale fast allow_busy", 0, 0),
  new Command("watch", WATCH, -2, "noscript loading stale fast allow_busy", 1, -1),
  new Command("unwatch", UNWATCH, 1, "noscript loading stale fast allow_busy", 0, 0),
  new Command("blpop", BLPOP, -3, "write noscript blocking", 1, -2),
  new Command("brpop", BRPOP, -3, "write noscript blocking", 1, -2),
  new Command("brpoplpush", BRPOPLPUSH, 4, "write denyoom noscript blocking", 1, 2),
  new Command("blmove", BLMOVE, 6, "write denyoom noscript blocking", 1, 2),
  new Command("blmpop", BLMPOP, -5, "write blocking movablekeys", 0, 0, 1, 2),
  new Command("lmpop", LMPOP, -4, "write movablekeys", 0, 0, 1, 1),
  new Command("setbit", SETBIT, 4, "write denyoom", 1, 1),
  new Command("getbit", GETBIT, 3, "readonly fast", 1, 1),
  new Command("bitcount", BITCOUNT, -2, "readonly", 1, 1),
  new Command("sadd", SADD, -3, "write denyoom fast", 1, 1),
  new Command("srem", SREM, -3, "write fast", 1, 1),
  new Command("smove", SMOVE, 4, "write fast", 1, 2),
  new Command("sismember", SISMEMBER, 3, "readonly fast", 1, 1),
  new Command("smismember", SMISMEMBER, -3, "readonly fast", 1, 1),
  new Command("scard", SCARD, 2, "readonly fast", 1, 1),
  new Command("smembers", SMEMBERS, 2, "readonly", 1, 1),
  new Command("spop", SPOP, -2, "write fast", 1, 1),
  new Command("srandmember", SRANDMEMBER, -2, "readonly", 1, 1),
  new Command("sinter", SINTER, -2, "readonly", 1, -1),
  new Command("sintercard", SINTERCARD, -3, "readonly movablekeys", 0, 0),
  new Command("sinterstore", SINTERSTORE, -3, "write denyoom", 1, -1),
  new Command("sunion", SUNION, -2, "readonly", 1, -1),
  new Command("sunionstore", SUNIONSTORE, -3, "write denyoom", 1, -1),
  new Command("sdiff", SDIFF, -2, "readonly", 1, -1),
  new Command("sdiffstore", SDIFFSTORE, -3, "write denyoom", 1, -1),
  new Command("sscan", SSCAN, -3, "readonly", 1, 1),
  new Command("object", OBJECT, -2, "", 0, 0),
  new Command("hscan", HSCAN, -3, "readonly", 1, 1),
  new Command("zadd", ZADD, -4, "write denyoom fast", 1, 1),
  new Command("zincrby", ZINCRBY, 4, "write denyoom fast", 1, 1),
  new Command("zrem", ZREM, -3, "write fast", 1, 1),
  new Command("zcard", ZCARD, 2, "readonly fast", 1, 1),
  new Command("zscore", ZSCORE, 3, "readonly fast", 1, 1),
  new Command("zmscore", ZMSCORE, -3, "readonly fast", 1, 1),
  new Command("zrank", ZRANK, 3, "readonly fast", 1, 1),
  new Command("zrevrank", ZREVRANK, 3, "readonly fast", 1, 1),
  new Command("zcount", ZCOUNT, 4, "readonly fast", 1, 1),
  new Command("zlexcount", ZLEXCOUNT, 4, "readonly fast", 1, 1),
  new Command("zrange", ZRANGE, -4, "readonly", 1, 1),
  new Command("zrangestore", ZRANGESTORE, -5, "write denyoom", 1, 2),
  new Command("zrevrange", ZREVRANGE, -4, "readonly", 1, 1),
  new Command("zrangebyscore", ZRANGEBYSCORE, -4, "readonly", 1, 1),
  new Command("zrevrangebyscore", ZREVRANGEBYSCORE, -4, "readonly", 1, 1),
  new Command("zrangebylex", ZRANGEBYLEX, -4, "readonly", 1, 1),
  new Command("zrevrangebylex", ZREVRANGEBYLEX, -4, "readonly", 1, 1),
  new Command("zremrangebyscore", ZREMRANGEBYSCORE, 4, "write", 1, 1),
  new Command("zremrangebyrank", ZREMRANGEBYRANK, 4, "write", 1, 1),
  new Command("zremrangebylex", ZREMRANGEBYLEX, 4, "write", 1, 1),
  new Command("zunion", ZUNION, -3, "readonly movablekeys", 0, 0),
  new Command("zinter", ZINTER, -3, "readonly movablekeys", 0, 0),
  new Command("zdiff", ZDIFF, -3, "readonly movablekeys", 0, 0),
  new Command("zunionstore", ZUNIONSTORE, -4, "write denyoom movablekeys", 1, 1),
  new Command("zinterstore", ZINTERSTORE, -4, "write denyoom movablekeys", 1, 1),
  new Command("zdiffstore", ZDIFFSTORE, -4, "write denyoom movablekeys", 1, 1),
  new Command("zintercard", ZINTERCARD, -3, "readonly movablekeys", 0, 0),
  new Command("zpopmin", ZPOPMIN, -2, "write fast", 1, 1),
  new Command("zpopmax", ZPOPMAX, -2, "write fast", 1, 1),
  new Command("bzpopmin", BZPOPMIN, -3, "write noscript blocking fast", 1, -2),
  new Command("bzpopmax", BZPOPMAX, -3, "write noscript blocking fast", 1, -2),
  new Command("zmpop", ZMPOP, -4, "write movablekeys", 0, 0, 1, 1),
  new Command("bzmpop", BZMPOP, -5, "write blocking movablekeys", 0, 0, 1, 2),
  new Command("zrandmember", ZRANDMEMBER, -2, "readonly", 1, 1),
  new Command("zscan", ZSCAN, -3, "readonly", 1, 1),
  new Command("rename", RENAME, 3, "write", 1, 2),
  new Command("renamenx", RENAMENX, 3, "write fast", 1, 2),
  new Command("copy", COPY, -3, "write denyoom", 1, 2),
  new Command("move", MOVE, 3, "write fast", 1, 1),
  new Command("swapdb", SWAPDB, 3, "write fast", 0, 0),
  new Command("incrbyfloat", INCRBYFLOAT, 3, "write denyoom fast", 1, 1),
  new Command("hincrbyfloat", HINCRBYFLOAT, 4, "write denyoom fast", 1, 1),
  new Command("hrandfield", HRANDFIELD, -2, "readonly", 1, 1),
  new Command("lcs", LCS, -3, "readonly", 1, 2),
  new Command("hello", HELLO, -1, "noscript loading stale fast no_auth allow_busy", 0, 0),
  new Command("subscribe", SUBSCRIBE, -2, "pubsub noscript loading stale", 0, 0),
  new Command("unsubscribe", UNSUBSCRIBE, -1, "pubsub noscript loading stale", 0, 0),
  new Command("psubscribe", PSUBSCRIBE, -2, "pubsub noscript loading stale", 0, 0),
  new Command("punsubscribe", PUNSUBSCRIBE, -1, "pubsub noscript loading stale", 0, 0),
  new Command("publish", PUBLISH, 3, "pubsub loading stale fast may_replicate", 0, 0),
  new Command("pubsub", PUBSUB, -2, "", 0, 0),
  new Command("lpos", LPOS, -3, "readonly", 1, 1),
  new Command("sort", SORT, -2, "write denyoom movablekeys", 1, 1),
  new Command("sort_ro", SORT_RO, -2, "readonly movablekeys", 1, 1),
];

// The lookup by name makes no string and reads the name once: a name (at most 16 bytes) packed in
// two u64, lower-cased, indexes an open-addressing table of NAME_SLOTS slots (names, names2: the
// packed names; ids: command id | name length << 8, -1 for an empty slot). Under the software MMU
// each load is a checked one, and this runs for every request.
const MAX_NAME = 16;
const NAME_SLOTS = 512;
const names = new StaticArray<u64>(NAME_SLOTS);
const names2 = new StaticArray<u64>(NAME_SLOTS);
const ids = new StaticArray<i32>(NAME_SLOTS);
/** Each command's arity and flags, by id: execute holds no Command reference (see its comment on the shadow stack). */
const arities = new StaticArray<i32>(NAME_SLOTS);
const flagBits = new StaticArray<i32>(NAME_SLOTS);

// Flags execute acts on: Redis's write and denyoom (refused with -OOM above maxmemory: evict.ts),
// and Redis's LOOKUP_NOTOUCH, which some read commands pass to leave the access clock alone (db.c:
// EXISTS, TYPE; expire.c: TTL, PTTL; object.c: OBJECT).
const F_WRITE = 1, F_DENYOOM = 2, F_NOTOUCH = 4;
const NOTOUCH_IDS = [EXISTS, TYPE, TTL, PTTL, OBJECT];

function flagsOf(c: Command): i32 {
  const words = c.flags.split(" ");
  let f = 0;
  if (words.includes("write")) f |= F_WRITE;
  if (words.includes("denyoom")) f |= F_DENYOOM;
  if (NOTOUCH_IDS.includes(c.id)) f |= F_NOTOUCH;
  return f;
}

// @ts-ignore: decorator
@inline function nameSlot(key: u64): i32 {
  return <i32>((key * 0x9e3779b97f4a7c15) >> 55); // Fibonacci hashing (Knuth 6.4): the top 9 bits
}

/** The bytes at `p` (n <= 8) as a u64, ASCII letters lower-cased (0 for n = 0). */
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
    const n = <u32>name.byteLength;
    const key = packName(changetype<usize>(name), min<u32>(n, 8));
    const key2 = n > 8 ? packName(changetype<usize>(name) + 8, n - 8) : 0;
    let s = nameSlot(key ^ key2);
    while (unchecked(ids[s]) >= 0) s = (s + 1) & (NAME_SLOTS - 1);
    unchecked((names[s] = key));
    unchecked((names2[s] = key2));
    unchecked((ids[s] = i | (name.byteLength << 8)));
    unchecked((arities[i] = c.arity));
    unchecked((flagBits[i] = flagsOf(c)));
  }
}

/** The id of the command named by the `n` bytes at `p`, or -1. */
function lookupCommand(p: usize, n: u32): i32 {
  if (n > <u32>MAX_NAME) return -1;
  const key = packName(p, min<u32>(n, 8));
  const key2 = n > 8 ? packName(p + 8, n - 8) : 0;
  const want = <i32>(n << 8);
  let s = nameSlot(key ^ key2);
  let v = unchecked(ids[s]);
  while (v >= 0) {
    if ((v & ~0xff) == want && unchecked(names[s]) == key && unchecked(names2[s]) == key2) return v & 0xff;
    s = (s + 1) & (NAME_SLOTS - 1);
    v = unchecked(ids[s]);
  }
  return -1;
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
  useArgs(c);
  const id = lookupCommand(ap(0), al(0));
  if (id >= 0) c.lastCmd = id;
  if (subscribedClients > 0 && c.subscriptions > 0 && !c.resp3 && id >= 0 && arityFits(id) && !allowedWhenSubscribed(id)) {
    return notInSubscriberMode(id);
  }
  if (c.multi != null && !runsInMulti(id)) return queue(c, id);
  if (id < 0) return unknownCommand();
  if (!arityFits(id)) {
    unchecked(rejectedCounts[id]++);
    return wrongArity(commands[id].name);
  }
  run(c, id);
}

// @ts-ignore: decorator
@inline function arityFits(id: i32): bool {
  const arity = unchecked(arities[id]);
  return !((arity > 0 && <i32>argc != arity) || (arity < 0 && <i32>argc < -arity));
}

// Per command, for INFO commandstats: the calls run, those that answered an error (failed_calls),
// and those refused before running (rejected_calls: a wrong arity, memory out, the log failed,
// subscriber mode).
const callCounts = new StaticArray<i64>(NAME_SLOTS);
const failedCounts = new StaticArray<i64>(NAME_SLOTS);
const rejectedCounts = new StaticArray<i64>(NAME_SLOTS);

function rejected(id: i32, reply: () => void): void {
  unchecked(rejectedCounts[id]++);
  reply();
}

function misconf(): void {
  replyError("MISCONF Errors writing to the AOF file: no memory left for the log");
}

/**
 * INFO commandstats: a line per command that ran or was refused. Departure: no usec and
 * usec_per_call, which would need the host's clock read around every command.
 */
export function commandStats(): string {
  let s = "";
  for (let i = 0; i < commands.length; i++) {
    const calls = unchecked(callCounts[i]), failed = unchecked(failedCounts[i]), refused = unchecked(rejectedCounts[i]);
    if (calls == 0 && failed == 0 && refused == 0) continue;
    s += "cmdstat_" + commands[i].name + ":calls=" + calls.toString() + ",rejected_calls=" + refused.toString() +
      ",failed_calls=" + failed.toString() + "\r\n";
  }
  return s;
}

/** CONFIG RESETSTAT: the counts start again. */
export function resetCommandStats(): void {
  for (let i = 0; i < NAME_SLOTS; i++) {
    unchecked((callCounts[i] = 0));
    unchecked((failedCounts[i] = 0));
    unchecked((rejectedCounts[i] = 0));
  }
}

/** What a RESP2 client in subscriber mode may run (server.c processCommand). */
function allowedWhenSubscribed(id: i32): bool {
  return id == SUBSCRIBE || id == UNSUBSCRIBE || id == PSUBSCRIBE || id == PUNSUBSCRIBE || id == PING || id == QUIT;
}

function notInSubscriberMode(id: i32): void {
  unchecked(rejectedCounts[id]++);
  replyError("Can't execute '" + commands[id].name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
}

/** What runs at once inside MULTI rather than being queued (multi.c, processCommand). */
function runsInMulti(id: i32): bool {
  return id == EXEC || id == DISCARD || id == MULTI || id == WATCH || id == QUIT;
}

/**
 * Inside MULTI: a command refused now fails the transaction; the others are queued. While memory
 * is out every command is refused, a read too: queuing takes memory (server.c processCommand).
 */
function queue(c: Conn, id: i32): void {
  if (id < 0) {
    unknownCommand();
    return failTransaction(c);
  }
  if (!arityFits(id)) {
    wrongArity(commands[id].name);
    return failTransaction(c);
  }
  if (memoryIsOut()) {
    replyOom();
    return failTransaction(c);
  }
  queueCommand(c, (unchecked(flagBits[id]) & F_DENYOOM) != 0);
  replyStatus(QUEUED);
}

/** maxmemory is set and eviction cannot bring used memory under it (Redis's out_of_memory). */
function memoryIsOut(): bool {
  return maxmemory != 0 && performEvictions() == EVICT_FAIL;
}

const QUEUED = ascii("QUEUED");

/** Runs command `id`, whose arguments are the current ones and fit its arity. */
function run(c: Conn, id: i32): void {
  const flags = unchecked(flagBits[id]);
  const write = (flags & F_WRITE) != 0;
  if (loading) { // a replay of the log: no eviction, no stats, no logging
    lookupMode(write, false);
    return dispatch(c, id);
  }
  if ((flags & F_DENYOOM) != 0 && memoryIsOut()) return rejected(id, replyOom);
  if (write && logFailed) return rejected(id, misconf);
  lookupMode(write || ((flags & F_NOTOUCH) == 0 && readsTouch()), !write);
  countCommand();
  unchecked(callCounts[id]++);
  const errors = errorReplies; // a global: no memory access under the MMU
  if (!write || (!appendonly && !anyWatch() && blockedClients() == 0)) {
    dispatch(c, id);
    if (errorReplies != errors) unchecked(failedCounts[id]++);
    return;
  }
  const before = changes();
  const expiredBefore = db.expiredKeys;
  const mark = replyMark();
  dispatch(c, id);
  if (errorReplies != errors) unchecked(failedCounts[id]++);
  if (appendonly) logCommand(before, mark);
  // A write that changed the store (not only expired what it looked at) touches its keys (WATCH),
  // and may have made a blocked client's list ready (after the whole of an EXEC).
  if (changes() - before <= <u64>(db.expiredKeys - expiredBefore)) return;
  if (anyWatch()) touchKeyArgs(id);
  if (blockedClients() > 0 && !inExec && !retrying) serveReady(c);
}

/** Inside EXEC: blocking commands do not block, and blocked clients are served after it. */
let inExec = false;
/** A blocked client's command is running again; it was served unless block() says otherwise. */
let retrying = false;
let retryServed = false;

/**
 * After a blocking command: REPLIED, or the deadline it would block until. Blocks the client, or
 * where it may not block (inside EXEC, replaying the log) answers as a timeout would, at once.
 */
function block(c: Conn, id: i32, deadline: i64): void {
  if (deadline == REPLIED) return;
  if (retrying) {
    retryServed = false; // still nothing for it: it stays blocked
    return;
  }
  if (inExec || loading) {
    if (id == BRPOPLPUSH || id == BLMOVE) replyNil(); // a null, as Redis's deny-blocking path
    else replyNullArray();
    return;
  }
  blockClient(c, deadline);
  deadlineChanged();
}

/** Serves the blocked clients whose lists are ready now, then replies go to `current` again. */
function serveReady(current: Conn): void {
  serveBlocked(retryBlocked);
  replyTo(current.output, current.resp3);
}

function retryBlocked(c: Conn, from: usize, argv: usize, n: u32): bool {
  replyTo(c.output, c.resp3);
  useQueued(from, argv, n, c);
  retrying = true;
  retryServed = true;
  setRetrying(true);
  run(c, lookupCommand(ap(0), al(0)));
  setRetrying(false);
  retrying = false;
  return retryServed;
}

/** on_timer: the blocked clients whose timeout passed get a null array. */
export function timeOutBlocked(): void {
  expireBlocked(timedOut);
}

function timedOut(c: Conn, from: usize, argv: usize, n: u32): void {
  replyTo(c.output, c.resp3);
  replyNullArray();
}

/** Touches the watched keys among the command's key arguments (its first, last and step, or after its numkeys). */
function touchKeyArgs(id: i32): void {
  const cmd = commands[id];
  const at = cmd.numkeysAt;
  if (at != 0) {
    if (!argInt(at) || parsedInt < 1 || parsedInt > <i64>(argc - at - 1)) return;
    for (let i = at + 1; i <= at + <u32>parsedInt; i++) touchKey(ap(i), al(i));
    return;
  }
  if (id == SORT) { // what it writes is the key after its STORE option, the source it only reads
    for (let i: u32 = 2; i + 1 < argc; i++) if (argIs(i, "store")) touchKey(ap(i + 1), al(i + 1));
    return;
  }
  if (cmd.firstKey == 0) return;
  const last = cmd.lastKey < 0 ? <i32>argc + cmd.lastKey : cmd.lastKey;
  for (let i = cmd.firstKey; i <= last; i += cmd.step) touchKey(ap(<u32>i), al(<u32>i));
}

/** EXEC: runs the queued commands in order, their replies in one array; or why not (multi.ts). */
function exec(c: Conn): void {
  if (execRefused(c)) return;
  const m = c.multi!;
  if (m.denyoom && memoryIsOut()) { // rejectCommand: the transaction is discarded
    endTransaction(c);
    return replyErrorLine("EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.");
  }
  c.multi = null; // the commands run now
  unwatchAll(c);
  replyArray(m.count);
  const queued = new SavedCommands(m.queue);
  inExec = true;
  for (let n = queued.next(); n != 0; n = queued.next()) {
    useQueued(m.queue.ptr, queued.argv.ptr, n, c);
    run(c, lookupCommand(ap(0), al(0))); // checked when it was queued
  }
  inExec = false;
  m.queue.free();
  queued.argv.free();
  if (blockedClients() > 0) serveReady(c);
}

/**
 * Logs the write command just run if it changed the store and did not answer an error, unless it
 * logged itself (aof-feed.ts), as Redis propagates a command that made the dataset dirty.
 */
function logCommand(before: u64, mark: u32): void {
  if (takeLogged()) return;
  if (changes() != before && !replyIsErrorSince(mark)) logArgs();
}

function dispatch(c: Conn, id: i32): void {
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
    case EXPIRE: expire(1000, "expire", false); break;
    case PEXPIRE: expire(1, "pexpire", false); break;
    case EXPIREAT: expire(1000, "expireat", true); break;
    case PEXPIREAT: expire(1, "pexpireat", true); break;
    case TTL: ttl(1000); break;
    case PTTL: ttl(1); break;
    case PERSIST: persist(); break;
    case KEYS: keys(); break;
    case SCAN: scan(); break;
    case TYPE: type(); break;
    case DBSIZE: db.purge(); replyInt(db.keys.count); break;
    case FLUSHDB: flush(false); break;
    case FLUSHALL: flush(true); break;
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
    case BGSAVE: bgsave(); break;
    case LASTSAVE: lastsave(); break;
    case BGREWRITEAOF: bgrewriteaof(); break;
    case ATTEST: attestCommand(c); break;
    case SETNX: setnx(); break;
    case SETEX: setex(true); break;
    case PSETEX: setex(false); break;
    case GETDEL: getdel(); break;
    case GETEX: getex(); break;
    case GETRANGE: case SUBSTR: getrange(); break;
    case SETRANGE: setrange(); break;
    case MSETNX: msetnx(); break;
    case HMSET: hset(true); break;
    case HSETNX: hsetnx(); break;
    case HMGET: hmget(); break;
    case HKEYS: hkeysOrVals(true); break;
    case HVALS: hkeysOrVals(false); break;
    case HSTRLEN: hstrlen(); break;
    case LPUSHX: push(true, true); break;
    case RPUSHX: push(false, true); break;
    case LINDEX: lindex(); break;
    case LSET: lset(); break;
    case LTRIM: ltrim(); break;
    case LREM: lrem(); break;
    case LINSERT: linsert(); break;
    case LMOVE: lmove(true, true); break;
    case RPOPLPUSH: lmove(false, true); break;
    case EXPIRETIME: expiretime(1000); break;
    case PEXPIRETIME: expiretime(1); break;
    case UNLINK: del(); break;
    case TOUCH: exists(); break;
    case RANDOMKEY: randomkey(); break;
    case TIME: time(); break;
    case MULTI: multi(c); break;
    case EXEC: exec(c); break;
    case DISCARD: discard(c); break;
    case WATCH: watch(c); break;
    case UNWATCH: unwatch(c); break;
    case BLPOP: block(c, id, bpop(true)); break;
    case BRPOP: block(c, id, bpop(false)); break;
    case BRPOPLPUSH: block(c, id, blmove(false, true)); break;
    case BLMOVE: block(c, id, blmove(true, true)); break;
    case BLMPOP: block(c, id, lmpop(2)); break;
    case LMPOP: lmpop(1); break;
    case SETBIT: setbit(); break;
    case GETBIT: getbit(); break;
    case BITCOUNT: bitcount(); break;
    case SADD: sadd(); break;
    case SREM: srem(); break;
    case SMOVE: smove(); break;
    case SISMEMBER: sismember(); break;
    case SMISMEMBER: smismember(); break;
    case SCARD: scard(); break;
    case SMEMBERS: smembers(); break;
    case SPOP: spop(); break;
    case SRANDMEMBER: randomMembers(TYPE_SET); break;
    case SINTER: setAlgebra(OP_INTER, false); break;
    case SINTERCARD: sintercard(); break;
    case SINTERSTORE: setAlgebra(OP_INTER, true); break;
    case SUNION: setAlgebra(OP_UNION, false); break;
    case SUNIONSTORE: setAlgebra(OP_UNION, true); break;
    case SDIFF: setAlgebra(OP_DIFF, false); break;
    case SDIFFSTORE: setAlgebra(OP_DIFF, true); break;
    case SSCAN: sscan(); break;
    case OBJECT: object(); break;
    case HSCAN: hscan(); break;
    case ZADD: zadd(false); break;
    case ZINCRBY: zadd(true); break;
    case ZREM: zrem(); break;
    case ZCARD: zcard(); break;
    case ZSCORE: zscore(); break;
    case ZMSCORE: zmscore(); break;
    case ZRANK: zrank(false); break;
    case ZREVRANK: zrank(true); break;
    case ZCOUNT: zcount(false); break;
    case ZLEXCOUNT: zcount(true); break;
    case ZRANGE: zrange(-1, -1, false); break;
    case ZRANGESTORE: zrange(-1, -1, true); break;
    case ZREVRANGE: zrange(0, 1, false); break;
    case ZRANGEBYSCORE: zrange(1, 0, false); break;
    case ZREVRANGEBYSCORE: zrange(1, 1, false); break;
    case ZRANGEBYLEX: zrange(2, 0, false); break;
    case ZREVRANGEBYLEX: zrange(2, 1, false); break;
    case ZREMRANGEBYSCORE: zremrange(1); break;
    case ZREMRANGEBYRANK: zremrange(0); break;
    case ZREMRANGEBYLEX: zremrange(2); break;
    case ZUNION: zsetAlgebra(Z_UNION, false, false, "zunion"); break;
    case ZINTER: zsetAlgebra(Z_INTER, false, false, "zinter"); break;
    case ZDIFF: zsetAlgebra(Z_DIFF, false, false, "zdiff"); break;
    case ZUNIONSTORE: zsetAlgebra(Z_UNION, true, false, "zunionstore"); break;
    case ZINTERSTORE: zsetAlgebra(Z_INTER, true, false, "zinterstore"); break;
    case ZDIFFSTORE: zsetAlgebra(Z_DIFF, true, false, "zdiffstore"); break;
    case ZINTERCARD: zsetAlgebra(Z_INTER, false, true, "zintercard"); break;
    case ZPOPMIN: zpop(false); break;
    case ZPOPMAX: zpop(true); break;
    case BZPOPMIN: block(c, id, bzpop(false)); break;
    case BZPOPMAX: block(c, id, bzpop(true)); break;
    case ZMPOP: zmpop(1); break;
    case BZMPOP: block(c, id, zmpop(2)); break;
    case ZRANDMEMBER: randomMembers(TYPE_ZSET); break;
    case ZSCAN: zscan(); break;
    case RENAME: rename(false); break;
    case RENAMENX: rename(true); break;
    case COPY: copy(); break;
    case MOVE: move(); break;
    case SWAPDB: swapdb(); break;
    case INCRBYFLOAT: incrbyfloat(); break;
    case HINCRBYFLOAT: hincrbyfloat(); break;
    case HRANDFIELD: randomMembers(TYPE_HASH); break;
    case LCS: lcs(); break;
    case HELLO: hello(); break;
    case SUBSCRIBE: subscribe(); break;
    case UNSUBSCRIBE: unsubscribe(); break;
    case PSUBSCRIBE: psubscribe(); break;
    case PUNSUBSCRIBE: punsubscribe(); break;
    case PUBLISH: publish(); break;
    case PUBSUB: pubsub(); break;
    case LPOS: lpos(); break;
    case SORT: sort(false); break;
    case SORT_RO: sort(true); break;
    default: unreachable();
  }
}

/** A command's name (CLIENT LIST's cmd=). */
export function commandName(id: i32): string {
  return commands[id].name;
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
  replyInt(c.firstKey != 0 ? c.step : 0);
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
    replyMap(0);
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
