/* SPDX-License-Identifier: Apache-2.0 */
/* The node's trust layer: `open` or `ucan` mode, the scheduler's trust hooks (authorize each
 * task before anything is fetched or run, sign the receipts this node makes, verify those from
 * elsewhere), submissions' token bundles and their binding to tasks (docs/trust.md). */
#include "trust_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct ipvm_trust_auth_s {
    ipvm_arena_t arena;
    ipvm_ucan_store_t *own; /* the bundle's delegations */
    ipvm_ucan_t *invs[256];
    size_t ninv;
    ipvm_jwt_t *jwts[64];
    size_t njwt;
    ipvm_error_t *err; /* while reading */
};

int ipvm_trust_new(const ipvm_trust_opts_t *o, const ipvm_signer_t *node, ipvm_trust_t **out,
                   ipvm_error_t *err)
{
    IPVM_MISUSE_IF(o == NULL || node == NULL || out == NULL);
    ipvm_trust_t *t = ipvm_calloc(1, sizeof *t);
    if (t == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    t->o = *o;
    t->node = *node;
    t->skew = o->skew_s < 0 ? IPVM_UCAN_SKEW_S : o->skew_s;
    t->max_k = o->max_k ? o->max_k : 5;
    pthread_mutex_init(&t->mu, NULL);
    int rc = 0;
    if (o->evidence_dir && (t->evidence_dir = ipvm_strdup(o->evidence_dir)) == NULL)
        rc = ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if (rc == 0 && t->evidence_dir)
        rc = ipvm_mkdirs(t->evidence_dir, 0700, err);
    if (rc == 0)
        rc = ipvm_ucan_store_open(o->ucan_dir, &t->store, err);
    if (rc != 0) {
        ipvm_trust_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void ipvm_trust_free(ipvm_trust_t *t)
{
    if (t == NULL)
        return;
    ipvm_ucan_store_free(t->store);
    for (size_t i = 0; i < t->npeers; i++)
        ipvm_free(t->peers[i].name);
    ipvm_free(t->evidence_dir);
    pthread_mutex_destroy(&t->mu);
    ipvm_free(t);
}

ipvm_ucan_store_t *ipvm_trust_store(ipvm_trust_t *t)
{
    return t->store;
}

const char *ipvm_trust_did(const ipvm_trust_t *t)
{
    return t->node.did;
}

ipvm_trust_mode_t ipvm_trust_mode(const ipvm_trust_t *t)
{
    return t->o.mode;
}

int ipvm_trust_add_peer(ipvm_trust_t *t, const char *name, ipvm_trust_peer_fn fn, void *data)
{
    if (t->npeers == IPVM__TRUST_MAX_PEERS)
        return IPVM_ETOOBIG;
    char *n = ipvm_strdup(name ? name : "peer");
    if (n == NULL)
        return IPVM_ENOMEM;
    t->peers[t->npeers].name = n;
    t->peers[t->npeers].fn = fn;
    t->peers[t->npeers].data = data;
    t->npeers++;
    return 0;
}

void ipvm__trust_drop_peers(ipvm_trust_t *t, ipvm_trust_peer_fn fn)
{
    size_t k = 0;
    for (size_t i = 0; i < t->npeers; i++) {
        if (t->peers[i].fn == fn)
            ipvm_free(t->peers[i].name);
        else
            t->peers[k++] = t->peers[i];
    }
    t->npeers = k;
}

/* ---- bundles --------------------------------------------------------------------------------- */

static int take(void *data, bool is_jwt, const uint8_t *bytes, size_t n)
{
    ipvm_trust_auth_t *a = data;
    if (is_jwt) {
        if (a->njwt == 64)
            return ipvm_error_set(a->err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "more than 64 JWTs");
        return ipvm_jwt_decode((const char *)bytes, n, &a->arena, &a->jwts[a->njwt++], a->err);
    }
    ipvm_ucan_t *u = NULL;
    int rc = ipvm_ucan_decode(bytes, n, &a->arena, &u, a->err);
    if (rc != 0)
        return rc;
    if (u->kind == IPVM_UCAN_DELEGATION)
        return ipvm_ucan_store_add(a->own, bytes, n, NULL, a->err);
    if (a->ninv == 256)
        return ipvm_error_set(a->err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "more than 256 invocations");
    if ((rc = ipvm_ucan_verify_signature(u, a->err)) != 0)
        return rc;
    u->verified = true;
    a->invs[a->ninv++] = u;
    return 0;
}

int ipvm_trust_auth_new(ipvm_trust_t *t, const uint8_t *bundle, size_t len,
                        ipvm_trust_auth_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(t == NULL || out == NULL);
    if (len > 4 * IPVM_UCAN_MAX_BYTES)
        return ipvm_error_set(err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "the UCAN bundle is too large");
    ipvm_trust_auth_t *a = ipvm_calloc(1, sizeof *a);
    if (a == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    ipvm_arena_init(&a->arena);
    a->err = err;
    int rc = ipvm_ucan_store_open(NULL, &a->own, err);
    uint8_t *copy = rc == 0 ? ipvm_arena_memdup(&a->arena, bundle ? bundle : (const uint8_t *)"",
                                                len)
                            : NULL;
    if (rc == 0 && copy == NULL)
        rc = ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if (rc == 0 && (rc = ipvm_ucan_read_tokens(copy, len, &a->arena, take, a, err)) != 0)
        ipvm_error_prefix(err, "UCAN bundle: ");
    a->err = NULL;
    if (rc != 0) {
        ipvm_trust_auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void ipvm_trust_auth_free(ipvm_trust_auth_t *a)
{
    if (a == NULL)
        return;
    ipvm_ucan_store_free(a->own);
    ipvm_arena_dispose(&a->arena);
    ipvm_free(a);
}

/* ---- authorization --------------------------------------------------------------------------- */

/* Does invocation u speak for this task? Its args are the instruction itself (they hash to the
 * task's instruction CID), or {"workflow": &W} naming the submitted workflow. */
static bool binds(const ipvm_ucan_t *u, const ipvm_workflow_t *wf, const ipvm_task_t *task,
                  bool *exact)
{
    *exact = false;
    if (strcmp(u->cmd, "/wasm/run") != 0)
        return false;
    const ipvm_ipld_t *w = ipvm_ipld_map_get(u->args, "workflow");
    if (u->args->u.map.len == 1 && w && w->kind == IPVM_IPLD_LINK)
        return ipvm_cid_equal(w->u.link, &wf->cid);
    ipvm_cid_t cid;
    if (ipvm_ipld_cid(u->args, IPVM_MH_SHA3_256, &cid, NULL) != 0)
        return false;
    *exact = ipvm_cid_equal(&cid, &task->instruction);
    return *exact;
}

/* The instruction the policies are evaluated on: the task's `run`, or, from a compact
 * workflow, {rsc, op, input: {func, args}} rebuilt from what it kept. */
static const ipvm_ipld_t *instruction_of(const ipvm_task_t *task, ipvm_arena_t *a)
{
    if (task->run)
        return task->run;
    ipvm_ipld_t *run = ipvm_ipld_new_map(a, 3), *in = ipvm_ipld_new_map(a, 2);
    if (run == NULL || in == NULL ||
        ipvm_ipld_map_set_cstr(a, in, "func", ipvm_ipld_new_cstring(a, task->func ? task->func : "")) ||
        ipvm_ipld_map_set_cstr(a, in, "args", (ipvm_ipld_t *)task->args) ||
        ipvm_ipld_map_set_cstr(a, run, "rsc", ipvm_ipld_new_cstring(a, task->rsc)) ||
        ipvm_ipld_map_set_cstr(a, run, "op", ipvm_ipld_new_cstring(a, task->op ? task->op : "")) ||
        ipvm_ipld_map_set_cstr(a, run, "input", in))
        return NULL;
    return run;
}

/* A task's own prf (a list of links) must equal the invocation's when it is not empty. */
static bool prf_matches(const ipvm_task_t *task, const ipvm_ucan_t *u)
{
    const ipvm_ipld_t *prf = task->task ? ipvm_ipld_map_get(task->task, "prf") : NULL;
    if (prf == NULL || prf->kind != IPVM_IPLD_LIST || prf->u.list.len == 0)
        return true;
    if (prf->u.list.len != u->nprf)
        return false;
    for (size_t i = 0; i < u->nprf; i++)
        if (prf->u.list.items[i]->kind != IPVM_IPLD_LINK ||
            !ipvm_cid_equal(prf->u.list.items[i]->u.link, &u->prf[i]))
            return false;
    return true;
}

static int check_invocation(ipvm_trust_t *t, const ipvm_trust_auth_t *a, const ipvm_ucan_t *u,
                            const ipvm_task_t *task, bool exact, ipvm_error_t *err)
{
    if (!ipvm_did_equal(u->sub, t->node.did))
        return ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "the invocation's subject is %.60s, not this node", u->sub);
    if (!prf_matches(task, u))
        return ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "the task's prf does not list the invocation's proof chain");
    /* policies are evaluated on the task's instruction, whichever way the invocation binds */
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    ipvm_ucan_t view = *u;
    view.args = exact ? u->args : instruction_of(task, &arena);
    int rc;
    if (view.args == NULL) {
        rc = ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    } else {
        ipvm_ucan_validate_opts_t o = {0, t->skew, t->node.did, t->store, a->own};
        rc = ipvm_ucan_validate(&view, &o, NULL, err);
    }
    ipvm_arena_dispose(&arena);
    return rc;
}

static int deny(const ipvm_task_t *task, int rc, const char *why, ipvm_error_t *err)
{
    char rsc[48];
    size_t n = strlen(task->rsc);
    if (n > 40) /* the whole reason must fit: keep the scheme, the CID's start and its end */
        snprintf(rsc, sizeof rsc, "%.24s…%s", task->rsc, task->rsc + n - 6);
    else
        snprintf(rsc, sizeof rsc, "%s", task->rsc);
    return ipvm_error_set(err, rc, IPVM_NO_OFFSET,
                          "task %zu (%s): missing capability /wasm/run on %s: %s", task->index,
                          task->func ? task->func : "?", rsc, why);
}

int ipvm_trust_authorize(ipvm_trust_t *t, const ipvm_trust_auth_t *a, const ipvm_workflow_t *wf,
                         const ipvm_task_t *task, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(t == NULL || wf == NULL || task == NULL);
    if (t->o.mode == IPVM_TRUST_OPEN)
        return 0;
    char why[400];
    if (a == NULL || (a->ninv == 0 && a->njwt == 0)) {
        snprintf(why, sizeof why,
                 "this node runs in ucan mode and the submission carries no UCAN; get a "
                 "delegation from %.60s and submit with 'ipvm run --ucan FILE --key NAME' (or "
                 "the \"ucan\" field of the RPC params)",
                 t->node.did);
        return deny(task, IPVM_EDENIED, why, err);
    }
    int best = 0;
    ipvm_error_t e;
    ipvm_error_clear(&e);
    why[0] = '\0';
    for (size_t i = 0; i < a->ninv; i++) {
        bool exact;
        if (!binds(a->invs[i], wf, task, &exact))
            continue;
        ipvm_error_clear(&e);
        int rc = check_invocation(t, a, a->invs[i], task, exact, &e);
        if (rc == 0)
            return 0;
        if (best == 0) { /* keep the first failure of an invocation meant for this task */
            best = rc;
            snprintf(why, sizeof why, "%s", e.msg);
        }
    }
    for (size_t i = 0; i < a->njwt; i++) {
        ipvm_jwt_validate_opts_t jo = {0, t->skew, t->node.did, task->rsc, "wasm/run", t->node.did,
                                       NULL, NULL};
        ipvm_error_clear(&e);
        int rc = ipvm_jwt_validate(a->jwts[i], &jo, &e);
        if (rc == 0)
            return 0;
        if (best == 0) {
            best = rc;
            snprintf(why, sizeof why, "%s", e.msg);
        }
    }
    if (best == 0) {
        best = IPVM_EDENIED;
        snprintf(why, sizeof why,
                 "no invocation in the submission is for this task (an invocation of /wasm/run "
                 "whose args are the task's instruction or {\"workflow\": <workflow CID>})");
    }
    return deny(task, best, why, err);
}

/* ---- the scheduler's hooks ------------------------------------------------------------------- */

static int hook_authorize(void *data, const void *auth, const ipvm_workflow_t *wf,
                          const ipvm_task_t *task, ipvm_error_t *err)
{
    return ipvm_trust_authorize(data, auth, wf, task, err);
}

static int hook_sign(void *data, const ipvm_receipt_t *r, const uint8_t *cbor, size_t cbor_len,
                     ipvm_buf_t *sig, ipvm_error_t *err)
{
    ipvm_trust_t *t = data;
    (void)cbor;
    (void)cbor_len;
    if (r->iss == NULL || !ipvm_did_equal(r->iss, t->node.did))
        return ipvm_error_set(err, IPVM_ECRYPTO, IPVM_NO_OFFSET,
                              "refusing to sign a receipt whose iss is not this node");
    int rc = ipvm_receipt_sign(&t->node, &r->cid, sig);
    return rc ? ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot sign the receipt") : 0;
}

static int hook_verify(void *data, const ipvm_receipt_t *r, const uint8_t *cbor,
                       size_t cbor_len, const uint8_t *sig, size_t sig_len, const char *source,
                       ipvm_error_t *err)
{
    ipvm_trust_t *t = data;
    if (ipvm__trust_answering(t, &r->ran) && (r->iss == NULL || !ipvm_did_equal(r->iss, t->node.did)))
        return ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "receipt from %s not used: a peer asked this node to compute it "
                              "itself",
                              source);
    ipvm_receipt_trust_t v;
    ipvm_error_t e;
    ipvm_error_clear(&e);
    int rc = ipvm_receipt_check(cbor, cbor_len, sig, sig_len, &v, &e);
    if (rc != 0)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "receipt from %s: %s", source, e.msg);
    if (v == IPVM_RECEIPT_BAD)
        return ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET, "receipt from %s: %s",
                              source, e.msg);
    if (v == IPVM_RECEIPT_UNSIGNED && t->o.require_signed)
        return ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                              "receipt from %s is unsigned (iss null); this node uses only "
                              "signed receipts",
                              source);
    return 0; /* signed, or unsigned and accepted as Homestar's (unverified) */
}

void ipvm_trust_sched_hooks(ipvm_trust_t *t, ipvm_sched_trust_hooks_t *out)
{
    IPVM_MISUSE_IF(t == NULL || out == NULL);
    memset(out, 0, sizeof *out);
    out->data = t;
    out->authorize = t->o.mode == IPVM_TRUST_UCAN ? hook_authorize : NULL;
    out->issuer = t->o.sign_receipts ? t->node.did : NULL;
    out->sign = t->o.sign_receipts ? hook_sign : NULL;
    out->verify = hook_verify;
    out->confirm = ipvm__trust_confirm;
}

/* ---- bundles for the CLI --------------------------------------------------------------------- */

typedef struct {
    ipvm_arena_t *arena;
    ipvm_ucan_t *d[256];
    size_t n;
    ipvm_error_t *err;
} proofs_t;

static int take_proof(void *data, bool is_jwt, const uint8_t *bytes, size_t n)
{
    proofs_t *p = data;
    if (is_jwt)
        return ipvm_error_set(p->err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "a JWT cannot prove a UCAN 1.0 invocation: send it as is");
    if (p->n == 256)
        return ipvm_error_set(p->err, IPVM_ETOOBIG, IPVM_NO_OFFSET, "more than 256 proofs");
    int rc = ipvm_ucan_decode(bytes, n, p->arena, &p->d[p->n], p->err);
    if (rc == 0 && p->d[p->n]->kind == IPVM_UCAN_DELEGATION)
        p->n++;
    return rc;
}

/* Root first: issued by the subject, then each issued by the previous audience. */
static void chain_order(ipvm_ucan_t **d, size_t n, const char *sub)
{
    const char *want = sub;
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j < n && !ipvm_did_equal(d[j]->iss, want))
            j++;
        if (j == n)
            return;
        ipvm_ucan_t *x = d[i];
        d[i] = d[j];
        d[j] = x;
        want = d[i]->aud;
    }
}

static int append_b64(ipvm_buf_t *out, const uint8_t *p, size_t n)
{
    size_t start = out->len;
    int rc = ipvm_base_encode(IPVM_BASE64, p, n, out);
    while (rc == 0 && (out->len - start) % 4)
        rc = ipvm_buf_append_byte(out, '=');
    return rc ? rc : ipvm_buf_append_byte(out, '\n');
}

int ipvm_trust_bundle_for(const ipvm_signer_t *invoker, const char *node_did,
                          const ipvm_workflow_t *wf, const uint8_t *proofs, size_t len,
                          int64_t ttl_s, ipvm_buf_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(invoker == NULL || node_did == NULL || wf == NULL || out == NULL);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    proofs_t p = {&a, {0}, 0, err};
    int rc = len ? ipvm_ucan_read_tokens(proofs, len, &a, take_proof, &p, err) : 0;
    chain_order(p.d, p.n, node_did);
    ipvm_cid_t cids[256];
    for (size_t i = 0; i < p.n; i++)
        cids[i] = p.d[i]->cid;
    for (size_t i = 0; rc == 0 && i < wf->ntasks; i++) {
        ipvm_ucan_params_t q = {0};
        q.kind = IPVM_UCAN_INVOCATION;
        q.sub = node_did;
        q.aud = node_did;
        q.cmd = "/wasm/run";
        q.args = wf->tasks[i].run;
        if (q.args == NULL) {
            rc = ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                                "the workflow was parsed compact: its instructions are gone");
            break;
        }
        q.prf = cids;
        q.nprf = p.n;
        q.has_exp = true;
        q.exp = (int64_t)time(NULL) + (ttl_s > 0 ? ttl_s : 300);
        q.has_iat = true;
        q.iat = (int64_t)time(NULL);
        ipvm_ucan_t *u = NULL;
        if ((rc = ipvm_ucan_create(&q, invoker, &a, &u, err)) == 0 &&
            (rc = append_b64(out, u->bytes, u->len)) != 0)
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < p.n; i++)
        if ((rc = append_b64(out, p.d[i]->bytes, p.d[i]->len)) != 0)
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    ipvm_arena_dispose(&a);
    return rc;
}
