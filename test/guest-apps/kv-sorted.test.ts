// kv's sets and sorted sets (guest-apps/kv/cmd-sets.ts, cmd-zsets.ts, zset.ts, float-text.ts) against
// models in plain TypeScript: random command sequences whose every reply must match the model's, the
// skiplist's ranks and ranges included, and scores printed as C's "%.17g" prints them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchKv } from "./fixtures/kv";
import type { KvDriver, Reply } from "./fixtures/kv";

/** A seeded generator (mulberry32), so that a failure repeats. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** printf("%.17g") (C11 7.21.6.1): the exact decimal value (BigInt), rounded to 17 digits, ties to even. */
export function g17(v: number): string {
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const sign = v < 0 ? "-" : "";
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(v));
  const bits = view.getBigUint64(0);
  let e = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  if (e === 0) e = -1074;
  else {
    m |= 1n << 52n;
    e -= 1075;
  }
  let digits = e >= 0 ? (m << BigInt(e)).toString() : (m * 5n ** BigInt(-e)).toString();
  let point = e >= 0 ? digits.length : digits.length + e; // digits before the decimal point
  if (digits.length > 17) {
    const rest = digits.slice(17);
    let kept = BigInt(digits.slice(0, 17));
    const half = rest[0]! > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || kept % 2n === 1n));
    if (half) kept += 1n;
    digits = kept.toString();
    if (digits.length > 17) { // 99...9 rounded up
      digits = digits.slice(0, 17);
      point++;
    }
  }
  digits = digits.replace(/0+$/, "") || "0";
  const x = point - 1;
  if (x < -4 || x >= 17) {
    const m2 = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m2}e${x < 0 ? "-" : "+"}${String(Math.abs(x)).padStart(2, "0")}`;
  }
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (digits.length <= point) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** A double from random bits: any sign, exponent and mantissa (no NaN, no infinity). */
function randomDouble(r: () => number): number {
  const view = new DataView(new ArrayBuffer(8));
  for (;;) {
    view.setUint32(0, Math.floor(r() * 2 ** 32));
    view.setUint32(4, Math.floor(r() * 2 ** 32));
    const v = view.getFloat64(0);
    if (Number.isFinite(v)) return v;
  }
}

describe("kv sets and sorted sets", () => {
  let kv: KvDriver;
  let conn: number;
  const call = (...args: string[]): Reply => kv.call(conn, ...args);

  beforeAll(async () => {
    kv = await launchKv("native");
    conn = kv.open();
  });
  afterAll(() => kv.enclave.destroy());
  afterEach(() => {
    expect(call("FLUSHALL")).toEqual({ status: "OK" });
  });

  it("prints scores as %.17g and reads back every double it prints", () => {
    const r = rng(17);
    const values = [0.1, 1 / 3, 2 / 3, 1e-5, 1e-4, 123456.789, 1e16, 1e17, 9007199254740993, 5e-324, 1.7976931348623157e308, -0.0, 0.5];
    for (let i = 0; i < 2000; i++) values.push(randomDouble(r));
    for (let i = 0; i < 500; i++) values.push((r() - 0.5) * 10 ** Math.floor(r() * 40 - 20));
    for (const [i, v] of values.entries()) {
      // The shortest text that reads back as v, and the 17-digit one: both must parse to v exactly.
      expect(call("ZADD", "z", Object.is(v, -0) ? "-0" : String(v), `m${i}`)).toBe(1);
      const printed = call("ZSCORE", "z", `m${i}`) as string;
      expect(printed, `ZSCORE of ${String(v)}`).toBe(g17(v));
      expect(call("ZADD", "z", "CH", printed, `m${i}`), `reading ${printed}`).toBe(0); // the same score: no change
      expect(call("ZADD", "z", "CH", v.toExponential(20), `m${i}`)).toBe(0);
    }
    expect(call("ZADD", "z", "1e400", "x")).toEqual({ error: "ERR value is not a valid float" }); // overflows: ERANGE
    expect(call("ZADD", "z", "1e-400", "x")).toEqual({ error: "ERR value is not a valid float" }); // underflows to 0: ERANGE
    expect(call("ZADD", "z", " 1", "x")).toEqual({ error: "ERR value is not a valid float" });
    expect(call("ZADD", "z", "Infinity", "x")).toBe(1);
    // A range's bounds are read as strtod reads them: a leading space, and overflow to infinity.
    expect(call("ZADD", "y", "5", "a")).toBe(1);
    expect(call("ZCOUNT", "y", "( -1e400", " 1e400")).toBe(1);
    expect(call("ZCOUNT", "y", "(5", "+inf")).toBe(0);
    expect(call("ZCOUNT", "y", "x", "+inf")).toEqual({ error: "ERR min or max is not a float" });
  });

  it("keeps a sorted set's order, ranks and ranges as a model does, through random adds, updates and removals", () => {
    const r = rng(5);
    const model = new Map<string, number>();
    const sorted = () =>
      [...model.entries()].sort(([ma, sa], [mb, sb]) => sa - sb || (Buffer.compare(Buffer.from(ma), Buffer.from(mb))));
    const scores = [-2, -1, 0, 0, 1, 1, 1, 2.5, 3, 10, -Infinity, Infinity];
    for (let step = 0; step < 3000; step++) {
      const m = `m${Math.floor(r() * 300)}`;
      const s = scores[Math.floor(r() * scores.length)]!;
      const op = r();
      if (op < 0.45) {
        const had = model.has(m);
        expect(call("ZADD", "z", g17(s), m)).toBe(had ? 0 : 1);
        model.set(m, s);
      } else if (op < 0.6) {
        const next = (model.get(m) ?? 0) + s;
        if (Number.isNaN(next)) {
          expect(call("ZINCRBY", "z", g17(s), m)).toEqual({ error: "ERR resulting score is not a number (NaN)" });
        } else {
          expect(call("ZINCRBY", "z", g17(s), m)).toBe(g17(next));
          model.set(m, next);
        }
      } else if (op < 0.75) {
        expect(call("ZREM", "z", m)).toBe(model.delete(m) ? 1 : 0);
      } else if (op < 0.85) {
        const list = sorted();
        const rank = list.findIndex(([k]) => k === m);
        expect(call("ZRANK", "z", m)).toBe(rank < 0 ? null : rank);
        expect(call("ZREVRANK", "z", m)).toBe(rank < 0 ? null : list.length - 1 - rank);
      } else if (op < 0.95) {
        const list = sorted();
        const [a, b] = [Math.floor(r() * 40) - 20, Math.floor(r() * 40) - 20];
        const norm = (i: number) => (i < 0 ? list.length + i : i);
        const from = Math.max(0, norm(a));
        const to = Math.min(list.length - 1, norm(b));
        const want = from > to || from >= list.length ? [] : list.slice(from, to + 1).map(([k]) => k);
        expect(call("ZRANGE", "z", String(a), String(b))).toEqual(want);
        const lo = scores[Math.floor(r() * scores.length)]!;
        const hi = scores[Math.floor(r() * scores.length)]!;
        const inRange = list.filter(([, v]) => v > lo && v <= hi);
        expect(call("ZCOUNT", "z", `(${g17(lo)}`, g17(hi))).toBe(inRange.length);
        expect(call("ZRANGEBYSCORE", "z", `(${g17(lo)}`, g17(hi), "LIMIT", "1", "3")).toEqual(inRange.slice(1, 4).map(([k]) => k));
        expect(call("ZREVRANGEBYSCORE", "z", g17(hi), `(${g17(lo)}`)).toEqual(inRange.map(([k]) => k).reverse());
      } else {
        const list = sorted();
        const n = Math.floor(r() * 3);
        const popped = list.slice(0, n);
        expect(call("ZPOPMIN", "z", String(n))).toEqual(popped.flatMap(([k, v]) => [k, g17(v)]));
        for (const [k] of popped) model.delete(k);
      }
      if (step % 500 === 0) expect(call("ZCARD", "z")).toBe(model.size);
    }
    expect(call("ZRANGE", "z", "0", "-1", "WITHSCORES")).toEqual(sorted().flatMap(([k, v]) => [k, g17(v)]));
  });

  it("answers set algebra as a model does, and stores it under any key, a source included", () => {
    const r = rng(9);
    const sets: Set<string>[] = [];
    for (let k = 0; k < 4; k++) {
      const s = new Set<string>();
      for (let i = 0; i < 40; i++) s.add(String(Math.floor(r() * 60)));
      if (k === 3) s.add("not-a-number");
      sets.push(s);
      expect(call("SADD", `s${k}`, ...s)).toBe(s.size);
    }
    expect(call("OBJECT", "ENCODING", "s0")).toBe("intset");
    expect(call("OBJECT", "ENCODING", "s3")).toBe("hashtable");
    const inter = [...sets[0]!].filter((m) => sets[1]!.has(m) && sets[2]!.has(m));
    const union = new Set([...sets[0]!, ...sets[1]!, ...sets[3]!]);
    const diff = [...sets[0]!].filter((m) => !sets[1]!.has(m));
    const asc = (xs: Iterable<string>) => [...xs].map(Number).sort((a, b) => a - b).map(String);
    expect(call("SINTER", "s0", "s1", "s2")).toEqual(asc(inter)); // the smallest is an intset: ascending
    expect(call("SINTERCARD", "3", "s0", "s1", "s2")).toBe(inter.length);
    expect(new Set(call("SUNION", "s0", "s1", "s3") as string[])).toEqual(union);
    expect(call("SDIFF", "s0", "s1")).toEqual(asc(diff));
    expect(call("SDIFFSTORE", "s0", "s0", "s1")).toBe(diff.length); // into one of its sources
    expect(call("SMEMBERS", "s0")).toEqual(asc(diff));
    expect(call("SUNIONSTORE", "u", "s0", "s3")).toBe(new Set([...diff, ...sets[3]!]).size);
    expect(call("SINTERSTORE", "u", "s0", "missing")).toBe(0);
    expect(call("EXISTS", "u")).toBe(0);
    // SPOP takes what it answers, and SRANDMEMBER's members are the set's, distinct unless the count is negative.
    const before = new Set(call("SMEMBERS", "s1") as string[]);
    const popped = call("SPOP", "s1", "5") as string[];
    expect(popped.length).toBe(5);
    for (const m of popped) {
      expect(before.has(m)).toBe(true);
      expect(call("SISMEMBER", "s1", m)).toBe(0);
    }
    const picked = call("SRANDMEMBER", "s1", "10") as string[];
    expect(new Set(picked).size).toBe(10);
    expect((call("SRANDMEMBER", "s1", "-100") as string[]).length).toBe(100);
    // SSCAN visits every member, whatever the encoding.
    for (const key of ["s1", "s3"]) {
      const seen = new Set<string>();
      let cursor = "0";
      do {
        const [next, batch] = call("SSCAN", key, cursor, "COUNT", "3") as [string, string[]];
        for (const m of batch) seen.add(m);
        cursor = next;
      } while (cursor !== "0");
      expect(seen).toEqual(new Set(call("SMEMBERS", key) as string[]));
    }
  });

  it("combines sorted sets and sets with weights and aggregates, as ZUNIONSTORE and ZINTERSTORE do", () => {
    expect(call("ZADD", "a", "1", "x", "2", "y", "3", "z")).toBe(3);
    expect(call("ZADD", "b", "10", "y", "20", "z", "30", "w")).toBe(3);
    expect(call("SADD", "s", "z", "w")).toBe(2);
    expect(call("ZUNION", "2", "a", "b", "WITHSCORES")).toEqual(["x", "1", "y", "12", "z", "23", "w", "30"]);
    expect(call("ZINTER", "3", "a", "b", "s", "WEIGHTS", "1", "0.5", "4", "AGGREGATE", "MIN", "WITHSCORES")).toEqual(["z", "3"]);
    expect(call("ZADD", "inf", "inf", "x", "-inf", "y")).toBe(2);
    expect(call("ZUNION", "2", "inf", "inf", "WEIGHTS", "1", "-1", "WITHSCORES")).toEqual(["x", "0", "y", "0"]); // inf - inf: 0
    expect(call("ZINTERSTORE", "a", "2", "a", "b")).toBe(2); // into a source
    expect(call("ZRANGE", "a", "0", "-1", "WITHSCORES")).toEqual(["y", "12", "z", "23"]);
    expect(call("ZDIFFSTORE", "d", "2", "b", "a")).toBe(1);
    expect(call("ZRANGE", "d", "0", "-1", "WITHSCORES")).toEqual(["w", "30"]);
    expect(call("ZINTERCARD", "2", "b", "s", "LIMIT", "1")).toBe(1);
    expect(call("ZUNIONSTORE", "d", "1", "missing")).toBe(0);
    expect(call("EXISTS", "d")).toBe(0);
    expect(call("ZUNIONSTORE", "d", "0", "a")).toEqual({ error: "ERR at least 1 input key is needed for 'zunionstore' command" });
    expect(call("ZRANGESTORE", "r", "b", "(10", "+inf", "BYSCORE", "LIMIT", "0", "1")).toBe(1);
    expect(call("ZRANGE", "r", "0", "-1", "WITHSCORES")).toEqual(["z", "20"]);
    expect(call("OBJECT", "ENCODING", "r")).toBe("listpack");
    expect(call("CONFIG", "SET", "zset-max-listpack-entries", "1")).toEqual({ status: "OK" });
    expect(call("ZADD", "r", "1", "q")).toBe(1);
    expect(call("OBJECT", "ENCODING", "r")).toBe("skiplist");
    expect(call("CONFIG", "SET", "zset-max-listpack-entries", "128")).toEqual({ status: "OK" });
  });
});
