// Nested page table: the hypervisor's GPA -> SPA map for one VM (AMD APM vol 2, 15.25 "Nested
// Paging"). The hypervisor owns it and may change it at any time; that is how remapping and
// aliasing attacks work, and what the RMP's GPA check catches on SEV-SNP.
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
  readonly #map = new Map<number, number>();

  map(gpa: number, spa: number): void {
    checkFrame(gpa, "GPA");
    checkFrame(spa, "SPA");
    this.#map.set(gpa, spa);
  }

  /** Removes a mapping; false when there was none. */
  unmap(gpa: number): boolean {
    return this.#map.delete(gpa);
  }

  lookup(gpa: number): number | undefined {
    return this.#map.get(gpa);
  }

  /** The SPA for `gpa`, or a NestedPageFault. */
  translate(gpa: number, asid: number, access: "read" | "write"): number {
    const spa = this.#map.get(gpa);
    if (spa === undefined) {
      checkFrame(gpa, "GPA");
      throw new NestedPageFault(gpa, asid, access);
    }
    return spa;
  }

  get size(): number {
    return this.#map.size;
  }

  entries(): IterableIterator<[gpa: number, spa: number]> {
    return this.#map.entries();
  }
}
