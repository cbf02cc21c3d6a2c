import { describe, expect, it } from "vitest";
import { SevCommandError, SevStatus, statusName } from "../../host/sev/status";

describe("SEV status codes", () => {
  it("carry the firmware's numbers (SEV API spec, SNP ABI spec)", () => {
    const expected: Array<[keyof typeof SevStatus, number]> = [
      ["SUCCESS", 0], ["INVALID_PLATFORM_STATE", 1], ["INVALID_GUEST_STATE", 2], ["INVALID_CONFIG", 3],
      ["INVALID_LENGTH", 4], ["ALREADY_OWNED", 5], ["INVALID_CERTIFICATE", 6], ["POLICY_FAILURE", 7],
      ["INACTIVE", 8], ["INVALID_ADDRESS", 9], ["BAD_SIGNATURE", 0x0a], ["BAD_MEASUREMENT", 0x0b],
      ["ASID_OWNED", 0x0c], ["INVALID_ASID", 0x0d], ["WBINVD_REQUIRED", 0x0e], ["DFFLUSH_REQUIRED", 0x0f],
      ["INVALID_GUEST", 0x10], ["INVALID_COMMAND", 0x11], ["ACTIVE", 0x12], ["HWSEV_RET_PLATFORM", 0x13],
      ["HWSEV_RET_UNSAFE", 0x14], ["UNSUPPORTED", 0x15], ["INVALID_PARAM", 0x16], ["RESOURCE_LIMIT", 0x17],
      ["SECURE_DATA_INVALID", 0x18], ["INVALID_PAGE_SIZE", 0x19], ["INVALID_PAGE_STATE", 0x1a],
      ["INVALID_MDATA_ENTRY", 0x1b], ["INVALID_PAGE_OWNER", 0x1c], ["AEAD_OFLOW", 0x1d],
      ["RMP_INIT_REQUIRED", 0x20], ["INVALID_KEY", 0x27],
    ];
    for (const [name, code] of expected) expect(SevStatus[name], name).toBe(code);
    expect(new Set(Object.values(SevStatus)).size).toBe(Object.keys(SevStatus).length);
  });

  it("name codes in messages", () => {
    expect(statusName(SevStatus.DFFLUSH_REQUIRED)).toBe("DFFLUSH_REQUIRED (0x0f)");
    expect(statusName(0x7e)).toBe("UNKNOWN (0x7e)");
    const err = new SevCommandError("ACTIVATE", SevStatus.ASID_OWNED);
    expect(err.message).toBe("SEV command ACTIVATE failed: ASID_OWNED (0x0c)");
    expect(err.status).toBe(0x0c);
  });
});
