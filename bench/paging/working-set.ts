// The working-set guest (guest-apps/working-set.ts) launched in one configuration with its data
// written once, and the PRNG step that picks random pages and scan seeds in it.
import { PAGE_SIZE } from "../../host/page";
import type { Guest } from "../../host/wasm/guest";
import { timed } from "../harness";
import { SEED } from "./config";
import type { Instance, SweepKind, TestBed } from "./testbed";

interface WorkingSetExports {
  setup(bytes: number, seed: number): number;
  seqScan(start: number, count: number): number;
  randomScan(seed: number, count: number): number;
}

function workingSetExports(guest: Guest): WorkingSetExports {
  const e = guest.instance.exports as unknown as WorkingSetExports;
  if (typeof e.setup !== "function" || typeof e.seqScan !== "function" || typeof e.randomScan !== "function") {
    throw new Error("guest-apps/working-set.wasm does not export setup(), seqScan() and randomScan()");
  }
  return e;
}

/** A working-set guest with `bytes` of data, every page written once; the region in guest pages. */
export interface WorkingSet {
  inst: Instance;
  e: WorkingSetExports;
  firstPage: number;
  pages: number;
  words: number;
  /** Setup time (allocate, write every word, and page the region through the cache once) per page. */
  setupUsPerPage: number;
}

export async function workingSet(bed: TestBed, bytes: Uint8Array, kind: SweepKind, size: number, integrityCacheNodes?: number, epcPages?: number): Promise<WorkingSet> {
  const inst = await bed.launch(bytes, kind, integrityCacheNodes, epcPages);
  const e = workingSetExports(inst.guest);
  const t = timed(() => e.setup(size, SEED) >>> 0);
  return { inst, e, firstPage: t.value / PAGE_SIZE, pages: size / PAGE_SIZE, words: size / 4, setupUsPerPage: (t.ms * 1000) / (size / PAGE_SIZE) };
}

export function xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}
