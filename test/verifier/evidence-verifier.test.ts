// The relying party's check of evidence (host/verifier/evidence-verifier.ts): evidence the
// attest-demo app issued verifies, and tampering with any link is rejected, naming the link.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signEnclaveReport } from "../../host/enclavisor/attestation";
import { parseReport } from "../../host/sev/report";
import { decodeEvidence, verifyEvidence } from "../../host/verifier/evidence-verifier";
import type { EvidenceExpectations } from "../../host/verifier/evidence-verifier";
import { demoData, demoEvidence, flip, measurement, tampered as tamperedWith } from "./fixtures/demo-evidence";

const { evidence } = await demoEvidence();
const tampered = (f: Parameters<typeof tamperedWith>[1]) => tamperedWith(evidence, f);

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
    expectLink(tampered((e) => (e.enclaveReportSignature = e.enclaveReportSignature.subarray(1))), "enclave-report-signature", /must be 96 bytes \(r \|\| s\), got 95/);
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
