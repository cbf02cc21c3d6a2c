// The SDK's random and untrusted-time imports (guest-abi.ts, assembly/index.ts), and run-to-
// completion behaviour: a guest's abort, trap or bad call stops it the one way (EnclaveStopped,
// with the guest's message) and gives a non-zero exit from `enclave run`; a runaway guest is stopped
// by fuel and the host stays up.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { command as runCommandImpl } from "../../host/cli/commands/run";
import { MAX_RANDOM_BYTES } from "../../host/enclavisor/abi-constants";
import { abiImports } from "../../host/enclavisor/guest-abi";
import type { GuestMemory } from "../../host/enclavisor/guest-abi";
import { launchEnclave, runApp } from "../../host/launcher/run-app";
import type { Enclave, LaunchOptions } from "../../host/launcher/backend";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { runCommand } from "../cli/fixtures/run-command";
import { wat } from "../wasm/wat";
import { guestApp, platformFor, STATE_DIR, tinySwitches } from "./fixtures/enclave";

const switches = tinySwitches("enclavisor");
const platform = platformFor(switches);
const options: LaunchOptions = { switches, platform };
let app: Uint8Array;
beforeAll(() => {
  app = guestApp("random-time");
});

/** A flat memory for calling the imports directly. */
function flatMemory(size: number): GuestMemory & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    read: (gva, len) => bytes.slice(gva, gva + len),
    write: (gva, data) => {
      if (gva + data.length > size) throw new RangeError("out of bounds");
      bytes.set(data, gva);
    },
    share: () => {},
  };
}

type Fn = (...args: number[]) => number;
function enclaveImport(mem: GuestMemory, name: string): Fn {
  const ns = abiImports(mem, { log: () => {} }).enclave as Record<string, Fn>;
  return ns[name]!;
}

describe("enclave.random", () => {
  it("fills exactly the bytes asked for, differently each call", () => {
    const mem = flatMemory(256);
    const random = enclaveImport(mem, "random");
    expect(random(16, 64)).toBe(64);
    const first = mem.bytes.slice(16, 80);
    expect(mem.bytes.subarray(0, 16).every((b) => b === 0)).toBe(true);
    expect(mem.bytes.subarray(80).every((b) => b === 0)).toBe(true);
    expect(first.some((b) => b !== 0)).toBe(true);
    expect(random(16, 64)).toBe(64);
    expect(Buffer.compare(first, mem.bytes.subarray(16, 80))).not.toBe(0);
  });

  it("stops the guest for a pointer outside its memory (a bad call), naming the import", () => {
    const random = enclaveImport(flatMemory(64), "random");
    expect(() => random(32, 64)).toThrow(EnclaveStopped);
    expect(() => random(32, 64)).toThrow(/^enclave stopped \(bad-call\): enclave\.random: out of bounds$/);
  });

  it("refuses more than MAX_RANDOM_BYTES in one call, writing nothing", () => {
    const mem = flatMemory(MAX_RANDOM_BYTES + 8);
    const random = enclaveImport(mem, "random");
    expect(random(0, MAX_RANDOM_BYTES + 1)).toBe(-1);
    expect(mem.bytes.every((b) => b === 0)).toBe(true);
    expect(random(0, MAX_RANDOM_BYTES)).toBe(MAX_RANDOM_BYTES);
  });
});

describe("enclave.untrusted_time_ms", () => {
  it("is the host's wall clock in milliseconds", () => {
    const now = enclaveImport(flatMemory(0), "untrusted_time_ms");
    const before = Date.now();
    const t = now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });
});

describe("enclave.untrusted_cpu_ms", () => {
  it("is the host process's user (0) and system (1) CPU time in milliseconds, and grows with work", () => {
    const cpu = enclaveImport(flatMemory(0), "untrusted_cpu_ms");
    const user = cpu(0) as number;
    const system = cpu(1) as number;
    expect(user).toBeCloseTo(process.cpuUsage().user / 1000, -2);
    expect(system).toBeGreaterThanOrEqual(0);
    let x = 0;
    for (let i = 0; i < 5e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(cpu(0) as number).toBeGreaterThan(user);
  });
});

describe("the random-time app", () => {
  it("runs under the enclavisor mode and logs only what is safe to show", async () => {
    const r = await runApp(app, options);
    expect(r.output).toEqual(["nonce: 32 bytes, not all zero", "two draws differ", "untrusted clock: after 2020"]);
  });

  it("randomBytes fills buffers larger than one host call, and time reaches the guest", async () => {
    const enclave = await launchEnclave(app, options);
    try {
      const ex = enclave.guest.instance.exports as unknown as { randomAt(n: number): number; now(): number };
      const n = MAX_RANDOM_BYTES * 2 + 100;
      const bytes = enclave.guest.read(ex.randomAt(n), n);
      // Every chunk was filled: no 4 KiB stretch is all zero (a chance of 2^-32768 if random).
      for (let off = 0; off + 4096 <= n; off += 4096) expect(bytes.subarray(off, off + 4096).some((b) => b !== 0)).toBe(true);
      expect(bytes.subarray(n - 100).some((b) => b !== 0)).toBe(true);
      const before = Date.now();
      const t = ex.now();
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(Date.now());
    } finally {
      enclave.destroy();
    }
  });
});

describe("run to completion", () => {
  async function withEnclave(opts: Partial<LaunchOptions>, fn: (e: Enclave) => void): Promise<void> {
    const enclave = await launchEnclave(app, { ...options, ...opts });
    try {
      fn(enclave);
    } finally {
      enclave.destroy();
    }
  }
  /** What a call of the export threw. */
  const stopOf = (e: Enclave, name: string): EnclaveStopped => {
    try {
      e.call(name);
    } catch (err) {
      expect(err).toBeInstanceOf(EnclaveStopped);
      return err as EnclaveStopped;
    }
    throw new Error(`${name} returned`);
  };

  it("a failed assertion stops the guest with its message and source position", async () => {
    await withEnclave({}, (e) => {
      const stop = stopOf(e, "fail");
      expect(stop.reason).toBe("abort");
      expect(stop.detail).toMatch(/^the vault is empty \(guest-apps\/random-time\.ts:\d+:\d+\)$/);
      // Stopped for good: the next call, of any export, throws the same stop.
      expect(e.stopped).toBe(stop);
      expect(stopOf(e, "now")).toBe(stop);
    });
  });

  it("a trap stops the guest with reason trap, the export named and V8's RuntimeError as the cause", async () => {
    await withEnclave({}, (e) => {
      const stop = stopOf(e, "crash");
      expect(stop.reason).toBe("trap");
      expect(stop.detail).toMatch(/^crash: /);
      expect(stop.cause).toBeInstanceOf(WebAssembly.RuntimeError);
    });
  });

  it("a runaway guest is stopped by fuel, and another enclave runs afterwards", async () => {
    await withEnclave({ fuel: 100_000 }, (e) => {
      const stop = stopOf(e, "spin");
      expect(stop.reason).toBe("fuel");
      expect(stop.message).toMatch(/used up its fuel \(100000 function entries and loop iterations\)/);
    });
    const r = await runApp(app, options);
    expect(r.output).toHaveLength(3);
  });
});

describe("enclave run: a guest that stops", () => {
  const dir = mkdtempSync(join(tmpdir(), "sdk-run-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  // Guests written as text: each _start stops in one way. The abort message is an AssemblyScript
  // string (UTF-16LE, its byte length in the u32 before it), as the runtime passes it.
  const message = "out of coffee";
  const asString = (s: string) =>
    Buffer.concat([Buffer.from(new Uint32Array([s.length * 2]).buffer), Buffer.from(s, "utf16le")]);
  const escaped = (b: Buffer) => [...b].map((x) => "\\" + x.toString(16).padStart(2, "0")).join("");
  const guests = {
    abort: `(module (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 12) "${escaped(asString(message))}")
      (func (export "_start") (call $abort (i32.const 16) (i32.const 0) (i32.const 7) (i32.const 3))))`,
    trap: `(module (memory (export "memory") 1) (func (export "_start") unreachable))`,
    spin: `(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))`,
  };
  const file = (name: keyof typeof guests) => {
    const path = join(dir, `${name}.wasm`);
    writeFileSync(path, wat(guests[name]));
    return path;
  };
  const run = (path: string, ...more: string[]) =>
    runCommand(runCommandImpl, [path, "--state-dir", STATE_DIR, "--mode", "enclavisor", "--cache", "32K", ...more]);

  it("an abort exits 1 with the guest's message", async () => {
    const r = await run(file("abort"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/abort\.wasm stopped \(abort\): out of coffee \(:7:3\)/);
  });

  it("a trap exits 1 and says it trapped", async () => {
    const r = await run(file("trap"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/trap\.wasm stopped \(trap\): _start: unreachable/);
  });

  it("--fuel stops a runaway guest with a clear error, and the same process runs the next app", async () => {
    const r = await run(file("spin"), "--fuel", "5000");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/spin\.wasm stopped \(fuel\): the guest used up its fuel \(5000 function entries and loop iterations\)/);
    const next = await runCommand(runCommandImpl, [join(process.cwd(), "guest-apps/random-time.wasm"), "--state-dir", STATE_DIR]);
    expect(next.code, next.err).toBe(0);
    expect(next.out).toContain("two draws differ");
  });
});
