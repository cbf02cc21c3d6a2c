// Untrusted node storage (host/enclavisor/node-store.ts): host memory for unit tests, and DRAM
// frames the hypervisor backs as shared pages of the VM, where the adversary API reaches them.
import { describe, expect, it } from "vitest";
import { DramNodeStore, MemoryNodeStore } from "../../host/enclavisor/node-store";
import { PAGE_SIZE } from "../../host/page";
import { MAX_FRAME } from "../../host/sev/page";
import { machine } from "../sev/fixtures/machine";

function node(bytes: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);
}

function read(store: { nodeBytes: number; read(i: number, out: Uint8Array): void }, index: number): Uint8Array {
  const out = new Uint8Array(store.nodeBytes).fill(0xee);
  store.read(index, out);
  return out;
}

describe("MemoryNodeStore", () => {
  it("reads zeroes for nodes never written, and what was written otherwise", () => {
    const store = new MemoryNodeStore(96);
    expect(read(store, 5)).toEqual(new Uint8Array(96));
    store.write(5, node(96, 1));
    store.write(6, node(96, 2));
    expect(read(store, 5)).toEqual(node(96, 1));
    expect(read(store, 6)).toEqual(node(96, 2));
    expect(store.counts).toEqual({ reads: 3, writes: 2 });
  });

  it("keeps its own copy of what it is given", () => {
    const store = new MemoryNodeStore(32);
    const bytes = node(32, 3);
    store.write(0, bytes);
    bytes[0]! ^= 0xff;
    expect(read(store, 0)).toEqual(node(32, 3));
  });

  it("refuses bad sizes and indices with a clear error", () => {
    expect(() => new MemoryNodeStore(0)).toThrow(/node size/);
    const store = new MemoryNodeStore(32);
    expect(() => store.write(0, new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => store.read(0, new Uint8Array(33))).toThrow(/32 bytes/);
    expect(() => store.read(-1, new Uint8Array(32))).toThrow(/node index/);
    expect(() => store.write(1.5, new Uint8Array(32))).toThrow(/node index/);
  });
});

describe.each([
  ["through the memory controller (guest, C-bit clear)", true],
  ["through the hypervisor's accesses", false],
])("DramNodeStore %s", (_, viaMc) => {
  function setup(snp = false) {
    const m = machine({ snp });
    const vm = m.hv.launchVm();
    return { m, vm, store: new DramNodeStore(m.hv, vm, 256, viaMc ? { mc: m.mc } : {}) };
  }

  it("packs nodes into frames and backs a frame only on its first write", () => {
    const { m, vm, store } = setup();
    expect(store.nodesPerFrame).toBe(PAGE_SIZE / 256);
    const before = m.dram.stats().allocated;
    expect(read(store, 40)).toEqual(new Uint8Array(256));
    expect(m.dram.stats().allocated).toBe(before);
    expect(() => store.frameOf(40)).toThrow(/has no frame yet/);
    store.write(40, node(256, 1));
    store.write(41, node(256, 2));
    expect(m.dram.stats().allocated).toBe(before + 1);
    expect(store.frameOf(40)).toBe(store.frameOf(41));
    expect(store.frameOf(40)).toBe(vm.npt.lookup(store.gpaBase + 2));
    expect(read(store, 40)).toEqual(node(256, 1));
    expect(read(store, 41)).toEqual(node(256, 2));
    expect(read(store, 42)).toEqual(new Uint8Array(256));
  });

  it.each([false, true])("holds nodes in plaintext where the adversary can read and change them (SNP %s)", (snp) => {
    const { m, store } = setup(snp);
    store.write(17, node(256, 9));
    store.write(18, node(256, 10));
    const spa = store.frameOf(17);
    const frame = m.hv.adversary.readFrame(spa, "cpu");
    expect(frame.subarray(store.offsetOf(17), store.offsetOf(17) + 256)).toEqual(node(256, 9));
    expect(m.mc.isPrivate(spa)).toBe(false);
    m.hv.adversary.flipBits(spa, store.offsetOf(17) + 3, 0x80, "cpu");
    const tampered = node(256, 9);
    tampered[3]! ^= 0x80;
    expect(read(store, 17)).toEqual(tampered);
    expect(read(store, 18)).toEqual(node(256, 10));
  });

  it("reads through the VM's NPT: a remapped frame is what the store then returns", () => {
    const { m, vm, store } = setup();
    store.write(0, node(256, 1));
    store.write(16, node(256, 2)); // the next frame
    m.hv.adversary.remap(vm, store.gpaBase, store.frameOf(16));
    expect(read(store, 0)).toEqual(node(256, 2));
    m.hv.adversary.unmap(vm, store.gpaBase);
    expect(() => read(store, 0)).toThrow(/nested page fault/);
  });

  it("backs frames one by one across its table's chunks, up to GPA 2^40-1 and no further", () => {
    const { vm, store } = setup();
    const perFrame = store.nodesPerFrame;
    const last = (MAX_FRAME - store.gpaBase) * perFrame; // the first node of the frame at GPA 2^40-1
    for (const index of [1023 * perFrame, 1024 * perFrame, last]) store.write(index, node(256, index));
    for (const index of [1023 * perFrame, 1024 * perFrame, last]) expect(read(store, index)).toEqual(node(256, index));
    expect(store.frameOf(last)).toBe(vm.npt.lookup(MAX_FRAME));
    expect(store.frameOf(1023 * perFrame)).not.toBe(store.frameOf(1024 * perFrame));
    expect(() => store.frameOf(1022 * perFrame)).toThrow(/has no frame yet/);
    // A node beyond the last frame reads as never written, and cannot be written.
    const beyond = last + perFrame;
    expect(read(store, beyond)).toEqual(new Uint8Array(256));
    expect(() => store.write(beyond, node(256, 1))).toThrow(/GPA 0x10000000000 of node store frame \d+ must be an integer frame number/);
    expect(() => store.frameOf(beyond)).toThrow(/has no frame yet/);
  });

  it("refuses nodes larger than a frame and frames that collide with the guest's GPAs", () => {
    const { m, vm } = setup();
    expect(() => new DramNodeStore(m.hv, vm, PAGE_SIZE + 1)).toThrow(/node size/);
    m.hv.addPages(vm, [7]);
    const store = new DramNodeStore(m.hv, vm, 64, { gpaBase: 7, mc: viaMc ? m.mc : undefined });
    expect(() => store.write(0, new Uint8Array(64))).toThrow(/already mapped/);
  });
});
