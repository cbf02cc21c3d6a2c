// What the chart functions share: the shape of a suite's results file (bench/main.ts writes it) and
// of a chart, and the subtitle that names the run and the machine on every chart.
import type { MachineInfo } from "../harness";

/** bench/results/<suite>.json as bench/main.ts writes it. */
export interface SuiteJson {
  suite: string;
  mode: "short" | "full";
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  figures: Record<string, unknown>;
}

export interface Chart {
  /** File name in bench/results/, e.g. "paging-slowdown-random.svg". */
  file: string;
  title: string;
  svg: string;
}

export function subtitleOf(j: SuiteJson): string {
  return `${j.mode} run of ${j.startedAt.slice(0, 16).replace("T", " ")} UTC on ${j.machine.cpuModel} (${j.machine.cores} cores), Node ${j.machine.node}`;
}

/** A value in an object read from JSON: `path` of keys, or undefined if any is missing. */
export function dig(o: unknown, ...path: string[]): unknown {
  let cur = o;
  for (const k of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function isRecord(o: unknown): o is Record<string, unknown> {
  return typeof o === "object" && o !== null && !Array.isArray(o);
}

/** "1 MiB", "512 KiB", "1 GiB": sizes on a binary axis. */
export function binarySize(bytes: number): string {
  if (bytes >= 2 ** 30) return `${Number((bytes / 2 ** 30).toPrecision(3))} GiB`;
  if (bytes >= 2 ** 20) return `${Number((bytes / 2 ** 20).toPrecision(3))} MiB`;
  if (bytes >= 2 ** 10) return `${Number((bytes / 2 ** 10).toPrecision(3))} KiB`;
  return `${bytes} B`;
}
