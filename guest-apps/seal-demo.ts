// Sealing: the app seals a secret, unseals the blob, and logs whether the two match, never the
// secret itself. It also exports `sealSecret` and `unsealMatches` so a host can take a blob out of
// one enclave and hand it to another (which must fail to open it).
import { log, seal, unseal } from "../assembly";

// A secret made inside the enclave; stands in for a key or credential an app keeps across runs.
function secret(): Uint8Array {
  const s = new Uint8Array(32);
  for (let i = 0; i < s.length; i++) s[i] = <u8>(i * 29 + 7);
  return s;
}

function equal(a: Uint8Array, b: Uint8Array): bool {
  if (a.byteLength != b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] != b[i]) return false;
  return true;
}

let lastBlob: Uint8Array = new Uint8Array(0);

export function _start(): void {
  const blob = seal(secret());
  if (blob === null) {
    log("seal: unavailable");
    return;
  }
  const opened = unseal(blob);
  log(opened !== null && equal(opened, secret()) ? "unsealed secret matches" : "unsealed secret does not match");
}

/** Seals the secret and keeps the blob where `blobPtr`/`blobLen` point; returns its length, or -1. */
export function sealSecret(): i32 {
  const blob = seal(secret());
  if (blob === null) return -1;
  lastBlob = blob;
  return blob.byteLength;
}

export function blobPtr(): usize {
  return lastBlob.dataStart;
}

export function blobLen(): i32 {
  return lastBlob.byteLength;
}

/** Reserves `len` bytes for a blob the host writes in; returns where. */
export function blobBuffer(len: i32): usize {
  lastBlob = new Uint8Array(len);
  return lastBlob.dataStart;
}

/** 1 if the blob in the buffer unseals to the secret, 0 if it unseals to something else, -1 if refused. */
export function unsealMatches(): i32 {
  const opened = unseal(lastBlob);
  if (opened === null) return -1;
  return equal(opened, secret()) ? 1 : 0;
}
