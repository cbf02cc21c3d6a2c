// Compares the transcripts of the native and the rewritten run of one module.

import type { Transcript } from "./harness";

export interface Difference {
  what: string;
  native: string;
  rewritten: string;
}

export type Comparison =
  | { same: true }
  | { same: false; difference: Difference }
  /** A host limit (stack overflow, out of memory) cut one run short: the outcomes are not comparable. */
  | { same: "inconclusive"; reason: string };

export function compareTranscripts(native: Transcript, rewritten: Transcript): Comparison {
  const n = native.log;
  const r = rewritten.log;
  for (let i = 0; i < Math.max(n.length, r.length); i++) {
    if (n[i] === r[i]) continue;
    if (native.hostLimit || rewritten.hostLimit) {
      return { same: "inconclusive", reason: `a host limit was hit (log line ${i + 1})` };
    }
    return {
      same: false,
      difference: {
        what: `log line ${i + 1} (after: ${n[i - 1] ?? "start"})`,
        native: n[i] ?? "(end of log)",
        rewritten: r[i] ?? "(end of log)",
      },
    };
  }
  if (native.globals.join("\n") !== rewritten.globals.join("\n")) {
    const i = native.globals.findIndex((g, k) => g !== rewritten.globals[k]);
    return { same: false, difference: { what: "exported globals", native: native.globals[i] ?? "-", rewritten: rewritten.globals[i] ?? "-" } };
  }
  const show = (t: Transcript) => (t.memory ? `${t.memory.bytes} bytes, sha256 ${t.memory.sha256}` : "no memory");
  if (show(native) !== show(rewritten)) {
    return { same: false, difference: { what: "final guest memory", native: show(native), rewritten: show(rewritten) } };
  }
  return { same: true };
}
