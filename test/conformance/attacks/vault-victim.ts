// The victim of every cell: the vault guest (guest-apps/vault.ts) launched in one column's mode,
// its secret, decoy and counter set, and every page evicted, so that its data lives in DRAM only.
// The adversary reaches it through a FrameSurface: for a protected mode, the hypervisor's
// Adversary API on the frames the VM's NPT maps the pages to; for native, the plain host memory
// the module runs in (it has no other). Nothing here reads a protected guest's Wasm memory: the
// page table lookups only aim the attacks, and the guest reports on its data itself.
// For the sgx column, the surface is SGX's: the EPC frames' ciphertext and MACs and the MEE's
// version-tree nodes (physically), the EPC through the OS's CPU (abort-page semantics), and the
// OS's page tables in place of the NPT (host/sgx/adversary.ts, host/sgx/untrusted-os.ts).
import type { Platform } from "../../../host/sev/platform";
import { launchEnclave } from "../../../host/launcher/run-app";
import type { SgxSnapshot } from "../../../host/sgx/adversary";
import { epcAddress } from "../../../host/sgx/faults";
import type { Enclave, SevEnclave, SgxEnclave } from "../../../host/launcher/backend";
import type { FrameSnapshot, Via } from "../../../host/sev/adversary";
import { PAGE_SIZE } from "../../../host/page";
import { tinySwitches } from "../../enclavisor/fixtures/enclave";
import type { Column } from "./matrix-axes";

/** The three pages of the vault, each alone in its own 4 KiB page. */
export type VaultPage = "secret" | "decoy" | "counter";

export const SECRET_SEED = 0x5ec2e7;
export const DECOY_SEED = 0xdec0;
/** The counter after preparation. */
export const PREPARED_COUNTER = 1;

export interface VaultExports {
  secretPtr(): number;
  decoyPtr(): number;
  counterPtr(): number;
  setSecret(seed: number): void;
  secretMismatches(seed: number): number;
  setDecoy(seed: number): void;
  decoyMismatches(seed: number): number;
  counter(): number;
  increment(): number;
  decrement(): number;
}

/** The page the guest fills from `seed`: the same xorshift32 stream as guest-apps/vault.ts. */
export function vaultPage(seed: number): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  const view = new DataView(page.buffer);
  let x = seed !== 0 ? seed >>> 0 : 0x9e3779b9;
  for (let i = 0; i < PAGE_SIZE; i += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    view.setUint32(i, x, true);
  }
  return page;
}

/** What the adversary can do to one victim's frames. Methods it lacks are n/a in its mode. */
export interface FrameSurface {
  read(page: VaultPage, via: Via): Uint8Array;
  write(page: VaultPage, bytes: Uint8Array, via: Via): void;
  flipBits(page: VaultPage, offset: number, mask: number, via: Via): void;
  snapshot(page: VaultPage): FrameSnapshot;
  replay(snap: FrameSnapshot, via: Via): void;
  /** Nested paging: absent for native. */
  npt?: {
    /** Points `page`'s GPA at the frame of `to`. */
    remap(page: VaultPage, to: VaultPage): void;
    /** Maps `page`'s GPA onto the frame of `target`'s GPA. */
    alias(page: VaultPage, target: VaultPage): void;
    /** The frame `page`'s GPA maps to now. */
    frameOf(page: VaultPage): number | undefined;
    /** A frame's bytes as DRAM holds them (a physical read by SPA, whatever the NPT says now). */
    readFrame(spa: number): Uint8Array;
  };
  /** Copies `from`'s frame, and its MAC where pages carry one, over `to`'s, physically (splicing). */
  splice(from: VaultPage, to: VaultPage): void;
  /** The pages' MACs in untrusted memory: absent where pages carry none (no integrity, or the Merkle tree). */
  macs?: {
    /** Flips bits of `page`'s MAC where it is stored; returns its bytes before and after. */
    tamper(page: VaultPage, mask: number): { before: Uint8Array; after: Uint8Array };
    /** `page`'s frame and the frame holding its MAC, as memory holds them now. */
    snapshot(page: VaultPage): FrameSnapshot[];
  };
  /** The integrity tree's untrusted node store: absent without integrity. */
  tree?: {
    /** Writes every node to the store and empties the integrity cache (as cache pressure would). */
    evictAll(): void;
    /** Flips bits of the leaf node that holds `page`'s version, through the hypervisor's stores. */
    tamperLeaf(page: VaultPage, mask: number): { before: Uint8Array; after: Uint8Array };
    /** The store frame of `page`'s leaf node, as DRAM holds it now. */
    snapshotLeaf(page: VaultPage): FrameSnapshot;
    /** The store frames of every node on `page`'s path, leaf to top, as DRAM holds them now. */
    snapshotPath(page: VaultPage): FrameSnapshot[];
  };
}

export interface Victim {
  readonly column: Column;
  readonly enclave: Enclave;
  readonly guest: VaultExports;
  readonly surface: FrameSurface;
  /**
   * The GPA of a page (protected modes), for checking what a fault names; for sgx, the EPC address
   * an access to the page goes to now (the OS's page table).
   */
  gpaOf(page: VaultPage): number | undefined;
  /** The error that stopped the enclave for good, if one did. */
  stoppedBy(): unknown;
  /** Writes back and evicts every resident page (a no-op for native, which has no cache). */
  evict(): void;
  destroy(): void;
}


/**
 * Launches the vault for `column` (on `platform` for protected modes), sets its secret, decoy and
 * counter, and evicts every page.
 */
export async function prepareVictim(wasm: Uint8Array, column: Column, platform: Platform | null): Promise<Victim> {
  const switches = tinySwitches(column.mode, { ciphertextHiding: column.ciphertextHiding, integrityScheme: column.integrityScheme });
  const enclave = await launchEnclave(wasm, { switches, platform: platform ?? undefined });
  try {
    const guest = enclave.guest.instance.exports as unknown as VaultExports;
    guest.setSecret(SECRET_SEED);
    guest.setDecoy(DECOY_SEED);
    if (guest.increment() !== PREPARED_COUNTER) throw new Error(`the vault's counter did not start at ${PREPARED_COUNTER - 1}`);
    const pageOf: Record<VaultPage, number> = {
      secret: guest.secretPtr() / PAGE_SIZE,
      decoy: guest.decoyPtr() / PAGE_SIZE,
      counter: guest.counterPtr() / PAGE_SIZE,
    };
    const victim = enclave.kind === "sgx"
      ? sgxVictim(column, enclave, guest, pageOf)
      : enclave.kind === "sev" ? protectedVictim(column, enclave, guest, pageOf) : nativeVictim(column, enclave, guest, pageOf);
    victim.evict();
    return victim;
  } catch (e) {
    enclave.destroy();
    throw e;
  }
}

function protectedVictim(column: Column, enclave: SevEnclave, guest: VaultExports, pageOf: Record<VaultPage, number>): Victim {
  const { memory, vm } = enclave;
  const adversary = enclave.platform.hv.adversary;
  const gpaOf = (page: VaultPage): number => {
    const entry = memory.pageTable.lookup(pageOf[page]);
    if (!entry) throw new Error(`the vault's ${page} page (guest page ${pageOf[page]}) was never touched`);
    return entry.gpa;
  };
  const spaOf = (page: VaultPage): number => {
    const spa = adversary.translate(vm, gpaOf(page));
    if (spa === undefined) throw new Error(`the ${page} page's GPA has no frame in the NPT`);
    return spa;
  };
  const { tree, nodeStore, macStore } = enclave;
  /** Where a page's MAC is: its frame in the MAC store, and its offset there. */
  const macAt = (page: VaultPage) => {
    const index = gpaOf(page);
    return { spa: macStore!.frameOf(index), offset: macStore!.offsetOf(index) };
  };
  const surface: FrameSurface = {
    splice: (from, to) => {
      adversary.writeFrame(spaOf(to), adversary.readFrame(spaOf(from), "physical"), "physical");
      if (!macStore) return;
      const [f, t] = [macAt(from), macAt(to)];
      const tag = adversary.readFrame(f.spa, "physical").subarray(f.offset, f.offset + macStore.nodeBytes);
      const frame = adversary.readFrame(t.spa, "physical");
      frame.set(tag, t.offset);
      adversary.writeFrame(t.spa, frame, "physical");
    },
    macs: macStore
      ? {
          tamper: (page, mask) => {
            const { spa, offset } = macAt(page);
            const before = adversary.readFrame(spa, "physical").slice(offset, offset + macStore.nodeBytes);
            adversary.flipBits(spa, offset + 3, mask, "physical");
            return { before, after: adversary.readFrame(spa, "physical").slice(offset, offset + macStore.nodeBytes) };
          },
          snapshot: (page) => [adversary.snapshot(spaOf(page)), adversary.snapshot(macAt(page).spa)],
        }
      : undefined,
    read: (page, via) => adversary.readFrame(spaOf(page), via),
    write: (page, bytes, via) => adversary.writeFrame(spaOf(page), bytes, via),
    flipBits: (page, offset, mask, via) => adversary.flipBits(spaOf(page), offset, mask, via),
    snapshot: (page) => adversary.snapshot(spaOf(page)),
    replay: (snap, via) => adversary.replay(snap, { via }),
    npt: {
      remap: (page, to) => adversary.remap(vm, gpaOf(page), spaOf(to)),
      alias: (page, target) => adversary.alias(vm, gpaOf(page), gpaOf(target)),
      frameOf: (page) => adversary.translate(vm, gpaOf(page)),
      readFrame: (spa) => adversary.readFrame(spa, "physical"),
    },
    tree:
      tree && nodeStore
        ? {
            evictAll: () => tree.evictAll(),
            tamperLeaf: (page, mask) => {
              const leaf = tree.nodeIndexOf(gpaOf(page), 0);
              const spa = nodeStore.frameOf(leaf);
              const before = adversary.readFrame(spa, "physical");
              // A byte of the page's own version in its leaf.
              adversary.flipBits(spa, nodeStore.offsetOf(leaf) + tree.versionByteOf(gpaOf(page)), mask, "cpu");
              return { before, after: adversary.readFrame(spa, "physical") };
            },
            snapshotLeaf: (page) => adversary.snapshot(nodeStore.frameOf(tree.nodeIndexOf(gpaOf(page), 0))),
            snapshotPath: (page) => {
              const spas = new Set<number>();
              for (let level = 0; level < tree.levels; level++) spas.add(nodeStore.frameOf(tree.nodeIndexOf(gpaOf(page), level)));
              return [...spas].map((spa) => adversary.snapshot(spa));
            },
          }
        : undefined,
  };
  return {
    column, enclave, guest, surface,
    gpaOf,
    stoppedBy: () => memory.stopped,
    evict: () => enclave.guest.mmu!.evictAll(),
    destroy: () => enclave.destroy(),
  };
}

/** The sgx column: the attacker is the OS and whoever holds the memory bus (host/sgx/adversary.ts). */
function sgxVictim(column: Column, enclave: SgxEnclave, guest: VaultExports, pageOf: Record<VaultPage, number>): Victim {
  const { machine, memory } = enclave;
  const adversary = machine.adversary;
  const table = machine.os.table(memory.id);
  const frameOf = (page: VaultPage): number => {
    const frame = table.get(pageOf[page]);
    if (frame === undefined) throw new Error(`the vault's ${page} page (guest page ${pageOf[page]}) has no EPC frame`);
    return frame;
  };
  const addressOf = (page: VaultPage) => epcAddress(frameOf(page));
  const snaps = new WeakMap<FrameSnapshot, SgxSnapshot>();
  const keep = (snap: SgxSnapshot): FrameSnapshot => {
    snaps.set(snap, snap);
    return snap;
  };
  const surface: FrameSurface = {
    // The EPC keeps each frame's MAC beside its ciphertext: a snapshot carries both, to any address.
    splice: (from, to) => {
      const s = adversary.snapshot(addressOf(from));
      adversary.replay({ spa: addressOf(to), bytes: s.bytes, mac: s.mac }, "physical");
    },
    macs: {
      tamper: (page, mask) => {
        const s = adversary.snapshot(addressOf(page));
        const mac = s.mac.slice();
        mac[3]! ^= mask;
        adversary.replay({ spa: s.spa, bytes: s.bytes, mac }, "physical");
        return { before: s.mac, after: adversary.snapshot(addressOf(page)).mac };
      },
      snapshot: (page) => [keep(adversary.snapshot(addressOf(page)))],
    },
    read: (page, via) => adversary.read(addressOf(page), via),
    write: (page, bytes, via) => adversary.write(addressOf(page), bytes, via),
    flipBits: (page, offset, mask, via) => adversary.flipBits(addressOf(page), offset, mask, via),
    snapshot: (page) => keep(adversary.snapshot(addressOf(page))),
    replay: (snap, via) => {
      const s = snaps.get(snap);
      if (!s) throw new Error("not a snapshot of this victim");
      adversary.replay(s, via);
    },
    // The OS's page tables take the NPT's place: it maps the enclave's pages to EPC frames (named by address).
    npt: {
      remap: (page, to) => table.set(pageOf[page], frameOf(to)),
      alias: (page, target) => table.set(pageOf[page], frameOf(target)),
      frameOf: (page) => (table.has(pageOf[page]) ? addressOf(page) : undefined),
      readFrame: (address) => adversary.read(address, "physical"),
    },
    tree: {
      evictAll: () => machine.epc.tree.evictCache(),
      tamperLeaf: (page, mask) => {
        const [leaf] = adversary.pathOf(frameOf(page));
        const before = adversary.read(leaf!);
        // The low byte of the page's own version in its version node; the tree sits in the PRM, so physically.
        adversary.flipBits(leaf!, (frameOf(page) % 8) * 8, mask, "physical");
        return { before, after: adversary.read(leaf!) };
      },
      snapshotLeaf: (page) => keep(adversary.snapshot(adversary.pathOf(frameOf(page))[0]!)),
      snapshotPath: (page) => adversary.pathOf(frameOf(page)).map((a) => keep(adversary.snapshot(a))),
    },
  };
  return {
    column, enclave, guest, surface,
    gpaOf: (page) => table.has(pageOf[page]) ? addressOf(page) : undefined,
    stoppedBy: () => memory.stopped,
    evict: () => enclave.guest.mmu!.evictAll(),
    destroy: () => enclave.destroy(),
  };
}

/**
 * Native has no DRAM apart from the host memory the module runs in: there, the adversary's reads
 * and writes (by the host's CPU or physically) reach the guest's bytes as they are.
 */
function nativeVictim(column: Column, enclave: Enclave, guest: VaultExports, pageOf: Record<VaultPage, number>): Victim {
  const memory = enclave.guest.instance.exports.memory;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error("the vault guest exports no memory");
  const frame = (page: VaultPage) => new Uint8Array(memory.buffer, pageOf[page] * PAGE_SIZE, PAGE_SIZE);
  const snaps = new Map<FrameSnapshot, VaultPage>();
  const surface: FrameSurface = {
    splice: (from, to) => frame(to).set(frame(from)),
    read: (page) => frame(page).slice(),
    write: (page, bytes) => frame(page).set(bytes),
    flipBits: (page, offset, mask) => {
      frame(page)[offset]! ^= mask;
    },
    // Its "frames" are the guest's own pages, numbered as such.
    snapshot: (page) => {
      const snap = Object.freeze({ spa: pageOf[page], bytes: frame(page).slice() });
      snaps.set(snap, page);
      return snap;
    },
    replay: (snap) => frame(snaps.get(snap)!).set(snap.bytes),
  };
  return {
    column, enclave, guest, surface,
    gpaOf: () => undefined,
    stoppedBy: () => undefined,
    evict: () => {},
    destroy: () => enclave.destroy(),
  };
}
