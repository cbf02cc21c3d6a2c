// Verifies SNP attestation evidence as a relying party would, trusting nothing from the host:
// the ARK -> ASK -> VCEK chain (RSASSA-PSS / SHA-384, AMD pub. 57230), the VCEK's validity and TCB
// extensions, the report's ECDSA P-384 signature, its version and reserved fields (SNP ABI
// pub. 56860, "ATTESTATION_REPORT Structure"), and whichever fields the caller expects. Accepts
// our emulated chain and AMD's genuine one alike.
import { X509Certificate as NodeX509 } from "node:crypto";
import * as asn1js from "asn1js";
import {
  type AttestationReport,
  Offset,
  parseReport,
  REPORT_BYTES,
  reservedRanges,
  SIG_ALGO_ECDSA_P384_SHA384,
  SIGNER_INFO_RESERVED_MASK,
  type TcbVersion,
  verifyReportSignature,
} from "../sev/report";
import { x509 } from "../sev/x509";
import { VcekOid } from "../sev/certs";
import { VerifierError } from "./verifier-error";

/** Report versions with the layout this verifier knows (2: ABI 1.52; 3: + CPUID; 5: + mitigation vectors). */
const KNOWN_VERSIONS = new Set([2, 3, 4, 5]);

export interface ExpectedFields {
  measurement?: Uint8Array;
  reportData?: Uint8Array;
  hostData?: Uint8Array;
  chipId?: Uint8Array;
  policy?: bigint;
  vmpl?: number;
}

export interface VerifyInput {
  /** The raw 1184-byte report. */
  report: Uint8Array;
  /** VCEK certificate, DER or PEM. */
  vcek: Uint8Array | string;
  /** ASK and ARK certificates in one PEM (AMD's cert_chain order: ASK first, then ARK). */
  chain: Uint8Array | string;
  /** When given, the chain's ARK must be exactly this certificate (DER or PEM): a pinned root. */
  trustedArk?: Uint8Array | string;
  expected?: ExpectedFields;
  /** Time at which certificate validity is judged; default now. */
  now?: Date;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  checks: Check[];
  /** The first failed check, when any. */
  failure?: Check;
  report?: AttestationReport;
}

class CheckFailed extends VerifierError {
  override readonly name = "CheckFailed";
  constructor(readonly check: Check) {
    super(`${check.name}: ${check.detail}`);
  }
}

const PEM_RE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

function asText(x: Uint8Array | string): string | undefined {
  if (typeof x === "string") return x;
  const head = Buffer.from(x.subarray(0, 4096)).toString("latin1");
  return head.includes("-----BEGIN") ? Buffer.from(x).toString("utf8") : undefined;
}

/** DER blobs of every certificate in a PEM text, or the one DER certificate given. */
function certificateDers(x: Uint8Array | string): Uint8Array[] {
  const text = asText(x);
  if (text === undefined) return [x as Uint8Array];
  return [...text.matchAll(PEM_RE)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")));
}

interface ParsedCert {
  node: NodeX509;
  peculiar: x509.X509Certificate;
  der: Uint8Array;
}

function parseCert(der: Uint8Array, what: string): ParsedCert {
  try {
    return { node: new NodeX509(der), peculiar: new x509.X509Certificate(new Uint8Array(der)), der };
  } catch (err) {
    throw new VerifierError(`${what} is not a valid X.509 certificate (${(err as Error).message})`);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The signature algorithm must be RSASSA-PSS with SHA-384 (AMD's ARK and ASK sign that way). */
function pssSha384(cert: ParsedCert): string | undefined {
  const alg = cert.peculiar.signatureAlgorithm as { name?: string; hash?: { name?: string }; saltLength?: number };
  if (alg.name !== "RSA-PSS") return `signed with ${alg.name ?? "an unknown algorithm"}, expected RSASSA-PSS`;
  if (alg.hash?.name !== "SHA-384") return `RSASSA-PSS with ${alg.hash?.name ?? "no explicit hash"}, expected SHA-384`;
  return undefined;
}

function extInteger(cert: ParsedCert, oid: string): number | undefined {
  const ext = cert.peculiar.getExtension(oid);
  if (!ext) return undefined;
  const parsed = asn1js.fromBER(ext.value);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Integer)) return undefined;
  return parsed.result.valueBlock.valueDec;
}

/** AMD stores the 64-byte hwID raw in the extension value; a DER OCTET STRING wrapper is accepted too. */
function extHwId(cert: ParsedCert): Uint8Array | undefined {
  const ext = cert.peculiar.getExtension(VcekOid.hwID);
  if (!ext) return undefined;
  const raw = new Uint8Array(ext.value);
  if (raw.length === 64) return raw;
  const parsed = asn1js.fromBER(ext.value);
  if (parsed.offset !== -1 && parsed.result instanceof asn1js.OctetString) {
    return new Uint8Array(parsed.result.valueBlock.valueHexView);
  }
  return raw;
}

function fmtTcb(t: TcbVersion): string {
  return `bl=${t.bootloader} tee=${t.tee} snp=${t.snp} ucode=${t.microcode}`;
}

/** Runs every check in order and stops at the first that fails. Never throws on bad input. */
export function verifyAttestation(input: VerifyInput): VerifyResult {
  const checks: Check[] = [];
  let report: AttestationReport | undefined;
  const pass = (name: string, detail: string): void => {
    checks.push({ name, ok: true, detail });
  };
  const check = (name: string, cond: boolean, okDetail: string, failDetail: () => string): void => {
    if (!cond) throw new CheckFailed({ name, ok: false, detail: failDetail() });
    pass(name, okDetail);
  };
  const attempt = (name: string, f: () => void): void => {
    try {
      f();
    } catch (err) {
      if (err instanceof CheckFailed) throw err;
      throw new CheckFailed({ name, ok: false, detail: (err as Error).message });
    }
  };

  try {
    // ---- inputs ----
    let vcek!: ParsedCert;
    let ark!: ParsedCert;
    let ask!: ParsedCert;
    attempt("input", () => {
      const r = input.report;
      if (!(r instanceof Uint8Array) || r.length !== REPORT_BYTES) {
        throw new VerifierError(`the report must be ${REPORT_BYTES} bytes, got ${r instanceof Uint8Array ? r.length : typeof r}`);
      }
      const vcekDers = certificateDers(input.vcek);
      if (vcekDers.length !== 1) throw new VerifierError(`expected one VCEK certificate, found ${vcekDers.length}`);
      vcek = parseCert(vcekDers[0]!, "the VCEK");
      const chainDers = certificateDers(input.chain);
      if (chainDers.length !== 2) throw new VerifierError(`the chain must hold the ASK and the ARK, found ${chainDers.length} certificate(s)`);
      const [first, second] = chainDers.map((d, i) => parseCert(d, i === 0 ? "the chain's first certificate" : "the chain's second certificate")) as [ParsedCert, ParsedCert];
      // AMD's KDS serves ASK then ARK; accept either order by finding the self-issued one.
      const selfIssued = (c: ParsedCert): boolean => c.node.subject === c.node.issuer;
      [ask, ark] = selfIssued(second) || !selfIssued(first) ? [first, second] : [second, first];
      pass("input", "report is 1184 bytes; VCEK, ASK and ARK parse as X.509");
    });

    // ---- certificate chain ----
    attempt("ark", () => {
      check("ark", ark.node.subject === ark.node.issuer, `self-issued ${ark.node.subject.replace(/\n/g, ", ")}`, () => "the ARK is not self-issued (subject differs from issuer)");
      const alg = pssSha384(ark);
      check("ark-algorithm", alg === undefined, "RSASSA-PSS / SHA-384", () => `ARK ${alg}`);
      check("ark-signature", ark.node.verify(ark.node.publicKey), "ARK self-signature valid", () => "the ARK's self-signature does not verify");
      if (input.trustedArk !== undefined) {
        const pinned = certificateDers(input.trustedArk);
        check("ark-trusted", pinned.length === 1 && sameBytes(pinned[0]!, ark.der), "ARK matches the pinned root", () => "the chain's ARK is not the trusted ARK");
      }
    });
    attempt("ask", () => {
      check("ask-issuer", ask.node.issuer === ark.node.subject, "ASK issued by ARK", () => "the ASK's issuer is not the ARK's subject");
      const alg = pssSha384(ask);
      check("ask-algorithm", alg === undefined, "RSASSA-PSS / SHA-384", () => `ASK ${alg}`);
      check("ask-signature", ask.node.verify(ark.node.publicKey), "ASK signature by ARK valid", () => "the ASK's signature does not verify with the ARK's key");
    });
    attempt("vcek", () => {
      check("vcek-issuer", vcek.node.issuer === ask.node.subject, "VCEK issued by ASK", () => "the VCEK's issuer is not the ASK's subject");
      const alg = pssSha384(vcek);
      check("vcek-algorithm", alg === undefined, "RSASSA-PSS / SHA-384", () => `VCEK ${alg}`);
      check("vcek-signature", vcek.node.verify(ask.node.publicKey), "VCEK signature by ASK valid", () => "the VCEK's signature does not verify with the ASK's key");
      const key = vcek.node.publicKey;
      check(
        "vcek-key",
        key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "secp384r1",
        "ECDSA P-384 public key",
        () => `the VCEK key is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ""}, expected ECDSA P-384`,
      );
    });
    attempt("validity", () => {
      const now = input.now ?? new Date();
      for (const [name, c] of [["ark", ark], ["ask", ask], ["vcek", vcek]] as const) {
        const from = c.peculiar.notBefore;
        const to = c.peculiar.notAfter;
        check(
          `${name}-validity`,
          from.getTime() <= now.getTime() && now.getTime() <= to.getTime(),
          `valid ${from.toISOString()} .. ${to.toISOString()}`,
          () => `the ${name.toUpperCase()} certificate is not valid at ${now.toISOString()} (valid ${from.toISOString()} .. ${to.toISOString()})`,
        );
      }
    });

    // ---- report ----
    const bytes = input.report;
    const r = parseReport(bytes);
    report = r;
    check("report-version", KNOWN_VERSIONS.has(r.version), `version ${r.version}`, () => `report version ${r.version} is not supported (expected 2..5)`);
    check(
      "signature-algo",
      r.signatureAlgo === SIG_ALGO_ECDSA_P384_SHA384,
      "ECDSA P-384 with SHA-384",
      () => `signature_algo is ${r.signatureAlgo}, expected 1 (ECDSA P-384 with SHA-384)`,
    );
    check("signing-key", r.signingKey === 0, "signed by the VCEK", () => `signing_key is ${r.signingKey}, expected 0 (VCEK)`);
    const signer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(Offset.signerInfo);
    const badRange = reservedRanges(r.version).find(([s, e]) => bytes.subarray(s, e).some((x) => x !== 0));
    check(
      "reserved-zero",
      (signer & SIGNER_INFO_RESERVED_MASK) === 0 && badRange === undefined,
      "reserved fields are zero",
      () =>
        badRange
          ? `reserved bytes 0x${badRange[0].toString(16)}..0x${(badRange[1] - 1).toString(16)} are not zero`
          : "reserved bits 31:5 at offset 0x48 are not zero",
    );
    check("report-signature", verifyReportSignature(bytes, vcek.node.publicKey), "report signature by VCEK valid", () => "the report's signature does not verify with the VCEK");

    // ---- VCEK bound to this chip and TCB ----
    const hwid = extHwId(vcek);
    check(
      "vcek-chip-id",
      hwid !== undefined && sameBytes(hwid, r.chipId),
      "VCEK hwID equals the report's chip_id",
      () => (hwid === undefined ? "the VCEK has no hwID extension" : `VCEK hwID ${hex(hwid).slice(0, 16)}... differs from the report's chip_id ${hex(r.chipId).slice(0, 16)}...`),
    );
    const vcekTcb = {
      bootloader: extInteger(vcek, VcekOid.blSPL),
      tee: extInteger(vcek, VcekOid.teeSPL),
      snp: extInteger(vcek, VcekOid.snpSPL),
      microcode: extInteger(vcek, VcekOid.ucodeSPL),
    };
    const tcbKnown = Object.values(vcekTcb).every((v) => v !== undefined);
    const same =
      tcbKnown &&
      vcekTcb.bootloader === r.reportedTcb.bootloader &&
      vcekTcb.tee === r.reportedTcb.tee &&
      vcekTcb.snp === r.reportedTcb.snp &&
      vcekTcb.microcode === r.reportedTcb.microcode;
    check(
      "vcek-tcb",
      same,
      `VCEK TCB equals reported_tcb (${fmtTcb(r.reportedTcb)})`,
      () =>
        tcbKnown
          ? `VCEK TCB (${fmtTcb(vcekTcb as TcbVersion)}) differs from the report's reported_tcb (${fmtTcb(r.reportedTcb)})`
          : "the VCEK lacks AMD's TCB extensions (blSPL, teeSPL, snpSPL, ucodeSPL)",
    );

    // ---- fields the caller asked for ----
    const exp = input.expected ?? {};
    const field = (name: string, want: Uint8Array | undefined, got: Uint8Array): void => {
      if (want === undefined) return;
      check(name, sameBytes(want, got), `${name} matches`, () => `${name} is ${hex(got)}, expected ${hex(want)}`);
    };
    field("measurement", exp.measurement, r.measurement);
    field("report-data", exp.reportData, r.reportData);
    field("host-data", exp.hostData, r.hostData);
    field("chip-id", exp.chipId, r.chipId);
    if (exp.policy !== undefined) {
      check("policy", exp.policy === r.policy, "policy matches", () => `policy is 0x${r.policy.toString(16)}, expected 0x${exp.policy!.toString(16)}`);
    }
    if (exp.vmpl !== undefined) {
      check("vmpl", exp.vmpl === r.vmpl, "vmpl matches", () => `vmpl is ${r.vmpl}, expected ${exp.vmpl}`);
    }
    return { ok: true, checks, report };
  } catch (err) {
    const failure = err instanceof CheckFailed ? err.check : { name: "internal", ok: false, detail: String(err) };
    checks.push(failure);
    return { ok: false, checks, failure, ...(report ? { report } : {}) };
  }
}
