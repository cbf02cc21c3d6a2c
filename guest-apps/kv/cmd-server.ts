// INFO (Redis server.c, genRedisInfoString) and TIME. CONFIG is in cmd-config.ts; COMMAND is in commands.ts,
// beside the table it describes.
import { randomBytes, untrustedCpuMs } from "../../assembly/index";
import { now } from "./clock";
import { commandStats } from "./commands";
import { POLICY_NAMES, maxmemory, maxmemoryPolicy } from "./config";
import { evictedKeys } from "./evict";
import { argText, argc } from "./args";
import { replyArray, replyBulkText, replyVerbatim } from "./reply";

/** The Redis version whose commands and replies kv follows (HELLO, INFO). */
export const REDIS_VERSION = "7.0.15";
import { DATABASES, commandsProcessed, connectedClients, connectionsReceived, dbAt, expiredKeys, startedAt } from "./server-state";
import { persistenceInfo, snapshotMemory, snapshotRunning } from "./snapshot-writer";
import { aofInfo } from "./aof-writer";
import { blockedClients } from "./blocking";
import { keyspaceHits, keyspaceMisses } from "./store";
import { peakMemory, usedMemory } from "./zmalloc";

/** Redis's bytesToHuman (server.c): B below 1 KiB, else K, M, G, T with two decimals. */
export function humanBytes(n: u64): string {
  if (n < 1024) return n.toString() + "B";
  const units = ["K", "M", "G", "T"];
  let div: u64 = 1024;
  let u = 0;
  while (u < 3 && n >= div << 10) {
    div <<= 10;
    u++;
  }
  const hundredths = (n * 100 + (div >> 1)) / div;
  const frac = hundredths % 100;
  return (hundredths / 100).toString() + "." + (frac < 10 ? "0" : "") + frac.toString() + units[u];
}

/** `v` with two decimals, as C's "%.2f" prints it. */
function twoDecimals(v: f64): string {
  const hundredths = <u64>Math.round(v * 100);
  const frac = hundredths % 100;
  return (hundredths / 100).toString() + "." + (frac < 10 ? "0" : "") + frac.toString();
}

/** used / peak as Redis's used_memory_peak_perc: "%.2f%%". */
function percent(used: u64, peak: u64): string {
  return twoDecimals(peak == 0 ? 0 : <f64>used * 100 / <f64>peak) + "%";
}

// Redis's sections, in its order; "default" leaves commandstats out, "all" and "everything" take it.
const INFO_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "commandstats", "keyspace"];
const NOT_DEFAULT = ["commandstats"];

/** The replication id Redis draws at start (40 hex digits); kv has no replicas, so it never changes. */
let replId = "";

function replicationId(): string {
  if (replId.length == 0) {
    const bytes = randomBytes(20);
    for (let i = 0; i < 20; i++) {
      const b = bytes[i];
      replId += String.fromCharCode(HEX.charCodeAt(b >> 4)) + String.fromCharCode(HEX.charCodeAt(b & 15));
    }
  }
  return replId;
}
const HEX = "0123456789abcdef";

/** ms of CPU time as getrusage's seconds and microseconds, "%ld.%06ld". */
function cpuSeconds(ms: f64): string {
  const us = <i64>Math.round(ms * 1000);
  const frac = (us % 1_000_000).toString();
  return (us / 1_000_000).toString() + "." + "000000".substring(frac.length) + frac;
}

function infoSection(name: string): string {
  if (name == "server") {
    return "# Server\r\nredis_version:" + REDIS_VERSION + "\r\nredis_mode:standalone\r\nenclave_app:kv\r\narch_bits:32\r\n" +
      "uptime_in_seconds:" + ((now() - startedAt) / 1000).toString() + "\r\n";
  }
  if (name == "clients") {
    return "# Clients\r\nconnected_clients:" + connectedClients.toString() + "\r\nblocked_clients:" + blockedClients().toString() + "\r\n";
  }
  if (name == "memory") {
    // used_memory: what kv's records, tables and buffers hold now (zmalloc.ts); used_memory_rss:
    // the enclave's linear memory, which never shrinks (Wasm memory only grows), so that their
    // ratio (mem_fragmentation_ratio) shows what deletes left for reuse.
    const used = usedMemory();
    const peak = peakMemory();
    const rss = <u64>memory.size() << 16;
    return "# Memory\r\nused_memory:" + used.toString() + "\r\nused_memory_human:" + humanBytes(used) +
      "\r\nused_memory_rss:" + rss.toString() + "\r\nused_memory_rss_human:" + humanBytes(rss) +
      "\r\nused_memory_peak:" + peak.toString() + "\r\nused_memory_peak_human:" + humanBytes(peak) +
      "\r\nused_memory_peak_perc:" + percent(used, peak) +
      "\r\nmaxmemory:" + maxmemory.toString() + "\r\nmaxmemory_human:" + humanBytes(maxmemory) +
      "\r\nmaxmemory_policy:" + POLICY_NAMES[maxmemoryPolicy] +
      "\r\nmem_not_counted_for_evict:" + snapshotMemory().toString() +
      "\r\nmem_fragmentation_ratio:" + twoDecimals(used == 0 ? 0 : <f64>rss / <f64>used) +
      "\r\nmem_allocator:tlsf\r\n";
  }
  if (name == "persistence") return "# Persistence\r\nloading:0\r\n" + persistenceInfo() + aofInfo(snapshotRunning());
  if (name == "stats") {
    return "# Stats\r\ntotal_connections_received:" + connectionsReceived.toString() + "\r\ntotal_commands_processed:" +
      commandsProcessed.toString() + "\r\nexpired_keys:" + expiredKeys().toString() + "\r\nevicted_keys:" +
      evictedKeys.toString() + "\r\nkeyspace_hits:" + keyspaceHits.toString() + "\r\nkeyspace_misses:" +
      keyspaceMisses.toString() + "\r\n";
  }
  if (name == "replication") {
    return "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:" +
      replicationId() + "\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\n" +
      "second_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\n" +
      "repl_backlog_histlen:0\r\n";
  }
  if (name == "cpu") {
    // The host process's CPU time (untrusted, as the clock: assembly/index.ts untrustedCpuMs); kv
    // runs on the host's one thread and has no children.
    const sys = cpuSeconds(untrustedCpuMs(true)), user = cpuSeconds(untrustedCpuMs(false));
    return "# CPU\r\nused_cpu_sys:" + sys + "\r\nused_cpu_user:" + user + "\r\nused_cpu_sys_children:0.000000\r\n" +
      "used_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:" + sys + "\r\nused_cpu_user_main_thread:" + user + "\r\n";
  }
  if (name == "commandstats") return "# Commandstats\r\n" + commandStats();
  // keyspace: a line per database that holds keys (Redis leaves the empty ones out).
  let s = "# Keyspace\r\n";
  for (let i = 0; i < DATABASES; i++) {
    const d = dbAt(i);
    d.purge();
    if (d.keys.count == 0) continue;
    s += "db" + i.toString() + ":keys=" + d.keys.count.toString() + ",expires=" + d.expiringCount.toString() + ",avg_ttl=0\r\n";
  }
  return s;
}

export function info(): void {
  let wanted = new Array<string>();
  if (argc == 1) wanted = defaultSections();
  for (let i: u32 = 1; i < argc; i++) {
    const name = argText(i).toLowerCase();
    const add = name == "default" ? defaultSections() : name == "all" || name == "everything" ? INFO_SECTIONS : [name];
    for (let k = 0; k < add.length; k++) if (INFO_SECTIONS.includes(add[k]) && !wanted.includes(add[k])) wanted.push(add[k]);
  }
  let text = "";
  for (let i = 0; i < INFO_SECTIONS.length; i++) {
    const name = INFO_SECTIONS[i];
    if (!wanted.includes(name)) continue;
    if (text.length > 0) text += "\r\n";
    text += infoSection(name);
  }
  replyVerbatim(text);
}

function defaultSections(): string[] {
  return INFO_SECTIONS.filter((s: string): bool => !NOT_DEFAULT.includes(s));
}

/** TIME: seconds and microseconds, as bulk strings, of the host's clock (untrusted: clock.ts), to the millisecond. */
export function time(): void {
  const ms = now();
  replyArray(2);
  replyBulkText((ms / 1000).toString());
  replyBulkText(((ms % 1000) * 1000).toString());
}
