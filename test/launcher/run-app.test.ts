// Every mode runs the AssemblyScript guests with identical output, under a cache so tiny that their
// pages really go through emulated DRAM (encrypted, RMP-checked, integrity-checked as the mode
// says), and the enclave's counters show that they did.
import { beforeAll, describe, expect, it } from "vitest";
import { launchEnclave, runApp } from "../../host/launcher/run-app";
import type { Enclave } from "../../host/launcher/backend";
import { MemoryLimitError } from "../../host/enclavisor/enclave-page-table";
import { BackendError } from "../../host/launcher/launcher-error";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { modeSwitches } from "../../host/launcher/modes";
import type { ModeName } from "../../host/launcher/modes";
import { wat } from "../wasm/wat";
import { asSev, guestApp, platformFor, PROTECTED_MODES, STATE_DIR, tinySwitches } from "../enclavisor/fixtures/enclave";

let hello: Uint8Array;
let kernels: Uint8Array;
beforeAll(() => {
  hello = guestApp("hello");
  kernels = guestApp("kernels");
});

const ALL_MODES: readonly ModeName[] = ["native", ...PROTECTED_MODES];
const SEED = 20251125;
// Working sets of 16-32 pages against a cache of 8.
const KERNELS = [
  { id: "SORT", bytes: 64 << 10 },
  { id: "HASH_TABLE", bytes: 128 << 10 },
  { id: "MATMUL", bytes: 96 << 10 },
  { id: "SEQ_SCAN", bytes: 128 << 10 },
  { id: "RANDOM_SCAN", bytes: 128 << 10 },
] as const;

interface KernelExports {
  setup(kernel: number, bytes: number, seed: number): void;
  step(kernel: number, iters: number): number;
}

function kernelChecksums(enclave: Enclave): number[] {
  const ex = enclave.guest.instance.exports;
  const e = ex as unknown as KernelExports;
  return KERNELS.map((k) => {
    const id = (ex[k.id] as WebAssembly.Global).value as number;
    e.setup(id, k.bytes, SEED);
    return e.step(id, 1);
  });
}

function expectPaged(enclave: Enclave): void {
  const s = enclave.stats();
  const sw = enclave.switches;
  expect(s.faults).toBeGreaterThan(0);
  expect(s.fills).toBeGreaterThan(0);
  expect(s.evictions).toBeGreaterThan(0);
  expect(s.writeBacks).toBeGreaterThan(0);
  expect(s.framesAllocated).toBeGreaterThan(sw.cachePages);
  expect(s.bytesEncrypted).toBe(sw.encryption ? s.writeBacks * 4096 : 0);
  expect(s.bytesDecrypted).toBe(sw.encryption ? s.fills * 4096 : 0);
  if (sw.integrity) {
    expect(s.treeNodesVerified).toBeGreaterThan(0);
    expect(s.integrityCacheHits + s.integrityCacheMisses).toBeGreaterThan(0);
  } else {
    expect([s.treeNodesVerified, s.integrityCacheHits, s.integrityCacheMisses]).toEqual([0, 0, 0]);
  }
}

describe("runApp and launchEnclave in every mode", () => {
  it("runs hello with the same output in every mode", async () => {
    const outputs = new Map<ModeName, string[]>();
    for (const mode of ALL_MODES) {
      const r = await runApp(hello, { switches: tinySwitches(mode), stateDir: STATE_DIR });
      outputs.set(mode, r.output);
      if (mode === "native") expect(r.stats.faults).toBe(0);
      else {
        expect(r.stats.evictions).toBeGreaterThan(0);
        expect(r.stats.bytesEncrypted).toBe(r.stats.writeBacks * 4096);
      }
    }
    expect(outputs.get("native")![0]).toBe("hello from inside the enclave");
    expect(outputs.get("native")![1]).toMatch(/^checksum \d+$/);
    for (const mode of PROTECTED_MODES) expect(outputs.get(mode)).toEqual(outputs.get("native"));
  });

  it("runs every kernel with the same checksums in every mode, paging through DRAM", async () => {
    const native = await launchEnclave(kernels, { switches: modeSwitches("native") });
    const want = kernelChecksums(native);
    expect(native.stats().faults).toBe(0);
    for (const mode of PROTECTED_MODES) {
      const enclave = await launchEnclave(kernels, { switches: tinySwitches(mode), stateDir: STATE_DIR });
      try {
        expect(kernelChecksums(enclave), mode).toEqual(want);
        expect(enclave.guest.mmu!.residentPages).toBeLessThanOrEqual(8);
        expectPaged(enclave);
      } finally {
        enclave.destroy();
      }
    }
  });

  it("runs with each protection switched on alone", async () => {
    const want = (await runApp(hello, { switches: modeSwitches("native") })).output;
    for (const overrides of [
      { encryption: false },
      { encryption: false, rmp: true },
      { encryption: false, integrity: true },
      { ciphertextHiding: true },
    ]) {
      const enclave = await launchEnclave(hello, { switches: tinySwitches("sev", overrides), stateDir: STATE_DIR });
      (enclave.guest.instance.exports._start as () => void)();
      expect(enclave.output, JSON.stringify(overrides)).toEqual(want);
      expectPaged(enclave);
      enclave.destroy();
    }
  });

  it("stops at the memory limit with a clear error, touching no more frames", async () => {
    const platform = platformFor(tinySwitches("enclavisor"));
    const limited = await launchEnclave(hello, { switches: tinySwitches("enclavisor"), platform, memoryLimitPages: 16 });
    let err: unknown;
    try {
      limited.start();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnclaveStopped);
    expect(err).toMatchObject({ reason: "memory-limit" });
    expect((err as Error).cause).toBeInstanceOf(MemoryLimitError);
    expect((err as Error).message).toMatch(/enclave memory limit reached: guest page \d+ .* the limit is 16 pages \(64 KiB\)/);
    expect(limited.stats().framesAllocated).toBe(16);
    // The same app under a limit it fits in, on the same platform: the host is unaffected.
    const fits = await runApp(hello, { switches: tinySwitches("enclavisor"), platform, memoryLimitPages: 256 });
    expect(fits.output[0]).toBe("hello from inside the enclave");
    expect(fits.stats.framesAllocated).toBeLessThanOrEqual(256);
    await expect(runApp(hello, { switches: modeSwitches("native"), memoryLimitPages: 16 })).rejects.toThrow(BackendError);
    await expect(runApp(hello, { switches: modeSwitches("native"), memoryLimitPages: 16 })).rejects.toThrow(/^BAD_CONFIG: a memory limit needs the software MMU/);
  });

  it("refuses a platform booted with other memory-controller switches, and a launch that fails leaves no VM", async () => {
    const platform = platformFor(tinySwitches("sev"));
    await expect(launchEnclave(hello, { switches: tinySwitches("sev-snp"), platform })).rejects.toThrow(
      /the platform runs with rmp=off and ciphertext hiding off, but this enclave asks for rmp=on/,
    );
    await expect(launchEnclave(hello, { switches: tinySwitches("sev", { integrity: true, integrityCacheNodes: 2 }), platform }))
      .rejects.toThrow(/integrity cache must hold .*at least one path/);
    expect(platform.hv.vms()).toEqual([]);
  });

  it("grows to gigabytes of guest memory while only touched pages take frames", async () => {
    // Grows by 48K Wasm pages (3 GiB) and writes one byte at each of three far-apart addresses.
    const app = wat(`(module
      (memory (export "memory") 1)
      (func (export "_start")
        (if (i32.ne (memory.grow (i32.const 49152)) (i32.const 1)) (then unreachable))
        (i32.store8 (i32.const 0x10000) (i32.const 1))
        (i32.store8 (i32.const 0x80000000) (i32.const 2))
        (i32.store8 (i32.const 0xc000fff0) (i32.const 3))))`);
    const platform = platformFor(tinySwitches("enclavisor"));
    const before = platform.dram.stats().allocated;
    const enclave = asSev(await launchEnclave(app, { switches: tinySwitches("enclavisor"), platform }));
    enclave.start();
    expect(enclave.guest.mmu!.guestBytes).toBe(49153 * 65536);
    expect(enclave.stats().framesAllocated).toBe(3);
    expect(enclave.memory.pageTable.mappedPages).toBe(3);
    enclave.guest.mmu!.evictAll();
    expect(enclave.guest.read(0x80000000, 1)[0]).toBe(2);
    expect(enclave.guest.read(0xc000fff0, 1)[0]).toBe(3);
    // Data frames plus whatever the tree keeps in DRAM: far below the 3 GiB the guest may address.
    expect(platform.dram.stats().allocated - before).toBeLessThan(64);
    enclave.destroy();
  });
});
