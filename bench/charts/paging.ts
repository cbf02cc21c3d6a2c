// Charts of the paging suite (bench/paging.ts): µs per page miss per mode and integrity scheme,
// slowdown against working-set size, one line per mode (sequential and random, one chart each),
// and the integrity cache's hit rate against its size.
import { barChart, lineChart } from "./svg";
import { binarySize, dig, subtitleOf } from "./chart";
import type { Chart, SuiteJson } from "./chart";

interface SweepPoint {
  workingSetBytes: number;
  order: "seq" | "random";
  perKind: Record<string, { slowdown: number }>;
}

interface IntegrityRow {
  cacheNodes: number;
  paths: Record<string, { hitRate: number }>;
}

/** The modes in the order of the legend; in-memory is the MMU alone (no encryption). */
const MODE_ORDER = ["in-memory", "sev", "sev-snp", "enclavisor", "enclavisor-merkle", "sgx"];
const MODE_LABEL: Record<string, string> = {
  "in-memory": "in-memory (MMU only)",
  sev: "sev",
  "sev-snp": "sev-snp",
  enclavisor: "enclavisor (counter tree)",
  "enclavisor-merkle": "enclavisor (Merkle tree)",
  sgx: "sgx (EPC, modelled exits)",
};

interface ModeMisses {
  misses: Record<string, { median: number }>;
}

export function pagingCharts(j: SuiteJson): Chart[] {
  const charts: Chart[] = [];
  const modes = (dig(j.figures, "missPath", "modes") as Record<string, ModeMisses> | undefined) ?? {};
  const missKinds = Object.keys(Object.values(modes)[0]?.misses ?? {});
  if (missKinds.length > 0) {
    const title = "µs per page miss, per mode and integrity scheme";
    const shown = MODE_ORDER.filter((m) => modes[m]);
    charts.push({
      file: "paging-miss-us.svg",
      title,
      svg: barChart({
        title,
        subtitle: subtitleOf(j) + "; 64 MiB working set behind a 16 MiB cache; in page order the MMU fills runs",
        categories: missKinds.map((k) => `${k} miss`),
        series: shown.map((m) => ({ name: MODE_LABEL[m] ?? m, values: missKinds.map((k) => modes[m]!.misses[k]?.median ?? null) })),
        y: { label: "time per page", unit: "µs", format: (v) => v.toFixed(2) },
        width: 920,
      }),
    });
  }
  const points = (dig(j.figures, "workingSets") as SweepPoint[] | undefined) ?? [];
  const cacheBytes = ((dig(j.figures, "config", "cachePages") as number | undefined) ?? 4096) * 4096;
  const epcPages = dig(j.figures, "config", "sweepEpcPages") as number | undefined;
  for (const order of ["random", "seq"] as const) {
    const mine = points.filter((p) => p.order === order).sort((a, b) => a.workingSetBytes - b.workingSetBytes);
    if (mine.length === 0) continue;
    const modes = MODE_ORDER.filter((m) => mine.some((p) => p.perKind[m] !== undefined));
    const sizes = mine.map((p) => p.workingSetBytes);
    const title = `Slowdown against working-set size, ${order === "seq" ? "sequential" : "random"} reads`;
    charts.push({
      file: `paging-slowdown-${order}.svg`,
      title,
      svg: lineChart({
        title,
        subtitle: subtitleOf(j),
        x: { label: "working set", log: true, ticks: sizes, format: binarySize },
        y: { label: "time per access / native", unit: "x, log scale", log: true, format: (v) => `${Number(v.toPrecision(3))}x` },
        series: modes.map((m) => ({
          name: MODE_LABEL[m] ?? m,
          points: mine.filter((p) => p.perKind[m]).map((p) => ({ x: p.workingSetBytes, y: p.perKind[m]!.slowdown })),
        })),
        xRefs: [
          { at: cacheBytes, label: `resident cache ${binarySize(cacheBytes)}` },
          ...(epcPages ? [{ at: epcPages * 4096, label: `sgx EPC ${binarySize(epcPages * 4096)}` }] : []),
        ],
        yRefs: [{ at: 1, label: "native" }],
        width: 920,
      }),
    });
  }
  const rows = (dig(j.figures, "integrityCache", "rows") as IntegrityRow[] | undefined) ?? [];
  if (rows.length > 0) {
    const paths = Object.keys(rows[0]!.paths);
    const spanned = dig(j.figures, "integrityCache", "shape", "leafNodesSpanned") as number | undefined;
    const wsBytes = dig(j.figures, "config", "integrityBytes") as number | undefined;
    const title = "Integrity-cache hit rate against its size (enclavisor)";
    charts.push({
      file: "paging-integrity-hit-rate.svg",
      title,
      svg: lineChart({
        title,
        subtitle: subtitleOf(j) + (wsBytes ? `; ${binarySize(wsBytes)} working set` : ""),
        x: { label: "integrity cache", unit: "tree nodes, log scale", log: true, ticks: rows.map((r) => r.cacheNodes) },
        y: { label: "node lookups served by the cache", unit: "%", min: 0, max: 100 },
        series: paths.map((p) => ({ name: p, points: rows.map((r) => ({ x: r.cacheNodes, y: 100 * r.paths[p]!.hitRate })) })),
        xRefs: spanned ? [{ at: spanned, label: `leaf nodes of the working set: ${spanned}` }] : [],
      }),
    });
  }
  return charts;
}
