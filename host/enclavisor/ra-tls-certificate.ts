// The certificate of attested TLS, as RA-TLS makes it (Knauth et al., "Integrating Remote
// Attestation with Transport Layer Security", 2018): a self-signed X.509 v3 certificate (RFC 5280)
// for a key generated inside the trust boundary, carrying the enclave's evidence in an extension,
// whose report data binds that key. A client that checks the evidence (down to AMD's ARK) and that
// its report data is the hash of the certificate's key knows it talks to the enclave measured
// there, whoever signed the certificate: the TLS handshake proves the peer holds the key.
//
// The certificate:
//   version 3, a random positive 16-byte serial, ecdsa-with-SHA256 (RFC 5758 3.2) over a P-256 key,
//   issuer = subject = CN=<the subject given>, valid from a minute before it was made to
//   99991231235959Z (RFC 5280 4.1.2.5: no expiry; the key lives as long as the enclave), and:
//   - basicConstraints CA:TRUE, critical, and keyUsage digitalSignature, keyCertSign, critical,
//     as `openssl req -x509` makes, so that a client may trust it directly (redis-cli --cacert);
//   - extendedKeyUsage serverAuth; subjectAltName DNS:localhost, IP:127.0.0.1 and the names given;
//   - the evidence: EVIDENCE_OID, not critical, its value (in extnValue) an OCTET STRING of the evidence
//     bundle (evidence.ts) whose enclave report's report data is
//     SHA-512(the certificate's SubjectPublicKeyInfo, DER): tlsKeyReportData below.
// EVIDENCE_OID is in the 2.25 arc (ITU-T X.667: an OID made of a UUID, no registration), as
// there is no standard OID for this evidence format.
import { createHash, randomBytes, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { isIP } from "node:net";
import {
  bitString, boolean, explicit, implicit, objectIdentifier, octetString, sequence, set, time, unsignedInteger, utf8String,
} from "./der";
import { REPORT_DATA_BYTES } from "./attestation";

/** The extension holding the evidence bundle: 2.25 and the UUID 56a69ac5-a993-46c8-96fb-4780d648c40a. */
export const EVIDENCE_OID = "2.25.115178668067527537144555914043381564426";

const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
const COMMON_NAME = "2.5.4.3";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";
const EXT_KEY_USAGE = "2.5.29.37";
const SUBJECT_ALT_NAME = "2.5.29.17";
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

/** The report data that binds a TLS key: SHA-512 of its SubjectPublicKeyInfo DER (64 bytes). */
export function tlsKeyReportData(spkiDer: Uint8Array): Uint8Array {
  const digest = new Uint8Array(createHash("sha512").update(spkiDer).digest());
  if (digest.length !== REPORT_DATA_BYTES) throw new Error("SHA-512 is not the report data's size");
  return digest;
}

export interface CertificateRequest {
  /** The certificate's key pair: the public key's SPKI DER, and the private key that signs. */
  spkiDer: Uint8Array;
  privateKey: KeyObject;
  /** The evidence bundle whose report data is tlsKeyReportData(spkiDer). */
  evidence: Uint8Array;
  /** The common name (issuer and subject). */
  subject: string;
  /** More DNS names or IP addresses for subjectAltName. */
  names?: readonly string[];
  /** When it is made (default: now). */
  now?: Date;
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? sequence(objectIdentifier(oid), boolean(true), octetString(value)) : sequence(objectIdentifier(oid), octetString(value));
}

/** A GeneralName of subjectAltName: dNSName [2] or iPAddress [7] (RFC 5280 4.2.1.6). */
function generalName(name: string): Uint8Array {
  if (isIP(name) === 4) return implicit(7, Uint8Array.from(name.split(".").map(Number)));
  if (isIP(name) === 6) throw new RangeError(`IPv6 subjectAltName is not supported: ${name}`);
  return implicit(2, new TextEncoder().encode(name));
}

/** The certificate, DER. */
export function raTlsCertificate(req: CertificateRequest): Uint8Array {
  const now = req.now ?? new Date();
  const name = sequence(set(sequence(objectIdentifier(COMMON_NAME), utf8String(req.subject))));
  const algorithm = sequence(objectIdentifier(ECDSA_WITH_SHA256));
  const names = [...new Set(["localhost", "127.0.0.1", ...(req.names ?? [])])];
  const serial = new Uint8Array(randomBytes(16));
  serial[0]! &= 0x7f; // positive (RFC 5280 4.1.2.2)
  const tbs = sequence(
    explicit(0, unsignedInteger(Uint8Array.of(2))), // v3
    unsignedInteger(serial),
    algorithm,
    name,
    sequence(time(new Date(now.getTime() - 60_000)), time(new Date(Date.UTC(9999, 11, 31, 23, 59, 59)))),
    name,
    req.spkiDer,
    explicit(
      3,
      sequence(
        extension(BASIC_CONSTRAINTS, true, sequence(boolean(true))),
        // keyUsage BIT STRING: digitalSignature (bit 0) and keyCertSign (bit 5): 0b1000_0100, 2 unused bits.
        extension(KEY_USAGE, true, Uint8Array.of(0x03, 0x02, 0x02, 0x84)),
        extension(EXT_KEY_USAGE, false, sequence(objectIdentifier(SERVER_AUTH))),
        extension(SUBJECT_ALT_NAME, false, sequence(...names.map(generalName))),
        extension(EVIDENCE_OID, false, octetString(req.evidence)),
      ),
    ),
  );
  const signature = new Uint8Array(sign("sha256", tbs, req.privateKey)); // ECDSA-Sig-Value, DER
  return sequence(tbs, algorithm, bitString(signature));
}
