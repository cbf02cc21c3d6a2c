// `enclave serve --tls` end to end: kv in enclavisor mode over attested TLS, used by the real
// redis-cli and redis-benchmark with --tls and the certificate the server wrote (--cacert), checked
// by `enclave verify --tls` (the certificate's evidence, and with --fresh ATTEST's evidence over the
// same session), and refusing what does not fit: a plaintext client, flags that do not go together,
// a mode without evidence, a wrong measurement.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestApp } from "../enclavisor/fixtures/enclave";
import { ROOT, spawnEnclave, startServer } from "./fixtures/server";
import type { RunningServer } from "./fixtures/server";

const run = promisify(execFile);
const tmp = mkdtempSync(path.join(tmpdir(), "kv-tls-"));
const cert = path.join(tmp, "cert.pem");
let server: RunningServer;
let measurement: string;

const enclave = (...args: string[]) =>
  run(process.execPath, ["--import", "tsx", path.join(ROOT, "host/cli/main.ts"), ...args], { cwd: ROOT, timeout: 60_000 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

beforeAll(async () => {
  guestApp("kv");
  server = await startServer("guest-apps/kv.wasm", ["--mode", "enclavisor", "--tls", "--tls-cert", cert, "--evidence", path.join(tmp, "evidence.json")]);
  measurement = /measurement: ([0-9a-f]{96})/.exec(server.output())![1]!;
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("enclave serve --tls", () => {
  it("says where its certificate and evidence are, and how to check them", () => {
    expect(server.output()).toContain(`tls: attested TLS 1.3; certificate ${cert} (redis-cli --tls --cacert ${cert};`);
    expect(server.output()).toContain("(its report data binds the TLS key)");
    expect(readFileSync(cert, "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it("serves redis-cli and redis-benchmark over TLS, checked against the certificate it wrote", async () => {
    const cli = (...args: string[]) => run("redis-cli", ["--tls", "--cacert", cert, "-p", String(server.port), ...args]).then((r) => r.stdout);
    expect(await cli("SET", "tls:greeting", "over TLS")).toBe("OK\n");
    expect(await cli("GET", "tls:greeting")).toBe("over TLS\n");
    const bench = await run("redis-benchmark", ["--tls", "--cacert", cert, "-p", String(server.port), "-t", "set,get", "-n", "2000", "-c", "4", "-q"]);
    expect(bench.stdout).toMatch(/SET: [\d.]+ requests per second/);
    expect(bench.stdout).toMatch(/GET: [\d.]+ requests per second/);
    // A plaintext client gets no answer: the server speaks only TLS.
    const plain = await run("redis-cli", ["-p", String(server.port), "PING"]).then((r) => r.stdout + r.stderr, (e) => String(e.stdout) + String(e.stderr));
    expect(plain).not.toContain("PONG");
  });

  it("is verified by `enclave verify --tls`, with fresh evidence for its session", async () => {
    const ok = await enclave("verify", "--tls", `127.0.0.1:${server.port}`, "--measurement", measurement, "--fresh");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("ok   tls-key-binding: report data is SHA-512 of the certificate's key");
    expect(ok.out).toContain("ok   fresh/report-data: report data matches");
    expect(ok.out).toContain(`verified: 127.0.0.1:${server.port} is enclave`);
    const unpinned = await enclave("verify", "--tls", `localhost:${server.port}`, "--quiet");
    expect(unpinned.code).toBe(0);
    expect(unpinned.out).toContain("(not pinned: pass --measurement to require it)");
    const wrong = await enclave("verify", "--tls", `127.0.0.1:${server.port}`, "--measurement", "00".repeat(48), "--quiet");
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain(`verification failed: measurement: enclave measurement is ${measurement}, expected ${"00".repeat(48)}`);
  });

  it("names what is wrong: a server that does not speak TLS, bad flags, a mode without evidence", async () => {
    const plain = await startServer("guest-apps/kv.wasm", ["--mode", "enclavisor"]);
    try {
      const r = await enclave("verify", "--tls", `127.0.0.1:${plain.port}`);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/verification failed: connection: attested TLS to 127\.0\.0\.1:\d+: /);
    } finally {
      await plain.stop();
    }
    expect((await enclave("verify", "--tls", "nowhere"))).toMatchObject({ code: 2 });
    expect((await enclave("verify", "--tls", "nowhere")).out).toContain("--tls takes HOST:PORT, got 'nowhere'");
    expect((await enclave("verify", "--evidence", "x.json", "--fresh")).out).toContain("--fresh only applies with --tls");
    const sev = spawnEnclave([path.join(ROOT, "guest-apps/kv.wasm"), "--mode", "sev", "--tls", "--port", "0"]);
    expect(await sev.exited).toBe(2);
    expect(sev.output()).toContain("--tls needs evidence to bind its key to, but mode sev has no SNP attestation report");
    const cert = spawnEnclave([path.join(ROOT, "guest-apps/kv.wasm"), "--tls-cert", "x.pem", "--port", "0"]);
    expect(await cert.exited).toBe(2);
    expect(cert.output()).toContain("--tls-cert only applies with --tls");
  });
});
