// The `kv-tls` suite: what attested TLS costs kv. Two `enclave serve guest-apps/kv.wasm` in
// enclavisor mode side by side, one plaintext and one with --tls (the sessions run in Enclavisor,
// their plaintext goes through the enclave's private channel), driven by redis-benchmark the same
// way (--tls --cacert with the certificate the server wrote): SET and GET of 100-byte values on
// 10,000 keys, 50 clients, without and with -P 16. Each round runs both servers, in alternating
// order; the figures are medians over the rounds of requests per second and of the server's CPU
// time per request (from /proc), and TLS over plaintext for each. bench/results/kv-tls.json.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { markdownTable, median } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";
import { redisBenchmark } from "./kv/redis-benchmark";
import { cpuSeconds, requireTools, startKv } from "./kv/servers";
import type { Running } from "./kv/servers";

const SERVERS = ["plaintext", "tls"] as const;
type Server = (typeof SERVERS)[number];
const TESTS = ["SET", "GET"] as const;
const PIPELINES = [1, 16] as const;
const VALUE_BYTES = 100;
const KEYSPACE = 10_000;

interface Sample {
  rps: number;
  /** Server CPU microseconds per request. */
  cpuUs: number;
}

type Key = `${(typeof TESTS)[number]} -P ${(typeof PIPELINES)[number]}`;

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  requireTools();
  const rounds = opts.full ? 5 : 3;
  const requests = opts.full ? 200_000 : 50_000;
  const dir = mkdtempSync(join(tmpdir(), "enclavisor-bench-kv-tls-"));
  const samples = new Map<string, Sample[]>();
  const running = new Map<Server, Running>();
  const cert = join(dir, "tls-cert.pem");
  try {
    running.set("plaintext", await startKv("enclavisor", dir));
    running.set("tls", await startKv("enclavisor", dir, ["--tls", "--tls-cert", cert]));
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 === 0 ? SERVERS : [...SERVERS].reverse()) {
        const r = running.get(s)!;
        for (const p of PIPELINES) {
          const cpu0 = cpuSeconds(r.proc.pid!);
          const tls = s === "tls" ? ["--tls", "--cacert", cert] : [];
          const figures = await redisBenchmark(r.port, [...tls, "-t", "set,get", "-n", String(requests), "-c", "50", "-P", String(p), "-d", String(VALUE_BYTES), "-r", String(KEYSPACE)]);
          const cpu1 = cpuSeconds(r.proc.pid!);
          for (const t of TESTS) {
            const f = figures.get(t);
            if (!f) throw new Error(`redis-benchmark gave no ${t} figures for ${s}`);
            // The CPU of the run covers both tests: shared out by their time (requests / rps).
            const times = TESTS.map((x) => requests / figures.get(x)!.rps);
            const share = (requests / f.rps) / times.reduce((a, b) => a + b, 0);
            const cpuUs = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) * share * 1e6) / requests : NaN;
            const key = `${s} ${t} -P ${p}`;
            samples.set(key, [...(samples.get(key) ?? []), { rps: f.rps, cpuUs }]);
          }
        }
        opts.log(`kv-tls: round ${round + 1}/${rounds} ${s.padEnd(9)} ` +
          TESTS.flatMap((t) => PIPELINES.map((p) => `${t} -P ${p} ${Math.round(samples.get(`${s} ${t} -P ${p}`)!.at(-1)!.rps)}/s`)).join(", "));
      }
    }
  } finally {
    for (const r of running.values()) r.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (s: Server, k: Key, f: (x: Sample) => number) => median(samples.get(`${s} ${k}`)!.map(f));
  const keys = TESTS.flatMap((t) => PIPELINES.map((p) => `${t} -P ${p}` as Key));
  const rows = keys.map((k) => {
    const [pr, tr] = [med("plaintext", k, (x) => x.rps), med("tls", k, (x) => x.rps)];
    const [pc, tc] = [med("plaintext", k, (x) => x.cpuUs), med("tls", k, (x) => x.cpuUs)];
    return { test: k, plaintextRps: pr, tlsRps: tr, rpsRatio: tr / pr, plaintextCpuUs: pc, tlsCpuUs: tc, cpuRatio: tc / pc };
  });
  for (const r of rows) opts.log(`kv-tls: ${r.test}: TLS ${(r.rpsRatio).toFixed(3)}x the requests per second, ${r.cpuRatio.toFixed(2)}x the CPU per request`);
  const report = [
    `kv in enclavisor mode, plaintext and --tls side by side; redis-benchmark -c 50 -n ${requests} -d ${VALUE_BYTES} -r ${KEYSPACE}, ` +
      `medians of ${rounds} rounds.`,
    "",
    markdownTable(
      ["test", "plaintext req/s", "TLS req/s", "TLS / plaintext", "plaintext CPU µs/req", "TLS CPU µs/req", "TLS / plaintext CPU"],
      rows.map((r) => [r.test, Math.round(r.plaintextRps).toString(), Math.round(r.tlsRps).toString(), r.rpsRatio.toFixed(3),
        r.plaintextCpuUs.toFixed(1), r.tlsCpuUs.toFixed(1), r.cpuRatio.toFixed(2)]),
    ),
  ].join("\n");
  return { suite: "kv-tls", figures: { rounds, requests, valueBytes: VALUE_BYTES, keyspace: KEYSPACE, samples: Object.fromEntries(samples), rows }, report };
}
