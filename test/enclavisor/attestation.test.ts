import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AttestationError,
  ENCLAVE_REPORT_BYTES,
  encodeEnclaveReport,
  keyBindingReportData,
  parseEnclaveReport,
  signEnclaveReport,
} from "../../host/enclavisor/attestation";
import type { EnclaveReport } from "../../host/enclavisor/attestation";
import { encodeEvidence } from "../../host/enclavisor/evidence";
import { decodeEvidence, verifyEvidence } from "../../host/verifier/evidence-verifier";
import type { Evidence } from "../../host/enclavisor/evidence";
import type { EvidenceExpectations } from "../../host/verifier/evidence-verifier";
import { measureEnclave } from "../../host/enclavisor/measurement";
import { launchEnclave } from "../../host/launcher/run-app";
import { parseReport } from "../../host/sev/report";
import { guestApp, platformFor, tinySwitches } from "./fixtures/enclave";

const switches = tinySwitches("enclavisor");
const platform = platformFor(switches);
const demo = guestApp("attest-demo");
/** The demo's data: "attest-demo v1", zero-padded to 64 bytes. */
const demoData = new Uint8Array(64);
demoData.set(new TextEncoder().encode("attest-demo v1"));
const measurement = measureEnclave(demo, { switches });

/** Runs the demo and returns the evidence it printed, and the enclave (destroyed). */
async function demoEvidence(): Promise<{ evidence: Uint8Array; enclaveId: number; attestationKey: Uint8Array }> {
  const enclave = await launchEnclave(demo, { switches, platform });
  try {
    enclave.start();
    expect(enclave.output).toHaveLength(1);
    if (enclave.kind !== "sev" || !enclave.attester) throw new Error("an enclavisor-mode enclave has no attester");
    return { evidence: new TextEncoder().encode(enclave.output[0]!), enclaveId: enclave.id, attestationKey: enclave.attester.attestationKey };
  } finally {
    enclave.destroy();
  }
}

const { evidence, enclaveId, attestationKey } = await demoEvidence();

function tampered(f: (e: Evidence) => void): Uint8Array {
  const e = decodeEvidence(evidence);
  f(e);
  return encodeEvidence(e);
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[at < 0 ? out.length + at : at]! ^= 0x01;
  return out;
}

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

describe("tampering with any link is rejected, naming the link", () => {
  const expectLink = (bytes: Uint8Array, link: string, detail: RegExp, exp: EvidenceExpectations = { measurement, reportData: demoData }): void => {
    const r = verifyEvidence(bytes, exp);
    expect(r.ok).toBe(false);
    expect(r.failure!.name).toBe(link);
    expect(r.failure!.detail).toMatch(detail);
  };

  it("chain: a modified VCEK certificate", () => {
    expectLink(tampered((e) => (e.vcek = flip(e.vcek, -1))), "chain", /vcek-signature/);
  });

  it("chain: an ARK other than the pinned one", () => {
    // Pinning the ASK as the root: the chain's real ARK is not it.
    const r = verifyEvidence(evidence, { measurement, trustedArk: decodeEvidence(evidence).ask });
    expect(r.failure!.name).toBe("chain");
    expect(r.failure!.detail).toMatch(/ark-trusted/);
  });

  it("vm-report: a modified SNP report", () => {
    expectLink(tampered((e) => (e.vmReport = flip(e.vmReport, 0x90))), "vm-report", /report-signature/);
  });

  it("key-binding: the host's own key, with a report it signed itself", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    expectLink(
      tampered((e) => {
        e.attestationKey = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
        e.enclaveReportSignature = signEnclaveReport(e.enclaveReport, privateKey);
      }),
      "key-binding",
      /REPORT_DATA is not SHA-384 of the attestation key/,
    );
  });

  it("enclave-report-signature: a modified enclave report or signature", () => {
    expectLink(tampered((e) => (e.enclaveReport = flip(e.enclaveReport, 0x40))), "enclave-report-signature", /does not verify/);
    expectLink(tampered((e) => (e.enclaveReportSignature = flip(e.enclaveReportSignature, 5))), "enclave-report-signature", /does not verify/);
  });

  it("measurement: another enclave's measurement", () => {
    expectLink(evidence, "measurement", /^enclave measurement is [0-9a-f]{96}, expected [0-9a-f]{96}$/, { measurement: flip(measurement, 0), reportData: demoData });
  });

  it("vm-report: an Enclavisor launch measurement other than the one pinned", () => {
    const vmMeasurement = parseReport(decodeEvidence(evidence).vmReport).measurement;
    expect(verifyEvidence(evidence, { measurement, reportData: demoData, enclavisorMeasurement: vmMeasurement }).ok).toBe(true);
    expectLink(evidence, "vm-report", /^measurement: measurement is [0-9a-f]{96}, expected/, {
      measurement, reportData: demoData, enclavisorMeasurement: flip(vmMeasurement, 5),
    });
  });

  it("report-data: other guest data", () => {
    expectLink(evidence, "report-data", /^report data is 6174/, { measurement, reportData: flip(demoData, 63) });
  });

  it("evidence: malformed bundles are refused, never thrown", () => {
    const cases: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode("not json"), /not UTF-8 JSON/],
      [new Uint8Array([0xff, 0xfe]), /not UTF-8 JSON/],
      [new TextEncoder().encode("[]"), /not a JSON object/],
      [new TextEncoder().encode(new TextDecoder().decode(evidence).replace('"version": 1', '"version": 2')), /version 2 is not supported/],
      [new TextEncoder().encode(new TextDecoder().decode(evidence).replace(/"vmReport": "[^"]*"/, '"vmReport": 7')), /"vmReport" must be a base64 string/],
    ];
    for (const [bytes, detail] of cases) expectLink(bytes, "evidence", detail);
    expectLink(tampered((e) => (e.vmReport = e.vmReport.subarray(1))), "vm-report", /must be 1184 bytes, got 1183/);
  });
});
