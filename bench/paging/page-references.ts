// What a page costs without paging, timed beside the miss path: a native guest reading one, and
// the sev suite's XTS engine (host/sev/mee.ts) decrypting and encrypting one on its own, a GMAC of
// one, and the engine's fused call that decrypts one and checks its MAC.
import { randomBytes } from "node:crypto";
import { PAGE_SIZE } from "../../host/page";
import { Gmac, GMAC_IV_BYTES, GMAC_TAG_BYTES } from "../../host/sev/gmac";
import { MemoryEncryptionEngine } from "../../host/sev/mee";
import { nowMs } from "../harness";
import { MiB } from "./config";
import { BATCH_PAGES } from "./misses";
import type { Subject } from "./rounds";
import type { WorkingSet } from "./working-set";

/** The sev suite's XTS engine on its own: one page per call, and 32 per call. */
export function rawSubjects(): Subject[] {
  const mee = new MemoryEncryptionEngine({ mode: "xts" });
  mee.installKey(1, new Uint8Array(randomBytes(32)));
  const frames = Array.from({ length: 1024 }, (_, i) => 0x100 + i);
  const plain = new Uint8Array(randomBytes(32 * PAGE_SIZE));
  const cipher = mee.encryptPages(1, frames.slice(0, 32), plain);
  const out = new Uint8Array(32 * PAGE_SIZE);
  let f = 0;
  const nextFrame = () => frames[(f = (f + 1) % frames.length)]!;
  const pages = (bytes: Uint8Array) => Array.from({ length: BATCH_PAGES }, (_, k) => bytes.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE));
  const [plainPages, cipherPages, outPages] = [pages(plain), pages(cipher), pages(out)];
  const gmac = new Gmac(new Uint8Array(randomBytes(32)));
  const tag = new Uint8Array(GMAC_TAG_BYTES);
  const ivs = Array.from({ length: BATCH_PAGES }, () => new Uint8Array(randomBytes(GMAC_IV_BYTES)));
  const macFrames = frames.slice(0, BATCH_PAGES);
  const tags = plainPages.map((page, k) => {
    const t = new Uint8Array(GMAC_TAG_BYTES);
    gmac.tag(ivs[k]!, page, t);
    return t;
  });
  const perPage = (name: string, one: (spa: number, k: number) => void): Subject => ({
    name,
    batch: () => {
      const start = nowMs();
      for (let k = 0; k < BATCH_PAGES; k++) one(nextFrame(), k);
      return { units: BATCH_PAGES, ms: nowMs() - start };
    },
  });
  return [
    // Into a caller's page, as the miss path decrypts into the guest's page: the engine's best one-page call.
    perPage("raw XTS decrypt, 1 page per call", (spa, k) => mee.decryptPage(1, spa, cipherPages[k]!, outPages[k]!)),
    perPage("raw XTS encrypt, 1 page per call", (spa, k) => mee.encryptPage(1, spa, plainPages[k]!, outPages[k]!)),
    perPage("raw GMAC, 1 page per call", (_spa, k) => gmac.tag(ivs[k]!, plainPages[k]!, tag)),
    // The memory controller's call on a miss with a MAC per page: decrypt and check in one.
    perPage("XTS decrypt + GMAC check, 1 page per call", (_spa, k) => {
      if (!mee.decryptVerifyPage(1, macFrames[k]!, cipherPages[k]!, outPages[k]!, { gmac, iv: ivs[k]!, tag: tags[k]! })) throw new Error("the reference MAC does not verify");
    }),
    coldDecryptSubject(mee),
    {
      name: "raw XTS decrypt, 32 pages per call",
      batch: () => {
        const spas = Array.from({ length: 32 }, nextFrame);
        const start = nowMs();
        mee.decryptPages(1, spas, cipher, out);
        return { units: 32, ms: nowMs() - start };
      },
    },
  ];
}

/**
 * The same one-page call from 64 MiB of ciphertext into 64 MiB of pages (the miss path's working
 * set), in order, as a miss finds them: its ciphertext frame and the guest's page are out of the caches.
 * Not a goal's reference (the goal takes the best call); it shows what the memory itself costs.
 */
function coldDecryptSubject(mee: MemoryEncryptionEngine): Subject {
  const pages = (64 * MiB) / PAGE_SIZE;
  const cipher = new Uint8Array(pages * PAGE_SIZE);
  const out = new Uint8Array(pages * PAGE_SIZE);
  // Written once, so that every page has its own memory (untouched pages all map the zero page).
  cipher.fill(0x5a);
  out.fill(0xa5);
  const view = (bytes: Uint8Array, k: number) => bytes.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE);
  const cipherPages = Array.from({ length: pages }, (_, k) => view(cipher, k));
  const outPages = Array.from({ length: pages }, (_, k) => view(out, k));
  let k = 0;
  return {
    name: "raw XTS decrypt, 1 page per call, cold caches",
    batch: () => {
      const start = nowMs();
      for (let n = 0; n < BATCH_PAGES; n++, k = (k + 1) % pages) mee.decryptPage(1, 0x100 + k, cipherPages[k]!, outPages[k]!);
      return { units: BATCH_PAGES, ms: nowMs() - start };
    },
  };
}

/** A native guest reading its working set in order, 16 pages per call: the cost of a page without paging. */
export function nativeReadSubject(ws: WorkingSet): Subject {
  const words = (BATCH_PAGES * PAGE_SIZE) / 4;
  let pos = 0;
  return {
    name: "native: read a page (seq scan of 4 KiB)",
    batch: () => {
      const start = nowMs();
      ws.e.seqScan(pos, words);
      const ms = nowMs() - start;
      pos = (pos + words) % ws.words;
      return { units: BATCH_PAGES, ms };
    },
  };
}
