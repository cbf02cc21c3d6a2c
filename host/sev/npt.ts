// Nested page table: the hypervisor's GPA -> SPA map for one VM (AMD APM vol 2, 15.25 "Nested
// Paging"). The hypervisor owns it and may change it at any time; that is how remapping and
// aliasing attacks work, and what the RMP's GPA check catches on SEV-SNP.
import { FrameTable, LEAF_FRAMES, slotOf } from "./frame-table";
import { checkFrame, hexFrame } from "./page";
import { SevError } from "./sev-error";

/** #NPF for a GPA with no mapping. The hypervisor sees the faulting GPA (page granularity). */
export class NestedPageFault extends SevError {
  override readonly name = "NestedPageFault";
  constructor(
    readonly gpa: number,
    readonly asid: number,
    readonly access: "read" | "write",
  ) {
    super(`nested page fault: ${access} of GPA ${hexFrame(gpa)} (ASID ${asid}) has no NPT mapping`);
  }
}

export class NestedPageTable {
  /**
   * Per GPA, its SPA + 1 (0: no mapping), in the leaves of a radix table (frame-table.ts): every
   * guest access translates here, so a lookup is a few array loads, never a hash. A Float64Array
   * holds any frame number exactly (up to 2^53).
   */
  readonly #spas = new FrameTable(() => new Float64Array(LEAF_FRAMES));
  #size = 0;

  map(gpa: number, spa: number): void {
    checkFrame(gpa, "GPA");
    checkFrame(spa, "SPA");
    const leaf = this.#spas.leafFor(gpa);
    const slot = slotOf(gpa);
    if (leaf[slot] === 0) this.#size++;
    leaf[slot] = spa + 1;
  }

  /** Removes a mapping; false when there was none. */
  unmap(gpa: number): boolean {
    const leaf = this.#spas.leaf(gpa);
    const slot = slotOf(gpa);
    if (leaf === undefined || leaf[slot] === 0) return false;
    leaf[slot] = 0;
    this.#size--;
    return true;
  }

  lookup(gpa: number): number | undefined {
    const leaf = this.#spas.leaf(gpa);
    if (leaf === undefined) return undefined;
    const stored = leaf[slotOf(gpa)]!;
    return stored === 0 ? undefined : stored - 1;
  }

  /** The SPA for `gpa`, or a NestedPageFault. */
  translate(gpa: number, asid: number, access: "read" | "write"): number {
    const spa = this.lookup(gpa);
    if (spa === undefined) {
      checkFrame(gpa, "GPA");
      throw new NestedPageFault(gpa, asid, access);
    }
    return spa;
  }

  get size(): number {
    return this.#size;
  }

  /** Every mapping, in GPA order. */
  *entries(): IterableIterator<[gpa: number, spa: number]> {
    for (const [first, leaf] of this.#spas.leaves()) {
      for (let slot = 0; slot < LEAF_FRAMES; slot++) {
        const stored = leaf[slot]!;
        if (stored !== 0) yield [first + slot, stored - 1];
      }
    }
  }
}
