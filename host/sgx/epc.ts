// The enclave page cache (EPC): the limited physical memory SGX protects (Intel SDM vol 3D, 34.12),
// 93 MiB usable on the client parts of the SGX1 era (128 MiB PRM). Every frame's contents leave
// the package only as MEE ciphertext with a MAC (mee-ctr.ts), versioned by the tree
// (version-tree.ts); the EPCM records which enclave and which linear page owns each frame, and the
// CPU checks it on every access, so an OS that remaps a page onto another frame gets a fault.
//
// Frames are held sparsely (a Map), so a 93 MiB EPC costs host memory only for the frames in use.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import { epcAddress, EpcmFault, SgxIntegrityError } from "./faults";
import { MeeCtr } from "./mee-ctr";
import { PAGE_SIZE } from "../page";
import { VersionTree } from "./version-tree";

/** 93 MiB of usable EPC (the sgx preset's default). */
export const DEFAULT_EPC_PAGES = (93 * 2 ** 20) / PAGE_SIZE;
/** Verified tree nodes the MEE keeps on die by default. */
export const DEFAULT_MEE_CACHE_NODES = 1024;

/** EPCM page types used here (SDM vol 3D, 34.12.2): regular enclave pages and version-array pages. */
export type EpcPageType = "REG" | "VA";

interface EpcmEntry {
  owner: number;
  /** The enclave's linear page number the frame holds (REG), or -1 (VA). */
  page: number;
  type: EpcPageType;
}

/** A frame as memory holds it: ciphertext and MAC, both outside the package. */
export interface EpcFrameContents {
  cipher: Uint8Array;
  mac: Uint8Array;
}

export interface EpcCounters {
  bytesEncrypted: number;
  bytesDecrypted: number;
}

export interface EpcOptions {
  pages?: number;
  meeCacheNodes?: number;
}

export class Epc {
  readonly pages: number;
  readonly tree: VersionTree;
  readonly counters: EpcCounters = { bytesEncrypted: 0, bytesDecrypted: 0 };
  readonly #mee = new MeeCtr();
  readonly #epcm = new Map<number, EpcmEntry>();
  /** Untrusted memory: the frames' ciphertext and MACs. */
  readonly #memory = new Map<number, EpcFrameContents>();
  readonly #free: number[] = [];
  readonly #zero = new Uint8Array(PAGE_SIZE);

  constructor(opts: EpcOptions = {}) {
    const pages = opts.pages ?? DEFAULT_EPC_PAGES;
    if (!Number.isInteger(pages) || pages < 2) throw new RangeError(`the EPC must hold at least 2 pages of 4 KiB, got ${pages}`);
    this.pages = pages;
    this.tree = new VersionTree({ frames: pages, mee: this.#mee, cacheNodes: opts.meeCacheNodes ?? DEFAULT_MEE_CACHE_NODES });
    for (let f = pages - 1; f >= 0; f--) this.#free.push(f);
  }

  get freeFrames(): number {
    return this.#free.length;
  }

  get usedFrames(): number {
    return this.pages - this.#free.length;
  }

  /**
   * EAUG/ELDU's first half: takes a free frame for `owner`'s page and records it in the EPCM; null
   * when the EPC is full (the OS must evict first). A REG frame starts as `contents` (ELDU) or as
   * zeroes (EAUG), written through the MEE.
   */
  alloc(owner: number, page: number, type: EpcPageType, contents?: Uint8Array): number | null {
    const frame = this.#free.pop();
    if (frame === undefined) return null;
    this.#epcm.set(frame, { owner, page, type });
    if (type === "REG") this.#write(frame, contents ?? this.#zero);
    return frame;
  }

  /** EREMOVE / the end of EWB: the frame goes back to the free list; its contents stay as stale ciphertext. */
  free(frame: number): void {
    if (!this.#epcm.delete(frame)) throw new RangeError(`EPC frame ${frame} is not in use`);
    this.#free.push(frame);
  }

  /** An enclave access to its page: the EPCM check, then the MEE decrypts and verifies. */
  read(frame: number, owner: number, page: number, dst: Uint8Array): void {
    this.#check(frame, owner, page);
    const stored = this.#memory.get(frame)!;
    const version = this.tree.version(frame);
    if (!this.#mee.decrypt(frame, version, stored.cipher, stored.mac, dst)) throw new SgxIntegrityError(epcAddress(frame), "page MAC");
    this.counters.bytesDecrypted += PAGE_SIZE;
  }

  /** An enclave write of its page: the EPCM check, then a new version and the MEE encrypts. */
  write(frame: number, owner: number, page: number, src: Uint8Array): void {
    this.#check(frame, owner, page);
    this.#write(frame, src);
  }

  /** Who owns a frame (EPCM), or undefined for a free frame. */
  entry(frame: number): Readonly<EpcmEntry> | undefined {
    return this.#epcm.get(frame);
  }

  /** The frame as memory holds it (the adversary's physical view); undefined if never written. */
  physical(frame: number): EpcFrameContents | undefined {
    return this.#memory.get(frame);
  }

  #write(frame: number, src: Uint8Array): void {
    const version = this.tree.bump(frame);
    let stored = this.#memory.get(frame);
    if (!stored) {
      stored = { cipher: new Uint8Array(PAGE_SIZE), mac: new Uint8Array(0) };
      this.#memory.set(frame, stored);
    }
    stored.mac = this.#mee.encrypt(frame, version, src, stored.cipher);
    this.counters.bytesEncrypted += PAGE_SIZE;
  }

  #check(frame: number, owner: number, page: number): void {
    const e = this.#epcm.get(frame);
    const address = epcAddress(frame);
    if (!e) throw new EpcmFault(address, "not-valid");
    if (e.type !== "REG") throw new EpcmFault(address, "not-regular");
    if (e.owner !== owner) throw new EpcmFault(address, "owner-mismatch");
    if (e.page !== page) throw new EpcmFault(address, "page-mismatch");
  }
}
