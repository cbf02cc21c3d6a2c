// The sgx preset end to end: a guest paging through the SGX model (EPC, MEE, EWB/ELDU with exits)
// computes what it computes natively, the EPC stays within its size, and every EPC fault is an exit.
import { beforeAll, describe, expect, it } from "vitest";
import { launchEnclave } from "../../host/enclavisor/run-app";
import type { Enclave } from "../../host/enclavisor/run-app";
import { modeSwitches, ProtectionError } from "../../host/enclavisor/protection";
import { isSgxEnclave } from "../../host/enclavisor/sgx-launch";
import { DEFAULT_EPC_PAGES } from "../../host/sgx/epc";
import { DEFAULT_EXIT_NS } from "../../host/sgx/exits";
import { guestApp, tinySwitches } from "../enclavisor/fixtures/enclave";

let kernels: Uint8Array;
beforeAll(() => {
  kernels = guestApp("kernels");
});

const SEED = 77;
const BYTES = 512 << 10; // 128 pages against an EPC of 48

function checksum(enclave: Enclave, kernel: "SORT" | "SEQ_SCAN"): number {
  const ex = enclave.guest.instance.exports;
  const e = ex as unknown as { setup(k: number, b: number, s: number): void; step(k: number, i: number): number };
  const id = (ex[kernel] as WebAssembly.Global).value as number;
  e.setup(id, BYTES, SEED);
  return e.step(id, 2);
}

describe("the sgx preset", () => {
  it("is a mode with a 93 MiB EPC, the MEE's integrity and no SEV switches", () => {
    const s = modeSwitches("sgx");
    expect(s).toMatchObject({ mmu: true, encryption: true, integrity: true, rmp: false, epcPages: DEFAULT_EPC_PAGES });
    expect(DEFAULT_EPC_PAGES * 4096).toBe(93 * 2 ** 20);
    expect(() => modeSwitches("sgx", { integrity: false })).toThrow(/cannot run with integrity=off/);
    expect(() => modeSwitches("sgx", { rmp: true })).toThrow(ProtectionError);
    expect(() => modeSwitches("sgx", { epcPages: 100, cachePages: 100 })).toThrow(/must be larger than the resident cache/);
  });

  it.each(["SORT", "SEQ_SCAN"] as const)("runs %s past the EPC with native's result, exits counted, the EPC within its size", async (kernel) => {
    const native = await launchEnclave(kernels, { switches: modeSwitches("native") });
    const want = checksum(native, kernel);
    const enclave = await launchEnclave(kernels, { switches: tinySwitches("sgx", { epcPages: 48 }) });
    try {
      expect(isSgxEnclave(enclave)).toBe(true);
      if (!isSgxEnclave(enclave)) return;
      expect(checksum(enclave, kernel)).toBe(want);
      const { machine, memory } = enclave.sgx;
      expect(machine.epc.usedFrames).toBeLessThanOrEqual(48);
      expect(machine.paging.counters.ewb).toBeGreaterThan(0);
      expect(machine.paging.counters.eldu).toBeGreaterThan(0);
      // Every OS fault was reached through an exit, and nothing else exits.
      expect(memory.exits.count).toBe(machine.os.counters.faults);
      expect(machine.os.counters.faults).toBe(machine.paging.counters.eldu + machine.os.counters.eaug);
      expect(memory.counters.modelledExitNs).toBeCloseTo(memory.exits.count * DEFAULT_EXIT_NS, 3);
      const s = enclave.stats();
      expect(s.fills).toBeGreaterThan(0);
      expect(s.treeNodesVerified).toBeGreaterThan(0);
    } finally {
      enclave.destroy();
    }
    expect(enclave.sgx.machine.epc.usedFrames).toBe(enclave.sgx.machine.paging.counters.vaPages);
  });

  it("stops the enclave for good on a replayed evicted page, and the host runs on", async () => {
    const enclave = await launchEnclave(kernels, { switches: tinySwitches("sgx", { epcPages: 48 }) });
    if (!isSgxEnclave(enclave)) throw new Error("not an sgx enclave");
    try {
      const ex = enclave.guest.instance.exports as unknown as { setup(k: number, b: number, s: number): void; step(k: number, i: number): number };
      const id = (enclave.guest.instance.exports.SORT as WebAssembly.Global).value as number;
      ex.setup(id, BYTES, SEED);
      const swap = enclave.sgx.machine.os.swap(enclave.sgx.memory.id);
      const before = new Map([...swap].map(([p, e]) => [p, { ...e }]));
      ex.step(id, 1); // sorting rewrites pages: evicted ones come back and leave again under new nonces
      const [page, old] = [...before].find(([p, e]) => swap.has(p) && Buffer.compare(swap.get(p)!.blob, e.blob) !== 0)!;
      swap.set(page, { ...swap.get(page)!, blob: old.blob, mac: old.mac }); // the OS replays the older blob
      expect(() => ex.step(id, 1)).toThrow(/integrity violation at EPC address 0x[0-9a-f]+: the paging MAC \(ELDU\) check failed/);
      expect(() => ex.step(id, 1)).toThrow(/integrity violation/);
      expect(enclave.sgx.memory.stopped).toBeDefined();
    } finally {
      enclave.destroy();
    }
  });

  it("refuses Enclavisor's granularities and a memory limit, naming why", async () => {
    await expect(launchEnclave(kernels, { switches: tinySwitches("sgx"), granularity: "process" })).rejects.toThrow(/granularity process is Enclavisor's/);
    await expect(launchEnclave(kernels, { switches: tinySwitches("sgx"), memoryLimitPages: 100 })).rejects.toThrow(/memory limit is not modelled/);
  });
});
