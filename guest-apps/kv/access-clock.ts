// A record's access clock (Rec.access), as Redis keeps robj.lru (evict.c): under an LFU policy the
// last decrement time in minutes (16 bits) and a logarithmic access counter (8 bits); otherwise the
// LRU clock, seconds modulo 2^24. Both run on the host's clock (clock.ts), which the host controls:
// it can make a key look idle or busy, and so choose what is evicted, as it can end a TTL early.
//
// When it is updated departs from Redis on purpose. Redis updates it on every lookup. Here a read
// updates it only under an LRU or LFU maxmemory-policy, the only policies that rank by it, because
// writing it dirties the page of the value read, and under the software MMU every dirty page costs
// an encrypted write-back when it leaves the resident cache: a read of a paged-out value would cost
// a write miss instead of a read miss. (Redis skips the same update while a fork child is saving,
// to spare copy-on-write pages: db.c, lookupKey.) Writes always update it; so with another policy
// OBJECT IDLETIME tells the time since the last write or TOUCH.
import { now } from "./clock";
import { lfuDecayTime, lfuLogFactor, maxmemoryPolicy, policyIsLfu, policyIsLru } from "./config";
import { randomUnit } from "./random";
import { Rec } from "./record";

const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
const LRU_CLOCK_RESOLUTION: i64 = 1000;
/** A new key's LFU counter, so that it collects a few accesses before it is the first to go. */
const LFU_INIT_VAL: u32 = 5;

// @ts-ignore: decorator
@inline function lruClock(): u32 {
  return <u32>(now() / LRU_CLOCK_RESOLUTION) & LRU_CLOCK_MAX;
}

// @ts-ignore: decorator
@inline function minutes(): u32 {
  return <u32>(now() / 60000) & 0xffff;
}

/** The clock of a key made now. */
export function newAccess(): u32 {
  return policyIsLfu(maxmemoryPolicy) ? (minutes() << 8) | LFU_INIT_VAL : lruClock();
}

/** Reads update the clock only under these policies (see above). */
export function readsTouch(): bool {
  return policyIsLru(maxmemoryPolicy) || policyIsLfu(maxmemoryPolicy);
}

/** Records an access to `r` (Redis's updateLFU, or lru = LRU_CLOCK()); stores nothing if nothing changes. */
export function touch(r: Rec): void {
  let v: u32;
  if (policyIsLfu(maxmemoryPolicy)) v = (minutes() << 8) | lfuLogIncr(lfuDecrAndReturn(r));
  else v = lruClock();
  if (r.access != v) r.access = v;
}

/** Milliseconds since `r` was last accessed, at the clock's resolution (estimateObjectIdleTime). */
export function idleMs(r: Rec): u64 {
  const clock = <u64>lruClock();
  const at = <u64>(r.access & LRU_CLOCK_MAX);
  const ticks = clock >= at ? clock - at : clock + (<u64>LRU_CLOCK_MAX - at);
  return ticks * <u64>LRU_CLOCK_RESOLUTION;
}

/** `r`'s LFU counter after the decay due since its last decrement time (LFUDecrAndReturn). */
export function lfuDecrAndReturn(r: Rec): u32 {
  const ldt = r.access >> 8;
  const counter = r.access & 255;
  const t = minutes();
  const elapsed = t >= ldt ? t - ldt : 65535 - ldt + t;
  const periods = lfuDecayTime != 0 ? elapsed / <u32>lfuDecayTime : 0;
  if (periods == 0) return counter;
  return periods > counter ? 0 : counter - periods;
}

/** LFULogIncr: one more access, counted with probability 1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1). */
function lfuLogIncr(counter: u32): u32 {
  if (counter == 255) return 255;
  const base = counter > LFU_INIT_VAL ? <f64>(counter - LFU_INIT_VAL) : 0.0;
  return randomUnit() < 1.0 / (base * <f64>lfuLogFactor + 1.0) ? counter + 1 : counter;
}
