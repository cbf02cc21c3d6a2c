// Untrusted storage for the integrity tree's nodes and leaf metadata (docs/architecture.md, "The
// path of one memory access", step 4d: nodes live in untrusted memory, where the adversary can
// tamper with them). A store only holds bytes; the tree verifies everything it reads. A node never
// written reads as zeroes.
import type { Hypervisor } from "../sev/hypervisor";
import type { Vm } from "../sev/vm";
import type { AccessOptions, MemoryController } from "../sev/memory-controller";
import { checkFrame, hexFrame } from "../sev/page";
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

/** Guest accesses with the C-bit clear: the nodes' pages are shared, never encrypted. */
const SHARED: AccessOptions = Object.freeze({ shared: true });

/**
 * Nodes packed into DRAM frames that the hypervisor backs as shared (unencrypted) pages of the VM,
 * at GPAs from `gpaBase` on; a frame is added on the first write to one of its nodes, so host
 * memory holds only the frames the tree really uses. Every access goes through the VM's NPT, so
 * Adversary.writeFrame, flipBits, replay and remap all reach the nodes, as on the real part.
 * With `mc`, nodes are read and written as Enclavisor does on the real part: guest accesses to its
 * shared pages through the memory controller, C-bit clear, into one reused frame buffer. Without
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
  /** Store frames (node index / nodesPerFrame) already backed by the hypervisor. */
  readonly #backed = new Set<number>();
  /** The frame of the last access: nodes are read and written a whole frame at a time. */
  readonly #frame = new Uint8Array(PAGE_SIZE);

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
    if (!this.#backed.has(frame)) {
      out.fill(0);
      return;
    }
    const offset = (index % this.nodesPerFrame) * this.nodeBytes;
    const page = this.#readFrame(frame);
    out.set(page.subarray(offset, offset + this.nodeBytes));
  }

  write(index: number, bytes: Uint8Array): void {
    checkIndex(index);
    checkBuffer(bytes, this.nodeBytes, "node");
    const frame = Math.floor(index / this.nodesPerFrame);
    if (!this.#backed.has(frame)) {
      this.#hv.addPages(this.#vm, [this.#gpaOf(frame)], { shared: true });
      this.#backed.add(frame);
    }
    // Read-modify-write of the frame: both paths write whole pages.
    const page = this.#readFrame(frame);
    page.set(bytes, (index % this.nodesPerFrame) * this.nodeBytes);
    if (this.#mc) this.#mc.guestWritePage(this.#vm, this.#gpaOf(frame), page, SHARED);
    else this.#hv.adversary.writeFrame(this.#spa(frame, "write"), page, "cpu");
  }

  /** SPA of the frame holding node `index` (what an attack tampers with); the node must have been written. */
  frameOf(index: number): number {
    checkIndex(index);
    const frame = Math.floor(index / this.nodesPerFrame);
    if (!this.#backed.has(frame)) throw new RangeError(`node ${index} has no frame yet: nothing in its frame was ever written back`);
    return this.#spa(frame, "read");
  }

  /** Byte offset of node `index` inside its frame. */
  offsetOf(index: number): number {
    checkIndex(index);
    return (index % this.nodesPerFrame) * this.nodeBytes;
  }

  #readFrame(frame: number): Uint8Array {
    if (this.#mc) return this.#mc.guestReadPage(this.#vm, this.#gpaOf(frame), SHARED, this.#frame);
    return this.#hv.adversary.readFrame(this.#spa(frame, "read"), "cpu");
  }

  #gpaOf(frame: number): number {
    const gpa = this.gpaBase + frame;
    checkFrame(gpa, `GPA ${hexFrame(gpa)} of node store frame ${frame}`);
    return gpa;
  }

  /** The frame's SPA as the VM's NPT maps it now (a NestedPageFault if the hypervisor unmapped it). */
  #spa(frame: number, access: "read" | "write"): number {
    return this.#vm.npt.translate(this.#gpaOf(frame), this.#vm.asid, access);
  }
}
