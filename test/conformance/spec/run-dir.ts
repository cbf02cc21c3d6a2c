// Runs every .wast script of a folder on each engine: the library behind `npm run spec`.

import { existsSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Engine } from "./engine";
import { runScript, unconvertible, type ScriptRun } from "./run-script";
import { convertWast, type ConvertedScript } from "./wast2json";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The pinned suite: ENCLAVE_SPEC_DIR, or ../shared/wasm-spec next to the repository. */
export function defaultSpecDir(): string {
  return resolve(REPO_ROOT, process.env.ENCLAVE_SPEC_DIR ?? "../shared/wasm-spec");
}

export class SpecDirError extends Error {}

export interface SpecOptions {
  /** One factory per run; each script gets fresh engines (and so fresh MMUs and spectest state). */
  engines: Array<() => Engine>;
  /** Called after each script has run on every engine (progress output). */
  onScript?: (runs: ScriptRun[]) => void;
}

export interface SpecReport {
  dir: string;
  runs: ScriptRun[];
}

export async function listScripts(dir: string): Promise<string[]> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SpecDirError(`spec folder not found: ${dir} (set ENCLAVE_SPEC_DIR or pass a folder)`);
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith(".wast")).sort();
  if (files.length === 0) throw new SpecDirError(`no .wast files in ${dir}`);
  return files;
}

export async function runSpecDir(dir: string, options: SpecOptions): Promise<SpecReport> {
  const runs: ScriptRun[] = [];
  for (const file of await listScripts(dir)) {
    let converted: ConvertedScript;
    try {
      converted = await convertWast(join(dir, file));
    } catch (e) {
      // A script that cannot be converted fails on every engine; the others still run.
      const reason = e instanceof Error ? e.message : String(e);
      const fileRuns = options.engines.map((make) => unconvertible(file, make(), reason));
      runs.push(...fileRuns);
      options.onScript?.(fileRuns);
      continue;
    }
    try {
      const fileRuns: ScriptRun[] = [];
      for (const makeEngine of options.engines) fileRuns.push(await runScript(file, converted, makeEngine()));
      runs.push(...fileRuns);
      options.onScript?.(fileRuns);
    } finally {
      await converted.dispose();
    }
  }
  return { dir, runs };
}
