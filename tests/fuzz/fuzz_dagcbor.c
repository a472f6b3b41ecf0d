/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the DAG-CBOR decoder. Properties: a rejection carries its code, a reason and
 * an offset inside the input; an accepted input is canonical, so it re-encodes to exactly the
 * same bytes; and through DAG-JSON and back it is the same data (unless it holds a map that
 * DAG-JSON reserves, which the JSON encoder must then refuse by name). */
#include "fuzz.h"

#include <string.h>

IPVM_FUZZ_TARGET(dagcbor)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL, *w = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_buf_t b = IPVM_BUF_INIT, j = IPVM_BUF_INIT;
    int rc = ipvm_dagcbor_decode(data, size, &a, &v, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(v == NULL && err.code == rc && err.msg[0] != '\0');
        IPVM_FUZZ_CHECK(rc == IPVM_ECBOR || rc == IPVM_ETOODEEP || rc == IPVM_ENOMEM);
        IPVM_FUZZ_CHECK(err.offset <= size);
        goto done;
    }
    /* decode -> encode is the identity on accepted input */
    IPVM_FUZZ_CHECK(ipvm_dagcbor_encode(v, &b, &err) == 0);
    IPVM_FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0);
    IPVM_FUZZ_CHECK(ipvm_dagcbor_decode(b.data, b.len, &a, &w, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_ipld_equal(v, w));
    /* cross-codec: DAG-JSON carries the same data (IPLD integer range for -2^64..-2^63) */
    rc = ipvm_dagjson_encode(v, 0, &j, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(rc == IPVM_EJSON && strstr(err.msg, "link or bytes") != NULL);
        goto done;
    }
    ipvm_decode_opts_t o = {.max_depth = 0, .flags = IPVM_DECODE_IPLD_INTS};
    w = NULL;
    IPVM_FUZZ_CHECK(ipvm_dagjson_decode_opts((const char *)j.data, j.len, &o, &a, &w, &err) == 0);
    IPVM_FUZZ_CHECK(ipvm_ipld_equal(v, w));
    ipvm_buf_clear(&b);
    IPVM_FUZZ_CHECK(ipvm_dagcbor_encode(w, &b, &err) == 0);
    IPVM_FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0);
    /* the summary never fails and stays in its buffer */
    char s[64];
    IPVM_FUZZ_CHECK(strlen(ipvm_ipld_summary(v, s, sizeof s)) < sizeof s);
done:
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&j);
    ipvm_arena_dispose(&a);
    return 0;
}
