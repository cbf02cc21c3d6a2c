import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cacheKey, clearMemoryCache, lastOutcome, rewriteCached } from "../../host/wasm/rewrite-cache";
import { rewriteModule } from "../../host/wasm/rewrite";
import { wat } from "./wat";

const dir = mkdtempSync(join(tmpdir(), "rewrite-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rewrite cache", () => {
  const bytes = wat(`(module (memory 1) (data (i32.const 5) "x") (func (export "f") (result i32) (i32.load (i32.const 4))))`);

  it("rewrites once, then answers from memory, then from disk in a fresh process", () => {
    const first = rewriteCached(bytes, { dir });
    expect(lastOutcome).toBe("rewritten");
    expect(readdirSync(dir).sort()).toEqual([`${cacheKey(bytes)}.json`, `${cacheKey(bytes)}.wasm`]);
    expect(rewriteCached(bytes, { dir })).toBe(first);
    expect(lastOutcome).toBe("memory");
    clearMemoryCache();
    const fromDisk = rewriteCached(bytes, { dir });
    expect(lastOutcome).toBe("disk");
    expect(fromDisk.binary).toEqual(first.binary);
    expect(fromDisk.segments).toEqual(first.segments);
    expect(fromDisk.binary).toEqual(rewriteModule(bytes).binary);
  });

  it("keys on the input bytes, and a damaged entry is rewritten", () => {
    const other = wat(`(module (memory 1) (func (export "f") (result i32) (i32.load (i32.const 8))))`);
    expect(cacheKey(other)).not.toBe(cacheKey(bytes));
    clearMemoryCache();
    writeFileSync(join(dir, `${cacheKey(bytes)}.wasm`), new Uint8Array([0, 1, 2]));
    const again = rewriteCached(bytes, { dir });
    expect(lastOutcome).toBe("rewritten");
    expect(again.binary).toEqual(rewriteModule(bytes).binary);
  });
});
