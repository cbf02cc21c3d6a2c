// SSCAN, HSCAN and ZSCAN (Redis db.c scanGenericCommand over a key's value): a value Redis would hold
// compactly (intset, listpack: encoding.ts) comes back whole with cursor 0, as Redis answers it; a
// big one is walked with the keyspace's reverse-binary cursor over its member table (table.ts).
import { ByteBuf } from "./bytes";
import { globMatch } from "./glob";
import { al, ap } from "./args";
import { keepMatches, parseScanArgs, scanCount, scanCursor, scanMatch } from "./scan-args";
import { Rec, keyPtr, valPtr } from "./record";
import { replyArray, replyBulk, replyBulkInt, replyDouble, replyOom } from "./reply";
import { Table, at, scanSteps, slotCount } from "./table";
import { nodeMember, nodeNext, scoreOf, zslFirst } from "./zset";
import { zsetOf } from "./store";

export const MEMBERS_ONLY = 0, WITH_VALUES = 1, WITH_SCORES = 2;

function memberMatches(m: Rec): bool {
  return scanMatch == 0 || globMatch(ap(scanMatch), al(scanMatch), keyPtr(m), m.keyLen);
}

/** Answers xSCAN key cursor... for the member table `t` of a record (null: no such key). */
export function scanMembers(r: Rec | null, t: Table | null, values: i32): void {
  if (!parseScanArgs(2, false)) return;
  const found = new ByteBuf(); // member record addresses, u32 each
  let c: u32 = 0;
  if (r != null && t != null) {
    if (r.big == 0 && values == WITH_SCORES) { // a listpack's order: by score
      for (let n = zslFirst(zsetOf(r)); n != 0; n = nodeNext(n)) found.putU32(<u32>changetype<usize>(nodeMember(n)));
    } else if (r.big == 0) {
      const n = slotCount(t);
      for (let i: u32 = 0; i < n; i++) {
        const f = at(t, i);
        if (f != null) found.putU32(<u32>changetype<usize>(f));
      }
    } else {
      c = scanSteps(t, <u32>scanCursor, scanCount, found);
    }
  }
  if (found.failed) {
    found.free();
    return replyOom();
  }
  const matched = keepMatches(found, memberMatches);
  replyArray(2);
  replyBulkInt(c);
  replyArray(values == MEMBERS_ONLY ? matched : <i64>matched * 2);
  for (let i: u32 = 0; i < matched; i++) {
    const f = changetype<Rec>(load<u32>(found.ptr + (<usize>i << 2)));
    replyBulk(keyPtr(f), f.keyLen);
    if (values == WITH_VALUES) replyBulk(valPtr(f), f.valLen);
    else if (values == WITH_SCORES) replyDouble(scoreOf(f));
  }
  found.free();
}
