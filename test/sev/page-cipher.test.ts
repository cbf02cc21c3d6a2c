import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KIND_ECB, KIND_GMAC, KIND_XTS, pageCipher } from "../../host/sev/page-cipher";
import type { CipherKeyHandle } from "../../host/sev/page-cipher";

// The addon checks its own arguments: a wrong call is a JS exception, never a bad memory access.
describe("native page cipher: argument checks", () => {
  const xtsKey = pageCipher.open(KIND_XTS, randomBytes(32));
  const ecbKey = pageCipher.open(KIND_ECB, randomBytes(16));
  const page = new Uint8Array(4096);
  const tweak = new Uint8Array(16);

  it("refuses unknown kinds and keys of the wrong size", () => {
    expect(() => pageCipher.open(3 as typeof KIND_XTS, randomBytes(32))).toThrow(/kind 0 \(XTS\), 1 \(ECB\) or 2 \(GMAC\)/);
    expect(() => pageCipher.open(KIND_GMAC, randomBytes(24))).toThrow(/GMAC key is 16 or 32 bytes/);
    expect(() => pageCipher.open(KIND_XTS, randomBytes(48))).toThrow(/XTS key is 32 or 64 bytes/);
    expect(() => pageCipher.open(KIND_ECB, randomBytes(32))).toThrow(/ECB key is 16 bytes/);
    expect(() => pageCipher.open(KIND_XTS, "key" as unknown as Uint8Array)).toThrow(/key must be a Uint8Array/);
  });

  it("reports OpenSSL's refusal of equal XTS halves by its reason, without key bytes", () => {
    expect(() => pageCipher.open(KIND_XTS, new Uint8Array(32).fill(0xab))).toThrow(/setting the key failed \(OpenSSL: xts duplicated keys\)$/);
  });

  it("takes only its own handles, of the right kind", () => {
    expect(() => pageCipher.xts({} as CipherKeyHandle, false, tweak, page, page, 4096)).toThrow(/not a key handle/);
    expect(() => pageCipher.xts(ecbKey, false, tweak, page, page, 4096)).toThrow(/not a key handle/);
    expect(() => pageCipher.xex(xtsKey, false, tweak, page, page, page)).toThrow(/not a key handle/);
  });

  it("refuses sizes that do not fit, before touching the output", () => {
    const out = new Uint8Array(4096).fill(1);
    expect(() => pageCipher.xts(xtsKey, false, tweak, page, out, 4095)).toThrow(/multiple of 16/);
    expect(() => pageCipher.xts(xtsKey, false, tweak, page, out.subarray(16), 4096)).toThrow(/same whole number of units/);
    expect(() => pageCipher.xts(xtsKey, false, new Uint8Array(32), page, out, 4096)).toThrow(/16 tweak bytes per unit/);
    expect(() => pageCipher.xts(xtsKey, false, tweak, new Uint16Array(2048) as unknown as Uint8Array, out, 4096)).toThrow(/data must be a Uint8Array/);
    expect(() => pageCipher.xex(ecbKey, false, tweak, new Uint8Array(8192), page, out)).toThrow(/16 to 4096/);
    expect(() => pageCipher.xex(ecbKey, false, new Uint8Array(32), page, page, out)).toThrow(/16 seed bytes per page/);
    expect(out.every((b) => b === 1)).toBe(true);
  });

  it("xex with an all-zero table and seeds is plain ECB", () => {
    const key = randomBytes(16);
    const data = randomBytes(2 * 4096);
    const out = new Uint8Array(data.length);
    pageCipher.xex(pageCipher.open(KIND_ECB, key), false, new Uint8Array(32), new Uint8Array(4096), data, out);
    const ref = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false).update(data);
    expect(Buffer.from(out).equals(ref)).toBe(true);
  });
});
