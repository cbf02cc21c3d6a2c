// The Merkle integrity tree and its integrity cache (host/enclavisor/merkle-tree.ts): round
// trips, every kind of tampering named by GPA and check, lazy write-back, the bounded cache, and
// the tree on a real hypervisor's DRAM with the adversary API.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MerkleTree, TREE_HASHES } from "../../host/enclavisor/merkle-tree";
import type { TreeHash } from "../../host/enclavisor/merkle-tree";
import { IntegrityViolation } from "../../host/enclavisor/integrity-violation";
import { DramNodeStore, MemoryNodeStore } from "../../host/enclavisor/node-store";
import { PAGE_SIZE } from "../../host/page";
import { machine } from "../sev/fixtures/machine";

/** A page holding `SECRET-<seed>-` over and over: what must never show in an error message. */
function secretPage(seed: number): Uint8Array {
  const word = new TextEncoder().encode(`SECRET-${seed}-`);
  const page = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i++) page[i] = word[i % word.length]!;
  return page;
}

function tree(opts: { frames?: number; arity?: number; cacheNodes?: number; hash?: TreeHash } = {}) {
  const arity = opts.arity ?? 4;
  const store = new MemoryNodeStore(MerkleTree.nodeBytesFor({ arity, hash: opts.hash }));
  const t = new MerkleTree({ frames: opts.frames ?? 256, arity, cacheNodes: opts.cacheNodes, hash: opts.hash, store });
  return { t, store };
}

/** The violation `fn` throws (failing the test if it throws anything else or nothing). */
function violation(fn: () => unknown): IntegrityViolation {
  try {
    fn();
  } catch (e) {
    if (e instanceof IntegrityViolation) return e;
    throw e;
  }
  throw new Error("expected an IntegrityViolation, nothing was thrown");
}

function expectViolation(fn: () => unknown, gpa: number, check: string): IntegrityViolation {
  const v = violation(fn);
  expect(v.gpa).toBe(gpa);
  expect(v.check).toBe(check);
  expect(v.message).toContain(`GPA 0x${gpa.toString(16)}`);
  expect(v.message).toContain(check);
  expect(v.message).not.toContain("SECRET");
  expect(v.message).not.toMatch(/[0-9a-f]{16}/i); // no digest or bytes in hex
  return v;
}

function readNode(store: MemoryNodeStore, index: number): Uint8Array {
  const out = new Uint8Array(store.nodeBytes);
  store.read(index, out);
  return out;
}

function flipNode(store: MemoryNodeStore, index: number, offset: number, mask = 0x01): void {
  const node = readNode(store, index);
  node[offset]! ^= mask;
  store.write(index, node);
}

describe("MerkleTree: round trips", () => {
  it("verifies what was recorded, through evictions, flushes and a cold cache", () => {
    const { t } = tree({ frames: 300, arity: 3, cacheNodes: 12 });
    const model = new Map<number, number>();
    let seed = 1;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
    for (let i = 0; i < 600; i++) {
      const gpa = rnd() % 300;
      if (rnd() % 3 === 0 && model.has(gpa)) {
        t.verifyPage(gpa, secretPage(model.get(gpa)!));
      } else {
        model.set(gpa, i);
        t.updatePage(gpa, secretPage(i));
      }
      expect(t.cachedNodes).toBeLessThanOrEqual(12);
      if (i === 300) t.flush();
    }
    t.evictAll();
    expect(t.cachedNodes).toBe(0);
    for (const [gpa, s] of model) t.verifyPage(gpa, secretPage(s));
    expect(t.stats.leafUpdates).toBeGreaterThan(300);
    expect(t.stats.nodeWriteBacks).toBeGreaterThan(0);
  });

  it("accepts zeroes for a page never written and refuses anything else", () => {
    const { t } = tree();
    t.verifyPage(17, new Uint8Array(PAGE_SIZE));
    const page = new Uint8Array(PAGE_SIZE);
    page[4095] = 1;
    expectViolation(() => t.verifyPage(17, page), 17, "page hash");
  });

  it("refuses an older version of a page, and the current one of another GPA", () => {
    const { t } = tree();
    t.updatePage(5, secretPage(1));
    t.updatePage(5, secretPage(2));
    t.updatePage(6, secretPage(3));
    t.verifyPage(5, secretPage(2));
    expectViolation(() => t.verifyPage(5, secretPage(1)), 5, "page hash");
    expectViolation(() => t.verifyPage(5, secretPage(3)), 5, "page hash");
  });

  it("binds the version: the same bytes written again make a new leaf", () => {
    const { t, store } = tree({ frames: 64 });
    t.updatePage(3, secretPage(7));
    t.flush();
    const leafIndex = t.nodeIndexOf(3);
    const before = readNode(store, leafIndex);
    t.updatePage(3, secretPage(7));
    t.flush();
    expect(Buffer.compare(readNode(store, leafIndex), before)).not.toBe(0);
    t.verifyPage(3, secretPage(7));
  });

  it.each(TREE_HASHES.flatMap((h) => [2, 5, 16, 64, 128].map((a) => [h, a] as const)))("round trip and detection with %s, arity %i", (hash, arity) => {
    const { t, store } = tree({ frames: 1000, arity, hash, cacheNodes: 8 + 2 * Math.ceil(Math.log(1000) / Math.log(arity)) });
    for (let gpa = 0; gpa < 1000; gpa += 7) t.updatePage(gpa, secretPage(gpa));
    t.evictAll();
    for (let gpa = 0; gpa < 1000; gpa += 7) t.verifyPage(gpa, secretPage(gpa));
    t.evictAll();
    flipNode(store, t.nodeIndexOf(700), 3);
    expectViolation(() => t.verifyPage(700, secretPage(700)), 700, "leaf");
  });
});

describe("MerkleTree: tampering with the store", () => {
  /** A tree with every page 0..63 written once and all nodes in the store, the cache empty. */
  function written(opts: { frames?: number; arity?: number } = {}) {
    const r = tree({ frames: opts.frames ?? 64, arity: opts.arity ?? 4 });
    for (let gpa = 0; gpa < 64; gpa++) r.t.updatePage(gpa, secretPage(gpa));
    r.t.evictAll();
    return r;
  }

  it("a flipped bit in an inner node names its level", () => {
    const { t, store } = written({ frames: 1024 });
    expect(t.levels).toBeGreaterThanOrEqual(4);
    for (let level = 1; level < t.levels; level++) {
      const index = t.nodeIndexOf(42, level);
      flipNode(store, index, 5, 0x10);
      expectViolation(() => t.verifyPage(42, secretPage(42)), 42, `node level ${level}`);
      flipNode(store, index, 5, 0x10); // restored: the path verifies again
      t.evictAll();
      t.verifyPage(42, secretPage(42));
      t.evictAll();
    }
  });

  it("a flipped bit in the leaf metadata (version or digest) fails the leaf check", () => {
    const { t, store } = written();
    const rec = t.recordBytes;
    const slotOf = (gpa: number) => (gpa % t.recordsPerLeafNode) * rec;
    flipNode(store, t.nodeIndexOf(9), slotOf(9)); // version
    expectViolation(() => t.verifyPage(9, secretPage(9)), 9, "leaf");
    flipNode(store, t.nodeIndexOf(9), slotOf(9));
    flipNode(store, t.nodeIndexOf(9), slotOf(9) + 8 + 31, 0x80); // digest
    expectViolation(() => t.verifyPage(9, secretPage(9)), 9, "leaf");
  });

  it("a zeroed node, and bytes put where nothing was written, are detected", () => {
    const { t, store } = written({ frames: 1024 });
    store.write(t.nodeIndexOf(20), new Uint8Array(store.nodeBytes));
    expectViolation(() => t.verifyPage(20, secretPage(20)), 20, "leaf");
    // Pages 64.. were never written: their leaf node is all zeroes under a zero digest.
    const forged = new Uint8Array(store.nodeBytes);
    forged[0] = 1;
    store.write(t.nodeIndexOf(900), forged);
    expectViolation(() => t.verifyPage(900, new Uint8Array(PAGE_SIZE)), 900, "leaf");
  });

  it("a replayed old leaf node with its old page fails the leaf check", () => {
    const { t, store } = written();
    const leafIndex = t.nodeIndexOf(12);
    const oldLeaf = readNode(store, leafIndex);
    t.updatePage(12, secretPage(1000));
    t.evictAll();
    store.write(leafIndex, oldLeaf); // old version number and old digest
    expectViolation(() => t.verifyPage(12, secretPage(12)), 12, "leaf");
  });

  it("a replayed old inner node (with its old subtree) fails at its level", () => {
    const { t, store } = written({ frames: 1024 });
    const snapshot = Array.from({ length: t.storeNodes }, (_, i) => readNode(store, i));
    t.updatePage(12, secretPage(1000));
    t.evictAll();
    // Replay everything below the top: the whole old tree but for the node the root vouches for.
    for (let i = 0; i < t.storeNodes - 1; i++) store.write(i, snapshot[i]!);
    expectViolation(() => t.verifyPage(12, secretPage(12)), 12, `node level ${t.levels - 2}`);
    // Replaying the top node too (once it has left the cache) fails against the trusted root.
    t.evictAll();
    store.write(t.storeNodes - 1, snapshot[t.storeNodes - 1]!);
    expectViolation(() => t.verifyPage(12, secretPage(12)), 12, `node level ${t.levels - 1}`);
  });

  it("relocation: swapped leaf records, swapped leaf nodes, swapped pages", () => {
    const { t, store } = written({ frames: 64, arity: 8 });
    expect(t.recordsPerLeafNode).toBeGreaterThanOrEqual(2);
    // Two records of one leaf node exchanged.
    const index = t.nodeIndexOf(0);
    const node = readNode(store, index);
    const swapped = node.slice();
    swapped.set(node.subarray(0, t.recordBytes), t.recordBytes);
    swapped.set(node.subarray(t.recordBytes, 2 * t.recordBytes), 0);
    store.write(index, swapped);
    expectViolation(() => t.verifyPage(1, secretPage(0)), 1, "leaf");
    store.write(index, node);
    // Two leaf nodes exchanged, each with the other's pages.
    const a = t.nodeIndexOf(0);
    const b = t.nodeIndexOf(t.recordsPerLeafNode);
    const na = readNode(store, a);
    const nb = readNode(store, b);
    store.write(a, nb);
    store.write(b, na);
    expectViolation(() => t.verifyPage(0, secretPage(t.recordsPerLeafNode)), 0, "leaf");
    store.write(a, na);
    store.write(b, nb);
    // The pages alone exchanged (a remap in DRAM): the leaf binds the GPA.
    t.verifyPage(0, secretPage(0));
    expectViolation(() => t.verifyPage(1, secretPage(0)), 1, "page hash");
  });

  it("tampering with the store copy of a cached node changes nothing until it is read again", () => {
    const { t, store } = written();
    t.verifyPage(30, secretPage(30)); // path cached
    const hits = t.stats.cacheHits;
    flipNode(store, t.nodeIndexOf(30), 0);
    t.verifyPage(30, secretPage(30)); // served from the trusted cache
    expect(t.stats.cacheHits).toBe(hits + 1);
    t.evictAll(); // clean nodes are not written back: the tampered copy stays
    expectViolation(() => t.verifyPage(30, secretPage(30)), 30, "leaf");
  });

  it("an update over a tampered path is refused too", () => {
    const { t, store } = written({ frames: 1024 });
    flipNode(store, t.nodeIndexOf(50, 1), 0);
    expectViolation(() => t.updatePage(50, secretPage(1)), 50, "node level 1");
  });
});

describe("MerkleTree: lazy write-back and the bounded cache", () => {
  it("updates inside the cache write nothing; flush writes each dirty node once", () => {
    const { t, store } = tree({ frames: 256, arity: 4, cacheNodes: 1024 });
    for (let round = 0; round < 5; round++) for (let gpa = 0; gpa < 256; gpa++) t.updatePage(gpa, secretPage(gpa + round));
    expect(store.counts.writes).toBe(0);
    expect(t.stats.nodeWriteBacks).toBe(0);
    t.flush();
    expect(store.counts.writes).toBe(t.storeNodes); // every node is dirty, once each
    expect(t.stats.nodeWriteBacks).toBe(t.storeNodes);
    t.flush();
    expect(store.counts.writes).toBe(t.storeNodes);
    for (let gpa = 0; gpa < 256; gpa++) t.verifyPage(gpa, secretPage(gpa + 4));
  });

  it("with a small cache, nodes are written back only as they leave it", () => {
    const { t, store } = tree({ frames: 4096, arity: 4, cacheNodes: 16 });
    for (let gpa = 0; gpa < 4096; gpa += 64) {
      t.updatePage(gpa, secretPage(gpa));
      expect(t.cachedNodes).toBeLessThanOrEqual(16);
    }
    expect(store.counts.writes).toBeGreaterThan(0);
    expect(store.counts.writes).toBe(t.stats.nodeWriteBacks);
    const before = store.counts.writes;
    t.flush();
    expect(store.counts.writes - before).toBeLessThanOrEqual(16);
    t.evictAll();
    for (let gpa = 0; gpa < 4096; gpa += 64) t.verifyPage(gpa, secretPage(gpa));
  });

  it("the minimum cache is one path, and it still works", () => {
    const probe = tree({ frames: 4096, arity: 2 }).t;
    expect(() => tree({ frames: 4096, arity: 2, cacheNodes: probe.levels - 1 })).toThrow(/at least one path/);
    const { t } = tree({ frames: 4096, arity: 2, cacheNodes: probe.levels });
    for (let i = 0; i < 200; i++) {
      const gpa = (i * 2654435761) % 4096;
      t.updatePage(gpa, secretPage(i));
      expect(t.cachedNodes).toBeLessThanOrEqual(probe.levels);
      t.verifyPage(gpa, secretPage(i));
    }
  });

  it("counts hits, misses and nodes verified along a path", () => {
    const { t } = tree({ frames: 1024, arity: 4 });
    t.updatePage(100, secretPage(1));
    t.evictAll();
    const s0 = { ...t.stats };
    t.verifyPage(100, secretPage(1));
    expect(t.stats.cacheMisses - s0.cacheMisses).toBe(t.levels);
    expect(t.stats.nodesVerified - s0.nodesVerified).toBe(t.levels);
    t.verifyPage(100, secretPage(1));
    expect(t.stats.cacheHits - s0.cacheHits).toBe(1);
    expect(t.stats.nodesVerified - s0.nodesVerified).toBe(t.levels);
  });
});

describe("MerkleTree: what the untrusted store learns", () => {
  it("leaf digests are salted per tree: no plain hash of a page reaches the store", () => {
    const a = tree({ frames: 64 });
    const b = tree({ frames: 64 });
    const page = secretPage(5);
    a.t.updatePage(3, page);
    b.t.updatePage(3, page);
    a.t.flush();
    b.t.flush();
    const leafA = readNode(a.store, a.t.nodeIndexOf(3));
    const leafB = readNode(b.store, b.t.nodeIndexOf(3));
    expect(Buffer.compare(leafA, leafB)).not.toBe(0);
    const plain = createHash("sha256").update(page).digest();
    expect(Buffer.from(leafA).indexOf(plain)).toBe(-1);
  });
});

describe("MerkleTree: a store that fails", () => {
  it("keeps the tree consistent when a write-back throws, and the error is the store's", () => {
    const inner = new MemoryNodeStore(MerkleTree.nodeBytesFor({ arity: 4 }));
    let fail = false;
    const store = {
      nodeBytes: inner.nodeBytes,
      read: (i: number, out: Uint8Array) => inner.read(i, out),
      write: (i: number, bytes: Uint8Array) => {
        if (fail) throw new Error("bus error");
        inner.write(i, bytes);
      },
    };
    const t = new MerkleTree({ frames: 4096, arity: 4, cacheNodes: 12, store });
    for (let gpa = 0; gpa < 4096; gpa += 97) t.updatePage(gpa, secretPage(gpa));
    fail = true;
    expect(() => {
      for (let gpa = 1; gpa < 4096; gpa += 89) t.updatePage(gpa, secretPage(gpa));
    }).toThrow("bus error");
    fail = false;
    for (let gpa = 0; gpa < 4096; gpa += 97) t.updatePage(gpa, secretPage(gpa + 1));
    t.evictAll();
    expect(t.cachedNodes).toBe(0);
    for (let gpa = 0; gpa < 4096; gpa += 97) t.verifyPage(gpa, secretPage(gpa + 1));
  });
});

describe("MerkleTree: bad input", () => {
  it("names the problem", () => {
    const store = new MemoryNodeStore(MerkleTree.nodeBytes);
    expect(() => new MerkleTree({ frames: 0, store })).toThrow(/frames/);
    expect(() => new MerkleTree({ frames: 8, arity: 1, store })).toThrow(/arity/);
    expect(() => new MerkleTree({ frames: 8, hash: "md5" as TreeHash, store })).toThrow(/hash must be one of/);
    expect(() => new MerkleTree({ frames: 8, arity: 16, store })).toThrow(/node store holds/);
    const t = new MerkleTree({ frames: 8, store });
    expect(() => t.verifyPage(8, new Uint8Array(PAGE_SIZE))).toThrow(RangeError);
    expect(() => t.updatePage(-1, new Uint8Array(PAGE_SIZE))).toThrow(/GPA/);
    expect(() => t.updatePage(1, new Uint8Array(100))).toThrow(/4096 bytes/);
    expect(() => t.nodeIndexOf(1, 99)).toThrow(/level/);
  });
});

describe("MerkleTree on a hypervisor's DRAM (DramNodeStore)", () => {
  function onMachine(snp: boolean) {
    const m = machine({ snp });
    const vm = m.hv.launchVm();
    const store = new DramNodeStore(m.hv, vm, MerkleTree.nodeBytes, { mc: m.mc });
    const t = new MerkleTree({ frames: 2048, store });
    for (let gpa = 0; gpa < 2048; gpa += 3) t.updatePage(gpa, secretPage(gpa));
    t.evictAll();
    return { m, vm, store, t };
  }

  it.each([false, true])("detects an adversary's write to a node frame (SNP %s)", (snp) => {
    const { m, store, t } = onMachine(snp);
    for (let gpa = 0; gpa < 2048; gpa += 3) t.verifyPage(gpa, secretPage(gpa));
    t.evictAll();
    const leaf = t.nodeIndexOf(300);
    const spa = store.frameOf(leaf);
    const bytes = m.hv.adversary.readFrame(spa);
    bytes[store.offsetOf(leaf) + 2]! ^= 0x40; // the hypervisor's CPU write is allowed: shared page
    m.hv.adversary.writeFrame(spa, bytes);
    expectViolation(() => t.verifyPage(300, secretPage(300)), 300, "leaf");
  });

  it("detects a flipped bit and a replayed frame of inner nodes", () => {
    const { m, store, t } = onMachine(true);
    const inner = t.nodeIndexOf(600, 1);
    m.hv.adversary.flipBits(store.frameOf(inner), store.offsetOf(inner) + 1, 0x04, "physical");
    expectViolation(() => t.verifyPage(600, secretPage(600)), 600, "node level 1");
    m.hv.adversary.flipBits(store.frameOf(inner), store.offsetOf(inner) + 1, 0x04, "physical");
    t.verifyPage(600, secretPage(600));
    t.evictAll();
    const snaps = Array.from({ length: t.storeNodes }, (_, i) => store.frameOf(i))
      .filter((spa, i, all) => all.indexOf(spa) === i)
      .map((spa) => m.hv.adversary.snapshot(spa));
    t.updatePage(600, secretPage(1));
    t.evictAll();
    for (const snap of snaps) m.hv.adversary.replay(snap);
    // Everything replayed: the top node no longer matches the trusted root.
    expectViolation(() => t.verifyPage(600, secretPage(600)), 600, `node level ${t.levels - 1}`);
  });

  it("detects a remap of a node frame's GPA to another frame", () => {
    const { m, vm, store, t } = onMachine(false);
    const leafA = t.nodeIndexOf(0);
    const leafB = t.nodeIndexOf(2000);
    expect(store.frameOf(leafA)).not.toBe(store.frameOf(leafB));
    m.hv.adversary.remap(vm, store.gpaBase + Math.floor(leafA / store.nodesPerFrame), store.frameOf(leafB));
    expectViolation(() => t.verifyPage(0, secretPage(0)), 0, "leaf");
  });
});
