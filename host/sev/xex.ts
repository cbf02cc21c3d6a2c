// Zen 1 style XEX: AES with a tweak that is a linear (XOR) function of the physical address, as
// the SEVurity paper (Wilke et al., IEEE S&P 2020, section 3) reverse-engineered it for
// AMD Zen/Zen+ SEV: C = E_K(P xor T(pa)) xor T(pa), T(pa) = XOR of t_i over the set bits i of
// the 16-byte block's physical byte address. Because T is linear, T(a) xor T(b) is the same
// for every key-wide pair of addresses with the same difference: the weakness SEVurity exploits.
// Kept for attack studies; XTS (xts.ts) is the default.
//
// The tweak splits into a per-page seed (the page's address bits, here) and an in-page table (the
// block's offset bits, fixed per key); the native page cipher (page-cipher.ts) does the XORs and
// the AES of a whole batch in one call.
import { createCipheriv } from "node:crypto";
import { checkFrame } from "./page";
import { PAGE_SHIFT, PAGE_SIZE } from "../page";
import { checkBuffers, KIND_ECB, pageCipher } from "./page-cipher";
import type { CipherKeyHandle } from "./page-cipher";

/** Address bits that carry a tweak constant: 4 (first bit above the 16-byte block) to 51. */
export const XEX_FIRST_BIT = 4;
export const XEX_LAST_BIT = 51;

/** Scratch for the seeds of one call's pages, grown on demand (calls are synchronous). */
let seedWords = new Uint32Array(4 * 64);

export class XexAes {
  /** AES-128 on the data key, both directions, in the addon. */
  readonly #key: CipherKeyHandle;
  /** t_i for i = XEX_FIRST_BIT..XEX_LAST_BIT, 16 bytes each. */
  readonly #constants: Uint32Array;
  /** T of the in-page offsets: one 16-byte tweak per block of a page (address bits 4..11). */
  readonly #inPage: Uint8Array;

  /**
   * `key` = 32 bytes: the AES-128 data key, then the key from which the tweak constants are
   * derived (t_i = AES_K2(i), i as a 16-byte little-endian number; the real part's constants
   * come from its own hardware, this only needs them secret and fixed per key).
   */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== 32) {
      throw new RangeError(`XEX key must be 32 bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
    }
    this.#key = pageCipher.open(KIND_ECB, key.subarray(0, 16));
    const bits = XEX_LAST_BIT - XEX_FIRST_BIT + 1;
    const input = Buffer.alloc(16 * bits);
    for (let b = 0; b < bits; b++) input.writeUInt32LE(XEX_FIRST_BIT + b, 16 * b);
    const tweakKey = createCipheriv("aes-128-ecb", key.subarray(16), null).setAutoPadding(false);
    this.#constants = new Uint32Array(new Uint8Array(tweakKey.update(input)).buffer);
    const inPage = new Uint32Array(PAGE_SIZE / 4);
    for (let block = 0; block < PAGE_SIZE / 16; block++) {
      this.#accumulate(inPage, 4 * block, block, XEX_FIRST_BIT, PAGE_SHIFT - 1);
    }
    this.#inPage = new Uint8Array(inPage.buffer);
  }

  /** T(address) for a 16-byte-aligned physical byte address (for tests and attack studies). */
  tweak(address: bigint): Uint8Array {
    const out = new Uint32Array(4);
    for (let bit = XEX_FIRST_BIT; bit <= XEX_LAST_BIT; bit++) {
      if ((address >> BigInt(bit)) & 1n) this.#xorConstant(out, 0, bit);
    }
    return new Uint8Array(out.buffer);
  }

  /** Encrypts pages: page i of `data` lives at frame frames[i]; `out` may be `data`. */
  encryptPages(frames: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.#pages(frames, data, out, false);
  }

  decryptPages(frames: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.#pages(frames, data, out, true);
  }

  #pages(frames: ArrayLike<number>, data: Uint8Array, out: Uint8Array | undefined, decrypt: boolean): Uint8Array {
    const count = frames.length;
    checkBuffers(data, out, count * PAGE_SIZE, "pages");
    for (let i = 0; i < count; i++) checkFrame(frames[i]!); // all of them before any output changes
    const result = out ?? new Uint8Array(data.length);
    if (seedWords.length < 4 * count) seedWords = new Uint32Array(4 * count);
    const seeds = seedWords.subarray(0, 4 * count);
    seeds.fill(0);
    for (let i = 0; i < count; i++) {
      const frame = frames[i]!;
      // frame bit b is address bit b + PAGE_SHIFT; split to stay exact above 2^32
      this.#accumulate(seeds, 4 * i, frame % 2 ** 28, PAGE_SHIFT, PAGE_SHIFT + 27);
      this.#accumulate(seeds, 4 * i, Math.floor(frame / 2 ** 28), PAGE_SHIFT + 28, XEX_LAST_BIT);
    }
    const seedBytes = new Uint8Array(seeds.buffer, seeds.byteOffset, seeds.byteLength);
    pageCipher.xex(this.#key, decrypt, seedBytes, this.#inPage, data, result);
    return result;
  }

  /** out[at..at+4] ^= t_i for every set bit of `value`, whose bit 0 is address bit `lowBit`. */
  #accumulate(out: Uint32Array, at: number, value: number, lowBit: number, highBit: number): void {
    for (let bit = lowBit; bit <= highBit && value !== 0; bit++, value = Math.floor(value / 2)) {
      if (value % 2 === 1) this.#xorConstant(out, at, bit);
    }
  }

  #xorConstant(out: Uint32Array, at: number, bit: number): void {
    const c = 4 * (bit - XEX_FIRST_BIT);
    out[at] ^= this.#constants[c]!;
    out[at + 1] ^= this.#constants[c + 1]!;
    out[at + 2] ^= this.#constants[c + 2]!;
    out[at + 3] ^= this.#constants[c + 3]!;
  }
}
