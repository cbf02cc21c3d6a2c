// The integrity cache's typed index (host/enclavisor/node-index.ts) against a Map, through random
// inserts and deletes that make long probe runs and wrap around the table's end.
import { describe, expect, it } from "vitest";
import { NodeIndex } from "../../host/enclavisor/node-index";

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

describe("NodeIndex", () => {
  it("agrees with a Map through random inserts and deletes, ids up to 2^41", () => {
    const capacity = 64;
    const index = new NodeIndex(capacity);
    const model = new Map<number, number>();
    const rand = prng(7);
    // Ids of one level are consecutive, with a few far apart: both kinds collide in the table.
    const ids = Array.from({ length: 200 }, (_, i) => (i % 5 === 0 ? 2 ** 40 + i * 4096 : 1000 + i));
    for (let step = 0; step < 20_000; step++) {
      const id = ids[Math.floor(rand() * ids.length)]!;
      if (model.has(id)) {
        if (rand() < 0.6) {
          index.delete(id);
          model.delete(id);
        }
      } else if (model.size < capacity) {
        const slot = Math.floor(rand() * capacity);
        index.set(id, slot);
        model.set(id, slot);
      }
      if (step % 97 === 0) for (const probe of ids) expect(index.get(probe), String(probe)).toBe(model.get(probe) ?? -1);
      expect(index.size).toBe(model.size);
    }
  });

  it("forgets everything on clear, and deleting an absent id changes nothing", () => {
    const index = new NodeIndex(4);
    index.set(3, 1);
    index.delete(99);
    expect(index.get(3)).toBe(1);
    index.clear();
    expect(index.get(3)).toBe(-1);
    expect(index.size).toBe(0);
  });
});
