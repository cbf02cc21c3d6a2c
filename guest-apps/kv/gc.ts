// When kv collects garbage. kv is built with AssemblyScript's `minimal` runtime (the asc-runtime
// line in kv.ts): a two-colour mark & sweep with no shadow stack, so a call does not spill its
// managed locals to linear memory (each spill a checked store under the software MMU). That
// collector runs only when called, and sees only the roots reachable from globals: it is safe only
// when no managed reference lives on the wasm stack alone, i.e. at the very end of an export. So
// every export that may leave garbage ends with collectIfDue().
//
// The store is not managed (record.ts, zmalloc.ts): the collector marks only the connections and a
// few tables, and garbage comes only from slow paths (error texts, INFO, KEYS and SCAN's lists), so
// a collection is cheap and its cost does not grow with the data. It runs once COLLECT_BYTES of
// requests and replies (a proxy for the work that may have made garbage) have passed since the last.
const COLLECT_BYTES: u64 = 1 << 20;

let traffic: u64 = 0;

/** Counts n bytes of work that may have left garbage (a request, a reply, a connection). */
export function charge(n: u64): void {
  traffic += n;
}

/** Collects if enough has been charged. Call only at the end of an export (see above). */
export function collectIfDue(): void {
  if (traffic < COLLECT_BYTES) return;
  traffic = 0;
  __collect();
}
