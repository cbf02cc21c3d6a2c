// The servers the kv suite measures, as a user runs them: kv under `enclave serve` in a mode (a
// child process), and a real redis-server with no persistence. Besides starting them: the server
// process's CPU time and resident memory (from /proc), and kv's enclave counters (SIGUSR2 makes
// `enclave serve` print them as one JSON line on stderr).
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pause } from "../harness";
import type { EnclaveStats } from "../../host/enclavisor/enclave-stats";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const KV = join(ROOT, "guest-apps/kv.wasm");
const MAIN = join(ROOT, "host/cli/main.ts");

export interface Running {
  proc: ChildProcess;
  port: number;
  /** kv's enclave counters now (SIGUSR2); null for redis-server. */
  stats: (() => Promise<EnclaveStats>) | null;
  /** What the server printed so far (kv; empty for redis-server). */
  output: () => string;
}

/** Ticks of the kernel's process clock (USER_HZ): 100 on Linux. */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux), or null elsewhere. It
 * gives the server's CPU per request, a figure that depends far less on the machine's other load
 * than requests per second do.
 */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S; // utime, stime: fields 14 and 15
  } catch {
    return null;
  }
}

/** A process's resident memory in bytes (VmRSS in /proc/PID/status), or null elsewhere. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The tool is on the PATH. */
export function which(tool: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(join(d, tool)));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `enclave serve kv.wasm` in a mode, on a free port, with `extra` flags; resolves once it listens. */
export function startKv(mode: string, stateDir: string, extra: string[] = []): Promise<Running> {
  return new Promise((resolve, reject) => {
    const args = [MAIN, KV, "--port", "0", "--mode", mode, "--state-dir", stateDir, "--evidence", join(stateDir, `${mode}-evidence.json`), ...extra];
    const proc = spawn(process.execPath, ["--import", "tsx", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const waiting: ((s: EnclaveStats) => void)[] = [];
    let errLine = "";
    proc.stderr!.on("data", (d: Buffer) => {
      out += d.toString();
      errLine += d.toString();
      for (let nl = errLine.indexOf("\n"); nl >= 0; nl = errLine.indexOf("\n")) {
        const line = errLine.slice(0, nl);
        errLine = errLine.slice(nl + 1);
        if (line.startsWith("stats: ")) waiting.shift()?.((JSON.parse(line.slice(7)) as { enclave: EnclaveStats }).enclave);
      }
    });
    const stats = () =>
      new Promise<EnclaveStats>((res, rej) => {
        waiting.push(res);
        if (!proc.kill("SIGUSR2")) rej(new Error(`kv in ${mode} mode is gone: ${out.slice(-2000)}`));
      });
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        proc.stdout!.off("data", onData);
        proc.stdout!.on("data", (more: Buffer) => (out += more.toString()));
        resolve({ proc, port: Number(m[1]), stats, output: () => out });
      }
    };
    proc.stdout!.on("data", onData);
    proc.on("exit", (code) => reject(new Error(`kv in ${mode} mode exited (${code}) before listening:\n${out}`)));
  });
}

/** redis-server with no persistence (but BGSAVE) on a free port, with `extra` arguments; resolves once it answers PING. */
export async function startRedis(extra: string[] = []): Promise<Running> {
  const port = await freePort();
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", ...extra], {
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    if (await ping(port)) return { proc, port, stats: null, output: () => "" };
    await pause(50);
  }
  proc.kill("SIGKILL");
  throw new Error(`redis-server did not answer PING on port ${port}`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", () => resolve(false));
    s.on("data", (d) => {
      resolve(d.toString().startsWith("+PONG"));
      s.destroy();
    });
    s.write("PING\r\n");
  });
}

/** Stops with a message naming the Debian packages when redis-benchmark or redis-server is missing. */
export function requireTools(): void {
  const missing = [["redis-benchmark", "redis-tools"], ["redis-server", "redis-server"]].filter(([tool]) => !which(tool!));
  if (missing.length > 0) {
    throw new Error(`the kv suite needs ${missing.map(([t, p]) => `${t} (Debian package ${p})`).join(" and ")}: ` +
      "run `bash scripts/ensure-tools.sh --bench` as root, or apt-get install them");
  }
  if (!existsSync(KV)) throw new Error(`${KV} is missing: build it with \`node scripts/build-guests.mjs kv\``);
}
