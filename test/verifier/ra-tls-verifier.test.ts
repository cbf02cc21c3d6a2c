// The relying party's checks of an RA-TLS certificate (host/verifier/ra-tls-verifier.ts) name the
// link that fails: a certificate without the evidence extension, with a broken signature, not a
// certificate, or with evidence that does not parse; and ATTEST's report data is laid out as
// guest-apps/kv/cmd-attest.ts makes it. Real evidence is test/enclavisor/attested-tls.test.ts's.
import { describe, expect, it } from "vitest";
import { EVIDENCE_OID } from "../../host/enclavisor/ra-tls-certificate";
import { x509 } from "../../host/sev/x509";
import { attestReportData, verifyRaTlsCertificate } from "../../host/verifier/ra-tls-verifier";
import { testCertificate as make } from "../enclavisor/fixtures/ra-tls";

describe("verifyRaTlsCertificate", () => {
  it("finds the evidence, and names the link that fails", () => {
    const bad = verifyRaTlsCertificate(make().der, {});
    expect(bad.checks.slice(0, 2).map((c) => [c.name, c.ok])).toEqual([["certificate", true], ["certificate-evidence", true]]);
    expect(bad.failure?.name).toBe("evidence"); // the bundle does not parse
    const { der } = make();
    der[der.length - 5] ^= 0x01; // in the signature
    expect(verifyRaTlsCertificate(der, {}).failure?.name).toBe("certificate");
    expect(verifyRaTlsCertificate(new Uint8Array(20), {}).failure?.name).toBe("certificate");
  });

  it("refuses a certificate without the evidence extension", async () => {
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
    const plain = await x509.X509CertificateGenerator.createSelfSigned({ name: "CN=plain", keys, signingAlgorithm: alg, notBefore: new Date(), notAfter: new Date(Date.now() + 1e9) });
    const r = verifyRaTlsCertificate(new Uint8Array(plain.rawData), {});
    expect(r.failure).toMatchObject({ name: "certificate-evidence", detail: `no evidence extension (${EVIDENCE_OID}) holding an OCTET STRING` });
  });

  it("lays out ATTEST's report data: the nonce zero-padded, then the channel binding", () => {
    const data = attestReportData(Uint8Array.of(1, 2, 3), new Uint8Array(32).fill(9));
    expect(Buffer.from(data).toString("hex")).toBe("010203" + "00".repeat(29) + "09".repeat(32));
    expect(Buffer.from(attestReportData(Uint8Array.of(7), null)).toString("hex")).toBe("07" + "00".repeat(63));
    expect(() => attestReportData(new Uint8Array(33), null)).toThrow(RangeError);
    expect(() => attestReportData(new Uint8Array(0), null)).toThrow(RangeError);
  });
});
