/* SPDX-License-Identifier: Apache-2.0 */
/* Regression: decoders that prefix an inner error with `return ipvm_error_prefix(err, ...)`
 * returned 0 (success, with nothing decoded) when called with err == NULL, since the prefix
 * returns err->code and there is no err; p2p/receipts.c publishes with a NULL err. Each decoder
 * of outside bytes here must give the same failing verdict with and without err. */
#include "test.h"

#include "p2p/receipts.h"
#include "trust/trust_int.h"

typedef int (*dec_fn)(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err);

static int wf_json(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    ipvm_workflow_t *wf = NULL;
    return ipvm_workflow_parse((const char *)p, n, NULL, a, &wf, err);
}

static int wf_compact(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    ipvm_workflow_opts_t o = {.compact = true};
    ipvm_workflow_t *wf = NULL;
    return ipvm_workflow_parse((const char *)p, n, &o, a, &wf, err);
}

static int wf_cbor(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    ipvm_workflow_t *wf = NULL;
    return ipvm_workflow_decode(p, n, NULL, a, &wf, err);
}

static int receipt(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    ipvm_receipt_t r;
    return ipvm_receipt_decode(p, n, a, &r, err);
}

static int gossip(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    rc_wire_t w;
    return p2p_rc_gossip_decode(p, n, a, &w, err);
}

static const uint8_t key[] = {0x01, 0x71, 0x00, 0x00}; /* CIDv1 dag-cbor, identity, empty */

static int capsule(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    rc_wire_t w;
    return p2p_rc_capsule_decode(key, sizeof key, p, n, a, &w, err);
}

static int wf_capsule(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    return p2p_rc_workflow_check(key, sizeof key, p, n, a, err);
}

static int verify_req(const uint8_t *p, size_t n, ipvm_arena_t *a, ipvm_error_t *err)
{
    ipvm_workflow_t *wf = NULL;
    const char *ucan = NULL;
    size_t ucan_len = 0;
    return ipvm__verify_request_decode(p, n, a, &wf, &ucan, &ucan_len, err);
}

IPVM_TEST(workflow, decoders_fail_without_err)
{
    static const struct {
        const char *name;
        dec_fn fn;
    } decs[] = {{"workflow_parse", wf_json},          {"workflow_parse compact", wf_compact},
                {"workflow_decode", wf_cbor},         {"receipt_decode", receipt},
                {"p2p_rc_gossip_decode", gossip},     {"p2p_rc_capsule_decode", capsule},
                {"p2p_rc_workflow_check", wf_capsule}, {"verify_request_decode", verify_req}};
    static const char *const bad[] = {"\xff", "{", "\x82\x01", ""};
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_from_bytes(&c, key, sizeof key, NULL)); /* the key itself is fine */
    for (size_t d = 0; d < sizeof decs / sizeof decs[0]; d++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ipvm_arena_t a;
            ipvm_arena_init(&a);
            ipvm_error_t err;
            ipvm_error_clear(&err);
            const uint8_t *p = (const uint8_t *)bad[i];
            int with = decs[d].fn(p, strlen(bad[i]), &a, &err);
            int without = decs[d].fn(p, strlen(bad[i]), &a, NULL);
            IPVM_ASSERT_MSG(with < 0 && err.code == with && err.msg[0], "%s, input %zu: %d (%s)",
                            decs[d].name, i, with, err.msg);
            IPVM_ASSERT_MSG(without == with, "%s, input %zu: %d without err, %d with",
                            decs[d].name, i, without, with);
            ipvm_arena_dispose(&a);
        }
    }
}

/* The same for the client's notification decoder: a params.result that is not a byte array, and
 * bytes that are not a DAG-JSON document, fail alike with and without err. */
IPVM_TEST(workflow, note_decode_fails_without_err)
{
    static const char *const bad[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"subscription\":\"s\",\"result\":\"x\"}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"subscription\":\"s\",\"result\":[300]}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"subscription\":\"s\",\"result\":[123]}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"subscription\":\"s\",\"result\":[]}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_rpc_receipt_note_t note;
        int with = ipvm_rpc_receipt_note_decode(bad[i], strlen(bad[i]), &a, &note, &err);
        int without = ipvm_rpc_receipt_note_decode(bad[i], strlen(bad[i]), &a, &note, NULL);
        IPVM_ASSERT_MSG(with < 0 && err.code == with && err.msg[0], "input %zu: %d (%s)", i, with,
                        err.msg);
        IPVM_ASSERT_MSG(without == with, "input %zu: %d without err, %d with (%s)", i, without,
                        with, err.msg);
        ipvm_arena_dispose(&a);
    }
}
