// Untrusted storage for the integrity tree's nodes and leaf metadata (docs/architecture.md, "The
// path of one memory access", step 4d: nodes live in untrusted memory, where the adversary can
// tamper with them). A store only holds bytes; the tree verifies everything it reads. A node never
// written reads as zeroes.
import type { Hypervisor } from "../sev/hypervisor";
import type { Vm } from "../sev/vm";
import type { AccessOptions, MemoryController } from "../sev/memory-controller";
import { FrameTable, LEAF_FRAMES, slotOf } from "../sev/frame-table";
import { checkFrame, hexFrame, MAX_FRAME } from "../sev/page";
import { PAGE_SIZE } from "../page";

export interface NodeStore {
  /** Size of every node in bytes. */
  readonly nodeBytes: number;
  /** Copies node `index` into `out` (out.length === nodeBytes). */
  read(index: number, out: Uint8Array): void;
  /** Stores `bytes` (nodeBytes long) as node `index`. */
  write(index: number, bytes: Uint8Array): void;
}

function checkNodeBytes(nodeBytes: number, max: number): void {
  if (!Number.isInteger(nodeBytes) || nodeBytes < 1 || nodeBytes > max) {
    throw new RangeError(`node size must be an integer number of bytes in 1..${max}, got ${String(nodeBytes)}`);
  }
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`node index must be a non-negative integer, got ${String(index)}`);
}

function checkBuffer(bytes: Uint8Array, nodeBytes: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== nodeBytes) {
    throw new RangeError(`${what} must be a Uint8Array of the node size (${nodeBytes} bytes), got ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`);
  }
}

/** Nodes in host memory, for unit tests and benchmarks of the tree alone. Counts its accesses. */
export class MemoryNodeStore implements NodeStore {
  readonly nodeBytes: number;
  /** Accesses so far: what a test of lazy write-back counts. */
  readonly counts = { reads: 0, writes: 0 };
  readonly #nodes = new Map<number, Uint8Array>();

  constructor(nodeBytes: number) {
    checkNodeBytes(nodeBytes, 2 ** 20);
    this.nodeBytes = nodeBytes;
  }

  read(index: number, out: Uint8Array): void {
    checkIndex(index);
    checkBuffer(out, this.nodeBytes, "node read buffer");
    this.counts.reads++;
    const node = this.#nodes.get(index);
    if (node) out.set(node);
    else out.fill(0);
  }

  write(index: number, bytes: Uint8Array): void {
    checkIndex(index);
    checkBuffer(bytes, this.nodeBytes, "node");
    this.counts.writes++;
    let node = this.#nodes.get(index);
    if (!node) this.#nodes.set(index, (node = new Uint8Array(this.nodeBytes)));
    node.set(bytes);
  }
}

/**
 * GPA of the first frame of a DramNodeStore by default: far above any enclave's memory (the
 * guest's pages start at GPA 0 and a Wasm memory spans at most 2^20 frames).
 */
export const NODE_STORE_GPA_BASE = 2 ** 32;

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Guest accesses with the C-bit clear: the nodes' pages are shared, never encrypted. */
const SHARED: AccessOptions = Object.freeze({ shared: true });

/**
 * Nodes packed into DRAM frames that the hypervisor backs as shared (unencrypted) pages of the VM,
 * at GPAs from `gpaBase` on; a frame is added on the first write to one of its nodes, so host
 * memory holds only the frames the tree really uses. Every access goes through the VM's NPT, so
 * Adversary.writeFrame, flipBits, replay and remap all reach the nodes, as on the real part.
 * With `mc`, nodes are read and written as Enclavisor does on the real part: guest accesses to its
 * shared pages through the memory controller, C-bit clear, of the node's own bytes only. Without
 * it, through the hypervisor's own accesses to the frames (the same bytes; each access copies the
 * frame, several times slower).
 */
export class DramNodeStore implements NodeStore {
  readonly nodeBytes: number;
  readonly nodesPerFrame: number;
  readonly gpaBase: number;
  readonly #hv: Hypervisor;
  readonly #vm: Vm;
  readonly #mc: MemoryController | undefined;
  /**
   * Per store frame (node index / nodesPerFrame), 1 once the hypervisor backs it, in the leaves of
   * a radix table (host/sev/frame-table.ts): every node access asks, so it is a few array loads,
   * no hash, and the few frames a sparse tree uses take little memory however far apart they are.
   */
  readonly #backed = new FrameTable(() => new Uint8Array(LEAF_FRAMES));
  /** The same frames in the order they were backed: what scrub() zeroes. */
  readonly #written: number[] = [];

  constructor(hv: Hypervisor, vm: Vm, nodeBytes: number, opts: { mc?: MemoryController; gpaBase?: number } = {}) {
    checkNodeBytes(nodeBytes, PAGE_SIZE);
    const gpaBase = opts.gpaBase ?? NODE_STORE_GPA_BASE;
    checkFrame(gpaBase, "node store base GPA");
    this.#hv = hv;
    this.#vm = vm;
    this.#mc = opts.mc;
    this.nodeBytes = nodeBytes;
    this.nodesPerFrame = Math.floor(PAGE_SIZE / nodeBytes);
    this.gpaBase = gpaBase;
  }

  read(index: number, out: Uint8Array): void {
    checkIndex(index);
    checkBuffer(out, this.nodeBytes, "node read buffer");
    const frame = Math.floor(index / this.nodesPerFrame);
    if (!this.#isBacked(frame)) {
      out.fill(0);
      return;
    }
    const offset = (index % this.nodesPerFrame) * this.nodeBytes;
    if (this.#mc) this.#mc.guestReadShared(this.#vm, this.#gpaOf(frame), offset, out);
    else out.set(this.#hv.adversary.readFrame(this.#spa(frame, "read"), "cpu").subarray(offset, offset + this.nodeBytes));
  }

  write(index: number, bytes: Uint8Array): void {
    checkIndex(index);
    checkBuffer(bytes, this.nodeBytes, "node");
    const frame = Math.floor(index / this.nodesPerFrame);
    if (!this.#isBacked(frame)) {
      this.#hv.addPages(this.#vm, [this.#gpaOf(frame)], { shared: true });
      this.#backed.leafFor(frame)[slotOf(frame)] = 1;
      this.#written.push(frame);
    }
    const offset = (index % this.nodesPerFrame) * this.nodeBytes;
    if (this.#mc) {
      this.#mc.guestWriteShared(this.#vm, this.#gpaOf(frame), offset, bytes);
      return;
    }
    // The hypervisor's own accesses are whole pages: read-modify-write of the frame.
    const page = this.#hv.adversary.readFrame(this.#spa(frame, "read"), "cpu");
    page.set(bytes, offset);
    this.#hv.adversary.writeFrame(this.#spa(frame, "write"), page, "cpu");
  }

  /**
   * Zeroes every frame the store has written (when its VM shuts down), so that DRAM it hands back
   * holds nothing of the tree's. Frames the hypervisor has taken away are left as they are.
   */
  scrub(): void {
    for (const frame of this.#written) {
      try {
        if (this.#mc) this.#mc.guestWritePage(this.#vm, this.#gpaOf(frame), ZERO_PAGE, SHARED);
        else this.#hv.adversary.writeFrame(this.#spa(frame, "write"), ZERO_PAGE, "cpu");
      } catch {
        // an unmapped or remapped frame: the hypervisor's, whatever it holds
      }
    }
  }

  /** SPA of the frame holding node `index` (what an attack tampers with); the node must have been written. */
  frameOf(index: number): number {
    checkIndex(index);
    const frame = Math.floor(index / this.nodesPerFrame);
    if (!this.#isBacked(frame)) throw new RangeError(`node ${index} has no frame yet: nothing in its frame was ever written back`);
    return this.#spa(frame, "read");
  }

  /** Byte offset of node `index` inside its frame. */
  offsetOf(index: number): number {
    checkIndex(index);
    return (index % this.nodesPerFrame) * this.nodeBytes;
  }

  #isBacked(frame: number): boolean {
    return this.#backed.leaf(frame)?.[slotOf(frame)] === 1;
  }

  #gpaOf(frame: number): number {
    const gpa = this.gpaBase + frame;
    // gpaBase is a frame number and `frame` a whole number, so only the top of the range can fail:
    // the message is made then only.
    if (gpa > MAX_FRAME) checkFrame(gpa, `GPA ${hexFrame(gpa)} of node store frame ${frame}`);
    return gpa;
  }

  /** The frame's SPA as the VM's NPT maps it now (a NestedPageFault if the hypervisor unmapped it). */
  #spa(frame: number, access: "read" | "write"): number {
    return this.#vm.npt.translate(this.#gpaOf(frame), this.#vm.asid, access);
  }
}
