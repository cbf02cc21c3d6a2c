// `enclave run APP.wasm`: runs a run-to-completion enclave app and prints its output.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runApp } from "../../enclavisor/run-app";
import { DEFAULT_CAPACITY_PAGES, MIN_CAPACITY_PAGES } from "../../wasm/mmu";
import { PAGE_SIZE } from "../../wasm/layout";
import type { Command } from "../command";
import { parseSize } from "../size";

const help = `usage: npm run enclave -- [run] APP.wasm [--cache SIZE] [--native] [--stats]

Runs an enclave app: every memory access goes through the software MMU, with at most
SIZE of plaintext resident at a time; the rest is paged out. Calls the app's _start export.

  --cache SIZE   resident capacity (default ${(DEFAULT_CAPACITY_PAGES * PAGE_SIZE) / 2 ** 20}M; at least ${MIN_CAPACITY_PAGES} pages of 4K)
  --native       run the module as given, without the MMU (the baseline)
  --stats        print the MMU counters after the run (to stderr)
  -h, --help     this help`;

export const command: Command = {
  summary: "run an enclave app",
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        cache: { type: "string" },
        native: { type: "boolean", default: false },
        stats: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length !== 1) {
      console.error(`enclave run: expected one APP.wasm, got ${positionals.length}\n\n${help}`);
      return 2;
    }
    const file = positionals[0]!;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      console.error(`enclave run: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      return 1;
    }
    const capacityPages = values.cache === undefined ? undefined : Math.floor(parseSize(values.cache, "--cache") / PAGE_SIZE);
    try {
      const result = await runApp(bytes, { protect: !values.native, capacityPages, onLog: (line) => console.log(line) });
      if (values.stats) {
        const s = result.stats;
        console.error(s ? `stats: ${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(" ")} ms=${result.milliseconds.toFixed(1)}` : `stats: native run, no MMU (ms=${result.milliseconds.toFixed(1)})`);
      }
      return 0;
    } catch (e) {
      const kind = e instanceof WebAssembly.RuntimeError ? "trapped" : "failed";
      console.error(`enclave run: ${file} ${kind}: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  },
};
