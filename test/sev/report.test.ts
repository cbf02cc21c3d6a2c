import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveVcek } from "../../host/sev/key-derivation";
import {
  type AttestationReport,
  decodeTcb,
  encodeReport,
  encodeTcb,
  Offset,
  parseReport,
  REPORT_BYTES,
  ReportFormatError,
  reservedRanges,
  SIGNED_BYTES,
  signReport,
  verifyReportSignature,
} from "../../host/sev/report";
import { MILAN_REPORT_B64 } from "./vectors/amd-milan";

const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function sampleReport(): AttestationReport {
  return {
    version: 2,
    guestSvn: 7,
    policy: 0x30000n,
    familyId: bytes(16),
    imageId: bytes(16),
    vmpl: 1,
    signatureAlgo: 1,
    currentTcb: tcb,
    platformInfo: 1n,
    authorKeyEn: false,
    maskChipKey: false,
    signingKey: 0,
    reportData: bytes(64),
    measurement: bytes(48),
    hostData: bytes(32),
    idKeyDigest: bytes(48),
    authorKeyDigest: bytes(48),
    reportId: bytes(32),
    reportIdMa: new Uint8Array(32).fill(0xff),
    reportedTcb: { ...tcb, snp: 7 },
    chipId: bytes(64),
    committedTcb: tcb,
    currentVersion: { major: 1, minor: 52, build: 4 },
    committedVersion: { major: 1, minor: 51, build: 3 },
    launchTcb: { ...tcb, microcode: 114 },
  };
}

describe("ATTESTATION_REPORT layout", () => {
  it("encodes fields at AMD's offsets and parses them back", () => {
    const r = sampleReport();
    const b = encodeReport(r);
    expect(b).toHaveLength(0x4a0);
    const dv = new DataView(b.buffer);
    expect(dv.getUint32(0x00, true)).toBe(2);
    expect(dv.getUint32(0x04, true)).toBe(7);
    expect(dv.getBigUint64(0x08, true)).toBe(0x30000n);
    expect(dv.getUint32(0x30, true)).toBe(1);
    expect(dv.getUint32(0x34, true)).toBe(1);
    expect(b.subarray(0x50, 0x90)).toEqual(r.reportData);
    expect(b.subarray(0x90, 0xc0)).toEqual(r.measurement);
    expect(b.subarray(0xc0, 0xe0)).toEqual(r.hostData);
    expect(b.subarray(0x1a0, 0x1e0)).toEqual(r.chipId);
    // TCB_VERSION (Milan): boot loader byte 0, TEE byte 1, SNP byte 6, microcode byte 7.
    expect([...b.subarray(0x38, 0x40)]).toEqual([3, 0, 0, 0, 0, 0, 8, 115]);
    expect([...b.subarray(0x1e8, 0x1f0)]).toEqual([4, 52, 1, 0, 3, 51, 1, 0]);
    expect(parseReport(b)).toEqual(r);
    for (const [s, e] of reservedRanges(2)) expect(b.subarray(s, e).every((x) => x === 0)).toBe(true);
  });

  it("round-trips TCB versions", () => {
    expect(decodeTcb(encodeTcb(tcb))).toEqual(tcb);
    expect(encodeTcb({ bootloader: 4, tee: 0, snp: 24, microcode: 219 })).toBe(0xdb18000000000004n);
    expect(() => encodeTcb({ ...tcb, snp: 256 })).toThrow(/TCB component snp/);
  });

  it("parses a genuine AMD Milan report", () => {
    const r = parseReport(new Uint8Array(Buffer.from(MILAN_REPORT_B64, "base64")));
    expect(r.version).toBe(3);
    expect(r.signatureAlgo).toBe(1);
    expect(r.reportedTcb).toEqual({ bootloader: 4, tee: 0, snp: 24, microcode: 219 });
    expect(r.committedVersion).toEqual({ major: 1, minor: 55, build: 29 });
    expect(r.reportIdMa.every((x) => x === 0xff)).toBe(true);
  });

  it("refuses a report of the wrong size", () => {
    expect(() => parseReport(new Uint8Array(100))).toThrow(ReportFormatError);
    expect(() => parseReport(new Uint8Array(100))).toThrow(/1184 bytes, got 100/);
  });
});

describe("report signature", () => {
  const vcek = deriveVcek(bytes(64), tcb);
  const signed = signReport(encodeReport(sampleReport()), vcek.privateKey);

  it("stores R and S little-endian in 72-byte zero-padded slots and verifies", () => {
    expect(signed.subarray(Offset.signature + 48, Offset.signature + 72).every((x) => x === 0)).toBe(true);
    expect(signed.subarray(Offset.signature + 120, REPORT_BYTES).every((x) => x === 0)).toBe(true);
    expect(signed.subarray(Offset.signature, Offset.signature + 48).some((x) => x !== 0)).toBe(true);
    expect(verifyReportSignature(signed, vcek.publicKey)).toBe(true);
    const other = deriveVcek(bytes(64), tcb);
    expect(verifyReportSignature(signed, other.publicKey)).toBe(false);
  });

  it("rejects the report when a bit of any byte of 0x000-0x29F is flipped (all 8 bits at field boundaries)", () => {
    const boundaries = new Set<number>();
    for (const off of Object.values(Offset)) if (off < SIGNED_BYTES) [off, off - 1].filter((o) => o >= 0).forEach((o) => boundaries.add(o));
    let accepted = 0;
    let tried = 0;
    for (let byte = 0; byte < SIGNED_BYTES; byte++) {
      const bits = boundaries.has(byte) ? [0, 1, 2, 3, 4, 5, 6, 7] : [(byte * 5) % 8];
      for (const bit of bits) {
        const copy = signed.slice();
        copy[byte]! ^= 1 << bit;
        tried++;
        if (verifyReportSignature(copy, vcek.publicKey)) accepted++;
      }
    }
    expect(tried).toBeGreaterThan(SIGNED_BYTES);
    expect(accepted).toBe(0);
  });

  it("rejects a flipped signature bit and non-zero padding", () => {
    for (const off of [Offset.signature, Offset.signature + 47, Offset.signature + 72, Offset.signature + 119]) {
      const copy = signed.slice();
      copy[off]! ^= 0x01;
      expect(verifyReportSignature(copy, vcek.publicKey), `offset ${off.toString(16)}`).toBe(false);
    }
    const padded = signed.slice();
    padded[Offset.signature + 60] = 1;
    expect(verifyReportSignature(padded, vcek.publicKey)).toBe(false);
    expect(verifyReportSignature(signed.subarray(0, 1000), vcek.publicKey)).toBe(false);
  });
});
