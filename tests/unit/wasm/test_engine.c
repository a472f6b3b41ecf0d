/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the Wasm engine core: plain numeric calls, every trap as its own error followed by a
 * normal call on the same thread, fuel, memory and time limits. */
#include "unit/wasm/wasm_test.h"

#include <pthread.h>

static ipvm_wasm_engine_t *engine;
static ipvm_wasm_module_t *traps;

static void setup(void)
{
    engine = wt_engine(0, NULL);
    traps = wt_load_guest(engine, "traps");
}

static void teardown(void)
{
    ipvm_wasm_module_release(traps);
    ipvm_wasm_engine_free(engine);
}

/* Calls and checks the DAG-JSON of the result. */
static void expect(const char *func, const char *args, const char *want)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(wt_call(traps, func, args, NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), want);
    ipvm_arena_dispose(&a);
}

static void expect_err(const char *func, const char *args, const ipvm_wasm_limits_t *lim,
                       int code, const char *msg_part)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    int rc = wt_call(traps, func, args, lim, &a, &r, &err);
    IPVM_ASSERT_MSG(rc == code, "%s: got %s (%s), want %s", func, ipvm_err_name(rc), err.msg,
                    ipvm_err_name(code));
    if (msg_part)
        IPVM_ASSERT_STRCONTAINS(err.msg, msg_part);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(wasm, plain_calls)
{
    setup();
    expect("add", "[2, 3]", "5");
    expect("add", "[-7, 3]", "-4");
    expect("add64", "[9007199254740993, 1]", "9007199254740994");
    expect("mulf32", "[1.5, 2]", "3.0");
    expect("divf64", "[1, 4]", "0.25");
    expect("swap", "[1, 2]", "[2,1]");
    expect("nothing", "[]", "null");
    expect_err("add", "[1]", NULL, IPVM_EABI, "takes 2 arguments");
    expect_err("add", "[\"x\", 1]", NULL, IPVM_EABI, "argument 0");
    expect_err("add", "[4294967296, 1]", NULL, IPVM_EABI, "out of range");
    expect_err("missing", "[]", NULL, IPVM_ENOFUNC, "exports: add");
    teardown();
}

IPVM_TEST(wasm, traps_are_distinct)
{
    setup();
    static const struct {
        const char *func, *args;
        int code;
    } cases[] = {
        {"oob", "[]", IPVM_ETRAP_OOB},
        {"oob_far", "[]", IPVM_ETRAP_OOB},
        {"unreachable", "[]", IPVM_ETRAP_UNREACHABLE},
        {"div0", "[0]", IPVM_ETRAP_DIVZERO},
        {"overflow", "[]", IPVM_ETRAP_OVERFLOW},
        {"conversion", "[]", IPVM_ETRAP_CONVERSION},
        {"indirect_null", "[]", IPVM_ETRAP_INDIRECT},
        {"indirect_type", "[]", IPVM_ETRAP_INDIRECT},
        {"recurse", "[0]", IPVM_ETRAP_STACK},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        expect_err(cases[k].func, cases[k].args, NULL, cases[k].code, NULL);
        expect("add", "[40, 2]", "42"); /* the thread goes on */
    }
    expect("div0", "[1]", "1");
    teardown();
}
