// Non-negative big integers for exact decimal <-> binary conversions (float-text.ts, long-double.ts):
// u32 limbs, least significant first, in a fixed capacity the caller sizes for its worst case.

/** A non-negative big integer: u32 limbs, least significant first, for exact decimal <-> binary work. */
export class Big {
  limbs: StaticArray<u32>;
  len: i32 = 0;
  constructor(capacity: i32) {
    this.limbs = new StaticArray<u32>(capacity);
  }

  set(v: u64): void {
    this.len = 0;
    if (v != 0) unchecked((this.limbs[this.len++] = <u32>v));
    if ((v >> 32) != 0) unchecked((this.limbs[this.len++] = <u32>(v >> 32)));
  }

  /** this = this * f + add */
  mulAdd(f: u32, add: u32): void {
    let carry: u64 = add;
    const l = this.limbs;
    for (let i = 0; i < this.len; i++) {
      const t = <u64>unchecked(l[i]) * f + carry;
      unchecked((l[i] = <u32>t));
      carry = t >> 32;
    }
    if (carry != 0) unchecked((l[this.len++] = <u32>carry));
  }

  mulPow5(k: i32): void {
    for (; k > 0; k -= 13) this.mulAdd(pow5(min(13, k)), 0);
  }

  shiftLeft(bits: i32): void {
    if (this.len == 0 || bits == 0) return;
    const words = bits >> 5, rest = bits & 31;
    const l = this.limbs;
    if (rest != 0) {
      unchecked((l[this.len] = 0));
      for (let i = this.len; i > 0; i--) unchecked((l[i] = (l[i] << rest) | (l[i - 1] >>> (32 - rest))));
      unchecked((l[0] = l[0] << rest));
      if (unchecked(l[this.len]) != 0) this.len++;
    }
    if (words != 0) {
      for (let i = this.len - 1; i >= 0; i--) unchecked((l[i + words] = l[i]));
      for (let i = 0; i < words; i++) unchecked((l[i] = 0));
      this.len += words;
    }
  }

  /** Divides by 10^9 in place; returns the remainder. */
  divBillion(): u32 {
    let rem: u64 = 0;
    const l = this.limbs;
    for (let i = this.len - 1; i >= 0; i--) {
      const cur = (rem << 32) | unchecked(l[i]);
      unchecked((l[i] = <u32>(cur / 1_000_000_000)));
      rem = cur % 1_000_000_000;
    }
    while (this.len > 0 && unchecked(l[this.len - 1]) == 0) this.len--;
    return <u32>rem;
  }

  compare(o: Big): i32 {
    return this.compareShifted(o, 0);
  }

  isZero(): bool {
    return this.len == 0;
  }

  copyFrom(o: Big): void {
    for (let i = 0; i < o.len; i++) unchecked((this.limbs[i] = o.limbs[i]));
    this.len = o.len;
  }

  /** this -= o (o <= this). */
  sub(o: Big): void {
    this.subShifted(o, 0);
  }

  /** this += o. */
  add(o: Big): void {
    const l = this.limbs;
    const n = max(this.len, o.len);
    let carry: u64 = 0;
    for (let i = 0; i < n; i++) {
      const t = (i < this.len ? <u64>unchecked(l[i]) : 0) + (i < o.len ? <u64>unchecked(o.limbs[i]) : 0) + carry;
      unchecked((l[i] = <u32>t));
      carry = t >> 32;
    }
    this.len = n;
    if (carry != 0) unchecked((l[this.len++] = <u32>carry));
  }

  /** The limb `i` of `o` << (32 * words + bits), bits < 32. */
  // @ts-ignore: decorator
  @inline private static shiftedLimb(o: Big, i: i32, words: i32, bits: i32): u32 {
    const j = i - words;
    const lo = j >= 0 && j < o.len ? unchecked(o.limbs[j]) : 0;
    if (bits == 0) return lo;
    const below = j - 1 >= 0 && j - 1 < o.len ? unchecked(o.limbs[j - 1]) : 0;
    return (lo << bits) | (below >>> (32 - bits));
  }

  /** Compares this with o << shift, o left as it is. */
  compareShifted(o: Big, shift: i32): i32 {
    const words = shift >> 5, bits = shift & 31;
    const n = max(this.len, o.len + words + 1);
    for (let i = n - 1; i >= 0; i--) {
      const x = i < this.len ? unchecked(this.limbs[i]) : 0;
      const y = Big.shiftedLimb(o, i, words, bits);
      if (x != y) return x < y ? -1 : 1;
    }
    return 0;
  }

  /** this -= o << shift (which must not exceed this), o left as it is. */
  subShifted(o: Big, shift: i32): void {
    const words = shift >> 5, bits = shift & 31;
    let borrow: i64 = 0;
    const l = this.limbs;
    for (let i = words; i < this.len; i++) {
      let t = <i64>unchecked(l[i]) - borrow - <i64>Big.shiftedLimb(o, i, words, bits);
      borrow = 0;
      if (t < 0) {
        t += 0x1_0000_0000;
        borrow = 1;
      }
      unchecked((l[i] = <u32>t));
    }
    while (this.len > 0 && unchecked(l[this.len - 1]) == 0) this.len--;
  }

  bitLength(): i32 {
    if (this.len == 0) return 0;
    return (this.len << 5) - <i32>clz(unchecked(this.limbs[this.len - 1]));
  }

  testBit(i: i32): bool {
    const w = i >> 5;
    return w < this.len && ((unchecked(this.limbs[w]) >>> (i & 31)) & 1) != 0;
  }

  /** Is any bit below bit `i` set? */
  anyBelow(i: i32): bool {
    const w = min(i >> 5, this.len);
    for (let k = 0; k < w; k++) if (unchecked(this.limbs[k]) != 0) return true;
    return w < this.len && (i & 31) != 0 && (unchecked(this.limbs[w]) & ((1 << (i & 31)) - 1)) != 0;
  }

  /** Bits [from, from + 64) as a u64. */
  bits64(from: i32): u64 {
    let v: u64 = 0;
    for (let k = 63; k >= 0; k--) v = (v << 1) | (this.testBit(from + k) ? 1 : 0);
    return v;
  }

  shiftRight(bits: i32): void {
    const words = bits >> 5, rest = bits & 31;
    const l = this.limbs;
    if (words >= this.len) {
      this.len = 0;
      return;
    }
    for (let i = 0; i < this.len - words; i++) {
      const lo = unchecked(l[i + words]) >>> rest;
      const hi = rest != 0 && i + words + 1 < this.len ? unchecked(l[i + words + 1]) << (32 - rest) : 0;
      unchecked((l[i] = lo | hi));
    }
    this.len -= words;
    while (this.len > 0 && unchecked(l[this.len - 1]) == 0) this.len--;
  }
}

function pow5(k: i32): u32 {
  let r: u32 = 1;
  for (let i = 0; i < k; i++) r *= 5;
  return r;
}
