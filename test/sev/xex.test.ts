import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../host/page";
import { XexAes } from "../../host/sev/xex";

/** The SEVurity-style XEX computed block by block, straight from its definition, with plain ECB. */
function referenceXex(key: Uint8Array, frame: number, page: Uint8Array): Uint8Array {
  const ecb = (k: Uint8Array, block: Uint8Array) =>
    new Uint8Array(createCipheriv("aes-128-ecb", k, null).setAutoPadding(false).update(block));
  const constant = (bit: number) => {
    const input = new Uint8Array(16);
    input[0] = bit;
    return ecb(key.subarray(16), input);
  };
  const out = new Uint8Array(PAGE_SIZE);
  for (let j = 0; j < PAGE_SIZE / 16; j++) {
    const address = BigInt(frame) * 4096n + BigInt(j * 16);
    const t = new Uint8Array(16);
    for (let bit = 4; bit <= 51; bit++) {
      if ((address >> BigInt(bit)) & 1n) {
        const c = constant(bit);
        for (let i = 0; i < 16; i++) t[i]! ^= c[i]!;
      }
    }
    const x = page.slice(j * 16, j * 16 + 16).map((b, i) => b ^ t[i]!);
    const y = ecb(key.subarray(0, 16), x).map((b, i) => b ^ t[i]!);
    out.set(y, j * 16);
  }
  return out;
}

describe("XexAes (Zen 1 style, linear XOR tweak)", () => {
  it("matches the definition C = E_K(P xor T(pa)) xor T(pa), page by page", () => {
    const key = new Uint8Array(randomBytes(32));
    const x = new XexAes(key);
    const frames = [0, 1, 0x1234, 2 ** 33 + 5, 2 ** 40 - 1];
    const data = new Uint8Array(randomBytes(frames.length * PAGE_SIZE));
    const ct = x.encryptPages(frames, data);
    frames.forEach((f, i) => {
      const ref = referenceXex(key, f, data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
      expect(Buffer.compare(ct.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), ref)).toBe(0);
    });
    expect(Buffer.compare(x.decryptPages(frames, ct), data)).toBe(0);
  });

  it("has the linear tweak SEVurity exploits: T(a xor b) = T(a) xor T(b)", () => {
    const x = new XexAes(new Uint8Array(randomBytes(32)));
    const a = 0x1234_5670n;
    const b = 0x0000_8a30n;
    const ta = x.tweak(a);
    const tb = x.tweak(b);
    const tab = x.tweak(a ^ b);
    expect(Buffer.from(tab).toString("hex")).toBe(Buffer.from(ta.map((v, i) => v ^ tb[i]!)).toString("hex"));
    expect(Buffer.from(x.tweak(0n)).toString("hex")).toBe("00".repeat(16));
  });

  it("refuses a key of the wrong size", () => {
    expect(() => new XexAes(new Uint8Array(16))).toThrow(/XEX key must be 32 bytes/);
  });
});
