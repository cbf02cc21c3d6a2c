// The arguments of SCAN, SSCAN, HSCAN and ZSCAN (Redis db.c scanGenericCommand): a cursor, then
// COUNT n, MATCH pattern and, for SCAN only, TYPE name, in any order.
import { ByteBuf, parsedInt } from "./bytes";
import { Rec } from "./record";
import { al, ap, argIs, argInt, argc } from "./args";
import { notInteger, syntaxError } from "./errors";
import { replyError } from "./reply";

export let scanCursor: u64 = 0;
export let scanCount: i64 = 10;
/** The argument index of MATCH's pattern, or 0. */
export let scanMatch: u32 = 0;
/** The argument index of TYPE's name, or 0. */
export let scanType: u32 = 0;

/** Keeps at the front of `found` (record addresses, u32 each) those `keep` takes, in order; returns how many. */
export function keepMatches(found: ByteBuf, keep: (r: Rec) => bool): u32 {
  let kept: u32 = 0;
  const total = found.len >> 2;
  for (let i: u32 = 0; i < total; i++) {
    const r = changetype<Rec>(<usize>load<u32>(found.ptr + (<usize>i << 2)));
    if (!keep(r)) continue;
    store<u32>(found.ptr + (<usize>kept << 2), changetype<usize>(r));
    kept++;
  }
  return kept;
}

/** Reads the cursor at argument `at` and the options after it; false after an error reply. */
export function parseScanArgs(at: u32, allowType: bool): bool {
  // The cursor: decimal digits only (Redis: strtoul, refusing spaces and trailing bytes).
  const cp = ap(at);
  const cn = al(at);
  let cursor: u64 = 0;
  for (let k: u32 = 0; k < cn; k++) {
    const d = <u32>load<u8>(cp + k) - 0x30;
    if (d > 9 || cursor > (u64.MAX_VALUE - d) / 10) {
      replyError("invalid cursor");
      return false;
    }
    cursor = cursor * 10 + d;
  }
  scanCursor = cursor;
  scanCount = 10;
  scanMatch = 0;
  scanType = 0;
  for (let j: u32 = at + 1; j < argc; j++) {
    const hasNext = j + 1 < argc;
    if (argIs(j, "count") && hasNext) {
      if (!argInt(j + 1)) {
        notInteger();
        return false;
      }
      scanCount = parsedInt;
      if (scanCount < 1) {
        syntaxError();
        return false;
      }
      j++;
    } else if (argIs(j, "match") && hasNext) {
      scanMatch = ++j;
    } else if (allowType && argIs(j, "type") && hasNext) {
      scanType = ++j;
    } else {
      syntaxError();
      return false;
    }
  }
  return true;
}
