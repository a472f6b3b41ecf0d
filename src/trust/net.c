/* SPDX-License-Identifier: Apache-2.0 */
/* Verification by redundancy over libp2p (trust.h "redundancy over libp2p"): this node answers
 * /ipvm/verify/1.0.0 requests by running the task itself on a few worker threads of its own,
 * and gives the confirm hook one peer function per slot that asks the i-th verifier (the
 * configured addresses first, then connected peers that speak the protocol). */
#include "trust_int.h"

#include "ipvm/p2p.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NET_MAX_VERIFIERS 8
#define NET_QUEUE 16
#define NET_MAX_WORKERS 8
#define NET_MAX_REQUEST (4u << 20)  /* a task map (its args inline) */
#define NET_MAX_ANSWER (4u << 20)   /* a receipt and its signature */

typedef struct net_job_s {
    struct net_job_s *next;
    char from[IPVM_P2P_PEER_ID_STR];
    uint8_t *req;
    size_t len;
    ipvm_p2p_reply_t *reply;
} net_job_t;

typedef struct {
    ipvm_trust_net_t *net;
    size_t index; /* which verifier this slot asks */
} net_slot_t;

struct ipvm_trust_net_s {
    ipvm_trust_t *t;
    ipvm_p2p_host_t *h;
    ipvm_trust_net_opts_t o;
    ipvm_peer_id_t vid[NET_MAX_VERIFIERS];
    ipvm_multiaddr_t vaddr[NET_MAX_VERIFIERS];
    size_t nverifiers;
    net_slot_t slots[IPVM__TRUST_MAX_PEERS];
    bool serving;
    pthread_t workers[NET_MAX_WORKERS];
    size_t nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    net_job_t *head, **tail;
    size_t queued;
    bool stop;
    ipvm_sched_cancel_t cancel; /* fired at free: runs being answered stop early */
    atomic_uint_fast64_t answered, refused;
};

/* ------------------------------------------------------------------- answering ---- */

static int encode_error(int code, const char *msg, ipvm_buf_t *out)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 1), *e = ipvm_ipld_new_map(&a, 2);
    int rc = m && e ? 0 : IPVM_ENOMEM;
    if (rc == 0 &&
        (ipvm_ipld_map_set_cstr(&a, e, "code", ipvm_ipld_new_cstring(&a, ipvm_err_name(code))) ||
         ipvm_ipld_map_set_cstr(&a, e, "message", ipvm_ipld_new_cstring(&a, msg)) ||
         ipvm_ipld_map_set_cstr(&a, m, "error", e)))
        rc = IPVM_ENOMEM;
    if (rc == 0)
        rc = ipvm_dagcbor_encode(m, out, NULL);
    ipvm_arena_dispose(&a);
    return rc;
}

static int encode_receipt(const uint8_t *cbor, size_t len, const uint8_t *sig, size_t slen,
                          ipvm_buf_t *out)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 2);
    int rc = m ? 0 : IPVM_ENOMEM;
    if (rc == 0 &&
        (ipvm_ipld_map_set_cstr(&a, m, "receipt", ipvm_ipld_new_bytes(&a, cbor, len)) ||
         ipvm_ipld_map_set_cstr(&a, m, "signature", ipvm_ipld_new_bytes(&a, sig, slen))))
        rc = IPVM_ENOMEM;
    if (rc == 0)
        rc = ipvm_dagcbor_encode(m, out, NULL);
    ipvm_arena_dispose(&a);
    return rc;
}

/* TESTS ONLY (opts.lie): the receipt this node would sign had the task returned something else:
 * real bytes, a valid signature, a wrong output. */
static int forge(ipvm_trust_net_t *n, ipvm_arena_t *a, const ipvm_task_t *task,
                 const ipvm_receipt_t *honest, ipvm_buf_t *cbor, ipvm_buf_t *sig,
                 ipvm_error_t *err)
{
    const ipvm_ipld_t *v = ipvm_receipt_value(honest);
    int64_t x = 0;
    if (v == NULL || v->kind != IPVM_IPLD_INT || ipvm_ipld_get_i64(v, &x) != 0)
        x = 998;
    ipvm_receipt_t r;
    int rc = ipvm_receipt_make(a, task, true, ipvm_ipld_new_int(a, x + 1), n->t->node.did, &r, err);
    if (rc == 0)
        rc = ipvm_receipt_encode(&r, cbor, err);
    if (rc == 0 && (rc = ipvm_receipt_sign(&n->t->node, &r.cid, sig)) != 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot sign");
    return rc;
}

int ipvm__verify_request_decode(const uint8_t *p, size_t len, ipvm_arena_t *a,
                                ipvm_workflow_t **wf, const char **ucan, size_t *ucan_len,
                                ipvm_error_t *err)
{
    ipvm_ipld_t *v = NULL;
    *ucan = NULL;
    *ucan_len = 0;
    int rc = ipvm_dagcbor_decode(p, len, a, &v, err);
    if (rc != 0) {
        ipvm_error_prefix(err, "request: "); /* (err may be NULL) */
        return rc;
    }
    const ipvm_ipld_t *task = v->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(v, "task") : NULL;
    const ipvm_ipld_t *tok = v->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(v, "ucan") : NULL;
    if (task == NULL || task->kind != IPVM_IPLD_MAP)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "request: want a map {\"task\": {cause, meta, prf, run}}");
    if (tok && tok->kind != IPVM_IPLD_STRING)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "request: \"ucan\" must be a string of tokens");
    ipvm_ipld_t *w = ipvm_ipld_new_map(a, 1), *list = ipvm_ipld_new_list(a, 1);
    if (w == NULL || list == NULL || ipvm_ipld_list_push(a, list, (ipvm_ipld_t *)task) ||
        ipvm_ipld_map_set_cstr(a, w, "tasks", list))
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    /* an await names a task the asker ran before: this node resolves it as for any run (its
     * store, then the network) when the task runs */
    ipvm_workflow_opts_t wo = {.allow_outside_awaits = true};
    if ((rc = ipvm_workflow_from_ipld(w, &wo, a, wf, err)) != 0)
        return rc;
    if (tok) {
        *ucan = tok->u.str.ptr;
        *ucan_len = tok->u.str.len;
    }
    return 0;
}

/* Reads a request into a one-task workflow and, when it carries tokens, their authorization. */
static int read_request(ipvm_trust_net_t *n, const net_job_t *j, ipvm_arena_t *a,
                        ipvm_workflow_t **wf, ipvm_trust_auth_t **auth, ipvm_error_t *err)
{
    const char *ucan;
    size_t ucan_len;
    int rc = ipvm__verify_request_decode(j->req, j->len, a, wf, &ucan, &ucan_len, err);
    if (rc == 0 && ucan)
        rc = ipvm_trust_auth_new(n->t, (const uint8_t *)ucan, ucan_len, auth, err);
    return rc;
}

/* Runs the task of one request here and encodes the answer. */
static int answer(ipvm_trust_net_t *n, const net_job_t *j, ipvm_buf_t *out, ipvm_error_t *err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = NULL;
    ipvm_trust_auth_t *auth = NULL;
    int rc = read_request(n, j, &a, &wf, &auth, err);
    if (rc == 0 && n->t->o.mode == IPVM_TRUST_UCAN && auth == NULL)
        rc = ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                            "this node is in ucan mode: a verify request needs an invocation "
                            "of /wasm/run addressed to it");
    bool marked = false;
    if (rc == 0)
        marked = (rc = ipvm__trust_answering_begin(n->t, &wf->tasks[0].invocation)) == 0;
    ipvm_sched_result_t res;
    memset(&res, 0, sizeof res);
    char name[160];
    snprintf(name, sizeof name, "verify for %.100s", j->from);
    ipvm_sched_run_opts_t ro = {
        .name = name, .timeout_ms = n->o.answer_timeout_ms, .cancel = &n->cancel, .auth = auth};
    if (rc == 0)
        rc = ipvm_sched_run(n->o.sched, wf, &ro, &a, &res, err);
    if (marked)
        ipvm__trust_answering_end(n->t, &wf->tasks[0].invocation);
    const ipvm_sched_receipt_t *r = rc == 0 || rc == IPVM_ETASKFAILED ? &res.receipts[0] : NULL;
    if (r && r->task && !r->receipt.ok) { /* refused or failed here: say so, no vote */
        const ipvm_ipld_t *e = ipvm_receipt_value(&r->receipt);
        const ipvm_ipld_t *m = e ? ipvm_ipld_map_get(e, "message") : NULL;
        rc = ipvm_error_set(err, IPVM_ETASKFAILED, IPVM_NO_OFFSET, "the task failed here: %s",
                            m && m->kind == IPVM_IPLD_STRING ? m->u.str.ptr : "?");
    } else if (rc == 0 && (r->task == NULL || r->signature_len == 0)) {
        rc = ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                            "this node does not sign its receipts ([trust] sign_receipts = no)");
    } else if (rc == 0 && n->o.lie) {
        ipvm_buf_t cbor = IPVM_BUF_INIT, sig = IPVM_BUF_INIT;
        rc = forge(n, &a, &wf->tasks[0], &r->receipt, &cbor, &sig, err);
        if (rc == 0)
            rc = encode_receipt(cbor.data, cbor.len, sig.data, sig.len, out);
        ipvm_buf_dispose(&cbor);
        ipvm_buf_dispose(&sig);
    } else if (rc == 0) {
        rc = encode_receipt(r->cbor, r->cbor_len, r->signature, r->signature_len, out);
    }
    ipvm_trust_auth_free(auth);
    ipvm_arena_dispose(&a);
    return rc;
}

static void *worker_main(void *arg)
{
    ipvm_trust_net_t *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        while (n->head == NULL && !n->stop)
            pthread_cond_wait(&n->cv, &n->mu);
        net_job_t *j = n->head;
        if (j) {
            n->head = j->next;
            if (n->head == NULL)
                n->tail = &n->head;
            n->queued--;
        }
        pthread_mutex_unlock(&n->mu);
        if (j == NULL)
            return NULL; /* stopping, queue drained */
        ipvm_buf_t out = IPVM_BUF_INIT;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        int rc = n->stop ? ipvm_error_set(&err, IPVM_ECANCELED, IPVM_NO_OFFSET,
                                          "the node is stopping")
                         : answer(n, j, &out, &err);
        if (rc != 0) {
            ipvm_buf_clear(&out);
            if (encode_error(rc, err.msg[0] ? err.msg : ipvm_strerror(rc), &out) != 0)
                ipvm_buf_clear(&out);
            atomic_fetch_add(&n->refused, 1);
            ipvm_log(IPVM_LOG_INFO, "trust", "verify request from %s refused: %s", j->from,
                     err.msg);
        } else {
            atomic_fetch_add(&n->answered, 1);
            ipvm_log(IPVM_LOG_INFO, "trust", "verify request from %s answered%s", j->from,
                     n->o.lie ? " (with a forged output: trust.test_lie is set)" : "");
        }
        ipvm_p2p_reply(j->reply, out.data, out.len);
        ipvm_buf_dispose(&out);
        ipvm_free(j->req);
        ipvm_free(j);
    }
}

/* A request arrived (loop thread): queue it for a worker. */
static void on_request(ipvm_p2p_host_t *h, const ipvm_peer_id_t *from, const uint8_t *req,
                       size_t len, ipvm_p2p_reply_t *reply, void *data)
{
    ipvm_trust_net_t *n = data;
    (void)h;
    net_job_t *j = ipvm_calloc(1, sizeof *j);
    uint8_t *copy = j ? ipvm_malloc(len ? len : 1) : NULL;
    pthread_mutex_lock(&n->mu);
    bool take = copy && !n->stop && n->queued < NET_QUEUE;
    if (take) {
        memcpy(copy, req, len);
        j->req = copy;
        j->len = len;
        j->reply = reply;
        ipvm_p2p_peer_id_str(from, j->from);
        *n->tail = j;
        n->tail = &j->next;
        n->queued++;
        pthread_cond_signal(&n->cv);
    }
    pthread_mutex_unlock(&n->mu);
    if (take)
        return;
    ipvm_free(copy);
    ipvm_free(j);
    ipvm_buf_t out = IPVM_BUF_INIT;
    if (encode_error(IPVM_ENORESOURCE, "this node is busy answering other verify requests",
                     &out) != 0)
        ipvm_buf_clear(&out);
    atomic_fetch_add(&n->refused, 1);
    ipvm_p2p_reply(reply, out.data, out.len);
    ipvm_buf_dispose(&out);
}

/* ---------------------------------------------------------------------- asking ---- */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    uint8_t *resp;
    size_t len;
} net_wait_t;

static void on_answer(int status, const uint8_t *resp, size_t len, void *data)
{
    net_wait_t *w = data;
    uint8_t *copy = status == 0 ? ipvm_malloc(len ? len : 1) : NULL;
    if (copy)
        memcpy(copy, resp, len);
    pthread_mutex_lock(&w->mu);
    w->status = status == 0 && copy == NULL ? IPVM_ENOMEM : status;
    w->resp = copy;
    w->len = len;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* The i-th verifier now: configured ones first, then connected speakers not configured. */
static int pick(ipvm_trust_net_t *n, size_t i, ipvm_peer_id_t *id, const ipvm_multiaddr_t **addr)
{
    *addr = NULL;
    if (i < n->nverifiers) {
        *id = n->vid[i];
        *addr = &n->vaddr[i];
        return 0;
    }
    if (!n->o.ask_connected)
        return IPVM_ENOENT;
    ipvm_peer_id_t c[64];
    size_t nc = ipvm_p2p_peers_speaking(n->h, IPVM_TRUST_VERIFY_PROTOCOL, c, 64), seen = n->nverifiers;
    for (size_t k = 0; k < nc; k++) {
        bool configured = false;
        for (size_t v = 0; v < n->nverifiers; v++)
            configured = configured || ipvm_p2p_peer_id_equal(&c[k], &n->vid[v]);
        if (!configured && seen++ == i) {
            *id = c[k];
            return 0;
        }
    }
    return IPVM_ENOENT;
}

static int ask(ipvm_trust_net_t *n, const ipvm_peer_id_t *id, const ipvm_multiaddr_t *addr,
               const ipvm_task_t *task, int timeout_ms, net_wait_t *w, ipvm_error_t *err)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 1);
    ipvm_buf_t req = IPVM_BUF_INIT;
    int rc = m && task->task && ipvm_ipld_map_set_cstr(&a, m, "task", task->task) == 0
                 ? ipvm_dagcbor_encode(m, &req, err)
                 : ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                                  "the task map was not kept (parse with trust hooks set)");
    if (rc == 0 && (rc = ipvm_p2p_request(n->h, id, addr, IPVM_TRUST_VERIFY_PROTOCOL, req.data,
                                          req.len, NET_MAX_ANSWER, (uint32_t)timeout_ms,
                                          on_answer, w)) != 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot ask: %s", ipvm_strerror(rc));
    ipvm_buf_dispose(&req);
    ipvm_arena_dispose(&a);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&w->mu);
    while (!w->done) /* the p2p layer answers once: within the timeout, or when it stops */
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (w->status != 0)
        return ipvm_error_set(err, w->status, IPVM_NO_OFFSET, "no answer: %s",
                              w->status == IPVM_EUNSUPPORTED
                                  ? "it does not speak " IPVM_TRUST_VERIFY_PROTOCOL
                                  : ipvm_strerror(w->status));
    return 0;
}

int ipvm__verify_answer_decode(const uint8_t *resp, size_t len, ipvm_arena_t *arena,
                               ipvm_trust_peer_result_t *out, ipvm_error_t *err)
{
    ipvm_ipld_t *v = NULL;
    ipvm_error_t e;
    ipvm_error_clear(&e);
    if (ipvm_dagcbor_decode(resp, len, arena, &v, &e) != 0)
        return ipvm_error_set(err, IPVM_EPEER, IPVM_NO_OFFSET, "its answer is not DAG-CBOR: %s",
                              e.msg);
    const ipvm_ipld_t *fail = v->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(v, "error") : NULL;
    if (fail) {
        const ipvm_ipld_t *msg = ipvm_ipld_map_get(fail, "message");
        return ipvm_error_set(err, IPVM_EPEER, IPVM_NO_OFFSET, "it refused: %.400s",
                              msg && msg->kind == IPVM_IPLD_STRING ? msg->u.str.ptr : "?");
    }
    const ipvm_ipld_t *r = v->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(v, "receipt") : NULL;
    const ipvm_ipld_t *s = v->kind == IPVM_IPLD_MAP ? ipvm_ipld_map_get(v, "signature") : NULL;
    if (r == NULL || s == NULL || r->kind != IPVM_IPLD_BYTES || s->kind != IPVM_IPLD_BYTES)
        return ipvm_error_set(err, IPVM_EPEER, IPVM_NO_OFFSET,
                              "its answer lacks receipt and signature bytes");
    out->receipt = (const uint8_t *)r->u.str.ptr; /* in arena */
    out->receipt_len = r->u.str.len;
    out->signature = (const uint8_t *)s->u.str.ptr;
    out->signature_len = s->u.str.len;
    return 0;
}

static int slot_run(void *data, const ipvm_task_t *task, int timeout_ms, ipvm_arena_t *arena,
                    ipvm_trust_peer_result_t *out, ipvm_error_t *err)
{
    net_slot_t *sl = data;
    ipvm_trust_net_t *n = sl->net;
    ipvm_peer_id_t id;
    const ipvm_multiaddr_t *addr;
    if (pick(n, sl->index, &id, &addr) != 0)
        return IPVM_ENOENT; /* no such verifier now (the confirm hook says nothing of it) */
    char ids[IPVM_P2P_PEER_ID_STR];
    snprintf(out->source, sizeof out->source, "peer:%s", ipvm_p2p_peer_id_str(&id, ids));
    net_wait_t w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = ask(n, &id, addr, task, timeout_ms, &w, err);
    if (rc == 0)
        rc = ipvm__verify_answer_decode(w.resp, w.len, arena, out, err);
    if (rc != 0)
        ipvm_error_prefix(err, "%s: ", out->source);
    ipvm_free(w.resp);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* ------------------------------------------------------------------ set up ---- */

static int parse_verifiers(ipvm_trust_net_t *n, const char *list, ipvm_error_t *err)
{
    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, ", \t");
        if (len) {
            if (n->nverifiers == NET_MAX_VERIFIERS)
                return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                                      "[trust] verifiers: at most %d addresses",
                                      NET_MAX_VERIFIERS);
            ipvm_multiaddr_t *ma = &n->vaddr[n->nverifiers];
            int rc = ipvm_multiaddr_parse(p, len, ma, err);
            if (rc == 0 && ipvm_multiaddr_peer_id(ma, &n->vid[n->nverifiers]) != 0)
                rc = ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                                    "%.*s has no /p2p/<peer id>", (int)len, p);
            if (rc != 0) {
                ipvm_error_prefix(err, "[trust] verifiers: ");
                return rc;
            }
            n->nverifiers++;
        }
        p += len;
        p += strspn(p, ", \t");
    }
    return 0;
}

static int start_workers(ipvm_trust_net_t *n, ipvm_error_t *err)
{
    size_t want = n->o.workers ? n->o.workers : 2;
    if (want > NET_MAX_WORKERS)
        want = NET_MAX_WORKERS;
    for (size_t i = 0; i < want; i++) {
        if (pthread_create(&n->workers[i], NULL, worker_main, n) != 0)
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "cannot start a thread");
        n->nworkers++;
    }
    return 0;
}

int ipvm_trust_net_new(ipvm_trust_t *t, ipvm_p2p_host_t *h, const ipvm_trust_net_opts_t *o,
                       ipvm_trust_net_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(t == NULL || h == NULL || o == NULL || out == NULL);
    ipvm_trust_net_t *n = ipvm_calloc(1, sizeof *n);
    if (n == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    n->t = t;
    n->h = h;
    n->o = *o;
    n->o.verifiers = NULL;
    if (n->o.answer_timeout_ms == 0)
        n->o.answer_timeout_ms = 60000;
    n->tail = &n->head;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    int rc = parse_verifiers(n, o->verifiers, err);
    if (rc == 0 && o->sched && (rc = start_workers(n, err)) == 0) {
        if ((rc = ipvm_p2p_serve(h, IPVM_TRUST_VERIFY_PROTOCOL, NET_MAX_REQUEST, on_request,
                                 n)) != 0)
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot serve %s: %s",
                           IPVM_TRUST_VERIFY_PROTOCOL, ipvm_strerror(rc));
        n->serving = rc == 0;
    }
    /* one slot per verifier the confirm hook may need: k - 1 at most */
    size_t slots = t->max_k > 1 ? t->max_k - 1 : 0;
    for (size_t i = 0; rc == 0 && i < slots && t->npeers < IPVM__TRUST_MAX_PEERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "verifier %zu", i + 1);
        n->slots[i] = (net_slot_t){n, i};
        if ((rc = ipvm_trust_add_peer(t, name, slot_run, &n->slots[i])) != 0)
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "too many redundancy peers");
    }
    if (rc != 0) {
        ipvm_trust_net_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void ipvm_trust_net_free(ipvm_trust_net_t *n)
{
    if (n == NULL)
        return;
    if (n->serving)
        ipvm_p2p_unserve(n->h, IPVM_TRUST_VERIFY_PROTOCOL);
    ipvm__trust_drop_peers(n->t, slot_run);
    ipvm_sched_cancel_fire(&n->cancel);
    pthread_mutex_lock(&n->mu);
    n->stop = true; /* queued requests are answered "stopping"; running ones finish */
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < n->nworkers; i++)
        pthread_join(n->workers[i], NULL);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    ipvm_free(n);
}

void ipvm_trust_net_counts(ipvm_trust_net_t *n, uint64_t *answered, uint64_t *refused)
{
    if (answered)
        *answered = atomic_load(&n->answered);
    if (refused)
        *refused = atomic_load(&n->refused);
}
