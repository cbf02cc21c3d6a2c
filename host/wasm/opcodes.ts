// Opcode facts the rewriter needs (WebAssembly 2.0, spec section 5.4): which instructions touch
// linear memory and how, and which opcodes belong to proposals the rewriter refuses.

export const enum ValType {
  I32 = 0x7f,
  I64 = 0x7e,
  F32 = 0x7d,
  F64 = 0x7c,
  V128 = 0x7b,
  FuncRef = 0x70,
  ExternRef = 0x6f,
}

export const enum Op {
  Unreachable = 0x00,
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  Else = 0x05,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  BrTable = 0x0e,
  Return = 0x0f,
  Call = 0x10,
  CallIndirect = 0x11,
  Drop = 0x1a,
  SelectT = 0x1c,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  GlobalGet = 0x23,
  I32Load = 0x28,
  I32Load8U = 0x2d,
  MemorySize = 0x3f,
  MemoryGrow = 0x40,
  I32Const = 0x41,
  I64Const = 0x42,
  F32Const = 0x43,
  F64Const = 0x44,
  I32Eqz = 0x45,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32And = 0x71,
  I32ShrU = 0x76,
  RefNull = 0xd0,
  RefFunc = 0xd2,
  PrefixFC = 0xfc,
  PrefixSIMD = 0xfd,
  BlockTypeEmpty = 0x40,
}

/** How an instruction touches memory: `size` bytes at address + offset. */
export interface MemAccess {
  size: number;
  store: boolean;
  /** Type of the second operand (stored value, or the vector of a lane load), if any. */
  operand: ValType | null;
  /** Lane instructions carry a lane index byte after the memarg. */
  lane: boolean;
}

const load = (size: number): MemAccess => ({ size, store: false, operand: null, lane: false });
const store = (size: number, operand: ValType): MemAccess => ({ size, store: true, operand, lane: false });

/** MVP loads and stores, 0x28-0x3E. */
export const MVP_ACCESS: ReadonlyMap<number, MemAccess> = new Map([
  [0x28, load(4)], [0x29, load(8)], [0x2a, load(4)], [0x2b, load(8)],
  [0x2c, load(1)], [0x2d, load(1)], [0x2e, load(2)], [0x2f, load(2)],
  [0x30, load(1)], [0x31, load(1)], [0x32, load(2)], [0x33, load(2)], [0x34, load(4)], [0x35, load(4)],
  [0x36, store(4, ValType.I32)], [0x37, store(8, ValType.I64)], [0x38, store(4, ValType.F32)],
  [0x39, store(8, ValType.F64)], [0x3a, store(1, ValType.I32)], [0x3b, store(2, ValType.I32)],
  [0x3c, store(1, ValType.I64)], [0x3d, store(2, ValType.I64)], [0x3e, store(4, ValType.I64)],
]);

/** SIMD memory instructions, keyed by the sub-opcode after 0xFD. */
export const SIMD_ACCESS: ReadonlyMap<number, MemAccess> = new Map([
  [0, load(16)], // v128.load
  [1, load(8)], [2, load(8)], [3, load(8)], [4, load(8)], [5, load(8)], [6, load(8)], // loadNxM_s/u
  [7, load(1)], [8, load(2)], [9, load(4)], [10, load(8)], // loadN_splat
  [11, store(16, ValType.V128)], // v128.store
  [84, { size: 1, store: false, operand: ValType.V128, lane: true }], // v128.load8_lane
  [85, { size: 2, store: false, operand: ValType.V128, lane: true }],
  [86, { size: 4, store: false, operand: ValType.V128, lane: true }],
  [87, { size: 8, store: false, operand: ValType.V128, lane: true }],
  [88, { size: 1, store: true, operand: ValType.V128, lane: true }], // v128.store8_lane
  [89, { size: 2, store: true, operand: ValType.V128, lane: true }],
  [90, { size: 4, store: true, operand: ValType.V128, lane: true }],
  [91, { size: 8, store: true, operand: ValType.V128, lane: true }],
  [92, load(4)], [93, load(8)], // v128.load32_zero, v128.load64_zero
]);

/** SIMD sub-opcodes with immediates other than a memarg. */
export function simdImmediateBytes(sub: number): number {
  if (sub === 12 || sub === 13) return 16; // v128.const, i8x16.shuffle
  if (sub >= 21 && sub <= 34) return 1; // extract_lane / replace_lane
  return 0;
}

/** Opcodes of proposals beyond WebAssembly 2.0 that the rewriter refuses, with their names. */
export function unsupportedOpcode(op: number): string | null {
  switch (op) {
    case 0x06: case 0x07: case 0x08: case 0x09: case 0x0a: case 0x18: case 0x19: case 0x1f:
      return "exception handling";
    case 0x12: case 0x13:
      return "tail calls";
    case 0x14: case 0x15: case 0xd3: case 0xd4: case 0xd5: case 0xd6:
      return "typed function references";
    case 0xfb:
      return "garbage collection (GC)";
    case 0xfe:
      return "threads and atomics";
    default:
      return null;
  }
}
