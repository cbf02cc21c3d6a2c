// EPC paging instructions (Intel SDM vol 3D, 38.5 "EPC and management of EPC pages"): the OS
// cannot read enclave pages, so when the EPC is full it asks the CPU to evict one.
//   EPA   turns a free EPC frame into a version array (VA) page of 512 slots;
//   EWB   decrypts the page through the MEE, re-encrypts it with the paging key under a fresh nonce
//         kept in a VA slot, and frees the frame; the OS keeps the blob and its MAC (the PCMD) in
//         untrusted memory;
//   ELDU  decrypts a blob with the nonce of its VA slot (the MAC binds enclave, page and nonce),
//         clears the slot, and loads the page into a free frame through the MEE.
// A blob the OS replays after the page was loaded again or evicted since carries an older nonce:
// its MAC fails and ELDU refuses it.
//
// VA pages take EPC frames, as on the real part; their slots are kept in the model's trusted state
// rather than written through the MEE.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Epc } from "./epc";
import { epcAddress, SgxIntegrityError } from "./faults";
import { PAGE_SIZE } from "../page";
import { SgxError } from "./sgx-error";

export const VA_SLOTS_PER_PAGE = 512;
const PAGING_MAC_BYTES = 16;

/** A VA slot: the frame of its VA page and the slot's index. */
export interface VaSlot {
  readonly vaFrame: number;
  readonly index: number;
}

/** What EWB hands the OS: the page encrypted with the paging key, its MAC, and the slot holding its nonce. */
export interface EvictedPage {
  blob: Uint8Array;
  mac: Uint8Array;
  slot: VaSlot;
}

export interface PagingCounters {
  ewb: number;
  eldu: number;
  vaPages: number;
}

interface VaPage {
  frame: number;
  /** Nonce per slot; 0 = empty. */
  slots: Float64Array;
  free: number[];
}

export class EpcPaging {
  readonly counters: PagingCounters = { ewb: 0, eldu: 0, vaPages: 0 };
  readonly #epc: Epc;
  readonly #key = randomBytes(16);
  readonly #va = new Map<number, VaPage>();
  /** VA pages with an empty slot, and the count of empty slots over all. */
  readonly #open = new Set<VaPage>();
  #freeSlots = 0;
  #nonce = 0;
  readonly #plain = new Uint8Array(PAGE_SIZE);

  constructor(epc: Epc) {
    this.#epc = epc;
  }

  /** Empty VA slots over every VA page. */
  get freeSlots(): number {
    return this.#freeSlots;
  }

  /** EPA: makes a VA page in a free frame; false when the EPC has none. VA pages belong to no enclave. */
  epa(): boolean {
    const frame = this.#epc.alloc(-1, -1, "VA");
    if (frame === null) return false;
    const va: VaPage = { frame, slots: new Float64Array(VA_SLOTS_PER_PAGE), free: Array.from({ length: VA_SLOTS_PER_PAGE }, (_, i) => VA_SLOTS_PER_PAGE - 1 - i) };
    this.#va.set(frame, va);
    this.#open.add(va);
    this.#freeSlots += VA_SLOTS_PER_PAGE;
    this.counters.vaPages++;
    return true;
  }

  /** EWB: evicts `owner`'s `page` from `frame`; the frame is free afterwards. Needs a free VA slot. */
  ewb(frame: number, owner: number, page: number): EvictedPage {
    const va = this.#open.values().next().value;
    if (!va) throw new SgxError("EWB needs an empty VA slot: the OS must EPA a VA page first");
    const plain = this.#plain;
    try {
      this.#epc.read(frame, owner, page, plain);
      const index = va.free.pop()!;
      if (va.free.length === 0) this.#open.delete(va);
      this.#freeSlots--;
      const nonce = ++this.#nonce;
      va.slots[index] = nonce;
      const c = createCipheriv("aes-128-gcm", this.#key, this.#iv(nonce), { authTagLength: PAGING_MAC_BYTES });
      c.setAAD(this.#metadata(owner, page));
      const blob = new Uint8Array(c.update(plain));
      c.final();
      this.#epc.free(frame);
      this.counters.ewb++;
      return { blob, mac: new Uint8Array(c.getAuthTag()), slot: { vaFrame: va.frame, index } };
    } finally {
      plain.fill(0);
    }
  }

  /**
   * ELDU: loads an evicted page into a free frame and returns it; the slot is cleared. Throws an
   * SgxIntegrityError when the blob is not the one the slot's nonce was made for (a replay, a
   * change, another page's blob), and a RangeError when the EPC has no free frame.
   */
  eldu(evicted: EvictedPage, owner: number, page: number): number {
    const va = this.#va.get(evicted.slot.vaFrame);
    const nonce = va?.slots[evicted.slot.index] ?? 0;
    const plain = this.#plain;
    try {
      let ok = nonce !== 0 && evicted.blob.length === PAGE_SIZE && evicted.mac.length === PAGING_MAC_BYTES;
      if (ok) {
        const d = createDecipheriv("aes-128-gcm", this.#key, this.#iv(nonce), { authTagLength: PAGING_MAC_BYTES });
        d.setAAD(this.#metadata(owner, page));
        d.setAuthTag(evicted.mac);
        const out = d.update(evicted.blob);
        try {
          d.final();
          plain.set(out);
        } catch {
          ok = false;
        }
        out.fill(0);
      }
      const frame = this.#epc.alloc(owner, page, "REG", ok ? plain : undefined);
      if (frame === null) throw new RangeError("ELDU needs a free EPC frame: the OS must evict first");
      if (!ok) {
        this.#epc.free(frame);
        throw new SgxIntegrityError(epcAddress(frame), "paging MAC (ELDU)");
      }
      va!.slots[evicted.slot.index] = 0;
      va!.free.push(evicted.slot.index);
      this.#open.add(va!);
      this.#freeSlots++;
      this.counters.eldu++;
      return frame;
    } finally {
      plain.fill(0);
    }
  }

  #iv(nonce: number): Buffer {
    const iv = Buffer.alloc(12);
    iv.writeUInt32LE(nonce % 2 ** 32, 0);
    iv.writeUInt32LE(Math.floor(nonce / 2 ** 32), 4);
    return iv;
  }

  /** The PCMD's metadata the MAC binds: which enclave and which linear page. */
  #metadata(owner: number, page: number): Buffer {
    const m = Buffer.alloc(8);
    m.writeUInt32LE(owner >>> 0, 0);
    m.writeUInt32LE(page >>> 0, 4);
    return m;
  }
}
