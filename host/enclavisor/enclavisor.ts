// Enclavisor's host API (docs/architecture.md, "Enclavisor"): create an enclave from a module and a
// configuration, launch it, call its exports, destroy it. Errors are EnclaveErrors with a code
// (enclave-error.ts); whatever stops a guest comes out of call() as an EnclaveStopped, and the
// enclave then takes no more calls.
//
// Granularities:
//   vm        each enclave boots its own Enclavisor VM (own ASID, key, tree, attestation key);
//             destroy scrubs its frames, then DEACTIVATE and DECOMMISSION end the VM.
//   process   enclaves share one Enclavisor VM (booted on first use, kept), each in its own slot
//             of guest-physical frames with its own page table; its leaves of the VM's tree are
//             its slot's. destroy scrubs and releases its frames and frees the slot.
//   function  the first launch of a module and configuration makes a template: a `process`
//             enclave instantiated once (its data segments written and its start function run),
//             flushed to its frames, then frozen (frame-ownership.ts). Each launch is then a clone:
//             the compiled module instantiated again over a page table whose base is the
//             template's (copy-on-write, enclave-page-table.ts), with the template's measurement,
//             sealer and evidence chain. The clone's own start function runs again, over the
//             template's pages: a deterministic start writes what the template wrote, so nothing
//             is copied until the clone really changes a page. Templates live until close().
// Native and sgx enclaves have no Enclavisor (host/launcher/backends runs them).
import { createHash } from "node:crypto";
import type { Vm } from "../sev/vm";
import { instantiateGuest } from "../wasm/guest";
import type { Guest } from "../wasm/guest";
import type { RewriteResult } from "../wasm/rewrite-result";
import { MAX_GUEST_WASM_PAGES, WASM_PAGE_SIZE } from "../wasm/layout";
import { PAGE_SIZE } from "../page";
import { AttestationError, REPORT_DATA_BYTES } from "./attestation";
import type { Attester, GranularityName } from "./attestation";
import { AttestedTls } from "./attested-tls";
import { EnclaveError } from "./enclave-error";
import { EnclaveMemory } from "./enclave-memory";
import { EnclavePageTable } from "./enclave-page-table";
import { enclaveStats } from "./enclave-stats";
import type { EnclaveStats } from "./enclave-stats";
import { EnclavisorVm } from "./enclavisor-vm";
import type { VmIntegrity } from "./enclavisor-vm";
import { issueEvidence } from "./evidence";
import type { FrameOwnership } from "./frame-ownership";
import type { CertificateChain } from "../sev/platform";
import { abiImports, collectingHost } from "./guest-abi";
import { enclaveCounter } from "./enclave-counter";
import type { IntegrityScheme } from "./integrity-scheme";
import { encodeConfig, measureEnclave, toHex } from "./measurement";
import type { DramNodeStore } from "./node-store";
import type { Platform } from "../sev/platform";
import { PrivateChannel } from "./private-channel";
import { checkSwitches, ProtectionError } from "./protection";
import type { ProtectionSwitches } from "./protection";
import { sealerFor } from "./sealing";
import type { Sealer } from "./sealing";

export const GRANULARITY_NAMES: readonly GranularityName[] = ["vm", "process", "function"];
export const DEFAULT_GRANULARITY: GranularityName = "vm";
/** Measurements remembered per Enclavisor (module hash and configuration -> measurement). */
const MEASUREMENT_MEMO = 64;

/** Guest pages of the largest memory a rewritten guest can reach: the most GPAs an enclave can take. */
const MAX_GUEST_PAGES = (MAX_GUEST_WASM_PAGES * WASM_PAGE_SIZE) / PAGE_SIZE;

export function isGranularity(name: string): name is GranularityName {
  return (GRANULARITY_NAMES as readonly string[]).includes(name);
}

export interface EnclaveConfig {
  switches: ProtectionSwitches;
  /** Default `vm`. */
  granularity?: GranularityName;
  /** Most 4 KiB frames the enclave may take of its own (default: no limit). */
  memoryLimitPages?: number;
  /** Stop the guest after this many function entries and loop iterations (default: no limit; not measured). */
  fuel?: number;
  /** Receives each line as the guest logs it. */
  onLog?: (line: string) => void;
}

/** A running enclave: the guest, and what Enclavisor keeps for it. */
export interface EnclavisorEnclave {
  /** The enclave's handle, also its id in enclave reports and in the frame ownership table. */
  readonly id: number;
  readonly granularity: GranularityName;
  readonly switches: ProtectionSwitches;
  /** The enclave measurement (measurement.ts): what `enclave measure` predicts for the same module and flags. */
  readonly measurement: Uint8Array;
  readonly guest: Guest;
  /** Lines the guest logged so far. */
  readonly output: string[];
  readonly platform: Platform;
  readonly vm: Vm;
  readonly memory: EnclaveMemory;
  /** The VM's integrity tree (shared by the enclaves of a `process`/`function` VM); null with integrity off. */
  readonly tree: IntegrityScheme | null;
  /** Where the tree's nodes live: untrusted DRAM frames of the VM (what a node attack tampers with). */
  readonly nodeStore: DramNodeStore | null;
  /** Where the counter tree's page MACs live, untrusted DRAM too; null with the Merkle tree or no integrity. */
  readonly macStore: DramNodeStore | null;
  /** Enclavisor's attestation key reporting on this enclave (attestation.ts); null without SNP (mode sev). */
  readonly attester: Attester | null;
  /** The enclave's monotonic counter (enclave-counter.ts), read-only to the host. */
  /** The enclave's counter, or the one named `instance` (enclave-counter.ts). */
  counterValue(instance?: Uint8Array): number;
  /**
   * Evidence of the enclave as launched: an enclave report with all-zero report data, so it binds
   * nothing but the measurement (a client that wants freshness asks the guest, whose attest()
   * carries its own data). null without SNP reports.
   */
  launchEvidence(): Uint8Array | null;
  /**
   * Serves the enclave over attested TLS (attested-tls.ts): made on the first call, which opens the
   * enclave's private channel and generates the TLS key and its certificate (`names`: more
   * subjectAltNames). AttestationError without SNP reports; PrivateChannelError for an app without
   * a private channel.
   */
  attestedTls(names?: readonly string[]): AttestedTls;
  /** A snapshot of the enclave's counters. */
  stats(): EnclaveStats;
  /** Scrubs and frees the enclave's frames (and ends its VM at `vm` granularity). */
  destroy(): void;
}

type State = "created" | "running";

interface EnclaveRecord {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly config: EnclaveConfig;
  readonly granularity: GranularityName;
  readonly measurement: Uint8Array;
  state: State;
  /** Set while a launch is under way, so a second launch or a destroy meanwhile is refused. */
  launching: boolean;
  enclave?: EnclavisorEnclave;
  evm?: EnclavisorVm;
  memory?: EnclaveMemory;
  template?: Template;
}

/** A frozen template of the `function` granularity. */
interface Template {
  readonly id: number;
  readonly evm: EnclavisorVm;
  readonly memory: EnclaveMemory;
  /** The rewrite and compiled module the clones instantiate. */
  readonly compiled: { rewrite: RewriteResult; module: WebAssembly.Module };
  readonly measurement: Uint8Array;
  readonly sealer: Sealer;
  readonly chain: CertificateChain | null;
}

export class Enclavisor {
  readonly platform: Platform;
  readonly #records = new Map<number, EnclaveRecord>();
  /** Shared Enclavisor VMs by integrity configuration (a VM has one tree, with one cache size). */
  readonly #shared = new Map<string, EnclavisorVm>();
  readonly #templates = new Map<string, Promise<Template>>();
  readonly #measurements = new Map<string, Uint8Array>();
  #nextId = 1;

  constructor(platform: Platform) {
    this.platform = platform;
  }

  /** Checks and measures an enclave; nothing runs and no frame is taken until launch(). */
  create(bytes: Uint8Array, config: EnclaveConfig): number {
    const { switches } = config;
    const granularity = config.granularity ?? DEFAULT_GRANULARITY;
    if (!isGranularity(granularity)) {
      throw new EnclaveError("BAD_CONFIG", `unknown granularity '${String(granularity)}' (granularities: ${GRANULARITY_NAMES.join(", ")})`);
    }
    if (switches.kind !== "sev") {
      throw new EnclaveError("BAD_CONFIG", `a ${switches.kind} enclave has no Enclavisor: Enclavisor runs the SEV family (modes sev, sev-snp, enclavisor)`);
    }
    try {
      checkSwitches(switches);
    } catch (e) {
      throw new EnclaveError("BAD_CONFIG", (e as Error).message, { cause: e });
    }
    const mc = this.platform.mc;
    // The memory controller's switches are the platform's, shared by every enclave on it.
    if (mc.snp !== switches.rmp || mc.ciphertextHiding !== switches.ciphertextHiding) {
      const onOff = (b: boolean) => (b ? "on" : "off");
      throw new ProtectionError(
        `the platform runs with rmp=${onOff(mc.snp)} and ciphertext hiding ${onOff(mc.ciphertextHiding)}, ` +
          `but this enclave asks for rmp=${onOff(switches.rmp)} and ciphertext hiding ${onOff(switches.ciphertextHiding)}`,
      );
    }
    // Our own copy: what launches is exactly what was measured, whatever the caller does with its array.
    const own = new Uint8Array(bytes);
    const measurement = this.#measure(own, config);
    const id = this.#nextId++;
    this.#records.set(id, { id, bytes: own, config, granularity, measurement, state: "created", launching: false });
    return id;
  }

  /**
   * The enclave measurement, remembered by the SHA-256 of the module and the encoded configuration:
   * validating and hashing a module costs more than a whole `function` boot from its template.
   */
  #measure(bytes: Uint8Array, config: EnclaveConfig): Uint8Array {
    const measured = { switches: config.switches, memoryLimitPages: config.memoryLimitPages };
    const key = `${createHash("sha256").update(bytes).digest("hex")}:${toHex(encodeConfig(measured))}`;
    let m = this.#measurements.get(key);
    if (!m) {
      m = measureEnclave(bytes, measured);
      if (this.#measurements.size >= MEASUREMENT_MEMO) this.#measurements.delete(this.#measurements.keys().next().value!);
      this.#measurements.set(key, m);
    }
    return new Uint8Array(m);
  }

  /** Boots the enclave at its granularity and runs its start function; returns the running enclave. */
  async launch(handle: number): Promise<EnclavisorEnclave> {
    const rec = this.#record(handle);
    if (rec.state !== "created" || rec.launching) {
      throw new EnclaveError("BAD_STATE", `enclave ${handle} is ${rec.launching ? "launching" : rec.state}: only a created enclave can be launched`);
    }
    rec.launching = true;
    try {
      rec.enclave = rec.granularity === "function" ? await this.#launchClone(rec) : await this.#launchOwn(rec);
      rec.state = "running";
      return rec.enclave;
    } catch (e) {
      this.#teardown(rec);
      throw e;
    } finally {
      rec.launching = false;
    }
  }

  /**
   * Calls the export `name` of a running enclave with numeric arguments. Whatever stops the guest
   * (a trap, its abort, its fuel, a refused page) comes out as an EnclaveStopped, and every later
   * call throws the same one.
   */
  call(handle: number, name: string, ...args: (number | bigint)[]): unknown {
    const rec = this.#record(handle);
    if (rec.state !== "running") throw new EnclaveError("BAD_STATE", `enclave ${handle} is ${rec.state}: launch it before calling it`);
    const guest = rec.enclave!.guest;
    if (typeof guest.instance.exports[name] !== "function") throw new EnclaveError("NO_EXPORT", `enclave ${handle} exports no function '${name}'`);
    return guest.call(name, ...args);
  }

  /** The running enclave of a handle. */
  enclave(handle: number): EnclavisorEnclave {
    const rec = this.#record(handle);
    if (rec.state !== "running") throw new EnclaveError("BAD_STATE", `enclave ${handle} is ${rec.state}, not running`);
    return rec.enclave!;
  }

  /**
   * Scrubs every frame of the enclave's own to zeroes and gives it back to the hypervisor, frees
   * its slot, and at `vm` granularity ends its VM (DEACTIVATE, DECOMMISSION). The handle is gone.
   */
  destroy(handle: number): void {
    const rec = this.#record(handle);
    if (rec.launching) throw new EnclaveError("BAD_STATE", `enclave ${handle} is launching: destroy it once launch() has returned`);
    this.#records.delete(handle);
    this.#teardown(rec);
  }

  /** The frame ownership table of the VM a running enclave is in (for tests and tools). */
  ownershipOf(handle: number): FrameOwnership {
    const rec = this.#record(handle);
    if (!rec.evm) throw new EnclaveError("BAD_STATE", `enclave ${handle} is ${rec.state}: it has no VM yet`);
    return rec.evm.ownership;
  }

  /** Handles of the enclaves created and not destroyed. */
  handles(): number[] {
    return [...this.#records.keys()];
  }

  /** Destroys every enclave and template, and shuts the shared Enclavisor VMs down. */
  async close(): Promise<void> {
    for (const handle of this.handles()) if (!this.#records.get(handle)!.launching) this.destroy(handle);
    for (const pending of this.#templates.values()) {
      const t = await pending.catch(() => undefined);
      if (t) this.#release(t.id, t.evm, t.memory);
    }
    this.#templates.clear();
    for (const evm of this.#shared.values()) evm.shutdown();
    this.#shared.clear();
  }

  /** A `vm` or `process` enclave: its own slot (and at `vm`, its own VM). */
  async #launchOwn(rec: EnclaveRecord): Promise<EnclavisorEnclave> {
    const { switches } = rec.config;
    const evm = (rec.evm = rec.granularity === "vm" ? this.#bootOwnVm(rec) : this.#sharedVm(switches));
    const memory = (rec.memory = this.#memory(rec.id, evm, switches, rec.config.memoryLimitPages));
    const sealer = sealerFor({ sp: this.platform.sp, vmHandle: evm.vm.handle, enclaveMeasurement: rec.measurement });
    const chain = switches.rmp ? await this.platform.certificateChain() : null;
    return this.#instantiate(rec, evm, memory, sealer, chain);
  }

  /** A `function` enclave: a clone of the template of its module and configuration. */
  async #launchClone(rec: EnclaveRecord): Promise<EnclavisorEnclave> {
    const t = await this.#template(rec);
    const template = (rec.template = t);
    rec.evm = t.evm;
    const memory = (rec.memory = this.#memory(rec.id, t.evm, rec.config.switches, rec.config.memoryLimitPages, t.memory.pageTable));
    t.evm.ownership.attachClone(rec.id, template.id);
    return this.#instantiate(rec, t.evm, memory, t.sealer, t.chain, t.compiled);
  }

  #bootOwnVm(rec: EnclaveRecord): EnclavisorVm {
    const { switches, memoryLimitPages } = rec.config;
    return EnclavisorVm.boot({
      platform: this.platform,
      granularity: "vm",
      encryption: switches.encryption,
      integrity: vmIntegrity(switches),
      treeFrames: Math.min(MAX_GUEST_PAGES, memoryLimitPages ?? Infinity),
    });
  }

  #sharedVm(switches: ProtectionSwitches): EnclavisorVm {
    // A VM has one integrity scheme with one cache, and one way to reach its pages (the C-bit).
    const integrity = vmIntegrity(switches);
    const key = `${switches.encryption ? "encrypted" : "plain"}:${integrity ? `${integrity.scheme}:${integrity.cacheNodes}` : "no-tree"}`;
    let evm = this.#shared.get(key);
    if (!evm) {
      evm = EnclavisorVm.boot({
        platform: this.platform,
        granularity: "process",
        encryption: switches.encryption,
        integrity,
      });
      this.#shared.set(key, evm);
    }
    return evm;
  }

  #memory(id: number, evm: EnclavisorVm, switches: ProtectionSwitches, limitPages: number | undefined, base?: EnclavePageTable): EnclaveMemory {
    const firstGpa = evm.takeSlot();
    try {
      return new EnclaveMemory({
        hv: this.platform.hv,
        mc: this.platform.mc,
        vm: evm.vm,
        pageTable: new EnclavePageTable({ firstGpa, limitPages, base }),
        encryption: switches.encryption,
        integrity: switches.integrity ? evm.tree! : undefined,
        ownership: evm.ownership,
        enclaveId: id,
      });
    } catch (e) {
      evm.returnSlot(firstGpa);
      throw e;
    }
  }

  /** The template of this enclave's module and configuration, made on first use. */
  #template(rec: EnclaveRecord): Promise<Template> {
    const key = `${toHex(rec.measurement)}:${rec.config.fuel ?? "unmetered"}`;
    let pending = this.#templates.get(key);
    if (!pending) {
      pending = this.#makeTemplate(rec);
      this.#templates.set(key, pending);
      pending.catch(() => this.#templates.delete(key));
    }
    return pending;
  }

  async #makeTemplate(rec: EnclaveRecord): Promise<Template> {
    const { switches } = rec.config;
    const id = this.#nextId++;
    const evm = this.#sharedVm(switches);
    const memory = this.#memory(id, evm, switches, rec.config.memoryLimitPages);
    try {
      const sealer = sealerFor({ sp: this.platform.sp, vmHandle: evm.vm.handle, enclaveMeasurement: rec.measurement });
      const chain = switches.rmp ? await this.platform.certificateChain() : null;
      // The template's own output (its start function's log lines) is not anyone's: each clone
      // runs its start function again and logs its own.
      const guest = await instantiateGuest(rec.bytes, (access) => abiImports(access, { log: () => {} }, { sealer }), {
        fuel: rec.config.fuel,
        rewrite: true,
        capacityPages: switches.cachePages,
        backing: memory,
      });
      if (guest.mmu) guest.mmu.flush(); // the initialised state goes to the template's frames
      evm.ownership.freeze(id);
      return { id, evm, memory, compiled: { rewrite: guest.rewrite!, module: guest.module }, measurement: rec.measurement, sealer, chain };
    } catch (e) {
      this.#release(id, evm, memory);
      throw e;
    }
  }

  async #instantiate(
    rec: EnclaveRecord, evm: EnclavisorVm, memory: EnclaveMemory, sealer: Sealer, chain: CertificateChain | null,
    compiled?: { rewrite: RewriteResult; module: WebAssembly.Module },
  ): Promise<EnclavisorEnclave> {
    const { switches } = rec.config;
    const { host, output } = collectingHost(rec.config.onLog);
    // Only SNP has attestation reports, so an SEV-only VM gives none and the guest's attest()
    // returns null. The per-enclave attester is a view on the VM's key, made on first use.
    let made: Attester | null = null;
    const attester = (): Attester =>
      (made ??= evm.attester().forEnclave({ measurement: rec.measurement, enclaveId: BigInt(rec.id), granularity: rec.granularity }));
    const attest = chain ? (reportData: Uint8Array) => issueEvidence(attester(), chain, reportData) : undefined;
    const counter = enclaveCounter(this.platform.sp, rec.measurement);
    let tls: AttestedTls | null = null;
    const channelBinding = (conn: number) => tls?.channelBinding(conn) ?? null;
    const guest = await instantiateGuest(rec.bytes, (access) => abiImports(access, host, { sealer, attest, counter, channelBinding }), {
      fuel: rec.config.fuel,
      rewrite: true,
      capacityPages: switches.cachePages,
      backing: memory,
      compiled,
    });
    const tree = switches.integrity ? evm.tree : null;
    return {
      id: rec.id,
      granularity: rec.granularity,
      switches,
      measurement: rec.measurement,
      guest,
      output,
      platform: this.platform,
      vm: evm.vm,
      memory,
      tree,
      nodeStore: switches.integrity ? evm.nodeStore : null,
      macStore: switches.integrity ? evm.macStore : null,
      get attester() {
        return chain ? attester() : null;
      },
      counterValue: (instance) => counter.read(instance),
      launchEvidence: () => (attest ? attest(new Uint8Array(REPORT_DATA_BYTES)) : null),
      attestedTls: (names) => {
        if (!attest) throw new AttestationError("attested TLS needs evidence, and this enclave's VM has no SNP report (mode sev): use SNP");
        const subject = `enclave ${rec.id} ${Buffer.from(rec.measurement.subarray(0, 8)).toString("hex")}`;
        return (tls ??= new AttestedTls({ issueEvidence: attest, channel: new PrivateChannel(guest), subject, names }));
      },
      stats: () => enclaveStats(guest.mmu ? guest.mmu.stats : null, memory.counters, tree?.stats),
      destroy: () => {
        if (this.#records.get(rec.id) === rec) this.destroy(rec.id);
      },
    };
  }

  /** Frees what a record holds, whatever state it reached. */
  #teardown(rec: EnclaveRecord): void {
    const { evm, memory } = rec;
    rec.state = "created";
    rec.enclave = undefined;
    rec.evm = undefined;
    rec.memory = undefined;
    rec.template = undefined;
    if (!evm) return;
    if (evm.granularity === "vm") {
      // The VM goes with its only enclave: scrub, then DEACTIVATE and DECOMMISSION.
      try {
        memory?.scrub(); // what fails to scrub goes back at teardown all the same
      } finally {
        evm.shutdown();
      }
      return;
    }
    if (memory) this.#release(rec.id, evm, memory);
  }

  /**
   * Scrubs an enclave's frames in a shared VM, forgets its ownership, frees its slot. A slot with a
   * frame that could not be scrubbed (the hypervisor tampered with it) is never handed out again.
   */
  #release(id: number, evm: EnclavisorVm, memory: EnclaveMemory): void {
    if (evm.ownership.clonesOf(id) > 0) {
      throw new EnclaveError("BAD_STATE", `template ${id} still has ${evm.ownership.clonesOf(id)} live clone(s)`);
    }
    const clean = !evm.running || memory.scrub().failed.length === 0;
    evm.ownership.drop(id);
    if (clean) evm.returnSlot(memory.pageTable.firstGpa);
  }

  #record(handle: number): EnclaveRecord {
    const rec = this.#records.get(handle);
    if (!rec) throw new EnclaveError("NOT_FOUND", `no enclave with handle ${String(handle)} (never created, or destroyed)`);
    return rec;
  }
}

/** The integrity scheme a VM keeps for enclaves with these switches (none with integrity off). */
function vmIntegrity(switches: ProtectionSwitches): VmIntegrity | undefined {
  return switches.integrity ? { scheme: switches.integrityScheme, cacheNodes: switches.integrityCacheNodes } : undefined;
}
