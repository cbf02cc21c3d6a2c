// Differential fuzzing of the rewriter: a short fixed-seed run, and checks that the pieces of the
// fuzzer can tell runs apart and stop a module that hangs.

import { describe, expect, it } from "vitest";
import { compareTranscripts } from "./fuzz/compare";
import { ModuleGenerator } from "./fuzz/generate";
import { runFuzzModule } from "./fuzz/harness";
import { HASH_EXPORT, withMemoryExport } from "./fuzz/memory-export";
import { countStatus, runFuzz } from "./fuzz/run-fuzz";
import { Sandbox } from "./fuzz/sandbox";

describe("differential fuzzing", () => {
  it("finds no mismatch in 20 modules (seed 1) and really exercises the MMU", async () => {
    const report = await runFuzz({
      runs: 20,
      seed: 1,
      capacityPages: 2,
      evictOnHostCall: true,
      timeoutMs: 60_000,
      saveDir: null,
    });
    const mismatches = report.cases.filter((c) => c.status === "mismatch").map((c) => `seed ${c.seed}: ${c.detail}`);
    expect(mismatches).toEqual([]);
    expect(report.cases).toHaveLength(20);
    // A few generated modules use typed-reference opcodes that Node 20 rejects; most must run.
    expect(report.compared).toBeGreaterThanOrEqual(15);
    expect(countStatus(report, "timeout")).toBe(0);
    expect(report.exportsCalled).toBeGreaterThan(200);
    expect(report.traps).toBeGreaterThan(0);
    expect(report.mmu.faults).toBeGreaterThan(50);
    expect(report.mmu.evictions).toBeGreaterThan(50);
    expect(report.mmu.fills).toBeGreaterThan(0);
    expect(report.mmu.writeBacks).toBeGreaterThan(0);
  });

  it("tells apart the transcripts of different modules and of the same module", async () => {
    const generator = new ModuleGenerator();
    try {
      const a = await generator.generate(3);
      const b = await generator.generate(4);
      expect(await generator.generate(3)).toEqual(a); // a seed always gives the same module
      const opts = { capacityPages: 2, evictOnHostCall: true };
      const nativeA = await runFuzzModule(a, { ...opts, rewrite: false });
      const rewrittenA = await runFuzzModule(a, { ...opts, rewrite: true });
      const nativeB = await runFuzzModule(b, { ...opts, rewrite: false });
      expect(nativeA.calls).toBeGreaterThan(0);
      expect(nativeA.memory?.bytes).toBeGreaterThan(0);
      expect(compareTranscripts(nativeA, rewrittenA)).toEqual({ same: true });
      expect(compareTranscripts(nativeA, nativeB).same).toBe(false);
      // Same log, different final memory: still a mismatch.
      const corrupted = { ...rewrittenA, memory: { bytes: rewrittenA.memory!.bytes, sha256: "0".repeat(64) } };
      const c = compareTranscripts(nativeA, corrupted);
      expect(c.same === false && c.difference.what).toBe("final guest memory");
    } finally {
      await generator.dispose();
    }
  });

  it("exports a private memory for hashing without changing the module's own exports", () => {
    // (module (memory 1) (func (export "f"))), encoded by hand.
    const bytes = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
      0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
    ]);
    const out = withMemoryExport(bytes)!;
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(out as BufferSource));
    expect(exports).toEqual([
      { name: "f", kind: "function" },
      { name: HASH_EXPORT, kind: "memory" },
    ]);
    // No memory: nothing to export.
    expect(withMemoryExport(bytes.subarray(0, 18))).toBeNull();
  });

  it("stops a module that never returns and keeps working afterwards", async () => {
    // (module (func (export "f") (loop (br 0)))), encoded by hand.
    const spin = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
      0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b,
    ]);
    const sandbox = new Sandbox(4000);
    try {
      const opts = { rewrite: false, capacityPages: 2, evictOnHostCall: false };
      expect(await sandbox.run(spin, opts)).toEqual({ timeout: true });
      const generator = new ModuleGenerator();
      const ok = await sandbox.run(await generator.generate(5), { ...opts, rewrite: true });
      await generator.dispose();
      expect("transcript" in ok && ok.transcript.calls).toBeGreaterThan(0);
    } finally {
      sandbox.stop();
    }
  });
});
