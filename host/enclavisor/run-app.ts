// Launches and runs run-to-completion enclave apps. A protected enclave gets its own SEV VM on the
// platform (DESIGN.md section 6, `vm` granularity), an enclave page table, the VM's integrity tree
// when integrity is on, and the software MMU paging through EnclaveMemory; a native one is the
// module as given (the baseline). `_start` is called if the app exports it.
import type { Vm } from "../sev/hypervisor";
import { instantiateGuest } from "../wasm/guest";
import type { Guest } from "../wasm/guest";
import { MAX_GUEST_WASM_PAGES, WASM_PAGE_SIZE, PAGE_SIZE } from "../wasm/layout";
import { EnclaveMemory } from "./enclave-memory";
import { EnclavePageTable } from "./enclave-page-table";
import { enclaveStats } from "./enclave-stats";
import type { EnclaveStats } from "./enclave-stats";
import { Attester } from "./attestation";
import { abiImports } from "./guest-abi";
import { issueEvidence } from "./evidence";
import { IntegrityTree } from "./integrity-tree";
import { measureEnclave } from "./measurement";
import { sealerFor } from "./sealing";
import { DramNodeStore } from "./node-store";
import { Platform } from "./platform";
import { ProtectionError } from "./protection";
import type { ProtectionSwitches } from "./protection";

/** Guest pages of the largest memory a rewritten guest can reach: the most GPAs an enclave can take. */
const MAX_GUEST_PAGES = (MAX_GUEST_WASM_PAGES * WASM_PAGE_SIZE) / PAGE_SIZE;

export interface EnclaveOptions {
  switches: ProtectionSwitches;
  /** The platform to launch on (protected modes); default: one booted for these switches. */
  platform?: Platform;
  /** State directory of a platform booted here (see platform.ts). */
  stateDir?: string;
  /** Most 4 KiB frames the enclave may take (protected modes; default: no limit). */
  memoryLimitPages?: number;
  /**
   * Stop the guest after this many function entries and loop iterations (protected modes; default:
   * no limit). A host-side resource limit, like a timeout: it is not part of the measurement.
   */
  fuel?: number;
  /** Receives each line as the guest logs it. */
  onLog?: (line: string) => void;
}

export interface Enclave {
  readonly switches: ProtectionSwitches;
  /** The enclave measurement (measurement.ts): what `enclave measure` predicts for the same module and flags. */
  readonly measurement: Uint8Array;
  readonly guest: Guest;
  /** Lines the guest logged so far. */
  readonly output: string[];
  /** null for a native enclave. */
  readonly platform: Platform | null;
  readonly vm: Vm | null;
  readonly memory: EnclaveMemory | null;
  readonly tree: IntegrityTree | null;
  /** Where the tree's nodes live: untrusted DRAM frames of the VM (what a node attack tampers with). */
  readonly nodeStore: DramNodeStore | null;
  /** Enclavisor's attestation key for this enclave (attestation.ts), made on first use; null without SNP (native or sev). */
  readonly attester: Attester | null;
  /** A snapshot of the enclave's counters. */
  stats(): EnclaveStats;
  /** Tears the enclave's VM down (its frames and ASID go back to the hypervisor). */
  destroy(): void;
}

export async function launchEnclave(bytes: Uint8Array, options: EnclaveOptions): Promise<Enclave> {
  const { switches } = options;
  const output: string[] = [];
  const host = {
    log: (line: string) => {
      output.push(line);
      options.onLog?.(line);
    },
  };
  if (!switches.mmu) {
    if (options.memoryLimitPages !== undefined) {
      throw new ProtectionError("a memory limit needs the software MMU: a native run cannot count the pages it touches");
    }
    if (options.fuel !== undefined) {
      throw new ProtectionError("a fuel limit needs the software MMU's rewrite: a native run is not metered");
    }
    const measurement = measureEnclave(bytes, { switches, memoryLimitPages: options.memoryLimitPages });
    const guest = await instantiateGuest(bytes, (memory) => abiImports(memory, host), { rewrite: false });
    return {
      switches, measurement, guest, output, platform: null, vm: null, memory: null, tree: null, nodeStore: null, attester: null,
      stats: () => enclaveStats(null),
      destroy: () => {},
    };
  }
  const platform = options.platform ?? new Platform({ switches, stateDir: options.stateDir });
  // The memory controller's switches are the platform's, shared by every enclave on it.
  if (platform.mc.snp !== switches.rmp || platform.mc.ciphertextHiding !== switches.ciphertextHiding) {
    throw new ProtectionError(
      `the platform runs with rmp=${platform.mc.snp ? "on" : "off"} and ciphertext hiding ${platform.mc.ciphertextHiding ? "on" : "off"}, ` +
        `but this enclave asks for rmp=${switches.rmp ? "on" : "off"} and ciphertext hiding ${switches.ciphertextHiding ? "on" : "off"}`,
    );
  }
  const vm = platform.launchVm();
  try {
    const pageTable = new EnclavePageTable({ firstGpa: 0, limitPages: options.memoryLimitPages });
    const nodeStore = switches.integrity ? new DramNodeStore(platform.hv, vm, IntegrityTree.nodeBytes, { mc: platform.mc }) : null;
    const tree = nodeStore
      ? new IntegrityTree({ frames: pageTable.gpaEnd(MAX_GUEST_PAGES), cacheNodes: switches.integrityCacheNodes, store: nodeStore })
      : null;
    const memory = new EnclaveMemory({
      hv: platform.hv,
      mc: platform.mc,
      vm,
      pageTable,
      encryption: switches.encryption,
      integrity: tree ?? undefined,
    });
    const measurement = measureEnclave(bytes, { switches, memoryLimitPages: options.memoryLimitPages });
    const sealer = sealerFor({ sp: platform.sp, vmHandle: vm.handle, enclaveMeasurement: measurement });
    // Enclavisor's attestation key, bound to the VM's SNP report (issue 5). Only SNP has
    // attestation reports, so an SEV-only VM gets none and the guest's attest() returns null. The
    // key and its report are made on first use: most enclaves never attest, and a launch should
    // not pay for it. The chain is the platform's, read once.
    let made: Attester | null = null;
    const attester = (): Attester =>
      (made ??= Attester.create({ sp: platform.sp, vmHandle: vm.handle, measurement, enclaveId: BigInt(vm.id), granularity: "vm" }));
    let attest: ((reportData: Uint8Array) => Uint8Array) | undefined;
    if (switches.rmp) {
      const chain = await platform.evidenceChain();
      attest = (reportData) => issueEvidence(attester(), chain, reportData);
    }
    const guest = await instantiateGuest(bytes, (access) => abiImports(access, host, { sealer, attest }), {
      fuel: options.fuel,
      rewrite: true,
      capacityPages: switches.cachePages,
      backing: memory,
    });
    return {
      switches, measurement, guest, output, platform, vm, memory, tree, nodeStore,
      get attester() {
        return switches.rmp ? attester() : null;
      },
      stats: () => enclaveStats(guest.mmu ? guest.mmu.stats : null, memory.counters, tree?.stats),
      destroy: () => {
        if (platform.hv.vms().some((v) => v.id === vm.id)) platform.hv.destroyVm(vm);
      },
    };
  } catch (e) {
    platform.hv.destroyVm(vm);
    throw e;
  }
}

export interface RunResult {
  output: string[];
  stats: EnclaveStats;
  milliseconds: number;
}

/** Launches the app, runs `_start`, and tears it down; throws what stopped the guest. */
export async function runApp(bytes: Uint8Array, options: EnclaveOptions): Promise<RunResult> {
  const t0 = performance.now();
  const enclave = await launchEnclave(bytes, options);
  try {
    const start = enclave.guest.instance.exports._start;
    if (typeof start === "function") (start as () => void)();
    return { output: enclave.output, stats: enclave.stats(), milliseconds: performance.now() - t0 };
  } finally {
    enclave.destroy();
  }
}
