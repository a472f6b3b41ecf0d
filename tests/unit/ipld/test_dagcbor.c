/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the strict DAG-CBOR codec: encodings of every kind at the boundaries of each CBOR
 * width (RFC 8949 appendix A values), key order, links, each rejection rule with its byte
 * offset and reason, depth limits, and OOM at every allocation. */
#include "test.h"

#include <math.h>

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        if (hex[0] == ' ') {
            hex--;
            continue;
        }
        unsigned v;
        IPVM_ASSERT(sscanf(hex, "%2x", &v) == 1);
        IPVM_ASSERT(n < cap);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void expect_enc(const ipvm_ipld_t *v, const char *hex)
{
    uint8_t want[512];
    size_t wl = unhex(hex, want, sizeof want);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_dagcbor_encode(v, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, want, wl);
    /* and it decodes back to an equal value that encodes to the same bytes */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *back = NULL;
    IPVM_ASSERT_OK_ERR(ipvm_dagcbor_decode(want, wl, &a, &back, &err), &err);
    IPVM_ASSERT(ipvm_ipld_equal(v, back));
    ipvm_buf_t b2 = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(back, &b2, NULL));
    IPVM_ASSERT_MEMEQ(b2.data, b2.len, want, wl);
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&b2);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, cbor_int_boundaries)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    static const struct {
        uint64_t mag;
        bool neg;
        const char *hex;
    } vec[] = {
        {0, false, "00"},
        {23, false, "17"},
        {24, false, "1818"},
        {255, false, "18ff"},
        {256, false, "190100"},
        {65535, false, "19ffff"},
        {65536, false, "1a00010000"},
        {4294967295u, false, "1affffffff"},
        {4294967296u, false, "1b0000000100000000"},
        {UINT64_MAX, false, "1bffffffffffffffff"},
        {0, true, "20"},   /* -1 */
        {23, true, "37"},  /* -24 */
        {24, true, "3818"}, /* -25 */
        {255, true, "38ff"},
        {256, true, "390100"},
        {65536, true, "3a00010000"},
        {4294967296u, true, "3b0000000100000000"},
        {UINT64_MAX, true, "3bffffffffffffffff"}, /* -2^64 */
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        ipvm_ipld_t *v = ipvm_ipld_new_uint(&a, vec[i].mag);
        v->u.integer.neg = vec[i].neg;
        expect_enc(v, vec[i].hex);
    }
    expect_enc(ipvm_ipld_new_int(&a, INT64_MIN), "3b7fffffffffffffff");
    expect_enc(ipvm_ipld_new_int(&a, -1000), "3903e7");
    expect_enc(ipvm_ipld_new_int(&a, 1000000), "1a000f4240");
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, cbor_scalars)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    expect_enc(ipvm_ipld_new_null(&a), "f6");
    expect_enc(ipvm_ipld_new_bool(&a, true), "f5");
    expect_enc(ipvm_ipld_new_bool(&a, false), "f4");
    /* every float is float64, even those float16 could hold */
    expect_enc(ipvm_ipld_new_float(&a, 0.0), "fb0000000000000000");
    expect_enc(ipvm_ipld_new_float(&a, -0.0), "fb8000000000000000");
    expect_enc(ipvm_ipld_new_float(&a, 1.0), "fb3ff0000000000000");
    expect_enc(ipvm_ipld_new_float(&a, 1.1), "fb3ff199999999999a");
    expect_enc(ipvm_ipld_new_float(&a, -4.1), "fbc010666666666666");
    expect_enc(ipvm_ipld_new_float(&a, 1.0e+300), "fb7e37e43c8800759c");
    expect_enc(ipvm_ipld_new_float(&a, 5e-324), "fb0000000000000001");
    expect_enc(ipvm_ipld_new_cstring(&a, ""), "60");
    expect_enc(ipvm_ipld_new_cstring(&a, "IETF"), "6449455446");
    expect_enc(ipvm_ipld_new_cstring(&a, "\xc3\xbc"), "62c3bc");
    expect_enc(ipvm_ipld_new_cstring(&a, "\xe6\xb0\xb4"), "63e6b0b4");
    expect_enc(ipvm_ipld_new_cstring(&a, "\xf0\x90\x85\x91"), "64f0908591");
    expect_enc(ipvm_ipld_new_bytes(&a, (const uint8_t *)"", 0), "40");
    expect_enc(ipvm_ipld_new_bytes(&a, (const uint8_t *)"\x01\x02\x03\x04", 4), "4401020304");
    /* a string of 24 bytes takes the one-byte length form */
    expect_enc(ipvm_ipld_new_cstring(&a, "abcdefghijklmnopqrstuvwx"),
               "7818 6162636465666768696a6b6c6d6e6f707172737475767778");
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, cbor_containers_and_key_order)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *l = ipvm_ipld_new_list(&a, 0);
    expect_enc(l, "80");
    for (int i = 1; i <= 25; i++)
        IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, l, ipvm_ipld_new_int(&a, i)));
    expect_enc(l, "98190102030405060708090a0b0c0d0e0f101112131415161718181819");
    /* keys go shortest first, then bytewise: "b" < "aa" < "aaa" (length first), "a" < "b" */
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 0);
    expect_enc(m, "a0");
    const char *keys[] = {"aaa", "b", "aa", "a", ""};
    for (int i = 0; i < 5; i++)
        IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, keys[i], ipvm_ipld_new_int(&a, i)));
    expect_enc(m, "a5 6004 616103 616201 62616102 63616161 00");
    /* a map whose entries were put in place by hand, out of order, is still sorted */
    ipvm_ipld_t *h = ipvm_ipld_new_map(&a, 2);
    h->u.map.entries[0] = (ipvm_ipld_entry_t){"zz", 2, ipvm_ipld_new_null(&a)};
    h->u.map.entries[1] = (ipvm_ipld_entry_t){"y", 1, ipvm_ipld_new_null(&a)};
    h->u.map.len = 2;
    h->u.map.sorted = false;
    expect_enc(h, "a2 6179f6 627a7af6");
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, cbor_links)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *s = "bafyrmihmxmsbt4n3g6dzmj7rho34mzfbaoqqbsfcq7etsogslqftbyj7du";
    ipvm_cid_t cid;
    IPVM_ASSERT_OK(ipvm_cid_parse(&cid, s, strlen(s), NULL));
    char hex[256] = "d82a5825 00";
    snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%s", ipvm_test_hex(cid.bytes, cid.len));
    expect_enc(ipvm_ipld_new_link(&a, &cid), hex);
    /* CIDv0 inside tag 42 is the bare multihash after the 0x00 */
    const char *v0 = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
    IPVM_ASSERT_OK(ipvm_cid_parse(&cid, v0, strlen(v0), NULL));
    snprintf(hex, sizeof hex, "d82a5823 00%s", ipvm_test_hex(cid.bytes, cid.len));
    expect_enc(ipvm_ipld_new_link(&a, &cid), hex);
    ipvm_arena_dispose(&a);
}

/* --------------------------------------------------------------------------- rejections -- */

static void expect_reject(const char *hex, int code, size_t off, const char *why)
{
    uint8_t in[512];
    size_t n = unhex(hex, in, sizeof in);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = (ipvm_ipld_t *)&a; /* must be cleared on failure */
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_dagcbor_decode(in, n, &a, &v, &err);
    IPVM_ASSERT_MSG(rc == code, "%s: got %s (%s), want %s", hex, ipvm_err_name(rc), err.msg,
                    ipvm_err_name(code));
    IPVM_ASSERT(v == NULL);
    IPVM_ASSERT_EQ(err.code, code);
    IPVM_ASSERT_MSG(err.offset == off, "%s: offset %zu, want %zu (%s)", hex, err.offset, off,
                    err.msg);
    IPVM_ASSERT_STRCONTAINS(err.msg, why);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, cbor_rejects)
{
    static const struct {
        const char *hex;
        size_t off;
        const char *why;
    } bad[] = {
        {"", 0, "end of input"},
        {"1817", 0, "shortest"},               /* 23 in two bytes */
        {"190017", 0, "shortest"},
        {"1a0000ffff", 0, "shortest"},
        {"1b00000000ffffffff", 0, "shortest"},
        {"3817", 0, "shortest"},
        {"5801ff", 0, "shortest"},             /* length 1 in the one-byte form */
        {"7801ff", 0, "shortest"},
        {"9801 00", 0, "shortest"},
        {"b801 616100", 0, "shortest"},
        {"18", 0, "end of input"},
        {"1b0000", 0, "end of input"},
        {"5f4101ff", 0, "indefinite"},
        {"7f6161ff", 0, "indefinite"},
        {"9f01ff", 0, "indefinite"},
        {"bf616101ff", 0, "indefinite"},
        {"ff", 0, "break"},
        {"1c", 0, "reserved"},
        {"5d", 0, "reserved"},
        {"4301", 0, "past the end"},
        {"6461", 0, "past the end"},
        {"83 0102", 0, "past the end"},
        {"83 0102 82", 3, "past the end"},
        {"a1 6161", 3, "end of input"},
        {"9b 0000000100000000 01", 0, "past the end"}, /* huge count: refused before allocating */
        {"bb 0000000100000000 01", 0, "past the end"},
        {"a2 616101 616101", 4, "duplicate"},
        {"a2 616201 616101", 4, "out of order"},
        {"a2 626161 01 616201", 5, "out of order"}, /* "aa" before "b": length first */
        {"a1 01 02", 1, "text strings"},
        {"a1 4161 02", 1, "text strings"},
        {"f7", 0, "undefined"},
        {"f0", 0, "simple value"},
        {"f820", 0, "simple value"},
        {"f93c00", 0, "float16"},
        {"fa3f800000", 0, "float32"},
        {"fb7ff8000000000000", 0, "NaN"},
        {"fb7ff0000000000000", 0, "infinite"},
        {"fbfff0000000000000", 0, "infinite"},
        {"c11a00000001", 0, "tag 1 "},
        {"d9ffff00", 0, "tag 65535"},
        {"d82a 01", 2, "byte string"},
        {"d82a 40", 3, "0x00 multibase prefix"},
        {"d82a 4101", 3, "0x00 multibase prefix"},
        {"d82a 4200 01", 5, "CID codec"},
        {"d82a 4400 017100", 7, "digest length"},
        {"d82a 4600 0171160201", 9, "digest needs 2 bytes"},
        {"62 c328", 1, "UTF-8"},                 /* bad continuation */
        {"62 c0af", 1, "UTF-8"},                 /* overlong */
        {"63 eda080", 1, "UTF-8"},               /* surrogate */
        {"64 f4908080", 1, "UTF-8"},             /* past U+10FFFF */
        {"a1 61ff 00", 2, "UTF-8"},
        {"00 00", 1, "unexpected bytes after"},
        {"f6 f6", 1, "unexpected bytes after"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_reject(bad[i].hex, IPVM_ECBOR, bad[i].off, bad[i].why);
}

IPVM_TEST(ipld, cbor_depth_limit)
{
    uint8_t buf[2100];
    for (size_t d = 250; d <= 260; d++) {
        memset(buf, 0x81, d); /* d nested one-item lists around a 0 */
        buf[d] = 0x00;
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v = NULL;
        ipvm_error_t err;
        int rc = ipvm_dagcbor_decode(buf, d + 1, &a, &v, &err);
        if (d <= IPVM_IPLD_MAX_DEPTH) {
            IPVM_ASSERT_OK_ERR(rc, &err);
            ipvm_buf_t b = IPVM_BUF_INIT;
            IPVM_ASSERT_OK(ipvm_dagcbor_encode(v, &b, NULL));
            IPVM_ASSERT_MEMEQ(b.data, b.len, buf, d + 1);
            ipvm_buf_dispose(&b);
        } else {
            IPVM_ASSERT_ERR(rc, IPVM_ETOODEEP);
            IPVM_ASSERT_EQ(err.offset, IPVM_IPLD_MAX_DEPTH);
        }
        ipvm_arena_dispose(&a);
    }
    /* a caller-chosen limit */
    memset(buf, 0x81, 2000);
    buf[2000] = 0;
    ipvm_decode_opts_t o = {.max_depth = 2000};
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagcbor_decode_opts(buf, 2001, &o, &a, &v, NULL));
    o.max_depth = 1999;
    IPVM_ASSERT_ERR(ipvm_dagcbor_decode_opts(buf, 2001, &o, &a, &v, NULL), IPVM_ETOODEEP);
    /* the encoder refuses what is too deep and leaves the buffer as it was */
    ipvm_ipld_t *deep = ipvm_ipld_new_null(&a);
    for (int i = 0; i < 300; i++) {
        ipvm_ipld_t *l = ipvm_ipld_new_list(&a, 1);
        IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, l, deep));
        deep = l;
    }
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append_str(&b, "keep"));
    IPVM_ASSERT_ERR(ipvm_dagcbor_encode(deep, &b, NULL), IPVM_ETOODEEP);
    IPVM_ASSERT_STREQ((const char *)b.data, "keep");
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, cbor_encode_rejects)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_ipld_t *l = ipvm_ipld_new_list(&a, 2);
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, l, ipvm_ipld_new_int(&a, 7)));
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&a, l, ipvm_ipld_new_float(&a, NAN)));
    IPVM_ASSERT_ERR(ipvm_dagcbor_encode(l, &b, &err), IPVM_ECBOR);
    IPVM_ASSERT_STRCONTAINS(err.msg, "NaN");
    IPVM_ASSERT_EQ(b.len, 0);
    l->u.list.items[1] = ipvm_ipld_new_float(&a, -INFINITY);
    IPVM_ASSERT_ERR(ipvm_dagcbor_encode(l, &b, &err), IPVM_ECBOR);
    IPVM_ASSERT_STRCONTAINS(err.msg, "infinite");
    /* duplicate keys can only come from entries written by hand */
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 2);
    m->u.map.entries[0] = (ipvm_ipld_entry_t){"k", 1, ipvm_ipld_new_null(&a)};
    m->u.map.entries[1] = (ipvm_ipld_entry_t){"k", 1, ipvm_ipld_new_null(&a)};
    m->u.map.len = 2;
    m->u.map.sorted = false;
    IPVM_ASSERT_ERR(ipvm_dagcbor_encode(m, &b, &err), IPVM_ECBOR);
    IPVM_ASSERT_STRCONTAINS(err.msg, "duplicate");
    IPVM_ASSERT_EQ(b.len, 0);
    /* text that is not UTF-8 (values and keys) would not read back */
    IPVM_ASSERT_ERR(ipvm_dagcbor_encode(ipvm_ipld_new_string(&a, "\xc0\xaf", 2), &b, &err),
                    IPVM_ECBOR);
    IPVM_ASSERT_STRCONTAINS(err.msg, "UTF-8");
    ipvm_ipld_t *k = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set(&a, k, "\xff", 1, ipvm_ipld_new_null(&a)));
    IPVM_ASSERT_ERR(ipvm_dagcbor_encode(k, &b, &err), IPVM_ECBOR);
    IPVM_ASSERT_EQ(b.len, 0);
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

/* Every allocation of a decode and an encode fails in turn: each run gives the right answer
 * or a clean IPVM_ENOMEM, and never leaks (ASan checks). */
IPVM_TEST(ipld, cbor_oom)
{
    ipvm_buf_t f = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/workflows/test-workflow-image-pipeline.json"),
                        &f);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((const char *)f.data, f.len, &a, &v, NULL));
    ipvm_buf_t want = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(v, &want, NULL));
    long n;
    for (n = 0;; n++) {
        ipvm_arena_t a2;
        ipvm_arena_init(&a2);
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm_ipld_t *d = NULL;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_alloc_fail_after(n);
        int rc = ipvm_dagcbor_decode(want.data, want.len, &a2, &d, &err);
        if (rc == 0)
            rc = ipvm_dagcbor_encode(d, &b, &err);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0) {
            IPVM_ASSERT_MEMEQ(b.data, b.len, want.data, want.len);
            ipvm_buf_dispose(&b);
            ipvm_arena_dispose(&a2);
            break;
        }
        IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
        IPVM_ASSERT_EQ(err.code, IPVM_ENOMEM);
        IPVM_ASSERT(failed);
        IPVM_ASSERT(d == NULL || b.len == 0);
        ipvm_buf_dispose(&b);
        ipvm_arena_dispose(&a2);
    }
    IPVM_ASSERT(n >= 2);
    ipvm_buf_dispose(&want);
    ipvm_buf_dispose(&f);
    ipvm_arena_dispose(&a);
}
