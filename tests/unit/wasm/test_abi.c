/* SPDX-License-Identifier: Apache-2.0 */
/* Canonical ABI without the engine: the component-type parser on Homestar's fixtures (checked
 * against the WIT text in tests/vectors/homestar/wit), component unwrapping, layout and
 * flattening, lift/lower by Homestar's IPLD<->WIT rules against a byte buffer standing in for
 * guest memory, float32 lifting like rust_decimal, and the function name variants. */
#include "unit/wasm/abi_fixture.h"

#include <ctype.h>
#include <math.h>

/* ------------------------------------------------------------------------- parsing ---- */

IPVM_TEST(wasm, abi_world_example_test)
{
    ipvm__abi_t abi;
    ipvm_buf_t mod = IPVM_BUF_INIT;
    abi_load_world(&abi, "example_test.wasm", &mod);
    IPVM_ASSERT_STREQ(abi.world, "homestar:test/test@0.1.1");
    int n = check_against_wit(&abi, ipvm_test_vector("homestar/wit/world.wit"));
    IPVM_ASSERT_EQ(n, 17);
    IPVM_ASSERT_EQ(abi.nexports, 17);
    const ipvm__abi_export_t *x = abi_export(&abi, "append-string");
    IPVM_ASSERT_STREQ(x->core_name, "append-string");
    IPVM_ASSERT_STREQ(x->post_name, "cabi_post_append-string");
    IPVM_ASSERT_STREQ(x->realloc_name, "cabi_realloc");
    /* flattening: a string result comes back through a pointer, a string param is (ptr, len) */
    IPVM_ASSERT_EQ(x->func->nflat_params, 2);
    IPVM_ASSERT(x->func->results_spill);
    const ipvm__abi_export_t *crop = abi_export(&abi, "crop");
    IPVM_ASSERT_EQ(crop->func->nflat_params, 6);
    /* the record type kept its WIT name, and lays out as {string, option<u32>} */
    const ipvm__wit_type_t *nk = abi_export(&abi, "num-to-kv")->func->results[0].type;
    IPVM_ASSERT_STREQ(nk->name, "num-keys");
    IPVM_ASSERT_EQ(nk->size, 16);
    IPVM_ASSERT_EQ(nk->align, 4);
    IPVM_ASSERT_EQ(nk->nflat, 4);
    ipvm__abi_dispose(&abi);
    ipvm_buf_dispose(&mod);
}

IPVM_TEST(wasm, abi_world_add_subtract)
{
    static const struct {
        const char *file, *world, *name, *sig;
    } cases[] = {
        /* homestar-functions/{add,subtract}/wit/world.wit */
        {"example_add.wasm", "homestar:add/add@0.1.1", "add-one", "func(input: s32) -> s32"},
        {"example_add.wasm", "homestar:add/add@0.1.1", "add-two", "func(input: s32) -> s32"},
        {"example_subtract.wasm", "homestar:subtract/subtract@0.1.1", "subtract",
         "func(a: f64, b: f64) -> f64"},
        {"example_subtract.wasm", "homestar:subtract/subtract@0.1.1", "subtract-int",
         "func(a: s8, b: s8) -> s8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipvm__abi_t abi;
        ipvm_buf_t mod = IPVM_BUF_INIT;
        char got[256];
        abi_load_world(&abi, cases[i].file, &mod);
        IPVM_ASSERT_STREQ(abi.world, cases[i].world);
        IPVM_ASSERT_EQ(abi.nexports, 2);
        IPVM_ASSERT_STREQ(render(abi_export(&abi, cases[i].name)->func, got, sizeof got),
                          cases[i].sig);
        ipvm__abi_dispose(&abi);
        ipvm_buf_dispose(&mod);
    }
}

/* The offset of the first custom section: what precedes it is the module proper. */
static size_t first_custom(const uint8_t *p, size_t n)
{
    size_t i = 8;
    while (i < n) {
        size_t start = i;
        uint8_t id = p[i++];
        uint64_t size = abi_leb(p, &i);
        if (id == 0)
            return start;
        i += (size_t)size;
    }
    return n;
}

IPVM_TEST(wasm, abi_component_unwrap)
{
    static const char *const pairs[][2] = {
        {"example_test_component.wasm", "example_test.wasm"},
        {"example_add_component.wasm", "example_add.wasm"},
    };
    for (size_t k = 0; k < 2; k++) {
        ipvm_buf_t comp = IPVM_BUF_INIT, core = IPVM_BUF_INIT;
        char rel[128];
        snprintf(rel, sizeof rel, "homestar/wasm/%s", pairs[k][0]);
        ipvm_test_read_file(ipvm_test_vector(rel), &comp);
        snprintf(rel, sizeof rel, "homestar/wasm/%s", pairs[k][1]);
        ipvm_test_read_file(ipvm_test_vector(rel), &core);
        ipvm__abi_t abi;
        ipvm__abi_init(&abi);
        const uint8_t *m;
        size_t mlen;
        ipvm_error_t err;
        IPVM_ASSERT_OK_ERR(ipvm__abi_parse_component(&abi, comp.data, comp.len, &m, &mlen, &err),
                           &err);
        /* the wrapped module is the plain one without its component-type section */
        size_t body = first_custom(core.data, core.len);
        IPVM_ASSERT(mlen >= body);
        IPVM_ASSERT_MEMEQ(m, body, core.data, body);
        IPVM_ASSERT(m > comp.data && m + mlen <= comp.data + comp.len);
        /* the component's own types give the same signatures as the world's */
        ipvm__abi_t world;
        ipvm_buf_t again = IPVM_BUF_INIT;
        abi_load_world(&world, pairs[k][1], &again);
        IPVM_ASSERT_EQ(abi.nexports, world.nexports);
        for (size_t i = 0; i < world.nexports; i++) {
            char a[512], b[512];
            const ipvm__abi_export_t *x = abi_export(&abi, world.exports[i].name);
            IPVM_ASSERT_STREQ(render(x->func, a, sizeof a), render(world.exports[i].func, b,
                                                                   sizeof b));
            IPVM_ASSERT_STREQ(x->core_name, world.exports[i].core_name);
        }
        if (k == 0) {
            IPVM_ASSERT_STREQ(abi_export(&abi, "hash")->post_name, "cabi_post_hash");
            IPVM_ASSERT(abi_export(&abi, "add-one")->post_name == NULL);
            IPVM_ASSERT_STREQ(abi_export(&abi, "hash")->realloc_name, "cabi_realloc");
        }
        /* the engine's entry point unwraps the same module */
        const uint8_t *m2;
        size_t m2len;
        IPVM_ASSERT_OK_ERR(ipvm__wasm_component_core(comp.data, comp.len, &m2, &m2len, &err),
                           &err);
        IPVM_ASSERT(m2 == m && m2len == mlen);
        ipvm__abi_dispose(&abi);
        ipvm__abi_dispose(&world);
        ipvm_buf_dispose(&again);
        ipvm_buf_dispose(&comp);
        ipvm_buf_dispose(&core);
    }
}

/* Appends a section to a component binary. */
static void add_section(ipvm_buf_t *b, uint8_t id, const uint8_t *p, size_t n)
{
    uint8_t hdr[8];
    size_t h = 0;
    hdr[h++] = id;
    size_t v = n;
    do {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    IPVM_ASSERT_OK(ipvm_buf_append(b, hdr, h));
    IPVM_ASSERT_OK(ipvm_buf_append(b, p, n));
}

IPVM_TEST(wasm, abi_component_unsupported)
{
    ipvm_buf_t core = IPVM_BUF_INIT, comp = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/wasm/example_add.wasm"), &core);
    const uint8_t *m;
    size_t mlen;
    ipvm_error_t err;
    /* a core module is not a component */
    IPVM_ASSERT_ERR(ipvm__wasm_component_core(core.data, core.len, &m, &mlen, &err), IPVM_EWASM);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not a component");
    static const uint8_t pre[8] = {0, 'a', 's', 'm', 0x0d, 0, 1, 0};
    /* two core modules */
    IPVM_ASSERT_OK(ipvm_buf_append(&comp, pre, 8));
    add_section(&comp, 1, core.data, core.len);
    add_section(&comp, 1, core.data, core.len);
    IPVM_ASSERT_ERR(ipvm__wasm_component_core(comp.data, comp.len, &m, &mlen, &err),
                    IPVM_EWASMUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "unsupported component");
    IPVM_ASSERT_STRCONTAINS(err.msg, "more than one core module");
    /* one module, never instantiated */
    comp.len = 0;
    IPVM_ASSERT_OK(ipvm_buf_append(&comp, pre, 8));
    add_section(&comp, 1, core.data, core.len);
    IPVM_ASSERT_ERR(ipvm__wasm_component_core(comp.data, comp.len, &m, &mlen, &err),
                    IPVM_EWASMUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "instantiated 0 times");
    /* a nested component */
    comp.len = 0;
    IPVM_ASSERT_OK(ipvm_buf_append(&comp, pre, 8));
    add_section(&comp, 4, pre, 8);
    IPVM_ASSERT_ERR(ipvm__wasm_component_core(comp.data, comp.len, &m, &mlen, &err),
                    IPVM_EWASMUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "nests components");
    /* no module at all */
    comp.len = 0;
    IPVM_ASSERT_OK(ipvm_buf_append(&comp, pre, 8));
    IPVM_ASSERT_ERR(ipvm__wasm_component_core(comp.data, comp.len, &m, &mlen, &err),
                    IPVM_EWASMUNSUPPORTED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "no core module");
    ipvm_buf_dispose(&comp);
    ipvm_buf_dispose(&core);
}

/* Every truncation and many single-byte changes of a real section: an error with an offset
 * inside the input, or success, never a crash (the fuzz target covers the rest). */
IPVM_TEST(wasm, abi_parse_bad_bytes)
{
    ipvm_buf_t mod = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/wasm/example_test.wasm"), &mod);
    size_t len;
    const uint8_t *sec = abi_custom_section(&mod, "component-type", &len);
    uint8_t *copy = malloc(len);
    IPVM_ASSERT(copy != NULL);
    for (size_t cut = 0; cut < len; cut++) {
        ipvm__abi_t abi;
        ipvm_error_t err;
        ipvm__abi_init(&abi);
        memcpy(copy, sec, cut);
        int rc = ipvm__abi_parse_world(&abi, copy, cut, &err);
        ipvm__abi_dispose(&abi);
        if (cut + 80 < len) { /* before the producers section: the world is incomplete */
            IPVM_ASSERT_ERR(rc, IPVM_EWASM);
            IPVM_ASSERT(err.offset <= cut);
            IPVM_ASSERT_STRCONTAINS(err.msg, "component-type section");
        }
    }
    int failed = 0;
    for (size_t at = 8; at < len; at++) {
        for (int flip = 1; flip < 256; flip *= 3) {
            memcpy(copy, sec, len);
            copy[at] ^= (uint8_t)flip;
            ipvm__abi_t abi;
            ipvm_error_t err;
            ipvm__abi_init(&abi);
            int rc = ipvm__abi_parse_world(&abi, copy, len, &err);
            if (rc < 0) {
                failed++;
                IPVM_ASSERT(rc == IPVM_EWASM || rc == IPVM_EWASMUNSUPPORTED);
                IPVM_ASSERT(err.offset <= len);
            }
            ipvm__abi_dispose(&abi);
        }
    }
    IPVM_ASSERT(failed > 100);
    free(copy);
    ipvm_buf_dispose(&mod);
}

IPVM_TEST(wasm, abi_parse_oom)
{
    ipvm_buf_t mod = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/wasm/example_test_component.wasm"), &mod);
    for (long n = 0;; n++) {
        ipvm__abi_t abi;
        ipvm_error_t err;
        const uint8_t *m;
        size_t mlen;
        ipvm__abi_init(&abi);
        ipvm_alloc_fail_after(n);
        int rc = ipvm__abi_parse_component(&abi, mod.data, mod.len, &m, &mlen, &err);
        bool injected = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        size_t nexports = abi.nexports;
        ipvm__abi_dispose(&abi);
        if (rc == 0) {
            IPVM_ASSERT_EQ(nexports, 17);
            break;
        }
        IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
        IPVM_ASSERT(injected);
        IPVM_ASSERT(n < 100000);
    }
    ipvm_buf_dispose(&mod);
}

/* ------------------------------------------------------------------ layout and flat ---- */
static const ipvm__wit_type_t *mk(ipvm_arena_t *a, ipvm__wit_kind_t k, uint32_t n,
                                  const ipvm__wit_type_t *const *elem, const char *const *label)
{
    const ipvm__wit_type_t **e = NULL;
    const char **l = NULL;
    if (elem) {
        e = ipvm_arena_calloc(a, n, sizeof *e);
        memcpy(e, elem, n * sizeof *e);
    }
    if (label) {
        l = ipvm_arena_calloc(a, n, sizeof *l);
        memcpy(l, label, n * sizeof *l);
    }
    const char *why;
    const ipvm__wit_type_t *t = ipvm__wit_type_new(a, k, n, e, l, &why);
    IPVM_ASSERT_MSG(t != NULL, "type: %s", why ? why : "oom");
    return t;
}

#define P(k) ipvm__wit_prim(IPVM__WIT_##k)
#define T(...) ((const ipvm__wit_type_t *const[]){__VA_ARGS__})
#define L(...) ((const char *const[]){__VA_ARGS__})

IPVM_TEST(wasm, abi_layout)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* CanonicalABI.md: record fields at their alignment, size rounded up */
    const ipvm__wit_type_t *r = mk(&a, IPVM__WIT_RECORD, 3, T(P(U8), P(U32), P(U16)),
                                   L("a", "b", "c"));
    IPVM_ASSERT_EQ(r->size, 12);
    IPVM_ASSERT_EQ(r->align, 4);
    IPVM_ASSERT_EQ(r->offset[1], 4);
    IPVM_ASSERT_EQ(r->offset[2], 8);
    IPVM_ASSERT_EQ(r->nflat, 3);
    /* variant: u8 discriminant, payload at the largest case alignment, flat cases joined */
    const ipvm__wit_type_t *v = mk(&a, IPVM__WIT_VARIANT, 3, T(P(U8), P(F32), NULL),
                                   L("x", "y", "z"));
    IPVM_ASSERT_EQ(v->disc_size, 1);
    IPVM_ASSERT_EQ(v->payload_offset, 4);
    IPVM_ASSERT_EQ(v->size, 8);
    IPVM_ASSERT_EQ(v->nflat, 2);
    IPVM_ASSERT_EQ(v->flat[1], 0x7f); /* join(i32, f32) = i32 */
    const ipvm__wit_type_t *v2 = mk(&a, IPVM__WIT_VARIANT, 2, T(P(F32), P(U64)), L("x", "y"));
    IPVM_ASSERT_EQ(v2->flat[1], 0x7e); /* join(f32, i64) = i64 */
    IPVM_ASSERT_EQ(v2->size, 16);
    const ipvm__wit_type_t *v3 = mk(&a, IPVM__WIT_VARIANT, 2, T(P(F64), P(F64)), L("x", "y"));
    IPVM_ASSERT_EQ(v3->flat[1], 0x7c); /* join(f64, f64) = f64 */
    /* option<string>: 3 flat values, 12 bytes */
    const ipvm__wit_type_t *os = mk(&a, IPVM__WIT_OPTION, 1, T(P(STRING)), NULL);
    IPVM_ASSERT_EQ(os->nflat, 3);
    IPVM_ASSERT_EQ(os->size, 12);
    /* flags: 1, 2 or 4*ceil(n/32) bytes */
    const char *names[40];
    for (int i = 0; i < 40; i++)
        names[i] = "f";
    IPVM_ASSERT_EQ(mk(&a, IPVM__WIT_FLAGS, 8, NULL, names)->size, 1);
    IPVM_ASSERT_EQ(mk(&a, IPVM__WIT_FLAGS, 9, NULL, names)->size, 2);
    const ipvm__wit_type_t *f40 = mk(&a, IPVM__WIT_FLAGS, 40, NULL, names);
    IPVM_ASSERT_EQ(f40->size, 8);
    IPVM_ASSERT_EQ(f40->nflat, 2);
    /* enum of 300 cases needs a u16 discriminant */
    const char **many = ipvm_arena_calloc(&a, 300, sizeof *many);
    for (int i = 0; i < 300; i++)
        many[i] = "e";
    const ipvm__wit_type_t *e = mk(&a, IPVM__WIT_ENUM, 300, NULL, many);
    IPVM_ASSERT_EQ(e->size, 2);
    /* invalid types are refused */
    const char *why;
    IPVM_ASSERT(ipvm__wit_type_new(&a, IPVM__WIT_RECORD, 0, NULL, NULL, &why) == NULL);
    IPVM_ASSERT(why != NULL);
    const ipvm__wit_type_t *deep = P(U8);
    for (int i = 0; i < IPVM__ABI_MAX_DEPTH - 1; i++)
        deep = mk(&a, IPVM__WIT_LIST, 1, T(deep), NULL);
    const ipvm__wit_type_t **one = ipvm_arena_calloc(&a, 1, sizeof *one);
    one[0] = deep;
    IPVM_ASSERT(ipvm__wit_type_new(&a, IPVM__WIT_LIST, 1, one, NULL, &why) == NULL);
    IPVM_ASSERT_STRCONTAINS(why, "100 deep");
    ipvm_arena_dispose(&a);
}

/* ------------------------------------------------------------------ lower and lift ---- */
static ipvm__wit_func_t *func1(ipvm_arena_t *a, const ipvm__wit_type_t *t, uint32_t nextra)
{
    ipvm__wit_func_t *f = ipvm_arena_calloc(a, 1, sizeof *f);
    f->nparams = 1 + nextra;
    f->params = ipvm_arena_calloc(a, f->nparams, sizeof *f->params);
    f->params[0] = (ipvm__wit_param_t){"x", t};
    for (uint32_t i = 1; i < f->nparams; i++)
        f->params[i] = (ipvm__wit_param_t){"pad", P(U64)};
    f->nresults = 1;
    f->results = ipvm_arena_calloc(a, 1, sizeof *f->results);
    f->results[0].type = t;
    IPVM_ASSERT_OK(ipvm__wit_func_finish(a, f));
    return f;
}

/* Lowers json as an argument of type t and lifts it back, through memory (params spilled to
 * a tuple whose first field is the value) and, when t is one flat value, through flat values.
 * Returns 0 and the DAG-JSON of the lifted value, or the error. */
static int roundtrip(const ipvm__wit_type_t *t, const char *json, char *out, size_t cap,
                     ipvm_error_t *err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    abi_buf_t b;
    abi_buf_init(&b, 1 << 20);
    char args[1024];
    snprintf(args, sizeof args, "[%s,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]", json);
    ipvm__wit_func_t *f = func1(&a, t, 16);
    IPVM_ASSERT(f->params_spill);
    uint64_t flat[16];
    ipvm_ipld_t *v = NULL;
    int rc = ipvm__abi_lower_args(f, &b.m, abi_json(&a, args), flat, err);
    if (rc == 0) {
        /* the value sits at the start of the spilled tuple: lift it from there */
        ipvm__wit_func_t *g = func1(&a, t, 0);
        uint64_t res[1] = {flat[0]};
        if (g->results_spill) {
            rc = ipvm__abi_lift_results(g, &b.m, res, &a, &v, err);
        } else {
            /* load the one flat value from memory, then go through flat lowering too */
            uint64_t bits = 0;
            memcpy(&bits, b.mem + flat[0], t->size);
            uint64_t f2[16];
            snprintf(args, sizeof args, "[%s]", json);
            IPVM_ASSERT_OK_ERR(ipvm__abi_lower_args(g, &b.m, abi_json(&a, args), f2, err), err);
            IPVM_ASSERT_EQ_U64(f2[0] & (t->size == 8 ? ~0ull : (1ull << (8 * t->size)) - 1),
                               bits);
            rc = ipvm__abi_lift_results(g, &b.m, f2, &a, &v, err);
        }
    }
    if (rc == 0)
        abi_to_json(v, out, cap);
    abi_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    return rc;
}

#define RT_OK(t, in, want)                                                                         \
    do {                                                                                           \
        char got_[2048];                                                                           \
        ipvm_error_t e_;                                                                           \
        IPVM_ASSERT_OK_ERR(roundtrip((t), (in), got_, sizeof got_, &e_), &e_);                     \
        IPVM_ASSERT_STREQ(got_, (want));                                                           \
    } while (0)

#define RT_ERR(t, in, needle)                                                                      \
    do {                                                                                           \
        char got_[2048];                                                                           \
        ipvm_error_t e_;                                                                           \
        IPVM_ASSERT_ERR(roundtrip((t), (in), got_, sizeof got_, &e_), IPVM_EABI);                  \
        IPVM_ASSERT_STRCONTAINS(e_.msg, (needle));                                                 \
    } while (0)

IPVM_TEST(wasm, abi_scalars)
{
    RT_OK(P(BOOL), "true", "true");
    RT_OK(P(U8), "255", "255");
    RT_ERR(P(U8), "256", "integer 256 is out of range for u8");
    RT_ERR(P(U8), "-1", "integer -1 is out of range for u8");
    RT_OK(P(S8), "-128", "-128");
    RT_ERR(P(S8), "-129", "out of range for s8");
    RT_OK(P(S16), "-32768", "-32768");
    RT_OK(P(U16), "65535", "65535");
    RT_OK(P(S32), "-2147483648", "-2147483648");
    RT_OK(P(U32), "4294967295", "4294967295");
    RT_ERR(P(U32), "4294967296", "out of range for u32");
    RT_OK(P(S64), "-9223372036854775808", "-9223372036854775808");
    RT_OK(P(U64), "18446744073709551615", "18446744073709551615");
    RT_ERR(P(S64), "9223372036854775808", "out of range for s64");
    /* floats to integers: Rust's `as` (truncate, saturate) */
    RT_OK(P(U8), "300.7", "255");
    RT_OK(P(S8), "-3.9", "-3");
    RT_OK(P(U32), "-5.5", "0");
    RT_OK(P(S32), "1e300", "2147483647");
    RT_OK(P(U64), "1e300", "18446744073709551615");
    RT_OK(P(S64), "-1e300", "-9223372036854775808");
    /* integers to floats (SUBTRACT(1,1) in Homestar's tests) */
    RT_OK(P(F64), "1", "1.0");
    RT_OK(P(F64), "-3", "-3.0");
    RT_OK(P(F32), "16777217", "16777216.0");
    RT_OK(P(F64), "0.1", "0.1");
    /* float32 results are lifted through a decimal, as rust_decimal does */
    RT_OK(P(F32), "0.1", "0.1");
    RT_OK(P(F32), "3.14159", "3.14159");
    RT_OK(P(CHAR), "\"x\"", "\"x\"");
    RT_OK(P(CHAR), "\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\"");
    RT_ERR(P(CHAR), "\"xy\"", "exactly one character");
    RT_ERR(P(BOOL), "1", "integer cannot be converted to bool");
    RT_ERR(P(S32), "\"5\"", "string cannot be converted to s32");
    RT_ERR(P(S32), "null", "null cannot be converted to s32");
    /* compat: a list stands for its first item; an empty list for false */
    RT_OK(P(S32), "[7, 8]", "7");
    RT_OK(P(BOOL), "[]", "false");
}

IPVM_TEST(wasm, abi_strings)
{
    RT_OK(P(STRING), "\"Natural Science\"", "\"Natural Science\"");
    RT_OK(P(STRING), "\"\"", "\"\"");
    /* compat: null goes in as "null" and "null" comes out as null */
    RT_OK(P(STRING), "null", "null");
    /* bytes go in as unpadded base64 */
    RT_OK(P(STRING), "{\"/\":{\"bytes\":\"AQID\"}}", "\"AQID\"");
    RT_OK(P(STRING), "{\"/\":{\"bytes\":\"AQ\"}}", "\"AQ\"");
    /* links go in as their string, and a CID-looking string comes out as a link */
    RT_OK(P(STRING), "{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}",
          "{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}");
    RT_OK(P(STRING), "\"QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn\"",
          "{\"/\":\"QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn\"}");
    RT_OK(P(STRING), "\"/ipfs/bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"",
          "{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}");
    RT_OK(P(STRING), "\"bafy not a cid\"", "\"bafy not a cid\"");
    RT_ERR(P(STRING), "5", "integer cannot be converted to string");
}

IPVM_TEST(wasm, abi_containers)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm__wit_type_t *lu8 = mk(&a, IPVM__WIT_LIST, 1, T(P(U8)), NULL);
    RT_OK(lu8, "{\"/\":{\"bytes\":\"AAECAw\"}}", "{\"/\":{\"bytes\":\"AAECAw\"}}");
    RT_OK(lu8, "[1,2,255]", "{\"/\":{\"bytes\":\"AQL/\"}}");
    RT_OK(lu8, "[]", "[]"); /* compat: an empty list<u8> comes out as a list */
    RT_ERR(lu8, "[1,256]", "at [1] (u8): integer 256 is out of range for u8");
    RT_ERR(lu8, "\"abc\"", "cannot be converted to a list");
    const ipvm__wit_type_t *l16 = mk(&a, IPVM__WIT_LIST, 1, T(P(U16)), NULL);
    const ipvm__wit_type_t *ll16 = mk(&a, IPVM__WIT_LIST, 1, T(l16), NULL);
    RT_OK(ll16, "[[1,2,3],[4,5,6],[]]", "[[1,2,3],[4,5,6],[]]");
    RT_ERR(l16, "{\"/\":{\"bytes\":\"AAECAw\"}}", "cannot be converted to a list");
    const ipvm__wit_type_t *tup = mk(&a, IPVM__WIT_TUPLE, 2, T(P(STRING), P(F64)), NULL);
    RT_OK(tup, "[\"a\", 1.5]", "[\"a\",1.5]");
    RT_ERR(tup, "[\"a\"]", "a tuple of 2 is a list of 2 items");
    const ipvm__wit_type_t *ou32 = mk(&a, IPVM__WIT_OPTION, 1, T(P(U32)), NULL);
    const ipvm__wit_type_t *rec = mk(&a, IPVM__WIT_RECORD, 2, T(P(STRING), ou32),
                                     L("name", "val"));
    RT_OK(rec, "{\"name\":\"x\",\"val\":3,\"extra\":true}", "{\"name\":\"x\",\"val\":3}");
    RT_OK(rec, "{\"name\":\"x\",\"val\":null}", "{\"name\":\"x\",\"val\":null}");
    RT_ERR(rec, "{\"name\":\"x\"}", "field \"val\" is missing");
    RT_ERR(rec, "{\"name\":5,\"val\":1}", "at .name (string): integer cannot be converted");
    /* map <-> list<tuple<string, T>> */
    const ipvm__wit_type_t *kv = mk(&a, IPVM__WIT_TUPLE, 2, T(P(STRING), P(S32)), NULL);
    const ipvm__wit_type_t *map = mk(&a, IPVM__WIT_LIST, 1, T(kv), NULL);
    RT_OK(map, "{\"b\":2,\"a\":1,\"cc\":3}", "{\"a\":1,\"b\":2,\"cc\":3}");
    RT_OK(map, "[[\"x\",1]]", "{\"x\":1}");
    /* variants, enums, flags */
    const ipvm__wit_type_t *var = mk(&a, IPVM__WIT_VARIANT, 3, T(P(S64), NULL, P(STRING)),
                                     L("num", "none", "text"));
    RT_OK(var, "{\"num\":-5}", "{\"num\":-5}");
    RT_OK(var, "{\"none\":\"ignored\"}", "{\"none\":null}");
    RT_OK(var, "{\"text\":\"hi\"}", "{\"text\":\"hi\"}");
    RT_OK(var, "{\"text\":\"hi\",\"num\":1}", "{\"num\":1}"); /* compat: first key in byte order */
    RT_ERR(var, "{\"other\":1}", "no variant case is named \"other\"");
    const ipvm__wit_type_t *en = mk(&a, IPVM__WIT_ENUM, 3, NULL, L("red", "green", "blue"));
    RT_OK(en, "\"blue\"", "\"blue\"");
    RT_ERR(en, "\"pink\"", "\"pink\" is not a case of the enum");
    const ipvm__wit_type_t *fl = mk(&a, IPVM__WIT_FLAGS, 3, NULL, L("r", "w", "x"));
    RT_OK(fl, "[\"x\",\"r\"]", "[\"r\",\"x\"]");
    RT_OK(fl, "[]", "[]");
    RT_ERR(fl, "[\"q\"]", "item 0 is not the name of a flag");
    /* results: [ok, null] / [null, err], with 1 standing for a missing payload */
    const ipvm__wit_type_t *res = mk(&a, IPVM__WIT_RESULT, 2, T(P(U32), P(STRING)), NULL);
    RT_OK(res, "[5, null]", "[5,null]");
    RT_OK(res, "[null, \"bad stuff\"]", "[null,\"bad stuff\"]");
    RT_ERR(res, "[1, 2]", "neither item is null");
    RT_ERR(res, "5", "a result is a list");
    const ipvm__wit_type_t *rs = mk(&a, IPVM__WIT_RESULT, 2, T(P(S32), NULL), NULL);
    RT_OK(rs, "[0, null]", "[0,null]");
    RT_OK(rs, "[null, 1]", "[null,1]");
    RT_OK(rs, "[null, \"anything\"]", "[null,1]");
    const ipvm__wit_type_t *r0 = mk(&a, IPVM__WIT_RESULT, 2, T(NULL, NULL), NULL);
    RT_OK(r0, "[1, null]", "[1,null]");
    RT_OK(r0, "[\"x\", null]", "[1,null]");
    /* options nest: the outer none is null */
    const ipvm__wit_type_t *oo = mk(&a, IPVM__WIT_OPTION, 1, T(ou32), NULL);
    RT_OK(oo, "7", "7");
    RT_OK(oo, "null", "null");
    ipvm_arena_dispose(&a);
}

/* Flat lowering of a function's params, checked value by value. */
IPVM_TEST(wasm, abi_flat_values)
{
    ipvm__abi_t abi;
    ipvm_buf_t mod = IPVM_BUF_INIT;
    abi_load_world(&abi, "example_test.wasm", &mod);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    abi_buf_t b;
    abi_buf_init(&b, 1 << 16);
    uint64_t flat[16];
    ipvm_error_t err;
    const ipvm__wit_func_t *kv = abi_export(&abi, "num-to-kv")->func;
    IPVM_ASSERT_EQ(kv->nflat_params, 3);
    IPVM_ASSERT_OK_ERR(ipvm__abi_lower_args(kv, &b.m, abi_json(&a, "[[1, null]]"), flat, &err),
                       &err);
    IPVM_ASSERT_EQ(flat[0], 0);
    IPVM_ASSERT_EQ(flat[1], 1);
    IPVM_ASSERT_EQ(flat[2], 0);
    IPVM_ASSERT_OK_ERR(
        ipvm__abi_lower_args(kv, &b.m, abi_json(&a, "[[null, \"bad\"]]"), flat, &err), &err);
    IPVM_ASSERT_EQ(flat[0], 1);
    IPVM_ASSERT_EQ(flat[2], 3);
    IPVM_ASSERT_MEMEQ(b.mem + flat[1], 3, "bad", 3);
    /* crop: (ptr, len) of the bytes, then four u32 */
    const ipvm__wit_func_t *crop = abi_export(&abi, "crop")->func;
    int before = b.reallocs;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lower_args(
                           crop, &b.m, abi_json(&a, "[{\"/\":{\"bytes\":\"AQID\"}},1,2,3,4,5]"),
                           flat, &err),
                       &err);
    IPVM_ASSERT_EQ(b.reallocs, before + 1);
    IPVM_ASSERT_EQ(flat[1], 3);
    IPVM_ASSERT_MEMEQ(b.mem + flat[0], 3, "\1\2\3", 3);
    IPVM_ASSERT_EQ(flat[5], 4); /* the extra sixth argument is ignored, as Homestar does */
    IPVM_ASSERT_ERR(ipvm__abi_lower_args(crop, &b.m, abi_json(&a, "[{\"/\":{\"bytes\":\"\"}}]"),
                                         flat, &err),
                    IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "takes 5 arguments, 1 given");
    /* a negative s32 is its two's complement in the i32 */
    const ipvm__wit_func_t *add = abi_export(&abi, "add-one")->func;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lower_args(add, &b.m, abi_json(&a, "[-2]"), flat, &err), &err);
    IPVM_ASSERT_EQ_U64(flat[0], 0xfffffffeu);
    IPVM_ASSERT_ERR(ipvm__abi_lower_args(add, &b.m, abi_json(&a, "[2147483648]"), flat, &err),
                    IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "argument 1 (a: s32)");
    /* memory full: the realloc's error comes back, naming the argument */
    abi_buf_t tiny;
    abi_buf_init(&tiny, 32);
    IPVM_ASSERT_ERR(
        ipvm__abi_lower_args(abi_export(&abi, "append-string")->func, &tiny.m,
                             abi_json(&a, "[\"a string longer than the memory\"]"), flat, &err),
        IPVM_ETRAP_MEMORY);
    IPVM_ASSERT_STRCONTAINS(err.msg, "argument 1");
    abi_buf_dispose(&tiny);
    abi_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    ipvm__abi_dispose(&abi);
    ipvm_buf_dispose(&mod);
}

/* Lifting checks every pointer, length, alignment, discriminant and string. */
IPVM_TEST(wasm, abi_lift_checks)
{
    ipvm__abi_t abi;
    ipvm_buf_t mod = IPVM_BUF_INIT;
    abi_load_world(&abi, "example_test.wasm", &mod);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    abi_buf_t b;
    abi_buf_init(&b, 4096);
    ipvm_ipld_t *v;
    ipvm_error_t err;
    char out[256];
    const ipvm__wit_func_t *app = abi_export(&abi, "append-string")->func;
    const ipvm__wit_func_t *hash = abi_export(&abi, "hash")->func;
    const ipvm__wit_func_t *pop = abi_export(&abi, "pop")->func;
    const ipvm__wit_func_t *kv = abi_export(&abi, "num-to-kv")->func;
    uint64_t ret[1] = {64};
    uint32_t *w = (uint32_t *)(b.mem + 64);
    memcpy(b.mem + 128, "Roundabout", 10);
    w[0] = 128, w[1] = 10;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), &err);
    IPVM_ASSERT_STREQ(abi_to_json(v, out, sizeof out), "\"Roundabout\"");
    w[1] = 5000; /* past the end of memory */
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "out of bounds");
    w[0] = 0xfffffff0u, w[1] = 0x20; /* wraps around 32 bits */
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), IPVM_EABI);
    memcpy(b.mem + 128, "ab\xc3(", 4);
    w[0] = 128, w[1] = 4;
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not UTF-8");
    memcpy(b.mem + 128, "\xed\xa0\x80", 3); /* a surrogate */
    w[1] = 3;
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), IPVM_EABI);
    ret[0] = 62; /* misaligned return area */
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not aligned");
    ret[0] = 4094;
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(app, &b.m, ret, &a, &v, &err), IPVM_EABI);
    /* hash -> list<u8>: bytes in one copy */
    ret[0] = 64;
    memcpy(b.mem + 128, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    w[0] = 128, w[1] = 8;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lift_results(hash, &b.m, ret, &a, &v, &err), &err);
    IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_BYTES);
    IPVM_ASSERT_MEMEQ(v->u.str.ptr, v->u.str.len, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    /* pop -> option<s32>: discriminant 0, 1, or bad */
    b.mem[64] = 1;
    w[1] = (uint32_t)-7;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lift_results(pop, &b.m, ret, &a, &v, &err), &err);
    IPVM_ASSERT_STREQ(abi_to_json(v, out, sizeof out), "-7");
    b.mem[64] = 0;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lift_results(pop, &b.m, ret, &a, &v, &err), &err);
    IPVM_ASSERT_STREQ(abi_to_json(v, out, sizeof out), "null");
    b.mem[64] = 2;
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(pop, &b.m, ret, &a, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "discriminant 2");
    /* num-to-kv -> record {name: string, val: option<u32>} */
    memcpy(b.mem + 128, "NAN", 3);
    w[0] = 128, w[1] = 3, w[2] = 0, w[3] = 0;
    IPVM_ASSERT_OK_ERR(ipvm__abi_lift_results(kv, &b.m, ret, &a, &v, &err), &err);
    IPVM_ASSERT_STREQ(abi_to_json(v, out, sizeof out), "{\"name\":\"NAN\",\"val\":null}");
    /* lists of strings pointing at the same bytes cannot blow up the result */
    const ipvm__wit_type_t *ls = mk(&a, IPVM__WIT_LIST, 1, T(P(STRING)), NULL);
    ipvm__wit_func_t *f = func1(&a, ls, 0);
    abi_buf_t big;
    abi_buf_init(&big, 1 << 21);
    big.m.max_lift = 64 << 20;
    uint32_t *bw = (uint32_t *)big.mem;
    bw[0] = 16, bw[1] = 100000; /* 100000 strings, each the whole 2 MiB */
    for (uint32_t i = 0; i < 100000; i++)
        bw[4 + 2 * i] = 1 << 20, bw[5 + 2 * i] = 1 << 20;
    ret[0] = 0;
    IPVM_ASSERT_ERR(ipvm__abi_lift_results(f, &big.m, ret, &a, &v, &err), IPVM_EABI);
    IPVM_ASSERT_STRCONTAINS(err.msg, "larger than");
    abi_buf_dispose(&big);
    abi_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    ipvm__abi_dispose(&abi);
    ipvm_buf_dispose(&mod);
}

/* float32 -> float64 the way rust_decimal 1.34 does it (Decimal::from_f32(v).to_f64()):
 * checked against the decimal representation with the f32's 7 significant digits, which is
 * what the algorithm keeps, computed here with printf. */
IPVM_TEST(wasm, abi_f32_decimal)
{
    static const float vals[] = {0.1f, 0.2f, 0.3f, 1.5f, 3.14159f, 2.5e-3f, 123456.7f,
                                 1.0f / 3.0f, 1e-5f, 42.0f, -0.75f, 1e7f, 65504.0f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        double d;
        IPVM_ASSERT(ipvm__abi_f32_to_f64(vals[i], &d));
        char want[64];
        snprintf(want, sizeof want, "%.7g", (double)vals[i]);
        IPVM_ASSERT_DBL_EQ(d, strtod(want, NULL));
    }
    double d;
    IPVM_ASSERT(ipvm__abi_f32_to_f64(-0.0f, &d));
    IPVM_ASSERT_DBL_EQ(d, 0.0);
    IPVM_ASSERT(!ipvm__abi_f32_to_f64(NAN, &d));
    IPVM_ASSERT(!ipvm__abi_f32_to_f64(INFINITY, &d));
}

IPVM_TEST(wasm, abi_name_variants)
{
    static const struct {
        const char *in, *out[7];
    } cases[] = {
        /* as given, UPPER, kebab, snake, lowerCamel, Pascal, %name (heck 0.4) */
        {"add_one", {"add_one", "ADD_ONE", "add-one", "add_one", "addOne", "AddOne", "%add_one"}},
        {"subtractInt",
         {"subtractInt", "SUBTRACTINT", "subtract-int", "subtract_int", "subtractInt",
          "SubtractInt", "%subtractInt"}},
        {"SUBTRACT", {"SUBTRACT", "SUBTRACT", "subtract", "subtract", "subtract", "Subtract",
                      "%SUBTRACT"}},
        {"HTTPServer2go",
         {"HTTPServer2go", "HTTPSERVER2GO", "http-server2go", "http_server2go", "httpServer2go",
          "HttpServer2go", "%HTTPServer2go"}},
        {"--a  b--", {"--a  b--", "--A  B--", "a-b", "a_b", "aB", "AB", "%--a  b--"}},
        {"rotate90-base64",
         {"rotate90-base64", "ROTATE90-BASE64", "rotate90-base64", "rotate90_base64",
          "rotate90Base64", "Rotate90Base64", "%rotate90-base64"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int v = 0; v < IPVM__ABI_NAME_VARIANTS; v++) {
            char out[64];
            ipvm__abi_name_variant(cases[i].in, v, out, sizeof out);
            IPVM_ASSERT_STREQ(out, cases[i].out[v]);
        }
    }
    char small[4];
    ipvm__abi_name_variant("add_one", 2, small, sizeof small);
    IPVM_ASSERT_STREQ(small, "add");
}
