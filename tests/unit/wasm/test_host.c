/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the host functions: wasi:logging, homestar:host/helpers, the WASI preview 1 subset,
 * bad guest pointers, and imports ipvm cannot satisfy. */
#include "unit/wasm/wasm_test.h"

#include <stdlib.h>
#include <time.h>

static ipvm_wasm_engine_t *engine;
static ipvm_wasm_module_t *mod;

static void setup(void)
{
    engine = wt_engine(0, NULL);
    mod = wt_load_guest(engine, "host");
}

static void teardown(void)
{
    ipvm_wasm_module_release(mod);
    ipvm_wasm_engine_free(engine);
}

/* Calls and returns the rc; the result's JSON and the log go into the buffers. */
static int run(const char *func, const char *args, char *json, size_t jn, char *log, size_t ln,
               ipvm_error_t *err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    int rc = wt_call(mod, func, args, NULL, &a, &r, err);
    snprintf(json, jn, "%s", rc == 0 ? wt_json(r.value) : "");
    snprintf(log, ln, "%s", r.log);
    IPVM_ASSERT_EQ(strlen(r.log), r.log_len);
    ipvm_arena_dispose(&a);
    return rc;
}

#define RUN_OK(func, args)                                                                      \
    IPVM_ASSERT_OK_ERR(run(func, args, out, sizeof out, log, sizeof log, &err), &err)

IPVM_TEST(wasm, host_logging_and_helpers)
{
    setup();
    char out[128], log[512];
    ipvm_error_t err;
    RUN_OK("log", "[2]");
    IPVM_ASSERT_STREQ(log, "[info] run-fn: hello from the guest\n");
    RUN_OK("log", "[5]");
    IPVM_ASSERT_STREQ(log, "[critical] run-fn: hello from the guest\n");
    IPVM_ASSERT_ERR(run("log", "[6]", out, sizeof out, log, sizeof log, &err), IPVM_ETRAP);
    IPVM_ASSERT_STRCONTAINS(err.msg, "invalid level 6");
    IPVM_ASSERT_ERR(run("log_bad", "[]", out, sizeof out, log, sizeof log, &err), IPVM_ETRAP);
    IPVM_ASSERT_STRCONTAINS(err.msg, "out of bounds");
    RUN_OK("print", "[]");
    IPVM_ASSERT_STREQ(log, "printed\n");
    /* get-current-time counts from the instance's creation: well under a second here */
    RUN_OK("time", "[]");
    IPVM_ASSERT_LT(atof(out), 1000);
    IPVM_ASSERT(atof(out) >= 0);
    RUN_OK("time_nanos_ok", "[]");
    IPVM_ASSERT_STREQ(out, "1");
    IPVM_ASSERT_ERR(run("time_bad", "[]", out, sizeof out, log, sizeof log, &err), IPVM_ETRAP);
    IPVM_ASSERT_STRCONTAINS(err.msg, "get-current-time");
    teardown();
}

IPVM_TEST(wasm, host_wasi)
{
    setup();
    char out[128], log[512];
    ipvm_error_t err;
    RUN_OK("write", "[1]");
    IPVM_ASSERT_STREQ(out, "21"); /* errno 0, 21 bytes */
    IPVM_ASSERT_STREQ(log, "hello from the guest\n");
    RUN_OK("write", "[2]");
    IPVM_ASSERT_STREQ(out, "21");
    RUN_OK("write", "[7]");
    IPVM_ASSERT_STREQ(out, "8000"); /* EBADF, nothing written */
    IPVM_ASSERT_STREQ(log, "");
    RUN_OK("write_bad", "[]");
    IPVM_ASSERT_STREQ(out, "21"); /* EFAULT */
    /* realtime clock in ms against ours */
    RUN_OK("clock", "[0]");
    double guest_ms = atof(out), host_ms = (double)ipvm_wall_ms();
    IPVM_ASSERT_MSG(guest_ms > host_ms - 5000 && guest_ms <= host_ms + 1, "%f vs %f", guest_ms,
                    host_ms);
    RUN_OK("clock", "[9]");
    IPVM_ASSERT_STREQ(out, "-28"); /* EINVAL */
    RUN_OK("random", "[]");
    IPVM_ASSERT_LT(atoi(out), 4); /* zero bytes among 32 random ones */
    IPVM_ASSERT(atoi(out) >= 0);
    RUN_OK("random_bad", "[]");
    IPVM_ASSERT_STREQ(out, "21");
    RUN_OK("args", "[]");
    IPVM_ASSERT_STREQ(out, "0");
    RUN_OK("prestat", "[]");
    IPVM_ASSERT_STREQ(out, "8"); /* no preopens: EBADF ends wasi-libc's scan */
    RUN_OK("enosys", "[]");
    IPVM_ASSERT_STREQ(out, "52");
    IPVM_ASSERT_ERR(run("exit", "[3]", out, sizeof out, log, sizeof log, &err), IPVM_ETRAP_EXIT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "proc_exit(3)");
    RUN_OK("write", "[1]"); /* and the thread goes on */
    teardown();
}

static void expect_link_error(const char *wat, const char *msg_part)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat(wat, &w);
    ipvm_wasm_module_t *m = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_wasm_module_load(engine, w.data, w.len, &m, &err), IPVM_ELINK);
    IPVM_ASSERT(m == NULL);
    IPVM_ASSERT_STRCONTAINS(err.msg, msg_part);
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, host_link_errors)
{
    setup();
    expect_link_error("(module (import \"env\" \"foo\" (func)))", "import env.foo");
    expect_link_error("(module (import \"wasi_snapshot_preview1\" \"fd_write\" (func (param i32))))",
                      "signature (iiii:i)");
    expect_link_error("(module (import \"wasi:logging/logging\" \"nope\" (func)))",
                      "no such function");
    expect_link_error("(module (import \"env\" \"memory\" (memory 1)))", "is a memory");
    expect_link_error("(module (import \"env\" \"g\" (global i32)))", "is a global");
    expect_link_error("(module (import \"env\" \"t\" (table 1 funcref)))", "is a table");
    /* WASI functions ipvm lacks answer ENOSYS rather than failing the load */
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat("(module (import \"wasi_snapshot_preview1\" \"sock_accept\" (func $a (param i32 i32 i32)"
           " (result i32))) (func (export \"f\") (result i32) i32.const 0 i32.const 0 i32.const 0"
           " call $a))",
           &w);
    ipvm_wasm_module_t *m = wt_load(engine, &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(wt_call(m, "f", "[]", NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), "52");
    ipvm_arena_dispose(&a);
    ipvm_wasm_module_release(m);
    ipvm_buf_dispose(&w);
    teardown();
}
