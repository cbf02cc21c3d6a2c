// The kv suite's `large` workload: kv with a store far larger than its resident cache, next to
// redis-server. Four servers run at once: kv under `enclave serve` in native mode (plain Wasm), in
// sev mode (encrypted pages, no integrity) and in enclavisor mode (encrypted, integrity-checked: the
// counter tree), each with the default 16 MiB resident cache, and redis-server. The dataset grows
// through SIZES (1x to 30x the cache, values of VALUE_BYTES): each server is filled up to a size
// (fill.ts, keys as redis-benchmark names them), then every round runs `redis-benchmark -t TEST -r
// KEYS -d 1000` against each server in turn (the first rotating), SET and GET, with 50 clients and
// no pipelining and with -P 16. SET overwrites existing keys, so the dataset stays at its size.
//
// Besides requests per second and latency: the page fills per request (the enclave's counters
// before and after each run, read with SIGUSR2), the server's CPU per request and its resident
// memory. Last, a kv enclavisor server with --data holding SNAPSHOT_FACTOR times the cache saves a
// snapshot at shutdown and loads it at start, and the times it prints are reported.
import { join } from "node:path";
import { modeSwitches } from "../../host/launcher/modes";
import { PAGE_SIZE } from "../../host/page";
import { fmtRatio, markdownTable, median, nowMs } from "../harness";
import type { SuiteOptions } from "../harness";
import { fillKeys } from "./fill";
import { redisBenchmark } from "./redis-benchmark";
import { cpuSeconds, rssBytes, startKv, startRedis } from "./servers";
import type { Running } from "./servers";
import type { Goal } from "./throughput";

export const LARGE_SERVERS = ["kv native", "kv sev", "kv enclavisor", "redis-server"] as const;
type Server = (typeof LARGE_SERVERS)[number];
const KV_MODES: Record<Exclude<Server, "redis-server">, string> = { "kv native": "native", "kv sev": "sev", "kv enclavisor": "enclavisor" };
const TESTS = ["SET", "GET"] as const;
/** Dataset sizes, as multiples of the resident cache. */
export const SIZES = [1, 4, 10, 30] as const;
const VALUE_BYTES = 1000;
/** The size the goals are judged at: ten times the cache. */
const GOAL_FACTOR = 10;
/** The snapshot part's dataset: 200 MB of values. */
const SNAPSHOT_BYTES = 200_000_000;

interface Workload {
  name: string;
  args: string[];
  /** Requests per test per run (short, full). */
  requests: [number, number];
  /** Goal for kv enclavisor / redis-server at GOAL_FACTOR. */
  goalVsRedis: number;
}
const WORKLOADS: readonly Workload[] = [
  { name: "50 clients, no pipelining", args: ["-c", "50"], requests: [20_000, 60_000], goalVsRedis: 0.5 },
  { name: "50 clients, -P 16", args: ["-c", "50", "-P", "16"], requests: [60_000, 200_000], goalVsRedis: 0.25 },
];
const GOAL_FILLS_PER_REQUEST = 1.5;

/** One run of one test against one server. */
export interface LargeSample {
  rps: number;
  p50: number;
  p99: number;
  /** Server CPU (user + system) per request, µs; null without /proc. */
  cpuUs: number | null;
  /** Pages decrypted into the resident cache per request, and dirty pages written back (kv in sev and enclavisor modes). */
  fillsPerRequest: number | null;
  writeBacksPerRequest: number | null;
}

export interface SizeResult {
  factor: number;
  keys: number;
  datasetBytes: number;
  /** Seconds each server took to take this size's new keys. */
  fillSeconds: Record<string, number>;
  /** Each server's resident memory once filled. */
  rssBytes: Record<string, number | null>;
  /** samples[workload][server][test]: one per round. */
  samples: Record<string, Record<string, Record<string, LargeSample[]>>>;
}

export interface LargeFigures {
  cacheBytes: number;
  valueBytes: number;
  rounds: number;
  sizes: SizeResult[];
  snapshot: { keys: number; datasetBytes: number; fileBytes: number; saveSeconds: number; loadSeconds: number } | null;
  goals: Goal[];
}

const cacheBytes = () => modeSwitches("enclavisor").cachePages * PAGE_SIZE;
const keysFor = (factor: number) => Math.ceil((factor * cacheBytes()) / VALUE_BYTES);

export async function measureLarge(opts: SuiteOptions, stateDir: string): Promise<LargeFigures> {
  const rounds = opts.full ? 5 : 3;
  const running = new Map<Server, Running>();
  const sizes: SizeResult[] = [];
  try {
    opts.log(`large: starting ${LARGE_SERVERS.join(", ")}`);
    for (const s of LARGE_SERVERS) running.set(s, s === "redis-server" ? await startRedis() : await startKv(KV_MODES[s], stateDir));
    let filled = 0;
    for (const factor of SIZES) {
      const keys = keysFor(factor);
      const size: SizeResult = { factor, keys, datasetBytes: keys * VALUE_BYTES, fillSeconds: {}, rssBytes: {}, samples: {} };
      for (const s of LARGE_SERVERS) {
        const t0 = nowMs();
        await fillKeys(running.get(s)!.port, filled, keys, VALUE_BYTES);
        size.fillSeconds[s] = (nowMs() - t0) / 1000;
        size.rssBytes[s] = rssBytes(running.get(s)!.proc.pid!);
      }
      filled = keys;
      opts.log(`large: ${factor}x the cache (${keys} keys of ${VALUE_BYTES} bytes): filled in ` +
        LARGE_SERVERS.map((s) => `${s} ${size.fillSeconds[s]!.toFixed(1)} s`).join(", "));
      for (const w of WORKLOADS) {
        size.samples[w.name] = Object.fromEntries(LARGE_SERVERS.map((s) => [s, Object.fromEntries(TESTS.map((t) => [t, [] as LargeSample[]]))]));
      }
      for (let round = 0; round < rounds; round++) {
        for (const w of WORKLOADS) {
          for (let k = 0; k < LARGE_SERVERS.length; k++) {
            const server = LARGE_SERVERS[(k + round) % LARGE_SERVERS.length]!;
            for (const test of TESTS) {
              const sample = await runOne(running.get(server)!, w, test, keys, opts.full);
              size.samples[w.name]![server]![test]!.push(sample);
              opts.log(`large: ${factor}x round ${round + 1}/${rounds} ${w.name} ${server.padEnd(13)} ${test} ${Math.round(sample.rps)} rps` +
                (sample.fillsPerRequest === null ? "" : `, ${sample.fillsPerRequest.toFixed(2)} fills/request`));
            }
          }
        }
      }
      for (const s of LARGE_SERVERS) size.rssBytes[s] = rssBytes(running.get(s)!.proc.pid!);
      sizes.push(size);
    }
  } finally {
    for (const r of running.values()) r.proc.kill("SIGKILL");
  }
  const snapshot = await measureSnapshot(opts, stateDir);
  const figures: LargeFigures = { cacheBytes: cacheBytes(), valueBytes: VALUE_BYTES, rounds, sizes, snapshot, goals: [] };
  figures.goals = largeGoals(figures);
  return figures;
}

async function runOne(r: Running, w: Workload, test: string, keys: number, full: boolean): Promise<LargeSample> {
  const requests = w.requests[full ? 1 : 0];
  const before = r.stats ? await r.stats() : null;
  const cpu0 = cpuSeconds(r.proc.pid!);
  const figures = await redisBenchmark(r.port, ["-t", test.toLowerCase(), "-n", String(requests), "-r", String(keys), "-d", String(VALUE_BYTES), ...w.args]);
  const cpu1 = cpuSeconds(r.proc.pid!);
  const after = r.stats ? await r.stats() : null;
  const f = figures.get(test);
  if (!f) throw new Error(`redis-benchmark printed no ${test} figures`);
  return {
    ...f,
    cpuUs: cpu0 === null || cpu1 === null ? null : ((cpu1 - cpu0) * 1e6) / requests,
    fillsPerRequest: before && after ? (after.fills - before.fills) / requests : null,
    writeBacksPerRequest: before && after ? (after.writeBacks - before.writeBacks) / requests : null,
  };
}

/** Saves and loads a snapshot of SNAPSHOT_BYTES of values through `enclave serve --data`, timed by what it prints. */
async function measureSnapshot(opts: SuiteOptions, stateDir: string): Promise<LargeFigures["snapshot"]> {
  const keys = Math.ceil(SNAPSHOT_BYTES / VALUE_BYTES);
  const data = join(stateDir, "snapshot-data");
  const withData = ["--data", data, "--save-interval", "0"];
  opts.log(`large: snapshot of ${keys} keys (${SNAPSHOT_BYTES / 1e6} MB of values), kv enclavisor with --data`);
  const first = await startKv("enclavisor", stateDir, withData);
  let saved: RegExpExecArray;
  try {
    await fillKeys(first.port, 0, keys, VALUE_BYTES);
    saved = await stopAndRead(first, /saved \S+ \((\d+) bytes, counter \d+; at shutdown; ([\d.]+) s\)/);
  } finally {
    first.proc.kill("SIGKILL");
  }
  const second = await startKv("enclavisor", stateDir, withData);
  second.proc.kill("SIGKILL");
  const loaded = /restored \S+ \(\d+ bytes; its header claims counter \d+, the store's counter is at \d+; ([\d.]+) s\)/.exec(second.output());
  if (!loaded) throw new Error(`kv did not say it restored its snapshot:\n${second.output().slice(-2000)}`);
  const result = { keys, datasetBytes: keys * VALUE_BYTES, fileBytes: Number(saved[1]), saveSeconds: Number(saved[2]), loadSeconds: Number(loaded[1]) };
  opts.log(`large: snapshot ${(result.fileBytes / 1e6).toFixed(0)} MB saved in ${result.saveSeconds} s, loaded in ${result.loadSeconds} s`);
  return result;
}

/** Stops a server with SIGTERM (it saves) and matches what it printed. */
function stopAndRead(s: Running, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    s.proc.once("exit", () => {
      const m = pattern.exec(s.output());
      if (m) resolve(m);
      else reject(new Error(`kv did not print ${pattern} when stopping:\n${s.output().slice(-2000)}`));
    });
    s.proc.kill("SIGTERM");
  });
}

function med(list: LargeSample[], key: keyof LargeSample): number | null {
  const values = list.map((x) => x[key]).filter((v): v is number => v !== null);
  return values.length === 0 ? null : median(values);
}

function largeGoals(f: LargeFigures): Goal[] {
  const size = f.sizes.find((s) => s.factor === GOAL_FACTOR);
  if (!size) return [];
  const goals: Goal[] = [];
  for (const w of WORKLOADS) {
    for (const t of TESTS) {
      const enc = med(size.samples[w.name]!["kv enclavisor"]![t]!, "rps")!;
      const red = med(size.samples[w.name]!["redis-server"]![t]!, "rps")!;
      goals.push({ goal: `large ${GOAL_FACTOR}x, ${t}, ${w.name}: kv enclavisor / redis-server`, value: enc / red, target: w.goalVsRedis, met: enc / red >= w.goalVsRedis });
      const fills = med(size.samples[w.name]!["kv enclavisor"]![t]!, "fillsPerRequest")!;
      goals.push({
        goal: `large ${GOAL_FACTOR}x, ${t}, ${w.name}: kv enclavisor page fills per request`,
        value: fills,
        target: GOAL_FILLS_PER_REQUEST,
        met: fills <= GOAL_FILLS_PER_REQUEST,
        atMost: true,
      });
    }
  }
  return goals;
}

const mb = (b: number | null | undefined) => (b == null ? "n/a" : `${(b / 2 ** 20).toFixed(0)} MiB`);
const num = (v: number | null, digits: number) => (v === null ? "n/a" : v.toFixed(digits));

export function largeReport(f: LargeFigures): string {
  const rows: string[][] = [];
  for (const size of f.sizes) {
    for (const w of WORKLOADS) {
      for (const t of TESTS) {
        const red = med(size.samples[w.name]!["redis-server"]![t]!, "rps")!;
        for (const s of LARGE_SERVERS) {
          const list = size.samples[w.name]![s]![t]!;
          const rps = med(list, "rps")!;
          rows.push([
            `${size.factor}x`, w.name, t, s, Math.round(rps).toLocaleString("en-US"), num(med(list, "p50"), 2), num(med(list, "p99"), 2),
            s === "redis-server" ? "" : fmtRatio(rps / red), num(med(list, "fillsPerRequest"), 2), num(med(list, "writeBacksPerRequest"), 2), num(med(list, "cpuUs"), 2),
          ]);
        }
      }
    }
  }
  const cache = f.cacheBytes;
  return [
    `Values of ${f.valueBytes} bytes, keys as redis-benchmark -r names them, the dataset at ${SIZES.join(", ")} times the ${mb(cache)} resident cache. ` +
      `Each size: the servers are filled to it, then ${f.rounds} rounds of \`redis-benchmark -t TEST -r KEYS -d ${f.valueBytes}\` against each server in turn; medians of the rounds. ` +
      "Fills and write-backs are pages per request (the enclave's counters before and after each run); CPU is the server process's user + system time per request.",
    "",
    markdownTable(["dataset", "workload", "test", "server", "requests/s", "p50 ms", "p99 ms", "/ redis-server", "fills/req", "write-backs/req", "CPU µs/req"], rows),
    "",
    "### Resident memory and fill time",
    "",
    markdownTable(
      ["dataset", "keys", "values", ...LARGE_SERVERS.map((s) => `${s} RSS`), ...LARGE_SERVERS.map((s) => `${s} fill s`)],
      f.sizes.map((s) => [
        `${s.factor}x`, s.keys.toLocaleString("en-US"), mb(s.datasetBytes), ...LARGE_SERVERS.map((x) => mb(s.rssBytes[x])),
        ...LARGE_SERVERS.map((x) => (s.fillSeconds[x] ?? 0).toFixed(1)),
      ]),
    ),
    "",
    "The fill columns time the keys a size adds over the one before, pipelined SETs over one connection (bench/kv/fill.ts).",
    "",
    "### Snapshots",
    "",
    f.snapshot
      ? `kv enclavisor with --data, ${f.snapshot.keys.toLocaleString("en-US")} keys (${mb(f.snapshot.datasetBytes)} of values): ` +
        `the sealed snapshot is ${mb(f.snapshot.fileBytes)}, saved at shutdown in ${f.snapshot.saveSeconds} s and loaded at start in ${f.snapshot.loadSeconds} s (as \`enclave serve\` prints them).`
      : "not measured",
  ].join("\n");
}
