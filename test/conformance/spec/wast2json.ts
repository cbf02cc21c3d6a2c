// Converts a .wast script with Debian's wabt (wast2json) into its command list and module files.

import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { parseScript, type WastScript } from "./script";

const run = promisify(execFile);

export interface ConvertedScript {
  script: WastScript;
  /** Reads a module file named by a command (a .wasm, or a .wat for text-format modules). */
  readModule(filename: string): Promise<Uint8Array>;
  /** Removes the temporary directory. */
  dispose(): Promise<void>;
}

export class Wast2JsonError extends Error {}

/**
 * Runs `wast2json FILE -o TMP/NAME.json`. wabt 1.0.30 and later enable every Wasm 2.0 feature
 * the suite uses (SIMD, bulk memory, reference types, multi-value, sign extension, saturating
 * float-to-int, mutable globals) by default and accept no --enable flag for them, so none is
 * passed; a wabt too old to parse the 2.0 syntax fails here with its own message.
 */
export async function convertWast(wastPath: string): Promise<ConvertedScript> {
  const dir = await mkdtemp(join(tmpdir(), "enclave-spec-"));
  const stem = basename(wastPath).replace(/\.wast$/, "");
  const jsonPath = join(dir, `${stem}.json`);
  try {
    await run("wast2json", [wastPath, "-o", jsonPath], { maxBuffer: 16 << 20 });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") {
      throw new Wast2JsonError("wast2json not found: install Debian's wabt (apt-get install wabt)");
    }
    throw new Wast2JsonError(`wast2json failed on ${wastPath}: ${(err.stderr ?? err.message).trim()}`);
  }
  const json: unknown = JSON.parse(await readFile(jsonPath, "utf8"));
  return {
    script: parseScript(json, basename(wastPath)),
    readModule: async (filename) => new Uint8Array(await readFile(join(dir, basename(filename)))),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
