// The kv suite's reading of redis-benchmark's --csv output (bench/kv.ts): the columns are found by
// name in the header, as redis-benchmark 7.0 prints them.
import { describe, expect, it } from "vitest";
import { parseBenchmarkCsv } from "../../bench/kv/redis-benchmark";

const CSV = [
  '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
  '"SET","81037.28","0.532","0.120","0.487","0.911","1.855","4.263"',
  '"GET","86655.11","0.301","0.080","0.287","0.455","0.575","2.111"',
].join("\n");

describe("parseBenchmarkCsv", () => {
  it("reads requests per second, p50 and p99 per test", () => {
    const figures = parseBenchmarkCsv(CSV + "\n");
    expect([...figures.keys()]).toEqual(["SET", "GET"]);
    expect(figures.get("SET")).toEqual({ rps: 81037.28, p50: 0.487, p99: 1.855 });
    expect(figures.get("GET")).toEqual({ rps: 86655.11, p50: 0.287, p99: 0.575 });
  });

  it("names a missing column", () => {
    expect(() => parseBenchmarkCsv('"test","rps"\n"SET","1"')).toThrow('redis-benchmark --csv output has no "p50_latency_ms" column');
  });
});
