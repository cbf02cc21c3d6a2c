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
import { FrameTable, LEAF_FRAMES, slotOf } from "../sev/frame-table";
import { checkFrame, hexFrame } from "../sev/page";
import { EnclaveError } from "./enclave-error";

/** A frame's kind in the table; 0 is a frame no enclave holds. */
const PRIVATE = 1;
const TEMPLATE = 2;

/** Who holds each of LEAF_FRAMES consecutive frames: its kind, and its owner's id (any number, exactly). */
interface UseLeaf {
  readonly kind: Uint8Array;
  readonly owner: Float64Array;
}

export class FrameOwnership {
  /**
   * Per GPA, who holds the frame, in the leaves of a radix table (host/sev/frame-table.ts): every
   * load and store of an enclave checks its frame here, so a check is a few array loads, no hash.
   */
  readonly #frames = new FrameTable<UseLeaf>(() => ({ kind: new Uint8Array(LEAF_FRAMES), owner: new Float64Array(LEAF_FRAMES) }));
  /** Owner -> the frames it holds, in the order claimed; a frame is only ever let go with all of its owner's. */
  readonly #byOwner = new Map<number, number[]>();
  /** Live clone -> its template. */
  readonly #templateOf = new Map<number, number>();
  /** Template -> its live clones. */
  readonly #clones = new Map<number, Set<number>>();

  /** Gives the free frame `gpa` to `enclave` as private; FRAME_NOT_OWNED if anyone holds it. */
  claim(gpa: number, enclave: number): void {
    if (this.#kind(gpa) !== 0) throw this.#refuse(gpa, enclave, "claim");
    checkFrame(gpa, "GPA");
    const leaf = this.#frames.leafFor(gpa);
    const slot = slotOf(gpa);
    leaf.kind[slot] = PRIVATE;
    leaf.owner[slot] = enclave;
    let frames = this.#byOwner.get(enclave);
    if (!frames) this.#byOwner.set(enclave, (frames = []));
    frames.push(gpa);
  }

  /** Throws FRAME_NOT_OWNED unless `enclave` may read `gpa`. */
  checkRead(gpa: number, enclave: number): void {
    const leaf = this.#frames.leaf(gpa);
    if (leaf !== undefined) {
      const slot = slotOf(gpa);
      const kind = leaf.kind[slot];
      const owner = leaf.owner[slot];
      if (kind !== 0 && (owner === enclave || (kind === TEMPLATE && this.#templateOf.get(enclave) === owner))) return;
    }
    throw this.#refuse(gpa, enclave, "read");
  }

  /** Throws FRAME_NOT_OWNED unless `gpa` is a private frame of `enclave`. */
  checkWrite(gpa: number, enclave: number): void {
    const leaf = this.#frames.leaf(gpa);
    const slot = slotOf(gpa);
    if (leaf?.kind[slot] === PRIVATE && leaf.owner[slot] === enclave) return;
    throw this.#refuse(gpa, enclave, "write");
  }

  /** Freezes every frame of `template`: from now on read-only, shared with the clones attached to it. */
  freeze(template: number): void {
    for (const gpa of this.#byOwner.get(template) ?? []) this.#frames.leafFor(gpa).kind[slotOf(gpa)] = TEMPLATE;
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
    const kind = this.#kind(gpa);
    if (kind === 0) return undefined;
    return { kind: kind === PRIVATE ? "private" : "template", owner: this.#frames.leaf(gpa)!.owner[slotOf(gpa)]! };
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
    for (const gpa of this.#byOwner.get(enclave) ?? []) {
      const leaf = this.#frames.leafFor(gpa);
      leaf.kind[slotOf(gpa)] = 0;
      leaf.owner[slotOf(gpa)] = 0;
    }
    this.#byOwner.delete(enclave);
  }

  /** The kind of `gpa` in the table (0: held by no enclave). */
  #kind(gpa: number): number {
    return this.#frames.leaf(gpa)?.kind[slotOf(gpa)] ?? 0;
  }

  #refuse(gpa: number, enclave: number, what: string): EnclaveError {
    const use = this.ownerOf(gpa);
    const holder = use ? `${use.kind} to enclave ${use.owner}` : "held by no enclave";
    return new EnclaveError("FRAME_NOT_OWNED", `enclave ${enclave} may not ${what} frame GPA ${hexFrame(gpa)}: it is ${holder}`);
  }
}
