// AES-XTS (IEEE 1619-2007 / NIST SP 800-38E) over whole data units, batched: the memory
// encryption engine's default mode, one 4 KiB data unit per page, tweak = SPA frame number.
//
// node:crypto's own 'aes-128-xts' needs a new cipher object per data unit (5-7 µs per page), so
// the work runs in the native page cipher (page-cipher.ts): OpenSSL's XTS on contexts that live
// as long as the key, a whole batch per call, into the caller's buffer.
import { timingSafeEqual } from "node:crypto";
import { checkFrame, checkPageBatch } from "./page";
import { PAGE_SIZE } from "../page";
import { gmacHandle } from "./gmac";
import type { PageMac, PageMacBatch } from "./gmac";
import { checkBuffers, KIND_XTS, pageCipher } from "./page-cipher";
import type { CipherKeyHandle } from "./page-cipher";

/** Largest data unit: 2^20 blocks (IEEE 1619-2018, 5.1; OpenSSL enforces it). */
const MAX_UNIT = 16 * 2 ** 20;

/** Writes data unit `frame`'s tweak, its number as a 16-byte little-endian integer (IEEE 1619, 5.1). */
function setTweak(view: DataView, offset: number, frame: number): void {
  view.setUint32(offset, frame >>> 0, true);
  view.setUint32(offset + 4, Math.floor(frame / 2 ** 32), true);
  view.setUint32(offset + 8, 0, true);
  view.setUint32(offset + 12, 0, true);
}

/** Tweak input of data unit `frame`: its number as a 16-byte little-endian integer (IEEE 1619, 5.1). */
export function frameTweak(frame: number, out = new Uint8Array(16), offset = 0): Uint8Array {
  checkFrame(frame);
  setTweak(new DataView(out.buffer, out.byteOffset, out.byteLength), offset, frame);
  return out;
}

/** Scratch for the tweaks of one call's pages, grown on demand (calls are synchronous). */
let tweakBytes = new Uint8Array(16 * 64);
let tweakView = new DataView(tweakBytes.buffer);

function pageTweaks(frames: ArrayLike<number>): Uint8Array {
  const count = frames.length;
  if (tweakBytes.length < 16 * count) {
    tweakBytes = new Uint8Array(16 * count);
    tweakView = new DataView(tweakBytes.buffer);
  }
  for (let i = 0; i < count; i++) setTweak(tweakView, 16 * i, frames[i]!);
  return tweakBytes.subarray(0, 16 * count);
}

export class XtsAes {
  readonly #key: CipherKeyHandle;

  /**
   * `key` = Key1 || Key2: 32 bytes for XTS-AES-128, 64 for XTS-AES-256 (IEEE 1619, 5.1). The two
   * halves must differ: SP 800-38E requires it and OpenSSL 3 refuses such keys for encryption.
   */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || (key.length !== 32 && key.length !== 64)) {
      throw new RangeError(`XTS-AES key must be 32 or 64 bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
    }
    const half = key.length / 2;
    if (timingSafeEqual(key.subarray(0, half), key.subarray(half))) {
      throw new RangeError("XTS-AES key halves (Key1 and Key2) must differ (NIST SP 800-38E; OpenSSL refuses equal halves)");
    }
    this.#key = pageCipher.open(KIND_XTS, key);
  }

  /** Encrypts consecutive data units of `unitSize` bytes; `tweaks` holds 16 bytes per unit. */
  encryptUnits(tweaks: Uint8Array, data: Uint8Array, unitSize: number, out?: Uint8Array): Uint8Array {
    return this.#units(tweaks, data, unitSize, out, false);
  }

  decryptUnits(tweaks: Uint8Array, data: Uint8Array, unitSize: number, out?: Uint8Array): Uint8Array {
    return this.#units(tweaks, data, unitSize, out, true);
  }

  /** Encrypts pages (4 KiB units) whose tweaks are their frame numbers; `out` may be `data`. */
  encryptPages(frames: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.#pages(frames, data, out, false);
  }

  decryptPages(frames: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.#pages(frames, data, out, true);
  }

  /** Decrypts one page of frame `frame` from `src` into `dst` and checks its MAC: false (dst zeroed) when it fails. */
  decryptVerifyPage(frame: number, src: Uint8Array, dst: Uint8Array, mac: PageMac): boolean {
    checkBuffers(src, dst, PAGE_SIZE, "page");
    checkFrame(frame);
    return pageCipher.xtsVerify(this.#key, pageTweaks([frame]), src, dst, gmacHandle(mac.gmac), mac.iv, mac.tag);
  }

  /** Writes the MAC of page `src` into mac.tag and encrypts it for frame `frame` into `dst`. */
  encryptMacPage(frame: number, src: Uint8Array, dst: Uint8Array, mac: PageMac): void {
    checkBuffers(src, dst, PAGE_SIZE, "page");
    checkFrame(frame);
    pageCipher.xtsMac(this.#key, pageTweaks([frame]), src, dst, gmacHandle(mac.gmac), mac.iv, mac.tag);
  }

  /**
   * decryptVerifyPage of page i (frame frames[i]) from srcs[i] into dsts[i], in one native call:
   * the index of the first page whose MAC fails (every dst is then zeroed), or -1.
   */
  decryptVerifyPages(frames: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[], macs: PageMacBatch): number {
    checkPageBatch(frames, srcs, dsts);
    return pageCipher.xtsVerifyMany(this.#key, pageTweaks(frames), srcs, dsts, gmacHandle(macs.gmac), macs.ivs, macs.tags);
  }

  /** encryptMacPage of page i from srcs[i] into dsts[i], its MAC into macs.tags, in one native call. */
  encryptMacPages(frames: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[], macs: PageMacBatch): void {
    checkPageBatch(frames, srcs, dsts);
    pageCipher.xtsMacMany(this.#key, pageTweaks(frames), srcs, dsts, gmacHandle(macs.gmac), macs.ivs, macs.tags);
  }

  /** Pages i from srcs[i] into dsts[i] (each the same view or apart), in one native call. */
  decryptPagesApart(frames: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[]): void {
    checkPageBatch(frames, srcs, dsts);
    pageCipher.xtsMany(this.#key, true, pageTweaks(frames), srcs, dsts);
  }

  encryptPagesApart(frames: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[]): void {
    checkPageBatch(frames, srcs, dsts);
    pageCipher.xtsMany(this.#key, false, pageTweaks(frames), srcs, dsts);
  }

  #pages(frames: ArrayLike<number>, data: Uint8Array, out: Uint8Array | undefined, decrypt: boolean): Uint8Array {
    const count = frames.length;
    checkBuffers(data, out, count * PAGE_SIZE, "pages");
    for (let i = 0; i < count; i++) checkFrame(frames[i]!); // all of them before any output changes
    const result = out ?? new Uint8Array(data.length);
    pageCipher.xts(this.#key, decrypt, pageTweaks(frames), data, result, PAGE_SIZE);
    return result;
  }

  #units(tweaks: Uint8Array, data: Uint8Array, unitSize: number, out: Uint8Array | undefined, decrypt: boolean): Uint8Array {
    if (!Number.isInteger(unitSize) || unitSize < 16 || unitSize > MAX_UNIT || unitSize % 16 !== 0) {
      throw new RangeError(`XTS data unit must be a multiple of 16 bytes in 16..${MAX_UNIT}, got ${unitSize}`);
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
    pageCipher.xts(this.#key, decrypt, tweaks, data, result, unitSize);
    return result;
  }
}
