// Redis 7.0.15's own Tcl suite (../shared/redis-tests, external-server mode) against kv in
// enclavisor mode: a subset of its units that runs in about two minutes, each against a fresh server
// (the suite changes a server's configuration and does not always restore it, so its reference
// is a fresh redis-server per unit too). Each unit must pass at least its floor of tests, kv's
// passes when the floor was set (raise them as kv grows: a drop is a regression), and the server
// must answer PING after it and stop cleanly: no crash, no hang. The full run, every default unit,
// is `../shared/redis-tests/run --port PORT` against a running kv (docs/writing-apps.md).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { RespClient, status } from "../cli/fixtures/resp";
import { ROOT, startServer } from "../cli/fixtures/server";

const run = promisify(execFile);
const SUITE = resolve(ROOT, process.env.ENCLAVE_REDIS_TESTS_DIR ?? "../shared/redis-tests");
/** The CI subset, each unit with its floor of passing tests (some a little below kv's count: a few of their tests sleep or race a timeout). */
const FLOORS: Record<string, number> = {
  "unit/type/string": 73,
  "unit/type/incr": 24,
  "unit/keyspace": 40,
  "unit/expire": 56,
  "unit/type/hash": 69,
  "unit/type/list": 210,
  "unit/type/set": 92,
  "unit/type/zset": 300,
  "unit/multi": 24,
  "unit/protocol": 18,
  "unit/info-command": 3,
  "unit/quit": 3,
};

const logs = mkdtempSync(join(tmpdir(), "kv-redis-suite-"));
beforeAll(() => {
  guestApp("kv");
});
afterAll(() => rmSync(logs, { recursive: true, force: true }));

describe("Redis 7.0.15's own test suite against kv (enclavisor mode)", () => {
  it.for(Object.entries(FLOORS))("%s passes at least its floor, and kv lives on", { timeout: 700_000 }, async ([unit, floor], ctx) => {
    if (!existsSync(join(SUITE, "run"))) {
      const note = `REDIS SUITE NOT RUN: ${SUITE}/run is absent (set ENCLAVE_REDIS_TESTS_DIR to the redis-tests folder of ../shared)`;
      console.warn(note);
      ctx.skip(note);
    }
    const server = await startServer("guest-apps/kv.wasm", ["--mode", "enclavisor"]);
    try {
      const r = await run(join(SUITE, "run"), ["--port", String(server.port), "--tests-port-base", String(server.port + 200), unit], {
        timeout: 600_000,
        env: { ...process.env, REDIS_TESTS_OUT: join(logs, unit.replace(/\//g, "_")) },
      }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" })); // exit 1: some test failed
      const line = new RegExp(`^${unit.replace(/\//g, "\\/")}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, "m").exec(r.stdout);
      expect(line, `no result line for ${unit} in:\n${r.stdout}\n${r.stderr}`).not.toBeNull();
      const passed = Number(line![1]);
      console.log(`${unit}: ${passed} passed, ${line![2]} failed, ${line![3]} skipped (floor ${floor})`);
      expect(passed).toBeGreaterThanOrEqual(floor);
      const c = await RespClient.connect(server.port);
      expect(await c.call("PING")).toBe(status("PONG"));
      c.close();
    } finally {
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  });
});
