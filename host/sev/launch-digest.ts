// SNP launch digest (SEV-SNP Firmware ABI spec, pub. 56860, section 8.17.2 "SNP_LAUNCH_UPDATE",
// table "PAGE_INFO"): every LAUNCH_UPDATE extends the digest with SHA-384 over a 0x70-byte
// PAGE_INFO record. The same algorithm as virtee's sev-snp-measure (gctx.py), so a verifier can
// predict a guest's MEASUREMENT offline.
import { createHash } from "node:crypto";
import { PAGE_SIZE } from "../page";

export const LD_BYTES = 48;
export const PAGE_INFO_BYTES = 0x70;

/** PAGE_TYPE values of SNP_LAUNCH_UPDATE. */
export const PageType = {
  NORMAL: 0x1,
  VMSA: 0x2,
  ZERO: 0x3,
  UNMEASURED: 0x4,
  SECRETS: 0x5,
  CPUID: 0x6,
} as const;
export type PageType = (typeof PageType)[keyof typeof PageType];

export function isPageType(x: unknown): x is PageType {
  return typeof x === "number" && Number.isInteger(x) && x >= PageType.NORMAL && x <= PageType.CPUID;
}

/** GPA recorded for a VMSA page by sev-snp-measure: page-aligned 2^64-1, bits above 51 cleared. */
export const VMSA_GPA = 0xfffffffff000n;

export interface PageInfoFields {
  /** Launch digest before this page (48 bytes). */
  digestIn: Uint8Array;
  /** 48 bytes: SHA-384 of the page for NORMAL and VMSA, zero for the other types. */
  contents: Uint8Array;
  pageType: PageType;
  /** Guest-physical byte address of the page. */
  gpa: bigint;
  imi?: boolean;
  vmpl3Perms?: number;
  vmpl2Perms?: number;
  vmpl1Perms?: number;
}

/** Serialises PAGE_INFO: DIGEST_CUR, CONTENTS, LENGTH u16, PAGE_TYPE, IMI_PAGE, VMPL3..1 perms, reserved, GPA u64. */
export function encodePageInfo(f: PageInfoFields): Uint8Array {
  if (f.digestIn.length !== LD_BYTES || f.contents.length !== LD_BYTES) {
    throw new RangeError("PAGE_INFO digest and contents must be 48 bytes each");
  }
  if (f.gpa < 0n || f.gpa >= 1n << 64n) throw new RangeError("PAGE_INFO gpa must fit in 64 bits");
  const b = Buffer.alloc(PAGE_INFO_BYTES);
  b.set(f.digestIn, 0x00);
  b.set(f.contents, 0x30);
  b.writeUInt16LE(PAGE_INFO_BYTES, 0x60);
  b.writeUInt8(f.pageType, 0x62);
  b.writeUInt8(f.imi ? 1 : 0, 0x63);
  b.writeUInt8(f.vmpl3Perms ?? 0, 0x64);
  b.writeUInt8(f.vmpl2Perms ?? 0, 0x65);
  b.writeUInt8(f.vmpl1Perms ?? 0, 0x66);
  b.writeBigUInt64LE(f.gpa, 0x68);
  return b;
}

function sha384(data: Uint8Array): Uint8Array {
  return createHash("sha384").update(data).digest();
}

/** The CONTENTS field for a page of the given type (SNP ABI 8.17.2). */
export function pageContentsHash(pageType: PageType, page: Uint8Array | undefined): Uint8Array {
  if (pageType === PageType.NORMAL || pageType === PageType.VMSA) {
    if (!page || page.length !== PAGE_SIZE) {
      throw new RangeError(`a page of type ${pageType} is measured over its ${PAGE_SIZE} bytes`);
    }
    return sha384(page);
  }
  return new Uint8Array(LD_BYTES);
}

/** Running launch digest of one guest, starting from 48 zero bytes. */
export class LaunchDigest {
  private ld: Uint8Array;

  constructor(seed: Uint8Array = new Uint8Array(LD_BYTES)) {
    if (seed.length !== LD_BYTES) throw new RangeError("launch digest seed must be 48 bytes");
    this.ld = new Uint8Array(seed);
  }

  /** Extends the digest with one page; `page` is needed for NORMAL and VMSA only. */
  update(pageType: PageType, gpa: bigint, page?: Uint8Array): void {
    const contents = pageContentsHash(pageType, page);
    this.ld = sha384(encodePageInfo({ digestIn: this.ld, contents, pageType, gpa }));
  }

  digest(): Uint8Array {
    return new Uint8Array(this.ld);
  }
}

export interface MeasuredPage {
  pageType: PageType;
  gpa: bigint;
  /** 4096 bytes for NORMAL and VMSA pages. */
  data?: Uint8Array;
}

/** Predicts the MEASUREMENT of a guest launched with exactly these LAUNCH_UPDATEs, in order. */
export function computeLaunchDigest(pages: Iterable<MeasuredPage>): Uint8Array {
  const ld = new LaunchDigest();
  for (const p of pages) ld.update(p.pageType, p.gpa, p.data);
  return ld.digest();
}
