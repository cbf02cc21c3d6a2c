import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "../../host/page";
import { frameTweak, XtsAes } from "../../host/sev/xts";

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** 16-byte little-endian data unit sequence number (IEEE 1619-2007, 5.1). */
function dusn(n: bigint): Uint8Array {
  const t = new Uint8Array(16);
  new DataView(t.buffer).setBigUint64(0, n, true);
  return t;
}

// IEEE Std 1619-2007, Annex B "Test vectors", XTS-AES-128. Vectors 5 and 6 continue the chain of
// vector 4 (each one's plaintext is the previous ciphertext), so only their ciphertexts are listed.
const V4_PTX = Array.from({ length: 512 }, (_, i) => (i % 256).toString(16).padStart(2, "0")).join("");
const V4_CTX = `
27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89cc78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412
328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265
5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434
1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e
94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3
e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd
74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e
bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18deb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568`;
const V5_CTX = `
264d3ca8512194fec312c8c9891f279fefdd608d0c027b60483a3fa811d65ee59d52d9e40ec5672d81532b38b6b089ce951f0f9c35590b8b978d175213f329bb
1c2fd30f2f7f30492a61a532a79f51d36f5e31a7c9a12c286082ff7d2394d18f783e1a8e72c722caaaa52d8f065657d2631fd25bfd8e5baad6e527d763517501
c68c5edc3cdd55435c532d7125c8614deed9adaa3acade5888b87bef641c4c994c8091b5bcd387f3963fb5bc37aa922fbfe3df4e5b915e6eb514717bdd2a7407
9a5073f5c4bfd46adf7d282e7a393a52579d11a028da4d9cd9c77124f9648ee383b1ac763930e7162a8d37f350b2f74b8472cf09902063c6b32e8c2d9290cefb
d7346d1c779a0df50edcde4531da07b099c638e83a755944df2aef1aa31752fd323dcb710fb4bfbb9d22b925bc3577e1b8949e729a90bbafeacf7f7879e7b114
7e28ba0bae940db795a61b15ecf4df8db07b824bb062802cc98a9545bb2aaeed77cb3fc6db15dcd7d80d7d5bc406c4970a3478ada8899b329198eb61c193fb62
75aa8ca340344a75a862aebe92eee1ce032fd950b47d7704a3876923b4ad62844bf4a09c4dbe8b4397184b7471360c9564880aedddb9baa4af2e75394b08cd32
ff479c57a07d3eab5d54de5f9738b8d27f27a9f0ab11799d7b7ffefb2704c95c6ad12c39f1e867a4b7b1d7818a4b753dfd2a89ccb45e001a03a867b187f225dd`;
const V6_CTX = `
fa762a3680b76007928ed4a4f49a9456031b704782e65e16cecb54ed7d017b5e18abd67b338e81078f21edb7868d901ebe9c731a7c18b5e6dec1d6a72e078ac9
a4262f860beefa14f4e821018272e411a951502b6e79066e84252c3346f3aa62344351a291d4bedc7a07618bdea2af63145cc7a4b8d4070691ae890cd65733e7
946e9021a1dffc4c59f159425ee6d50ca9b135fa6162cea18a939838dc000fb386fad086acce5ac07cb2ece7fd580b00cfa5e98589631dc25e8e2a3daf2ffdec
26531659912c9d8f7a15e5865ea8fb5816d6207052bd7128cd743c12c8118791a4736811935eb982a532349e31dd401e0b660a568cb1a4711f552f55ded59f1f
15bf7196b3ca12a91e488ef59d64f3a02bf45239499ac6176ae321c4a211ec545365971c5d3f4f09d4eb139bfdf2073d33180b21002b65cc9865e76cb24cd92c
874c24c18350399a936ab3637079295d76c417776b94efce3a0ef7206b15110519655c956cbd8b2489405ee2b09a6b6eebe0c53790a12a8998378b33a5b71159
625f4ba49d2a2fdba59fbf0897bc7aabd8d707dc140a80f0f309f835d3da54ab584e501dfa0ee977fec543f74186a802b9a37adb3e8291eca04d66520d229e60
401e7282bef486ae059aa70696e0e305d777140a7a883ecdcb69b9ff938e8a4231864c69ca2c2043bed007ff3e605e014bcf518138dc3a25c5e236171a2d01d6`;

const E_KEYS = "27182818284590452353602874713526" + "31415926535897932384626433832795";
const VECTORS: { n: number; key: string; dusn: bigint; ptx: string; ctx: string }[] = [
  {
    n: 1, key: "00".repeat(32), dusn: 0n, ptx: "00".repeat(32),
    ctx: "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e",
  },
  {
    n: 2, key: "11".repeat(16) + "22".repeat(16), dusn: 0x3333333333n, ptx: "44".repeat(32),
    ctx: "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0",
  },
  {
    n: 3, key: "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0" + "22".repeat(16), dusn: 0x3333333333n, ptx: "44".repeat(32),
    ctx: "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89",
  },
  { n: 4, key: E_KEYS, dusn: 0n, ptx: V4_PTX, ctx: V4_CTX },
  { n: 5, key: E_KEYS, dusn: 1n, ptx: V4_CTX, ctx: V5_CTX },
  { n: 6, key: E_KEYS, dusn: 2n, ptx: V5_CTX, ctx: V6_CTX },
];

describe("XTS-AES-128: IEEE 1619-2007 Annex B vectors", () => {
  for (const v of VECTORS) {
    const key = hex(v.key);
    if (Buffer.from(key.subarray(0, 16)).equals(key.subarray(16))) {
      // Vector 1's Key1 = Key2 (all zeros): SP 800-38E forbids it and OpenSSL 3, which the engine
      // runs on, refuses it for encryption, so the engine refuses it up front.
      it(`vector ${v.n}: Key1 = Key2 is refused with a message naming the problem`, () => {
        expect(() => new XtsAes(key)).toThrow(/key halves \(Key1 and Key2\) must differ/);
      });
      continue;
    }
    it(`vector ${v.n} (${hex(v.ptx).length}-byte data unit)`, () => {
      const x = new XtsAes(hex(v.key));
      const ptx = hex(v.ptx);
      const ctx = x.encryptUnits(dusn(v.dusn), ptx, ptx.length);
      expect(toHex(ctx)).toBe(toHex(hex(v.ctx)));
      expect(toHex(x.decryptUnits(dusn(v.dusn), hex(v.ctx), ptx.length))).toBe(toHex(ptx));
    });
  }

  it("vectors 4-6 as one call of three 512-byte units with consecutive tweaks", () => {
    const x = new XtsAes(hex(E_KEYS));
    const ptx = new Uint8Array([...hex(V4_PTX), ...hex(V4_CTX), ...hex(V5_CTX)]);
    const tweaks = new Uint8Array([...dusn(0n), ...dusn(1n), ...dusn(2n)]);
    const ctx = x.encryptUnits(tweaks, ptx, 512);
    expect(toHex(ctx)).toBe(toHex(new Uint8Array([...hex(V4_CTX), ...hex(V5_CTX), ...hex(V6_CTX)])));
  });
});

describe("XtsAes pages against node:crypto's own aes-xts", () => {
  // One page, a few, and batches longer than the engine's usual 32.
  for (const [bits, count] of [[128, 1], [128, 2], [128, 33], [128, 70], [256, 5]] as const) {
    it(`XTS-AES-${bits}, ${count} page(s)`, () => {
      const key = randomBytes(bits === 128 ? 32 : 64);
      const x = new XtsAes(key);
      const frames = Array.from({ length: count }, (_, i) => (i * 7919 + 3) % 2 ** 20 + (i % 3 === 0 ? 2 ** 35 : 0));
      const data = new Uint8Array(randomBytes(count * PAGE_SIZE));
      const ct = x.encryptPages(frames, data);
      for (let i = 0; i < count; i++) {
        const c = createCipheriv(`aes-${bits}-xts`, key, frameTweak(frames[i]!));
        const ref = Buffer.concat([c.update(data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE)), c.final()]);
        expect(toHex(ct.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE))).toBe(ref.toString("hex"));
      }
      expect(toHex(x.decryptPages(frames, ct))).toBe(toHex(data));
    });
  }

  // Odd unit counts, odd blocks per unit, many small units, units larger than a page.
  for (const [unit, units] of [[16, 3], [48, 7], [16, 1100], [2752, 100], [3 * PAGE_SIZE, 3]] as const) {
    it(`${units} data units of ${unit} bytes`, () => {
      const key = randomBytes(32);
      const x = new XtsAes(key);
      const data = new Uint8Array(randomBytes(unit * units));
      const tweaks = new Uint8Array(16 * units);
      for (let i = 0; i < units; i++) frameTweak(i * 1000 + 17, tweaks, 16 * i);
      const ct = x.encryptUnits(tweaks, data, unit);
      for (let i = 0; i < units; i++) {
        const c = createCipheriv("aes-128-xts", key, tweaks.subarray(16 * i, 16 * i + 16));
        const ref = Buffer.concat([c.update(data.subarray(i * unit, (i + 1) * unit)), c.final()]);
        expect(toHex(ct.subarray(i * unit, (i + 1) * unit))).toBe(ref.toString("hex"));
      }
      expect(toHex(x.decryptUnits(tweaks, ct, unit))).toBe(toHex(data));
    });
  }

  it("writes into a caller's buffer, also in place", () => {
    const x = new XtsAes(randomBytes(32));
    const data = new Uint8Array(randomBytes(3 * PAGE_SIZE));
    const expected = x.encryptPages([5, 6, 7], data);
    const inPlace = data.slice();
    expect(x.encryptPages([5, 6, 7], inPlace, inPlace)).toBe(inPlace);
    expect(toHex(inPlace)).toBe(toHex(expected));
    expect(toHex(x.decryptPages([5, 6, 7], inPlace, inPlace))).toBe(toHex(data));
  });

  it("refuses an output buffer that overlaps the input without being it", () => {
    const x = new XtsAes(randomBytes(32));
    const memory = new Uint8Array(4 * PAGE_SIZE);
    const data = memory.subarray(0, 3 * PAGE_SIZE);
    const before = memory.slice();
    expect(() => x.encryptPages([5, 6, 7], data, memory.subarray(PAGE_SIZE))).toThrow(/out must be data itself or not overlap it/);
    expect(toHex(memory)).toBe(toHex(before));
  });

  it("refuses bad keys, units, tweaks and frames with a message naming the problem", () => {
    expect(() => new XtsAes(new Uint8Array(16))).toThrow(/32 or 64 bytes/);
    expect(() => new XtsAes(new Uint8Array(64).fill(7))).toThrow(/halves .* must differ/);
    const x = new XtsAes(hex(E_KEYS));
    expect(() => x.encryptUnits(new Uint8Array(16), new Uint8Array(24), 24)).toThrow(/multiple of 16/);
    expect(() => x.encryptUnits(new Uint8Array(16), new Uint8Array(64), 32)).toThrow(/16 tweak bytes per data unit/);
    expect(() => x.encryptPages([1], new Uint8Array(100))).toThrow(/4096 bytes/);
    expect(() => x.encryptPages([-1], new Uint8Array(PAGE_SIZE))).toThrow(/frame number/);
    expect(() => x.encryptPages([1.5], new Uint8Array(PAGE_SIZE))).toThrow(/frame number/);
  });
});
