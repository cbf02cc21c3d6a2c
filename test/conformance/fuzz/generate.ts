// Random valid modules from binaryen's translate-to-fuzz (`wasm-opt -ttf`, shipped in
// node_modules/binaryen as an Emscripten-built Node script): it turns arbitrary bytes into a
// valid module that logs through the `fuzzing-support` imports.

import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Prng } from "./prng";

const run = promisify(execFile);
const WASM_OPT = createRequire(import.meta.url).resolve("binaryen/bin/wasm-opt");

/**
 * Exactly the Wasm 2.0 features the rewriter supports: MVP, sign extension,
 * non-trapping float-to-int, bulk memory, SIMD, multi-value, reference types (with their LEB
 * table index in call_indirect) and mutable globals. Everything else stays off: threads,
 * memory64, multi-memory, exception handling, tail calls, GC, relaxed SIMD, strings, ...
 */
export const FUZZ_FEATURES = [
  "--mvp-features",
  "--enable-sign-ext",
  "--enable-nontrapping-float-to-int",
  "--enable-bulk-memory",
  "--enable-bulk-memory-opt",
  "--enable-simd",
  "--enable-multivalue",
  "--enable-reference-types",
  "--enable-call-indirect-overlong",
  "--enable-mutable-globals",
] as const;

/** Bounds of the random input; binaryen's own fuzzer uses ~40 KiB, smaller keeps runs quick. */
const INPUT_MIN = 1024;
const INPUT_MAX = 24 * 1024;

export class ModuleGenerator {
  private dir: string | undefined;

  /** The module for one case seed; the same seed always gives the same module. */
  async generate(seed: number): Promise<Uint8Array> {
    this.dir ??= await mkdtemp(join(tmpdir(), "enclave-fuzz-"));
    const prng = new Prng(seed);
    const input = join(this.dir, `${seed}.bin`);
    const output = join(this.dir, `${seed}.wasm`);
    await writeFile(input, prng.bytes(prng.int(INPUT_MIN, INPUT_MAX)));
    try {
      await run(process.execPath, [WASM_OPT, input, "-ttf", "-o", output, ...FUZZ_FEATURES], { maxBuffer: 16 << 20 });
      return new Uint8Array(await readFile(output));
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`wasm-opt -ttf failed for seed ${seed}: ${(err.stderr || err.message).trim().slice(0, 500)}`);
    } finally {
      await rm(input, { force: true });
      await rm(output, { force: true });
    }
  }

  async dispose(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
