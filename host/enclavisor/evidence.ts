// The evidence bundle of post-launch attestation (docs/architecture.md, "Attestation"): what
// Enclavisor issues for an enclave. The relying party's side, decoding and checking it down to
// AMD's ARK, is host/verifier/evidence-verifier.ts.
//
// File format, version 1: one UTF-8 JSON object; every binary field is standard base64 (RFC 4648
// section 4), certificates are PEM text:
//   {
//     "format": "enclavisor-evidence",
//     "version": 1,
//     "enclaveReport": base64 of the 160-byte enclave report (layout in attestation.ts),
//     "enclaveReportSignature": base64 of its 96-byte ECDSA P-384 / SHA-384 signature (r || s),
//     "attestationKey": base64 of Enclavisor's attestation key, SubjectPublicKeyInfo DER,
//     "vmReport": base64 of the VM's raw 1184-byte SNP ATTESTATION_REPORT (SNP ABI pub. 56860),
//     "vcek": base64 of the VCEK certificate, DER (as AMD's KDS serves it),
//     "ask": PEM of the ASK certificate,
//     "ark": PEM of the ARK certificate
//   }
import type { CertificateChain } from "../sev/platform";
import type { Attester } from "./attestation";

export const EVIDENCE_FORMAT = "enclavisor-evidence";
export const EVIDENCE_VERSION = 1;

export interface Evidence {
  enclaveReport: Uint8Array;
  enclaveReportSignature: Uint8Array;
  attestationKey: Uint8Array;
  vmReport: Uint8Array;
  vcek: Uint8Array;
  ask: string;
  ark: string;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

export function encodeEvidence(e: Evidence): Uint8Array {
  const json = {
    format: EVIDENCE_FORMAT,
    version: EVIDENCE_VERSION,
    enclaveReport: b64(e.enclaveReport),
    enclaveReportSignature: b64(e.enclaveReportSignature),
    attestationKey: b64(e.attestationKey),
    vmReport: b64(e.vmReport),
    vcek: b64(e.vcek),
    ask: e.ask,
    ark: e.ark,
  };
  return new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n");
}

/** A fresh evidence bundle for the guest's 64 bytes. */
export function issueEvidence(attester: Attester, chain: CertificateChain, reportData: Uint8Array): Uint8Array {
  const s = attester.attest(reportData);
  return encodeEvidence({
    enclaveReport: s.report,
    enclaveReportSignature: s.signature,
    attestationKey: s.attestationKey,
    vmReport: s.vmReport,
    vcek: chain.vcekDer,
    ask: chain.askPem,
    ark: chain.arkPem,
  });
}

