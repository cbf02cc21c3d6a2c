// What an attack on an enclave's evicted pages does to a running guest, per mode: the RMP refuses
// the hypervisor's write under sev-snp, plain sev lets it corrupt the guest silently, and under
// enclavisor a physical write (which bypasses the RMP) is an integrity violation that stops the
// guest, never feeds it the bytes, and leaves the host and other enclaves running.
import { beforeAll, describe, expect, it } from "vitest";
import { INTEGRITY_SCHEMES } from "../../host/enclavisor/integrity-scheme";
import type { IntegritySchemeName } from "../../host/enclavisor/integrity-scheme";
import { IntegrityViolation } from "../../host/enclavisor/integrity-violation";
import { launchEnclave, runApp } from "../../host/launcher/run-app";
import type { SevEnclave } from "../../host/launcher/backend";
import type { ModeName } from "../../host/launcher/modes";
import type { Platform } from "../../host/sev/platform";
import { RmpFault } from "../../host/sev/rmp";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { BASE } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { asSev, guestApp, patternPage, platformFor, tinySwitches } from "./fixtures/enclave";

const SCHEMES = INTEGRITY_SCHEMES;
let hello: Uint8Array;
let kernels: Uint8Array;
beforeAll(() => {
  hello = guestApp("hello");
  kernels = guestApp("kernels");
});

interface SortExports {
  SORT: WebAssembly.Global;
  setup(kernel: number, bytes: number, seed: number): void;
  step(kernel: number, iters: number): number;
  sortDataPtr(): number;
  sortDataLength(): number;
}

interface Sorted {
  enclave: SevEnclave;
  e: SortExports;
  /** The sorted array's bytes as the guest left them. */
  data: Uint8Array;
  /** Frames of the array's pages, all evicted (written back). */
  frames: { page: number; gpa: number; spa: number }[];
}

/** Sorts 64 KiB in the guest and evicts every page, so the array lives in DRAM only. */
async function sortedAndEvicted(mode: ModeName, platform: Platform, scheme: IntegritySchemeName = "counter"): Promise<Sorted> {
  const enclave = asSev(await launchEnclave(kernels, { switches: tinySwitches(mode, { integrityScheme: scheme }), platform }));
  const e = enclave.guest.instance.exports as unknown as SortExports;
  e.setup(e.SORT.value as number, 64 << 10, 7);
  e.step(e.SORT.value as number, 1);
  const ptr = e.sortDataPtr();
  const data = enclave.guest.read(ptr, e.sortDataLength() * 4).slice();
  enclave.guest.mmu!.evictAll();
  const frames = [];
  // Whole pages of the array only: the first and last may share a page with other objects.
  for (let page = Math.ceil(ptr / PAGE_SIZE); (page + 1) * PAGE_SIZE <= ptr + data.length; page++) {
    const entry = enclave.memory.pageTable.lookup(page)!;
    expect(entry.written).toBe(true);
    frames.push({ page, gpa: entry.gpa, spa: platform.hv.adversary.translate(enclave.vm, entry.gpa)! });
  }
  expect(frames.length).toBeGreaterThan(8);
  return { enclave, e, data, frames };
}

function readArray(s: Sorted): Uint8Array {
  return s.enclave.guest.read(s.e.sortDataPtr(), s.data.length);
}

describe("attacks on evicted enclave pages", () => {
  it("sev-snp: the RMP blocks the hypervisor's writes, and the guest reads its data intact", async () => {
    const platform = platformFor(tinySwitches("sev-snp"));
    const s = await sortedAndEvicted("sev-snp", platform);
    for (const { spa } of s.frames) {
      expect(() => platform.hv.adversary.writeFrame(spa, patternPage(spa), "cpu")).toThrow(RmpFault);
    }
    expect(Buffer.compare(readArray(s), s.data)).toBe(0);
    s.enclave.destroy();
  });

  it("sev: the same writes go through and the guest silently reads garbage", async () => {
    const platform = platformFor(tinySwitches("sev"));
    const s = await sortedAndEvicted("sev", platform);
    const victim = s.frames[3]!;
    platform.hv.adversary.writeFrame(victim.spa, patternPage(1), "cpu");
    const got = readArray(s);
    expect(Buffer.compare(got, s.data)).not.toBe(0);
    expect(s.enclave.memory.stopped).toBeNull();
    expect(s.enclave.stopped).toBeNull();
    s.enclave.destroy();
  });

  it.each(SCHEMES)("enclavisor (%s): a physical bit flip stops the guest with an integrity violation; other enclaves keep running", async (scheme) => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const s = await sortedAndEvicted("enclavisor", platform, scheme);
    const bystander = await launchEnclave(hello, { switches: tinySwitches("enclavisor"), platform });
    const victim = s.frames[2]!;
    platform.hv.adversary.flipBits(victim.spa, 100, 0x04, "physical");
    let err: unknown;
    try {
      s.e.step(s.e.SORT.value as number, 1); // the guest's next pass touches every page of the array
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnclaveStopped);
    expect(err).toMatchObject({ reason: "integrity", site: { page: victim.page, gpa: victim.gpa } });
    expect((err as Error).cause).toBeInstanceOf(IntegrityViolation);
    expect(((err as Error).cause as IntegrityViolation).gpa).toBe(victim.gpa);
    expect((err as Error).message).toContain(`0x${victim.gpa.toString(16)}`);
    // The guest never saw the bytes: the page is still out, and zero in the Wasm memory.
    const mmu = s.enclave.guest.mmu!;
    expect(mmu.tagOf(victim.page)).toBe(0);
    expect(new Uint8Array(mmu.memory.buffer, BASE + victim.page * PAGE_SIZE, PAGE_SIZE).every((b) => b === 0)).toBe(true);
    // Stopped for good, with the same error, whoever asks next: the guest, or the host reading its memory.
    expect(s.enclave.memory.stopped).toBe(err);
    expect(s.enclave.stopped).toBe(err);
    expect(() => s.enclave.call("step", s.e.SORT.value as number, 1)).toThrow(err as Error);
    expect(() => readArray(s)).toThrow(err as Error);
    // The host and the other enclave on the same platform are unaffected.
    bystander.start();
    expect(bystander.output[0]).toBe("hello from inside the enclave");
    const again = await runApp(hello, { switches: tinySwitches("enclavisor"), platform });
    expect(again.output).toEqual(bystander.output);
    bystander.destroy();
    s.enclave.destroy();
  });

  it.each(SCHEMES)("enclavisor (%s): a replayed old ciphertext of a page is an integrity violation", async (scheme) => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const s = await sortedAndEvicted("enclavisor", platform, scheme);
    const victim = s.frames[4]!;
    const old = platform.hv.adversary.snapshot(victim.spa);
    s.e.step(s.e.SORT.value as number, 1); // a new array: every page gets a new version
    s.enclave.guest.mmu!.evictAll();
    expect(Buffer.compare(platform.hv.adversary.readFrame(victim.spa, "physical"), old.bytes)).not.toBe(0);
    platform.hv.adversary.replay(old, { via: "physical" });
    expect(() => readArray(s)).toThrow(EnclaveStopped);
    expect(() => readArray(s)).toThrow(new RegExp(`^enclave stopped \\(integrity\\): .*integrity violation at GPA 0x${victim.gpa.toString(16)}: the page ${scheme === "counter" ? "MAC" : "hash"} check failed`));
    s.enclave.destroy();
  });

  it.each(SCHEMES)("enclavisor (%s): a tampered tree node in DRAM is an integrity violation naming the level", async (scheme) => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const s = await sortedAndEvicted("enclavisor", platform, scheme);
    const { tree, nodeStore } = s.enclave;
    tree!.evictAll(); // every node to DRAM: the next fill verifies its path from the root
    const victim = s.frames[5]!;
    const leaf = tree!.nodeIndexOf(victim.gpa, 0);
    platform.hv.adversary.flipBits(nodeStore!.frameOf(leaf), nodeStore!.offsetOf(leaf) + 3, 0x80, "physical");
    let err: unknown;
    try {
      readArray(s);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: "EnclaveStopped", reason: "integrity" });
    expect((err as Error).cause).toBeInstanceOf(IntegrityViolation);
    expect((err as Error).cause).toMatchObject({ check: "leaf" });
    expect(s.enclave.memory.stopped).toBe(err);
    s.enclave.destroy();
  });

  it("sev-snp: a physical write bypasses the RMP and goes unnoticed", async () => {
    const platform = platformFor(tinySwitches("sev-snp"));
    const s = await sortedAndEvicted("sev-snp", platform);
    platform.hv.adversary.flipBits(s.frames[1]!.spa, 100, 0x04, "physical");
    expect(Buffer.compare(readArray(s), s.data)).not.toBe(0);
    s.enclave.destroy();
  });
});
