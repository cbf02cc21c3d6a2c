// INFO (Redis server.c, genRedisInfoString) and TIME. CONFIG is in cmd-config.ts; COMMAND is in commands.ts,
// beside the table it describes.
import { now } from "./clock";
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

const INFO_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "keyspace"];

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
  if (argc == 1) wanted = INFO_SECTIONS;
  for (let i: u32 = 1; i < argc; i++) {
    const name = argText(i).toLowerCase();
    if (name == "all" || name == "default" || name == "everything") wanted = INFO_SECTIONS;
    else if (INFO_SECTIONS.includes(name) && !wanted.includes(name)) wanted.push(name);
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

/** TIME: seconds and microseconds, as bulk strings, of the host's clock (untrusted: clock.ts), to the millisecond. */
export function time(): void {
  const ms = now();
  replyArray(2);
  replyBulkText((ms / 1000).toString());
  replyBulkText(((ms % 1000) * 1000).toString());
}
