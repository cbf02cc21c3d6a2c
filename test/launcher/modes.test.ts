// The mode presets (host/launcher/modes.ts) and, through them, the switches' own checks
// (host/enclavisor/protection.ts).
import { describe, expect, it } from "vitest";
import { ProtectionError } from "../../host/enclavisor/protection";
import { describeSwitches } from "../../host/launcher/modes";
import { DEFAULT_CACHE_PAGES, DEFAULT_INTEGRITY_CACHE_NODES, isModeName, MODE_NAMES, modeSwitches } from "../../host/launcher/modes";
import type { ModeName } from "../../host/launcher/modes";

describe("modeSwitches", () => {
  it("has the table of docs/architecture.md, \"Protection modes\", as presets", () => {
    const row = (m: ModeName) => {
      const s = modeSwitches(m);
      return [s.kind, s.encryption, s.rmp, s.integrity, s.ciphertextHiding];
    };
    expect(row("native")).toEqual(["native", false, false, false, false]);
    expect(row("sev")).toEqual(["sev", true, false, false, false]);
    expect(row("sev-snp")).toEqual(["sev", true, true, false, false]);
    expect(row("enclavisor")).toEqual(["sev", true, true, true, false]);
    expect(row("sgx")).toEqual(["sgx", true, false, true, false]);
    expect(modeSwitches("enclavisor").epcPages).toBe(0);
    expect(modeSwitches("sev")).toMatchObject({ cachePages: DEFAULT_CACHE_PAGES, integrityScheme: "counter", integrityCacheNodes: DEFAULT_INTEGRITY_CACHE_NODES.counter });
    expect(modeSwitches("enclavisor", { integrityScheme: "merkle" })).toMatchObject({ integrityCacheNodes: DEFAULT_INTEGRITY_CACHE_NODES.merkle });
    expect(modeSwitches("enclavisor", { integrityScheme: "merkle", integrityCacheNodes: 9 }).integrityCacheNodes).toBe(9);
    expect(() => modeSwitches("enclavisor", { integrityScheme: "sha1" as "merkle" })).toThrow(/unknown integrity scheme 'sha1'/);
    expect(DEFAULT_CACHE_PAGES * 4096).toBe(16 * 2 ** 20);
  });

  it("sets every switch on its own, leaving the others at the preset", () => {
    expect(modeSwitches("enclavisor", { rmp: false })).toMatchObject({ encryption: true, rmp: false, integrity: true });
    expect(modeSwitches("sev", { integrity: true })).toMatchObject({ encryption: true, rmp: false, integrity: true });
    expect(modeSwitches("sev-snp", { encryption: false })).toMatchObject({ encryption: false, rmp: true });
    expect(modeSwitches("sev", { ciphertextHiding: true }).ciphertextHiding).toBe(true);
    expect(modeSwitches("sev", { cachePages: 8 }).cachePages).toBe(8);
    expect(modeSwitches("enclavisor", { integrityCacheNodes: 7 }).integrityCacheNodes).toBe(7);
    // An undefined override (a flag not given) keeps the preset.
    expect(modeSwitches("sev-snp", { rmp: undefined }).rmp).toBe(true);
  });

  it("refuses combinations that cannot run and bad values, naming them", () => {
    expect(() => modeSwitches("native", { integrity: true })).toThrow(ProtectionError);
    expect(() => modeSwitches("native", { encryption: true, rmp: true })).toThrow(/encryption, rmp need\(s\) the software MMU/);
    expect(() => modeSwitches("sev", { cachePages: 1 })).toThrow(/at least 2 pages/);
    expect(() => modeSwitches("sev", { cachePages: 2.5 })).toThrow(/whole number/);
    expect(() => modeSwitches("enclavisor", { integrityCacheNodes: 0 })).toThrow(/at least 1 node/);
    expect(() => modeSwitches("tdx" as ModeName)).toThrow(/unknown protection mode 'tdx'/);
    expect(() => modeSwitches("sgx", { epcPages: -1 })).toThrow(/EPC size must be a whole number/);
    expect(() => modeSwitches("sev", { epcPages: 8192 })).toThrow(/an EPC \(8192 pages\) belongs to the sgx model, not to a sev enclave/);
    expect(() => modeSwitches("sgx", { rmp: true })).toThrow(/sgx memory model \(an EPC\) cannot run with rmp=on/);
    expect(() => modeSwitches("sgx", { epcPages: 8 })).toThrow(/the EPC \(8 pages\) must be larger than the resident cache/);
    expect(() => modeSwitches("sev", { kind: "tdx" as "sev" })).toThrow(/unknown enclave kind 'tdx'/);
  });

  it("names the modes and describes the switches", () => {
    expect(MODE_NAMES).toEqual(["native", "sev", "sev-snp", "enclavisor", "sgx"]);
    expect(isModeName("sev-snp")).toBe(true);
    expect(isModeName("tdx")).toBe(false);
    expect(describeSwitches(modeSwitches("native"))).toBe("mmu=off (native)");
    expect(describeSwitches(modeSwitches("enclavisor", { cachePages: 8, integrityCacheNodes: 64 }))).toBe(
      "mmu=on encryption=on rmp=on integrity=on integrity-scheme=counter ciphertext-hiding=off cache=8p integrity-cache=64",
    );
    expect(describeSwitches(modeSwitches("sgx", { epcPages: 8192 }))).toMatch(/integrity=on .* epc=8192p$/);
  });
});
