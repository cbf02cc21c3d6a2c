// The Enclavisor image: a manifest of the trusted sources' SHA-384 hashes plus a VMSA page, whose
// SNP launch digest is the measurement every Enclavisor VM reports, and which a verifier recomputes.
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  enclavisorImage, enclavisorMeasurement, IMAGE_FORMAT, IMAGE_GPA, imageManifest, imagePages, VMSA_FRAME,
} from "../../host/enclavisor/enclavisor-image";
import { issueEvidence } from "../../host/enclavisor/evidence";
import { verifyEvidence } from "../../host/verifier/evidence-verifier";
import { measureEnclave, toHex } from "../../host/enclavisor/measurement";
import { launchEnclave } from "../../host/launcher/run-app";
import { computeLaunchDigest, PageType } from "../../host/sev/launch-digest";
import { wat } from "../wasm/wat";
import { asSev, platformFor, tinySwitches } from "./fixtures/enclave";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function digestOf(manifest: string): string {
  const pages = imagePages(manifest);
  return toHex(computeLaunchDigest(pages.map((p) => ({ pageType: p.type, gpa: BigInt(p.gpa) << 12n, data: p.bytes }))));
}

describe("the Enclavisor image", () => {
  it("lists every trusted source file in path order with its SHA-384", () => {
    const { manifest } = enclavisorImage();
    const lines = manifest.trimEnd().split("\n");
    expect(lines[0]).toBe(IMAGE_FORMAT);
    // Every .ts file of the two trusted folders at any depth, and the page size they share.
    const expected = ["host/enclavisor", "host/wasm"]
      .flatMap((d) => readdirSync(join(root, d), { recursive: true }).map(String).filter((n) => n.endsWith(".ts")).map((n) => `${d}/${n}`))
      .concat("host/page.ts")
      .sort();
    const paths = lines.slice(1).map((l) => l.split("  ")[1]);
    expect(paths).toEqual(expected);
    expect(paths).toContain("host/enclavisor/enclavisor-image.ts");
    const line = lines.find((l) => l.endsWith("  host/wasm/mmu.ts"))!;
    expect(line.split("  ")[0]).toBe(createHash("sha384").update(readFileSync(join(root, "host/wasm/mmu.ts"))).digest("hex"));
  });

  it("is the manifest's NORMAL pages from IMAGE_GPA, then a VMSA, and its measurement is their launch digest", () => {
    const image = enclavisorImage();
    expect(enclavisorImage()).toBe(image); // built once per process
    const types = image.pages.map((p) => p.type);
    expect(types.at(-1)).toBe(PageType.VMSA);
    expect(types.slice(0, -1).every((t) => t === PageType.NORMAL)).toBe(true);
    expect(image.pages.slice(0, -1).map((p) => p.gpa)).toEqual(types.slice(0, -1).map((_, i) => IMAGE_GPA + i));
    expect(image.pages.at(-1)!.gpa).toBe(VMSA_FRAME);
    expect(new TextDecoder().decode(image.pages[0]!.bytes!.subarray(0, IMAGE_FORMAT.length))).toBe(IMAGE_FORMAT);
    expect(toHex(enclavisorMeasurement())).toBe(digestOf(image.manifest));
  });

  it("changes with any byte of any trusted source", () => {
    const copy = mkdtempSync(join(tmpdir(), "enclavisor-image-"));
    try {
      for (const d of ["host/enclavisor", "host/wasm", "host/page.ts"]) cpSync(join(root, d), join(copy, d), { recursive: true });
      const same = imageManifest(copy);
      expect(digestOf(same)).toBe(digestOf(imageManifest(root)));
      const file = join(copy, "host/wasm/layout.ts");
      writeFileSync(file, readFileSync(file, "utf8") + " ");
      const changed = imageManifest(copy);
      expect(changed).not.toBe(same);
      expect(digestOf(changed)).not.toBe(digestOf(same));
      // A file in a subfolder of a trusted folder is measured too; one outside the trusted layer is not.
      mkdirSync(join(copy, "host/enclavisor/deeper"));
      writeFileSync(join(copy, "host/enclavisor/deeper/new.ts"), "export const x = 1;\n");
      const deeper = imageManifest(copy);
      expect(deeper).toContain("  host/enclavisor/deeper/new.ts\n");
      expect(digestOf(deeper)).not.toBe(digestOf(changed));
      mkdirSync(join(copy, "host/launcher"));
      writeFileSync(join(copy, "host/launcher/run-app.ts"), "export const y = 2;\n");
      expect(imageManifest(copy)).toBe(deeper);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("is what an enclave's evidence carries: verify pins it with --enclavisor-measurement", async () => {
    const switches = tinySwitches("enclavisor");
    const app = wat(`(module (memory 1))`);
    const platform = platformFor(switches);
    for (const granularity of ["vm", "process"] as const) {
      const enclave = asSev(await launchEnclave(app, { switches, platform, granularity }));
      const evidence = issueEvidence(enclave.attester!, await platform.certificateChain(), new Uint8Array(64).fill(7));
      const measurement = measureEnclave(app, { switches });
      const ok = verifyEvidence(evidence, { measurement, enclavisorMeasurement: enclavisorMeasurement() });
      expect(ok.failure).toBeUndefined();
      expect(ok.enclaveReport!.granularity).toBe(granularity);
      const wrong = enclavisorMeasurement();
      wrong[0]! ^= 1;
      expect(verifyEvidence(evidence, { measurement, enclavisorMeasurement: wrong }).ok).toBe(false);
      enclave.destroy();
    }
  });
});
