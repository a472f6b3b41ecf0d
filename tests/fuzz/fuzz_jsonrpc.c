/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the JSON-RPC side of the node API: the request/batch parser the server runs
 * on every WebSocket message, and the client's reader of subscription notifications. When a
 * request parses, its id must survive a response round trip; a parse failure must say why. */
#include "fuzz.h"
#include "ipvm/rpc.h"

#include <string.h>

static void check_request(const ipvm_rpc_request_t *r)
{
    IPVM_FUZZ_CHECK((r->code == 0) == (r->method != NULL));
    IPVM_FUZZ_CHECK(r->code == 0 || (r->message && r->message[0]));
    ipvm_buf_t out = IPVM_BUF_INIT;
    IPVM_FUZZ_CHECK(ipvm_rpc_format_error(&out, r->id, IPVM_RPC_INVALID_PARAMS, "x") == 0);
    /* the response is strict JSON whose id equals the request's */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    IPVM_FUZZ_CHECK(ipvm_dagjson_decode((const char *)out.data, out.len, &a, &v, NULL) == 0);
    const ipvm_ipld_t *id = ipvm_ipld_map_get(v, "id");
    IPVM_FUZZ_CHECK(id != NULL);
    if (r->id && r->id->kind != IPVM_IPLD_FLOAT)
        IPVM_FUZZ_CHECK(ipvm_ipld_equal(id, r->id));
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&out);
}

IPVM_FUZZ_TARGET(jsonrpc)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_rpc_message_t m;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_rpc_message_parse((const char *)data, size, &a, &m, &err);
    if (rc == 0) {
        IPVM_FUZZ_CHECK(m.count >= 1 && m.count <= IPVM_RPC_MAX_BATCH);
        for (size_t i = 0; i < m.count; i++)
            check_request(&m.requests[i]);
    } else {
        IPVM_FUZZ_CHECK(rc == IPVM_EJSON || rc == IPVM_ETOOBIG || rc == IPVM_ENOMEM);
        IPVM_FUZZ_CHECK(rc == IPVM_ENOMEM || err.msg[0] != '\0');
    }
    ipvm_arena_reset(&a);
    ipvm_rpc_receipt_note_t note;
    ipvm_error_clear(&err);
    rc = ipvm_rpc_receipt_note_decode((const char *)data, size, &a, &note, &err);
    if (rc == 0) {
        IPVM_FUZZ_CHECK(note.receipt && note.receipt->kind == IPVM_IPLD_MAP && note.name);
        /* the bytes it carried decode to the same document again */
        ipvm_ipld_t *doc = NULL;
        IPVM_FUZZ_CHECK(
            ipvm_dagjson_decode((const char *)note.bytes, note.bytes_len, &a, &doc, NULL) == 0);
        IPVM_FUZZ_CHECK(ipvm_ipld_equal(doc, note.doc));
    } else {
        IPVM_FUZZ_CHECK(rc == IPVM_ENOMEM || err.msg[0] != '\0');
    }
    ipvm_arena_dispose(&a);
    return 0;
}
