// Attested TLS, terminated inside the trust boundary: Enclavisor serves a server enclave over TLS
// 1.3 with a key it generates here (it never leaves this object), under an RA-TLS certificate
// (ra-tls-certificate.ts) whose evidence binds that key to the enclave's measurement. The host
// hands each accepted socket to accept(): from then on the socket carries only TLS records, the
// session runs here (OpenSSL, through node:tls, as the memory encryption engine runs through it),
// and its plaintext goes to the enclave over its private channel (private-channel.ts), never
// through a page the host shares.
//
// Each session's channel binding, its TLS exporter (RFC 9266), is what the guest's
// `enclave.channel_binding` returns for the connection: an app puts it in the report data of fresh
// evidence (kv's ATTEST), so that a client knows the evidence was made for its own session.
//
// The emulation gives the socket to OpenSSL directly: the TLS records are not copied through the
// enclave's shared pages as a virtio ring would carry them, since they are ciphertext either way.
import { generateKeyPairSync } from "node:crypto";
import type { Socket } from "node:net";
import { TLSSocket, createSecureContext } from "node:tls";
import type { SecureContext } from "node:tls";
import { CHANNEL_BINDING_BYTES } from "./abi-constants";
import { PumpedConnection } from "./channel-pump";
import type { PumpHooks } from "./channel-pump";
import type { PrivateChannel } from "./private-channel";
import { raTlsCertificate, tlsKeyReportData } from "./ra-tls-certificate";

/** RFC 9266, section 2: the exporter label of the tls-exporter channel binding. */
export const CHANNEL_BINDING_LABEL = "EXPORTER-Channel-Binding";

export interface AttestedTlsOptions {
  /** Issues the enclave's evidence for 64 bytes of report data (evidence.ts). */
  issueEvidence(reportData: Uint8Array): Uint8Array;
  /** The enclave's private channel. */
  channel: PrivateChannel;
  /** The certificate's common name. */
  subject: string;
  /** More subjectAltNames (DNS names, IPv4 addresses). */
  names?: readonly string[];
}

export class AttestedTls {
  /** The certificate, DER and PEM: public. */
  readonly certificate: Uint8Array;
  readonly certificatePem: string;
  /** The evidence in the certificate: its report data is tlsKeyReportData(the certificate's key). */
  readonly evidence: Uint8Array;
  readonly #context: SecureContext;
  readonly #channel: PrivateChannel;
  readonly #sessions = new Map<number, TLSSocket>();

  constructor(options: AttestedTlsOptions) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const spkiDer = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    this.evidence = options.issueEvidence(tlsKeyReportData(spkiDer));
    this.certificate = raTlsCertificate({ spkiDer, privateKey, evidence: this.evidence, subject: options.subject, names: options.names });
    this.certificatePem = pem(this.certificate);
    const key = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    this.#context = createSecureContext({ key, cert: this.certificatePem, minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
    this.#channel = options.channel;
  }

  /** Runs a TLS 1.3 server session over the host's socket, and pumps its plaintext as connection `id`. */
  accept(socket: Socket, id: number, hooks: PumpHooks): PumpedConnection {
    const session = new TLSSocket(socket, { isServer: true, secureContext: this.#context });
    this.#sessions.set(id, session);
    session.once("close", () => {
      if (this.#sessions.get(id) === session) this.#sessions.delete(id);
    });
    return new PumpedConnection(id, session, this.#channel, hooks);
  }

  /** Connection `id`'s channel binding once its handshake is done, else null. */
  channelBinding(id: number): Uint8Array | null {
    const session = this.#sessions.get(id);
    if (!session || !session.encrypted || session.getProtocol() !== "TLSv1.3" || session.destroyed) return null;
    // TLS 1.3 makes no context and an empty one the same (RFC 8446 7.5), as RFC 9266 uses it.
    return new Uint8Array(session.exportKeyingMaterial(CHANNEL_BINDING_BYTES, CHANNEL_BINDING_LABEL, Buffer.alloc(0)));
  }
}

function pem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
