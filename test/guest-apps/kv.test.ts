// The kv guest's commands (guest-apps/kv.ts, kv/commands.ts), driven through its exports in native
// and enclavisor modes: every command's replies and Redis's error texts.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { decodeReplies, encodeCommand, launchKv } from "./fixtures/kv";
import type { KvDriver, KvMode, Reply } from "./fixtures/kv";

const MODES: KvMode[] = ["native", "enclavisor"];
const err = (text: string) => ({ error: text });
const ok = { status: "OK" };
const WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value");
const NOT_INT = err("ERR value is not an integer or out of range");
const SYNTAX = err("ERR syntax error");
const arity = (name: string) => err(`ERR wrong number of arguments for '${name}' command`);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each(MODES)("kv commands (%s)", (mode) => {
  let kv: KvDriver;
  let conn: number;
  const call = (...args: string[]): Reply => kv.call(conn, ...args);
  /** Many commands in one pipelined send: their replies. */
  const batch = (commands: string[][]): Reply[] => decodeReplies(kv.send(conn, Buffer.concat(commands.map(encodeCommand))).bytes);

  beforeAll(async () => {
    kv = await launchKv(mode);
    conn = kv.open();
  });
  afterAll(() => kv.enclave.destroy());
  afterEach(() => {
    vi.useRealTimers();
    expect(call("FLUSHALL")).toEqual(ok);
  });

  it("answers PING, ECHO, SELECT and QUIT", () => {
    expect(kv.raw(conn, "PING")).toBe("+PONG\r\n");
    expect(kv.raw(conn, "ping", "hi")).toBe("$2\r\nhi\r\n");
    expect(call("PING", "a", "b")).toEqual(arity("ping"));
    expect(call("ECHO", "x y")).toBe("x y");
    expect(call("ECHO")).toEqual(arity("echo"));
    expect(call("SELECT", "0")).toEqual(ok);
    expect(call("SET", "db0", "zero")).toEqual(ok);
    expect(call("SELECT", "15")).toEqual(ok); // 16 databases, each a keyspace of its own
    expect(call("GET", "db0")).toBeNull();
    expect(call("SET", "db0", "fifteen")).toEqual(ok);
    expect(call("SELECT", "16")).toEqual(err("ERR DB index is out of range"));
    expect(call("SELECT", "-1")).toEqual(err("ERR DB index is out of range"));
    expect(call("SELECT", "0")).toEqual(ok);
    expect(call("GET", "db0")).toBe("zero");
    expect(call("SELECT", "x")).toEqual(NOT_INT);
    expect(call("SELECT", "4294967296")).toEqual(err("ERR value is out of range"));
    const other = kv.open();
    const quit = kv.send(other, "*1\r\n$4\r\nQUIT\r\n");
    expect(quit.bytes.toString()).toBe("+OK\r\n");
    expect(quit.close).toBe(true);
    kv.close(other);
  });

  it("speaks RESP3 after HELLO 3: nulls, doubles, maps, sets and nested pairs of their own types (bytes from redis-server 7.0.15)", () => {
    const other = kv.open();
    const send = (...commands: string[][]) => kv.send(other, Buffer.concat(commands.map(encodeCommand))).bytes.toString("latin1");
    const hello = (proto: number) =>
      `${proto === 3 ? "%7" : "*14"}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:${proto}\r\n$2\r\nid\r\n:${other}\r\n` +
      "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    expect(send(["HELLO", "3"])).toBe(hello(3));
    expect(send(["GET", "nope"], ["ZADD", "z", "1.5", "a", "2", "b"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZSCORE", "z", "a"])).toBe(
      "_\r\n:2\r\n*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n,1.5\r\n");
    expect(send(["HSET", "h", "f", "v"], ["HGETALL", "h"], ["SADD", "s", "1", "2"], ["SMEMBERS", "s"])).toBe(
      ":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n:2\r\n~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    expect(send(["ZPOPMIN", "z", "1"], ["ZPOPMIN", "z"], ["CONFIG", "GET", "maxmemory"], ["LPOP", "nope", "1"])).toBe(
      "*1\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n_\r\n");
    expect(send(["INFO", "keyspace"])).toMatch(/^=\d+\r\ntxt:# Keyspace\r\n/);
    expect(send(["HELLO", "4"], ["HELLO", "2", "AUTH", "bob", "x"], ["HELLO", "3", "FOO"], ["HELLO", "x"])).toBe(
      "-NOPROTO unsupported protocol version\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n" +
        "-ERR Syntax error in HELLO option 'FOO'\r\n-ERR Protocol version is not an integer or out of range\r\n");
    expect(send(["HELLO", "2", "AUTH", "default", "any", "SETNAME", "resp2"])).toBe(hello(2));
    expect(send(["GET", "nope"], ["CLIENT", "GETNAME"])).toBe("$-1\r\n$5\r\nresp2\r\n");
    kv.close(other);
  });

  it("runs MULTI ... EXEC as one, refuses a transaction with a refused command, and fails EXEC on a WATCHed key changed", () => {
    expect(call("MULTI")).toEqual(ok);
    expect(call("SET", "a", "1")).toEqual({ status: "QUEUED" });
    expect(call("INCR", "a")).toEqual({ status: "QUEUED" });
    expect(call("LPUSH", "a", "x")).toEqual({ status: "QUEUED" });
    expect(call("EXEC")).toEqual([ok, 2, WRONGTYPE]); // an error inside is one reply among the others
    expect(call("EXEC")).toEqual(err("ERR EXEC without MULTI"));
    expect(call("DISCARD")).toEqual(err("ERR DISCARD without MULTI"));
    expect(call("MULTI")).toEqual(ok);
    expect(call("MULTI")).toEqual(err("ERR MULTI calls can not be nested"));
    expect(call("WATCH", "a")).toEqual(err("ERR WATCH inside MULTI is not allowed"));
    expect(call("SET", "b")).toEqual(arity("set")); // refused now: the transaction fails
    expect(call("SET", "b", "1")).toEqual({ status: "QUEUED" });
    expect(call("EXEC")).toEqual(err("EXECABORT Transaction discarded because of previous errors."));
    expect(call("EXISTS", "b")).toBe(0);
    expect(call("MULTI")).toEqual(ok);
    expect(call("SET", "b", "1")).toEqual({ status: "QUEUED" });
    expect(call("DISCARD")).toEqual(ok);
    expect(call("EXISTS", "b")).toBe(0);

    const other = kv.open();
    const watched = (change: string[] | null): Reply => {
      expect(call("WATCH", "w")).toEqual(ok);
      if (change) kv.call(other, ...change);
      expect(call("MULTI")).toEqual(ok);
      expect(call("INCR", "w")).toEqual({ status: "QUEUED" });
      return call("EXEC");
    };
    expect(watched(["SET", "w", "10"])).toBeNull(); // changed by another client: a null array
    expect(watched(["SET", "unrelated", "1"])).toEqual([11]);
    expect(watched(["GET", "w"])).toEqual([12]); // read, not changed
    expect(watched(["DEL", "w"])).toBeNull();
    expect(watched(["DEL", "w"])).toEqual([1]); // DEL of nothing changes nothing
    expect(watched(["MSET", "x", "1", "w", "5"])).toBeNull();
    expect(watched(["FLUSHALL"])).toBeNull();
    expect(watched(["FLUSHALL"])).toEqual([1]); // w did not exist: nothing flushed of it
    expect(call("WATCH", "w")).toEqual(ok);
    expect(call("UNWATCH")).toEqual(ok);
    kv.call(other, "SET", "w", "1");
    expect(call("MULTI")).toEqual(ok);
    expect(call("GET", "w")).toEqual({ status: "QUEUED" });
    expect(call("EXEC")).toEqual(["1"]);
    // A watching client that goes away leaves no watch behind.
    kv.call(other, "WATCH", "w");
    kv.close(other);
    expect(call("SET", "w", "2")).toEqual(ok);
  });

  it("delivers PUBLISH to channel and pattern subscribers, waking them, and keeps RESP2 subscribers to the subscriber commands", () => {
    const [a, b, p] = [kv.open(), kv.open(), kv.open()];
    const WAKE = 0x80000000;
    expect(kv.raw(a, "SUBSCRIBE", "news", "sport")).toBe("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n");
    expect(kv.raw(b, "PSUBSCRIBE", "n*")).toBe("*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n");
    expect(kv.raw(a, "GET", "x")).toBe("-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    expect(kv.raw(a, "PING")).toBe("*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    const word = kv.data(p, encodeCommand(["PUBLISH", "news", "hello"]));
    expect((word & WAKE) >>> 0).toBe(WAKE);
    expect(kv.woken()).toEqual([a, b]);
    expect(kv.drain(a)).toBe("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    expect(kv.drain(b)).toBe("*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    expect(kv.call(p, "PUBLISH", "elsewhere", "x")).toBe(0);
    expect(kv.call(p, "PUBSUB", "NUMSUB", "news", "none")).toEqual(["news", 1, "none", 0]);
    expect(kv.call(p, "PUBSUB", "NUMPAT")).toBe(1);
    expect(kv.call(p, "PUBSUB", "CHANNELS", "s*")).toEqual(["sport"]);
    expect(call("CLIENT", "LIST", "TYPE", "pubsub")).toMatch(new RegExp(`^id=${a} .*flags=P .*sub=2 psub=0 [^]*\\nid=${b} .*flags=P .*sub=0 psub=1 `));
    expect(kv.raw(a, "UNSUBSCRIBE", "news", "sport")).toBe(
      "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$5\r\nsport\r\n:0\r\n");
    expect(kv.raw(a, "UNSUBSCRIBE")).toBe("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    expect(kv.raw(a, "GET", "x")).toBe("$-1\r\n"); // out of subscriber mode
    kv.close(b); // a subscriber that goes away receives nothing more
    expect(kv.call(p, "PUBLISH", "news", "again")).toBe(0);
    expect(kv.call(p, "PUBSUB", "NUMPAT")).toBe(0);
    kv.close(a);
    kv.close(p);
  });

  it("lists its clients (CLIENT LIST, INFO), unblocks one (CLIENT UNBLOCK) and closes one (CLIENT KILL)", () => {
    const [a, b] = [kv.open(), kv.open()];
    const WAKE = 0x80000000;
    expect(kv.raw(a, "CLIENT", "SETNAME", "waiter")).toBe("+OK\r\n");
    expect(kv.raw(a, "BLPOP", "nothing", "0")).toBe("");
    const line = call("CLIENT", "LIST", "ID", String(a)) as string;
    expect(line).toMatch(new RegExp(`^id=${a} addr=\\S+ laddr=\\S+ fd=-1 name=waiter age=\\d+ idle=\\d+ flags=b db=0 sub=0 psub=0 ssub=0 multi=-1 .* cmd=blpop user=default redir=-1 resp=2\\n$`));
    expect(call("CLIENT", "INFO")).toMatch(/^id=\d+ .* flags=N .* cmd=client .*\n$/);
    expect((call("CLIENT", "LIST") as string).split("\n").length).toBeGreaterThanOrEqual(4); // this one, a, b, and an empty last line
    expect(call("CLIENT", "LIST", "TYPE", "pubsub")).toBe("");
    expect(call("CLIENT", "LIST", "TYPE", "bogus")).toEqual(err("ERR Unknown client type 'bogus'"));
    // UNBLOCK: as a timeout, then with an error; 0 for a client that is not blocked.
    expect(kv.data(b, encodeCommand(["CLIENT", "UNBLOCK", String(a)])) & WAKE).not.toBe(0);
    expect(kv.woken()).toEqual([a]);
    expect(kv.drain(a)).toBe("*-1\r\n");
    expect(kv.raw(a, "BLPOP", "nothing", "0")).toBe("");
    expect(kv.call(b, "CLIENT", "UNBLOCK", String(a), "ERROR")).toBe(1);
    expect(kv.woken()).toEqual([a]);
    expect(kv.drain(a)).toBe("-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    expect(kv.call(b, "CLIENT", "UNBLOCK", String(a))).toBe(0);
    expect(kv.call(b, "CLIENT", "UNBLOCK", String(a), "LATER")).toEqual(err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"));
    // KILL: the killed client is woken so that its host closes it; SKIPME spares the caller.
    expect(kv.call(b, "CLIENT", "KILL", "ID", "0")).toEqual(err("ERR client-id should be greater than 0"));
    expect(kv.call(b, "CLIENT", "KILL", "1.2.3.4:5")).toEqual(err("ERR No such client"));
    expect(kv.call(b, "CLIENT", "KILL", "ID", String(a))).toBe(1);
    expect(kv.woken()).toEqual([a]);
    expect(kv.fn.on_drain(a) >>> 0 & 0x20000000).not.toBe(0); // RESULT_CLOSE
    expect(kv.call(b, "CLIENT", "KILL", "ID", String(b))).toBe(0); // SKIPME yes by default
    kv.close(a);
    kv.close(b);
  });

  it("blocks BLPOP, BRPOP, BLMOVE and BLMPOP on empty lists until a write or the timeout, in the order clients blocked", () => {
    const [a, b, w] = [kv.open(), kv.open(), kv.open()];
    const WAKE = 0x80000000;
    expect(kv.raw(a, "BLPOP", "l", "m", "0")).toBe(""); // blocked: no reply
    expect(kv.raw(b, "BRPOPLPUSH", "l", "dst", "0")).toBe("");
    expect(kv.raw(a, "PING")).toBe(""); // a blocked client's later commands wait
    expect(call("INFO", "clients")).toMatch(/blocked_clients:2\r\n/);
    const push = kv.data(w, encodeCommand(["RPUSH", "l", "x", "y"]));
    expect((push & WAKE) >>> 0).toBe(WAKE);
    expect(kv.woken()).toEqual([a, b]);
    expect(kv.drain(a)).toBe("*2\r\n$1\r\nl\r\n$1\r\nx\r\n+PONG\r\n"); // first blocked, first served
    expect(kv.drain(b)).toBe("$1\r\ny\r\n");
    expect(kv.call(w, "LRANGE", "dst", "0", "-1")).toEqual(["y"]);
    // Inside EXEC it does not block; a key of another type is not ready (it stays blocked).
    expect(kv.call(a, "MULTI")).toEqual(ok);
    kv.call(a, "BLPOP", "none", "0");
    kv.call(a, "BLMOVE", "none", "dst", "LEFT", "RIGHT", "0");
    expect(kv.call(a, "EXEC")).toEqual([null, null]);
    expect(kv.raw(a, "BLMPOP", "0", "2", "q1", "q2", "RIGHT", "COUNT", "5")).toBe("");
    kv.call(w, "SET", "q1", "string");
    expect(kv.woken()).toEqual([]);
    kv.call(w, "RPUSH", "q2", "1", "2", "3");
    expect(kv.woken()).toEqual([a]);
    expect(kv.drain(a)).toBe("*2\r\n$2\r\nq2\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n");
    // Timeouts: the deadline is the host's to time; on_timer answers a null array.
    vi.useFakeTimers({ now: 1_000_000 });
    expect(kv.fn.blocked_deadline()).toBe(0);
    expect(kv.raw(b, "BRPOP", "t", "1.5")).toBe("");
    expect(kv.fn.blocked_deadline()).toBe(1_001_500);
    expect(kv.fn.on_timer() >>> 0).toBe(0); // not due yet
    vi.setSystemTime(1_001_500);
    expect(kv.fn.on_timer() >>> 0).toBe(WAKE);
    expect(kv.woken()).toEqual([b]);
    expect(kv.drain(b)).toBe("*-1\r\n");
    expect(kv.fn.blocked_deadline()).toBe(0);
    // Errors come first, as Redis checks them.
    expect(kv.call(a, "BLPOP", "l", "-1")).toEqual(err("ERR timeout is negative"));
    expect(kv.call(a, "BLPOP", "l", "soon")).toEqual(err("ERR timeout is not a float or out of range"));
    expect(kv.call(a, "BLMPOP", "0", "0", "l", "LEFT")).toEqual(err("ERR numkeys should be greater than 0"));
    expect(kv.call(a, "BLMPOP", "0", "1", "l", "UP")).toEqual(SYNTAX);
    expect(kv.call(a, "LMPOP", "1", "l", "LEFT", "COUNT", "0")).toEqual(err("ERR count should be greater than 0"));
    expect(kv.call(a, "LMPOP", "1", "l", "LEFT")).toBeNull();
    expect(kv.call(a, "BLPOP", "q1", "0")).toEqual(WRONGTYPE);
    // A blocked client that goes away is not served.
    expect(kv.raw(b, "BLPOP", "gone", "0")).toBe("");
    kv.close(b);
    kv.call(w, "RPUSH", "gone", "v");
    expect(kv.woken()).toEqual([]);
    expect(kv.call(w, "LLEN", "gone")).toBe(1);
    for (const c of [a, w]) kv.close(c);
  });

  it("reports unknown commands and wrong arities with Redis's text", () => {
    expect(kv.raw(conn, "foo", "a", "b")).toBe("-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    expect(kv.raw(conn, "FOO")).toBe("-ERR unknown command 'FOO', with args beginning with: \r\n");
    expect(kv.raw(conn, "nope", "a\r\nb")).toBe("-ERR unknown command 'nope', with args beginning with: 'a  b' \r\n");
    // The quoted arguments stop once 128 characters of them are out.
    const long = kv.raw(conn, "foo", "x".repeat(200), "y");
    expect(long).toBe(`-ERR unknown command 'foo', with args beginning with: '${"x".repeat(128)}' \r\n`);
    expect(call("GET")).toEqual(arity("get"));
    expect(call("GET", "a", "b")).toEqual(arity("get"));
    expect(call("SET", "a")).toEqual(arity("set"));
    expect(call("DBSIZE", "x")).toEqual(arity("dbsize"));
  });

  it("SET, GET, GETSET, DEL, EXISTS, MGET, MSET", () => {
    expect(call("GET", "k")).toBe(null);
    expect(kv.raw(conn, "GET", "k")).toBe("$-1\r\n");
    expect(call("SET", "k", "v1")).toEqual(ok);
    expect(call("GET", "k")).toBe("v1");
    expect(call("SET", "k", "v2", "NX")).toBe(null);
    expect(call("SET", "new", "n", "XX")).toBe(null);
    expect(call("EXISTS", "new")).toBe(0);
    expect(call("SET", "k", "v3", "XX")).toEqual(ok);
    expect(call("SET", "k", "v4", "GET")).toBe("v3");
    expect(call("SET", "fresh", "f", "NX", "GET")).toBe(null);
    expect(call("GET", "fresh")).toBe("f");
    expect(call("SET", "k", "v", "NX", "XX")).toEqual(SYNTAX);
    expect(call("SET", "k", "v", "EX")).toEqual(SYNTAX);
    expect(call("SET", "k", "v", "EX", "1", "PX", "1")).toEqual(SYNTAX);
    expect(call("SET", "k", "v", "BOGUS")).toEqual(SYNTAX);
    expect(call("GETSET", "k", "g")).toBe("v4");
    expect(call("GETSET", "absent", "g")).toBe(null);
    expect(call("GET", "absent")).toBe("g");
    expect(call("DEL", "k", "absent", "nothing")).toBe(2);
    expect(call("EXISTS", "k", "fresh", "fresh", "x")).toBe(2);
    expect(call("MSET", "a", "1", "b", "2")).toEqual(ok);
    expect(call("MSET", "a", "1", "b")).toEqual(arity("mset"));
    call("LPUSH", "list", "x");
    expect(call("MGET", "a", "zz", "b", "list")).toEqual(["1", null, "2", null]);
    expect(call("GET", "list")).toEqual(WRONGTYPE);
    expect(call("GETSET", "list", "x")).toEqual(WRONGTYPE);
    expect(call("SET", "list", "x", "GET")).toEqual(WRONGTYPE);
    expect(call("SET", "list", "now a string")).toEqual(ok);
    expect(call("TYPE", "list")).toEqual({ status: "string" });
  });

  it("keeps values as bytes: empty, binary, with NUL", () => {
    const binary = Buffer.from([0, 1, 2, 0, 255, 13, 10, 0]);
    expect(kv.raw(conn, "SET", Buffer.from("k\0ey"), binary)).toBe("+OK\r\n");
    expect(kv.send(conn, Buffer.from("*2\r\n$3\r\nGET\r\n$4\r\nk\0ey\r\n")).bytes).toEqual(
      Buffer.concat([Buffer.from("$8\r\n"), binary, Buffer.from("\r\n")]),
    );
    expect(call("STRLEN", "k\0ey")).toBe(8);
    expect(call("GET", "k")).toBe(null);
    expect(call("SET", "empty", "")).toEqual(ok);
    expect(kv.raw(conn, "GET", "empty")).toBe("$0\r\n\r\n");
    const big = Buffer.alloc(300_000, 7);
    expect(kv.raw(conn, "SET", "big", big)).toBe("+OK\r\n");
    const back = kv.send(conn, Buffer.from("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"));
    expect(back.drains).toBeGreaterThan(0); // more than io_out holds: drained in parts
    expect(back.bytes.equals(Buffer.concat([Buffer.from("$300000\r\n"), big, Buffer.from("\r\n")]))).toBe(true);
  });

  it("INCR, INCRBY, DECR, DECRBY, APPEND, STRLEN", () => {
    expect(call("INCR", "n")).toBe(1);
    expect(call("INCRBY", "n", "41")).toBe(42);
    expect(call("DECR", "n")).toBe(41);
    expect(call("DECRBY", "n", "-9")).toBe(50);
    expect(call("GET", "n")).toBe("50");
    expect(call("INCRBY", "n", "x")).toEqual(NOT_INT);
    expect(call("INCRBY", "n", "1.5")).toEqual(NOT_INT);
    expect(call("INCRBY", "n", " 1")).toEqual(NOT_INT);
    expect(call("INCRBY", "n", "01")).toEqual(NOT_INT);
    expect(call("INCRBY", "n", "99999999999999999999")).toEqual(NOT_INT);
    call("SET", "s", "abc");
    expect(call("INCR", "s")).toEqual(NOT_INT);
    call("SET", "max", "9223372036854775807");
    expect(call("INCR", "max")).toEqual(err("ERR increment or decrement would overflow"));
    call("SET", "min", "-9223372036854775808");
    expect(call("DECR", "min")).toEqual(err("ERR increment or decrement would overflow"));
    expect(call("DECRBY", "n", "-9223372036854775808")).toEqual(err("ERR decrement would overflow"));
    expect(call("INCRBY", "min", "9223372036854775807")).toBe(-1);
    expect(call("APPEND", "s", "def")).toBe(6);
    expect(call("APPEND", "t", "xy")).toBe(2);
    expect(call("GET", "s")).toBe("abcdef");
    expect(call("STRLEN", "s")).toBe(6);
    expect(call("STRLEN", "none")).toBe(0);
    call("HSET", "h", "f", "1");
    expect(call("INCR", "h")).toEqual(WRONGTYPE);
    expect(call("APPEND", "h", "x")).toEqual(WRONGTYPE);
    expect(call("STRLEN", "h")).toEqual(WRONGTYPE);
  });

  it("EXPIRE, PEXPIRE, TTL, PTTL, PERSIST and SET's expiry options on the host's clock", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = 1_800_000_000_000;
    vi.setSystemTime(t0);
    call("SET", "k", "v");
    expect(call("TTL", "k")).toBe(-1);
    expect(call("TTL", "none")).toBe(-2);
    expect(call("PTTL", "none")).toBe(-2);
    expect(call("EXPIRE", "k", "10")).toBe(1);
    expect(call("EXPIRE", "none", "10")).toBe(0);
    expect(call("TTL", "k")).toBe(10);
    vi.setSystemTime(t0 + 2_400);
    expect(call("TTL", "k")).toBe(8); // 7.6 s rounds to 8, as Redis does
    expect(call("PTTL", "k")).toBe(7_600);
    expect(call("EXPIRE", "k", "5", "GT")).toBe(0);
    expect(call("EXPIRE", "k", "5", "LT")).toBe(1);
    expect(call("EXPIRE", "k", "50", "NX")).toBe(0);
    expect(call("EXPIRE", "k", "50", "XX")).toBe(1);
    expect(call("EXPIRE", "k", "1", "NX", "XX")).toEqual(err("ERR NX and XX, GT or LT options at the same time are not compatible"));
    expect(call("EXPIRE", "k", "1", "GT", "LT")).toEqual(err("ERR GT and LT options at the same time are not compatible"));
    expect(call("EXPIRE", "k", "1", "FOO")).toEqual(err("ERR Unsupported option FOO"));
    expect(call("EXPIRE", "k", "x")).toEqual(NOT_INT);
    expect(call("EXPIRE", "k", "9223372036854775807")).toEqual(err("ERR invalid expire time in 'expire' command"));
    expect(call("PEXPIRE", "k", "9223372036854775807")).toEqual(err("ERR invalid expire time in 'pexpire' command"));
    expect(call("PERSIST", "k")).toBe(1);
    expect(call("PERSIST", "k")).toBe(0);
    expect(call("TTL", "k")).toBe(-1);
    expect(call("PEXPIRE", "k", "1500")).toBe(1);
    vi.setSystemTime(t0 + 2_400 + 1_500);
    expect(call("GET", "k")).toBe(null);
    expect(call("EXISTS", "k")).toBe(0);
    // SET's options.
    expect(call("SET", "e", "v", "EX", "100")).toEqual(ok);
    expect(call("TTL", "e")).toBe(100);
    expect(call("SET", "e", "w", "KEEPTTL")).toEqual(ok);
    expect(call("TTL", "e")).toBe(100);
    expect(call("SET", "e", "w")).toEqual(ok);
    expect(call("TTL", "e")).toBe(-1);
    expect(call("SET", "e", "v", "PX", "2500")).toEqual(ok);
    expect(call("PTTL", "e")).toBe(2_500);
    expect(call("SET", "e", "v", "EXAT", String(Math.floor(Date.now() / 1000) + 30))).toEqual(ok);
    expect(call("PTTL", "e")).toBe(29_100); // the clock is at ...3.9 s
    expect(call("SET", "e", "v", "PXAT", String(Date.now() + 1234))).toEqual(ok);
    expect(call("PTTL", "e")).toBe(1234);
    expect(call("SET", "e", "v", "EX", "0")).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(call("SET", "e", "v", "PX", "-5")).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(call("SET", "e", "v", "EX", "9223372036854775807")).toEqual(err("ERR invalid expire time in 'set' command"));
    expect(call("SET", "e", "v", "EX", "ten")).toEqual(NOT_INT);
    // A past time deletes at once; GETSET drops the TTL.
    expect(call("EXPIRE", "e", "-1")).toBe(1);
    expect(call("EXISTS", "e")).toBe(0);
    call("SET", "g", "1", "EX", "100");
    call("GETSET", "g", "2");
    expect(call("TTL", "g")).toBe(-1);
    // INCR keeps the TTL (Redis changes the value in place).
    call("SET", "c", "1", "EX", "100");
    call("INCR", "c");
    expect(call("TTL", "c")).toBe(100);
  });

  it("expired keys leave DBSIZE, KEYS, SCAN and INFO keyspace without being touched", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = 1_800_000_000_000;
    vi.setSystemTime(t0);
    const expired = () => Number(/expired_keys:(\d+)\r\n/.exec(String(call("INFO", "stats")))![1]);
    const before = expired();
    for (let i = 0; i < 50; i++) call("SET", `t${i}`, "v", "PX", "1000");
    for (let i = 0; i < 5; i++) call("SET", `p${i}`, "v");
    expect(call("DBSIZE")).toBe(55);
    expect(String(call("INFO", "keyspace"))).toContain("db0:keys=55,expires=50,avg_ttl=0");
    vi.setSystemTime(t0 + 1000);
    expect(call("DBSIZE")).toBe(5);
    expect((call("KEYS", "*") as string[]).sort()).toEqual(["p0", "p1", "p2", "p3", "p4"]);
    expect(String(call("INFO", "keyspace"))).toContain("db0:keys=5,expires=0,avg_ttl=0");
    // The active sweep alone (no DBSIZE) removes expired keys too: INFO stats counts them.
    for (let i = 0; i < 40; i++) call("SET", `s${i}`, "v", "PX", "10");
    vi.setSystemTime(t0 + 2000);
    for (let i = 0; i < 2; i++) call("PING"); // 20 expiring keys checked after each request batch
    expect(expired() - before).toBe(90); // 50 by DBSIZE, 40 by two sweeps
  });

  it("KEYS with Redis's glob patterns", () => {
    for (const k of ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "a[b", "user:1", "user:22"]) call("SET", k, "1");
    const keys = (pattern: string) => (call("KEYS", pattern) as string[]).sort();
    expect(keys("h?llo")).toEqual(["h*llo", "hallo", "hello", "hxllo"]);
    expect(keys("h*llo")).toEqual(["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]);
    expect(keys("h[ae]llo")).toEqual(["hallo", "hello"]);
    expect(keys("h[^e]llo")).toEqual(["h*llo", "hallo", "hxllo"]);
    expect(keys("h[a-b]llo")).toEqual(["hallo"]);
    expect(keys("h[b-a]llo")).toEqual(["hallo"]);
    expect(keys("h\\*llo")).toEqual(["h*llo"]);
    expect(keys("a\\[b")).toEqual(["a[b"]);
    expect(keys("user:?")).toEqual(["user:1"]);
    expect(keys("user:*")).toEqual(["user:1", "user:22"]);
    expect(keys("*")).toHaveLength(9);
    expect(keys("nomatch*")).toEqual([]);
  });

  it("SCAN visits every key once across calls, with MATCH, COUNT and TYPE", () => {
    for (let i = 0; i < 300; i++) call("SET", `key:${i}`, "v");
    for (let i = 0; i < 20; i++) call("RPUSH", `list:${i}`, "v");
    const seen: string[] = [];
    let cursor = "0";
    let rounds = 0;
    do {
      const [next, keys] = call("SCAN", cursor, "COUNT", "25") as [string, string[]];
      seen.push(...keys);
      cursor = next;
      rounds++;
    } while (cursor !== "0");
    expect(rounds).toBeGreaterThan(5);
    expect(new Set(seen).size).toBe(320);
    expect(seen).toHaveLength(320);
    const lists: string[] = [];
    const matched: string[] = [];
    cursor = "0";
    do {
      const [next, keys] = call("SCAN", cursor, "TYPE", "list") as [string, string[]];
      lists.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    do {
      const [next, keys] = call("SCAN", cursor, "MATCH", "key:1?", "COUNT", "1000") as [string, string[]];
      matched.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    expect(lists.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `list:${i}`).sort());
    expect(matched.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `key:1${i}`).sort());
    expect(call("SCAN", "x")).toEqual(err("ERR invalid cursor"));
    expect(call("SCAN", "0", "COUNT", "0")).toEqual(SYNTAX);
    expect(call("SCAN", "0", "COUNT", "x")).toEqual(NOT_INT);
    expect(call("SCAN", "0", "BOGUS")).toEqual(SYNTAX);
  });

  it("keeps every key reachable through growth, deletes inside probe runs and shrinking", () => {
    const n = 3000;
    batch(range(n).map((i) => ["SET", `k${i}`, `v${i}`]));
    expect(call("DBSIZE")).toBe(n);
    // Every third key goes: the entries after each in its run move back into the gap.
    expect(batch(range(n).filter((i) => i % 3 === 0).map((i) => ["DEL", `k${i}`]))).toEqual(range(n / 3).map(() => 1));
    expect(batch(range(n).map((i) => ["GET", `k${i}`]))).toEqual(range(n).map((i) => (i % 3 === 0 ? null : `v${i}`)));
    // Nearly all go: the table shrinks, and what is left stays reachable.
    batch(range(n).filter((i) => i % 3 !== 0 && i % 50 !== 1).map((i) => ["DEL", `k${i}`]));
    const left = range(n).filter((i) => i % 3 !== 0 && i % 50 === 1);
    expect(call("DBSIZE")).toBe(left.length);
    expect(batch(left.map((i) => ["GET", `k${i}`]))).toEqual(left.map((i) => `v${i}`));
    expect((call("KEYS", "*") as string[]).sort()).toEqual(left.map((i) => `k${i}`).sort());
    // Setting them all again makes no duplicates.
    expect(batch(range(n).map((i) => ["SET", `k${i}`, `w${i}`])).every((r) => (r as { status: string }).status === "OK")).toBe(true);
    expect(call("DBSIZE")).toBe(n);
    expect(call("GET", "k1")).toBe("w1");
  });

  it("SCAN returns every key present for the whole scan while the table grows and shrinks", () => {
    batch(range(200).map((i) => ["SET", `s${i}`, "v"]));
    const seen = new Set<string>();
    let cursor = "0";
    let step = 0;
    do {
      const [next, keys] = call("SCAN", cursor, "COUNT", "10") as [string, string[]];
      for (const k of keys) seen.add(k);
      cursor = next;
      step++;
      if (step === 3) batch(range(2000).map((i) => ["SET", `g${i}`, "v"])); // grows the table
      if (step === 8) batch(range(2000).map((i) => ["DEL", `g${i}`])); // and shrinks it back
    } while (cursor !== "0");
    expect(step).toBeGreaterThan(8);
    expect(range(200).filter((i) => !seen.has(`s${i}`))).toEqual([]);
  });

  it("TYPE, DBSIZE, FLUSHDB, FLUSHALL", () => {
    call("SET", "s", "1");
    call("HSET", "h", "f", "v");
    call("RPUSH", "l", "x");
    expect(call("TYPE", "s")).toEqual({ status: "string" });
    expect(call("TYPE", "h")).toEqual({ status: "hash" });
    expect(call("TYPE", "l")).toEqual({ status: "list" });
    expect(call("TYPE", "none")).toEqual({ status: "none" });
    expect(call("DBSIZE")).toBe(3);
    expect(call("FLUSHDB", "ASYNC")).toEqual(ok);
    expect(call("DBSIZE")).toBe(0);
    expect(call("FLUSHDB", "NOW")).toEqual(SYNTAX);
    expect(call("FLUSHALL", "SYNC")).toEqual(ok);
  });

  it("HSET, HGET, HDEL, HGETALL, HLEN, HEXISTS, HINCRBY", () => {
    expect(call("HSET", "h", "a", "1", "b", "2")).toBe(2);
    expect(call("HSET", "h", "a", "10", "c", "3")).toBe(1);
    expect(call("HSET", "h", "a", "1", "b")).toEqual(arity("hset"));
    expect(call("HGET", "h", "a")).toBe("10");
    expect(call("HGET", "h", "zz")).toBe(null);
    expect(call("HGET", "none", "a")).toBe(null);
    expect(call("HLEN", "h")).toBe(3);
    expect(call("HLEN", "none")).toBe(0);
    expect(call("HEXISTS", "h", "b")).toBe(1);
    expect(call("HEXISTS", "h", "q")).toBe(0);
    const all = call("HGETALL", "h") as string[];
    const pairs = new Map<string, string>();
    for (let i = 0; i < all.length; i += 2) pairs.set(all[i], all[i + 1]);
    expect(pairs).toEqual(new Map([["a", "10"], ["b", "2"], ["c", "3"]]));
    expect(call("HGETALL", "none")).toEqual([]);
    expect(call("HINCRBY", "h", "a", "5")).toBe(15);
    expect(call("HINCRBY", "h", "new", "-3")).toBe(-3);
    expect(call("HINCRBY", "h", "a", "x")).toEqual(NOT_INT);
    call("HSET", "h", "text", "abc", "max", "9223372036854775807");
    expect(call("HINCRBY", "h", "text", "1")).toEqual(err("ERR hash value is not an integer"));
    expect(call("HINCRBY", "h", "max", "1")).toEqual(err("ERR increment or decrement would overflow"));
    expect(call("HDEL", "h", "a", "b", "zz")).toBe(2);
    expect(call("HDEL", "h", "c", "new", "text", "max")).toBe(4);
    expect(call("EXISTS", "h")).toBe(0); // the last field gone: the key goes too
    call("SET", "s", "x");
    for (const args of [["HSET", "s", "f", "v"], ["HGET", "s", "f"], ["HDEL", "s", "f"], ["HGETALL", "s"], ["HLEN", "s"], ["HEXISTS", "s", "f"], ["HINCRBY", "s", "f", "1"]]) {
      expect(call(...args)).toEqual(WRONGTYPE);
    }
    // Many fields: the field table grows and shrinks.
    for (let i = 0; i < 200; i++) call("HSET", "big", `f${i}`, `${i}`);
    expect(call("HLEN", "big")).toBe(200);
    for (let i = 0; i < 199; i++) call("HDEL", "big", `f${i}`);
    expect(call("HGETALL", "big")).toEqual(["f199", "199"]);
  });

  it("LPUSH, RPUSH, LPOP, RPOP, LLEN, LRANGE", () => {
    expect(call("RPUSH", "l", "a", "b", "c")).toBe(3);
    expect(call("LPUSH", "l", "z", "y")).toBe(5);
    expect(call("LRANGE", "l", "0", "-1")).toEqual(["y", "z", "a", "b", "c"]);
    expect(call("LRANGE", "l", "1", "2")).toEqual(["z", "a"]);
    expect(call("LRANGE", "l", "-2", "100")).toEqual(["b", "c"]);
    expect(call("LRANGE", "l", "3", "1")).toEqual([]);
    expect(call("LRANGE", "l", "10", "20")).toEqual([]);
    expect(call("LRANGE", "l", "-100", "0")).toEqual(["y"]);
    expect(call("LRANGE", "l", "a", "1")).toEqual(NOT_INT);
    expect(call("LRANGE", "none", "0", "-1")).toEqual([]);
    expect(call("LLEN", "l")).toBe(5);
    expect(call("LLEN", "none")).toBe(0);
    expect(call("LPOP", "l")).toBe("y");
    expect(call("RPOP", "l")).toBe("c");
    expect(call("LPOP", "l", "2")).toEqual(["z", "a"]);
    expect(call("RPOP", "l", "0")).toEqual([]);
    expect(call("RPOP", "l", "-1")).toEqual(err("ERR value is out of range, must be positive"));
    expect(call("RPOP", "l", "x")).toEqual(err("ERR value is out of range, must be positive"));
    expect(call("LPOP", "l", "1", "2")).toEqual(arity("lpop"));
    expect(call("RPOP", "l", "5")).toEqual(["b"]);
    expect(call("EXISTS", "l")).toBe(0);
    expect(call("LPOP", "none")).toBe(null);
    expect(kv.raw(conn, "LPOP", "none", "2")).toBe("*-1\r\n");
    call("SET", "s", "x");
    for (const args of [["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPOP", "s"], ["RPOP", "s"], ["LLEN", "s"], ["LRANGE", "s", "0", "1"]]) {
      expect(call(...args)).toEqual(WRONGTYPE);
    }
    // A long list through the ring buffer's growth and wrap-around.
    for (let i = 0; i < 100; i++) call(i % 2 ? "LPUSH" : "RPUSH", "long", `${i}`);
    const items = call("LRANGE", "long", "0", "-1") as string[];
    expect(items).toHaveLength(100);
    expect(items[0]).toBe("99");
    expect(items[99]).toBe("98");
    for (let i = 0; i < 90; i++) call("LPOP", "long");
    expect(call("LLEN", "long")).toBe(10);
    expect(call("LRANGE", "long", "-1", "-1")).toEqual(["98"]);
  });

  it("INFO, CONFIG GET, COMMAND and CLIENT answer what clients ask", () => {
    call("SET", "a", "1");
    const info = String(call("INFO"));
    for (const line of ["# Server", "redis_version:7.0.15", "# Clients", "connected_clients:", "# Memory", "used_memory:", "# Persistence", "loading:0", "# Stats", "total_commands_processed:", "# Keyspace", "db0:keys=1,expires=0,avg_ttl=0"]) {
      expect(info).toContain(line);
    }
    const processed = (text: string) => Number(/total_commands_processed:(\d+)/.exec(text)![1]);
    const before = processed(String(call("INFO", "stats")));
    call("PING");
    expect(processed(String(call("INFO", "stats")))).toBe(before + 2);
    expect(String(call("INFO", "memory"))).not.toContain("# Server");
    const memory = String(call("INFO", "memory"));
    const used = Number(/used_memory:(\d+)/.exec(memory)![1]);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(Number(/used_memory_rss:(\d+)/.exec(memory)![1]));
    expect(call("CONFIG", "GET", "save")).toEqual(["save", ""]);
    expect(call("CONFIG", "GET", "appendonly")).toEqual(["appendonly", "no"]);
    expect(call("CONFIG", "GET", "nothing")).toEqual([]);
    expect(call("CONFIG", "GET", "max*", "proto*")).toEqual([
      "proto-max-bulk-len", "536870912", "maxmemory", "0", "maxmemory-policy", "noeviction", "maxmemory-samples", "5",
    ]);
    expect(call("CONFIG", "GET", "MAXMEMORY")).toEqual(["maxmemory", "0"]);
    expect(call("CONFIG", "GET")).toEqual(arity("config|get"));
    expect(call("CONFIG", "SET", "save", "")).toEqual(err("ERR CONFIG SET failed (possibly related to argument 'save') - can't set immutable config"));
    // Redis's sections: default leaves commandstats out, all and everything take it; RESETSTAT starts the counts again.
    const sections = (text: string) => [...String(text).matchAll(/^# (\w+)/gm)].map((m) => m[1]);
    expect(sections(String(call("INFO")))).toEqual(["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Keyspace"]);
    expect(sections(String(call("INFO", "everything")))).toContain("Commandstats");
    expect(sections(String(call("INFO", "cpu", "default")))).toEqual(sections(String(call("INFO"))));
    expect(String(call("INFO", "cpu"))).toMatch(/^# CPU\r\nused_cpu_sys:\d+\.\d{6}\r\nused_cpu_user:\d+\.\d{6}\r\n/);
    expect(String(call("INFO", "replication"))).toMatch(/role:master\r\nconnected_slaves:0\r\n.*master_replid:[0-9a-f]{40}\r\n/s);
    expect(call("CONFIG", "RESETSTAT")).toEqual(ok); // the counts of the tests before go
    call("GET", "a");
    call("GET");
    call("INCR", "nope-not-a-number-a");
    call("LPUSH", "a", "x");
    const stats = String(call("INFO", "commandstats"));
    expect(stats).toMatch(/cmdstat_get:calls=1,rejected_calls=1,failed_calls=0\r\n/);
    expect(stats).toMatch(/cmdstat_lpush:calls=1,rejected_calls=0,failed_calls=1\r\n/); // WRONGTYPE
    expect(call("CONFIG", "RESETSTAT")).toEqual(ok);
    expect(String(call("INFO", "commandstats"))).toBe("# Commandstats\r\ncmdstat_info:calls=1,rejected_calls=0,failed_calls=0\r\n");
    expect(processed(String(call("INFO", "stats")))).toBe(2);
    expect(call("CONFIG", "RESETSTAT", "x")).toEqual(arity("config|resetstat"));
    expect(call("CONFIG", "BOGUS")).toEqual(err("ERR unknown subcommand 'BOGUS'. Try CONFIG HELP."));
    expect(call("COMMAND", "DOCS")).toEqual([]);
    expect(call("COMMAND", "DOCS", "get")).toEqual([]);
    const count = call("COMMAND", "COUNT") as number;
    expect(count).toBeGreaterThan(150); // every family of Redis 7.0's core types
    expect((call("COMMAND", "LIST") as string[]).length).toBe(count);
    const get = (call("COMMAND", "INFO", "get", "nope") as Reply[]);
    expect(get[1]).toBe(null);
    expect((get[0] as Reply[]).slice(0, 2)).toEqual(["get", 2]);
    expect((call("COMMAND") as Reply[]).length).toBe(count);
    expect(call("COMMAND", "BOGUS")).toEqual(err("ERR unknown subcommand 'BOGUS'. Try COMMAND HELP."));
    expect(call("CLIENT", "GETNAME")).toBe(null);
    expect(call("CLIENT", "SETNAME", "worker-1")).toEqual(ok);
    expect(call("CLIENT", "GETNAME")).toBe("worker-1");
    expect(call("CLIENT", "SETNAME", "a b")).toEqual(err("ERR Client names cannot contain spaces, newlines or special characters."));
    expect(call("CLIENT", "ID")).toBe(conn);
    expect(call("CLIENT", "KILL")).toEqual(arity("client|kill"));
    expect(call("CLIENT", "BOGUS")).toEqual(err("ERR unknown subcommand 'BOGUS'. Try CLIENT HELP."));
  });
});
