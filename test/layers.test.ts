// The layering rule of docs/architecture.md, checked rather than stated: imports only go down.
// Every import of every source file under host/, bench/, scripts/, assembly/ and guest-apps/ is
// resolved and checked against the table of what each layer may import, and every file of the
// measured trusted layer (enclavisor-image.ts's TRUSTED_PATHS) may import only trusted files, the
// hardware layer (host/sev) and Node's built-in modules.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TRUSTED_PATHS, trustedSources } from "../host/enclavisor/enclavisor-image";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Layer -> the layers it may import (besides itself). host/page.ts is the base of every host layer. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  "host/page.ts": [],
  "host/sev": ["host/page.ts"],
  "host/wasm": ["host/page.ts"],
  "host/sgx": ["host/wasm", "host/page.ts"],
  "host/enclavisor": ["host/sev", "host/wasm", "host/page.ts"],
  "host/verifier": ["host/enclavisor", "host/sev", "host/page.ts"],
  "host/launcher": ["host/enclavisor", "host/sev", "host/sgx", "host/wasm", "host/page.ts"],
  "host/cli": ["host/launcher", "host/verifier", "host/enclavisor", "host/sev", "host/sgx", "host/wasm", "host/page.ts"],
  bench: ["host/launcher", "host/verifier", "host/enclavisor", "host/sev", "host/sgx", "host/wasm", "host/page.ts"],
  scripts: [],
  // The SDK takes the ABI's numbers from their one source; apps use the SDK.
  assembly: ["host/enclavisor/abi-constants.ts"],
  "guest-apps": ["assembly", "host/enclavisor/abi-constants.ts"],
};
const LAYERS = Object.keys(MAY_IMPORT).sort((a, b) => b.length - a.length);

/** The layer of a repository path (the longest matching entry of MAY_IMPORT), or null outside them. */
function layerOf(path: string): string | null {
  return LAYERS.find((l) => path === l || path.startsWith(`${l}/`)) ?? null;
}

/** True when `target` is inside `entry` (a folder or a file of MAY_IMPORT). */
function within(target: string, entry: string): boolean {
  return target === entry || target.startsWith(`${entry}/`);
}

export interface Edge {
  from: string;
  /** A repository path for a relative import (with its .ts), else the bare specifier. */
  to: string;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;

function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (!spec.startsWith(".")) {
      edges.push({ from: file, to: spec });
      continue;
    }
    let to = normalize(join(dirname(file), spec)).replace(/\.(js|mjs)$/, "");
    if (!/\.(ts|mjs|json)$/.test(to)) to = statSafe(join(ROOT, `${to}.ts`)) ? `${to}.ts` : `${to}/index.ts`;
    edges.push({ from: file, to });
  }
  return edges;
}

function statSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(join(ROOT, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "results") walk(p);
      } else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Edges that break the layer table: an import into a layer the importer may not use. */
export function layerViolations(edges: readonly Edge[]): string[] {
  const bad: string[] = [];
  for (const { from, to } of edges) {
    if (!to.includes("/") || to.startsWith("node:") || !to.match(/^(host|bench|scripts|assembly|guest-apps|test)\//)) continue;
    const own = layerOf(from);
    if (!own || within(to, own)) continue;
    if (!MAY_IMPORT[own]!.some((entry) => within(to, entry))) bad.push(`${from} imports ${to}: ${own} may import only ${MAY_IMPORT[own]!.join(", ") || "itself"}`);
  }
  return bad;
}

/** Imports of trusted files that leave the trusted layer for anything but host/sev or a Node built-in. */
export function tcbViolations(edges: readonly Edge[], trusted: ReadonlySet<string>): string[] {
  const bad: string[] = [];
  for (const { from, to } of edges) {
    if (!trusted.has(from)) continue;
    const ok = to.startsWith("node:") || trusted.has(to) || within(to, "host/sev");
    if (!ok) bad.push(`trusted ${from} imports ${to}, which the Enclavisor measurement does not cover`);
  }
  return bad;
}

/** Groups of files that import each other in a circle (strongly connected components of more than one file). */
export function importCycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!next.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      group.push(w);
      if (w === v) break;
    }
    if (group.length > 1) cycles.push(group.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

const FILES = ["host", "bench", "scripts", "assembly", "guest-apps"].flatMap(sources);
const EDGES = FILES.flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), "utf8")));

describe("layers", () => {
  it("finds the imports of the tree (the check sees something to check)", () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(EDGES.some((e) => e.from === "host/launcher/backends/sev.ts" && e.to === "host/enclavisor/enclavisor.ts")).toBe(true);
    expect(EDGES.some((e) => e.from === "assembly/index.ts" && e.to === "host/enclavisor/abi-constants.ts")).toBe(true);
    // Every relative import resolves to a file that exists.
    const missing = EDGES.filter((e) => /^(host|bench|scripts|assembly|guest-apps)\//.test(e.to) && !statSafe(join(ROOT, e.to)));
    expect(missing).toEqual([]);
  });

  it("every import goes down the layer table", () => {
    expect(layerViolations(EDGES)).toEqual([]);
  });

  it("no host files import each other in a circle, type imports included", () => {
    expect(importCycles(EDGES.filter((e) => e.from.startsWith("host/")))).toEqual([]);
    expect(importCycles([{ from: "a", to: "b" }, { from: "b", to: "c" }, { from: "c", to: "a" }, { from: "c", to: "d" }])).toEqual([["a", "b", "c"]]);
  });

  it("every file is in a layer", () => {
    expect(FILES.filter((f) => layerOf(f) === null)).toEqual([]);
  });

  it("the trusted layer imports only itself, the hardware layer and Node's built-ins", () => {
    const trusted = new Set(trustedSources());
    expect(trusted.size).toBeGreaterThan(30);
    expect(tcbViolations(EDGES, trusted)).toEqual([]);
  });

  it("the measured paths are the trusted layer's folders, and nothing outside host/", () => {
    expect(TRUSTED_PATHS.every((p) => p.startsWith("host/"))).toBe(true);
    expect(trustedSources().every((f) => TRUSTED_PATHS.some((p) => within(f, p)))).toBe(true);
  });

  it("reports an import that goes up, and a trusted file that imports untrusted code", () => {
    const up: Edge = { from: "host/enclavisor/enclavisor.ts", to: "host/launcher/run-app.ts" };
    expect(layerViolations([up])).toEqual([expect.stringContaining("host/enclavisor may import only host/sev, host/wasm")]);
    expect(layerViolations([{ from: "host/sev/dram.ts", to: "host/wasm/mmu.ts" }])).toHaveLength(1);
    const trusted = new Set(["host/enclavisor/a.ts"]);
    expect(tcbViolations([{ from: "host/enclavisor/a.ts", to: "@noble/hashes/sha2" }], trusted)).toHaveLength(1);
    expect(tcbViolations([{ from: "host/enclavisor/a.ts", to: "host/sgx/epc.ts" }], trusted)).toHaveLength(1);
    expect(tcbViolations([{ from: "host/enclavisor/a.ts", to: "node:crypto" }, { from: "host/enclavisor/a.ts", to: "host/sev/rmp.ts" }], trusted)).toEqual([]);
  });

  it("resolves folder imports and relative paths as the bundler does", () => {
    expect(importsOf("host/launcher/run-app.ts", 'import { backendFor } from "./backends/registry";')).toEqual([
      { from: "host/launcher/run-app.ts", to: "host/launcher/backends/registry.ts" },
    ]);
    // A folder import resolves to the folder's index.ts, as the bundler does.
    expect(importsOf("host/launcher/run-app.ts", 'import { x } from "./backends";')).toEqual([
      { from: "host/launcher/run-app.ts", to: "host/launcher/backends/index.ts" },
    ]);
    expect(relative(ROOT, join(ROOT, "host/page.ts"))).toBe("host/page.ts");
  });
});
