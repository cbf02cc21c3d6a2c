// Whether kv is replaying its append-only log (aof-loader.ts): commands then run without logging,
// eviction or stats, as Redis runs them from its fake client while loading.
export let loading = false;

export function setLoading(on: bool): void {
  loading = on;
}
