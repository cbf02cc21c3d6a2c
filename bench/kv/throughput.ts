// The kv suite's first part: throughput and latency of the kv enclave under redis-benchmark with a
// store that fits the resident cache, next to a real redis-server (docs/architecture.md, "What is
// measured"). Three servers run at once: kv served by `enclave serve` in native mode (the baseline:
// the same guest code, plain Wasm) and in enclavisor mode (encrypted, integrity-checked memory), and
// redis-server. Each round runs `redis-benchmark -t set,get` against each of them in turn (the first
// rotating), with 50 clients and no pipelining, and with 16-deep pipelining; the figures are the
// medians of the rounds. redis-benchmark takes one core and the server the other on a 2-core machine.
import { fmtRatio, markdownTable, median } from "../harness";
import type { SuiteOptions } from "../harness";
import { redisBenchmark } from "./redis-benchmark";
import type { Figures } from "./redis-benchmark";
import { cpuSeconds } from "./servers";
import type { Running } from "./servers";

export const SERVERS = ["kv native", "kv enclavisor", "redis-server"] as const;
export type ServerName = (typeof SERVERS)[number];
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

/** The goals of this part: enclavisor against native mode, and against redis-server without pipelining. */
const GOAL_VS_NATIVE = 0.9;
const GOAL_VS_REDIS = 0.9;

function benchmark(port: number, w: Workload, requests: number) {
  return redisBenchmark(port, ["-t", "set,get", "-n", String(requests), "-r", String(KEYSPACE), ...w.args]);
}

export interface Goal {
  goal: string;
  value: number;
  target: number;
  met: boolean;
  /** The target is a ceiling on a count (page fills per request), not a floor on a ratio. */
  atMost?: boolean;
}

type Samples = Record<string, Record<ServerName, Record<string, Figures[]>>>;
/** Server CPU µs per request (SET and GET together), per workload, server and round. */
type CpuSamples = Record<string, Record<ServerName, (number | null)[]>>;

/** Runs the rounds against the three servers (running) and reports them. */
export async function measureThroughput(opts: SuiteOptions, running: Map<ServerName, Running>): Promise<{ figures: Record<string, unknown>; report: string; goals: Goal[] }> {
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
  return report(samples, cpu, rounds);
}

function report(samples: Samples, cpu: CpuSamples, rounds: number): { figures: Record<string, unknown>; report: string; goals: Goal[] } {
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
    "### Ratios of requests per second",
    "",
    markdownTable(
      ["workload", "test", "enclavisor / native", "enclavisor / redis-server", "native / redis-server"],
      WORKLOADS.flatMap((w) => TESTS.map((t) => {
        const r = ratios[w.name]![t]!;
        return [w.name, t, fmtRatio(r.vsNative), fmtRatio(r.vsRedis), fmtRatio(r.nativeVsRedis)];
      })),
    ),
    "",
    "### Server CPU per request",
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
  ].join("\n");
  return { figures: { samples, cpuMicrosPerRequest: cpu, ratios, goals, keyspace: KEYSPACE, rounds }, report: md, goals };
}
