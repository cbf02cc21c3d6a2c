// Line and bar charts as standalone SVG text, with no dependency: axes with ticks and units, linear
// or log scales, a legend, a title, and optional reference lines. Colours are the Okabe-Ito palette
// (readable with colour-blindness), and each line also has its own marker shape and dash, so that
// series stay apart in grey print too.

export interface Axis {
  /** The quantity, e.g. "working set". */
  label: string;
  /** Its unit, printed in brackets after the label, e.g. "MiB". */
  unit?: string;
  /** Logarithmic scale (every value must be > 0). */
  log?: boolean;
  /** Range; by default the data's, widened to nice ticks (and to 0 for a linear bar axis). */
  min?: number;
  max?: number;
  /** Tick positions; by default 1-2-5 steps (linear) or powers of 10 with 2 and 5 (log). */
  ticks?: readonly number[];
  /** Tick label text; by default a short number. */
  format?: (v: number) => string;
}

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  name: string;
  points: readonly Point[];
}

/** A labelled reference line across the plot, e.g. the EPC size or "no slowdown". */
export interface RefLine {
  at: number;
  label: string;
}

export interface LineChartSpec {
  title: string;
  /** One line under the title: the run and the machine. */
  subtitle?: string;
  x: Axis;
  y: Axis;
  series: readonly LineSeries[];
  /** Vertical reference lines at x values. */
  xRefs?: readonly RefLine[];
  /** Horizontal reference lines at y values. */
  yRefs?: readonly RefLine[];
  width?: number;
  height?: number;
}

export interface BarSeries {
  name: string;
  /** One value per category; null for a missing bar. */
  values: readonly (number | null)[];
}

export interface BarChartSpec {
  title: string;
  subtitle?: string;
  /** The groups along the x axis. */
  categories: readonly string[];
  /** The bars of each group, side by side. */
  series: readonly BarSeries[];
  y: Axis;
  /** Label printed above each bar; by default the y axis format. */
  valueFormat?: (v: number) => string;
  yRefs?: readonly RefLine[];
  width?: number;
  height?: number;
}

/** Okabe-Ito: blue, vermillion, bluish green, orange, reddish purple, sky blue, yellow, black. */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#B8A000", "#000000"] as const;
const DASHES = ["", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3", "8 3 2 3"] as const;
const MARKERS = ["circle", "square", "triangle", "diamond", "circle", "square", "triangle", "diamond"] as const;

const FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\"";

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!);
}

/** A short number: 3 significant digits, k/M/G above 10^4, no trailing zeros. */
export function shortNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${trim((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${trim((v / 1e3).toPrecision(3))}k`;
  if (a >= 1) return trim(v.toPrecision(Math.max(3, Math.floor(Math.log10(a)) + 1)));
  return trim(v.toPrecision(2));
}

function trim(s: string): string {
  return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
}

/** Linear ticks on a 1-2-5 step, about `count` of them, covering [min, max]. */
export function linearTicks(min: number, max: number, count = 6): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max))) throw new RangeError(`axis range must be finite, got ${min}..${max}`);
  if (max < min) throw new RangeError(`axis range is reversed: ${min}..${max}`);
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const first = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max - step * 1e-9) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** Log ticks: powers of 10, with 2 and 5 between them when the range spans few decades. */
export function logTicks(min: number, max: number): number[] {
  if (!(min > 0 && max > 0)) throw new RangeError(`a log axis needs positive values, got ${min}..${max}`);
  if (max < min) throw new RangeError(`axis range is reversed: ${min}..${max}`);
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.ceil(Math.log10(max) - 1e-9);
  const steps = hi - lo <= 2 ? [1, 2, 5] : hi - lo <= 4 ? [1, 3] : [1];
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) for (const m of steps) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  return ticks.filter((t) => t >= 10 ** lo && t <= 10 ** hi);
}

/** Maps data values to pixels along one axis. */
export interface Scale {
  (v: number): number;
  readonly domain: readonly [number, number];
  readonly ticks: readonly number[];
}

export function makeScale(axis: Axis, values: readonly number[], pixels: readonly [number, number], opts: { zero?: boolean } = {}): Scale {
  const finite = values.filter((v) => Number.isFinite(v));
  if (axis.log && finite.some((v) => v <= 0)) throw new RangeError(`the ${axis.label} axis is logarithmic, but a value is not positive`);
  let lo = axis.min ?? (finite.length > 0 ? Math.min(...finite) : axis.log ? 1 : 0);
  let hi = axis.max ?? (finite.length > 0 ? Math.max(...finite) : lo + 1);
  if (opts.zero && !axis.log && axis.min === undefined) lo = Math.min(0, lo);
  if (hi === lo) hi = axis.log ? lo * 10 : lo + 1;
  let ticks: number[];
  if (axis.ticks) ticks = [...axis.ticks];
  else if (axis.log) {
    ticks = logTicks(lo, hi);
    // The domain ends at the ticks next to the data, not at whole decades, so no space is wasted.
    if (axis.min === undefined) lo = Math.max(...ticks.filter((t) => t <= lo));
    if (axis.max === undefined) hi = Math.min(...ticks.filter((t) => t >= hi));
  } else {
    ticks = linearTicks(lo, hi);
    if (axis.min === undefined) lo = Math.min(lo, ticks[0]!);
    if (axis.max === undefined) hi = Math.max(hi, ticks[ticks.length - 1]!);
  }
  ticks = ticks.filter((t) => t >= lo - Math.abs(lo) * 1e-9 && t <= hi + Math.abs(hi) * 1e-9);
  const [p0, p1] = pixels;
  const t = axis.log ? Math.log10 : (v: number) => v;
  const a = t(lo);
  const b = t(hi);
  const f = ((v: number) => p0 + ((t(v) - a) / (b - a)) * (p1 - p0)) as Scale;
  Object.defineProperty(f, "domain", { value: [lo, hi] });
  Object.defineProperty(f, "ticks", { value: ticks });
  return f;
}

function axisTitle(a: Axis): string {
  return a.unit ? `${a.label} (${a.unit})` : a.label;
}

const px = (v: number) => Number(v.toFixed(1));

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frameFor(spec: { width?: number; height?: number; subtitle?: string }, legendNames: readonly string[]): Frame {
  const width = spec.width ?? 820;
  const height = spec.height ?? 460;
  const longest = Math.max(0, ...legendNames.map((n) => n.length));
  const legend = Math.min(260, 40 + longest * 7.2);
  return { width, height, left: 78, right: width - legend - 16, top: spec.subtitle ? 66 : 48, bottom: height - 58 };
}

function header(f: Frame, title: string, subtitle?: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" ${FONT} font-size="13">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text x="${f.width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold" fill="#111">${escapeXml(title)}</text>`,
    ...(subtitle ? [`<text x="${f.width / 2}" y="46" text-anchor="middle" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`] : []),
  ];
}

function yAxis(f: Frame, y: Scale, axis: Axis): string[] {
  const fmt = axis.format ?? shortNumber;
  const out: string[] = [];
  for (const t of y.ticks) {
    const yy = px(y(t));
    out.push(`<line x1="${f.left}" x2="${f.right}" y1="${yy}" y2="${yy}" stroke="#e3e3e3"/>`);
    out.push(`<line x1="${f.left - 5}" x2="${f.left}" y1="${yy}" y2="${yy}" stroke="#333"/>`);
    out.push(`<text x="${f.left - 8}" y="${yy + 4}" text-anchor="end" fill="#222">${escapeXml(fmt(t))}</text>`);
  }
  const mid = (f.top + f.bottom) / 2;
  out.push(`<text x="18" y="${mid}" text-anchor="middle" transform="rotate(-90 18 ${mid})" fill="#111">${escapeXml(axisTitle(axis))}</text>`);
  out.push(`<line x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.bottom}" stroke="#333"/>`);
  return out;
}

/** Text with a white box behind it, so that it stays readable over grid lines, bars and series. */
function labelBox(x: number, y: number, text: string, anchor: "start" | "end"): string[] {
  const w = text.length * 6.6 + 6;
  const x0 = anchor === "start" ? x - 3 : x - w + 3;
  return [
    `<rect x="${px(x0)}" y="${px(y - 11)}" width="${px(w)}" height="15" fill="#ffffff" fill-opacity="0.85"/>`,
    `<text x="${px(x)}" y="${px(y)}" text-anchor="${anchor}" font-size="12" fill="#444">${escapeXml(text)}</text>`,
  ];
}

/**
 * Dashed reference lines with their labels. Vertical ones: labels in rows from the top, left of the
 * line in the right half of the plot. Horizontal ones: labels at the right end, pushed apart when
 * two lines are close.
 */
function refLines(f: Frame, refs: readonly RefLine[] | undefined, scale: Scale, vertical: boolean): string[] {
  const [lo, hi] = scale.domain;
  const shown = (refs ?? []).filter((r) => r.at >= lo && r.at <= hi).map((r) => ({ ...r, p: px(scale(r.at)) }));
  const lines: string[] = [];
  const labels: string[] = [];
  if (vertical) {
    shown.sort((a, b) => a.p - b.p).forEach((r, k) => {
      lines.push(`<line x1="${r.p}" x2="${r.p}" y1="${f.top}" y2="${f.bottom}" stroke="#777" stroke-dasharray="4 4"/>`);
      const right = r.p > (f.left + f.right) / 2;
      labels.push(...labelBox(right ? r.p - 5 : r.p + 5, f.top + 14 + 17 * k, r.label, right ? "end" : "start"));
    });
  } else {
    let last = -Infinity;
    for (const r of shown.sort((a, b) => a.p - b.p)) {
      lines.push(`<line x1="${f.left}" x2="${f.right}" y1="${r.p}" y2="${r.p}" stroke="#777" stroke-dasharray="4 4"/>`);
      const y = Math.max(r.p - 4, last + 16);
      last = y;
      labels.push(...labelBox(f.right - 4, y, r.label, "end"));
    }
  }
  return [...lines, ...labels];
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = 4;
  switch (kind) {
    case "circle": return `<circle cx="${px(x)}" cy="${px(y)}" r="${r}" fill="${color}"/>`;
    case "square": return `<rect x="${px(x - r)}" y="${px(y - r)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case "triangle": return `<path d="M${px(x)} ${px(y - r - 1)}L${px(x + r + 1)} ${px(y + r)}L${px(x - r - 1)} ${px(y + r)}Z" fill="${color}"/>`;
    case "diamond": return `<path d="M${px(x)} ${px(y - r - 1)}L${px(x + r + 1)} ${px(y)}L${px(x)} ${px(y + r + 1)}L${px(x - r - 1)} ${px(y)}Z" fill="${color}"/>`;
  }
}

function legend(f: Frame, entries: readonly { name: string; line?: boolean; i: number }[]): string[] {
  const x = f.right + 18;
  const out: string[] = [];
  entries.forEach((e, k) => {
    const y = f.top + 8 + k * 22;
    const color = PALETTE[e.i % PALETTE.length]!;
    if (e.line) {
      const dash = DASHES[e.i % DASHES.length];
      out.push(`<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
      out.push(marker(MARKERS[e.i % MARKERS.length]!, x + 13, y, color));
    } else {
      out.push(`<rect x="${x + 5}" y="${y - 7}" width="16" height="14" fill="${color}"/>`);
    }
    out.push(`<text x="${x + 34}" y="${y + 4}" fill="#111">${escapeXml(e.name)}</text>`);
  });
  return out;
}

export function lineChart(spec: LineChartSpec): string {
  if (spec.series.length === 0) throw new RangeError(`chart '${spec.title}' has no series`);
  const f = frameFor(spec, spec.series.map((s) => s.name));
  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = spec.series.flatMap((s) => s.points.map((p) => p.y));
  const x = makeScale(spec.x, [...xs, ...(spec.xRefs ?? []).map((r) => r.at).filter((v) => v >= Math.min(...xs) && v <= Math.max(...xs))], [f.left, f.right]);
  const y = makeScale(spec.y, [...ys, ...(spec.yRefs ?? []).map((r) => r.at)], [f.bottom, f.top]);
  const fmtX = spec.x.format ?? shortNumber;
  const out = header(f, spec.title, spec.subtitle);
  out.push(...yAxis(f, y, spec.y));
  // Labels too wide for the space between ticks: label every n-th tick only (every tick keeps its mark).
  const gaps = x.ticks.slice(1).map((t, i) => x(t) - x(x.ticks[i]!));
  const widest = Math.max(...x.ticks.map((t) => fmtX(t).length)) * 7 + 10;
  const every = gaps.length > 0 ? Math.max(1, Math.ceil(widest / Math.min(...gaps))) : 1;
  x.ticks.forEach((t, i) => {
    const xx = px(x(t));
    out.push(`<line x1="${xx}" x2="${xx}" y1="${f.top}" y2="${f.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${xx}" x2="${xx}" y1="${f.bottom}" y2="${f.bottom + 5}" stroke="#333"/>`);
    if (i % every === 0) out.push(`<text x="${xx}" y="${f.bottom + 20}" text-anchor="middle" fill="#222">${escapeXml(fmtX(t))}</text>`);
  });
  out.push(`<line x1="${f.left}" x2="${f.right}" y1="${f.bottom}" y2="${f.bottom}" stroke="#333"/>`);
  out.push(`<text x="${(f.left + f.right) / 2}" y="${f.height - 14}" text-anchor="middle" fill="#111">${escapeXml(axisTitle(spec.x))}</text>`);
  out.push(...refLines(f, spec.xRefs, x, true), ...refLines(f, spec.yRefs, y, false));
  spec.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const dash = DASHES[i % DASHES.length];
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (pts.length === 0) return;
    const d = pts.map((p, k) => `${k === 0 ? "M" : "L"}${px(x(p.x))} ${px(y(p.y))}`).join("");
    out.push(`<g><title>${escapeXml(s.name)}</title><path d="${d}" fill="none" stroke="${color}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
    for (const p of pts) out.push(marker(MARKERS[i % MARKERS.length]!, x(p.x), y(p.y), color));
    out.push("</g>");
  });
  out.push(...legend(f, spec.series.map((s, i) => ({ name: s.name, line: true, i }))));
  out.push("</svg>");
  return out.join("\n") + "\n";
}

export function barChart(spec: BarChartSpec): string {
  if (spec.series.length === 0 || spec.categories.length === 0) throw new RangeError(`chart '${spec.title}' has no bars`);
  for (const s of spec.series) {
    if (s.values.length !== spec.categories.length) {
      throw new RangeError(`series '${s.name}' has ${s.values.length} values for ${spec.categories.length} categories`);
    }
  }
  const f = frameFor(spec, spec.series.map((s) => s.name));
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const y = makeScale(spec.y, [...values, ...(spec.yRefs ?? []).map((r) => r.at)], [f.bottom, f.top], { zero: true });
  const fmt = spec.valueFormat ?? spec.y.format ?? shortNumber;
  const out = header(f, spec.title, spec.subtitle);
  out.push(...yAxis(f, y, spec.y));
  const groupW = (f.right - f.left) / spec.categories.length;
  const barW = Math.min(46, (groupW * 0.8) / spec.series.length);
  const base = spec.y.log ? f.bottom : px(y(Math.max(0, y.domain[0])));
  spec.categories.forEach((c, g) => {
    const cx = f.left + groupW * (g + 0.5);
    const lines = wrap(c, Math.max(8, Math.floor(groupW / 7.5)));
    lines.forEach((l, k) => out.push(`<text x="${px(cx)}" y="${f.bottom + 18 + k * 14}" text-anchor="middle" fill="#222">${escapeXml(l)}</text>`));
    spec.series.forEach((s, i) => {
      const v = s.values[g];
      if (v === null || v === undefined) return;
      const x0 = cx - (barW * spec.series.length) / 2 + i * barW;
      const top = px(y(v));
      const h = Math.max(0, px(base - top));
      out.push(`<rect x="${px(x0 + 1)}" y="${top}" width="${px(barW - 2)}" height="${h}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${s.name}, ${c}: ${fmt(v)}`)}</title></rect>`);
      out.push(`<text x="${px(x0 + barW / 2)}" y="${top - 4}" text-anchor="middle" font-size="11" fill="#222">${escapeXml(fmt(v))}</text>`);
    });
  });
  out.push(`<line x1="${f.left}" x2="${f.right}" y1="${f.bottom}" y2="${f.bottom}" stroke="#333"/>`);
  out.push(...refLines(f, spec.yRefs, y, false));
  out.push(...legend(f, spec.series.map((s, i) => ({ name: s.name, i }))));
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** Splits a category label into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.slice(0, 3);
}
