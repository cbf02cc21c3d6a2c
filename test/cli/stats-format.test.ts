import { describe, expect, it } from "vitest";
import { formatStats } from "../../host/cli/stats-format";
import { enclaveStats } from "../../host/enclavisor/enclave-stats";

describe("--stats", () => {
  it("formats one aligned line per counter", () => {
    const lines = formatStats(enclaveStats(null, { framesAllocated: 70, bytesEncrypted: 0, bytesDecrypted: 4096 }));
    expect(lines).toHaveLength(11);
    expect(lines).toContain("frames allocated        70");
    expect(lines).toContain("bytes decrypted         4096");
    expect(new Set(lines.map((l) => l.search(/\d+$/))).size).toBe(1);
  });
});
