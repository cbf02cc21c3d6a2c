// Reverse Map Table (SEV-SNP): one entry per system-physical frame naming its owner, checked on
// every access when SNP is on (AMD APM vol 2, 15.36.3 "Reverse Map Table", 15.36.10 "RMP and
// VMPL Access Checks"). The hypervisor changes entries with RMPUPDATE, the guest flips the
// Validated bit with PVALIDATE, and the secure processor sets entries during launch.
import { FrameTable, LEAF_FRAMES, slotOf } from "./frame-table";
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

/** An entry's word: its flags, and its ASID above them (16 bits, so the word stays a small integer). */
const ASSIGNED = 1;
const VALIDATED = 2;
const IMMUTABLE = 4;
const PAGE_2M = 8;
const ASID_SHIFT = 4;

/** The entries of LEAF_FRAMES consecutive frames: each frame's word, and its GPA. */
interface RmpLeaf {
  readonly word: Int32Array;
  readonly gpa: Float64Array;
}

export class Rmp {
  /**
   * Per SPA, its entry as a word and a GPA, in the leaves of a radix table (frame-table.ts): every
   * guest access on SNP checks its frame here, so that check is a few array loads, with no hash
   * and no object. All zero is the entry of a frame never touched (hypervisor-owned).
   */
  readonly #entries = new FrameTable<RmpLeaf>(() => ({ word: new Int32Array(LEAF_FRAMES), gpa: new Float64Array(LEAF_FRAMES) }));

  /** A copy of the entry of `spa`; frames never touched are hypervisor-owned (all zero). */
  get(spa: number): RmpEntry {
    checkFrame(spa, "SPA");
    const leaf = this.#entries.leaf(spa);
    const slot = slotOf(spa);
    const word = leaf?.word[slot] ?? 0;
    return {
      assigned: (word & ASSIGNED) !== 0,
      asid: word >>> ASID_SHIFT,
      gpa: leaf?.gpa[slot] ?? 0,
      validated: (word & VALIDATED) !== 0,
      pageSize: (word & PAGE_2M) !== 0 ? "2M" : "4K",
      immutable: (word & IMMUTABLE) !== 0,
    };
  }

  /** Firmware write of a whole entry (the secure processor during launch and reclaim). */
  set(spa: number, entry: RmpEntry): void {
    checkFrame(spa, "SPA");
    checkEntry(entry);
    const word = wordOf(entry);
    // An entry that reads as never touched needs no leaf (the firmware's reclaim of shared frames).
    const leaf = word === 0 ? this.#entries.leaf(spa) : this.#entries.leafFor(spa);
    if (leaf === undefined) return;
    const slot = slotOf(spa);
    leaf.word[slot] = word;
    leaf.gpa[slot] = word === 0 ? 0 : entry.gpa;
  }

  /**
   * RMPUPDATE (APM vol 3, "RMPUPDATE"): the hypervisor assigns a frame to a guest or takes it
   * back. The new entry is never validated (only PVALIDATE sets that) and immutable entries
   * refuse the update.
   */
  update(spa: number, entry: { assigned: boolean; asid: number; gpa: number; pageSize?: "4K" | "2M" }): void {
    checkFrame(spa, "SPA");
    if (this.#word(spa) & IMMUTABLE) throw new RmpFault("immutable", spa, { asid: 0, access: "write" });
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
    checkFrame(spa, "SPA");
    const leaf = this.#entries.leaf(spa);
    const slot = slotOf(spa);
    const word = leaf?.word[slot] ?? 0;
    if (leaf === undefined || (word & ASSIGNED) === 0) throw new RmpFault("not-assigned", spa, { gpa, asid, access: "write" });
    if (word >>> ASID_SHIFT !== asid) throw new RmpFault("asid-mismatch", spa, { gpa, asid, access: "write" });
    if (leaf.gpa[slot] !== gpa) throw new RmpFault("gpa-mismatch", spa, { gpa, asid, access: "write" });
    if (((word & VALIDATED) !== 0) === validate) return false;
    leaf.word[slot] = word ^ VALIDATED;
    return true;
  }

  /** Host (hypervisor, ASID 0) write: faults on a frame assigned to a guest. */
  checkHostWrite(spa: number): void {
    if (this.#word(spa) & ASSIGNED) throw new RmpFault("hypervisor-write-to-assigned", spa, { asid: 0, access: "write" });
  }

  /** Guest access with the C-bit set (`private`) or clear, after the NPT led `gpa` to `spa`. */
  checkGuestAccess(spa: number, asid: number, gpa: number, isPrivate: boolean, access: "read" | "write"): void {
    const leaf = this.#entries.leaf(spa);
    const slot = slotOf(spa);
    const word = leaf?.word[slot] ?? 0;
    if (!isPrivate) {
      if (word & ASSIGNED) throw new RmpFault("shared-access-to-assigned", spa, { gpa, asid, access });
      return;
    }
    if (leaf === undefined || (word & ASSIGNED) === 0) throw new RmpFault("not-assigned", spa, { gpa, asid, access });
    if (word >>> ASID_SHIFT !== asid) throw new RmpFault("asid-mismatch", spa, { gpa, asid, access });
    if (leaf.gpa[slot] !== gpa) throw new RmpFault("gpa-mismatch", spa, { gpa, asid, access });
    if ((word & VALIDATED) === 0) throw new RmpFault("not-validated", spa, { gpa, asid, access });
  }

  /** The word of `spa`'s entry (0 for a frame never touched, or for a number that is no frame). */
  #word(spa: number): number {
    return this.#entries.leaf(spa)?.word[slotOf(spa)] ?? 0;
  }
}

/** The word of an entry; 0 (never touched) for one that grants nothing, whatever its GPA and size. */
function wordOf(e: RmpEntry): number {
  if (!e.assigned && !e.validated && !e.immutable && e.asid === 0) return 0;
  return (
    (e.asid << ASID_SHIFT) | (e.assigned ? ASSIGNED : 0) | (e.validated ? VALIDATED : 0) | (e.immutable ? IMMUTABLE : 0) | (e.pageSize === "2M" ? PAGE_2M : 0)
  );
}

function checkEntry(e: RmpEntry): void {
  if (typeof e !== "object" || e === null) throw new TypeError("RMP entry must be an object");
  if (!Number.isInteger(e.asid) || e.asid < 0 || e.asid > 0xffff) throw new RangeError(`RMP entry ASID must be in 0..65535, got ${e.asid}`);
  checkFrame(e.gpa, "RMP entry GPA");
  if (e.pageSize !== "4K" && e.pageSize !== "2M") throw new RangeError(`RMP entry page size must be "4K" or "2M", got ${String(e.pageSize)}`);
}
