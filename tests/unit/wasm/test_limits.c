/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the limits: deterministic fuel (exact counts), fuel exhaustion, the wall clock, the
 * memory limit and a memory bomb, stack overflow on a worker thread, traps from several threads
 * at once; every failure is followed by a normal call on the same thread. */
#include "unit/wasm/wasm_test.h"
#include "wasm/core_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

static ipvm_wasm_engine_t *engine;
static ipvm_wasm_module_t *mod;

static void setup(void)
{
    engine = wt_engine(0, NULL);
    mod = wt_load_guest(engine, "traps");
}

static void teardown(void)
{
    ipvm_wasm_module_release(mod);
    ipvm_wasm_engine_free(engine);
}

static int call(const char *func, const char *args, const ipvm_wasm_limits_t *lim,
                ipvm_wasm_result_t *r, char *json, size_t jsize, ipvm_error_t *err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    int rc = wt_call(mod, func, args, lim, &a, r, err);
    snprintf(json, jsize, "%s", rc == 0 ? wt_json(r->value) : "");
    ipvm_arena_dispose(&a);
    return rc;
}

static void normal_call(void)
{
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    char out[64];
    IPVM_ASSERT_OK_ERR(call("add", "[40, 2]", NULL, &r, out, sizeof out, &err), &err);
    IPVM_ASSERT_STREQ(out, "42");
}

IPVM_TEST(wasm, fuel_is_exact_and_deterministic)
{
    setup();
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    char out[64];
    /* count(n) is a leaf with one loop: its header runs n+1 times */
    for (int n = 0; n < 3; n++) {
        IPVM_ASSERT_OK_ERR(call("count", "[1000]", NULL, &r, out, sizeof out, &err), &err);
        IPVM_ASSERT_STREQ(out, "1000");
        IPVM_ASSERT_EQ_U64(r.fuel_used, 1001);
    }
    IPVM_ASSERT_OK_ERR(call("count", "[250000]", NULL, &r, out, sizeof out, &err), &err);
    IPVM_ASSERT_EQ_U64(r.fuel_used, 250001);
    /* fib calls itself: one unit per call, 2*fib(n+1)-1 calls */
    IPVM_ASSERT_OK_ERR(call("fib", "[10]", NULL, &r, out, sizeof out, &err), &err);
    IPVM_ASSERT_STREQ(out, "55");
    IPVM_ASSERT_EQ_U64(r.fuel_used, 2 * 89 - 1);
    /* a leaf without loops costs nothing */
    IPVM_ASSERT_OK_ERR(call("add", "[1, 2]", NULL, &r, out, sizeof out, &err), &err);
    IPVM_ASSERT_EQ_U64(r.fuel_used, 0);
    teardown();
}

IPVM_TEST(wasm, fuel_limit_stops_endless_loop)
{
    setup();
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    char out[64];
    ipvm_wasm_limits_t lim = {1000, 0, 0};
    int rc = call("count", "[5000]", &lim, &r, out, sizeof out, &err);
    IPVM_ASSERT_ERR(rc, IPVM_ETRAP_FUEL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "1000");
    IPVM_ASSERT_EQ_U64(r.fuel_used, 1000);
    lim.fuel = 1001; /* exactly enough */
    IPVM_ASSERT_OK_ERR(call("count", "[1000]", &lim, &r, out, sizeof out, &err), &err);
    lim.fuel = 1000;
    IPVM_ASSERT_ERR(call("count", "[1000]", &lim, &r, out, sizeof out, &err), IPVM_ETRAP_FUEL);
    lim.fuel = 5000000;
    uint64_t t0 = ipvm_now_ns();
    IPVM_ASSERT_ERR(call("spin", "[]", &lim, &r, out, sizeof out, &err), IPVM_ETRAP_FUEL);
    IPVM_ASSERT_LT((double)(ipvm_now_ns() - t0), 5e9);
    normal_call();
    /* recursion is metered too */
    lim.fuel = 100;
    IPVM_ASSERT_ERR(call("fib", "[20]", &lim, &r, out, sizeof out, &err), IPVM_ETRAP_FUEL);
    normal_call();
    teardown();
}

IPVM_TEST(wasm, timeout_stops_endless_loop)
{
    setup();
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    char out[64];
    ipvm_wasm_limits_t lim = {0, 0, 200};
    uint64_t t0 = ipvm_now_ns();
    int rc = call("spin", "[]", &lim, &r, out, sizeof out, &err);
    double ms = (double)(ipvm_now_ns() - t0) / 1e6;
    IPVM_ASSERT_ERR(rc, IPVM_ETRAP_TIMEOUT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "200 ms");
    /* it stops (without the limit it would spin until the test is killed); how promptly
     * depends on the machine's load, and bench/wasm measures it */
    IPVM_ASSERT_MSG(ms >= 190 && ms < 20000, "stopped after %.1f ms", ms);
    IPVM_ASSERT(r.time_ns >= 190000000ull);
    normal_call();
    /* a call that fits in its time is not disturbed by an earlier timeout */
    lim.time_ms = 5000;
    IPVM_ASSERT_OK_ERR(call("count", "[100000]", &lim, &r, out, sizeof out, &err), &err);
    IPVM_ASSERT_STREQ(out, "100000");
    teardown();
}

/* The gcc tier's ticks compare the r15 counter with 0 and read no floor: the timer stops it
 * with a signal, which must work in a loop without calls (the signal then always lands in
 * the guest's code), in a loop that calls a guest function, and in one that spends its time in
 * the runtime (memory.grow), where the signal lands outside the guest's code and has to be
 * sent again. Each stop is followed by normal calls on the same thread; fuel stays exact. */
IPVM_TEST(wasm, timeout_stops_gcc_tier)
{
    ipvm_wasm_engine_t *e = wt_engine(2, wt_shared_cache());
    ipvm_wasm_module_t *m = wt_load_guest(e, "traps");
    uint64_t stops0 = atomic_load(&ipvm__wasm_stats.timer_stops);
    const char *spins[] = {"spin", "spin_call", "spin_grow"};
    for (int k = 0; k < 3; k++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_wasm_result_t r;
        ipvm_error_t err;
        ipvm_wasm_limits_t lim = {0, 0, 100};
        uint64_t t0 = ipvm_now_ns();
        int rc = wt_call(m, spins[k], "[]", &lim, &a, &r, &err);
        double ms = (double)(ipvm_now_ns() - t0) / 1e6;
        IPVM_ASSERT_MSG(rc == IPVM_ETRAP_TIMEOUT, "%s: %s after %.1f ms", spins[k], err.msg, ms);
        IPVM_ASSERT_STRCONTAINS(err.msg, "100 ms");
        IPVM_ASSERT_MSG(ms >= 95 && ms < 20000, "%s stopped after %.1f ms", spins[k], ms);
        IPVM_ASSERT_OK_ERR(wt_call(m, "add", "[40, 2]", NULL, &a, &r, &err), &err);
        IPVM_ASSERT_STREQ(wt_json(r.value), "42");
        IPVM_ASSERT_OK_ERR(wt_call(m, "count", "[1000]", &lim, &a, &r, &err), &err);
        IPVM_ASSERT_EQ_U64(r.fuel_used, 1001);
        ipvm_arena_dispose(&a);
    }
    /* a fuel limit still stops a call-free loop, with the exact count */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_wasm_limits_t lim = {1000, 0, 0};
    IPVM_ASSERT_ERR(wt_call(m, "count", "[5000]", &lim, &a, &r, &err), IPVM_ETRAP_FUEL);
    IPVM_ASSERT_EQ_U64(r.fuel_used, 1000);
    lim.fuel = 5000000;
    IPVM_ASSERT_ERR(wt_call(m, "spin", "[]", &lim, &a, &r, &err), IPVM_ETRAP_FUEL);
    ipvm_arena_dispose(&a);
    /* the stops counted are those of running instances (the timer raised their floor) */
    IPVM_ASSERT(atomic_load(&ipvm__wasm_stats.timer_stops) >= stops0 + 3);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
}

typedef struct {
    ipvm_wasm_module_t *m;
    int rc;
    double ms;
} blocked_call_t;

static void *spin_blocked(void *arg)
{
    blocked_call_t *c = arg;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_wasm_limits_t lim = {0, 0, 100};
    uint64_t t0 = ipvm_now_ns();
    c->rc = wt_call(c->m, "spin", "[]", &lim, &a, &r, &err);
    c->ms = (double)(ipvm_now_ns() - t0) / 1e6;
    ipvm_arena_dispose(&a);
    return NULL;
}

/* A thread that was made with every signal blocked (as many thread pools make theirs) still
 * gets the gcc tier's stop signal: the endless loop ends at its time limit. */
IPVM_TEST(wasm, timeout_on_thread_with_signals_blocked)
{
    ipvm_wasm_engine_t *e = wt_engine(2, wt_shared_cache());
    blocked_call_t c = {wt_load_guest(e, "traps"), -1, 0};
    sigset_t all, old;
    sigfillset(&all);
    IPVM_ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &all, &old), 0);
    pthread_t th;
    int prc = pthread_create(&th, NULL, spin_blocked, &c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    IPVM_ASSERT_EQ(prc, 0);
    pthread_join(th, NULL);
    IPVM_ASSERT_MSG(c.rc == IPVM_ETRAP_TIMEOUT, "spin returned %d after %.1f ms", c.rc, c.ms);
    IPVM_ASSERT_MSG(c.ms >= 95 && c.ms < 20000, "stopped after %.1f ms", c.ms);
    ipvm_wasm_module_release(c.m);
    ipvm_wasm_engine_free(e);
}

/* Stop signals that queue up while a thread does not run (a loaded machine: the timer sends
 * one every 2 ms) are handled one after the other, not nested on the signal stack until it
 * overflows. Then calls go on as before, a timeout included. */
IPVM_TEST(wasm, queued_stop_signals_do_not_nest)
{
    ipvm_wasm_engine_t *e = wt_engine(2, wt_shared_cache());
    ipvm_wasm_module_t *m = wt_load_guest(e, "traps");
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(wt_call(m, "add", "[1, 2]", NULL, &a, &r, &err), &err);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, IPVM__RT_STOP_SIGNAL);
    IPVM_ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &stop, NULL), 0);
    int queued = 0;
    while (queued < 3000 && pthread_kill(pthread_self(), IPVM__RT_STOP_SIGNAL) == 0)
        queued++;
    IPVM_ASSERT_MSG(queued >= 500, "only %d signals could be queued", queued);
    IPVM_ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &stop, NULL), 0); /* all delivered here */
    IPVM_ASSERT_OK_ERR(wt_call(m, "add", "[40, 2]", NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), "42");
    ipvm_wasm_limits_t lim = {0, 0, 100};
    IPVM_ASSERT_ERR(wt_call(m, "spin", "[]", &lim, &a, &r, &err), IPVM_ETRAP_TIMEOUT);
    IPVM_ASSERT_OK_ERR(wt_call(m, "add", "[2, 3]", NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), "5");
    ipvm_arena_dispose(&a);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
}

IPVM_TEST(wasm, memory_limit)
{
    setup();
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_wasm_limits_t lim = {0, 4 * 65536, 0};
    ipvm__wasm_instance_t *i;
    IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(mod, &lim, &i, &err), &err);
    long grow = ipvm__wasm_export_find(mod, "grow", 4), pages = ipvm__wasm_export_find(mod, "pages", 5);
    long poke = ipvm__wasm_export_find(mod, "poke_last", 9);
    IPVM_ASSERT(grow >= 0 && pages >= 0 && poke >= 0);
    uint64_t a[1] = {2}, res[1];
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)grow, a, res, &err), &err);
    IPVM_ASSERT_EQ(res[0], 1); /* old size */
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)grow, a, res, &err), &err);
    IPVM_ASSERT_EQ(res[0], 0xffffffffu); /* 5 pages > limit of 4: refused */
    a[0] = 1;
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)grow, a, res, &err), &err);
    IPVM_ASSERT_EQ(res[0], 3);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)pages, a, res, &err), &err);
    IPVM_ASSERT_EQ(res[0], 4);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)poke, a, res, &err), &err);
    IPVM_ASSERT_EQ(res[0], 42); /* the grown pages are usable */
    uint64_t size;
    uint8_t *base = ipvm__wasm_memory(i, &size);
    IPVM_ASSERT(base != NULL);
    IPVM_ASSERT_EQ_U64(size, 4 * 65536);
    IPVM_ASSERT_EQ(base[size - 1], 42);
    ipvm__wasm_instance_free(i);

    /* the initial memory (1 page) does not fit in 32 KiB */
    lim.memory = 32768;
    IPVM_ASSERT_ERR(ipvm__wasm_instantiate(mod, &lim, &i, &err), IPVM_ETRAP_MEMORY);
    IPVM_ASSERT(i == NULL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "initial memory");
    normal_call();
    teardown();
}

IPVM_TEST(wasm, memory_bomb)
{
    setup();
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    char out[64];
    ipvm_wasm_limits_t lim = {0, 16 * 65536, 0};
    IPVM_ASSERT_ERR(call("bomb", "[]", &lim, &r, out, sizeof out, &err), IPVM_ETRAP_MEMORY);
    IPVM_ASSERT_STRCONTAINS(err.msg, "memory.grow past the limit of 1048576 bytes");
    normal_call();
    /* without our limit the module's own maximum (100 pages) stops it: an ordinary trap */
    IPVM_ASSERT_ERR(call("bomb", "[]", NULL, &r, out, sizeof out, &err), IPVM_ETRAP_UNREACHABLE);
    normal_call();
    teardown();
}

IPVM_TEST(wasm, trapped_instance_is_discarded)
{
    setup();
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm__wasm_instance_t *i;
    IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(mod, NULL, &i, &err), &err);
    long oob = ipvm__wasm_export_find(mod, "oob", 3), add = ipvm__wasm_export_find(mod, "add", 3);
    uint64_t a[2] = {1, 2}, r[1] = {0};
    IPVM_ASSERT_ERR(ipvm__wasm_invoke(i, (uint32_t)oob, a, r, &err), IPVM_ETRAP_OOB);
    IPVM_ASSERT_ERR(ipvm__wasm_invoke(i, (uint32_t)add, a, r, &err), IPVM_ETRAP_OOB);
    IPVM_ASSERT_STRCONTAINS(err.msg, "trapped before");
    IPVM_ASSERT_ERR(ipvm__wasm_invoke(i, 9999, a, r, &err), IPVM_ETRAP_OOB);
    ipvm__wasm_instance_free(i);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(mod, NULL, &i, &err), &err);
    IPVM_ASSERT_ERR(ipvm__wasm_invoke(i, 9999, a, r, &err), IPVM_EINVAL);
    IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)add, a, r, &err), &err);
    IPVM_ASSERT_EQ(r[0], 3);
    ipvm__wasm_instance_free(i);
    teardown();
}

/* ---- threads ------------------------------------------------------------------------------ */
typedef struct worker_s {
    int iterations;
    int failures;
    char why[400];
} worker_t;

static void *overflow_worker(void *arg)
{
    worker_t *w = arg;
    for (int k = 0; k < w->iterations; k++) {
        ipvm_wasm_result_t r;
        ipvm_error_t err;
        char out[64];
        int rc = call("recurse", "[0]", NULL, &r, out, sizeof out, &err);
        if (rc != IPVM_ETRAP_STACK) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "recurse: %s %s", ipvm_err_name(rc), err.msg);
        }
        rc = call("add", "[40, 2]", NULL, &r, out, sizeof out, &err);
        if (rc != 0 || strcmp(out, "42") != 0) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "add after overflow: %s %s", ipvm_err_name(rc), out);
        }
    }
    return NULL;
}

static void run_thread(void *(*fn)(void *), worker_t *w, size_t stack)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack)
        pthread_attr_setstacksize(&attr, stack);
    pthread_t t;
    IPVM_ASSERT(pthread_create(&t, &attr, fn, w) == 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    IPVM_ASSERT_MSG(w->failures == 0, "%d failures: %s", w->failures, w->why);
}

IPVM_TEST(wasm, stack_overflow_on_worker_thread)
{
    setup();
    worker_t w = {3, 0, ""};
    run_thread(overflow_worker, &w, 0);
    worker_t small = {3, 0, ""};
    run_thread(overflow_worker, &small, 256 * 1024); /* a small stack, as thread pools give */
    normal_call();
    teardown();
}

static void *mixed_worker(void *arg)
{
    worker_t *w = arg;
    static const char *const funcs[] = {"oob", "div0", "add", "unreachable", "recurse"};
    static const int codes[] = {IPVM_ETRAP_OOB, IPVM_ETRAP_DIVZERO, 0, IPVM_ETRAP_UNREACHABLE,
                                IPVM_ETRAP_STACK};
    static const char *const args[] = {"[]", "[0]", "[1, 2]", "[]", "[0]"};
    for (int k = 0; k < w->iterations; k++) {
        int f = k % 5;
        ipvm_wasm_result_t r;
        ipvm_error_t err;
        char out[64];
        int rc = call(funcs[f], args[f], NULL, &r, out, sizeof out, &err);
        if (rc != codes[f] || (f == 2 && strcmp(out, "3") != 0)) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "%s: %s %s", funcs[f], ipvm_err_name(rc), err.msg);
        }
    }
    return NULL;
}

IPVM_TEST(wasm, traps_on_many_threads)
{
    setup();
    enum { N = 4 };
    pthread_t t[N];
    worker_t w[N];
    for (int k = 0; k < N; k++) {
        w[k] = (worker_t){100, 0, ""};
        IPVM_ASSERT(pthread_create(&t[k], NULL, mixed_worker, &w[k]) == 0);
    }
    for (int k = 0; k < N; k++) {
        pthread_join(t[k], NULL);
        IPVM_ASSERT_MSG(w[k].failures == 0, "thread %d: %d failures: %s", k, w[k].failures,
                        w[k].why);
    }
    normal_call();
    teardown();
}

static uint64_t vm_size_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0)
            kb = strtoull(line + 7, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

IPVM_TEST(wasm, many_instances_release_memory)
{
    setup();
    /* address space for 24 reservations of 8 GiB beyond what the process has: 600 instances,
     * 10 alive at a time, only fit if freeing unmaps the whole reservation */
    uint64_t headroom = 24ull * (8ull << 30);
    struct rlimit lim = {vm_size_kb() * 1024 + headroom, vm_size_kb() * 1024 + headroom};
    IPVM_ASSERT(setrlimit(RLIMIT_AS, &lim) == 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    long add = ipvm__wasm_export_find(mod, "add", 3);
    ipvm__wasm_instance_t *live[10];
    for (int round = 0; round < 60; round++) {
        for (int k = 0; k < 10; k++)
            IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(mod, NULL, &live[k], &err), &err);
        uint64_t a[2] = {(uint64_t)round, 1}, r[1];
        IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(live[round % 10], (uint32_t)add, a, r, &err), &err);
        IPVM_ASSERT_EQ(r[0], (uint64_t)round + 1);
        for (int k = 0; k < 10; k++)
            ipvm__wasm_instance_free(live[k]);
    }
    /* and when no address space is left, instantiate fails cleanly instead of aborting */
    ipvm__wasm_instance_t *many[40];
    int n = 0, rc = 0;
    while (n < 40 && (rc = ipvm__wasm_instantiate(mod, NULL, &many[n], &err)) == 0)
        n++;
    IPVM_ASSERT_ERR(rc, IPVM_ETRAP_MEMORY);
    IPVM_ASSERT_LT(n, 34);
    while (n > 0)
        ipvm__wasm_instance_free(many[--n]);
    normal_call();
    teardown();
}

IPVM_TEST(wasm, reused_memory_is_clean)
{
    setup();
    ipvm_error_t err;
    ipvm_error_clear(&err);
    long poke = ipvm__wasm_export_find(mod, "poke", 4), peek = ipvm__wasm_export_find(mod, "peek", 4);
    long grow = ipvm__wasm_export_find(mod, "grow", 4), pages = ipvm__wasm_export_find(mod, "pages", 5);
    uint64_t r[1];
    for (int round = 0; round < 3 * IPVM__POOL_MAX; round++) {
        ipvm__wasm_instance_t *i;
        IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(mod, NULL, &i, &err), &err);
        uint64_t size0;
        IPVM_ASSERT(ipvm__wasm_memory(i, &size0) != NULL);
        IPVM_ASSERT_EQ_U64(size0, 65536); /* back to the initial size */
        IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)pages, NULL, r, &err), &err);
        IPVM_ASSERT_EQ(r[0], 1);
        static const uint32_t addrs[] = {0, 1, 4095, 4096, 30000, 65535};
        for (size_t k = 0; k < sizeof addrs / sizeof addrs[0]; k++) {
            uint64_t a[2] = {addrs[k], 0};
            IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)peek, a, r, &err), &err);
            IPVM_ASSERT_MSG(r[0] == 0, "round %d: byte %u holds %u from an earlier instance",
                            round, addrs[k], (unsigned)r[0]);
            a[1] = 0xa5;
            IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)poke, a, r, &err), &err);
        }
        uint64_t g[1] = {3};
        IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)grow, g, r, &err), &err);
        uint64_t w[2] = {3 * 65536 + 7, 0x5a};
        IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)poke, w, r, &err), &err);
        ipvm__wasm_instance_free(i);
        /* the grown pages of the last instance are out of bounds again */
        IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(mod, NULL, &i, &err), &err);
        IPVM_ASSERT_ERR(ipvm__wasm_invoke(i, (uint32_t)peek, w, r, &err), IPVM_ETRAP_OOB);
        ipvm__wasm_instance_free(i);
    }
    teardown();
}

/* A memory larger than 16 MiB at start (a guest with a big static buffer, as bench/wasm's
 * sha256) is kept for reuse too, and comes back all zero in every 4 MiB piece scrub reads. */
IPVM_TEST(wasm, reused_large_memory_is_clean)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat("(module (memory 300)\n"
           "  (func (export \"peek\") (param i32) (result i32) local.get 0 i32.load8_u)\n"
           "  (func (export \"poke\") (param i32 i32) local.get 0 local.get 1 i32.store8))",
           &w);
    ipvm_wasm_engine_t *e = wt_engine(0, NULL);
    ipvm_wasm_module_t *m = wt_load(e, &w);
    ipvm_buf_dispose(&w);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    long poke = ipvm__wasm_export_find(m, "poke", 4), peek = ipvm__wasm_export_find(m, "peek", 4);
    static const uint32_t addrs[] = {0, 4096, (4u << 20) - 1, 4u << 20, 9999999, 300 * 65536 - 1};
    uint64_t r[1];
    for (int round = 0; round < 4; round++) {
        ipvm__wasm_instance_t *i;
        unsigned long reused = atomic_load(&ipvm__wasm_stats.mem_reused);
        IPVM_ASSERT_OK_ERR(ipvm__wasm_instantiate(m, NULL, &i, &err), &err);
        uint64_t size;
        IPVM_ASSERT(ipvm__wasm_memory(i, &size) != NULL);
        IPVM_ASSERT_EQ_U64(size, 300 * 65536);
        /* after the first, the pooled reservation: no mmap, no page faults (other tests may
         * reuse memories of their own modules meanwhile, hence >=) */
        if (round > 0)
            IPVM_ASSERT_MSG(atomic_load(&ipvm__wasm_stats.mem_reused) > reused,
                            "round %d: a new memory, not the pooled one", round);
        for (size_t k = 0; k < sizeof addrs / sizeof addrs[0]; k++) {
            uint64_t a[2] = {addrs[k], 0x3c};
            IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)peek, a, r, &err), &err);
            IPVM_ASSERT_MSG(r[0] == 0, "round %d: byte %u holds %u from an earlier instance",
                            round, addrs[k], (unsigned)r[0]);
            IPVM_ASSERT_OK_ERR(ipvm__wasm_invoke(i, (uint32_t)poke, a, r, &err), &err);
        }
        ipvm__wasm_instance_free(i);
    }
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
}
