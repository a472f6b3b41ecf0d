/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the DAG-JSON decoder. Properties: a rejection carries its code, a reason and
 * an offset inside the input; an accepted document re-encodes to a canonical text that reads
 * back to the same data and re-encodes to itself; and through DAG-CBOR and back it is the same
 * data. The lowest input bit chooses the integer range (Homestar's or IPLD's). */
#include "fuzz.h"

#include <string.h>

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
