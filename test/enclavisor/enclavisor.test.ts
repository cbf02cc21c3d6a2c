// Enclavisor's host API: create, launch, call, destroy at each granularity, with its typed errors;
// the Enclavisor VM's boot (measured image, attestation key), ASID exhaustion, and the SEV guest
// state machine at the end of a `vm` enclave.
import { beforeAll, describe, expect, it } from "vitest";
import { parseEnclaveReport } from "../../host/enclavisor/attestation";
import { EnclaveError } from "../../host/enclavisor/enclave-error";
import { Enclavisor } from "../../host/enclavisor/enclavisor";
import { enclavisorMeasurement } from "../../host/enclavisor/enclavisor-image";
import { SLOT_PAGES } from "../../host/enclavisor/enclavisor-vm";
import { toHex } from "../../host/enclavisor/measurement";
import { Platform } from "../../host/sev/platform";
import { modeSwitches } from "../../host/launcher/modes";
import { launchEnclave } from "../../host/launcher/run-app";
import { parseReport } from "../../host/sev/report";
import { SevStatus } from "../../host/sev/status";
import { wat } from "../wasm/wat";
import { asSev, guestApp, platformFor, STATE_DIR, tinySwitches } from "./fixtures/enclave";
import { errorCode } from "./fixtures/enclave-error";

/** A counter app: `bump` adds to a global-free counter in memory, `_start` logs nothing. */
const COUNTER = `(module
  (memory (export "memory") 2)
  (func (export "bump") (param $n i32) (result i32)
    (i32.store (i32.const 0x1000) (i32.add (i32.load (i32.const 0x1000)) (local.get $n)))
    (i32.load (i32.const 0x1000))))`;

let counter: Uint8Array;
let hello: Uint8Array;
beforeAll(() => {
  counter = wat(COUNTER);
  hello = guestApp("hello");
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EnclaveError);
    return (e as EnclaveError).code;
  }
  throw new Error("expected an EnclaveError");
}

describe("Enclavisor lifecycle", () => {
  it("creates, launches, calls and destroys, with typed errors for each misuse", async () => {
    const switches = tinySwitches("enclavisor");
    const ev = new Enclavisor(platformFor(switches));
    const h = ev.create(counter, { switches });
    expect(errorCode(() => ev.call(h, "bump", 1))).toBe("BAD_STATE");
    await ev.launch(h);
    expect(await codeOf(ev.launch(h))).toBe("BAD_STATE");
    expect(ev.call(h, "bump", 5)).toBe(5);
    expect(ev.call(h, "bump", 2)).toBe(7);
    expect(errorCode(() => ev.call(h, "nope"))).toBe("NO_EXPORT");
    expect(errorCode(() => ev.call(h, "memory"))).toBe("NO_EXPORT");
    ev.destroy(h);
    expect(errorCode(() => ev.call(h, "bump", 1))).toBe("NOT_FOUND");
    expect(errorCode(() => ev.destroy(h))).toBe("NOT_FOUND");
    expect(errorCode(() => ev.create(counter, { switches: modeSwitches("native") }))).toBe("BAD_CONFIG");
    expect(errorCode(() => ev.create(counter, { switches, granularity: "thread" as never }))).toBe("BAD_CONFIG");
    expect(() => ev.call(h, "bump")).toThrow(/NOT_FOUND: no enclave with handle \d+ \(never created, or destroyed\)/);
  });

  it("ends a vm enclave with DEACTIVATE and DECOMMISSION, and its ASID is free again after DF_FLUSH", async () => {
    const switches = tinySwitches("sev-snp");
    const platform = new Platform({ switches, stateDir: STATE_DIR, dramFrames: 16384, asids: 1 });
    const ev = new Enclavisor(platform);
    const h = ev.create(counter, { switches });
    const enclave = await ev.launch(h);
    const { handle, asid } = enclave.vm!;
    expect(platform.sp.guestStatus(handle)).toMatchObject({ status: SevStatus.SUCCESS, state: "RUNNING", asid });
    expect(platform.sp.platformStatus().asids.owned).toBe(1);
    ev.destroy(h);
    expect(platform.sp.guestStatus(handle).status).toBe(SevStatus.INVALID_GUEST); // decommissioned
    expect(platform.hv.vms()).toEqual([]);
    expect(platform.sp.platformStatus().asids).toMatchObject({ owned: 0, dirty: 1 });
    expect(platform.mee.hasKey(asid)).toBe(false);
    // The only ASID is dirty: the next launch has the hypervisor run WBINVD and DF_FLUSH, then binds it again.
    const again = asSev(await launchEnclave(counter, { switches, platform }));
    expect(again.vm.asid).toBe(asid);
    again.destroy();
  });

  it("gives a clear ASID_EXHAUSTED error when every ASID runs a vm enclave, and the host runs on", async () => {
    const switches = tinySwitches("enclavisor");
    const platform = new Platform({ switches, stateDir: STATE_DIR, dramFrames: 16384, asids: 3 });
    const ev = new Enclavisor(platform);
    const handles = [1, 2, 3].map(() => ev.create(counter, { switches }));
    for (const h of handles) await ev.launch(h);
    const fourth = ev.create(counter, { switches });
    let err: unknown;
    try {
      await ev.launch(fourth);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnclaveError);
    expect((err as EnclaveError).code).toBe("ASID_EXHAUSTED");
    expect((err as Error).message).toMatch(/all 3 ASIDs of the platform are bound to running VMs/);
    // The refused enclave can be launched once an ASID is free, and process enclaves need none of their own.
    ev.destroy(handles[0]!);
    expect(ev.call(handles[1]!, "bump", 3)).toBe(3);
    await ev.launch(fourth);
    expect(ev.call(fourth, "bump", 4)).toBe(4);
    expect(platform.hv.vms()).toHaveLength(3);
    await ev.close();
    expect(platform.hv.vms()).toEqual([]);
  });
});

describe("Enclavisor boot", () => {
  it("launches each Enclavisor VM over its measured image, whatever the granularity", async () => {
    const switches = tinySwitches("enclavisor");
    const platform = platformFor(switches);
    const expected = toHex(enclavisorMeasurement());
    expect(expected).not.toBe("0".repeat(96));
    for (const granularity of ["vm", "process", "function"] as const) {
      const enclave = asSev(await launchEnclave(counter, { switches, platform, granularity }));
      expect(toHex(enclave.vm.measurement)).toBe(expected);
      const vmReport = parseReport(enclave.attester!.vmReport);
      expect(toHex(vmReport.measurement)).toBe(expected);
      enclave.destroy();
    }
  });

  it("binds one attestation key per shared VM at its boot; a vm enclave's VM makes its own on first attest", async () => {
    const switches = tinySwitches("enclavisor");
    const platform = platformFor(switches);
    const ev = new Enclavisor(platform);
    const a = await ev.launch(ev.create(counter, { switches, granularity: "process" }));
    const b = await ev.launch(ev.create(counter, { switches, granularity: "process" }));
    const c = await ev.launch(ev.create(counter, { switches, granularity: "function" }));
    expect(b.vm).toBe(a.vm);
    expect(c.vm).toBe(a.vm);
    const keys = [a, b, c].map((e) => toHex(e.attester!.attestationKey));
    expect(new Set(keys).size).toBe(1);
    const reports = [a, b, c].map((e) => parseEnclaveReport(e.attester!.attest(new Uint8Array(64).fill(e.id)).report));
    expect(reports.map((r) => r.granularity)).toEqual(["process", "process", "function"]);
    expect(reports.map((r) => r.enclaveId)).toEqual([a, b, c].map((e) => BigInt(e.id)));
    const own = await ev.launch(ev.create(counter, { switches }));
    expect(own.vm).not.toBe(a.vm);
    expect(toHex(own.attester!.attestationKey)).not.toBe(keys[0]);
    await ev.close();
    expect(platform.hv.vms()).toEqual([]);
  });
});

describe("granularities", () => {
  it("runs process enclaves in one VM, each in its own slot of guest-physical frames", async () => {
    const switches = tinySwitches("enclavisor");
    const platform = platformFor(switches);
    const ev = new Enclavisor(platform);
    const handles = [0, 1, 2].map(() => ev.create(counter, { switches, granularity: "process" }));
    const enclaves = [];
    for (const h of handles) enclaves.push(await ev.launch(h));
    expect(platform.hv.vms()).toHaveLength(1);
    expect(enclaves.map((e) => e.memory!.pageTable.firstGpa)).toEqual([0, SLOT_PAGES, 2 * SLOT_PAGES]);
    handles.forEach((h, i) => expect(ev.call(h, "bump", 10 * (i + 1))).toBe(10 * (i + 1)));
    for (const e of enclaves) e.guest.mmu!.evictAll();
    handles.forEach((h, i) => expect(ev.call(h, "bump", 1)).toBe(10 * (i + 1) + 1));
    // A destroyed enclave's slot goes to the next one.
    ev.destroy(handles[1]!);
    const next = await ev.launch(ev.create(counter, { switches, granularity: "process" }));
    expect(next.memory!.pageTable.firstGpa).toBe(SLOT_PAGES);
    expect(ev.call(next.id, "bump", 1)).toBe(1);
    await ev.close();
  });

  it("runs apps at every granularity with the same output, and launchEnclave keeps its shape", async () => {
    for (const granularity of ["vm", "process", "function"] as const) {
      const switches = modeSwitches("enclavisor");
      const platform = platformFor(switches);
      for (let round = 0; round < 2; round++) {
        const enclave = asSev(await launchEnclave(hello, { switches, platform, granularity }));
        enclave.start();
        expect(enclave.output[0]).toBe("hello from inside the enclave");
        expect(enclave.granularity).toBe(granularity);
        expect(enclave.tree).not.toBeNull();
        expect(enclave.stats().framesAllocated).toBeGreaterThan(0);
        enclave.destroy();
      }
    }
  });

  it("makes a function template once, then clones it: the clone starts from the template's initialised pages", async () => {
    // The start function initialises a page (0x2000 = 42) and the data segment another.
    const app = wat(`(module
      (memory (export "memory") 2)
      (data (i32.const 0x1000) "template data")
      (func $init (i32.store (i32.const 0x2000) (i32.const 42)))
      (start $init)
      (func (export "get") (param $a i32) (result i32) (i32.load8_u (local.get $a)))
      (func (export "word") (param $a i32) (result i32) (i32.load (local.get $a))))`);
    const switches = tinySwitches("enclavisor");
    const platform = platformFor(switches);
    const ev = new Enclavisor(platform);
    const first = await ev.launch(ev.create(app, { switches, granularity: "function" }));
    const framesAfterTemplate = platform.dram.stats().allocated;
    const clone = await ev.launch(ev.create(app, { switches, granularity: "function" }));
    expect(ev.call(clone.id, "word", 0x2000)).toBe(42);
    expect(String.fromCharCode(...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => ev.call(clone.id, "get", 0x1000 + i) as number))).toBe("template");
    // The clone read its initialised pages (1 and 2) from the template's frames: no copy, no frame
    // of its own for them; only pages the template never touched take new frames.
    expect(clone.stats().fills).toBeGreaterThan(0);
    expect([1, 2].map((p) => clone.memory.pageTable.owns(p))).toEqual([false, false]);
    expect(clone.memory.framesCopied).toBe(0);
    expect(platform.dram.stats().allocated).toBe(framesAfterTemplate + clone.memory.pageTable.mappedPages);
    expect(clone.measurement).toEqual(first.measurement);
    await ev.close();
  });
});
