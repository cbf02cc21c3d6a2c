import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_SEAL_PLAINTEXT, SEAL_BAD_INPUT, SEAL_REFUSED } from "../../host/enclavisor/abi-constants";
import { abiImports } from "../../host/enclavisor/guest-abi";
import { Platform } from "../../host/sev/platform";
import { launchEnclave } from "../../host/launcher/run-app";
import {
  deriveSealingKey,
  SEAL_HEADER_BYTES,
  Sealer,
  sealerFor,
  SealingError,
} from "../../host/enclavisor/sealing";
import type { SealingBinding } from "../../host/enclavisor/sealing";
import type { Vm } from "../../host/sev/vm";
import { PageType } from "../../host/sev/launch-digest";
import { instantiateGuest } from "../../host/wasm/guest";
import { guestApp, patternPage, platformFor, same, STATE_DIR, tinySwitches } from "./fixtures/enclave";

const switches = tinySwitches("enclavisor");
const platform = platformFor(switches);
/** Another chip: a platform on its own state directory (its chip secret is made on first use). */
const otherDir = mkdtempSync(join(tmpdir(), "sealing-other-chip-"));
const otherPlatform = new Platform({ switches, stateDir: otherDir, dramFrames: 1024 });
afterAll(() => rmSync(otherDir, { recursive: true, force: true }));

/** Two enclave measurements (48 bytes each), as measurement.ts would give two different modules. */
const measurementA = new Uint8Array(48).fill(0xa1);
const measurementB = new Uint8Array(48).fill(0xb2);
const plaintext = new TextEncoder().encode("a credential the enclave keeps across runs");

function binding(p: Platform, vm: Vm, enclaveMeasurement: Uint8Array): SealingBinding {
  return { sp: p.sp, vmHandle: vm.handle, enclaveMeasurement };
}

function expectRefused(fn: () => unknown, message: RegExp): void {
  expect(fn).toThrow(SealingError);
  expect(fn).toThrow(message);
}

describe("sealed blob format", () => {
  const sealer = new Sealer(new Uint8Array(32).fill(7));

  it("round-trips and lays out the header as documented", () => {
    const blob = sealer.seal(plaintext);
    expect(blob.length).toBe(SEAL_HEADER_BYTES + plaintext.length);
    expect(SEAL_HEADER_BYTES).toBe(0x24);
    expect(Buffer.from(blob.subarray(0, 4)).toString("latin1")).toBe("ESEA");
    expect(blob[4]).toBe(1); // version
    expect(blob[5]).toBe(1); // policy: enclave measurement
    expect([blob[6], blob[7]]).toEqual([0, 0]);
    // The plaintext does not appear in the blob.
    expect(Buffer.from(blob).indexOf(Buffer.from(plaintext))).toBe(-1);
    expect(same(sealer.unseal(blob), plaintext)).toBe(true);
  });

  it("uses a fresh nonce per blob", () => {
    const a = sealer.seal(plaintext);
    const b = sealer.seal(plaintext);
    expect(same(a.subarray(8, 20), b.subarray(8, 20))).toBe(false);
    expect(same(a, b)).toBe(false);
  });

  it("seals empty data", () => {
    const blob = sealer.seal(new Uint8Array(0));
    expect(blob.length).toBe(SEAL_HEADER_BYTES);
    expect(sealer.unseal(blob).length).toBe(0);
  });

  it("refuses a blob with any one bit flipped, header included", () => {
    const blob = sealer.seal(plaintext.subarray(0, 8));
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const bad = new Uint8Array(blob);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => sealer.unseal(bad), `bit ${bit}`).toThrow(SealingError);
    }
  });

  it("names what is wrong with a truncated, oversized or malformed blob", () => {
    const blob = sealer.seal(plaintext);
    for (let len = 0; len < SEAL_HEADER_BYTES; len++) {
      expectRefused(() => sealer.unseal(blob.subarray(0, len)), /shorter than its 36-byte header/);
    }
    // Cut inside the ciphertext: the header parses, the tag does not match.
    expectRefused(() => sealer.unseal(blob.subarray(0, blob.length - 1)), /failed authentication/);
    expectRefused(() => sealer.unseal(new Uint8Array(SEAL_HEADER_BYTES + MAX_SEAL_PLAINTEXT + 1)), /over the .*-byte limit/);
    const version = new Uint8Array(blob);
    version[4] = 2;
    expectRefused(() => sealer.unseal(version), /format version 2 is not supported/);
    const magic = new Uint8Array(blob);
    magic[0] = 0;
    expectRefused(() => sealer.unseal(magic), /bad magic/);
    expectRefused(() => sealer.unseal("blob" as unknown as Uint8Array), /takes a Uint8Array/);
    expectRefused(() => sealer.seal(new Uint8Array(MAX_SEAL_PLAINTEXT + 1)), /at most/);
    expectRefused(() => new Sealer(new Uint8Array(16)), /32 bytes/);
  });

  it("keeps the plaintext out of error messages", () => {
    const other = new Sealer(new Uint8Array(32).fill(8));
    try {
      other.unseal(sealer.seal(plaintext));
      expect.unreachable("unsealed with the wrong key");
    } catch (e) {
      const msg = String((e as Error).message) + String((e as Error).stack);
      expect(msg).not.toContain(new TextDecoder().decode(plaintext));
      expect(msg).not.toContain(Buffer.from(plaintext).toString("hex"));
    }
  });
});

describe("sealing key", () => {
  it("is the same for the same enclave in a relaunched Enclavisor VM on the same chip", () => {
    const vm1 = platform.launchVm();
    const vm2 = platform.launchVm();
    try {
      const blob = sealerFor(binding(platform, vm1, measurementA)).seal(plaintext);
      expect(same(sealerFor(binding(platform, vm2, measurementA)).unseal(blob), plaintext)).toBe(true);
      // A second platform object on the same state directory is the same chip.
      const again = platformFor(switches);
      const vm3 = again.launchVm();
      expect(same(sealerFor(binding(again, vm3, measurementA)).unseal(blob), plaintext)).toBe(true);
      again.hv.destroyVm(vm3);
    } finally {
      platform.hv.destroyVm(vm1);
      platform.hv.destroyVm(vm2);
    }
  });

  it("differs for another enclave measurement: that enclave cannot unseal", () => {
    const vm = platform.launchVm();
    try {
      const blob = sealerFor(binding(platform, vm, measurementA)).seal(plaintext);
      expectRefused(() => sealerFor(binding(platform, vm, measurementB)).unseal(blob), /another enclave or on another platform/);
    } finally {
      platform.hv.destroyVm(vm);
    }
  });

  it("differs for another Enclavisor measurement (another VM image)", () => {
    const vm = platform.launchVm();
    const otherImage = platform.launchVm({ pages: [{ gpa: 0, type: PageType.NORMAL, bytes: patternPage(5) }] });
    try {
      expect(same(vm.measurement, otherImage.measurement)).toBe(false);
      const blob = sealerFor(binding(platform, vm, measurementA)).seal(plaintext);
      expectRefused(() => sealerFor(binding(platform, otherImage, measurementA)).unseal(blob), /failed authentication/);
    } finally {
      platform.hv.destroyVm(vm);
      platform.hv.destroyVm(otherImage);
    }
  });

  it("differs on another platform (another state directory, another chip)", () => {
    const vm = platform.launchVm();
    const otherVm = otherPlatform.launchVm();
    try {
      expect(same(platform.sp.chipId, otherPlatform.sp.chipId)).toBe(false);
      expect(same(vm.measurement, otherVm.measurement)).toBe(true); // same Enclavisor image
      const blob = sealerFor(binding(platform, vm, measurementA)).seal(plaintext);
      expectRefused(() => sealerFor(binding(otherPlatform, otherVm, measurementA)).unseal(blob), /failed authentication/);
    } finally {
      platform.hv.destroyVm(vm);
      otherPlatform.hv.destroyVm(otherVm);
    }
  });

  it("is 32 bytes, deterministic, and refuses a bad measurement or a VM that is gone", () => {
    const vm = platform.launchVm();
    const key = deriveSealingKey(binding(platform, vm, measurementA));
    expect(key.length).toBe(32);
    expect(same(deriveSealingKey(binding(platform, vm, measurementA)), key)).toBe(true);
    expect(same(deriveSealingKey(binding(platform, vm, measurementB)), key)).toBe(false);
    expectRefused(() => deriveSealingKey(binding(platform, vm, new Uint8Array(32))), /must be 48 bytes/);
    platform.hv.destroyVm(vm);
    expectRefused(() => deriveSealingKey(binding(platform, vm, measurementA)), /refused the sealing key request.*INVALID_GUEST/);
  });
});

describe("guest seal and unseal (SDK, through the software MMU)", () => {
  const bytes = guestApp("seal-demo");

  async function demo(sealer: Sealer | undefined) {
    const output: string[] = [];
    const guest = await instantiateGuest(bytes, (access) => abiImports(access, { log: (l) => output.push(l) }, { sealer }), {
      rewrite: true,
      capacityPages: switches.cachePages,
    });
    const ex = guest.instance.exports as Record<string, (...a: number[]) => number>;
    return { guest, output, ex };
  }

  function blobOf(g: Awaited<ReturnType<typeof demo>>): Uint8Array {
    const len = g.ex.sealSecret!();
    expect(len).toBeGreaterThan(SEAL_HEADER_BYTES);
    return g.guest.read(g.ex.blobPtr!(), g.ex.blobLen!());
  }

  function give(g: Awaited<ReturnType<typeof demo>>, blob: Uint8Array): number {
    g.guest.write(g.ex.blobBuffer!(blob.length), blob);
    return g.ex.unsealMatches!();
  }

  it("seals, unseals and logs the match, never the secret", async () => {
    const vm = platform.launchVm();
    try {
      const g = await demo(sealerFor(binding(platform, vm, measurementA)));
      g.ex._start!();
      expect(g.output).toEqual(["unsealed secret matches"]);
      const blob = blobOf(g);
      const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 7) & 0xff);
      expect(Buffer.from(blob).indexOf(Buffer.from(secret))).toBe(-1);
      // The host's sealer opens the guest's blob: the guest really used the enclave's key.
      expect(same(sealerFor(binding(platform, vm, measurementA)).unseal(blob), secret)).toBe(true);
    } finally {
      platform.hv.destroyVm(vm);
    }
  });

  it("gets null, not a host crash, for another enclave's blob, a tampered or truncated one", async () => {
    const vm = platform.launchVm();
    try {
      const a = await demo(sealerFor(binding(platform, vm, measurementA)));
      const b = await demo(sealerFor(binding(platform, vm, measurementB)));
      const blob = blobOf(a);
      expect(give(a, blob)).toBe(1);
      expect(give(b, blob)).toBe(-1);
      const flipped = new Uint8Array(blob);
      flipped[flipped.length - 1]! ^= 0x80;
      expect(give(a, flipped)).toBe(-1);
      expect(give(a, blob.subarray(0, 20))).toBe(-1);
      expect(give(a, blob.subarray(0, blob.length - 1))).toBe(-1);
      expect(give(a, blob)).toBe(1); // still works after the refusals
    } finally {
      platform.hv.destroyVm(vm);
    }
  });

  it("reports sealing as unavailable when the enclave has no sealer", async () => {
    const g = await demo(undefined);
    g.ex._start!();
    expect(g.output).toEqual(["seal: unavailable"]);
    expect(g.ex.sealSecret!()).toBe(-1);
  });

  it("returns status codes from the raw imports for bad lengths", async () => {
    const vm = platform.launchVm();
    try {
      const g = await demo(sealerFor(binding(platform, vm, measurementA)));
      const imports = abiImports(g.guest, { log: () => {} }, { sealer: sealerFor(binding(platform, vm, measurementA)) });
      const enclave = imports.enclave as Record<string, (...a: number[]) => number>;
      const buf = g.ex.blobBuffer!(64);
      expect(enclave.seal!(buf, 8, buf, 8 + SEAL_HEADER_BYTES - 1)).toBe(SEAL_BAD_INPUT);
      expect(enclave.seal!(buf, MAX_SEAL_PLAINTEXT + 1, buf, 64)).toBe(SEAL_BAD_INPUT);
      expect(enclave.unseal!(buf, 10, buf, 64)).toBe(SEAL_REFUSED);
      expect(enclave.seal!(buf, 8, buf, 64)).toBe(8 + SEAL_HEADER_BYTES);
    } finally {
      platform.hv.destroyVm(vm);
    }
  });
});

describe("sealing in a launched enclave", () => {
  it("launchEnclave gives the guest a sealer bound to its measurement", async () => {
    const enclave = await launchEnclave(guestApp("seal-demo"), { switches: tinySwitches("enclavisor"), stateDir: STATE_DIR });
    (enclave.guest.instance.exports._start as () => void)();
    expect(enclave.output).toEqual(["unsealed secret matches"]);
    enclave.destroy();
  });
});
