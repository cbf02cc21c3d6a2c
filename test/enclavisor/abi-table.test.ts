// The guest ABI has one source (host/enclavisor/abi-table.ts and abi-constants.ts): the SDK in
// assembly/ is compiled and every import it declares must be in the table with the same signature;
// the host must serve every import of the table; and the host's own layouts must agree with the
// ABI's numbers.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as abi from "../../host/enclavisor/abi-constants";
import {
  ABI_IMPORTS, SERVER_CHANNEL_EXPORTS, SERVER_INSTANCE_EXPORT, SERVER_LIMITS_EXPORT, SERVER_SNAPSHOT_EXPORTS,
} from "../../host/enclavisor/abi-table";
import type { AbiFunction, AbiType } from "../../host/enclavisor/abi-table";
import { REPORT_DATA_BYTES } from "../../host/enclavisor/attestation";
import { abiImports } from "../../host/enclavisor/guest-abi";
import { SEAL_HEADER_BYTES } from "../../host/enclavisor/sealing";
import { PAGE_SIZE } from "../../host/page";
import { Reader } from "../../host/wasm/binary";
import { SectionId, splitSections } from "../../host/wasm/module-sections";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VALTYPES: Record<number, AbiType> = { 0x7f: "i32", 0x7e: "i64", 0x7c: "f64" };

/** The function imports of a module with their signatures. */
function functionImports(module: Uint8Array): AbiFunction[] {
  const sections = splitSections(module);
  const types: { params: AbiType[]; results: AbiType[] }[] = [];
  const typeSection = sections.find((s) => s.id === SectionId.Type);
  if (typeSection) {
    const r = new Reader(typeSection.payload);
    for (let n = r.u32(); n > 0; n--) {
      if (r.u8() !== 0x60) throw new Error("not a function type");
      const vec = () => Array.from({ length: r.u32() }, () => VALTYPES[r.u8()] ?? "i64");
      types.push({ params: vec(), results: vec() });
    }
  }
  const imports: AbiFunction[] = [];
  const importSection = sections.find((s) => s.id === SectionId.Import);
  if (importSection) {
    const r = new Reader(importSection.payload);
    for (let n = r.u32(); n > 0; n--) {
      const module = r.name();
      const name = r.name();
      const kind = r.u8();
      if (kind !== 0) throw new Error(`the SDK imports a non-function ${module}.${name}`);
      imports.push({ module, name, ...types[r.u32()]! });
    }
  }
  return imports;
}

/** The SDK compiled with every function exported, so that each import it declares is kept. */
async function compileSdk(): Promise<Uint8Array> {
  const { default: asc } = await import("assemblyscript/asc");
  const entry = [
    'export * from "./assembly/index";',
    'export * from "./assembly/server";',
    // The runtime's own imports appear only where used: trace, and Math.random's seed.
    'export function probe_runtime(): f64 { trace("probe", 1, 1.0); return Math.random(); }',
  ].join("\n");
  let binary: Uint8Array | undefined;
  const { error, stderr } = await asc.main(["abi-probe.ts", "--outFile", "abi-probe.wasm", "--runtime", "stub"], {
    readFile: (name: string, baseDir: string) => {
      if (name === "abi-probe.ts") return entry;
      try {
        return readFileSync(join(ROOT, baseDir, name), "utf8");
      } catch {
        return null;
      }
    },
    writeFile: (name: string, contents: string | Uint8Array) => {
      if (name.endsWith(".wasm") && contents instanceof Uint8Array) binary = contents;
    },
    listFiles: () => [],
  });
  if (error || !binary) throw new Error(`the SDK did not compile: ${error?.message}\n${stderr.toString()}`);
  expect(stderr.toString()).not.toMatch(/WARNING|ERROR/);
  return binary;
}

const key = (f: AbiFunction) => `${f.module}.${f.name}`;

describe("the guest ABI table", () => {
  let sdkImports: AbiFunction[];
  beforeAll(async () => {
    sdkImports = functionImports(await compileSdk());
  }, 120_000);

  it("lists every import the SDK declares, with the SDK's signature", () => {
    expect(sdkImports.length).toBeGreaterThan(8);
    const table = new Map(ABI_IMPORTS.map((f) => [key(f), f]));
    for (const f of sdkImports) {
      expect(table.has(key(f)), `${key(f)} is in the table`).toBe(true);
      const row = table.get(key(f))!;
      expect({ params: f.params, results: f.results }, key(f)).toEqual({ params: [...row.params], results: [...row.results] });
    }
  });

  it("has no import the SDK does not declare", () => {
    const declared = new Set(sdkImports.map(key));
    expect(ABI_IMPORTS.map(key).filter((k) => !declared.has(k))).toEqual([]);
  });

  it("is served in full by the host, and nothing more", () => {
    const none = () => {
      throw new RangeError("no memory");
    };
    const imports = abiImports({ read: none, write: none, share: none }, { log: () => {} });
    const served = Object.entries(imports).flatMap(([module, fns]) => Object.keys(fns as object).map((name) => `${module}.${name}`));
    expect(served.sort()).toEqual(ABI_IMPORTS.map(key).sort());
  });

  it("names each server-app export once, and kv exports every one", () => {
    const exports = [...SERVER_CHANNEL_EXPORTS, ...SERVER_SNAPSHOT_EXPORTS, SERVER_LIMITS_EXPORT, SERVER_INSTANCE_EXPORT].map((f) => f.name);
    expect(new Set(exports).size).toBe(exports.length);
    const kv = new WebAssembly.Module(readFileSync(join(ROOT, "guest-apps/kv.wasm")));
    const names = new Set(WebAssembly.Module.exports(kv).map((e) => e.name));
    expect(exports.filter((name) => !names.has(name))).toEqual([]);
  });

  it("agrees with the host's layouts: the sealed blob's header, the report data, the page", () => {
    expect(SEAL_HEADER_BYTES).toBe(abi.SEAL_OVERHEAD);
    expect(REPORT_DATA_BYTES).toBe(abi.ATTEST_DATA_BYTES);
    expect(abi.SHARED_PAGE_SIZE).toBe(PAGE_SIZE);
    expect(abi.RESULT_LENGTH_MASK & (abi.RESULT_CLOSE | abi.RESULT_MORE)).toBe(0);
  });
});
