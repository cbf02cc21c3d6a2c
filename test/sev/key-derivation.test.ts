import { randomBytes, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveChipId, deriveGuestKey, deriveVcek, deriveVcekRootKey, GuestField, type KeyRequest } from "../../host/sev/key-derivation";

const secret = new Uint8Array(randomBytes(64));
const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };

describe("chip identity", () => {
  it("derives a 64-byte chip id, the same for the same secret and different for another", () => {
    const id = deriveChipId(secret);
    expect(id).toHaveLength(64);
    expect(deriveChipId(secret)).toEqual(id);
    expect(deriveChipId(new Uint8Array(randomBytes(64)))).not.toEqual(id);
  });

  it("derives a P-384 VCEK per TCB version that signs and verifies", () => {
    const a = deriveVcek(secret, tcb);
    expect(a.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    const again = deriveVcek(secret, tcb);
    expect(again.publicKey.export({ type: "spki", format: "der" })).toEqual(a.publicKey.export({ type: "spki", format: "der" }));
    const newer = deriveVcek(secret, { ...tcb, snp: 9 });
    expect(newer.publicKey.export({ type: "spki", format: "der" })).not.toEqual(a.publicKey.export({ type: "spki", format: "der" }));
    const msg = Buffer.from("report body");
    const sig = sign("sha384", msg, a.privateKey);
    expect(verify("sha384", msg, a.publicKey, sig)).toBe(true);
    expect(verify("sha384", msg, newer.publicKey, sig)).toBe(false);
  });
});

describe("MSG_KEY_REQ derivation", () => {
  const root = deriveVcekRootKey(secret, tcb);
  const guest = {
    policy: 0x30000n,
    imageId: new Uint8Array(16).fill(1),
    familyId: new Uint8Array(16).fill(2),
    measurement: new Uint8Array(48).fill(3),
  };
  const base: KeyRequest = { rootKeySelect: "vcek", guestFieldSelect: 0, vmpl: 0, guestSvn: 0, tcbVersion: tcb };
  const hex = (k: Uint8Array): string => Buffer.from(k).toString("hex");

  it("is deterministic and 32 bytes", () => {
    expect(deriveGuestKey(root, base, guest)).toHaveLength(32);
    expect(hex(deriveGuestKey(root, base, guest))).toBe(hex(deriveGuestKey(root, base, guest)));
  });

  it("changes with the root, the VMPL and every selected field, and only when selected", () => {
    const k0 = hex(deriveGuestKey(root, base, guest));
    expect(hex(deriveGuestKey(deriveVcekRootKey(secret, { ...tcb, tee: 1 }), base, guest))).not.toBe(k0);
    expect(hex(deriveGuestKey(root, { ...base, rootKeySelect: "vmrk" }, guest))).not.toBe(k0);
    expect(hex(deriveGuestKey(root, { ...base, vmpl: 1 }, guest))).not.toBe(k0);
    const other = { policy: 0x30001n, imageId: new Uint8Array(16), familyId: new Uint8Array(16), measurement: new Uint8Array(48) };
    // Nothing selected: the guest's launch values do not matter.
    expect(hex(deriveGuestKey(root, base, other))).toBe(k0);
    const cases: Array<[number, Partial<KeyRequest>]> = [
      [GuestField.POLICY, {}],
      [GuestField.IMAGE_ID, {}],
      [GuestField.FAMILY_ID, {}],
      [GuestField.MEASUREMENT, {}],
    ];
    for (const [bit] of cases) {
      const req = { ...base, guestFieldSelect: bit };
      expect(hex(deriveGuestKey(root, req, guest)), `bit ${bit}`).not.toBe(hex(deriveGuestKey(root, req, other)));
    }
    const svnSel = { ...base, guestFieldSelect: GuestField.GUEST_SVN };
    expect(hex(deriveGuestKey(root, svnSel, guest))).not.toBe(hex(deriveGuestKey(root, { ...svnSel, guestSvn: 1 }, guest)));
    expect(hex(deriveGuestKey(root, base, guest))).toBe(hex(deriveGuestKey(root, { ...base, guestSvn: 1 }, guest)));
    const tcbSel = { ...base, guestFieldSelect: GuestField.TCB_VERSION };
    expect(hex(deriveGuestKey(root, tcbSel, guest))).not.toBe(hex(deriveGuestKey(root, { ...tcbSel, tcbVersion: { ...tcb, snp: 7 } }, guest)));
  });
});
