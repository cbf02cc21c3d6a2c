// OBJECT (Redis object.c objectCommand): ENCODING, REFCOUNT, IDLETIME, FREQ and HELP. The key is
// looked up without touching its access clock (LOOKUP_NOTOUCH); an absent key answers a null.
import { ascii, parseI64, parsedInt } from "./bytes";
import { argIs, argc, lookup } from "./args";
import { idleMs, lfuDecrAndReturn } from "./access-clock";
import { maxmemory, maxmemoryPolicy, policyIsLfu, policyIsLru } from "./config";
import { encodingName } from "./encoding";
import { unknownSubcommand, wrongArity } from "./errors";
import { TYPE_STRING, valPtr } from "./record";
import { replyArray, replyBulkText, replyError, replyInt, replyNil, replyStatus } from "./reply";

const HELP: string[] = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
  "HELP",
  "    Prints this help.",
];
const ADJUST = " Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
/** OBJ_SHARED_REFCOUNT: the refcount Redis shows for its shared integers 0..9999 (OBJ_SHARED_INTEGERS). */
const SHARED_REFCOUNT: i64 = 2147483647;

export function object(): void {
  if (argIs(1, "help")) {
    if (argc != 2) return wrongArity("object|help");
    replyArray(HELP.length);
    for (let i = 0; i < HELP.length; i++) replyStatus(ascii(HELP[i]));
    return;
  }
  const sub = argIs(1, "encoding") ? "encoding" : argIs(1, "refcount") ? "refcount" : argIs(1, "idletime") ? "idletime" : argIs(1, "freq") ? "freq" : "";
  if (sub.length == 0) return unknownSubcommand("OBJECT");
  if (argc != 3) return wrongArity("object|" + sub);
  const r = lookup(2);
  if (r == null) return replyNil();
  if (sub == "encoding") return replyBulkText(encodingName(r));
  if (sub == "refcount") {
    // Redis shares the integers 0..9999 unless an LRU or LFU policy with maxmemory needs per-key clocks.
    const shared = r.type == TYPE_STRING && encodingName(r) == "int" && parseI64(valPtr(r), r.valLen) && parsedInt >= 0 &&
      parsedInt < 10000 && (maxmemory == 0 || !(policyIsLru(maxmemoryPolicy) || policyIsLfu(maxmemoryPolicy)));
    return replyInt(shared ? SHARED_REFCOUNT : 1);
  }
  const lfu = policyIsLfu(maxmemoryPolicy);
  if (sub == "idletime") {
    if (lfu) return replyError("An LFU maxmemory policy is selected, idle time not tracked." + ADJUST);
    return replyInt(<i64>(idleMs(r) / 1000));
  }
  if (!lfu) return replyError("An LFU maxmemory policy is not selected, access frequency not tracked." + ADJUST);
  replyInt(lfuDecrAndReturn(r));
}
