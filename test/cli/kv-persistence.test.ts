// Persistence of the kv enclave: `enclave serve kv.wasm --data DIR` saves a sealed snapshot at
// shutdown, periodically and on BGSAVE, in the background and only when the store changed, and
// loads it at start; a signal through any launcher (npm run, npx, node on the bin) ends in a clean
// save; a server killed with SIGKILL under load restarts
// from its last snapshot intact; an older snapshot put back is refused with the counters named,
// unless --allow-rollback; a damaged file is refused with a clear error. All in enclavisor mode
// with one configuration, so one enclave counter: the tests run in order, on a chip of their own (a
// private state directory), so that no other run moves that counter.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { RespClient, bulk, int, status } from "./fixtures/resp";
import { kvWithData, ROOT } from "./fixtures/server";

const tmp = mkdtempSync(path.join(tmpdir(), "kv-persistence-"));
const FLAGS = ["--mode", "enclavisor", "--cache", "256K", "--state-dir", path.join(tmp, "chip")];
const { start, refused, killAll } = kvWithData(FLAGS);

beforeAll(() => {
  guestApp("kv");
});
afterAll(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("kv --data", () => {
  it("saves at shutdown and restores at start, with the evidence in the data directory", async () => {
    const dir = path.join(tmp, "basic");
    let s = await start(dir);
    expect(s.output()).toContain(`snapshot: none in ${dir} yet`);
    expect(s.output()).toContain(`evidence: ${path.join(dir, "evidence.json")}`);
    let c = await RespClient.connect(s.port);
    expect(await c.call("SET", "greeting", "hello")).toBe(status("OK"));
    expect(await c.call("RPUSH", "list", "a", "b")).toBe(int(2));
    expect(await c.call("HSET", "hash", "f", "v")).toBe(int(1));
    expect(await c.call("SET", "binary", Buffer.from([0, 1, 0xff]))).toBe(status("OK"));
    c.close();
    expect(await s.stop("SIGINT")).toBe(0);
    const saved = /saved (\S+) \((\d+) bytes, counter (\d+); at shutdown; [\d.]+ s\)/.exec(s.output());
    expect(saved?.[1]).toBe(path.join(dir, "snapshot.sealed"));
    // Sealed: nothing of the store is in the file in clear.
    expect(readFileSync(path.join(dir, "snapshot.sealed")).includes("greeting")).toBe(false);

    s = await start(dir);
    expect(s.output()).toMatch(
      new RegExp(`restored ${escape(path.join(dir, "snapshot.sealed"))} \\(\\d+ bytes; its header claims counter ${saved![3]}, the store's counter is at ${saved![3]}; [\\d.]+ s\\)`),
    );
    c = await RespClient.connect(s.port);
    expect(await c.call("GET", "greeting")).toBe(bulk("hello"));
    expect(await c.call("LRANGE", "list", "0", "-1")).toBe(`*2\r\n${bulk("a")}${bulk("b")}`);
    expect(await c.call("HGET", "hash", "f")).toBe(bulk("v"));
    expect(await c.call("GET", "binary")).toBe(bulk("\x00\x01\xff"));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
  });

  it("saves in the background: clients are served during a save, BGSAVE starts one, and an unchanged store is not saved again", async () => {
    const dir = path.join(tmp, "background");
    const s = await start(dir, "--save-interval", "1");
    const c = await RespClient.connect(s.port);
    const value = (i: number) => `${i}:${"w".repeat(3000)}`;
    const replies = await Promise.all(Array.from({ length: 3000 }, (_, i) => c.call("SET", `key:${i}`, value(i))));
    expect(new Set(replies)).toEqual(new Set([status("OK")]));
    await s.waitFor(/saved \S+ \(\d+ bytes, counter \d+; periodic; [\d.]+ s\)/);
    const saves = () => (s.output().match(/; (periodic|BGSAVE);/g) ?? []).length;
    // Until every write is saved (the last periodic save may have begun before the last writes).
    while (!/rdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n/.test(await c.call("INFO", "persistence"))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 100)); // its line printed after the commit
    const settled = saves();
    await new Promise((r) => setTimeout(r, 2500)); // two more intervals, with nothing changed
    expect(saves()).toBe(settled);

    // A 9 MB store saves in many chunks, with a 256 KiB cache: the INFO sent right after BGSAVE is
    // answered while the save runs, and a write made meanwhile is not in it.
    const info = await RespClient.connect(s.port);
    expect(await c.call("BGSAVE")).toBe(status("Background saving started"));
    const during = await info.call("INFO", "persistence");
    expect(during).toMatch(/rdb_bgsave_in_progress:1\r\n/);
    expect(await info.call("BGSAVE")).toBe("-ERR Background save already in progress\r\n");
    expect(await info.call("SET", "key:0", "changed during the save")).toBe(status("OK"));
    await s.waitFor(/saved \S+ \(\d+ bytes, counter \d+; BGSAVE; [\d.]+ s\)/);
    // Over: none in progress, unless the next periodic one (for the write made meanwhile) began already.
    const rdbSaves = (text: string) => Number(/rdb_saves:(\d+)/.exec(text)![1]);
    const after = await info.call("INFO", "persistence");
    if (!/rdb_bgsave_in_progress:0\r\n/.test(after)) expect(rdbSaves(after)).toBeGreaterThan(rdbSaves(during));
    const snapshotAfterBgsave = readFileSync(path.join(dir, "snapshot.sealed"));
    // The change made during the save is saved by the next periodic one.
    await s.waitFor(new RegExp(`(; (periodic|BGSAVE);[^]*){${settled + 2}}`));
    expect(readFileSync(path.join(dir, "snapshot.sealed")).equals(snapshotAfterBgsave)).toBe(false);
    c.close();
    info.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await s.stop("SIGTERM")).toBe(0);
    expect(s.output()).toContain(`not saved at shutdown: nothing changed since the last snapshot in ${path.join(dir, "snapshot.sealed")}`);

    const again = await start(dir);
    const r = await RespClient.connect(again.port);
    expect(await r.call("DBSIZE")).toBe(int(3000));
    expect(await r.call("GET", "key:0")).toBe(bulk("changed during the save"));
    expect(await r.call("GET", "key:2999")).toBe(bulk(value(2999)));
    r.close();
    expect(await again.stop("SIGTERM")).toBe(0);
  });

  it("restarts from the last periodic snapshot after SIGKILL under load, intact", async () => {
    const dir = path.join(tmp, "killed");
    const s = await start(dir, "--save-interval", "1");
    const c = await RespClient.connect(s.port);
    let acked = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const reply = await c.call("SET", `key:${acked}`, `value:${acked}:${"v".repeat(acked % 100)}`).catch(() => null);
        if (reply === null) return;
        expect(reply).toBe(status("OK"));
        acked++;
      }
    })();
    await s.waitFor(/saved \S+ \(\d+ bytes, counter \d+; periodic; [\d.]+ s\)/);
    const before = s.output().match(/; periodic;/g)!.length;
    const ackedAtFirstSave = acked;
    await s.waitFor(new RegExp(`(; periodic;[^]*){${before + 1}}`)); // the next periodic save
    await new Promise((r) => setTimeout(r, 300)); // well into the next interval, still writing
    expect(await s.stop("SIGKILL")).toBeNull();
    writing = false;
    await writer;
    expect(ackedAtFirstSave).toBeGreaterThan(0);

    const again = await start(dir);
    expect(again.output()).toMatch(/restored \S+ \(\d+ bytes; its header claims counter \d+, the store's counter is at \d+; [\d.]+ s\)/);
    const r = await RespClient.connect(again.port);
    const size = Number(/^:(\d+)\r\n$/.exec(await r.call("DBSIZE"))![1]);
    // Every key acknowledged before an earlier save is there; the keys form a prefix of the writes.
    expect(size).toBeGreaterThanOrEqual(ackedAtFirstSave);
    expect(size).toBeLessThanOrEqual(acked);
    for (const i of [0, ackedAtFirstSave - 1, size - 1]) {
      expect(await r.call("GET", `key:${i}`)).toBe(bulk(`value:${i}:${"v".repeat(i % 100)}`));
    }
    expect(await r.call("EXISTS", `key:${size}`)).toBe(int(0));
    r.close();
    expect(await again.stop("SIGTERM")).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("refuses an older snapshot put back, naming the counters, unless --allow-rollback", async () => {
    const dir = path.join(tmp, "rollback");
    const file = path.join(dir, "snapshot.sealed");
    let s = await start(dir);
    let c = await RespClient.connect(s.port);
    await c.call("SET", "version", "old");
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
    const oldCounter = Number(/counter (\d+); at shutdown/.exec(s.output())![1]);
    copyFileSync(file, path.join(tmp, "old.sealed"));

    s = await start(dir);
    c = await RespClient.connect(s.port);
    await c.call("SET", "version", "new");
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
    const newCounter = Number(/counter (\d+); at shutdown/.exec(s.output())![1]);
    expect(newCounter).toBeGreaterThan(oldCounter);

    copyFileSync(path.join(tmp, "old.sealed"), file);
    const out = await refused(dir);
    expect(out).toContain(
      `cannot load ${file}: it is a rollback: the enclave found its sealed counter value below this store's counter in the ` +
        `secure processor, which is at ${newCounter} (the file's header claims ${oldCounter})`,
    );
    expect(out).toContain("pass --allow-rollback to load it anyway");

    s = await start(dir, "--allow-rollback");
    expect(s.output()).toContain(`the store's counter is at ${newCounter}; a rollback allowed by --allow-rollback, the counter stays where it was`);
    c = await RespClient.connect(s.port);
    expect(await c.call("GET", "version")).toBe(bulk("old"));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
  });

  it("keeps the last whole snapshot when killed in the middle of writing the next one", async () => {
    const dir = path.join(tmp, "mid-save");
    const value = (i: number) => `${i}:${"v".repeat(2000)}`;
    const fill = async (port: number, from: number, to: number) => {
      const c = await RespClient.connect(port);
      const replies = await Promise.all(Array.from({ length: to - from }, (_, k) => c.call("SET", `key:${from + k}`, value(from + k))));
      expect(new Set(replies)).toEqual(new Set([status("OK")]));
      c.close();
    };
    const first = 3000;
    const second = 6000;
    let s = await start(dir, "--save-interval", "0");
    await fill(s.port, 0, first);
    expect(await s.stop("SIGTERM")).toBe(0); // snapshot 1: keys 0..2999

    s = await start(dir, "--save-interval", "0");
    await fill(s.port, first, second);
    // The streamed save at SIGTERM writes a temporary file, renamed only once whole: kill -9 while it exists.
    s.proc.kill("SIGTERM");
    const tmpName = (f: string) => f.includes(".tmp-");
    const deadline = Date.now() + 30_000;
    while (!readdirSync(dir).some(tmpName) && s.proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    const caughtMidSave = readdirSync(dir).some(tmpName);
    s.proc.kill("SIGKILL");
    await s.exited;

    const again = await start(dir);
    const c = await RespClient.connect(again.port);
    const size = Number(/^:(\d+)\r\n$/.exec(await c.call("DBSIZE"))![1]);
    if (caughtMidSave && again.output().includes("removed 1 unfinished snapshot file(s)")) expect(size).toBe(first);
    else expect([first, second]).toContain(size); // the rename came first: the new snapshot is whole
    for (const i of [0, first - 1, size - 1]) expect(await c.call("GET", `key:${i}`)).toBe(bulk(value(i)));
    expect(await c.call("EXISTS", `key:${size}`)).toBe(int(0));
    c.close();
    expect(await again.stop("SIGTERM")).toBe(0);
    expect(caughtMidSave).toBe(true);
  });

  // Each launcher a user may start it with: npm's script (which execs node), npm exec of the
  // package's bin, and node on the bin itself.
  const LAUNCHERS: Record<string, string[]> = {
    "npm run enclave": ["npm", "run", "--silent", "enclave", "--"],
    "npx enclave": ["npx", "--no-install", "enclave"],
    "node bin/enclave.mjs": [process.execPath, path.join(ROOT, "bin/enclave.mjs")],
  };
  it.each([
    ["npm run enclave", "SIGTERM to its process alone", "SIGTERM", false],
    ["npm run enclave", "SIGINT to the whole process group, as a terminal's Ctrl-C", "SIGINT", true],
    ["npx enclave", "SIGTERM to its process alone", "SIGTERM", false],
    ["npx enclave", "SIGINT to the whole process group", "SIGINT", true],
    ["node bin/enclave.mjs", "SIGTERM to its process", "SIGTERM", false],
  ] as const)("saves at a signal through `%s`: %s", async (launcher, _what, signal, group) => {
    const dir = path.join(tmp, `${launcher.split(" ")[0]}-${signal}`);
    const [cmd, ...pre] = LAUNCHERS[launcher]!;
    const npm = spawn(cmd!, [...pre, path.join(ROOT, "guest-apps/kv.wasm"), "--port", "0", ...FLAGS, "--data", dir], {
      cwd: ROOT,
      detached: true, // a process group of its own, as a terminal's foreground job
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    npm.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    npm.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => npm.on("exit", (code) => resolve(code)));
    // Every process that holds the output pipe is gone (under npx the server outlives npm).
    const ended = new Promise<void>((resolve) => npm.stdout!.on("end", () => resolve()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /listening on [\d.]+:(\d+)/.exec(out);
          if (m) {
            clearInterval(timer);
            resolve(Number(m[1]));
          } else if (npm.exitCode !== null || npm.signalCode !== null) {
            clearInterval(timer);
            reject(new Error(`${launcher} exited before listening:\n${out}`));
          }
        }, 50);
      });
      const c = await RespClient.connect(port);
      expect(await c.call("SET", "through", launcher)).toBe(status("OK"));
      c.close();
      if (group) process.kill(-npm.pid!, signal);
      else npm.kill(signal);
      await exited;
      await ended;
      expect(out).toMatch(/saved \S+ \(\d+ bytes, counter \d+; at shutdown; [\d.]+ s\)/);
      expect(out).not.toContain("exiting now, without saving");
    } finally {
      if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, "SIGKILL");
    }
    const again = await start(dir);
    const r = await RespClient.connect(again.port);
    expect(await r.call("GET", "through")).toBe(bulk(launcher));
    r.close();
    expect(await again.stop("SIGTERM")).toBe(0);
  }, 90_000);

  it("refuses to start empty once the store committed a snapshot, unless --allow-rollback", async () => {
    const dir = path.join(tmp, "deleted");
    let s = await start(dir);
    let c = await RespClient.connect(s.port);
    await c.call("SET", "precious", "data");
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
    rmSync(path.join(dir, "snapshot.sealed"));
    const out = await refused(dir);
    expect(out).toMatch(/cannot start: \S+ has no snapshot, but this store's counter in the secure processor is at \d+: a snapshot was committed, and it is gone/);
    s = await start(dir, "--allow-rollback");
    expect(s.output()).toMatch(/starting empty \(--allow-rollback\)/);
    c = await RespClient.connect(s.port);
    expect(await c.call("DBSIZE")).toBe(int(0));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
  });

  it("keeps one counter per data directory: two stores on one platform restart on their own, and refuse each other's snapshots", async () => {
    const a = path.join(tmp, "store-a");
    const b = path.join(tmp, "store-b");
    for (const [dir, secret] of [[a, "A-secret"], [b, "B-secret"]] as const) {
      const s = await start(dir);
      const c = await RespClient.connect(s.port);
      await c.call("SET", "secret", secret);
      c.close();
      expect(await s.stop("SIGTERM")).toBe(0);
    }
    // A saves once more; B must still restart (its counter is its own).
    let s = await start(a);
    expect(await s.stop("SIGTERM")).toBe(0);
    s = await start(b);
    let c = await RespClient.connect(s.port);
    expect(await c.call("GET", "secret")).toBe(bulk("B-secret"));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
    expect(readFileSync(path.join(a, "instance"), "utf8")).not.toBe(readFileSync(path.join(b, "instance"), "utf8"));
    // A's snapshot put into B's directory: refused, whatever its counter value.
    copyFileSync(path.join(a, "snapshot.sealed"), path.join(b, "snapshot.sealed"));
    expect(await refused(b)).toContain("the enclave refused the snapshot");
    // B's own snapshot back: B restarts with its data.
    s = await start(a);
    c = await RespClient.connect(s.port);
    expect(await c.call("GET", "secret")).toBe(bulk("A-secret"));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
  });

  it("refuses a damaged or truncated snapshot file with a clear error", async () => {
    const dir = path.join(tmp, "damaged");
    const file = path.join(dir, "snapshot.sealed");
    const s = await start(dir);
    const c = await RespClient.connect(s.port);
    await c.call("SET", "k", "v".repeat(1000));
    c.close();
    expect(await s.stop("SIGTERM")).toBe(0);
    const good = readFileSync(file);

    const flipped = Buffer.from(good);
    flipped[flipped.length - 100]! ^= 1;
    writeFileSync(file, flipped);
    expect(await refused(dir)).toContain(`cannot load ${file}: restore: the enclave refused the snapshot: it was modified, truncated or malformed`);

    writeFileSync(file, good.subarray(0, good.length - 10));
    expect(await refused(dir)).toMatch(/snapshot\.sealed holds \d+ bytes of snapshot, but its header says \d+: it is truncated or damaged/);

    writeFileSync(file, "not a snapshot at all, but long enough for a header");
    expect(await refused(dir)).toContain("snapshot.sealed is not a snapshot file (bad magic)");
    expect(existsSync(file)).toBe(true); // never deleted or overwritten by a refused start
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
