// SGX's memory encryption engine for the EPC, after Gueron, "A Memory Encryption Engine Suitable
// for General Purpose Processors" (IACR ePrint 2016/204), sections 3-4: each protected unit is
// encrypted in counter mode with a seed made of its physical address and its version, and
// authenticated by a Carter-Wegman MAC over the ciphertext keyed with the same seed.
//
// Here the unit is a 4 KiB page rather than a 64-byte cache line (the software MMU moves whole
// pages), and AES-128-GCM supplies both halves: GCM is AES-CTR plus GHASH, a Carter-Wegman MAC.
// The 12-byte IV is the seed: the page's EPC address (frame number, u32 LE) and its version (u64
// LE). A version never repeats for an address, so no IV repeats under the key. The MAC is kept at
// 8 bytes (the MEE keeps 56 bits).
//
// host/sgx is a hardware model beside host/sev (docs/architecture.md, "Layers"): it exists for the
// `sgx` preset, the paper's point of comparison.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
export const MEE_MAC_BYTES = 8;

/** Versions stay exact integers in a JS number: 2^53 writes of one page never happen. */
export const MAX_VERSION = Number.MAX_SAFE_INTEGER;

export class MeeCtr {
  readonly #key: Buffer;
  /** A second key for the tree's node MACs, so that no node seed can meet a page seed under one key. */
  readonly #nodeKey: Buffer;
  readonly #iv = Buffer.alloc(12);

  /** The keys are drawn at boot and never leave the engine (the MEE's keys are per boot). */
  constructor(key: Uint8Array = randomBytes(16), nodeKey: Uint8Array = randomBytes(16)) {
    if (key.length !== 16 || nodeKey.length !== 16) throw new RangeError("the MEE keys must be 16 bytes each (AES-128)");
    this.#key = Buffer.from(key);
    this.#nodeKey = Buffer.from(nodeKey);
  }

  #seed(frame: number, version: number): Buffer {
    if (!Number.isInteger(version) || version < 0 || version > MAX_VERSION) throw new RangeError(`version must be an integer in 0..2^53-1, got ${version}`);
    this.#iv.writeUInt32LE(frame >>> 0, 0);
    this.#iv.writeUInt32LE(version % 2 ** 32, 4);
    this.#iv.writeUInt32LE(Math.floor(version / 2 ** 32), 8);
    return this.#iv;
  }

  /** Encrypts one page into `cipher` and returns its MAC. */
  encrypt(frame: number, version: number, plain: Uint8Array, cipher: Uint8Array): Uint8Array {
    const c = createCipheriv("aes-128-gcm", this.#key, this.#seed(frame, version), { authTagLength: 16 });
    const out = c.update(plain);
    c.final();
    cipher.set(out);
    return new Uint8Array(c.getAuthTag().subarray(0, MEE_MAC_BYTES));
  }

  /** Decrypts one page into `plain`; false when the MAC does not match (then `plain` is zeroed). */
  decrypt(frame: number, version: number, cipher: Uint8Array, mac: Uint8Array, plain: Uint8Array): boolean {
    const d = createDecipheriv("aes-128-gcm", this.#key, this.#seed(frame, version), { authTagLength: MEE_MAC_BYTES });
    d.setAuthTag(mac);
    const out = d.update(cipher);
    try {
      d.final();
    } catch {
      plain.fill(0);
      return false;
    }
    plain.set(out);
    out.fill(0);
    return true;
  }

  /** An 8-byte Carter-Wegman MAC (GMAC) of `data` with the seed (id, counter): the version tree's node MAC. */
  mac(id: number, counter: number, data: Uint8Array): Uint8Array {
    const c = createCipheriv("aes-128-gcm", this.#nodeKey, this.#seed(id, counter), { authTagLength: 16 });
    c.setAAD(data);
    c.final();
    return new Uint8Array(c.getAuthTag().subarray(0, MEE_MAC_BYTES));
  }
}
