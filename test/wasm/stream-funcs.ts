// Test fixture: two guest functions, as WebAssembly text, that read or write n words from address
// a on, one word at a time: streams of misses in page order, which the MMU fills in runs and whose
// dirty victims it writes back in batches.
export const STREAM_FUNCS = `
  (func (export "sum") (param $a i32) (param $n i32) (result i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $a))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func (export "fillw") (param $a i32) (param $n i32) (param $v i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (i32.store (local.get $a) (local.get $v))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l))))`;
