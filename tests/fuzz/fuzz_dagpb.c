/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the strict dag-pb decoder (outside bytes from peers, gateways and Kubo), and the
 * UnixFS walk over what it decodes. Properties: no crash; a decoded node re-encodes to the same
 * bytes when it was in canonical order (Links first, names sorted) and always decodes back to
 * the same node. */
#include "fuzz.h"

#include <string.h>

static void same_node(const ipvm_dagpb_node_t *a, const ipvm_dagpb_node_t *b)
{
    IPVM_FUZZ_CHECK(a->nlinks == b->nlinks);
    IPVM_FUZZ_CHECK((a->data == NULL) == (b->data == NULL));
    IPVM_FUZZ_CHECK(a->data_len == b->data_len);
    IPVM_FUZZ_CHECK(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
    for (size_t i = 0; i < a->nlinks; i++) {
        const ipvm_dagpb_link_t *x = &a->links[i], *y = &b->links[i];
        IPVM_FUZZ_CHECK(ipvm_cid_equal(&x->hash, &y->hash));
        IPVM_FUZZ_CHECK((x->name == NULL) == (y->name == NULL) && x->name_len == y->name_len);
        IPVM_FUZZ_CHECK(x->name_len == 0 || memcmp(x->name, y->name, x->name_len) == 0);
        IPVM_FUZZ_CHECK(x->has_tsize == y->has_tsize && x->tsize == y->tsize);
    }
}

IPVM_FUZZ_TARGET(dagpb)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_dagpb_node_t n;
    int rc = ipvm_dagpb_decode(size ? data : (const uint8_t *)"", size, &a, &n, &err);
    if (rc != 0) {
        IPVM_FUZZ_CHECK(rc == IPVM_EDAGPB || rc == IPVM_ENOMEM);
        IPVM_FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
        ipvm_arena_dispose(&a);
        return 0;
    }
    ipvm_buf_t out = IPVM_BUF_INIT;
    rc = ipvm_dagpb_encode(&n, &out);
    if (rc == 0) {
        bool data_first = size > 0 && data[0] == 0x0a && n.nlinks > 0;
        if (!data_first)
            IPVM_FUZZ_CHECK(out.len == size && (size == 0 || memcmp(out.data, data, size) == 0));
        ipvm_dagpb_node_t back;
        IPVM_FUZZ_CHECK(ipvm_dagpb_decode(out.len ? out.data : (const uint8_t *)"", out.len, &a,
                                          &back, NULL) == 0);
        same_node(&n, &back);
    } else {
        IPVM_FUZZ_CHECK(rc == IPVM_EINVAL); /* link names out of order: valid to decode */
    }
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
    return 0;
}
