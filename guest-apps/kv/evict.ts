// maxmemory and its eviction policies (Redis 7.0 evict.c). Before each command, with maxmemory set
// and used_memory (zmalloc.ts) above it, keys are evicted by the policy until used_memory is back
// under the limit; under noeviction, or when the policy finds nothing to evict (a volatile policy
// with no key that has a TTL), the command is refused with -OOM if it may grow memory (commands.ts,
// the denyoom flag), while reads and deletes go on.
//
// What a snapshot being written holds is not counted (snapshotMemory): it goes when the snapshot
// ends, and the keys it keeps are out of the store already, so evicting more would not free it.
//
// The LRU, LFU and TTL policies sample maxmemory-samples keys (of all keys, or of those with a TTL)
// of every database into a pool of the 16 best candidates kept across rounds, and evict the best
// that still exists, as evictionPoolPopulate does. The pool holds table slot words (the key's hash and the record's
// address, table.ts), so that checking that a candidate still exists reads the table, not the
// record (a stale word left by a DEL, FLUSHALL or restore is simply not found), and its database.
// The random policies take one random key of the databases in turn.
//
// Departure: Redis stops a round after a time budget (maxmemory-eviction-tenacity, 500 µs by
// default) and goes on in a timer; the guest has no timer and no cheap clock, so a round evicts at
// most MAX_KEYS_PER_ROUND keys, and the next command's round goes on. A command that finds the
// eviction still running is not refused (Redis's EVICT_RUNNING).
import { anyWatch, touchKey } from "./multi";
import { idleMs, lfuDecrAndReturn } from "./access-clock";
import {
  POLICY_ALLKEYS_RANDOM, POLICY_NOEVICTION, POLICY_VOLATILE_RANDOM, maxmemory, maxmemoryPolicy,
  maxmemorySamples, policyIsAllKeys, policyIsLfu, policyIsLru,
} from "./config";
import { Rec, keyPtr } from "./record";
import { logEviction } from "./aof-feed";
import { DATABASES, dbAt } from "./server-state";
import { Db } from "./store";
import { holdsWord, randomWord, recOfWord, wordOf } from "./table";
import { snapshotMemory } from "./snapshot-writer";
import { usedMemory } from "./zmalloc";

export const EVICT_OK = 0, EVICT_RUNNING = 1, EVICT_FAIL = 2;

const MAX_KEYS_PER_ROUND = 64;
const POOL_SIZE = 16;
/** The pool: POOL_SIZE entries of (slot word u64, score u64), ascending by score; word 0 is empty. */
const pool = memory.data(POOL_SIZE * 16);
/** Each pool entry's database. */
const poolDb = new StaticArray<i32>(POOL_SIZE);
/** The database of the victim pickVictim returned, and where the random policies look next. */
let victimDb: i32 = 0;
let nextDb: i32 = 0;

/** Keys evicted since start, or since CONFIG RESETSTAT (INFO evicted_keys). */
export let evictedKeys: i64 = 0;

export function resetEvictedKeys(): void {
  evictedKeys = 0;
}

// @ts-ignore: decorator
@inline function poolWord(k: i32): u64 {
  return load<u64>(pool + (<usize>k << 4));
}

// @ts-ignore: decorator
@inline function poolScore(k: i32): u64 {
  return load<u64>(pool + (<usize>k << 4), 8);
}

// @ts-ignore: decorator
@inline function setPool(k: i32, word: u64, score: u64, at: i32): void {
  store<u64>(pool + (<usize>k << 4), word);
  store<u64>(pool + (<usize>k << 4), score, 8);
  unchecked((poolDb[k] = at));
}

/** used_memory is over maxmemory: evicts by the policy. EVICT_OK once under it. */
export function performEvictions(): i32 {
  const used = countedMemory();
  if (maxmemory == 0 || used <= maxmemory) return EVICT_OK;
  if (maxmemoryPolicy == POLICY_NOEVICTION) return EVICT_FAIL;
  const toFree = used - maxmemory;
  let freed: u64 = 0;
  for (let keys = 0; freed < toFree; keys++) {
    if (keys == MAX_KEYS_PER_ROUND) return EVICT_RUNNING;
    const victim = pickVictim();
    if (victim == null) return EVICT_FAIL;
    const before = countedMemory();
    logEviction(keyPtr(victim), victim.keyLen, victimDb);
    if (anyWatch()) touchKey(keyPtr(victim), victim.keyLen, victimDb);
    dbAt(victimDb).remove(victim);
    const after = countedMemory();
    if (before > after) freed += before - after;
    evictedKeys++;
  }
  return EVICT_OK;
}

/** used_memory less what maxmemory does not count (INFO mem_not_counted_for_evict). */
function countedMemory(): u64 {
  const used = usedMemory();
  const notCounted = snapshotMemory();
  return used > notCounted ? used - notCounted : 0;
}

function pickVictim(): Rec | null {
  const policy = maxmemoryPolicy;
  if (policy == POLICY_ALLKEYS_RANDOM || policy == POLICY_VOLATILE_RANDOM) {
    for (let k = 0; k < DATABASES; k++) {
      const i = (nextDb + k) % DATABASES;
      const d = dbAt(i);
      if ((policy == POLICY_ALLKEYS_RANDOM ? d.keys.count : d.expiringCount) == 0) continue;
      nextDb = (i + 1) % DATABASES;
      victimDb = i;
      return policy == POLICY_ALLKEYS_RANDOM ? recOfWord(randomWord(d.keys)) : d.randomExpiring();
    }
    return null;
  }
  while (true) {
    let sampled = false;
    for (let i = 0; i < DATABASES; i++) {
      const d = dbAt(i);
      if ((policyIsAllKeys(policy) ? d.keys.count : d.expiringCount) == 0) continue;
      populate(policy, d, i);
      sampled = true;
    }
    if (!sampled) return null;
    for (let k = POOL_SIZE - 1; k >= 0; k--) {
      const word = poolWord(k);
      if (word == 0) continue;
      setPool(k, 0, 0, 0);
      const at = unchecked(poolDb[k]);
      if (!holdsWord(dbAt(at).keys, word)) continue; // a ghost: deleted since it was sampled
      const r = recOfWord(word);
      if (policyIsAllKeys(policy) || r.expireAt != 0) {
        victimDb = at;
        return r;
      }
    }
  }
}

/** Samples maxmemory-samples keys of database `d` (index `at`) into the pool (evictionPoolPopulate). */
function populate(policy: i32, d: Db, at: i32): void {
  const allKeys = policyIsAllKeys(policy);
  for (let j = 0; j < maxmemorySamples; j++) {
    let word: u64;
    let r: Rec;
    if (allKeys) {
      word = randomWord(d.keys);
      r = recOfWord(word);
    } else {
      r = changetype<Rec>(d.randomExpiring());
      word = wordOf(r);
    }
    let score: u64;
    if (policyIsLru(policy)) score = idleMs(r);
    else if (policyIsLfu(policy)) score = 255 - <u64>lfuDecrAndReturn(r);
    else score = u64.MAX_VALUE - <u64>r.expireAt; // POLICY_VOLATILE_TTL: the sooner it expires, the better
    insert(word, score, at);
  }
}

function insert(word: u64, score: u64, at: i32): void {
  for (let i = 0; i < POOL_SIZE; i++) if (poolWord(i) == word) return; // sampled twice
  let k = 0;
  while (k < POOL_SIZE && poolWord(k) != 0 && poolScore(k) < score) k++;
  if (k == 0 && poolWord(POOL_SIZE - 1) != 0) return; // worse than every candidate, and no room
  if (k < POOL_SIZE && poolWord(k) == 0) {
    // an empty entry
  } else if (poolWord(POOL_SIZE - 1) == 0) {
    memory.copy(pool + (<usize>(k + 1) << 4), pool + (<usize>k << 4), <usize>(POOL_SIZE - k - 1) << 4); // room on the right
    for (let i = POOL_SIZE - 1; i > k; i--) unchecked((poolDb[i] = poolDb[i - 1]));
  } else {
    k--; // full: drop the worst candidate, on the left
    memory.copy(pool, pool + 16, <usize>k << 4);
    for (let i = 0; i < k; i++) unchecked((poolDb[i] = poolDb[i + 1]));
  }
  setPool(k, word, score, at);
}
