#!/usr/bin/env node
// `npx enclave ...` and `node bin/enclave.mjs ...`: the enclave command (host/cli/main.ts) run in
// this very process, its TypeScript loaded through tsx's loader, so that a signal sent to this
// process reaches the server itself and ends in its clean save (npm run enclave execs node for the
// same reason). Guest apps are built first when their sources are newer, as npm run enclave does.
//
// npx (npm exec) runs this through `sh -c`, and a SIGTERM sent to npm ends that shell without
// passing the signal on; so under npx, `enclave serve` is told to stop as at SIGTERM once its parent
// is gone (ENCLAVE_STOP_WITH_PARENT, host/cli/commands/serve.ts). npm sets npm_command=exec then.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (process.env.npm_command === "exec") process.env.ENCLAVE_STOP_WITH_PARENT = "1";
execFileSync(process.execPath, [join(root, "scripts/build-guests.mjs"), "--if-stale", "--quiet"], { stdio: "inherit" });
register();
await import(join(root, "host/cli/main.ts"));
