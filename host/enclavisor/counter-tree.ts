// The counter-tree integrity scheme, the default in `enclavisor` mode: a MAC per page under a tree
// of split counters, the design of Intel's SGX memory encryption engine (Gueron 2016), Bonsai
// Merkle Trees (Rogers et al., MICRO 2007) and VAULT (Taassori et al., ASPLOS 2018).
//
// What is where:
//   trusted (Enclavisor's memory, on chip): the per-VM integrity key, the root (the MAC of the top
//     node) and the cache of verified nodes (node-cache.ts);
//   untrusted (DRAM the hypervisor can read, tamper with and replay): the counter nodes (`store`)
//     and one 16-byte MAC per page (`macs`), beside the pages' own frames.
//
// Every page has a version: (major, minor), where the major counter is shared by the 64 pages of its
// leaf and the minor counter is its own, 7 bits (VAULT's split counters). Minor 0 means the page
// was never stored; every store raises the minor by one. When a minor would pass 127, the group
// re-keys: its major goes up by one, and every stored page of the group gets minor 1 and a new MAC
// under the new major, so that no (GPA, version) is ever MACed twice.
//
// The page MAC is AES-256-GMAC (NIST SP 800-38D) keyed by the page key, with the 96-bit IV
//   GPA (40 bits, 5 bytes) | version = major * 128 + minor (56 bits, 7 bytes), little-endian,
// over the page's plaintext as additional data: it binds the page to its GPA (no splicing) and its
// version (no replay of an old page with its old MAC), and the IV never repeats under one key. It
// covers the plaintext, not the ciphertext, because Enclavisor is software inside the VM: its
// accesses to a private page always go through the memory controller, which decrypts (with the
// C-bit set) or refuses (SNP forbids a C-bit-clear access to a private page), so the ciphertext is
// not something it can MAC; and a fresh GMAC tag per (GPA, version) reveals nothing of the page.
//
// Nodes, all little-endian:
//   leaf (level 0), 64 bytes: major u64, then 64 minors of 7 bits, packed from the lowest bit;
//   inner node: `arity` child MACs of 8 bytes (padded to 64 bytes for arities below 8);
//   node MAC = the first 8 bytes of SHA-256(node key | level u64 | index u64 | node), never all
//     zero (all zeroes stands for a child never written: node-cache.ts). On fixed-length input a
//     keyed SHA-256 is a pseudo-random function; 64 bits, like SGX's 56-bit MACs, leave a forger
//     one chance in 2^64 per try, and a failed try stops the enclave.
import { hash as cryptoHash, hkdfSync } from "node:crypto";
import { Gmac } from "../sev/gmac";
import type { PageMac } from "../sev/gmac";
import { checkPage, hexFrame, MAX_FRAME } from "../sev/page";
import { PAGE_SIZE } from "../page";
import type { IntegrityScheme, IntegrityStats, PageMacs } from "./integrity-scheme";
import { IntegrityViolation } from "./integrity-violation";
import { equalAt, getU64, NodeCache, putU64 } from "./node-cache";
import type { NodeStore } from "./node-store";

/** Pages under one leaf: one major counter and 64 minors fill a 64-byte node. */
export const PAGES_PER_LEAF = 64;
const MINOR_BITS = 7;
const MAX_MINOR = (1 << MINOR_BITS) - 1;
const MAJOR_BYTES = 8;
/** Children per inner node: 8 MACs of 8 bytes make a 64-byte node, SGX's. */
export const DEFAULT_COUNTER_ARITY = 8;
export const MAX_COUNTER_ARITY = 64;
/** Leaves of a 1 GiB working set (4096) with their ancestors fit, as the default cache. */
export const DEFAULT_COUNTER_CACHE_NODES = 8192;
const NODE_MAC_BYTES = 8;
const LEAF_BYTES = 64;
export const PAGE_MAC_BYTES = 16;
export const INTEGRITY_KEY_BYTES = 32;
const IV_BYTES = 12;
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
const ZERO_MAC = new Uint8Array(NODE_MAC_BYTES);

export interface CounterTreeOptions {
  /** Number of pages covered: GPA frames 0..frames-1 of the VM. */
  frames: number;
  /** Children per inner node (default DEFAULT_COUNTER_ARITY). */
  arity?: number;
  /** Verified nodes kept on chip (default DEFAULT_COUNTER_CACHE_NODES). */
  cacheNodes?: number;
  /** The VM's integrity key (32 bytes) from the secure processor: the page and node keys derive from it. */
  key: Uint8Array;
  /** Untrusted memory for the counter nodes: CounterTree.nodeBytesFor(arity) bytes each. */
  store: NodeStore;
  /** Untrusted memory for the page MACs: PAGE_MAC_BYTES each, indexed by GPA. */
  macs: NodeStore;
  /**
   * Reads the stored plaintext of page `gpa` (decrypted by the memory controller) into `dst`: what a
   * re-key of its group needs for each stored page.
   */
  readPage: (gpa: number, dst: Uint8Array) => void;
}

export interface CounterTreeStats extends IntegrityStats {
  /** Groups re-keyed when a minor counter overflowed. */
  groupRekeys: number;
}

function checkArity(arity: number): void {
  if (!Number.isInteger(arity) || arity < 2 || arity > MAX_COUNTER_ARITY) {
    throw new RangeError(`counter tree arity must be an integer in 2..${MAX_COUNTER_ARITY}, got ${String(arity)}`);
  }
}

function minorOf(leaf: Uint8Array, i: number): number {
  const bit = MAJOR_BYTES * 8 + i * MINOR_BITS;
  const at = bit >>> 3;
  const word = leaf[at]! | ((leaf[at + 1] ?? 0) << 8);
  return (word >>> (bit & 7)) & MAX_MINOR;
}

function setMinor(leaf: Uint8Array, i: number, minor: number): void {
  const bit = MAJOR_BYTES * 8 + i * MINOR_BITS;
  const at = bit >>> 3;
  const shift = bit & 7;
  const word = (leaf[at]! | ((leaf[at + 1] ?? 0) << 8)) & ~(MAX_MINOR << shift);
  const next = word | (minor << shift);
  leaf[at] = next & 0xff;
  if (at + 1 < LEAF_BYTES) leaf[at + 1] = next >>> 8;
}

export class CounterTree implements IntegrityScheme, PageMacs {
  /** Bytes of every node in the store for `arity`. */
  static nodeBytesFor(arity = DEFAULT_COUNTER_ARITY): number {
    checkArity(arity);
    return Math.max(LEAF_BYTES, arity * NODE_MAC_BYTES);
  }

  readonly scheme = "counter";
  readonly pagesPerLeaf = PAGES_PER_LEAF;
  readonly frames: number;
  readonly arity: number;
  readonly nodeBytes: number;
  readonly levels: number;
  readonly cacheNodes: number;
  readonly stats: CounterTreeStats;
  readonly pageMacs: PageMacs = this;

  readonly #cache: NodeCache;
  readonly #macs: NodeStore;
  readonly #readPage: (gpa: number, dst: Uint8Array) => void;
  /** Trusted, secret: the GMAC key of the pages (in the CPU's crypto, host/sev/gmac.ts). */
  readonly #gmac: Gmac;
  /** Trusted, secret: node key | header | node, the input of a node MAC (the key stays in front). */
  readonly #nodeInput: Uint8Array;
  readonly #iv = new Uint8Array(IV_BYTES);
  /** A MAC read from untrusted memory (to check), and one just made (to store). */
  readonly #tag = new Uint8Array(PAGE_MAC_BYTES);
  readonly #made = new Uint8Array(PAGE_MAC_BYTES);
  readonly #check: PageMac;
  readonly #out: PageMac;
  /** A page of the group being re-keyed, on its way from DRAM to its new MAC. */
  readonly #rekeyPage = new Uint8Array(PAGE_SIZE);

  constructor(opts: CounterTreeOptions) {
    if (typeof opts !== "object" || opts === null) throw new TypeError("CounterTree needs an options object");
    const { frames, store, macs, key } = opts;
    if (!Number.isInteger(frames) || frames < 1 || frames > MAX_FRAME + 1) {
      throw new RangeError(`counter tree frames must be an integer in 1..2^40, got ${String(frames)}`);
    }
    if (!(key instanceof Uint8Array) || key.length !== INTEGRITY_KEY_BYTES) throw new RangeError(`the integrity key must be ${INTEGRITY_KEY_BYTES} bytes`);
    this.arity = opts.arity ?? DEFAULT_COUNTER_ARITY;
    this.nodeBytes = CounterTree.nodeBytesFor(this.arity);
    if (store.nodeBytes !== this.nodeBytes) {
      throw new RangeError(`node store holds ${store.nodeBytes}-byte nodes, but a counter tree of arity ${this.arity} needs ${this.nodeBytes}`);
    }
    if (macs.nodeBytes !== PAGE_MAC_BYTES) throw new RangeError(`the MAC store must hold ${PAGE_MAC_BYTES}-byte records, got ${macs.nodeBytes}`);
    this.frames = frames;
    this.#macs = macs;
    this.#readPage = opts.readPage;
    // Two keys from one: the page MACs' and the nodes' never share a key (HKDF, RFC 5869).
    const pageKey = new Uint8Array(hkdfSync("sha256", key, new Uint8Array(0), "enclavisor-counter-tree/page", 32));
    this.#gmac = new Gmac(pageKey);
    pageKey.fill(0);
    this.#check = { gmac: this.#gmac, iv: this.#iv, tag: this.#tag };
    this.#out = { gmac: this.#gmac, iv: this.#iv, tag: this.#made };
    const nodeKey = new Uint8Array(hkdfSync("sha256", key, new Uint8Array(0), "enclavisor-counter-tree/node", 32));
    const levelNodes: number[] = [];
    for (let nodes = Math.ceil(frames / PAGES_PER_LEAF); ; nodes = Math.ceil(nodes / this.arity)) {
      levelNodes.push(nodes);
      if (nodes === 1) break;
    }
    this.#nodeInput = new Uint8Array(nodeKey.length + 16 + this.nodeBytes);
    this.#nodeInput.set(nodeKey);
    nodeKey.fill(0);
    this.#cache = new NodeCache({
      levelNodes,
      arity: this.arity,
      nodeBytes: this.nodeBytes,
      digestBytes: NODE_MAC_BYTES,
      cacheNodes: opts.cacheNodes ?? DEFAULT_COUNTER_CACHE_NODES,
      store,
      digest: (headerAndNode) => this.#nodeMac(headerAndNode),
    });
    this.levels = this.#cache.levels;
    this.cacheNodes = this.#cache.cacheNodes;
    this.stats = Object.assign(this.#cache.stats, { leafUpdates: 0, groupRekeys: 0 });
  }

  /** Nodes in the store: every level's nodes, bottom-up. */
  get storeNodes(): number {
    return this.#cache.storeNodes;
  }

  /** Nodes in the integrity cache now. */
  get cachedNodes(): number {
    return this.#cache.cachedNodes;
  }

  /** Store index of the node at `level` on the path of `gpa` (0: its leaf). */
  nodeIndexOf(gpa: number, level = 0): number {
    this.#checkGpa(gpa);
    return this.#cache.pathIndex(Math.floor(gpa / PAGES_PER_LEAF), level);
  }

  /** The byte of the leaf that holds the lowest bit of the page's minor counter. */
  versionByteOf(gpa: number): number {
    this.#checkGpa(gpa);
    return (MAJOR_BYTES * 8 + (gpa % PAGES_PER_LEAF) * MINOR_BITS) >>> 3;
  }

  /** The page's version now, as (major, minor): for tests and tools. */
  versionOf(gpa: number): { major: number; minor: number } {
    this.#checkGpa(gpa);
    const leaf = this.#cache.node(this.#cache.fetch(0, Math.floor(gpa / PAGES_PER_LEAF), gpa));
    return { major: getU64(leaf, 0), minor: minorOf(leaf, gpa % PAGES_PER_LEAF) };
  }

  verifyPage(gpa: number, plaintext: Uint8Array): void {
    checkPage(plaintext, "page to verify");
    const mac = this.loadMac(gpa);
    if (mac === null) {
      if (!equalAt(ZERO_PAGE, plaintext, 0, PAGE_SIZE)) throw new IntegrityViolation(gpa, "page MAC", "a page never stored must be zeroes");
      return;
    }
    this.#gmac.tag(mac.iv, plaintext, this.#made);
    if (!equalAt(this.#made, mac.tag, 0, PAGE_MAC_BYTES)) throw this.violation(gpa);
  }

  updatePage(gpa: number, plaintext: Uint8Array): void {
    checkPage(plaintext, "page to record");
    const mac = this.storeMac(gpa);
    this.#gmac.tag(mac.iv, plaintext, mac.tag);
    this.storedMac(gpa);
  }

  loadMac(gpa: number): PageMac | null {
    this.#checkGpa(gpa);
    const leaf = this.#cache.node(this.#cache.fetch(0, Math.floor(gpa / PAGES_PER_LEAF), gpa));
    const minor = minorOf(leaf, gpa % PAGES_PER_LEAF);
    if (minor === 0) return null;
    this.#setIv(gpa, getU64(leaf, 0), minor);
    this.#macs.read(gpa, this.#tag);
    return this.#check;
  }

  violation(gpa: number): IntegrityViolation {
    const { major, minor } = this.versionOf(gpa);
    return new IntegrityViolation(gpa, "page MAC", `the page does not match its MAC for version ${major}.${minor}`);
  }

  storeMac(gpa: number): PageMac {
    this.#checkGpa(gpa);
    const group = Math.floor(gpa / PAGES_PER_LEAF);
    const slot = this.#cache.fetch(0, group, gpa);
    const leaf = this.#cache.node(slot);
    const i = gpa % PAGES_PER_LEAF;
    let minor = minorOf(leaf, i) + 1;
    if (minor > MAX_MINOR) {
      this.#rekey(leaf, group, gpa);
      minor = 1;
    }
    setMinor(leaf, i, minor);
    this.#cache.markDirty(slot);
    this.#setIv(gpa, getU64(leaf, 0), minor);
    this.stats.leafUpdates++;
    return this.#out;
  }

  storedMac(gpa: number, tag: Uint8Array = this.#made): void {
    this.#macs.write(gpa, tag);
  }

  storeRekeys(gpa: number): boolean {
    this.#checkGpa(gpa);
    const leaf = this.#cache.node(this.#cache.fetch(0, Math.floor(gpa / PAGES_PER_LEAF), gpa));
    return minorOf(leaf, gpa % PAGES_PER_LEAF) === MAX_MINOR;
  }

  flush(): void {
    this.#cache.flush();
  }

  evictAll(): void {
    this.#cache.evictAll();
  }

  /**
   * A minor counter overflowed: the group's major goes up, and each stored page of the group other
   * than `except` (which the caller is about to store) is read back, checked under its old version
   * and MACed again under (new major, 1).
   */
  #rekey(leaf: Uint8Array, group: number, except: number): void {
    const major = getU64(leaf, 0);
    const page = this.#rekeyPage;
    try {
      for (let i = 0; i < PAGES_PER_LEAF; i++) {
        const gpa = group * PAGES_PER_LEAF + i;
        const minor = minorOf(leaf, i);
        if (gpa === except || minor === 0) continue;
        this.#readPage(gpa, page);
        this.#setIv(gpa, major, minor);
        this.#macs.read(gpa, this.#tag);
        this.#gmac.tag(this.#iv, page, this.#made);
        if (!equalAt(this.#made, this.#tag, 0, PAGE_MAC_BYTES)) {
          throw new IntegrityViolation(gpa, "page MAC", `the page does not match its MAC for version ${major}.${minor}`);
        }
        this.#setIv(gpa, major + 1, 1);
        this.#gmac.tag(this.#iv, page, this.#made);
        this.#macs.write(gpa, this.#made);
      }
    } finally {
      page.fill(0);
    }
    // Only now: a read that fails above leaves the leaf as it was (and the enclave stops).
    putU64(leaf, 0, major + 1);
    for (let i = 0; i < PAGES_PER_LEAF; i++) if (minorOf(leaf, i) !== 0) setMinor(leaf, i, 1);
    this.stats.groupRekeys++;
  }

  /** IV = GPA | version (layout at the top of this file). */
  #setIv(gpa: number, major: number, minor: number): void {
    const iv = this.#iv;
    let g = gpa;
    for (let b = 0; b < 5; b++, g = Math.floor(g / 256)) iv[b] = g % 256;
    let v = major * (MAX_MINOR + 1) + minor;
    for (let b = 5; b < IV_BYTES; b++, v = Math.floor(v / 256)) iv[b] = v % 256;
  }

  /** The node MAC (layout at the top of this file); never all zeroes. */
  #nodeMac(headerAndNode: Uint8Array): Uint8Array {
    const input = this.#nodeInput;
    input.set(headerAndNode, INTEGRITY_KEY_BYTES);
    const mac = cryptoHash("sha256", input, "buffer").subarray(0, NODE_MAC_BYTES);
    input.fill(0, INTEGRITY_KEY_BYTES);
    if (equalAt(mac, ZERO_MAC, 0, NODE_MAC_BYTES)) mac[0] = 1;
    return mac;
  }

  #checkGpa(gpa: number): void {
    if (!Number.isInteger(gpa) || gpa < 0 || gpa >= this.frames) {
      throw new RangeError(`GPA must be an integer frame number in 0..${hexFrame(this.frames - 1)} (the tree's frames), got ${typeof gpa === "number" ? String(gpa) : typeof gpa}`);
    }
  }
}
