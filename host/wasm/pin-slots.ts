// The pin slots in the reserved bytes of the real memory (layout.ts PIN_SLOTS): each holds a range
// of guest pages [first, last] as two little-endian u32 of page + 1, 0 meaning empty. Rewritten
// code writes the pair slots for its hoisted checks; the MMU writes the range slots (mmu.ts
// range). A pinned page is never evicted, and never trapped by CLOCK, since the code it serves
// runs without checks.
import { FIRST_RANGE_SLOT, PIN_SLOT_COUNT, PIN_SLOTS } from "./layout";

const u32At = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** Is `page` in any slot? */
export function isPinned(b: Uint8Array, page: number): boolean {
  for (let at = PIN_SLOTS, end = PIN_SLOTS + 8 * PIN_SLOT_COUNT; at < end; at += 8) {
    const first = u32At(b, at);
    if (first === 0 || page < first - 1) continue;
    if (page <= u32At(b, at + 4) - 1) return true;
  }
  return false;
}

/** Pages pinned by the range slots other than `except` (an upper bound: slots may overlap). */
export function rangePinnedPages(b: Uint8Array, except: number): number {
  let n = 0;
  for (let k = FIRST_RANGE_SLOT; k < PIN_SLOT_COUNT; k++) {
    if (k === except) continue;
    const first = u32At(b, PIN_SLOTS + 8 * k);
    if (first !== 0) n += u32At(b, PIN_SLOTS + 8 * k + 4) - first + 1;
  }
  return n;
}

/** Slot k pins pages first..last. */
export function setSlot(b: Uint8Array, k: number, first: number, last: number): void {
  const view = new DataView(b.buffer, b.byteOffset + PIN_SLOTS + 8 * k, 8);
  view.setUint32(0, first + 1, true);
  view.setUint32(4, last + 1, true);
}

export function clearSlot(b: Uint8Array, k: number): void {
  b.fill(0, PIN_SLOTS + 8 * k, PIN_SLOTS + 8 * k + 8);
}
