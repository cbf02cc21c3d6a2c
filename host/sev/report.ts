// SNP ATTESTATION_REPORT (SEV-SNP Firmware ABI spec, pub. 56860, table "ATTESTATION_REPORT
// Structure"; docs/architecture.md, "The secure processor"): 0x4A0 bytes, little-endian, signed
// with ECDSA P-384 / SHA-384 over bytes 0x000-0x29F, R and S stored little-endian and zero-padded
// to 72 bytes at 0x2A0.
import { sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { SevError } from "./sev-error";

export const REPORT_BYTES = 0x4a0;
export const SIGNED_BYTES = 0x2a0;
export const REPORT_VERSION = 2;
/** SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384. */
export const SIG_ALGO_ECDSA_P384_SHA384 = 1;
const SIG_COMPONENT_BYTES = 72;
const P384_BYTES = 48;

/** Field offsets (ABI spec table "ATTESTATION_REPORT Structure"). */
export const Offset = {
  version: 0x00,
  guestSvn: 0x04,
  policy: 0x08,
  familyId: 0x10,
  imageId: 0x20,
  vmpl: 0x30,
  signatureAlgo: 0x34,
  currentTcb: 0x38,
  platformInfo: 0x40,
  signerInfo: 0x48, // bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY
  reportData: 0x50,
  measurement: 0x90,
  hostData: 0xc0,
  idKeyDigest: 0xe0,
  authorKeyDigest: 0x110,
  reportId: 0x140,
  reportIdMa: 0x160,
  reportedTcb: 0x180,
  cpuidFamId: 0x188, // version 3+
  cpuidModId: 0x189,
  cpuidStep: 0x18a,
  chipId: 0x1a0,
  committedTcb: 0x1e0,
  currentBuild: 0x1e8,
  currentMinor: 0x1e9,
  currentMajor: 0x1ea,
  committedBuild: 0x1ec,
  committedMinor: 0x1ed,
  committedMajor: 0x1ee,
  launchTcb: 0x1f0,
  launchMitVector: 0x1f8, // version 5+
  currentMitVector: 0x200, // version 5+
  signature: 0x2a0,
} as const;

/** Byte ranges [start, end) that must be zero in a report of the given version. */
export function reservedRanges(version: number): Array<[number, number]> {
  return [
    [0x4c, 0x50],
    [version >= 3 ? 0x18b : 0x188, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [version >= 5 ? 0x208 : 0x1f8, SIGNED_BYTES],
    [SIGNED_BYTES + 2 * SIG_COMPONENT_BYTES, REPORT_BYTES],
  ];
}
/** Bits 31:5 of the signer-info word are reserved. */
export const SIGNER_INFO_RESERVED_MASK = 0xffffffe0;

/** TCB_VERSION as laid out on Milan and Genoa: boot loader, TEE, 4 reserved bytes, SNP, microcode. */
export interface TcbVersion {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
}

export function encodeTcb(t: TcbVersion): bigint {
  for (const [k, v] of Object.entries(t)) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`TCB component ${k} must be 0..255, got ${v}`);
  }
  return BigInt(t.bootloader) | (BigInt(t.tee) << 8n) | (BigInt(t.snp) << 48n) | (BigInt(t.microcode) << 56n);
}

export function decodeTcb(v: bigint): TcbVersion {
  const byte = (i: number): number => Number((v >> BigInt(8 * i)) & 0xffn);
  return { bootloader: byte(0), tee: byte(1), snp: byte(6), microcode: byte(7) };
}

/** True when every component of `a` is at most the same component of `b`. */
export function tcbAtMost(a: TcbVersion, b: TcbVersion): boolean {
  return a.bootloader <= b.bootloader && a.tee <= b.tee && a.snp <= b.snp && a.microcode <= b.microcode;
}

export interface FirmwareVersion {
  major: number;
  minor: number;
  build: number;
}

export interface AttestationReport {
  version: number;
  guestSvn: number;
  policy: bigint;
  familyId: Uint8Array; // 16
  imageId: Uint8Array; // 16
  vmpl: number;
  signatureAlgo: number;
  currentTcb: TcbVersion;
  platformInfo: bigint;
  authorKeyEn: boolean;
  maskChipKey: boolean;
  /** 0 = VCEK, 1 = VLEK, 7 = none. */
  signingKey: number;
  reportData: Uint8Array; // 64
  measurement: Uint8Array; // 48
  hostData: Uint8Array; // 32
  idKeyDigest: Uint8Array; // 48
  authorKeyDigest: Uint8Array; // 48
  reportId: Uint8Array; // 32
  reportIdMa: Uint8Array; // 32
  reportedTcb: TcbVersion;
  chipId: Uint8Array; // 64
  committedTcb: TcbVersion;
  currentVersion: FirmwareVersion;
  committedVersion: FirmwareVersion;
  launchTcb: TcbVersion;
}

const BYTE_FIELDS = [
  ["familyId", 16],
  ["imageId", 16],
  ["reportData", 64],
  ["measurement", 48],
  ["hostData", 32],
  ["idKeyDigest", 48],
  ["authorKeyDigest", 48],
  ["reportId", 32],
  ["reportIdMa", 32],
  ["chipId", 64],
] as const;

/** Serialises the report body; the signature area is left zero. */
export function encodeReport(r: AttestationReport): Uint8Array {
  const b = Buffer.alloc(REPORT_BYTES);
  b.writeUInt32LE(r.version, Offset.version);
  b.writeUInt32LE(r.guestSvn, Offset.guestSvn);
  b.writeBigUInt64LE(r.policy, Offset.policy);
  b.writeUInt32LE(r.vmpl, Offset.vmpl);
  b.writeUInt32LE(r.signatureAlgo, Offset.signatureAlgo);
  b.writeBigUInt64LE(encodeTcb(r.currentTcb), Offset.currentTcb);
  b.writeBigUInt64LE(r.platformInfo, Offset.platformInfo);
  if (!Number.isInteger(r.signingKey) || r.signingKey < 0 || r.signingKey > 7) throw new RangeError("signingKey must be 0..7");
  b.writeUInt32LE((r.authorKeyEn ? 1 : 0) | (r.maskChipKey ? 2 : 0) | (r.signingKey << 2), Offset.signerInfo);
  for (const [name, len] of BYTE_FIELDS) {
    const v = r[name];
    if (v.length !== len) throw new RangeError(`report field ${name} must be ${len} bytes, got ${v.length}`);
    b.set(v, Offset[name]);
  }
  b.writeBigUInt64LE(encodeTcb(r.reportedTcb), Offset.reportedTcb);
  b.writeBigUInt64LE(encodeTcb(r.committedTcb), Offset.committedTcb);
  b.writeUInt8(r.currentVersion.build, Offset.currentBuild);
  b.writeUInt8(r.currentVersion.minor, Offset.currentMinor);
  b.writeUInt8(r.currentVersion.major, Offset.currentMajor);
  b.writeUInt8(r.committedVersion.build, Offset.committedBuild);
  b.writeUInt8(r.committedVersion.minor, Offset.committedMinor);
  b.writeUInt8(r.committedVersion.major, Offset.committedMajor);
  b.writeBigUInt64LE(encodeTcb(r.launchTcb), Offset.launchTcb);
  return new Uint8Array(b);
}

export class ReportFormatError extends SevError {
  constructor(message: string) {
    super(message);
    this.name = "ReportFormatError";
  }
}

/** Parses the fields of a report (no signature or reserved-field check: see host/verifier/snp-verifier.ts). */
export function parseReport(bytes: Uint8Array): AttestationReport {
  if (bytes.length !== REPORT_BYTES) {
    throw new ReportFormatError(`an attestation report is ${REPORT_BYTES} bytes, got ${bytes.length}`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const copy = (off: number, len: number): Uint8Array => new Uint8Array(b.subarray(off, off + len));
  const signer = b.readUInt32LE(Offset.signerInfo);
  const out: AttestationReport = {
    version: b.readUInt32LE(Offset.version),
    guestSvn: b.readUInt32LE(Offset.guestSvn),
    policy: b.readBigUInt64LE(Offset.policy),
    vmpl: b.readUInt32LE(Offset.vmpl),
    signatureAlgo: b.readUInt32LE(Offset.signatureAlgo),
    currentTcb: decodeTcb(b.readBigUInt64LE(Offset.currentTcb)),
    platformInfo: b.readBigUInt64LE(Offset.platformInfo),
    authorKeyEn: (signer & 1) !== 0,
    maskChipKey: (signer & 2) !== 0,
    signingKey: (signer >>> 2) & 7,
    reportedTcb: decodeTcb(b.readBigUInt64LE(Offset.reportedTcb)),
    committedTcb: decodeTcb(b.readBigUInt64LE(Offset.committedTcb)),
    currentVersion: { major: b[Offset.currentMajor]!, minor: b[Offset.currentMinor]!, build: b[Offset.currentBuild]! },
    committedVersion: { major: b[Offset.committedMajor]!, minor: b[Offset.committedMinor]!, build: b[Offset.committedBuild]! },
    launchTcb: decodeTcb(b.readBigUInt64LE(Offset.launchTcb)),
  } as AttestationReport;
  for (const [name, len] of BYTE_FIELDS) out[name] = copy(Offset[name], len);
  return out;
}

function reversed(a: Uint8Array): Uint8Array {
  return new Uint8Array(a).reverse();
}

/** Signs bytes 0x000-0x29F in place with the VCEK (ECDSA P-384 / SHA-384) and returns the report. */
export function signReport(report: Uint8Array, vcekPrivate: KeyObject): Uint8Array {
  if (report.length !== REPORT_BYTES) throw new RangeError(`report must be ${REPORT_BYTES} bytes`);
  const sig = nodeSign("sha384", report.subarray(0, SIGNED_BYTES), { key: vcekPrivate, dsaEncoding: "ieee-p1363" });
  if (sig.length !== 2 * P384_BYTES) throw new ReportFormatError("the VCEK must be an ECDSA P-384 key");
  report.fill(0, Offset.signature, REPORT_BYTES);
  report.set(reversed(sig.subarray(0, P384_BYTES)), Offset.signature);
  report.set(reversed(sig.subarray(P384_BYTES)), Offset.signature + SIG_COMPONENT_BYTES);
  return report;
}

/** Checks the report's ECDSA P-384 signature with the VCEK public key. */
export function verifyReportSignature(report: Uint8Array, vcekPublic: KeyObject): boolean {
  if (report.length !== REPORT_BYTES) return false;
  const r = report.subarray(Offset.signature, Offset.signature + SIG_COMPONENT_BYTES);
  const s = report.subarray(Offset.signature + SIG_COMPONENT_BYTES, Offset.signature + 2 * SIG_COMPONENT_BYTES);
  // A P-384 scalar occupies the low 48 bytes; the padding up to 72 must be zero.
  if (r.subarray(P384_BYTES).some((x) => x !== 0) || s.subarray(P384_BYTES).some((x) => x !== 0)) return false;
  const p1363 = Buffer.concat([reversed(r.subarray(0, P384_BYTES)), reversed(s.subarray(0, P384_BYTES))]);
  try {
    return nodeVerify("sha384", report.subarray(0, SIGNED_BYTES), { key: vcekPublic, dsaEncoding: "ieee-p1363" }, p1363);
  } catch {
    return false;
  }
}
