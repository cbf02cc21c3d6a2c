// The official spec scripts, natively and rewritten, plus a check that the runner itself tells
// every value kind apart and reports a wrong expectation as a failure.

import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "./spec/engine";
import { nativeEngine } from "./spec/native-engine";
import { totalsByEngine } from "./spec/report";
import { rewrittenEngine } from "./spec/rewritten-engine";
import { defaultSpecDir, runSpecDir } from "./spec/run-dir";

const engines: Array<() => Engine> = [nativeEngine, () => rewrittenEngine()];

describe("the pinned WebAssembly spec suite", () => {
  const dir = defaultSpecDir();

  it("passes every command natively and rewritten, with real faults and evictions", async (ctx) => {
    if (!existsSync(dir)) {
      const note = `SPEC SUITE NOT RUN: folder ${dir} is absent (set ENCLAVE_SPEC_DIR to the wasm-spec folder)`;
      console.warn(note);
      ctx.skip(note);
    }
    const report = await runSpecDir(dir, { engines });
    const totals = totalsByEngine(report.runs);
    expect(totals.map((t) => t.engine)).toEqual(["native", "rewritten"]);
    const failures = report.runs.flatMap((r) => r.failures.map((f) => `${r.engine} ${r.file}:${f.line} ${f.reason}`));
    expect(failures).toEqual([]);
    for (const t of totals) {
      // 6065 commands pass in the pinned suite; the floor catches a runner that silently skips.
      expect(t.pass).toBeGreaterThanOrEqual(6000);
      expect(t.scripts).toBe(16);
    }
    expect(totals[1]!.pass).toBe(totals[0]!.pass);
    // The only skips are text-format modules, which have no binary to run.
    const skipReasons = new Set(report.runs.flatMap((r) => r.skips.map((s) => s.reason)));
    expect([...skipReasons].every((r) => r.includes("text-format"))).toBe(true);
    const mmu = totals[1]!.mmu;
    expect(mmu.faults).toBeGreaterThan(100);
    expect(mmu.evictions).toBeGreaterThan(100);
    expect(mmu.writeBacks).toBeGreaterThan(0);
    expect(mmu.fills).toBeGreaterThan(0);
  });
});

// Scripts written for this test: every value kind, NaN payloads that the JS API would lose,
// and every command and assertion type.
const GOOD = String.raw`
(module
  (memory (export "mem") 1)
  (global (export "gf") (mut f32) (f32.const nan:0x200000))
  (global (export "gi") i64 (i64.const -1))
  (func (export "id_v128") (param v128) (result v128) (local.get 0))
  (func (export "div0") (param f32) (result f32) (f32.div (local.get 0) (f32.const 0)))
  (func (export "same") (param f32) (result f32) (local.get 0))
  (func (export "through_memory") (param f32) (result f32)
    (f32.store (i32.const 8) (local.get 0)) (f32.load (i32.const 8)))
  (func (export "add1") (param f64) (result f64) (f64.add (local.get 0) (f64.const 1)))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func (export "nullf") (result funcref) (ref.null func))
  (func (export "multi") (param i32 i64) (result i64 i32 externref) (local.get 1) (local.get 0) (ref.null extern))
  (func (export "lanes") (result v128) (v128.const f64x2 nan 1.5))
  (func $rec (export "rec") (call $rec))
  (func (export "oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
)
(register "kinds")
(assert_return (invoke "id_v128" (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -1))
  (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 255))
(assert_return (invoke "id_v128" (v128.const i64x2 -1 2)) (v128.const i32x4 -1 -1 2 0))
(assert_return (invoke "div0" (f32.const 0)) (f32.const nan:canonical))
(assert_return (invoke "same" (f32.const nan:0x200000)) (f32.const nan:0x200000))
(assert_return (invoke "through_memory" (f32.const -nan:0x1)) (f32.const -nan:0x1))
(assert_return (invoke "add1" (f64.const nan:0x4000000000000)) (f64.const nan:arithmetic))
(assert_return (invoke "ext" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke "ext" (ref.null extern)) (ref.null extern))
(assert_return (invoke "nullf") (ref.null func))
(assert_return (invoke "multi" (i32.const -5) (i64.const 0x8000000000000000))
  (i64.const 0x8000000000000000) (i32.const -5) (ref.null extern))
(assert_return (invoke "lanes") (v128.const f64x2 nan:canonical 1.5))
(assert_return (get "gf") (f32.const nan:0x200000))
(assert_return (get "gi") (i64.const -1))
(assert_exhaustion (invoke "rec") "call stack exhausted")
(assert_trap (invoke "oob") "out of bounds memory access")
(invoke "grow" (i32.const 1))
(assert_return (invoke "grow" (i32.const 0)) (i32.const 2))
(module $importer (import "kinds" "mem" (memory 2)) (func (export "size") (result i32) (memory.size)))
(assert_return (invoke $importer "size") (i32.const 2))
(assert_unlinkable (module (import "spectest" "nothing" (func))) "unknown import")
(assert_trap (module (memory 1) (data (i32.const 65536) "x")) "out of bounds memory access")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
(assert_malformed (module quote "(func") "unexpected end")
`;

/** Each assertion below is wrong on purpose: the runner must report every one as a failure. */
const WRONG = String.raw`
(module
  (func (export "id_v128") (param v128) (result v128) (local.get 0))
  (func (export "same") (param f32) (result f32) (local.get 0))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func (export "lanes") (result v128) (v128.const f64x2 nan 1.5))
  (func (export "oob") (result i32) (i32.load (i32.const 65536)))
  (func (export "seven") (result i32) (i32.const 7))
  (memory 1)
)
(assert_return (invoke "id_v128" (v128.const i32x4 1 2 3 4)) (v128.const i32x4 1 2 3 5))
(assert_return (invoke "same" (f32.const nan:0x200000)) (f32.const nan:0x200001))
(assert_return (invoke "same" (f32.const nan:0x200000)) (f32.const nan:arithmetic))
(assert_return (invoke "lanes") (v128.const f64x2 nan:canonical 1.25))
(assert_return (invoke "ext" (ref.extern 7)) (ref.extern 8))
(assert_return (invoke "ext" (ref.extern 7)) (ref.null extern))
(assert_trap (invoke "seven") "unreachable")
(assert_exhaustion (invoke "oob") "call stack exhausted")
(assert_return (invoke "oob") (i32.const 0))
(assert_invalid (module (func)) "type mismatch")
(assert_unlinkable (module) "unknown import")
(assert_trap (module) "out of bounds")
`;
const WRONG_COUNT = 12;

/** 1-based numbers of the lines of `text` that start with `prefix`. */
const linesStarting = (text: string, prefix: string): number[] =>
  text.split("\n").flatMap((l, i) => (l.startsWith(prefix) ? [i + 1] : []));

describe("the spec runner", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "spec-runner-test-"));
    await writeFile(join(dir, "good.wast"), GOOD);
    await writeFile(join(dir, "wrong.wast"), WRONG);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("matches every value kind bit for bit and reports each wrong expectation", async () => {
    const { runs } = await runSpecDir(dir, { engines });
    expect(runs.map((r) => `${r.file} ${r.engine}`)).toEqual([
      "good.wast native",
      "good.wast rewritten",
      "wrong.wast native",
      "wrong.wast rewritten",
    ]);
    for (const good of runs.slice(0, 2)) {
      expect(good.failures).toEqual([]);
      expect(good.pass).toBe(25);
      expect(good.skips.map((s) => s.line)).toEqual(linesStarting(GOOD, "(assert_malformed (module quote"));
      // The data segment out of bounds is a trap at instantiation.
      expect(good.traps.length).toBe(2);
    }
    for (const wrong of runs.slice(2)) {
      expect(wrong.fail).toBe(WRONG_COUNT);
      expect(wrong.failures.map((f) => f.line)).toEqual(linesStarting(WRONG, "(assert_"));
      // The signalling NaN came back with its payload intact, so it is not an arithmetic NaN.
      expect(wrong.failures[2]!.reason).toContain("got 0x7fa00000");
      expect(wrong.failures[3]!.reason).toContain("0x3ff8000000000000");
    }
  });

  it("fails a script that wast2json cannot convert, and runs the others", async () => {
    const broken = await mkdtemp(join(tmpdir(), "spec-runner-broken-"));
    try {
      await writeFile(join(broken, "a.wast"), "(module (func (export \"f\")))\n(assert_return (invoke \"f\"))\n");
      await writeFile(join(broken, "b.wast"), "(module (func $$$");
      const { runs } = await runSpecDir(broken, { engines: [nativeEngine] });
      expect(runs.map((r) => [r.file, r.pass, r.fail])).toEqual([
        ["a.wast", 2, 0],
        ["b.wast", 0, 1],
      ]);
      expect(runs[1]!.failures[0]!.reason).toMatch(/wast2json failed on .*b\.wast/);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });

  it("names a missing folder", async () => {
    await expect(runSpecDir(join(tmpdir(), "no-such-spec-folder-xyz"), { engines })).rejects.toThrow(
      /spec folder not found: .*no-such-spec-folder-xyz/,
    );
  });
});
