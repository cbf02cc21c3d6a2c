// Booting the emulated platform for a mode: the memory controller as the switches say, the secure
// processor on the state directory named by the flag, else by $ENCLAVE_STATE_DIR.
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Platform } from "../../host/sev/platform";
import { modeSwitches } from "../../host/launcher/modes";
import { STATE_DIR_ENV } from "../../host/sev/platform-state";
import { STATE_DIR } from "../enclavisor/fixtures/enclave";

const saved = process.env[STATE_DIR_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[STATE_DIR_ENV];
  else process.env[STATE_DIR_ENV] = saved;
});

describe("Platform", () => {
  it("builds the memory controller from the switches", () => {
    const snp = new Platform({ switches: modeSwitches("sev-snp", { ciphertextHiding: true }), stateDir: STATE_DIR });
    expect([snp.mc.snp, snp.hv.snp, snp.mc.ciphertextHiding]).toEqual([true, true, true]);
    const sev = new Platform({ switches: modeSwitches("sev"), stateDir: STATE_DIR });
    expect([sev.mc.snp, sev.mc.ciphertextHiding]).toEqual([false, false]);
  });

  it("uses --state-dir, else $ENCLAVE_STATE_DIR, and one chip per state directory", () => {
    process.env[STATE_DIR_ENV] = STATE_DIR;
    const fromEnv = new Platform({ switches: modeSwitches("sev") });
    expect(fromEnv.stateDir).toBe(path.resolve(STATE_DIR));
    const fromFlag = new Platform({ switches: modeSwitches("sev"), stateDir: path.join(STATE_DIR, ".") });
    expect(fromFlag.stateDir).toBe(path.resolve(STATE_DIR));
    expect(Buffer.compare(fromEnv.sp.chipId, fromFlag.sp.chipId)).toBe(0);
  });

  it("launches VMs with their own ASIDs, running, with a memory key", () => {
    const p = new Platform({ switches: modeSwitches("enclavisor"), stateDir: STATE_DIR, dramFrames: 1024 });
    const a = p.launchVm();
    const b = p.launchVm();
    expect(a.asid).not.toBe(b.asid);
    expect(p.sp.guestStatus(a.handle).state).toBe("RUNNING");
    expect(p.mee.hasKey(b.asid)).toBe(true);
    expect(p.dram.capacity).toBe(1024);
  });
});
