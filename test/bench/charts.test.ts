// The suites' charts (bench/charts/*) from results files made here, the summary, and the parsing of
// `openssl speed` (bench/references.ts).
import { describe, expect, it } from "vitest";
import { chartsFor } from "../../bench/charts/index";
import type { SuiteJson } from "../../bench/charts/index";
import { machineInfo } from "../../bench/harness";
import { parseOpensslSpeed } from "../../bench/references";
import { wellFormed } from "./xml";

function suite(name: string, figures: Record<string, unknown>): SuiteJson {
  return { suite: name, mode: "short", startedAt: "2026-11-25T07:00:00.000Z", durationMs: 1000, machine: machineInfo(), figures };
}

const MiB = 2 ** 20;
const MODES = ["native", "in-memory", "sev", "sev-snp", "enclavisor", "sgx"];

describe("the paging charts", () => {
  const points = [1, 16, 64].flatMap((mib, i) => (["seq", "random"] as const).map((order) => ({
    workingSetBytes: mib * MiB,
    order,
    perKind: Object.fromEntries(MODES.map((m, k) => [m, { slowdown: m === "native" ? 1 : 1 + i * (k + 1) }])),
  })));
  const json = suite("paging", {
    config: { cachePages: 4096, sweepEpcPages: 8192, integrityBytes: 64 * MiB },
    missPath: { modes: Object.fromEntries(["sev", "enclavisor", "enclavisor-merkle"].map((m, k) => [m, {
      misses: { "seq read": { median: 1 + k }, "random read": { median: 2 + k } },
    }])) },
    workingSets: points,
    integrityCache: {
      shape: { leafNodesSpanned: 322 },
      rows: [16, 128, 1024].map((n, i) => ({ cacheNodes: n, paths: { "seq read": { hitRate: 0.9 + i * 0.03 }, "random read": { hitRate: 0.5 + i * 0.2 } } })),
    },
  });

  it("draws µs per miss per mode and scheme, slowdown per mode against working set (random and sequential) and the integrity-cache hit rate", () => {
    const charts = chartsFor(json);
    expect(charts.map((c) => c.file)).toEqual(["paging-miss-us.svg", "paging-slowdown-random.svg", "paging-slowdown-seq.svg", "paging-integrity-hit-rate.svg"]);
    for (const c of charts) wellFormed(c.svg);
    const miss = charts.shift()!.svg;
    for (const name of ["sev", "enclavisor (counter tree)", "enclavisor (Merkle tree)"]) expect(miss).toContain(`>${name}</text>`);
    expect(miss).toContain(">seq read miss</text>");
    expect(miss).toContain("enclavisor (Merkle tree), random read miss: 4.00");
    const slowdown = charts[0]!.svg;
    for (const name of ["in-memory (MMU only)", "sev", "sev-snp", "enclavisor (counter tree)", "sgx (EPC, modelled exits)"]) expect(slowdown).toContain(`>${name}</text>`);
    expect(slowdown).not.toContain(">native</title>"); // native is the reference line, not a series
    expect(slowdown).toContain("sgx EPC 32 MiB");
    expect(slowdown).toContain("resident cache 16 MiB");
    expect(slowdown).toContain(">64 MiB</text>");
    expect(charts[2]!.svg).toContain("leaf nodes of the working set: 322");
  });

  it("draws nothing for a results file without those figures", () => {
    expect(chartsFor(suite("paging", {}))).toEqual([]);
    expect(chartsFor(suite("integrity", { anything: 1 }))).toEqual([]);
  });
});

describe("the boot and kv charts", () => {
  it("shows boot latency per granularity and mode, with native as a reference", () => {
    const stats = (p50: number) => ({ p50, p99: p50 * 2, samples: [p50] });
    const [chart] = chartsFor(suite("boot", {
      boot: { kv: {
        native: stats(7), "sev/vm/memory": stats(3), "enclavisor/vm/memory": stats(2.8), "enclavisor/process/memory": stats(1.4),
        "enclavisor/function/template": stats(0.5), "enclavisor/vm/cold": stats(300),
      } },
    }));
    expect(chart!.file).toBe("boot-latency-kv.svg");
    wellFormed(chart!.svg);
    expect(chart!.svg).toContain(">500 µs</text>");
    expect(chart!.svg).toContain("native: 7.00 ms");
    expect(chart!.svg).not.toContain("300"); // cold launches are in the report, not this chart
  });

  it("reads the older boot shape (vm only) too", () => {
    const [chart] = chartsFor(suite("boot", { boot: { hello: { native: { any: { p50: 0.8 } }, sev: { memory: { p50: 0.85 } } } } }));
    expect(chart!.svg).toContain("vm (rewrite cached in memory)");
    expect(chart!.svg).not.toContain("process (");
  });

  it("puts kv per mode next to redis-server for each workload and command", () => {
    const run = (rps: number) => [{ rps, p50: 1, p99: 2 }, { rps: rps + 2, p50: 1, p99: 2 }];
    const [chart] = chartsFor(suite("kv", {
      samples: { "50 clients": { "kv enclavisor": { SET: run(40_000), GET: run(50_000) }, "redis-server": { SET: run(90_000), GET: run(95_000) } } },
    }));
    wellFormed(chart!.svg);
    expect(chart!.svg).toContain(">SET, 50 clients</text>");
    expect(chart!.svg).toContain(">redis-server</text>");
    expect(chart!.svg).toContain(">40k</text>"); // the median of the rounds: 40001 prints as 40k
  });

  it("draws the large workload's requests per second against dataset size, one line per server", () => {
    const run = (rps: number) => [{ rps }, { rps: rps * 1.1 }, { rps: rps * 0.9 }];
    const size = (factor: number) => ({
      factor,
      samples: Object.fromEntries(["50 clients, no pipelining", "50 clients, -P 16"].map((w) => [w, {
        "kv enclavisor": { SET: run(60_000 / factor), GET: run(90_000 / factor) },
        "redis-server": { SET: run(300_000), GET: run(400_000) },
      }])),
    });
    const charts = chartsFor(suite("kv", { large: { sizes: [1, 4, 10, 30].map(size) } }));
    expect(charts.map((c) => c.file)).toEqual(["kv-large-set-c50.svg", "kv-large-get-c50.svg", "kv-large-set-p16.svg", "kv-large-get-p16.svg"]);
    const getP16 = charts[3]!.svg;
    wellFormed(getP16);
    expect(getP16).toContain("kv GET against dataset size, 50 clients, -P 16");
    for (const x of ["1x", "4x", "10x", "30x"]) expect(getP16).toContain(`>${x}</text>`);
    expect(getP16).toContain(">kv enclavisor</text>");
    expect(getP16.match(/<path d="M/g)).toHaveLength(2); // two lines
  });
});

describe("openssl speed output", () => {
  const out = [
    "Doing AES-128-XTS ops for 1s on 4096 size blocks: 100 AES-128-XTS ops in 1.00s",
    "version: 3.0.22",
    "The 'numbers' are in 1000s of bytes per second processed.",
    "type           4096 bytes",
    "AES-128-XTS    1861685.25k",
  ].join("\n");

  it("is read from its last table row, in bytes per second", () => {
    expect(parseOpensslSpeed(out, "aes-128-xts")).toBeCloseTo(1_861_685_250, 0);
    expect(parseOpensslSpeed("type 4096 bytes\nsha384          198104.46k\n", "sha384")).toBeCloseTo(198_104_460, 0);
  });

  it("names the algorithm when its row is missing", () => {
    expect(() => parseOpensslSpeed(out, "sha256")).toThrow(/no 'sha256' row/);
  });
});
