#!/usr/bin/env node
// Builds the native page cipher (native/page-cipher: AES-XTS and XEX for the memory encryption
// engine, host/sev/page-cipher.ts) with node-gyp, against the headers of the running Node and
// without network. Runs on `npm install` (prepare). A failure stops the install and names what is
// missing: there is no fallback, the engine needs the addon. An addon newer than its sources is
// left as it is: `npx enclave` prepares the package again, and a rebuild under running tests would
// take the addon away from them (node-gyp rebuild starts by deleting it).
// Usage: node scripts/build-native.mjs [--force]
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const addonDir = join(root, "native", "page-cipher");
const built = join(addonDir, "build", "Release", "page_cipher.node");

const sources = ["binding.gyp", "page_cipher.c"].map((f) => join(addonDir, f));
if (!process.argv.includes("--force") && existsSync(built) && sources.every((f) => statSync(f).mtimeMs <= statSync(built).mtimeMs)) {
  process.stdout.write("native/page-cipher: up to date\n");
  process.exit(0);
}

function fail(message) {
  process.stderr.write(`build-native: ${message}\n`);
  process.exit(1);
}

function onPath(names) {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return names.some((n) => dirs.some((d) => existsSync(join(d, n))));
}

// node-gyp's own needs; checked first so that the message names them (Debian package names).
const missing = [];
if (!onPath(["python3", "python"])) missing.push("python3 (Debian: python3)");
if (!onPath(["make"])) missing.push("make (Debian: make or build-essential)");
if (!onPath([process.env.CC ?? "cc"])) missing.push(`a C compiler '${process.env.CC ?? "cc"}' (Debian: gcc or build-essential)`);
if (missing.length) fail(`cannot build the native page cipher; missing: ${missing.join(", ")}`);

// The headers of the Node that will load the addon: npm's nodedir setting, else the installation
// the node binary comes from (<prefix>/bin/node, <prefix>/include/node). Never downloaded.
const nodedir = process.env.npm_config_nodedir || join(dirname(process.execPath), "..");
if (!existsSync(join(nodedir, "include", "node", "node_api.h"))) {
  fail(`Node's headers are not in ${join(nodedir, "include", "node")}: install the Node.js headers that match ` +
    `${process.version} there, or set npm_config_nodedir to the directory that holds include/node`);
}
const opensslHeaders = [join(nodedir, "include", "node", "openssl", "evp.h"), "/usr/include/openssl/evp.h"];
if (!opensslHeaders.some((h) => existsSync(h))) {
  fail(`OpenSSL's headers are in none of ${opensslHeaders.join(", ")} (Debian: libssl-dev, for a Node linked to the system's OpenSSL)`);
}

// npm passes its bundled node-gyp in npm_config_node_gyp; run by hand, the one installed with npm.
const gyp = process.env.npm_config_node_gyp ||
  join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
if (!existsSync(gyp)) fail(`node-gyp (bundled with npm) not found at ${gyp}; set npm_config_node_gyp to its bin/node-gyp.js`);

process.stdout.write("node-gyp native/page-cipher -> native/page-cipher/build/Release/page_cipher.node\n");
const r = spawnSync(process.execPath, [gyp, "rebuild", `--nodedir=${nodedir}`, "--loglevel=warn"], {
  cwd: addonDir,
  stdio: "inherit",
});
if (r.error) fail(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0 || !existsSync(built)) {
  fail(`building the native page cipher failed (node-gyp exit status ${r.status}; its output is above)`);
}
