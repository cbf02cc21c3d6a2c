// Enclavisor's frame ownership table (docs/architecture.md, "Enclavisor"): for every
// guest-physical frame of one Enclavisor VM that holds enclave data, who may use it. It lives in
// Enclavisor's own memory, and every path from an enclave to a frame (the enclave's page table
// filling or writing back a page, a clone's copy-on-write) asks it first.
//
// What the table allows, precisely:
//   private   one enclave reads and writes the frame; no other enclave may map, read or write it.
//   template  the frames of a function template, frozen after its initialisation: read-only to the
//             template itself and to each of its live clones; nobody writes them (a clone's first
//             write to such a page copies it to a new private frame of the clone's own).
//   (none)    a frame no enclave holds: it can be claimed as private by exactly one enclave.
// Frames of Enclavisor itself (its image and the integrity tree's nodes) are never claimed, so no
// enclave can use them. Pages shared with the host (enclave.share) are not frames at all: they
// stay resident in the enclave's own Wasm memory (host/wasm/mmu.ts share) and never reach DRAM.
import { hexFrame } from "../sev/page";
import { EnclaveError } from "./enclave-error";

type FrameUse = { kind: "private" | "template"; owner: number };

export class FrameOwnership {
  readonly #frames = new Map<number, FrameUse>();
  readonly #byOwner = new Map<number, Set<number>>();
  /** Live clone -> its template. */
  readonly #templateOf = new Map<number, number>();
  /** Template -> its live clones. */
  readonly #clones = new Map<number, Set<number>>();

  /** Gives the free frame `gpa` to `enclave` as private; FRAME_NOT_OWNED if anyone holds it. */
  claim(gpa: number, enclave: number): void {
    const use = this.#frames.get(gpa);
    if (use) throw this.#refuse(gpa, enclave, "claim", use);
    this.#frames.set(gpa, { kind: "private", owner: enclave });
    let set = this.#byOwner.get(enclave);
    if (!set) this.#byOwner.set(enclave, (set = new Set()));
    set.add(gpa);
  }

  /** Throws FRAME_NOT_OWNED unless `enclave` may read `gpa`. */
  checkRead(gpa: number, enclave: number): void {
    const use = this.#frames.get(gpa);
    if (use && (use.owner === enclave || (use.kind === "template" && this.#templateOf.get(enclave) === use.owner))) return;
    throw this.#refuse(gpa, enclave, "read", use);
  }

  /** Throws FRAME_NOT_OWNED unless `gpa` is a private frame of `enclave`. */
  checkWrite(gpa: number, enclave: number): void {
    const use = this.#frames.get(gpa);
    if (use?.kind === "private" && use.owner === enclave) return;
    throw this.#refuse(gpa, enclave, "write", use);
  }

  /** Freezes every frame of `template`: from now on read-only, shared with the clones attached to it. */
  freeze(template: number): void {
    for (const gpa of this.#byOwner.get(template) ?? []) this.#frames.get(gpa)!.kind = "template";
    this.#clones.set(template, new Set());
  }

  /** Lets `clone` read the frozen frames of `template`. */
  attachClone(clone: number, template: number): void {
    const clones = this.#clones.get(template);
    if (!clones) throw new EnclaveError("BAD_STATE", `enclave ${template} is not a frozen template`);
    clones.add(clone);
    this.#templateOf.set(clone, template);
  }

  /** Live clones of a template. */
  clonesOf(template: number): number {
    return this.#clones.get(template)?.size ?? 0;
  }

  /** Frames `enclave` holds (private, or template frames it froze). */
  framesOf(enclave: number): number[] {
    return [...(this.#byOwner.get(enclave) ?? [])];
  }

  /** Whom `gpa` belongs to, for tests and tools. */
  ownerOf(gpa: number): { kind: "private" | "template"; owner: number } | undefined {
    const use = this.#frames.get(gpa);
    return use && { ...use };
  }

  /**
   * Forgets `enclave` once its frames are scrubbed and released: its frames become free, and a
   * clone no longer reads its template. A template with live clones cannot go.
   */
  drop(enclave: number): void {
    const clones = this.#clones.get(enclave);
    if (clones && clones.size > 0) {
      throw new EnclaveError("BAD_STATE", `template ${enclave} still has ${clones.size} live clone(s): destroy them first`);
    }
    this.#clones.delete(enclave);
    const template = this.#templateOf.get(enclave);
    if (template !== undefined) {
      this.#clones.get(template)?.delete(enclave);
      this.#templateOf.delete(enclave);
    }
    for (const gpa of this.#byOwner.get(enclave) ?? []) this.#frames.delete(gpa);
    this.#byOwner.delete(enclave);
  }

  #refuse(gpa: number, enclave: number, what: string, use: FrameUse | undefined): EnclaveError {
    const holder = use ? `${use.kind} to enclave ${use.owner}` : "held by no enclave";
    return new EnclaveError("FRAME_NOT_OWNED", `enclave ${enclave} may not ${what} frame GPA ${hexFrame(gpa)}: it is ${holder}`);
  }
}
