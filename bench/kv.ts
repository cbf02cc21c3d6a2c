// The `kv` suite: the kv enclave under redis-benchmark next to a real redis-server on the same
// machine (docs/architecture.md, "What is measured"), in two parts: throughput with a store that
// fits the resident cache (kv/throughput.ts), and the `large` workload, a store up to 30 times the
// cache (kv/large.ts). Every figure goes to bench/results/kv.json; the goals are reported as met or
// not met, never asserted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmtRatio, markdownTable } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";
import { largeReport, measureLarge } from "./kv/large";
import { requireTools, startKv, startRedis } from "./kv/servers";
import type { Running } from "./kv/servers";
import { SERVERS, measureThroughput } from "./kv/throughput";
import type { Goal, ServerName } from "./kv/throughput";

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  requireTools();
  const stateDir = mkdtempSync(join(tmpdir(), "enclavisor-bench-kv-"));
  try {
    const running = new Map<ServerName, Running>();
    let small;
    try {
      opts.log("starting kv (native), kv (enclavisor) and redis-server");
      running.set("kv native", await startKv("native", stateDir));
      running.set("kv enclavisor", await startKv("enclavisor", stateDir));
      running.set("redis-server", await startRedis());
      small = await measureThroughput(opts, running);
    } finally {
      for (const r of running.values()) r.proc.kill("SIGKILL");
    }
    const large = await measureLarge(opts, stateDir);
    const goals: Goal[] = [...small.goals, ...large.goals];
    for (const g of goals) opts.log(`goal: ${g.goal} = ${valueText(g)} (${goalText(g)}): ${g.met ? "met" : "NOT MET"}`);
    const report = [
      "## A store inside the resident cache",
      "",
      small.report,
      "",
      "## `large`: a store up to 30 times the resident cache",
      "",
      largeReport(large),
      "",
      "## Goals",
      "",
      markdownTable(["goal", "value", "target", ""], goals.map((g) => [g.goal, valueText(g), goalText(g), g.met ? "met" : "not met"])),
    ].join("\n");
    return { suite: "kv", figures: { ...small.figures, servers: SERVERS, large, goals }, report };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

function valueText(g: Goal): string {
  return g.atMost ? g.value.toFixed(2) : fmtRatio(g.value);
}

function goalText(g: Goal): string {
  return g.atMost ? `<= ${g.target}` : `>= ${g.target}x`;
}
