// The Enclavisor image: what the secure processor measures when an Enclavisor VM launches
// (docs/architecture.md, "The trust boundary"; SNP ABI pub. 56860, 8.17 SNP_LAUNCH_UPDATE), and so
// the value of MEASUREMENT in the VM's SNP report that `verify --enclavisor-measurement` pins.
//
// Enclavisor's trusted code is the TypeScript under host/enclavisor/ and host/wasm/ (the software
// MMU and the rewriter run inside its trust boundary), every subfolder included, and host/page.ts,
// the page size they share. The image does not carry those ~300 KiB of source: it carries a
// manifest that names every source file with its SHA-384, which binds every byte of them as firmly,
// and keeps each launch's measuring cheap (the SP hashes a few pages per launch, not ~75; a
// `vm`-granularity boot launches one Enclavisor VM per enclave). The manifest is built once per
// process. A change to any of these files changes the measurement, and so the sealing keys.
//
// Manifest, UTF-8 text, one line per file in byte order of the paths:
//   "enclavisor-image 1\n"
//   "<sha384 hex>  <path from the repository root>\n"   (the layout of `sha384sum`)
// It is cut into 4 KiB pages (the last one zero-padded), loaded as NORMAL pages at consecutive GPAs
// from IMAGE_GPA, followed by one VMSA page (the boot CPU's initial state: VMSA_BYTES below) at
// the GPA sev-snp-measure records for a VMSA. A verifier recomputes the measurement from a
// checkout with enclavisorMeasurement(), or `npm run enclave -- measure --enclavisor`.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LaunchPage } from "../sev/hypervisor";
import { computeLaunchDigest, PageType, VMSA_GPA } from "../sev/launch-digest";
import { PAGE_SHIFT, PAGE_SIZE } from "../page";

export const IMAGE_FORMAT = "enclavisor-image 1";
/** First GPA of the image: just below the integrity tree's node store (node-store.ts), above every enclave's range. */
export const IMAGE_GPA = 2 ** 32 - 2 ** 12;
/** The VMSA's frame: sev-snp-measure's VMSA GPA (launch-digest.ts VMSA_GPA) as a frame number. */
export const VMSA_FRAME = Number(VMSA_GPA >> BigInt(PAGE_SHIFT));

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** What the measurement covers: these folders, recursively, and these files (paths from the repository root). */
export const TRUSTED_PATHS = ["host/enclavisor", "host/wasm", "host/page.ts"];

export interface EnclavisorImage {
  /** The manifest text (public: it names files and their hashes). */
  readonly manifest: string;
  /** LAUNCH_UPDATE pages in order: the manifest's NORMAL pages, then the VMSA. */
  readonly pages: readonly LaunchPage[];
  /** The launch digest of exactly these pages: the MEASUREMENT of every Enclavisor VM. */
  readonly measurement: Uint8Array;
}

/**
 * The boot CPU's initial VMSA page: the fields a launch fixes (SEV-ES VMSA layout, APM vol 2
 * table B-4): RIP at 0x178 pointing at the image's first byte, RFLAGS 0x2 (its must-be-one bit)
 * at 0x170, EFER.SVME at 0xD0, SEV_FEATURES.SNPActive at 0x3B0. The rest is zero.
 */
function vmsaPage(): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  view.setBigUint64(0xd0, 1n << 12n, true);
  view.setBigUint64(0x170, 0x2n, true);
  view.setBigUint64(0x178, BigInt(IMAGE_GPA) << BigInt(PAGE_SHIFT), true);
  view.setBigUint64(0x3b0, 1n, true);
  return page;
}

/** Every .ts file the measurement covers, as paths from `root`, in byte order. */
export function trustedSources(root = ROOT): string[] {
  const files: string[] = [];
  const walk = (path: string): void => {
    if (statSync(join(root, path)).isDirectory()) {
      for (const name of readdirSync(join(root, path))) walk(`${path}/${name}`);
    } else if (path.endsWith(".ts")) {
      files.push(path);
    }
  };
  for (const path of TRUSTED_PATHS) walk(path);
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The manifest of the sources under `root` (default this checkout). */
export function imageManifest(root = ROOT): string {
  const lines = [IMAGE_FORMAT];
  for (const path of trustedSources(root)) {
    const digest = createHash("sha384").update(readFileSync(join(root, path))).digest("hex");
    lines.push(`${digest}  ${path}`);
  }
  return lines.join("\n") + "\n";
}

/** The launch pages of a manifest. */
export function imagePages(manifest: string): LaunchPage[] {
  const bytes = new TextEncoder().encode(manifest);
  const count = Math.ceil(bytes.length / PAGE_SIZE);
  const pages: LaunchPage[] = [];
  for (let i = 0; i < count; i++) {
    const page = new Uint8Array(PAGE_SIZE);
    page.set(bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    pages.push({ gpa: IMAGE_GPA + i, type: PageType.NORMAL, bytes: page });
  }
  pages.push({ gpa: VMSA_FRAME, type: PageType.VMSA, bytes: vmsaPage() });
  return pages;
}

let cached: EnclavisorImage | undefined;

/** This checkout's image, built on first use and then shared by every launch in the process. */
export function enclavisorImage(): EnclavisorImage {
  if (!cached) {
    const manifest = imageManifest();
    const pages = imagePages(manifest);
    const measurement = computeLaunchDigest(pages.map((p) => ({ pageType: p.type, gpa: BigInt(p.gpa) << BigInt(PAGE_SHIFT), data: p.bytes })));
    cached = Object.freeze({ manifest, pages: Object.freeze(pages), measurement });
  }
  return cached;
}

/** The launch measurement every Enclavisor VM of this checkout reports (48 bytes). */
export function enclavisorMeasurement(): Uint8Array {
  return new Uint8Array(enclavisorImage().measurement);
}
