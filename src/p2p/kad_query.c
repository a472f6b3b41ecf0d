/* SPDX-License-Identifier: Apache-2.0 */
/* Kademlia, the client side (kad-dht/README.md "Peer routing", "Value storage and retrieval"):
 * one request per stream with a timeout, and iterative lookups that keep the candidates sorted
 * by XOR distance to sha256(key), run at most alpha requests at once, end when the k closest
 * have answered (or at the first valid record, for GET) and never outlive their deadline. */
#include "kad.h"

#include "p2p/pb/kad.pb-c.h"

#include <stdio.h>

/* ---------------------------------------------------------------------- requests ---- */
typedef void (*kad_resp_fn)(void *ud, p2p_peer_t *peer, P2p__Pb__Kad__Message *resp, int err);

typedef struct kad_req_s {
    struct kad_req_s *next; /* k->reqs */
    p2p_kad_t *k;
    p2p_peer_t *peer;
    ipvm_buf_t msg;
    p2p_stream_t *s;
    p2p_lp_t lp;
    uv_timer_t timer;
    int refs; /* the timer, a pending dial */
    bool done, want_reply;
    kad_resp_fn cb;
    void *ud;
} kad_req_t;

static void req_release(kad_req_t *r)
{
    if (--r->refs > 0)
        return;
    p2p_kad_t *k = r->k;
    for (kad_req_t **pp = &k->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->peer->refs--;
    ipvm_buf_dispose(&r->msg);
    p2p_lp_dispose(&r->lp);
    ipvm_free(r);
}

static void req_timer_closed(uv_handle_t *hd)
{
    kad_req_t *r = hd->data;
    ipvm_p2p_host_t *h = r->k->h;
    req_release(r);
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

static void req_finish(kad_req_t *r, P2p__Pb__Kad__Message *resp, int err)
{
    if (r->done)
        return;
    r->done = true;
    uv_timer_stop(&r->timer);
    r->cb(r->ud, r->peer, resp, err);
    if (r->s) {
        p2p_stream_t *s = r->s;
        r->s = NULL;
        s->ud = NULL;
        if (err == 0)
            p2p_stream_close_write(s);
        else
            p2p_stream_reset(s);
    }
    uv_close((uv_handle_t *)&r->timer, req_timer_closed);
}

static int on_reply(void *ud, const uint8_t *p, size_t n)
{
    kad_req_t *r = ud;
    P2p__Pb__Kad__Message *m = p2p__pb__kad__message__unpack(&ipvm__p2p_pb_alloc, n, p);
    if (m == NULL) {
        ipvm_log(IPVM_LOG_WARN, "p2p", "kad: %s answered with bytes that are not a DHT message",
                 r->peer->id_str);
        req_finish(r, NULL, IPVM_EPROTO);
        return 1;
    }
    req_finish(r, m, 0);
    p2p__pb__kad__message__free_unpacked(m, &ipvm__p2p_pb_alloc);
    return 1; /* one answer per request; the stream is done */
}

static void rs_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    kad_req_t *r = s->ud;
    ipvm_error_t err = {0};
    if (r == NULL)
        return;
    int rc = p2p_lp_feed(&r->lp, p, n, on_reply, r, &err);
    if (rc < 0) {
        ipvm_log(IPVM_LOG_WARN, "p2p", "kad: answer from %s: %s", r->peer->id_str, err.msg);
        req_finish(r, NULL, rc);
    }
}

static void rs_close(p2p_stream_t *s, int err)
{
    kad_req_t *r = s->ud;
    if (r == NULL)
        return;
    r->s = NULL;
    req_finish(r, NULL, r->want_reply ? (err ? err : IPVM_ECLOSED) : 0);
}

static const p2p_stream_ops_t rs_ops = {rs_data, NULL, NULL, rs_close};

static void req_send(kad_req_t *r, p2p_conn_t *c)
{
    int rc = p2p_stream_open(c, KAD_PROTO, &rs_ops, r, &r->s);
    if (rc == 0)
        rc = p2p_stream_write_lp(r->s, r->msg.data, r->msg.len);
    if (rc) {
        req_finish(r, NULL, rc);
        return;
    }
    if (!r->want_reply) /* ADD_PROVIDER: nothing comes back */
        req_finish(r, NULL, 0);
}

static void on_req_dialed(p2p_conn_t *c, int err, void *ud)
{
    kad_req_t *r = ud;
    if (!r->done) {
        if (err)
            req_finish(r, NULL, err);
        else
            req_send(r, c);
    }
    req_release(r);
}

static void on_req_timeout(uv_timer_t *t)
{
    kad_req_t *r = t->data;
    ipvm_log(IPVM_LOG_DEBUG, "p2p", "kad: %s did not answer within %u ms", r->peer->id_str,
             r->k->h->cfg.request_timeout_ms);
    req_finish(r, NULL, IPVM_ETIMEDOUT);
}

/* Sends one request to a peer (dialing it from the peer store's addresses when needed). cb runs
 * exactly once unless this returns an error. */
static int kad_request(p2p_kad_t *k, p2p_peer_t *peer, const P2p__Pb__Kad__Message *m,
                       bool want_reply, kad_resp_fn cb, void *ud)
{
    ipvm_p2p_host_t *h = k->h;
    p2p_conn_t *c = p2p_peer_conn(h, peer);
    if (c == NULL && peer->naddrs == 0)
        return IPVM_ENOENT;
    kad_req_t *r = ipvm_calloc(1, sizeof *r);
    if (r == NULL)
        return IPVM_ENOMEM;
    if (p2p_kad_encode(m, &r->msg) != 0) {
        ipvm_free(r);
        return IPVM_ENOMEM;
    }
    r->k = k;
    r->peer = peer;
    r->cb = cb;
    r->ud = ud;
    r->want_reply = want_reply;
    r->lp.max = h->cfg.kad_max_record + KAD_MSG_SLACK;
    r->refs = 1;
    peer->refs++;
    r->next = k->reqs;
    k->reqs = r;
    uv_timer_init(h->loop, &r->timer);
    r->timer.data = r;
    h->handles++;
    uv_timer_start(&r->timer, on_req_timeout, h->cfg.request_timeout_ms, 0);
    if (c) {
        req_send(r, c);
        return 0;
    }
    ipvm_multiaddr_t ma = peer->addrs[peer->naddrs - 1]; /* the newest address */
    r->refs++;
    int rc = ipvm_multiaddr_with_peer_id(&ma, &peer->id);
    if (rc == 0)
        rc = p2p_dial(h, &ma, on_req_dialed, r);
    if (rc) {
        r->refs--;
        req_finish(r, NULL, rc);
    }
    return 0;
}

/* ----------------------------------------------------------------------- lookups ---- */
enum { Q_GET, Q_FIND, Q_PUT, Q_PROVIDE };
enum { C_NEW, C_WAIT, C_OK, C_FAIL };

typedef struct {
    ipvm_peer_id_t id;
    uint8_t dist[32];
    uint8_t state;
} kad_cand_t;

struct kad_query_s {
    kad_query_t *next;
    p2p_kad_t *k;
    int type;
    uint8_t key[IPVM_P2P_DHT_MAX_KEY];
    size_t klen;
    uint8_t target[32];
    uint8_t *val;
    size_t vlen;
    int quorum;
    kad_cand_t cand[KAD_MAX_CAND];
    size_t ncand;
    int inflight;
    bool put_phase, done;
    size_t put_ok;
    int refs; /* the timer + requests in flight */
    uv_timer_t timer;
    ipvm_p2p_dht_get_fn get_cb;
    ipvm_p2p_dht_put_fn put_cb;
    void *ud;
};

static void q_release(kad_query_t *q)
{
    if (--q->refs > 0)
        return;
    for (kad_query_t **pp = &q->k->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    ipvm_free(q->val);
    ipvm_free(q);
}

static void q_timer_closed(uv_handle_t *hd)
{
    kad_query_t *q = hd->data;
    ipvm_p2p_host_t *h = q->k->h;
    q_release(q);
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

static void q_finish(kad_query_t *q, int status, const uint8_t *val, size_t len,
                     const ipvm_peer_id_t *from)
{
    if (q->done)
        return;
    q->done = true;
    uv_timer_stop(&q->timer);
    ipvm_p2p_host_t *h = q->k->h;
    if (q->type == Q_GET && q->get_cb)
        q->get_cb(h, status, val, len, from, q->ud);
    else if ((q->type == Q_PUT || q->type == Q_PROVIDE) && q->put_cb)
        q->put_cb(h, status, q->put_ok, q->ud);
    uv_close((uv_handle_t *)&q->timer, q_timer_closed);
}

static void add_cand(kad_query_t *q, const ipvm_peer_id_t *id)
{
    ipvm_p2p_host_t *h = q->k->h;
    if (ipvm_p2p_peer_id_equal(id, ipvm_p2p_identity_peer_id(h->id)))
        return;
    for (size_t i = 0; i < q->ncand; i++)
        if (ipvm_p2p_peer_id_equal(&q->cand[i].id, id))
            return;
    kad_cand_t c = {.id = *id, .state = C_NEW};
    p2p_kad_key_id(id->bytes, id->len, c.dist);
    for (int i = 0; i < 32; i++)
        c.dist[i] ^= q->target[i];
    size_t j = q->ncand;
    while (j > 0 && memcmp(q->cand[j - 1].dist, c.dist, 32) > 0)
        j--;
    if (j >= KAD_MAX_CAND)
        return;
    size_t last = q->ncand < KAD_MAX_CAND ? q->ncand++ : KAD_MAX_CAND - 1;
    if (q->cand[last].state == C_WAIT && last == KAD_MAX_CAND - 1 && q->ncand == KAD_MAX_CAND)
        return; /* never drop a candidate with a request in flight */
    memmove(&q->cand[j + 1], &q->cand[j], (last - j) * sizeof c);
    q->cand[j] = c;
}

static void q_step(kad_query_t *q);
static void on_q_deadline(uv_timer_t *t);

/* Learns the peers an answer lists (their addresses go to the peer store). */
static void learn_peers(kad_query_t *q, P2p__Pb__Kad__Message *m)
{
    for (size_t i = 0; i < m->n_closerpeers && i < KAD_MAX_PEERS_IN; i++) {
        P2p__Pb__Kad__Message__Peer *e = m->closerpeers[i];
        ipvm_peer_id_t id;
        if (!e->has_id || ipvm_p2p_peer_id_from_bytes(e->id.data, e->id.len, &id, NULL) != 0)
            continue;
        p2p_peer_t *p = p2p_peer_get(q->k->h, &id, true);
        if (p == NULL)
            continue;
        for (size_t a = 0; a < e->n_addrs && a < P2P_MAX_ADDRS; a++) {
            ipvm_multiaddr_t ma;
            if (ipvm_multiaddr_from_bytes(e->addrs[a].data, e->addrs[a].len, &ma, NULL) == 0)
                p2p_peer_add_addr(p, &ma);
        }
        if (p->naddrs > 0 || p->nconns > 0)
            add_cand(q, &id);
    }
}

static kad_cand_t *cand_of(kad_query_t *q, const p2p_peer_t *p)
{
    for (size_t i = 0; i < q->ncand; i++)
        if (ipvm_p2p_peer_id_equal(&q->cand[i].id, &p->id))
            return &q->cand[i];
    return NULL;
}

static void on_lookup_reply(void *ud, p2p_peer_t *peer, P2p__Pb__Kad__Message *m, int err)
{
    kad_query_t *q = ud;
    kad_cand_t *c = cand_of(q, peer);
    q->inflight--;
    if (c)
        c->state = err ? C_FAIL : C_OK;
    if (!q->done && m) {
        if (q->type == Q_GET && m->record && m->record->has_value) {
            const char *why = NULL;
            P2p__Pb__Kad__Record *r = m->record;
            if (p2p_kad_validate(q->k, q->key, q->klen, r->value.data, r->value.len, &why) == 0) {
                q->k->h->stats.dht_hits++;
                q_finish(q, 0, r->value.data, r->value.len, &peer->id);
            } else {
                ipvm_log(IPVM_LOG_INFO, "p2p", "kad: %s returned an invalid record: %s",
                         peer->id_str, why ? why : "refused by the validator");
            }
        }
        if (!q->done)
            learn_peers(q, m);
    }
    if (!q->done)
        q_step(q);
    q_release(q);
}

static void on_put_reply(void *ud, p2p_peer_t *peer, P2p__Pb__Kad__Message *m, int err)
{
    kad_query_t *q = ud;
    q->inflight--;
    bool ok = err == 0 && (q->type == Q_PROVIDE ||
                           (m && m->record && m->record->has_value && m->record->value.len == q->vlen &&
                            memcmp(m->record->value.data, q->val, q->vlen) == 0));
    if (ok)
        q->put_ok++;
    else if (err != 0)
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "kad: PUT to %s failed: %s", peer->id_str,
                 ipvm_strerror(err));
    if (q->inflight == 0 && !q->done)
        q_finish(q, q->put_ok >= (size_t)(q->quorum > 0 ? q->quorum : 1) ? 0 : IPVM_EPEER, NULL, 0,
                 NULL);
    q_release(q);
}

static void init_msg(kad_query_t *q, P2p__Pb__Kad__Message *m, int type)
{
    p2p__pb__kad__message__init(m);
    m->has_type = 1;
    m->type = (P2p__Pb__Kad__Message__MessageType)type;
    m->has_key = 1;
    m->key.data = q->key;
    m->key.len = q->klen;
}

/* The lookup is over: store (PUT) or announce (PROVIDE) at the k closest that answered. */
static void start_put_phase(kad_query_t *q)
{
    ipvm_p2p_host_t *h = q->k->h;
    q->put_phase = true;
    P2p__Pb__Kad__Message m;
    P2p__Pb__Kad__Record rec = P2P__PB__KAD__RECORD__INIT;
    P2p__Pb__Kad__Message__Peer self = P2P__PB__KAD__MESSAGE__PEER__INIT, *selfp = &self;
    ipvm_multiaddr_t addrs[8];
    ProtobufCBinaryData ab[8];
    const ipvm_peer_id_t *me = ipvm_p2p_identity_peer_id(h->id);
    if (q->type == Q_PUT) {
        init_msg(q, &m, P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__PUT_VALUE);
        rec.has_key = rec.has_value = 1;
        rec.key = m.key;
        rec.value.data = q->val;
        rec.value.len = q->vlen;
        m.record = &rec;
    } else {
        init_msg(q, &m, P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__ADD_PROVIDER);
        size_t na = p2p_host_public_addrs(h, addrs, 8);
        for (size_t i = 0; i < na; i++) {
            ab[i].data = addrs[i].bytes;
            ab[i].len = addrs[i].len;
        }
        self.has_id = 1;
        self.id.data = (uint8_t *)me->bytes;
        self.id.len = me->len;
        self.n_addrs = na;
        self.addrs = ab;
        m.n_providerpeers = 1;
        m.providerpeers = &selfp;
    }
    size_t sent = 0;
    for (size_t i = 0; i < q->ncand && sent < (size_t)h->cfg.kad_k; i++) {
        if (q->cand[i].state != C_OK)
            continue;
        p2p_peer_t *p = p2p_peer_get(h, &q->cand[i].id, false);
        q->refs++;
        q->inflight++;
        if (p == NULL || kad_request(q->k, p, &m, q->type == Q_PUT, on_put_reply, q) != 0) {
            q->refs--;
            q->inflight--;
            continue;
        }
        sent++;
    }
    if (q->inflight == 0 && !q->done)
        q_finish(q, sent || q->quorum < 0 ? 0 : IPVM_EPEER, NULL, 0, NULL);
    if (!q->done) /* the stores get their own deadline */
        uv_timer_start(&q->timer, on_q_deadline, h->cfg.request_timeout_ms, 0);
}

/* A lookup that ran out of candidates: did it see the whole network (kad.h closed_ms)? */
static void note_closed(kad_query_t *q)
{
    p2p_kad_t *k = q->k;
    bool closed = q->ncand < (size_t)k->h->cfg.kad_k && q->ncand == k->ncontacts;
    for (size_t i = 0; i < q->ncand && closed; i++) {
        p2p_peer_t *p = p2p_peer_get(k->h, &q->cand[i].id, false);
        closed = q->cand[i].state == C_OK && p && p->kad_rt;
    }
    k->closed_ms = closed ? ipvm_now_ns() / 1000000 + 1 : 0;
    k->closed_contacts = k->ncontacts;
}

/* True when a PUT may skip its lookup: see kad.h closed_ms. q's candidates (every contact, from
 * q_new) are then marked as having answered. */
static bool use_closed(kad_query_t *q)
{
    p2p_kad_t *k = q->k;
    if (k->closed_ms == 0 || ipvm_now_ns() / 1000000 + 1 - k->closed_ms > KAD_CLOSED_MS ||
        k->ncontacts != k->closed_contacts || q->ncand != k->ncontacts || q->ncand == 0)
        return false;
    for (size_t i = 0; i < q->ncand; i++) {
        p2p_peer_t *p = p2p_peer_get(k->h, &q->cand[i].id, false);
        if (p == NULL || p->nconns == 0)
            return false;
    }
    for (size_t i = 0; i < q->ncand; i++)
        q->cand[i].state = C_OK;
    k->lookups_skipped++;
    return true;
}

static void q_step(kad_query_t *q)
{
    ipvm_p2p_host_t *h = q->k->h;
    size_t k = (size_t)h->cfg.kad_k, seen = 0;
    bool pending = false;
    int type = q->type == Q_GET ? P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__GET_VALUE
                                : P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__FIND_NODE;
    for (size_t i = 0; i < q->ncand && seen < k && !q->done; i++) {
        kad_cand_t *c = &q->cand[i];
        if (c->state == C_FAIL)
            continue;
        seen++;
        if (c->state != C_NEW)
            continue;
        pending = true;
        if (q->inflight >= h->cfg.kad_alpha)
            break;
        p2p_peer_t *p = p2p_peer_get(h, &c->id, false);
        P2p__Pb__Kad__Message m; /* FIND_NODE for a record key carries the key itself, as go and
                                  * js send it: the target is sha256(key) on both sides */
        init_msg(q, &m, type);
        c->state = C_WAIT;
        q->inflight++;
        q->refs++;
        if (p == NULL || kad_request(q->k, p, &m, true, on_lookup_reply, q) != 0) {
            c->state = C_FAIL;
            q->inflight--;
            q->refs--;
        }
    }
    (void)pending;
    if (q->done || q->inflight > 0)
        return;
    if (q->type != Q_GET && !q->put_phase)
        note_closed(q);
    if (q->type == Q_GET)
        q_finish(q, IPVM_ENOENT, NULL, 0, NULL);
    else if (q->type == Q_FIND)
        q_finish(q, 0, NULL, 0, NULL);
    else if (!q->put_phase)
        start_put_phase(q);
}

static void on_q_deadline(uv_timer_t *t)
{
    kad_query_t *q = t->data;
    if (q->done)
        return;
    if (!q->put_phase)
        q->k->closed_ms = 0; /* a slow lookup: the next PUT looks again */
    if ((q->type == Q_PUT || q->type == Q_PROVIDE) && !q->put_phase) {
        start_put_phase(q); /* store at the closest peers found so far */
        return;
    }
    if (q->put_phase)
        q_finish(q, q->put_ok >= (size_t)(q->quorum > 0 ? q->quorum : 1) ? 0 : IPVM_EPEER, NULL,
                 0, NULL);
    else
        q_finish(q, q->type == Q_GET ? IPVM_ETIMEDOUT : 0, NULL, 0, NULL);
}

static kad_query_t *q_new(p2p_kad_t *k, int type, const uint8_t *key, size_t klen,
                          uint32_t timeout_ms)
{
    ipvm_p2p_host_t *h = k->h;
    kad_query_t *q = ipvm_calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->k = k;
    q->type = type;
    memcpy(q->key, key, klen);
    q->klen = klen;
    p2p_kad_key_id(key, klen, q->target);
    q->refs = 1;
    q->next = k->queries;
    k->queries = q;
    uv_timer_init(h->loop, &q->timer);
    q->timer.data = q;
    h->handles++;
    uv_timer_start(&q->timer, on_q_deadline, timeout_ms ? timeout_ms : h->cfg.kad_query_timeout_ms,
                   0);
    kad_contact_t *c[KAD_K_MAX];
    size_t n = p2p_kad_closest(k, q->target, NULL, c, (size_t)h->cfg.kad_k);
    for (size_t i = 0; i < n; i++)
        add_cand(q, &c[i]->peer->id);
    return q;
}

int p2p_kad_self_lookup(p2p_kad_t *k)
{
    const ipvm_peer_id_t *me = ipvm_p2p_identity_peer_id(k->h->id);
    k->last_refresh_ms = ipvm_wall_ms();
    kad_query_t *q = q_new(k, Q_FIND, me->bytes, me->len, 0);
    if (q == NULL)
        return IPVM_ENOMEM;
    q_step(q);
    return 0;
}

void p2p_kad_queries_stop(p2p_kad_t *k)
{
    for (kad_query_t *q = k->queries; q; q = q->next)
        q_finish(q, IPVM_ECANCELED, NULL, 0, NULL);
    for (kad_req_t *r = k->reqs, *n; r; r = n) {
        n = r->next;
        req_finish(r, NULL, IPVM_ECANCELED);
    }
}

/* ------------------------------------------------------------------------ public ---- */
int ipvm_p2p_dht_get(ipvm_p2p_host_t *h, const uint8_t *key, size_t klen, uint32_t timeout_ms,
                     ipvm_p2p_dht_get_fn cb, void *data)
{
    p2p_kad_t *k = h->kad;
    IPVM_MISUSE_IF(cb == NULL);
    if (klen == 0 || klen > IPVM_P2P_DHT_MAX_KEY)
        return IPVM_EINVAL;
    if (h->stopping)
        return IPVM_ECANCELED;
    h->stats.dht_gets++;
    kad_record_t *r = p2p_kad_record_get(k, key, klen);
    if (r) { /* local first (runs before this returns) */
        cb(h, 0, r->val, r->vlen, NULL, data);
        return 0;
    }
    kad_query_t *q = q_new(k, Q_GET, key, klen, timeout_ms);
    if (q == NULL)
        return IPVM_ENOMEM;
    q->get_cb = cb;
    q->ud = data;
    q_step(q);
    return 0;
}

static int start_store(ipvm_p2p_host_t *h, int type, const uint8_t *key, size_t klen,
                       const uint8_t *val, size_t vlen, int quorum, ipvm_p2p_dht_put_fn cb,
                       void *data)
{
    p2p_kad_t *k = h->kad;
    kad_query_t *q = q_new(k, type, key, klen, 0);
    if (q == NULL)
        return IPVM_ENOMEM;
    if (vlen && (q->val = ipvm_malloc(vlen)) == NULL) {
        q_finish(q, IPVM_ENOMEM, NULL, 0, NULL);
        return IPVM_ENOMEM;
    }
    if (vlen)
        memcpy(q->val, val, vlen);
    q->vlen = vlen;
    q->quorum = quorum;
    q->put_cb = cb;
    q->ud = data;
    if (type == Q_PUT && use_closed(q))
        start_put_phase(q);
    else
        q_step(q);
    return 0;
}

int ipvm_p2p_dht_put(ipvm_p2p_host_t *h, const uint8_t *key, size_t klen, const uint8_t *value,
                     size_t vlen, int quorum, ipvm_p2p_dht_put_fn cb, void *data)
{
    p2p_kad_t *k = h->kad;
    if (klen == 0 || klen > IPVM_P2P_DHT_MAX_KEY)
        return IPVM_EINVAL;
    if (vlen > h->cfg.kad_max_record)
        return IPVM_ETOOBIG;
    if (h->stopping)
        return IPVM_ECANCELED;
    int rc = p2p_kad_record_put(k, key, klen, value, vlen);
    if (rc)
        return rc;
    h->stats.dht_puts++;
    return start_store(h, Q_PUT, key, klen, value, vlen, quorum, cb, data);
}

int ipvm_p2p_dht_provide(ipvm_p2p_host_t *h, const uint8_t *key, size_t klen)
{
    if (klen == 0 || klen > IPVM_P2P_DHT_MAX_KEY)
        return IPVM_EINVAL;
    if (h->stopping)
        return IPVM_ECANCELED;
    return start_store(h, Q_PROVIDE, key, klen, NULL, 0, -1, NULL, NULL);
}
