// The enclave measurement: an independent recomputation from the record format documented in
// measurement.ts, sensitivity to every measured input (and to nothing else), clear errors for
// modules that cannot be measured, and the value a launched enclave reports.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ABI_VERSION } from "../../host/enclavisor/abi-constants";
import { activeDataSegments, measureEnclave, MeasurementError, toHex } from "../../host/enclavisor/measurement";
import type { EnclaveConfig } from "../../host/enclavisor/measurement";
import { modeSwitches } from "../../host/launcher/modes";
import type { ProtectionSwitches } from "../../host/enclavisor/protection";
import { launchEnclave } from "../../host/launcher/run-app";
import { wat } from "../wasm/wat";
import { guestApp, platformFor, tinySwitches } from "./fixtures/enclave";

/** A module with two active segments (the second overlapping the first), a passive one, and code. */
function module(opts: { data1?: string; offset2?: number; constant?: number } = {}): Uint8Array {
  return wat(`(module
    (memory (export "memory") 1)
    (data (i32.const 16) "${opts.data1 ?? "hello"}")
    (data (i32.const ${opts.offset2 ?? 18}) "\\01\\02\\03")
    (data "passive bytes")
    (func (export "_start") (drop (i32.const ${opts.constant ?? 7}))))`);
}

const sha384 = (b: Uint8Array) => new Uint8Array(createHash("sha384").update(b).digest());

/** The chain recomputed from the documented format alone (no code shared with measurement.ts). */
function recompute(mod: Uint8Array, s: ProtectionSwitches, limit: number | undefined, segments: [number, string][]): string {
  let digest = new Uint8Array(48);
  const extend = (type: number, contents: Uint8Array, size: number, value: number) => {
    const rec = new Uint8Array(0x70);
    const v = new DataView(rec.buffer);
    rec.set(digest, 0);
    rec.set(contents, 0x30);
    v.setUint16(0x60, 0x70, true);
    v.setUint8(0x62, type);
    v.setUint32(0x64, size, true);
    v.setBigUint64(0x68, BigInt(value), true);
    digest = sha384(rec);
  };
  extend(1, new Uint8Array(48), 0, ABI_VERSION);
  extend(2, sha384(mod), mod.length, 0);
  const cfg = new Uint8Array(16);
  const c = new DataView(cfg.buffer);
  c.setUint8(0, (s.kind !== "native" ? 1 : 0) + (s.encryption ? 2 : 0) + (s.rmp ? 4 : 0) + (s.integrity ? 8 : 0) + (s.ciphertextHiding ? 16 : 0) +
    (s.kind === "sgx" ? 32 : 0) + (s.kind === "sev" && s.integrity && s.integrityScheme === "counter" ? 64 : 0));
  c.setUint16(1, s.epcPages & 0xffff, true);
  c.setUint8(3, s.epcPages >>> 16);
  c.setUint32(4, s.kind !== "native" ? s.cachePages : 0, true);
  c.setUint32(8, s.kind !== "native" && s.integrity ? s.integrityCacheNodes : 0, true);
  c.setUint32(12, limit ?? 0xffffffff, true);
  extend(3, sha384(cfg), 16, 1);
  for (const [offset, text] of segments) {
    const bytes = new Uint8Array(Buffer.from(text, "latin1"));
    extend(4, sha384(bytes), bytes.length, offset);
  }
  return toHex(digest);
}

const enclavisor = modeSwitches("enclavisor");
const m = (mod: Uint8Array, config: Partial<EnclaveConfig> = {}, abi?: number) =>
  toHex(measureEnclave(mod, { switches: enclavisor, ...config }, abi));

describe("enclave measurement", () => {
  it("matches an independent recomputation from the documented record format", () => {
    const mod = module();
    expect(activeDataSegments(mod).map((s) => [s.offset, Buffer.from(s.bytes).toString("latin1")])).toEqual([
      [16, "hello"],
      [18, "\x01\x02\x03"],
    ]);
    const segments: [number, string][] = [[16, "hello"], [18, "\x01\x02\x03"]];
    const merkle = modeSwitches("enclavisor", { integrityScheme: "merkle" });
    for (const [s, limit] of [[enclavisor, undefined], [merkle, undefined], [modeSwitches("native"), undefined], [modeSwitches("sev", { cachePages: 9 }), 300], [modeSwitches("sgx"), undefined]] as const) {
      expect(toHex(measureEnclave(mod, { switches: s, memoryLimitPages: limit }))).toBe(recompute(mod, s, limit, segments));
    }
    expect(m(mod)).toMatch(/^[0-9a-f]{96}$/);
  });

  it("changes with every measured input", () => {
    const mod = module();
    const base = m(mod);
    // A custom section appended: a module byte that is neither code nor data.
    const withCustom = new Uint8Array([...mod, 0x00, 0x02, 0x01, 0x78]);
    const variants: Record<string, string> = {
      "a module byte (a custom section)": m(withCustom),
      "a constant in the code": m(module({ constant: 9 })),
      "the ABI version": m(mod, {}, ABI_VERSION + 1),
      "initial data bytes": m(module({ data1: "hellO" })),
      "initial data offset": m(module({ offset2: 19 })),
      mmu: m(mod, { switches: modeSwitches("native") }),
      encryption: m(mod, { switches: modeSwitches("enclavisor", { encryption: false }) }),
      rmp: m(mod, { switches: modeSwitches("enclavisor", { rmp: false }) }),
      integrity: m(mod, { switches: modeSwitches("enclavisor", { integrity: false }) }),
      "ciphertext hiding": m(mod, { switches: modeSwitches("enclavisor", { ciphertextHiding: true }) }),
      "resident capacity": m(mod, { switches: modeSwitches("enclavisor", { cachePages: enclavisor.cachePages + 1 }) }),
      "integrity cache": m(mod, { switches: modeSwitches("enclavisor", { integrityCacheNodes: enclavisor.integrityCacheNodes + 1 }) }),
      // The scheme alone, at the same cache size, changes what the host observes of the enclave.
      "the Merkle scheme": m(mod, { switches: modeSwitches("enclavisor", { integrityScheme: "merkle", integrityCacheNodes: enclavisor.integrityCacheNodes }) }),
      "memory limit": m(mod, { memoryLimitPages: 64 }),
      "another memory limit": m(mod, { memoryLimitPages: 65 }),
      // The sgx preset is sev with integrity on plus an EPC: the EPC must tell the two apart.
      "an EPC (sgx)": m(mod, { switches: modeSwitches("sgx") }),
      "sev with integrity, no EPC": m(mod, { switches: modeSwitches("sev", { integrity: true, integrityCacheNodes: modeSwitches("sgx").integrityCacheNodes }) }),
      "another EPC size": m(mod, { switches: modeSwitches("sgx", { epcPages: 5000 }) }),
    };
    const seen = new Map<string, string>([[base, "base"]]);
    for (const [name, value] of Object.entries(variants)) {
      expect(seen.get(value), `${name} collides with ${seen.get(value)}`).toBeUndefined();
      seen.set(value, name);
    }
  });

  it("does not change with anything else", () => {
    const mod = module();
    const base = m(mod);
    expect(m(new Uint8Array(mod))).toBe(base); // another copy of the same bytes
    const reordered = Object.fromEntries(Object.entries(enclavisor).reverse()) as unknown as ProtectionSwitches;
    expect(m(mod, { switches: reordered })).toBe(base); // canonical encoding, not key order
    // Settings that have no effect in a configuration are not measured.
    const native = toHex(measureEnclave(mod, { switches: modeSwitches("native") }));
    expect(toHex(measureEnclave(mod, { switches: modeSwitches("native", { cachePages: 99, integrityCacheNodes: 5 }) }))).toBe(native);
    const snp = toHex(measureEnclave(mod, { switches: modeSwitches("sev-snp") }));
    expect(toHex(measureEnclave(mod, { switches: modeSwitches("sev-snp", { integrityCacheNodes: 5 }) }))).toBe(snp);
    // With integrity off, the scheme it would use is not measured either.
    expect(toHex(measureEnclave(mod, { switches: modeSwitches("sev-snp", { integrityScheme: "merkle" }) }))).toBe(snp);
  });

  it("refuses modules it cannot measure, naming the problem", () => {
    const err = (mod: Uint8Array) => {
      try {
        m(mod);
      } catch (e) {
        expect(e).toBeInstanceOf(MeasurementError);
        return (e as Error).message;
      }
      throw new Error("expected a MeasurementError");
    };
    expect(err(new Uint8Array([0x67, 0x61, 0x72, 0x62, 1, 0, 0, 0]))).toMatch(/not a valid WebAssembly module: .*magic/);
    expect(err(new Uint8Array([1, 2, 3]))).toMatch(/not a valid WebAssembly module/);
    expect(err(module().subarray(0, 40))).toMatch(/not a valid WebAssembly module/);
    const imported = wat(`(module (import "env" "base" (global i32)) (memory 1) (data (global.get 0) "x"))`);
    expect(err(imported)).toMatch(/data segment 0 has a non-constant offset .* cannot be measured offline/);
    expect(() => measureEnclave(module(), { switches: enclavisor, memoryLimitPages: -1 })).toThrow(/memory limit in pages must be a whole number/);
  });

  it("is what a launched enclave reports, in every mode", async () => {
    const hello = guestApp("hello");
    for (const switches of [modeSwitches("native"), tinySwitches("sev"), tinySwitches("enclavisor")]) {
      const memoryLimitPages = switches.kind === "sev" ? 512 : undefined;
      const enclave = await launchEnclave(hello, { switches, memoryLimitPages, platform: switches.kind === "sev" ? platformFor(switches) : undefined });
      try {
        expect(toHex(enclave.measurement)).toBe(toHex(measureEnclave(hello, { switches, memoryLimitPages })));
        expect(enclave.measurement.length).toBe(48);
      } finally {
        enclave.destroy();
      }
    }
  });
});
