// Measured references: what the machine's own OpenSSL does per 4 KiB block for the primitives the
// emulation spends its time in, so that every report can put its figures next to a measured floor:
// AES-128-XTS (the SEV memory encryption engine, host/sev), AES-128-GCM (the SGX model's
// counter-mode MEE and paging crypto, host/sgx), SHA-256 (the integrity tree's default hash) and
// SHA-384 (measurements and launch digests). Measured once per `npm run bench` and kept in
// bench/results/references.json, which the summary and the suites' reports read.
//
// `openssl speed -elapsed`: wall-clock time, as the suites time their subjects, so that both meet
// the same load on a shared machine. The sev suite runs its own `openssl speed` for XTS in the same
// rounds as its engine (bench/sev.ts); this is the machine-wide reference beside it.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { markdownTable, median } from "./harness";

export const REFERENCE_BLOCK_BYTES = 4096;

/** The algorithms measured, as `openssl speed -evp` names them, and why each is here. */
export const REFERENCE_ALGORITHMS = [
  { name: "aes-128-xts", why: "SEV memory encryption engine (host/sev/xts.ts)" },
  { name: "aes-128-gcm", why: "SGX model: counter-mode MEE and EWB/ELDU (host/sgx)" },
  { name: "sha256", why: "integrity tree's default hash (host/enclavisor/merkle-tree.ts)" },
  { name: "sha384", why: "measurements and SNP launch digests" },
] as const;

export interface OpensslSpeed {
  algorithm: string;
  why: string;
  /** Median of the runs, bytes per second on 4 KiB blocks. */
  bytesPerSecond: number;
  /** The same as time per 4 KiB block, µs. */
  usPerBlock: number;
  runs: number[];
}

export interface References {
  measuredAt: string;
  /** `openssl version` of the CLI that ran (Node links its own OpenSSL, in the machine table). */
  opensslCli: string;
  seconds: number;
  openssl: OpensslSpeed[];
}

function openssl(args: string[]): string {
  try {
    return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`could not run 'openssl ${args.join(" ")}' (is openssl installed? scripts/ensure-tools.sh installs it): ` +
      `${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Parses the last table row of `openssl speed` ("sha256   504104.05k": 1000s of bytes per second). */
export function parseOpensslSpeed(output: string, algorithm: string): number {
  const escaped = algorithm.replace(/[-]/g, "[-_ ]?");
  const m = new RegExp(`^${escaped}\\s+([\\d.]+)k\\s*$`, "im").exec(output);
  if (!m) throw new Error(`no '${algorithm}' row in the output of openssl speed:\n${output.trim().split("\n").slice(-4).join("\n")}`);
  return Number(m[1]) * 1000;
}

/** One `openssl speed -elapsed -evp ALG -bytes 4096`, in bytes per second. */
export function opensslSpeed(algorithm: string, seconds: number): number {
  const out = openssl(["speed", "-elapsed", "-evp", algorithm, "-bytes", String(REFERENCE_BLOCK_BYTES), "-seconds", String(seconds)]);
  return parseOpensslSpeed(out, algorithm);
}

export function measureReferences(opts: { full: boolean; log: (line: string) => void }): References {
  const runs = opts.full ? 3 : 1;
  const seconds = 1;
  const cli = openssl(["version"]).trim();
  const speeds: OpensslSpeed[] = [];
  for (const a of REFERENCE_ALGORITHMS) {
    const samples = Array.from({ length: runs }, () => opensslSpeed(a.name, seconds));
    const bps = median(samples);
    speeds.push({ algorithm: a.name, why: a.why, bytesPerSecond: bps, usPerBlock: (REFERENCE_BLOCK_BYTES / bps) * 1e6, runs: samples });
    opts.log(`openssl speed ${a.name}: ${(bps / 1e6).toFixed(0)} MB/s, ${((REFERENCE_BLOCK_BYTES / bps) * 1e6).toFixed(3)} µs per 4 KiB`);
  }
  return { measuredAt: new Date().toISOString(), opensslCli: cli, seconds, openssl: speeds };
}

export function referencesPath(resultsDir: string): string {
  return join(resultsDir, "references.json");
}

/** The references of the last run, or null when none was measured yet. */
export function loadReferences(resultsDir: string): References | null {
  const path = referencesPath(resultsDir);
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, "utf8")) as References;
}

/** µs per 4 KiB block of one algorithm, if measured. */
export function referenceUs(refs: References | null, algorithm: string): number | undefined {
  return refs?.openssl.find((o) => o.algorithm === algorithm)?.usPerBlock;
}

export function referencesMarkdown(r: References): string {
  return [
    `\`openssl speed -elapsed -evp ALG -bytes ${REFERENCE_BLOCK_BYTES} -seconds ${r.seconds}\` (${r.opensslCli}), measured ${r.measuredAt}; ` +
      `median of ${r.openssl[0]?.runs.length ?? 0} run(s).`,
    "",
    markdownTable(["algorithm", "MB/s", "µs per 4 KiB", "why it is here"],
      r.openssl.map((o) => [o.algorithm, (o.bytesPerSecond / 1e6).toFixed(0), o.usPerBlock.toFixed(3), o.why])),
  ].join("\n");
}
