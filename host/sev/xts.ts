// AES-XTS (IEEE 1619-2007 / NIST SP 800-38E) over whole data units, batched: the memory
// encryption engine's default mode, one 4 KiB data unit per page, tweak = SPA frame number.
//
// Construction (IEEE 1619-2007, 5.3.1): C_j = E_K1(P_j xor T_j) xor T_j, T_j = alpha^j * E_K2(i).
// node:crypto's own 'aes-128-xts' needs a new cipher per data unit (5-7 µs per page), so here the
// seeds E_K2(i) of a whole batch come from one ECB call, the tweak sequences and XORs from the
// SIMD kernel (xts-kernel.ts), and E_K1 from one ECB call over the batch, on cipher objects that
// live as long as the key.
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { Cipher, Decipher } from "node:crypto";
import { checkFrame, PAGE_SIZE } from "./page";
import {
  DATA_OFFSET, KERNEL_DATA_BYTES, KERNEL_MAX_UNIT, KERNEL_MAX_UNITS, SEED_OFFSET, TWEAK_OFFSET, tweakKernel, XTS_CHAINS,
} from "./xts-kernel";

/** Tweak input of data unit `frame`: its number as a 16-byte little-endian integer (IEEE 1619, 5.1). */
export function frameTweak(frame: number, out = new Uint8Array(16), offset = 0): Uint8Array {
  checkFrame(frame);
  out.fill(0, offset, offset + 16);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, frame >>> 0, true);
  view.setUint32(offset + 4, Math.floor(frame / 2 ** 32), true);
  return out;
}

function ecb(keyBytes: Uint8Array, decrypt: boolean): Cipher | Decipher {
  const algorithm = keyBytes.length === 16 ? "aes-128-ecb" : "aes-256-ecb";
  const c = decrypt ? createDecipheriv(algorithm, keyBytes, null) : createCipheriv(algorithm, keyBytes, null);
  c.setAutoPadding(false); // whole blocks only: update() returns every block it is given
  return c;
}

/** Scratch for the tweak inputs of one batch of pages, and where each missing seed goes. */
const pageTweaks = Buffer.alloc(16 * KERNEL_MAX_UNITS);
const missing = new Int32Array(KERNEL_MAX_UNITS);
/** Seeds kept per key: 16 bytes each plus the map's own; cleared when full. */
const SEED_CACHE_ENTRIES = 1 << 16;

export class XtsAes {
  readonly #encK1: Cipher | Decipher;
  readonly #decK1: Cipher | Decipher;
  readonly #encK2: Cipher | Decipher;
  /** E_K2(frame) of frames seen before: a single-page access then needs one cipher call, not two. */
  readonly #seeds = new Map<number, Uint8Array>();

  /** `key` = Key1 || Key2: 32 bytes for XTS-AES-128, 64 for XTS-AES-256 (IEEE 1619, 5.1). */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || (key.length !== 32 && key.length !== 64)) {
      throw new RangeError(`XTS-AES key must be 32 or 64 bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
    }
    const half = key.length / 2;
    this.#encK1 = ecb(key.subarray(0, half), false);
    this.#decK1 = ecb(key.subarray(0, half), true);
    this.#encK2 = ecb(key.subarray(half), false);
  }

  /** Encrypts consecutive data units of `unitSize` bytes; `tweaks` holds 16 bytes per unit. */
  encryptUnits(tweaks: Uint8Array, data: Uint8Array, unitSize: number, out?: Uint8Array): Uint8Array {
    return this.#run(tweaks, data, unitSize, out, this.#encK1);
  }

  decryptUnits(tweaks: Uint8Array, data: Uint8Array, unitSize: number, out?: Uint8Array): Uint8Array {
    return this.#run(tweaks, data, unitSize, out, this.#decK1);
  }

  /** Encrypts pages (4 KiB units) whose tweaks are their frame numbers. */
  encryptPages(frames: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.#pages(frames, data, out, this.#encK1);
  }

  decryptPages(frames: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.#pages(frames, data, out, this.#decK1);
  }

  #pages(frames: ArrayLike<number>, data: Uint8Array, out: Uint8Array | undefined, k1: Cipher | Decipher): Uint8Array {
    const count = frames.length;
    checkBuffers(data, out, count * PAGE_SIZE, "pages");
    for (let i = 0; i < count; i++) checkFrame(frames[i]!); // all of them before any output changes
    const result = out ?? new Uint8Array(data.length);
    const batch = KERNEL_DATA_BYTES / PAGE_SIZE;
    for (let first = 0; first < count; first += batch) {
      const n = Math.min(batch, count - first);
      this.#frameSeeds(frames, first, n);
      this.#batch(n, data.subarray(first * PAGE_SIZE, (first + n) * PAGE_SIZE), PAGE_SIZE, result, first * PAGE_SIZE, k1);
    }
    return result;
  }

  #run(tweaks: Uint8Array, data: Uint8Array, unitSize: number, out: Uint8Array | undefined, k1: Cipher | Decipher): Uint8Array {
    if (!Number.isInteger(unitSize) || unitSize < 16 || unitSize > KERNEL_MAX_UNIT || unitSize % 16 !== 0) {
      throw new RangeError(`XTS data unit must be a multiple of 16 bytes in 16..${KERNEL_MAX_UNIT}, got ${unitSize}`);
    }
    if (!(data instanceof Uint8Array) || data.length % unitSize !== 0) {
      throw new RangeError(`XTS input must be whole data units of ${unitSize} bytes`);
    }
    const units = data.length / unitSize;
    if (!(tweaks instanceof Uint8Array) || tweaks.length !== 16 * units) {
      throw new RangeError(`XTS needs 16 tweak bytes per data unit: ${16 * units} for ${units} units, got ${tweaks?.length}`);
    }
    checkBuffers(data, out, data.length, "data");
    const result = out ?? new Uint8Array(data.length);
    // A multiple of XTS_CHAINS, so that the kernel's spare units stay inside the data region.
    const batch = Math.min(KERNEL_MAX_UNITS, Math.floor(KERNEL_DATA_BYTES / unitSize)) & ~(XTS_CHAINS - 1);
    for (let first = 0; first < units; first += batch) {
      const n = Math.min(batch, units - first);
      tweakKernel().bytes.set(this.#encK2.update(tweaks.subarray(16 * first, 16 * (first + n))), SEED_OFFSET);
      this.#batch(n, data.subarray(first * unitSize, (first + n) * unitSize), unitSize, result, first * unitSize, k1);
    }
    return result;
  }

  /** Puts E_K2(frame) of frames[first..first+n) at the kernel's seeds, from the cache or one ECB call. */
  #frameSeeds(frames: ArrayLike<number>, first: number, n: number): void {
    const k = tweakKernel();
    let misses = 0;
    for (let i = 0; i < n; i++) {
      const seed = this.#seeds.get(frames[first + i]!);
      if (seed) k.bytes.set(seed, SEED_OFFSET + 16 * i);
      else {
        frameTweak(frames[first + i]!, pageTweaks, 16 * misses);
        missing[misses++] = i;
      }
    }
    if (misses === 0) return;
    const seeds = new Uint8Array(this.#encK2.update(pageTweaks.subarray(0, 16 * misses)));
    if (this.#seeds.size + misses > SEED_CACHE_ENTRIES) this.#seeds.clear();
    for (let m = 0; m < misses; m++) {
      const seed = seeds.subarray(16 * m, 16 * m + 16);
      k.bytes.set(seed, SEED_OFFSET + 16 * missing[m]!);
      this.#seeds.set(frames[first + missing[m]!]!, seed);
    }
  }

  /** One batch through the kernel (its seeds already in place): at most KERNEL_DATA_BYTES of data. */
  #batch(n: number, data: Uint8Array, unitSize: number, out: Uint8Array, outOffset: number, k1: Cipher | Decipher): void {
    const k = tweakKernel();
    const len = data.length;
    k.bytes.set(data, DATA_OFFSET);
    k.xtsTweaks(SEED_OFFSET, TWEAK_OFFSET, Math.ceil(n / XTS_CHAINS), unitSize, DATA_OFFSET - TWEAK_OFFSET);
    k.bytes.set(k1.update(k.buffer.subarray(DATA_OFFSET, DATA_OFFSET + len)), DATA_OFFSET);
    k.xor(DATA_OFFSET, TWEAK_OFFSET, len);
    out.set(k.bytes.subarray(DATA_OFFSET, DATA_OFFSET + len), outOffset);
  }
}

function checkBuffers(data: Uint8Array, out: Uint8Array | undefined, expected: number, what: string): void {
  if (!(data instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (data.length !== expected) throw new RangeError(`${what}: expected ${expected} bytes, got ${data.length}`);
  if (out !== undefined && (!(out instanceof Uint8Array) || out.length !== expected)) {
    throw new RangeError(`output buffer must be ${expected} bytes`);
  }
}
