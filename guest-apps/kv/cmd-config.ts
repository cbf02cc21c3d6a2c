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
// save, databases and proto-max-bulk-len are read-only here: the save points and the bulk limit are
// the host's flags (--data, --save-interval, --max-bulk), and kv has one database. appendonly and
// appendfsync are also the host's flags at start (--appendonly, --appendfsync, which it passes in
// through the configure export); turning appendonly on at run time starts a log whose base is a
// snapshot taken then (aof-writer.ts), as Redis starts an AOF with a rewrite.
import { ascii, parseI64, parsedInt } from "./bytes";
import {
  DATABASES, OBUF_CLASSES, POLICY_NAMES, lfuDecayTime, lfuLogFactor, maxmemory, maxmemoryPolicy, maxmemorySamples, obufHard, obufSeconds,
  obufSoft, parseMemory, parsedMemory, queryBufferLimit, setLfuDecayTime, setLfuLogFactor, setMaxmemory, setMaxmemoryPolicy,
  setMaxmemorySamples, setQueryBufferLimit,
} from "./config";
import { maxBulk } from "./conn";
import { encodingValues } from "./encoding";
import { resetCommandStats } from "./commands";
import { resetServerStats } from "./server-state";
import { resetKeyspaceStats } from "./store";
import { resetEvictedKeys } from "./evict";
import {
  FSYNC_NAMES, appendfsync, appendonly, autoAofRewriteMinSize, autoAofRewritePercentage, setAppendfsync, setAppendonly,
  setAutoAofRewriteMinSize, setAutoAofRewritePercentage,
} from "./aof-writer";
import { askSave } from "./cmd-persistence";
import { instanceName } from "./instance";
import { globMatch } from "./glob";
import { argIs, argText, argc } from "./args";
import { syntaxError, unknownSubcommand, wrongArity } from "./errors";
import { replyBulkText, replyError, replyMap, replyOk } from "./reply";

const NAMES = [
  "save", "databases", "proto-max-bulk-len", "maxmemory", "maxmemory-policy", "maxmemory-samples", "lfu-log-factor",
  "lfu-decay-time", "client-query-buffer-limit", "client-output-buffer-limit", "appendonly", "appendfsync",
  "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
  // Redis's encoding thresholds, with their 7.0 aliases (config.c). kv has one layout per type
  // (docs/writing-apps.md): they change only the encoding OBJECT ENCODING reports (encoding.ts).
  "hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries", "hash-max-ziplist-value",
  "list-max-listpack-size", "list-max-ziplist-size", "list-compress-depth", "set-max-intset-entries",
  "zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
];
const SAVE = 0, DATABASES_SLOT = 1, MAX_BULK = 2, MAXMEMORY = 3, POLICY = 4, SAMPLES = 5, LFU_LOG_FACTOR = 6, LFU_DECAY_TIME = 7,
  QUERY_BUFFER = 8, OUTPUT_BUFFER = 9, APPENDONLY = 10, APPENDFSYNC = 11, AOF_PERCENTAGE = 12, AOF_MIN_SIZE = 13;
const MUTABLE_FROM = MAXMEMORY; // NAMES from here on can be set
const ENCODING_FROM = 14; // NAMES from here on are encoding thresholds: a value slot each (aliases share one)
const ENCODING_SLOT: StaticArray<i32> = [0, 1, 0, 1, 2, 2, 3, 4, 5, 6, 5, 6];
const ENCODING_MIN: StaticArray<i64> = [0, 0, -2147483648, 0, 0, 0, 0];
const ENCODING_MAX: StaticArray<i64> = [i64.MAX_VALUE, i64.MAX_VALUE, 2147483647, 2147483647, i64.MAX_VALUE, i64.MAX_VALUE, i64.MAX_VALUE];
const INT_MAX: i64 = 2147483647;

function valueOf(i: i32): string {
  if (i >= ENCODING_FROM) return unchecked(encodingValues[ENCODING_SLOT[i - ENCODING_FROM]]).toString();
  switch (i) {
    case SAVE: return "";
    case DATABASES_SLOT: return DATABASES.toString();
    case MAX_BULK: return maxBulk.toString();
    case MAXMEMORY: return maxmemory.toString();
    case POLICY: return POLICY_NAMES[maxmemoryPolicy];
    case SAMPLES: return maxmemorySamples.toString();
    case LFU_LOG_FACTOR: return lfuLogFactor.toString();
    case LFU_DECAY_TIME: return lfuDecayTime.toString();
    case QUERY_BUFFER: return queryBufferLimit.toString();
    case APPENDONLY: return appendonly ? "yes" : "no";
    case APPENDFSYNC: return FSYNC_NAMES[appendfsync];
    case AOF_PERCENTAGE: return autoAofRewritePercentage.toString();
    case AOF_MIN_SIZE: return autoAofRewriteMinSize.toString();
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
  if (argIs(1, "resetstat")) {
    if (argc != 2) return wrongArity("config|resetstat");
    resetStats();
    return replyOk();
  }
  unknownSubcommand("CONFIG");
}

/** CONFIG RESETSTAT (server.c resetServerStats): the counters of INFO stats and commandstats start again. */
function resetStats(): void {
  resetCommandStats();
  resetServerStats();
  resetKeyspaceStats();
  resetEvictedKeys();
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
  replyMap(pairs.length >> 1);
  for (let i = 0; i < pairs.length; i++) replyBulkText(pairs[i]);
}

// A parsed CONFIG SET value, by parameter.
let newMemory: u64 = 0;
let newPolicy: i32 = 0;
let newInt: i32 = 0;
let newI64: i64 = 0;
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
  if (i == MAXMEMORY || i == AOF_MIN_SIZE) {
    if (!parseMemory(value)) return "argument must be a memory value";
    newMemory = parsedMemory;
    return null;
  }
  if (i == APPENDONLY) {
    const lower = value.toLowerCase();
    if (lower != "yes" && lower != "no") return "argument must be 'yes' or 'no'";
    newInt = lower == "yes" ? 1 : 0;
    if (newInt == 1 && instanceName() == null) return "no data directory to log to: start kv with `enclave serve --data DIR`";
    return null;
  }
  if (i == APPENDFSYNC) {
    newInt = FSYNC_NAMES.indexOf(value.toLowerCase());
    return newInt < 0 ? "argument(s) must be one of the following: always, everysec, no" : null;
  }
  if (i == QUERY_BUFFER) {
    if (!parseMemory(value)) return "argument must be a memory value";
    if (parsedMemory < 1 << 20 || parsedMemory > <u64>i64.MAX_VALUE) return "argument must be between 1048576 and 9223372036854775807 inclusive";
    newMemory = parsedMemory;
    return null;
  }
  if (i == OUTPUT_BUFFER) return checkOutputLimits(value);
  if (i == POLICY) {
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
  if (i >= ENCODING_FROM) {
    const slot = ENCODING_SLOT[i - ENCODING_FROM];
    const lo = ENCODING_MIN[slot], hi = ENCODING_MAX[slot];
    if (parsedInt < lo || parsedInt > hi) return "argument must be between " + lo.toString() + " and " + hi.toString() + " inclusive";
    newI64 = parsedInt;
    return null;
  }
  const lo: i64 = i == SAMPLES ? 1 : 0;
  if (parsedInt < lo || parsedInt > INT_MAX) return "argument must be between " + lo.toString() + " and " + INT_MAX.toString() + " inclusive";
  newInt = <i32>parsedInt;
  return null;
}

function apply(i: i32): void {
  if (i >= ENCODING_FROM) unchecked((encodingValues[ENCODING_SLOT[i - ENCODING_FROM]] = newI64));
  else if (i == OUTPUT_BUFFER) {
    for (let c = 0; c < 3; c++) {
      if (!unchecked(newSet[c])) continue;
      unchecked((obufHard[c] = newHard[c]));
      unchecked((obufSoft[c] = newSoft[c]));
      unchecked((obufSeconds[c] = newSeconds[c]));
    }
  } else if (i == QUERY_BUFFER) setQueryBufferLimit(newMemory);
  else if (i == MAXMEMORY) setMaxmemory(newMemory);
  else if (i == POLICY) setMaxmemoryPolicy(newPolicy);
  else if (i == SAMPLES) setMaxmemorySamples(newInt);
  else if (i == LFU_LOG_FACTOR) setLfuLogFactor(newInt);
  else if (i == LFU_DECAY_TIME) setLfuDecayTime(newInt);
  else if (i == APPENDONLY) turnLog(newInt == 1);
  else if (i == APPENDFSYNC) setAppendfsync(newInt);
  else if (i == AOF_PERCENTAGE) setAutoAofRewritePercentage(newInt);
  else setAutoAofRewriteMinSize(newMemory);
}

/**
 * appendonly: at start (the host's configure) the log goes on from the restored position; while
 * the store runs it starts a chain whose base is a snapshot asked for now (aof-writer.ts).
 */
function turnLog(on: bool): void {
  const running = !configuring;
  setAppendonly(on, running);
  if (on && running) askSave();
}

/** The host's configure export is running (flags at start), not a client. */
let configuring = false;
export function setConfiguring(on: bool): void {
  configuring = on;
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
