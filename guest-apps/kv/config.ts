// The settings CONFIG SET changes at run time (Redis 7.0 config.c: their names, defaults, bounds and
// value syntax), kept apart from the commands so that the store and the eviction code read them
// without importing the command layer.

/** Redis's `databases` default, fixed at start in Redis too (an immutable config). */
export const DATABASES: i32 = 16;

/** maxmemory-policy values, in the order of Redis's maxmemory_policy_enum (its error text lists them so). */
export const POLICY_VOLATILE_LRU = 0, POLICY_VOLATILE_LFU = 1, POLICY_VOLATILE_RANDOM = 2, POLICY_VOLATILE_TTL = 3,
  POLICY_ALLKEYS_LRU = 4, POLICY_ALLKEYS_LFU = 5, POLICY_ALLKEYS_RANDOM = 6, POLICY_NOEVICTION = 7;
export const POLICY_NAMES: string[] = [
  "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
];

/** Bytes of used_memory above which keys are evicted or writes refused; 0: no limit. */
export let maxmemory: u64 = 0;
export let maxmemoryPolicy: i32 = POLICY_NOEVICTION;
/** Keys sampled per eviction round (Redis's maxmemory-samples: 1 to INT_MAX, default 5). */
export let maxmemorySamples: i32 = 5;
/** LFU counter growth (lfu-log-factor, default 10) and decay period in minutes (lfu-decay-time, default 1). */
export let lfuLogFactor: i32 = 10;
export let lfuDecayTime: i32 = 1;

// @ts-ignore: decorator
@inline export function policyIsLfu(p: i32): bool {
  return p == POLICY_VOLATILE_LFU || p == POLICY_ALLKEYS_LFU;
}

// @ts-ignore: decorator
@inline export function policyIsLru(p: i32): bool {
  return p == POLICY_VOLATILE_LRU || p == POLICY_ALLKEYS_LRU;
}

// @ts-ignore: decorator
@inline export function policyIsAllKeys(p: i32): bool {
  return p >= POLICY_ALLKEYS_LRU && p <= POLICY_ALLKEYS_RANDOM;
}

export function setMaxmemory(v: u64): void {
  maxmemory = v;
}

export function setMaxmemoryPolicy(p: i32): void {
  maxmemoryPolicy = p;
}

export function setMaxmemorySamples(n: i32): void {
  maxmemorySamples = n;
}

export function setLfuLogFactor(n: i32): void {
  lfuLogFactor = n;
}

export function setLfuDecayTime(n: i32): void {
  lfuDecayTime = n;
}

/** The value parsed by the last successful parseMemory. */
export let parsedMemory: u64 = 0;

/**
 * Redis's memtoull (util.c): digits, then an optional unit, case-insensitive: b (1), k (1000), kb
 * (1024), m, mb, g, gb. No sign, no spaces; an empty digit string is 0, as strtoull gives.
 */
export function parseMemory(s: string): bool {
  let i = 0;
  let v: u64 = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    const d = <u64>(c - 0x30);
    if (v > (u64.MAX_VALUE - d) / 10) return false;
    v = v * 10 + d;
    i++;
  }
  const unit = s.substring(i).toLowerCase();
  let mul: u64 = 0;
  if (unit == "" || unit == "b") mul = 1;
  else if (unit == "k") mul = 1000;
  else if (unit == "kb") mul = 1024;
  else if (unit == "m") mul = 1000 * 1000;
  else if (unit == "mb") mul = 1024 * 1024;
  else if (unit == "g") mul = 1000 * 1000 * 1000;
  else if (unit == "gb") mul = 1024 * 1024 * 1024;
  else return false;
  parsedMemory = v * mul; // wraps as Redis's val*mul does
  return true;
}

// client-output-buffer-limit (networking.c, checkClientOutputBufferLimits): per client class, a
// hard limit in bytes (over it the client is closed at once), a soft limit and how many seconds
// the output may stay over it. Redis's defaults; kv has normal clients only so far, and keeps the
// other classes' values for CONFIG GET and SET.
export const OBUF_CLASSES: string[] = ["normal", "slave", "pubsub"];
export const obufHard: StaticArray<u64> = [0, 256 << 20, 32 << 20];
export const obufSoft: StaticArray<u64> = [0, 64 << 20, 8 << 20];
export const obufSeconds: StaticArray<i64> = [0, 60, 60];

/** client-query-buffer-limit: a client whose unprocessed input passes it is closed (default 1 GiB). */
export let queryBufferLimit: u64 = 1 << 30;

export function setQueryBufferLimit(v: u64): void {
  queryBufferLimit = v;
}
