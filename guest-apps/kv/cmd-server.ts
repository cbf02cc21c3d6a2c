// Server commands: INFO (Redis server.c) and CONFIG GET (config.c). COMMAND is in commands.ts,
// beside the table it describes.
import { ascii } from "./bytes";
import { maxBulk } from "./conn";
import { now } from "./clock";
import { globMatch } from "./glob";
import { al, ap, argIs, argText, argc } from "./args";
import { unknownSubcommand, wrongArity } from "./errors";
import { replyArray, replyBulkText } from "./reply";
import { commandsProcessed, connectedClients, connectionsReceived, db, startedAt } from "./server-state";

const INFO_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "keyspace"];

function infoSection(name: string): string {
  if (name == "server") {
    return "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nenclave_app:kv\r\narch_bits:32\r\n" +
      "uptime_in_seconds:" + ((now() - startedAt) / 1000).toString() + "\r\n";
  }
  if (name == "clients") return "# Clients\r\nconnected_clients:" + connectedClients.toString() + "\r\n";
  if (name == "memory") {
    const bytes = <i64>memory.size() << 16;
    return "# Memory\r\nused_memory:" + bytes.toString() + "\r\nused_memory_human:" + (bytes >> 20).toString() + "M\r\n" +
      "maxmemory:0\r\n";
  }
  if (name == "persistence") return "# Persistence\r\nloading:0\r\n";
  if (name == "stats") {
    return "# Stats\r\ntotal_connections_received:" + connectionsReceived.toString() + "\r\ntotal_commands_processed:" +
      commandsProcessed.toString() + "\r\nexpired_keys:" + db.expiredKeys.toString() + "\r\n";
  }
  // keyspace: Redis leaves the db0 line out when the database is empty.
  db.purge();
  let s = "# Keyspace\r\n";
  if (db.keys.count > 0) s += "db0:keys=" + db.keys.count.toString() + ",expires=" + db.expiring.length.toString() + ",avg_ttl=0\r\n";
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
  replyBulkText(text);
}

/** CONFIG GET answers for these parameters (what redis-benchmark and clients ask for). */
function configValue(name: string): string {
  if (name == "save") return "";
  if (name == "appendonly") return "no";
  if (name == "proto-max-bulk-len") return maxBulk.toString();
  if (name == "maxmemory") return "0";
  if (name == "databases") return "1";
  return "";
}
const CONFIG_NAMES = ["save", "appendonly", "proto-max-bulk-len", "maxmemory", "databases"];

export function config(): void {
  if (!argIs(1, "get")) return unknownSubcommand("CONFIG");
  if (argc < 3) return wrongArity("config|get");
  const pairs = new Array<string>();
  for (let i = 0; i < CONFIG_NAMES.length; i++) {
    const name = CONFIG_NAMES[i];
    const bytes = ascii(name);
    for (let j: u32 = 2; j < argc; j++) {
      if (globMatch(ap(j), al(j), changetype<usize>(bytes), bytes.byteLength)) {
        pairs.push(name);
        pairs.push(configValue(name));
        break;
      }
    }
  }
  replyArray(pairs.length);
  for (let i = 0; i < pairs.length; i++) replyBulkText(pairs[i]);
}
