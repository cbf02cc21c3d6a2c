// Opcode facts the rewriter needs (WebAssembly 2.0, spec section 5.4): which instructions touch
// linear memory and how, and which opcodes belong to proposals the rewriter refuses; and the few
// other bytes of the binary format (types, import kinds, immediates) it reads or writes.

export const enum ValType {
  I32 = 0x7f,
  I64 = 0x7e,
  F32 = 0x7d,
  F64 = 0x7c,
  V128 = 0x7b,
  FuncRef = 0x70,
  ExternRef = 0x6f,
  /** `ref null ht` and `ref ht`: typed function references, which the rewriter refuses. */
  RefNullHeap = 0x63,
  RefHeap = 0x64,
}

/** The byte that opens a function type in the type section. */
export const FUNC_TYPE = 0x60;

/** What an import or export is (spec 5.5.5, 5.5.10). */
export const enum ExternKind {
  Func = 0,
  Table = 1,
  Memory = 2,
  Global = 3,
  Tag = 4,
}

export const enum Op {
  Unreachable = 0x00,
  Nop = 0x01,
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
  Select = 0x1b,
  SelectT = 0x1c,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  GlobalGet = 0x23,
  GlobalSet = 0x24,
  TableGet = 0x25,
  TableSet = 0x26,
  I32Load = 0x28,
  I32Load8U = 0x2d,
  I32Store = 0x36,
  MemorySize = 0x3f,
  MemoryGrow = 0x40,
  I32Const = 0x41,
  I64Const = 0x42,
  F32Const = 0x43,
  F64Const = 0x44,
  I32Eqz = 0x45,
  I32Eq = 0x46,
  I32LtS = 0x48,
  I32LtU = 0x49,
  I32GtS = 0x4a,
  I32GtU = 0x4b,
  I32GeS = 0x4e,
  I32GeU = 0x4f,
  I64Eqz = 0x50,
  I64LtU = 0x54,
  I64LeU = 0x58,
  I64GeU = 0x5a,
  F64Ge = 0x66,
  I32Clz = 0x67,
  I32Popcnt = 0x69,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  I32And = 0x71,
  I32Or = 0x72,
  I32Shl = 0x74,
  I32ShrU = 0x76,
  I64Clz = 0x79,
  I64Popcnt = 0x7b,
  I64Add = 0x7c,
  I64Sub = 0x7d,
  I64Mul = 0x7e,
  I64ShrU = 0x88,
  F32Abs = 0x8b,
  F32Sqrt = 0x91,
  F64Abs = 0x99,
  F64Sqrt = 0x9f,
  I32WrapI64 = 0xa7,
  I64ExtendI32U = 0xad,
  F64ConvertI64U = 0xba,
  I64Extend32S = 0xc4,
  RefNull = 0xd0,
  RefIsNull = 0xd1,
  RefFunc = 0xd2,
  PrefixFC = 0xfc,
  PrefixSIMD = 0xfd,
}

/** Sub-opcodes after the 0xFC prefix. */
export const enum FcOp {
  /** 0-7 are the saturating truncations, i32.trunc_sat_f32_s to this one. */
  I64TruncSatF64U = 7,
  MemoryInit = 8,
  DataDrop = 9,
  MemoryCopy = 10,
  MemoryFill = 11,
  TableInit = 12,
  ElemDrop = 13,
  TableCopy = 14,
  TableGrow = 15,
  TableSize = 16,
  TableFill = 17,
}

/** Sub-opcodes after the 0xFD prefix that matter outside the access table below. */
export const enum SimdOp {
  V128Const = 12,
  I8x16Shuffle = 13,
  I8x16ExtractLaneS = 21,
  F64x2ReplaceLane = 34,
}

/** The numeric instructions, i32.eqz to i64.extend32_s: fixed arity, no immediates. */
export function isNumeric(op: number): boolean {
  return op >= Op.I32Eqz && op <= Op.I64Extend32S;
}

/** The block type of a `block`, `loop` or `if` without parameters or results. */
export const enum BlockType {
  Empty = 0x40,
}

/** A memarg's alignment field: log2 of the alignment in bytes. */
export const enum Align {
  To1 = 0,
  To4 = 2,
}

/** Bit 6 of a memarg's alignment field announces a memory index (multi-memory). */
export const MEMARG_MEMORY_INDEX = 0x40;

/** The memory index immediate of memory.size, memory.grow and the bulk instructions. */
export const MEMORY_0 = 0;

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
  if (sub === SimdOp.V128Const || sub === SimdOp.I8x16Shuffle) return 16;
  if (sub >= SimdOp.I8x16ExtractLaneS && sub <= SimdOp.F64x2ReplaceLane) return 1; // extract_lane / replace_lane
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
