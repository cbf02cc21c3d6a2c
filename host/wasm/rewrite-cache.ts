// Rewritten binaries cached by SHA-256 of (rewriter version, input), in memory and on disk, so a
// second launch of the same module does not pay for the rewrite.
//
// Disk: $ENCLAVE_CACHE_DIR, else $XDG_CACHE_HOME/enclavisor/rewrite, else ~/.cache/enclavisor/rewrite.
// One <hash>.wasm plus <hash>.json (the metadata) per module, written to a temporary name and
// renamed, so a reader never sees half a file. An unreadable entry is rewritten again.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { REWRITER_VERSION, rewriteModule } from "./rewrite";
import type { RewriteOptions, RewriteResult } from "./rewrite-result";

export function defaultCacheDir(): string {
  if (process.env.ENCLAVE_CACHE_DIR) return process.env.ENCLAVE_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "enclavisor", "rewrite");
}

/**
 * What identifies the rewriter: its version and the text of its own source files, so that any
 * change to the rewriter invalidates the cache even when nobody bumps the version. (Where the
 * sources cannot be read, e.g. a bundled build, the version alone.)
 */
function rewriterIdentity(): string {
  const hash = createHash("sha256").update(`enclavisor-rewrite-v${REWRITER_VERSION}\0`);
  try {
    const dir = dirname(fileURLToPath(import.meta.url));
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
      hash.update(name).update("\0").update(readFileSync(join(dir, name))).update("\0");
    }
  } catch {
    // version only
  }
  return hash.digest("hex");
}

const identity = rewriterIdentity();

export function cacheKey(input: Uint8Array, options: RewriteOptions = {}): string {
  return createHash("sha256").update(identity).update(options.fuel ? "fuel\0" : "\0").update(input).digest("hex");
}

const memo = new Map<string, RewriteResult>();
const MEMO_LIMIT = 64;

export interface CacheOptions extends RewriteOptions {
  /** Cache folder; null keeps the cache in memory only. */
  dir?: string | null;
}

/** Where the last call found its result: for tests and benchmarks. */
export type CacheOutcome = "memory" | "disk" | "rewritten";
export let lastOutcome: CacheOutcome = "rewritten";

export function rewriteCached(input: Uint8Array, options: CacheOptions = {}): RewriteResult {
  const key = cacheKey(input, options);
  const hit = memo.get(key);
  if (hit) {
    lastOutcome = "memory";
    return hit;
  }
  const dir = options.dir === undefined ? defaultCacheDir() : options.dir;
  let result = dir ? load(dir, key) : null;
  lastOutcome = result ? "disk" : "rewritten";
  if (!result) {
    result = rewriteModule(input, { fuel: options.fuel });
    if (dir) store(dir, key, result);
  }
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  memo.set(key, result);
  return result;
}

/** Forgets the in-memory entries (the disk cache stays). */
export function clearMemoryCache(): void {
  memo.clear();
}

function load(dir: string, key: string): RewriteResult | null {
  try {
    const meta = JSON.parse(readFileSync(join(dir, `${key}.json`), "utf8")) as Omit<RewriteResult, "binary">;
    const binary = new Uint8Array(readFileSync(join(dir, `${key}.wasm`)));
    if (binary.length !== meta.stats.outputBytes) return null;
    return { ...meta, binary };
  } catch {
    return null;
  }
}

function store(dir: string, key: string, result: RewriteResult): void {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `.${process.pid}.${Date.now()}`;
    const { binary, ...meta } = result;
    writeFileSync(join(dir, `${key}.wasm${tmp}`), binary);
    writeFileSync(join(dir, `${key}.json${tmp}`), JSON.stringify(meta));
    renameSync(join(dir, `${key}.wasm${tmp}`), join(dir, `${key}.wasm`));
    renameSync(join(dir, `${key}.json${tmp}`), join(dir, `${key}.json`));
  } catch {
    // A cache that cannot be written (read-only home, full disk) only costs the next launch time.
  }
}
