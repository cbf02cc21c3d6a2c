// The charts of each suite, from its results file: bench/main.ts calls chartsFor after a suite and
// for `--charts-only`. A suite without charts gives none.
import { bootCharts } from "./boot";
import type { Chart, SuiteJson } from "./chart";
import { integrityCharts } from "./integrity";
import { kvCharts, kvLargeCharts } from "./kv";
import { mmuCharts } from "./mmu";
import { pagingCharts } from "./paging";

const BY_SUITE: Record<string, (j: SuiteJson) => Chart[]> = {
  mmu: mmuCharts,
  paging: pagingCharts,
  integrity: integrityCharts,
  boot: bootCharts,
  kv: (j) => [...kvCharts(j), ...kvLargeCharts(j)],
};

export function chartsFor(j: SuiteJson): Chart[] {
  return BY_SUITE[j.suite]?.(j) ?? [];
}

export type { Chart, SuiteJson } from "./chart";
