// An integrity scheme: what checks every page an enclave loads from DRAM and records every page it
// stores (docs/architecture.md, "The path of one memory access", step 4d). Two implement it:
// counter-tree.ts (the default in `enclavisor` mode: per-page MACs under a tree of split counters,
// as Intel's SGX memory encryption engine and VAULT do) and merkle-tree.ts (a SHA-256 Merkle tree
// over the pages, kept to compare the two). Both keep their trusted state (the root, the cache of
// verified nodes, their keys) in Enclavisor's own memory and everything else in untrusted DRAM.
import type { PageMac } from "../sev/gmac";
import type { IntegrityViolation } from "./integrity-violation";
import type { NodeCacheStats } from "./node-cache";

export const INTEGRITY_SCHEMES = ["counter", "merkle"] as const;
export type IntegritySchemeName = (typeof INTEGRITY_SCHEMES)[number];
export const DEFAULT_INTEGRITY_SCHEME: IntegritySchemeName = "counter";

export interface IntegrityStats extends NodeCacheStats {
  /** Pages recorded by updatePage. */
  leafUpdates: number;
}

export interface IntegrityScheme {
  readonly scheme: IntegritySchemeName;
  /** Number of pages covered: GPA frames 0..frames-1 of the VM. */
  readonly frames: number;
  readonly stats: IntegrityStats;
  /** The tree's shape: levels from the leaves (0) up to the single top node, children per inner node. */
  readonly levels: number;
  readonly arity: number;
  /** Bytes of every node in untrusted memory, and pages each leaf holds the versions of. */
  readonly nodeBytes: number;
  readonly pagesPerLeaf: number;
  /** Verified nodes the cache can hold, and holds now. */
  readonly cacheNodes: number;
  readonly cachedNodes: number;
  /** Store index of the node at `level` on the path of `gpa` (0: its leaf). */
  nodeIndexOf(gpa: number, level?: number): number;
  /** Byte offset, inside the page's leaf node, of a byte of its version (what a counter attack changes). */
  versionByteOf(gpa: number): number;
  /**
   * Load path: the plaintext just decrypted for `gpa` must be what updatePage last recorded for it;
   * throws an IntegrityViolation naming the GPA and the check otherwise. A page never recorded must
   * be all zeroes.
   */
  verifyPage(gpa: number, plaintext: Uint8Array): void;
  /** Store path: records a new version of the page. */
  updatePage(gpa: number, plaintext: Uint8Array): void;
  /** Writes every dirty cached node back to untrusted memory. */
  flush(): void;
  /** flush(), then empties the cache of verified nodes. */
  evictAll(): void;
  /**
   * A scheme with a MAC per page lets the memory controller check or make that MAC in the same
   * native call as its decryption or encryption of the page (one call per load and per store);
   * verifyPage and updatePage do the same in two steps.
   */
  readonly pageMacs?: PageMacs;
}

export interface PageMacs {
  /** Load: the MAC check of the stored page, or null for a page never stored (verifyPage then). */
  loadMac(gpa: number): PageMac | null;
  /** The violation of a load whose MAC check failed. */
  violation(gpa: number): IntegrityViolation;
  /** Store: raises the page's version (re-keying its group on overflow); the memory controller writes the MAC into the result's tag. */
  storeMac(gpa: number): PageMac;
  /**
   * Store, after the memory controller made the MAC (in storeMac's tag, or in `tag` for a page of
   * a batch): it goes to untrusted memory.
   */
  storedMac(gpa: number, tag?: Uint8Array): void;
  /**
   * The next store of the page overflows its minor counter, so storeMac re-keys its group, reading
   * back every stored page of it: a batch of stores must have written its pages before that.
   */
  storeRekeys(gpa: number): boolean;
}

export function isIntegrityScheme(name: string): name is IntegritySchemeName {
  return (INTEGRITY_SCHEMES as readonly string[]).includes(name);
}
