// Sealing (docs/architecture.md, "Enclavisor"): data an enclave encrypts so that it opens only in
// the same enclave on the same platform. The key is derived in two steps:
//   1. the secure processor's MSG_KEY_REQ (SEV-SNP Firmware ABI, pub. 56860, section 7.2) with the
//      VCEK root and GUEST_FIELD_SELECT = MEASUREMENT: a key bound to the chip secret (which never
//      leaves the secure processor) and to the VM's launch measurement, i.e. the Enclavisor image;
//   2. HKDF-SHA384 (RFC 5869) of that key with the policy and the 48-byte enclave measurement, so
//      that enclaves sharing one Enclavisor VM still get distinct keys.
//
// Sealed blob, version 1 (all integers little-endian):
//   0x00  4 B  magic "ESEA" (45 53 45 41: Enclave SEAled)
//   0x04  1 B  format version = 1
//   0x05  1 B  policy: 1 = bound to the enclave measurement (the only policy so far)
//   0x06  2 B  reserved, zero
//   0x08 12 B  AES-GCM nonce (random per blob; NIST SP 800-38D, section 8.2.2)
//   0x14 16 B  AES-GCM tag
//   0x24  ... ciphertext (as long as the plaintext)
// The cipher is AES-256-GCM; bytes 0x00-0x13 (everything in the header but the tag) are its AAD,
// so a changed version, policy or nonce fails authentication like a changed ciphertext.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { SecureProcessor } from "../sev/secure-processor";
import { GuestField } from "../sev/key-derivation";
import { SevStatus, statusName } from "../sev/status";
import { MAX_SEAL_PLAINTEXT } from "./abi-constants";
import { EnclavisorError } from "./enclavisor-error";

export const SEAL_MAGIC = Uint8Array.of(0x45, 0x53, 0x45, 0x41);
export const SEAL_VERSION = 1;
/** Policy byte: the key is bound to the enclave measurement. */
export const POLICY_MEASUREMENT = 1;
const NONCE_OFFSET = 0x08;
const NONCE_BYTES = 12;
const TAG_OFFSET = 0x14;
const TAG_BYTES = 16;
/** Bytes a sealed blob has beyond its plaintext (the header): the ABI's SEAL_OVERHEAD. */
export const SEAL_HEADER_BYTES = TAG_OFFSET + TAG_BYTES; // 0x24
export const ENCLAVE_MEASUREMENT_BYTES = 48;
const KEY_LABEL = "enclavisor-seal/v1";

/** A refused seal or unseal. The message names the problem, never a key or plaintext byte. */
export class SealingError extends EnclavisorError {
  override name = "SealingError";
}

/** Seals and unseals for one enclave with its derived key (held privately, never exposed). */
export class Sealer {
  readonly #key: Uint8Array;

  /** `key` is a 32-byte AES-256 key from deriveSealingKey. */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 32) throw new SealingError("a sealing key must be 32 bytes");
    this.#key = new Uint8Array(key);
  }

  seal(plaintext: Uint8Array): Uint8Array {
    if (!(plaintext instanceof Uint8Array)) throw new SealingError("seal takes a Uint8Array");
    if (plaintext.length > MAX_SEAL_PLAINTEXT) {
      throw new SealingError(`cannot seal ${plaintext.length} bytes: at most ${MAX_SEAL_PLAINTEXT} per blob`);
    }
    const blob = new Uint8Array(SEAL_HEADER_BYTES + plaintext.length);
    blob.set(SEAL_MAGIC, 0);
    blob[4] = SEAL_VERSION;
    blob[5] = POLICY_MEASUREMENT;
    blob.set(randomBytes(NONCE_BYTES), NONCE_OFFSET);
    const cipher = createCipheriv("aes-256-gcm", this.#key, blob.subarray(NONCE_OFFSET, TAG_OFFSET));
    cipher.setAAD(blob.subarray(0, TAG_OFFSET));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    blob.set(body, SEAL_HEADER_BYTES);
    blob.set(cipher.getAuthTag(), TAG_OFFSET);
    return blob;
  }

  unseal(blob: Uint8Array): Uint8Array {
    if (!(blob instanceof Uint8Array)) throw new SealingError("unseal takes a Uint8Array");
    if (blob.length < SEAL_HEADER_BYTES) {
      throw new SealingError(`sealed blob is ${blob.length} bytes, shorter than its ${SEAL_HEADER_BYTES}-byte header`);
    }
    if (blob.length > SEAL_HEADER_BYTES + MAX_SEAL_PLAINTEXT) {
      throw new SealingError(`sealed blob is ${blob.length} bytes, over the ${SEAL_HEADER_BYTES + MAX_SEAL_PLAINTEXT}-byte limit`);
    }
    if (Buffer.compare(blob.subarray(0, 4), SEAL_MAGIC) !== 0) throw new SealingError("not a sealed blob (bad magic)");
    if (blob[4] !== SEAL_VERSION) throw new SealingError(`sealed blob format version ${blob[4]} is not supported (expected ${SEAL_VERSION})`);
    if (blob[5] !== POLICY_MEASUREMENT) throw new SealingError(`sealed blob policy ${blob[5]} is not supported`);
    if (blob[6] !== 0 || blob[7] !== 0) throw new SealingError("sealed blob reserved bytes are not zero");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, blob.subarray(NONCE_OFFSET, TAG_OFFSET));
    decipher.setAAD(blob.subarray(0, TAG_OFFSET));
    decipher.setAuthTag(blob.subarray(TAG_OFFSET, SEAL_HEADER_BYTES));
    const body = decipher.update(blob.subarray(SEAL_HEADER_BYTES));
    try {
      decipher.final();
    } catch {
      // GCM tells only that the tag did not match; the plaintext computed so far is dropped.
      body.fill(0);
      throw new SealingError(
        "sealed blob failed authentication: it was modified, or sealed by another enclave or on another platform",
      );
    }
    return new Uint8Array(body);
  }
}

/** Where the sealing key comes from: a running SEV VM (the Enclavisor's) and the enclave in it. */
export interface SealingBinding {
  sp: SecureProcessor;
  /** The firmware handle of the VM Enclavisor runs in (Vm.handle). */
  vmHandle: number;
  /** The enclave measurement (measurement.ts), 48 bytes. */
  enclaveMeasurement: Uint8Array;
}

/** The 32-byte sealing key of an enclave: MSG_KEY_REQ, then HKDF with the enclave measurement. */
export function deriveSealingKey(b: SealingBinding): Uint8Array {
  if (!(b.enclaveMeasurement instanceof Uint8Array) || b.enclaveMeasurement.length !== ENCLAVE_MEASUREMENT_BYTES) {
    throw new SealingError(`the enclave measurement must be ${ENCLAVE_MEASUREMENT_BYTES} bytes`);
  }
  const r = b.sp.guestRequest(b.vmHandle, {
    type: "key",
    rootKeySelect: "vcek", // chip-bound and persistent; the VMRK is random per launch
    guestFieldSelect: GuestField.MEASUREMENT,
    vmpl: 0,
    guestSvn: 0,
    tcbVersion: b.sp.tcb,
  });
  if (r.status !== SevStatus.SUCCESS || !r.key) {
    throw new SealingError(`the secure processor refused the sealing key request (MSG_KEY_REQ): ${statusName(r.status)}`);
  }
  const info = Buffer.concat([Buffer.from(KEY_LABEL), Uint8Array.of(POLICY_MEASUREMENT), b.enclaveMeasurement]);
  const key = new Uint8Array(hkdfSync("sha384", r.key, new Uint8Array(0), info, 32));
  r.key.fill(0);
  return key;
}

/** A Sealer for an enclave. */
export function sealerFor(b: SealingBinding): Sealer {
  const key = deriveSealingKey(b);
  const sealer = new Sealer(key);
  key.fill(0);
  return sealer;
}
