// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] (Redis t_string.c lcsCommand): the
// longest common subsequence of two strings, by the dynamic-programming table Redis fills, and the
// same walk back through it, so that the string and the ranges are the ones Redis answers.
import { ByteBuf, parsedInt } from "./bytes";
import { argIs, argInt, argc, lookup } from "./args";
import { maxBulk } from "./conn";
import { notInteger, syntaxError } from "./errors";
import { TYPE_STRING, valPtr } from "./record";
import { replyArray, replyBulk, replyBulkText, replyError, replyInt, replyMap, replyOom } from "./reply";
import { zalloc, zfree } from "./zmalloc";

export function lcs(): void {
  const ra = lookup(1);
  const rb = lookup(2);
  if ((ra != null && ra.type != TYPE_STRING) || (rb != null && rb.type != TYPE_STRING)) {
    return replyError("The specified keys must contain string values");
  }
  let getLen = false, getIdx = false, withMatchLen = false;
  let minMatchLen: i64 = 0;
  for (let j: u32 = 3; j < argc; j++) {
    if (argIs(j, "idx")) getIdx = true;
    else if (argIs(j, "len")) getLen = true;
    else if (argIs(j, "withmatchlen")) withMatchLen = true;
    else if (argIs(j, "minmatchlen") && j + 1 < argc) {
      if (!argInt(j + 1)) return notInteger();
      minMatchLen = max<i64>(parsedInt, 0);
      j++;
    } else {
      return syntaxError();
    }
  }
  if (getLen && getIdx) return replyError("If you want both the length and indexes, please just use IDX.");
  const a = ra == null ? 0 : valPtr(ra), alen: u32 = ra == null ? 0 : ra.valLen;
  const b = rb == null ? 0 : valPtr(rb), blen: u32 = rb == null ? 0 : rb.valLen;
  const cols = <u64>blen + 1;
  const bytes = (<u64>alen + 1) * cols * 4;
  if (bytes > <u64>maxBulk) return replyError("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  const table = bytes < 0x8000_0000 ? zalloc(<usize>bytes) : 0;
  if (table == 0) return replyError("Insufficient memory, failed allocating transient memory for LCS");
  // LCS(i, j): the length of the LCS of a[0..i) and b[0..j).
  for (let i: u32 = 0; i <= alen; i++) {
    for (let j: u32 = 0; j <= blen; j++) {
      let v: u32 = 0;
      if (i > 0 && j > 0) {
        if (load<u8>(a + i - 1) == load<u8>(b + j - 1)) v = cell(table, cols, i - 1, j - 1) + 1;
        else v = max(cell(table, cols, i - 1, j), cell(table, cols, i, j - 1));
      }
      store<u32>(table + <usize>((<u64>i * cols + j) << 2), v);
    }
  }
  const total = cell(table, cols, alen, blen);
  if (getLen) {
    zfree(table);
    return replyInt(total);
  }
  // Walk back from the end: the string (built from its last byte), and the matching ranges.
  const result = total == 0 ? 0 : zalloc(total);
  if (total != 0 && result == 0) {
    zfree(table);
    return replyOom();
  }
  const ranges = new ByteBuf(); // per range: a start, a end, b start, b end (u32 each)
  let idx = total;
  let i = alen, j = blen;
  let aStart = alen, aEnd: u32 = 0, bStart: u32 = 0, bEnd: u32 = 0; // aStart == alen: no range open
  while (i > 0 && j > 0) {
    let emit = false;
    if (load<u8>(a + i - 1) == load<u8>(b + j - 1)) {
      store<u8>(result + idx - 1, load<u8>(a + i - 1));
      if (aStart == alen) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart == i && bStart == j) { // contiguous: the range grows backwards
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart == 0 || bStart == 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (cell(table, cols, i - 1, j) > cell(table, cols, i, j - 1)) i--;
      else j--;
      if (aStart != alen) emit = true;
    }
    if (emit) {
      if (minMatchLen == 0 || <i64>(aEnd - aStart + 1) >= minMatchLen) {
        ranges.putU32(aStart);
        ranges.putU32(aEnd);
        ranges.putU32(bStart);
        ranges.putU32(bEnd);
      }
      aStart = alen;
    }
  }
  zfree(table);
  if (ranges.failed) {
    ranges.free();
    zfree(result);
    return replyOom();
  }
  if (!getIdx) {
    replyBulk(result, total);
  } else {
    const n = ranges.len >> 4;
    replyMap(2);
    replyBulkText("matches");
    replyArray(n);
    for (let k: u32 = 0; k < n; k++) {
      const at = ranges.ptr + (<usize>k << 4);
      replyArray(withMatchLen ? 3 : 2);
      replyArray(2);
      replyInt(load<u32>(at));
      replyInt(load<u32>(at, 4));
      replyArray(2);
      replyInt(load<u32>(at, 8));
      replyInt(load<u32>(at, 12));
      if (withMatchLen) replyInt(load<u32>(at, 4) - load<u32>(at) + 1);
    }
    replyBulkText("len");
    replyInt(total);
  }
  ranges.free();
  zfree(result);
}

// @ts-ignore: decorator
@inline function cell(table: usize, cols: u64, i: u32, j: u32): u32 {
  return load<u32>(table + <usize>((<u64>i * cols + j) << 2));
}
