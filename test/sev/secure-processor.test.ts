import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { GuestField, type KeyRequest } from "../../host/sev/key-derivation";
import { computeLaunchDigest, PageType } from "../../host/sev/launch-digest";
import { PAGE_SIZE } from "../../host/page";
import { PlatformState } from "../../host/sev/platform-state";
import { parseReport, verifyReportSignature } from "../../host/sev/report";
import { DEFAULT_POLICY, Policy } from "../../host/sev/secure-processor";
import { SevStatus } from "../../host/sev/status";
import { launchGuest, newPlatform, patternPage, SHARED_STATE_DIR } from "./fixtures/platform";

const S = SevStatus;

describe("platform state machine", () => {
  it("moves UNINIT -> INIT -> WORKING -> INIT -> UNINIT and refuses commands in the wrong state", () => {
    const { sp } = newPlatform();
    expect(sp.platformStatus().state).toBe("UNINIT");
    expect(sp.launchStart().status).toBe(S.INVALID_PLATFORM_STATE);
    expect(sp.dfFlush().status).toBe(S.INVALID_PLATFORM_STATE);
    expect(sp.init().status).toBe(S.SUCCESS);
    expect(sp.init().status).toBe(S.INVALID_PLATFORM_STATE);
    expect(sp.platformStatus().state).toBe("INIT");
    const { handle } = sp.launchStart();
    expect(sp.platformStatus()).toMatchObject({ state: "WORKING", guestCount: 1 });
    expect(sp.decommission(handle!).status).toBe(S.SUCCESS);
    expect(sp.platformStatus()).toMatchObject({ state: "INIT", guestCount: 0 });
    sp.launchStart();
    expect(sp.shutdown().status).toBe(S.SUCCESS);
    expect(sp.platformStatus()).toMatchObject({ state: "UNINIT", guestCount: 0 });
  });
});

describe("guest state machine", () => {
  it("returns INVALID_GUEST for an unknown handle", () => {
    const { sp } = newPlatform();
    sp.init();
    expect(sp.activate(42).status).toBe(S.INVALID_GUEST);
    expect(sp.launchUpdate(42, { spa: 0x100, gpa: 0, pageType: 1 }).status).toBe(S.INVALID_GUEST);
    expect(sp.launchMeasure(42).status).toBe(S.INVALID_GUEST);
    expect(sp.launchFinish(42).status).toBe(S.INVALID_GUEST);
    expect(sp.deactivate(42).status).toBe(S.INVALID_GUEST);
    expect(sp.decommission(42).status).toBe(S.INVALID_GUEST);
    expect(sp.guestStatus(42).status).toBe(S.INVALID_GUEST);
    expect(sp.guestRequest(42, { type: "report", reportData: new Uint8Array(64) }).status).toBe(S.INVALID_GUEST);
  });

  it("refuses commands out of order with the firmware's codes", () => {
    const p = newPlatform();
    const { sp, dram } = p;
    sp.init();
    const h = sp.launchStart().handle!;
    const spa = dram.allocate();
    expect(sp.guestStatus(h)).toMatchObject({ status: S.SUCCESS, state: "LUPDATE", asid: 0 });
    expect(sp.launchUpdate(h, { spa, gpa: 0, pageType: PageType.NORMAL }).status).toBe(S.INACTIVE);
    expect(sp.launchFinish(h).status).toBe(S.INACTIVE);
    expect(sp.deactivate(h).status).toBe(S.INACTIVE);
    expect(sp.guestRequest(h, { type: "report", reportData: new Uint8Array(64) }).status).toBe(S.INVALID_GUEST_STATE);
    const act = sp.activate(h);
    expect(act.status).toBe(S.SUCCESS);
    expect(sp.activate(h).status).toBe(S.ACTIVE);
    expect(sp.decommission(h).status).toBe(S.ACTIVE);
    expect(sp.launchUpdate(h, { spa, gpa: 0, pageType: PageType.NORMAL }).status).toBe(S.SUCCESS);
    expect(sp.launchMeasure(h).status).toBe(S.SUCCESS);
    expect(sp.guestStatus(h).state).toBe("LSECRET");
    expect(sp.launchUpdate(h, { spa: dram.allocate(), gpa: 1, pageType: PageType.NORMAL }).status).toBe(S.INVALID_GUEST_STATE);
    expect(sp.launchMeasure(h).status).toBe(S.INVALID_GUEST_STATE);
    expect(sp.launchFinish(h).status).toBe(S.SUCCESS);
    expect(sp.guestStatus(h)).toMatchObject({ state: "RUNNING", asid: act.asid, frames: 1 });
    expect(sp.launchFinish(h).status).toBe(S.INVALID_GUEST_STATE);
    expect(sp.launchUpdate(h, { spa: dram.allocate(), gpa: 2, pageType: PageType.NORMAL }).status).toBe(S.INVALID_GUEST_STATE);
    expect(sp.deactivate(h).status).toBe(S.SUCCESS);
    expect(sp.guestRequest(h, { type: "report", reportData: new Uint8Array(64) }).status).toBe(S.INACTIVE);
    expect(sp.decommission(h).status).toBe(S.SUCCESS);
    expect(sp.guestStatus(h).status).toBe(S.INVALID_GUEST);
  });

  it("checks the guest policy at LAUNCH_START and the ID block at LAUNCH_FINISH", () => {
    const p = newPlatform();
    const { sp } = p;
    sp.init();
    expect(sp.launchStart(Policy.SMT).status).toBe(S.POLICY_FAILURE); // must-be-one bit 17 clear
    expect(sp.launchStart(DEFAULT_POLICY | (1n << 40n)).status).toBe(S.POLICY_FAILURE);
    expect(sp.launchStart(DEFAULT_POLICY | (9n << 8n)).status).toBe(S.POLICY_FAILURE); // ABI 9.0 > firmware 1.52
    expect(sp.launchStart(-1n).status).toBe(S.INVALID_PARAM);
    expect(sp.launchStart(DEFAULT_POLICY | Policy.DEBUG | (1n << 8n) | 51n).status).toBe(S.SUCCESS);

    const image = [patternPage(1)];
    const predicted = computeLaunchDigest([{ pageType: PageType.NORMAL, gpa: 0n, data: image[0]! }]);
    const wrong = predicted.slice();
    wrong[0]! ^= 1;
    const h = sp.launchStart().handle!;
    sp.activate(h);
    const spa = p.dram.allocate();
    p.dram.write(spa, image[0]!);
    sp.launchUpdate(h, { spa, gpa: 0, pageType: PageType.NORMAL });
    expect(sp.launchFinish(h, { idBlock: { measurement: wrong } }).status).toBe(S.BAD_MEASUREMENT);
    expect(sp.launchFinish(h, { idBlock: { policy: DEFAULT_POLICY | Policy.DEBUG } }).status).toBe(S.POLICY_FAILURE);
    expect(sp.launchFinish(h, { hostData: new Uint8Array(31) }).status).toBe(S.INVALID_LENGTH);
    expect(sp.launchFinish(h, { idBlock: { measurement: predicted, policy: DEFAULT_POLICY } }).status).toBe(S.SUCCESS);
  });
});

describe("LAUNCH_UPDATE", () => {
  it("measures, encrypts in place with the guest key and assigns the frame in the RMP", () => {
    const p = newPlatform();
    const image = [patternPage(1), patternPage(2), patternPage(3)];
    const g = launchGuest(p, image);
    expect(Buffer.from(g.measurement).toString("hex")).toBe(Buffer.from(computeLaunchDigest(g.pages)).toString("hex"));
    g.frames.forEach((spa, gpa) => {
      const ct = p.dram.read(spa);
      expect(Buffer.compare(ct, image[gpa]!)).not.toBe(0);
      expect(p.mee.decryptPage(g.asid, spa, ct)).toEqual(image[gpa]);
      expect(p.rmp.get(spa)).toEqual({ assigned: true, asid: g.asid, gpa, validated: true, pageSize: "4K", immutable: false });
    });
  });

  it("zeroes ZERO pages, fills SECRETS pages and measures every page type as PAGE_INFO says", () => {
    const p = newPlatform();
    const { sp, dram, mee, rmp } = p;
    sp.init();
    const h = sp.launchStart().handle!;
    const asid = sp.activate(h).asid!;
    const types = [PageType.NORMAL, PageType.ZERO, PageType.UNMEASURED, PageType.SECRETS, PageType.CPUID, PageType.VMSA];
    const spas = types.map((pageType, gpa) => {
      const spa = dram.allocate();
      dram.write(spa, patternPage(10 + gpa));
      expect(sp.launchUpdate(h, { spa, gpa, pageType }).status, `type ${pageType}`).toBe(S.SUCCESS);
      return spa;
    });
    const fin = sp.launchFinish(h);
    const expected = computeLaunchDigest(
      types.map((pageType, gpa) => ({ pageType, gpa: BigInt(gpa) << 12n, data: patternPage(10 + gpa) })),
    );
    expect(fin.measurement).toEqual(expected);
    expect(mee.decryptPage(asid, spas[1]!, dram.read(spas[1]!))).toEqual(new Uint8Array(PAGE_SIZE));
    const secrets = mee.decryptPage(asid, spas[3]!, dram.read(spas[3]!));
    expect(new DataView(secrets.buffer).getUint32(0, true)).toBe(2);
    expect(secrets.subarray(0x20, 0xa0).some((b) => b !== 0)).toBe(true); // VMPCK0..3
    expect(rmp.get(spas[5]!).immutable).toBe(true); // the VMSA
  });

  it("refuses bad page types, frames not in DRAM and frames already assigned", () => {
    const p = newPlatform();
    p.sp.init();
    const h = p.sp.launchStart().handle!;
    p.sp.activate(h);
    const spa = p.dram.allocate();
    expect(p.sp.launchUpdate(h, { spa, gpa: 0, pageType: 7 }).status).toBe(S.INVALID_PARAM);
    expect(p.sp.launchUpdate(h, { spa, gpa: -1, pageType: 1 }).status).toBe(S.INVALID_PARAM);
    expect(p.sp.launchUpdate(h, { spa: 0x7fff_0000, gpa: 0, pageType: 1 }).status).toBe(S.INVALID_ADDRESS);
    expect(p.sp.launchUpdate(h, { spa, gpa: 0, pageType: 1 }).status).toBe(S.SUCCESS);
    expect(p.sp.launchUpdate(h, { spa, gpa: 1, pageType: 1 }).status).toBe(S.INVALID_PAGE_STATE);
  });
});

describe("ASIDs through the SEV API", () => {
  it("exhausts the Naples pool, then reuses an ASID only after DEACTIVATE, WBINVD and DF_FLUSH", () => {
    const p = newPlatform({ asids: 15 });
    const { sp, mee } = p;
    sp.init();
    const handles: number[] = [];
    for (let i = 0; i < 15; i++) {
      const h = sp.launchStart().handle!;
      expect(sp.activate(h).status).toBe(S.SUCCESS);
      handles.push(h);
    }
    const late = sp.launchStart().handle!;
    expect(sp.activate(late).status).toBe(S.RESOURCE_LIMIT);
    expect(sp.activate(late, 0).status).toBe(S.INVALID_ASID);
    expect(sp.activate(late, 16).status).toBe(S.INVALID_ASID);
    expect(sp.activate(late, 3).status).toBe(S.ASID_OWNED);

    const victim = handles[2]!;
    const asid = sp.guestStatus(victim).asid!;
    expect(mee.hasKey(asid)).toBe(true);
    expect(sp.deactivate(victim).status).toBe(S.SUCCESS);
    expect(mee.hasKey(asid)).toBe(false);
    expect(sp.activate(late, asid).status).toBe(S.DFFLUSH_REQUIRED);
    expect(sp.activate(late).status).toBe(S.DFFLUSH_REQUIRED);
    expect(sp.dfFlush().status).toBe(S.WBINVD_REQUIRED);
    expect(sp.wbinvd().status).toBe(S.SUCCESS);
    expect(sp.dfFlush().status).toBe(S.SUCCESS);
    expect(sp.activate(late, asid)).toEqual({ status: S.SUCCESS, asid });
    expect(mee.hasKey(asid)).toBe(true);
    expect(sp.platformStatus().asids).toEqual({ free: 0, owned: 15, dirty: 0, size: 15 });
  });
});

describe("guest requests", () => {
  const familyId = new Uint8Array(16).fill(0xf1);
  const imageId = new Uint8Array(16).fill(0x1d);
  const hostData = new Uint8Array(32).fill(0x42);

  it("returns a signed ATTESTATION_REPORT carrying the launch values", () => {
    const p = newPlatform();
    const g = launchGuest(p, [patternPage(5), patternPage(6)], { idBlock: { familyId, imageId, guestSvn: 3 }, hostData });
    const reportData = new Uint8Array(64).map((_, i) => i);
    const res = p.sp.guestRequest(g.handle, { type: "report", reportData, vmpl: 1 });
    expect(res.status).toBe(S.SUCCESS);
    const bytes = res.report!;
    expect(bytes).toHaveLength(0x4a0);
    expect(verifyReportSignature(bytes, p.sp.vcekPublicKey)).toBe(true);
    const r = parseReport(bytes);
    expect(r).toMatchObject({ version: 2, guestSvn: 3, policy: DEFAULT_POLICY, vmpl: 1, signatureAlgo: 1, signingKey: 0 });
    expect(r.measurement).toEqual(g.measurement);
    expect(r.reportData).toEqual(reportData);
    expect(r.hostData).toEqual(hostData);
    expect(r.familyId).toEqual(familyId);
    expect(r.imageId).toEqual(imageId);
    expect(r.chipId).toEqual(p.sp.chipId);
    expect(r.reportedTcb).toEqual(p.sp.tcb);
    expect(r.reportIdMa.every((b) => b === 0xff)).toBe(true);
    // Two reports of one guest share the report id; another guest has its own.
    const again = parseReport(p.sp.guestRequest(g.handle, { type: "report", reportData }).report!);
    expect(again.reportId).toEqual(r.reportId);
    const other = launchGuest(p, [patternPage(7)]);
    expect(parseReport(p.sp.guestRequest(other.handle, { type: "report", reportData }).report!).reportId).not.toEqual(r.reportId);
  });

  it("refuses malformed report requests", () => {
    const p = newPlatform();
    const g = launchGuest(p, [patternPage(1)]);
    expect(p.sp.guestRequest(g.handle, { type: "report", reportData: new Uint8Array(63) }).status).toBe(S.INVALID_LENGTH);
    expect(p.sp.guestRequest(g.handle, { type: "report", reportData: new Uint8Array(64), vmpl: 4 }).status).toBe(S.INVALID_PARAM);
    expect(p.sp.guestRequest(g.handle, { type: "nonsense" } as never).status).toBe(S.INVALID_PARAM);
  });

  it("derives keys bound to the selected launch values and refuses requests above them", () => {
    const p = newPlatform();
    const a = launchGuest(p, [patternPage(1)], { idBlock: { guestSvn: 2 } });
    const b = launchGuest(p, [patternPage(2)], { idBlock: { guestSvn: 2 } });
    const req: KeyRequest & { type: "key"; requesterVmpl?: number } = {
      type: "key",
      rootKeySelect: "vcek",
      guestFieldSelect: GuestField.MEASUREMENT,
      vmpl: 1,
      guestSvn: 2,
      tcbVersion: p.sp.tcb,
    };
    const key = (h: number, r: Partial<typeof req> = {}) => p.sp.guestRequest(h, { ...req, ...r });
    const ka = key(a.handle);
    expect(ka.status).toBe(S.SUCCESS);
    expect(ka.key).toHaveLength(32);
    expect(key(a.handle).key).toEqual(ka.key);
    expect(key(b.handle).key).not.toEqual(ka.key); // another measurement
    expect(key(b.handle, { guestFieldSelect: 0 }).key).toEqual(key(a.handle, { guestFieldSelect: 0 }).key); // same chip root
    expect(key(b.handle, { rootKeySelect: "vmrk" }).key).not.toEqual(key(a.handle, { rootKeySelect: "vmrk" }).key);
    expect(key(a.handle, { guestSvn: 1, guestFieldSelect: GuestField.GUEST_SVN }).status).toBe(S.SUCCESS);
    const older = { ...p.sp.tcb, snp: p.sp.tcb.snp - 1 };
    expect(key(a.handle, { tcbVersion: older }).status).toBe(S.SUCCESS);
    expect(key(a.handle, { tcbVersion: older }).key).not.toEqual(ka.key);

    expect(key(a.handle, { guestSvn: 3 }).status).toBe(S.INVALID_PARAM);
    expect(key(a.handle, { tcbVersion: { ...p.sp.tcb, microcode: p.sp.tcb.microcode + 1 } }).status).toBe(S.INVALID_PARAM);
    expect(key(a.handle, { vmpl: 0, requesterVmpl: 1 }).status).toBe(S.INVALID_PARAM);
    expect(key(a.handle, { vmpl: 4 }).status).toBe(S.INVALID_PARAM);
    expect(key(a.handle, { guestFieldSelect: 1 << 6 }).status).toBe(S.INVALID_PARAM);
    expect(key(a.handle, { rootKeySelect: "chip" as never }).status).toBe(S.INVALID_PARAM);
  });
});

describe("chip identity", () => {
  it("keeps the chip secret out of the object's visible state", () => {
    const { sp } = newPlatform();
    const secretHex = Buffer.from(PlatformState.open(SHARED_STATE_DIR).chipSecret()).toString("hex");
    const shown = inspect(sp, { depth: 6, showHidden: true }).replace(/[^0-9a-f]/gi, "");
    expect(shown.includes(secretHex.slice(0, 32))).toBe(false);
    expect(JSON.stringify(Object.entries(sp), (_k, v) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(secretHex.slice(0, 32));
  });

  it("is a new chip after the state directory is deleted", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sp-chip-"));
    try {
      const first = newPlatform({ stateDir: dir }).sp.chipId;
      expect(newPlatform({ stateDir: dir }).sp.chipId).toEqual(first);
      fs.rmSync(dir, { recursive: true });
      expect(newPlatform({ stateDir: dir }).sp.chipId).not.toEqual(first);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
