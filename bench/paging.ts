// The `paging` suite: the miss path of enclave memory (docs/architecture.md, "The path of one
// memory access", "Protection modes" and "What is measured"). Every part runs native and the
// protected modes side by side in one run, each round giving every subject one turn in rotating
// order; figures are medians of the rounds. Each part is a module of bench/paging/:
//   1. miss-path.ts: the miss path per page, for fill and write-back, in each mode, next to the
//      plain in-memory backing, the raw XTS page decrypt and encrypt of the sev suite's engine, and
//      a native read of a page. Faults are driven from the host through the guest's own MMU.
//   2. integrity-cache.ts: the integrity cache's hit rate against its size (enclavisor).
//   3. hit-path.ts: kernels.wasm's seq and random scan inside the resident cache, as the mmu suite
//      runs them, in every mode.
//   4. sweep.ts: working sets from 1 MiB up (128 MiB short, 1 GiB --full) with a 16 MiB resident
//      cache, scanned in order and at random by guest-apps/working-set.wasm: time per access,
//      slowdown; with the sgx preset as well, the paper's point of comparison: its EPC (32 MiB
//      short, 93 MiB --full) is crossed on the way, which shows the trade-off of SGX against SEV
//      and Enclavisor.
//   5. eviction-policy.ts: FIFO, random, CLOCK over emulated reference bits and LRU on traces of
//      page references, costed with part 1's miss and soft fault.
// Goals (goals.ts; printed as met / not met, never asserted): the enclavisor miss path against the
// raw one-page decrypt, enclavisor against sev, sev against the raw decrypt, and the slowdown of
// working sets past the cache.
import { loadGuest } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";
import { FULL, SEED, SHORT } from "./paging/config";
import { evictionPolicy } from "./paging/eviction-policy";
import { hitPath } from "./paging/hit-path";
import { integrityCache } from "./paging/integrity-cache";
import { missPath } from "./paging/miss-path";
import { report } from "./paging/report";
import { sweep } from "./paging/sweep";
import { CACHE_PAGES, TestBed } from "./paging/testbed";

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  const cfg = opts.full ? FULL : SHORT;
  const wsWasm = loadGuest("working-set.wasm");
  const kernelsWasm = loadGuest("kernels.wasm");
  const bed = new TestBed();
  // Launches rewrite through the rewrite cache; a private one, so that the code measured is what the
  // rewriter in the tree produces, never a binary cached by an older one (as bench/mmu.ts does).
  const userCacheDir = process.env.ENCLAVE_CACHE_DIR;
  process.env.ENCLAVE_CACHE_DIR = bed.rewriteCacheDir;
  try {
    const miss = await missPath(bed, wsWasm, cfg, opts.log);
    const integrity = await integrityCache(bed, wsWasm, cfg, opts.log);
    const hit = await hitPath(bed, kernelsWasm, cfg, opts.log);
    const sweepFigures = await sweep(bed, wsWasm, cfg, opts.log);
    const encl = miss.modes.enclavisor!;
    const eviction = evictionPolicy(CACHE_PAGES, cfg.policyAccesses, encl.misses["random read"].median, encl.softFault!.median, SEED);
    return report(cfg, { miss, integrity, hit, sweep: sweepFigures, eviction }, opts.log);
  } finally {
    if (userCacheDir === undefined) delete process.env.ENCLAVE_CACHE_DIR;
    else process.env.ENCLAVE_CACHE_DIR = userCacheDir;
    bed.close();
  }
}
