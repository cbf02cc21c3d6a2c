#!/usr/bin/env node
// The `enclave` command: `npm run enclave -- [SUBCOMMAND] ...` (or `npx enclave ...`, through
// bin/enclave.mjs). A first argument ending in .wasm means `run`, or `serve` when the app is a
// server (it exports on_data); so does `run APP.wasm`.
// Each subcommand lives in host/cli/commands/<name>.ts and exports `command`.
import { readFileSync } from "node:fs";
import type { Command } from "./command";
import { isServerModule } from "../launcher/server-app";

const loaders: Record<string, () => Promise<{ command: Command }>> = {
  run: () => import("./commands/run"),
  serve: () => import("./commands/serve"),
  measure: () => import("./commands/measure"),
  verify: () => import("./commands/verify"),
  platform: () => import("./commands/platform"),
};

function usage(): string {
  return [
    "usage: npm run enclave -- [SUBCOMMAND] [ARGS]",
    "",
    "subcommands:",
    "  run APP.wasm [flags]      run an enclave app to completion (default when the first argument is a",
    "                            .wasm file that is not a server app)",
    "  serve APP.wasm [flags]    serve a server app over TCP, e.g. guest-apps/kv.wasm, a Redis-protocol",
    "                            store (default when the first argument is a .wasm file that exports on_data)",
    "  verify [flags]            verify an SNP attestation report against its certificate chain, an",
    "                            enclave's evidence bundle (--evidence), or an attested-TLS server (--tls)",
    "  measure APP.wasm [flags]  print the enclave measurement the app launched with these flags reports",
    "  platform [flags]          show the emulated chip, export its certificates, make a sample report",
    "",
    "examples:",
    "  npm run enclave -- guest-apps/kv.wasm                      serve kv on 127.0.0.1:6379 (then: redis-cli)",
    "  npm run enclave -- guest-apps/kv.wasm --data ./kv-data     the same, with sealed snapshots in ./kv-data",
    "  npm run enclave -- guest-apps/kv.wasm --tls                the same over attested TLS (redis-cli --tls)",
    "  npm run enclave -- guest-apps/hello.wasm --mode sev        run an app under SEV-style protection",
    "",
    "Run and serve take the enclave flags (--mode, the switches, --cache, ...); serve adds --host, --port,",
    "--data, --save-interval, --appendonly, --appendfsync, --allow-rollback, --evidence, --tls, --tls-cert,",
    "--max-bulk, --stats. `npx enclave ...` is the same command.",
    "`npm run enclave -- SUBCOMMAND --help` documents every flag of one subcommand; `--help` alone prints",
    "this and every subcommand's help.",
  ].join("\n");
}

/** The file is a readable server module (else `run` takes it, and reports any problem). */
function isServerApp(file: string | undefined): boolean {
  if (file === undefined) return false;
  try {
    return isServerModule(new Uint8Array(readFileSync(file)));
  } catch {
    return false;
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    console.log(usage());
    return 2;
  }
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    // The whole command: the overview, then every subcommand's own help with all its flags.
    console.log(usage());
    for (const [name, load] of Object.entries(loaders)) {
      console.log(`\n${"=".repeat(20)} enclave ${name} ${"=".repeat(20)}\n`);
      await (await load()).command.run(["--help"]);
    }
    return 0;
  }
  let name = argv[0]!;
  let rest = argv.slice(1);
  if (name.endsWith(".wasm")) {
    name = "run";
    rest = argv;
  }
  if (name === "run" && isServerApp(rest.find((a) => a.endsWith(".wasm")))) name = "serve";
  const load = loaders[name];
  if (!load) {
    console.error(`enclave: unknown subcommand '${name}'\n\n${usage()}`);
    return 2;
  }
  const { command } = await load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`enclave: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
