// The native page cipher (native/page-cipher/page_cipher.c): batched AES-XTS and XEX on the
// OpenSSL that Node itself links, one EVP context per key and direction for the key's lifetime.
// Built by `npm install` (scripts/build-native.mjs); the .node file is never committed.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { SevError } from "./sev-error";

const ADDON_PATH = fileURLToPath(new URL("../../native/page-cipher/build/Release/page_cipher.node", import.meta.url));

declare const keyHandle: unique symbol;
/** Key schedules held by the addon (an opaque external): freed when the handle is collected. */
export type CipherKeyHandle = { readonly [keyHandle]: true };

export const KIND_XTS = 0;
export const KIND_ECB = 1;
export const KIND_GMAC = 2;

export interface PageCipher {
  /** AES-XTS with key = Key1 || Key2 (32 or 64 bytes), AES-128-ECB with a 16-byte key, or AES-GMAC with a 16- or 32-byte key. */
  open(kind: typeof KIND_XTS | typeof KIND_ECB | typeof KIND_GMAC, key: Uint8Array): CipherKeyHandle;
  /** XTS over data units of `unit` bytes, unit i with tweak tweaks[16i..16i+16); out may be data. */
  xts(key: CipherKeyHandle, decrypt: boolean, tweaks: Uint8Array, data: Uint8Array, out: Uint8Array, unit: number): void;
  /** XEX over pages of table.length bytes: T(page i, block j) = table[j] xor seeds[i]; out may be data. */
  xex(key: CipherKeyHandle, decrypt: boolean, seeds: Uint8Array, table: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  /** tag (16 bytes) = GMAC_K(iv (12 bytes), data). */
  gmac(key: CipherKeyHandle, iv: Uint8Array, data: Uint8Array, tag: Uint8Array): void;
  /** dst = XTS-decrypt(src) under `tweak`; true if GMAC(iv, dst) = tag, else dst is zeroed and false. */
  xtsVerify(xts: CipherKeyHandle, tweak: Uint8Array, src: Uint8Array, dst: Uint8Array, gmac: CipherKeyHandle, iv: Uint8Array, tag: Uint8Array): boolean;
  /** tag = GMAC(iv, src); dst = XTS-encrypt(src) under `tweak`. */
  xtsMac(xts: CipherKeyHandle, tweak: Uint8Array, src: Uint8Array, dst: Uint8Array, gmac: CipherKeyHandle, iv: Uint8Array, tag: Uint8Array): void;
  /**
   * xtsVerify of each page i: 16 tweak, 12 IV and 16 tag bytes per page, packed. Returns the index
   * of the first page whose MAC fails (every dst is then zeroed), or -1.
   */
  xtsVerifyMany(xts: CipherKeyHandle, tweaks: Uint8Array, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[], gmac: CipherKeyHandle, ivs: Uint8Array, tags: Uint8Array): number;
  /** XTS of each unit srcs[i] into dsts[i] (the same view, or apart) under tweaks[16i..16i+16). */
  xtsMany(xts: CipherKeyHandle, decrypt: boolean, tweaks: Uint8Array, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[]): void;
  /** xtsMac of each page i, its tag into tags[16i..16i+16). */
  xtsMacMany(xts: CipherKeyHandle, tweaks: Uint8Array, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[], gmac: CipherKeyHandle, ivs: Uint8Array, tags: Uint8Array): void;
}

function load(): PageCipher {
  if (!existsSync(ADDON_PATH)) {
    throw new SevError(`the native page cipher is not built (${ADDON_PATH} is missing): run 'npm install' or 'node scripts/build-native.mjs'`);
  }
  return createRequire(import.meta.url)(ADDON_PATH) as PageCipher;
}

export const pageCipher: PageCipher = load();

/**
 * Checks a cipher call's buffers before any output changes: `data` must be `expected` bytes, and
 * `out`, when given, as long. (The addon checks again; these errors name the caller's view.)
 */
export function checkBuffers(data: Uint8Array, out: Uint8Array | undefined, expected: number, what: string): void {
  if (!(data instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (data.length !== expected) throw new RangeError(`${what}: expected ${expected} bytes, got ${data.length}`);
  if (out !== undefined && (!(out instanceof Uint8Array) || out.length !== expected)) {
    throw new RangeError(`output buffer must be ${expected} bytes`);
  }
}
