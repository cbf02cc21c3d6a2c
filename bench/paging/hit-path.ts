// Part 3 of the paging suite: the hit path, kernels.wasm's seq and random scan with the working set
// inside the resident cache, run in every configuration as the mmu suite runs them.
import { fmtRatio, median, nowMs, pause, percentile, sideBySide, timed } from "../harness";
import type { Config } from "./config";
import { SEED } from "./config";
import { measuredRounds } from "./rounds";
import type { Measured } from "./rounds";
import { KINDS } from "./testbed";
import type { Instance, TestBed } from "./testbed";

interface KernelExports {
  setup(kernel: number, bytes: number, seed: number): void;
  step(kernel: number, iters: number): number;
}

export interface HitPathRow {
  kernel: string;
  itersPerChunk: number;
  chunksPerRound: number;
  /** ms per kernel iteration, per kind. */
  perKind: Record<string, Measured & { ratioToNative: number; ratioP25: number; ratioP75: number; faultsWhileTimed: number }>;
}

export async function hitPath(bed: TestBed, kernelsWasm: Uint8Array, cfg: Config, log: (line: string) => void): Promise<HitPathRow[]> {
  const rows: HitPathRow[] = [];
  for (const k of [{ id: "SEQ_SCAN", name: "seq scan" }, { id: "RANDOM_SCAN", name: "random scan" }]) {
    const insts: Instance[] = [];
    try {
      for (const kind of KINDS) insts.push(await bed.launch(kernelsWasm, kind));
      const g = insts[0]!.guest.instance.exports[k.id];
      if (!(g instanceof WebAssembly.Global)) throw new Error(`guest-apps/kernels.wasm does not export the kernel id ${k.id}`);
      const kernel = g.value as number;
      const es = insts.map((i) => i.guest.instance.exports as unknown as KernelExports);
      for (const e of es) {
        // As bench/mmu.ts: tier the kernel up on a small working set, then touch the real one.
        e.setup(kernel, 64 << 10, SEED);
        for (let pass = 0; pass < 2; pass++) {
          const end = nowMs() + 100;
          while (nowMs() < end) e.step(kernel, 1);
          await pause(20);
        }
        e.setup(kernel, cfg.hitBytes, SEED);
        e.step(kernel, 1);
      }
      const perIter = median([0, 1, 2].map(() => timed(() => es[0]!.step(kernel, 1)).ms));
      for (const e of es.slice(1)) for (let i = 0; i < 3; i++) e.step(kernel, 1); // the same calls everywhere
      const itersPerChunk = Math.max(1, Math.round(cfg.hitChunkMs / perIter));
      const chunksPerRound = Math.max(1, Math.round(cfg.hitRoundMs / (perIter * itersPerChunk)));
      const faults0 = insts.map((i) => i.mmu?.stats.faults ?? 0);
      const samples = await sideBySide(
        KINDS.map((kind, i) => ({ label: kind, run: () => es[i]!.step(kernel, itersPerChunk) })),
        {
          rounds: cfg.hitRounds, turns: chunksPerRound, units: itersPerChunk,
          onRound: (round, ms, results) => {
            const want = results[0]!.join();
            results.forEach((r, i) => {
              if (r.join() !== want) throw new Error(`hit path, ${k.name}: ${KINDS[i]} checksums differ from native in round ${round + 1}`);
            });
            log(`hit path, ${k.name}, round ${round + 1}/${cfg.hitRounds}: ` + KINDS.map((kind, i) => `${kind} ${fmtRatio(ms[i]! / ms[0]!)}`).join(", "));
          },
        },
      );
      const native = samples[0]!;
      rows.push({
        kernel: k.name, itersPerChunk, chunksPerRound,
        perKind: Object.fromEntries(KINDS.map((kind, i) => {
          const s = samples[i]!;
          const ratios = s.map((v, r) => v / native[r]!);
          return [kind, {
            ...measuredRounds(s, 1), ratioToNative: median(s) / median(native),
            ratioP25: percentile(ratios, 25), ratioP75: percentile(ratios, 75),
            faultsWhileTimed: (insts[i]!.mmu?.stats.faults ?? 0) - faults0[i]!,
          }];
        })),
      });
    } finally {
      for (const i of insts) i.destroy();
      bed.reset();
    }
  }
  return rows;
}
