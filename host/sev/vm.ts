// An SEV VM as the hypervisor and the hardware see it: its firmware handle and ASID (whose key the
// memory controller uses, GuestContext), its nested page table, and its launch measurement. The
// hypervisor (hypervisor.ts) makes them; the adversary (adversary.ts) edits their NPTs.
import type { GuestContext } from "./memory-controller";
import type { NestedPageTable } from "./npt";

export interface Vm extends GuestContext {
  readonly id: number;
  readonly handle: number;
  readonly asid: number;
  readonly npt: NestedPageTable;
  /** The launch digest LAUNCH_FINISH returned (what the VM's attestation reports carry). */
  readonly measurement: Uint8Array;
}
