// Reverse Map Table (SEV-SNP): one entry per system-physical frame naming its owner, checked on
// every access when SNP is on (AMD APM vol 2, 15.36.3 "Reverse Map Table", 15.36.10 "RMP and
// VMPL Access Checks"). The hypervisor changes entries with RMPUPDATE, the guest flips the
// Validated bit with PVALIDATE, and the secure processor sets entries during launch.
import { checkFrame, hexFrame } from "./page";
import { SevError } from "./sev-error";

/** AMD SEV-SNP RMP entry (APM vol 2, 15.36.3); gpa is a guest frame number. */
export interface RmpEntry {
  assigned: boolean;
  asid: number;
  gpa: number;
  validated: boolean;
  pageSize: "4K" | "2M";
  immutable: boolean;
}

/** The check that an access failed (APM vol 2, 15.36.10), named in RmpFault. */
export type RmpCheck =
  | "hypervisor-write-to-assigned" // host write to a guest-owned frame: #PF with the RMP bit
  | "not-assigned" // private guest access to a frame the RMP does not give to any guest: #NPF
  | "asid-mismatch" // the frame belongs to another guest: #NPF
  | "gpa-mismatch" // the NPT leads to a frame assigned at another GPA (remap, alias): #NPF
  | "not-validated" // private access before PVALIDATE or after rescinding: #VC in the guest
  | "shared-access-to-assigned" // C-bit clear (shared) access to a guest-owned frame: #NPF
  | "immutable"; // RMPUPDATE of an immutable entry: FAIL_INUSE

export class RmpFault extends SevError {
  override readonly name = "RmpFault";
  constructor(
    readonly check: RmpCheck,
    readonly spa: number,
    readonly detail: { gpa?: number; asid?: number; access?: "read" | "write" } = {},
  ) {
    const who = detail.asid === undefined ? "" : ` by ASID ${detail.asid}`;
    const at = detail.gpa === undefined ? "" : ` at GPA ${hexFrame(detail.gpa)}`;
    super(`RMP check '${check}' failed: ${detail.access ?? "access"}${who}${at} to SPA ${hexFrame(spa)}`);
  }
}

const UNASSIGNED: Readonly<RmpEntry> = Object.freeze({
  assigned: false, asid: 0, gpa: 0, validated: false, pageSize: "4K", immutable: false,
});

export class Rmp {
  readonly #entries = new Map<number, RmpEntry>();

  /** A copy of the entry of `spa`; frames never touched are hypervisor-owned (all zero). */
  get(spa: number): RmpEntry {
    checkFrame(spa, "SPA");
    return { ...(this.#entries.get(spa) ?? UNASSIGNED) };
  }

  /** Firmware write of a whole entry (the secure processor during launch and reclaim). */
  set(spa: number, entry: RmpEntry): void {
    checkFrame(spa, "SPA");
    checkEntry(entry);
    if (!entry.assigned && !entry.validated && !entry.immutable && entry.asid === 0) this.#entries.delete(spa);
    else this.#entries.set(spa, { ...entry });
  }

  /**
   * RMPUPDATE (APM vol 3, "RMPUPDATE"): the hypervisor assigns a frame to a guest or takes it
   * back. The new entry is never validated (only PVALIDATE sets that) and immutable entries
   * refuse the update.
   */
  update(spa: number, entry: { assigned: boolean; asid: number; gpa: number; pageSize?: "4K" | "2M" }): void {
    const current = this.get(spa);
    if (current.immutable) throw new RmpFault("immutable", spa, { asid: 0, access: "write" });
    this.set(spa, {
      assigned: entry.assigned,
      asid: entry.assigned ? entry.asid : 0,
      gpa: entry.assigned ? entry.gpa : 0,
      validated: false,
      pageSize: entry.pageSize ?? "4K",
      immutable: false,
    });
  }

  /**
   * PVALIDATE (APM vol 3, "PVALIDATE"), issued by the guest owning `asid` for its page `gpa`,
   * which the CPU translated to `spa`. Returns false when the bit already had that value (the
   * instruction's FAIL_NOUPDATE / rFLAGS.CF); throws when the frame is not the guest's page.
   */
  pvalidate(spa: number, asid: number, gpa: number, validate: boolean): boolean {
    const e = this.get(spa);
    if (!e.assigned) throw new RmpFault("not-assigned", spa, { gpa, asid, access: "write" });
    if (e.asid !== asid) throw new RmpFault("asid-mismatch", spa, { gpa, asid, access: "write" });
    if (e.gpa !== gpa) throw new RmpFault("gpa-mismatch", spa, { gpa, asid, access: "write" });
    if (e.validated === validate) return false;
    this.#entries.set(spa, { ...e, validated: validate });
    return true;
  }

  /** Host (hypervisor, ASID 0) write: faults on a frame assigned to a guest. */
  checkHostWrite(spa: number): void {
    if (this.#entries.get(spa)?.assigned) throw new RmpFault("hypervisor-write-to-assigned", spa, { asid: 0, access: "write" });
  }

  /** Guest access with the C-bit set (`private`) or clear, after the NPT led `gpa` to `spa`. */
  checkGuestAccess(spa: number, asid: number, gpa: number, isPrivate: boolean, access: "read" | "write"): void {
    const e = this.#entries.get(spa) ?? UNASSIGNED;
    const detail = { gpa, asid, access };
    if (!isPrivate) {
      if (e.assigned) throw new RmpFault("shared-access-to-assigned", spa, detail);
      return;
    }
    if (!e.assigned) throw new RmpFault("not-assigned", spa, detail);
    if (e.asid !== asid) throw new RmpFault("asid-mismatch", spa, detail);
    if (e.gpa !== gpa) throw new RmpFault("gpa-mismatch", spa, detail);
    if (!e.validated) throw new RmpFault("not-validated", spa, detail);
  }
}

function checkEntry(e: RmpEntry): void {
  if (typeof e !== "object" || e === null) throw new TypeError("RMP entry must be an object");
  if (!Number.isInteger(e.asid) || e.asid < 0 || e.asid > 0xffff) throw new RangeError(`RMP entry ASID must be in 0..65535, got ${e.asid}`);
  checkFrame(e.gpa, "RMP entry GPA");
  if (e.pageSize !== "4K" && e.pageSize !== "2M") throw new RangeError(`RMP entry page size must be "4K" or "2M", got ${String(e.pageSize)}`);
}
