// The kv enclave end to end, in every mode: one `enclave serve guest-apps/kv.wasm` per mode (started
// together, reused by every test), driven by a raw RESP2 client through the whole command table
// (fixtures/kv-table.ts, Redis 7.0's exact replies), by the real redis-cli and redis-benchmark
// (Debian's redis-tools), and by ioredis.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODE_NAMES } from "../../host/launcher/modes";
import type { ModeName } from "../../host/launcher/modes";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { KV_TABLE } from "./fixtures/kv-table";
import { RespClient } from "./fixtures/resp";
import { startServer } from "./fixtures/server";
import type { RunningServer } from "./fixtures/server";

const run = promisify(execFile);
const servers = new Map<ModeName, RunningServer>();

beforeAll(async () => {
  guestApp("kv");
  // A small resident cache, so that the store's pages really go through encrypted DRAM.
  const started = await Promise.all(MODE_NAMES.map((mode) => startServer("guest-apps/kv.wasm", ["--mode", mode, "--cache", "512K"])));
  MODE_NAMES.forEach((mode, i) => servers.set(mode, started[i]!));
});

afterAll(async () => {
  const codes = await Promise.all([...servers.values()].map((s) => s.stop("SIGTERM")));
  expect(codes.every((c) => c === 0)).toBe(true);
});

describe.each(MODE_NAMES)("kv in %s mode", (mode) => {
  const port = () => servers.get(mode)!.port;

  it("answers every command of the table exactly as Redis does", async () => {
    const c = await RespClient.connect(port());
    for (const step of KV_TABLE) {
      const reply = await c.call(...step.args);
      if (typeof step.reply === "string") expect(reply, step.args.join(" ")).toBe(step.reply);
      else expect(reply, step.args.join(" ")).toMatch(step.reply);
      if (step.pauseMs) await new Promise((r) => setTimeout(r, step.pauseMs));
    }
    await c.closed; // QUIT closes the connection
  });

  it("answers the whole table pipelined in one write, in order", async () => {
    const c = await RespClient.connect(port());
    // Without the steps that need time to pass (expiry), and those that end the connection.
    const steps = KV_TABLE.filter((s) => !s.args.includes("short") && !s.args.includes("gone") && s.args[0] !== "QUIT");
    c.send(Buffer.concat([encode(["FLUSHALL"]), ...steps.map((s) => encode(s.args))]));
    expect(await c.reply()).toBe("+OK\r\n");
    const replies = await Promise.all(steps.map(() => c.reply()));
    steps.forEach((s, i) => {
      if (typeof s.reply === "string") expect(replies[i], s.args.join(" ")).toBe(s.reply);
      else expect(replies[i], s.args.join(" ")).toMatch(s.reply);
    });
    c.close();
  });

  it("moves requests and replies far larger than the shared buffers, pipelined", async () => {
    const c = await RespClient.connect(port());
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
    expect(await c.call("SET", "big:value", big)).toBe("+OK\r\n");
    expect(await c.call("GET", "big:value")).toBe(`$${big.length}\r\n${big.toString("latin1")}\r\n`);
    // 300 replies of 10 KB asked for in one write: about 3 MB of answers queued in the guest.
    const small = "x".repeat(10_000);
    expect(await c.call("SET", "big:small", small)).toBe("+OK\r\n");
    c.send(Buffer.concat(Array.from({ length: 300 }, () => encode(["GET", "big:small"]))));
    const replies = await Promise.all(Array.from({ length: 300 }, () => c.reply()));
    expect(new Set(replies)).toEqual(new Set([`$10000\r\n${small}\r\n`]));
    expect(await c.call("DEL", "big:value", "big:small")).toBe(":2\r\n");
    c.close();
  });

  it("wakes a blocked client when another's write makes its list ready, and times out another", async () => {
    const [a, b, w] = await Promise.all([RespClient.connect(port()), RespClient.connect(port()), RespClient.connect(port())]);
    const t0 = Date.now();
    const timedOut = b.call("BLPOP", "blk:never", "0.4");
    const served = a.call("BLMOVE", "blk:src", "blk:dst", "LEFT", "RIGHT", "0");
    await new Promise((r) => setTimeout(r, 100));
    expect(await w.call("RPUSH", "blk:src", "v")).toBe(":1\r\n");
    expect(await served).toBe("$1\r\nv\r\n");
    expect(await w.call("LRANGE", "blk:dst", "0", "-1")).toBe("*1\r\n$1\r\nv\r\n");
    expect(await timedOut).toBe("*-1\r\n");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(await w.call("DEL", "blk:dst")).toBe(":1\r\n");
    for (const c of [a, b, w]) c.close();
  });

  it("works with redis-cli: commands, binary-safe values, and --pipe", async () => {
    const cli = (...args: string[]) => run("redis-cli", ["-p", String(port()), ...args]).then((r) => r.stdout);
    expect(await cli("SET", "cli:greeting", "hello world")).toBe("OK\n");
    expect(await cli("GET", "cli:greeting")).toBe("hello world\n");
    expect(await cli("RPUSH", "cli:list", "a", "b", "c")).toBe("3\n");
    expect(await cli("LRANGE", "cli:list", "0", "-1")).toBe("a\nb\nc\n");
    expect(await cli("--no-raw", "HSET", "cli:h", "f", "v")).toBe("(integer) 1\n");
    expect(await cli("INFO", "server")).toMatch(/^redis_version:/m);
    expect(await cli("--no-raw", "GET", "cli:missing")).toBe("(nil)\n");
    const lines = Array.from({ length: 500 }, (_, i) => `SET cli:pipe:${i} ${i}`).join("\n") + "\n";
    const piped = await pipeTo(["-p", String(port()), "--pipe"], lines);
    expect(piped).toMatch(/errors: 0, replies: 500/);
    expect(await cli("GET", "cli:pipe:499")).toBe("499\n");
  });

  it("serves redis-benchmark's tests without errors", async () => {
    const { stdout } = await run("redis-benchmark", [
      "-p", String(port()), "-t", "ping,set,get,incr,lpush,rpush,lpop,rpop,hset,mset,lrange_100", "-n", "1000", "-c", "8", "-r", "100", "--csv",
    ], { timeout: 60_000 });
    const rows = stdout.trim().split("\n").slice(1).map((l) => l.split(",")[0]!.replace(/"/g, ""));
    expect(rows).toEqual(expect.arrayContaining(["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "HSET", "MSET (10 keys)", "LRANGE_100 (first 100 elements)"]));
    for (const line of stdout.trim().split("\n").slice(1)) expect(Number(line.split(",")[1]!.replace(/"/g, ""))).toBeGreaterThan(0);
    const c = await RespClient.connect(port());
    expect(await c.call("EXISTS", "key:__rand_int__", "counter:__rand_int__", "mylist")).toMatch(/^:[1-9]\d*\r\n$/);
    c.close();
  });

  it("works with ioredis: strings, buffers, hashes, lists, a pipeline, expiry", async () => {
    const redis = new Redis({ port: port(), host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
    try {
      expect(await redis.set("io:s", "value")).toBe("OK");
      expect(await redis.get("io:s")).toBe("value");
      const binary = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0]);
      await redis.set("io:bin", binary);
      expect(Buffer.compare((await redis.getBuffer("io:bin"))!, binary)).toBe(0);
      expect(await redis.hset("io:h", { a: "1", b: "2" })).toBe(2);
      expect(await redis.hgetall("io:h")).toEqual({ a: "1", b: "2" });
      expect(await redis.hincrby("io:h", "a", 41)).toBe(42);
      expect(await redis.rpush("io:l", "x", "y", "z")).toBe(3);
      expect(await redis.lrange("io:l", 0, -1)).toEqual(["x", "y", "z"]);
      const pipeline = redis.pipeline();
      for (let i = 0; i < 100; i++) pipeline.incr("io:counter");
      const results = await pipeline.exec();
      expect(results!.map(([err, v]) => (err ? String(err) : v))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(await redis.expire("io:s", 100)).toBe(1);
      expect(await redis.ttl("io:s")).toBe(100);
      await expect(redis.incr("io:s")).rejects.toThrow("ERR value is not an integer or out of range");
      expect(await redis.mget("io:s", "io:nope")).toEqual(["value", null]);
      expect(await redis.del("io:s", "io:bin")).toBe(2);
    } finally {
      await redis.quit();
    }
  });
});

function encode(args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, "latin1")}\r\n${a}\r\n`).join("")}`, "latin1");
}

function pipeTo(args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("redis-cli", args, { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    child.stdin!.end(input);
  });
}
