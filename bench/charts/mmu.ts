// The mmu suite's chart (bench/mmu.ts): the hit path's cost per kernel, rewritten against native.
import { barChart } from "./svg";
import { dig, subtitleOf } from "./chart";
import type { Chart, SuiteJson } from "./chart";

export function mmuCharts(j: SuiteJson): Chart[] {
  const kernels = dig(j.figures, "kernels") as { kernel: string; ratio: number }[] | undefined;
  if (!kernels || kernels.length === 0) return [];
  const geomean = dig(j.figures, "geomeanRatio") as number | undefined;
  const goal = dig(j.figures, "goalRatio") as number | undefined;
  const title = "Hit path: rewritten guest time / native, per kernel";
  return [{
    file: "mmu-hit-path.svg",
    title,
    svg: barChart({
      title,
      subtitle: subtitleOf(j),
      categories: kernels.map((k) => k.kernel),
      series: [{ name: "rewritten / native", values: kernels.map((k) => k.ratio) }],
      y: { label: "time per iteration, rewritten / native", unit: "x", min: 0, format: (v) => `${Number(v.toFixed(2))}x` },
      valueFormat: (v) => `${v.toFixed(3)}x`,
      yRefs: [
        { at: 1, label: "native" },
        ...(goal ? [{ at: goal, label: `goal ≤ ${goal}x` }] : []),
        ...(geomean ? [{ at: geomean, label: `geometric mean ${geomean.toFixed(3)}x` }] : []),
      ],
    }),
  }];
}
