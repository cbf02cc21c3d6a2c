import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertificateChain, chainPem, VcekOid } from "../../host/sev/certs";
import { newPlatform, type Platform } from "./fixtures/platform";

let platform: Platform;
let chain: CertificateChain;
let dir: string;

beforeAll(async () => {
  platform = newPlatform();
  chain = await platform.sp.certificates();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sp-certs-"));
  for (const [name, cert] of Object.entries(chain)) fs.writeFileSync(path.join(dir, `${name}.pem`), cert.toString("pem"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
}

describe("emulated AMD certificate chain", () => {
  it("is accepted by `openssl verify` (ARK trusted, ASK untrusted intermediate)", () => {
    expect(openssl("verify", "-CAfile", "ark.pem", "-untrusted", "ask.pem", "vcek.pem").trim()).toBe("vcek.pem: OK");
  });

  it("fails `openssl verify` without the ASK", () => {
    expect(() => execFileSync("openssl", ["verify", "-CAfile", "ark.pem", "vcek.pem"], { cwd: dir, stdio: "pipe" })).toThrow();
  });

  it("signs every certificate with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 (openssl x509 -text)", () => {
    for (const name of ["ark", "ask", "vcek"]) {
      const text = openssl("x509", "-in", `${name}.pem`, "-noout", "-text");
      expect(text, name).toMatch(/Signature Algorithm: rsassaPss/);
      expect(text, name).toMatch(/Hash Algorithm: sha384/);
      expect(text, name).toMatch(/Mask Algorithm: mgf1 with sha384/);
      expect(text, name).toMatch(/Salt Length: 0x30/);
    }
    const ark = openssl("x509", "-in", "ark.pem", "-noout", "-text");
    expect(ark).toMatch(/Public-Key: \(4096 bit\)/);
    expect(ark).toMatch(/Issuer: OU = Engineering, C = US, L = Santa Clara, ST = CA, O = Advanced Micro Devices, CN = ARK-Milan/);
    expect(ark).toMatch(/Subject: OU = Engineering, C = US, L = Santa Clara, ST = CA, O = Advanced Micro Devices, CN = ARK-Milan/);
    expect(openssl("x509", "-in", "ask.pem", "-noout", "-text")).toMatch(/Public-Key: \(4096 bit\)[\s\S]*CA:TRUE, pathlen:0/);
    const vcek = openssl("x509", "-in", "vcek.pem", "-noout", "-text");
    expect(vcek).toMatch(/Subject: .*CN = SEV-VCEK/);
    expect(vcek).toMatch(/NIST CURVE: P-384/);
    for (const oid of Object.values(VcekOid)) expect(vcek).toContain(oid);
  });

  it("certifies the secure processor's VCEK key and carries AMD's TCB and hwID extensions", () => {
    const { sp } = platform;
    expect(new Uint8Array(chain.vcek.publicKey.rawData)).toEqual(new Uint8Array(sp.vcekPublicKey.export({ type: "spki", format: "der" })));
    const ext = (oid: string): ArrayBuffer => {
      const e = chain.vcek.getExtension(oid);
      if (!e) throw new Error(`missing ${oid}`);
      return e.value;
    };
    const int = (oid: string): number => (asn1js.fromBER(ext(oid)).result as asn1js.Integer).valueBlock.valueDec;
    expect(int(VcekOid.blSPL)).toBe(sp.tcb.bootloader);
    expect(int(VcekOid.teeSPL)).toBe(sp.tcb.tee);
    expect(int(VcekOid.snpSPL)).toBe(sp.tcb.snp);
    expect(int(VcekOid.ucodeSPL)).toBe(sp.tcb.microcode);
    expect(int(VcekOid.structVersion)).toBe(1);
    expect((asn1js.fromBER(ext(VcekOid.productName)).result as asn1js.IA5String).getValue()).toBe("Milan-B0");
    expect(new Uint8Array(ext(VcekOid.hwID))).toEqual(sp.chipId);
  });

  it("verifies with node's X509Certificate as well, and is persisted in the state directory", async () => {
    const ark = new X509Certificate(chain.ark.toString("pem"));
    const ask = new X509Certificate(chain.ask.toString("pem"));
    const vcek = new X509Certificate(chain.vcek.toString("pem"));
    expect(ark.verify(ark.publicKey) && ask.verify(ark.publicKey) && vcek.verify(ask.publicKey)).toBe(true);
    expect(vcek.verify(ark.publicKey)).toBe(false);
    const again = await newPlatform().sp.certificates();
    expect(Buffer.from(again.vcek.rawData)).toEqual(Buffer.from(chain.vcek.rawData));
    expect(Buffer.from(again.ark.rawData)).toEqual(Buffer.from(chain.ark.rawData));
  });

  it("issues a different VCEK for another TCB, under the same ASK", async () => {
    const other = await newPlatform({ tcb: { bootloader: 3, tee: 0, snp: 9, microcode: 115 } }).sp.certificates();
    expect(Buffer.from(other.vcek.rawData)).not.toEqual(Buffer.from(chain.vcek.rawData));
    expect(Buffer.from(other.ask.rawData)).toEqual(Buffer.from(chain.ask.rawData));
    expect(new X509Certificate(other.vcek.toString("pem")).verify(new X509Certificate(other.ask.toString("pem")).publicKey)).toBe(true);
  });

  it("exports the cert_chain PEM as ASK then ARK", () => {
    const pem = chainPem(chain);
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g);
    expect(blocks).toHaveLength(2);
    expect(pem.indexOf(chain.ask.toString("pem"))).toBe(0);
    expect(pem.indexOf(chain.ark.toString("pem"))).toBeGreaterThan(0);
  });
});
