import { describe, expect, it } from "vitest";
import { MAX_FRAME } from "../../host/sev/page";
import { Rmp } from "../../host/sev/rmp";
import { rmpCheck } from "./fixtures/machine";

describe("Rmp", () => {
  it("starts with every frame hypervisor-owned", () => {
    expect(new Rmp().get(0x1234)).toEqual({ assigned: false, asid: 0, gpa: 0, validated: false, pageSize: "4K", immutable: false });
  });

  it("RMPUPDATE assigns unvalidated; PVALIDATE validates and rescinds, reporting no-ops", () => {
    const rmp = new Rmp();
    rmp.update(0x100, { assigned: true, asid: 5, gpa: 0x20 });
    expect(rmp.get(0x100)).toMatchObject({ assigned: true, asid: 5, gpa: 0x20, validated: false });
    expect(rmp.pvalidate(0x100, 5, 0x20, true)).toBe(true);
    expect(rmp.pvalidate(0x100, 5, 0x20, true)).toBe(false);
    expect(rmp.get(0x100).validated).toBe(true);
    expect(rmp.pvalidate(0x100, 5, 0x20, false)).toBe(true);
    expect(rmp.get(0x100).validated).toBe(false);
    // A new RMPUPDATE always clears Validated.
    rmp.pvalidate(0x100, 5, 0x20, true);
    rmp.update(0x100, { assigned: true, asid: 5, gpa: 0x20 });
    expect(rmp.get(0x100).validated).toBe(false);
  });

  it("PVALIDATE of another guest's frame or at another GPA faults", () => {
    const rmp = new Rmp();
    rmp.update(0x100, { assigned: true, asid: 5, gpa: 0x20 });
    expect(rmpCheck(() => rmp.pvalidate(0x100, 6, 0x20, true))).toBe("asid-mismatch");
    expect(rmpCheck(() => rmp.pvalidate(0x100, 5, 0x21, true))).toBe("gpa-mismatch");
    expect(rmpCheck(() => rmp.pvalidate(0x101, 5, 0x20, true))).toBe("not-assigned");
  });

  it("guest access checks (APM 15.36.10), each failing on its own field", () => {
    const rmp = new Rmp();
    rmp.update(0x100, { assigned: true, asid: 5, gpa: 0x20 });
    expect(rmpCheck(() => rmp.checkGuestAccess(0x100, 5, 0x20, true, "read"))).toBe("not-validated");
    rmp.pvalidate(0x100, 5, 0x20, true);
    expect(rmpCheck(() => rmp.checkGuestAccess(0x100, 5, 0x20, true, "read"))).toBe("none");
    expect(rmpCheck(() => rmp.checkGuestAccess(0x100, 6, 0x20, true, "read"))).toBe("asid-mismatch");
    expect(rmpCheck(() => rmp.checkGuestAccess(0x100, 5, 0x21, true, "write"))).toBe("gpa-mismatch");
    expect(rmpCheck(() => rmp.checkGuestAccess(0x200, 5, 0x20, true, "read"))).toBe("not-assigned");
    expect(rmpCheck(() => rmp.checkGuestAccess(0x100, 5, 0x20, false, "read"))).toBe("shared-access-to-assigned");
    expect(rmpCheck(() => rmp.checkGuestAccess(0x200, 5, 0x20, false, "write"))).toBe("none");
  });

  it("host writes fault on assigned frames only; immutable entries refuse RMPUPDATE", () => {
    const rmp = new Rmp();
    rmp.update(0x100, { assigned: true, asid: 5, gpa: 0x20 });
    expect(rmpCheck(() => rmp.checkHostWrite(0x100))).toBe("hypervisor-write-to-assigned");
    expect(rmpCheck(() => rmp.checkHostWrite(0x101))).toBe("none");
    rmp.set(0x102, { assigned: true, asid: 5, gpa: 0x21, validated: true, pageSize: "4K", immutable: true });
    expect(rmpCheck(() => rmp.update(0x102, { assigned: false, asid: 0, gpa: 0 }))).toBe("immutable");
    rmp.update(0x100, { assigned: false, asid: 0, gpa: 0 });
    expect(rmpCheck(() => rmp.checkHostWrite(0x100))).toBe("none");
  });

  it("fault messages name the check and addresses, and bad entries are refused", () => {
    const rmp = new Rmp();
    try {
      rmp.checkGuestAccess(0x1f00, 9, 0x33, true, "write");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe("RMP check 'not-assigned' failed: write by ASID 9 at GPA 0x33 to SPA 0x1f00");
    }
    expect(() => rmp.set(1, { assigned: true, asid: 70000, gpa: 0, validated: false, pageSize: "4K", immutable: false })).toThrow(/ASID/);
    expect(() => rmp.set(1, { assigned: true, asid: 1, gpa: 0, validated: false, pageSize: "1G" as "4K", immutable: false })).toThrow(/page size/);
  });

  it("keeps every field of an entry exactly, up to the last SPA, GPA and ASID, across its chunks", () => {
    const rmp = new Rmp();
    const full = { assigned: true, asid: 0xffff, gpa: MAX_FRAME, validated: true, pageSize: "2M" as const, immutable: true };
    for (const spa of [1023, 1024, 2 ** 32, MAX_FRAME]) {
      rmp.set(spa, full);
      expect(rmp.get(spa)).toEqual(full);
    }
    expect(rmp.get(1022)).toEqual(new Rmp().get(1022)); // a neighbour in the same chunk is untouched
    rmp.update(2 ** 32 + 1, { assigned: true, asid: 3, gpa: 2 ** 32 });
    expect(rmpCheck(() => rmp.pvalidate(2 ** 32 + 1, 3, 2 ** 32, true))).toBe("none");
    expect(rmpCheck(() => rmp.checkGuestAccess(2 ** 32 + 1, 3, 2 ** 32, true, "read"))).toBe("none");
    expect(rmp.get(2 ** 32)).toEqual(full);
    // Numbers that are not frames hold nothing, and naming one as a frame is refused.
    expect(rmpCheck(() => rmp.checkHostWrite(MAX_FRAME + 1))).toBe("none");
    expect(rmpCheck(() => rmp.checkGuestAccess(0.5, 3, 0, true, "read"))).toBe("not-assigned");
    expect(() => rmp.get(MAX_FRAME + 1)).toThrow(/SPA must be an integer frame number/);
    expect(() => rmp.update(-1, { assigned: true, asid: 1, gpa: 0 })).toThrow(/SPA must be/);
    expect(() => rmp.pvalidate(0.5, 1, 0, true)).toThrow(/SPA must be/);
  });

  it("an entry that grants nothing reads as a frame never touched, whatever GPA and size it named", () => {
    const rmp = new Rmp();
    rmp.update(0x100, { assigned: true, asid: 5, gpa: 0x20, pageSize: "2M" });
    rmp.set(0x100, { assigned: false, asid: 0, gpa: 0x20, validated: false, pageSize: "2M", immutable: false });
    expect(rmp.get(0x100)).toEqual(new Rmp().get(0x100));
    rmp.set(0x200, { assigned: false, asid: 0, gpa: 0x21, validated: false, pageSize: "2M", immutable: false });
    expect(rmp.get(0x200)).toEqual(new Rmp().get(0x200));
    // Not assigned, but not all zero either: kept as it is.
    const odd = { assigned: false, asid: 7, gpa: 0x22, validated: false, pageSize: "2M" as const, immutable: false };
    rmp.set(0x300, odd);
    expect(rmp.get(0x300)).toEqual(odd);
    rmp.update(0x300, { assigned: false, asid: 9, gpa: 0x23 }); // RMPUPDATE to the hypervisor clears ASID and GPA
    expect(rmp.get(0x300)).toEqual(new Rmp().get(0x300));
  });
});
