// The radix table under the per-frame tables (host/sev/frame-table.ts): which leaf and slot a
// frame lands in across every level's boundary, up to the last frame, and what it refuses.
import { describe, expect, it } from "vitest";
import { FrameTable, LEAF_FRAMES, slotOf } from "../../host/sev/frame-table";
import { MAX_FRAME } from "../../host/sev/page";

/** The frames on each side of every level's boundary, and the ends of the range. */
const EDGES = [0, 1023, 1024, 2 ** 20 - 1, 2 ** 20, 2 ** 30 - 1, 2 ** 30, 2 ** 32 - 1, 2 ** 32, MAX_FRAME - 1024, MAX_FRAME];

describe("FrameTable", () => {
  it("gives each run of LEAF_FRAMES frames its own leaf, and each frame its own slot in it", () => {
    let made = 0;
    const table = new FrameTable(() => (made++, new Float64Array(LEAF_FRAMES)));
    for (const frame of EDGES) table.leafFor(frame)[slotOf(frame)] = frame + 1;
    expect(made).toBe(EDGES.length - 1); // only 0 and 1023 share a leaf
    for (const frame of EDGES) expect(table.leaf(frame)![slotOf(frame)]).toBe(frame + 1);
    expect(table.leafFor(1023)).toBe(table.leaf(0));
    expect(table.leaf(1024)).not.toBe(table.leaf(1023));
    expect(slotOf(MAX_FRAME)).toBe(1023);
    expect(slotOf(2 ** 32 + 5)).toBe(5);
    expect(table.leaf(2048)).toBeUndefined(); // no leaf made for it
  });

  it("lists its leaves in frame order, each with the frame of its slot 0", () => {
    const table = new FrameTable(() => new Uint8Array(LEAF_FRAMES));
    for (const frame of [...EDGES].reverse()) table.leafFor(frame);
    const firsts = [...table.leaves()].map(([first]) => first);
    expect(firsts).toEqual([0, 1024, 2 ** 20 - 1024, 2 ** 20, 2 ** 30 - 1024, 2 ** 30, 2 ** 32 - 1024, 2 ** 32, MAX_FRAME - 2047, MAX_FRAME - 1023]);
    for (const [first, leaf] of table.leaves()) expect(table.leaf(first)).toBe(leaf);
  });

  it("finds no leaf for a number that is not a frame number", () => {
    const table = new FrameTable(() => new Uint8Array(LEAF_FRAMES));
    table.leafFor(0);
    table.leafFor(MAX_FRAME);
    for (const bad of [-1, 0.5, MAX_FRAME + 1, 2 ** 52, NaN, Infinity]) expect(table.leaf(bad)).toBeUndefined();
  });
});
