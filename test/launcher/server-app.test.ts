// The host side of server apps (host/launcher/server-app.ts): the channel with the echo app in
// every mode (partial input, output larger than the shared buffer drained through on_drain,
// RESULT_CLOSE), contract violations and traps (the wrapper stops for good), and sealed snapshots
// of the kv store: a round trip into a new enclave, and the typed errors of a modified, truncated,
// foreign or rolled-back snapshot. The files and the command are test/cli/kv-persistence.test.ts.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchEnclave } from "../../host/launcher/run-app";
import type { Enclave } from "../../host/launcher/backend";
import { modeSwitches } from "../../host/launcher/modes";
import type { ModeName } from "../../host/launcher/modes";
import { isServerModule, ServerApp, ServerAppError, SnapshotError } from "../../host/launcher/server-app";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import type { SnapshotProblem } from "../../host/launcher/server-app";
import { wat } from "../wasm/wat";
import { guestApp, platformFor, PROTECTED_MODES, tinySwitchesFor } from "../enclavisor/fixtures/enclave";
import { RAW_SERVER } from "../enclavisor/fixtures/raw-server";

let echo: Uint8Array;
let hello: Uint8Array;
let kv: Uint8Array;
const launched: Enclave[] = [];

beforeAll(() => {
  echo = guestApp("echo");
  hello = guestApp("hello");
  kv = guestApp("kv");
});

afterEach(() => {
  while (launched.length > 0) launched.pop()!.destroy();
});

async function launch(bytes: Uint8Array, mode: ModeName): Promise<Enclave> {
  const switches = mode === "native" ? modeSwitches("native") : tinySwitchesFor(bytes, mode);
  const enclave = await launchEnclave(bytes, { switches, platform: switches.kind === "sev" ? platformFor(switches) : undefined });
  launched.push(enclave);
  enclave.start();
  return enclave;
}

const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

describe("isServerModule", () => {
  it("recognises a server app by its on_data export", () => {
    expect(isServerModule(echo)).toBe(true);
    expect(isServerModule(hello)).toBe(false);
    expect(isServerModule(new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9]))).toBe(false);
  });
});

describe.each(["native", ...PROTECTED_MODES] as ModeName[])("the echo server in %s mode", (mode) => {
  it("answers lines, keeps partial input per connection, and closes on QUIT", async () => {
    const app = new ServerApp(await launch(echo, mode));
    app.open(1);
    app.open(2);
    let out = app.data(1, bytes("hel"));
    expect(out).toEqual({ bytes: new Uint8Array(0), close: false, more: false, save: false, log: false, wake: false });
    expect(text(app.data(2, bytes("other\n")).bytes)).toBe("OTHER\n");
    out = app.data(1, bytes("lo\nwor"));
    expect(text(out.bytes)).toBe("HELLO\n");
    out = app.data(1, bytes("ld\nQUIT\nnot read\n"));
    expect(text(out.bytes)).toBe("WORLD\nBYE\n");
    expect(out.close).toBe(true);
    app.close(1);
    expect(text(app.data(2, bytes("still here\n")).bytes)).toBe("STILL HERE\n");
    app.close(2);
  });

  it("queues output larger than io_out and hands it out through drain", async () => {
    const app = new ServerApp(await launch(echo, mode));
    app.open(7);
    const copies = 3 * Math.ceil(app.outCap / 9);
    let out = app.data(7, bytes(`repeat ${copies} abcdefgh\nnext\n`));
    let received = text(out.bytes);
    let drains = 0;
    while (out.more) {
      expect(out.bytes.length).toBe(app.outCap);
      out = app.drain(7);
      drains++;
      received += text(out.bytes);
    }
    expect(drains).toBe(Math.ceil((copies * 9 + 5) / app.outCap) - 1);
    expect(received).toBe("ABCDEFGH\n".repeat(copies) + "NEXT\n");
    app.close(7);
  });

  it("refuses input larger than io_in_cap at once", async () => {
    const app = new ServerApp(await launch(echo, mode));
    app.open(1);
    expect(() => app.data(1, new Uint8Array(app.inCap + 1))).toThrow(new RegExp(`at most ${app.inCap} bytes at a time`));
    expect(app.stopped).toBeNull();
  });
});

describe("ServerApp and the contract", () => {
  it("says so when the app is not a server", async () => {
    const enclave = await launch(hello, "native");
    expect(() => new ServerApp(enclave)).toThrow(new ServerAppError("the app does not export on_data: it is not a server app"));
  });

  it.each(["native", "enclavisor"] as ModeName[])("stops for good when the guest traps (%s)", async (mode) => {
    const app = new ServerApp(await launch(wat(RAW_SERVER), mode));
    app.open(1);
    expect(text(app.data(1, bytes("fine")).bytes)).toBe("fine");
    expect(() => app.data(1, bytes("!boom"))).toThrow(EnclaveStopped);
    expect(app.stopped?.message).toMatch(/^enclave stopped \(trap\): on_data: unreachable/);
    // Its heap may be half-updated: nothing more is called, for any connection.
    expect(() => app.open(2)).toThrow(app.stopped!);
    expect(() => app.data(1, bytes("fine"))).toThrow(app.stopped!);
  });

  it("stops when a result word claims more bytes than io_out holds", async () => {
    const app = new ServerApp(await launch(wat(RAW_SERVER), "native"));
    app.open(1);
    expect(() => app.data(1, bytes(">"))).toThrow("enclave stopped (contract): on_data returned 4097 bytes, more than io_out holds (4096)");
    expect(app.stopped).toMatchObject({ reason: "contract" });
    expect(() => app.open(2)).toThrow(app.stopped!);
  });

  it("names the missing exports of an incomplete server", async () => {
    const partial = RAW_SERVER.replace(`(func (export "on_drain") (param i32) (result i32) (i32.const 0))`, "");
    const enclave = await launch(wat(partial), "native");
    expect(() => new ServerApp(enclave)).toThrow("the server app does not export on_drain (assembly/server.ts lists the exports a server app needs)");
  });

  it("refuses snapshots of an app without the snapshot exports, and limits of an app without set_limits", async () => {
    const app = new ServerApp(await launch(echo, "sev"));
    expect(app.persistent).toBe(false);
    expect(() => app.snapshot(() => {})).toThrow(SnapshotError);
    expect(() => app.restore(10, [new Uint8Array(10)], false)).toThrow(/does not export snapshot_begin, .*: it cannot save or load its state/);
    expect(() => app.setLimits(1024, 16)).toThrow("the app does not export set_limits: it takes no limits");
    expect(app.stopped).toBeNull();
  });

  it("reads the enclave's counter from the secure processor (none in native or sgx mode)", async () => {
    expect(new ServerApp(await launch(echo, "native")).counter()).toBeNull();
    expect(new ServerApp(await launch(echo, "sgx")).counter()).toBeNull();
    const counter = new ServerApp(await launch(echo, "sev-snp")).counter();
    expect(Number.isSafeInteger(counter)).toBe(true);
  });
});

/** One RESP2 command. */
function resp(...args: string[]): Uint8Array {
  return bytes(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`);
}

function problem(f: () => void): SnapshotProblem | "none" {
  try {
    f();
  } catch (e) {
    if (e instanceof SnapshotError) return e.problem;
    throw e;
  }
  return "none";
}

/** A whole snapshot, collected from the stream. */
function take(app: ServerApp): { bytes: Uint8Array; counter: number; pieces: number } {
  const parts: Uint8Array[] = [];
  const info = app.snapshot((p) => parts.push(p))!;
  const bytes = new Uint8Array(Buffer.concat(parts));
  expect(bytes.length).toBe(info.bytes);
  return { bytes, counter: info.counter, pieces: parts.length };
}

/** Restores `bytes`, fed in pieces of `piece` bytes. */
function put(app: ServerApp, bytes: Uint8Array, allowRollback: boolean, piece = Math.max(1, bytes.length)): void {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += piece) pieces.push(bytes.subarray(at, at + piece));
  app.restore(bytes.length, pieces, allowRollback);
}

describe("sealed snapshots of the kv store", () => {
  // Every test of this file shares the enclave's counter (same module and flags): they run in order.
  async function kvWith(mode: ModeName, keys: Record<string, string>): Promise<ServerApp> {
    const app = new ServerApp(await launch(kv, mode));
    app.open(1);
    for (const [k, v] of Object.entries(keys)) expect(text(app.data(1, resp("SET", k, v)).bytes)).toBe("+OK\r\n");
    return app;
  }
  const get = (app: ServerApp, key: string) => text(app.data(1, resp("GET", key)).bytes);
  /** Keys enough for a snapshot of several 1 MiB chunks (over 3 MiB). */
  const big = (tag: string) => Object.fromEntries(Array.from({ length: 160 }, (_, i) => [`${tag}${i}`, tag.repeat(20_000 + i)]));

  it("restores a snapshot into a new enclave, and commit advances the counter to the snapshot's value", async () => {
    const a = await kvWith("sev-snp", { alpha: "1", beta: "two", ["x".repeat(300)]: "y".repeat(5000) });
    const before = a.counter()!;
    const snap = take(a);
    expect(snap.counter).toBe(before + 1);
    expect(a.counter()).toBe(before); // not before the host says the snapshot is stored
    a.commitSnapshot();
    expect(a.counter()).toBe(before + 1);
    const b = await kvWith("sev-snp", { other: "gone after restore" });
    put(b, snap.bytes, false, 7); // any cut of the stream
    expect(get(b, "alpha")).toBe("$1\r\n1\r\n");
    expect(get(b, "beta")).toBe("$3\r\ntwo\r\n");
    expect(get(b, "x".repeat(300))).toBe(`$5000\r\n${"y".repeat(5000)}\r\n`);
    expect(get(b, "other")).toBe("$-1\r\n");
    expect(b.stopped).toBeNull();
  });

  it("streams a snapshot of several chunks in pieces no larger than io_out, and loads it back", async () => {
    const keys = big("k");
    const a = await kvWith("sev-snp", keys);
    const snap = take(a);
    a.commitSnapshot();
    expect(snap.bytes.length).toBeGreaterThan(3 << 20);
    expect(snap.pieces).toBeGreaterThanOrEqual(snap.bytes.length / a.outCap);
    const b = await kvWith("sev-snp", {});
    put(b, snap.bytes, false, 100_003);
    for (const [k, v] of Object.entries(keys)) expect(get(b, k)).toBe(`$${v.length}\r\n${v}\r\n`);
  });

  it("refuses a modified, truncated or foreign snapshot, and leaves the store as it was", async () => {
    const a = await kvWith("sev-snp", { alpha: "1" });
    const snap = take(a);
    a.commitSnapshot();
    const b = await kvWith("sev-snp", { mine: "kept" });
    const flipped = snap.bytes.slice();
    flipped[flipped.length >> 1]! ^= 0x40;
    expect(problem(() => put(b, flipped, false))).toBe("refused");
    expect(problem(() => put(b, snap.bytes.subarray(0, snap.bytes.length - 1), false))).toBe("refused");
    expect(problem(() => b.restore(0, [], false))).toBe("bad-call");
    expect(problem(() => b.restore(snap.bytes.length + 1, [snap.bytes], false))).toBe("bad-call");
    const other = await kvWith("enclavisor", {}); // another mode: another measurement, another key
    expect(problem(() => put(other, snap.bytes, false))).toBe("refused");
    expect(get(b, "mine")).toBe("$4\r\nkept\r\n");
    put(b, snap.bytes, false); // the genuine one still opens
    expect(get(b, "alpha")).toBe("$1\r\n1\r\n");
  });

  it("keeps a snapshot the state at its beginning while requests change the store", async () => {
    const a = await kvWith("sev-snp", big("c"));
    const parts: Uint8Array[] = [];
    expect(a.beginSnapshot(true)).toBe(true);
    for (let piece = a.readSnapshot(), served = false; piece; piece = a.readSnapshot()) {
      parts.push(piece);
      if (!served) a.data(1, resp("SET", "during", "the snapshot")); // a host that serves mid-snapshot
      served = true;
    }
    a.commitSnapshot();
    const b = await kvWith("sev-snp", {});
    put(b, new Uint8Array(Buffer.concat(parts)), false);
    expect(get(b, "during")).toBe("$-1\r\n"); // made after the snapshot began
    expect(get(b, "c0")).toBe(get(a, "c0"));
    expect(get(a, "during")).toBe("$12\r\nthe snapshot\r\n");
    expect(a.stopped).toBeNull();
  });

  it("says when nothing changed since the last snapshot, and takes none", async () => {
    const a = await kvWith("sev-snp", { k: "v" });
    expect(a.snapshot(() => {}, false)).not.toBeNull(); // never saved: changed
    a.commitSnapshot();
    const counter = a.counter();
    expect(a.snapshot(() => {}, false)).toBeNull();
    expect(a.counter()).toBe(counter);
    expect(a.snapshot(() => {}, true)).not.toBeNull(); // forced
    a.commitSnapshot();
    a.data(1, resp("SET", "k", "w"));
    expect(a.snapshot(() => {}, false)).not.toBeNull();
    a.cancelSnapshot();
    expect(problem(() => a.commitSnapshot())).toBe("bad-call"); // nothing left to commit
    expect(a.snapshot(() => {}, false)).not.toBeNull(); // the change is still unsaved
  });

  it("refuses an older snapshot (a rollback) unless allowed", async () => {
    const a = await kvWith("sev-snp", { version: "old" });
    const old = take(a);
    a.commitSnapshot();
    a.data(1, resp("SET", "version", "new"));
    take(a);
    a.commitSnapshot();
    const b = await kvWith("sev-snp", {});
    expect(problem(() => put(b, old.bytes, false))).toBe("rollback");
    expect(get(b, "version")).toBe("$-1\r\n");
    const counter = b.counter();
    put(b, old.bytes, true);
    expect(get(b, "version")).toBe("$3\r\nold\r\n");
    expect(b.counter()).toBe(counter); // a counter never goes back
  });

  it("says a native run cannot seal", async () => {
    const app = await kvWith("native", { k: "v" });
    expect(problem(() => app.snapshot(() => {}))).toBe("unavailable");
    expect(problem(() => app.restore(4, [new Uint8Array(4)], false))).toBe("unavailable");
    expect(app.stopped).toBeNull();
  });
});
