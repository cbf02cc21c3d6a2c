// The enclave configuration flags shared by `enclave run` and `enclave measure` (--mode, the
// protection switches, --cache, --integrity-cache, --memory-limit, --granularity), so that both read a command
// line the same way and `measure` predicts the measurement of exactly what `run` launches.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { MIN_CACHE_PAGES } from "../enclavisor/protection";
import { DEFAULT_CACHE_PAGES, DEFAULT_INTEGRITY_CACHE_NODES, isModeName, MODE_NAMES, modeSwitches } from "../launcher/modes";
import type { ProtectionSwitches } from "../enclavisor/protection";
import type { ModeName } from "../launcher/modes";
import { DEFAULT_GRANULARITY, GRANULARITY_NAMES, isGranularity } from "../enclavisor/enclavisor";
import type { GranularityName } from "../enclavisor/attestation";
import { PAGE_SIZE } from "../page";
import { DEFAULT_INTEGRITY_SCHEME, INTEGRITY_SCHEMES, isIntegrityScheme } from "../enclavisor/integrity-scheme";
import type { IntegritySchemeName } from "../enclavisor/integrity-scheme";
import { UsageError } from "./cli-error";
import { parseSize } from "./size";

export const DEFAULT_MODE: ModeName = "enclavisor";


/** Help for the configuration flags, in the layout of a subcommand's help. */
export const CONFIG_FLAGS_HELP = `  --mode MODE              ${MODE_NAMES.join(" | ")} (default ${DEFAULT_MODE}):
                             native      the module as given, no MMU (the baseline)
                             sev         encryption (SEV / SEV-ES)
                             sev-snp     encryption and RMP checks (SEV-SNP)
                             enclavisor  encryption, RMP checks and the integrity tree
                             sgx         SGX's 93 MiB EPC with its MEE; beyond it the OS pages (bench/README.md)
  --native                 same as --mode native

Switches (each overrides the mode's preset):
  --encryption on|off      page out through the memory encryption engine (off: plaintext DRAM)
  --rmp on|off             SEV-SNP RMP checks in the memory controller
  --integrity on|off       Merkle tree over the enclave VM's frames
  --ciphertext-hiding on|off
                           host reads of private frames return 0xFF (default off)
  --cache SIZE             resident capacity (default ${(DEFAULT_CACHE_PAGES * PAGE_SIZE) / 2 ** 20}M; at least ${MIN_CACHE_PAGES} pages of 4K)
  --integrity-scheme S     ${INTEGRITY_SCHEMES.join(" | ")} (default ${DEFAULT_INTEGRITY_SCHEME}): with integrity on,
                             counter   a MAC per page under a tree of split counters (SGX's MEE, VAULT)
                             merkle    a SHA-256 Merkle tree over the pages, for comparison
  --integrity-cache N      verified nodes the integrity cache holds (default ${DEFAULT_INTEGRITY_CACHE_NODES.counter}
                           for counter, ${DEFAULT_INTEGRITY_CACHE_NODES.merkle} for merkle)

  --memory-limit SIZE      most memory the enclave may touch (default: none); beyond it the
                           enclave stops with an error
  --granularity G          ${GRANULARITY_NAMES.join(" | ")} (default ${DEFAULT_GRANULARITY}; protected modes):
                             vm        the enclave gets its own SEV VM (own ASID and key)
                             process   one Enclavisor VM holds the enclaves, each in its own
                                       address space
                             function  a copy-on-write clone of an initialised template
                           Not measured: the enclave report carries it.`;

/** parseArgs options of the configuration flags. */
export const CONFIG_OPTIONS = {
  mode: { type: "string" },
  native: { type: "boolean", default: false },
  encryption: { type: "string" },
  rmp: { type: "string" },
  integrity: { type: "string" },
  "ciphertext-hiding": { type: "string" },
  cache: { type: "string" },
  "integrity-scheme": { type: "string" },
  "integrity-cache": { type: "string" },
  "memory-limit": { type: "string" },
  granularity: { type: "string" },
} as const;

export interface ConfigFlagValues {
  mode?: string;
  native?: boolean;
  encryption?: string;
  rmp?: string;
  integrity?: string;
  "ciphertext-hiding"?: string;
  cache?: string;
  "integrity-scheme"?: string;
  "integrity-cache"?: string;
  "memory-limit"?: string;
  granularity?: string;
}

export interface EnclaveFlags {
  mode: ModeName;
  switches: ProtectionSwitches;
  memoryLimitPages: number | undefined;
  granularity: GranularityName;
}

function onOff(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "on") return true;
  if (value === "off") return false;
  throw new UsageError(`${flag} takes on or off, got '${value}'`);
}

function pages(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(value, flag);
  if (bytes < PAGE_SIZE) throw new UsageError(`${flag} must be at least one page of 4K, got '${value}'`);
  return Math.floor(bytes / PAGE_SIZE);
}

function scheme(value: string | undefined): IntegritySchemeName | undefined {
  if (value === undefined) return undefined;
  if (!isIntegrityScheme(value)) throw new UsageError(`--integrity-scheme must be one of ${INTEGRITY_SCHEMES.join(", ")}, got '${value}'`);
  return value;
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number, got '${value}'`);
  return Number(value);
}

/** The mode, switches and memory limit the flags ask for; throws a UsageError or ProtectionError naming the problem. */
export function parseEnclaveFlags(values: ConfigFlagValues): EnclaveFlags {
  const mode = values.native ? "native" : values.mode ?? DEFAULT_MODE;
  if (values.native && values.mode !== undefined && values.mode !== "native") {
    throw new UsageError(`--native contradicts --mode ${values.mode}`);
  }
  if (!isModeName(mode)) throw new UsageError(`--mode must be one of ${MODE_NAMES.join(", ")}, got '${mode}'`);
  const granularity = values.granularity ?? DEFAULT_GRANULARITY;
  if (!isGranularity(granularity)) throw new UsageError(`--granularity must be one of ${GRANULARITY_NAMES.join(", ")}, got '${granularity}'`);
  if (mode === "native" && granularity !== DEFAULT_GRANULARITY) {
    throw new UsageError(`--granularity ${granularity} needs Enclavisor: a native run is the module as given (use --granularity vm or a protected mode)`);
  }
  const memoryLimitPages = pages(values["memory-limit"], "--memory-limit");
  const switches = modeSwitches(mode, {
    encryption: onOff(values.encryption, "--encryption"),
    rmp: onOff(values.rmp, "--rmp"),
    integrity: onOff(values.integrity, "--integrity"),
    ciphertextHiding: onOff(values["ciphertext-hiding"], "--ciphertext-hiding"),
    cachePages: pages(values.cache, "--cache"),
    integrityScheme: scheme(values["integrity-scheme"]),
    integrityCacheNodes: count(values["integrity-cache"], "--integrity-cache"),
  });
  return { mode, switches, memoryLimitPages, granularity };
}

/** A parsed `enclave SUBCOMMAND APP.wasm [flags]` line, with the app's bytes. */
export interface AppCommandLine {
  file: string;
  bytes: Uint8Array;
  values: ConfigFlagValues & Record<string, string | boolean | undefined>;
  flags: EnclaveFlags;
}

/**
 * The shared front of `run` and `measure`: parses the flags (CONFIG_OPTIONS plus the command's
 * own), prints --help, checks there is one APP.wasm, reads it. Returns the exit code instead when
 * the command should stop here (0 after --help, 2 for a usage error, 1 for an unreadable file),
 * having printed why.
 */
export function parseAppCommand(
  name: string,
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string; default?: boolean }>,
  help: string,
): AppCommandLine | number {
  let values: AppCommandLine["values"];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...CONFIG_OPTIONS, ...options } }));
  } catch (e) {
    console.error(`enclave ${name}: ${(e as Error).message}\n\n${help}`);
    return 2;
  }
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`enclave ${name}: expected one APP.wasm, got ${positionals.length}\n\n${help}`);
    return 2;
  }
  let flags: EnclaveFlags;
  try {
    flags = parseEnclaveFlags(values);
  } catch (e) {
    console.error(`enclave ${name}: ${(e as Error).message}`);
    return 2;
  }
  const file = positionals[0]!;
  try {
    return { file, bytes: new Uint8Array(readFileSync(file)), values, flags };
  } catch (e) {
    console.error(`enclave ${name}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    return 1;
  }
}
