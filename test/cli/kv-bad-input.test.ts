// Bad input to the kv enclave: malformed RESP, an oversize bulk string (a small --max-bulk), too
// many arguments, NUL bytes, a client that disconnects mid-command, and INCR overflow. Each gets
// Redis's error or a close; a bystander client, connected throughout, keeps being served and its
// data stays intact, and the server stays up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModeName } from "../../host/launcher/modes";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { RespClient, bulk, encodeCommand, error, int, NIL, status } from "./fixtures/resp";
import { startServer } from "./fixtures/server";
import type { RunningServer } from "./fixtures/server";

const MAX_BULK = 1024;
const MODES: ModeName[] = ["native", "enclavisor"];
const servers = new Map<ModeName, RunningServer>();

beforeAll(async () => {
  guestApp("kv");
  const started = await Promise.all(MODES.map((mode) => startServer("guest-apps/kv.wasm", ["--mode", mode, "--cache", "512K", "--max-bulk", String(MAX_BULK)])));
  MODES.forEach((mode, i) => servers.set(mode, started[i]!));
});

afterAll(async () => {
  for (const s of servers.values()) expect(await s.stop("SIGTERM")).toBe(0);
});

describe.each(MODES)("kv in %s mode, bad input", (mode) => {
  let port: number;
  let bystander: RespClient;
  const KEYS = 200;

  beforeAll(async () => {
    port = servers.get(mode)!.port;
    bystander = await RespClient.connect(port);
    for (let i = 0; i < KEYS; i++) expect(await bystander.call("SET", `keep:${i}`, `value ${i}`)).toBe(status("OK"));
  });

  afterAll(async () => {
    // Nothing the bad clients did reached the bystander or its data.
    for (let i = 0; i < KEYS; i++) expect(await bystander.call("GET", `keep:${i}`)).toBe(bulk(`value ${i}`));
    expect(await bystander.call("PING")).toBe(status("PONG"));
    bystander.close();
  });

  /** Sends raw bytes on a new connection; resolves with everything received once the server closes it. */
  async function closesWith(bytes: string | Buffer): Promise<string> {
    const c = await RespClient.connect(port);
    c.send(bytes);
    await c.closed;
    return c.rest();
  }

  it("answers malformed RESP with Redis's protocol error and closes that connection", async () => {
    expect(await closesWith("*2\r\n$3\r\nGET\r\n:5\r\n")).toBe(error("ERR Protocol error: expected '$', got ':'"));
    expect(await closesWith("*abc\r\n")).toBe(error("ERR Protocol error: invalid multibulk length"));
    expect(await closesWith("*2\r\n$3\r\nGET\r\n$-5\r\n")).toBe(error("ERR Protocol error: invalid bulk length"));
    expect(await closesWith("*1\r\n$x\r\n")).toBe(error("ERR Protocol error: invalid bulk length"));
    expect(await closesWith('SET "unbalanced\r\n')).toBe(error("ERR Protocol error: unbalanced quotes in request"));
    // Replies to the commands before the bad one still arrive, in order.
    expect(await closesWith("PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n+oops\r\n")).toBe(status("PONG") + status("PONG") + error("ERR Protocol error: expected '$', got '+'"));
  });

  it("refuses a bulk string over --max-bulk, and takes one at the limit", async () => {
    const c = await RespClient.connect(port);
    expect(await c.call("SET", "at-limit", "x".repeat(MAX_BULK))).toBe(status("OK"));
    expect(await c.call("STRLEN", "at-limit")).toBe(int(MAX_BULK));
    c.close();
    expect(await closesWith(`*3\r\n$3\r\nSET\r\n$4\r\nover\r\n$${MAX_BULK + 1}\r\n`)).toBe(error("ERR Protocol error: invalid bulk length"));
    expect(await closesWith(encodeCommand(["SET", "over", "y".repeat(MAX_BULK + 1)]))).toBe(error("ERR Protocol error: invalid bulk length"));
    expect(await bystander.call("EXISTS", "over")).toBe(int(0));
  });

  it("refuses a request with too many arguments", async () => {
    expect(await closesWith("*2000000\r\n")).toBe(error("ERR Protocol error: invalid multibulk length"));
    expect(await closesWith("*99999999999999999999\r\n")).toBe(error("ERR Protocol error: invalid multibulk length"));
  });

  it("keeps NUL and any other byte in keys and values", async () => {
    const c = await RespClient.connect(port);
    const key = Buffer.from([0x6b, 0, 0xff, 0x0d, 0x0a, 0]);
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(await c.call("SET", key, value)).toBe(status("OK"));
    expect(await c.call("GET", key)).toBe(bulk(value.toString("latin1")));
    expect(await c.call("GET", Buffer.from([0x6b, 0]))).toBe(NIL);
    expect(await c.call("APPEND", key, Buffer.from([0]))).toBe(int(257));
    expect(await c.call("DEL", key)).toBe(int(1));
    c.close();
  });

  it("frees a client that disconnects mid-command, and loses nothing else", async () => {
    for (const partial of ["*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc", "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n", "*3\r\n$3", "SET half inl"]) {
      const c = await RespClient.connect(port);
      c.send(partial);
      await new Promise((r) => setTimeout(r, 30));
      c.close();
      await c.closed;
    }
    // Many clients that leave with a pipeline half sent.
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const c = await RespClient.connect(port);
      c.send(Buffer.concat([encodeCommand(["SET", `left:${i}`, "1"]), encodeCommand(["SET", "half", "x"]).subarray(0, 17)]));
      expect(await c.reply()).toBe(status("OK"));
      c.close();
    }));
    expect(await bystander.call("EXISTS", "half")).toBe(int(0));
    expect(await bystander.call("EXISTS", ...Array.from({ length: 20 }, (_, i) => `left:${i}`))).toBe(int(20));
    expect(await bystander.call("INFO", "clients")).toMatch(/connected_clients:1\r\n/);
  });

  it("refuses INCR past the 64-bit limits and keeps the value", async () => {
    const c = await RespClient.connect(port);
    expect(await c.call("SET", "n", "9223372036854775806")).toBe(status("OK"));
    expect(await c.call("INCR", "n")).toBe(int(2n ** 63n - 1n));
    expect(await c.call("INCR", "n")).toBe(error("ERR increment or decrement would overflow"));
    expect(await c.call("INCRBY", "n", "1")).toBe(error("ERR increment or decrement would overflow"));
    expect(await c.call("GET", "n")).toBe(bulk("9223372036854775807"));
    expect(await c.call("SET", "m", "-9223372036854775808")).toBe(status("OK"));
    expect(await c.call("DECR", "m")).toBe(error("ERR increment or decrement would overflow"));
    expect(await c.call("INCRBY", "m", "9223372036854775808")).toBe(error("ERR value is not an integer or out of range"));
    expect(await c.call("SET", "f", "12abc")).toBe(status("OK"));
    expect(await c.call("INCR", "f")).toBe(error("ERR value is not an integer or out of range"));
    expect(await c.call("HINCRBY", "hh", "x", "9223372036854775807")).toBe(int(2n ** 63n - 1n));
    expect(await c.call("HINCRBY", "hh", "x", "1")).toBe(error("ERR increment or decrement would overflow"));
    c.close();
  });
});
