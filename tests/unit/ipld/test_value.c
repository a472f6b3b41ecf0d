/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the IPLD data model API: constructors, map order and replacement, accessors, path
 * selection, equality, deep copy, summaries, and OOM in the constructors. */
#include "test.h"

#include <math.h>

IPVM_TEST(ipld, value_constructors_and_accessors)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    int64_t i;
    uint64_t u;
    ipvm_ipld_t *v = ipvm_ipld_new_int(&a, INT64_MIN);
    IPVM_ASSERT(v->u.integer.neg && v->u.integer.mag == (uint64_t)INT64_MAX);
    IPVM_ASSERT_OK(ipvm_ipld_get_i64(v, &i));
    IPVM_ASSERT(i == INT64_MIN);
    IPVM_ASSERT_ERR(ipvm_ipld_get_u64(v, &u), IPVM_ETOOBIG);
    v = ipvm_ipld_new_uint(&a, UINT64_MAX);
    IPVM_ASSERT_OK(ipvm_ipld_get_u64(v, &u));
    IPVM_ASSERT_EQ_U64(u, UINT64_MAX);
    IPVM_ASSERT_ERR(ipvm_ipld_get_i64(v, &i), IPVM_ETOOBIG);
    IPVM_ASSERT_ERR(ipvm_ipld_get_i64(ipvm_ipld_new_float(&a, 1.0), &i), IPVM_EKIND);
    IPVM_ASSERT_ERR(ipvm_ipld_get_u64(NULL, &u), IPVM_EKIND);
    v = ipvm_ipld_new_string(&a, "a\0b", 3);
    IPVM_ASSERT_EQ(v->u.str.len, 3);
    IPVM_ASSERT_EQ(v->u.str.ptr[3], 0);
    IPVM_ASSERT(!ipvm_ipld_is_str(v, "a"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_new_cstring(&a, "wasm/run"), "wasm/run"));
    IPVM_ASSERT(!ipvm_ipld_is_str(ipvm_ipld_new_bytes(&a, (const uint8_t *)"x", 1), "x"));
    IPVM_ASSERT_STREQ(ipvm_ipld_kind_name(IPVM_IPLD_LINK), "link");
    IPVM_ASSERT_STREQ(ipvm_ipld_kind_name(IPVM_IPLD_MAP), "map");
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, value_map_set_get_sort)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 0);
    char key[16];
    /* many keys in a scrambled order: the map stays in DAG-CBOR order */
    for (int k = 0; k < 500; k++) {
        int n = (k * 7919) % 500;
        snprintf(key, sizeof key, "k%d", n);
        IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, key, ipvm_ipld_new_int(&a, n)));
    }
    IPVM_ASSERT_EQ(m->u.map.len, 500);
    IPVM_ASSERT(m->u.map.sorted);
    for (size_t k = 1; k < m->u.map.len; k++) {
        const ipvm_ipld_entry_t *p = &m->u.map.entries[k - 1], *q = &m->u.map.entries[k];
        IPVM_ASSERT(p->key_len < q->key_len ||
                    (p->key_len == q->key_len && memcmp(p->key, q->key, p->key_len) < 0));
    }
    /* replacing keeps one entry */
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "k42", ipvm_ipld_new_cstring(&a, "new")));
    IPVM_ASSERT_EQ(m->u.map.len, 500);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(m, "k42"), "new"));
    int64_t i = -1;
    IPVM_ASSERT_OK(ipvm_ipld_get_i64(ipvm_ipld_map_get(m, "k499"), &i));
    IPVM_ASSERT_EQ(i, 499);
    IPVM_ASSERT(ipvm_ipld_map_get(m, "k500") == NULL);
    IPVM_ASSERT(ipvm_ipld_map_get(ipvm_ipld_new_null(&a), "k1") == NULL);
    IPVM_ASSERT(ipvm_ipld_map_getn(m, "k1x", 2) != NULL); /* "k1" */
    /* entries written by hand: sort puts them in order, get works either way */
    ipvm_ipld_t *h = ipvm_ipld_new_map(&a, 3);
    h->u.map.entries[0] = (ipvm_ipld_entry_t){"ccc", 3, ipvm_ipld_new_int(&a, 3)};
    h->u.map.entries[1] = (ipvm_ipld_entry_t){"bb", 2, ipvm_ipld_new_int(&a, 2)};
    h->u.map.entries[2] = (ipvm_ipld_entry_t){"d", 1, ipvm_ipld_new_int(&a, 1)};
    h->u.map.len = 3;
    h->u.map.sorted = false;
    IPVM_ASSERT(ipvm_ipld_map_get(h, "bb") != NULL);
    ipvm_ipld_map_sort(h);
    IPVM_ASSERT(h->u.map.sorted);
    IPVM_ASSERT_STREQ(h->u.map.entries[0].key, "d");
    IPVM_ASSERT_STREQ(h->u.map.entries[2].key, "ccc");
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, value_select_equal_clone)
{
    ipvm_arena_t a, b;
    ipvm_arena_init(&a);
    ipvm_arena_init(&b);
    const char *js = "{\"input\":{\"args\":[1,{\"await/ok\":{\"/\":\"bafyrmihmxmsbt4n3g6dzmj7rho34"
                     "mzfbaoqqbsfcq7etsogslqftbyj7du\"}},{\"/\":{\"bytes\":\"AQID\"}}],"
                     "\"func\":\"add_one\"},\"x\":[1.5,null,true,\"s\"],\"\":0}";
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(js, strlen(js), &a, &v, NULL));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "input/func"), "add_one"));
    IPVM_ASSERT_EQ(ipvm_ipld_select(v, "input/args/1")->kind, IPVM_IPLD_MAP);
    IPVM_ASSERT(ipvm_ipld_select(v, "input/args/1/await") == NULL);
    IPVM_ASSERT(ipvm_ipld_select(v, "input/args/3") == NULL);
    IPVM_ASSERT(ipvm_ipld_select(v, "input/args/01") == NULL);
    IPVM_ASSERT(ipvm_ipld_select(v, "input/args/-1") == NULL);
    IPVM_ASSERT(ipvm_ipld_select(v, "input/func/x") == NULL);
    IPVM_ASSERT_EQ(ipvm_ipld_select(v, "input/args/2")->kind, IPVM_IPLD_BYTES);
    IPVM_ASSERT(ipvm_ipld_select(v, "") == v);
    ipvm_ipld_t *c = ipvm_ipld_clone(&b, v);
    ipvm_arena_dispose(&a); /* the copy owns nothing of the original */
    ipvm_ipld_t *w = NULL;
    ipvm_arena_init(&a);
    IPVM_ASSERT_OK(ipvm_dagjson_decode(js, strlen(js), &a, &w, NULL));
    IPVM_ASSERT(ipvm_ipld_equal(c, w));
    IPVM_ASSERT(ipvm_ipld_equal(w, c));
    /* equality is in the data model: 1 is not 1.0, -0.0 is not 0.0, 2 is not "2" */
    IPVM_ASSERT(!ipvm_ipld_equal(ipvm_ipld_new_int(&a, 1), ipvm_ipld_new_float(&a, 1.0)));
    IPVM_ASSERT(!ipvm_ipld_equal(ipvm_ipld_new_float(&a, 0.0), ipvm_ipld_new_float(&a, -0.0)));
    IPVM_ASSERT(ipvm_ipld_equal(ipvm_ipld_new_float(&a, 0.1), ipvm_ipld_new_float(&a, 0.1)));
    IPVM_ASSERT(!ipvm_ipld_equal(ipvm_ipld_new_string(&a, "ab", 2),
                                 ipvm_ipld_new_bytes(&a, (const uint8_t *)"ab", 2)));
    /* one changed leaf makes them differ */
    ((ipvm_ipld_t *)ipvm_ipld_select(w, "x/0"))->u.f = 2.5;
    IPVM_ASSERT(!ipvm_ipld_equal(c, w));
    ipvm_arena_dispose(&a);
    ipvm_arena_dispose(&b);
}

IPVM_TEST(ipld, value_summary)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *js = "{\"b\":{\"/\":{\"bytes\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj\"}},"
                     "\"a\":[1,2.5,\"x\"]}";
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(js, strlen(js), &a, &v, NULL));
    char out[200];
    IPVM_ASSERT_STREQ(ipvm_ipld_summary(v, out, sizeof out), "{\"a\":[1,2.5,\"x\"],\"b\":<36 bytes>}");
    char small[12];
    ipvm_ipld_summary(v, small, sizeof small);
    IPVM_ASSERT_STREQ(small, "{\"a\":[1,\xe2\x80\xa6"); /* 8 bytes + "…" + NUL */
    IPVM_ASSERT_STREQ(ipvm_ipld_summary(ipvm_ipld_new_float(&a, NAN), out, sizeof out), "NaN");
    /* a cut never splits a character */
    ipvm_ipld_summary(ipvm_ipld_new_cstring(&a, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), small, 8);
    IPVM_ASSERT_STREQ(small, "\"\xc3\xa9\xe2\x80\xa6");
    IPVM_ASSERT_STREQ(ipvm_ipld_summary(NULL, out, sizeof out), "(none)");
    ipvm_arena_dispose(&a);
}

IPVM_TEST(ipld, value_oom)
{
    for (long n = 0;; n++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_alloc_fail_after(n);
        int rc = IPVM_ENOMEM;
        ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 0), *l = NULL, *c = NULL;
        if (m) {
            rc = 0;
            for (int k = 0; k < 40 && rc == 0; k++) {
                char key[8];
                snprintf(key, sizeof key, "%d", k);
                ipvm_ipld_t *s = ipvm_ipld_new_cstring(&a, "some text");
                rc = s ? ipvm_ipld_map_set_cstr(&a, m, key, s) : IPVM_ENOMEM;
            }
        }
        if (rc == 0) {
            l = ipvm_ipld_new_list(&a, 0);
            for (int k = 0; k < 40 && l && rc == 0; k++)
                rc = ipvm_ipld_list_push(&a, l, m);
            if (l == NULL)
                rc = IPVM_ENOMEM;
        }
        if (rc == 0 && (c = ipvm_ipld_clone(&a, l)) == NULL)
            rc = IPVM_ENOMEM;
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        if (rc == 0) {
            IPVM_ASSERT(!failed);
            IPVM_ASSERT(ipvm_ipld_equal(c, l));
            IPVM_ASSERT_EQ(c->u.list.len, 40);
            ipvm_arena_dispose(&a);
            IPVM_ASSERT(n >= 2);
            break;
        }
        IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
        IPVM_ASSERT(failed);
        ipvm_arena_dispose(&a);
    }
}
