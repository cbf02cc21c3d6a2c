// kv's sealed append-only log (guest-apps/kv/aof-writer.ts, aof-feed.ts, aof-loader.ts): write
// commands become sealed, chained records that replay after the snapshot they follow into the same
// store; relative expiry times are logged as absolute, evictions as DEL; a modified record or one of
// another instance is refused; a log that stops (a record dropped, reordered or spliced) below the
// log counter is a rollback, above it a crash's loss; turning appendonly on starts a chain whose
// base is the snapshot asked for then; auto-aof-rewrite-* asks for a snapshot.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESULT_LOG, RESULT_SAVE } from "../../host/enclavisor/abi-constants";
import { Platform } from "../../host/sev/platform";
import { dumpStore, encodeCommand, kvSwitches, launchKv } from "./fixtures/kv";
import type { KvDriver } from "./fixtures/kv";

const REFUSED = -2;
const ROLLBACK = -3;

/** Log records read out after each command, as the host reads them, until drainLog takes them. */
const readOut = new Map<KvDriver, Buffer[]>();

/**
 * Sends one command: its reply, and its result word's RESULT_LOG and RESULT_SAVE bits. Like the
 * host, reads the log records out when RESULT_LOG says they wait.
 */
function run(kv: KvDriver, conn: number, ...args: string[]): { reply: unknown; log: boolean; save: boolean } {
  const word = kv.data(conn, encodeCommand(args));
  const out: Buffer[] = [];
  kv.collect(conn, word, out);
  const text = Buffer.concat(out).toString("latin1");
  const log = (word & RESULT_LOG) !== 0;
  if (log) readOut.set(kv, [...(readOut.get(kv) ?? []), ...readRecords(kv)]);
  return { reply: text, log, save: (word & RESULT_SAVE) !== 0 };
}

/** Passes a CONFIG SET to the configure export, as enclave serve passes its flags; the reply. */
function configure(kv: KvDriver, ...args: string[]): string {
  const request = encodeCommand(["CONFIG", "SET", ...args]);
  kv.enclave.guest.write(kv.fn.io_in() >>> 0, request);
  const n = kv.fn.configure(request.length);
  return Buffer.from(kv.enclave.guest.read(kv.fn.io_out() >>> 0, n)).toString("latin1");
}

function name(kv: KvDriver, instance: string): void {
  kv.enclave.guest.write(kv.fn.io_in() >>> 0, Buffer.from(instance));
  expect(kv.fn.set_instance(instance.length)).toBe(0);
}

/** The log records read out since the last call, one frame ([u32 length][blob]) each. */
function drainLog(kv: KvDriver): Buffer[] {
  const frames = [...(readOut.get(kv) ?? []), ...readRecords(kv)];
  readOut.delete(kv);
  return frames;
}

function readRecords(kv: KvDriver): Buffer[] {
  const parts: Buffer[] = [];
  for (let n; (n = kv.fn.log_read()) > 0; ) parts.push(Buffer.from(kv.enclave.guest.read(kv.fn.io_out() >>> 0, n)));
  const bytes = Buffer.concat(parts);
  const frames: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = bytes.readUInt32LE(at);
    frames.push(bytes.subarray(at, at + 4 + n));
    at += 4 + n;
  }
  return frames;
}

function snapshot(kv: KvDriver): Buffer {
  expect(kv.fn.snapshot_begin(1)).toBe(0);
  const parts: Buffer[] = [];
  for (let n; (n = kv.fn.snapshot_read()) > 0; ) parts.push(Buffer.from(kv.enclave.guest.read(kv.fn.io_out() >>> 0, n)));
  expect(kv.fn.snapshot_commit()).toBe(0);
  return Buffer.concat(parts);
}

function restore(kv: KvDriver, bytes: Buffer): void {
  expect(kv.fn.restore_begin(bytes.length)).toBe(0);
  for (let at = 0; at < bytes.length; at += kv.inCap) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + kv.inCap));
    kv.enclave.guest.write(kv.fn.io_in() >>> 0, piece);
    expect(kv.fn.restore_feed(piece.length)).toBe(0);
  }
  expect(kv.fn.restore_end(0)).toBe(0);
}

/** Replays `log`, fed in pieces of `piece` bytes: log_replay_end's status, and how many bytes count. */
function replay(kv: KvDriver, log: Buffer, allowRollback = false, piece = 1000): { status: number; valid: number } {
  expect(kv.fn.log_replay_begin()).toBe(0);
  for (let at = 0; at < log.length; at += piece) {
    const p = log.subarray(at, Math.min(log.length, at + piece));
    kv.enclave.guest.write(kv.fn.io_in() >>> 0, p);
    const r = kv.fn.log_replay_feed(p.length);
    if (r !== 0) return { status: r, valid: kv.fn.log_replay_valid() };
  }
  return { status: kv.fn.log_replay_end(allowRollback ? 1 : 0), valid: kv.fn.log_replay_valid() };
}

describe("kv's append-only log", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "kv-aof-"));
  let platform: Platform;
  let instances = 0;
  beforeAll(() => {
    platform = new Platform({ switches: kvSwitches("enclavisor"), stateDir, dramFrames: 32768 });
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  /** A kv of store instance `instance` (a new one by default) with appendonly on from the start, as enclave serve starts it. */
  async function logging(instance = `store-${++instances}`): Promise<{ kv: KvDriver; conn: number; instance: string }> {
    const kv = await launchKv("enclavisor", { platform });
    name(kv, instance);
    expect(configure(kv, "appendonly", "yes", "appendfsync", "always")).toBe("+OK\r\n");
    return { kv, conn: kv.open(), instance };
  }

  it("logs write commands that changed the store as sealed records, which replay into the same store", async () => {
    const { kv, conn, instance } = await logging();
    const base = snapshot(kv);
    expect(run(kv, conn, "SET", "greeting", "hello")).toEqual({ reply: "+OK\r\n", log: true, save: false });
    expect(run(kv, conn, "GET", "greeting").log).toBe(false); // a read
    expect(run(kv, conn, "SET", "n", "10", "NX").log).toBe(true);
    expect(run(kv, conn, "SET", "n", "99", "NX").log).toBe(false); // changed nothing
    expect(run(kv, conn, "INCRBY", "n", "5").log).toBe(true);
    expect(run(kv, conn, "INCR", "greeting").log).toBe(false); // an error
    run(kv, conn, "HSET", "h", "f1", "v1", "f2", "v2");
    run(kv, conn, "HDEL", "h", "f1");
    run(kv, conn, "RPUSH", "l", "a", "b", "c");
    run(kv, conn, "LPOP", "l");
    run(kv, conn, "APPEND", "greeting", ", world");
    run(kv, conn, "SET", "gone", "x");
    run(kv, conn, "DEL", "gone");
    for (let i = 0; i < 4; i++) run(kv, conn, "APPEND", "big", "v".repeat(60_000)); // 240 KB: spans records
    run(kv, conn, "SET", "ttl", "t", "EX", "1000");
    run(kv, conn, "EXPIRE", "n", "2000");
    run(kv, conn, "PERSIST", "n");
    // The commands of every family that came later, each as it changes the store.
    expect(run(kv, conn, "SETNX", "nx", "1").log).toBe(true);
    expect(run(kv, conn, "SETNX", "nx", "2").log).toBe(false);
    run(kv, conn, "SETEX", "ex", "1000", "v");
    run(kv, conn, "SETRANGE", "greeting", "20", "!");
    run(kv, conn, "MSETNX", "m1", "a", "m2", "b");
    run(kv, conn, "GETEX", "m1", "PX", "500000");
    run(kv, conn, "GETEX", "ex", "PERSIST");
    run(kv, conn, "GETDEL", "m2");
    run(kv, conn, "HMSET", "h", "f3", "v3", "f4", "v4");
    run(kv, conn, "HSETNX", "h", "f5", "v5");
    run(kv, conn, "RPUSH", "l", "d", "b", "e", "b");
    run(kv, conn, "LSET", "l", "0", "B");
    run(kv, conn, "LREM", "l", "-1", "b");
    run(kv, conn, "LINSERT", "l", "BEFORE", "d", "D");
    run(kv, conn, "LTRIM", "l", "0", "3");
    run(kv, conn, "LMOVE", "l", "l2", "LEFT", "RIGHT");
    run(kv, conn, "RPOPLPUSH", "l", "l2");
    run(kv, conn, "LPUSHX", "l2", "x");
    run(kv, conn, "UNLINK", "nx");
    run(kv, conn, "SADD", "s", ...Array.from({ length: 50 }, (_, i) => `m${i}`));
    run(kv, conn, "SPOP", "s"); // random: logged as the SREM it did
    run(kv, conn, "SPOP", "s", "7");
    run(kv, conn, "SMOVE", "s", "s2", "m1");
    run(kv, conn, "SADD", "whole", "a", "b");
    run(kv, conn, "SPOP", "whole", "5"); // the whole set: the key goes
    run(kv, conn, "SUNIONSTORE", "u", "s", "s2");
    run(kv, conn, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4.5", "d");
    run(kv, conn, "ZINCRBY", "z", "10", "a");
    run(kv, conn, "ZPOPMIN", "z");
    run(kv, conn, "ZRANGESTORE", "z2", "z", "0", "1");
    run(kv, conn, "ZUNIONSTORE", "z3", "2", "z", "s", "WEIGHTS", "2", "1");
    run(kv, conn, "ZREMRANGEBYSCORE", "z", "-inf", "3");
    run(kv, conn, "INCRBYFLOAT", "float", "10.1"); // logged as SET ... KEEPTTL of the result
    run(kv, conn, "EXPIRE", "float", "5000");
    run(kv, conn, "INCRBYFLOAT", "float", "0.2");
    run(kv, conn, "HINCRBYFLOAT", "h", "hf", "1.5e-3"); // logged as HSET of the result
    // Other databases: the log selects each before its commands.
    run(kv, conn, "SELECT", "3");
    run(kv, conn, "SET", "in3", "x");
    run(kv, conn, "MOVE", "in3", "4");
    run(kv, conn, "SELECT", "0");
    run(kv, conn, "COPY", "greeting", "greeting", "DB", "3");
    run(kv, conn, "SWAPDB", "3", "5");
    const log = Buffer.concat(drainLog(kv));
    expect(log.includes(Buffer.from("greeting"))).toBe(false); // sealed
    const dumpAll = (k: KvDriver, c: number) => [0, 3, 4, 5].map((d) => (k.call(c, "SELECT", String(d)), dumpStore(k, c)));
    const want = dumpAll(kv, conn);
    const names = (dump: unknown[]) => dump.map((e) => (e as unknown[])[0]);
    expect([names(want[1]!), names(want[2]!), names(want[3]!)]).toEqual([[], ["in3"], ["greeting"]]); // databases 3, 4 and 5

    const copy = await launchKv("enclavisor", { platform });
    name(copy, instance);
    restore(copy, base);
    expect(replay(copy, log)).toEqual({ status: 0, valid: log.length });
    expect(dumpAll(copy, copy.open())).toEqual(want);
    for (const k of [kv, copy]) k.enclave.destroy();
  });

  it("logs relative expiry times as absolute ones, and a past one as a DEL", async () => {
    const { kv, conn, instance } = await logging();
    const base = snapshot(kv);
    run(kv, conn, "SET", "a", "1", "PX", "600000");
    run(kv, conn, "SET", "b", "2");
    run(kv, conn, "PEXPIRE", "b", "600000");
    run(kv, conn, "SET", "c", "3");
    run(kv, conn, "EXPIREAT", "c", "1"); // in the past: deleted
    const log = Buffer.concat(drainLog(kv));
    const pttl = (d: KvDriver, c: number, k: string) => d.call(c, "PTTL", k) as number;
    const [a, b] = [pttl(kv, conn, "a"), pttl(kv, conn, "b")];
    await new Promise((r) => setTimeout(r, 300));
    const copy = await launchKv("enclavisor", { platform });
    name(copy, instance);
    restore(copy, base);
    expect(replay(copy, log).status).toBe(0);
    const cc = copy.open();
    // The same instant of expiry, not the same time left: 300 ms went by.
    expect(pttl(copy, cc, "a")).toBeLessThanOrEqual(a - 250);
    expect(pttl(copy, cc, "a")).toBeGreaterThan(a - 5000);
    expect(pttl(copy, cc, "b")).toBeLessThanOrEqual(b - 250);
    expect(copy.call(cc, "EXISTS", "c")).toBe(0);
    for (const k of [kv, copy]) k.enclave.destroy();
  });

  it("logs a key evicted by maxmemory as a DEL", async () => {
    const { kv, conn, instance } = await logging();
    const base = snapshot(kv);
    for (let i = 0; i < 50; i++) run(kv, conn, "SET", `k${i}`, "x".repeat(5000));
    const used = Number(/used_memory:(\d+)/.exec(kv.call(conn, "INFO", "memory") as string)![1]);
    run(kv, conn, "CONFIG", "SET", "maxmemory-policy", "allkeys-random");
    run(kv, conn, "CONFIG", "SET", "maxmemory", String(used - 60_000));
    run(kv, conn, "SET", "trigger", "y");
    run(kv, conn, "CONFIG", "SET", "maxmemory", "0"); // no more evictions while the store is read below
    const left = kv.call(conn, "DBSIZE") as number;
    expect(left).toBeLessThan(51);
    const log = Buffer.concat(drainLog(kv));
    const copy = await launchKv("enclavisor", { platform });
    name(copy, instance);
    restore(copy, base);
    expect(replay(copy, log).status).toBe(0);
    const cc = copy.open();
    expect(copy.call(cc, "DBSIZE")).toBe(left);
    expect(dumpStore(copy, cc)).toEqual(dumpStore(kv, conn));
    for (const k of [kv, copy]) k.enclave.destroy();
  });

  it("refuses a modified record and a record of another store instance", async () => {
    const { kv, conn, instance } = await logging();
    const base = snapshot(kv);
    run(kv, conn, "SET", "k", "v");
    const [record] = drainLog(kv);
    const flipped = Buffer.from(record!);
    flipped[flipped.length >> 1] ^= 1;
    const copy = await launchKv("enclavisor", { platform });
    name(copy, instance);
    restore(copy, base);
    expect(replay(copy, flipped).status).toBe(REFUSED);

    const other = await logging();
    run(other.kv, other.conn, "SET", "k", "other");
    const [foreign] = drainLog(other.kv);
    const again = await launchKv("enclavisor", { platform });
    name(again, instance);
    restore(again, base);
    expect(replay(again, foreign!).status).toBe(REFUSED);
    for (const k of [kv, copy, other.kv, again]) k.enclave.destroy();
  });

  it("stops where the chain breaks: below the log counter a rollback, above it what a crash loses", async () => {
    const { kv, conn, instance } = await logging();
    const base = snapshot(kv);
    const records: Buffer[] = [];
    for (let i = 1; i <= 5; i++) {
      run(kv, conn, "SET", `k${i}`, `v${i}`);
      records.push(...drainLog(kv));
      if (i === 3) expect(kv.fn.log_commit(kv.fn.log_seq())).toBe(0); // records 1-3 durable
    }
    expect(records.length).toBe(5);
    const replayed = async (log: Buffer[], allowRollback = false) => {
      const copy = await launchKv("enclavisor", { platform });
      name(copy, instance);
      restore(copy, base);
      const r = replay(copy, Buffer.concat(log), allowRollback);
      const keys = r.status === 0 ? ((copy.call(copy.open(), "KEYS", "*") as string[]).sort()) : null;
      copy.enclave.destroy();
      return { ...r, keys };
    };
    const bytes = (n: number) => Buffer.concat(records.slice(0, n)).length;
    const [r1, r2, r3, r4, r5] = records as [Buffer, Buffer, Buffer, Buffer, Buffer];
    // A durable record dropped, records reordered, a record twice: the log stops below the counter.
    expect((await replayed([r1, r3, r4, r5])).status).toBe(ROLLBACK);
    expect((await replayed([r1, r2, r4, r3, r5])).status).toBe(ROLLBACK);
    expect((await replayed([r1, r1, r2, r3])).status).toBe(ROLLBACK);
    expect((await replayed([r1, r2]))).toEqual({ status: ROLLBACK, valid: bytes(2), keys: null }); // cut
    // Allowed, it keeps what continues the chain.
    expect(await replayed([r1, r3, r4, r5], true)).toEqual({ status: 0, valid: bytes(1), keys: ["k1"] });
    // Past the counter, a stop is what a crash may lose: no rollback; the host cuts the log at `valid`.
    expect(await replayed([r1, r2, r3, r5])).toEqual({ status: 0, valid: bytes(3), keys: ["k1", "k2", "k3"] });
    // Records of another chain of the same instance (a second store that claims to be it) splice nowhere.
    const twin = await logging(instance);
    restore(twin.kv, base);
    run(twin.kv, twin.conn, "SET", "k4", "twin");
    const [t4] = drainLog(twin.kv);
    expect(await replayed([r1, r2, r3, t4!, r5])).toEqual({ status: 0, valid: bytes(3), keys: ["k1", "k2", "k3"] });
    const cut = Buffer.concat([r1, r2, r3, r4, r5.subarray(0, r5.length - 10)]); // a crash mid-write
    expect(await replayed([cut])).toEqual({ status: 0, valid: bytes(4), keys: ["k1", "k2", "k3", "k4"] });
    // Record 4 was durable after all (it was replayed): the counter caught up, and a log without it is a rollback now.
    expect((await replayed([r1, r2, r3])).status).toBe(ROLLBACK);
    for (const k of [kv, twin.kv]) k.enclave.destroy();
  });

  it("turned on while the store runs, starts a chain whose base is the snapshot it asks for", async () => {
    const kv = await launchKv("enclavisor", { platform });
    const instance = `store-${++instances}`;
    name(kv, instance);
    const conn = kv.open();
    run(kv, conn, "SET", "before", "unlogged");
    const old = snapshot(kv);
    run(kv, conn, "SET", "between", "unlogged");
    expect(run(kv, conn, "CONFIG", "SET", "appendonly", "yes")).toEqual({ reply: "+OK\r\n", log: false, save: true });
    run(kv, conn, "SET", "after", "logged");
    const early = drainLog(kv);
    expect(kv.fn.log_commit(kv.fn.log_seq())).toBe(1); // its base is not committed yet
    // A crash now: the old snapshot and the new chain do not meet, and nothing was committed.
    const crashed = await launchKv("enclavisor", { platform });
    name(crashed, instance);
    restore(crashed, old);
    expect(replay(crashed, Buffer.concat(early))).toEqual({ status: 0, valid: 0 });
    expect((crashed.call(crashed.open(), "KEYS", "*") as string[]).sort()).toEqual(["before"]);
    // Once the base is committed, the log goes on from it.
    const rebased = snapshot(kv);
    run(kv, conn, "SET", "later", "logged");
    const late = drainLog(kv);
    expect(kv.fn.log_commit(kv.fn.log_seq())).toBe(0);
    const copy = await launchKv("enclavisor", { platform });
    name(copy, instance);
    restore(copy, rebased);
    const all = Buffer.concat([...early, ...late]);
    expect(replay(copy, all)).toEqual({ status: 0, valid: all.length });
    expect(dumpStore(copy, copy.open())).toEqual(dumpStore(kv, conn));
    expect(run(kv, conn, "CONFIG", "SET", "appendonly", "no").reply).toBe("+OK\r\n");
    expect(run(kv, conn, "SET", "off", "x").log).toBe(false);
    for (const k of [kv, crashed, copy]) k.enclave.destroy();
  });

  it("asks for a snapshot when the log outgrows auto-aof-rewrite-min-size and -percentage, and BGREWRITEAOF does", async () => {
    const { kv, conn } = await logging();
    snapshot(kv);
    expect(run(kv, conn, "CONFIG", "SET", "auto-aof-rewrite-min-size", "64kb").reply).toBe("+OK\r\n");
    let asked = false;
    for (let i = 0; i < 100 && !asked; i++) asked = run(kv, conn, "SET", `k${i}`, "x".repeat(2000)).save;
    expect(asked).toBe(true);
    drainLog(kv);
    snapshot(kv);
    expect(run(kv, conn, "SET", "small", "x").save).toBe(false); // the log starts again from the snapshot
    expect(run(kv, conn, "BGREWRITEAOF")).toEqual({ reply: "+Background append only file rewriting started\r\n", log: false, save: true });
    expect(run(kv, conn, "CONFIG", "GET", "append*").reply).toBe("*4\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n");
    kv.enclave.destroy();
  });

  it("refuses appendonly without a store instance to log for", async () => {
    const kv = await launchKv("enclavisor", { platform });
    expect(configure(kv, "appendonly", "yes")).toBe(
      "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - no data directory to log to: start kv with `enclave serve --data DIR`\r\n",
    );
    expect(configure(kv, "appendfsync", "sometimes")).toBe(
      "-ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: always, everysec, no\r\n",
    );
    kv.enclave.destroy();
  });
});
