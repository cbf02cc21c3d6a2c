// SRANDMEMBER, HRANDFIELD and ZRANDMEMBER (Redis t_set.c, t_hash.c hrandfieldCommand, t_zset.c
// zrandmemberCommand): random members of a set, hash or sorted set, with a hash's values or a
// sorted set's scores if asked. Without a count, one member; with a
// negative count, that many picked independently (repeats allowed); with a positive one, that many
// distinct members, or all of them (in the value's own order) when it holds no more.
import { ByteBuf, parsedInt } from "./bytes";
import { argInt, argIs, argc } from "./args";
import { notInteger, syntaxError } from "./errors";
import { WITH_SCORES, WITH_VALUES } from "./member-scan";
import { nextRandom } from "./random";
import { Rec, TYPE_HASH, TYPE_SET, TYPE_ZSET, keyPtr, valPtr } from "./record";
import { replyAllMembers } from "./cmd-sets";
import {
  replyArray, replyBulk, replyDouble, replyEmptyArray, replyError, replyNil, replyOom, replyPair, replyPairs,
} from "./reply";
import { lookupOfType, wrongTypeReplied } from "./args";
import { hashOf, zsetOf } from "./store";
import { at, fairRandomRec, slotCount } from "./table";
import { nodeMember, nodeNext, scoreOf, zslFirst } from "./zset";

let values = 0;

function replyOne(m: Rec): void {
  if (values != 0) replyPair();
  replyBulk(keyPtr(m), m.keyLen);
  if (values == WITH_VALUES) replyBulk(valPtr(m), m.valLen);
  else if (values == WITH_SCORES) replyDouble(scoreOf(m));
}

function replyMembersHeader(n: i64): void {
  if (values != 0) replyPairs(n);
  else replyArray(n);
}

/**
 * SRANDMEMBER key [count] (`type` TYPE_SET), HRANDFIELD key [count [WITHVALUES]] (TYPE_HASH) and
 * ZRANDMEMBER key [count [WITHSCORES]] (TYPE_ZSET).
 */
export function randomMembers(type: u8): void {
  const option = type == TYPE_HASH ? "withvalues" : type == TYPE_ZSET ? "withscores" : "";
  let count: i64 = 0;
  const withCount = argc >= 3;
  values = 0;
  if (withCount) {
    if (!argInt(2)) return notInteger();
    count = parsedInt;
    if (count == i64.MIN_VALUE) return replyError("value is out of range, value must between -9223372036854775807 and 9223372036854775807");
    if (argc > 4 || (argc == 4 && (option.length == 0 || !argIs(3, option)))) return syntaxError();
    if (argc == 4) {
      values = type == TYPE_HASH ? WITH_VALUES : WITH_SCORES;
      if (count < -(i64.MAX_VALUE / 2) || count > i64.MAX_VALUE / 2) return replyError("value is out of range");
    }
  }
  const r = lookupOfType(1, type);
  if (wrongTypeReplied) return;
  if (r == null) return withCount ? replyEmptyArray() : replyNil();
  const t = hashOf(r);
  if (!withCount) {
    const m = fairRandomRec(t);
    return replyBulk(keyPtr(m), m.keyLen);
  }
  if (count == 0) return replyEmptyArray();
  if (count < 0 || count == 1) {
    const n = count < 0 ? -count : 1;
    replyMembersHeader(n);
    for (let k: i64 = 0; k < n; k++) replyOne(fairRandomRec(t));
    return;
  }
  if (count >= <i64>t.count) { // all of them, in the value's order
    if (type == TYPE_SET) return replyAllMembers(r);
    replyMembersHeader(t.count);
    if (type == TYPE_ZSET) {
      for (let n = zslFirst(zsetOf(r)); n != 0; n = nodeNext(n)) replyOne(nodeMember(n));
    } else {
      const slots = slotCount(t);
      for (let k: u32 = 0; k < slots; k++) {
        const m = at(t, k);
        if (m != null) replyOne(m);
      }
    }
    return;
  }
  // Distinct members: a partial Fisher-Yates shuffle of all of them.
  const all = new ByteBuf();
  const slots = slotCount(t);
  for (let k: u32 = 0; k < slots; k++) {
    const m = at(t, k);
    if (m != null) all.putU32(<u32>changetype<usize>(m));
  }
  if (all.failed) {
    all.free();
    return replyOom();
  }
  const total = all.len >> 2;
  replyMembersHeader(count);
  for (let i: u32 = 0; i < <u32>count; i++) {
    const j = i + <u32>((<u64>nextRandom() * (total - i)) >> 32);
    const a = load<u32>(all.ptr + (<usize>j << 2));
    store<u32>(all.ptr + (<usize>j << 2), load<u32>(all.ptr + (<usize>i << 2)));
    replyOne(changetype<Rec>(<usize>a));
  }
  all.free();
}
