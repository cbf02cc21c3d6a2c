// The SVG chart module (bench/charts/svg.ts): well-formed output, ticks and scales, escaping, and
// clear errors for data a chart cannot show.
import { describe, expect, it } from "vitest";
import { barChart, escapeXml, lineChart, linearTicks, logTicks, makeScale, shortNumber } from "../../bench/charts/svg";
import { wellFormed } from "./xml";

const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe("the tick helpers", () => {
  it("steps linear ticks by 1, 2, 2.5 or 5 times a power of ten and covers the range", () => {
    expect(linearTicks(0, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(linearTicks(0, 1.5)).toEqual([0, 0.5, 1, 1.5]);
    const t = linearTicks(3.2, 7.9);
    expect(t[0]).toBeLessThanOrEqual(3.2);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(7.9);
    const steps = t.slice(1).map((v, i) => Number((v - t[i]!).toPrecision(6)));
    expect(new Set(steps).size).toBe(1);
    expect(() => linearTicks(5, 1)).toThrow(/reversed/);
  });

  it("puts log ticks on powers of ten, with 2 and 5 between them over few decades", () => {
    expect(logTicks(1, 100)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks(1, 1e6)).toEqual([1, 10, 100, 1000, 10000, 100000, 1000000]);
    expect(logTicks(3, 700)[0]).toBe(1);
    expect(() => logTicks(0, 10)).toThrow(/positive/);
  });

  it("maps values to pixels, linearly or logarithmically", () => {
    const lin = makeScale({ label: "x", min: 0, max: 10 }, [], [100, 200]);
    expect(lin(5)).toBeCloseTo(150);
    const log = makeScale({ label: "x", log: true, min: 1, max: 100 }, [], [0, 200]);
    expect(log(10)).toBeCloseTo(100);
    expect(log.ticks).toEqual([1, 2, 5, 10, 20, 50, 100]);
    // A bar axis starts at zero.
    expect(makeScale({ label: "y" }, [40, 90], [0, 1], { zero: true }).domain[0]).toBe(0);
  });

  it("prints short numbers", () => {
    expect([0, 1.5, 12, 250, 12_500, 3_400_000, 0.0123].map(shortNumber)).toEqual(["0", "1.5", "12", "250", "12.5k", "3.4M", "0.012"]);
  });
});

describe("lineChart", () => {
  const spec = {
    title: "Slowdown <by> \"mode\" & size",
    subtitle: "short run on A&B's machine",
    x: { label: "working set", unit: "MiB", log: true },
    y: { label: "slowdown", unit: "x", log: true },
    series: [
      { name: "sev", points: [{ x: 1, y: 1.1 }, { x: 16, y: 1.3 }, { x: 128, y: 800 }] },
      { name: "sgx <EPC>", points: [{ x: 1, y: 1.2 }, { x: 16, y: 1.4 }, { x: 128, y: 12000 }] },
    ],
    xRefs: [{ at: 32, label: "EPC 32 MiB" }],
    yRefs: [{ at: 1, label: "native" }],
  };

  it("is well-formed SVG with a title, axes with units, ticks, a legend and one path per series", () => {
    const svg = lineChart(spec);
    const names = wellFormed(svg);
    expect(names[0]).toBe("svg");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/);
    const t = texts(svg);
    expect(t).toContain("working set (MiB)");
    expect(t).toContain("slowdown (x)");
    // x from 1 to 128 widens to the decades 1..1000 (ticks 1, 3, 10, 30, ...); y to 1..100k.
    for (const tick of ["1", "10", "100", "10k"]) expect(t).toContain(tick);
    expect(t).toContain("EPC 32 MiB");
    expect(t).toContain("native");
    expect((svg.match(/<path d="M[^"]*" fill="none"/g) ?? []).length).toBe(2);
    expect(t).toContain("sev");
  });

  it("escapes every label", () => {
    const svg = lineChart(spec);
    expect(svg).not.toContain("<by>");
    expect(svg).not.toContain("sgx <EPC>");
    expect(svg).toContain("Slowdown &lt;by&gt; &quot;mode&quot; &amp; size");
    expect(svg).toContain("sgx &lt;EPC&gt;");
    expect(svg).toContain("A&amp;B&#39;s machine");
    expect(escapeXml(`<a href="x">&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  });

  it("uses the ticks and format it is given", () => {
    const svg = lineChart({ ...spec, x: { label: "working set", log: true, ticks: [1, 16, 128], format: (v) => `${v} MiB` } });
    const t = texts(svg);
    expect(t.filter((s) => s.endsWith(" MiB") && !s.startsWith("EPC"))).toEqual(["1 MiB", "16 MiB", "128 MiB"]);
  });

  it("refuses a log axis with a value that is not positive, and a chart with no series", () => {
    expect(() => lineChart({ ...spec, series: [{ name: "bad", points: [{ x: 1, y: 0 }] }] })).toThrow(/slowdown axis is logarithmic/);
    expect(() => lineChart({ ...spec, series: [] })).toThrow(/no series/);
  });
});

describe("barChart", () => {
  const spec = {
    title: "kv throughput",
    categories: ["SET, 50 clients", "GET, 50 clients"],
    series: [
      { name: "kv enclavisor", values: [40_000, 45_000] },
      { name: "redis-server", values: [90_000, null] },
    ],
    y: { label: "requests per second" },
  };

  it("is well-formed, starts at zero, labels each bar and leaves out a missing one", () => {
    const svg = barChart(spec);
    wellFormed(svg);
    const bars = svg.match(/<rect [^>]*fill="#[0-9A-F]{6}"><title>/g) ?? [];
    expect(bars).toHaveLength(3);
    const t = texts(svg);
    expect(t).toContain("0");
    expect(t).toEqual(expect.arrayContaining(["40k", "45k", "90k", "SET, 50 clients", "redis-server"]));
  });

  it("names a series whose values do not match the categories", () => {
    expect(() => barChart({ ...spec, series: [{ name: "short", values: [1] }] })).toThrow(/series 'short' has 1 values for 2 categories/);
  });
});

describe("the well-formedness check itself", () => {
  it("finds what it is there to find", () => {
    expect(() => wellFormed("<svg><text>a < b</text></svg>")).toThrow(/raw '<'|malformed/);
    expect(() => wellFormed("<svg><text>a & b</text></svg>")).toThrow(/raw '&'/);
    expect(() => wellFormed("<svg><g></svg>")).toThrow(/closes/);
    expect(() => wellFormed('<svg a="1" a="2"/>')).toThrow(/duplicate/);
    expect(wellFormed('<svg x="1"><g/></svg>')).toEqual(["svg", "g"]);
  });
});
