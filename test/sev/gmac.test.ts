// AES-GMAC as the CPU computes it (host/sev/gmac.ts) against NIST's GCM test vectors, and the
// engine's fused page calls: one decryption with its MAC check, one encryption with its MAC, in
// both the XTS and the XEX mode of the memory encryption engine.
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Gmac } from "../../host/sev/gmac";
import { MemoryEncryptionEngine } from "../../host/sev/mee";
import { PAGE_SIZE } from "../../host/page";

const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

describe("Gmac", () => {
  it("matches NIST SP 800-38D test vectors (gcmEncryptExtIV128 and 256, no plaintext)", () => {
    const tag = new Uint8Array(16);
    new Gmac(hex("77be63708971c4e240d1cb79e8d77feb")).tag(hex("e0e00f19fed7ba0136a797f3"), hex("7a43ec1d9c0a5a78a0b16533a6213cab"), tag);
    expect(Buffer.from(tag).toString("hex")).toBe("209fcc8d3675ed938e9c7166709dd946");
    new Gmac(new Uint8Array(32)).tag(new Uint8Array(12), new Uint8Array(0), tag);
    expect(Buffer.from(tag).toString("hex")).toBe("530f8afbc74536b9a963b4f1c4cb738b");
  });

  it("agrees with node:crypto's GCM over a whole page", () => {
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(12));
    const page = new Uint8Array(randomBytes(PAGE_SIZE));
    const tag = new Uint8Array(16);
    new Gmac(key).tag(iv, page, tag);
    const ref = createCipheriv("aes-256-gcm", key, iv);
    ref.setAAD(page);
    ref.final();
    expect(Buffer.compare(tag, ref.getAuthTag())).toBe(0);
  });

  it("refuses keys, IVs and tags of the wrong size", () => {
    expect(() => new Gmac(new Uint8Array(24))).toThrow(/16 or 32 bytes/);
    const g = new Gmac(new Uint8Array(16));
    expect(() => g.tag(new Uint8Array(8), new Uint8Array(4), new Uint8Array(16))).toThrow(/iv must be 12 bytes/);
    expect(() => g.tag(new Uint8Array(12), new Uint8Array(4), new Uint8Array(8))).toThrow(/tag must be 16 bytes/);
  });
});

describe.each(["xts", "xex"] as const)("the engine's fused page calls (%s)", (mode) => {
  const mee = new MemoryEncryptionEngine({ mode });
  mee.installKey(7, new Uint8Array(randomBytes(32)));
  const gmac = new Gmac(new Uint8Array(randomBytes(32)));
  const page = new Uint8Array(randomBytes(PAGE_SIZE));

  it("encrypts with the MAC of the plaintext, and decrypts only what the MAC vouches for", () => {
    const iv = new Uint8Array(12).fill(3);
    const made = { gmac, iv, tag: new Uint8Array(16) };
    const frame = new Uint8Array(PAGE_SIZE);
    mee.encryptMacPage(7, 0x1234, page, frame, made);
    expect(Buffer.compare(frame, mee.encryptPage(7, 0x1234, page))).toBe(0);
    const expected = new Uint8Array(16);
    gmac.tag(iv, page, expected);
    expect(Buffer.compare(made.tag, expected)).toBe(0);

    const back = new Uint8Array(PAGE_SIZE);
    expect(mee.decryptVerifyPage(7, 0x1234, frame, back, { gmac, iv, tag: made.tag })).toBe(true);
    expect(Buffer.compare(back, page)).toBe(0);
    // Another frame (its tweak), another IV, or another tag: refused, and nothing of the page left behind.
    for (const [spa, v, t] of [[0x1235, iv, made.tag], [0x1234, new Uint8Array(12), made.tag], [0x1234, iv, new Uint8Array(16)]] as const) {
      back.fill(0xaa);
      expect(mee.decryptVerifyPage(7, spa, frame, back, { gmac, iv: v, tag: t })).toBe(false);
      expect(back.every((b) => b === 0)).toBe(true);
    }
  });
});

describe.each(["xts", "xex"] as const)("the engine's batched page calls (%s)", (mode) => {
  const mee = new MemoryEncryptionEngine({ mode });
  mee.installKey(9, new Uint8Array(randomBytes(32)));
  const gmac = new Gmac(new Uint8Array(randomBytes(32)));
  const N = 5;
  const spas = [0x40, 0x41, 0x99, 0x7, 0x1000];
  const pages = Array.from({ length: N }, () => new Uint8Array(randomBytes(PAGE_SIZE)));
  const ivs = new Uint8Array(randomBytes(12 * N));
  const ivOf = (i: number) => ivs.subarray(12 * i, 12 * i + 12);

  it("makes what the one-page calls make, and checks what they check", () => {
    const frames = pages.map(() => new Uint8Array(PAGE_SIZE));
    const tags = new Uint8Array(16 * N);
    mee.encryptMacPages(9, spas, pages, frames, { gmac, ivs, tags });
    for (let i = 0; i < N; i++) {
      const one = { gmac, iv: ivOf(i), tag: new Uint8Array(16) };
      const frame = new Uint8Array(PAGE_SIZE);
      mee.encryptMacPage(9, spas[i]!, pages[i]!, frame, one);
      expect(Buffer.compare(frames[i]!, frame), `page ${i}`).toBe(0);
      expect(Buffer.compare(tags.subarray(16 * i, 16 * i + 16), one.tag), `tag ${i}`).toBe(0);
    }
    const outs = pages.map(() => new Uint8Array(PAGE_SIZE));
    expect(mee.decryptVerifyPages(9, spas, frames, outs, { gmac, ivs, tags })).toBe(-1);
    for (let i = 0; i < N; i++) expect(Buffer.compare(outs[i]!, pages[i]!), `page ${i}`).toBe(0);

    // One page's ciphertext changed: its index comes back, and no target keeps a byte.
    frames[3]![100]! ^= 1;
    for (const o of outs) o.fill(0xaa);
    expect(mee.decryptVerifyPages(9, spas, frames, outs, { gmac, ivs, tags })).toBe(3);
    expect(outs.every((o) => o.every((b) => b === 0))).toBe(true);

    // Without MACs: the same ciphertext as the batched contiguous call, and back.
    const apart = pages.map(() => new Uint8Array(PAGE_SIZE));
    mee.encryptPagesApart(9, spas, pages, apart);
    const joined = mee.encryptPages(9, spas, new Uint8Array(Buffer.concat(pages)));
    for (let i = 0; i < N; i++) expect(Buffer.compare(apart[i]!, joined.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE))).toBe(0);
    mee.decryptPagesApart(9, spas, apart, apart);
    for (let i = 0; i < N; i++) expect(Buffer.compare(apart[i]!, pages[i]!)).toBe(0);
  });

  it("refuses a batch whose sources, targets, IVs or tags do not match its pages, before any output changes", () => {
    const frames = pages.map(() => new Uint8Array(PAGE_SIZE));
    const tags = new Uint8Array(16 * N);
    expect(() => mee.encryptMacPages(9, spas, pages.slice(1), frames, { gmac, ivs, tags })).toThrow(/needs as many sources and targets|page/);
    expect(() => mee.encryptMacPages(9, spas, pages, [...frames.slice(1), new Uint8Array(100)], { gmac, ivs, tags })).toThrow(/4096|page/);
    if (mode === "xts") {
      expect(() => mee.encryptMacPages(9, spas, pages, frames, { gmac, ivs: ivs.subarray(12), tags })).toThrow(/ivs must be 60 bytes/);
      expect(() => mee.decryptVerifyPages(9, spas, frames, frames, { gmac, ivs, tags: tags.subarray(1) })).toThrow(/tags must be 80 bytes/);
    }
    expect(frames.every((f) => f.every((b) => b === 0))).toBe(true);
  });
});
