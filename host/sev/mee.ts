// Memory encryption engine: the AES engine in the memory controller, one key slot per ASID
// (AMD APM vol 2, 15.34 "Secure Encrypted Virtualization"). Keys are installed only by the
// secure processor (ACTIVATE) and kept in private fields: no method returns them, and the
// hypervisor is never given this object (hypervisor.ts).
import { timingSafeEqual } from "node:crypto";
import { GMAC_TAG_BYTES } from "./gmac";
import type { PageMac, PageMacBatch } from "./gmac";
import { checkPage, checkPageBatch, checkPages, checkFrame } from "./page";
import { XexAes } from "./xex";
import { XtsAes } from "./xts";
import { SevError } from "./sev-error";

export type MeeMode = "xts" | "xex";

/** Bytes of a key slot: AES-128-XTS takes two AES-128 keys; XEX its data key and tweak key. */
export const MEE_KEY_BYTES = 32;

export class MeeError extends SevError {
  override readonly name = "MeeError";
}

export class MemoryEncryptionEngine {
  readonly mode: MeeMode;
  readonly #slots = new Map<number, XtsAes | XexAes>();

  constructor(opts: { mode?: MeeMode } = {}) {
    const mode = opts.mode ?? "xts";
    if (mode !== "xts" && mode !== "xex") throw new RangeError(`memory encryption mode must be "xts" or "xex", got ${String(mode)}`);
    this.mode = mode;
  }

  /** Called by the secure processor only. The engine keeps cipher state, not the caller's buffer. */
  installKey(asid: number, key: Uint8Array): void {
    checkAsid(asid);
    if (!(key instanceof Uint8Array) || key.length !== MEE_KEY_BYTES) {
      throw new RangeError(`memory encryption key must be ${MEE_KEY_BYTES} bytes`);
    }
    this.#slots.set(asid, this.mode === "xts" ? new XtsAes(key) : new XexAes(key));
  }

  clearKey(asid: number): void {
    this.#slots.delete(asid);
  }

  hasKey(asid: number): boolean {
    return this.#slots.has(asid);
  }

  /** Throws the MeeError of an empty slot, so that callers can fail before touching buffers. */
  requireKey(asid: number): void {
    this.#slot(asid);
  }

  /** One page; into `out` (4 KiB, may be `plaintext`) when given, else a new array. */
  encryptPage(asid: number, spa: number, plaintext: Uint8Array, out?: Uint8Array): Uint8Array {
    checkPage(plaintext, "plaintext");
    checkFrame(spa, "SPA");
    return this.#slot(asid).encryptPages([spa], plaintext, out);
  }

  decryptPage(asid: number, spa: number, ciphertext: Uint8Array, out?: Uint8Array): Uint8Array {
    checkPage(ciphertext, "ciphertext");
    checkFrame(spa, "SPA");
    return this.#slot(asid).decryptPages([spa], ciphertext, out);
  }

  /** Batched: page i of `data` lives at frame spas[i]; one native cipher call; `out` may be `data`. */
  encryptPages(asid: number, spas: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    checkPages(data, spas.length, "plaintext");
    return this.#slot(asid).encryptPages(spas, data, out);
  }

  decryptPages(asid: number, spas: ArrayLike<number>, data: Uint8Array, out?: Uint8Array): Uint8Array {
    checkPages(data, spas.length, "ciphertext");
    return this.#slot(asid).decryptPages(spas, data, out);
  }

  /**
   * One page of frame `spa` decrypted from `src` into `dst`, and its MAC checked (one native call in
   * XTS mode): false, with `dst` zeroed, when the MAC does not match.
   */
  decryptVerifyPage(asid: number, spa: number, src: Uint8Array, dst: Uint8Array, mac: PageMac): boolean {
    const slot = this.#slot(asid);
    if (slot instanceof XtsAes) return slot.decryptVerifyPage(spa, src, dst, mac);
    slot.decryptPages([spa], src, dst);
    const tag = new Uint8Array(GMAC_TAG_BYTES);
    mac.gmac.tag(mac.iv, dst, tag);
    if (timingSafeEqual(tag, mac.tag)) return true;
    dst.fill(0);
    return false;
  }

  /** The MAC of page `src` into mac.tag, and the page encrypted for frame `spa` into `dst` (one native call in XTS mode). */
  encryptMacPage(asid: number, spa: number, src: Uint8Array, dst: Uint8Array, mac: PageMac): void {
    const slot = this.#slot(asid);
    if (slot instanceof XtsAes) return slot.encryptMacPage(spa, src, dst, mac);
    mac.gmac.tag(mac.iv, src, mac.tag);
    slot.encryptPages([spa], src, dst);
  }

  /**
   * Batched decryptVerifyPage: page i of frame spas[i] from srcs[i] into dsts[i] (one native call
   * in XTS mode). Returns the index of the first page whose MAC fails, every dst then zeroed, or -1.
   */
  decryptVerifyPages(asid: number, spas: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[], macs: PageMacBatch): number {
    const slot = this.#slot(asid);
    if (slot instanceof XtsAes) return slot.decryptVerifyPages(spas, srcs, dsts, macs);
    checkPageBatch(spas, srcs, dsts); // XtsAes checks its own
    for (let i = 0; i < spas.length; i++) {
      const mac = { gmac: macs.gmac, iv: macs.ivs.subarray(12 * i, 12 * i + 12), tag: macs.tags.subarray(16 * i, 16 * i + 16) };
      if (!this.decryptVerifyPage(asid, spas[i]!, srcs[i]!, dsts[i]!, mac)) {
        for (const d of dsts) d.fill(0);
        return i;
      }
    }
    return -1;
  }

  /** Batched encryptMacPage: page i's MAC into macs.tags, its ciphertext into dsts[i] (one native call in XTS mode). */
  encryptMacPages(asid: number, spas: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[], macs: PageMacBatch): void {
    const slot = this.#slot(asid);
    if (slot instanceof XtsAes) return slot.encryptMacPages(spas, srcs, dsts, macs);
    checkPageBatch(spas, srcs, dsts); // XtsAes checks its own
    for (let i = 0; i < spas.length; i++) {
      this.encryptMacPage(asid, spas[i]!, srcs[i]!, dsts[i]!, { gmac: macs.gmac, iv: macs.ivs.subarray(12 * i, 12 * i + 12), tag: macs.tags.subarray(16 * i, 16 * i + 16) });
    }
  }

  /** Pages of frames spas[i] from srcs[i] into dsts[i], each the same view or apart (one native call in XTS mode). */
  decryptPagesApart(asid: number, spas: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[]): void {
    const slot = this.#slot(asid);
    if (slot instanceof XtsAes) return slot.decryptPagesApart(spas, srcs, dsts);
    checkPageBatch(spas, srcs, dsts); // XtsAes checks its own
    for (let i = 0; i < spas.length; i++) slot.decryptPages([spas[i]!], srcs[i]!, dsts[i]!);
  }

  encryptPagesApart(asid: number, spas: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[]): void {
    const slot = this.#slot(asid);
    if (slot instanceof XtsAes) return slot.encryptPagesApart(spas, srcs, dsts);
    checkPageBatch(spas, srcs, dsts); // XtsAes checks its own
    for (let i = 0; i < spas.length; i++) slot.encryptPages([spas[i]!], srcs[i]!, dsts[i]!);
  }

  #slot(asid: number): XtsAes | XexAes {
    const slot = this.#slots.get(asid);
    if (!slot) {
      checkAsid(asid);
      throw new MeeError(`no memory encryption key is installed for ASID ${asid}`);
    }
    return slot;
  }
}

function checkAsid(asid: number): void {
  if (!Number.isInteger(asid) || asid < 1 || asid > 0xffff) {
    throw new RangeError(`ASID must be an integer in 1..65535, got ${String(asid)}`);
  }
}
