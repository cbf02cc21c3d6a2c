// kv's memory (guest-apps/kv/zmalloc.ts, slab.ts, evict.ts, cmd-config.ts): used_memory as Redis
// reports it, falling when keys go and reused by later keys; CONFIG SET of maxmemory and its
// policy, with Redis's error texts; and each eviction policy doing what Redis's does: noeviction
// refuses writes with -OOM while reads go on, the others keep used_memory under the limit and evict
// the keys their rule picks. The layout's page cost is checked too: a GET of a value out of the
// resident cache fills about one page.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { decodeReplies, encodeCommand, launchKv } from "./fixtures/kv";
import type { KvDriver, KvMode, Reply } from "./fixtures/kv";

const MODES: KvMode[] = ["native", "enclavisor"];
const ok = { status: "OK" };
const OOM = { error: "OOM command not allowed when used memory > 'maxmemory'." };
const err = (text: string) => ({ error: `ERR ${text}` });

/** A field of an INFO section, as a number (or text). */
function infoField(info: Reply, name: string): string {
  const m = new RegExp(`^${name}:(.*)\r$`, "m").exec(String(info));
  if (!m) throw new Error(`INFO has no ${name}`);
  return m[1]!;
}

describe.each(MODES)("kv memory (%s)", (mode) => {
  let kv: KvDriver;
  let conn: number;
  const call = (...args: string[]): Reply => kv.call(conn, ...args);
  const batch = (commands: string[][]): Reply[] => decodeReplies(kv.send(conn, Buffer.concat(commands.map(encodeCommand))).bytes);
  const used = () => Number(infoField(call("INFO", "memory"), "used_memory"));
  const stat = (name: string) => Number(infoField(call("INFO", "stats"), name));
  // Pipelines of `per` SETs: while a pipeline is parsed its bytes count in used_memory, as a Redis
  // client's query buffer does, so evictions run with small ones.
  const fill = (prefix: string, n: number, size: number, per = 100) => {
    for (let i = 0; i < n; i += per) {
      const replies = batch(Array.from({ length: Math.min(per, n - i) }, (_, j) => ["SET", `${prefix}${i + j}`, "v".repeat(size)]));
      for (const r of replies) if (JSON.stringify(r) !== JSON.stringify(ok)) throw new Error(`SET ${prefix}${i}: ${JSON.stringify(r)}`);
    }
  };
  const alive = (prefix: string, n: number) =>
    (batch(Array.from({ length: n }, (_, i) => ["EXISTS", `${prefix}${i}`])) as number[]).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    kv = await launchKv(mode);
    conn = kv.open();
  });
  afterAll(() => kv.enclave.destroy());
  afterEach(() => {
    vi.useRealTimers();
    expect(call("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction", "maxmemory-samples", "5")).toEqual(ok);
    expect(call("FLUSHALL")).toEqual(ok);
  });

  it("reports used_memory that falls after DEL, FLUSHALL, overwrites and expiry, and reuses what was freed", () => {
    const empty = used();
    fill("k", 2000, 1000);
    const full = used();
    expect(full - empty).toBeGreaterThan(2000 * 1000);
    expect(full - empty).toBeLessThan(2000 * 1600); // records of ~1 KB take 1360-byte slab objects, plus the table
    const rss = Number(infoField(call("INFO", "memory"), "used_memory_rss"));
    expect(call("DEL", "k0", "k1", "k2", "k3")).toBe(4);
    expect(used()).toBeLessThan(full);
    expect(call("SET", "k5", "short")).toEqual(ok); // an overwrite by a smaller value
    expect(call("SET", "k6", "x", "PX", "1")).toEqual(ok);
    const before = used();
    const t = Date.now();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t + 10);
    call("DBSIZE"); // expired keys are removed
    expect(used()).toBeLessThan(before);
    vi.useRealTimers();
    expect(call("FLUSHALL")).toEqual(ok);
    const flushed = used();
    expect(flushed - empty).toBeLessThan(64 * 1024);
    const peak = Number(infoField(call("INFO", "memory"), "used_memory_peak"));
    expect(peak).toBeGreaterThanOrEqual(full);
    expect(infoField(call("INFO", "memory"), "used_memory_peak_human")).toMatch(/^\d+\.\d\dM$/);
    fill("again", 2000, 1000); // the freed memory is reused: the linear memory does not grow
    expect(Number(infoField(call("INFO", "memory"), "used_memory_rss"))).toBe(rss);
  });

  it("sets maxmemory and its policy with CONFIG SET, as Redis parses and refuses them", () => {
    expect(call("CONFIG", "SET", "maxmemory", "100mb")).toEqual(ok);
    expect(call("CONFIG", "GET", "maxmemory")).toEqual(["maxmemory", String(100 * 1024 * 1024)]);
    expect(call("CONFIG", "SET", "MAXMEMORY", "2G")).toEqual(ok);
    expect(call("CONFIG", "GET", "maxmemory")).toEqual(["maxmemory", "2000000000"]);
    expect(call("CONFIG", "SET", "maxmemory", "12kb", "maxmemory-policy", "ALLKEYS-LRU", "maxmemory-samples", "10")).toEqual(ok);
    expect(call("CONFIG", "GET", "maxmemory*")).toEqual(["maxmemory", "12288", "maxmemory-policy", "allkeys-lru", "maxmemory-samples", "10"]);
    const memory = call("INFO", "memory");
    expect(infoField(memory, "maxmemory")).toBe("12288");
    expect(infoField(memory, "maxmemory_human")).toBe("12.00K");
    expect(infoField(memory, "maxmemory_policy")).toBe("allkeys-lru");
    expect(call("CONFIG", "SET", "maxmemory", "-1")).toEqual(err("CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"));
    expect(call("CONFIG", "SET", "maxmemory", "10tb")).toEqual(err("CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"));
    expect(call("CONFIG", "SET", "maxmemory-policy", "lru")).toEqual(
      err(
        "CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: " +
          "volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
      ),
    );
    expect(call("CONFIG", "SET", "maxmemory-samples", "0")).toEqual(
      err("CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"),
    );
    expect(call("CONFIG", "SET", "lfu-log-factor", "x")).toEqual(
      err("CONFIG SET failed (possibly related to argument 'lfu-log-factor') - argument couldn't be parsed into an integer"),
    );
    expect(call("CONFIG", "SET", "nosuch", "1")).toEqual(err("Unknown option or number of arguments for CONFIG SET - 'nosuch'"));
    expect(call("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2")).toEqual(
      err("CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"),
    );
    expect(call("CONFIG", "SET", "maxmemory")).toEqual(err("wrong number of arguments for 'config|set' command"));
    expect(call("CONFIG", "SET", "maxmemory", "1", "maxmemory-policy")).toEqual(err("syntax error"));
    // All or nothing: a bad second pair leaves the first unset.
    expect(call("CONFIG", "SET", "maxmemory", "1mb", "maxmemory-samples", "-3")).toEqual(
      err("CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"),
    );
    expect(call("CONFIG", "GET", "maxmemory")).toEqual(["maxmemory", "12288"]);
  });

  it("sets the client buffer limits with CONFIG SET, as Redis prints and parses them", () => {
    const defaults = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    expect(call("CONFIG", "GET", "client-*-buffer-limit")).toEqual(["client-query-buffer-limit", String(1 << 30), "client-output-buffer-limit", defaults]);
    expect(call("CONFIG", "SET", "client-output-buffer-limit", "normal 10mb 5mb 60 replica 1gb 0 0")).toEqual(ok);
    expect(call("CONFIG", "GET", "client-output-buffer-limit")).toEqual([
      "client-output-buffer-limit", "normal 10485760 5242880 60 slave 1073741824 0 0 pubsub 33554432 8388608 60",
    ]);
    const failed = (why: string) => err(`CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - ${why}`);
    expect(call("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 1mb")).toEqual(failed("Wrong number of arguments in buffer limit configuration."));
    expect(call("CONFIG", "SET", "client-output-buffer-limit", "master 1mb 1mb 1")).toEqual(failed("Invalid client class specified in buffer limit configuration."));
    expect(call("CONFIG", "SET", "client-output-buffer-limit", "normal 1xb 1mb 1")).toEqual(
      failed("Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    );
    expect(call("CONFIG", "SET", "client-output-buffer-limit", defaults)).toEqual(ok);
    expect(call("CONFIG", "SET", "client-query-buffer-limit", "1kb")).toEqual(
      err("CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive"),
    );
    expect(call("CONFIG", "SET", "client-query-buffer-limit", "1gb")).toEqual(ok);
  });

  it("noeviction: refuses writes that may grow memory with -OOM above maxmemory, while reads and deletes go on", () => {
    fill("k", 200, 1000);
    expect(call("CONFIG", "SET", "maxmemory", String(used() - 1000))).toEqual(ok);
    expect(call("SET", "new", "value")).toEqual(OOM);
    expect(call("APPEND", "k1", "more")).toEqual(OOM);
    expect(call("LPUSH", "list", "x")).toEqual(OOM);
    expect(call("GET", "k1")).toBe("v".repeat(1000));
    expect(call("EXPIRE", "k2", "100")).toBe(1); // not a denyoom command
    expect(call("DEL", "k1", "k2", "k3")).toBe(3);
    expect(call("SET", "new", "value")).toEqual(ok);
    expect(stat("evicted_keys")).toBe(0);
    expect(call("DBSIZE")).toBe(198);
  });

  it("allkeys-random and allkeys-lru keep used_memory under maxmemory by evicting keys", () => {
    for (const policy of ["allkeys-random", "allkeys-lru", "allkeys-lfu"]) {
      fill("k", 300, 1000);
      const limit = used() - 100_000;
      const evicted = stat("evicted_keys");
      expect(call("CONFIG", "SET", "maxmemory", String(limit), "maxmemory-policy", policy)).toEqual(ok);
      fill("n", 300, 1000, 5);
      expect(used(), policy).toBeLessThanOrEqual(limit + 2000); // at most the last write over it
      expect(stat("evicted_keys") - evicted, policy).toBeGreaterThan(300);
      expect(call("CONFIG", "SET", "maxmemory", "0")).toEqual(ok);
      expect(call("FLUSHALL")).toEqual(ok);
    }
  });

  it("allkeys-lru evicts the keys read longest ago, and keeps the ones read since", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    vi.setSystemTime(t0);
    expect(call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")).toEqual(ok); // reads touch the clock
    fill("k", 400, 1000);
    vi.setSystemTime(t0 + 100_000);
    batch(Array.from({ length: 100 }, (_, i) => ["GET", `k${i}`])); // k0..k99: read 100 s later
    vi.setSystemTime(t0 + 200_000);
    expect(call("CONFIG", "SET", "maxmemory", String(used() - 100 * 1360))).toEqual(ok);
    fill("n", 100, 1000, 5);
    // Redis's LRU is approximate (a pool fed by random samples): nearly all the hot keys stay.
    expect(alive("k", 100)).toBeGreaterThanOrEqual(90);
    expect(400 - alive("k", 400)).toBeGreaterThan(150); // the cold ones go
  });

  it("allkeys-lfu evicts the keys read least often", () => {
    expect(call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")).toEqual(ok);
    fill("k", 400, 1000);
    for (let round = 0; round < 30; round++) batch(Array.from({ length: 50 }, (_, i) => ["GET", `k${i}`]));
    expect(call("CONFIG", "SET", "maxmemory", String(used() - 150 * 1360))).toEqual(ok);
    fill("n", 100, 1000, 5);
    expect(alive("k", 50)).toBeGreaterThanOrEqual(47);
    expect(400 - alive("k", 400)).toBeGreaterThan(200);
  });

  it("volatile policies evict only keys with a TTL, the soonest to expire first under volatile-ttl, and refuse writes once none is left", () => {
    for (const policy of ["volatile-lru", "volatile-random", "volatile-ttl", "volatile-lfu"]) {
      fill("p", 100, 1000); // persistent keys
      batch(Array.from({ length: 100 }, (_, i) => ["SET", `t${i}`, "v".repeat(1000), "EX", String(1000 + i * 10)]));
      expect(call("CONFIG", "SET", "maxmemory", String(used() - 30 * 1360), "maxmemory-policy", policy)).toEqual(ok);
      fill("n", 20, 1000, 5);
      expect(alive("p", 100), policy).toBe(100);
      expect(alive("t", 100), policy).toBeLessThan(100);
      if (policy === "volatile-ttl") expect(alive("t", 20)).toBeLessThan(10); // the shortest TTLs went first
      expect(call("DEL", ...Array.from({ length: 100 }, (_, i) => `t${i}`))).toBeGreaterThan(0);
      expect(call("SET", "big", "v".repeat(200_000)), policy).toEqual(OOM); // nothing volatile left
      expect(call("GET", "p1")).toBe("v".repeat(1000));
      expect(call("CONFIG", "SET", "maxmemory", "0")).toEqual(ok);
      expect(call("FLUSHALL")).toEqual(ok);
    }
  });

  it("reports evicted_keys, keyspace_hits and keyspace_misses in INFO stats", () => {
    const hits = stat("keyspace_hits");
    const misses = stat("keyspace_misses");
    call("SET", "a", "1");
    call("GET", "a");
    call("GET", "nope");
    call("MGET", "a", "a", "nope");
    expect(stat("keyspace_hits") - hits).toBe(3);
    expect(stat("keyspace_misses") - misses).toBe(2);
    expect(infoField(call("INFO", "stats"), "evicted_keys")).toMatch(/^\d+$/);
  });
});

describe("kv's layout under the software MMU", () => {
  it("reads a ~1 KB value out of the resident cache with about one page fill", async () => {
    const kv = await launchKv("enclavisor"); // 96 resident pages: the store below is 14 times that
    const conn = kv.open();
    const send = (commands: string[][]) => decodeReplies(kv.send(conn, Buffer.concat(commands.map(encodeCommand))).bytes);
    const keys = 4000;
    for (let i = 0; i < keys; i += 100) send(Array.from({ length: 100 }, (_, j) => ["SET", `key:${i + j}`, "v".repeat(1000)]));
    let at = 0;
    const random = () => (at = (at + 2477) % keys); // every key once per `keys` draws, in scattered order
    send(Array.from({ length: 200 }, () => ["GET", `key:${random()}`])); // warm the hot pages
    const before = kv.enclave.stats().fills;
    const gets = 400;
    for (let i = 0; i < gets; i++) {
      const k = random();
      expect(send([["GET", `key:${k}`]])[0]).toBe("v".repeat(1000));
    }
    const perGet = (kv.enclave.stats().fills - before) / gets;
    expect(perGet).toBeGreaterThan(0.8); // the store really is out of the cache
    // About one: the record's page (slab objects never cross a page; records straddling pages in a
    // plain heap gave 1.3), with the table's page mostly resident.
    expect(perGet).toBeLessThanOrEqual(1.2);
    kv.enclave.destroy();
  });
});
