// Connection commands: PING, SELECT (Redis server.c, db.c) and CLIENT (networking.c). ECHO and
// QUIT are a line each in execute.
import { ascii, copyBytes, parsedInt } from "./bytes";
import { Conn } from "./conn";
import { al, ap, argIs, argInt, argc, conn } from "./args";
import { notInteger, unknownSubcommand, wrongArity } from "./errors";
import { replyBulk, replyBulkBuf, replyError, replyInt, replyNil, replyOk, replyStatus } from "./reply";
import { DATABASES, selectDb } from "./server-state";

const PONG = ascii("PONG");

export function ping(): void {
  if (argc > 2) wrongArity("ping");
  else if (argc == 2) replyBulk(ap(1), al(1));
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

export function client(): void {
  const c = changetype<Conn>(conn);
  if (argIs(1, "setname")) {
    if (argc != 3) return wrongArity("client|setname");
    const p = ap(2);
    const n = al(2);
    for (let k: u32 = 0; k < n; k++) {
      const b = load<u8>(p + k);
      if (b < 0x21 || b > 0x7e) return replyError("Client names cannot contain spaces, newlines or special characters.");
    }
    c.name = n == 0 ? null : copyBytes(p, n);
    replyOk();
  } else if (argIs(1, "getname")) {
    if (argc != 2) return wrongArity("client|getname");
    const name = c.name;
    if (name == null) replyNil();
    else replyBulkBuf(name);
  } else if (argIs(1, "id")) {
    if (argc != 2) return wrongArity("client|id");
    replyInt(c.id);
  } else {
    unknownSubcommand("CLIENT");
  }
}
