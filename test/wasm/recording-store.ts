// Test fixture: a backing store that records what the MMU asks of it, to observe the MMU from
// outside.
import { MemoryPageStore } from "../../host/wasm/page-backing";
import type { PageBacking } from "../../host/wasm/page-backing";

export class RecordingStore implements PageBacking {
  readonly inner = new MemoryPageStore();
  readonly stopped = null;
  readonly writes: number[] = [];
  /** Pages loaded with stored contents (a first touch loads nothing). */
  readonly fills: number[] = [];
  /** Every load the MMU asked for: one per miss. */
  readonly loads: number[] = [];
  load(page: number, dst: Uint8Array): boolean {
    this.loads.push(page);
    const stored = this.inner.load(page, dst);
    if (stored) this.fills.push(page);
    return stored;
  }
  store(page: number, src: Uint8Array): void {
    this.writes.push(page);
    this.inner.store(page, src);
  }
}

/** A recording store that also takes batches, and records them: runs as [first, count], store batches as their pages. */
export class BatchRecordingStore extends RecordingStore {
  readonly runs: [number, number][] = [];
  readonly storeBatches: number[][] = [];
  loadRun(first: number, count: number, dst: Uint8Array, stored: Uint8Array): void {
    this.runs.push([first, count]);
    this.inner.loadRun(first, count, dst, stored);
    for (let k = 0; k < count; k++) if (stored[k]) this.fills.push(first + k);
  }
  storeMany(pages: readonly number[], srcs: readonly Uint8Array[]): void {
    this.storeBatches.push([...pages]);
    this.writes.push(...pages);
    this.inner.storeMany(pages, srcs);
  }
}
