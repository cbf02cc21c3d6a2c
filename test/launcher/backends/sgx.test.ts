// The sgx backend end to end: a guest paging through the SGX model (EPC, MEE, EWB/ELDU with exits)
// computes what it computes natively, the EPC stays within its size, every EPC fault is an exit,
// and what the model does not offer (evidence, sealing, a counter) is refused, never faked.
import { beforeAll, describe, expect, it } from "vitest";
import { launchEnclave } from "../../../host/launcher/run-app";
import type { Enclave, SgxEnclave } from "../../../host/launcher/backend";
import { sgxBackend } from "../../../host/launcher/backends/sgx";
import { BackendError } from "../../../host/launcher/launcher-error";
import { ProtectionError } from "../../../host/enclavisor/protection";
import { modeSwitches } from "../../../host/launcher/modes";
import { DEFAULT_EPC_PAGES } from "../../../host/sgx/epc";
import { DEFAULT_EXIT_NS } from "../../../host/sgx/exits";
import { guestApp, tinySwitches } from "../../enclavisor/fixtures/enclave";

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
    expect(s).toMatchObject({ kind: "sgx", encryption: true, integrity: true, rmp: false, epcPages: DEFAULT_EPC_PAGES });
    expect(DEFAULT_EPC_PAGES * 4096).toBe(93 * 2 ** 20);
    expect(() => modeSwitches("sgx", { integrity: false })).toThrow(/cannot run with integrity=off/);
    expect(() => modeSwitches("sgx", { rmp: true })).toThrow(ProtectionError);
    expect(() => modeSwitches("sgx", { epcPages: 100, cachePages: 100 })).toThrow(/must be larger than the resident cache/);
  });

  it.each(["SORT", "SEQ_SCAN"] as const)("runs %s past the EPC with native's result, exits counted, the EPC within its size", async (kernel) => {
    const native = await launchEnclave(kernels, { switches: modeSwitches("native") });
    const want = checksum(native, kernel);
    const enclave = asSgx(await launchEnclave(kernels, { switches: tinySwitches("sgx", { epcPages: 48 }) }));
    try {
      expect(checksum(enclave, kernel)).toBe(want);
      const { machine, memory } = enclave;
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
    expect(enclave.machine.epc.usedFrames).toBe(enclave.machine.paging.counters.vaPages);
  });

  it("stops the enclave for good on a replayed evicted page, and the host runs on", async () => {
    const enclave = asSgx(await launchEnclave(kernels, { switches: tinySwitches("sgx", { epcPages: 48 }) }));
    try {
      const ex = enclave.guest.instance.exports as unknown as { setup(k: number, b: number, s: number): void; step(k: number, i: number): number };
      const id = (enclave.guest.instance.exports.SORT as WebAssembly.Global).value as number;
      ex.setup(id, BYTES, SEED);
      const swap = enclave.machine.os.swap(enclave.memory.id);
      const before = new Map([...swap].map(([p, e]) => [p, { ...e }]));
      ex.step(id, 1); // sorting rewrites pages: evicted ones come back and leave again under new nonces
      const [page, old] = [...before].find(([p, e]) => swap.has(p) && Buffer.compare(swap.get(p)!.blob, e.blob) !== 0)!;
      swap.set(page, { ...swap.get(page)!, blob: old.blob, mac: old.mac }); // the OS replays the older blob
      expect(() => ex.step(id, 1)).toThrow(/^enclave stopped \(integrity\): integrity violation at EPC address 0x[0-9a-f]+: the paging MAC \(ELDU\) check failed/);
      expect(() => ex.step(id, 1)).toThrow(/integrity violation/);
      expect(enclave.memory.stopped).toMatchObject({ reason: "integrity" });
      expect(enclave.stopped).toBe(enclave.memory.stopped);
      expect(() => enclave.call("step", id, 1)).toThrow(enclave.memory.stopped!);
    } finally {
      enclave.destroy();
    }
  });

  it("refuses Enclavisor's granularities and a memory limit, naming why", async () => {
    await expect(launchEnclave(kernels, { switches: tinySwitches("sgx"), granularity: "process" })).rejects.toThrow(/granularity process is Enclavisor's/);
    await expect(launchEnclave(kernels, { switches: tinySwitches("sgx"), memoryLimitPages: 100 })).rejects.toThrow(BackendError);
    await expect(launchEnclave(kernels, { switches: tinySwitches("sgx"), memoryLimitPages: 100 })).rejects.toThrow(/memory limit is not modelled/);
  });

  it("offers no evidence, sealing key or counter: the guest gets null, the host a clear refusal", async () => {
    const features = sgxBackend.features(tinySwitches("sgx"));
    for (const f of [features.attestation, features.sealing, features.counter]) {
      expect(f.available).toBe(false);
      if (!f.available) expect(f.why).toMatch(/the sgx preset models SGX's memory \(EPC, MEE, paging\) only, not EREPORT\/EGETKEY/);
    }
    const enclave = await launchEnclave(guestApp("seal-demo"), { switches: tinySwitches("sgx") });
    try {
      enclave.start();
      expect(enclave.output).toEqual(["seal: unavailable"]);
      expect(enclave.counterValue()).toBeNull();
      await expect(enclave.attest()).rejects.toThrow(/^UNSUPPORTED: no evidence: the sgx preset models SGX's memory/);
    } finally {
      enclave.destroy();
    }
  });
});

function asSgx(enclave: Enclave): SgxEnclave {
  if (enclave.kind !== "sgx") throw new Error(`expected an sgx enclave, got a ${enclave.kind} one`);
  return enclave;
}
