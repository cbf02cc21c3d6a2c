import { describe, expect, it } from "vitest";
import { rewriteModule, RewriteError } from "../../host/wasm/rewrite";
import { instantiateGuest } from "../../host/wasm/guest";
import type { Guest } from "../../host/wasm/guest";
import { BASE, RESERVED_WASM_PAGES } from "../../host/wasm/layout";
import { SoftMmu, minCapacityFor } from "../../host/wasm/mmu";
import { wat } from "./wat";

type Fn = (...args: number[]) => number;
const fn = (g: Guest, name: string): Fn => g.instance.exports[name] as Fn;

/** Instantiates both ways; the rewritten one with the smallest resident set it accepts, so that faults really happen. */
async function both(bytes: Uint8Array, imports: WebAssembly.Imports = {}): Promise<[Guest, Guest]> {
  const capacityPages = minCapacityFor(rewriteModule(bytes));
  return [
    await instantiateGuest(bytes, imports, { rewrite: false }),
    await instantiateGuest(bytes, imports, { rewrite: true, capacityPages, cache: false }),
  ];
}

function outcome(f: () => unknown): unknown {
  try {
    const v = f();
    return typeof v === "bigint" ? `${v}n` : v;
  } catch (e) {
    return e instanceof WebAssembly.RuntimeError ? `trap: ${e.message}` : `error: ${String(e)}`;
  }
}

describe("rewriter: refusals and pass-through", () => {
  it("passes a module without memory through unchanged", () => {
    const bytes = wat(`(module (func (export "f") (result i32) i32.const 7))`);
    const r = rewriteModule(bytes);
    expect(r.memory).toBeNull();
    expect(r.binary).toEqual(bytes);
  });

  it.each([
    ["threads and atomics", `(module (memory 1 1 shared) (func (drop (i32.atomic.load (i32.const 0)))))`, ["threads"]],
    ["memory64", `(module (memory i64 1))`, ["memory64"]],
    ["multiple memories", `(module (memory 1) (memory 1))`, ["multi-memory"]],
    ["exception handling", `(module (memory 1) (tag $e) (func (throw $e)))`, ["exceptions"]],
    ["tail calls", `(module (memory 1) (func $f (return_call $f)))`, ["tail-call"]],
  ])("refuses %s with an error that names it", (feature, text, features) => {
    const bytes = wat(text, ...features);
    expect(() => rewriteModule(bytes)).toThrowError(RewriteError);
    expect(() => rewriteModule(bytes)).toThrowError(new RegExp(feature));
  });

  it("refuses malformed input with a clear error and never crashes", () => {
    const good = wat(`(module (memory 1) (func (export "f") (result i32) (i32.load (i32.const 0))))`);
    expect(() => rewriteModule(new Uint8Array([1, 2, 3]))).toThrowError(/malformed or invalid WebAssembly module/);
    // Every truncation and many single-byte corruptions of a valid module are refused cleanly.
    for (let cut = 0; cut < good.length; cut++) {
      const part = good.subarray(0, cut);
      if (WebAssembly.validate(part as BufferSource)) expect(rewriteModule(part).binary.length).toBeGreaterThan(0);
      else expect(() => rewriteModule(part)).toThrowError(RewriteError);
    }
    for (let i = 8; i < good.length; i++) {
      const bad = good.slice();
      bad[i] = bad[i]! ^ 0xff;
      try {
        rewriteModule(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(RewriteError);
      }
    }
  });

  it("shifts static offsets by BASE and reserves the tag table", () => {
    const r = rewriteModule(wat(`(module (memory 2 5) (func (export "f") (result i32) (i32.load offset=8 (i32.const 0))))`));
    expect(r.memory).toEqual({ initial: 2, maximum: 5, imported: null });
    expect(r.stats.accesses).toBe(1);
    const m = new WebAssembly.Module(r.binary as BufferSource);
    const mem = WebAssembly.Module.imports(m).find((i) => i.kind === "memory");
    expect(mem).toEqual({ module: "__mmu", name: "memory", kind: "memory" });
    expect(BASE).toBe(RESERVED_WASM_PAGES * 65536);
  });
});

describe("rewriter: semantics match the original", () => {
  it("loads and stores of every width, with traps at the same places", async () => {
    const bytes = wat(`(module (memory (export "memory") 1 3)
      (func (export "st8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
      (func (export "st16") (param i32 i32) (i32.store16 offset=1 (local.get 0) (local.get 1)))
      (func (export "st32") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
      (func (export "st64") (param i32 i32) (i64.store offset=3 (local.get 0) (i64.extend_i32_s (local.get 1))))
      (func (export "stf") (param i32 i32) (f64.store (local.get 0) (f64.convert_i32_s (local.get 1))))
      (func (export "ld8s") (param i32) (result i32) (i32.load8_s (local.get 0)))
      (func (export "ld16u") (param i32) (result i32) (i32.load16_u offset=1 (local.get 0)))
      (func (export "ld32") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "ld64") (param i32) (result i32) (i32.wrap_i64 (i64.load32_s offset=3 (local.get 0))))
      (func (export "ldf") (param i32) (result i32) (i32.trunc_f64_s (f64.load (local.get 0))))
      (func (export "far") (param i32) (result i32) (i32.load offset=0xfffffff0 (local.get 0)))
      (func (export "size") (result i32) memory.size)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
    const [n, w] = await both(bytes);
    // addresses at page boundaries, the end of memory, and beyond it
    const addrs = [0, 1, 4093, 4094, 4095, 4096, 8190, 65530, 65532, 65533, 65535, 65536, 0xfffffff0, 0xffffffff];
    for (const a of addrs) {
      for (const [s, l] of [["st8", "ld8s"], ["st16", "ld16u"], ["st32", "ld32"], ["st64", "ld64"], ["stf", "ldf"]] as const) {
        const v = (a * 2654435761) | 0 & 0x7fffffff;
        expect(outcome(() => fn(w, s)(a, v))).toEqual(outcome(() => fn(n, s)(a, v)));
        expect(outcome(() => fn(w, l)(a))).toEqual(outcome(() => fn(n, l)(a)));
      }
      expect(outcome(() => fn(w, "far")(a))).toEqual(outcome(() => fn(n, "far")(a)));
    }
    expect(fn(w, "size")()).toBe(1);
    expect(fn(w, "grow")(1)).toBe(1);
    expect(fn(n, "grow")(1)).toBe(1);
    expect(fn(w, "grow")(1)).toBe(fn(n, "grow")(1)); // 2 -> 3, the maximum
    expect(fn(w, "grow")(1)).toBe(-1); // beyond the declared maximum
    expect(fn(n, "grow")(1)).toBe(-1);
    expect(fn(w, "size")()).toBe(3);
    expect(w.read(0, 65536 * 3)).toEqual(n.read(0, 65536 * 3));
    expect(w.mmu!.stats.evictions).toBeGreaterThan(0);
  });

  it("a store's value is computed before the check, so a fault inside it cannot evict the target", async () => {
    // The stored value comes from loads of other pages: with two resident pages they evict the
    // page of the store's address if the check came first.
    const bytes = wat(`(module (memory 1)
      (func $far (result i32) (i32.add (i32.load (i32.const 20000)) (i32.load (i32.const 40000))))
      (func (export "run") (result i32)
        (i32.store (i32.const 100) (i32.const 1))
        (i32.store (i32.const 20000) (i32.const 2))
        (i32.store (i32.const 40000) (i32.const 3))
        (i32.store (i32.const 100) (call $far))
        (i32.load (i32.const 100))))`);
    const [n, w] = await both(bytes);
    expect(fn(w, "run")()).toBe(5);
    expect(fn(n, "run")()).toBe(5);
  });

  it("checks hoisted out of a loop stay valid while other accesses of the loop evict", async () => {
    // $sp-relative accesses are loop-invariant: checked once before the loop and pinned; the
    // page-strided accesses thrash the smallest resident set the module accepts.
    const bytes = wat(`(module (memory (export "memory") 4)
      (global $sp (mut i32) (i32.const 1000))
      (func (export "run") (param $n i32) (result i32) (local $i i32) (local $s i32)
        (loop $l
          (i32.store (global.get $sp) (local.get $i))
          (i32.store offset=4 (global.get $sp) (i32.load (i32.mul (local.get $i) (i32.const 4096))))
          (local.set $s (i32.add (local.get $s) (i32.add (i32.load (global.get $sp)) (i32.load offset=4 (global.get $sp)))))
          (i32.store (i32.mul (local.get $i) (i32.const 4096)) (local.get $s))
          (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (local.get $s))
      (func (export "withCall") (param $n i32) (result i32) (local $i i32)
        (loop $l
          (i32.store (global.get $sp) (call $id (local.get $i)))
          (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (i32.load (global.get $sp)))
      (func $id (param i32) (result i32) (local.get 0)))`);
    const r = rewriteModule(bytes);
    expect(r.stats.hoisted).toBe(1); // the loop with a call keeps its checks
    expect(r.stats.pinSlots).toBe(1);
    const [n, w] = await both(bytes);
    expect(w.mmu!.capacity).toBe(4);
    for (const rounds of [64, 64, 3]) expect(fn(w, "run")(rounds)).toBe(fn(n, "run")(rounds));
    expect(fn(w, "withCall")(10)).toBe(fn(n, "withCall")(10));
    expect(w.read(0, 4 * 65536)).toEqual(n.read(0, 4 * 65536));
    expect(w.mmu!.stats.evictions).toBeGreaterThan(100);
    await expect(instantiateGuest(bytes, {}, { rewrite: true, capacityPages: 3, cache: false })).rejects.toThrow(/needs at least 4 pages/);
  });

  it("accesses at constant addresses in a loop share a pin per page window, not one per constant", async () => {
    // Five fields of one static struct (as an optimiser folds `p + k`), and one constant on a far page.
    const bytes = wat(`(module (memory (export "memory") 4)
      (func (export "run") (param $n i32) (result i32) (local $i i32) (local $s i32)
        (loop $l
          (i32.store (i32.const 1000) (local.get $i))
          (i32.store8 (i32.const 1004) (local.get $i))
          (i64.store (i32.const 1005) (i64.extend_i32_u (local.get $i)))
          (i32.store (i32.const 1013) (i32.load (i32.mul (local.get $i) (i32.const 4096))))
          (i32.store (i32.const 4094) (local.get $s))
          (i32.store (i32.const 100000) (local.get $i))
          (local.set $s (i32.add (local.get $s) (i32.add (i32.load (i32.const 1013)) (i32.load (i32.const 100000)))))
          (i32.store (i32.mul (local.get $i) (i32.const 4096)) (local.get $s))
          (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
        (i32.add (local.get $s) (i32.load (i32.const 4094)))))`);
    const r = rewriteModule(bytes);
    expect(r.stats.pinSlots).toBe(2); // 1000..4098 in one window, 100000 in another
    const [n, w] = await both(bytes);
    for (const rounds of [64, 64, 3]) expect(fn(w, "run")(rounds)).toBe(fn(n, "run")(rounds));
    expect(w.read(0, 4 * 65536)).toEqual(n.read(0, 4 * 65536));
    expect(w.mmu!.stats.evictions).toBeGreaterThan(100);
  });

  it("counted loops run unchecked over a range made resident first, and checked when it cannot be", async () => {
    // for (i = start; i < n; i++) shapes as AssemblyScript emits them, with affine addresses,
    // a store after the increment, an early exit by br_if and br_table, and a nested block.
    const bytes = wat(`(module (memory (export "memory") 8)
      (func (export "fill") (param $base i32) (param $start i32) (param $n i32) (local $i i32)
        (local.set $i (local.get $start))
        (loop $l (if (i32.lt_s (local.get $i) (local.get $n)) (then
          (i32.store (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))) (i32.mul (local.get $i) (i32.const 3)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (i32.store8 offset=3 (i32.add (local.get $i) (local.get $base)) (local.get $i))
          (br $l)))))
      (func (export "sum") (param $base i32) (param $n i32) (param $stop i32) (result i32) (local $i i32) (local $s i32)
        (block $out
          (loop $l (if (i32.gt_u (local.get $n) (local.get $i)) (then
            (local.set $s (i32.add (local.get $s) (i32.load (i32.add (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)) (local.get $base)))))
            (block $b (br_table $b $out $b (i32.and (i32.eq (local.get $i) (local.get $stop)) (i32.const 1))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))))
        (local.get $s)))`);
    const r = rewriteModule(bytes);
    expect(r.stats.ranged).toBe(3);
    for (const capacityPages of [4, 64, 200]) {
      const n = await instantiateGuest(bytes, {}, { rewrite: false });
      const w = await instantiateGuest(bytes, {}, { rewrite: true, capacityPages, cache: false });
      const cases: number[][] = [[0, 0, 100], [1000, 0, 30000], [8000, 5, 5], [8000, 7, 3], [3, -5, 10], [0x7ffffff0, 0, 8], [500000, 0, 10], [524000, 0, 1000], [-64, 20, 40]];
      for (const [base, start, count] of cases) {
        expect(outcome(() => fn(w, "fill")(base!, start!, count!)), `fill(${base}, ${start}, ${count}) cap ${capacityPages}`).toEqual(outcome(() => fn(n, "fill")(base!, start!, count!)));
      }
      for (const [base, count, stop] of [[1000, 30000, -1], [1000, 30000, 77], [0, 0, 0], [520000, 1200, -1], [100, 131000, -1]]) {
        expect(outcome(() => fn(w, "sum")(base!, count!, stop!)), `sum(${base}, ${count}, ${stop})`).toEqual(outcome(() => fn(n, "sum")(base!, count!, stop!)));
      }
      expect(w.read(0, 8 * 65536)).toEqual(n.read(0, 8 * 65536));
      if (capacityPages === 4) expect(w.mmu!.stats.evictions).toBeGreaterThan(100);
      // With room for the range, 30 fresh pages cost one range request, not one fault per page.
      const before = w.mmu!.stats.faults;
      fn(w, "fill")(300000, 0, 30000);
      fn(n, "fill")(300000, 0, 30000);
      if (capacityPages >= 64) expect(w.mmu!.stats.faults - before).toBeLessThanOrEqual(2);
      else expect(w.mmu!.stats.faults - before).toBeGreaterThan(29);
      expect(w.read(300000, 120004)).toEqual(n.read(300000, 120004));
    }
  });

  it("bulk operations keep their bounds checks, trap order and overlap semantics", async () => {
    const bytes = wat(`(module (memory (export "memory") 2)
      (data $p "passive-segment-bytes")
      (data (i32.const 4090) "across-a-page")
      (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
      (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
      (func (export "init") (param i32 i32 i32) (memory.init $p (local.get 0) (local.get 1) (local.get 2)))
      (func (export "drop") (data.drop $p)))`);
    const [n, w] = await both(bytes);
    const ops: Array<[string, number[]]> = [
      ["fill", [4000, 0xab, 300]], ["fill", [131000, 1, 100]], ["fill", [131072, 1, 0]], ["fill", [131073, 1, 0]],
      ["copy", [4094, 4090, 13]], ["copy", [4080, 4090, 13]], ["copy", [100, 4000, 9000]], ["copy", [3000, 100, 9000]],
      ["copy", [131000, 0, 100]], ["copy", [0, 131072, 0]], ["copy", [0, 131073, 0]],
      ["init", [8190, 0, 21]], ["init", [0, 5, 17]], ["init", [0, 0, 22]], ["init", [131072, 21, 0]],
      ["drop", []], ["init", [0, 0, 1]], ["init", [0, 0, 0]],
    ];
    for (const [op, args] of ops) {
      expect(outcome(() => fn(w, op)(...args)), `${op}(${args})`).toEqual(outcome(() => fn(n, op)(...args)));
      expect(w.read(0, 131072)).toEqual(n.read(0, 131072));
    }
  });

  it("data segments with a global offset and the start function run through the MMU", async () => {
    const bytes = wat(`(module
      (import "env" "base" (global $b i32))
      (memory (export "memory") 1)
      (global $g (mut i32) (i32.const 0))
      (data (global.get $b) "from-global")
      (data (i32.const 8000) "const")
      (func $start (global.set $g (i32.load8_u (i32.const 8002))))
      (start $start)
      (func (export "g") (result i32) (global.get $g))
      (func (export "at") (param i32) (result i32) (i32.load8_u (local.get 0))))`);
    const imports = { env: { base: new WebAssembly.Global({ value: "i32" }, 60000) } };
    const [n, w] = await both(bytes, imports);
    expect(fn(w, "g")()).toBe(fn(n, "g")());
    expect(w.read(60000, 11)).toEqual(n.read(60000, 11));
    expect(new TextDecoder().decode(w.read(60000, 11))).toBe("from-global");
    // An out-of-bounds segment makes instantiation fail, as natively.
    const bad = { env: { base: new WebAssembly.Global({ value: "i32" }, 65530) } };
    await expect(instantiateGuest(bytes, bad, { rewrite: false })).rejects.toThrow();
    await expect(instantiateGuest(bytes, bad, { rewrite: true, cache: false })).rejects.toThrow(WebAssembly.RuntimeError);
  });

  it("SIMD loads and stores: plain, splat, extend, zero and lane forms", async () => {
    const bytes = wat(`(module (memory (export "memory") 1)
      (func (export "init") (local i32)
        (loop $l (i32.store8 (local.get 0) (i32.mul (local.get 0) (i32.const 7)))
          (br_if $l (i32.lt_u (local.tee 0 (i32.add (local.get 0) (i32.const 1))) (i32.const 65536)))))
      (func (export "run") (param i32) (result i32) (local v128)
        (local.set 1 (v128.load (local.get 0)))
        (local.set 1 (i32x4.add (local.get 1) (v128.load8x8_s offset=3 (local.get 0))))
        (local.set 1 (i32x4.add (local.get 1) (v128.load16x4_u (local.get 0))))
        (local.set 1 (i32x4.add (local.get 1) (v128.load32x2_s (local.get 0))))
        (local.set 1 (i32x4.add (local.get 1) (v128.load8_splat (local.get 0))))
        (local.set 1 (i32x4.add (local.get 1) (v128.load64_splat (local.get 0))))
        (local.set 1 (i32x4.add (local.get 1) (v128.load32_zero (local.get 0))))
        (local.set 1 (v128.load16_lane 3 (local.get 0) (local.get 1)))
        (local.set 1 (v128.load64_lane offset=5 1 (local.get 0) (local.get 1)))
        (v128.store offset=16 (local.get 0) (local.get 1))
        (v128.store32_lane 2 (i32.add (local.get 0) (i32.const 40)) (local.get 1))
        (v128.store8_lane 15 (i32.add (local.get 0) (i32.const 60)) (local.get 1))
        (i32x4.extract_lane 1 (local.get 1))))`);
    const [n, w] = await both(bytes);
    fn(n, "init")();
    fn(w, "init")();
    for (const a of [0, 4080, 4088, 4095, 20000, 65500, 65520, 65535, 65536]) {
      expect(outcome(() => fn(w, "run")(a)), `at ${a}`).toEqual(outcome(() => fn(n, "run")(a)));
    }
    expect(w.read(0, 65536)).toEqual(n.read(0, 65536));
  });

  it("function indices, tables, ref.func and call_indirect survive the added imports", async () => {
    const bytes = wat(`(module
      (import "env" "h" (func $h (param i32) (result i32)))
      (memory 1)
      (table 3 funcref)
      (elem (i32.const 0) $a $b)
      (elem declare func $c)
      (global $r funcref (ref.func $c))
      (type $t (func (param i32) (result i32)))
      (func $a (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func $b (param i32) (result i32) (call $h (local.get 0)))
      (func $c (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
      (func (export "go") (param i32 i32) (result i32)
        (table.set 0 (i32.const 2) (global.get $r))
        (call_indirect (type $t) (local.get 1) (local.get 0))))`);
    const imports = { env: { h: (x: number) => x * 100 } };
    const [n, w] = await both(bytes, imports);
    for (const [i, x] of [[0, 5], [1, 5], [2, 5]]) expect(fn(w, "go")(i!, x!)).toBe(fn(n, "go")(i!, x!));
    expect(outcome(() => fn(w, "go")(3, 1))).toEqual(outcome(() => fn(n, "go")(3, 1)));
  });

  it("an imported memory works when it comes from the MMU, and is refused otherwise", async () => {
    const bytes = wat(`(module (import "env" "mem" (memory 1 2))
      (func (export "put") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
      (func (export "get") (param i32) (result i32) (i32.load (local.get 0))))`);
    const mem = SoftMmu.createMemory({ initial: 1, maximum: 2, capacityPages: 2 });
    const a = await instantiateGuest(bytes, { env: { mem } }, { rewrite: true, cache: false });
    const b = await instantiateGuest(bytes, { env: { mem } }, { rewrite: true, cache: false });
    fn(a, "put")(30000, 42);
    fn(a, "put")(50000, 43);
    fn(a, "put")(10000, 44);
    expect(fn(b, "get")(30000)).toBe(42);
    expect(a.mmu).toBe(b.mmu);
    const plain = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    await expect(instantiateGuest(bytes, { env: { mem: plain } }, { rewrite: true, cache: false })).rejects.toThrow(/SoftMmu.createMemory/);
  });
});
