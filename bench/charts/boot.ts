// The boot suite's charts (bench/boot.ts): enclave boot latency (launch + destroy, p50) per
// granularity and mode, one chart per app, with native (the module instantiated as given) as a
// reference line. vm and process launch with the rewrite in the in-memory cache (a later launch in
// the same process); function is a clone of its template.
import { barChart } from "./svg";
import { isRecord, subtitleOf } from "./chart";
import type { Chart, SuiteJson } from "./chart";

const MODES = ["sev", "sev-snp", "enclavisor"];
/** Granularity, and which of its cells the chart shows. */
const GRANULARITIES = [
  { name: "vm", kind: "memory", label: "vm (rewrite cached in memory)" },
  { name: "process", kind: "memory", label: "process (rewrite cached in memory)" },
  { name: "function", kind: "template", label: "function (clone of a template)" },
] as const;

function p50(o: unknown): number | null {
  return isRecord(o) && typeof o.p50 === "number" ? o.p50 : null;
}

/** Cell name -> stats of one app; the older shape (mode -> kind -> stats, vm only) is read as vm cells. */
function cellsOf(app: Record<string, unknown>): Map<string, number | null> {
  const cells = new Map<string, number | null>();
  for (const [key, v] of Object.entries(app)) {
    if (key === "native") cells.set("native", p50(v) ?? (isRecord(v) ? p50(v.any) : null));
    else if (key.includes("/")) cells.set(key, p50(v));
    else if (isRecord(v)) for (const [kind, st] of Object.entries(v)) cells.set(`${key}/vm/${kind}`, p50(st));
  }
  return cells;
}

export function bootCharts(j: SuiteJson): Chart[] {
  const boot = j.figures.boot;
  if (!isRecord(boot)) return [];
  const charts: Chart[] = [];
  for (const [app, raw] of Object.entries(boot)) {
    if (!isRecord(raw)) continue;
    const cells = cellsOf(raw);
    const grans = GRANULARITIES.filter((g) => MODES.some((m) => cells.get(`${m}/${g.name}/${g.kind}`) != null));
    if (grans.length === 0) continue;
    const native = cells.get("native") ?? null;
    const title = `Enclave boot latency per granularity, ${app}.wasm (launch + destroy, p50)`;
    charts.push({
      file: `boot-latency-${app}.svg`,
      title,
      svg: barChart({
        title,
        subtitle: subtitleOf(j),
        categories: grans.map((g) => g.label),
        series: MODES.map((m) => ({ name: m, values: grans.map((g) => cells.get(`${m}/${g.name}/${g.kind}`) ?? null) })),
        y: { label: "boot latency", unit: "ms, p50, log scale", log: true },
        valueFormat: (v) => (v >= 1 ? `${v.toPrecision(3)} ms` : `${Math.round(v * 1000)} µs`),
        yRefs: native !== null ? [{ at: native, label: `native: ${native >= 1 ? `${native.toPrecision(3)} ms` : `${Math.round(native * 1000)} µs`}` }] : [],
        width: 880,
      }),
    });
  }
  return charts;
}
