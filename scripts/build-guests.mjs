#!/usr/bin/env node
// Compiles every guest app (guest-apps/*.ts) to guest-apps/*.wasm with the options in asconfig.json.
// An app may pick another garbage collector with a line `// asc-runtime: NAME` among its leading
// comments (kv uses `minimal`, which collects only when the app calls __collect()).
// Runs on `npm install` (prepare) and before commands that need the apps, with --if-stale (an app
// newer than its sources is left as it is, so that a prepare under running tests rewrites nothing).
// Usage: node scripts/build-guests.mjs [--if-stale] [--quiet] [NAME...]
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const ifStale = args.includes("--if-stale");
const quiet = args.includes("--quiet");
const only = args.filter((a) => !a.startsWith("--"));
const appsDir = join(root, "guest-apps");
const sdkDir = join(root, "assembly");

function newestMtime(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p));
    else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const sources = readdirSync(appsDir)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .filter((f) => only.length === 0 || only.includes(basename(f, ".ts")));
// The SDK takes the guest ABI's numbers from the host's one source of them.
const abiConstants = join(root, "host", "enclavisor", "abi-constants.ts");
const sdkTime = Math.max(newestMtime(sdkDir), statSync(abiConstants).mtimeMs, statSync(join(root, "asconfig.json")).mtimeMs);

const RUNTIMES = ["incremental", "minimal", "stub"];

/** The app's `// asc-runtime: NAME` line, searched in the comments that open the file; null if none. */
function runtimeOf(src) {
  for (const line of readFileSync(src, "utf8").split("\n")) {
    if (!line.startsWith("//")) break;
    const m = /^\/\/\s*asc-runtime:\s*(\S+)/.exec(line);
    if (!m) continue;
    if (!RUNTIMES.includes(m[1])) throw new Error(`${src}: unknown asc-runtime "${m[1]}" (one of ${RUNTIMES.join(", ")})`);
    return m[1];
  }
  return null;
}

const { default: asc } = await import("assemblyscript/asc");
let failed = 0;
for (const file of sources) {
  const src = join(appsDir, file);
  const out = join(appsDir, basename(file, ".ts") + ".wasm");
  if (ifStale && existsSync(out)) {
    const built = statSync(out).mtimeMs;
    // An app may keep its modules in guest-apps/NAME/ (kv does).
    const srcTime = Math.max(statSync(src).mtimeMs, newestMtime(join(appsDir, basename(file, ".ts"))));
    if (built >= srcTime && built >= sdkTime) continue;
  }
  const runtime = runtimeOf(src);
  if (!quiet) process.stdout.write(`asc ${file} -> ${basename(out)}${runtime ? ` (runtime ${runtime})` : ""}\n`);
  const { error, stderr } = await asc.main(
    [src, "--config", join(root, "asconfig.json"), "--target", "release", "--outFile", out,
      ...(runtime ? ["--runtime", runtime] : [])],
    {},
  );
  if (error) {
    failed++;
    process.stderr.write(`build of guest app ${file} failed: ${error.message}\n${stderr.toString()}\n`);
  }
}
if (failed) process.exit(1);
