// When kv collects garbage. kv is built with AssemblyScript's `minimal` runtime (the asc-runtime
// line in kv.ts): a two-colour mark & sweep with no shadow stack, so a call does not spill its
// managed locals to linear memory (each spill a checked store under the software MMU). That
// collector runs only when called, and sees only the roots reachable from globals: it is safe only
// when no managed reference lives on the wasm stack alone, i.e. at the very end of an export. So
// every export ends with collectIfDue(), which collects once the bytes that moved through kv since
// the last collection (requests in, replies out: what garbage is made of) reach half the memory,
// so that a collection's cost (a mark of everything live) is paid back over as many bytes.
const MIN_BYTES: u64 = 1 << 20;

let traffic: u64 = 0;

/** Counts n bytes of work that may have left garbage (a request, a reply, a connection). */
export function charge(n: u64): void {
  traffic += n;
}

/** Collects if enough has been charged. Call only at the end of an export (see above). */
export function collectIfDue(): void {
  const due = max<u64>(MIN_BYTES, (<u64>memory.size() << 16) >> 1);
  if (traffic < due) return;
  collectNow();
}

/** Collects now: after work that dropped much at once (a restore replacing the store). */
export function collectNow(): void {
  traffic = 0;
  __collect();
}
