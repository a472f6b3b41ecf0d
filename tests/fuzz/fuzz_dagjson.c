/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the DAG-JSON decoder. Properties: a rejection carries its code, a reason and
 * an offset inside the input; an accepted document re-encodes to a canonical text that reads
 * back to the same data and re-encodes to itself; and through DAG-CBOR and back it is the same
 * data; the pull reader, walking the top container entry by entry, accepts what the decoder
 * accepts (a duplicate key of the top map aside, which it leaves to its caller) with the same
 * entries. The lowest input bit chooses the integer range (Homestar's or IPLD's). */
#include "fuzz.h"

#include <string.h>

/* Walks the top container with the pull reader. Returns the reader's verdict (0 or an error)
 * and whether a "/" key was met (then the decoder may read the map as a Link or bytes). */
static int walk(const uint8_t *data, size_t size, const ipvm_decode_opts_t *o, ipvm_arena_t *a,
                const ipvm_ipld_t *whole, bool *slash)
{
    ipvm_dagjson_reader_t r;
    ipvm_dagjson_reader_init(&r, (const char *)data, size, o);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_ipld_kind_t kind;
    size_t n = 0;
    int rc = ipvm_dagjson_reader_enter(&r, &kind, &err);
    while (rc == 0 && !*slash) {
        const char *key = NULL;
        size_t klen = 0;
        ipvm_ipld_t *v = NULL;
        int more = ipvm_dagjson_reader_next(&r, a, &key, &klen, &err);
        if (more <= 0) {
            rc = more;
            break;
        }
        *slash = kind == IPVM_IPLD_MAP && klen == 1 && key[0] == '/';
        if (!*slash && (rc = ipvm_dagjson_reader_value(&r, a, &v, &err)) == 0 && whole &&
            whole->kind == kind) { /* the same entry in the decoder's tree */
            const ipvm_ipld_t *w = kind == IPVM_IPLD_LIST
                                       ? (n < whole->u.list.len ? whole->u.list.items[n] : NULL)
                                       : ipvm_ipld_map_getn(whole, key, klen);
            IPVM_FUZZ_CHECK(w != NULL && ipvm_ipld_equal(v, w));
        }
        n++;
    }
    if (rc == 0 && !*slash)
        rc = ipvm_dagjson_reader_finish(&r, &err);
    if (rc != 0)
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0' && err.offset <= size);
    if (rc == 0 && !*slash && whole)
        IPVM_FUZZ_CHECK(n == (kind == IPVM_IPLD_LIST ? whole->u.list.len : whole->u.map.len));
    ipvm_dagjson_reader_dispose(&r);
    return rc;
}

IPVM_FUZZ_TARGET(dagjson)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL, *w = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_buf_t j = IPVM_BUF_INIT, j2 = IPVM_BUF_INIT, c = IPVM_BUF_INIT;
    ipvm_decode_opts_t o = {.max_depth = 0,
                            .flags = size && (data[size - 1] & 1) ? IPVM_DECODE_IPLD_INTS : 0};
    int rc = ipvm_dagjson_decode_opts((const char *)data, size, &o, &a, &v, &err);
    size_t lead = 0;
    while (lead < size && (data[lead] == ' ' || data[lead] == '\n' || data[lead] == '\r' ||
                           data[lead] == '\t'))
        lead++;
    if (lead < size && (data[lead] == '[' || data[lead] == '{')) {
        bool slash = false;
        int wrc = walk(data, size, &o, &a, rc == 0 ? v : NULL, &slash);
        if (!slash && rc == 0)
            IPVM_FUZZ_CHECK(wrc == 0);
        if (!slash && wrc == 0 && rc != 0) /* only the top map's duplicate keys pass the walk */
            IPVM_FUZZ_CHECK(rc == IPVM_EJSON && strstr(err.msg, "duplicate map key") != NULL);
    }
    if (rc != 0) {
        IPVM_FUZZ_CHECK(v == NULL && err.code == rc && err.msg[0] != '\0');
        IPVM_FUZZ_CHECK(rc == IPVM_EJSON || rc == IPVM_ETOODEEP || rc == IPVM_ENOMEM);
        IPVM_FUZZ_CHECK(err.offset <= size);
        goto done;
    }
    /* canonical text: reads back to the same data and re-encodes to itself */
    IPVM_FUZZ_CHECK(ipvm_dagjson_encode(v, 0, &j, &err) == 0);
    o.flags = IPVM_DECODE_IPLD_INTS; /* what we wrote is in the IPLD integer range */
    IPVM_FUZZ_CHECK(ipvm_dagjson_decode_opts((const char *)j.data, j.len, &o, &a, &w, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_ipld_equal(v, w));
    IPVM_FUZZ_CHECK(ipvm_dagjson_encode(w, 0, &j2, &err) == 0);
    IPVM_FUZZ_CHECK(j.len == j2.len && memcmp(j.data, j2.data, j.len) == 0);
    /* the pretty form is the same data too */
    ipvm_buf_clear(&j2);
    IPVM_FUZZ_CHECK(ipvm_dagjson_encode(v, IPVM_JSON_PRETTY, &j2, &err) == 0);
    w = NULL;
    IPVM_FUZZ_CHECK(ipvm_dagjson_decode_opts((const char *)j2.data, j2.len, &o, &a, &w, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_ipld_equal(v, w));
    /* cross-codec: whatever DAG-JSON holds, DAG-CBOR holds */
    IPVM_FUZZ_CHECK(ipvm_dagcbor_encode(v, &c, &err) == 0);
    w = NULL;
    IPVM_FUZZ_CHECK(ipvm_dagcbor_decode(c.data, c.len, &a, &w, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_ipld_equal(v, w));
    ipvm_cid_t cid;
    IPVM_FUZZ_CHECK(ipvm_ipld_cid(v, IPVM_MH_SHA3_256, &cid, &err) == 0);
done:
    ipvm_buf_dispose(&j);
    ipvm_buf_dispose(&j2);
    ipvm_buf_dispose(&c);
    ipvm_arena_dispose(&a);
    return 0;
}
