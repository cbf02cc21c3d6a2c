// The kv guest's sealed snapshots (guest-apps/kv/snapshot-writer.ts, snapshot-reader.ts) and their
// rollback protection by the enclave's monotonic counter: round trip, tampered, reordered, cut and
// mixed chunks (two snapshots of the same counter value included), rollback (refused, or allowed
// when asked), another enclave's snapshot, a snapshot that stays the store of its beginning while
// commands change it, and calls out of order.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enclaveCounter } from "../../host/enclavisor/enclave-counter";
import { Platform } from "../../host/sev/platform";
import { RESULT_SAVE } from "../../host/enclavisor/abi-constants";
import { decodeReplies, dumpStore, encodeCommand, kvSwitches, launchKv } from "./fixtures/kv";
import type { KvDriver, Reply } from "./fixtures/kv";

const UNAVAILABLE = -1;
const REFUSED = -2;
const ROLLBACK = -3;
const BAD_CALL = -4;
const UNCHANGED = 1;

function takeSnapshot(kv: KvDriver): Buffer {
  expect(kv.fn.snapshot_begin(1)).toBe(0);
  const parts: Buffer[] = [];
  for (let n; (n = kv.fn.snapshot_read()) !== 0; ) {
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(kv.outCap);
    parts.push(Buffer.from(kv.enclave.guest.read(kv.fn.io_out() >>> 0, n)));
  }
  expect(kv.fn.snapshot_read()).toBe(0); // and stays at its end
  return Buffer.concat(parts);
}

function restore(kv: KvDriver, bytes: Uint8Array, allowRollback = 0): number {
  const begun = kv.fn.restore_begin(bytes.length);
  if (begun !== 0) return begun;
  for (let at = 0; at < bytes.length; at += kv.inCap) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + kv.inCap));
    kv.enclave.guest.write(kv.fn.io_in() >>> 0, piece);
    const fed = kv.fn.restore_feed(piece.length);
    if (fed !== 0) return fed;
  }
  return kv.fn.restore_end(allowRollback);
}

/** The sealed chunks of a snapshot: [u32 length][blob] frames. */
function frames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = bytes.readUInt32LE(at);
    out.push(bytes.subarray(at, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

function call(kv: KvDriver, conn: number, ...args: (string | Buffer)[]): Reply {
  return decodeReplies(kv.send(conn, encodeCommand(args)).bytes)[0];
}

describe("kv snapshots (native)", () => {
  it("are unavailable without sealing and a counter", async () => {
    const kv = await launchKv("native");
    expect(kv.fn.snapshot_begin(0)).toBe(UNAVAILABLE);
    expect(kv.fn.snapshot_begin(1)).toBe(UNAVAILABLE);
    expect(kv.fn.snapshot_commit()).toBe(BAD_CALL);
    expect(restore(kv, Buffer.alloc(100, 1))).toBe(UNAVAILABLE);
  });
});

describe("kv snapshots (enclavisor)", () => {
  // A chip of its own: the counters of the shared test chip are other suites' business.
  const stateDir = mkdtempSync(join(tmpdir(), "kv-snapshot-"));
  const switches = kvSwitches("enclavisor");
  let platform: Platform;
  let source: KvDriver;
  let conn: number;
  let counter: () => number;
  const big = Buffer.alloc(700_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;

  beforeAll(async () => {
    platform = new Platform({ switches, stateDir, dramFrames: 32768 });
    source = await launchKv("enclavisor", { platform });
    conn = source.open();
    counter = enclaveCounter(platform.sp, source.enclave.measurement).read;
    call(source, conn, "SET", "greeting", "hello");
    call(source, conn, "SET", Buffer.from("bin\0key"), Buffer.from([0, 255, 0, 13, 10]));
    call(source, conn, "SET", "big1", big);
    call(source, conn, "SET", "big2", big.subarray(1000));
    call(source, conn, "SET", "ttl", "t", "EX", "1000");
    call(source, conn, "HSET", "h", "f1", "v1", "f2", "v2");
    call(source, conn, "RPUSH", "l", "a", "b", "c");
  });
  afterAll(() => {
    source.enclave.destroy();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function target(): Promise<{ kv: KvDriver; conn: number }> {
    const kv = await launchKv("enclavisor", { platform });
    return { kv, conn: kv.open() };
  }

  it("round-trips the whole store in chunks, and the commit advances the counter", async () => {
    const before = counter();
    const bytes = takeSnapshot(source);
    const chunks = frames(bytes);
    expect(chunks.length).toBeGreaterThan(2); // 1.4 MB of values
    for (const f of chunks) expect(f.length).toBeLessThanOrEqual(4 + (1 << 20) + 36); // the format's bound
    expect(new Set(chunks.slice(0, -1).map((f) => f.length)).size).toBe(1); // every chunk but the last is full
    expect(bytes.includes(Buffer.from("hello"))).toBe(false); // sealed: no plaintext
    expect(counter()).toBe(before);
    expect(source.fn.snapshot_commit()).toBe(0);
    expect(counter()).toBe(before + 1);
    expect(source.fn.snapshot_commit()).toBe(BAD_CALL); // once per snapshot

    const { kv, conn: c } = await target();
    call(kv, c, "SET", "stale", "gone after the restore");
    expect(restore(kv, bytes)).toBe(0);
    expect(call(kv, c, "DBSIZE")).toBe(7);
    expect(call(kv, c, "GET", "stale")).toBe(null);
    expect(call(kv, c, "GET", "greeting")).toBe("hello");
    expect(kv.send(c, encodeCommand(["GET", Buffer.from("bin\0key")])).bytes.equals(Buffer.from("$5\r\n\0\xff\0\r\n\r\n", "latin1"))).toBe(true);
    expect(Buffer.from(call(kv, c, "GET", "big1") as string, "latin1").equals(big)).toBe(true);
    expect(call(kv, c, "STRLEN", "big2")).toBe(big.length - 1000);
    expect(call(kv, c, "TTL", "ttl")).toBeGreaterThan(990);
    expect(call(kv, c, "HGET", "h", "f2")).toBe("v2");
    expect(call(kv, c, "HLEN", "h")).toBe(2);
    expect(call(kv, c, "LRANGE", "l", "0", "-1")).toEqual(["a", "b", "c"]);
    expect(counter()).toBe(before + 1);
    kv.enclave.destroy();
  });

  it("refuses a modified, cut, reordered or mixed snapshot, and keeps the store as it was", async () => {
    const a = takeSnapshot(source);
    expect(source.fn.snapshot_commit()).toBe(0);
    call(source, conn, "SET", "greeting", "changed");
    // b and its twin are sealed at the same counter value, each under an id of its own.
    const twin = takeSnapshot(source);
    const b = takeSnapshot(source);
    expect(source.fn.snapshot_commit()).toBe(0);
    const [af, bf, tf] = [frames(a), frames(b), frames(twin)];
    expect(af.length).toBe(bf.length);
    const flipped = Buffer.from(b);
    flipped[flipped.length >> 1] ^= 1;
    const badLength = Buffer.from(b);
    badLength.writeUInt32LE(badLength.readUInt32LE(0) - 1, 0);
    const { kv, conn: c } = await target();
    call(kv, c, "SET", "mine", "kept");
    const last = bf.length - 1;
    for (const [what, bytes] of [
      ["a flipped bit", flipped],
      ["a wrong frame length", badLength],
      ["the last chunk dropped", Buffer.concat(bf.slice(0, last))],
      ["the first chunk dropped", Buffer.concat(bf.slice(1))],
      ["the first two chunks swapped", Buffer.concat([bf[1]!, bf[0]!, ...bf.slice(2)])],
      ["a chunk twice", Buffer.concat([bf[0]!, ...bf])],
      ["chunks of two snapshots", Buffer.concat([af[0]!, ...bf.slice(1)])],
      ["chunks of two snapshots, the other way", Buffer.concat([...bf.slice(0, last), af[last]!])],
      ["chunks of two snapshots of the same counter value", Buffer.concat([tf[0]!, ...bf.slice(1)])],
      ["chunks of two snapshots of the same counter value, the other way", Buffer.concat([...bf.slice(0, last), tf[last]!])],
      ["trailing bytes", Buffer.concat([b, Buffer.from([1, 2, 3])])],
    ] as const) {
      expect(restore(kv, bytes), what).toBe(REFUSED);
    }
    expect(call(kv, c, "DBSIZE")).toBe(1);
    expect(call(kv, c, "GET", "mine")).toBe("kept");
    expect(restore(kv, twin)).toBe(0);
    expect(restore(kv, b)).toBe(0);
    expect(call(kv, c, "GET", "greeting")).toBe("changed");
    kv.enclave.destroy();
  });

  it("refuses a rollback to an older snapshot unless allowed, and takes a newer uncommitted one", async () => {
    call(source, conn, "SET", "version", "old");
    const old = takeSnapshot(source);
    expect(source.fn.snapshot_commit()).toBe(0);
    call(source, conn, "SET", "version", "new");
    const current = takeSnapshot(source);
    expect(source.fn.snapshot_commit()).toBe(0);
    const value = counter();
    const { kv, conn: c } = await target();
    expect(restore(kv, old)).toBe(ROLLBACK);
    expect(call(kv, c, "GET", "version")).toBe(null);
    expect(restore(kv, old, 1)).toBe(0);
    expect(call(kv, c, "GET", "version")).toBe("old");
    expect(counter()).toBe(value); // a counter never goes back
    expect(restore(kv, current)).toBe(0);
    expect(call(kv, c, "GET", "version")).toBe("new");
    // A crash between the rename and the commit: the stored snapshot is one above the counter.
    call(source, conn, "SET", "version", "uncommitted");
    const pending = takeSnapshot(source);
    expect(counter()).toBe(value);
    expect(restore(kv, pending)).toBe(0);
    expect(call(kv, c, "GET", "version")).toBe("uncommitted");
    expect(counter()).toBe(value + 1);
    // Committing the snapshot that was already restored is fine; an older one now is a rollback.
    expect(source.fn.snapshot_commit()).toBe(0);
    expect(restore(kv, current)).toBe(ROLLBACK);
    kv.enclave.destroy();
  });

  it("refuses a snapshot sealed by another enclave (another measurement)", async () => {
    const bytes = takeSnapshot(source);
    expect(source.fn.snapshot_commit()).toBe(0);
    const other = await launchKv("enclavisor", { platform, memoryLimitPages: 8192 });
    expect(Buffer.from(other.enclave.measurement).equals(Buffer.from(source.enclave.measurement))).toBe(false);
    expect(restore(other, bytes)).toBe(REFUSED);
    other.enclave.destroy();
  });

  it("takes none when nothing changed since the last committed one, unless forced", async () => {
    const { kv, conn: c } = await target();
    expect(kv.fn.snapshot_begin(0)).toBe(UNCHANGED); // an empty store, never changed
    call(kv, c, "SET", "k", "v");
    call(kv, c, "GET", "k");
    expect(kv.fn.snapshot_begin(0)).toBe(0);
    while (kv.fn.snapshot_read() > 0);
    expect(kv.fn.snapshot_commit()).toBe(0);
    call(kv, c, "GET", "k"); // reads change nothing
    expect(kv.fn.snapshot_begin(0)).toBe(UNCHANGED);
    expect(kv.fn.snapshot_read()).toBe(BAD_CALL); // none was begun
    const forced = takeSnapshot(kv);
    expect(kv.fn.snapshot_commit()).toBe(0);
    call(kv, c, "DEL", "k");
    expect(kv.fn.snapshot_begin(0)).toBe(0);
    kv.fn.snapshot_cancel();
    expect(kv.fn.snapshot_begin(0)).toBe(0); // a cancelled snapshot saved nothing
    kv.fn.snapshot_cancel();
    const { kv: fresh, conn: fc } = await target();
    expect(restore(fresh, forced)).toBe(0);
    expect(call(fresh, fc, "GET", "k")).toBe("v");
    expect(fresh.fn.snapshot_begin(0)).toBe(UNCHANGED); // what was restored is what is stored
    for (const k of [kv, fresh]) k.enclave.destroy();
  });

  it("stays the store of snapshot_begin while commands change, add and delete keys between its reads", async () => {
    const { kv, conn: c } = await target();
    const model = new StoreModel();
    const run = (...args: string[]) => {
      const reply = call(kv, c, ...args);
      model.apply(args);
      return reply;
    };
    // Values of every size, and a hash, a list and a string each larger than a chunk, so that
    // changes land on keys written already, keys not reached yet and the key being written.
    for (let i = 0; i < 300; i++) run("SET", `s${i}`, value(i, 10 + ((i * 977) % 9000)));
    for (let i = 0; i < 40; i++) run("SET", `ttl${i}`, value(i, 50), "EX", "10000");
    for (let i = 0; i < 2000; i++) run("HSET", `h${i % 7}`, `f${i}`, value(i, 200));
    for (let i = 0; i < 2000; i++) run("RPUSH", `l${i % 7}`, value(i, 200));
    for (let i = 0; i < 3000; i++) run("SADD", `S${i % 5}`, `m${(i * 7919) % 4000}`);
    for (let i = 0; i < 3000; i++) run("ZADD", `Z${i % 5}`, String(i % 50), `m${(i * 7919) % 4000}`);
    run("SET", "huge", value(7, 600_000));
    run("SET", "n", "10");
    const before = dumpStore(kv, c);
    expect(before).toEqual(model.dump());

    expect(kv.fn.snapshot_begin(0)).toBe(0);
    const parts: Buffer[] = [];
    let rng = 12345;
    const pick = (n: number) => ((rng = (rng * 1103515245 + 12345) >>> 0) >>> 8) % n;
    let round = 0;
    const info: string[] = [];
    for (let n; (n = kv.fn.snapshot_read()) !== 0; round++) {
      expect(n).toBeGreaterThan(0);
      parts.push(Buffer.from(kv.enclave.guest.read(kv.fn.io_out() >>> 0, n)));
      if (round === 3) info.push(call(kv, c, "INFO", "persistence") as string);
      for (let k = 0; k < 60; k++) {
        const i = pick(300);
        switch (pick(27)) {
          case 0: run("SET", `s${i}`, value(i + round, model.strlen(`s${i}`))); break; // same length: in place
          case 1: run("SET", `s${i}`, value(i + round, 1 + pick(5000))); break;
          case 2: run("APPEND", `s${i}`, value(i, 1 + pick(3000))); break;
          case 3: run("DEL", `s${i}`, `ttl${i % 40}`); break;
          case 4: run("HSET", `h${i % 7}`, `f${pick(2500)}`, value(i, pick(300))); break;
          case 5: run("HDEL", `h${i % 7}`, `f${pick(2500)}`, `f${pick(2500)}`); break;
          case 6: run(pick(2) ? "LPUSH" : "RPUSH", `l${i % 7}`, value(i, pick(300))); break;
          case 7: run(pick(2) ? "LPOP" : "RPOP", `l${i % 7}`); break;
          case 8: run("EXPIRE", `s${i}`, "5000"); break;
          case 9: run("PERSIST", `ttl${i % 40}`); break;
          case 10: run("INCR", "n"); break;
          case 11: run("SET", `new${round}-${k}`, value(i, 100)); break;
          case 12: run(pick(2) ? "APPEND" : "SET", "huge", value(i, 1000)); break;
          case 13: run("HINCRBY", `h${i % 7}`, `counter`, "1"); break;
          // In place: a range of a string, an item of a list.
          case 14: run("SETRANGE", `s${i}`, String(pick(model.strlen(`s${i}`) + 1)), value(i + round, 1 + pick(200))); break;
          case 15: run("LSET", `l${i % 7}`, String(pick(40) - 20), value(i, pick(300))); break;
          case 16: run(pick(2) ? "RPUSH" : "LINSERT", `l${i % 7}`, ...(pick(2) ? ["x"] : ["BEFORE", "x", "y"])); break;
          case 17: run("LREM", `l${i % 7}`, String(pick(5) - 2), pick(2) ? "x" : "y"); break;
          case 18: run("LTRIM", `l${i % 7}`, String(pick(3)), String(pick(60) - 10)); break;
          case 19: run("LMOVE", `l${i % 7}`, `l${pick(7)}`, pick(2) ? "LEFT" : "RIGHT", pick(2) ? "LEFT" : "RIGHT"); break;
          case 20: run("GETDEL", `s${i}`); break;
          // Sets and sorted sets: members added, moved, removed; scores changed (the skiplist relinked).
          case 21: run("SADD", `S${i % 5}`, `m${pick(4000)}`, `m${pick(4000)}`); break;
          case 22: run("SREM", `S${i % 5}`, `m${pick(4000)}`); break;
          case 23: run("SMOVE", `S${i % 5}`, `S${pick(5)}`, `m${pick(4000)}`); break;
          case 24: run("ZADD", `Z${i % 5}`, String(pick(60)), `m${pick(4000)}`); break;
          case 25: run("ZINCRBY", `Z${i % 5}`, String(pick(7) - 3), `m${pick(4000)}`); break;
          case 26: if (pick(2)) run("ZPOPMIN", `Z${i % 5}`); else run("ZREM", `Z${i % 5}`, `m${pick(4000)}`); break;
        }
      }
      if (round === 8) run("FLUSHALL");
    }
    expect(round).toBeGreaterThan(8);
    expect(info[0]).toMatch(/rdb_bgsave_in_progress:1\r\n/);
    expect(Number(/current_cow_size:(\d+)/.exec(info[0]!)![1])).toBeGreaterThan(0);
    expect(kv.fn.snapshot_commit()).toBe(0);
    expect(call(kv, c, "INFO", "persistence")).toMatch(/rdb_bgsave_in_progress:0\r\n.*/s);

    expect(dumpStore(kv, c)).toEqual(model.dump()); // the live store took every change
    const { kv: copy, conn: cc } = await target();
    expect(restore(copy, Buffer.concat(parts))).toBe(0);
    expect(dumpStore(copy, cc)).toEqual(before); // and the snapshot none of them
    // The changes made during the snapshot are not in it: the next one is not skipped.
    expect(kv.fn.snapshot_begin(0)).toBe(0);
    kv.fn.snapshot_cancel();
    for (const k of [kv, copy]) k.enclave.destroy();
  });

  it("keeps every database as it was at snapshot_begin, while SELECT, MOVE and SWAPDB run between its reads", async () => {
    const { kv, conn: c } = await target();
    const dumpAll = (k: KvDriver, conn: number) =>
      Array.from({ length: 16 }, (_, d) => (call(k, conn, "SELECT", String(d)), dumpStore(k, conn)));
    for (let d = 0; d < 16; d += 5) { // databases 0, 5, 10 and 15
      call(kv, c, "SELECT", String(d));
      for (let i = 0; i < 300; i++) call(kv, c, "SET", `k${i}`, value(d * 1000 + i, 100 + i * 7));
      call(kv, c, "ZADD", "z", String(d), "m");
      call(kv, c, "SADD", "s", `in ${d}`);
    }
    const before = dumpAll(kv, c);
    expect(kv.fn.snapshot_begin(0)).toBe(0);
    const parts: Buffer[] = [];
    let round = 0;
    for (let n; (n = kv.fn.snapshot_read()) !== 0; round++) {
      parts.push(Buffer.from(kv.enclave.guest.read(kv.fn.io_out() >>> 0, n)));
      call(kv, c, "SELECT", String((round * 5) % 16));
      call(kv, c, "MOVE", `k${round}`, String((round + 3) % 16));
      call(kv, c, "SET", `k${round + 1}`, "changed");
      call(kv, c, "ZINCRBY", "z", "1", "m");
      if (round === 2) call(kv, c, "SWAPDB", "0", "5");
    }
    expect(round).toBeGreaterThan(8);
    expect(kv.fn.snapshot_commit()).toBe(0);
    expect(dumpAll(kv, c)).not.toEqual(before);
    const { kv: copy, conn: cc } = await target();
    expect(restore(copy, Buffer.concat(parts))).toBe(0);
    expect(dumpAll(copy, cc)).toEqual(before);
    expect(call(copy, cc, "INFO", "keyspace")).toMatch(/db0:keys=302,.*\r\ndb5:keys=302,.*\r\ndb10:keys=302,.*\r\ndb15:keys=302,/s);
    for (const k of [kv, copy]) k.enclave.destroy();
  });

  it("keeps maxmemory's eviction to what the store holds while a snapshot keeps deleted keys", async () => {
    const { kv, conn: c } = await target();
    for (let i = 0; i < 400; i++) call(kv, c, "SET", `k${i}`, value(i, 4000));
    const used = () => Number(/used_memory:(\d+)/.exec(call(kv, c, "INFO", "memory") as string)![1]);
    call(kv, c, "CONFIG", "SET", "maxmemory-policy", "allkeys-random");
    call(kv, c, "CONFIG", "SET", "maxmemory", String(used() + 200_000));
    expect(kv.fn.snapshot_begin(1)).toBe(0);
    expect(kv.fn.snapshot_read()).toBeGreaterThan(0);
    for (let i = 0; i < 300; i++) call(kv, c, "DEL", `k${i}`); // kept for the snapshot: used_memory stays up
    for (let i = 0; i < 100; i++) call(kv, c, "SET", `n${i}`, value(i, 4000));
    const memory = call(kv, c, "INFO", "memory") as string;
    expect(Number(/mem_not_counted_for_evict:(\d+)/.exec(memory)![1])).toBeGreaterThan(300 * 4000);
    expect(call(kv, c, "DBSIZE")).toBe(200); // nothing evicted: the kept keys do not count
    while (kv.fn.snapshot_read() > 0);
    expect(kv.fn.snapshot_commit()).toBe(0);
    expect(call(kv, c, "INFO", "memory")).toMatch(/mem_not_counted_for_evict:0\r\n/);
    kv.enclave.destroy();
  });

  it("asks the host for a save on BGSAVE through the result word, once, and only when it keeps snapshots", async () => {
    const { kv, conn: c } = await target();
    const bgsave = (...args: string[]) => pipeline(["BGSAVE", ...args]);
    const pipeline = (...commands: string[][]) => {
      const word = kv.data(c, Buffer.concat(commands.map((args) => encodeCommand(args))));
      const out: Buffer[] = [];
      kv.collect(c, word, out);
      return { reply: Buffer.concat(out).toString("latin1"), save: (word & RESULT_SAVE) !== 0 };
    };
    expect(bgsave()).toEqual({ reply: "-ERR no data directory to save to: start kv with `enclave serve --data DIR`\r\n", save: false });
    kv.enclave.guest.write(kv.fn.io_in() >>> 0, Buffer.from("store"));
    expect(kv.fn.set_instance(5)).toBe(0);
    expect(bgsave("now")).toEqual({ reply: "-ERR syntax error\r\n", save: false });
    expect(pipeline(["BGSAVE"], ["BGSAVE", "SCHEDULE"])).toEqual({
      reply: "+Background saving started\r\n-ERR Background save already in progress\r\n",
      save: true, // one ask
    });
    expect(kv.fn.snapshot_begin(1)).toBe(0);
    expect(bgsave()).toEqual({ reply: "-ERR Background save already in progress\r\n", save: false });
    expect(call(kv, c, "INFO", "persistence")).toMatch(/rdb_bgsave_in_progress:1\r\n/);
    while (kv.fn.snapshot_read() > 0);
    const before = call(kv, c, "LASTSAVE") as number;
    expect(kv.fn.snapshot_commit()).toBe(0);
    expect(call(kv, c, "LASTSAVE")).toBeGreaterThanOrEqual(before);
    expect(call(kv, c, "INFO", "persistence")).toMatch(/rdb_bgsave_in_progress:0\r\n[^]*rdb_saves:1\r\n/);
    expect(bgsave("schedule")).toEqual({ reply: "+Background saving started\r\n", save: true });
    kv.enclave.destroy();
  });

  it("binds a snapshot to its store instance (set_instance), each with a counter of its own", async () => {
    const name = (kv: KvDriver, text: string) => {
      kv.enclave.guest.write(kv.fn.io_in() >>> 0, Buffer.from(text));
      return kv.fn.set_instance(text.length);
    };
    const { kv: a, conn: ca } = await target();
    expect(name(a, "store-a")).toBe(0);
    call(a, ca, "SET", "secret", "A-secret");
    const sealedByA = takeSnapshot(a);
    expect(a.fn.snapshot_commit()).toBe(0);
    const unnamed = counter();
    const { kv: b, conn: cb } = await target();
    expect(name(b, "store-b")).toBe(0);
    expect(restore(b, sealedByA)).toBe(REFUSED); // another instance's
    expect(call(b, cb, "GET", "secret")).toBe(null);
    const { kv: a2, conn: ca2 } = await target();
    expect(name(a2, "store-a")).toBe(0);
    expect(restore(a2, sealedByA)).toBe(0); // its own instance opens it
    expect(call(a2, ca2, "GET", "secret")).toBe("A-secret");
    expect(counter()).toBe(unnamed); // the instance's counter moved, not the enclave's unnamed one
    expect(name(b, "")).toBe(BAD_CALL);
    expect(name(b, "x".repeat(65))).toBe(BAD_CALL);
    for (const kv of [a, b, a2]) kv.enclave.destroy();
  });

  it("answers calls out of order with BAD_CALL", async () => {
    const { kv } = await target();
    expect(kv.fn.snapshot_read()).toBe(BAD_CALL);
    expect(kv.fn.snapshot_commit()).toBe(BAD_CALL);
    expect(kv.fn.restore_feed(10)).toBe(BAD_CALL);
    expect(kv.fn.restore_end(0)).toBe(BAD_CALL);
    expect(kv.fn.restore_begin(0)).toBe(BAD_CALL);
    expect(kv.fn.restore_begin(10)).toBe(0);
    expect(kv.fn.restore_feed(11)).toBe(BAD_CALL); // more than announced
    expect(kv.fn.restore_end(0)).toBe(BAD_CALL);
    expect(kv.fn.restore_begin(10)).toBe(0);
    const frameLength = Buffer.alloc(4);
    frameLength.writeUInt32LE(100);
    kv.enclave.guest.write(kv.fn.io_in() >>> 0, frameLength);
    expect(kv.fn.restore_feed(4)).toBe(0);
    expect(kv.fn.restore_end(0)).toBe(BAD_CALL); // fewer than announced
    expect(kv.fn.restore_feed(kv.inCap + 1)).toBe(BAD_CALL);
    kv.enclave.destroy();
  });
});

/** `n` bytes of printable text that depend on `seed`. */
function value(seed: number, n: number): string {
  let s = "";
  for (let i = 0; s.length < n; i++) s += String.fromCharCode(97 + ((seed * 7 + i * 13) % 26));
  return s;
}

/** What the commands of the snapshot test do, as Redis defines them (a reference to compare with). */
/** A sorted set of the model: member -> score. */
class ZModel {
  readonly m = new Map<string, number>();
  sorted(): [string, number][] {
    return [...this.m.entries()].sort(([a, x], [b, y]) => x - y || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }
}

class StoreModel {
  private readonly keys = new Map<string, { v: string | string[] | Map<string, string> | Set<string> | ZModel; ttl: boolean }>();

  strlen(k: string): number {
    const e = this.keys.get(k);
    return typeof e?.v === "string" ? e.v.length : 10;
  }

  apply([cmd, k, ...rest]: string[]): void {
    const e = this.keys.get(k!);
    switch (cmd) {
      case "SET": this.keys.set(k!, { v: rest[0]!, ttl: rest[1] === "EX" }); break;
      case "APPEND": if (!e) this.keys.set(k!, { v: rest[0]!, ttl: false }); else e.v = (e.v as string) + rest[0]; break;
      case "INCR": if (!e) this.keys.set(k!, { v: "1", ttl: false }); else e.v = String(Number(e.v) + 1); break;
      case "DEL": for (const key of [k!, ...rest]) this.keys.delete(key); break;
      case "EXPIRE": if (e) e.ttl = true; break;
      case "PERSIST": if (e) e.ttl = false; break;
      case "FLUSHALL": this.keys.clear(); break;
      case "HSET": case "HINCRBY": {
        const h = e ? (e.v as Map<string, string>) : new Map<string, string>();
        if (!e) this.keys.set(k!, { v: h, ttl: false });
        h.set(rest[0]!, cmd === "HSET" ? rest[1]! : String(Number(h.get(rest[0]!) ?? 0) + Number(rest[1])));
        break;
      }
      case "HDEL": {
        const h = e?.v as Map<string, string> | undefined;
        for (const f of rest) h?.delete(f);
        if (h && h.size === 0) this.keys.delete(k!);
        break;
      }
      case "LPUSH": case "RPUSH": {
        const l = e ? (e.v as string[]) : [];
        if (!e) this.keys.set(k!, { v: l, ttl: false });
        if (cmd === "LPUSH") l.unshift(rest[0]!);
        else l.push(rest[0]!);
        break;
      }
      case "LPOP": case "RPOP": {
        const l = e?.v as string[] | undefined;
        if (l) cmd === "LPOP" ? l.shift() : l.pop();
        if (l && l.length === 0) this.keys.delete(k!);
        break;
      }
      case "GETDEL": this.keys.delete(k!); break;
      case "SETRANGE": {
        const at = Number(rest[0]);
        const old = e ? (e.v as string) : "";
        const padded = old.length < at ? old + "\0".repeat(at - old.length) : old;
        const v = padded.slice(0, at) + rest[1]! + padded.slice(at + rest[1]!.length);
        if (e) e.v = v;
        else this.keys.set(k!, { v, ttl: false });
        break;
      }
      case "LSET": {
        const l = e?.v as string[] | undefined;
        let at = Number(rest[0]);
        if (l && at < 0) at += l.length;
        if (l && at >= 0 && at < l.length) l[at] = rest[1]!;
        break;
      }
      case "LINSERT": {
        const l = e?.v as string[] | undefined;
        const at = l ? l.indexOf(rest[1]!) : -1;
        if (l && at >= 0) l.splice(at, 0, rest[2]!);
        break;
      }
      case "LREM": {
        const l = e?.v as string[] | undefined;
        if (!l) break;
        const count = Number(rest[0]);
        let left = count === 0 ? Infinity : Math.abs(count);
        const order = [...l.keys()];
        if (count < 0) order.reverse();
        const drop = new Set<number>();
        for (const j of order) if (left > 0 && l[j] === rest[1]) (drop.add(j), left--);
        e!.v = l.filter((_, j) => !drop.has(j));
        if ((e!.v as string[]).length === 0) this.keys.delete(k!);
        break;
      }
      case "LTRIM": {
        const l = e?.v as string[] | undefined;
        if (!l) break;
        let [start, stop] = [Number(rest[0]), Number(rest[1])];
        if (start < 0) start += l.length;
        if (stop < 0) stop += l.length;
        if (start < 0) start = 0;
        e!.v = start > stop || start >= l.length ? [] : l.slice(start, Math.min(stop, l.length - 1) + 1);
        if ((e!.v as string[]).length === 0) this.keys.delete(k!);
        break;
      }
      case "SADD": case "ZADD": case "ZINCRBY": {
        if (e && !(e.v instanceof Set) && !(e.v instanceof ZModel)) break; // WRONGTYPE
        if (cmd === "SADD") {
          const set = e ? (e.v as Set<string>) : new Set<string>();
          if (!e) this.keys.set(k!, { v: set, ttl: false });
          for (const m of rest) set.add(m);
        } else {
          const z = e ? (e.v as ZModel) : new ZModel();
          if (!e) this.keys.set(k!, { v: z, ttl: false });
          z.m.set(rest[1]!, (cmd === "ZADD" ? 0 : z.m.get(rest[1]!) ?? 0) + Number(rest[0]));
        }
        break;
      }
      case "SREM": case "ZREM": case "ZPOPMIN": {
        if (!e) break;
        if (e.v instanceof Set) e.v.delete(rest[0]!);
        else if (cmd === "ZPOPMIN") (e.v as ZModel).m.delete((e.v as ZModel).sorted()[0]![0]);
        else (e.v as ZModel).m.delete(rest[0]!);
        if ((e.v instanceof Set ? e.v.size : (e.v as ZModel).m.size) === 0) this.keys.delete(k!);
        break;
      }
      case "SMOVE": {
        const from = e?.v as Set<string> | undefined;
        if (!from || !from.has(rest[1]!)) break;
        const d = this.keys.get(rest[0]!);
        if (d && !(d.v instanceof Set)) break;
        from.delete(rest[1]!);
        if (d) (d.v as Set<string>).add(rest[1]!);
        else this.keys.set(rest[0]!, { v: new Set([rest[1]!]), ttl: false });
        if (from.size === 0) this.keys.delete(k!);
        break;
      }
      case "LMOVE": {
        const from = e?.v as string[] | undefined;
        if (!from) break;
        const item = rest[1] === "LEFT" ? from.shift()! : from.pop()!;
        const d = this.keys.get(rest[0]!);
        const to = d ? (d.v as string[]) : [];
        if (!d) this.keys.set(rest[0]!, { v: to, ttl: false });
        if (rest[2] === "LEFT") to.unshift(item);
        else to.push(item);
        if (from.length === 0) this.keys.delete(k!);
        break;
      }
    }
  }

  dump(): unknown[] {
    return [...this.keys.keys()].sort().map((k) => {
      const { v, ttl } = this.keys.get(k)!;
      if (v instanceof Set) return [k, ttl, ["set", ...[...v].sort()]];
      if (v instanceof ZModel) return [k, ttl, ["zset", ...v.sorted().flatMap(([m, x]) => [m, String(x)])]];
      if (v instanceof Map) return [k, ttl, [...v.entries()].map(([f, x]) => [f, x]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1))];
      return [k, ttl, Array.isArray(v) ? [...v] : v];
    });
  }
}
