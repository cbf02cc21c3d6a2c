// Pages a guest declares shared (docs/architecture.md, "The path of one memory access"): resident
// from then on, never encrypted, verified, evicted or written back, and visible to the host;
// private pages around them keep paging through encrypted DRAM.
import { beforeAll, describe, expect, it } from "vitest";
import { launchEnclave } from "../../host/launcher/run-app";
import { TAG_SHARED } from "../../host/wasm/layout";
import { PAGE_SIZE } from "../../host/page";
import { guestApp, PROTECTED_MODES, STATE_DIR, tinySwitches } from "./fixtures/enclave";

let app: Uint8Array;
beforeAll(() => {
  app = guestApp("shared-pages");
});

const expectedSecretSum = Array.from({ length: 4 * 4096 }, (_, i) => (i * 7 + 3) & 0xff).reduce((a, b) => a + b, 0);

describe("shared pages declared by the guest", () => {
  it.each(PROTECTED_MODES)("%s: stay resident and host-visible while private pages are paged out", async (mode) => {
    const enclave = await launchEnclave(app, { switches: tinySwitches(mode), stateDir: STATE_DIR });
    const ex = enclave.guest.instance.exports as Record<string, (...a: number[]) => number>;
    (ex._start as () => void)();
    const at = ex.sharedAt!() >>> 0;
    expect(at % PAGE_SIZE).toBe(0);
    expect(enclave.output).toEqual([`shared at ${at}`]);
    const mmu = enclave.guest.mmu!;
    const first = at / PAGE_SIZE;
    expect(mmu.tagOf(first) & TAG_SHARED).toBe(TAG_SHARED);
    expect(mmu.tagOf(first + 1) & TAG_SHARED).toBe(TAG_SHARED);

    // The host reads the guest's message and answers in place, without going through the MMU.
    const view = mmu.sharedView(first);
    expect(new TextDecoder().decode(view.subarray(0, 19))).toBe("visible to the host");
    view[100] = 42;
    expect(ex.sharedByte!(100)).toBe(42);

    // Everything private leaves the resident set; the shared pages do not, and never reach DRAM.
    const writesBefore = enclave.stats().writeBacks;
    mmu.evictAll();
    expect(enclave.stats().writeBacks).toBeGreaterThan(writesBefore);
    expect(mmu.tagOf(first) & TAG_SHARED).toBe(TAG_SHARED);
    expect(new TextDecoder().decode(mmu.sharedView(first).subarray(0, 19))).toBe("visible to the host");
    expect(ex.secretSum!()).toBe(expectedSecretSum); // private data paged back in, intact
    expect(ex.sharedByte!(100)).toBe(42);
    enclave.destroy();
  });

  it("refuses memory that is not whole pages, with a clear error", async () => {
    const enclave = await launchEnclave(app, { switches: tinySwitches("enclavisor"), stateDir: STATE_DIR });
    expect(() => enclave.guest.share(100, 4096)).toThrow(/whole 4 KiB pages/);
    enclave.destroy();
  });
});
