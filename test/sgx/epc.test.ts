import { describe, expect, it } from "vitest";
import { SgxAdversary } from "../../host/sgx/adversary";
import { Epc } from "../../host/sgx/epc";
import { EpcAccessDenied, epcAddress, EpcmFault, SgxIntegrityError } from "../../host/sgx/faults";
import { PAGE_SIZE } from "../../host/page";
import { NODE_BYTES } from "../../host/sgx/version-tree";

function page(seed: number): Uint8Array {
  return Uint8Array.from({ length: PAGE_SIZE }, (_, i) => (seed * 13 + i) & 0xff);
}

function epcWith(pages = 600) {
  const epc = new Epc({ pages, meeCacheNodes: 4 });
  const frame = epc.alloc(1, 42, "REG")!;
  epc.write(frame, 1, 42, page(1));
  return { epc, frame, adversary: new SgxAdversary(epc) };
}

describe("the EPC", () => {
  it("holds a page as ciphertext and gives it back to its owner", () => {
    const { epc, frame, adversary } = epcWith();
    const out = new Uint8Array(PAGE_SIZE);
    epc.read(frame, 1, 42, out);
    expect(Buffer.compare(out, page(1))).toBe(0);
    expect(Buffer.compare(adversary.read(epcAddress(frame), "physical"), page(1))).not.toBe(0);
    expect(adversary.read(epcAddress(frame), "cpu").every((b) => b === 0xff)).toBe(true);
  });

  it("starts a page as zeroes and never gives out more frames than it has", () => {
    const epc = new Epc({ pages: 3 });
    const frames = [epc.alloc(1, 0, "REG"), epc.alloc(1, 1, "REG"), epc.alloc(1, 2, "REG")];
    expect(frames.every((f) => f !== null)).toBe(true);
    expect(epc.alloc(1, 3, "REG")).toBeNull();
    const out = new Uint8Array(PAGE_SIZE).fill(1);
    epc.read(frames[0]!, 1, 0, out);
    expect(out.every((b) => b === 0)).toBe(true);
    epc.free(frames[1]!);
    expect(epc.freeFrames).toBe(1);
    expect(() => epc.free(frames[1]!)).toThrow(/not in use/);
  });

  it("refuses another enclave's or another page's access through the EPCM", () => {
    const { epc, frame } = epcWith();
    const out = new Uint8Array(PAGE_SIZE);
    expect(() => epc.read(frame, 2, 42, out)).toThrow(EpcmFault);
    expect(() => epc.read(frame, 1, 43, out)).toThrow(/EPCM check 'page-mismatch'/);
  });

  it("detects a replayed EPC page (old ciphertext with its old MAC)", () => {
    const { epc, frame, adversary } = epcWith();
    const old = adversary.snapshot(epcAddress(frame));
    epc.write(frame, 1, 42, page(2));
    adversary.replay(old, "physical");
    expect(() => epc.read(frame, 1, 42, new Uint8Array(PAGE_SIZE))).toThrow(SgxIntegrityError);
    expect(() => epc.read(frame, 1, 42, new Uint8Array(PAGE_SIZE))).toThrow(/integrity violation at EPC address 0x[0-9a-f]+: the page MAC check failed/);
  });

  it("detects a rollback of the page with every tree node on its path, by the on-die root", () => {
    const { epc, frame, adversary } = epcWith();
    expect(epc.tree.levels).toBeGreaterThan(1);
    const addresses = [epcAddress(frame), ...adversary.pathOf(frame)];
    const old = addresses.map((a) => adversary.snapshot(a));
    epc.write(frame, 1, 42, page(3));
    for (const s of old) adversary.replay(s, "physical");
    epc.tree.evictCache();
    expect(() => epc.read(frame, 1, 42, new Uint8Array(PAGE_SIZE))).toThrow(new RegExp(`the version tree level ${epc.tree.levels - 1} check failed`));
  });

  it("detects a changed version node once it is out of the MEE cache", () => {
    const { epc, frame, adversary } = epcWith();
    const [leaf] = adversary.pathOf(frame);
    adversary.flipBits(leaf!, 0, 0x01, "physical");
    epc.tree.evictCache();
    expect(() => epc.read(frame, 1, 42, new Uint8Array(PAGE_SIZE))).toThrow(/version tree level 0 check failed/);
    expect(adversary.read(leaf!)).toHaveLength(NODE_BYTES);
  });

  it("drops a CPU store from outside the enclave (abort-page semantics)", () => {
    const { frame, adversary } = epcWith();
    const before = adversary.read(epcAddress(frame));
    expect(() => adversary.write(epcAddress(frame), page(9), "cpu")).toThrow(EpcAccessDenied);
    expect(Buffer.compare(adversary.read(epcAddress(frame)), before)).toBe(0);
    const [node] = adversary.pathOf(frame);
    expect(adversary.read(node!, "cpu").every((b) => b === 0xff)).toBe(true);
    expect(() => adversary.flipBits(node!, 0, 1, "cpu")).toThrow(/PRM address/);
  });
});
