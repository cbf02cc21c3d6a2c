// The ASID pool of the memory controller: one key slot per ASID.
// Reuse rules from the SEV API spec (pub. 55766, ACTIVATE / DEACTIVATE / DF_FLUSH): after
// DEACTIVATE an ASID may still have dirty cache lines and data-fabric write buffers tagged with
// it, so it may be bound again only after WBINVD on every core and then DF_FLUSH.
import { SevStatus } from "./status";

/** Number of SEV ASIDs per processor generation (CPUID 0x8000001F ECX). */
export const ASID_PRESETS = { naples: 15, rome: 509, milan: 509, genoa: 1006 } as const;
export type Generation = keyof typeof ASID_PRESETS;

type SlotState = { kind: "free" } | { kind: "owned"; handle: number } | { kind: "dirty" };

export class AsidPool {
  readonly size: number;
  private readonly slots: SlotState[];
  private dirtyCount = 0;
  /** True once WBINVD ran on all cores after the latest DEACTIVATE. */
  private cachesClean = true;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > 0xffff) {
      throw new RangeError(`ASID pool size must be an integer in 1..65535, got ${size}`);
    }
    this.size = size;
    // ASID 0 is the hypervisor's; guests use 1..size.
    this.slots = Array.from({ length: size + 1 }, () => ({ kind: "free" }) as SlotState);
  }

  static forGeneration(gen: Generation): AsidPool {
    return new AsidPool(ASID_PRESETS[gen]);
  }

  isValid(asid: number): boolean {
    return Number.isInteger(asid) && asid >= 1 && asid <= this.size;
  }

  /** Guest handle bound to `asid`, if any. */
  ownerOf(asid: number): number | undefined {
    const slot = this.isValid(asid) ? this.slots[asid]! : undefined;
    return slot?.kind === "owned" ? slot.handle : undefined;
  }

  /** Lowest ASID that can be bound now, or the status that explains why none can. */
  pick(): { status: SevStatus; asid?: number } {
    for (let asid = 1; asid <= this.size; asid++) {
      if (this.slots[asid]!.kind === "free") return { status: SevStatus.SUCCESS, asid };
    }
    return { status: this.dirtyCount > 0 ? SevStatus.DFFLUSH_REQUIRED : SevStatus.RESOURCE_LIMIT };
  }

  bind(asid: number, handle: number): SevStatus {
    if (!this.isValid(asid)) return SevStatus.INVALID_ASID;
    const slot = this.slots[asid]!;
    if (slot.kind === "owned") return SevStatus.ASID_OWNED;
    if (slot.kind === "dirty") return SevStatus.DFFLUSH_REQUIRED;
    this.slots[asid] = { kind: "owned", handle };
    return SevStatus.SUCCESS;
  }

  /** DEACTIVATE: the ASID stays unusable until WBINVD + DF_FLUSH. */
  unbind(asid: number): void {
    if (this.slots[asid]?.kind !== "owned") return;
    this.slots[asid] = { kind: "dirty" };
    this.dirtyCount++;
    this.cachesClean = false;
  }

  /** The hypervisor ran WBINVD on all cores. */
  wbinvd(): void {
    this.cachesClean = true;
  }

  /** DF_FLUSH: frees every deactivated ASID, provided the caches were written back first. */
  dfFlush(): SevStatus {
    if (!this.cachesClean) return SevStatus.WBINVD_REQUIRED;
    for (let asid = 1; asid <= this.size; asid++) {
      if (this.slots[asid]!.kind === "dirty") this.slots[asid] = { kind: "free" };
    }
    this.dirtyCount = 0;
    return SevStatus.SUCCESS;
  }

  counts(): { free: number; owned: number; dirty: number } {
    let owned = 0;
    for (let asid = 1; asid <= this.size; asid++) if (this.slots[asid]!.kind === "owned") owned++;
    return { free: this.size - owned - this.dirtyCount, owned, dirty: this.dirtyCount };
  }
}
