// The network side of `enclave verify --tls`: connects to an attested-TLS server (TLS 1.3 only),
// takes its certificate, and with `fresh`, asks for evidence over its own nonce with the Redis
// protocol's `ATTEST nonce` (kv: guest-apps/kv/cmd-attest.ts) on the same session, and computes the
// session's channel binding (RFC 9266 tls-exporter) to check it against. The checks themselves are
// host/verifier/ra-tls-verifier.ts's.
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { connect } from "node:tls";
import type { TLSSocket } from "node:tls";
import { CHANNEL_BINDING_BYTES } from "../enclavisor/abi-constants";
import { CHANNEL_BINDING_LABEL } from "../enclavisor/attested-tls";
import { MAX_EVIDENCE_BYTES } from "../verifier/evidence-verifier";
import { ATTEST_NONCE_BYTES } from "../verifier/ra-tls-verifier";
import { CliError } from "./cli-error";

export interface ProbeResult {
  /** The server's certificate, DER. */
  certificate: Uint8Array;
  /** With `fresh`: the nonce sent, this session's channel binding, and the evidence ATTEST answered. */
  fresh?: { nonce: Uint8Array; binding: Uint8Array; evidence: Uint8Array };
}

/** Connects to host:port and probes it; CliError names what failed (connection, handshake, ATTEST's reply). */
export async function probeAttestedTls(host: string, port: number, fresh: boolean, timeoutMs = 15_000): Promise<ProbeResult> {
  // The certificate is checked by its evidence, not by a CA: hence no chain check by OpenSSL here.
  const socket = connect({ host, port, rejectUnauthorized: false, minVersion: "TLSv1.3", ...(isIP(host) ? {} : { servername: host }) });
  const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const certificate = socket.getPeerX509Certificate()?.raw;
    if (!certificate) throw new Error("the server sent no certificate");
    if (!fresh) return { certificate: new Uint8Array(certificate) };
    const nonce = new Uint8Array(randomBytes(ATTEST_NONCE_BYTES));
    const binding = new Uint8Array(socket.exportKeyingMaterial(CHANNEL_BINDING_BYTES, CHANNEL_BINDING_LABEL, Buffer.alloc(0)));
    socket.write(Buffer.concat([Buffer.from(`*2\r\n$6\r\nATTEST\r\n$${nonce.length}\r\n`), nonce, Buffer.from("\r\n")]));
    const evidence = await bulkReply(socket);
    return { certificate: new Uint8Array(certificate), fresh: { nonce, binding, evidence } };
  } catch (e) {
    throw new CliError(`attested TLS to ${host}:${port}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** Reads one RESP reply: a bulk string's bytes, or an error naming the reply. */
function bulkReply(socket: TLSSocket): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const eol = buf.indexOf("\r\n");
      if (eol < 0) return;
      const head = buf.subarray(0, eol).toString("latin1");
      if (head[0] === "-") return done(new Error(`ATTEST was refused: ${head.slice(1)}`));
      const m = /^\$(\d+)$/.exec(head);
      if (!m || Number(m[1]) > MAX_EVIDENCE_BYTES) return done(new Error(`ATTEST's reply is not evidence: ${JSON.stringify(head.slice(0, 80))}`));
      const len = Number(m[1]);
      if (buf.length >= eol + 2 + len + 2) done(null, new Uint8Array(buf.subarray(eol + 2, eol + 2 + len)));
    };
    const onEnd = (): void => done(new Error("the server closed the connection before answering ATTEST"));
    const done = (err: Error | null, bytes?: Uint8Array): void => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", done);
      if (err) reject(err);
      else resolve(bytes!);
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", done);
  });
}
