// `enclave serve` with the echo app (guest-apps/echo.ts) over real sockets: dispatch from
// `enclave APP.wasm`, many clients and pipelined input, backpressure, a client that disconnects
// mid-line, graceful stop on SIGTERM, the evidence bundle, a guest trap, and bad flags. The kv
// store's own tests are test/cli/kv-*.test.ts.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { command } from "../../host/cli/commands/serve";
import { verifyEvidence } from "../../host/verifier/evidence-verifier";
import { guestApp, STATE_DIR } from "../enclavisor/fixtures/enclave";
import { wat } from "../wasm/wat";
import { RAW_SERVER } from "../enclavisor/fixtures/raw-server";
import { RespClient, array, bulk } from "./fixtures/resp";
import { runCommand } from "./fixtures/run-command";
import { ROOT, spawnEnclave, startServer } from "./fixtures/server";
import type { RunningServer } from "./fixtures/server";

const ECHO = "guest-apps/echo.wasm";
const tmp = mkdtempSync(path.join(tmpdir(), "serve-test-"));
const servers: RunningServer[] = [];

beforeAll(() => {
  guestApp("echo");
  guestApp("hello");
  guestApp("kv");
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop("SIGKILL")));
  rmSync(tmp, { recursive: true, force: true });
});

async function serve(args: string[], app = ECHO): Promise<RunningServer> {
  const s = await startServer(app, args);
  servers.push(s);
  return s;
}

/** A client that collects what it receives. */
class Client {
  readonly socket: net.Socket;
  received = "";
  closed: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.on("data", (d) => {
      this.received += d.toString("latin1");
      for (const w of this.waiters) w();
    });
    this.socket.on("error", () => {});
    this.closed = new Promise((resolve) => this.socket.on("close", () => resolve()));
  }

  send(text: string): void {
    this.socket.write(Buffer.from(text, "latin1"));
  }

  /** Resolves once `length` characters have arrived. */
  until(length: number, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${this.received.length} of ${length} characters`)), timeoutMs);
      const check = () => {
        if (this.received.length >= length) {
          clearTimeout(timer);
          resolve(this.received);
        }
      };
      this.waiters.push(check);
      check();
    });
  }
}

describe("enclave serve (echo app)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve(["--mode", "enclavisor", "--cache", "256K", "--evidence", path.join(tmp, "echo-evidence.json")]);
  });

  it("is what `enclave APP.wasm` does for a server app, and prints the measurement and the evidence", () => {
    const out = server.output();
    const measurement = /^measurement: ([0-9a-f]{96})$/m.exec(out)?.[1];
    expect(measurement).toBeDefined();
    expect(out).toContain(`evidence: ${path.join(tmp, "echo-evidence.json")} (check it with: npm run enclave -- verify --evidence`);
    const result = verifyEvidence(new Uint8Array(readFileSync(path.join(tmp, "echo-evidence.json"))), {
      measurement: Buffer.from(measurement!, "hex"),
      reportData: new Uint8Array(64),
    });
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
  });

  it("serves many clients at once, each with its own stream, pipelined", async () => {
    const clients = Array.from({ length: 20 }, () => new Client(server.port));
    const expected = clients.map((_, i) => Array.from({ length: 50 }, (_, k) => `client ${i} line ${k}\n`).join(""));
    // Everything at once, in odd pieces: lines span writes, and one write holds many lines.
    clients.forEach((c, i) => {
      const text = expected[i]!;
      for (let at = 0; at < text.length; at += 37) c.send(text.slice(at, at + 37));
    });
    const got = await Promise.all(clients.map((c, i) => c.until(expected[i]!.length)));
    got.forEach((g, i) => expect(g).toBe(expected[i]!.toUpperCase()));
    for (const c of clients) c.socket.destroy();
  });

  it("sends an answer larger than the socket's high-water mark to a client that reads", async () => {
    // The kernel may take each pass's bytes at once (no 'drain' event): the server must go on by itself.
    const c = new Client(server.port);
    c.send("repeat 100000 abcdefghijklmnopq\n");
    expect(await c.until(1_800_000)).toBe("ABCDEFGHIJKLMNOPQ\n".repeat(100000));
    c.socket.destroy();
  });

  it("holds output back for a client that does not read, without blocking the others", async () => {
    const slow = new Client(server.port);
    slow.socket.pause(); // reads nothing: the server's socket buffer fills, then the guest's queue holds the rest
    const copies = 400_000 / 8;
    slow.send(`repeat ${copies / 2} 1234567\nrepeat ${copies / 2} abcdefg\n`);
    await new Promise((r) => setTimeout(r, 300));
    const other = new Client(server.port);
    other.send("meanwhile\n");
    expect(await other.until(10)).toBe("MEANWHILE\n");
    slow.socket.resume();
    const all = await slow.until(copies * 8);
    expect(all).toBe("1234567\n".repeat(copies / 2) + "ABCDEFG\n".repeat(copies / 2));
    slow.socket.destroy();
    other.socket.destroy();
  });

  it("frees a client that disconnects mid-line and serves the next one", async () => {
    const gone = new Client(server.port);
    gone.send("half a li");
    await new Promise((r) => setTimeout(r, 50));
    gone.socket.destroy();
    await gone.closed;
    const next = new Client(server.port);
    next.send("whole line\n");
    expect(await next.until(11)).toBe("WHOLE LINE\n");
    next.send("quit\n");
    await next.closed;
    expect(next.received).toBe("WHOLE LINE\nBYE\n");
  });

  it("prints its counters as one JSON line on SIGUSR2, and serves on", async () => {
    const c = new Client(server.port);
    c.send("count me\n");
    await c.until(9);
    server.proc.kill("SIGUSR2");
    const line = (await server.waitFor(/^stats: (\{.*\})$/m))[1]!;
    const stats = JSON.parse(line) as { mode: string; server: { bytesIn: number }; enclave: { faults: number; fills: number }; rssBytes: number };
    expect(stats.mode).toBe("enclavisor");
    expect(stats.server.bytesIn).toBeGreaterThanOrEqual(9);
    expect(stats.enclave.faults).toBeGreaterThan(0); // the guest ran under the MMU
    expect(typeof stats.enclave.fills).toBe("number");
    expect(stats.rssBytes).toBeGreaterThan(1 << 20);
    c.send("still here\n");
    expect(await c.until(20)).toBe("COUNT ME\nSTILL HERE\n");
    c.socket.destroy();
  });

  it("stops on SIGTERM after sending the pending replies, exit 0", async () => {
    const idle = new Client(server.port);
    idle.send("last words\n");
    await idle.until(11);
    // A client with 800 KB of answers still to take when the signal comes.
    const slow = new Client(server.port);
    slow.socket.pause();
    slow.send("repeat 100000 1234567\n");
    await new Promise((r) => setTimeout(r, 300));
    const exit = server.stop("SIGTERM");
    await server.waitFor(/SIGTERM: stopping \(no new connections; sending pending replies\)/);
    await new Promise((r) => setTimeout(r, 300));
    slow.socket.resume();
    expect(await exit).toBe(0);
    await Promise.all([idle.closed, slow.closed]);
    expect(slow.received).toBe("1234567\n".repeat(100000));
  });
});

describe("enclave serve: the command line", () => {
  it("runs a run-to-completion app as before, with or without `run`", async () => {
    const r = spawnEnclave([path.join(ROOT, "guest-apps/hello.wasm"), "--mode", "native"]);
    expect(await r.exited).toBe(0);
    expect(r.output()).toMatch(/^hello from inside the enclave$/m);
  });

  it("dispatches `run APP.wasm` of a server app to serve, which takes native mode and prints no evidence", async () => {
    const s = spawnEnclave(["run", path.join(ROOT, ECHO), "--port", "0", "--mode", "native"]);
    servers.push(s);
    await s.waitFor(/listening on 127\.0\.0\.1:\d+/);
    expect(s.output()).toContain("evidence: none (no evidence: a native run is the module as given, with no enclave: use --mode sev-snp or enclavisor)");
    expect(await s.stop("SIGINT")).toBe(0);
    expect(s.output()).toContain("SIGINT: stopping");
  });

  it("stops with the guest's message when the enclave traps, and drops every connection", async () => {
    const file = path.join(tmp, "trap.wasm");
    writeFileSync(file, wat(RAW_SERVER));
    const s = await serve(["--mode", "sev"], file);
    const bystander = new Client(s.port);
    bystander.send("ok");
    expect(await bystander.until(2)).toBe("ok");
    const culprit = new Client(s.port);
    culprit.send("!");
    expect(await s.exited).toBe(1);
    await Promise.all([bystander.closed, culprit.closed]);
    expect(s.output()).toMatch(/enclave serve: enclave stopped \(trap\): on_data: unreachable\. Its memory may be inconsistent, so the server stopped without saving/);
  });

  it("documents every flag in --help", async () => {
    const r = await runCommand(command, ["--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--host", "--port", "--mode", "--cache", "--data", "--evidence", "--stats", "--max-bulk", "--save-interval", "--allow-rollback", "--state-dir", "--rmp", "--integrity", "--tls", "--tls-cert", "--appendonly", "--maxmemory"]) {
      expect(r.out).toContain(`  ${flag} `);
    }
    const top = spawnEnclave(["--help"]);
    expect(await top.exited, top.output()).toBe(0);
    for (const sub of ["run", "serve", "verify", "measure", "platform"]) {
      expect(top.output()).toMatch(new RegExp(`^  ${sub} `, "m"));
      expect(top.output()).toMatch(new RegExp(`^=+ enclave ${sub} =+$`, "m"));
    }
    // Each subcommand's flags are in the one help: run's, serve's, verify's, platform's.
    for (const flag of ["--fuel N", "--allow-rollback", "--evidence FILE", "--export DIR"]) expect(top.output()).toContain(flag);
  });

  it("refuses bad flags with exit 2 and a message naming the problem", async () => {
    const app = path.join(ROOT, ECHO);
    const cases: [string[], string][] = [
      [[app, "--port", "70000"], "--port takes a whole number from 0 to 65535, got '70000'"],
      [[app, "--port", "x"], "--port takes a whole number from 0 to 65535, got 'x'"],
      [[app, "--data", tmp, "--mode", "native"], "--data needs sealing, but mode native has no sealing key: a native run is the module as given"],
      // Refused before launch: the sgx model has no sealing key, and says so rather than fake one.
      [[app, "--data", tmp, "--mode", "sgx"], "--data needs sealing, but mode sgx has no sealing key: the sgx preset models SGX's memory (EPC, MEE, paging) only"],
      [[app, "--allow-rollback"], "--allow-rollback only applies with --data"],
      [[app, "--max-bulk", "lots"], "--max-bulk: 'lots' is not a size"],
      [[app, "--save-interval", "-1"], "--save-interval"],
      [[app, "--granularity", "thread"], "--granularity must be one of vm, process, function, got 'thread'"],
    ];
    for (const [args, message] of cases) {
      const r = await runCommand(command, args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toContain(message);
    }
  });

  it("says when an app cannot take --data or --max-bulk, exit 1", async () => {
    const app = path.join(ROOT, ECHO);
    const data = await runCommand(command, [app, "--mode", "sev", "--data", path.join(tmp, "d"), "--port", "0", "--state-dir", STATE_DIR]);
    expect(data.code).toBe(1);
    expect(data.err).toContain("cannot save its state (it exports no snapshot functions): drop --data");
    const bulk = await runCommand(command, [app, "--mode", "native", "--max-bulk", "1K", "--port", "0"]);
    expect(bulk.code).toBe(1);
    expect(bulk.err).toContain("the app does not export set_limits: it takes no limits");
    const notServer = await runCommand(command, [path.join(ROOT, "guest-apps/hello.wasm"), "--mode", "native"]);
    expect(notServer.code).toBe(1);
    expect(notServer.err).toContain("the app does not export on_data: it is not a server app");
  });

  it("takes Redis's configuration parameters on its command line, as redis-server does, and names a value the app refuses", async () => {
    guestApp("kv");
    const kv = path.join(ROOT, "guest-apps/kv.wasm");
    const s = await startServer(kv, ["--mode", "native", "--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru", "--client-output-buffer-limit", "normal 100mb 50mb 10"]);
    try {
      const c = await RespClient.connect(s.port);
      expect(await c.call("CONFIG", "GET", "maxmemory")).toBe(array(bulk("maxmemory"), bulk("2097152")));
      expect(await c.call("CONFIG", "GET", "maxmemory-policy")).toBe(array(bulk("maxmemory-policy"), bulk("allkeys-lru")));
      expect(await c.call("CONFIG", "GET", "client-output-buffer-limit")).toContain("normal 104857600 52428800 10 slave");
      c.close();
    } finally {
      await s.stop();
    }
    const bad = await runCommand(command, [kv, "--mode", "native", "--port", "0", "--maxmemory", "12parsecs"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("the app refused --maxmemory 12parsecs: ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
    const echo = await runCommand(command, [path.join(ROOT, ECHO), "--mode", "native", "--port", "0", "--maxmemory", "1mb"]);
    expect(echo.code).toBe(1);
    expect(echo.err).toContain("the app takes no configuration: drop --maxmemory 1mb");
  });

  it("names a port it cannot listen on", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const r = spawnEnclave([path.join(ROOT, ECHO), "--mode", "native", "--port", String(port)]);
    expect(await r.exited).toBe(1);
    expect(r.output()).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    blocker.close();
  });
});
