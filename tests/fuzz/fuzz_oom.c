/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the parsers of outside bytes when memory runs out (SQLite faultsim under
 * libFuzzer). Byte 0 picks the parser, byte 1 is N: the (N+1)th allocation fails; the rest is
 * the input. Properties: no crash, no leak; the parser gives the right answer (the verdict,
 * message and, for some parsers, the value of the run without injection) or, when the injected
 * failure happened, a clean IPVM_ENOMEM (in its result and in err): never a parse error made of
 * an allocation failure or a success built from half a value. The seeds are inputs of the
 * committed corpora of the targets of each parser. */
#include "fuzz.h"

#include "p2p/receipts.h"
#include "trust/trust_int.h"
#include "wasm/core_int.h"

#include <string.h>

enum { P_CBOR, P_JSON, P_WORKFLOW, P_RPC, P_UCAN, P_JWT, P_DAGPB, P_WASM, P_CID, P_MULTIBASE,
       P_RECEIPT, P_VERIFY, P_NOTE, P_COUNT };

/* What a parse produced, for the parsers whose result is compared. */
typedef struct {
    ipvm_ipld_t *v;
    ipvm_workflow_t *wf;
    ipvm_cid_t cid;
    rc_wire_t w;
} res_t;

static int parse(int which, const uint8_t *p, size_t n, ipvm_arena_t *a, res_t *r,
                 ipvm_error_t *err)
{
    const char *s = (const char *)p;
    switch (which) {
    case P_CBOR:
        return ipvm_dagcbor_decode(p, n, a, &r->v, err);
    case P_JSON:
        return ipvm_dagjson_decode(s, n, a, &r->v, err);
    case P_WORKFLOW: {
        ipvm_workflow_opts_t o = {.compact = (n & 1) != 0};
        return ipvm_workflow_parse(s, n, &o, a, &r->wf, err);
    }
    case P_RPC: {
        ipvm_rpc_message_t m;
        return ipvm_rpc_message_parse(s, n, a, &m, err);
    }
    case P_UCAN: {
        ipvm_ucan_t *u;
        return ipvm_ucan_decode(p, n, a, &u, err);
    }
    case P_JWT: {
        ipvm_jwt_t *t;
        return ipvm_jwt_decode(s, n, a, &t, err);
    }
    case P_DAGPB: {
        ipvm_dagpb_node_t d;
        return ipvm_dagpb_decode(n ? p : (const uint8_t *)"", n, a, &d, err);
    }
    case P_WASM: {
        ipvm__wasm_info_t in;
        return ipvm__wasm_parse(p, n, a, &in, err);
    }
    case P_CID:
        return ipvm_cid_parse(&r->cid, s, n, err);
    case P_MULTIBASE: {
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm_base_t base;
        int rc = ipvm_multibase_decode(s, n, &b, &base, err);
        ipvm_buf_dispose(&b);
        return rc;
    }
    case P_RECEIPT:
        return p2p_rc_gossip_decode(p, n, a, &r->w, err);
    case P_VERIFY: {
        ipvm_workflow_t *wf;
        const char *ucan;
        size_t ucan_len;
        return ipvm__verify_request_decode(p, n, a, &wf, &ucan, &ucan_len, err);
    }
    default: {
        ipvm_rpc_receipt_note_t note;
        return ipvm_rpc_receipt_note_decode(s, n, a, &note, err);
    }
    }
}

/* The bytes that say what a successful parse produced (empty for the parsers not compared). */
static void fingerprint(int which, const res_t *r, ipvm_buf_t *fp)
{
    if ((which == P_CBOR || which == P_JSON))
        IPVM_FUZZ_CHECK(ipvm_dagcbor_encode(r->v, fp, NULL) == 0);
    else if (which == P_WORKFLOW)
        IPVM_FUZZ_CHECK(ipvm_buf_append(fp, r->wf->cid.bytes, r->wf->cid.len) == 0 &&
                        ipvm_buf_append(fp, r->wf->cbor, r->wf->cbor_len) == 0);
    else if (which == P_CID)
        IPVM_FUZZ_CHECK(ipvm_buf_append(fp, r->cid.bytes, r->cid.len) == 0);
    else if (which == P_RECEIPT)
        IPVM_FUZZ_CHECK(ipvm_buf_append(fp, r->w.receipt.cid.bytes, r->w.receipt.cid.len) == 0 &&
                        ipvm_buf_append(fp, r->w.instruction.bytes, r->w.instruction.len) == 0);
}

IPVM_FUZZ_TARGET(oom)
{
    if (size < 2)
        return 0;
    int which = data[0] % P_COUNT;
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    ipvm_arena_t a;
    ipvm_error_t want, err;
    ipvm_buf_t fp0 = IPVM_BUF_INIT, fp = IPVM_BUF_INIT;
    res_t r;
    memset(&r, 0, sizeof r);
    ipvm_arena_init(&a);
    ipvm_error_clear(&want);
    int rc0 = parse(which, p, n, &a, &r, &want);
    if (rc0 == 0)
        fingerprint(which, &r, &fp0);
    ipvm_arena_dispose(&a);
    memset(&r, 0, sizeof r);
    ipvm_arena_init(&a);
    ipvm_error_clear(&err);
    ipvm_alloc_fail_after(data[1]);
    int rc = parse(which, p, n, &a, &r, &err);
    bool failed = ipvm_alloc_failed();
    ipvm_alloc_fail_after(-1);
    if (rc == 0)
        fingerprint(which, &r, &fp);
    ipvm_arena_dispose(&a);
    /* the right answer, or a clean IPVM_ENOMEM when an allocation failed (a parser may recover
     * from one: the compact workflow parse falls back to the whole-document one) */
    bool same = rc == rc0 && strcmp(err.msg, want.msg) == 0 && fp.len == fp0.len &&
                (fp.len == 0 || memcmp(fp.data, fp0.data, fp.len) == 0);
    bool msg_ok = err.code == IPVM_ENOMEM;
    if (!same && !(failed && rc == IPVM_ENOMEM && msg_ok)) {
        fprintf(stderr, "parser %d: rc %d (%s) with the (%u+1)th allocation failing%s; %d (%s) "
                        "without\n", which, rc, err.msg, data[1], failed ? "" : " (none did)",
                rc0, want.msg);
        IPVM_FUZZ_CHECK(0);
    }
    ipvm_buf_dispose(&fp0);
    ipvm_buf_dispose(&fp);
    return 0;
}
