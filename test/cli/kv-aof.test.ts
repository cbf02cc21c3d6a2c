// kv's append-only log through `enclave serve --data DIR --appendonly yes`: kill -9 at random
// moments under a writer that counts what was acknowledged loses no acknowledged write under
// appendfsync always, and at most about a second of them under everysec; a snapshot rewrites the
// log (its old files go); a modified log refuses to start, naming the problem; a log cut below
// what was made durable is a rollback, refused unless --allow-rollback; and a record a crash left
// half-written is cut off at start; and a whole data directory put back (snapshot and log together)
// is refused as a rollback. In enclavisor mode, on a chip of its own.
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { RespClient, bulk, int, status } from "./fixtures/resp";
import { kvWithData, spawnEnclave, ROOT } from "./fixtures/server";

const tmp = mkdtempSync(path.join(tmpdir(), "kv-aof-"));
const FLAGS = ["--mode", "enclavisor", "--cache", "256K", "--state-dir", path.join(tmp, "chip"), "--save-interval", "0"];
const { start, refused, killAll } = kvWithData(FLAGS);

beforeAll(() => {
  guestApp("kv");
});
afterAll(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

const logFiles = (dir: string) => readdirSync(dir).filter((f) => /^appendonly\.\d{6}\.sealed$/.test(f)).sort();

/**
 * Writes `SET key:i i` one after another (each sent once the last was acknowledged) until the
 * server dies; resolves with the acknowledgements' times (ms), by key number.
 */
async function writeUntilKilled(port: number): Promise<number[]> {
  const c = await RespClient.connect(port);
  const acked: number[] = [];
  for (let i = 0; ; i++) {
    const reply = await c.call("SET", `key:${i}`, String(i)).catch(() => null);
    if (reply === null) return acked;
    expect(reply).toBe(status("OK"));
    acked.push(performance.now());
  }
}

/** The number of keys key:0..key:n-1 there, checking that they are a prefix and intact. */
async function prefixThere(port: number, upTo: number): Promise<number> {
  const c = await RespClient.connect(port);
  const size = Number(/^:(\d+)\r\n$/.exec(await c.call("DBSIZE"))![1]);
  for (const i of [0, size - 1]) if (i >= 0) expect(await c.call("GET", `key:${i}`)).toBe(bulk(String(i)));
  expect(await c.call("EXISTS", `key:${size}`)).toBe(int(0));
  expect(size).toBeLessThanOrEqual(upTo);
  c.close();
  return size;
}


describe("kv --appendonly yes", () => {
  it.each([
    ["always", 0],
    ["everysec", 1500],
  ] as const)("loses no more than it may under kill -9 at random moments: appendfsync %s", async (policy, windowMs) => {
    const dir = path.join(tmp, `kill-${policy}`);
    for (let trial = 0; trial < 3; trial++) {
      const s = await start(dir, "--appendonly", "yes", "--appendfsync", policy);
      const writer = writeUntilKilled(s.port);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      const killedAt = performance.now();
      s.proc.kill("SIGKILL");
      await s.exited;
      const acked = await writer;
      expect(acked.length).toBeGreaterThan(10);
      const again = await start(dir, "--appendonly", "yes", "--appendfsync", policy);
      expect(again.output()).toMatch(/log: replayed \d+ file\(s\), \d+ bytes/);
      const there = await prefixThere(again.port, acked.length + 1); // the write in flight may have landed
      // Every write acknowledged before the window is there: under always, every one.
      const mustHave = policy === "always" ? acked.length : acked.filter((t) => t < killedAt - windowMs).length;
      expect(there).toBeGreaterThanOrEqual(mustHave);
      const c = await RespClient.connect(again.port);
      expect(await c.call("FLUSHALL")).toBe(status("OK")); // the next trial writes key:0 on again
      c.close();
      expect(await again.stop("SIGTERM")).toBe(0);
    }
  }, 180_000);

  it("rewrites the log with each snapshot, and restarts from snapshot and log alike", async () => {
    const dir = path.join(tmp, "rewrite");
    const s = await start(dir, "--appendonly", "yes");
    expect(s.output()).toMatch(/saved \S+ \(\d+ bytes, counter \d+; the base of the append-only log;/);
    const c = await RespClient.connect(s.port);
    for (let i = 0; i < 200; i++) expect(await c.call("SET", `k${i}`, "v".repeat(500))).toBe(status("OK"));
    expect(logFiles(dir).length).toBe(1);
    const before = statSync(path.join(dir, logFiles(dir)[0]!)).size;
    expect(before).toBeGreaterThan(100_000);
    expect(await c.call("BGREWRITEAOF")).toBe(status("Background append only file rewriting started"));
    await s.waitFor(/saved \S+ \(\d+ bytes, counter \d+; BGSAVE;/);
    expect(logFiles(dir).length).toBe(1); // the old file went
    expect(statSync(path.join(dir, logFiles(dir)[0]!)).size).toBeLessThan(before);
    expect(await c.call("SET", "after", "the rewrite")).toBe(status("OK"));
    expect(await c.call("INFO", "persistence")).toMatch(/aof_enabled:1\r\n/);
    c.close();
    s.proc.kill("SIGKILL");
    await s.exited;
    const again = await start(dir, "--appendonly", "yes");
    const r = await RespClient.connect(again.port);
    expect(await r.call("DBSIZE")).toBe(int(201));
    expect(await r.call("GET", "after")).toBe(bulk("the rewrite"));
    r.close();
    expect(await again.stop("SIGTERM")).toBe(0);
  });

  it("refuses a modified log, and a log cut below what was durable unless --allow-rollback; cuts off a half-written record", async () => {
    const dir = path.join(tmp, "tamper");
    const s = await start(dir, "--appendonly", "yes", "--appendfsync", "always");
    const c = await RespClient.connect(s.port);
    for (let i = 0; i < 20; i++) expect(await c.call("SET", `k${i}`, String(i))).toBe(status("OK"));
    c.close();
    s.proc.kill("SIGKILL");
    await s.exited;
    const file = path.join(dir, logFiles(dir)[0]!);
    const log = readFileSync(file);

    const flipped = Buffer.from(log);
    flipped[flipped.length >> 1] ^= 1;
    writeFileSync(file, flipped);
    expect(await refused(dir, "--appendonly", "yes")).toMatch(/cannot replay the log in .*: log replay: the enclave refused a record of the log: it was modified/);

    writeFileSync(file, log.subarray(0, Math.floor(log.length / 2)));
    const out = await refused(dir, "--appendonly", "yes");
    expect(out).toMatch(/the log stops before the last record that was made durable .*\(a rollback\); pass --allow-rollback/);

    writeFileSync(file, log);
    writeFileSync(file, Buffer.concat([log, log.subarray(0, 40)])); // a crash in the middle of writing a record
    const again = await start(dir, "--appendonly", "yes");
    expect(again.output()).toContain("log: cut its last 40 bytes, which do not continue it");
    const r = await RespClient.connect(again.port);
    expect(await r.call("DBSIZE")).toBe(int(20));
    r.close();
    expect(await again.stop("SIGTERM")).toBe(0);
  });

  it("refuses a whole data directory put back, snapshot and log together", async () => {
    const dir = path.join(tmp, "both");
    const backup = path.join(tmp, "both-backup");
    let s = await start(dir, "--appendonly", "yes", "--appendfsync", "always");
    let c = await RespClient.connect(s.port);
    expect(await c.call("SET", "balance", "100")).toBe(status("OK"));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
    cpSync(dir, backup, { recursive: true }); // the snapshot, its log and the instance
    for (const [stop, why] of [
      ["SIGKILL", /the log stops before the last record that was made durable .*\(a rollback\)/],
      ["SIGTERM", /it is a rollback: the enclave found its sealed counter value below this store.s counter/],
    ] as const) {
      s = await start(dir, "--appendonly", "yes", "--appendfsync", "always");
      c = await RespClient.connect(s.port);
      expect(await c.call("SET", "balance", "0")).toBe(status("OK")); // durable before the reply
      c.close();
      s.proc.kill(stop); // SIGKILL: the change only in the log; SIGTERM: in a new snapshot too
      await s.exited;
      const live = `${dir}-live`;
      cpSync(dir, live, { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      cpSync(backup, dir, { recursive: true });
      expect(await refused(dir, "--appendonly", "yes")).toMatch(why);
      rmSync(dir, { recursive: true, force: true });
      cpSync(live, dir, { recursive: true }); // and the directory as it was starts again
      rmSync(live, { recursive: true, force: true });
    }
  });

  it("names what is wrong with its flags", async () => {
    const bad = spawnEnclave([path.join(ROOT, "guest-apps/kv.wasm"), "--port", "0", ...FLAGS, "--appendonly", "yes"]);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain("--appendonly yes needs --data DIR, where the log is kept");
    const worse = spawnEnclave([path.join(ROOT, "guest-apps/kv.wasm"), "--port", "0", ...FLAGS, "--data", path.join(tmp, "x"), "--appendfsync", "often"]);
    expect(await worse.exited).toBe(2);
    expect(worse.output()).toContain("--appendfsync takes always, everysec, no, got 'often'");
  });
});
