// Post-launch attestation (docs/architecture.md, "Enclavisor"): Enclavisor's attestation key and
// the enclave reports it signs.
//
// At launch the attester generates an ECDSA P-384 key pair inside the Enclavisor VM and binds its
// public key to the VM's SNP attestation report through REPORT_DATA (SNP ABI pub. 56860,
// MSG_REPORT_REQ): REPORT_DATA = SHA-384(SubjectPublicKeyInfo DER) || 16 zero bytes. A verifier
// that trusts the SNP report (ARK -> ASK -> VCEK -> report) thus trusts the key, and the key vouches
// for each enclave report. The private key stays in this object: never logged, never in an error.
//
// Enclave report, version 1: 160 bytes, integers little-endian:
//   0x00   4 B  magic "EREP" (45 52 45 50: Enclave REPort)
//   0x04   2 B  format version = 1
//   0x06   1 B  granularity: 0 = vm, 1 = process, 2 = function
//   0x07   1 B  reserved, zero
//   0x08   8 B  enclave id (the VM's id for the vm granularity)
//   0x10  48 B  enclave measurement (measurement.ts)
//   0x40  64 B  report data: the guest's own 64 bytes
//   0x80  32 B  nonce: random per report, so two reports never sign the same bytes
// The signature is ECDSA P-384 over SHA-384 of those 160 bytes, in IEEE P1363 form (r || s, 96 B),
// the form SNP reports use for their own signature (minus AMD's little-endian padding).
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import type { SecureProcessor } from "../sev/secure-processor";
import { statusName } from "../sev/status";
import { ATTEST_DATA_BYTES } from "./abi-constants";
import { EnclavisorError } from "./enclavisor-error";

export const ENCLAVE_REPORT_MAGIC = Uint8Array.of(0x45, 0x52, 0x45, 0x50);
export const ENCLAVE_REPORT_VERSION = 1;
export const ENCLAVE_REPORT_BYTES = 0xa0;
/** The guest's data in a report: the ABI's ATTEST_DATA_BYTES. */
export const REPORT_DATA_BYTES = ATTEST_DATA_BYTES;
export const SIGNATURE_BYTES = 96;
const MEASUREMENT_BYTES = 48;
const NONCE_BYTES = 32;

export const Granularity = { vm: 0, process: 1, function: 2 } as const;
export type GranularityName = keyof typeof Granularity;
const GRANULARITY_NAMES = Object.keys(Granularity) as GranularityName[];

/** A refused attestation request or a malformed report. The message never carries key material. */
export class AttestationError extends EnclavisorError {
  override name = "AttestationError";
}

export interface EnclaveReport {
  version: number;
  granularity: GranularityName;
  enclaveId: bigint;
  measurement: Uint8Array;
  reportData: Uint8Array;
  nonce: Uint8Array;
}

export function encodeEnclaveReport(r: EnclaveReport): Uint8Array {
  if (r.measurement.length !== MEASUREMENT_BYTES) throw new AttestationError(`the measurement must be ${MEASUREMENT_BYTES} bytes, got ${r.measurement.length}`);
  if (r.reportData.length !== REPORT_DATA_BYTES) throw new AttestationError(`report data must be ${REPORT_DATA_BYTES} bytes, got ${r.reportData.length}`);
  if (r.nonce.length !== NONCE_BYTES) throw new AttestationError(`the nonce must be ${NONCE_BYTES} bytes, got ${r.nonce.length}`);
  const out = new Uint8Array(ENCLAVE_REPORT_BYTES);
  const view = new DataView(out.buffer);
  out.set(ENCLAVE_REPORT_MAGIC, 0x00);
  view.setUint16(0x04, r.version, true);
  out[0x06] = Granularity[r.granularity];
  view.setBigUint64(0x08, r.enclaveId, true);
  out.set(r.measurement, 0x10);
  out.set(r.reportData, 0x40);
  out.set(r.nonce, 0x80);
  return out;
}

export function parseEnclaveReport(bytes: Uint8Array): EnclaveReport {
  if (bytes.length !== ENCLAVE_REPORT_BYTES) throw new AttestationError(`an enclave report is ${ENCLAVE_REPORT_BYTES} bytes, got ${bytes.length}`);
  if (Buffer.compare(bytes.subarray(0, 4), ENCLAVE_REPORT_MAGIC) !== 0) throw new AttestationError("not an enclave report (bad magic)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(0x04, true);
  if (version !== ENCLAVE_REPORT_VERSION) throw new AttestationError(`enclave report version ${version} is not supported (expected ${ENCLAVE_REPORT_VERSION})`);
  const granularity = GRANULARITY_NAMES[bytes[0x06]!];
  if (granularity === undefined) throw new AttestationError(`unknown granularity code ${bytes[0x06]}`);
  if (bytes[0x07] !== 0) throw new AttestationError("the reserved byte at 0x07 is not zero");
  return {
    version,
    granularity,
    enclaveId: view.getBigUint64(0x08, true),
    measurement: bytes.slice(0x10, 0x40),
    reportData: bytes.slice(0x40, 0x80),
    nonce: bytes.slice(0x80, 0xa0),
  };
}

/** REPORT_DATA that binds an attestation key: SHA-384 of its SPKI DER, zero-padded to 64 bytes. */
export function keyBindingReportData(spkiDer: Uint8Array): Uint8Array {
  const out = new Uint8Array(REPORT_DATA_BYTES);
  out.set(createHash("sha384").update(spkiDer).digest(), 0);
  return out;
}

export function signEnclaveReport(report: Uint8Array, privateKey: KeyObject): Uint8Array {
  return new Uint8Array(sign("sha384", report, { key: privateKey, dsaEncoding: "ieee-p1363" }));
}

/** What an attester hands out: the signed report and the key's binding to the VM. */
export interface SignedEnclaveReport {
  report: Uint8Array;
  signature: Uint8Array;
  /** The attestation key's SubjectPublicKeyInfo, DER. */
  attestationKey: Uint8Array;
  /** The VM's raw 1184-byte SNP report whose REPORT_DATA binds attestationKey. */
  vmReport: Uint8Array;
}

/** Enclavisor's attestation key for one VM, and the enclave it reports on. */
export class Attester {
  readonly #privateKey: KeyObject;
  readonly attestationKey: Uint8Array;
  readonly vmReport: Uint8Array;

  private constructor(privateKey: KeyObject, attestationKey: Uint8Array, vmReport: Uint8Array, readonly enclave: AttesterOptions) {
    this.#privateKey = privateKey;
    this.attestationKey = attestationKey;
    this.vmReport = vmReport;
  }

  /** Generates the key and asks the secure processor for the VM report that binds it (MSG_REPORT_REQ). */
  static create(options: AttesterOptions & { sp: SecureProcessor; vmHandle: number }): Attester {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    const res = options.sp.guestRequest(options.vmHandle, { type: "report", reportData: keyBindingReportData(spki) });
    if (res.report === undefined) throw new AttestationError(`the secure processor refused the VM report: ${statusName(res.status)}`);
    return new Attester(privateKey, spki, res.report, {
      measurement: new Uint8Array(options.measurement),
      enclaveId: options.enclaveId,
      granularity: options.granularity,
    });
  }

  /** The same key and VM report, reporting on another enclave of the VM (process and function granularity). */
  forEnclave(enclave: AttesterOptions): Attester {
    return new Attester(this.#privateKey, this.attestationKey, this.vmReport, { ...enclave, measurement: new Uint8Array(enclave.measurement) });
  }

  /** A fresh enclave report carrying the guest's 64 bytes, signed with the attestation key. */
  attest(reportData: Uint8Array): SignedEnclaveReport {
    if (!(reportData instanceof Uint8Array) || reportData.length !== REPORT_DATA_BYTES) {
      throw new AttestationError(`report data must be ${REPORT_DATA_BYTES} bytes`);
    }
    const report = encodeEnclaveReport({
      version: ENCLAVE_REPORT_VERSION,
      granularity: this.enclave.granularity,
      enclaveId: this.enclave.enclaveId,
      measurement: this.enclave.measurement,
      reportData,
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)),
    });
    return { report, signature: signEnclaveReport(report, this.#privateKey), attestationKey: this.attestationKey, vmReport: this.vmReport };
  }
}

export interface AttesterOptions {
  measurement: Uint8Array;
  enclaveId: bigint;
  granularity: GranularityName;
}
