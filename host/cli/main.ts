#!/usr/bin/env node
// The `enclave` command: `npm run enclave -- [SUBCOMMAND] ...`. A first argument ending in .wasm
// means `run`. Each subcommand lives in host/cli/commands/<name>.ts and exports `command`.
import type { Command } from "./command";

const loaders: Record<string, () => Promise<{ command: Command }>> = {
  run: () => import("./commands/run"),
  verify: () => import("./commands/verify"),
  platform: () => import("./commands/platform"),
  measure: () => import("./commands/measure"),
};

function usage(): string {
  return [
    "usage: npm run enclave -- [SUBCOMMAND] [ARGS]",
    "",
    "subcommands:",
    "  run APP.wasm [flags]      run an enclave app (default when the first argument is a .wasm file)",
    "  verify [flags]            verify an SNP attestation report against its certificate chain",
    "  measure APP.wasm [flags]  print the enclave measurement the app launched with these flags reports",
    "  platform [flags]          show the emulated chip, export its certificates, make a sample report",
    "",
    "`npm run enclave -- SUBCOMMAND --help` documents the flags of one subcommand.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    console.log(usage());
    return argv.length === 0 ? 2 : 0;
  }
  let name = argv[0]!;
  let rest = argv.slice(1);
  if (name.endsWith(".wasm")) {
    name = "run";
    rest = argv;
  }
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
