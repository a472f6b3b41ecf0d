;; SPDX-License-Identifier: Apache-2.0
;; Guest for the engine's call, trap and limit tests: one export per behaviour.
(module
  (type $v_i (func (result i32)))
  (type $ii_i (func (param i32 i32) (result i32)))
  (memory (export "memory") 1 100)
  (table 2 funcref)
  (elem (i32.const 0) $seven)
  (func $seven (type $v_i) i32.const 7)
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "add64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)
  (func (export "mulf32") (param f32 f32) (result f32) local.get 0 local.get 1 f32.mul)
  (func (export "divf64") (param f64 f64) (result f64) local.get 0 local.get 1 f64.div)
  (func (export "swap") (param i32 i64) (result i64 i32) local.get 1 local.get 0)
  (func (export "nothing"))
  ;; traps
  (func (export "oob") (result i32) i32.const 0x7ffffff0 i32.load)
  (func (export "oob_far") (result i32) i32.const -1 i32.load offset=0xfffffff0)
  (func (export "unreachable") unreachable)
  (func (export "div0") (param i32) (result i32) i32.const 1 local.get 0 i32.div_s)
  (func (export "overflow") (result i32) i32.const 0x80000000 i32.const -1 i32.div_s)
  (func (export "conversion") (result i32) f32.const nan i32.trunc_f32_s)
  (func (export "indirect_null") (result i32) i32.const 1 call_indirect (type $v_i))
  (func (export "indirect_type") (result i32) i32.const 1 i32.const 2 i32.const 0
    call_indirect (type $ii_i))
  ;; unbounded recursion that needs a frame per call (the store after the call keeps gcc from
  ;; turning it into a loop)
  (func $recurse (export "recurse") (param i32) (result i32) (local $r i32)
    local.get 0 i32.const 1 i32.add call $recurse local.set $r
    local.get 0 i32.const 4092 i32.and local.get $r i32.store
    local.get $r local.get 0 i32.xor)
  (func (export "spin") (loop $l (br $l)))
  ;; endless loops whose time goes partly to a call: of a guest function, of the runtime
  (func (export "spin_call") (loop $l call $seven drop br $l))
  (func (export "spin_grow") (loop $l i32.const 0 memory.grow drop br $l))
  ;; counts to n: n loop iterations
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (block $done (loop $l
      local.get $i local.get $n i32.ge_u br_if $done
      local.get $i i32.const 1 i32.add local.set $i
      br $l))
    local.get $i)
  ;; n loop iterations, then a trap: the fuel used up to a trap is the same on every tier
  (func $spend (param $n i32) (local $i i32)
    (block $done (loop $l
      local.get $i local.get $n i32.ge_u br_if $done
      local.get $i i32.const 1 i32.add local.set $i
      br $l)))
  (func (export "count_then_oob") (param i32) (result i32) local.get 0 call $spend i32.const -16 i32.load)
  (func (export "count_then_div0") (param i32) (result i32) local.get 0 call $spend i32.const 1 i32.const 0 i32.div_u)
  ;; fib(n), recursive
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32) local.get 0
    else local.get 0 i32.const 1 i32.sub call $fib local.get 0 i32.const 2 i32.sub call $fib i32.add
    end)
  ;; grows by n pages, returns the old size or -1
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "pages") (result i32) memory.size)
  ;; grows one page at a time until refused, then traps like an allocator giving up
  (func (export "bomb") (loop $l i32.const 1 memory.grow i32.const -1 i32.ne br_if $l) unreachable)
  ;; byte access anywhere
  (func (export "peek") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "poke") (param i32 i32) local.get 0 local.get 1 i32.store8)
  ;; writes and reads back at the last byte of the current memory
  (func (export "poke_last") (result i32)
    memory.size i32.const 16 i32.shl i32.const 1 i32.sub i32.const 42 i32.store8
    memory.size i32.const 16 i32.shl i32.const 1 i32.sub i32.load8_u)
)
