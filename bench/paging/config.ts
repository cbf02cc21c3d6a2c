// The paging suite's sizes, rounds and timing: the short run and the long one (--full).
import { PAGE_SIZE } from "../../host/page";
import { DEFAULT_EPC_PAGES } from "../../host/sgx/epc";

export const MiB = 2 ** 20;
export const SEED = 0x5eed;

export interface Config {
  rounds: number;
  /** Minimum time of one subject's turn in a round. */
  turnMs: number;
  /** Working set of parts 1 and 2: four times the resident cache, so every fault misses. */
  missPathBytes: number;
  integrityCacheNodes: readonly number[];
  /** Working set of part 2: the tree's leaf nodes it spans set the cache sizes worth measuring. */
  integrityBytes: number;
  /** Part 3: the mmu suite's working set and timing. */
  hitBytes: number;
  hitRounds: number;
  hitChunkMs: number;
  hitRoundMs: number;
  /** Part 4. */
  sweepMiB: readonly number[];
  /** The sgx preset's EPC in part 4: smaller in the short run, so that its working sets cross it. */
  sweepEpcPages: number;
  sweepRounds: number;
  sweepTurnMs: number;
  /** Part 5: page references per trace and policy. */
  policyAccesses: number;
}

export const SHORT: Config = {
  rounds: 7, turnMs: 40, missPathBytes: 64 * MiB, integrityCacheNodes: [16, 64, 128, 256, 512, 1024, 4096], integrityBytes: 64 * MiB,
  hitBytes: 4 * MiB, hitRounds: 7, hitChunkMs: 15, hitRoundMs: 150,
  sweepMiB: [1, 2, 4, 8, 16, 32, 64, 128], sweepEpcPages: (32 * MiB) / PAGE_SIZE, sweepRounds: 5, sweepTurnMs: 30,
  policyAccesses: 1_000_000,
};
export const FULL: Config = {
  rounds: 11, turnMs: 100, missPathBytes: 64 * MiB, integrityCacheNodes: [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384],
  integrityBytes: 256 * MiB,
  hitBytes: 12 * MiB, hitRounds: 11, hitChunkMs: 25, hitRoundMs: 500,
  sweepMiB: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], sweepEpcPages: DEFAULT_EPC_PAGES, sweepRounds: 7, sweepTurnMs: 80,
  policyAccesses: 4_000_000,
};
