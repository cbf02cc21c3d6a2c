// Connection commands: PING, SELECT (Redis server.c, db.c) and HELLO (networking.c); CLIENT is in cmd-client.ts. ECHO and
// QUIT are a line each in execute.
import { ascii, copyBytes, parsedInt } from "./bytes";
import { Conn } from "./conn";
import { al, ap, argIs, argInt, argText, argc, conn } from "./args";
import { notInteger, truncate, wrongArity } from "./errors";
import {
  replyArray, replyBulk, replyBulkText, replyError, replyErrorLine, replyInt, replyMap, replyOk, replyProtocol, replyStatus,
} from "./reply";
import { DATABASES, selectDb } from "./server-state";
import { REDIS_VERSION } from "./cmd-server";

const PONG = ascii("PONG");

export function ping(): void {
  if (argc > 2) return wrongArity("ping");
  const c = changetype<Conn>(conn);
  if (c.subscriptions > 0 && !c.resp3) { // subscriber mode: ["pong", the argument or ""]
    replyArray(2);
    replyBulkText("pong");
    if (argc == 2) replyBulk(ap(1), al(1));
    else replyBulkText("");
    return;
  }
  if (argc == 2) replyBulk(ap(1), al(1));
  else replyStatus(PONG);
}

/** A database index argument as getIntFromObjectOrReply and selectDb check it; -1 after the error reply. */
export function dbArg(i: u32): i32 {
  if (!argInt(i)) {
    notInteger();
    return -1;
  }
  if (parsedInt < i32.MIN_VALUE || parsedInt > i32.MAX_VALUE) {
    replyError("value is out of range");
    return -1;
  }
  if (parsedInt < 0 || parsedInt >= DATABASES) {
    replyError("DB index is out of range");
    return -1;
  }
  return <i32>parsedInt;
}

export function select(): void {
  const i = dbArg(1);
  if (i < 0) return;
  changetype<Conn>(conn).db = i;
  selectDb(i);
  replyOk();
}

/** Checks a client name argument (validateClientName); false after the error reply. */
export function nameValid(i: u32): bool {
  const p = ap(i);
  const n = al(i);
  for (let k: u32 = 0; k < n; k++) {
    const b = load<u8>(p + k);
    if (b < 0x21 || b > 0x7e) {
      replyError("Client names cannot contain spaces, newlines or special characters.");
      return false;
    }
  }
  return true;
}

export function setName(c: Conn, i: u32): void {
  c.name = al(i) == 0 ? null : copyBytes(ap(i), al(i));
}

/**
 * HELLO [protover [AUTH username password] [SETNAME clientname]] (networking.c helloCommand): picks
 * RESP2 or RESP3 for the connection and describes the server. kv has no users but Redis's default
 * one, which takes any password (nopass), as Redis's does until one is configured.
 */
export function hello(): void {
  const c = changetype<Conn>(conn);
  let ver: i64 = 0;
  let next: u32 = 1;
  if (argc >= 2) {
    if (!argInt(1)) return replyError("Protocol version is not an integer or out of range");
    ver = parsedInt;
    if (ver < 2 || ver > 3) return replyErrorLine("NOPROTO unsupported protocol version");
    next = 2;
  }
  let nameArg: u32 = 0;
  let userArg: u32 = 0;
  for (let j = next; j < argc; j++) {
    const more = argc - 1 - j;
    if (argIs(j, "auth") && more >= 2) {
      userArg = j + 1;
      j += 2;
    } else if (argIs(j, "setname") && more >= 1) {
      if (!nameValid(j + 1)) return;
      nameArg = j + 1;
      j++;
    } else {
      return replyError("Syntax error in HELLO option '" + truncate(argText(j), 128) + "'");
    }
  }
  if (userArg != 0 && !argIs(userArg, "default")) return replyErrorLine("WRONGPASS invalid username-password pair or user is disabled.");
  if (nameArg != 0) setName(c, nameArg);
  if (ver != 0) {
    c.resp3 = ver == 3;
    replyProtocol(c.resp3);
  }
  replyMap(7);
  replyBulkText("server");
  replyBulkText("redis");
  replyBulkText("version");
  replyBulkText(REDIS_VERSION);
  replyBulkText("proto");
  replyInt(c.resp3 ? 3 : 2);
  replyBulkText("id");
  replyInt(c.id);
  replyBulkText("mode");
  replyBulkText("standalone");
  replyBulkText("role");
  replyBulkText("master");
  replyBulkText("modules");
  replyArray(0);
}
