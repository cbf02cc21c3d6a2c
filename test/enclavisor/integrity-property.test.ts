// The integrity property, as a randomised test under both schemes: whatever interleaving of guest
// writes, reads and evictions, and whatever one adversary action on the untrusted side (a frame, a
// MAC or a tree node changed, replayed or swapped, in DRAM or through the NPT), the guest either
// reads exactly what it wrote, or is stopped by the integrity scheme or the RMP. It never reads
// wrong data. Streams of reads and writes across pages make the MMU fill and write back in
// batches (host/wasm/mmu.ts), so the batched paths meet the same attacks.
import { describe, expect, it } from "vitest";
import { INTEGRITY_SCHEMES } from "../../host/enclavisor/integrity-scheme";
import type { SevEnclave } from "../../host/launcher/backend";
import { launchEnclave } from "../../host/launcher/run-app";
import { PAGE_SIZE } from "../../host/page";
import type { FrameSnapshot } from "../../host/sev/adversary";
import { RmpFault } from "../../host/sev/rmp";
import { EnclaveStopped } from "../../host/wasm/enclave-stopped";
import { STREAM_FUNCS } from "../wasm/stream-funcs";
import { wat } from "../wasm/wat";
import { asSev, platformFor, tinySwitches } from "./fixtures/enclave";

const PAGES = 16;
const GUEST = wat(`(module (memory 1 1)
  (func (export "put") (param $a i32) (param $v i32) (i32.store (local.get $a) (local.get $v)))
  (func (export "get") (param $a i32) (result i32) (i32.load (local.get $a)))
  ${STREAM_FUNCS})`);
const TRIALS = 24;
const STEPS = 60;

function prng(seed: number): (n: number) => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** One adversary action on the untrusted side of an enclave: returns what it did, for messages. */
type Action = (e: SevEnclave, rand: (n: number) => number, snaps: FrameSnapshot[]) => string;

const spaOf = (e: SevEnclave, page: number): number | undefined => {
  const entry = e.memory.pageTable.lookup(page);
  return entry && e.platform.hv.adversary.translate(e.vm, entry.gpa);
};

/** Every frame the adversary can see of the enclave: its pages', and the scheme's node and MAC frames. */
function frames(e: SevEnclave): number[] {
  const out = new Set<number>();
  const backed = (f: () => number) => {
    try {
      out.add(f());
    } catch {
      // nothing was ever written to that frame: the adversary has nothing there
    }
  };
  for (let p = 0; p < PAGES; p++) {
    const gpa = e.memory.pageTable.lookup(p)?.gpa;
    if (gpa === undefined) continue;
    backed(() => spaOf(e, p)!);
    if (e.macStore) backed(() => e.macStore!.frameOf(gpa));
    for (let level = 0; e.tree && e.nodeStore && level < e.tree.levels; level++) backed(() => e.nodeStore!.frameOf(e.tree!.nodeIndexOf(gpa, level)));
  }
  return [...out].sort((a, b) => a - b);
}

const ACTIONS: Record<string, Action> = {
  "flip a bit": (e, rand) => {
    const all = frames(e);
    const spa = all[rand(all.length)]!;
    e.platform.hv.adversary.flipBits(spa, rand(PAGE_SIZE), 1 << rand(8), "physical");
    return `flipped a bit of SPA ${spa}`;
  },
  "replay an old frame": (e, rand, snaps) => {
    if (snaps.length === 0) return "nothing to replay yet";
    const snap = snaps[rand(snaps.length)]!;
    e.platform.hv.adversary.replay(snap, { via: "physical" });
    return `replayed SPA ${snap.spa}`;
  },
  "swap two frames": (e, rand) => {
    const all = frames(e);
    const [a, b] = [all[rand(all.length)]!, all[rand(all.length)]!];
    const adv = e.platform.hv.adversary;
    const [ba, bb] = [adv.readFrame(a, "physical"), adv.readFrame(b, "physical")];
    adv.writeFrame(a, bb, "physical");
    adv.writeFrame(b, ba, "physical");
    return `swapped SPAs ${a} and ${b}`;
  },
  "remap a page": (e, rand) => {
    const [p, q] = [rand(PAGES), rand(PAGES)];
    const [gp, sq] = [e.memory.pageTable.lookup(p)?.gpa, spaOf(e, q)];
    if (gp === undefined || sq === undefined) return "no frame to remap yet";
    e.platform.hv.adversary.remap(e.vm, gp, sq);
    return `remapped page ${p} onto the frame of page ${q}`;
  },
  "a hypervisor write": (e, rand) => {
    const all = frames(e);
    const spa = all[rand(all.length)]!;
    try {
      e.platform.hv.adversary.writeFrame(spa, new Uint8Array(PAGE_SIZE).fill(0x77), "cpu");
    } catch (err) {
      if (!(err instanceof RmpFault)) throw err;
      return `the RMP refused a write to SPA ${spa}`;
    }
    return `wrote SPA ${spa} through the CPU`;
  },
};

/** The MMU's batches over all trials. */
const batches = { fillRuns: 0, writeBackBatches: 0 };

/** intact: the guest read what it wrote throughout; blocked: that, and the RMP refused the action; stopped: the enclave stopped. */
type Outcome = "intact" | "blocked" | "stopped";

async function trial(scheme: (typeof INTEGRITY_SCHEMES)[number], seed: number, action: string): Promise<Outcome> {
  const switches = tinySwitches("enclavisor", { integrityScheme: scheme, cachePages: 8 });
  const e = asSev(await launchEnclave(GUEST, { switches, platform: platformFor(switches) }));
  const rand = prng(seed);
  const model = new Int32Array((PAGES * PAGE_SIZE) / 4);
  const snaps: FrameSnapshot[] = [];
  const attackAt = 10 + rand(STEPS - 20);
  let did = "";
  try {
    for (let step = 0; step < STEPS; step++) {
      if (step === attackAt) did = ACTIONS[action]!(e, rand, snaps);
      const word = rand(model.length);
      const op = rand(12);
      if (op >= 10) {
        const n = 1 + rand(Math.min(3 * 1024, model.length - word));
        if (op === 10) {
          let sum = 0;
          for (let k = 0; k < n; k++) sum = (sum + model[word + k]!) | 0;
          expect(e.call("sum", word * 4, n), `scheme ${scheme}, seed ${seed}, step ${step}, words ${word}+${n}, after: ${did || "(no action yet)"}`).toBe(sum);
        } else {
          const v = (seed * 7000 + step) | 0;
          e.call("fillw", word * 4, n, v);
          model.fill(v, word, word + n);
        }
      } else if (op < 4) {
        const v = (seed * 1000 + step) | 0;
        e.call("put", word * 4, v);
        model[word] = v;
      } else if (op < 8) {
        const got = e.call("get", word * 4);
        expect(got, `scheme ${scheme}, seed ${seed}, step ${step}, word ${word}, after: ${did || "(no action yet)"}`).toBe(model[word]);
      } else if (op === 8) {
        e.guest.mmu!.evictAll();
      } else {
        const all = frames(e);
        if (all.length > 0) snaps.push(e.platform.hv.adversary.snapshot(all[rand(all.length)]!));
      }
    }
    // At the end every word is read once more, each page from DRAM.
    e.guest.mmu!.evictAll();
    for (let w = 0; w < model.length; w += 97) expect(e.call("get", w * 4), `final read of word ${w}, after: ${did}`).toBe(model[w]);
    return did.startsWith("the RMP refused") ? "blocked" : "intact";
  } catch (err) {
    if (!(err instanceof EnclaveStopped)) throw err;
    expect(["integrity", "memory-fault"], `${err.message}, after: ${did}`).toContain(err.reason);
    return "stopped";
  } finally {
    batches.fillRuns += e.guest.mmu!.stats.fillRuns;
    batches.writeBackBatches += e.guest.mmu!.stats.writeBackBatches;
    e.destroy();
  }
}

describe.each(INTEGRITY_SCHEMES)("the %s scheme under one random attack", (scheme) => {
  it.each(Object.keys(ACTIONS))("%s: the guest reads what it wrote, or stops", async (action) => {
    const outcomes: Record<Outcome, number> = { intact: 0, blocked: 0, stopped: 0 };
    const before = { ...batches };
    for (let seed = 1; seed <= TRIALS; seed++) outcomes[await trial(scheme, seed, action)]++;
    // Each action really bites in some trials (it is stopped or refused): one that never does is not being tried.
    expect(outcomes.stopped + outcomes.blocked, JSON.stringify(outcomes)).toBeGreaterThan(0);
    // And the streams took the batched paths: runs filled, dirty pages written back together.
    expect(batches.fillRuns, JSON.stringify(batches)).toBeGreaterThan(before.fillRuns);
    expect(batches.writeBackBatches, JSON.stringify(batches)).toBeGreaterThan(before.writeBackBatches);
  }, 120_000);
});
