// CONFIG GET and CONFIG SET (Redis 7.0 config.c) over the parameters kv has: names are matched
// without regard to case, GET takes glob patterns, SET takes several pairs and applies all of them
// or none, with Redis's error texts:
//
//   ERR Unknown option or number of arguments for CONFIG SET - '<name>'
//   ERR CONFIG SET failed (possibly related to argument '<name>') - <why>, where <why> is
//     argument must be a memory value | argument couldn't be parsed into an integer |
//     argument must be between <lo> and <hi> inclusive | argument(s) must be one of the following: ... |
//     can't set immutable config | duplicate parameter |
//     Wrong number of arguments in buffer limit configuration. |
//     Invalid client class specified in buffer limit configuration. |
//     Error in hard, soft or soft_seconds setting in buffer limit configuration.
//
// save, appendonly, databases and proto-max-bulk-len are read-only here: persistence and the bulk
// limit are the host's flags (--data, --save-interval, --max-bulk), and kv has one database.
import { ascii, parseI64, parsedInt } from "./bytes";
import {
  OBUF_CLASSES, POLICY_NAMES, lfuDecayTime, lfuLogFactor, maxmemory, maxmemoryPolicy, maxmemorySamples, obufHard, obufSeconds,
  obufSoft, parseMemory, parsedMemory, queryBufferLimit, setLfuDecayTime, setLfuLogFactor, setMaxmemory, setMaxmemoryPolicy,
  setMaxmemorySamples, setQueryBufferLimit,
} from "./config";
import { maxBulk } from "./conn";
import { globMatch } from "./glob";
import { argIs, argText, argc } from "./args";
import { syntaxError, unknownSubcommand, wrongArity } from "./errors";
import { replyArray, replyBulkText, replyError, replyOk } from "./reply";

const NAMES = [
  "save", "appendonly", "databases", "proto-max-bulk-len", "maxmemory", "maxmemory-policy", "maxmemory-samples",
  "lfu-log-factor", "lfu-decay-time", "client-query-buffer-limit", "client-output-buffer-limit",
];
const MUTABLE_FROM = 4; // NAMES from here on can be set
const INT_MAX: i64 = 2147483647;

function valueOf(i: i32): string {
  switch (i) {
    case 0: return "";
    case 1: return "no";
    case 2: return "1";
    case 3: return maxBulk.toString();
    case 4: return maxmemory.toString();
    case 5: return POLICY_NAMES[maxmemoryPolicy];
    case 6: return maxmemorySamples.toString();
    case 7: return lfuLogFactor.toString();
    case 8: return lfuDecayTime.toString();
    case 9: return queryBufferLimit.toString();
    default: {
      // "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", as Redis 7.0 prints it.
      let s = "";
      for (let c = 0; c < OBUF_CLASSES.length; c++) {
        if (c > 0) s += " ";
        s += OBUF_CLASSES[c] + " " + unchecked(obufHard[c]).toString() + " " + unchecked(obufSoft[c]).toString() + " " + unchecked(obufSeconds[c]).toString();
      }
      return s;
    }
  }
}

export function config(): void {
  if (argIs(1, "get")) return configGet();
  if (argIs(1, "set")) return configSet();
  unknownSubcommand("CONFIG");
}

function configGet(): void {
  if (argc < 3) return wrongArity("config|get");
  const pairs = new Array<string>();
  for (let i = 0; i < NAMES.length; i++) {
    const name = ascii(NAMES[i]);
    for (let j: u32 = 2; j < argc; j++) {
      const pattern = ascii(argText(j).toLowerCase());
      if (globMatch(changetype<usize>(pattern), pattern.byteLength, changetype<usize>(name), name.byteLength)) {
        pairs.push(NAMES[i]);
        pairs.push(valueOf(i));
        break;
      }
    }
  }
  replyArray(pairs.length);
  for (let i = 0; i < pairs.length; i++) replyBulkText(pairs[i]);
}

// A parsed CONFIG SET value, by parameter.
let newMemory: u64 = 0;
let newPolicy: i32 = 0;
let newInt: i32 = 0;
const newHard = new StaticArray<u64>(3);
const newSoft = new StaticArray<u64>(3);
const newSeconds = new StaticArray<i64>(3);
const newSet = new StaticArray<bool>(3);

/** updateClientOutputBufferLimit (config.c): groups of class, hard, soft, soft seconds; all valid or none. */
function checkOutputLimits(value: string): string | null {
  const words = value.split(" ").filter((w) => w.length > 0);
  if (words.length % 4 != 0) return "Wrong number of arguments in buffer limit configuration.";
  for (let c = 0; c < 3; c++) unchecked((newSet[c] = false));
  for (let j = 0; j < words.length; j += 4) {
    let c = OBUF_CLASSES.indexOf(words[j].toLowerCase());
    if (words[j].toLowerCase() == "replica") c = 1;
    if (c < 0) return "Invalid client class specified in buffer limit configuration.";
    if (!parseMemory(words[j + 1])) return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    const hard = parsedMemory;
    if (!parseMemory(words[j + 2])) return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    const soft = parsedMemory;
    const secs = ascii(words[j + 3]);
    if (!parseI64(changetype<usize>(secs), secs.byteLength) || parsedInt < 0) {
      return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    }
    unchecked((newHard[c] = hard));
    unchecked((newSoft[c] = soft));
    unchecked((newSeconds[c] = parsedInt));
    unchecked((newSet[c] = true));
  }
  return null;
}

/** Checks `value` for parameter `i`, leaving it parsed above; null if valid, else why not. */
function check(i: i32, value: string): string | null {
  if (i == 4) {
    if (!parseMemory(value)) return "argument must be a memory value";
    newMemory = parsedMemory;
    return null;
  }
  if (i == 9) {
    if (!parseMemory(value)) return "argument must be a memory value";
    if (parsedMemory < 1 << 20 || parsedMemory > <u64>i64.MAX_VALUE) return "argument must be between 1048576 and 9223372036854775807 inclusive";
    newMemory = parsedMemory;
    return null;
  }
  if (i == 10) return checkOutputLimits(value);
  if (i == 5) {
    const lower = value.toLowerCase();
    for (let p = 0; p < POLICY_NAMES.length; p++) {
      if (POLICY_NAMES[p] == lower) {
        newPolicy = p;
        return null;
      }
    }
    return "argument(s) must be one of the following: " + POLICY_NAMES.join(", ");
  }
  const bytes = ascii(value);
  if (!parseI64(changetype<usize>(bytes), bytes.byteLength)) return "argument couldn't be parsed into an integer";
  const lo: i64 = i == 6 ? 1 : 0;
  if (parsedInt < lo || parsedInt > INT_MAX) return "argument must be between " + lo.toString() + " and " + INT_MAX.toString() + " inclusive";
  newInt = <i32>parsedInt;
  return null;
}

function apply(i: i32): void {
  if (i == 10) {
    for (let c = 0; c < 3; c++) {
      if (!unchecked(newSet[c])) continue;
      unchecked((obufHard[c] = newHard[c]));
      unchecked((obufSoft[c] = newSoft[c]));
      unchecked((obufSeconds[c] = newSeconds[c]));
    }
  } else if (i == 9) setQueryBufferLimit(newMemory);
  else if (i == 4) setMaxmemory(newMemory);
  else if (i == 5) setMaxmemoryPolicy(newPolicy);
  else if (i == 6) setMaxmemorySamples(newInt);
  else if (i == 7) setLfuLogFactor(newInt);
  else setLfuDecayTime(newInt);
}

function configSet(): void {
  if (argc < 4) return wrongArity("config|set");
  if ((argc & 1) != 0) return syntaxError();
  // Every name first, as Redis does: an unknown one is reported before any bad value.
  const found = new Array<i32>();
  for (let j: u32 = 2; j < argc; j += 2) {
    const i = NAMES.indexOf(argText(j).toLowerCase());
    if (i < 0) return replyError("Unknown option or number of arguments for CONFIG SET - '" + argText(j) + "'");
    if (found.includes(i)) return failed(argText(j), "duplicate parameter");
    if (i < MUTABLE_FROM) return failed(argText(j), "can't set immutable config");
    found.push(i);
  }
  for (let k = 0; k < found.length; k++) {
    const why = check(found[k], argText(3 + 2 * k));
    if (why != null) return failed(NAMES[found[k]], why);
  }
  for (let k = 0; k < found.length; k++) {
    check(found[k], argText(3 + 2 * k));
    apply(found[k]);
  }
  replyOk();
}

function failed(name: string, why: string): void {
  replyError("CONFIG SET failed (possibly related to argument '" + name + "') - " + why);
}
