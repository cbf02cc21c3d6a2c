// AES-GMAC (NIST SP 800-38D: GCM with the data as additional data and no plaintext), as a guest's
// CPU computes it with AES-NI and carry-less multiplication: the MAC Enclavisor keeps per page
// (host/enclavisor/counter-tree.ts). The memory controller can run it in the same call as its
// decryption or encryption of the page (memory-controller.ts, guestReadPageVerified). The key lives
// in the native addon; no method returns it.
import { KIND_GMAC, pageCipher } from "./page-cipher";
import type { CipherKeyHandle } from "./page-cipher";

export const GMAC_IV_BYTES = 12;
export const GMAC_TAG_BYTES = 16;

const handles = new WeakMap<Gmac, CipherKeyHandle>();

export class Gmac {
  /** `key`: 16 bytes for AES-128-GMAC, 32 for AES-256-GMAC. */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 32)) throw new RangeError("a GMAC key is 16 or 32 bytes");
    handles.set(this, pageCipher.open(KIND_GMAC, key));
  }

  /** Writes GMAC(iv, data) into `tag`. */
  tag(iv: Uint8Array, data: Uint8Array, tag: Uint8Array): void {
    pageCipher.gmac(gmacHandle(this), iv, data, tag);
  }
}

/** The addon's key of a Gmac, for the engine's fused calls (xts.ts). */
export function gmacHandle(g: Gmac): CipherKeyHandle {
  const h = handles.get(g);
  if (!h) throw new TypeError("not a Gmac");
  return h;
}

/** A page's MAC to check or to make: the key, the 12-byte IV, and the 16-byte tag (read, or written). */
export interface PageMac {
  readonly gmac: Gmac;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
}

/** The MACs of a batch of pages, page i's 12 IV and 16 tag bytes at 12i and 16i: to check, or written. */
export interface PageMacBatch {
  readonly gmac: Gmac;
  readonly ivs: Uint8Array;
  readonly tags: Uint8Array;
}
