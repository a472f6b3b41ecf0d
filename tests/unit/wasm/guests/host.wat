;; SPDX-License-Identifier: Apache-2.0
;; Guest for the host-function tests: imports wasi:logging, homestar:host/helpers and a WASI
;; preview 1 subset, with one export per behaviour (results are errnos or values read back).
(module
  (import "wasi:logging/logging" "log" (func $log (param i32 i32 i32 i32 i32)))
  (import "homestar:host/helpers@0.1.1" "get-current-time" (func $time (param i32)))
  (import "homestar:host/helpers@0.1.1" "print" (func $print (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "run-fn")
  (data (i32.const 32) "hello from the guest\n")
  (data (i32.const 64) "printed")
  ;; iovec at 256: {32, 21}
  (data (i32.const 256) "\20\00\00\00\15\00\00\00")
  (func (export "log") (param $level i32)
    local.get $level i32.const 16 i32.const 6 i32.const 32 i32.const 20 call $log)
  (func (export "log_bad") i32.const 2 i32.const 16 i32.const 6 i32.const 65530 i32.const 100 call $log)
  (func (export "print") i32.const 64 i32.const 7 call $print)
  ;; get-current-time into 512: returns seconds * 1000 + milliseconds (small: just created)
  (func (export "time") (result i64)
    i32.const 512 call $time
    i32.const 512 i64.load i64.const 1000 i64.mul i32.const 520 i64.load32_u i64.add)
  (func (export "time_nanos_ok") (result i32)
    ;; nanoseconds / 1e6 == milliseconds
    i32.const 512 call $time
    i32.const 524 i32.load i32.const 1000000 i32.div_u i32.const 520 i32.load i32.eq)
  (func (export "time_bad") i32.const 65530 call $time)
  ;; fd_write(fd, iovs=256, 1, nwritten=300) -> errno * 1000 + nwritten
  (func (export "write") (param $fd i32) (result i32)
    local.get $fd i32.const 256 i32.const 1 i32.const 300 call $fd_write
    i32.const 1000 i32.mul i32.const 300 i32.load i32.add)
  (func (export "write_bad") (result i32) i32.const 1 i32.const 65535 i32.const 2 i32.const 300 call $fd_write)
  ;; realtime clock in ms (errno in the high bits if any)
  (func (export "clock") (param $id i32) (result i64) (local $e i32)
    local.get $id i64.const 1 i32.const 600 call $clock local.set $e
    local.get $e if (result i64) local.get $e i64.extend_i32_u i64.const -1 i64.mul
    else i32.const 600 i64.load i64.const 1000000 i64.div_u end)
  ;; random_get(700, 32): errno, then the count of zero bytes (about 0 for 32 random bytes)
  (func (export "random") (result i32) (local $i i32) (local $z i32)
    i32.const 700 i32.const 32 call $random
    if (result i32) i32.const -1 else
    (block $d (loop $l local.get $i i32.const 32 i32.eq br_if $d
      local.get $z i32.const 700 local.get $i i32.add i32.load8_u i32.eqz i32.add local.set $z
      local.get $i i32.const 1 i32.add local.set $i br $l))
    local.get $z end)
  (func (export "random_bad") (result i32) i32.const 65000 i32.const 1000 call $random)
  ;; args and environ are empty: errno*100 + argc*10 + bufsize (expects 0)
  (func (export "args") (result i32)
    i32.const 800 i32.const 804 call $args_sizes i32.const 100 i32.mul
    i32.const 800 i32.load i32.const 10 i32.mul i32.add i32.const 804 i32.load i32.add
    i32.const 808 i32.const 812 call $env_sizes i32.const 100 i32.mul i32.add
    i32.const 808 i32.load i32.const 10 i32.mul i32.add i32.const 812 i32.load i32.add)
  (func (export "prestat") (result i32) i32.const 3 i32.const 900 call $prestat)
  (func (export "enosys") (result i32)
    i32.const 3 i32.const 0 i32.const 0 i32.const 0 i32.const 0 i64.const 0 i64.const 0
    i32.const 0 i32.const 0 call $path_open)
  (func (export "exit") (param i32) local.get 0 call $exit unreachable)
)
