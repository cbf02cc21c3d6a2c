// Post-launch attestation: the app asks Enclavisor for evidence carrying 64 bytes of its own data
// (here the text "attest-demo v1", zero-padded) and prints the evidence bundle as its only output,
// so `npm run enclave -- guest-apps/attest-demo.wasm > evidence.json` saves it for
// `enclave verify --evidence evidence.json --measurement M --report-data 6174746573742d64656d6f207631`.
// A real app would put a hash of a key or a verifier's challenge in the data instead.
import { attest, log } from "../assembly";

export function _start(): void {
  const evidence = attest(Uint8Array.wrap(String.UTF8.encode("attest-demo v1")));
  if (evidence === null) {
    log("attest: unavailable");
    return;
  }
  log(String.UTF8.decode(evidence.buffer.slice(evidence.byteOffset, evidence.byteOffset + evidence.byteLength)).trimEnd());
}
