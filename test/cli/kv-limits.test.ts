// kv under requests that used to end the server (`enclave serve kv.wasm`, enclavisor mode, real
// sockets): a 13 KB pipeline asking for 600 MB of replies, a client that pipelines and never
// reads, 2,000 connections each announcing a 512 MiB string, a second 100 MB SET under
// --memory-limit 256M, and clients over client-query-buffer-limit and client-output-buffer-limit.
// In each, a bystander client keeps getting correct answers, the server stays up, and the memory
// kv holds stays bounded; the offender gets Redis's answer (all its replies, -OOM, or a closed
// connection).
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { RespClient, bulk, status } from "./fixtures/resp";
import { startServer } from "./fixtures/server";
import type { RunningServer } from "./fixtures/server";

const FLAGS = ["--mode", "enclavisor"];
const MiB = 1 << 20;

function command(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

/** A field of INFO's text, as a number. */
async function infoNumber(c: RespClient, section: string, field: string): Promise<number> {
  const text = await c.call("INFO", section);
  return Number(new RegExp(`${field}:(\\d+)`).exec(text)![1]);
}

/** The bystander answers PING and GET correctly, `times` times. */
async function bystanderOk(c: RespClient, times = 3): Promise<void> {
  for (let i = 0; i < times; i++) {
    expect(await c.call("PING")).toBe(status("PONG"));
    expect(await c.call("GET", "bystander")).toBe(bulk("still here"));
  }
}

function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));
}

describe("kv's limits instead of crashes", () => {
  let server: RunningServer;
  let by: RespClient;

  beforeAll(async () => {
    guestApp("kv");
    server = await startServer("guest-apps/kv.wasm", FLAGS);
    by = await RespClient.connect(server.port);
    expect(await by.call("SET", "bystander", "still here")).toBe(status("OK"));
    expect(await by.call("SET", "big", "x".repeat(MiB))).toBe(status("OK"));
  }, 60_000);
  afterAll(async () => {
    by.close();
    await server.stop("SIGKILL");
  });

  it("answers a 13 KB pipeline of 600 GETs of a 1 MB value in full, holding a few MB at a time", async () => {
    const s = await connect(server.port);
    const reply = MiB + 12; // "$1048576\r\n" + the value + "\r\n"
    let got = 0;
    let firstBad = -1;
    const all = new Promise<void>((resolve) => {
      s.on("data", (d: Buffer) => {
        if (firstBad < 0 && got === 0 && d.toString("latin1", 0, 10) !== "$1048576\r\n") firstBad = 0;
        got += d.length;
        if (got >= 600 * reply) resolve();
      });
    });
    s.write(Buffer.concat(Array.from({ length: 600 }, () => command("GET", "big"))));
    await bystanderOk(by);
    await all;
    expect(got).toBe(600 * reply);
    expect(firstBad).toBe(-1);
    s.destroy();
    expect(await infoNumber(by, "memory", "used_memory_peak")).toBeLessThan(16 * MiB);
  }, 120_000);

  it("keeps serving while a client pipelines GETs and never reads, and holds its output back", async () => {
    const s = await connect(server.port);
    s.pause(); // never reads
    s.write(Buffer.concat(Array.from({ length: 5000 }, () => command("GET", "big"))));
    await new Promise((r) => setTimeout(r, 1500));
    await bystanderOk(by);
    expect(await infoNumber(by, "memory", "used_memory")).toBeLessThan(16 * MiB);
    s.destroy();
  }, 60_000);

  it("closes a client over the hard client-output-buffer-limit, and only that client", async () => {
    // kv holds a client's commands back while 1 MiB of its output waits for the host, so a limit
    // bites on what one command adds beyond that: here one reply of 1 MiB against 512 KiB.
    expect(await by.call("CONFIG", "SET", "client-output-buffer-limit", "normal 512kb 0 0")).toBe(status("OK"));
    try {
      const s = await connect(server.port);
      let got = 0;
      s.on("data", (d: Buffer) => (got += d.length));
      s.write(Buffer.concat([command("GET", "bystander"), command("GET", "big")]));
      await closed(s);
      expect(got).toBeLessThan(MiB); // the 1 MiB reply was dropped with the client
      expect(server.output()).toContain("overcoming of output buffer limits");
      await bystanderOk(by);
    } finally {
      expect(await by.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")).toBe(status("OK"));
    }
  }, 60_000);

  it("takes 2,000 connections each announcing a 512 MiB string without reserving it", async () => {
    const sockets = await Promise.all(Array.from({ length: 2000 }, () => connect(server.port)));
    for (const s of sockets) s.write("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nfirst bytes");
    await new Promise((r) => setTimeout(r, 1000));
    await bystanderOk(by);
    expect(await infoNumber(by, "memory", "used_memory")).toBeLessThan(64 * MiB);
    for (const s of sockets) s.destroy();
  }, 120_000);

  it("closes a client over client-query-buffer-limit, and serves on", async () => {
    expect(await by.call("CONFIG", "SET", "client-query-buffer-limit", "1mb")).toBe(status("OK"));
    try {
      const s = await connect(server.port);
      s.on("data", () => {});
      s.write(`*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$${3 * MiB}\r\n`);
      s.write(Buffer.alloc(2 * MiB, 0x71));
      await closed(s);
      expect(server.output()).toContain("reached max query buffer length");
      await bystanderOk(by);
      expect(await by.call("EXISTS", "q")).toBe(":0\r\n");
    } finally {
      expect(await by.call("CONFIG", "SET", "client-query-buffer-limit", "1gb")).toBe(status("OK"));
    }
  }, 60_000);
});

describe("kv under --memory-limit", () => {
  it("answers -OOM to a second 100 MB SET under a 256 MiB limit, and serves on", async () => {
    const server = await startServer("guest-apps/kv.wasm", [...FLAGS, "--memory-limit", "256M"]);
    try {
      const by = await RespClient.connect(server.port);
      expect(await by.call("SET", "bystander", "still here")).toBe(status("OK"));
      const value = Buffer.alloc(100 * MiB, 0x61);
      const c = await RespClient.connect(server.port);
      expect(await c.call("SET", "first", value)).toBe(status("OK"));
      expect(await c.call("SET", "second", value)).toBe("-OOM command not allowed when used memory > 'maxmemory'.\r\n");
      c.close();
      await bystanderOk(by);
      expect(await by.call("STRLEN", "first")).toBe(`:${100 * MiB}\r\n`);
      expect(await by.call("EXISTS", "second")).toBe(":0\r\n");
      expect(await by.call("SET", "small", "fits")).toBe(status("OK"));
      by.close();
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server.stop("SIGKILL");
    }
  }, 120_000);
});
