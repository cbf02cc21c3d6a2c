// The limits on one client's buffers, with Redis's semantics (networking.c): a client whose
// unprocessed input passes client-query-buffer-limit, or whose pending output passes the hard
// client-output-buffer-limit of its class (or stays over the soft one longer than its seconds), is
// closed, its pending output dropped, and the server goes on. Memory that runs out for a client's
// buffers closes it too (after -OOM when its input could not grow). The host's log gets a line
// naming the client and the limit, never its bytes.
import { log } from "../../assembly/index";
import { now } from "./clock";
import { obufHard, obufSeconds, obufSoft, queryBufferLimit } from "./config";
import { Conn } from "./conn";

const NORMAL = 0;

/** The output the host has not taken yet (Redis's getClientOutputBufferMemoryUsage). */
// @ts-ignore: decorator
@inline export function pendingOutput(c: Conn): u64 {
  return <u64>(c.output.len - c.sent);
}

/** checkClientOutputBufferLimits for a normal client: over the hard limit, or over the soft one for longer than its seconds. */
export function outputOverLimit(c: Conn): bool {
  const used = pendingOutput(c);
  const hard = unchecked(obufHard[NORMAL]);
  const soft = unchecked(obufSoft[NORMAL]);
  if (hard != 0 && used >= hard) return true;
  if (soft == 0 || used < soft) {
    c.softSince = 0;
    return false;
  }
  const t = now();
  if (c.softSince == 0) {
    c.softSince = t;
    return false;
  }
  return (t - c.softSince) / 1000 > unchecked(obufSeconds[NORMAL]);
}

export function queryOverLimit(c: Conn): bool {
  return <u64>c.input.len > queryBufferLimit;
}

/** Closes `c` at once, dropping what it has not been sent; `why` goes to the host's log. */
export function dropClient(c: Conn, why: string): void {
  log("kv: closing client " + c.id.toString() + ": " + why);
  c.output.clear();
  c.sent = 0;
  c.input.clear();
  c.closing = true;
  c.paused = false;
  c.pending = 0;
}
