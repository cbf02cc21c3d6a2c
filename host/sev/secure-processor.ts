// The AMD secure processor (AMD-SP / PSP firmware): the only holder of the chip secret and of the
// guests' memory keys. It runs the SEV API state machines (SEV API spec pub. 55766, chapter 5
// "Platform and Guest State"; SEV-SNP Firmware ABI spec pub. 56860, chapter 8) and answers guest
// requests (ABI chapter 7: MSG_REPORT_REQ, MSG_KEY_REQ). Every command returns the firmware's
// numeric status; none throws on bad input from the (untrusted) hypervisor.
import { randomBytes, type KeyObject } from "node:crypto";
import { AsidPool, ASID_PRESETS } from "./asid";
import { certificateChain, type CertificateChain } from "./certs";
import type { Dram } from "./dram";
import {
  deriveChipId,
  deriveGuestKey,
  deriveVcek,
  deriveVcekRootKey,
  GUEST_FIELD_MASK,
  type KeyRequest,
} from "./key-derivation";
import { isPageType, LaunchDigest, PageType } from "./launch-digest";
import { MEE_KEY_BYTES, type MemoryEncryptionEngine } from "./mee";
import { PAGE_SHIFT, PAGE_SIZE } from "../page";
import { PlatformState } from "./platform-state";
import {
  encodeReport,
  REPORT_VERSION,
  SIG_ALGO_ECDSA_P384_SHA384,
  signReport,
  tcbAtMost,
  type FirmwareVersion,
  type TcbVersion,
} from "./report";
import type { Rmp } from "./rmp";
import { SevStatus } from "./status";

export type PlatformStateName = "UNINIT" | "INIT" | "WORKING";
/** SEV guest states (SEV API 5.2); SNP's GSTATE_LAUNCH is LUPDATE, GSTATE_RUNNING is RUNNING. */
export type GuestStateName = "UNINIT" | "LUPDATE" | "LSECRET" | "RUNNING";

/** Default TCB: the levels of a Milan part (boot loader 3, TEE 0, SNP 8, microcode 115). */
export const DEFAULT_TCB: TcbVersion = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
export const FIRMWARE_VERSION: FirmwareVersion = { major: 1, minor: 52, build: 4 };
/** PLATFORM_INFO: SMT enabled (bit 0), as on the machines AMD's sample reports come from. */
const PLATFORM_INFO = 1n;

/** Guest policy bits (SNP ABI 4.3 "Guest Policy"). */
export const Policy = {
  SMT: 1n << 16n,
  RESERVED_MBO: 1n << 17n, // must be one
  MIGRATE_MA: 1n << 18n,
  DEBUG: 1n << 19n,
  SINGLE_SOCKET: 1n << 20n,
} as const;
/** A policy that LAUNCH_START accepts: ABI 0.0, SMT allowed, the must-be-one bit set. */
export const DEFAULT_POLICY = Policy.SMT | Policy.RESERVED_MBO;
const POLICY_KNOWN_BITS = (1n << 25n) - 1n;

/** ID block fields that LAUNCH_FINISH checks and copies into the guest's reports (SNP ABI 8.18). */
export interface IdBlock {
  /** Expected launch digest; LAUNCH_FINISH fails with BAD_MEASUREMENT when it differs. */
  measurement?: Uint8Array;
  familyId?: Uint8Array;
  imageId?: Uint8Array;
  guestSvn?: number;
  /** Must equal the policy given to LAUNCH_START, else POLICY_FAILURE. */
  policy?: bigint;
}

export interface LaunchUpdateParams {
  /** DRAM frame holding the page (plaintext written by the hypervisor; zeroed for ZERO pages). */
  spa: number;
  /** Guest frame number the page is mapped at. */
  gpa: number;
  pageType: number;
}

export type GuestRequest =
  | { type: "report"; reportData: Uint8Array; vmpl?: number }
  | ({ type: "key"; requesterVmpl?: number } & KeyRequest);

interface Guest {
  readonly handle: number;
  state: GuestStateName;
  readonly policy: bigint;
  asid: number | undefined;
  readonly digest: LaunchDigest;
  measurement: Uint8Array;
  familyId: Uint8Array;
  imageId: Uint8Array;
  guestSvn: number;
  hostData: Uint8Array;
  readonly reportId: Uint8Array;
  /** VM root key: the ROOT_KEY_SELECT=VMRK root of this guest's derived keys. */
  readonly vmrk: Uint8Array;
  readonly launchTcb: TcbVersion;
  readonly frames: Set<number>;
}

export interface SecureProcessorOptions {
  stateDir: string;
  mee: MemoryEncryptionEngine;
  dram: Dram;
  rmp: Rmp;
  /** Number of ASIDs (see ASID_PRESETS); default Milan's 509. */
  asids?: number;
  tcb?: TcbVersion;
}

const ok = { status: SevStatus.SUCCESS } as const;
type Result<T = object> = { status: SevStatus } & Partial<T>;

function fail(status: SevStatus): { status: SevStatus } {
  return { status };
}

function isBytes(x: unknown, len: number): x is Uint8Array {
  return x instanceof Uint8Array && x.length === len;
}

/** SNP secrets page (SNP ABI 8.17.2, "Secrets Page Format"): version, then VMPCK0..3 at 0x20. */
function secretsPage(): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  new DataView(page.buffer).setUint32(0x00, 2, true);
  page.set(randomBytes(4 * 32), 0x20);
  return page;
}

export class SecureProcessor {
  readonly tcb: TcbVersion;
  readonly chipId: Uint8Array;
  readonly state: PlatformState;
  private platform: PlatformStateName = "UNINIT";
  private asids: AsidPool;
  private readonly guests = new Map<number, Guest>();
  private nextHandle = 1;
  private readonly mee: MemoryEncryptionEngine;
  private readonly dram: Dram;
  private readonly rmp: Rmp;
  readonly #chipSecret: Uint8Array;
  readonly #vcek: { privateKey: KeyObject; publicKey: KeyObject };

  constructor(opts: SecureProcessorOptions) {
    this.state = PlatformState.open(opts.stateDir);
    this.#chipSecret = this.state.chipSecret();
    this.tcb = { ...(opts.tcb ?? DEFAULT_TCB) };
    this.chipId = deriveChipId(this.#chipSecret);
    this.#vcek = deriveVcek(this.#chipSecret, this.tcb);
    this.mee = opts.mee;
    this.dram = opts.dram;
    this.rmp = opts.rmp;
    this.asids = new AsidPool(opts.asids ?? ASID_PRESETS.milan);
  }

  /** The VCEK public key (what AMD's KDS would certify for this chip and TCB). */
  get vcekPublicKey(): KeyObject {
    return this.#vcek.publicKey;
  }

  /** ARK, ASK and this chip's VCEK certificate. */
  certificates(): Promise<CertificateChain> {
    return certificateChain(this.state, this.#vcek.publicKey, this.tcb, this.chipId);
  }

  // ---- monotonic counters ------------------------------------------------------------------
  // Real SNP firmware has no guest-visible monotonic counter (deployments use a TPM NV counter or a
  // remote service); the emulated chip keeps named ones in its persistent state, which the host
  // cannot lower: rollback protection for sealed data.

  /** A persistent monotonic counter (0 until first advanced). */
  counterRead(name: string): number {
    return this.state.counter(name);
  }

  /** Raises a counter to `to`, durably; throws PlatformStateError if `to` is below it or not a whole number. */
  counterAdvance(name: string, to: number): number {
    return this.state.advance(name, to);
  }

  // ---- platform commands -------------------------------------------------------------------

  /** INIT (SNP_INIT): UNINIT -> INIT. */
  init(): { status: SevStatus } {
    if (this.platform !== "UNINIT") return fail(SevStatus.INVALID_PLATFORM_STATE);
    this.platform = "INIT";
    return ok;
  }

  /** SHUTDOWN: any state -> UNINIT; every guest is dropped and its key slot cleared. */
  shutdown(): { status: SevStatus } {
    for (const g of this.guests.values()) if (g.asid !== undefined) this.mee.clearKey(g.asid);
    this.guests.clear();
    this.asids = new AsidPool(this.asids.size);
    this.platform = "UNINIT";
    return ok;
  }

  platformStatus(): {
    status: SevStatus;
    state: PlatformStateName;
    guestCount: number;
    firmware: FirmwareVersion;
    tcb: TcbVersion;
    asids: { free: number; owned: number; dirty: number; size: number };
  } {
    return {
      status: SevStatus.SUCCESS,
      state: this.platform,
      guestCount: this.guests.size,
      firmware: { ...FIRMWARE_VERSION },
      tcb: { ...this.tcb },
      asids: { ...this.asids.counts(), size: this.asids.size },
    };
  }

  /** The hypervisor executed WBINVD on every core (needed before DF_FLUSH after a DEACTIVATE). */
  wbinvd(): { status: SevStatus } {
    this.asids.wbinvd();
    return ok;
  }

  /** DF_FLUSH: makes deactivated ASIDs usable again. */
  dfFlush(): { status: SevStatus } {
    if (this.platform === "UNINIT") return fail(SevStatus.INVALID_PLATFORM_STATE);
    return { status: this.asids.dfFlush() };
  }

  // ---- guest launch ------------------------------------------------------------------------

  /** LAUNCH_START: a new guest context in LUPDATE; its ASID is bound by ACTIVATE. */
  launchStart(policy: bigint = DEFAULT_POLICY): Result<{ handle: number }> {
    if (this.platform === "UNINIT") return fail(SevStatus.INVALID_PLATFORM_STATE);
    if (typeof policy !== "bigint" || policy < 0n || policy >= 1n << 64n) return fail(SevStatus.INVALID_PARAM);
    if ((policy & ~POLICY_KNOWN_BITS) !== 0n || (policy & Policy.RESERVED_MBO) === 0n) return fail(SevStatus.POLICY_FAILURE);
    const abiMajor = Number((policy >> 8n) & 0xffn);
    const abiMinor = Number(policy & 0xffn);
    if (abiMajor > FIRMWARE_VERSION.major || (abiMajor === FIRMWARE_VERSION.major && abiMinor > FIRMWARE_VERSION.minor)) {
      return fail(SevStatus.POLICY_FAILURE);
    }
    const handle = this.nextHandle++;
    this.guests.set(handle, {
      handle,
      state: "LUPDATE",
      policy,
      asid: undefined,
      digest: new LaunchDigest(),
      measurement: new Uint8Array(48),
      familyId: new Uint8Array(16),
      imageId: new Uint8Array(16),
      guestSvn: 0,
      hostData: new Uint8Array(32),
      reportId: new Uint8Array(randomBytes(32)),
      vmrk: new Uint8Array(randomBytes(48)),
      launchTcb: { ...this.tcb },
      frames: new Set(),
    });
    this.platform = "WORKING";
    return { status: SevStatus.SUCCESS, handle };
  }

  /** ACTIVATE: binds an ASID (the lowest free one when omitted) and installs a fresh VEK for it. */
  activate(handle: number, asid?: number): Result<{ asid: number }> {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.asid !== undefined) return fail(SevStatus.ACTIVE);
    let chosen = asid;
    if (chosen === undefined) {
      const pick = this.asids.pick();
      if (pick.asid === undefined) return fail(pick.status);
      chosen = pick.asid;
    }
    const status = this.asids.bind(chosen, handle);
    if (status !== SevStatus.SUCCESS) return fail(status);
    // The VM encryption key is generated here and only ever handed to the memory controller.
    this.mee.installKey(chosen, randomBytes(MEE_KEY_BYTES));
    g.asid = chosen;
    return { status: SevStatus.SUCCESS, asid: chosen };
  }

  /**
   * SNP_LAUNCH_UPDATE: measures one page into the launch digest (PAGE_INFO, launch-digest.ts),
   * encrypts the frame in place with the guest's key and assigns it to the guest in the RMP.
   */
  launchUpdate(handle: number, p: LaunchUpdateParams): { status: SevStatus } {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.state !== "LUPDATE") return fail(SevStatus.INVALID_GUEST_STATE);
    if (g.asid === undefined) return fail(SevStatus.INACTIVE);
    if (!p || !isPageType(p.pageType)) return fail(SevStatus.INVALID_PARAM);
    if (!Number.isSafeInteger(p.gpa) || p.gpa < 0 || p.gpa >= 2 ** 40) return fail(SevStatus.INVALID_PARAM);
    if (!Number.isSafeInteger(p.spa) || p.spa < 0 || !this.dram.has(p.spa)) return fail(SevStatus.INVALID_ADDRESS);
    const entry = this.rmp.get(p.spa);
    if (entry.assigned) return fail(SevStatus.INVALID_PAGE_STATE);

    let page: Uint8Array;
    switch (p.pageType) {
      case PageType.ZERO:
        page = new Uint8Array(PAGE_SIZE);
        break;
      case PageType.SECRETS:
        page = secretsPage();
        break;
      default:
        page = this.dram.read(p.spa);
    }
    g.digest.update(p.pageType, BigInt(p.gpa) << BigInt(PAGE_SHIFT), page);
    this.dram.write(p.spa, this.mee.encryptPage(g.asid, p.spa, page));
    this.rmp.set(p.spa, {
      assigned: true,
      asid: g.asid,
      gpa: p.gpa,
      validated: true,
      pageSize: "4K",
      immutable: p.pageType === PageType.VMSA,
    });
    g.frames.add(p.spa);
    return ok;
  }

  /** LAUNCH_MEASURE (SEV): closes the update phase and returns the digest so far. */
  launchMeasure(handle: number): Result<{ measurement: Uint8Array }> {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.state !== "LUPDATE") return fail(SevStatus.INVALID_GUEST_STATE);
    g.state = "LSECRET";
    return { status: SevStatus.SUCCESS, measurement: g.digest.digest() };
  }

  /** LAUNCH_FINISH: fixes the measurement, checks the ID block, and the guest may run. */
  launchFinish(handle: number, opts: { idBlock?: IdBlock; hostData?: Uint8Array } = {}): Result<{ measurement: Uint8Array }> {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.state !== "LUPDATE" && g.state !== "LSECRET") return fail(SevStatus.INVALID_GUEST_STATE);
    if (g.asid === undefined) return fail(SevStatus.INACTIVE);
    const id = opts.idBlock ?? {};
    if (opts.hostData !== undefined && !isBytes(opts.hostData, 32)) return fail(SevStatus.INVALID_LENGTH);
    if (id.familyId !== undefined && !isBytes(id.familyId, 16)) return fail(SevStatus.INVALID_LENGTH);
    if (id.imageId !== undefined && !isBytes(id.imageId, 16)) return fail(SevStatus.INVALID_LENGTH);
    if (id.measurement !== undefined && !isBytes(id.measurement, 48)) return fail(SevStatus.INVALID_LENGTH);
    if (id.guestSvn !== undefined && (!Number.isInteger(id.guestSvn) || id.guestSvn < 0 || id.guestSvn > 0xffffffff)) {
      return fail(SevStatus.INVALID_PARAM);
    }
    const measurement = g.digest.digest();
    if (id.measurement !== undefined && Buffer.compare(id.measurement, measurement) !== 0) return fail(SevStatus.BAD_MEASUREMENT);
    if (id.policy !== undefined && id.policy !== g.policy) return fail(SevStatus.POLICY_FAILURE);
    g.measurement = measurement;
    if (id.familyId) g.familyId = new Uint8Array(id.familyId);
    if (id.imageId) g.imageId = new Uint8Array(id.imageId);
    g.guestSvn = id.guestSvn ?? 0;
    if (opts.hostData) g.hostData = new Uint8Array(opts.hostData);
    g.state = "RUNNING";
    return { status: SevStatus.SUCCESS, measurement };
  }

  /** DEACTIVATE: unbinds the ASID and drops its key; the ASID needs WBINVD + DF_FLUSH before reuse. */
  deactivate(handle: number): { status: SevStatus } {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.asid === undefined) return fail(SevStatus.INACTIVE);
    this.mee.clearKey(g.asid);
    this.asids.unbind(g.asid);
    g.asid = undefined;
    return ok;
  }

  /** DECOMMISSION: deletes a deactivated guest context. */
  decommission(handle: number): { status: SevStatus } {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.asid !== undefined) return fail(SevStatus.ACTIVE);
    this.guests.delete(handle);
    if (this.guests.size === 0 && this.platform === "WORKING") this.platform = "INIT";
    return ok;
  }

  /** GUEST_STATUS. */
  guestStatus(handle: number): Result<{ state: GuestStateName; asid: number; policy: bigint; frames: number }> {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    return {
      status: SevStatus.SUCCESS,
      state: g.state,
      asid: g.asid ?? 0,
      policy: g.policy,
      frames: g.frames.size,
    };
  }

  // ---- guest requests ----------------------------------------------------------------------

  /** SNP_GUEST_REQUEST: MSG_REPORT_REQ returns a signed report, MSG_KEY_REQ a derived key. */
  guestRequest(handle: number, req: GuestRequest): Result<{ report: Uint8Array; key: Uint8Array }> {
    const g = this.guests.get(handle);
    if (!g) return fail(SevStatus.INVALID_GUEST);
    if (g.state !== "RUNNING") return fail(SevStatus.INVALID_GUEST_STATE);
    if (g.asid === undefined) return fail(SevStatus.INACTIVE);
    if (req?.type === "report") return this.report(g, req);
    if (req?.type === "key") return this.derivedKey(g, req);
    return fail(SevStatus.INVALID_PARAM);
  }

  private report(g: Guest, req: { reportData: Uint8Array; vmpl?: number }): Result<{ report: Uint8Array }> {
    if (!isBytes(req.reportData, 64)) return fail(SevStatus.INVALID_LENGTH);
    const vmpl = req.vmpl ?? 0;
    if (!Number.isInteger(vmpl) || vmpl < 0 || vmpl > 3) return fail(SevStatus.INVALID_PARAM);
    const body = encodeReport({
      version: REPORT_VERSION,
      guestSvn: g.guestSvn,
      policy: g.policy,
      familyId: g.familyId,
      imageId: g.imageId,
      vmpl,
      signatureAlgo: SIG_ALGO_ECDSA_P384_SHA384,
      currentTcb: this.tcb,
      platformInfo: PLATFORM_INFO,
      authorKeyEn: false,
      maskChipKey: false,
      signingKey: 0,
      reportData: req.reportData,
      measurement: g.measurement,
      hostData: g.hostData,
      idKeyDigest: new Uint8Array(48),
      authorKeyDigest: new Uint8Array(48),
      reportId: g.reportId,
      reportIdMa: new Uint8Array(32).fill(0xff), // no migration agent
      reportedTcb: this.tcb,
      chipId: this.chipId,
      committedTcb: this.tcb,
      currentVersion: FIRMWARE_VERSION,
      committedVersion: FIRMWARE_VERSION,
      launchTcb: g.launchTcb,
    });
    return { status: SevStatus.SUCCESS, report: signReport(body, this.#vcek.privateKey) };
  }

  private derivedKey(g: Guest, req: KeyRequest & { requesterVmpl?: number }): Result<{ key: Uint8Array }> {
    const requester = req.requesterVmpl ?? 0;
    const validVmpl = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 3;
    if (req.rootKeySelect !== "vcek" && req.rootKeySelect !== "vmrk") return fail(SevStatus.INVALID_PARAM);
    if (!Number.isInteger(req.guestFieldSelect) || (req.guestFieldSelect & ~GUEST_FIELD_MASK) !== 0) {
      return fail(SevStatus.INVALID_PARAM);
    }
    // A guest may not ask for a key of a more privileged VMPL, a newer SVN or a newer TCB than its own.
    if (!validVmpl(requester) || !validVmpl(req.vmpl) || req.vmpl < requester) return fail(SevStatus.INVALID_PARAM);
    if (!Number.isInteger(req.guestSvn) || req.guestSvn < 0 || req.guestSvn > g.guestSvn) return fail(SevStatus.INVALID_PARAM);
    const t = req.tcbVersion;
    const validTcb =
      t !== null &&
      typeof t === "object" &&
      [t.bootloader, t.tee, t.snp, t.microcode].every((x) => Number.isInteger(x) && x >= 0 && x <= 255);
    if (!validTcb || !tcbAtMost(t, this.tcb)) return fail(SevStatus.INVALID_PARAM);
    // The VCEK root follows the requested TCB, so keys sealed under an older TCB stay derivable.
    const root = req.rootKeySelect === "vcek" ? deriveVcekRootKey(this.#chipSecret, t) : g.vmrk;
    const key = deriveGuestKey(root, req, {
      policy: g.policy,
      imageId: g.imageId,
      familyId: g.familyId,
      measurement: g.measurement,
    });
    return { status: SevStatus.SUCCESS, key };
  }
}
