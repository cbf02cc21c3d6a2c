// The attacks of the conformance suite, each mounted on a prepared vault victim through
// the untrusted paths only (vault-victim.ts FrameSurface: the Adversary API, the NPT, DRAM) and
// classified by what the adversary learned or what the guest, checking its own data, then found.
import { IntegrityViolation } from "../../../host/enclavisor/integrity-violation";
import type { Via } from "../../../host/sev/adversary";
import { hexFrame } from "../../../host/sev/page";
import { PAGE_SIZE } from "../../../host/page";
import { RmpFault } from "../../../host/sev/rmp";
import { EpcAccessDenied, EpcmFault, SgxIntegrityError } from "../../../host/sgx/faults";
import { EnclaveStopped } from "../../../host/wasm/enclave-stopped";
import type { AttackId, Outcome } from "./matrix-axes";
import { DECOY_SEED, PREPARED_COUNTER, SECRET_SEED, vaultPage } from "./vault-victim";
import type { VaultPage, Victim } from "./vault-victim";

export interface CellResult {
  outcome: Outcome;
  /** What showed it (an error message, a count of wrong bytes); never page contents or keys. */
  evidence: string;
  /**
   * The attack really acted: its change is in DRAM / the NPT / the node store, or the hardware
   * refused it and the frame is unchanged, or (passive) it read what it meant to. False for n/a.
   */
  acted: boolean;
}

export interface Attack {
  readonly id: AttackId;
  readonly title: string;
  run(v: Victim): CellResult;
}

/** The adversary's own bytes for a write: nothing the guest ever held. */
const JUNK_SEED = 0xbad5eed;
/** The decoy's contents after the guest rewrites it in the alias attack. */
const DECOY_SEED_2 = 0xdec1;

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function notApplicable(why: string): CellResult {
  return { outcome: "n/a", evidence: why, acted: false };
}

/** A refusal by the hardware: SNP's RMP, or SGX's abort-page semantics for the EPC. */
type Refusal = RmpFault | EpcAccessDenied;

/** Runs an adversary action; a refusal by the hardware is returned rather than thrown. */
function attempt(action: () => void): Refusal | null {
  try {
    action();
    return null;
  } catch (e) {
    if (e instanceof RmpFault || e instanceof EpcAccessDenied) return e;
    throw e;
  }
}

interface Aftermath {
  /** The page whose GPA a detection or an RMP fault of the guest must name. */
  target: VaultPage;
  acted: boolean;
  /** The hypervisor's action was refused (the RMP faulted its store, or the EPC dropped it). */
  refused: Refusal | null;
  /** What the guest does after the attack, before it checks its data (writes, evictions). */
  continueGuest?: () => void;
  /** What the guest's data must be: the counter, and the decoy's seed. */
  counter?: number;
  decoySeed?: number;
  /** For a guest stopped by the RMP: the attacked frame still holds the guest's bytes. */
  intact?: () => boolean;
}

/**
 * The guest runs on and checks its secret, decoy and counter itself. A stop is classified by what
 * stopped it; otherwise wrong data is a silent corruption and intact data after a refused action
 * means the action was blocked.
 */
function aftermath(v: Victim, a: Aftermath): CellResult {
  const expectedCounter = a.counter ?? PREPARED_COUNTER;
  const decoySeed = a.decoySeed ?? DECOY_SEED;
  let wrong: string[];
  try {
    a.continueGuest?.();
    const secret = v.guest.secretMismatches(SECRET_SEED);
    const decoy = v.guest.decoyMismatches(decoySeed);
    const counter = v.guest.counter();
    wrong = [
      ...(secret > 0 ? [`${secret} bytes of its secret`] : []),
      ...(decoy > 0 ? [`${decoy} bytes of its decoy`] : []),
      ...(counter !== expectedCounter ? [`its counter (${counter}, expected ${expectedCounter})`] : []),
    ];
  } catch (e) {
    return stopped(v, e, a);
  }
  if (wrong.length > 0) return { outcome: "corrupted", evidence: `the guest ran on with wrong data: ${wrong.join(", ")}`, acted: a.acted };
  if (a.refused) return { outcome: "blocked", evidence: `${a.refused.message}; the guest's data is intact`, acted: a.acted };
  return { outcome: "error", evidence: "the attack went through, yet the guest's data is intact: it had no effect", acted: a.acted };
}

/** Classifies what stopped the guest: an integrity check (Enclavisor's tree, SGX's MEE or ELDU), or the RMP / EPCM on its access. */
function stopped(v: Victim, e: unknown, a: Aftermath): CellResult {
  const gpa = v.gpaOf(a.target);
  const named = (at: number) =>
    gpa === at ? null : `the stop names GPA ${hexFrame(at)}, but the attack was on the ${a.target} page at GPA ${gpa === undefined ? "(none)" : hexFrame(gpa)}`;
  const forGood = v.stoppedBy() === e ? null : "the enclave was not stopped for good by it";
  const cause = e instanceof EnclaveStopped ? e.cause : undefined;
  if (e instanceof EnclaveStopped && e.reason === "integrity" && (cause instanceof IntegrityViolation || cause instanceof SgxIntegrityError)) {
    const problem = named(cause instanceof IntegrityViolation ? cause.gpa : cause.address) ?? forGood;
    return problem ? { outcome: "error", evidence: `${e.message}: ${problem}`, acted: a.acted } : { outcome: "detected", evidence: e.message, acted: a.acted };
  }
  if (e instanceof EnclaveStopped && e.reason === "memory-fault" && cause instanceof EpcmFault) {
    // The EPCM names the frame the access went to: where the OS's page table sends the target now.
    const problem = named(cause.address) ?? forGood ?? (a.intact?.() === false ? "the attacked frame changed" : null);
    return problem
      ? { outcome: "error", evidence: `${e.message}: ${problem}`, acted: a.acted }
      : { outcome: "blocked", evidence: `${e.message}; the guest's frame is intact`, acted: a.acted };
  }
  if (e instanceof EnclaveStopped && e.reason === "memory-fault" && cause instanceof RmpFault && e.site?.gpa !== undefined) {
    const problem = named(e.site.gpa) ?? forGood ?? (a.intact?.() === false ? "the attacked frame changed" : null);
    return problem
      ? { outcome: "error", evidence: `${e.message}: ${problem}`, acted: a.acted }
      : { outcome: "blocked", evidence: `${e.message}; the guest's frame is intact`, acted: a.acted };
  }
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { outcome: "error", evidence: `the guest stopped on an unexpected error: ${what}`, acted: a.acted };
}

/** 16-byte blocks of `plain` found at the same offset in `seen` (an ECB/XTS-block-sized match). */
function plainBlocks(plain: Uint8Array, seen: Uint8Array): number {
  let n = 0;
  for (let at = 0; at < PAGE_SIZE; at += 16) if (same(plain.subarray(at, at + 16), seen.subarray(at, at + 16))) n++;
  return n;
}

function readAttack(v: Victim): CellResult {
  const seen = v.surface.read("secret", "physical");
  const acted = seen.some((b) => b !== 0);
  const blocks = plainBlocks(vaultPage(SECRET_SEED), seen);
  if (blocks > 0) return { outcome: "leaked", evidence: `${blocks} of ${PAGE_SIZE / 16} 16-byte blocks of the secret read in plain`, acted };
  return { outcome: "blocked", evidence: "the frame holds no 16-byte block of the secret", acted };
}

function flipAttack(v: Victim): CellResult {
  const before = v.surface.read("secret", "physical");
  v.surface.flipBits("secret", 100, 0x04, "physical");
  const acted = !same(before, v.surface.read("secret", "physical"));
  return aftermath(v, { target: "secret", acted, refused: null });
}

/** The counter page's ciphertext at counter 1 goes back to DRAM after the guest moved on to 2. */
function replayAttack(v: Victim, via: Via): CellResult {
  const old = v.surface.snapshot("counter");
  v.guest.increment();
  v.evict();
  const now = v.surface.read("counter", "physical");
  const refused = attempt(() => v.surface.replay(old, via));
  const after = v.surface.read("counter", "physical");
  const acted = !same(now, old.bytes) && (refused ? same(after, now) : same(after, old.bytes));
  return aftermath(v, { target: "counter", acted, refused, counter: PREPARED_COUNTER + 1 });
}

function remapAttack(v: Victim): CellResult {
  const npt = v.surface.npt;
  if (!npt) return notApplicable("native has no nested page table to edit");
  const original = npt.frameOf("secret")!;
  const bytes = npt.readFrame(original);
  npt.remap("secret", "decoy");
  const acted = npt.frameOf("secret") === npt.frameOf("decoy") && npt.frameOf("secret") !== original;
  return aftermath(v, { target: "secret", acted, refused: null, intact: () => same(npt.readFrame(original), bytes) });
}

/** The decoy's GPA now maps to the secret's frame; the guest then rewrites its decoy and evicts it. */
function aliasAttack(v: Victim): CellResult {
  const npt = v.surface.npt;
  if (!npt) return notApplicable("native has no nested page table to edit");
  const secretFrame = npt.frameOf("secret")!;
  const bytes = npt.readFrame(secretFrame);
  npt.alias("decoy", "secret");
  const acted = npt.frameOf("decoy") === secretFrame;
  return aftermath(v, {
    target: "decoy",
    acted,
    refused: null,
    decoySeed: DECOY_SEED_2,
    continueGuest: () => {
      v.guest.setDecoy(DECOY_SEED_2);
      v.evict();
    },
    intact: () => same(npt.readFrame(secretFrame), bytes),
  });
}

function macTamperAttack(v: Victim): CellResult {
  const macs = v.surface.macs;
  if (!macs) return notApplicable("no page MACs in this mode: no MAC to tamper with");
  v.evict();
  const { before, after } = macs.tamper("secret", 0x10);
  return aftermath(v, { target: "secret", acted: !same(before, after), refused: null });
}

/** The counter page at counter 1 goes back to DRAM with its MAC of that time, after the guest moved on. */
function macReplayAttack(v: Victim): CellResult {
  const macs = v.surface.macs;
  if (!macs) return notApplicable("no page MACs in this mode: no MAC to replay");
  const old = macs.snapshot("counter");
  v.guest.increment();
  v.evict();
  const npt = v.surface.npt;
  const read = (spa: number) => (npt ? npt.readFrame(spa) : v.surface.read("counter", "physical"));
  const changed = old.some((s) => !same(read(s.spa), s.bytes));
  for (const snap of old) v.surface.replay(snap, "physical");
  const acted = changed && old.every((s) => same(read(s.spa), s.bytes));
  return aftermath(v, { target: "counter", acted, refused: null, counter: PREPARED_COUNTER + 1 });
}

/** The secret's frame, and its MAC where it has one, copied over the decoy's (physically). */
function spliceAttack(v: Victim): CellResult {
  v.evict();
  const secret = v.surface.read("secret", "physical");
  v.surface.splice("secret", "decoy");
  return aftermath(v, { target: "decoy", acted: same(v.surface.read("decoy", "physical"), secret), refused: null });
}

function treeAttack(v: Victim): CellResult {
  const tree = v.surface.tree;
  if (!tree) return notApplicable("no integrity tree in this mode: no node to tamper with");
  tree.evictAll();
  const { before, after } = tree.tamperLeaf("secret", 0x80);
  return aftermath(v, { target: "secret", acted: !same(before, after), refused: null });
}

/** The counter page's leaf node at counter 1 goes back to DRAM alone, after the guest moved on. */
function treeNodeReplayAttack(v: Victim): CellResult {
  const tree = v.surface.tree;
  if (!tree) return notApplicable("no integrity tree in this mode: no node to replay");
  tree.evictAll();
  const old = tree.snapshotLeaf("counter");
  v.guest.increment();
  v.evict();
  tree.evictAll();
  const npt = v.surface.npt!; // a tree implies a protected victim
  const changed = !same(npt.readFrame(old.spa), old.bytes);
  v.surface.replay(old, "physical");
  const acted = changed && same(npt.readFrame(old.spa), old.bytes);
  return aftermath(v, { target: "counter", acted, refused: null, counter: PREPARED_COUNTER + 1, continueGuest: () => v.guest.counter() });
}

/** The counter page at counter 1 (with its MAC) and its whole tree path go back to DRAM after the guest moved on. */
function treeRollbackAttack(v: Victim): CellResult {
  const tree = v.surface.tree;
  if (!tree) return notApplicable("no integrity tree in this mode: no node to roll back");
  tree.evictAll();
  const old = [...(v.surface.macs?.snapshot("counter") ?? [v.surface.snapshot("counter")]), ...tree.snapshotPath("counter")];
  v.guest.increment();
  v.evict();
  tree.evictAll();
  const npt = v.surface.npt!; // a tree implies a protected victim
  const changed = old.every((s) => !same(npt.readFrame(s.spa), s.bytes));
  for (const snap of old) v.surface.replay(snap, "physical");
  const acted = changed && old.every((s) => same(npt.readFrame(s.spa), s.bytes));
  // The guest reads its counter first: the fill of that page must find the rollback.
  return aftermath(v, { target: "counter", acted, refused: null, counter: PREPARED_COUNTER + 1, continueGuest: () => v.guest.counter() });
}

/**
 * The hypervisor reads the counter's frame after each write-back (CipherLeaks). Between reads the
 * guest increments, rewrites without change, or decrements its counter; the adversary concludes
 * "same counter" exactly when two reads are equal. It learned something if that conclusion is right
 * for every pair of reads (and the sequence has both equal and unequal pairs).
 */
function sideChannelAttack(v: Victim): CellResult {
  const steps: ReadonlyArray<ReadonlyArray<"increment" | "decrement">> = [
    [],
    ["increment"],
    ["increment", "decrement"], // dirty, but the same plaintext: "the page did not change"
    ["decrement"], // back to an old value
    ["increment", "increment"],
  ];
  const values: number[] = [];
  const seen: Uint8Array[] = [];
  const writeBacks = v.enclave.stats().writeBacks;
  let value = PREPARED_COUNTER;
  for (const ops of steps) {
    for (const op of ops) value = v.guest[op]();
    v.evict();
    values.push(value);
    seen.push(v.surface.read("counter", "cpu"));
  }
  let right = 0;
  let pairs = 0;
  const learned: string[] = [];
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 1; j < seen.length; j++) {
      pairs++;
      const guess = same(seen[i]!, seen[j]!);
      if (guess === (values[i] === values[j])) right++;
      if (guess && values[i] === values[j]) learned.push(`reads ${i} and ${j} (counter ${values[i]})`);
    }
  }
  // Each step that touched the counter wrote its page back (at least: a repeated multi-byte store
  // also dirties the next page, host/wasm/mmu.ts fault); native has no write-back, its reads see
  // the page itself (and the sgx column counts no SEV write-backs).
  const wroteBack = v.enclave.kind !== "sev" || v.enclave.stats().writeBacks - writeBacks >= steps.filter((ops) => ops.length > 0).length;
  const acted = wroteBack && seen.length === steps.length && new Set(values).size > 1 && new Set(values).size < values.length;
  if (right === pairs) {
    return { outcome: "leaked", evidence: `equal reads exactly when the counter was equal: ${learned.join(", ")}`, acted };
  }
  const distinct = new Set(seen.map((s) => Buffer.from(s).toString("base64"))).size;
  return { outcome: "blocked", evidence: `${distinct} distinct read(s) over ${seen.length}: ${right} of ${pairs} equality guesses right`, acted };
}

function writeAttack(v: Victim, via: Via): CellResult {
  const junk = vaultPage(JUNK_SEED);
  const before = v.surface.read("secret", "physical");
  const refused = attempt(() => v.surface.write("secret", junk, via));
  const after = v.surface.read("secret", "physical");
  const acted = refused ? same(before, after) : same(after, junk);
  return aftermath(v, { target: "secret", acted, refused });
}

export const ATTACKS: readonly Attack[] = [
  { id: "dram-read", title: "DRAM read of the secret page (physical)", run: readAttack },
  { id: "bit-flip", title: "bit flip in the secret page (Rowhammer, physical)", run: flipAttack },
  { id: "replay-hypervisor", title: "replay of an old counter ciphertext by the hypervisor", run: (v) => replayAttack(v, "cpu") },
  { id: "replay-physical", title: "replay of an old counter ciphertext in DRAM (physical)", run: (v) => replayAttack(v, "physical") },
  { id: "remap", title: "remap of the secret's GPA to the decoy's frame (NPT)", run: remapAttack },
  { id: "alias", title: "alias of the decoy's GPA onto the secret's frame (NPT)", run: aliasAttack },
  { id: "mac-tamper", title: "tampering with the secret page's MAC (physical)", run: macTamperAttack },
  { id: "mac-replay", title: "replay of an old counter page together with its old MAC (physical)", run: macReplayAttack },
  { id: "splice", title: "splicing: the secret's frame and MAC copied over the decoy's (physical)", run: spliceAttack },
  { id: "tree-node", title: "tampering with the secret's leaf node (its counters) in the node store", run: treeAttack },
  { id: "tree-node-replay", title: "replay of the counter page's old leaf node alone (physical)", run: treeNodeReplayAttack },
  { id: "tree-rollback", title: "rollback of the counter page, its MAC and its whole tree path (physical)", run: treeRollbackAttack },
  { id: "side-channel", title: "ciphertext equality over time of the counter page", run: sideChannelAttack },
  { id: "hypervisor-write", title: "hypervisor write to the secret page", run: (v) => writeAttack(v, "cpu") },
  { id: "physical-write", title: "physical write to the secret page (bypasses the RMP)", run: (v) => writeAttack(v, "physical") },
];
