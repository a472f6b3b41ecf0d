/* SPDX-License-Identifier: Apache-2.0 */
/* The gcc tier compiles for the CPU's x86-64 level (-march=x86-64-vN, still -O2
 * -ffp-contract=off, no -ffast-math). These tests prove what that rests on: the tcc tier, the
 * gcc tier at baseline and the gcc tier at every level up to this CPU's give the same bits and
 * the same fuel for float code (the FMA case of reference/wasm-engine.md, NaNs, min/max, nearest,
 * truncations, conversions, and loops a vectoriser takes), and the level is part of the cache
 * key, so a cache made on a newer CPU is never loaded by an older one. Guest: guests/floats.wat. */
#include "unit/wasm/wasm_test.h"
#include "wasm/core_int.h"
#include "wasm/engine_int.h"

#include <stdlib.h>
#include <unistd.h>

typedef struct val_s {
    uint64_t bits, fuel;
} val_t;

static uint64_t as_bits(const ipvm_ipld_t *v)
{
    IPVM_ASSERT(v != NULL && v->kind == IPVM_IPLD_INT);
    return v->u.integer.neg ? ~v->u.integer.mag : v->u.integer.mag; /* -1 - mag, as i64 */
}

static val_t run(ipvm_wasm_module_t *m, const char *func, const char *args)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(wt_call(m, func, args, NULL, &a, &r, &err), &err);
    val_t v = {as_bits(r.value), r.fuel_used};
    ipvm_arena_dispose(&a);
    return v;
}

/* operation k (guests/floats.wat's table order) on bit patterns */
static uint64_t op(ipvm_wasm_module_t *m, int k, uint64_t x, uint64_t y)
{
    char args[128];
    snprintf(args, sizeof args, "[%d, %lld, %lld]", k, (long long)x, (long long)y);
    return run(m, "op", args).bits;
}

enum { ADD, SUB, MUL, DIV, MIN, MAX, SQRT, NEAREST, TRUNC, FLOOR, CEIL, COPYSIGN, ABS, NEG,
       DEMOTE_PROMOTE, ADD32, MUL32, DIV32, MIN32, MAX32, SQRT32, NEAREST32, TRUNC_SAT_S64,
       TRUNC_SAT_U64, TRUNC_SAT_S32, TRUNC_SAT_U32, TRUNC_SAT32_S64, TRUNC_SAT32_U64,
       CONVERT_S64, CONVERT_U64, CONVERT32_S64, CONVERT32_U64, CONVERT_U32, CONVERT32_U32,
       MULADD_XYX, TRUNC_S32, TRUNC_U64, NOPS };

#define P0 0x0000000000000000ull   /* +0 */
#define N0 0x8000000000000000ull   /* -0 */
#define ONE 0x3ff0000000000000ull  /* 1 */
#define QNAN 0x7ff8000000000123ull /* a quiet NaN with a payload */
#define SNAN 0x7ff0000000000001ull /* a signalling NaN */
#define INF 0x7ff0000000000000ull

/* Results the wasm spec fixes, checked on every engine (the cross-engine comparison below
 * covers everything else). */
static void spec_values(ipvm_wasm_module_t *m)
{
    /* a = 1 + 2^-30, b = 1 - 2^-30, c = -1: a*b rounds to 1, so the sum is 0; an FMA would
     * give -2^-60 (reference/wasm-engine.md, "Float determinism") */
    char args[128];
    snprintf(args, sizeof args, "[%lld, %lld, %lld]", (long long)0x3ff0000000400000ull,
             (long long)0x3fefffffff800000ull, (long long)0xbff0000000000000ull);
    IPVM_ASSERT_EQ_U64(run(m, "muladd", args).bits, P0);
    IPVM_ASSERT_EQ_U64(run(m, "vec_muladd", "[1024]").bits, 0); /* every d[i] is +0 */
    IPVM_ASSERT_EQ_U64(op(m, NEAREST, 0x4004000000000000ull, 0), 0x4000000000000000ull); /* 2.5 */
    IPVM_ASSERT_EQ_U64(op(m, NEAREST, 0xc00c000000000000ull, 0), 0xc010000000000000ull); /* -3.5 */
    IPVM_ASSERT_EQ_U64(op(m, NEAREST, 0xbfe0000000000000ull, 0), N0); /* -0.5 -> -0 */
    IPVM_ASSERT_EQ_U64(op(m, TRUNC, 0xbff8000000000000ull, 0), 0xbff0000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, FLOOR, 0xbff8000000000000ull, 0), 0xc000000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, CEIL, 0xbfe0000000000000ull, 0), N0);
    IPVM_ASSERT_EQ_U64(op(m, MIN, N0, P0), N0);
    IPVM_ASSERT_EQ_U64(op(m, MIN, P0, N0), N0);
    IPVM_ASSERT_EQ_U64(op(m, MAX, N0, P0), P0);
    IPVM_ASSERT_EQ_U64(op(m, MAX32, N0, P0), P0);
    uint64_t r = op(m, MIN, QNAN, ONE);
    IPVM_ASSERT_MSG((r & INF) == INF && (r & 0xfffffffffffffull) != 0, "min(NaN, 1) = %llx",
                    (unsigned long long)r);
    r = op(m, MAX, ONE, SNAN);
    IPVM_ASSERT_MSG((r & INF) == INF && (r & 0x8000000000000ull) != 0,
                    "max(1, sNaN) = %llx, not a quiet NaN", (unsigned long long)r);
    IPVM_ASSERT_EQ_U64(op(m, TRUNC_SAT_U64, 0xbff8000000000000ull, 0), 0);          /* -1.5 */
    IPVM_ASSERT_EQ_U64(op(m, TRUNC_SAT_U64, INF, 0), UINT64_MAX);
    IPVM_ASSERT_EQ_U64(op(m, TRUNC_SAT_U64, QNAN, 0), 0);
    IPVM_ASSERT_EQ_U64(op(m, TRUNC_SAT_S64, 0xfff0000000000000ull, 0), 0x8000000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, TRUNC_SAT_S32, 0x41f0000000000000ull, 0), 0x7fffffffull); /* 2^32 */
    IPVM_ASSERT_EQ_U64(op(m, TRUNC_SAT_U32, 0x41efffffffe00000ull, 0), 0xffffffffull);
    IPVM_ASSERT_EQ_U64(op(m, CONVERT_U64, UINT64_MAX, 0), 0x43f0000000000000ull); /* 2^64 */
    IPVM_ASSERT_EQ_U64(op(m, CONVERT_U64, 0x8000000000000401ull, 0), 0x43e0000000000001ull);
    IPVM_ASSERT_EQ_U64(op(m, CONVERT_S64, 0x8000000000000000ull, 0), 0xc3e0000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, CONVERT32_U64, UINT64_MAX, 0), 0x43f0000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, SQRT, 0x4010000000000000ull, 0), 0x4000000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, NEG, P0, 0), N0);
    IPVM_ASSERT_EQ_U64(op(m, NEG, QNAN, 0), QNAN | N0); /* neg flips only the sign bit */
    IPVM_ASSERT_EQ_U64(op(m, ABS, 0xfff8000000000000ull, 0), 0x7ff8000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, COPYSIGN, QNAN, N0), QNAN | N0);
    /* 0.1 * 3 rounds up in f64 and in f32 alike */
    IPVM_ASSERT_EQ_U64(op(m, MUL, 0x3fb999999999999aull, 0x4008000000000000ull),
                       0x3fd3333333333334ull);
#if defined(__x86_64__)
    /* the hardware's default NaN (reference: 0/0 and sqrt(-1) give fff8... on x86, also V8) */
    IPVM_ASSERT_EQ_U64(op(m, DIV, P0, P0), 0xfff8000000000000ull);
    IPVM_ASSERT_EQ_U64(op(m, SQRT, 0xbff0000000000000ull, 0), 0xfff8000000000000ull);
#endif
}

#define NVALS (NOPS + 3)

/* Everything the guest computes, with the fuel of each call. */
static void collect(ipvm_wasm_module_t *m, val_t out[NVALS])
{
    IPVM_ASSERT_EQ(run(m, "ops", "[]").bits, NOPS);
    for (int k = 0; k < NOPS; k++) {
        char args[32];
        snprintf(args, sizeof args, "[%d]", k);
        out[k] = run(m, "sweep", args);
    }
    out[NOPS] = run(m, "vec_ops", "[1024]");
    out[NOPS + 1] = run(m, "vec_ops", "[1001]"); /* a count no vector width divides */
    out[NOPS + 2] = run(m, "vec_muladd", "[999]");
}

static const char *describe(ipvm_wasm_module_t *m, const char *key, ipvm_arena_t *a)
{
    ipvm_ipld_t *d = NULL;
    IPVM_ASSERT_OK(ipvm_wasm_module_describe(m, a, &d));
    const ipvm_ipld_t *v = ipvm_ipld_map_get(d, key);
    IPVM_ASSERT(v != NULL && v->kind == IPVM_IPLD_STRING);
    return v->u.str.ptr;
}

static ipvm_wasm_engine_t *engine_at(int gcc_tier, const char *dir, int isa)
{
    ipvm_wasm_engine_opts_t o = {.gcc_tier = gcc_tier, .cache_dir = dir, .isa = isa};
    ipvm_wasm_engine_t *e = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_wasm_engine_new(&o, &e, &err), &err);
    return e;
}

/* Whether the .so holds VEX-encoded instructions (AVX: v-prefixed mnemonics on xmm/ymm), i.e.
 * gcc really compiled for the level: objdump's disassembly. */
static bool uses_avx(const char *so)
{
    const char *argv[] = {"/usr/bin/objdump", "-d", "--no-show-raw-insn", so, NULL};
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, NULL, 60000, &o, &e);
    IPVM_ASSERT_MSG(st == 0, "objdump failed (%d): %s", st, e.data ? (char *)e.data : "");
    bool avx = o.data && (strstr((char *)o.data, "\tvmovsd") || strstr((char *)o.data, "\tvmulsd") ||
                          strstr((char *)o.data, "\tvaddsd") || strstr((char *)o.data, "%ymm"));
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
    return avx;
}

IPVM_TEST(wasm, isa_levels_agree)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest("floats", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    int host = ipvm_wasm_isa_host();
#if defined(__x86_64__)
    IPVM_ASSERT(host >= IPVM_WASM_ISA_BASELINE && host <= IPVM_WASM_ISA_MAX);
#endif
    /* the reference: the tcc tier */
    ipvm_wasm_engine_t *e = wt_engine(0, NULL);
    ipvm_wasm_module_t *m = wt_load(e, &w);
    IPVM_ASSERT_STREQ(describe(m, "tier", &a), "tcc");
    spec_values(m);
    val_t want[NVALS], got[NVALS];
    collect(m, want);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    /* the gcc tier at baseline and at every level up to this CPU's (auto: the CPU's own) */
    for (int level = IPVM_WASM_ISA_BASELINE; level <= (host ? host : 1); level++) {
        e = engine_at(2, wt_shared_cache(), host ? level : IPVM_WASM_ISA_AUTO);
        m = wt_load(e, &w);
        IPVM_ASSERT_STREQ(describe(m, "tier", &a), "gcc");
        if (host)
            IPVM_ASSERT_STREQ(describe(m, "isa", &a), ipvm_wasm_isa_name(level));
        if (level >= 3) { /* the flag reached gcc */
            char so[4300];
            snprintf(so, sizeof so, "%s/%s.so", wt_shared_cache(), describe(m, "cache_key", &a));
            IPVM_ASSERT_MSG(uses_avx(so), "%s (%s) has no AVX instruction", so,
                            ipvm_wasm_isa_name(level));
        }
        spec_values(m);
        collect(m, got);
        for (int k = 0; k < NVALS; k++) {
            IPVM_ASSERT_MSG(got[k].bits == want[k].bits,
                            "%s: result %d is %016llx, the tcc tier's %016llx",
                            ipvm_wasm_isa_name(level), k, (unsigned long long)got[k].bits,
                            (unsigned long long)want[k].bits);
            IPVM_ASSERT_EQ_U64(got[k].fuel, want[k].fuel);
        }
        ipvm_wasm_module_release(m);
        ipvm_wasm_engine_free(e);
    }
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

static unsigned long gcc_runs(void)
{
    return atomic_load(&ipvm__wasm_stats.gcc);
}

/* Loads the guest with an engine at `isa` on dir; returns its cache key (in a). */
static const char *load_at(const char *dir, int isa, const ipvm_buf_t *w, ipvm_arena_t *a,
                           unsigned long *compiled)
{
    unsigned long g0 = gcc_runs();
    ipvm_wasm_engine_t *e = engine_at(2, dir, isa);
    ipvm_wasm_module_t *m = wt_load(e, w);
    IPVM_ASSERT_STREQ(describe(m, "tier", a), "gcc");
    const char *key = describe(m, "cache_key", a);
    IPVM_ASSERT_EQ(run(m, "muladd", "[0, 0, 0]").bits, 0);
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    *compiled = gcc_runs() - g0;
    return key;
}

IPVM_TEST(wasm, isa_level_in_cache_key)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/cache", ipvm_test_tmpdir());
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest("floats", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    int host = ipvm_wasm_isa_host(), lower = host > 1 ? host - 1 : IPVM_WASM_ISA_BASELINE;
    unsigned long n;
    const char *k_host = load_at(dir, IPVM_WASM_ISA_AUTO, &w, &a, &n);
    IPVM_ASSERT_EQ(n, 1);
    /* the same level again: a hit */
    IPVM_ASSERT_STREQ(load_at(dir, host ? host : IPVM_WASM_ISA_AUTO, &w, &a, &n), k_host);
    IPVM_ASSERT_EQ(n, 0);
    if (host > IPVM_WASM_ISA_BASELINE) {
        /* a CPU one level older, sharing this cache: another key, so it compiles its own */
        const char *k_low = load_at(dir, lower, &w, &a, &n);
        IPVM_ASSERT_EQ(n, 1);
        IPVM_ASSERT_MSG(strcmp(k_low, k_host) != 0, "%s and %s share the key %s",
                        ipvm_wasm_isa_name(lower), ipvm_wasm_isa_name(host), k_host);
        /* and the newer CPU still finds its own */
        IPVM_ASSERT_STREQ(load_at(dir, IPVM_WASM_ISA_AUTO, &w, &a, &n), k_host);
        IPVM_ASSERT_EQ(n, 0);
    }
    if (host >= IPVM_WASM_ISA_BASELINE && host < IPVM_WASM_ISA_MAX) {
        /* a level this CPU cannot run is refused, with what to do */
        ipvm_wasm_engine_opts_t o = {.gcc_tier = 1, .isa = host + 1};
        ipvm_wasm_engine_t *e = NULL;
        ipvm_error_t err;
        IPVM_ASSERT_ERR(ipvm_wasm_engine_new(&o, &e, &err), IPVM_EUNSUPPORTED);
        IPVM_ASSERT_STRCONTAINS(err.msg, "auto or baseline");
    }
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, isa_names)
{
    int v = -1;
    ipvm_error_t err;
    static const char *const names[] = {"auto", "baseline", "x86-64-v2", "x86-64-v3", "x86-64-v4"};
    for (int k = 0; k <= IPVM_WASM_ISA_MAX; k++) {
        IPVM_ASSERT_OK(ipvm_wasm_isa_parse(names[k], &v, &err));
        IPVM_ASSERT_EQ(v, k);
        IPVM_ASSERT_STREQ(ipvm_wasm_isa_name(k), names[k]);
    }
    IPVM_ASSERT_OK(ipvm_wasm_isa_parse("v3", &v, &err));
    IPVM_ASSERT_EQ(v, 3);
    IPVM_ASSERT_OK(ipvm_wasm_isa_parse("x86-64", &v, &err));
    IPVM_ASSERT_EQ(v, IPVM_WASM_ISA_BASELINE);
    IPVM_ASSERT_ERR(ipvm_wasm_isa_parse("native", &v, &err), IPVM_EINVAL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "'native'");
    IPVM_ASSERT_STRCONTAINS(err.msg, "x86-64-v4");
    IPVM_ASSERT_STREQ(ipvm_wasm_isa_name(7), "?");
    ipvm_wasm_engine_opts_t o = {.isa = 9};
    ipvm_wasm_engine_t *e = NULL;
    IPVM_ASSERT_ERR(ipvm_wasm_engine_new(&o, &e, &err), IPVM_EINVAL);
}
