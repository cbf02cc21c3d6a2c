// Sorts u32s in place in unmanaged memory: heapsort (Williams 1964, Floyd's construction), O(n log n)
// with no recursion and no second buffer, so sorting a snapshot's million record addresses costs no
// memory beyond them.

// @ts-ignore: decorator
@inline function get(a: usize, i: u32): u32 {
  return load<u32>(a + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function put(a: usize, i: u32, v: u32): void {
  store<u32>(a + (<usize>i << 2), v);
}

/** Moves the value at `i` down the heap of the first `n` values until its children are smaller. */
function siftDown(a: usize, i: u32, n: u32): void {
  const v = get(a, i);
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= n) break;
    let cv = get(a, child);
    if (child + 1 < n) {
      const right = get(a, child + 1);
      if (right > cv) {
        child++;
        cv = right;
      }
    }
    if (cv <= v) break;
    put(a, i, cv);
    i = child;
  }
  put(a, i, v);
}

/** Sorts the `n` u32s at `a` ascending. */
export function sortU32(a: usize, n: u32): void {
  if (n < 2) return;
  for (let i = n >> 1; i > 0; i--) siftDown(a, i - 1, n);
  for (let end = n - 1; end > 0; end--) {
    const top = get(a, 0);
    put(a, 0, get(a, end));
    put(a, end, top);
    siftDown(a, 0, end);
  }
}
