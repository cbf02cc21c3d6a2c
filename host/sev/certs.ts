// The emulated AMD key hierarchy as real X.509 (AMD "Versioned Chip Endorsement Key (VCEK)
// Certificate and KDS Interface Specification", pub. 57230): ARK (self-signed) -> ASK -> VCEK.
// ARK and ASK are RSA-4096 and sign with RSASSA-PSS / SHA-384, MGF1-SHA-384, salt length 48,
// with explicit PSS parameters as AMD's do; the VCEK is ECDSA P-384 and carries AMD's TCB and
// hardware-id extensions. RSA-4096 key generation takes seconds, so the CA keys are made once per
// platform state directory and kept there.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import { PlatformStateError } from "./platform-state";
import type { PlatformState } from "./platform-state";
import type { TcbVersion } from "./report";
import { x509 } from "./x509";

export const PRODUCT = "Milan";
/** Subject attributes in AMD's order (ARK-Milan, SEV-Milan and SEV-VCEK certificates). */
const AMD_NAME = "OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices";
export const ARK_SUBJECT = `${AMD_NAME}, CN=ARK-${PRODUCT}`;
export const ASK_SUBJECT = `${AMD_NAME}, CN=SEV-${PRODUCT}`;
export const VCEK_SUBJECT = `${AMD_NAME}, CN=SEV-VCEK`;

/** RSASSA-PSS with SHA-384 and a 48-byte salt, as in AMD's certificates. */
export const PSS_SHA384: RsaPssParams & { hash: string } = { name: "RSA-PSS", hash: "SHA-384", saltLength: 48 };
const RSA_PSS_IMPORT = { name: "RSA-PSS", hash: "SHA-384" };

/** AMD's VCEK extension OIDs (pub. 57230, table "VCEK Certificate Extensions"). */
export const VcekOid = {
  structVersion: "1.3.6.1.4.1.3704.1.1",
  productName: "1.3.6.1.4.1.3704.1.2",
  blSPL: "1.3.6.1.4.1.3704.1.3.1",
  teeSPL: "1.3.6.1.4.1.3704.1.3.2",
  snpSPL: "1.3.6.1.4.1.3704.1.3.3",
  ucodeSPL: "1.3.6.1.4.1.3704.1.3.8",
  hwID: "1.3.6.1.4.1.3704.1.4",
} as const;

const ARK_YEARS = 25;
const VCEK_YEARS = 7;

export interface CertificateChain {
  ark: x509.X509Certificate;
  ask: x509.X509Certificate;
  vcek: x509.X509Certificate;
}

function yearsAfter(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

/** Backdated a minute so a verifier whose clock is slightly behind still accepts a fresh certificate. */
function validFrom(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
}

async function generateRsa4096Pkcs8(): Promise<Uint8Array> {
  const der = await new Promise<Buffer>((resolve, reject) =>
    generateKeyPair(
      "rsa",
      { modulusLength: 4096, publicExponent: 0x10001, privateKeyEncoding: { type: "pkcs8", format: "der" }, publicKeyEncoding: { type: "spki", format: "der" } },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv)),
    ),
  );
  return new Uint8Array(der);
}

/** Loads a stored key, or generates and stores one; concurrent callers end up with the same key. */
async function caKey(state: PlatformState, name: string): Promise<CryptoKey> {
  let der = state.read(name);
  if (!der) {
    const fresh = await generateRsa4096Pkcs8();
    der = state.createOnce(name, () => fresh, { secret: true });
  }
  return webcrypto.subtle.importKey("pkcs8", der, RSA_PSS_IMPORT, false, ["sign"]) as Promise<CryptoKey>;
}

async function storedCert(state: PlatformState, name: string, make: () => Promise<x509.X509Certificate>): Promise<x509.X509Certificate> {
  let der = state.read(name);
  if (!der) {
    const fresh = new Uint8Array((await make()).rawData);
    der = state.createOnce(name, () => fresh, { secret: false });
  }
  return new x509.X509Certificate(der);
}

function serial(): string {
  // Positive, 16 bytes: the high bit cleared keeps the DER INTEGER non-negative.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0]! &= 0x7f;
  return Buffer.from(b).toString("hex");
}

/** ARK and ASK with the ASK's signing key, created on first use. */
async function loadCa(state: PlatformState): Promise<{ ark: x509.X509Certificate; ask: x509.X509Certificate; askKey: CryptoKey }> {
  const arkKey = await caKey(state, "ark-key.der");
  const ark = await issueCa(state, "ark", ARK_SUBJECT, arkKey, async (spki) => [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(spki),
    new x509.BasicConstraintsExtension(true, undefined, true),
  ]);
  const askKey = await caKey(state, "ask-key.der");
  const ask = await issueCa(state, "ask", ASK_SUBJECT, arkKey, async (spki) => [
    await x509.SubjectKeyIdentifierExtension.create(spki),
    await x509.AuthorityKeyIdentifierExtension.create(ark.publicKey),
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
  ]);
  return { ark, ask, askKey };
}

/** A CA certificate (`name`-cert.der) for the key in `name`-key.der, signed by the ARK's key. */
function issueCa(
  state: PlatformState,
  name: "ark" | "ask",
  subject: string,
  arkKey: CryptoKey,
  extensions: (spki: Uint8Array<ArrayBuffer>) => Promise<x509.Extension[]>,
): Promise<x509.X509Certificate> {
  return storedCert(state, `${name}-cert.der`, async () => {
    const spki = spkiOfPkcs8(state, `${name}-key.der`);
    const now = validFrom();
    return x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: ARK_SUBJECT,
      notBefore: now,
      notAfter: yearsAfter(now, ARK_YEARS),
      publicKey: spki,
      signingKey: arkKey,
      signingAlgorithm: PSS_SHA384,
      extensions: await extensions(spki),
    });
  });
}

function spkiOfPkcs8(state: PlatformState, name: string): Uint8Array<ArrayBuffer> {
  const der = state.read(name);
  if (!der) throw new PlatformStateError(`platform state entry ${name} is missing`);
  const priv = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  return new Uint8Array(createPublicKey(priv).export({ type: "spki", format: "der" }));
}

function derInteger(n: number): ArrayBuffer {
  return new asn1js.Integer({ value: n }).toBER(false);
}

function tcbHex(tcb: TcbVersion): string {
  return [tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** AMD's VCEK extensions: INTEGER TCB levels, IA5String product name, raw 64-byte hardware id. */
export function vcekExtensions(tcb: TcbVersion, chipId: Uint8Array, productName = `${PRODUCT}-B0`): x509.Extension[] {
  if (chipId.length !== 64) throw new RangeError("the VCEK hwID is the 64-byte chip id");
  return [
    new x509.Extension(VcekOid.structVersion, false, derInteger(1)),
    new x509.Extension(VcekOid.productName, false, new asn1js.IA5String({ value: productName }).toBER(false)),
    new x509.Extension(VcekOid.blSPL, false, derInteger(tcb.bootloader)),
    new x509.Extension(VcekOid.teeSPL, false, derInteger(tcb.tee)),
    new x509.Extension(VcekOid.snpSPL, false, derInteger(tcb.snp)),
    new x509.Extension(VcekOid.ucodeSPL, false, derInteger(tcb.microcode)),
    new x509.Extension(VcekOid.hwID, false, new Uint8Array(chipId)),
  ];
}

/**
 * The certificate chain of this chip at the given TCB, issuing the VCEK certificate (and, on a new
 * platform, the ARK and ASK) on first use.
 */
export async function certificateChain(
  state: PlatformState,
  vcekPublic: KeyObject,
  tcb: TcbVersion,
  chipId: Uint8Array,
): Promise<CertificateChain> {
  const { ark, ask, askKey } = await loadCa(state);
  const vcek = await storedCert(state, `vcek-${tcbHex(tcb)}.der`, async () => {
    const now = validFrom();
    return x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: VCEK_SUBJECT,
      issuer: ASK_SUBJECT,
      notBefore: now,
      notAfter: yearsAfter(now, VCEK_YEARS),
      publicKey: new Uint8Array(vcekPublic.export({ type: "spki", format: "der" })),
      signingKey: askKey,
      signingAlgorithm: PSS_SHA384,
      extensions: vcekExtensions(tcb, chipId),
    });
  });
  return { ark, ask, vcek };
}

/** PEM of ASK then ARK: the cert_chain file as AMD's KDS serves it. */
export function chainPem(chain: Pick<CertificateChain, "ark" | "ask">): string {
  return `${chain.ask.toString("pem")}\n${chain.ark.toString("pem")}\n`;
}
