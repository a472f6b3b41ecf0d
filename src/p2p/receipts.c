/* SPDX-License-Identifier: Apache-2.0 */
/* Receipts over the network (homestar.md §5.2-5.4): gossip on "receipts" and DHT records for
 * every receipt the scheduler commits; receipts from peers checked (CID recomputed, instruction
 * named) and kept in a bounded cache that the scheduler's find_receipts hook reads first, then
 * the DHT within the lookup timeout; our own receipts served to DHT lookups from the database.
 * The scheduler calls the hooks from its run threads: they hand work to the loop thread through
 * the host's request queue and never block it. */
#include "receipts.h"

#include "kad.h"

#include <stdio.h>

typedef struct rc_entry_s {
    struct rc_entry_s *older, *newer;
    uint8_t key[IPVM_CID_MAX_BYTES]; /* instruction CID bytes */
    size_t klen;
    ipvm_cid_t ran, cid;
    uint8_t *cbor; /* the 5-key receipt */
    size_t len;
    uint8_t *sig;
    size_t siglen;
    char source[80];
} rc_entry_t;

typedef struct rc_wf_s {
    struct rc_wf_s *next;
    ipvm_cid_t cid;
    ipvm_cid_t *progress;
    size_t n, cap;
    char *name;
    int64_t num_tasks;
    uint8_t *resources;
    size_t rlen;
    bool row_loaded, row_loading, putting, dirty;
} rc_wf_t;

struct ipvm_p2p_receipts_s {
    ipvm_p2p_host_t *h;
    ipvm_p2p_receipts_opts_t o;
    char *db_path;
    uv_mutex_t lock; /* guards the cache: the scheduler's threads read it */
    p2p_map_t cache;
    rc_entry_t *oldest, *newest;
    size_t n;
    uv_mutex_t store_lock; /* one store handle, used by one worker thread at a time */
    ipvm_store_t *store;
    bool store_failed;
    rc_wf_t *wfs;
    size_t nwfs;
    int pending; /* work and requests in flight */
    bool closing;
};

static void rc_release(ipvm_p2p_receipts_t *r);

static void hold(ipvm_p2p_receipts_t *r)
{
    __atomic_add_fetch(&r->pending, 1, __ATOMIC_ACQ_REL);
}

static void unhold(ipvm_p2p_receipts_t *r)
{
    __atomic_sub_fetch(&r->pending, 1, __ATOMIC_ACQ_REL);
}

/* ------------------------------------------------------------------------- cache ---- */
static void entry_free(rc_entry_t *e)
{
    if (e == NULL)
        return;
    ipvm_free(e->cbor);
    ipvm_free(e->sig);
    ipvm_free(e);
}

/* A cache entry with copies of the receipt's bytes and signature, or NULL without memory. */
static rc_entry_t *entry_new(const rc_wire_t *w, const uint8_t *cbor, size_t len,
                             const char *source)
{
    rc_entry_t *e = ipvm_calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->klen = w->instruction.len;
    memcpy(e->key, w->instruction.bytes, e->klen);
    e->ran = w->receipt.ran;
    e->cid = w->receipt.cid;
    e->cbor = ipvm_malloc(len);
    e->sig = w->signature_len ? ipvm_malloc(w->signature_len) : NULL;
    if (e->cbor == NULL || (w->signature_len && e->sig == NULL)) {
        entry_free(e);
        return NULL;
    }
    memcpy(e->cbor, cbor, len);
    e->len = len;
    if (w->signature_len)
        memcpy(e->sig, w->signature, w->signature_len);
    e->siglen = w->signature_len;
    snprintf(e->source, sizeof e->source, "%.79s", source);
    return e;
}

/* Takes e out of the age list (the caller holds r->lock). */
static void lru_unlink(ipvm_p2p_receipts_t *r, rc_entry_t *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        r->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        r->newest = e->older;
    e->older = e->newer = NULL;
    r->n--;
}

/* Adds e as the newest entry of the age list (the caller holds r->lock). */
static void lru_push(ipvm_p2p_receipts_t *r, rc_entry_t *e)
{
    e->older = r->newest;
    if (r->newest)
        r->newest->newer = e;
    else
        r->oldest = e;
    r->newest = e;
    r->n++;
}

static void cache_put(ipvm_p2p_receipts_t *r, const rc_wire_t *w, const uint8_t *cbor,
                      size_t len, const char *source)
{
    rc_entry_t *e = entry_new(w, cbor, len, source);
    if (e == NULL)
        return;
    uv_mutex_lock(&r->lock);
    rc_entry_t *old = p2p_map_del(&r->cache, e->key, e->klen);
    if (old) /* the newest receipt for an instruction wins */
        lru_unlink(r, old);
    if (p2p_map_put(&r->cache, e->key, e->klen, e) == 0) {
        lru_push(r, e);
    } else {
        entry_free(e);
        e = NULL;
    }
    while (r->n > r->o.cache_max && r->oldest && r->oldest != e) { /* bounded, oldest first */
        rc_entry_t *x = r->oldest;
        lru_unlink(r, x);
        (void)p2p_map_del(&r->cache, x->key, x->klen);
        entry_free(x);
    }
    uv_mutex_unlock(&r->lock);
    entry_free(old);
}

size_t ipvm_p2p_receipts_cached(ipvm_p2p_receipts_t *r)
{
    uv_mutex_lock(&r->lock);
    size_t n = r->n;
    uv_mutex_unlock(&r->lock);
    return n;
}

/* Copies the cached receipt for an instruction into arena (caller holds nothing). */
static int cache_copy(ipvm_p2p_receipts_t *r, const ipvm_cid_t *instruction,
                      const ipvm_cid_t *want_ran, ipvm_arena_t *a, ipvm_sched_lookup_t *it)
{
    int rc = IPVM_ENOENT;
    uv_mutex_lock(&r->lock);
    rc_entry_t *e = p2p_map_get(&r->cache, instruction->bytes, instruction->len);
    if (e && (want_ran == NULL || ipvm_cid_equal(&e->ran, want_ran))) {
        uint8_t *c = ipvm_arena_memdup(a, e->cbor, e->len);
        uint8_t *s = e->siglen ? ipvm_arena_memdup(a, e->sig, e->siglen) : NULL;
        rc = c && (s || !e->siglen) ? 0 : IPVM_ENOMEM;
        if (rc == 0 && it) {
            it->found = true;
            it->receipt = c;
            it->receipt_len = e->len;
            it->signature = s;
            it->signature_len = e->siglen;
            memcpy(it->source, e->source, sizeof e->source);
        }
    }
    uv_mutex_unlock(&r->lock);
    return rc;
}

int ipvm_p2p_receipts_get_cached(ipvm_p2p_receipts_t *r, const ipvm_cid_t *instruction,
                                 ipvm_arena_t *arena, const uint8_t **cbor, size_t *len)
{
    ipvm_sched_lookup_t it;
    memset(&it, 0, sizeof it);
    int rc = cache_copy(r, instruction, NULL, arena, &it);
    if (rc == 0) {
        *cbor = it.receipt;
        *len = it.receipt_len;
    }
    return rc;
}

/* --------------------------------------------------------------------- events ---- */
static void emit(ipvm_p2p_receipts_t *r, ipvm_p2p_event_kind_t kind, const ipvm_peer_id_t *peer,
                 const ipvm_cid_t *cid, const ipvm_cid_t *ran, const char *reason, int code)
{
    ipvm_p2p_event_t ev = {.kind = kind, .peer = peer, .cid = cid, .ran = ran,
                           .reason = reason, .code = code};
    p2p_host_emit(r->h, &ev);
}

/* ------------------------------------------------------------------ from peers ---- */
static ipvm_p2p_verdict_t on_gossip(ipvm_p2p_host_t *h, const ipvm_p2p_message_t *m, void *data)
{
    ipvm_p2p_receipts_t *r = data;
    ipvm_arena_t a;
    ipvm_error_t err;
    rc_wire_t w;
    ipvm_buf_t five = IPVM_BUF_INIT, cap = IPVM_BUF_INIT;
    char from[IPVM_P2P_PEER_ID_STR], src[96];
    ipvm_arena_init(&a);
    ipvm_error_clear(&err);
    ipvm_p2p_peer_id_str(m->from, from);
    ipvm_p2p_verdict_t v = IPVM_P2P_ACCEPT;
    if (p2p_rc_gossip_decode(m->data, m->len, &a, &w, &err) != 0) {
        h->stats.receipts_rejected++;
        ipvm_log(IPVM_LOG_WARN, "p2p", "receipt from %s rejected: %s", from, err.msg);
        emit(r, IPVM_P2P_EV_RECEIPT_REJECTED, m->from, NULL, NULL, err.msg, IPVM_ERECEIPT);
        v = IPVM_P2P_REJECT;
        goto done;
    }
    h->stats.receipts_received++;
    snprintf(src, sizeof src, "peer:%.70s", from);
    if (ipvm_receipt_encode(&w.receipt, &five, NULL) == 0) {
        cache_put(r, &w, five.data, five.len, src);
        if (p2p_rc_capsule_encode(&w.receipt, w.signature, w.signature_len, &a, &cap) == 0 &&
            p2p_kad_record_put(h->kad, w.instruction.bytes, w.instruction.len, cap.data,
                               cap.len) != 0) /* served on to DHT lookups */
            ipvm_log(IPVM_LOG_DEBUG, "p2p", "cannot keep a receipt record");
    }
    emit(r, IPVM_P2P_EV_RECEIPT_RECEIVED, m->from, &w.receipt.cid, &w.receipt.ran, NULL, 0);
done:
    ipvm_buf_dispose(&five);
    ipvm_buf_dispose(&cap);
    ipvm_arena_dispose(&a);
    return v;
}

/* --------------------------------------------------------- the database, on workers ---- */
typedef struct {
    uv_work_t req;
    ipvm_p2p_receipts_t *r;
    ipvm_cid_t key;
    bool workflow;            /* a workflow row (else a receipt by instruction) */
    ipvm_p2p_dht_found_fn done;
    void *done_req;
    rc_wf_t *wf;
    ipvm_buf_t value;         /* the record, or the row's pieces */
    ipvm_buf_t name, res;
    int64_t num_tasks;
    bool found;
} dbjob_t;

static ipvm_store_t *store_of(ipvm_p2p_receipts_t *r)
{
    if (r->store == NULL && !r->store_failed && r->db_path) {
        ipvm_error_t err;
        ipvm_error_clear(&err);
        if (ipvm_store_open(r->db_path, IPVM_STORE_READONLY, &r->store, &err) != 0) {
            ipvm_log(IPVM_LOG_WARN, "p2p", "cannot read receipts to serve them: %s", err.msg);
            r->store_failed = true;
            r->store = NULL;
        }
    }
    return r->store;
}

/* A receipt row as Homestar's DHT capsule. */
static int row_capsule(const ipvm_receipt_row_t *row, ipvm_arena_t *a, ipvm_buf_t *out)
{
    ipvm_receipt_t rc;
    memset(&rc, 0, sizeof rc);
    rc.cid = row->cid;
    rc.ran = row->ran;
    rc.iss = row->issuer;
    int e = ipvm_dagcbor_decode(row->out, row->out_len, a, &rc.out, NULL);
    if (e == 0)
        e = ipvm_dagcbor_decode(row->meta, row->meta_len, a, &rc.meta, NULL);
    if (e == 0)
        e = ipvm_dagcbor_decode(row->prf, row->prf_len, a, &rc.prf, NULL);
    return e ? e : p2p_rc_capsule_encode(&rc, row->signature, row->signature_len, a, out);
}

static void db_work(uv_work_t *req)
{
    dbjob_t *j = req->data;
    ipvm_p2p_receipts_t *r = j->r;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    uv_mutex_lock(&r->store_lock);
    ipvm_store_t *s = store_of(r);
    if (s && !j->workflow) {
        ipvm_receipt_row_t row;
        if (ipvm_store_find_receipt(s, &j->key, &a, &row, NULL) == 0 && row.ok)
            j->found = row_capsule(&row, &a, &j->value) == 0;
    } else if (s) {
        ipvm_workflow_row_t row;
        if (ipvm_store_get_workflow(s, &j->key, &a, &row, NULL) == 0) {
            j->found = true;
            j->num_tasks = row.num_tasks;
            if (row.name && ipvm_buf_append_str(&j->name, row.name) != 0)
                j->found = false;
            if (row.resources_len &&
                ipvm_buf_append(&j->res, row.resources, row.resources_len) != 0)
                j->found = false;
        }
    }
    uv_mutex_unlock(&r->store_lock);
    ipvm_arena_dispose(&a);
}

static void put_workflow(ipvm_p2p_receipts_t *r, rc_wf_t *wf);

static void db_done(uv_work_t *req, int status)
{
    dbjob_t *j = req->data;
    ipvm_p2p_receipts_t *r = j->r;
    if (!j->workflow) {
        bool ok = status == 0 && j->found && !r->closing;
        j->done(j->done_req, ok ? j->value.data : NULL, ok ? j->value.len : 0);
    } else if (!r->closing) {
        rc_wf_t *wf = j->wf;
        wf->row_loading = false;
        wf->row_loaded = true;
        if (j->found) {
            wf->num_tasks = j->num_tasks;
            wf->name = j->name.len ? (char *)ipvm_buf_take(&j->name, NULL) : NULL;
            wf->resources = ipvm_buf_take(&j->res, &wf->rlen);
        }
        put_workflow(r, wf);
    }
    ipvm_buf_dispose(&j->value);
    ipvm_buf_dispose(&j->name);
    ipvm_buf_dispose(&j->res);
    ipvm_free(j);
    rc_release(r);
}

static int db_queue(ipvm_p2p_receipts_t *r, dbjob_t *j)
{
    j->r = r;
    j->req.data = j;
    hold(r);
    int rc = uv_queue_work(r->h->loop, &j->req, db_work, db_done);
    if (rc)
        unhold(r);
    return rc;
}

/* GET_VALUE for a key not in the DHT store: our own receipts, from the database. */
static void on_lookup(const uint8_t *key, size_t klen, ipvm_p2p_dht_found_fn done, void *req,
                      void *data)
{
    ipvm_p2p_receipts_t *r = data;
    ipvm_cid_t cid;
    dbjob_t *j = NULL;
    if (r->db_path && !r->closing && ipvm_cid_from_bytes(&cid, key, klen, NULL) == 0 &&
        (j = ipvm_calloc(1, sizeof *j)) != NULL) {
        j->key = cid;
        j->done = done;
        j->done_req = req;
        if (db_queue(r, j) == 0)
            return;
        ipvm_free(j);
    }
    done(req, NULL, 0);
}

/* --------------------------------------------------------------- workflow info ---- */
static rc_wf_t *wf_get(ipvm_p2p_receipts_t *r, const ipvm_cid_t *cid)
{
    for (rc_wf_t *w = r->wfs; w; w = w->next)
        if (ipvm_cid_equal(&w->cid, cid))
            return w;
    if (r->nwfs >= 1024) { /* bounded: forget the oldest (last in the list) */
        rc_wf_t **pp = &r->wfs;
        while ((*pp)->next)
            pp = &(*pp)->next;
        if ((*pp)->putting || (*pp)->row_loading)
            return NULL;
        rc_wf_t *x = *pp;
        *pp = NULL;
        ipvm_free(x->progress);
        ipvm_free(x->name);
        ipvm_free(x->resources);
        ipvm_free(x);
        r->nwfs--;
    }
    rc_wf_t *w = ipvm_calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->cid = *cid;
    w->next = r->wfs;
    r->wfs = w;
    r->nwfs++;
    return w;
}

typedef struct {
    ipvm_p2p_receipts_t *r;
    rc_wf_t *wf;
} wfput_t;

static void on_wf_stored(ipvm_p2p_host_t *h, int status, size_t stored, void *data)
{
    wfput_t *p = data;
    ipvm_p2p_receipts_t *r = p->r;
    rc_wf_t *wf = p->wf;
    (void)h;
    ipvm_free(p);
    wf->putting = false;
    if (status)
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "workflow record stored at %zu peers (quorum %d)", stored,
                 r->o.workflow_quorum);
    if (wf->dirty && !r->closing)
        put_workflow(r, wf);
    rc_release(r);
}

/* PUTs the workflow's progress record; one PUT at a time per workflow, the latest wins. */
static void put_workflow(ipvm_p2p_receipts_t *r, rc_wf_t *wf)
{
    if (r->o.no_workflow_info || r->closing)
        return;
    if (!wf->row_loaded) {
        dbjob_t *j = wf->row_loading || !r->db_path ? NULL : ipvm_calloc(1, sizeof *j);
        if (j) {
            j->workflow = true;
            j->wf = wf;
            j->key = wf->cid;
            wf->row_loading = true;
            if (db_queue(r, j) == 0)
                return;
            wf->row_loading = false;
            ipvm_free(j);
        }
        if (r->db_path && wf->row_loading)
            return;
        wf->row_loaded = true; /* no database: what we know is all there is */
    }
    if (wf->putting) {
        wf->dirty = true;
        return;
    }
    ipvm_arena_t a;
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_arena_init(&a);
    rc_wfinfo_t info = {.cid = wf->cid, .name = wf->name, .num_tasks = wf->num_tasks,
                        .progress = wf->progress, .nprogress = wf->n,
                        .resources = wf->resources, .resources_len = wf->rlen};
    wfput_t *p = ipvm_malloc(sizeof *p);
    if (p && p2p_rc_workflow_encode(&info, &a, &b) == 0) {
        p->r = r;
        p->wf = wf;
        wf->dirty = false;
        wf->putting = true;
        hold(r);
        if (ipvm_p2p_dht_put(r->h, wf->cid.bytes, wf->cid.len, b.data, b.len,
                             r->o.workflow_quorum, on_wf_stored, p) != 0) {
            wf->putting = false;
            unhold(r);
            ipvm_free(p);
        }
    } else {
        ipvm_free(p);
    }
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
}

/* ------------------------------------------------------------------- publishing ---- */
typedef struct {
    ipvm_p2p_receipts_t *r;
    ipvm_cid_t workflow, instruction;
    bool has_workflow;
    uint8_t *cbor;
    size_t len;
    uint8_t *sig;
    size_t siglen;
} pubjob_t;

typedef struct {
    ipvm_p2p_receipts_t *r;
    ipvm_cid_t cid, ran;
} putctx_t;

static void on_receipt_stored(ipvm_p2p_host_t *h, int status, size_t stored, void *data)
{
    putctx_t *p = data;
    ipvm_p2p_receipts_t *r = p->r;
    (void)h;
    if (!r->closing) {
        emit(r, IPVM_P2P_EV_RECEIPT_QUORUM, NULL, &p->cid, &p->ran,
             status ? "receipt_quorum_failure_dht" : "receipt_quorum_success_dht", (int)stored);
    }
    ipvm_free(p);
    rc_release(r);
}

static void publish_now(ipvm_p2p_receipts_t *r, pubjob_t *j)
{
    ipvm_p2p_host_t *h = r->h;
    ipvm_arena_t a;
    ipvm_receipt_t rc;
    ipvm_buf_t g = IPVM_BUF_INIT, cap = IPVM_BUF_INIT;
    ipvm_arena_init(&a);
    if (ipvm_receipt_decode(j->cbor, j->len, &a, &rc, NULL) != 0)
        goto done;
    size_t sent = 0;
    if (p2p_rc_gossip_encode(&rc, &j->instruction, j->sig, j->siglen, &a, &g) == 0 &&
        ipvm_p2p_topic_peers(h, RC_TOPIC) > 0 && /* compat: Homestar needs a peer to publish */
        ipvm_p2p_publish(h, RC_TOPIC, g.data, g.len, &sent) == 0) {
        h->stats.receipts_published++;
        emit(r, IPVM_P2P_EV_RECEIPT_PUBLISHED, NULL, &rc.cid, &rc.ran, NULL, (int)sent);
    }
    putctx_t *p = ipvm_malloc(sizeof *p);
    if (p && p2p_rc_capsule_encode(&rc, j->sig, j->siglen, &a, &cap) == 0) {
        p->r = r;
        p->cid = rc.cid;
        p->ran = rc.ran;
        hold(r);
        if (ipvm_p2p_dht_put(h, j->instruction.bytes, j->instruction.len, cap.data, cap.len,
                             r->o.receipt_quorum, on_receipt_stored, p) == 0) {
            emit(r, IPVM_P2P_EV_RECEIPT_PUT_DHT, NULL, &rc.cid, &rc.ran, NULL, 0);
            p = NULL;
        } else {
            unhold(r);
        }
    }
    ipvm_free(p);
    if (j->has_workflow) {
        rc_wf_t *wf = wf_get(r, &j->workflow);
        bool known = false;
        for (size_t i = 0; wf && i < wf->n && !known; i++)
            known = ipvm_cid_equal(&wf->progress[i], &rc.cid);
        if (wf && !known && wf->n == wf->cap) {
            size_t cap2 = wf->cap ? wf->cap * 2 : 16;
            ipvm_cid_t *np = ipvm_realloc(wf->progress, cap2 * sizeof *np);
            if (np) {
                wf->progress = np;
                wf->cap = cap2;
            }
        }
        if (wf && !known && wf->n < wf->cap)
            wf->progress[wf->n++] = rc.cid;
        if (wf && !known)
            put_workflow(r, wf);
    }
done:
    ipvm_buf_dispose(&g);
    ipvm_buf_dispose(&cap);
    ipvm_arena_dispose(&a);
}

static void on_publish_job(ipvm_p2p_host_t *h, void *data, int status)
{
    pubjob_t *j = data;
    ipvm_p2p_receipts_t *r = j->r;
    (void)h;
    if (status == 0 && !r->closing)
        publish_now(r, j);
    ipvm_free(j->cbor);
    ipvm_free(j->sig);
    ipvm_free(j);
    rc_release(r);
}

/* The scheduler committed a receipt (run thread): copy it and hand it to the loop. */
static void hook_published(void *data, const ipvm_cid_t *workflow, const ipvm_sched_receipt_t *sr)
{
    ipvm_p2p_receipts_t *r = data;
    pubjob_t *j = ipvm_calloc(1, sizeof *j);
    if (j == NULL)
        return;
    j->r = r;
    j->instruction = sr->receipt.instruction;
    if (workflow) {
        j->workflow = *workflow;
        j->has_workflow = true;
    }
    j->cbor = ipvm_malloc(sr->cbor_len);
    j->sig = sr->signature_len ? ipvm_malloc(sr->signature_len) : NULL;
    if (j->cbor == NULL || (sr->signature_len && j->sig == NULL) || !sr->receipt.has_instruction) {
        ipvm_free(j->cbor);
        ipvm_free(j->sig);
        ipvm_free(j);
        return;
    }
    memcpy(j->cbor, sr->cbor, sr->cbor_len);
    j->len = sr->cbor_len;
    if (sr->signature_len)
        memcpy(j->sig, sr->signature, sr->signature_len);
    j->siglen = sr->signature_len;
    hold(r); /* atomic: the run thread races the loop thread here */
    if (p2p_xreq_post(r->h, on_publish_job, j) != 0) {
        ipvm_free(j->cbor);
        ipvm_free(j->sig);
        ipvm_free(j);
        unhold(r);
    }
}

/* --------------------------------------------------------------- finding receipts ---- */
/* One find_receipts call: the run thread waits on cond until every DHT lookup has answered or
 * the time is up; the loop thread fills the slots. refs: the waiting thread + each lookup. */
typedef struct {
    struct find_s *f;
    ipvm_cid_t key;
    bool done, found;
    ipvm_buf_t value;
    char from[IPVM_P2P_PEER_ID_STR];
} slot_t;

typedef struct find_s {
    ipvm_p2p_receipts_t *r;
    uv_mutex_t mu;
    uv_cond_t cond;
    int refs;
    size_t n, answered;
    uint32_t timeout_ms;
    slot_t *slots;
} find_t;

static void find_unref(find_t *f)
{
    uv_mutex_lock(&f->mu);
    bool last = --f->refs == 0;
    uv_mutex_unlock(&f->mu);
    if (!last)
        return;
    for (size_t i = 0; i < f->n; i++)
        ipvm_buf_dispose(&f->slots[i].value);
    uv_cond_destroy(&f->cond);
    uv_mutex_destroy(&f->mu);
    ipvm_free(f->slots);
    ipvm_free(f);
}

static void on_dht_got(ipvm_p2p_host_t *h, int status, const uint8_t *value, size_t len,
                       const ipvm_peer_id_t *from, void *data)
{
    slot_t *s = data;
    find_t *f = s->f;
    ipvm_p2p_receipts_t *r = f->r;
    (void)h;
    uv_mutex_lock(&f->mu);
    s->done = true;
    if (status == 0 && ipvm_buf_append(&s->value, value, len) == 0) {
        s->found = true;
        if (from)
            ipvm_p2p_peer_id_str(from, s->from);
    }
    f->answered++;
    uv_cond_signal(&f->cond);
    uv_mutex_unlock(&f->mu);
    find_unref(f);
    rc_release(r);
}

static void on_find_job(ipvm_p2p_host_t *h, void *data, int status)
{
    find_t *f = data;
    ipvm_p2p_receipts_t *r = f->r;
    for (size_t i = 0; i < f->n; i++) {
        slot_t *s = &f->slots[i];
        uv_mutex_lock(&f->mu);
        f->refs++;
        uv_mutex_unlock(&f->mu);
        hold(r);
        if (status != 0 || r->closing ||
            ipvm_p2p_dht_get(h, s->key.bytes, s->key.len, f->timeout_ms, on_dht_got, s) != 0)
            on_dht_got(h, IPVM_ENOENT, NULL, 0, NULL, s);
    }
    find_unref(f); /* the loop's reference from the post */
    rc_release(r);
}

/* Checks a DHT answer and hands it to the scheduler (which checks it again, fully). */
static void take_found(ipvm_p2p_receipts_t *r, slot_t *s, ipvm_sched_lookup_t *it,
                       ipvm_arena_t *arena)
{
    ipvm_arena_t a;
    ipvm_error_t err;
    rc_wire_t w;
    ipvm_buf_t five = IPVM_BUF_INIT;
    ipvm_arena_init(&a);
    ipvm_error_clear(&err);
    if (p2p_rc_capsule_decode(s->key.bytes, s->key.len, s->value.data, s->value.len, &a, &w,
                              &err) != 0) {
        ipvm_log(IPVM_LOG_WARN, "p2p", "DHT receipt from %s rejected: %s",
                 s->from[0] ? s->from : "us", err.msg);
    } else if (!ipvm_cid_equal(&w.receipt.ran, it->invocation)) {
        ipvm_log(IPVM_LOG_INFO, "p2p", "DHT receipt for %s ran another invocation; not used",
                 s->from[0] ? s->from : "us");
    } else if (ipvm_receipt_encode(&w.receipt, &five, NULL) == 0) {
        it->receipt = ipvm_arena_memdup(arena, five.data, five.len);
        it->receipt_len = five.len;
        if (w.signature_len) {
            it->signature = ipvm_arena_memdup(arena, w.signature, w.signature_len);
            it->signature_len = w.signature_len;
        }
        it->found = it->receipt != NULL;
        snprintf(it->source, sizeof it->source, "dht:%.70s", s->from[0] ? s->from : "local");
        r->h->stats.dht_hits++;
    }
    ipvm_buf_dispose(&five);
    ipvm_arena_dispose(&a);
}

static int hook_find(void *data, ipvm_sched_lookup_t *items, size_t n, int timeout_ms,
                     ipvm_arena_t *arena)
{
    ipvm_p2p_receipts_t *r = data;
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) /* 1. receipts peers already gossiped */
        if (!items[i].found &&
            cache_copy(r, items[i].instruction, items[i].invocation, arena, &items[i]) != 0)
            missing++;
    if (missing == 0 || timeout_ms <= 0)
        return 0;
    find_t *f = ipvm_calloc(1, sizeof *f); /* 2. the DHT, within the time given */
    size_t *idx = ipvm_calloc(missing, sizeof *idx);
    if (f == NULL || idx == NULL || (f->slots = ipvm_calloc(missing, sizeof *f->slots)) == NULL) {
        ipvm_free(idx);
        ipvm_free(f);
        return IPVM_ENOMEM;
    }
    uv_mutex_init(&f->mu);
    uv_cond_init(&f->cond);
    f->r = r;
    f->refs = 2; /* this thread and the loop's job */
    f->timeout_ms = (uint32_t)timeout_ms;
    for (size_t i = 0; i < n; i++) {
        if (items[i].found)
            continue;
        idx[f->n] = i;
        f->slots[f->n].f = f;
        f->slots[f->n].key = *items[i].instruction;
        f->n++;
    }
    hold(r);
    if (p2p_xreq_post(r->h, on_find_job, f) != 0) {
        unhold(r);
        find_unref(f);
        find_unref(f);
        ipvm_free(idx);
        return IPVM_ECANCELED;
    }
    uint64_t deadline = ipvm_now_ns() + (uint64_t)timeout_ms * 1000000u + 50000000u;
    uv_mutex_lock(&f->mu);
    while (f->answered < f->n) {
        uint64_t now = ipvm_now_ns();
        if (now >= deadline || uv_cond_timedwait(&f->cond, &f->mu, deadline - now) != 0)
            break;
    }
    for (size_t k = 0; k < f->n; k++)
        if (f->slots[k].done && f->slots[k].found)
            take_found(r, &f->slots[k], &items[idx[k]], arena);
    uv_mutex_unlock(&f->mu);
    find_unref(f);
    ipvm_free(idx);
    return 0;
}

void ipvm_p2p_receipts_net_hooks(ipvm_p2p_receipts_t *r, struct ipvm_sched_net_hooks_s *out)
{
    memset(out, 0, sizeof *out);
    out->data = r;
    out->find_receipts = hook_find;
    out->receipt_published = hook_published;
    out->publish_replayed = false;
    out->lookup_timeout_ms = r->o.lookup_timeout_ms;
}

/* ---------------------------------------------------------------- lifecycle ---- */
int ipvm_p2p_receipts_new(ipvm_p2p_host_t *h, const ipvm_p2p_receipts_opts_t *opts,
                          ipvm_p2p_receipts_t **out, ipvm_error_t *err)
{
    ipvm_p2p_receipts_t *r = ipvm_calloc(1, sizeof *r);
    if (r == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    r->h = h;
    if (opts)
        r->o = *opts;
    if (r->o.receipt_quorum <= 0)
        r->o.receipt_quorum = 2;
    if (r->o.workflow_quorum <= 0)
        r->o.workflow_quorum = 3;
    if (r->o.lookup_timeout_ms <= 0)
        r->o.lookup_timeout_ms = 500;
    if (r->o.cache_max == 0)
        r->o.cache_max = 10000;
    int rc = 0;
    if (r->o.db_path && (r->db_path = ipvm_strdup(r->o.db_path)) == NULL)
        rc = IPVM_ENOMEM;
    r->o.db_path = r->db_path;
    if (rc == 0 && (rc = p2p_map_init(&r->cache)) == 0) {
        uv_mutex_init(&r->lock);
        uv_mutex_init(&r->store_lock);
        rc = ipvm_p2p_subscribe(h, RC_TOPIC, on_gossip, r);
        if (rc) {
            uv_mutex_destroy(&r->lock);
            uv_mutex_destroy(&r->store_lock);
            p2p_map_dispose(&r->cache);
        }
    }
    if (rc) {
        ipvm_free(r->db_path);
        ipvm_free(r);
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot start sharing receipts: %s",
                              ipvm_strerror(rc));
    }
    ipvm_p2p_dht_set_validator(h, p2p_rc_validate, r);
    ipvm_p2p_dht_set_lookup(h, on_lookup, r);
    h->receipts = r;
    *out = r;
    return 0;
}

static void rc_destroy(ipvm_p2p_receipts_t *r)
{
    while (r->oldest) {
        rc_entry_t *e = r->oldest;
        r->oldest = e->newer;
        entry_free(e);
    }
    p2p_map_dispose(&r->cache);
    while (r->wfs) {
        rc_wf_t *w = r->wfs;
        r->wfs = w->next;
        ipvm_free(w->progress);
        ipvm_free(w->name);
        ipvm_free(w->resources);
        ipvm_free(w);
    }
    ipvm_store_close(r->store);
    uv_mutex_destroy(&r->lock);
    uv_mutex_destroy(&r->store_lock);
    ipvm_free(r->db_path);
    ipvm_free(r);
}

static void rc_release(ipvm_p2p_receipts_t *r)
{
    if (__atomic_sub_fetch(&r->pending, 1, __ATOMIC_ACQ_REL) == 0 && r->closing)
        rc_destroy(r);
}

void ipvm_p2p_receipts_free(ipvm_p2p_receipts_t *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    if (r->h && r->h->receipts == r) {
        if (ipvm_p2p_unsubscribe(r->h, RC_TOPIC) != 0)
            ipvm_log(IPVM_LOG_DEBUG, "p2p", "receipts topic was not subscribed");
        ipvm_p2p_dht_set_validator(r->h, NULL, NULL);
        ipvm_p2p_dht_set_lookup(r->h, NULL, NULL);
        r->h->receipts = NULL;
    }
    if (__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE) == 0)
        rc_destroy(r); /* else the last piece of work in flight frees it */
}
