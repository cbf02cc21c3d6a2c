import { describe, expect, it } from "vitest";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { instantiateGuest } from "../../host/wasm/guest";
import { FUEL_EXPORT, rewriteModule } from "../../host/wasm/rewrite";
import { wat } from "./wat";

const runaway = wat(`(module (memory 1)
  (global $n (export "n") (mut i32) (i32.const 0))
  (func (export "spin") (loop $l (global.set $n (i32.add (global.get $n) (i32.const 1))) (br $l)))
  (func $down (export "recurse") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0)) (else (call $down (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "sum") (param $k i32) (result i32) (local $i i32) (local $s i32)
    (loop $l (if (i32.lt_u (local.get $i) (local.get $k)) (then
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
      (local.set $s (i32.add (local.get $s) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))
    (local.get $s))
  )`);

type Fn = (...a: number[]) => number;

describe("fuel: a runaway guest is stopped, the host runs on", () => {
  it("stops an endless loop, stays stopped, and leaves results of honest work unchanged", async () => {
    const g = await instantiateGuest(runaway, {}, { rewrite: true, fuel: 100_000, cache: false });
    const ex = g.instance.exports as Record<string, Fn>;
    expect(ex.sum!(1000)).toBe(499500); // counted loops (range-checked and versioned) are metered too
    const before = g.fuelLeft()!;
    expect(before).toBeLessThan(100_000 - 1000);
    expect(() => ex.spin!()).toThrow(EnclaveStopped);
    expect(() => g.call("spin")).toThrow(expect.objectContaining({ reason: "fuel" }));
    const spins = (g.instance.exports.n as WebAssembly.Global).value as number;
    expect(spins).toBeGreaterThan(90_000); // it really ran until the fuel was gone
    expect(spins).toBeLessThan(100_000);
    expect(() => ex.spin!()).toThrow(/used up its fuel \(100000/);
    expect(() => ex.sum!(10)).toThrow(EnclaveStopped); // exhausted for good
    expect(g.stopped).toMatchObject({ reason: "fuel" });
    expect(g.fuelLeft()).toBeLessThanOrEqual(1);
  });

  it("meters calls too: deep recursion without loops runs out", async () => {
    const g = await instantiateGuest(runaway, {}, { rewrite: true, fuel: 500, cache: false });
    const ex = g.instance.exports as Record<string, Fn>;
    expect(ex.recurse!(100)).toBe(0);
    expect(() => ex.recurse!(1000)).toThrow(/^enclave stopped \(fuel\): the guest used up its fuel \(500 /);
  });

  it("meters the start function, and an unmetered guest carries no counter", async () => {
    const spinAtStart = wat(`(module (memory 1) (func $s (loop $l (br $l))) (start $s))`);
    await expect(instantiateGuest(spinAtStart, {}, { rewrite: true, fuel: 10_000, cache: false })).rejects.toThrow(EnclaveStopped);
    const plain = rewriteModule(runaway);
    expect(WebAssembly.Module.exports(new WebAssembly.Module(plain.binary as BufferSource)).map((e) => e.name)).not.toContain(FUEL_EXPORT);
    const metered = rewriteModule(runaway, { fuel: true });
    expect(WebAssembly.Module.exports(new WebAssembly.Module(metered.binary as BufferSource)).map((e) => e.name)).toContain(FUEL_EXPORT);
    await expect(instantiateGuest(runaway, {}, { rewrite: true, fuel: 0 })).rejects.toThrow(/positive integer/);
  });
});
