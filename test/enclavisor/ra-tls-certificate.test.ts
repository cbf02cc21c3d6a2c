// The RA-TLS certificate (host/enclavisor/ra-tls-certificate.ts) as others read it: Node's X.509
// (OpenSSL) and @peculiar/x509 parse it, its self-signature verifies, its extensions are the ones
// documented. The binding of real evidence to the key is test/enclavisor/attested-tls.test.ts's.
import { X509Certificate, createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { tlsKeyReportData } from "../../host/enclavisor/ra-tls-certificate";
import { x509 } from "../../host/sev/x509";
import { testCertificate as make } from "./fixtures/ra-tls";

describe("the RA-TLS certificate", () => {
  it("parses in OpenSSL and @peculiar/x509, signed by its own key, with the documented extensions", () => {
    const { der, spkiDer } = make();
    const cert = new X509Certificate(Buffer.from(der));
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.subject).toBe("CN=enclave test");
    expect(cert.issuer).toBe("CN=enclave test");
    expect(cert.ca).toBe(true);
    expect(cert.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, DNS:example.test, IP Address:10.1.2.3");
    expect(cert.keyUsage).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(9999);
    expect(Buffer.compare(cert.publicKey.export({ format: "der", type: "spki" }), spkiDer)).toBe(0);
    expect(cert.checkHost("example.test")).toBe("example.test");
    const peculiar = new x509.X509Certificate(Buffer.from(der));
    expect(peculiar.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
    expect(peculiar.extensions.map((e) => e.critical)).toEqual([true, true, false, false, false]);
    expect(peculiar.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    // Each certificate has its own serial.
    expect(new X509Certificate(Buffer.from(make().der)).serialNumber).not.toBe(cert.serialNumber);
  });

  it("binds a key by SHA-512 of its SubjectPublicKeyInfo", () => {
    const { spkiDer } = make();
    expect(Buffer.from(tlsKeyReportData(spkiDer)).toString("hex")).toBe(createHash("sha512").update(spkiDer).digest("hex"));
  });
});
