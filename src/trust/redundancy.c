/* SPDX-License-Identifier: Apache-2.0 */
/* Verification by redundancy: a task's meta may ask for k independent results
 * ({"redundancy": k}). After the node executed it, receipts of the same invocation are obtained
 * from k-1 other issuers through the peer functions, verified, their `out` compared, and the
 * evidence written to <evidence_dir>/<instruction CID>.cbor; a disagreement fails the task. */
#include "trust_int.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    char iss[IPVM_DID_MAX + 64];
    ipvm_cid_t receipt, out;
    char source[96];
} result_t;

unsigned ipvm_trust_task_k(const ipvm_task_t *task)
{
    uint64_t k = 1;
    /* a compact task has no meta (sched.h: ipvm_sched_parse keeps it when trust hooks read it) */
    const ipvm_ipld_t *v = task->meta ? ipvm_ipld_map_get(task->meta, "redundancy") : NULL;
    if (v == NULL || v->kind != IPVM_IPLD_INT || ipvm_ipld_get_u64(v, &k) != 0 || k == 0)
        return 1;
    return k > 1000 ? 1000 : (unsigned)k;
}

static int out_cid(const ipvm_receipt_t *r, ipvm_cid_t *out, ipvm_error_t *err)
{
    return ipvm_ipld_cid(r->out, IPVM_MH_SHA3_256, out, err);
}

/* Checks one peer's answer: a receipt of this task's invocation, signed by a new issuer. */
static int take_peer(const ipvm_task_t *task, const ipvm_trust_peer_result_t *pr,
                     const result_t *have, size_t nhave, ipvm_arena_t *a, result_t *out,
                     ipvm_error_t *err)
{
    ipvm_receipt_t r;
    int rc = ipvm_receipt_decode(pr->receipt, pr->receipt_len, a, &r, err);
    if (rc != 0)
        return rc;
    if (!ipvm_cid_equal(&r.ran, &task->invocation))
        return ipvm_error_set(err, IPVM_ERECEIPT, IPVM_NO_OFFSET,
                              "its receipt is for another invocation");
    ipvm_receipt_trust_t v;
    if ((rc = ipvm_receipt_check(pr->receipt, pr->receipt_len, pr->signature, pr->signature_len,
                                 &v, err)) != 0)
        return rc;
    if (v != IPVM_RECEIPT_SIGNED)
        return v == IPVM_RECEIPT_UNSIGNED
                   ? ipvm_error_set(err, IPVM_ESIGNATURE, IPVM_NO_OFFSET,
                                    "its receipt is unsigned, so it names no issuer")
                   : IPVM_ESIGNATURE;
    for (size_t i = 0; i < nhave; i++)
        if (ipvm_did_equal(have[i].iss, r.iss))
            return ipvm_error_set(err, IPVM_EEXIST, IPVM_NO_OFFSET,
                                  "%.60s already gave a result: not independent", r.iss);
    snprintf(out->iss, sizeof out->iss, "%s", r.iss);
    snprintf(out->source, sizeof out->source, "%s", pr->source[0] ? pr->source : "peer");
    out->receipt = r.cid;
    return out_cid(&r, &out->out, err);
}

static int write_evidence(ipvm_trust_t *t, const ipvm_task_t *task, unsigned k,
                          const char *verdict, const result_t *res, size_t n)
{
    if (t->evidence_dir == NULL)
        return 0;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 5), *list = ipvm_ipld_new_list(&a, n);
    int rc = m && list ? 0 : IPVM_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ipvm_ipld_t *e = ipvm_ipld_new_map(&a, 4);
        if (e == NULL ||
            ipvm_ipld_map_set_cstr(&a, e, "iss", ipvm_ipld_new_cstring(&a, res[i].iss)) ||
            ipvm_ipld_map_set_cstr(&a, e, "receipt", ipvm_ipld_new_link(&a, &res[i].receipt)) ||
            ipvm_ipld_map_set_cstr(&a, e, "out", ipvm_ipld_new_link(&a, &res[i].out)) ||
            ipvm_ipld_map_set_cstr(&a, e, "source", ipvm_ipld_new_cstring(&a, res[i].source)) ||
            ipvm_ipld_list_push(&a, list, e))
            rc = IPVM_ENOMEM;
    }
    if (rc == 0 &&
        (ipvm_ipld_map_set_cstr(&a, m, "instruction", ipvm_ipld_new_link(&a, &task->instruction)) ||
         ipvm_ipld_map_set_cstr(&a, m, "k", ipvm_ipld_new_uint(&a, k)) ||
         ipvm_ipld_map_set_cstr(&a, m, "verdict", ipvm_ipld_new_cstring(&a, verdict)) ||
         ipvm_ipld_map_set_cstr(&a, m, "at", ipvm_ipld_new_uint(&a, ipvm_wall_ms())) ||
         ipvm_ipld_map_set_cstr(&a, m, "results", list)))
        rc = IPVM_ENOMEM;
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (rc == 0)
        rc = ipvm_dagcbor_encode(m, &b, NULL);
    if (rc == 0) {
        char cid[IPVM_CID_MAX_STR], path[4096];
        snprintf(path, sizeof path, "%s/%s.cbor", t->evidence_dir,
                 ipvm_cid_str(&task->instruction, cid));
        pthread_mutex_lock(&t->mu);
        ipvm_error_t e;
        rc = ipvm_file_write_atomic(path, b.data, b.len, &e);
        pthread_mutex_unlock(&t->mu);
        if (rc)
            ipvm_log(IPVM_LOG_WARN, "trust", "cannot keep the evidence: %s", e.msg);
    }
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    return rc;
}

static const char *shorten(const char *s, char out[48])
{
    size_t n = strlen(s);
    if (n <= 30)
        return s;
    snprintf(out, 48, "%.18s…%s", s, s + n - 6);
    return out;
}

/* The message naming who got what, for a conflict (short forms: the evidence has them all). */
static void describe(const result_t *res, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < size; i++) {
        char c[IPVM_CID_MAX_STR], sd[48], sc[48];
        int w = snprintf(out + used, size - used, "%s%s: %s", i ? "; " : "",
                         shorten(res[i].iss, sd), shorten(ipvm_cid_str(&res[i].out, c), sc));
        used += w > 0 ? (size_t)w : 0;
    }
}

/* One peer asked during a round of the confirm hook, on its own thread or the caller's. */
typedef struct {
    ipvm_trust_t *t;
    size_t peer;
    const ipvm_task_t *task;
    int left;
    ipvm_arena_t a;
    ipvm_trust_peer_result_t pr;
    ipvm_error_t e;
    int prc;
    pthread_t th;
    bool threaded;
} peer_ask_t;

static void ask_run(peer_ask_t *q)
{
    const ipvm__trust_peer_t *p = &q->t->peers[q->peer];
    q->prc = q->left > 0 ? p->fn(p->data, q->task, q->left, &q->a, &q->pr, &q->e)
                         : ipvm_error_set(&q->e, IPVM_ETIMEDOUT, IPVM_NO_OFFSET, "no time left");
}

static void *ask_main(void *arg)
{
    ask_run(arg);
    return NULL;
}

static void ask_start(peer_ask_t *q, ipvm_trust_t *t, size_t peer, const ipvm_task_t *task,
                      int left, bool thread)
{
    memset(q, 0, sizeof *q);
    q->t = t;
    q->peer = peer;
    q->task = task;
    q->left = left;
    ipvm_arena_init(&q->a);
    ipvm_error_clear(&q->e);
    q->threaded = thread && pthread_create(&q->th, NULL, ask_main, q) == 0;
    if (thread && !q->threaded)
        ask_run(q); /* no thread to be had: ask it here, in turn */
}

static void ask_wait(peer_ask_t *q)
{
    if (q->threaded)
        pthread_join(q->th, NULL);
}

/* Asks the peers for their results until res holds k (n are there already) or every peer was
 * asked, by the deadline. In rounds: the next k - n peers are asked at once (one thread each),
 * their answers taken in peer order; peers that failed are replaced by the following ones and
 * say why in why[0..size). Returns the new n. */
static size_t ask_peers(ipvm_trust_t *t, const ipvm_task_t *task, unsigned k, uint64_t deadline,
                        result_t *res, size_t n, char *why, size_t size)
{
    for (size_t p = 0; p < t->npeers && n < k;) {
        uint64_t now = ipvm_now_ns();
        int left = now < deadline ? (int)((deadline - now) / 1000000u) : 0;
        size_t m = k - n < t->npeers - p ? k - n : t->npeers - p;
        peer_ask_t q[IPVM__TRUST_MAX_PEERS];
        for (size_t i = 0; i < m; i++)
            ask_start(&q[i], t, p + i, task, left, i > 0);
        ask_run(&q[0]);
        for (size_t i = 0; i < m; i++) {
            ask_wait(&q[i]);
            if (q[i].prc == 0)
                q[i].prc = take_peer(task, &q[i].pr, res, n, &q[i].a, &res[n], &q[i].e);
            if (q[i].prc == 0)
                n++;
            else if (q[i].prc != IPVM_ENOENT || q[i].e.msg[0]) /* no word: no such peer now */
                snprintf(why + strlen(why), size - strlen(why), "%s%s: %s", why[0] ? "; " : "",
                         t->peers[p + i].name, q[i].e.msg);
            ipvm_arena_dispose(&q[i].a);
        }
        p += m;
    }
    return n;
}

int ipvm__trust_confirm(void *data, const ipvm_task_t *task, const ipvm_sched_receipt_t *r,
                        int timeout_ms, ipvm_error_t *err)
{
    ipvm_trust_t *t = data;
    unsigned k = ipvm_trust_task_k(task);
    if (t->o.redundancy > k)
        k = t->o.redundancy; /* the node's own policy */
    if (k <= 1 || ipvm__trust_answering(t, &task->invocation))
        return 0; /* run for another node that asked: it does the comparing */
    if (k > t->max_k)
        return ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "task %zu asks for %u independent results; this node allows at "
                              "most %u",
                              task->index, k, t->max_k);
    result_t res[IPVM__TRUST_MAX_PEERS + 1];
    size_t n = 1;
    snprintf(res[0].iss, sizeof res[0].iss, "%s", t->node.did); /* itself counts as one */
    snprintf(res[0].source, sizeof res[0].source, "local");
    res[0].receipt = r->receipt.cid;
    int rc = out_cid(&r->receipt, &res[0].out, err);
    if (rc != 0)
        return rc;
    char why[600] = "";
    uint64_t deadline = ipvm_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1) * 1000000u;
    n = ask_peers(t, task, k, deadline, res, n, why, sizeof why);
    bool agree = true;
    for (size_t i = 1; i < n; i++)
        agree = agree && ipvm_cid_equal(&res[i].out, &res[0].out);
    const char *verdict = n < k ? "insufficient" : agree ? "agree" : "conflict";
    write_evidence(t, task, k, verdict, res, n);
    if (!agree) {
        char d[1200];
        describe(res, n, d, sizeof d);
        return ipvm_error_set(err, IPVM_ECONFLICT, IPVM_NO_OFFSET,
                              "task %zu (%s): %zu independent results disagree (issuer: out): %s", task->index,
                              task->func ? task->func : "?", n, d);
    }
    if (n < k)
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "task %zu (%s) asks for %u independent results, only %zu issuers "
                              "answered%s%s",
                              task->index, task->func ? task->func : "?", k, n,
                              why[0] ? ": " : "", why);
    return 0;
}

int ipvm_trust_evidence_get(const char *dir, const ipvm_cid_t *instruction, ipvm_buf_t *out,
                            ipvm_error_t *err)
{
    char cid[IPVM_CID_MAX_STR], path[4096];
    snprintf(path, sizeof path, "%s/%s.cbor", dir, ipvm_cid_str(instruction, cid));
    return ipvm_file_read(path, out, err);
}

int ipvm__trust_answering_begin(ipvm_trust_t *t, const ipvm_cid_t *invocation)
{
    int rc = IPVM_ENORESOURCE;
    pthread_mutex_lock(&t->mu);
    if (t->nanswering < sizeof t->answering / sizeof t->answering[0]) {
        t->answering[t->nanswering++] = *invocation;
        rc = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void ipvm__trust_answering_end(ipvm_trust_t *t, const ipvm_cid_t *invocation)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->nanswering; i++)
        if (ipvm_cid_equal(&t->answering[i], invocation)) {
            t->answering[i] = t->answering[--t->nanswering];
            break;
        }
    pthread_mutex_unlock(&t->mu);
}

bool ipvm__trust_answering(ipvm_trust_t *t, const ipvm_cid_t *invocation)
{
    bool found = false;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->nanswering && !found; i++)
        found = ipvm_cid_equal(&t->answering[i], invocation);
    pthread_mutex_unlock(&t->mu);
    return found;
}
