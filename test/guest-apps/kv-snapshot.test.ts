// The kv guest's sealed snapshots (guest-apps/kv/snapshot-writer.ts, snapshot-reader.ts) and their
// rollback protection by the enclave's monotonic counter: round trip, tampered, reordered, cut and
// mixed chunks (two snapshots of the same counter value included), rollback (refused, or allowed
// when asked), another enclave's snapshot, and calls out of order.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enclaveCounter } from "../../host/enclavisor/enclave-counter";
import { Platform } from "../../host/sev/platform";
import { decodeReplies, encodeCommand, kvSwitches, launchKv } from "./fixtures/kv";
import type { KvDriver, Reply } from "./fixtures/kv";

const UNAVAILABLE = -1;
const REFUSED = -2;
const ROLLBACK = -3;
const BAD_CALL = -4;

function takeSnapshot(kv: KvDriver): Buffer {
  expect(kv.fn.snapshot_begin()).toBe(0);
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
    expect(kv.fn.snapshot_begin()).toBe(UNAVAILABLE);
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

  it("round-trips the whole store in chunks of at most 1 MiB, and the commit advances the counter", async () => {
    const before = counter();
    const bytes = takeSnapshot(source);
    expect(frames(bytes).length).toBe(2); // 1.4 MB of values: two chunks
    for (const f of frames(bytes)) expect(f.length).toBeLessThanOrEqual(4 + (1 << 20) + 36);
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
    const [a0, a1] = frames(a);
    const [b0, b1] = frames(b);
    const [t0, t1] = frames(twin);
    const flipped = Buffer.from(b);
    flipped[flipped.length >> 1] ^= 1;
    const badLength = Buffer.from(b);
    badLength.writeUInt32LE(badLength.readUInt32LE(0) - 1, 0);
    const { kv, conn: c } = await target();
    call(kv, c, "SET", "mine", "kept");
    for (const [what, bytes] of [
      ["a flipped bit", flipped],
      ["a wrong frame length", badLength],
      ["the last chunk dropped", b0],
      ["the first chunk dropped", b1],
      ["the chunks swapped", Buffer.concat([b1, b0])],
      ["a chunk twice", Buffer.concat([b0, b0, b1])],
      ["chunks of two snapshots", Buffer.concat([a0, b1])],
      ["chunks of two snapshots, the other way", Buffer.concat([b0, a1])],
      ["chunks of two snapshots of the same counter value", Buffer.concat([t0, b1])],
      ["chunks of two snapshots of the same counter value, the other way", Buffer.concat([b0, t1])],
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

  it("cancels a snapshot when a request comes in the middle of it", async () => {
    expect(source.fn.snapshot_begin()).toBe(0);
    expect(source.fn.snapshot_read()).toBeGreaterThan(0);
    call(source, conn, "SET", "during", "a snapshot");
    expect(source.fn.snapshot_read()).toBe(BAD_CALL);
    expect(source.fn.snapshot_commit()).toBe(BAD_CALL);
    const whole = takeSnapshot(source);
    expect(source.fn.snapshot_commit()).toBe(0);
    const { kv, conn: c } = await target();
    expect(restore(kv, whole)).toBe(0);
    expect(call(kv, c, "GET", "during")).toBe("a snapshot");
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
