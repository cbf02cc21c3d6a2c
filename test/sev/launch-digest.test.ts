import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeLaunchDigest, LaunchDigest, PageType, type MeasuredPage, VMSA_GPA } from "../../host/sev/launch-digest";
import { patternPage } from "./fixtures/platform";

// Independent PAGE_INFO chain (SNP ABI 8.17.2, table "PAGE_INFO"), written with plain Buffer writes.
function referenceDigest(pages: MeasuredPage[]): Buffer {
  let ld = Buffer.alloc(48);
  for (const p of pages) {
    const info = Buffer.alloc(0x70);
    ld.copy(info, 0); // DIGEST_CUR
    const measured = p.pageType === 1 || p.pageType === 2;
    const contents = measured ? createHash("sha384").update(p.data!).digest() : Buffer.alloc(48);
    contents.copy(info, 48); // CONTENTS
    info.writeUInt16LE(0x70, 96); // LENGTH
    info.writeUInt8(p.pageType, 98); // PAGE_TYPE
    info.writeUInt8(0, 99); // IMI_PAGE
    info.writeUInt8(0, 100); // VMPL3_PERMS
    info.writeUInt8(0, 101); // VMPL2_PERMS
    info.writeUInt8(0, 102); // VMPL1_PERMS
    info.writeUInt8(0, 103); // reserved
    info.writeBigUInt64LE(p.gpa, 104); // GPA
    ld = createHash("sha384").update(info).digest();
  }
  return ld;
}

describe("SNP launch digest", () => {
  const image: MeasuredPage[] = [
    { pageType: PageType.NORMAL, gpa: 0x0n, data: patternPage(1) },
    { pageType: PageType.NORMAL, gpa: 0x1000n, data: patternPage(2) },
    { pageType: PageType.ZERO, gpa: 0x2000n },
    { pageType: PageType.UNMEASURED, gpa: 0x3000n },
    { pageType: PageType.SECRETS, gpa: 0x4000n },
    { pageType: PageType.CPUID, gpa: 0x5000n },
    { pageType: PageType.NORMAL, gpa: 0xffff_f000n, data: patternPage(3) },
    { pageType: PageType.VMSA, gpa: VMSA_GPA, data: patternPage(4) },
  ];

  it("matches an independent PAGE_INFO computation for a small image", () => {
    const ours = computeLaunchDigest(image);
    expect(ours).toHaveLength(48);
    expect(Buffer.from(ours).toString("hex")).toBe(referenceDigest(image).toString("hex"));
  });

  it("depends on each page's contents, type, GPA and order", () => {
    const base = Buffer.from(computeLaunchDigest(image)).toString("hex");
    const variants: MeasuredPage[][] = [
      image.map((p, i) => (i === 0 ? { ...p, data: patternPage(9) } : p)),
      image.map((p, i) => (i === 2 ? { ...p, gpa: 0x7000n } : p)),
      image.map((p, i) => (i === 3 ? { ...p, pageType: PageType.ZERO } : p)),
      [image[1]!, image[0]!, ...image.slice(2)],
    ];
    for (const v of variants) expect(Buffer.from(computeLaunchDigest(v)).toString("hex")).not.toBe(base);
  });

  it("ignores the bytes of pages that are not measured", () => {
    const a = new LaunchDigest();
    const b = new LaunchDigest();
    a.update(PageType.UNMEASURED, 0x1000n, patternPage(1));
    b.update(PageType.UNMEASURED, 0x1000n, patternPage(2));
    expect(a.digest()).toEqual(b.digest());
  });

  it("starts from 48 zero bytes and refuses malformed input", () => {
    expect(new LaunchDigest().digest()).toEqual(new Uint8Array(48));
    expect(() => new LaunchDigest().update(PageType.NORMAL, 0n)).toThrow(/measured over its 4096 bytes/);
    expect(() => new LaunchDigest(new Uint8Array(47))).toThrow(/48 bytes/);
    expect(() => new LaunchDigest().update(PageType.ZERO, -1n)).toThrow(/64 bits/);
  });
});
