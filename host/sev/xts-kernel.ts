// The vector part of XTS (and XEX) as a tiny WebAssembly SIMD module: tweak sequences and the
// XORs around the block cipher. AES itself runs in OpenSSL (node:crypto, ECB with AES-NI); doing
// these XORs in JS costs about 1 µs per page and pass, here about 0.1-0.3 µs.
//
// The module is assembled here from its instructions (no .wasm file in the tree). Its memory is
// private to this file: nothing the untrusted side can reach ever gets a reference to it.

import { endianness } from "node:os";

/** Largest data unit (a page). */
export const KERNEL_MAX_UNIT = 4096;
/** Largest batch in bytes: 32 pages per ECB call (batches of 16 to 32 pages measured alike). */
export const KERNEL_DATA_BYTES = 128 * 1024;
/** Largest batch in units (small units). */
export const KERNEL_MAX_UNITS = 512;
/**
 * Units whose tweak sequences are computed together: each doubling depends on the previous one,
 * so independent chains fill the SIMD pipeline (one chain: 0.31 µs per page, two: 0.20, four:
 * 0.18 with the first XOR fused in). Batches are multiples of this; a short last group runs its
 * spare chains on scratch.
 */
export const XTS_CHAINS = 4;
// Byte layout of the kernel memory: tweak seeds (16 bytes per unit), the data of the batch, its
// expanded tweaks (plus spare units for a short last group), and XEX's in-page tweak table.
export const SEED_OFFSET = 0;
export const DATA_OFFSET = 16 * (KERNEL_MAX_UNITS + XTS_CHAINS);
export const TWEAK_OFFSET = DATA_OFFSET + KERNEL_DATA_BYTES;
export const TABLE_OFFSET = TWEAK_OFFSET + KERNEL_DATA_BYTES + (XTS_CHAINS - 1) * KERNEL_MAX_UNIT;
const MEMORY_BYTES = TABLE_OFFSET + KERNEL_MAX_UNIT;
const MEMORY_PAGES = Math.ceil(MEMORY_BYTES / 65536);

export interface TweakKernel {
  /** The kernel's memory as bytes (and as a Buffer for node:crypto, same storage). */
  readonly bytes: Uint8Array;
  readonly buffer: Buffer;
  /**
   * XTS tweak sequences (IEEE 1619-2007, 5.2): for unit k, block j, write T = alpha^j * seed_k at
   * tweak + k*unit + 16j, and XOR T into the data at the same place + `delta` (the first XOR of
   * XTS, fused). Units go in groups of XTS_CHAINS: `groups` = ceil(n / XTS_CHAINS); the spare
   * units of a short last group take stale seeds and scratch data.
   */
  xtsTweaks(seed: number, tweak: number, groups: number, unit: number, delta: number): void;
  /** XEX tweaks: for unit k, block j, tweak + k*unit + 16j = table[j] xor seed_k. */
  xexTweaks(seed: number, table: number, tweak: number, units: number, unit: number): void;
  /**
   * data[i] ^= tweak[i] for `len` bytes (a multiple of 16), two blocks per step: when len is an
   * odd number of blocks, one block past it changes too (scratch: batches end before their region).
   */
  xor(data: number, tweak: number, len: number): void;
}

// ---- a minimal WebAssembly binary encoder (WebAssembly core spec 2.0, section 5) ----

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, "utf8")];

const I32 = 0x7f;
const V128 = 0x7b;
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const ADD = [0x6a];
const MUL = [0x6c];
const LT_U = [0x49];
const GE_U = [0x4f];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const br = (depth: number) => [0x0c, ...uleb(depth)];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];
const ALIGN16 = 4; // log2 of the natural alignment of v128
const load = (offset = 0) => simd(0x00, ALIGN16, ...uleb(offset));
const store = (offset = 0) => simd(0x0b, ALIGN16, ...uleb(offset));
const XOR = simd(0x51);
const AND = simd(0x4e);
const I32X4_SHL = simd(0xab);
const I32X4_SHR_S = simd(0xac);
const shuffle = (lanes: number[]) => simd(0x0d, ...lanes);
function i32x4Const(a: number, b: number, c: number, d: number): number[] {
  const bytes = new Uint8Array(16);
  new DataView(bytes.buffer).setUint32(0, a, true);
  new DataView(bytes.buffer).setUint32(4, b, true);
  new DataView(bytes.buffer).setUint32(8, c, true);
  new DataView(bytes.buffer).setUint32(12, d, true);
  return simd(0x0c, ...bytes);
}

/**
 * local t = t * alpha in GF(2^128) with the XTS polynomial x^128 + x^7 + x^2 + x + 1, the tweak
 * being a little-endian 128-bit number (IEEE 1619-2007, 5.2): shift every 32-bit lane left by one
 * and add each lane's lost top bit to the next lane; the top lane's bit folds back as 0x87.
 */
function double(t: number): number[] {
  return [
    ...get(t), ...i32(1), ...I32X4_SHL,
    ...get(t), ...i32(31), ...I32X4_SHR_S, // each lane: all ones if its top bit was set
    ...get(t), ...shuffle([12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), // lane i <- lane i-1
    ...i32x4Const(0x87, 1, 1, 1), ...AND,
    ...XOR, ...set(t),
  ];
}

function xtsTweaksBody(): number[] {
  // params: seed 0, tweak 1, groups 2, unit 3, delta 4; locals: one v128 tweak per chain, then
  // end, unitEnd and c * unit for c = 1..XTS_CHAINS-1 (i32).
  const [seed, tweak, groups, unit, delta] = [0, 1, 2, 3, 4];
  const chains = Array.from({ length: XTS_CHAINS }, (_, c) => c);
  const t = (c: number) => 5 + c;
  const end = 5 + XTS_CHAINS;
  const unitEnd = end + 1;
  const offset = (c: number) => unitEnd + c; // c >= 1
  const at = (c: number) => (c === 0 ? [] : [...get(offset(c)), ...ADD]);
  const chainStep = (c: number) => [
    ...get(tweak), ...at(c), ...get(t(c)), ...store(0),
    // data[tweak + delta] ^= T: the first XOR of XTS, fused into the tweak pass
    ...get(tweak), ...get(delta), ...ADD, ...at(c),
    ...get(tweak), ...get(delta), ...ADD, ...at(c), ...load(0), ...get(t(c)), ...XOR, ...store(0),
  ];
  return [
    ...vec([[XTS_CHAINS, V128], [1 + XTS_CHAINS, I32]]),
    ...chains.slice(1).flatMap((c) => [...get(unit), ...i32(c), ...MUL, ...set(offset(c))]),
    ...get(tweak), ...get(groups), ...get(unit), ...MUL, ...i32(XTS_CHAINS), ...MUL, ...ADD, ...set(end),
    ...BLOCK, ...LOOP,
    ...get(tweak), ...get(end), ...GE_U, ...brIf(1),
    ...chains.flatMap((c) => [...get(seed), ...load(16 * c), ...set(t(c))]),
    ...get(tweak), ...get(unit), ...ADD, ...set(unitEnd),
    ...LOOP,
    ...chains.flatMap(chainStep),
    ...chains.flatMap((c) => double(t(c))),
    ...get(tweak), ...i32(16), ...ADD, ...set(tweak),
    ...get(tweak), ...get(unitEnd), ...LT_U, ...brIf(0),
    ...END,
    ...get(tweak), ...get(offset(XTS_CHAINS - 1)), ...ADD, ...set(tweak), // past the group's other units
    ...get(seed), ...i32(16 * XTS_CHAINS), ...ADD, ...set(seed),
    ...br(0),
    ...END, ...END,
    ...END,
  ];
}

function xexTweaksBody(): number[] {
  // params: seed 0, table 1, tweak 2, units 3, unit 4; locals: s 5 (v128), end 6, j 7 (i32)
  const [seed, table, tweak, units, unit, s, end, j] = [0, 1, 2, 3, 4, 5, 6, 7];
  return [
    ...vec([[1, V128], [2, I32]]),
    ...get(tweak), ...get(units), ...get(unit), ...MUL, ...ADD, ...set(end),
    ...BLOCK, ...LOOP,
    ...get(tweak), ...get(end), ...GE_U, ...brIf(1),
    ...get(seed), ...load(0), ...set(s),
    ...i32(0), ...set(j),
    ...LOOP,
    ...get(tweak), ...get(table), ...get(j), ...ADD, ...load(0), ...get(s), ...XOR, ...store(0),
    ...get(tweak), ...i32(16), ...ADD, ...set(tweak),
    ...get(j), ...i32(16), ...ADD, ...set(j),
    ...get(j), ...get(unit), ...LT_U, ...brIf(0),
    ...END,
    ...get(seed), ...i32(16), ...ADD, ...set(seed),
    ...br(0),
    ...END, ...END,
    ...END,
  ];
}

function xorBody(): number[] {
  // params: data 0, tweak 1, len 2; locals: end 3 (i32). Two blocks per iteration.
  const [data, tweak, len, end] = [0, 1, 2, 3];
  return [
    ...vec([[1, I32]]),
    ...get(data), ...get(len), ...ADD, ...set(end),
    ...BLOCK,
    ...get(data), ...get(end), ...GE_U, ...brIf(0),
    ...LOOP,
    ...get(data), ...get(data), ...load(0), ...get(tweak), ...load(0), ...XOR, ...store(0),
    ...get(data), ...get(data), ...load(16), ...get(tweak), ...load(16), ...XOR, ...store(16),
    ...get(data), ...i32(32), ...ADD, ...set(data),
    ...get(tweak), ...i32(32), ...ADD, ...set(tweak),
    ...get(data), ...get(end), ...LT_U, ...brIf(0),
    ...END,
    ...END,
    ...END,
  ];
}

/** The module's bytes; exported for the test that checks them against wat2wasm. */
export function kernelModuleBytes(): Uint8Array<ArrayBuffer> {
  const fn = (params: number) => [0x60, ...vec(Array.from({ length: params }, () => [I32])), ...vec([])];
  const bodies = [xtsTweaksBody(), xexTweaksBody(), xorBody()];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([fn(5), fn(5), fn(3)])), // types
    ...section(3, vec([[0], [0], [1]])), // functions
    ...section(5, vec([[0x00, ...uleb(MEMORY_PAGES)]])), // one memory, no maximum
    ...section(7, vec([
      [...name("memory"), 0x02, 0],
      [...name("xtsTweaks"), 0x00, 0],
      [...name("xexTweaks"), 0x00, 1],
      [...name("xor"), 0x00, 2],
    ])),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
  ]);
}

let instance: TweakKernel | undefined;

/** The kernel, compiled on first use (synchronously: about a millisecond for 300 bytes). */
export function tweakKernel(): TweakKernel {
  if (instance) return instance;
  // Callers view the memory through Uint32Array too (xex.ts); Wasm itself is always little-endian.
  if (endianness() !== "LE") throw new Error("the XTS kernel needs a little-endian host");
  const module = new WebAssembly.Module(kernelModuleBytes());
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as {
    memory: WebAssembly.Memory;
    xtsTweaks: TweakKernel["xtsTweaks"];
    xexTweaks: TweakKernel["xexTweaks"];
    xor: TweakKernel["xor"];
  };
  instance = {
    bytes: new Uint8Array(exports.memory.buffer),
    buffer: Buffer.from(exports.memory.buffer),
    xtsTweaks: exports.xtsTweaks,
    xexTweaks: exports.xexTweaks,
    xor: exports.xor,
  };
  return instance;
}
