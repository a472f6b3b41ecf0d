/* SPDX-License-Identifier: Apache-2.0 */
/* A reactor module's `_initialize` runs once per instance, before any other export. */
#include "unit/wasm/wasm_test.h"
#include "wasm/wasm_int.h"

#include "test.h"

/* _initialize adds 40 to a counter that starts at 1; `get` returns it and adds 1 more. */
static const char reactor_wat[] =
    "(module (global $g (mut i32) (i32.const 1))\n"
    "  (func (export \"_initialize\") global.get $g i32.const 40 i32.add global.set $g)\n"
    "  (func (export \"get\") (result i32) global.get $g global.get $g i32.const 1 i32.add"
    " global.set $g))\n";

IPVM_TEST(wasm, reactor_initialize_runs_first)
{
    ipvm_buf_t w;
    ipvm_buf_init(&w);
    wt_wat(reactor_wat, &w);
    ipvm_wasm_engine_t *e = wt_engine(0, NULL);
    ipvm_wasm_module_t *m = wt_load(e, &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    /* every call is a fresh instance: initialised once each, so always 41 */
    for (int k = 0; k < 2; k++) {
        IPVM_ASSERT_OK_ERR(wt_call(m, "get", "[]", NULL, &a, &r, &err), &err);
        IPVM_ASSERT_STREQ(wt_json(r.value), "41");
    }
    /* one instance, two calls: _initialize is not run again */
    long get = ipvm__wasm_abi_resolve(m, "get");
    IPVM_ASSERT(get >= 0);
    ipvm__wasm_instance_t *i = NULL;
    IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(m, NULL, &i, &err), &err);
    uint64_t res[1] = {0};
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)get, NULL, res, &err), &err);
    IPVM_ASSERT_EQ_U64(res[0], 41);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)get, NULL, res, &err), &err);
    IPVM_ASSERT_EQ_U64(res[0], 42);
    ipvm__wasm_instance_free(i);
    ipvm_arena_dispose(&a);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    ipvm_buf_dispose(&w);
}
