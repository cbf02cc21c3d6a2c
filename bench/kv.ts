// The `kv` suite: throughput and latency of the kv enclave under redis-benchmark, next to a real
// redis-server on the same machine (docs/architecture.md, "What is measured"). Three servers run at
// once: kv served by `enclave serve` in native mode (the baseline: the same guest code, plain Wasm)
// and in enclavisor mode (encrypted, integrity-checked memory), and redis-server. Each round runs
// `redis-benchmark -t set,get` against each of them in turn (the first rotating), with 50 clients
// and no pipelining, and with 16-deep pipelining; the figures are the medians of the rounds.
// redis-benchmark takes one core and the server the other on a 2-core machine.
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmtRatio, markdownTable, median, pause } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const KV = join(ROOT, "guest-apps/kv.wasm");
const MAIN = join(ROOT, "host/cli/main.ts");

const SERVERS = ["kv native", "kv enclavisor", "redis-server"] as const;
type ServerName = (typeof SERVERS)[number];
const TESTS = ["SET", "GET"] as const;

interface Workload {
  name: string;
  args: string[];
  /** Requests per test per run (short, full). */
  requests: [number, number];
}
const WORKLOADS: readonly Workload[] = [
  { name: "50 clients, no pipelining", args: ["-c", "50"], requests: [30_000, 100_000] },
  { name: "50 clients, -P 16", args: ["-c", "50", "-P", "16"], requests: [300_000, 1_000_000] },
];
/** Random keys among this many (redis-benchmark -r), so that the store holds more than one key. */
const KEYSPACE = 100_000;

/** The kv suite's goals. */
const GOAL_VS_NATIVE = 0.9;
const GOAL_VS_REDIS = 0.5;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
}

/** Ticks of the kernel's process clock (USER_HZ): 100 on Linux. */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux), or null elsewhere. It
 * gives the server's CPU per request, a figure that depends far less on the machine's other load
 * than requests per second do.
 */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S; // utime, stime: fields 14 and 15
  } catch {
    return null;
  }
}

/** One redis-benchmark run's CSV (redis-benchmark 7: "test","rps","avg_latency_ms",...,"p50_latency_ms","p95_latency_ms","p99_latency_ms",...). */
export function parseBenchmarkCsv(csv: string): Map<string, Figures> {
  const lines = csv.trim().split(/\r?\n/).map((l) => l.split(",").map((f) => f.replace(/^"|"$/g, "")));
  const header = lines[0] ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`redis-benchmark --csv output has no "${name}" column: ${csv.slice(0, 200)}`);
    return i;
  };
  const [test, rps, p50, p99] = [col("test"), col("rps"), col("p50_latency_ms"), col("p99_latency_ms")];
  const out = new Map<string, Figures>();
  for (const row of lines.slice(1)) {
    out.set(row[test]!, { rps: Number(row[rps]), p50: Number(row[p50]), p99: Number(row[p99]) });
  }
  return out;
}

/** The tool is on the PATH. */
function which(tool: string): boolean {
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

interface Running {
  proc: ChildProcess;
  port: number;
}

/** `enclave serve kv.wasm` in a mode, on a free port; resolves once it listens. */
function startKv(mode: string, stateDir: string): Promise<Running> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--import", "tsx", MAIN, KV, "--port", "0", "--mode", mode, "--state-dir", stateDir, "--evidence", join(stateDir, `${mode}-evidence.json`)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) {
        proc.stdout!.off("data", onData);
        proc.stdout!.resume();
        resolve({ proc, port: Number(m[1]) });
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    proc.on("exit", (code) => reject(new Error(`kv in ${mode} mode exited (${code}) before listening:\n${out}`)));
  });
}

async function startRedis(): Promise<Running> {
  const port = await freePort();
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    if (await ping(port)) return { proc, port };
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

function benchmark(port: number, w: Workload, requests: number): Promise<Map<string, Figures>> {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", "set,get", "-n", String(requests), "-r", String(KEYSPACE), "--csv", ...w.args];
  return new Promise((resolve, reject) => {
    execFile("redis-benchmark", args, { maxBuffer: 1 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-benchmark ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else {
        try {
          resolve(parseBenchmarkCsv(stdout));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const missing = [["redis-benchmark", "redis-tools"], ["redis-server", "redis-server"]].filter(([tool]) => !which(tool!));
  if (missing.length > 0) {
    throw new Error(`the kv suite needs ${missing.map(([t, p]) => `${t} (Debian package ${p})`).join(" and ")}: ` +
      "run `bash scripts/ensure-tools.sh --bench` as root, or apt-get install them");
  }
  if (!existsSync(KV)) throw new Error(`${KV} is missing: build it with \`node scripts/build-guests.mjs kv\``);
  const stateDir = mkdtempSync(join(tmpdir(), "enclavisor-bench-kv-"));
  const running = new Map<ServerName, Running>();
  try {
    opts.log("starting kv (native), kv (enclavisor) and redis-server");
    running.set("kv native", await startKv("native", stateDir));
    running.set("kv enclavisor", await startKv("enclavisor", stateDir));
    running.set("redis-server", await startRedis());
    return await measure(opts, running);
  } finally {
    for (const r of running.values()) r.proc.kill("SIGKILL");
    rmSync(stateDir, { recursive: true, force: true });
  }
}

type Samples = Record<string, Record<ServerName, Record<string, Figures[]>>>;
/** Server CPU µs per request (SET and GET together), per workload, server and round. */
type CpuSamples = Record<string, Record<ServerName, (number | null)[]>>;

async function measure(opts: SuiteOptions, running: Map<ServerName, Running>): Promise<SuiteResult> {
  const rounds = opts.full ? 7 : 3;
  const samples: Samples = {};
  const cpu: CpuSamples = {};
  for (const w of WORKLOADS) {
    samples[w.name] = Object.fromEntries(SERVERS.map((s) => [s, Object.fromEntries(TESTS.map((t) => [t, [] as Figures[]]))])) as Samples[string];
    cpu[w.name] = Object.fromEntries(SERVERS.map((s) => [s, [] as (number | null)[]])) as CpuSamples[string];
    // Warm-up: V8 tiers the guest and the host up, redis-server fills its keyspace.
    for (const s of SERVERS) await benchmark(running.get(s)!.port, w, Math.min(20_000, w.requests[0]));
  }
  for (let round = 0; round < rounds; round++) {
    for (const w of WORKLOADS) {
      const requests = w.requests[opts.full ? 1 : 0];
      for (let k = 0; k < SERVERS.length; k++) {
        const server = SERVERS[(k + round) % SERVERS.length]!;
        const { proc, port } = running.get(server)!;
        const cpu0 = cpuSeconds(proc.pid!);
        const figures = await benchmark(port, w, requests);
        const cpu1 = cpuSeconds(proc.pid!);
        for (const t of TESTS) {
          const f = figures.get(t);
          if (!f) throw new Error(`redis-benchmark printed no ${t} figures for ${server}`);
          samples[w.name]![server][t]!.push(f);
        }
        const cpuUs = cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) * 1e6) / (requests * TESTS.length);
        cpu[w.name]![server].push(cpuUs);
        opts.log(`round ${round + 1}/${rounds} ${w.name} ${server.padEnd(13)} ` +
          TESTS.map((t) => `${t} ${Math.round(figures.get(t)!.rps)} rps p50 ${figures.get(t)!.p50} ms p99 ${figures.get(t)!.p99} ms`).join(", ") +
          (cpuUs === null ? "" : `, server CPU ${cpuUs.toFixed(2)} µs/request`));
      }
    }
  }
  const result = report(samples, cpu, rounds);
  for (const g of result.goals) opts.log(`goal: ${g.goal} = ${fmtRatio(g.value)} (>= ${g.target}x): ${g.met ? "met" : "NOT MET"}`);
  return result.suite;
}

interface Goal {
  goal: string;
  value: number;
  target: number;
  met: boolean;
}

function report(samples: Samples, cpu: CpuSamples, rounds: number): { suite: SuiteResult; goals: Goal[] } {
  const cpuMedian = (w: string, s: ServerName): number | null => {
    const list = cpu[w]![s].filter((v): v is number => v !== null);
    return list.length === 0 ? null : median(list);
  };
  const med = (w: string, s: ServerName, t: string): Figures => {
    const list = samples[w]![s][t]!;
    return { rps: median(list.map((f) => f.rps)), p50: median(list.map((f) => f.p50)), p99: median(list.map((f) => f.p99)) };
  };
  const rows: string[][] = [];
  const ratios: Record<string, Record<string, { vsNative: number; vsRedis: number; nativeVsRedis: number }>> = {};
  const goals: Goal[] = [];
  for (const w of WORKLOADS) {
    ratios[w.name] = {};
    for (const t of TESTS) {
      for (const s of SERVERS) {
        const f = med(w.name, s, t);
        rows.push([w.name, t, s, Math.round(f.rps).toLocaleString("en-US"), f.p50.toFixed(3), f.p99.toFixed(3)]);
      }
      const enc = med(w.name, "kv enclavisor", t).rps;
      const nat = med(w.name, "kv native", t).rps;
      const red = med(w.name, "redis-server", t).rps;
      ratios[w.name]![t] = { vsNative: enc / nat, vsRedis: enc / red, nativeVsRedis: nat / red };
      goals.push({ goal: `${t}, ${w.name}: kv enclavisor / kv native`, value: enc / nat, target: GOAL_VS_NATIVE, met: enc / nat >= GOAL_VS_NATIVE });
      if (!w.args.includes("-P")) {
        goals.push({ goal: `${t}, ${w.name}: kv enclavisor / redis-server`, value: enc / red, target: GOAL_VS_REDIS, met: enc / red >= GOAL_VS_REDIS });
      }
    }
  }
  const md = [
    `redis-benchmark -t set,get -r ${KEYSPACE} --csv against each server, ${rounds} rounds, the servers taking turns (the first rotating); medians of the rounds. ` +
      "Latencies in ms, as redis-benchmark measures them (client side). kv runs under `enclave serve`: native is the same guest code as plain Wasm; enclavisor pages it through encrypted, integrity-checked memory.",
    "",
    markdownTable(["workload", "test", "server", "requests/s", "p50 ms", "p99 ms"], rows),
    "",
    "## Ratios of requests per second",
    "",
    markdownTable(
      ["workload", "test", "enclavisor / native", "enclavisor / redis-server", "native / redis-server"],
      WORKLOADS.flatMap((w) => TESTS.map((t) => {
        const r = ratios[w.name]![t]!;
        return [w.name, t, fmtRatio(r.vsNative), fmtRatio(r.vsRedis), fmtRatio(r.nativeVsRedis)];
      })),
    ),
    "",
    "## Server CPU per request",
    "",
    "User and system CPU time of the server process during each run (from /proc), divided by the requests (SET and GET together); medians of the rounds. " +
      "This depends far less on the rest of the machine's load than requests per second do.",
    "",
    markdownTable(
      ["workload", ...SERVERS.map((s) => `${s} µs`), "enclavisor / native"],
      WORKLOADS.map((w) => {
        const v = SERVERS.map((s) => cpuMedian(w.name, s));
        const [nat, enc] = [v[0], v[1]];
        return [w.name, ...v.map((x) => (x === null ? "n/a" : x.toFixed(2))), nat && enc ? fmtRatio(enc / nat) : "n/a"];
      }),
    ),
    "",
    "## Goals",
    "",
    markdownTable(["goal", "ratio", "target", ""], goals.map((g) => [g.goal, fmtRatio(g.value), `>= ${g.target}x`, g.met ? "met" : "not met"])),
  ].join("\n");
  return { suite: { suite: "kv", figures: { samples, cpuMicrosPerRequest: cpu, ratios, goals, keyspace: KEYSPACE, rounds }, report: md }, goals };
}
