// The counter-tree integrity scheme (host/enclavisor/counter-tree.ts): round trips, minor-counter
// overflow and the re-key of a group, and each attack on its untrusted state named by GPA and
// check: a MAC changed, a page replayed with its old MAC, a page and its MAC spliced to another
// GPA, a counter node changed or rolled back.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CounterTree, PAGE_MAC_BYTES, PAGES_PER_LEAF } from "../../host/enclavisor/counter-tree";
import { IntegrityViolation } from "../../host/enclavisor/integrity-violation";
import { MemoryNodeStore } from "../../host/enclavisor/node-store";
import { PAGE_SIZE } from "../../host/page";

function page(seed: number): Uint8Array {
  const p = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i++) p[i] = (seed * 31 + i * 7) & 0xff;
  return p;
}

/** A tree over `frames` pages, with its stores and the "DRAM" a re-key reads stored pages back from. */
function setup(opts: { frames?: number; arity?: number; cacheNodes?: number } = {}) {
  const arity = opts.arity ?? 8;
  const store = new MemoryNodeStore(CounterTree.nodeBytesFor(arity));
  const macs = new MemoryNodeStore(PAGE_MAC_BYTES);
  const dram = new Map<number, Uint8Array>();
  const t = new CounterTree({
    frames: opts.frames ?? 1024, arity, cacheNodes: opts.cacheNodes, key: new Uint8Array(randomBytes(32)), store, macs,
    readPage: (gpa, dst) => dst.set(dram.get(gpa) ?? new Uint8Array(PAGE_SIZE)),
  });
  /** A store as Enclavisor does it: the tree records the page, then the page goes to DRAM. */
  const write = (gpa: number, bytes: Uint8Array) => {
    t.updatePage(gpa, bytes);
    dram.set(gpa, bytes.slice());
  };
  const mac = (gpa: number) => {
    const out = new Uint8Array(PAGE_MAC_BYTES);
    macs.read(gpa, out);
    return out;
  };
  return { t, store, macs, dram, write, mac };
}

function violation(fn: () => unknown): IntegrityViolation {
  try {
    fn();
  } catch (e) {
    if (e instanceof IntegrityViolation) return e;
    throw e;
  }
  throw new Error("expected an IntegrityViolation, nothing was thrown");
}

describe("CounterTree: round trips", () => {
  it("verifies what was stored, through flushes and a cold cache", () => {
    const { t, write } = setup();
    for (const gpa of [0, 1, 63, 64, 500, 1023]) write(gpa, page(gpa));
    for (const gpa of [0, 1, 63, 64, 500, 1023]) t.verifyPage(gpa, page(gpa));
    t.flush();
    t.evictAll();
    expect(t.cachedNodes).toBe(0);
    for (const gpa of [0, 1, 63, 64, 500, 1023]) t.verifyPage(gpa, page(gpa));
    expect(t.stats.nodesVerified).toBeGreaterThan(0);
    expect(t.stats.leafUpdates).toBe(6);
  });

  it("accepts zeroes for a page never stored and refuses anything else", () => {
    const { t } = setup();
    t.verifyPage(7, new Uint8Array(PAGE_SIZE));
    expect(violation(() => t.verifyPage(7, page(1)))).toMatchObject({ gpa: 7, check: "page MAC" });
  });

  it("counts versions: each store raises the page's minor; the group shares its major", () => {
    const { t, write } = setup();
    write(5, page(1));
    write(5, page(2));
    write(6, page(3));
    expect(t.versionOf(5)).toEqual({ major: 0, minor: 2 });
    expect(t.versionOf(6)).toEqual({ major: 0, minor: 1 });
    expect(t.versionOf(7)).toEqual({ major: 0, minor: 0 });
    expect(() => t.verifyPage(5, page(1))).toThrow(IntegrityViolation); // the older content
    t.verifyPage(5, page(2));
  });

  it("re-keys the group when a minor counter overflows: a new major, and every stored page MACed again", () => {
    const { t, write, dram } = setup();
    write(130, page(7)); // a neighbour in the same group (128..191), stored once
    write(190, page(8));
    for (let n = 1; n <= 127; n++) write(129, page(100 + n));
    expect(t.versionOf(129)).toEqual({ major: 0, minor: 127 });
    expect(t.stats.groupRekeys).toBe(0);
    write(129, page(999)); // the 128th store: past 7 bits
    expect(t.stats.groupRekeys).toBe(1);
    expect(t.versionOf(129)).toEqual({ major: 1, minor: 1 });
    expect(t.versionOf(130)).toEqual({ major: 1, minor: 1 });
    expect(t.versionOf(131)).toEqual({ major: 1, minor: 0 }); // never stored: still nothing to check
    t.verifyPage(129, page(999));
    t.verifyPage(130, page(7));
    t.verifyPage(190, page(8));
    t.evictAll();
    t.verifyPage(130, dram.get(130)!);
    // Another group is not touched.
    write(5, page(5));
    expect(t.versionOf(5).major).toBe(0);
  });

  it("stops a re-key whose stored page no longer verifies, and leaves the group's counters as they were", () => {
    const { t, write, dram } = setup();
    write(3, page(1));
    for (let n = 0; n < 127; n++) write(2, page(n));
    dram.set(3, page(66)); // what DRAM gives back for page 3 is not what was stored
    expect(violation(() => write(2, page(500)))).toMatchObject({ gpa: 3, check: "page MAC" });
    expect(t.versionOf(3)).toEqual({ major: 0, minor: 1 });
    expect(t.versionOf(2)).toEqual({ major: 0, minor: 127 });
  });
});

describe("CounterTree: attacks on untrusted memory", () => {
  it("a changed MAC fails the page's check", () => {
    const { t, write, macs, mac } = setup();
    write(9, page(9));
    const tag = mac(9);
    tag[3]! ^= 0x10;
    macs.write(9, tag);
    expect(violation(() => t.verifyPage(9, page(9)))).toMatchObject({ gpa: 9, check: "page MAC" });
  });

  it("a page replayed together with its old MAC fails: the version moved on", () => {
    const { t, write, macs, mac } = setup();
    write(9, page(1));
    const oldMac = mac(9);
    write(9, page(2));
    macs.write(9, oldMac);
    const v = violation(() => t.verifyPage(9, page(1)));
    expect(v).toMatchObject({ gpa: 9, check: "page MAC" });
    expect(v.message).toContain("version 0.2");
  });

  it("splicing: a page and its MAC moved to another GPA fail there", () => {
    const { t, write, macs, mac } = setup();
    write(10, page(10));
    write(11, page(11)); // the same version (0.1) in the same group: only the GPA tells them apart
    macs.write(11, mac(10));
    expect(violation(() => t.verifyPage(11, page(10)))).toMatchObject({ gpa: 11, check: "page MAC" });
  });

  it("a changed counter leaf, and a changed inner node, fail at their level", () => {
    const { t, write, store } = setup();
    write(70, page(70));
    t.evictAll();
    const leaf = t.nodeIndexOf(70, 0);
    const node = new Uint8Array(store.nodeBytes);
    store.read(leaf, node);
    node[t.versionByteOf(70)]! ^= 0x80;
    store.write(leaf, node);
    expect(violation(() => t.verifyPage(70, page(70)))).toMatchObject({ gpa: 70, check: "leaf" });

    const fresh = setup();
    fresh.write(70, page(70));
    fresh.t.evictAll();
    const inner = fresh.t.nodeIndexOf(70, 1);
    fresh.store.read(inner, node);
    node[0]! ^= 0x01;
    fresh.store.write(inner, node);
    expect(violation(() => fresh.t.verifyPage(70, page(70)))).toMatchObject({ gpa: 70, check: "node level 1" });
  });

  it("counter rollback: old counter nodes put back, with the old page and its old MAC, fail", () => {
    const { t, write, store, macs, mac } = setup();
    write(200, page(1));
    t.evictAll();
    const path = Array.from({ length: t.levels }, (_, level) => t.nodeIndexOf(200, level));
    const saved = path.map((i) => {
      const n = new Uint8Array(store.nodeBytes);
      store.read(i, n);
      return n;
    });
    const oldMac = mac(200);
    write(200, page(2));
    t.evictAll();
    path.forEach((i, k) => store.write(i, saved[k]!));
    macs.write(200, oldMac);
    // Everything in untrusted memory is as it was, consistently: only the root on chip moved on.
    expect(violation(() => t.verifyPage(200, page(1))).check).toBe(`node level ${t.levels - 1}`);
  });

  it("the untrusted stores hold counters and tags, never a byte of a page", () => {
    const { write, macs, mac, store, t } = setup();
    const secret = new TextEncoder().encode("SECRET-".repeat(600)).subarray(0, PAGE_SIZE);
    write(1, secret);
    t.flush();
    const everything = [...mac(1)];
    for (let i = 0; i < t.nodeIndexOf(1, t.levels - 1) + 1; i++) {
      const n = new Uint8Array(store.nodeBytes);
      store.read(i, n);
      everything.push(...n);
    }
    expect(Buffer.from(everything).includes(Buffer.from("SECRET"))).toBe(false);
    expect(macs.counts.writes).toBe(1);
  });
});

describe("CounterTree: shape and bad input", () => {
  it("has 64 pages per leaf, 64-byte nodes at arity 8, and one top node", () => {
    const { t } = setup({ frames: 64 * 8 * 8 });
    expect(t.pagesPerLeaf).toBe(PAGES_PER_LEAF);
    expect(t.nodeBytes).toBe(64);
    expect(t.levels).toBe(3);
    expect(CounterTree.nodeBytesFor(16)).toBe(128);
  });

  it("names the problem", () => {
    const store = new MemoryNodeStore(64);
    const macs = new MemoryNodeStore(PAGE_MAC_BYTES);
    const readPage = () => {};
    expect(() => new CounterTree({ frames: 8, key: new Uint8Array(16), store, macs, readPage })).toThrow(/integrity key must be 32 bytes/);
    expect(() => new CounterTree({ frames: 8, key: new Uint8Array(32), store: new MemoryNodeStore(32), macs, readPage })).toThrow(/needs 64/);
    expect(() => new CounterTree({ frames: 8, key: new Uint8Array(32), store, macs: new MemoryNodeStore(8), readPage })).toThrow(/16-byte records/);
    expect(() => new CounterTree({ frames: 0, key: new Uint8Array(32), store, macs, readPage })).toThrow(/frames must be/);
    const { t } = setup({ frames: 8 });
    expect(() => t.verifyPage(8, page(1))).toThrow(RangeError);
  });
});
