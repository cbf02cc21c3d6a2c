// Enclavisor's attestation key and enclave reports (host/enclavisor/attestation.ts), and the
// evidence the attest-demo app gets; the verifier's side is test/verifier/evidence-verifier.test.ts.
import { describe, expect, it } from "vitest";
import {
  AttestationError,
  ENCLAVE_REPORT_BYTES,
  encodeEnclaveReport,
  keyBindingReportData,
  parseEnclaveReport,
} from "../../host/enclavisor/attestation";
import type { EnclaveReport } from "../../host/enclavisor/attestation";
import { launchEnclave } from "../../host/launcher/run-app";
import { parseReport } from "../../host/sev/report";
import { decodeEvidence, verifyEvidence } from "../../host/verifier/evidence-verifier";
import { demo, demoData, demoEvidence, flip, measurement } from "../verifier/fixtures/demo-evidence";
import { platformFor, tinySwitches } from "./fixtures/enclave";

const { evidence, enclaveId, attestationKey } = await demoEvidence();

describe("enclave report layout", () => {
  const report: EnclaveReport = {
    version: 1,
    granularity: "vm",
    enclaveId: 0x0102030405060708n,
    measurement: new Uint8Array(48).fill(0xaa),
    reportData: new Uint8Array(64).fill(0xbb),
    nonce: new Uint8Array(32).fill(0xcc),
  };

  it("puts each field at its documented offset and parses back", () => {
    const b = encodeEnclaveReport(report);
    expect(b.length).toBe(ENCLAVE_REPORT_BYTES);
    expect(Buffer.from(b.subarray(0, 4)).toString("latin1")).toBe("EREP");
    expect([b[4], b[5], b[6], b[7]]).toEqual([1, 0, 0, 0]);
    expect(Buffer.from(b.subarray(0x08, 0x10)).toString("hex")).toBe("0807060504030201");
    expect(b.subarray(0x10, 0x40).every((x) => x === 0xaa)).toBe(true);
    expect(b.subarray(0x40, 0x80).every((x) => x === 0xbb)).toBe(true);
    expect(b.subarray(0x80, 0xa0).every((x) => x === 0xcc)).toBe(true);
    expect(parseEnclaveReport(b)).toEqual(report);
    expect(parseEnclaveReport(encodeEnclaveReport({ ...report, granularity: "function" })).granularity).toBe("function");
  });

  it("refuses malformed reports with a message naming the problem", () => {
    const b = encodeEnclaveReport(report);
    expect(() => parseEnclaveReport(b.subarray(1))).toThrow(/160 bytes, got 159/);
    expect(() => parseEnclaveReport(flip(b, 0))).toThrow(/bad magic/);
    expect(() => parseEnclaveReport(flip(b, 4))).toThrow(/version 0 is not supported/);
    const g = new Uint8Array(b);
    g[6] = 9;
    expect(() => parseEnclaveReport(g)).toThrow(/unknown granularity code 9/);
    expect(() => encodeEnclaveReport({ ...report, reportData: new Uint8Array(63) })).toThrow(AttestationError);
  });

  it("binds a key as SHA-384 of its SPKI, zero-padded to 64 bytes", () => {
    const d = keyBindingReportData(attestationKey);
    expect(d.length).toBe(64);
    expect(d.subarray(48).every((x) => x === 0)).toBe(true);
    expect(d.subarray(0, 48).some((x) => x !== 0)).toBe(true);
  });
});

describe("post-launch attestation of the demo app", () => {
  it("verifies down to the ARK with the measurement `enclave measure` predicts", () => {
    const r = verifyEvidence(evidence, { measurement, reportData: demoData });
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.enclaveReport!.enclaveId).toBe(BigInt(enclaveId));
    expect(r.enclaveReport!.granularity).toBe("vm");
    const names = r.checks.map((c) => c.name);
    for (const link of ["evidence", "chain/ark-signature", "chain/vcek-signature", "vm-report/report-signature", "key-binding", "enclave-report-signature", "measurement", "report-data"]) {
      expect(names).toContain(link);
    }
  });

  it("carries the VM's SNP report, whose REPORT_DATA is the attestation key's binding", () => {
    const e = decodeEvidence(evidence);
    expect(e.vmReport.length).toBe(1184);
    expect(Buffer.compare(parseReport(e.vmReport).reportData, keyBindingReportData(e.attestationKey))).toBe(0);
    expect(Buffer.compare(e.attestationKey, attestationKey)).toBe(0);
  });

  it("signs a fresh report (fresh nonce) per request", async () => {
    const again = await demoEvidence();
    const a = parseEnclaveReport(decodeEvidence(evidence).enclaveReport);
    const b = parseEnclaveReport(decodeEvidence(again.evidence).enclaveReport);
    expect(Buffer.compare(a.nonce, b.nonce)).not.toBe(0);
    expect(Buffer.compare(a.measurement, b.measurement)).toBe(0);
  });

  it("holds no private key material", () => {
    const text = new TextDecoder().decode(evidence);
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(Object.keys(decodeEvidence(evidence)).sort()).toEqual(["ark", "ask", "attestationKey", "enclaveReport", "enclaveReportSignature", "vcek", "vmReport"]);
  });

  it("gives the guest null, and refuses the host, without SNP (sev mode), on a native run and in the sgx model", async () => {
    for (const mode of ["sev", "native", "sgx"] as const) {
      const s = tinySwitches(mode);
      const enclave = await launchEnclave(demo, { switches: s, ...(mode === "sev" ? { platform: platformFor(s) } : {}) });
      try {
        enclave.start();
        expect(enclave.output).toEqual(["attest: unavailable"]);
        expect(enclave.features.attestation.available).toBe(false);
        await expect(enclave.attest()).rejects.toThrow(/^UNSUPPORTED: no evidence: |^UNSUPPORTED: mode sev has no SNP attestation report/);
        if (enclave.kind === "sev") expect(enclave.attester).toBeNull();
      } finally {
        enclave.destroy();
      }
    }
  });
});
