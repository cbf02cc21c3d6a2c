// The relying party's check of an attested-TLS peer (host/enclavisor/attested-tls.ts): its RA-TLS
// certificate (format: host/enclavisor/ra-tls-certificate.ts), and fresh evidence the app gives
// for a nonce over the same session (kv's ATTEST, guest-apps/kv/cmd-attest.ts). Each failure
// names its link: certificate (it parses, and is signed by its own key), certificate-evidence (the
// extension is there), then the evidence's links (evidence-verifier.ts), whose report-data check
// is here the binding of the certificate's key: SHA-512 of its SubjectPublicKeyInfo.
import { X509Certificate } from "node:crypto";
import { CHANNEL_BINDING_BYTES } from "../enclavisor/abi-constants";
import { REPORT_DATA_BYTES } from "../enclavisor/attestation";
import { objectIdentifier } from "../enclavisor/der";
import { EVIDENCE_OID, tlsKeyReportData } from "../enclavisor/ra-tls-certificate";
import { MAX_EVIDENCE_BYTES, verifyEvidence } from "./evidence-verifier";
import type { EvidenceExpectations, EvidenceResult } from "./evidence-verifier";
import type { Check } from "./snp-verifier";

/** The most nonce bytes ATTEST takes: the first half of the report data. */
export const ATTEST_NONCE_BYTES = REPORT_DATA_BYTES - CHANNEL_BINDING_BYTES;

export interface RaTlsResult extends EvidenceResult {
  /** The evidence the certificate carries, once found. */
  evidence?: Uint8Array;
}

/** The header of a DER TLV with tag `tag` at `at`: where its contents start and how long they are, or null. */
function header(der: Uint8Array, at: number, tag: number): { start: number; length: number } | null {
  if (der.length < at + 2 || der[at] !== tag) return null;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || der.length < start + n) return null;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[start + i]!;
    start += n;
  }
  return start + length <= der.length ? { start, length } : null;
}

const EVIDENCE_OID_DER = objectIdentifier(EVIDENCE_OID);

/**
 * The Extensions of a certificate (RFC 5280 4.1: Certificate { TBSCertificate { ..., [3]
 * Extensions } }), each as its DER, read here rather than through @peculiar/x509, which re-encodes
 * an OID arc past 2^53 wrongly; [] if the certificate has none or does not parse.
 */
function extensionsOf(cert: Uint8Array): Uint8Array[] {
  const outer = header(cert, 0, 0x30);
  const tbs = outer && header(cert, outer.start, 0x30);
  if (!tbs) return [];
  for (let at = tbs.start; at < tbs.start + tbs.length; ) {
    const field = header(cert, at, cert[at]!);
    if (!field) return [];
    if (cert[at] === 0xa3) {
      const list = header(cert, field.start, 0x30);
      const out: Uint8Array[] = [];
      for (let e = list ? list.start : Infinity; list && e < list.start + list.length; ) {
        const ext = header(cert, e, 0x30);
        if (!ext) return [];
        out.push(cert.subarray(e, ext.start + ext.length));
        e = ext.start + ext.length;
      }
      return out;
    }
    at = field.start + field.length;
  }
  return [];
}

/**
 * The evidence in an Extension (its DER): SEQUENCE { OID, [critical,] OCTET STRING { OCTET STRING
 * evidence } }, or null if it is another extension. The OID is compared as DER: its 128-bit UUID
 * arc is past what some ASN.1 libraries decode (asn1js, under @peculiar/x509, shows it as 2.25).
 */
function evidenceIn(ext: Uint8Array): Uint8Array | null {
  const seq = header(ext, 0, 0x30);
  if (!seq) return null;
  const oidEnd = seq.start + EVIDENCE_OID_DER.length;
  if (Buffer.compare(ext.subarray(seq.start, oidEnd), EVIDENCE_OID_DER) !== 0) return null;
  const extnValue = header(ext, oidEnd, 0x04);
  const inner = extnValue && header(ext, extnValue.start, 0x04);
  if (!inner || inner.start + inner.length !== extnValue!.start + extnValue!.length) return null;
  return ext.subarray(inner.start, inner.start + inner.length);
}

/** Checks an RA-TLS certificate (DER) down to the ARK, and that its evidence binds its key. Never throws on bad input. */
export function verifyRaTlsCertificate(certDer: Uint8Array, expect: Omit<EvidenceExpectations, "reportData">): RaTlsResult {
  const checks: Check[] = [];
  const fail = (name: string, detail: string): RaTlsResult => {
    const failure = { name, ok: false, detail };
    checks.push(failure);
    return { ok: false, checks, failure };
  };
  let spki: Uint8Array;
  let evidence: Uint8Array | null = null;
  try {
    const cert = new X509Certificate(Buffer.from(certDer));
    if (!cert.verify(cert.publicKey)) return fail("certificate", "the certificate is not signed by its own key");
    spki = new Uint8Array(cert.publicKey.export({ format: "der", type: "spki" }));
    for (const ext of extensionsOf(certDer)) evidence ??= evidenceIn(ext);
  } catch (e) {
    return fail("certificate", `not an X.509 certificate: ${(e as Error).message}`);
  }
  checks.push({ name: "certificate", ok: true, detail: "X.509, signed by its own key" });
  if (!evidence) return fail("certificate-evidence", `no evidence extension (${EVIDENCE_OID}) holding an OCTET STRING`);
  if (evidence.length > MAX_EVIDENCE_BYTES) return fail("certificate-evidence", `the evidence is ${evidence.length} bytes, over ${MAX_EVIDENCE_BYTES}`);
  checks.push({ name: "certificate-evidence", ok: true, detail: `${evidence.length} bytes of evidence` });
  const result = verifyEvidence(evidence, { ...expect, reportData: tlsKeyReportData(spki) });
  const renamed = result.checks.map((c) =>
    c.name === "report-data" ? { ...c, name: "tls-key-binding", detail: c.ok ? "report data is SHA-512 of the certificate's key" : c.detail } : c,
  );
  return {
    ...result,
    checks: [...checks, ...renamed],
    failure: result.failure && renamed[renamed.length - 1],
    evidence,
  };
}

/** The report data of ATTEST's evidence: the nonce (1 to 32 bytes) zero-padded, then the channel binding (32 bytes; zeros without TLS). */
export function attestReportData(nonce: Uint8Array, binding: Uint8Array | null): Uint8Array {
  if (nonce.length < 1 || nonce.length > ATTEST_NONCE_BYTES) throw new RangeError(`a nonce is 1 to ${ATTEST_NONCE_BYTES} bytes, got ${nonce.length}`);
  if (binding !== null && binding.length !== CHANNEL_BINDING_BYTES) throw new RangeError(`a channel binding is ${CHANNEL_BINDING_BYTES} bytes`);
  const out = new Uint8Array(REPORT_DATA_BYTES);
  out.set(nonce, 0);
  if (binding) out.set(binding, ATTEST_NONCE_BYTES);
  return out;
}
