// CLIENT (Redis networking.c clientCommand): ID, INFO, LIST, KILL, UNBLOCK, SETNAME, GETNAME, REPLY,
// NO-EVICT and HELP.
//
// Departures: kv does not learn its clients' addresses (the host passes none in), so addr and laddr
// read 0.0.0.0:0 and fd -1, and KILL by ADDR or LADDR matches no one; idle counts from the clock as
// kv last read it (clock.ts lastRead), so it may overstate; cmd= is the command's name without its
// subcommand; there are no users but the default one.
import { ascii, bytesToString, parsedInt } from "./bytes";
import { argIs, argInt, argText, argc, conn } from "./args";
import { conns } from "./clients";
import { now } from "./clock";
import { nameValid, setName } from "./cmd-connection";
import { commandName } from "./commands";
import { Conn } from "./conn";
import { syntaxError, truncate, unknownSubcommand, wrongArity } from "./errors";
import { unblockByClient, wakeConnection } from "./blocking";
import {
  replyArray, replyBulkBuf, replyError, replyInt, replyNil, replyNullArray, replyOk, replyStatus, replyTo, replyVerbatim,
} from "./reply";

const HELP: string[] = [
  "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CACHING (YES|NO)",
  "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
  "GETREDIR",
  "    Return the client ID we are redirecting to when tracking is enabled.",
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "KILL <ip:port>",
  "    Kill connection made from <ip:port>.",
  "KILL <option> <value> [<option> <value> [...]]",
  "    Kill connections. Options are:",
  "    * ADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made from the specified address",
  "    * LADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made to specified local address",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Kill connections by type.",
  "    * USER <username>",
  "      Kill connections authenticated by <username>.",
  "    * SKIPME (YES|NO)",
  "      Skip killing current connection (default: yes).",
  "LIST [options ...]",
  "    Return information about client connections. Options:",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Return clients of specified type.",
  "UNPAUSE",
  "    Stop the current client pause, resuming traffic.",
  "PAUSE <timeout> [WRITE|ALL]",
  "    Suspend all, or just write, clients for <timeout> milliseconds.",
  "REPLY (ON|OFF|SKIP)",
  "    Control the replies sent to the current connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "UNBLOCK <clientid> [TIMEOUT|ERROR]",
  "    Unblock the specified blocked client.",
  "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
  "         [OPTIN] [OPTOUT] [NOLOOP]",
  "    Control server assisted client side caching.",
  "TRACKINGINFO",
  "    Report tracking status for the current connection.",
  "NO-EVICT (ON|OFF)",
  "    Protect current client connection from eviction.",
  "HELP",
  "    Prints this help.",
];

// Client types (getClientTypeByName): kv's clients are all normal ones, or subscribers.
const TYPE_NORMAL = 0, TYPE_REPLICA = 1, TYPE_PUBSUB = 2, TYPE_MASTER = 3, TYPE_UNKNOWN = -1;

function typeByName(i: u32): i32 {
  if (argIs(i, "normal")) return TYPE_NORMAL;
  if (argIs(i, "slave") || argIs(i, "replica")) return TYPE_REPLICA;
  if (argIs(i, "pubsub")) return TYPE_PUBSUB;
  if (argIs(i, "master")) return TYPE_MASTER;
  return TYPE_UNKNOWN;
}

function typeOf(c: Conn): i32 {
  return c.subscriptions > 0 ? TYPE_PUBSUB : TYPE_NORMAL;
}

/** One client's line, as catClientInfoString writes it (without the newline). */
function infoLine(c: Conn, t: i64): string {
  let flags = "";
  if (c.subscriptions > 0) flags += "P";
  if (c.multi != null) flags += "x";
  if (c.blocked) flags += "b";
  if (c.casDirty) flags += "d";
  if (c.closing) flags += "c";
  if (flags.length == 0) flags = "N";
  const name = c.name;
  const qbuf = c.input.len - c.pos;
  const omem = c.output.len - c.sent;
  return "id=" + c.id.toString() + " addr=0.0.0.0:0 laddr=0.0.0.0:0 fd=-1 name=" +
    (name == null ? "" : bytesToString(changetype<usize>(name), name.byteLength)) +
    " age=" + ((t - c.createdAt) / 1000).toString() + " idle=" + (max<i64>(0, t - c.lastAt) / 1000).toString() +
    " flags=" + flags + " db=" + c.db.toString() + " sub=" + c.channels.toString() + " psub=" + c.patterns.toString() +
    " ssub=0 multi=" + (c.multi == null ? "-1" : c.multi!.count.toString()) + " qbuf=" + qbuf.toString() +
    " qbuf-free=" + (c.input.cap - c.input.len).toString() + " argv-mem=0 multi-mem=" +
    (c.multi == null ? "0" : c.multi!.queue.cap.toString()) + " rbs=" + c.input.cap.toString() + " rbp=0 obl=0 oll=0 omem=" +
    omem.toString() + " tot-mem=" + (c.input.cap + c.output.cap + c.argv.cap).toString() + " events=" + (omem > 0 ? "rw" : "r") +
    " cmd=" + (c.lastCmd < 0 ? "NULL" : commandName(c.lastCmd)) + " user=default redir=-1 resp=" + (c.resp3 ? "3" : "2");
}

export function client(): void {
  const c = changetype<Conn>(conn);
  if (argIs(1, "help") && argc == 2) {
    replyArray(HELP.length);
    for (let i = 0; i < HELP.length; i++) replyStatus(ascii(HELP[i]));
  } else if (argIs(1, "setname")) {
    if (argc != 3) return wrongArity("client|setname");
    if (!nameValid(2)) return;
    setName(c, 2);
    replyOk();
  } else if (argIs(1, "getname")) {
    if (argc != 2) return wrongArity("client|getname");
    const name = c.name;
    if (name == null) replyNil();
    else replyBulkBuf(name);
  } else if (argIs(1, "id")) {
    if (argc != 2) return wrongArity("client|id");
    replyInt(c.id);
  } else if (argIs(1, "info")) {
    if (argc != 2) return wrongArity("client|info");
    replyVerbatim(infoLine(c, now()) + "\n");
  } else if (argIs(1, "list")) {
    list();
  } else if (argIs(1, "kill")) {
    kill(c);
  } else if (argIs(1, "unblock")) {
    unblock();
  } else if (argIs(1, "reply") || argIs(1, "no-evict")) {
    // REPLY OFF and SKIP would leave a client without answers it may wait for, and kv does not
    // evict clients: only the settings that change nothing are taken.
    if (argc != 3) return wrongArity(argIs(1, "reply") ? "client|reply" : "client|no-evict");
    if (argIs(2, "on") || (argIs(1, "no-evict") && argIs(2, "off"))) return replyOk();
    if (argIs(2, "off") || argIs(2, "skip")) return replyError("CLIENT REPLY OFF and SKIP are not supported by kv");
    syntaxError();
  } else {
    unknownSubcommand("CLIENT");
  }
}

function list(): void {
  const t = now();
  let type = TYPE_UNKNOWN;
  let out = "";
  if (argc == 4 && argIs(2, "type")) {
    type = typeByName(3);
    if (type == TYPE_UNKNOWN) return replyError("Unknown client type '" + truncate(argText(3), 128) + "'");
  } else if (argc > 3 && argIs(2, "id")) {
    for (let j: u32 = 3; j < argc; j++) {
      if (!argInt(j)) return replyError("Invalid client ID");
      if (parsedInt > 0 && parsedInt <= <i64>u32.MAX_VALUE && conns.has(<u32>parsedInt)) out += infoLine(conns.get(<u32>parsedInt), t) + "\n";
    }
    return replyVerbatim(out);
  } else if (argc != 2) {
    return syntaxError();
  }
  const all = conns.values();
  for (let i = 0; i < all.length; i++) if (type == TYPE_UNKNOWN || typeOf(all[i]) == type) out += infoLine(all[i], t) + "\n";
  replyVerbatim(out);
}

function kill(self: Conn): void {
  let id: i64 = 0;
  let type = TYPE_UNKNOWN;
  let skipMe = true;
  let byAddress = false;
  if (argc == 3) { // CLIENT KILL ip:port: kv knows no addresses (see the top)
    return replyError("No such client");
  } else if (argc > 3) {
    for (let i: u32 = 2; i < argc; i += 2) {
      const more = i + 1 < argc;
      if (argIs(i, "id") && more) {
        if (!argInt(i + 1) || parsedInt < 1) return replyError("client-id should be greater than 0");
        id = parsedInt;
      } else if (argIs(i, "type") && more) {
        type = typeByName(i + 1);
        if (type == TYPE_UNKNOWN) return replyError("Unknown client type '" + truncate(argText(i + 1), 128) + "'");
      } else if ((argIs(i, "addr") || argIs(i, "laddr")) && more) {
        byAddress = true;
      } else if (argIs(i, "user") && more) {
        if (!argIs(i + 1, "default")) return replyError("No such user '" + truncate(argText(i + 1), 128) + "'");
      } else if (argIs(i, "skipme") && more) {
        if (argIs(i + 1, "yes")) skipMe = true;
        else if (argIs(i + 1, "no")) skipMe = false;
        else return syntaxError();
      } else {
        return syntaxError();
      }
    }
  } else {
    return wrongArity("client|kill");
  }
  let killed = 0;
  let closeSelf = false;
  const all = conns.values();
  for (let i = 0; i < all.length; i++) {
    const target = all[i];
    if (byAddress) continue;
    if (type != TYPE_UNKNOWN && typeOf(target) != type) continue;
    if (id != 0 && <i64>target.id != id) continue;
    if (target === self) {
      if (skipMe) continue;
      closeSelf = true;
    } else {
      target.closing = true; // its host drains it now, and closes it
      wakeConnection(target);
    }
    killed++;
  }
  replyInt(killed);
  if (closeSelf) self.closing = true;
}

function unblock(): void {
  if (argc != 3 && argc != 4) return wrongArity("client|unblock");
  let error = false;
  if (argc == 4) {
    if (argIs(3, "error")) error = true;
    else if (!argIs(3, "timeout")) return replyError("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
  }
  if (!argInt(2)) return replyError("value is not an integer or out of range");
  const id = parsedInt;
  const self = changetype<Conn>(conn);
  const target: Conn | null = id > 0 && id <= <i64>u32.MAX_VALUE && conns.has(<u32>id) ? conns.get(<u32>id) : null;
  const done = target != null && unblockByClient(target, error, replyNullArray);
  replyTo(self.output, self.resp3);
  replyInt(done ? 1 : 0);
}
