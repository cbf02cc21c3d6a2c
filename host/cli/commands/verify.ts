// `enclave verify`: checks an SNP attestation report against its VCEK and AMD-style chain, or
// (--evidence) an enclave's evidence bundle down to the ARK (host/enclavisor/evidence.ts).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { CliError, UsageError } from "../cli-error";
import type { Command } from "../command";
import { verifyAttestation, type ExpectedFields } from "../../verifier/snp-verifier";
import { verifyEvidence } from "../../verifier/evidence-verifier";
import type { EvidenceExpectations } from "../../verifier/evidence-verifier";
import { attestReportData, verifyRaTlsCertificate } from "../../verifier/ra-tls-verifier";
import type { Check } from "../../verifier/snp-verifier";
import { probeAttestedTls } from "../attested-tls-probe";
import type { GranularityName } from "../../enclavisor/attestation";
import { isGranularity } from "../../enclavisor/enclavisor";

const HELP = `usage: npm run enclave -- verify --report FILE --vcek FILE --chain FILE [options]
       npm run enclave -- verify --evidence FILE --measurement HEX [--report-data HEX]
                                 [--enclavisor-measurement HEX] [--granularity G]
                                 [--trusted-ark FILE]
       npm run enclave -- verify --tls HOST:PORT [--measurement HEX] [--fresh]
                                 [--enclavisor-measurement HEX] [--granularity G]
                                 [--trusted-ark FILE]

Verifies an SEV-SNP attestation report: the certificate chain ARK -> ASK -> VCEK (RSASSA-PSS,
SHA-384), the VCEK's validity and TCB/hwID extensions, the report's ECDSA P-384 signature, its
version and reserved fields, and any field given below. Exit status 0 only when every check holds.

  --report FILE         raw 1184-byte ATTESTATION_REPORT
  --vcek FILE           VCEK certificate, DER or PEM
  --chain FILE          ASK and ARK certificates in one PEM (AMD KDS cert_chain)
  --trusted-ark FILE    require the chain's ARK to be exactly this certificate
  --measurement HEX     expected MEASUREMENT (48 bytes)
  --report-data HEX     expected REPORT_DATA (up to 64 bytes, zero-padded on the right)
  --host-data HEX       expected HOST_DATA (32 bytes)
  --quiet               print only the verdict

With --evidence, checks an enclave's evidence bundle (what the SDK's attest() returns) link by
link: the chain, the VM's SNP report, the attestation key's binding to it (REPORT_DATA), the
enclave report's signature, and the enclave measurement (--measurement, 48 bytes, as printed by
\`enclave measure\`) and guest data (--report-data) it carries; --enclavisor-measurement HEX (48
bytes) also pins the Enclavisor VM's own launch measurement in its SNP report (\`enclave measure
--enclavisor\` prints it), and --granularity G (vm, process or function) the granularity the
enclave report states. A failure names its link.

With --tls, connects to an attested-TLS server (\`enclave serve --tls\`) and checks its certificate:
signed by its own key, carrying evidence that verifies as --evidence does and whose report data
is SHA-512 of the certificate's key, so that the TLS session ends in the enclave measured there.
--measurement pins that measurement (without it the check says what it is, not pinned).
--fresh also sends \`ATTEST nonce\` (Redis protocol, kv) with a random 32-byte nonce over the same
session and checks the evidence it answers: same enclave, report data = the nonce, then this
session's TLS exporter (RFC 9266), so it is fresh and was made for this session.`;


function hexArg(name: string, value: string | undefined, maxBytes: number, exact: boolean): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const clean = value.startsWith("0x") ? value.slice(2) : value;
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) {
    throw new UsageError(`--${name} must be an even number of hex digits`);
  }
  const bytes = Buffer.from(clean, "hex");
  if (exact ? bytes.length !== maxBytes : bytes.length > maxBytes) {
    throw new UsageError(`--${name} must be ${exact ? "exactly" : "at most"} ${maxBytes} bytes, got ${bytes.length}`);
  }
  const out = new Uint8Array(maxBytes);
  out.set(bytes);
  return out;
}

function readInput(flag: string, path: string | undefined): Uint8Array {
  if (path === undefined) throw new UsageError(`--${flag} FILE is required`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new UsageError(`cannot read --${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export const command: Command = {
  summary: "verify an SNP attestation report, an enclave's evidence, or an attested-TLS server",
  async run(args: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        allowPositionals: false,
        options: {
          report: { type: "string" },
          evidence: { type: "string" },
          tls: { type: "string" },
          fresh: { type: "boolean" },
          vcek: { type: "string" },
          chain: { type: "string" },
          "trusted-ark": { type: "string" },
          "enclavisor-measurement": { type: "string" },
          granularity: { type: "string" },
          measurement: { type: "string" },
          "report-data": { type: "string" },
          "host-data": { type: "string" },
          quiet: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
      }));
    } catch (err) {
      console.error(`enclave verify: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (values.tls !== undefined) return verifyTls(values);
    if (values.fresh) {
      console.error("enclave verify: --fresh only applies with --tls");
      return 2;
    }
    if (values.evidence !== undefined) return verifyEvidenceFile(values);
    let input;
    try {
      const expected: ExpectedFields = {};
      const m = hexArg("measurement", values.measurement, 48, true);
      const rd = hexArg("report-data", values["report-data"], 64, false);
      const hd = hexArg("host-data", values["host-data"], 32, true);
      if (m) expected.measurement = m;
      if (rd) expected.reportData = rd;
      if (hd) expected.hostData = hd;
      input = {
        report: readInput("report", values.report),
        vcek: readInput("vcek", values.vcek),
        chain: readInput("chain", values.chain),
        expected,
        ...(values["trusted-ark"] !== undefined ? { trustedArk: readInput("trusted-ark", values["trusted-ark"]) } : {}),
      };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(`enclave verify: ${err.message}`);
      return 2;
    }
    const result = verifyAttestation(input);
    if (!values.quiet) {
      for (const c of result.checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    }
    if (result.ok) {
      const r = result.report!;
      console.log(`verified: report v${r.version}, measurement ${Buffer.from(r.measurement).toString("hex")}`);
      return 0;
    }
    console.error(`verification failed: ${result.failure!.name}: ${result.failure!.detail}`);
    return 1;
  },
};

interface EvidenceArgs {
  evidence?: string;
  tls?: string;
  fresh?: boolean;
  report?: string;
  vcek?: string;
  chain?: string;
  "host-data"?: string;
  "trusted-ark"?: string;
  "enclavisor-measurement"?: string;
  granularity?: string;
  measurement?: string;
  "report-data"?: string;
  quiet?: boolean;
}

/** `verify --evidence`: every link of an enclave's evidence bundle, down to the ARK. */
function verifyEvidenceFile(values: EvidenceArgs): number {
  let evidence: Uint8Array;
  let expect: EvidenceExpectations;
  try {
    for (const flag of ["report", "vcek", "chain", "host-data"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not go with --evidence (the bundle carries the report and chain)`);
    }
    if (values.measurement === undefined) throw new UsageError("--evidence needs --measurement HEX (the enclave measurement, from `enclave measure`)");
    const reportData = hexArg("report-data", values["report-data"], 64, false);
    expect = { ...expectations(values), ...(reportData ? { reportData } : {}) };
    evidence = readInput("evidence", values.evidence);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`enclave verify: ${err.message}`);
    return 2;
  }
  const result = verifyEvidence(evidence, expect);
  if (!values.quiet) {
    for (const c of result.checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  }
  if (result.ok) {
    const r = result.enclaveReport!;
    console.log(`verified: enclave ${r.enclaveId} (${r.granularity}), measurement ${Buffer.from(r.measurement).toString("hex")}`);
    return 0;
  }
  console.error(`verification failed: ${result.failure!.name}: ${result.failure!.detail}`);
  return 1;
}

/** The expectations --evidence and --tls share, from their flags (UsageError on a bad one). */
function expectations(values: EvidenceArgs): Omit<EvidenceExpectations, "reportData"> {
  const measurement = hexArg("measurement", values.measurement, 48, true);
  const enclavisorMeasurement = hexArg("enclavisor-measurement", values["enclavisor-measurement"], 48, true);
  if (values.granularity !== undefined && !isGranularity(values.granularity)) {
    throw new UsageError(`--granularity must be vm, process or function, got '${values.granularity}'`);
  }
  return {
    ...(measurement ? { measurement } : {}),
    ...(enclavisorMeasurement ? { enclavisorMeasurement } : {}),
    ...(values.granularity !== undefined ? { granularity: values.granularity as GranularityName } : {}),
    ...(values["trusted-ark"] !== undefined ? { trustedArk: readInput("trusted-ark", values["trusted-ark"]) } : {}),
  };
}

/** `verify --tls HOST:PORT`: the server's RA-TLS certificate, and with --fresh, ATTEST's evidence on the same session. */
async function verifyTls(values: EvidenceArgs): Promise<number> {
  let host: string, port: number, expect: Omit<EvidenceExpectations, "reportData">;
  try {
    for (const flag of ["report", "vcek", "chain", "host-data", "evidence", "report-data"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not go with --tls (the certificate carries the evidence)`);
    }
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(values.tls!);
    port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) throw new UsageError(`--tls takes HOST:PORT, got '${values.tls}'`);
    host = m[1] ?? m[2]!;
    expect = expectations(values);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`enclave verify: ${err.message}`);
    return 2;
  }
  const print = (checks: readonly Check[], prefix = ""): void => {
    if (!values.quiet) for (const c of checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${prefix}${c.name}: ${c.detail}`);
  };
  let probe;
  try {
    probe = await probeAttestedTls(host, port, values.fresh === true);
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    console.error(`verification failed: connection: ${err.message}`);
    return 1;
  }
  const result = verifyRaTlsCertificate(probe.certificate, expect);
  print(result.checks);
  if (!result.ok) {
    console.error(`verification failed: ${result.failure!.name}: ${result.failure!.detail}`);
    return 1;
  }
  const r = result.enclaveReport!;
  if (probe.fresh) {
    // The same enclave as the certificate's evidence, over this session's nonce and binding.
    const { nonce, binding, evidence } = probe.fresh;
    const fresh = verifyEvidence(evidence, { ...expect, measurement: r.measurement, reportData: attestReportData(nonce, binding) });
    print(fresh.checks, "fresh/");
    if (!fresh.ok) {
      console.error(`verification failed: fresh/${fresh.failure!.name}: ${fresh.failure!.detail}`);
      return 1;
    }
    if (fresh.enclaveReport!.enclaveId !== r.enclaveId) {
      console.error(`verification failed: fresh/enclave: ATTEST answered for enclave ${fresh.enclaveReport!.enclaveId}, the certificate is enclave ${r.enclaveId}'s`);
      return 1;
    }
  }
  const pinned = expect.measurement ? "" : " (not pinned: pass --measurement to require it)";
  const freshness = probe.fresh ? "; fresh evidence bound to this session's nonce and TLS exporter" : "";
  console.log(`verified: ${host}:${port} is enclave ${r.enclaveId} (${r.granularity}), measurement ${Buffer.from(r.measurement).toString("hex")}${pinned}${freshness}`);
  return 0;
}
