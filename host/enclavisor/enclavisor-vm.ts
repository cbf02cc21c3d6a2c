// One Enclavisor VM (docs/architecture.md, "Enclavisor", Boot): an SEV VM launched through the SNP
// launch flow over the Enclavisor image (enclavisor-image.ts: its pages are measured, so the VM's
// SNP reports carry Enclavisor's measurement), with what Enclavisor keeps for the enclaves inside
// it: the VM's integrity tree and its node store, the frame ownership table, the address-space
// slots of its enclaves, and its attestation key.
//
// Guest-physical layout: enclave slot k holds GPAs [k * SLOT_PAGES, (k + 1) * SLOT_PAGES), room for
// the largest Wasm memory; MAX_SLOTS slots stay below the image (IMAGE_GPA, 2^32 - 4096) and the
// tree's node store (NODE_STORE_GPA_BASE, 2^32). A `vm`-granularity VM has one slot; a shared one
// (`process`, `function`) has MAX_SLOTS. The tree is the VM's (one root, one cache): each
// enclave's leaves are the contiguous run of its slot.
//
// The attestation key (attestation.ts) is bound to the VM's report once per VM. A shared VM makes
// it at boot, for all its enclaves; a `vm`-granularity VM makes it on its enclave's first attest,
// since most enclaves never attest and an ECDSA key plus a signed SNP report would double the
// cost of their boot.
import type { Vm } from "../sev/vm";
import type { SecureProcessor } from "../sev/secure-processor";
import { SevCommandError, SevStatus, statusName } from "../sev/status";
import { Attester } from "./attestation";
import type { GranularityName } from "./attestation";
import { EnclaveError } from "./enclave-error";
import { enclavisorImage } from "./enclavisor-image";
import { FrameOwnership } from "./frame-ownership";
import { CounterTree, INTEGRITY_KEY_BYTES, PAGE_MAC_BYTES } from "./counter-tree";
import type { IntegrityScheme, IntegritySchemeName } from "./integrity-scheme";
import { MerkleTree } from "./merkle-tree";
import { DramNodeStore } from "./node-store";
import type { Platform } from "../sev/platform";

/** Frames of one enclave address space: 2^20 pages of 4 KiB = 4 GiB, the most a Wasm memory spans. */
export const SLOT_PAGES = 2 ** 20;
/** Enclaves one shared Enclavisor VM holds at a time. */
export const MAX_SLOTS = 1024;

/** The integrity scheme of a VM: which one, and how many verified nodes its cache holds. */
export interface VmIntegrity {
  scheme: IntegritySchemeName;
  cacheNodes: number;
}

export interface EnclavisorVmOptions {
  platform: Platform;
  /** `vm`: one enclave, key made on first attest; `process`/`function`: shared, key made at boot. */
  granularity: GranularityName;
  /** Its enclaves' pages go through the memory encryption engine (the C-bit): the same for all of them. */
  encryption: boolean;
  /** Keep an integrity scheme over the VM's frames (absent: none). */
  integrity?: VmIntegrity;
  /** Pages the scheme covers (default: every slot's frames); a `vm`-granularity VM with a memory limit needs fewer. */
  treeFrames?: number;
}

/** GPA of the first frame of the counter tree's page MACs: above the node store, far above any enclave. */
export const MAC_STORE_GPA_BASE = 2 ** 33;

export class EnclavisorVm {
  readonly platform: Platform;
  readonly vm: Vm;
  readonly granularity: GranularityName;
  readonly ownership = new FrameOwnership();
  /** Where the scheme's nodes live: untrusted DRAM frames of the VM (what a node attack tampers with). */
  readonly nodeStore: DramNodeStore | null;
  /** Where the counter tree's page MACs live, also untrusted DRAM (null for the Merkle tree). */
  readonly macStore: DramNodeStore | null;
  readonly tree: IntegrityScheme | null;
  readonly slots: number;
  readonly #freeSlots: number[];
  #attester: Attester | undefined;
  #down = false;

  private constructor(opts: EnclavisorVmOptions, vm: Vm) {
    this.platform = opts.platform;
    this.vm = vm;
    this.granularity = opts.granularity;
    this.slots = opts.granularity === "vm" ? 1 : MAX_SLOTS;
    this.#freeSlots = Array.from({ length: this.slots }, (_, i) => this.slots - 1 - i);
    const { hv, mc, sp } = opts.platform;
    const integrity = opts.integrity;
    const frames = opts.treeFrames ?? this.slots * SLOT_PAGES;
    if (!integrity) {
      this.nodeStore = this.macStore = this.tree = null;
    } else if (integrity.scheme === "merkle") {
      this.nodeStore = new DramNodeStore(hv, vm, MerkleTree.nodeBytes, { mc });
      this.macStore = null;
      this.tree = new MerkleTree({ frames, cacheNodes: integrity.cacheNodes, store: this.nodeStore });
    } else {
      this.nodeStore = new DramNodeStore(hv, vm, CounterTree.nodeBytesFor(), { mc });
      this.macStore = new DramNodeStore(hv, vm, PAGE_MAC_BYTES, { mc, gpaBase: MAC_STORE_GPA_BASE });
      const access = { shared: !opts.encryption };
      const key = integrityKey(sp, vm.handle);
      this.tree = new CounterTree({
        frames, cacheNodes: integrity.cacheNodes, key, store: this.nodeStore, macs: this.macStore,
        readPage: (gpa, dst) => mc.guestReadPage(vm, gpa, access, dst),
      });
      key.fill(0);
    }
  }

  /**
   * Launches the VM over the Enclavisor image (LAUNCH_START, ACTIVATE, LAUNCH_UPDATE of each image
   * page, LAUNCH_FINISH). ASID_EXHAUSTED when every ASID is bound to a running VM.
   */
  static boot(opts: EnclavisorVmOptions): EnclavisorVm {
    let vm: Vm;
    try {
      vm = opts.platform.launchVm({ pages: enclavisorImage().pages });
    } catch (e) {
      if (e instanceof SevCommandError && e.status === SevStatus.RESOURCE_LIMIT) {
        const size = opts.platform.sp.platformStatus().asids.size;
        throw new EnclaveError("ASID_EXHAUSTED", `all ${size} ASIDs of the platform are bound to running VMs: destroy a vm-granularity enclave first, or use --granularity process`, { cause: e });
      }
      throw e;
    }
    try {
      const evm = new EnclavisorVm(opts, vm);
      if (opts.granularity !== "vm" && opts.platform.mc.snp) evm.attester();
      return evm;
    } catch (e) {
      opts.platform.hv.destroyVm(vm);
      throw e;
    }
  }

  /** The VM's attestation key, bound to its SNP report (SNP only: plain SEV has no reports). */
  attester(): Attester {
    this.#attester ??= Attester.create({
      sp: this.platform.sp,
      vmHandle: this.vm.handle,
      // The VM-level attester reports on no enclave; each enclave gets forEnclave().
      measurement: new Uint8Array(48),
      enclaveId: 0n,
      granularity: this.granularity,
    });
    return this.#attester;
  }

  /** Takes a free slot; returns its first GPA. */
  takeSlot(): number {
    const slot = this.#freeSlots.pop();
    if (slot === undefined) throw new EnclaveError("SLOTS_EXHAUSTED", `the Enclavisor VM ${this.vm.id} holds ${this.slots} enclave(s) already`);
    return slot * SLOT_PAGES;
  }

  /** Gives a slot back once its frames are scrubbed and released. */
  returnSlot(firstGpa: number): void {
    this.#freeSlots.push(firstGpa / SLOT_PAGES);
  }

  /** Slots in use. */
  get enclaves(): number {
    return this.slots - this.#freeSlots.length;
  }

  get running(): boolean {
    return !this.#down;
  }

  /** Tears the VM down: DEACTIVATE and DECOMMISSION, every frame back to the hypervisor. */
  /**
   * Tears the VM down: its integrity scheme's frames in DRAM are zeroed (its enclaves' own are
   * scrubbed when each is destroyed), then DEACTIVATE and DECOMMISSION, every frame back to the
   * hypervisor.
   */
  shutdown(): void {
    if (this.#down) return;
    this.#down = true;
    if (!this.platform.hv.vms().some((v) => v.id === this.vm.id)) return;
    this.nodeStore?.scrub();
    this.macStore?.scrub();
    this.platform.hv.destroyVm(this.vm);
  }
}

/**
 * The VM's integrity key, from the secure processor (MSG_KEY_REQ, SNP ABI 56860, 7.2) with the
 * VM root key: random per launch and held by the firmware, so it never leaves the VM, and a
 * relaunch (whose memory starts empty) gets a new one.
 */
function integrityKey(sp: SecureProcessor, vmHandle: number): Uint8Array {
  const r = sp.guestRequest(vmHandle, { type: "key", rootKeySelect: "vmrk", guestFieldSelect: 0, vmpl: 0, guestSvn: 0, tcbVersion: sp.tcb });
  if (r.status !== SevStatus.SUCCESS || !r.key || r.key.length < INTEGRITY_KEY_BYTES) {
    throw new EnclaveError("BAD_STATE", `the secure processor refused the VM's integrity key (MSG_KEY_REQ): ${statusName(r.status)}`);
  }
  const key = new Uint8Array(r.key.subarray(0, INTEGRITY_KEY_BYTES));
  r.key.fill(0);
  return key;
}
