// Frames: the unit of every DRAM, encryption and RMP operation (one page, host/page.ts).
// Frames are numbered: an SPA (system-physical) or GPA (guest-physical) in this emulation is a
// 4 KiB frame number, not a byte address; byte address = frame << PAGE_SHIFT.
import { PAGE_SIZE } from "../page";

/**
 * Highest frame number accepted: a 52-bit physical address space (APM vol 2, 5.3.3, the
 * architectural MAXPHYADDR) has 2^40 frames of 4 KiB; still an exact integer in a JS number.
 */
export const MAX_FRAME = 2 ** 40 - 1;

/** Throws a RangeError naming `what` unless `frame` is an integer frame number in 0..MAX_FRAME. */
export function checkFrame(frame: number, what = "frame"): void {
  if (!Number.isInteger(frame) || frame < 0 || frame > MAX_FRAME) {
    throw new RangeError(`${what} must be an integer frame number in 0..2^40-1, got ${String(frame)}`);
  }
}

/** Throws a RangeError naming `what` unless `bytes` is exactly one page. */
export function checkPage(bytes: Uint8Array, what = "page"): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (bytes.length !== PAGE_SIZE) {
    throw new RangeError(`${what} must be exactly ${PAGE_SIZE} bytes, got ${bytes.length}`);
  }
}

/** Throws unless `bytes` holds exactly `count` pages (the batched APIs). */
export function checkPages(bytes: Uint8Array, count: number, what = "pages"): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (bytes.length !== count * PAGE_SIZE) {
    throw new RangeError(`${what} must be ${count} pages (${count * PAGE_SIZE} bytes), got ${bytes.length} bytes`);
  }
}

/** "0x1a2b" for messages: frame numbers are addresses, so they print in hex. */
export function hexFrame(frame: number): string {
  return `0x${frame.toString(16)}`;
}

/** A batch of pages: one 4 KiB source and target per frame, every frame valid; checked before any output changes. */
export function checkPageBatch(frames: ArrayLike<number>, srcs: readonly Uint8Array[], dsts: readonly Uint8Array[]): void {
  if (srcs.length !== frames.length || dsts.length !== frames.length) {
    throw new RangeError(`a batch of ${frames.length} pages needs as many sources and targets, got ${srcs.length} and ${dsts.length}`);
  }
  for (let i = 0; i < frames.length; i++) {
    checkPage(srcs[i]!, "source page");
    checkPage(dsts[i]!, "target page");
    checkFrame(frames[i]!);
  }
}
