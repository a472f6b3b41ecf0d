/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the tiers and the disk cache: a second engine on the same cache compiles nothing,
 * gcc and tcc code give the same results and the same fuel, the background compile switches a
 * module to gcc, concurrent loads compile once, and a .so whose stamp does not match (bounds
 * mode, another module) is refused and replaced. These run gcc on a small guest only. */
#include "unit/wasm/wasm_test.h"
#include "wasm/core_int.h"
#include "wasm/engine_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct counts_s {
    unsigned long wasm2c, tcc, gcc, hits;
} counts_t;

static counts_t counts(void)
{
    return (counts_t){atomic_load(&ipvm__wasm_stats.wasm2c), atomic_load(&ipvm__wasm_stats.tcc),
                      atomic_load(&ipvm__wasm_stats.gcc),
                      atomic_load(&ipvm__wasm_stats.cache_hits)};
}

static const char *describe(ipvm_wasm_module_t *m, const char *key, ipvm_arena_t *a)
{
    ipvm_ipld_t *d = NULL;
    IPVM_ASSERT_OK(ipvm_wasm_module_describe(m, a, &d));
    const ipvm_ipld_t *v = ipvm_ipld_map_get(d, key);
    IPVM_ASSERT(v != NULL);
    if (v->kind == IPVM_IPLD_STRING)
        return v->u.str.ptr;
    return v->kind == IPVM_IPLD_BOOL ? (v->u.boolean ? "true" : "false") : "?";
}

static void call_expect(ipvm_wasm_module_t *m, const char *func, const char *args,
                        const char *want, uint64_t fuel)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(wt_call(m, func, args, NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), want);
    if (fuel != UINT64_MAX)
        IPVM_ASSERT_EQ_U64(r.fuel_used, fuel);
    ipvm_arena_dispose(&a);
}

static void call_trap_fuel(ipvm_wasm_module_t *m, const char *func, const char *args, int code,
                           uint64_t limit, uint64_t fuel)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_wasm_limits_t lim = {limit, 0, 0};
    IPVM_ASSERT_ERR(wt_call(m, func, args, &lim, &a, &r, &err), code);
    if (fuel != UINT64_MAX)
        IPVM_ASSERT_EQ_U64(r.fuel_used, fuel);
    ipvm_arena_dispose(&a);
}

static void call_trap(ipvm_wasm_module_t *m, const char *func, const char *args, int code)
{
    call_trap_fuel(m, func, args, code, 0, UINT64_MAX);
}

/* What every tier must agree on, fuel included. */
static void check_guest(ipvm_wasm_module_t *m)
{
    call_expect(m, "add", "[2, 3]", "5", 0);
    call_expect(m, "count", "[1000]", "1000", 1001);
    call_expect(m, "fib", "[15]", "610", 2 * 987 - 1);
    call_expect(m, "divf64", "[1, 3]", "0.3333333333333333", 0);
    call_expect(m, "mulf32", "[0.1, 3]", "0.30000001192092896", 0);
    call_trap(m, "oob", "[]", IPVM_ETRAP_OOB);
    call_trap(m, "div0", "[0]", IPVM_ETRAP_DIVZERO);
    call_trap(m, "recurse", "[0]", IPVM_ETRAP_STACK);
    call_trap(m, "indirect_type", "[]", IPVM_ETRAP_INDIRECT);
    /* the fuel used up to a trap, whichever way the trap leaves guest code */
    call_trap_fuel(m, "count", "[5000]", IPVM_ETRAP_FUEL, 1000, 1000);
    call_trap_fuel(m, "count_then_oob", "[300]", IPVM_ETRAP_OOB, 0, 302);
    call_trap_fuel(m, "count_then_div0", "[300]", IPVM_ETRAP_DIVZERO, 0, 302);
    call_expect(m, "add", "[40, 2]", "42", 0);
}

IPVM_TEST(wasm, cache_second_engine_compiles_nothing)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/cache", ipvm_test_tmpdir());
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest("traps", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);

    counts_t c0 = counts();
    ipvm_wasm_engine_t *e = wt_engine(2, dir); /* wait for gcc */
    ipvm_wasm_module_t *m = wt_load(e, &w);
    counts_t c1 = counts();
    IPVM_ASSERT_EQ(c1.wasm2c - c0.wasm2c, 1);
    IPVM_ASSERT_EQ(c1.gcc - c0.gcc, 1);
    IPVM_ASSERT_EQ(c1.tcc - c0.tcc, 0);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "gcc");
    IPVM_ASSERT_STREQ(describe(m, "cached", &a), "true");
    char so[4300];
    snprintf(so, sizeof so, "%s/%s.so", dir, describe(m, "cache_key", &a));
    IPVM_ASSERT_MSG(access(so, R_OK) == 0, "%s is missing", so);
    check_guest(m);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);

    /* a new engine (as a new process would) finds the .so: no wasm2c, no compiler */
    e = wt_engine(1, dir);
    m = wt_load(e, &w);
    counts_t c2 = counts();
    IPVM_ASSERT_EQ(c2.wasm2c - c1.wasm2c, 0);
    IPVM_ASSERT_EQ(c2.tcc - c1.tcc, 0);
    IPVM_ASSERT_EQ(c2.gcc - c1.gcc, 0);
    IPVM_ASSERT_EQ(c2.hits - c1.hits, 1);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "gcc");
    check_guest(m);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, tiers_agree_and_switch)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest("traps", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* tcc only */
    ipvm_wasm_engine_t *e = wt_engine(0, NULL);
    ipvm_wasm_module_t *m = wt_load(e, &w);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "tcc");
    check_guest(m);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    /* tcc at once, then gcc in the background; instances made after it use gcc */
    e = wt_engine(1, NULL);
    m = wt_load(e, &w);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "tcc");
    ipvm__wasm_instance_t *before;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(m, NULL, &before, &err), &err);
    check_guest(m);
    ipvm__engine_wait_jobs(e);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "gcc");
    IPVM_ASSERT_STREQ(describe(m, "cached", &a), "false"); /* no cache dir: nothing kept */
    check_guest(m);
    /* the instance made on tcc code keeps working on it */
    long add = ipvm__wasm_export_find(m, "add", 3);
    uint64_t args[2] = {20, 22}, r[1];
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(before, (uint32_t)add, args, r, &err), &err);
    IPVM_ASSERT_EQ(r[0], 42);
    IPVM_ASSERT(!before->code->gcc);
    ipvm__wasm_instance_free(before);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

typedef struct loader_s {
    ipvm_wasm_engine_t *e;
    const ipvm_buf_t *w;
    ipvm_wasm_module_t *m;
    int rc;
} loader_t;

/* Loads the module and calls f: the load compiles nothing with tcc, the first call does. */
static void *load_thread(void *arg)
{
    loader_t *l = arg;
    l->rc = ipvm_wasm_module_load(l->e, l->w->data, l->w->len, &l->m, NULL);
    if (l->rc == 0) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_wasm_result_t r;
        l->rc = ipvm_wasm_call(l->m, "f", NULL, NULL, &a, &r, NULL);
        if (l->rc == 0 && !(r.value->kind == IPVM_IPLD_INT && r.value->u.integer.mag == 99))
            l->rc = -1;
        ipvm_arena_dispose(&a);
    }
    return NULL;
}

IPVM_TEST(wasm, concurrent_loads_compile_once)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat("(module (func (export \"f\") (result i32) i32.const 99))", &w);
    ipvm_wasm_engine_t *e = wt_engine(0, NULL);
    enum { N = 6 };
    pthread_t t[N];
    loader_t l[N];
    counts_t c0 = counts();
    for (int k = 0; k < N; k++) {
        l[k] = (loader_t){e, &w, NULL, -1};
        IPVM_ASSERT(pthread_create(&t[k], NULL, load_thread, &l[k]) == 0);
    }
    for (int k = 0; k < N; k++) {
        pthread_join(t[k], NULL);
        IPVM_ASSERT_OK(l[k].rc);
        IPVM_ASSERT(l[k].m == l[0].m);
    }
    counts_t c1 = counts();
    IPVM_ASSERT_EQ(c1.wasm2c - c0.wasm2c, 1);
    IPVM_ASSERT_EQ(c1.tcc - c0.tcc, 1);
    call_expect(l[0].m, "f", "[]", "99", 0);
    for (int k = 0; k < N; k++)
        ipvm_wasm_module_release(l[k].m);
    /* and a later load is a table hit, and a later call reuses the code */
    ipvm_wasm_module_t *m = wt_load(e, &w);
    IPVM_ASSERT(m == l[0].m);
    call_expect(m, "f", "[]", "99", 0);
    IPVM_ASSERT_EQ(counts().tcc, c1.tcc);
    IPVM_ASSERT_EQ(counts().wasm2c, c1.wasm2c);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    ipvm_buf_dispose(&w);
}

/* Compiles the module's C for `key` with gcc and extra flags into path, as a foreign or stale
 * build would. */
static void build_so(const ipvm_buf_t *w, const char *key, const char *flags, const char *path)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_parse(w->data, w->len, &a, &in, &err), &err);
    ipvm_buf_t c = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(ipvm__wasm_translate(&in, NULL, key, &c, &err), &err);
    char src[4300];
    snprintf(src, sizeof src, "%s/stale.c", ipvm_test_tmpdir());
    FILE *f = fopen(src, "w");
    IPVM_ASSERT(f != NULL);
    fputs(ipvm__wasm_prelude(IPVM__FUEL_TLS), f);
    fwrite(c.data, 1, c.len, f);
    fclose(f);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "gcc -O0 -w -fPIC -shared %s -o '%s' '%s' -lm", flags, path, src);
    IPVM_ASSERT_MSG(system(cmd) == 0, "%s", cmd);
    ipvm_buf_dispose(&c);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(wasm, stale_so_is_refused)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/cache", ipvm_test_tmpdir());
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest("traps", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* the key this module's code has here */
    ipvm_wasm_engine_t *e = wt_engine(0, dir);
    ipvm_wasm_module_t *m = wt_load(e, &w);
    char key[80], so[4300];
    snprintf(key, sizeof key, "%s", describe(m, "cache_key", &a));
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    snprintf(so, sizeof so, "%s/%s.so", dir, key);

    /* a bounds-check build would read host memory under our guard-page runtime */
    build_so(&w, key, "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -DWASM_RT_USE_STACK_DEPTH_COUNT=0", so);
    ipvm__code_t *code = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm__code_open(so, key, IPVM__FUEL_TLS, &code, &err), IPVM_ESTALE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "bounds-check mode");
    IPVM_ASSERT(code == NULL);
    /* the engine drops it and compiles its own */
    e = wt_engine(2, dir);
    m = wt_load(e, &w);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "gcc");
    check_guest(m);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    IPVM_ASSERT_OK_ERR(ipvm__code_open(so, key, IPVM__FUEL_TLS, &code, &err), &err);
    ipvm__code_free(code);

    /* code built for another module (or toolchain) under this name */
    build_so(&w, "0000000000000000000000000000000000000000000000000000000000000000", "", so);
    IPVM_ASSERT_ERR(ipvm__code_open(so, key, IPVM__FUEL_TLS, &code, &err), IPVM_ESTALE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "another module");
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}
