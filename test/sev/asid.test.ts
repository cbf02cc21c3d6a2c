import { describe, expect, it } from "vitest";
import { AsidPool, ASID_PRESETS } from "../../host/sev/asid";
import { SevStatus } from "../../host/sev/status";

describe("AsidPool", () => {
  it("has the real generations' sizes", () => {
    expect(ASID_PRESETS).toEqual({ naples: 15, rome: 509, milan: 509, genoa: 1006 });
    expect(AsidPool.forGeneration("genoa").size).toBe(1006);
    expect(AsidPool.forGeneration("naples").counts()).toEqual({ free: 15, owned: 0, dirty: 0 });
  });

  it("rejects ASIDs outside 1..size and refuses a second owner", () => {
    const pool = AsidPool.forGeneration("naples");
    expect(pool.bind(0, 1)).toBe(SevStatus.INVALID_ASID);
    expect(pool.bind(16, 1)).toBe(SevStatus.INVALID_ASID);
    expect(pool.bind(1.5, 1)).toBe(SevStatus.INVALID_ASID);
    expect(pool.bind(15, 1)).toBe(SevStatus.SUCCESS);
    expect(pool.bind(15, 2)).toBe(SevStatus.ASID_OWNED);
    expect(pool.ownerOf(15)).toBe(1);
  });

  it("reports RESOURCE_LIMIT when every ASID is owned", () => {
    const pool = AsidPool.forGeneration("naples");
    for (let h = 1; h <= 15; h++) {
      const pick = pool.pick();
      expect(pick.asid).toBe(h);
      expect(pool.bind(pick.asid!, h)).toBe(SevStatus.SUCCESS);
    }
    expect(pool.pick()).toEqual({ status: SevStatus.RESOURCE_LIMIT });
  });

  it("reuses an ASID only after DEACTIVATE, WBINVD and DF_FLUSH", () => {
    const pool = new AsidPool(2);
    pool.bind(1, 10);
    pool.bind(2, 11);
    pool.unbind(1);
    expect(pool.counts()).toEqual({ free: 0, owned: 1, dirty: 1 });
    expect(pool.bind(1, 12)).toBe(SevStatus.DFFLUSH_REQUIRED);
    expect(pool.pick()).toEqual({ status: SevStatus.DFFLUSH_REQUIRED });
    expect(pool.dfFlush()).toBe(SevStatus.WBINVD_REQUIRED);
    expect(pool.bind(1, 12)).toBe(SevStatus.DFFLUSH_REQUIRED);
    pool.wbinvd();
    expect(pool.dfFlush()).toBe(SevStatus.SUCCESS);
    expect(pool.bind(1, 12)).toBe(SevStatus.SUCCESS);
    expect(pool.ownerOf(1)).toBe(12);
  });

  it("needs a new WBINVD after each DEACTIVATE", () => {
    const pool = new AsidPool(3);
    pool.bind(1, 1);
    pool.bind(2, 2);
    pool.unbind(1);
    pool.wbinvd();
    pool.unbind(2); // dirtied after the WBINVD
    expect(pool.dfFlush()).toBe(SevStatus.WBINVD_REQUIRED);
    pool.wbinvd();
    expect(pool.dfFlush()).toBe(SevStatus.SUCCESS);
    expect(pool.counts()).toEqual({ free: 3, owned: 0, dirty: 0 });
  });

  it("refuses impossible pool sizes with a clear error", () => {
    expect(() => new AsidPool(0)).toThrow(/ASID pool size/);
    expect(() => new AsidPool(70000)).toThrow(/ASID pool size/);
  });
});
