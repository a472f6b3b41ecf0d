/* SPDX-License-Identifier: Apache-2.0 */
/* The fuel counting rule (core_int.h, IPVM__WASM_FN_CALLS_OUT): one unit per pass through a
 * loop header, one per entry of a function that calls outside its loops, nothing for calls
 * made inside a loop or for leaves; the same on the tcc and the gcc tier. The expected counts
 * come from a model of the rule run over the same algorithm in C. */
#include "unit/wasm/wasm_test.h"

static const char *const wat =
    "(module\n"
    "  (func $inner (param i32) (result i32) local.get 0 i32.const 3 i32.mul)\n"
    "  ;; n calls of $inner, all inside a loop: n + 1 loop passes, no entry tick\n"
    "  (func (export \"loopcall\") (param $n i32) (result i32) (local $i i32) (local $s i32)\n"
    "    (block $d (loop $l\n"
    "      local.get $i local.get $n i32.ge_u br_if $d\n"
    "      local.get $s local.get $i call $inner i32.add local.set $s\n"
    "      local.get $i i32.const 1 i32.add local.set $i br $l))\n"
    "    local.get $s)\n"
    "  ;; one call outside a loop: one entry tick\n"
    "  (func (export \"outcall\") (param i32) (result i32) local.get 0 call $inner)\n"
    "  ;; fib as clang -O2 writes it: the recursion sits in a loop\n"
    "  (func $fibl (export \"fibl\") (param $n i32) (result i32) (local $acc i32)\n"
    "    (block $b\n"
    "      local.get $n i32.const 2 i32.lt_u br_if $b\n"
    "      (loop $l\n"
    "        local.get $n i32.const -1 i32.add call $fibl local.get $acc i32.add local.set $acc\n"
    "        local.get $n i32.const -2 i32.add local.tee $n i32.const 1 i32.gt_u br_if $l))\n"
    "    local.get $n local.get $acc i32.add))\n";

/* The model: fibl's value, and the fuel it uses by the rule (one unit per loop pass). */
static uint32_t model_fibl(uint32_t n, uint64_t *fuel)
{
    uint32_t acc = 0;
    if (n < 2)
        return n;
    do {
        ++*fuel; /* a pass through the loop header */
        acc += model_fibl(n - 1, fuel);
        n -= 2;
    } while (n > 1);
    return n + acc;
}

static void expect(ipvm_wasm_module_t *m, const char *func, const char *args, const char *want,
                   uint64_t fuel)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(wt_call(m, func, args, NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), want);
    IPVM_ASSERT_EQ_U64(r.fuel_used, fuel);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(wasm, fuel_counting_rule)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat(wat, &w);
    uint64_t fib_fuel = 0;
    uint32_t fib = model_fibl(20, &fib_fuel);
    char want[32];
    snprintf(want, sizeof want, "%u", fib);
    IPVM_ASSERT_EQ(fib, 6765);
    for (int tier = 0; tier < 2; tier++) {
        ipvm_wasm_engine_t *e = tier ? wt_engine(2, wt_shared_cache()) : wt_engine(0, NULL);
        ipvm_wasm_module_t *m = wt_load(e, &w);
        expect(m, "loopcall", "[10]", "135", 11);
        expect(m, "loopcall", "[0]", "0", 1);
        expect(m, "outcall", "[7]", "21", 1);
        expect(m, "fibl", "[20]", want, fib_fuel);
        expect(m, "fibl", "[1]", "1", 0);
        ipvm_wasm_module_release(m);
        ipvm_wasm_engine_free(e);
    }
    ipvm_buf_dispose(&w);
}
