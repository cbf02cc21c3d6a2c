// Publish/subscribe (Redis pubsub.c): SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and
// PUBSUB CHANNELS, NUMSUB, NUMPAT and HELP. A message goes into each receiver's output (a push in
// RESP3, an array in RESP2), and the receiver is woken for its host to drain it, as a blocked
// client is (blocking.ts): the host learns which connection has output, never what it is.
//
// Channels and patterns are binary: they are kept as strings of one UTF-16 unit per byte, which
// maps bytes to strings and back exactly.
import { ascii } from "./bytes";
import { al, ap, argIs, argc, conn } from "./args";
import { wakeConnection } from "./blocking";
import { Conn } from "./conn";
import { unknownSubcommand, wrongArity } from "./errors";
import { globMatch } from "./glob";
import { replyArray, replyBulk, replyBulkText, replyInt, replyNil, replyPush, replyStatus, replyTo, resp3 } from "./reply";

/** Clients with a subscription (execute's cheap test before subscriber mode's). */
export let subscribedClients: i32 = 0;

/** Keeps subscribedClients as `c` goes from `before` subscriptions to what it has now. */
function counted(c: Conn, before: i32): void {
  if (before == 0 && c.subscriptions > 0) subscribedClients++;
  else if (before > 0 && c.subscriptions == 0) subscribedClients--;
}

class Subscribers {
  readonly conns: Array<Conn> = new Array<Conn>();
}

/** Channel -> its subscribers, in the order they subscribed. */
const channels = new Map<string, Subscribers>();
/** Pattern subscriptions, in the order they were made. */
class PatternSub {
  /** The pattern's bytes, which PUBLISH matches channels with (kept, not made again per message). */
  readonly bytes: ArrayBuffer;
  constructor(public pattern: string, public conn: Conn) {
    this.bytes = bytesOf(pattern);
  }
}
const patterns = new Array<PatternSub>();

function keyOf(p: usize, n: u32): string {
  const units = new ArrayBuffer(<i32>n << 1);
  for (let i: u32 = 0; i < n; i++) store<u16>(changetype<usize>(units) + (<usize>i << 1), load<u8>(p + i));
  return String.UTF16.decode(units);
}

/** A key's bytes (keyOf reversed). */
function bytesOf(s: string): ArrayBuffer {
  const b = new ArrayBuffer(s.length);
  for (let i = 0; i < s.length; i++) store<u8>(changetype<usize>(b) + i, <u8>s.charCodeAt(i));
  return b;
}

function replyKey(s: string): void {
  const b = bytesOf(s);
  replyBulk(changetype<usize>(b), <u32>b.byteLength);
}

/** The header of a pub/sub message: a push in RESP3, an array in RESP2. */
function pushHeader(n: i32): void {
  if (resp3) replyPush(n);
  else replyArray(n);
}

/** One subscription event: kind, the channel or pattern (or a null), and the client's count after it. */
function replyEvent(kind: string, name: string | null, count: i32): void {
  pushHeader(3);
  replyBulkText(kind);
  if (name == null) replyNil();
  else replyKey(name);
  replyInt(count);
}

function isSubscribed(c: Conn, channel: string): bool {
  if (!channels.has(channel)) return false;
  return channels.get(channel).conns.includes(c);
}

/** SUBSCRIBE channel [channel ...] */
export function subscribe(): void {
  const c = changetype<Conn>(conn);
  const before = c.subscriptions;
  for (let i: u32 = 1; i < argc; i++) {
    const ch = keyOf(ap(i), al(i));
    if (!isSubscribed(c, ch)) {
      if (!channels.has(ch)) channels.set(ch, new Subscribers());
      channels.get(ch).conns.push(c);
      c.channels++;
    }
    replyEvent("subscribe", ch, c.subscriptions);
  }
  counted(c, before);
}

function dropChannel(c: Conn, ch: string): bool {
  if (!channels.has(ch)) return false;
  const subs = channels.get(ch).conns;
  const at = subs.indexOf(c);
  if (at < 0) return false;
  subs.splice(at, 1);
  if (subs.length == 0) channels.delete(ch);
  c.channels--;
  return true;
}

/** The channels `c` subscribes to. */
function channelsOf(c: Conn): string[] {
  const out = new Array<string>();
  const names = channels.keys();
  for (let i = 0; i < names.length; i++) if (channels.get(names[i]).conns.includes(c)) out.push(names[i]);
  return out;
}

/** UNSUBSCRIBE [channel ...]: the named channels, or all. */
export function unsubscribe(): void {
  const c = changetype<Conn>(conn);
  const before = c.subscriptions;
  unsubscribeFrom(c);
  counted(c, before);
}

function unsubscribeFrom(c: Conn): void {
  if (argc == 1) {
    const all = channelsOf(c);
    if (all.length == 0) return replyEvent("unsubscribe", null, c.subscriptions);
    for (let i = 0; i < all.length; i++) {
      dropChannel(c, all[i]);
      replyEvent("unsubscribe", all[i], c.subscriptions);
    }
    return;
  }
  for (let i: u32 = 1; i < argc; i++) {
    const ch = keyOf(ap(i), al(i));
    dropChannel(c, ch);
    replyEvent("unsubscribe", ch, c.subscriptions);
  }
}

/** PSUBSCRIBE pattern [pattern ...] */
export function psubscribe(): void {
  const c = changetype<Conn>(conn);
  const before = c.subscriptions;
  for (let i: u32 = 1; i < argc; i++) {
    const pat = keyOf(ap(i), al(i));
    if (findPattern(c, pat) < 0) {
      patterns.push(new PatternSub(pat, c));
      c.patterns++;
    }
    replyEvent("psubscribe", pat, c.subscriptions);
  }
  counted(c, before);
}

function findPattern(c: Conn, pat: string): i32 {
  for (let i = 0; i < patterns.length; i++) if (patterns[i].conn === c && patterns[i].pattern == pat) return i;
  return -1;
}

/** PUNSUBSCRIBE [pattern ...]: the named patterns, or all. */
export function punsubscribe(): void {
  const c = changetype<Conn>(conn);
  const before = c.subscriptions;
  punsubscribeFrom(c);
  counted(c, before);
}

function punsubscribeFrom(c: Conn): void {
  if (argc == 1) {
    const mine = new Array<string>();
    for (let i = 0; i < patterns.length; i++) if (patterns[i].conn === c) mine.push(patterns[i].pattern);
    if (mine.length == 0) return replyEvent("punsubscribe", null, c.subscriptions);
    for (let i = 0; i < mine.length; i++) {
      patterns.splice(findPattern(c, mine[i]), 1);
      c.patterns--;
      replyEvent("punsubscribe", mine[i], c.subscriptions);
    }
    return;
  }
  for (let i: u32 = 1; i < argc; i++) {
    const pat = keyOf(ap(i), al(i));
    const at = findPattern(c, pat);
    if (at >= 0) {
      patterns.splice(at, 1);
      c.patterns--;
    }
    replyEvent("punsubscribe", pat, c.subscriptions);
  }
}

/** c goes away: all its subscriptions with it. */
export function forgetSubscriptions(c: Conn): void {
  if (c.subscriptions == 0) return;
  subscribedClients--;
  const mine = channelsOf(c);
  for (let i = 0; i < mine.length; i++) dropChannel(c, mine[i]);
  for (let i = patterns.length - 1; i >= 0; i--) if (patterns[i].conn === c) patterns.splice(i, 1);
  c.patterns = 0;
}

/** PUBLISH channel message: the message to every subscriber of the channel and of a matching pattern; how many got it. */
export function publish(): void {
  const self = changetype<Conn>(conn);
  const ch = keyOf(ap(1), al(1));
  let received = 0;
  if (channels.has(ch)) {
    const subs = channels.get(ch).conns;
    for (let i = 0; i < subs.length; i++) {
      deliver(subs[i], self);
      pushHeader(3);
      replyBulkText("message");
      replyBulk(ap(1), al(1));
      replyBulk(ap(2), al(2));
      received++;
    }
  }
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if (!globMatch(changetype<usize>(p.bytes), <u32>p.bytes.byteLength, ap(1), al(1))) continue;
    deliver(p.conn, self);
    pushHeader(4);
    replyBulkText("pmessage");
    replyBulk(changetype<usize>(p.bytes), <u32>p.bytes.byteLength);
    replyBulk(ap(1), al(1));
    replyBulk(ap(2), al(2));
    received++;
  }
  replyTo(self.output, self.resp3);
  replyInt(received);
}

/** The replies that follow go to subscriber `to`, which is woken for its host to drain them (unless it is the publisher). */
function deliver(to: Conn, self: Conn): void {
  replyTo(to.output, to.resp3);
  if (to !== self) wakeConnection(to);
}

const HELP: string[] = [
  "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CHANNELS [<pattern>]",
  "    Return the currently active channels matching a <pattern> (default: '*').",
  "NUMPAT",
  "    Return number of subscriptions to patterns.",
  "NUMSUB [<channel> ...]",
  "    Return the number of subscribers for the specified channels, excluding",
  "    pattern subscriptions(default: no channels).",
  "SHARDCHANNELS [<pattern>]",
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  "SHARDNUMSUB [<shardchannel> ...]",
  "    Return the number of subscribers for the specified shard level channel(s)",
  "HELP",
  "    Prints this help.",
];

/** PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP */
export function pubsub(): void {
  if (argIs(1, "help") && argc == 2) {
    replyArray(HELP.length);
    for (let i = 0; i < HELP.length; i++) replyStatus(ascii(HELP[i]));
  } else if (argIs(1, "channels")) {
    if (argc > 3) return wrongArity("pubsub|channels");
    const names = channels.keys();
    const out = new Array<string>();
    for (let i = 0; i < names.length; i++) {
      if (argc == 3) {
        const n = bytesOf(names[i]);
        if (!globMatch(ap(2), al(2), changetype<usize>(n), <u32>n.byteLength)) continue;
      }
      out.push(names[i]);
    }
    replyArray(out.length);
    for (let i = 0; i < out.length; i++) replyKey(out[i]);
  } else if (argIs(1, "numsub")) {
    replyArray(<i64>(argc - 2) * 2);
    for (let i: u32 = 2; i < argc; i++) {
      const ch = keyOf(ap(i), al(i));
      replyBulk(ap(i), al(i));
      replyInt(channels.has(ch) ? channels.get(ch).conns.length : 0);
    }
  } else if (argIs(1, "numpat")) {
    if (argc != 2) return wrongArity("pubsub|numpat");
    replyInt(patterns.length);
  } else if (argIs(1, "shardchannels") || argIs(1, "shardnumsub")) {
    // No sharded channels: kv is not a cluster (Redis answers the same outside one).
    if (argIs(1, "shardchannels")) replyArray(0);
    else {
      replyArray(<i64>(argc - 2) * 2);
      for (let i: u32 = 2; i < argc; i++) {
        replyBulk(ap(i), al(i));
        replyInt(0);
      }
    }
  } else {
    unknownSubcommand("PUBSUB");
  }
}
