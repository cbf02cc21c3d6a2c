// The paging suite's testbed: the configurations it compares, and one guest launched in each, on
// platforms shared per RMP setting.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { abiImports } from "../../host/enclavisor/guest-abi";
import type { IntegrityScheme } from "../../host/enclavisor/integrity-scheme";
import { DEFAULT_CACHE_PAGES, modeSwitches } from "../../host/launcher/modes";
import type { ModeName } from "../../host/launcher/modes";
import { launchEnclave } from "../../host/launcher/run-app";
import { Platform } from "../../host/sev/platform";
import { DEFAULT_EPC_PAGES } from "../../host/sgx/epc";
import type { EnclaveExits } from "../../host/sgx/exits";
import { instantiateGuest } from "../../host/wasm/guest";
import type { Guest } from "../../host/wasm/guest";
import type { SoftMmu } from "../../host/wasm/mmu";
import type { PageBacking } from "../../host/wasm/page-backing";

/** The resident cache of every paged configuration: the launcher's default, 16 MiB. */
export const CACHE_PAGES = DEFAULT_CACHE_PAGES;

/**
 * native: the module as given; in-memory: rewritten, paging to a plain Map (host/wasm/page-backing.ts);
 * enclavisor: the mode's default, the counter tree; enclavisor-merkle: the same with the SHA-256
 * Merkle tree (--integrity-scheme merkle), to compare the two schemes.
 */
export const KINDS = ["native", "in-memory", "sev", "sev-snp", "enclavisor", "enclavisor-merkle"] as const;
export type Kind = (typeof KINDS)[number];
export const PAGED: readonly Kind[] = ["in-memory", "sev", "sev-snp", "enclavisor", "enclavisor-merkle"];
/** Part 4 adds the sgx preset (host/sgx): its own memory model, so only where working sets grow. */
export const SWEEP_KINDS = [...KINDS, "sgx"] as const;
export type SweepKind = (typeof SWEEP_KINDS)[number];
export const SWEEP_PAGED: readonly SweepKind[] = [...PAGED, "sgx"];

/** One guest in one configuration. */
export interface Instance {
  kind: SweepKind;
  guest: Guest;
  /** The MMU and its backing store; null for native. */
  mmu: SoftMmu | null;
  backing: PageBacking | null;
  tree: IntegrityScheme | null;
  /** sgx only: the enclave's exits to the OS (host/sgx/exits.ts). */
  exits: EnclaveExits | null;
  destroy(): void;
}

/** The platforms the enclaves launch on, and the secure processor's state directory they share. */
export class TestBed {
  readonly #stateDir = mkdtempSync(join(tmpdir(), "enclavisor-bench-paging-"));
  readonly rewriteCacheDir = join(this.#stateDir, "rewrite-cache");
  #platforms = new Map<boolean, Platform>();

  /** Drops the platforms, so that their DRAM (which keeps freed frames' bytes) can be collected. */
  reset(): void {
    this.#platforms = new Map();
  }

  close(): void {
    this.reset();
    rmSync(this.#stateDir, { recursive: true, force: true });
  }

  #platform(rmp: boolean): Platform {
    let p = this.#platforms.get(rmp);
    if (!p) {
      p = new Platform({ switches: { rmp, ciphertextHiding: false }, stateDir: this.#stateDir });
      this.#platforms.set(rmp, p);
    }
    return p;
  }

  async launch(bytes: Uint8Array, kind: SweepKind, integrityCacheNodes?: number, epcPages = DEFAULT_EPC_PAGES): Promise<Instance> {
    if (kind === "in-memory") {
      const host = { log: () => {} };
      const guest = await instantiateGuest(bytes, (access) => abiImports(access, host), { rewrite: true, capacityPages: CACHE_PAGES });
      if (!guest.mmu) throw new Error("the rewritten guest has no MMU");
      return { kind, guest, mmu: guest.mmu, backing: guest.mmu.backing, tree: null, exits: null, destroy: () => {} };
    }
    if (kind === "sgx") {
      const enclave = await launchEnclave(bytes, { switches: modeSwitches("sgx", { cachePages: CACHE_PAGES, epcPages }) });
      if (enclave.kind !== "sgx" || !enclave.guest.mmu) throw new Error("the sgx enclave has no SGX memory or no MMU");
      const { memory } = enclave;
      return { kind, guest: enclave.guest, mmu: enclave.guest.mmu, backing: memory, tree: null, exits: memory.exits, destroy: () => enclave.destroy() };
    }
    const mode: ModeName = kind === "enclavisor-merkle" ? "enclavisor" : kind;
    const scheme = kind === "enclavisor-merkle" ? { integrityScheme: "merkle" as const } : {};
    const switches = modeSwitches(mode, { cachePages: CACHE_PAGES, ...scheme, ...(mode === "enclavisor" ? { integrityCacheNodes } : {}) });
    const enclave = await launchEnclave(bytes, { switches, ...(switches.kind === "sev" ? { platform: this.#platform(switches.rmp) } : {}) });
    const mmu = enclave.guest.mmu;
    if (switches.kind !== "native" && !mmu) throw new Error(`the ${kind} enclave has no MMU`);
    const sev = enclave.kind === "sev" ? enclave : null;
    return { kind, guest: enclave.guest, mmu, backing: sev?.memory ?? null, tree: sev?.tree ?? null, exits: null, destroy: () => enclave.destroy() };
  }
}
