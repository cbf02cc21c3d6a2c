// ATTEST nonce: fresh evidence that this store runs in an enclave with its measurement, for this
// connection. Not a Redis command: kv's own, for clients of attested TLS (docs/writing-apps.md,
// "Attested TLS"). The enclave report's 64 bytes of report data are
//   [0, 32)   the client's nonce (1 to 32 bytes), zero-padded
//   [32, 64)  the connection's channel binding: the TLS exporter of RFC 9266 when Enclavisor
//             serves it over attested TLS, 32 zero bytes on a plaintext connection
// so that the evidence is as fresh as the nonce and was made for this TLS session: a host that
// relays it to another session cannot pass it off there. The reply is the evidence bundle
// (host/enclavisor/evidence.ts) as a bulk string.
import { CHANNEL_BINDING_BYTES, attest, channelBinding } from "../../assembly/index";
import { al, ap } from "./args";
import { Conn } from "./conn";
import { replyBulk, replyError } from "./reply";

const NONCE_BYTES: u32 = 32;

export function attestCommand(c: Conn): void {
  const n = al(1);
  if (n < 1 || n > NONCE_BYTES) return replyError("ATTEST takes a nonce of 1 to 32 bytes");
  const data = new Uint8Array(NONCE_BYTES + CHANNEL_BINDING_BYTES);
  memory.copy(data.dataStart, ap(1), n);
  const binding = channelBinding(c.id);
  if (binding != null) memory.copy(data.dataStart + NONCE_BYTES, binding.dataStart, CHANNEL_BINDING_BYTES);
  const evidence = attest(data);
  if (evidence == null) return replyError("this enclave cannot attest: its mode has no SNP evidence (use --mode enclavisor or sev-snp)");
  replyBulk(evidence.dataStart, evidence.byteLength);
}
