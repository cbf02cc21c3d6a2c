// Eviction end to end: a guest's dirty page leaves the resident set encrypted (the DRAM frame holds
// ciphertext, not the plaintext) and scrubbed (its Wasm page is zero), and comes back intact.
import { beforeAll, describe, expect, it } from "vitest";
import { launchEnclave } from "../../host/launcher/run-app";
import type { SevEnclave } from "../../host/launcher/backend";
import type { ProtectionSwitches } from "../../host/enclavisor/protection";
import type { ModeName } from "../../host/launcher/modes";
import { BASE, TAG_DIRTY } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { asSev, guestApp, PROTECTED_MODES, same, STATE_DIR, tinySwitches } from "./fixtures/enclave";

let hello: Uint8Array;
beforeAll(() => {
  hello = guestApp("hello");
});

interface Evicted {
  enclave: SevEnclave;
  /** Dirty pages before the eviction, with their plaintext then. */
  pages: { page: number; plaintext: Uint8Array; spa: number }[];
}

/** Runs hello, notes its dirty resident pages' plaintext, and evicts everything. */
async function runAndEvict(mode: ModeName, overrides: Partial<ProtectionSwitches> = {}): Promise<Evicted> {
  const enclave = asSev(await launchEnclave(hello, { switches: tinySwitches(mode, overrides), stateDir: STATE_DIR }));
  enclave.start();
  const mmu = enclave.guest.mmu!;
  const wasm = () => new Uint8Array(mmu.memory.buffer);
  const pages = [];
  for (let page = 0; page < mmu.guestBytes / PAGE_SIZE; page++) {
    if (!(mmu.tagOf(page) & TAG_DIRTY)) continue;
    const plaintext = wasm().slice(BASE + page * PAGE_SIZE, BASE + (page + 1) * PAGE_SIZE);
    if (plaintext.every((b) => b === 0)) continue;
    pages.push({ page, plaintext, spa: 0 });
  }
  expect(pages.length).toBeGreaterThan(0);
  mmu.evictAll();
  const adv = enclave.platform.hv.adversary;
  for (const p of pages) p.spa = adv.translate(enclave.vm, enclave.memory.pageTable.lookup(p.page)!.gpa)!;
  return { enclave, pages };
}

/** 16-byte blocks of the plaintext (not all zero) found at the same offset in the frame. */
function sameBlocks(plaintext: Uint8Array, frame: Uint8Array): number {
  let n = 0;
  for (let at = 0; at < PAGE_SIZE; at += 16) {
    const block = plaintext.subarray(at, at + 16);
    if (block.some((b) => b !== 0) && same(block, frame.subarray(at, at + 16))) n++;
  }
  return n;
}

describe("eviction through the memory controller", () => {
  it.each(PROTECTED_MODES)("leaves ciphertext in DRAM and a zero Wasm page, and fills the plaintext back (%s)", async (mode) => {
    const { enclave, pages } = await runAndEvict(mode);
    const mmu = enclave.guest.mmu!;
    const adv = enclave.platform.hv.adversary;
    for (const { page, plaintext, spa } of pages) {
      expect(mmu.tagOf(page)).toBe(0);
      expect(new Uint8Array(mmu.memory.buffer, BASE + page * PAGE_SIZE, PAGE_SIZE).every((b) => b === 0)).toBe(true);
      const frame = adv.readFrame(spa, "physical");
      expect(same(frame, plaintext)).toBe(false);
      expect(sameBlocks(plaintext, frame)).toBe(0);
      expect(same(adv.readFrame(spa, "cpu"), frame)).toBe(true); // no ciphertext hiding in the presets
    }
    // Back through decrypt (and the tree under enclavisor): the guest sees its bytes again.
    for (const { page, plaintext } of pages) expect(same(enclave.guest.read(page * PAGE_SIZE, PAGE_SIZE), plaintext)).toBe(true);
    enclave.destroy();
  });

  it("leaves the plaintext in DRAM when encryption is switched off", async () => {
    const { enclave, pages } = await runAndEvict("sev", { encryption: false });
    const adv = enclave.platform.hv.adversary;
    for (const { plaintext, spa } of pages) expect(same(adv.readFrame(spa, "cpu"), plaintext)).toBe(true);
    enclave.destroy();
  });

  it("shows the hypervisor 0xFF for private frames under ciphertext hiding; DRAM still holds ciphertext", async () => {
    const { enclave, pages } = await runAndEvict("sev-snp", { ciphertextHiding: true });
    const adv = enclave.platform.hv.adversary;
    for (const { plaintext, spa } of pages) {
      expect(adv.readFrame(spa, "cpu").every((b) => b === 0xff)).toBe(true);
      expect(same(adv.readFrame(spa, "physical"), plaintext)).toBe(false);
    }
    enclave.destroy();
  });
});
