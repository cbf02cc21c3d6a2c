import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryEncryptionEngine, MeeError } from "../../host/sev/mee";
import { PAGE_SIZE } from "../../host/page";
import { patternPage, same } from "./fixtures/machine";

for (const mode of ["xts", "xex"] as const) {
  describe(`MemoryEncryptionEngine (${mode})`, () => {
    const key = () => new Uint8Array(randomBytes(32));

    it("is deterministic per (key, SPA): same plaintext at one SPA gives the same ciphertext", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      mee.installKey(1, key());
      const p = patternPage(1);
      const c1 = mee.encryptPage(1, 0x500, p);
      const c2 = mee.encryptPage(1, 0x500, p.slice());
      expect(same(c1, c2)).toBe(true);
      expect(same(c1, p)).toBe(false);
      expect(same(mee.decryptPage(1, 0x500, c1), p)).toBe(true);
    });

    it("tweaks by SPA: the same plaintext at two SPAs gives different ciphertexts", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      mee.installKey(1, key());
      const p = patternPage(2);
      expect(same(mee.encryptPage(1, 0x500, p), mee.encryptPage(1, 0x501, p))).toBe(false);
      // Ciphertext moved to another frame does not decrypt to the plaintext there.
      expect(same(mee.decryptPage(1, 0x501, mee.encryptPage(1, 0x500, p)), p)).toBe(false);
    });

    it("keeps one key per ASID: another ASID's key does not decrypt", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      mee.installKey(1, key());
      mee.installKey(2, key());
      const p = patternPage(3);
      const c = mee.encryptPage(1, 0x500, p);
      expect(same(mee.encryptPage(2, 0x500, p), c)).toBe(false);
      expect(same(mee.decryptPage(2, 0x500, c), p)).toBe(false);
    });

    it("batched pages equal single pages", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      mee.installKey(7, key());
      const spas = Array.from({ length: 40 }, (_, i) => 0x1000 + i * 3);
      const data = new Uint8Array(spas.length * PAGE_SIZE);
      spas.forEach((_, i) => data.set(patternPage(i), i * PAGE_SIZE));
      const batch = mee.encryptPages(7, spas, data);
      spas.forEach((spa, i) => {
        expect(same(batch.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), mee.encryptPage(7, spa, patternPage(i)))).toBe(true);
      });
      expect(same(mee.decryptPages(7, spas, batch), data)).toBe(true);
    });

    it("encrypts and decrypts one page into a caller's buffer, or in place", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      mee.installKey(2, key());
      const out = new Uint8Array(PAGE_SIZE).fill(0xee);
      expect(mee.encryptPage(2, 0x900, patternPage(4), out)).toBe(out);
      expect(same(out, mee.encryptPage(2, 0x900, patternPage(4)))).toBe(true);
      const page = new Uint8Array(PAGE_SIZE);
      expect(mee.decryptPage(2, 0x900, out, page)).toBe(page);
      expect(same(page, patternPage(4))).toBe(true);
      mee.encryptPage(2, 0x900, page, page);
      expect(same(page, out)).toBe(true);
      expect(() => mee.decryptPage(2, 0x900, out, new Uint8Array(16))).toThrow(/output buffer must be 4096 bytes/);
    });

    it("clearKey empties the slot; using an empty slot is a clear error without key material", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      const k = key();
      mee.installKey(3, k);
      expect(mee.hasKey(3)).toBe(true);
      mee.clearKey(3);
      expect(mee.hasKey(3)).toBe(false);
      let err: Error | undefined;
      try {
        mee.encryptPage(3, 1, patternPage(0));
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(MeeError);
      expect(err!.message).toBe("no memory encryption key is installed for ASID 3");
      expect(err!.message).not.toContain(Buffer.from(k).toString("hex").slice(0, 8));
    });

    it("refuses bad ASIDs, keys and page sizes", () => {
      const mee = new MemoryEncryptionEngine({ mode });
      expect(() => mee.installKey(0, key())).toThrow(/ASID must be an integer in 1..65535/);
      expect(() => mee.installKey(1, new Uint8Array(16))).toThrow(/key must be 32 bytes/);
      if (mode === "xts") expect(() => mee.installKey(1, new Uint8Array(32).fill(9))).toThrow(/key halves .* must differ/);
      mee.installKey(1, key());
      expect(() => mee.encryptPage(1, 1, new Uint8Array(100))).toThrow(/exactly 4096 bytes/);
      expect(() => mee.encryptPages(1, [1, 2], new Uint8Array(PAGE_SIZE))).toThrow(/2 pages/);
    });
  });
}

it("MemoryEncryptionEngine refuses an unknown mode", () => {
  expect(() => new MemoryEncryptionEngine({ mode: "ecb" as "xts" })).toThrow(/"xts" or "xex"/);
});
