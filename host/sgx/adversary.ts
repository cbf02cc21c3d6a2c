// What an attacker can do to SGX enclave memory, each with the effect it has on a real part:
//   via "cpu":      the OS or a VMM with its own loads and stores: EPC accesses from outside the
//                   enclave get abort-page semantics (reads all ones, writes dropped);
//   via "physical": a bus interposer or cold boot: the ciphertext and MACs of EPC frames, and the
//                   MEE's version-tree nodes, which sit in the PRM next to the EPC;
// and, as the OS, edit the page tables that map an enclave's pages to frames (untrusted-os.ts).
// Addresses: an EPC frame at epcAddress(frame); tree nodes after the EPC, at treeBase + offset.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import type { Epc } from "./epc";
import { EPC_BASE, EpcAccessDenied, epcAddress, hexAddress } from "./faults";
import { PAGE_SIZE } from "../page";
import { NODE_BYTES } from "./version-tree";

export type Via = "cpu" | "physical";

/** Bytes at an address at one moment: a frame's ciphertext with its MAC, or a tree node. */
export interface SgxSnapshot {
  readonly spa: number;
  readonly bytes: Uint8Array;
  /** A frame's MAC; empty for a node (its MAC is inside its bytes). */
  readonly mac: Uint8Array;
}

export class SgxAdversary {
  readonly #epc: Epc;
  /** Where the version tree's nodes start: right after the EPC. */
  readonly treeBase: number;

  constructor(epc: Epc) {
    this.#epc = epc;
    this.treeBase = EPC_BASE + epc.pages * PAGE_SIZE;
  }

  /** The addresses of the tree nodes on a frame's path, version node first. */
  pathOf(frame: number): number[] {
    const t = this.#epc.tree;
    return Array.from({ length: t.levels }, (_, level) => this.treeBase + t.nodeOffset(level, t.nodeIndexOf(frame, level)));
  }

  /** Reads a frame's ciphertext or a tree node; via the CPU, all ones (both sit in the PRM). */
  read(address: number, via: Via = "physical"): Uint8Array {
    if (address >= this.treeBase) {
      const node = this.#node(address);
      return via === "cpu" ? new Uint8Array(NODE_BYTES).fill(0xff) : node.slice();
    }
    const frame = this.#frame(address);
    if (via === "cpu") return new Uint8Array(PAGE_SIZE).fill(0xff);
    return this.#epc.physical(frame)?.cipher.slice() ?? new Uint8Array(PAGE_SIZE);
  }

  /** Overwrites a frame's ciphertext or a node's bytes; via the CPU, the store is dropped (EpcAccessDenied). */
  write(address: number, bytes: Uint8Array, via: Via = "physical"): void {
    if (address >= this.treeBase) {
      if (bytes.length !== NODE_BYTES) throw new RangeError(`a tree node is ${NODE_BYTES} bytes, got ${bytes.length}`);
      const node = this.#node(address);
      if (via === "cpu") throw new EpcAccessDenied(address);
      node.set(bytes);
      return;
    }
    const frame = this.#frame(address);
    if (bytes.length !== PAGE_SIZE) throw new RangeError(`an EPC frame is ${PAGE_SIZE} bytes, got ${bytes.length}`);
    if (via === "cpu") throw new EpcAccessDenied(address);
    this.#stored(frame).cipher.set(bytes);
  }

  /** XORs `mask` into one byte at `offset` (a Rowhammer flip or a corrupted bus). */
  flipBits(address: number, offset: number, mask = 0x01, via: Via = "physical"): void {
    const bytes = this.read(address, "physical");
    if (!Number.isInteger(offset) || offset < 0 || offset >= bytes.length) throw new RangeError(`flip offset must be in 0..${bytes.length - 1}, got ${offset}`);
    if (!Number.isInteger(mask) || mask < 1 || mask > 0xff) throw new RangeError(`flip mask must be in 1..255, got ${mask}`);
    bytes[offset]! ^= mask;
    this.write(address, bytes, via);
  }

  /** Records what memory holds at an address now (with a frame's MAC). */
  snapshot(address: number): SgxSnapshot {
    if (address >= this.treeBase) return Object.freeze({ spa: address, bytes: this.#node(address).slice(), mac: new Uint8Array(0) });
    const stored = this.#stored(this.#frame(address));
    return Object.freeze({ spa: address, bytes: stored.cipher.slice(), mac: stored.mac.slice() });
  }

  /** Writes a snapshot back (a replay: old ciphertext with its old MAC, or an old node). */
  replay(snap: SgxSnapshot, via: Via = "physical"): void {
    this.write(snap.spa, snap.bytes, via);
    if (snap.spa < this.treeBase) this.#stored(this.#frame(snap.spa)).mac = snap.mac.slice();
  }

  #frame(address: number): number {
    const frame = (address - EPC_BASE) / PAGE_SIZE;
    if (!Number.isInteger(frame) || frame < 0 || frame >= this.#epc.pages) throw new RangeError(`${hexAddress(address)} is not an EPC frame address`);
    return frame;
  }

  #stored(frame: number) {
    const s = this.#epc.physical(frame);
    if (!s) throw new RangeError(`EPC frame at ${hexAddress(epcAddress(frame))} was never written`);
    return s;
  }

  #node(address: number): Uint8Array {
    const offset = address - this.treeBase;
    const mem = this.#epc.tree.memory;
    if (offset % NODE_BYTES !== 0 || offset + NODE_BYTES > mem.length) throw new RangeError(`${hexAddress(address)} is not a tree node address`);
    return mem.subarray(offset, offset + NODE_BYTES);
  }
}

