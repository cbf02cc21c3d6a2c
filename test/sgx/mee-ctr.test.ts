import { describe, expect, it } from "vitest";
import { MeeCtr } from "../../host/sgx/mee-ctr";
import { PAGE_SIZE } from "../../host/page";

function page(seed: number): Uint8Array {
  return Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

describe("the counter-mode MEE", () => {
  const mee = new MeeCtr();

  it("round-trips a page under its address and version", () => {
    const cipher = new Uint8Array(PAGE_SIZE);
    const mac = mee.encrypt(5, 3, page(1), cipher);
    expect(Buffer.compare(cipher, page(1))).not.toBe(0);
    const out = new Uint8Array(PAGE_SIZE);
    expect(mee.decrypt(5, 3, cipher, mac, out)).toBe(true);
    expect(Buffer.compare(out, page(1))).toBe(0);
  });

  it("gives the same plaintext another ciphertext under the next version (no ciphertext side channel)", () => {
    const a = new Uint8Array(PAGE_SIZE);
    const b = new Uint8Array(PAGE_SIZE);
    mee.encrypt(5, 1, page(2), a);
    mee.encrypt(5, 2, page(2), b);
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  it("refuses an old version, another address or a changed byte, and leaves no plaintext", () => {
    const cipher = new Uint8Array(PAGE_SIZE);
    const mac = mee.encrypt(9, 7, page(3), cipher);
    const out = new Uint8Array(PAGE_SIZE).fill(0xaa);
    expect(mee.decrypt(9, 6, cipher, mac, out)).toBe(false);
    expect(out.every((b) => b === 0)).toBe(true);
    expect(mee.decrypt(10, 7, cipher, mac, out)).toBe(false);
    const flipped = cipher.slice();
    flipped[100]! ^= 1;
    expect(mee.decrypt(9, 7, flipped, mac, out)).toBe(false);
    expect(mee.decrypt(9, 7, cipher, mac, out)).toBe(true);
  });

  it("rejects a bad key or version with a clear error", () => {
    expect(() => new MeeCtr(new Uint8Array(8))).toThrow(/16 bytes/);
    expect(() => mee.encrypt(1, -1, page(1), new Uint8Array(PAGE_SIZE))).toThrow(/version must be an integer/);
  });
});
