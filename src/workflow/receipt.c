/* SPDX-License-Identifier: Apache-2.0 */
/* Receipts in Homestar's shape {ran, out, meta, iss, prf} (homestar-invocation/src/receipt.rs;
 * reference/homestar.md §3.1), their CIDs, and our error receipts: out = ["error", {code,
 * message, trap, fuel}] for a task that failed, where Homestar writes nothing. */
#include "workflow_int.h"

#include <string.h>

static int rerr(ipvm_error_t *err, const char *what)
{
    return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET, "receipt: %s", what);
}

static ipvm_ipld_t *make_out(ipvm_arena_t *a, bool ok, ipvm_ipld_t *value)
{
    ipvm_ipld_t *out = ipvm_ipld_new_list(a, 2);
    ipvm_ipld_t *tag = ipvm_ipld_new_cstring(a, ok ? "ok" : "error");
    if (out == NULL || tag == NULL || ipvm_ipld_list_push(a, out, tag) != 0 ||
        ipvm_ipld_list_push(a, out, value) != 0)
        return NULL;
    return out;
}

ipvm_ipld_t *ipvm_receipt_to_ipld(ipvm_arena_t *a, const ipvm_receipt_t *r)
{
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 5);
    ipvm_ipld_t *ran = ipvm_ipld_new_link(a, &r->ran);
    ipvm_ipld_t *iss = r->iss ? ipvm_ipld_new_cstring(a, r->iss) : ipvm_ipld_new_null(a);
    if (m == NULL || ran == NULL || iss == NULL)
        return NULL;
    if (ipvm_ipld_map_set_cstr(a, m, "ran", ran) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "out", r->out) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "meta", r->meta) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "iss", iss) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "prf", r->prf) != 0)
        return NULL;
    ipvm_ipld_map_sort(m);
    return m;
}

int ipvm_receipt_encode(const ipvm_receipt_t *r, ipvm_buf_t *out, ipvm_error_t *err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_receipt_to_ipld(&a, r);
    int rc =
        m ? ipvm_dagcbor_encode(m, out, err)
          : ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "receipt: out of memory encoding it");
    ipvm_arena_dispose(&a);
    return rc;
}

/* The CID of the receipt's 5-key map. */
static int receipt_cid(ipvm_arena_t *a, ipvm_receipt_t *r, ipvm_error_t *err)
{
    ipvm_ipld_t *m = ipvm_receipt_to_ipld(a, r);
    if (m == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                              "receipt: out of memory computing its CID");
    return ipvm_ipld_cid(m, IPVM_MH_SHA3_256, &r->cid, err);
}

int ipvm_receipt_make(ipvm_arena_t *a, const ipvm_task_t *task, bool ok, ipvm_ipld_t *value,
                      const char *iss, ipvm_receipt_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(a == NULL || task == NULL || value == NULL || out == NULL);
    memset(out, 0, sizeof *out);
    out->ran = task->invocation;
    out->instruction = task->instruction;
    out->has_instruction = true;
    out->ok = ok;
    out->out = make_out(a, ok, value);
    /* compat: homestar-runtime worker.rs - meta.op is the function name, not the ability */
    out->meta = ipvm_ipld_new_map(a, 1);
    ipvm_ipld_t *op = ipvm_ipld_new_cstring(a, task->func);
    out->prf = ipvm_ipld_new_list(a, 0);
    out->iss = iss ? ipvm_arena_strdup(a, iss) : NULL;
    if (out->out == NULL || out->meta == NULL || op == NULL || out->prf == NULL ||
        (iss && out->iss == NULL) || ipvm_ipld_map_set_cstr(a, out->meta, "op", op) != 0)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "receipt: out of memory making it");
    return receipt_cid(a, out, err);
}

const ipvm_ipld_t *ipvm_receipt_value(const ipvm_receipt_t *r)
{
    return r->out->u.list.items[1];
}

/* Homestar's runtime receipt (homestar-runtime/src/receipt.rs) adds cid, instruction and
 * version for its DB rows and gossip; we accept them and check cid and instruction. */
static bool key_is(const ipvm_ipld_entry_t *e, const char *k)
{
    return e->key_len == strlen(k) && memcmp(e->key, k, e->key_len) == 0;
}

static int check_extension(const ipvm_ipld_t *v, ipvm_receipt_t *r, ipvm_error_t *err)
{
    for (size_t i = 0; i < v->u.map.len; i++) {
        const ipvm_ipld_entry_t *e = &v->u.map.entries[i];
        if (key_is(e, "ran") || key_is(e, "out") || key_is(e, "meta") || key_is(e, "iss") ||
            key_is(e, "prf"))
            continue;
        if (key_is(e, "version") && e->value->kind == IPVM_IPLD_STRING)
            continue;
        if (key_is(e, "instruction") && e->value->kind == IPVM_IPLD_LINK) {
            r->instruction = *e->value->u.link;
            r->has_instruction = true;
            continue;
        }
        if (key_is(e, "cid") && e->value->kind == IPVM_IPLD_LINK)
            continue; /* checked once the CID is computed */
        return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "receipt: unexpected key \"%.40s\"", e->key);
    }
    return 0;
}

static int check_out(const ipvm_ipld_t *out, ipvm_receipt_t *r, ipvm_error_t *err)
{
    if (out == NULL || out->kind != IPVM_IPLD_LIST || out->u.list.len != 2)
        return rerr(err, "out must be [\"ok\"|\"error\", value]");
    const ipvm_ipld_t *tag = out->u.list.items[0];
    if (ipvm_ipld_is_str(tag, "ok"))
        r->ok = true;
    else if (ipvm_ipld_is_str(tag, "error"))
        r->ok = false;
    else
        return rerr(err, "out[0] must be \"ok\" or \"error\"");
    return 0;
}

int ipvm_receipt_from_ipld(const ipvm_ipld_t *v, ipvm_arena_t *a, ipvm_receipt_t *out,
                           ipvm_error_t *err)
{
    IPVM_MISUSE_IF(v == NULL || a == NULL || out == NULL);
    ipvm_receipt_t r;
    memset(&r, 0, sizeof r);
    if (v->kind != IPVM_IPLD_MAP)
        return rerr(err, "must be a map {ran, out, meta, iss, prf}");
    int rc = check_extension(v, &r, err);
    if (rc != 0)
        return rc;
    const ipvm_ipld_t *ran = ipvm_ipld_map_get(v, "ran");
    const ipvm_ipld_t *o = ipvm_ipld_map_get(v, "out");
    const ipvm_ipld_t *meta = ipvm_ipld_map_get(v, "meta");
    const ipvm_ipld_t *iss = ipvm_ipld_map_get(v, "iss");
    const ipvm_ipld_t *prf = ipvm_ipld_map_get(v, "prf");
    if (ran == NULL || ran->kind != IPVM_IPLD_LINK)
        return rerr(err, "ran must be a Link (the invocation CID)");
    if ((rc = check_out(o, &r, err)) != 0)
        return rc;
    if (meta == NULL)
        return rerr(err, "meta is missing");
    if (iss == NULL || (iss->kind != IPVM_IPLD_NULL && iss->kind != IPVM_IPLD_STRING))
        return rerr(err, "iss must be null or a DID string");
    if (iss->kind == IPVM_IPLD_STRING && strlen(iss->u.str.ptr) != iss->u.str.len)
        return rerr(err, "iss holds a NUL byte");
    if (prf == NULL || prf->kind != IPVM_IPLD_LIST)
        return rerr(err, "prf must be a list of Links");
    for (size_t i = 0; i < prf->u.list.len; i++)
        if (prf->u.list.items[i]->kind != IPVM_IPLD_LINK)
            return rerr(err, "prf must be a list of Links");
    r.ran = *ran->u.link;
    r.out = (ipvm_ipld_t *)o;
    r.meta = (ipvm_ipld_t *)meta;
    r.iss = iss->kind == IPVM_IPLD_STRING ? iss->u.str.ptr : NULL;
    r.prf = (ipvm_ipld_t *)prf;
    if ((rc = receipt_cid(a, &r, err)) != 0)
        return rc;
    const ipvm_ipld_t *claimed = ipvm_ipld_map_get(v, "cid");
    if (claimed && !ipvm_cid_equal(claimed->u.link, &r.cid))
        return rerr(err, "its cid field does not match the CID of {ran, out, meta, iss, prf}");
    *out = r;
    return 0;
}

int ipvm_receipt_decode(const uint8_t *cbor, size_t len, ipvm_arena_t *a, ipvm_receipt_t *out,
                        ipvm_error_t *err)
{
    ipvm_ipld_t *v = NULL;
    int rc = ipvm_dagcbor_decode(cbor, len, a, &v, err);
    if (rc != 0) {
        ipvm_error_prefix(err, "receipt: "); /* (err may be NULL) */
        return rc;
    }
    return ipvm_receipt_from_ipld(v, a, out, err);
}

ipvm_ipld_t *ipvm_receipt_error_value(ipvm_arena_t *a, int code, const char *message,
                                      const char *trap, uint64_t fuel)
{
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, 4);
    ipvm_ipld_t *c = ipvm_ipld_new_cstring(a, ipvm_err_name(code));
    ipvm_ipld_t *msg = ipvm_ipld_new_cstring(a, message ? message : ipvm_strerror(code));
    ipvm_ipld_t *t = trap ? ipvm_ipld_new_cstring(a, trap) : ipvm_ipld_new_null(a);
    ipvm_ipld_t *f = ipvm_ipld_new_uint(a, fuel);
    if (m == NULL || c == NULL || msg == NULL || t == NULL || f == NULL)
        return NULL;
    if (ipvm_ipld_map_set_cstr(a, m, "code", c) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "message", msg) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "trap", t) != 0 ||
        ipvm_ipld_map_set_cstr(a, m, "fuel", f) != 0)
        return NULL;
    ipvm_ipld_map_sort(m);
    return m;
}

const char *ipvm_receipt_error_code(const ipvm_ipld_t *v)
{
    const ipvm_ipld_t *c = v ? ipvm_ipld_map_get(v, "code") : NULL;
    return c && c->kind == IPVM_IPLD_STRING ? c->u.str.ptr : NULL;
}

/* Failures that depend only on the module and the arguments (both fixed by the instruction
 * CID). Fuel and memory exhaustion are not here: they depend on the task's limits, which live
 * in meta, outside the instruction. */
static const char *const FINAL_CODES[] = {
    "IPVM_ETRAP_OOB",      "IPVM_ETRAP_UNREACHABLE", "IPVM_ETRAP_DIVZERO",
    "IPVM_ETRAP_OVERFLOW", "IPVM_ETRAP_CONVERSION",  "IPVM_ETRAP_STACK",
    "IPVM_ETRAP_INDIRECT", "IPVM_ETRAP_EXIT",        "IPVM_ETRAP",
    "IPVM_ENOFUNC",        "IPVM_EABI",              "IPVM_EWASM",
    "IPVM_EWASMUNSUPPORTED",
};

bool ipvm_receipt_error_is_final(const ipvm_ipld_t *v)
{
    const char *code = ipvm_receipt_error_code(v);
    if (code == NULL)
        return false;
    for (size_t i = 0; i < sizeof FINAL_CODES / sizeof FINAL_CODES[0]; i++)
        if (strcmp(code, FINAL_CODES[i]) == 0)
            return true;
    return false;
}
