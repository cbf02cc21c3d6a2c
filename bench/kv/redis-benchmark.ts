// Runs redis-benchmark and reads its --csv output: requests per second and the client-side p50 and
// p99 latencies per test.
import { execFile } from "node:child_process";

export interface Figures {
  rps: number;
  p50: number;
  p99: number;
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

/** `redis-benchmark -h 127.0.0.1 -p PORT --csv ARGS...`: the figures of each test it ran. */
export function redisBenchmark(port: number, args: string[]): Promise<Map<string, Figures>> {
  const all = ["-h", "127.0.0.1", "-p", String(port), "--csv", ...args];
  return new Promise((resolve, reject) => {
    execFile("redis-benchmark", all, { maxBuffer: 1 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-benchmark ${all.join(" ")} failed: ${err.message}\n${stderr}`));
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
