import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { type CertificateChain, chainPem } from "../../host/sev/certs";
import { deriveVcek } from "../../host/sev/key-derivation";
import { PlatformState } from "../../host/sev/platform-state";
import { encodeReport, Offset, parseReport, SIGNED_BYTES, signReport } from "../../host/sev/report";
import { verifyAttestation, type VerifyInput } from "../../host/verifier/snp-verifier";
import { launchGuest, newPlatform, patternPage, SHARED_STATE_DIR, type Platform } from "../sev/fixtures/platform";
import { GENOA_CHAIN_PEM, GENOA_REPORT_B64, GENOA_VCEK_PEM } from "../sev/vectors/amd-genoa";
import { MILAN_CHAIN_PEM, MILAN_REPORT_B64, MILAN_VCEK_PEM } from "../sev/vectors/amd-milan";

const milanReport = new Uint8Array(Buffer.from(MILAN_REPORT_B64, "base64"));
const milanNow = new Date("2026-01-01T00:00:00Z");

describe("verifier on genuine AMD Milan evidence", () => {
  const genuine: VerifyInput = { report: milanReport, vcek: MILAN_VCEK_PEM, chain: MILAN_CHAIN_PEM, now: milanNow };

  it("accepts AMD's report, VCEK (PEM or DER) and cert_chain", () => {
    const res = verifyAttestation(genuine);
    expect(res.failure).toBeUndefined();
    expect(res.ok).toBe(true);
    expect(res.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(["ark-signature", "ask-signature", "vcek-signature", "vcek-validity", "report-signature", "reserved-zero", "vcek-tcb", "vcek-chip-id"]),
    );
    const der = new Uint8Array(new X509Certificate(MILAN_VCEK_PEM).raw);
    expect(verifyAttestation({ ...genuine, vcek: der }).ok).toBe(true);
    expect(verifyAttestation({ ...genuine, chain: Buffer.from(MILAN_CHAIN_PEM) }).ok).toBe(true);
  });

  it("checks the fields the caller asks for", () => {
    const r = parseReport(milanReport);
    expect(verifyAttestation({ ...genuine, expected: { measurement: r.measurement, reportData: r.reportData } }).ok).toBe(true);
    const wrong = r.measurement.slice();
    wrong[47]! ^= 1;
    const res = verifyAttestation({ ...genuine, expected: { measurement: wrong } });
    expect(res.ok).toBe(false);
    expect(res.failure!.name).toBe("measurement");
    expect(res.failure!.detail).toContain("expected");
  });

  it("rejects the VCEK outside its validity period", () => {
    const res = verifyAttestation({ ...genuine, now: new Date("2033-01-01T00:00:00Z") });
    expect(res.failure?.name).toBe("vcek-validity");
  });

  it("pins a trusted ARK when asked", () => {
    const ark = MILAN_CHAIN_PEM.slice(MILAN_CHAIN_PEM.lastIndexOf("-----BEGIN"));
    expect(verifyAttestation({ ...genuine, trustedArk: ark }).ok).toBe(true);
  });
});

describe("verifier on genuine AMD Genoa evidence (report version 5)", () => {
  const report = new Uint8Array(Buffer.from(GENOA_REPORT_B64, "base64"));
  const genoa: VerifyInput = { report, vcek: GENOA_VCEK_PEM, chain: GENOA_CHAIN_PEM, now: milanNow };

  it("accepts the newer layout, whose mitigation vectors sit in what version 2 reserves", () => {
    const res = verifyAttestation(genoa);
    expect(res.failure).toBeUndefined();
    expect(res.report!.version).toBe(5);
    expect(report.subarray(0x1f8, 0x208).some((b) => b !== 0)).toBe(true);
  });

  it("does not mix up product lines", () => {
    expect(verifyAttestation({ ...genoa, chain: MILAN_CHAIN_PEM }).failure?.name).toBe("vcek-issuer");
  });
});

describe("verifier on this platform's evidence", () => {
  let p: Platform;
  let chain: CertificateChain;
  let report: Uint8Array;
  let measurement: Uint8Array;
  const reportData = new Uint8Array(64).fill(0x5a);
  let input: VerifyInput;

  beforeAll(async () => {
    p = newPlatform();
    const g = launchGuest(p, [patternPage(1), patternPage(2)]);
    measurement = g.measurement;
    report = p.sp.guestRequest(g.handle, { type: "report", reportData }).report!;
    chain = await p.sp.certificates();
    input = { report, vcek: chain.vcek.toString("pem"), chain: chainPem(chain) };
  });

  it("accepts a report round trip with the expected measurement and report data", () => {
    const res = verifyAttestation({ ...input, expected: { measurement, reportData, chipId: p.sp.chipId } });
    expect(res.failure).toBeUndefined();
    expect(res.report!.measurement).toEqual(measurement);
  });

  it("rejects a bit flip at every field boundary and at sampled positions of the signed range", () => {
    const offsets = new Set<number>([SIGNED_BYTES - 1]);
    for (const off of Object.values(Offset)) if (off < SIGNED_BYTES) [off, off - 1].filter((o) => o >= 0).forEach((o) => offsets.add(o));
    for (let o = 3; o < SIGNED_BYTES; o += 37) offsets.add(o);
    // Every bit of the signed range is covered against the signature alone in report.test.ts.
    for (const off of offsets) {
      const copy = report.slice();
      copy[off]! ^= 1 << (off % 8);
      expect(verifyAttestation({ ...input, report: copy }).ok, `offset 0x${off.toString(16)}`).toBe(false);
    }
  });

  it("names the check that failed for a wrong chain", () => {
    // Our report with AMD's genuine VCEK and chain: the signature cannot verify.
    expect(verifyAttestation({ ...input, vcek: MILAN_VCEK_PEM, chain: MILAN_CHAIN_PEM, now: milanNow }).failure?.name).toBe("report-signature");
    // Our VCEK under AMD's chain: the VCEK was not issued by that ASK.
    const mixed = verifyAttestation({ ...input, chain: MILAN_CHAIN_PEM });
    expect(mixed.failure?.name).toBe("vcek-signature");
    // A chain in reverse order is still understood; one certificate is not a chain.
    expect(verifyAttestation({ ...input, chain: chain.ark.toString("pem") + chain.ask.toString("pem") }).ok).toBe(true);
    expect(verifyAttestation({ ...input, chain: chain.ark.toString("pem") }).failure?.name).toBe("input");
    // Pinning AMD's ARK refuses our emulated root.
    const amdArk = MILAN_CHAIN_PEM.slice(MILAN_CHAIN_PEM.lastIndexOf("-----BEGIN"));
    expect(verifyAttestation({ ...input, trustedArk: amdArk }).failure?.name).toBe("ark-trusted");
  });

  it("refuses validly signed reports with a bad version, algorithm or non-zero reserved field", () => {
    const secret = PlatformState.open(SHARED_STATE_DIR).chipSecret();
    const vcek = deriveVcek(secret, p.sp.tcb);
    const resign = (mutate: (b: Uint8Array) => void): Uint8Array => {
      const b = encodeReport(parseReport(report));
      mutate(b);
      return signReport(b, vcek.privateKey);
    };
    const run = (b: Uint8Array) => verifyAttestation({ ...input, report: b }).failure;
    expect(run(resign(() => {}))).toBeUndefined();
    expect(run(resign((b) => (b[0] = 1)))?.name).toBe("report-version");
    expect(run(resign((b) => (b[Offset.signatureAlgo] = 2)))?.name).toBe("signature-algo");
    expect(run(resign((b) => (b[Offset.signerInfo] = 1 << 2)))?.name).toBe("signing-key");
    expect(run(resign((b) => (b[Offset.signerInfo + 1] = 1)))?.name).toBe("reserved-zero");
    for (const off of [0x4c, 0x188, 0x19f, 0x1eb, 0x1ef, 0x1f8, 0x29f]) {
      const f = run(resign((b) => (b[off] = 0x80)));
      expect(f?.name, `offset 0x${off.toString(16)}`).toBe("reserved-zero");
      expect(f?.detail).toMatch(/reserved bytes 0x[0-9a-f]+\.\.0x[0-9a-f]+ are not zero/);
    }
    const tcbMismatch = run(resign((b) => (b[Offset.reportedTcb + 6] = p.sp.tcb.snp + 1)));
    expect(tcbMismatch?.name).toBe("vcek-tcb");
    const chipMismatch = run(resign((b) => (b[Offset.chipId] ^= 1)));
    expect(chipMismatch?.name).toBe("vcek-chip-id");
    // Non-zero bytes after R and S are reserved too (outside the signed range).
    const tail = report.slice();
    tail[0x400] = 1;
    expect(run(tail)?.name).toBe("reserved-zero");
  });

  it("never throws on garbage input", () => {
    expect(verifyAttestation({ ...input, report: new Uint8Array(100) }).failure?.detail).toMatch(/1184 bytes, got 100/);
    expect(verifyAttestation({ ...input, vcek: new Uint8Array([1, 2, 3]) }).failure).toMatchObject({ name: "input" });
    expect(verifyAttestation({ ...input, vcek: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }).failure?.name).toBe("input");
    expect(verifyAttestation({ ...input, chain: "" }).failure?.detail).toMatch(/found 0 certificate/);
  });
});
