// The integrity suite's chart (bench/integrity.ts, "cache size" part): the integrity cache's
// lookup hit rate against its size, for fills (verify) and write-backs (update) at random pages,
// with the time per page on a second chart.
import { lineChart } from "./svg";
import { dig, isRecord, subtitleOf } from "./chart";
import type { Chart, SuiteJson } from "./chart";

interface Cell {
  usPerPage: number;
  lookupHitRate?: number;
}

export function integrityCharts(j: SuiteJson): Chart[] {
  const cells = dig(j.figures, "cacheSize");
  if (!isRecord(cells)) return [];
  const rows = new Map<number, { verify?: Cell; update?: Cell }>();
  for (const [name, v] of Object.entries(cells)) {
    const m = /^cache (\d+): (verify|update)$/.exec(name);
    if (!m || !isRecord(v)) continue;
    const n = Number(m[1]);
    const row = rows.get(n) ?? {};
    row[m[2] as "verify" | "update"] = v as unknown as Cell;
    rows.set(n, row);
  }
  const sizes = [...rows.keys()].sort((a, b) => a - b);
  if (sizes.length === 0) return [];
  const line = (what: "verify" | "update", value: (c: Cell) => number | undefined) =>
    sizes.flatMap((n) => {
      const c = rows.get(n)![what];
      const y = c ? value(c) : undefined;
      return y === undefined ? [] : [{ x: n, y }];
    });
  const hash = String(dig(j.figures, "defaults", "hash") ?? "sha256");
  const arity = String(dig(j.figures, "defaults", "arity") ?? "64");
  const title = `Integrity-cache hit rate against its size (tree alone, ${hash}, arity ${arity})`;
  const hv = line("verify", (c) => c.lookupHitRate);
  const hu = line("update", (c) => c.lookupHitRate);
  const coincide = hv.length === hu.length && hv.every((p, i) => Math.abs(p.y - hu[i]!.y) < 0.005);
  const charts: Chart[] = [{
    file: "integrity-cache-hit-rate.svg",
    title,
    svg: lineChart({
      title,
      subtitle: `${subtitleOf(j)}; random pages${coincide ? "; the two lines coincide" : ""}`,
      x: { label: "integrity cache", unit: "tree nodes, log scale", log: true, ticks: sizes },
      y: { label: "node lookups served by the cache", unit: "%", min: 0, max: 100 },
      series: [
        { name: "fill (verify)", points: line("verify", (c) => (c.lookupHitRate === undefined ? undefined : 100 * c.lookupHitRate)) },
        { name: "write-back (update)", points: line("update", (c) => (c.lookupHitRate === undefined ? undefined : 100 * c.lookupHitRate)) },
      ],
    }),
  }];
  const timeTitle = `Integrity tree: time per page against the cache size (${hash}, arity ${arity})`;
  charts.push({
    file: "integrity-cache-time.svg",
    title: timeTitle,
    svg: lineChart({
      title: timeTitle,
      subtitle: `${subtitleOf(j)}; random pages`,
      x: { label: "integrity cache", unit: "tree nodes, log scale", log: true, ticks: sizes },
      y: { label: "time per page", unit: "µs, median", min: 0 },
      series: [
        { name: "fill (verify)", points: line("verify", (c) => c.usPerPage) },
        { name: "write-back (update)", points: line("update", (c) => c.usPerPage) },
      ],
    }),
  });
  return charts;
}
