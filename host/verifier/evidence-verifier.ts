// The relying party's check of an evidence bundle (format: host/enclavisor/evidence.ts), link by
// link down to AMD's ARK. Each failure names its link, in this order: evidence (the file parses),
// chain (ARK -> ASK -> VCEK, validity, TCB), vm-report (the SNP report's signature and fields),
// key-binding (REPORT_DATA = SHA-384(attestationKey) || zeros), enclave-report-signature,
// enclave-report (layout), measurement, report-data, granularity.
import { createPublicKey, verify } from "node:crypto";
import {
  ENCLAVE_REPORT_BYTES,
  keyBindingReportData,
  parseEnclaveReport,
  REPORT_DATA_BYTES,
  SIGNATURE_BYTES,
} from "../enclavisor/attestation";
import type { EnclaveReport, GranularityName } from "../enclavisor/attestation";
import { EVIDENCE_FORMAT, EVIDENCE_VERSION } from "../enclavisor/evidence";
import type { Evidence } from "../enclavisor/evidence";
import { REPORT_BYTES } from "../sev/report";
import { verifyAttestation } from "./snp-verifier";
import type { Check } from "./snp-verifier";
import { VerifierError } from "./verifier-error";

/** Largest evidence file read: far above a real bundle (a few KiB), bounds a hostile input. */
export const MAX_EVIDENCE_BYTES = 1 << 20;

/** Evidence that does not parse: the message names the field. */
export class EvidenceFormatError extends VerifierError {
  override readonly name = "EvidenceFormatError";
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses a bundle; throws EvidenceFormatError naming the bad field. */
export function decodeEvidence(bytes: Uint8Array): Evidence {
  if (bytes.length > MAX_EVIDENCE_BYTES) throw new EvidenceFormatError(`evidence is ${bytes.length} bytes, over the ${MAX_EVIDENCE_BYTES}-byte limit`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new EvidenceFormatError(`evidence is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new EvidenceFormatError("evidence is not a JSON object");
  const o = json as Record<string, unknown>;
  if (o.format !== EVIDENCE_FORMAT) throw new EvidenceFormatError(`evidence "format" must be "${EVIDENCE_FORMAT}"`);
  if (o.version !== EVIDENCE_VERSION) throw new EvidenceFormatError(`evidence version ${String(o.version)} is not supported (expected ${EVIDENCE_VERSION})`);
  const bin = (field: string): Uint8Array => {
    const v = o[field];
    if (typeof v !== "string" || !BASE64_RE.test(v)) throw new EvidenceFormatError(`evidence field "${field}" must be a base64 string`);
    return new Uint8Array(Buffer.from(v, "base64"));
  };
  const text = (field: string): string => {
    const v = o[field];
    if (typeof v !== "string") throw new EvidenceFormatError(`evidence field "${field}" must be a PEM string`);
    return v;
  };
  return {
    enclaveReport: bin("enclaveReport"),
    enclaveReportSignature: bin("enclaveReportSignature"),
    attestationKey: bin("attestationKey"),
    vmReport: bin("vmReport"),
    vcek: bin("vcek"),
    ask: text("ask"),
    ark: text("ark"),
  };
}

export interface EvidenceExpectations {
  /** The expected enclave measurement (48 bytes); when absent, the check says it was not pinned. */
  measurement?: Uint8Array;
  /** The expected guest data (64 bytes); not checked when absent. */
  reportData?: Uint8Array;
  /**
   * The expected launch measurement of the Enclavisor VM (48 bytes: the SNP report's
   * MEASUREMENT); not checked when absent. Pins which Enclavisor image produced the evidence.
   */
  enclavisorMeasurement?: Uint8Array;
  /** The expected granularity the enclave runs at; not checked when absent. */
  granularity?: GranularityName;
  /** When given, the chain's ARK must be exactly this certificate (DER or PEM). */
  trustedArk?: Uint8Array | string;
  /** Time at which certificate validity is judged; default now. */
  now?: Date;
}

export interface EvidenceResult {
  ok: boolean;
  /** Every check run, the SNP verifier's included (their names prefixed by their link). */
  checks: Check[];
  /** The first failed check; its name is the link. */
  failure?: Check;
  enclaveReport?: EnclaveReport;
}

/** SNP verifier checks that belong to the certificate chain; the rest are about the VM report. */
const CHAIN_CHECK = /^(ark|ask|vcek|validity|tcb|hwid)/;

/** Checks every link from the ARK down to the guest's data. Never throws on bad input. */
export function verifyEvidence(bytes: Uint8Array, expect: EvidenceExpectations): EvidenceResult {
  const checks: Check[] = [];
  const fail = (name: string, detail: string): EvidenceResult => {
    const failure = { name, ok: false, detail };
    checks.push(failure);
    return { ok: false, checks, failure };
  };
  const pass = (name: string, detail: string): void => {
    checks.push({ name, ok: true, detail });
  };

  let e: Evidence;
  try {
    e = decodeEvidence(bytes);
  } catch (err) {
    return fail("evidence", (err as Error).message);
  }
  pass("evidence", `format ${EVIDENCE_FORMAT} v${EVIDENCE_VERSION}`);

  if (e.vmReport.length !== REPORT_BYTES) return fail("vm-report", `the VM report must be ${REPORT_BYTES} bytes, got ${e.vmReport.length}`);
  const snp = verifyAttestation({
    report: e.vmReport,
    vcek: e.vcek,
    chain: `${e.ask}\n${e.ark}\n`,
    ...(expect.trustedArk !== undefined ? { trustedArk: expect.trustedArk } : {}),
    ...(expect.now !== undefined ? { now: expect.now } : {}),
    ...(expect.enclavisorMeasurement !== undefined ? { expected: { measurement: expect.enclavisorMeasurement } } : {}),
  });
  for (const c of snp.checks) {
    const link = c.name === "input" || CHAIN_CHECK.test(c.name) ? "chain" : "vm-report";
    checks.push({ name: `${link}/${c.name}`, ok: c.ok, detail: c.detail });
  }
  if (!snp.ok) {
    const f = snp.failure!;
    const link = f.name === "input" || CHAIN_CHECK.test(f.name) ? "chain" : "vm-report";
    checks.pop();
    return fail(link, `${f.name}: ${f.detail}`);
  }

  const binding = keyBindingReportData(e.attestationKey);
  if (Buffer.compare(binding, snp.report!.reportData) !== 0) {
    return fail("key-binding", "the VM report's REPORT_DATA is not SHA-384 of the attestation key");
  }
  pass("key-binding", "the VM report's REPORT_DATA binds the attestation key");

  if (e.enclaveReport.length !== ENCLAVE_REPORT_BYTES) {
    return fail("enclave-report-signature", `the enclave report must be ${ENCLAVE_REPORT_BYTES} bytes, got ${e.enclaveReport.length}`);
  }
  if (e.enclaveReportSignature.length !== SIGNATURE_BYTES) {
    return fail("enclave-report-signature", `the signature must be ${SIGNATURE_BYTES} bytes (r || s), got ${e.enclaveReportSignature.length}`);
  }
  if (!verifyEnclaveReportSignature(e.enclaveReport, e.enclaveReportSignature, e.attestationKey)) {
    return fail("enclave-report-signature", "the enclave report's signature does not verify with the attestation key");
  }
  pass("enclave-report-signature", "enclave report signed by the attestation key (ECDSA P-384 / SHA-384)");

  let r: EnclaveReport;
  try {
    r = parseEnclaveReport(e.enclaveReport);
  } catch (err) {
    return fail("enclave-report", (err as Error).message);
  }
  pass("enclave-report", `v${r.version}, enclave ${r.enclaveId}, granularity ${r.granularity}`);

  const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
  if (expect.measurement === undefined) {
    pass("measurement", `not pinned: the enclave measures ${hex(r.measurement)} (pass the expected measurement to require it)`);
  } else if (Buffer.compare(r.measurement, expect.measurement) !== 0) {
    return fail("measurement", `enclave measurement is ${hex(r.measurement)}, expected ${hex(expect.measurement)}`);
  } else {
    pass("measurement", "enclave measurement matches");
  }
  if (expect.reportData !== undefined) {
    if (expect.reportData.length !== REPORT_DATA_BYTES || Buffer.compare(r.reportData, expect.reportData) !== 0) {
      return fail("report-data", `report data is ${hex(r.reportData)}, expected ${hex(expect.reportData)}`);
    }
    pass("report-data", "report data matches");
  }
  if (expect.granularity !== undefined) {
    if (r.granularity !== expect.granularity) {
      return fail("granularity", `the enclave runs at granularity ${r.granularity}, expected ${expect.granularity}`);
    }
    pass("granularity", "granularity matches");
  }
  return { ok: true, checks, enclaveReport: r };
}

/** True when `signature` is the key's ECDSA P-384 / SHA-384 signature of `report`; false on any bad input. */
function verifyEnclaveReportSignature(report: Uint8Array, signature: Uint8Array, spkiDer: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "secp384r1") return false;
    return verify("sha384", report, { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}
