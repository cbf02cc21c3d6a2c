// The memory layout of a rewritten guest (docs/architecture.md, "Address spaces").
//
// Real linear memory:  [0, TAG_TABLE_BYTES)  tag table, one byte per 4 KiB guest page
//                      [BASE, ...)            guest memory: guest address A lives at A + BASE
// Guest code can never form an address below BASE, so it cannot reach the tags. One MMU page is
// one hardware page (host/page.ts): the unit of residency, encryption and integrity.
import { PAGE_SIZE } from "../page";

/** Size of one WebAssembly page. */
export const WASM_PAGE_SIZE = 65536;
/** A 32-bit memory holds at most this many Wasm pages (4 GiB). */
export const MAX_WASM_PAGES = 65536;
/** One tag byte for each 4 KiB page of a 4 GiB guest. */
export const TAG_TABLE_BYTES = (MAX_WASM_PAGES * WASM_PAGE_SIZE) / PAGE_SIZE;
/** Wasm pages reserved below the guest: the tag table. */
export const RESERVED_WASM_PAGES = TAG_TABLE_BYTES / WASM_PAGE_SIZE;
/** Offset of guest address 0 in the real memory. */
export const BASE = RESERVED_WASM_PAGES * WASM_PAGE_SIZE;
/** The largest guest memory a rewritten module can reach (the rest of 4 GiB is the tag table). */
export const MAX_GUEST_WASM_PAGES = MAX_WASM_PAGES - RESERVED_WASM_PAGES;

/**
 * Tag bits. The low two bits are the residency tag (0 not resident, 1 resident clean, 3 resident
 * dirty). The pair bits let a multi-byte access test one byte instead of also testing whether it
 * crosses into the next page: they are set only when this page and the next one (or the end of
 * memory) are both resident (clean or dirty). See mmu.ts. When the pair bit is off, the rewritten
 * code tests whether the access crosses, and this page's own bits, before it calls the MMU.
 */
export const TAG_RESIDENT = 1;
export const TAG_DIRTY = 2;
export const TAG_PAIR_RESIDENT = 4;
export const TAG_PAIR_DIRTY = 8;
/** Shared with the host: resident, writable, never evicted, never written to the backing store. */
export const TAG_SHARED = 16;

/** What an access inside one page needs of its tag: resident for a load, dirty (writable) for a store. */
export function pageMask(write: boolean): number {
  return write ? TAG_DIRTY : TAG_RESIDENT;
}

/**
 * Mask a rewritten access tests first: a byte its page's own bit, a wider access the pair bit, so
 * that the hit path need not work out whether it crosses into the next page.
 */
export function accessMask(size: number, write: boolean): number {
  if (size === 1) return pageMask(write);
  return write ? TAG_PAIR_DIRTY : TAG_PAIR_RESIDENT;
}

/**
 * Pin slots: a loop whose checks were eliminated (see check-elimination.ts) pins the pages it
 * relies on, so that no fault inside the loop evicts them. Slot k is two u32 at PIN_SLOTS + 8k:
 * first page + 1 and last page + 1 (0 = empty). The slots sit in the tail of the tag table, whose
 * entries would belong to guest pages beyond the largest guest memory.
 */
export const PIN_SLOTS = TAG_TABLE_BYTES - 256;
/** Most hoisted groups in one function (each uses its own slot, 0..7; a pair of pages each). */
export const MAX_PIN_SLOTS = 8;
/**
 * Slots of the range loop that runs, one per covered access (range loops are innermost and call
 * nothing, so at most one runs at a time).
 */
export const FIRST_RANGE_SLOT = MAX_PIN_SLOTS;
export const MAX_RANGE_ACCESSES = 4;
/** Slots the MMU looks at. */
export const PIN_SLOT_COUNT = MAX_PIN_SLOTS + MAX_RANGE_ACCESSES;
/** Bits of the `info` argument of __mmu.range, above the slot number. */
export const RANGE_WRITE = 0x100;
export const RANGE_FIRST = 0x200;

/** The import namespace of the MMU's host functions. */
export const MMU_MODULE = "__mmu";
/** Bit of the fault handler's `info` argument that marks a store; the low 13 bits are the size. */
export const FAULT_WRITE = 0x2000;
/** The fault comes from a hoisted check: make the page and the next one resident together. */
export const FAULT_PAIR = 0x4000;
export const FAULT_SIZE_MASK = 0x1fff;
