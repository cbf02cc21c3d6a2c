// The kv suite's chart (bench/kv.ts): requests per second of the kv enclave per mode, next to a real
// redis-server, per workload and command.
import { barChart, lineChart } from "./svg";
import { dig, isRecord, subtitleOf } from "./chart";
import type { Chart, SuiteJson } from "./chart";

interface Figures {
  rps: number;
}

function med(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function kvCharts(j: SuiteJson): Chart[] {
  const samples = dig(j.figures, "samples");
  if (!isRecord(samples)) return [];
  const workloads = Object.keys(samples);
  const servers = [...new Set(workloads.flatMap((w) => Object.keys(samples[w] as object)))];
  const tests = [...new Set(workloads.flatMap((w) => servers.flatMap((s) => Object.keys((dig(samples, w, s) as object | undefined) ?? {}))))];
  const categories: string[] = [];
  const values = servers.map(() => [] as (number | null)[]);
  for (const w of workloads) {
    for (const t of tests) {
      categories.push(`${t}, ${w}`);
      servers.forEach((s, i) => {
        const list = dig(samples, w, s, t) as Figures[] | undefined;
        values[i]!.push(list && list.length > 0 ? med(list.map((f) => f.rps)) : null);
      });
    }
  }
  const all = values.flat().filter((v): v is number => v !== null && v > 0);
  if (all.length === 0) return [];
  const log = Math.max(...all) / Math.min(...all) > 20;
  const title = "kv throughput per mode next to redis-server (redis-benchmark)";
  return [{
    file: "kv-throughput.svg",
    title,
    svg: barChart({
      title,
      subtitle: subtitleOf(j),
      categories,
      series: servers.map((s, i) => ({ name: s, values: values[i]! })),
      y: { label: "requests per second", unit: log ? "median, log scale" : "median", log },
      width: 900,
    }),
  }];
}

interface LargeSize {
  factor: number;
  samples: Record<string, Record<string, Record<string, { rps: number }[]>>>;
}

/**
 * The large workload (bench/kv/large.ts): requests per second against the dataset's size in
 * multiples of the resident cache, one line per server, one chart per workload and test.
 */
export function kvLargeCharts(j: SuiteJson): Chart[] {
  const sizes = dig(j.figures, "large", "sizes") as LargeSize[] | undefined;
  if (!sizes || sizes.length === 0) return [];
  const workloads = Object.keys(sizes[0]!.samples);
  const charts: Chart[] = [];
  workloads.forEach((w, wi) => {
    const servers = Object.keys(sizes[0]!.samples[w] ?? {});
    const tests = Object.keys(sizes[0]!.samples[w]?.[servers[0]!] ?? {});
    for (const t of tests) {
      const title = `kv ${t} against dataset size, ${w}`;
      charts.push({
        file: `kv-large-${t.toLowerCase()}-${wi === 0 ? "c50" : "p16"}.svg`,
        title,
        svg: lineChart({
          title,
          subtitle: subtitleOf(j) + "; values of 1000 bytes, 16 MiB resident cache",
          x: { label: "dataset / resident cache", unit: "log scale", log: true, ticks: sizes.map((s) => s.factor), format: (v) => `${v}x` },
          y: { label: "requests per second", unit: "median, log scale", log: true },
          series: servers.map((s) => ({
            name: s,
            points: sizes
              .filter((z) => (z.samples[w]?.[s]?.[t]?.length ?? 0) > 0)
              .map((z) => ({ x: z.factor, y: med(z.samples[w]![s]![t]!.map((f) => f.rps)) })),
          })),
          width: 900,
        }),
      });
    }
  });
  return charts;
}
