// How much memory kv's own heap (page-heap.ts) may grow: the enclave's memory limit, as the host
// passes it (set_limits, from its --memory-limit; without one the 4 GiB of a 32-bit Wasm memory),
// less what is not the heap's (the static data, the shared channel, the runtime's GC heap) and a
// reserve for the GC heap to grow into. kv's data then never grows the memory past the limit: an
// allocation that would is refused and the request answered -OOM, where the limit itself would
// stop the enclave. The host can pass a limit larger than the real one, or smaller: either only
// changes when kv says -OOM, which the host decides anyway by refusing to serve.
import { heapFootprint, setHeapLimit } from "./page-heap";

/** Room kept for the GC heap (TLSF): grown once at start, so that the GC rarely grows the memory later. */
const GC_RESERVE: usize = 4 << 20;
const WASM32_BYTES: u64 = 1 << 32;

let reserved = false;

/** Sets the heap's limit from the enclave's memory limit in 4 KiB pages (0: none). */
export function setMemoryLimit(pages: u32): void {
  if (!reserved) {
    heap.free(heap.alloc(GC_RESERVE)); // the GC heap's reserve, below the data heap's first region
    reserved = true;
  }
  const limit = pages == 0 ? WASM32_BYTES : min<u64>(<u64>pages << 12, WASM32_BYTES);
  const others = (<u64>memory.size() << 16) - heapFootprint();
  setHeapLimit(limit > others + GC_RESERVE ? limit - others - GC_RESERVE : 0);
}
