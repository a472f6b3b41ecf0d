/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the DAG-JSON codec: the text @ipld/dag-json writes (key order, escapes, number
 * forms), links and bytes, integers past 64 bits read as floats, each rejection with offset
 * and reason, and OOM at every allocation. */
#include "test.h"

#include <math.h>

/* Decodes `in` and checks that re-encoding gives `want` (NULL: the same text). */
static void roundtrip(const char *in, const char *want)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode(in, strlen(in), &a, &v, &err), &err);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_encode(v, 0, &b, &err), &err);
    IPVM_ASSERT_STREQ((const char *)b.data, want ? want : in);
    /* through DAG-CBOR and back: the same data */
    ipvm_buf_t c = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(ipvm_dagcbor_encode(v, &c, &err), &err);
    ipvm_ipld_t *w = NULL;
    IPVM_ASSERT_OK_ERR(ipvm_dagcbor_decode(c.data, c.len, &a, &w, &err), &err);
    IPVM_ASSERT(ipvm_ipld_equal(v, w));
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&c);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, json_roundtrip_forms)
{
    roundtrip("null", NULL);
    roundtrip("true", NULL);
    roundtrip(" \t\r\n false \n", "false");
    roundtrip("0", NULL);
    roundtrip("-0", "0");
    roundtrip("-1", NULL);
    roundtrip("18446744073709551615", NULL);
    roundtrip("-9223372036854775808", NULL);
    roundtrip("[]", NULL);
    roundtrip("{}", NULL);
    roundtrip("[1,[2,[3,{}]],\"x\"]", NULL);
    roundtrip("[ 1 , 2 ]", "[1,2]");
    /* keys in JavaScript string order (not DAG-CBOR's length-first order) */
    roundtrip("{\"b\":1,\"aa\":2,\"a\":3,\"\":4}", "{\"\":4,\"a\":3,\"aa\":2,\"b\":1}");
    /* UTF-16 order: U+10000 (surrogates D800 DC00) sorts before U+FFFF */
    roundtrip("{\"\xef\xbf\xbf\":1,\"\xf0\x90\x80\x80\":2}", "{\"\xf0\x90\x80\x80\":2,\"\xef\xbf\xbf\":1}");
    /* JSON.stringify's escapes; other text, DEL and U+2028 included, as is */
    roundtrip("\"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\\" \\\\ / \x7f \xe2\x80\xa8\"", NULL);
    roundtrip("\"\\/\\u00e9\\u00E9\\ud83d\\ude00\"", "\"/\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80\"");
    roundtrip("{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}", NULL);
    roundtrip("{\"/\":\"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n\"}", NULL);
    roundtrip("{\"/\":{\"bytes\":\"\"}}", NULL);
    roundtrip("{\"/\":{\"bytes\":\"AQID\"}}", NULL);
    roundtrip("{\"/\":{\"bytes\":\"AQ==\"}}", "{\"/\":{\"bytes\":\"AQ\"}}"); /* as @ipld/dag-json */
    /* "/" holding something else is a plain map */
    roundtrip("{\"/\":1}", NULL);
    roundtrip("{\"/\":{\"bytes\":1}}", NULL);
    roundtrip("{\"/\":[\"x\"]}", NULL);
    roundtrip("{\"/\":{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}}", NULL);
}

IPVM_TEST(ipld, json_numbers)
{
    /* floats in the shortest form ECMAScript's Number::toString gives (what @ipld/dag-json
     * writes), with ".0" added when that has no point or exponent */
    static const struct {
        double v;
        const char *text;
    } f[] = {
        {0.1, "0.1"},
        {1.5, "1.5"},
        {-1.5, "-1.5"},
        {123.456, "123.456"},
        {4.35, "4.35"},
        {1e21, "1e+21"},
        {1.5e300, "1.5e+300"},
        {1e-7, "1e-7"},
        {0.000001, "0.000001"},
        {1.2345e-7, "1.2345e-7"},
        {5e-324, "5e-324"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9.313225746154785e-10, "9.313225746154785e-10"}, /* 2^-30 */
        {0.30000000000000004, "0.30000000000000004"},
        {1.0, "1.0"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {1e20, "100000000000000000000.0"},
        {18446744073709551616.0, "18446744073709552000.0"},
        {123456789012345680.0, "123456789012345680.0"},
    };
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_dagjson_encode(ipvm_ipld_new_float(&a, f[i].v), 0, &b, NULL));
        IPVM_ASSERT_STREQ((const char *)b.data, f[i].text);
        ipvm_ipld_t *v = NULL;
        IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)b.data, b.len, &a, &v, NULL));
        IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_FLOAT);
        IPVM_ASSERT_DBL_EQ(v->u.f, f[i].v);
        ipvm_buf_dispose(&b);
    }
    /* integers: exact inside [-2^63, 2^64-1]; outside, float64 as serde_json reads them */
    static const struct {
        const char *text;
        ipvm_ipld_kind_t kind;
        double f;
    } n[] = {
        {"18446744073709551615", IPVM_IPLD_INT, 0},
        {"18446744073709551616", IPVM_IPLD_FLOAT, 18446744073709551616.0},
        {"18446744073709552000", IPVM_IPLD_FLOAT, 18446744073709551616.0},
        {"-9223372036854775808", IPVM_IPLD_INT, 0},
        {"-9223372036854775809", IPVM_IPLD_FLOAT, -9223372036854775808.0},
        {"123456789012345678901234567890", IPVM_IPLD_FLOAT, 1.2345678901234568e29},
        {"1e2", IPVM_IPLD_FLOAT, 100.0},
        {"1E+2", IPVM_IPLD_FLOAT, 100.0},
        {"0e5", IPVM_IPLD_FLOAT, 0.0},
        {"-0.0", IPVM_IPLD_FLOAT, -0.0},
        {"1e-400", IPVM_IPLD_FLOAT, 0.0}, /* underflows to zero, as JavaScript reads it */
    };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        ipvm_ipld_t *v = NULL;
        ipvm_error_t err;
        IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode(n[i].text, strlen(n[i].text), &a, &v, &err), &err);
        IPVM_ASSERT_MSG(v->kind == n[i].kind, "%s read as %s", n[i].text,
                        ipvm_ipld_kind_name(v->kind));
        if (v->kind == IPVM_IPLD_FLOAT)
            IPVM_ASSERT_DBL_EQ(v->u.f, n[i].f);
    }
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode("-9223372036854775808", 20, &a, &v, NULL));
    int64_t i64 = 0;
    IPVM_ASSERT_OK(ipvm_ipld_get_i64(v, &i64));
    IPVM_ASSERT(i64 == INT64_MIN);
    /* IPVM_DECODE_IPLD_INTS: [-2^64, 2^64-1] as integers, as @ipld/dag-json and the codec
     * fixtures read them (fixture int--11959030306112471732) */
    ipvm_decode_opts_t o = {.max_depth = 0, .flags = IPVM_DECODE_IPLD_INTS};
    static const struct {
        const char *text;
        uint64_t mag;
    } wide[] = {{"-11959030306112471732", 11959030306112471731u},
                {"-9223372036854775809", 9223372036854775808u},
                {"-18446744073709551616", UINT64_MAX}};
    for (size_t i = 0; i < 3; i++) {
        IPVM_ASSERT_OK(ipvm_dagjson_decode_opts(wide[i].text, strlen(wide[i].text), &o, &a, &v,
                                                NULL));
        IPVM_ASSERT(v->kind == IPVM_IPLD_INT && v->u.integer.neg);
        IPVM_ASSERT_EQ_U64(v->u.integer.mag, wide[i].mag);
        ipvm_buf_t t = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_dagjson_encode(v, 0, &t, NULL));
        IPVM_ASSERT_STREQ((const char *)t.data, wide[i].text);
        ipvm_buf_dispose(&t);
    }
    /* beyond the CBOR range it is still a float */
    IPVM_ASSERT_OK(ipvm_dagjson_decode_opts("-18446744073709551617", 21, &o, &a, &v, NULL));
    IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_FLOAT);
    IPVM_ASSERT_OK(ipvm_dagjson_decode_opts("18446744073709551616", 20, &o, &a, &v, NULL));
    IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_FLOAT);
    /* -2^64 is a CBOR integer; DAG-JSON writes it and (by the serde rule) reads a float */
    ipvm_ipld_t *m = ipvm_ipld_new_uint(&a, UINT64_MAX);
    m->u.integer.neg = true;
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagjson_encode(m, 0, &b, NULL));
    IPVM_ASSERT_STREQ((const char *)b.data, "-18446744073709551616");
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

static void expect_reject(const char *in, size_t len, int code, size_t off, const char *why)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = (ipvm_ipld_t *)&a;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_dagjson_decode(in, len, &a, &v, &err);
    IPVM_ASSERT_MSG(rc == code, "%s: got %s (%s), want %s", in, ipvm_err_name(rc), err.msg,
                    ipvm_err_name(code));
    IPVM_ASSERT(v == NULL);
    IPVM_ASSERT_MSG(err.offset == off, "%s: offset %zu, want %zu (%s)", in, err.offset, off,
                    err.msg);
    IPVM_ASSERT_STRCONTAINS(err.msg, why);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, json_rejects)
{
    static const struct {
        const char *in;
        size_t off;
        const char *why;
    } bad[] = {
        {"", 0, "end of input"},
        {"   ", 3, "end of input"},
        {"nul", 0, "null"},
        {"True", 0, "value was expected"},
        {"01", 0, "leading zeros"},
        {"-01", 1, "leading zeros"},
        {"-", 1, "digit"},
        {"1.", 2, "decimal point"},
        {"1.e5", 2, "decimal point"},
        {".5", 0, "value was expected"},
        {"1e", 2, "exponent"},
        {"1e+", 3, "exponent"},
        {"+1", 0, "value was expected"},
        {"1e400", 0, "too large"},
        {"-1e400", 0, "too large"},
        {"NaN", 0, "value was expected"},
        {"Infinity", 0, "value was expected"},
        {"[1,]", 3, "value was expected"},
        {"[1 2]", 3, "',' or ']'"},
        {"[", 1, "end of input"},
        {"{\"a\"}", 4, "':'"},
        {"{\"a\":1,}", 7, "string key"},
        {"{a:1}", 1, "string key"},
        {"{\"a\":1 \"b\":2}", 7, "',' or '}'"},
        {"{\"a\":1,\"a\":2}", 7, "duplicate map key \"a\""},
        {"{\"b\":1,\"a\":2,\"b\":3}", 13, "duplicate"},
        {"\"abc", 0, "unterminated"},
        {"\"a\\", 0, "unterminated"},
        {"\"\\x\"", 1, "invalid escape"},
        {"\"\\'\"", 1, "invalid escape"},
        {"\"\\u12\"", 3, "four hex digits"},
        {"\"\\ud800\"", 1, "not followed by a low surrogate"},
        {"\"\\ud800\\u0041\"", 1, "not followed by a low surrogate"},
        {"\"\\udc00\"", 1, "lone low surrogate"},
        {"\"a\tb\"", 2, "control character"},
        {"\"\xc3\x28\"", 1, "UTF-8"},
        {"\"ab\xed\xa0\x80\"", 3, "UTF-8"},
        {"\"\\n\xff\"", 3, "UTF-8"},
        {"1 2", 2, "after the end"},
        {"{} x", 3, "after the end"},
        {"{\"/\":\"nope\"}", 5, "valid CID"},
        {"{\"/\":\"\"}", 5, "valid CID"},
        {"{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\",\"a\":1}", 0,
         "no other keys"},
        {"{\"a\":1,\"/\":\"x\"}", 0, "no other keys"},
        {"{\"/\":{\"bytes\":\"AQ\",\"x\":1}}", 5, "no other keys"},
        {"{\"/\":{\"bytes\":\"AQ\"},\"x\":1}", 0, "no other keys"},
        {"{\"/\":{\"bytes\":\"A\"}}", 5, "base64"},
        {"{\"/\":{\"bytes\":\"AR\"}}", 5, "base64"},
        {"{\"/\":{\"bytes\":\"A Q\"}}", 5, "base64"},
        {"{\"/\":{\"bytes\":\"-_\"}}", 5, "base64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i].in, strlen(bad[i].in), IPVM_EJSON, bad[i].off, bad[i].why);
    expect_reject("\"a\0b\"", 5, IPVM_EJSON, 2, "control character");
    /* depth */
    char deep[600];
    memset(deep, '[', 257);
    memset(deep + 257, ']', 257);
    expect_reject(deep, 514, IPVM_ETOODEEP, 256, "deeper than 256");
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(deep + 1, 512, &a, &v, NULL));
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, json_encode_rejects_and_pretty)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    IPVM_ASSERT_ERR(ipvm_dagjson_encode(ipvm_ipld_new_float(&a, NAN), 0, &b, &err), IPVM_EJSON);
    IPVM_ASSERT_ERR(ipvm_dagjson_encode(ipvm_ipld_new_float(&a, INFINITY), 0, &b, &err),
                    IPVM_EJSON);
    IPVM_ASSERT_ERR(ipvm_dagjson_encode(ipvm_ipld_new_string(&a, "\xff", 1), 0, &b, &err),
                    IPVM_EJSON);
    IPVM_ASSERT_STRCONTAINS(err.msg, "UTF-8");
    /* a plain map that would read back as a link or as bytes */
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "/", ipvm_ipld_new_cstring(&a, "x")));
    IPVM_ASSERT_ERR(ipvm_dagjson_encode(m, 0, &b, &err), IPVM_EJSON);
    IPVM_ASSERT_STRCONTAINS(err.msg, "link or bytes");
    ipvm_ipld_t *inner = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, inner, "bytes", ipvm_ipld_new_cstring(&a, "AQ")));
    m = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "/", inner));
    IPVM_ASSERT_ERR(ipvm_dagjson_encode(m, 0, &b, &err), IPVM_EJSON);
    IPVM_ASSERT_EQ(b.len, 0);
    /* pretty output is for people; it reads back to the same data */
    const char *in = "{\"a\":[1,{\"b\":null}],\"c\":{},\"d\":[]}";
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(in, strlen(in), &a, &v, NULL));
    IPVM_ASSERT_OK(ipvm_dagjson_encode(v, IPVM_JSON_PRETTY, &b, NULL));
    IPVM_ASSERT_STREQ((const char *)b.data, "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n"
                                            "    }\n  ],\n  \"c\": {},\n  \"d\": []\n}");
    ipvm_ipld_t *w = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)b.data, b.len, &a, &w, NULL));
    IPVM_ASSERT(ipvm_ipld_equal(v, w));
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, json_oom)
{
    ipvm_buf_t w0 = IPVM_BUF_INIT, f = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/workflows/test-workflow-add-one-nonced.json"),
                        &w0);
    /* add escapes, bytes, links and floats so every allocation path is taken */
    IPVM_ASSERT_OK(ipvm_buf_printf(
        &f, "[%s,{\"a\\n\":[\"x\\u00e9\",{\"/\":{\"bytes\":\"AQID\"}},1.5,-2.5e-300,"
            "{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du\"}]}]",
        (const char *)w0.data));
    ipvm_buf_dispose(&w0);
    long n;
    for (n = 0;; n++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm_ipld_t *v = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_alloc_fail_after(n);
        int rc = ipvm_dagjson_decode((const char *)f.data, f.len, &a, &v, &err);
        if (rc == 0)
            rc = ipvm_dagjson_encode(v, 0, &b, &err);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0) {
            IPVM_ASSERT(!failed);
            ipvm_ipld_t *w = NULL;
            IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)b.data, b.len, &a, &w, NULL));
            IPVM_ASSERT(ipvm_ipld_equal(v, w));
            ipvm_buf_dispose(&b);
            ipvm_arena_dispose(&a);
            break;
        }
        IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
        IPVM_ASSERT(failed);
        IPVM_ASSERT(v == NULL || b.len == 0);
        ipvm_buf_dispose(&b);
        ipvm_arena_dispose(&a);
    }
    IPVM_ASSERT(n >= 3);
    ipvm_buf_dispose(&f);
}
