// EnclaveMemory's batches (loadRun, storeMany), as the MMU's sequential fills and grouped
// write-backs use them: the same pages, checks and stops as one page at a time, under both
// integrity schemes and without integrity; a MAC check that fails, a nested page fault and a
// minor-counter overflow in the middle of a batch.
import { describe, expect, it } from "vitest";
import type { CounterTree } from "../../host/enclavisor/counter-tree";
import type { SevEnclave } from "../../host/launcher/backend";
import { launchEnclave } from "../../host/launcher/run-app";
import { PAGE_SIZE } from "../../host/page";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { wat } from "../wasm/wat";
import { asSev, patternPage, platformFor, tinySwitches } from "./fixtures/enclave";

const GUEST = wat(`(module (memory 2 2))`); // 32 pages the guest never touches: the test drives the backing
const CONFIGS = [
  { name: "enclavisor, counter tree", mode: "enclavisor", scheme: "counter" },
  { name: "enclavisor, Merkle tree", mode: "enclavisor", scheme: "merkle" },
  { name: "sev-snp, no integrity", mode: "sev-snp", scheme: "counter" },
] as const;

async function enclave(mode: "enclavisor" | "sev-snp", scheme: "counter" | "merkle"): Promise<SevEnclave> {
  const switches = tinySwitches(mode, mode === "enclavisor" ? { integrityScheme: scheme } : {});
  return asSev(await launchEnclave(GUEST, { switches, platform: platformFor(switches) }));
}

const pages = (first: number, n: number) => Array.from({ length: n }, (_, k) => first + k);
const contents = (ps: readonly number[], salt = 0) => ps.map((p) => patternPage(p + 100 * salt));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe.each(CONFIGS)("EnclaveMemory batches ($name)", ({ mode, scheme }) => {
  it("loads and stores what one page at a time would, and says which pages were never stored", async () => {
    const e = await enclave(mode, scheme);
    try {
      const m = e.memory;
      const batch = pages(4, 6);
      m.storeMany(batch, contents(batch));
      m.store(12, patternPage(12)); // one at a time, read back in a run
      const dst = new Uint8Array(10 * PAGE_SIZE).fill(0xee);
      const stored = new Uint8Array(10);
      m.loadRun(3, 10, dst, stored);
      expect([...stored]).toEqual([0, 1, 1, 1, 1, 1, 1, 0, 0, 1]);
      for (let k = 0; k < 10; k++) {
        const got = dst.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE);
        if (stored[k]) expect(Buffer.compare(got, patternPage(3 + k)), `page ${3 + k}`).toBe(0);
        else expect(got.every((b) => b === 0xee), `page ${3 + k} left as it was`).toBe(true);
      }
      const one = new Uint8Array(PAGE_SIZE);
      expect(m.load(6, one)).toBe(true);
      expect(Buffer.compare(one, patternPage(6))).toBe(0);
      // Stored again in a batch: the new contents win.
      m.storeMany([6, 12], contents([6, 12], 1));
      m.loadRun(6, 1, one, stored);
      expect(Buffer.compare(one, patternPage(106))).toBe(0);
      expect(m.load(12, one)).toBe(true);
      expect(Buffer.compare(one, patternPage(112))).toBe(0);
    } finally {
      e.destroy();
    }
  });

  it("stops the enclave on a changed frame in the middle of a run, naming its page, with the run zeroed", async () => {
    const e = await enclave(mode, scheme);
    try {
      const m = e.memory;
      const batch = pages(0, 8);
      m.storeMany(batch, contents(batch));
      const adv = e.platform.hv.adversary;
      adv.flipBits(adv.translate(e.vm, m.pageTable.lookup(5)!.gpa)!, 77, 4, "physical");
      const dst = new Uint8Array(8 * PAGE_SIZE);
      const at = (p: number) => dst.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
      if (mode === "sev-snp") {
        // No integrity: the physical write goes unnoticed, and page 5 decrypts to garbage, as one load would.
        m.loadRun(0, 8, dst, new Uint8Array(8));
        expect(Buffer.compare(at(5), patternPage(5))).not.toBe(0);
        expect(Buffer.compare(at(4), patternPage(4))).toBe(0);
        return;
      }
      const err = thrown(() => m.loadRun(0, 8, dst, new Uint8Array(8)));
      expect(err).toBeInstanceOf(EnclaveStopped);
      expect((err as EnclaveStopped).reason).toBe("integrity");
      expect((err as EnclaveStopped).message).toMatch(/load of guest page 5 /);
      expect(dst.every((b) => b === 0)).toBe(true);
      expect(() => m.load(0, new Uint8Array(PAGE_SIZE))).toThrow(err as Error);
    } finally {
      e.destroy();
    }
  });

  it("stops the enclave on a nested page fault in a batch, before any page of it is read or written", async () => {
    const e = await enclave(mode, scheme);
    try {
      const m = e.memory;
      const batch = pages(8, 4);
      m.storeMany(batch, contents(batch));
      e.platform.hv.adversary.unmap(e.vm, m.pageTable.lookup(10)!.gpa);
      const dst = new Uint8Array(4 * PAGE_SIZE).fill(1);
      const err = thrown(() => m.loadRun(8, 4, dst, new Uint8Array(4)));
      expect(err).toBeInstanceOf(EnclaveStopped);
      expect((err as EnclaveStopped).reason).toBe("memory-fault");
      expect((err as EnclaveStopped).message).toMatch(/load of guest page 10 .*nested page fault/);
      expect(dst.every((b) => b === 0)).toBe(true);
      expect(() => m.storeMany([8], contents([8]))).toThrow(err as Error);
    } finally {
      e.destroy();
    }
  });
});

describe("a counter-tree batch across a minor-counter overflow", () => {
  it("stores the page whose minor overflows on its own, so that its re-key reads no page of the batch with a version not yet written", async () => {
    const e = await enclave("enclavisor", "counter");
    try {
      const m = e.memory;
      const tree = e.tree as CounterTree;
      for (let v = 0; v < 127; v++) m.store(1, patternPage(v)); // page 1's minor at its maximum
      m.store(3, patternPage(3));
      const gpa1 = m.pageTable.lookup(1)!.gpa;
      expect(tree.versionOf(gpa1).minor).toBe(127);
      const rekeys = tree.stats.groupRekeys;
      const batch = [0, 2, 1, 4];
      m.storeMany(batch, contents(batch, 7));
      expect(tree.stats.groupRekeys).toBe(rekeys + 1);
      expect(tree.versionOf(gpa1).minor).toBe(1);
      const dst = new Uint8Array(5 * PAGE_SIZE);
      m.loadRun(0, 5, dst, new Uint8Array(5));
      for (let p = 0; p < 5; p++) {
        const want = p === 3 ? patternPage(3) : patternPage(p + 700);
        expect(Buffer.compare(dst.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), want), `page ${p}`).toBe(0);
      }
    } finally {
      e.destroy();
    }
  });
});
