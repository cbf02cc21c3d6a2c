// `enclave run APP.wasm`: runs a run-to-completion enclave app under a protection mode and prints
// its output (stdout); --stats prints the enclave's counters (stderr).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatStats } from "../../enclavisor/enclave-stats";
import { launchEnclave } from "../../enclavisor/run-app";
import type { Enclave } from "../../enclavisor/run-app";
import {
  DEFAULT_CACHE_PAGES, DEFAULT_INTEGRITY_CACHE_NODES, describeSwitches, isModeName, MIN_CACHE_PAGES, MODE_NAMES, modeSwitches,
} from "../../enclavisor/protection";
import type { ModeName, ProtectionSwitches } from "../../enclavisor/protection";
import { STATE_DIR_ENV } from "../../sev/platform-state";
import { PAGE_SIZE } from "../../wasm/layout";
import type { Command } from "../command";
import { parseSize } from "../size";

const DEFAULT_MODE: ModeName = "enclavisor";

const help = `usage: npm run enclave -- [run] APP.wasm [--mode MODE] [switches] [--stats]

Runs an enclave app on the emulated SEV platform and calls its _start export. Every memory access
goes through the software MMU; at most --cache of plaintext is resident at a time, the rest lives
in emulated DRAM, encrypted with the enclave VM's key and checked by the integrity tree, as the
mode says. The app's output goes to stdout.

  --mode MODE              ${MODE_NAMES.join(" | ")} (default ${DEFAULT_MODE}):
                             native      the module as given, no MMU (the baseline)
                             sev         encryption (SEV / SEV-ES)
                             sev-snp     encryption and RMP checks (SEV-SNP)
                             enclavisor  encryption, RMP checks and the integrity tree
  --native                 same as --mode native

Switches (each overrides the mode's preset):
  --encryption on|off      page out through the memory encryption engine (off: plaintext DRAM)
  --rmp on|off             SEV-SNP RMP checks in the memory controller
  --integrity on|off       Merkle tree over the enclave VM's frames
  --ciphertext-hiding on|off
                           host reads of private frames return 0xFF (default off)
  --cache SIZE             resident capacity (default ${(DEFAULT_CACHE_PAGES * PAGE_SIZE) / 2 ** 20}M; at least ${MIN_CACHE_PAGES} pages of 4K)
  --integrity-cache N      tree nodes the integrity cache holds (default ${DEFAULT_INTEGRITY_CACHE_NODES})

  --memory-limit SIZE      most memory the enclave may touch (default: none); beyond it the
                           enclave stops with an error
  --state-dir DIR          the secure processor's state (default $${STATE_DIR_ENV}, else ~/.enclavisor/platform)
  --stats                  print the enclave's counters after the run (to stderr)
  -h, --help               this help

SIZE: bytes, or with K, M, G (binary), e.g. 64K, 16M.`;

class UsageError extends Error {}

function onOff(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "on") return true;
  if (value === "off") return false;
  throw new UsageError(`${flag} takes on or off, got '${value}'`);
}

function pages(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  let bytes: number;
  try {
    bytes = parseSize(value, flag);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (bytes < PAGE_SIZE) throw new UsageError(`${flag} must be at least one page of 4K, got '${value}'`);
  return Math.floor(bytes / PAGE_SIZE);
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number, got '${value}'`);
  return Number(value);
}

const OPTIONS = {
  mode: { type: "string" },
  native: { type: "boolean", default: false },
  encryption: { type: "string" },
  rmp: { type: "string" },
  integrity: { type: "string" },
  "ciphertext-hiding": { type: "string" },
  cache: { type: "string" },
  "integrity-cache": { type: "string" },
  "memory-limit": { type: "string" },
  "state-dir": { type: "string" },
  stats: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function parse(args: string[]) {
  return parseArgs({ args, allowPositionals: true, options: OPTIONS });
}

export const command: Command = {
  summary: "run an enclave app",
  async run(args) {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (e) {
      console.error(`enclave run: ${(e as Error).message}\n\n${help}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length !== 1) {
      console.error(`enclave run: expected one APP.wasm, got ${positionals.length}\n\n${help}`);
      return 2;
    }
    let switches: ProtectionSwitches;
    let memoryLimitPages: number | undefined;
    let mode: string;
    try {
      mode = values.native ? "native" : values.mode ?? DEFAULT_MODE;
      if (values.native && values.mode !== undefined && values.mode !== "native") {
        throw new UsageError(`--native contradicts --mode ${values.mode}`);
      }
      if (!isModeName(mode)) throw new UsageError(`--mode must be one of ${MODE_NAMES.join(", ")}, got '${mode}'`);
      memoryLimitPages = pages(values["memory-limit"], "--memory-limit");
      switches = modeSwitches(mode, {
        encryption: onOff(values.encryption, "--encryption"),
        rmp: onOff(values.rmp, "--rmp"),
        integrity: onOff(values.integrity, "--integrity"),
        ciphertextHiding: onOff(values["ciphertext-hiding"], "--ciphertext-hiding"),
        cachePages: pages(values.cache, "--cache"),
        integrityCacheNodes: count(values["integrity-cache"], "--integrity-cache"),
      });
    } catch (e) {
      console.error(`enclave run: ${(e as Error).message}`);
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
    const t0 = performance.now();
    let enclave: Enclave | undefined;
    let code = 0;
    try {
      enclave = await launchEnclave(bytes, {
        switches,
        stateDir: values["state-dir"],
        memoryLimitPages,
        onLog: (line) => console.log(line),
      });
      const start = enclave.guest.instance.exports._start;
      if (typeof start === "function") (start as () => void)();
    } catch (e) {
      const kind = e instanceof WebAssembly.RuntimeError ? "trapped" : enclave ? "stopped" : "failed to launch";
      console.error(`enclave run: ${file} ${kind}: ${e instanceof Error ? e.message : String(e)}`);
      code = 1;
    }
    if (values.stats && enclave) {
      console.error(`stats: mode=${mode} ${describeSwitches(switches)} ms=${(performance.now() - t0).toFixed(1)}`);
      for (const line of formatStats(enclave.stats())) console.error(`  ${line}`);
    }
    enclave?.destroy();
    return code;
  },
};
