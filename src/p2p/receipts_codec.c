/* SPDX-License-Identifier: Apache-2.0 */
/* Homestar's receipt shapes on the network (homestar.md §5.2-5.3): the gossip message, the DHT
 * receipt capsule and the workflow capsule, each decoded strictly (DAG-CBOR, then the shape)
 * and each receipt's CID recomputed from its contents. */
#include "receipts.h"

#include <sodium.h>
#include <stdio.h>

static int bad(ipvm_error_t *err, const char *what)
{
    return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET, "%s", what);
}

/* The receipt map without the runtime keys (cid, instruction, version), for from_ipld. */
static ipvm_ipld_t *five_keys(ipvm_arena_t *a, const ipvm_ipld_t *m)
{
    ipvm_ipld_t *o = ipvm_ipld_new_map(a, 5);
    if (o == NULL)
        return NULL;
    static const char *const keys[] = {"iss", "meta", "out", "prf", "ran"};
    for (size_t i = 0; i < 5; i++) {
        const ipvm_ipld_t *v = ipvm_ipld_map_get(m, keys[i]);
        if (v && ipvm_ipld_map_set_cstr(a, o, keys[i], (ipvm_ipld_t *)v) != 0)
            return NULL;
    }
    ipvm_ipld_map_sort(o);
    return o;
}

static int signature_of(const ipvm_ipld_t *top, rc_wire_t *out, ipvm_error_t *err)
{
    const ipvm_ipld_t *s = ipvm_ipld_map_get(top, "signature");
    if (s == NULL)
        return 0;
    if (s->kind != IPVM_IPLD_BYTES || s->u.str.len == 0 || s->u.str.len > 4096)
        return bad(err, "signature must be bytes (at most 4 KiB)");
    out->signature = (const uint8_t *)s->u.str.ptr;
    out->signature_len = s->u.str.len;
    return 0;
}

int p2p_rc_gossip_decode(const uint8_t *p, size_t n, ipvm_arena_t *a, rc_wire_t *out,
                         ipvm_error_t *err)
{
    ipvm_ipld_t *top = NULL;
    memset(out, 0, sizeof *out);
    int rc = ipvm_dagcbor_decode(p, n, a, &top, err);
    if (rc) {
        ipvm_error_prefix(err, "gossip message is not DAG-CBOR: "); /* (err may be NULL) */
        return rc;
    }
    if (top->kind != IPVM_IPLD_MAP)
        return bad(err, "gossip message must be a map {header, payload}");
    const ipvm_ipld_t *hdr = ipvm_ipld_map_get(top, "header");
    const ipvm_ipld_t *nonce = hdr ? ipvm_ipld_map_get(hdr, "nonce") : NULL;
    const ipvm_ipld_t *pl = ipvm_ipld_map_get(top, "payload");
    if (nonce == NULL || (nonce->kind != IPVM_IPLD_BYTES && nonce->kind != IPVM_IPLD_STRING))
        return bad(err, "gossip message lacks header.nonce");
    if (pl == NULL || pl->kind != IPVM_IPLD_MAP)
        return bad(err, "gossip message lacks its payload map");
    const ipvm_ipld_t *cid = ipvm_ipld_map_get(pl, "cid");
    const ipvm_ipld_t *ins = ipvm_ipld_map_get(pl, "instruction");
    if (cid == NULL || cid->kind != IPVM_IPLD_LINK)
        return bad(err, "payload.cid must be a Link (the receipt CID)");
    if (ins == NULL || ins->kind != IPVM_IPLD_LINK)
        return bad(err, "payload.instruction must be a Link (the instruction CID)");
    ipvm_ipld_t *five = five_keys(a, pl);
    if (five == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if ((rc = ipvm_receipt_from_ipld(five, a, &out->receipt, err)) != 0)
        return rc;
    if (!ipvm_cid_equal(&out->receipt.cid, cid->u.link)) /* compat: Homestar does not check */
        return bad(err, "payload.cid is not the CID of {ran, out, meta, iss, prf}: forged or "
                        "corrupted receipt");
    out->instruction = *ins->u.link;
    out->receipt.instruction = out->instruction;
    out->receipt.has_instruction = true;
    return signature_of(top, out, err);
}

/* {ran, out, meta, iss, prf} plus extra keys, as a map in DAG-CBOR order. */
static ipvm_ipld_t *receipt_map(ipvm_arena_t *a, const ipvm_receipt_t *r, bool runtime,
                                const ipvm_cid_t *instruction)
{
    ipvm_ipld_t *m = ipvm_receipt_to_ipld(a, r);
    if (m == NULL)
        return NULL;
    ipvm_ipld_t *o = ipvm_ipld_new_map(a, 8);
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < m->u.map.len; i++)
        if (ipvm_ipld_map_set(a, o, m->u.map.entries[i].key, m->u.map.entries[i].key_len,
                              m->u.map.entries[i].value) != 0)
            return NULL;
    ipvm_ipld_t *ver = ipvm_ipld_new_cstring(a, IPVM_RECEIPT_VERSION);
    if (ver == NULL || ipvm_ipld_map_set_cstr(a, o, "version", ver) != 0)
        return NULL;
    if (runtime) {
        ipvm_ipld_t *c = ipvm_ipld_new_link(a, &r->cid), *in = ipvm_ipld_new_link(a, instruction);
        if (c == NULL || in == NULL || ipvm_ipld_map_set_cstr(a, o, "cid", c) != 0 ||
            ipvm_ipld_map_set_cstr(a, o, "instruction", in) != 0)
            return NULL;
    }
    ipvm_ipld_map_sort(o);
    return o;
}

/* Adds the signature (when there is one) to a record's top map and encodes it. */
static int finish_signed(ipvm_arena_t *a, ipvm_ipld_t *top, const uint8_t *sig, size_t sig_len,
                         ipvm_buf_t *out)
{
    if (sig_len) {
        ipvm_ipld_t *s = ipvm_ipld_new_bytes(a, sig, sig_len);
        if (s == NULL || ipvm_ipld_map_set_cstr(a, top, "signature", s) != 0)
            return IPVM_ENOMEM;
    }
    ipvm_ipld_map_sort(top);
    return ipvm_dagcbor_encode(top, out, NULL);
}

int p2p_rc_gossip_encode(const ipvm_receipt_t *r, const ipvm_cid_t *instruction,
                         const uint8_t *sig, size_t sig_len, ipvm_arena_t *a, ipvm_buf_t *out)
{
    uint8_t nonce[RC_NONCE_LEN];
    randombytes_buf(nonce, sizeof nonce); /* identical receipts republished get new ids */
    ipvm_ipld_t *pl = receipt_map(a, r, true, instruction);
    ipvm_ipld_t *hdr = ipvm_ipld_new_map(a, 1), *top = ipvm_ipld_new_map(a, 3);
    ipvm_ipld_t *nb = ipvm_ipld_new_bytes(a, nonce, sizeof nonce);
    if (pl == NULL || hdr == NULL || top == NULL || nb == NULL ||
        ipvm_ipld_map_set_cstr(a, hdr, "nonce", nb) != 0 ||
        ipvm_ipld_map_set_cstr(a, top, "header", hdr) != 0 ||
        ipvm_ipld_map_set_cstr(a, top, "payload", pl) != 0)
        return IPVM_ENOMEM;
    return finish_signed(a, top, sig, sig_len, out);
}

int p2p_rc_capsule_decode(const uint8_t *key, size_t klen, const uint8_t *p, size_t n,
                          ipvm_arena_t *a, rc_wire_t *out, ipvm_error_t *err)
{
    ipvm_ipld_t *top = NULL;
    memset(out, 0, sizeof *out);
    if (ipvm_cid_from_bytes(&out->instruction, key, klen, NULL) != 0)
        return bad(err, "receipt record key is not an instruction CID");
    int rc = ipvm_dagcbor_decode(p, n, a, &top, err);
    if (rc) {
        ipvm_error_prefix(err, "receipt record is not DAG-CBOR: "); /* (err may be NULL) */
        return rc;
    }
    const ipvm_ipld_t *m = top->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(top, "ipvm/receipt")
                                                      : NULL;
    if (m == NULL || m->kind != IPVM_IPLD_MAP)
        return bad(err, "receipt record lacks its \"ipvm/receipt\" map");
    const ipvm_ipld_t *ver = ipvm_ipld_map_get(m, "version");
    if (!ipvm_ipld_is_str(ver, IPVM_RECEIPT_VERSION)) /* compat: decode_capsule rejects others */
        return bad(err, "receipt record version is not \"" IPVM_RECEIPT_VERSION "\"");
    ipvm_ipld_t *five = five_keys(a, m);
    if (five == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if ((rc = ipvm_receipt_from_ipld(five, a, &out->receipt, err)) != 0)
        return rc;
    const ipvm_ipld_t *cid = ipvm_ipld_map_get(m, "cid");
    if (cid && (cid->kind != IPVM_IPLD_LINK || !ipvm_cid_equal(cid->u.link, &out->receipt.cid)))
        return bad(err, "receipt record cid is not the CID of its contents");
    out->receipt.instruction = out->instruction; /* compat: taken from the record key */
    out->receipt.has_instruction = true;
    return signature_of(top, out, err);
}

int p2p_rc_capsule_encode(const ipvm_receipt_t *r, const uint8_t *sig, size_t sig_len,
                          ipvm_arena_t *a, ipvm_buf_t *out)
{
    ipvm_ipld_t *m = receipt_map(a, r, false, NULL), *top = ipvm_ipld_new_map(a, 2);
    if (m == NULL || top == NULL || ipvm_ipld_map_set_cstr(a, top, "ipvm/receipt", m) != 0)
        return IPVM_ENOMEM;
    return finish_signed(a, top, sig, sig_len, out);
}

int p2p_rc_workflow_check(const uint8_t *key, size_t klen, const uint8_t *p, size_t n,
                          ipvm_arena_t *a, ipvm_error_t *err)
{
    ipvm_ipld_t *top = NULL;
    ipvm_cid_t want;
    if (ipvm_cid_from_bytes(&want, key, klen, NULL) != 0)
        return bad(err, "workflow record key is not a CID");
    int rc = ipvm_dagcbor_decode(p, n, a, &top, err);
    if (rc) {
        ipvm_error_prefix(err, "workflow record is not DAG-CBOR: "); /* (err may be NULL) */
        return rc;
    }
    const ipvm_ipld_t *m = top->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(top, "ipvm/workflow")
                                                      : NULL;
    if (m == NULL || m->kind != IPVM_IPLD_MAP)
        return bad(err, "workflow record lacks its \"ipvm/workflow\" map");
    const ipvm_ipld_t *cid = ipvm_ipld_map_get(m, "cid");
    const ipvm_ipld_t *name = ipvm_ipld_map_get(m, "name");
    const ipvm_ipld_t *nt = ipvm_ipld_map_get(m, "num_tasks");
    const ipvm_ipld_t *pr = ipvm_ipld_map_get(m, "progress");
    const ipvm_ipld_t *pc = ipvm_ipld_map_get(m, "progress_count");
    const ipvm_ipld_t *res = ipvm_ipld_map_get(m, "resources");
    if (cid == NULL || cid->kind != IPVM_IPLD_LINK || !ipvm_cid_equal(cid->u.link, &want))
        return bad(err, "workflow record cid differs from its key");
    if (name && name->kind != IPVM_IPLD_NULL && name->kind != IPVM_IPLD_STRING)
        return bad(err, "workflow record name must be a string or null");
    if (nt == NULL || nt->kind != IPVM_IPLD_INT || pc == NULL || pc->kind != IPVM_IPLD_INT)
        return bad(err, "workflow record num_tasks and progress_count must be integers");
    if (pr == NULL || pr->kind != IPVM_IPLD_LIST)
        return bad(err, "workflow record progress must be a list of receipt Links");
    for (size_t i = 0; i < pr->u.list.len; i++)
        if (pr->u.list.items[i]->kind != IPVM_IPLD_LINK)
            return bad(err, "workflow record progress must be a list of receipt Links");
    if (res && res->kind != IPVM_IPLD_MAP)
        return bad(err, "workflow record resources must be a map");
    return 0;
}

int p2p_rc_workflow_encode(const rc_wfinfo_t *w, ipvm_arena_t *a, ipvm_buf_t *out)
{
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 6), *top = ipvm_ipld_new_map(a, 1);
    ipvm_ipld_t *pr = ipvm_ipld_new_list(a, w->nprogress), *res = NULL;
    if (m == NULL || top == NULL || pr == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < w->nprogress; i++) {
        ipvm_ipld_t *l = ipvm_ipld_new_link(a, &w->progress[i]);
        if (l == NULL || ipvm_ipld_list_push(a, pr, l) != 0)
            return IPVM_ENOMEM;
    }
    if (w->resources_len == 0 ||
        ipvm_dagcbor_decode(w->resources, w->resources_len, a, &res, NULL) != 0)
        res = ipvm_ipld_new_map(a, 0);
    ipvm_ipld_t *cid = ipvm_ipld_new_link(a, &w->cid);
    ipvm_ipld_t *name = w->name ? ipvm_ipld_new_cstring(a, w->name) : ipvm_ipld_new_null(a);
    ipvm_ipld_t *nt = ipvm_ipld_new_int(a, w->num_tasks);
    ipvm_ipld_t *pc = ipvm_ipld_new_int(a, (int64_t)w->nprogress);
    if (res == NULL || cid == NULL || name == NULL || nt == NULL || pc == NULL ||
        ipvm_ipld_map_set_cstr(a, m, "cid", cid) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "name", name) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "num_tasks", nt) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "progress", pr) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "progress_count", pc) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "resources", res) != 0 ||
        ipvm_ipld_map_set_cstr(a, top, "ipvm/workflow", m) != 0)
        return IPVM_ENOMEM;
    ipvm_ipld_map_sort(m);
    return ipvm_dagcbor_encode(top, out, NULL);
}

int p2p_rc_validate(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                    const char **why, void *data)
{
    (void)data;
    ipvm_arena_t a;
    ipvm_error_t err;
    rc_wire_t w;
    static _Thread_local char reason[sizeof err.msg];
    ipvm_arena_init(&a);
    ipvm_error_clear(&err);
    int rc = p2p_rc_capsule_decode(key, klen, value, vlen, &a, &w, &err);
    if (rc != 0) {
        ipvm_error_t e2;
        ipvm_error_clear(&e2);
        if (p2p_rc_workflow_check(key, klen, value, vlen, &a, &e2) == 0)
            rc = 0;
        else if (strstr(e2.msg, "lacks its") == NULL) /* it was a workflow record, badly made */
            err = e2;
    }
    ipvm_arena_dispose(&a);
    if (rc != 0) {
        snprintf(reason, sizeof reason, "%s", err.msg);
        *why = reason;
    }
    return rc;
}
