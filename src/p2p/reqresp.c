/* SPDX-License-Identifier: Apache-2.0 */
/* Request/response protocols for other areas (p2p.h "request/response"): one request and one
 * answer per stream, each framed uvarint(len) || bytes, as libp2p's request-response behaviour
 * frames them. The server side hands the request to its owner, who may answer later from any
 * thread (the answer is posted to the loop); the asking side may start from any thread and
 * hears the answer on the loop thread, within a deadline that covers the dial too. */
#include "host.h"

#include <stdatomic.h>

#define RR_MAX 8 /* protocols served at once */

typedef struct {
    char *protocol;
    size_t max_request;
    ipvm_p2p_serve_fn fn; /* NULL once unserved: new requests are reset */
    void *data;
} rr_proto_t;

typedef struct rr_s {
    rr_proto_t protos[RR_MAX];
    size_t n;
} rr_t;

static rr_t *rr_of(ipvm_p2p_host_t *h)
{
    /* the table hangs off the host; allocated on first use, freed with the host */
    return h->reqresp;
}

/* ---------------------------------------------------------------------- serving ---- */
struct ipvm_p2p_reply_s {
    ipvm_p2p_host_t *h;
    p2p_stream_t *s; /* NULL once the stream closed (loop thread only) */
    atomic_int refs; /* the stream's and the replier's */
    uint8_t *resp;
    size_t len;
};

typedef struct {
    p2p_lp_t lp;
    rr_proto_t *proto;
    ipvm_p2p_reply_t *reply; /* after the request arrived */
} rr_srv_t;

static void reply_unref(ipvm_p2p_reply_t *r)
{
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        ipvm_free(r->resp);
        ipvm_free(r);
    }
}

static int on_request(void *ud, const uint8_t *msg, size_t len)
{
    p2p_stream_t *s = ud;
    rr_srv_t *st = s->ud;
    if (st->reply)
        return 0; /* one request per stream */
    ipvm_p2p_reply_t *r = ipvm_calloc(1, sizeof *r);
    if (r == NULL || st->proto->fn == NULL) {
        ipvm_free(r);
        p2p_stream_reset(s);
        return 1;
    }
    r->h = s->conn->host;
    r->s = s;
    atomic_init(&r->refs, 2);
    st->reply = r;
    st->proto->fn(r->h, &s->conn->remote, msg, len, r, st->proto->data);
    return 1; /* nothing more is read from this stream */
}

static void srv_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    rr_srv_t *st = s->ud;
    if (st->reply)
        return;
    ipvm_error_t err = {0};
    if (p2p_lp_feed(&st->lp, p, n, on_request, s, &err) < 0) {
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "%s request from %s: %s", st->proto->protocol,
                 s->conn->peer ? s->conn->peer->id_str : "?", err.msg);
        p2p_stream_reset(s);
    }
}

static void srv_close(p2p_stream_t *s, int err)
{
    rr_srv_t *st = s->ud;
    (void)err;
    if (st->reply) {
        st->reply->s = NULL;
        reply_unref(st->reply);
    }
    p2p_lp_dispose(&st->lp);
    ipvm_free(st);
}

static const p2p_stream_ops_t srv_ops = {srv_data, NULL, NULL, srv_close};

static void on_stream(p2p_stream_t *s, void *ud)
{
    rr_proto_t *proto = ud;
    rr_srv_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL || proto->fn == NULL) {
        ipvm_free(st);
        p2p_stream_reset(s);
        return;
    }
    st->proto = proto;
    st->lp.max = proto->max_request;
    s->ud = st;
    s->ops = &srv_ops;
}

int ipvm_p2p_serve(ipvm_p2p_host_t *h, const char *protocol, size_t max_request,
                   ipvm_p2p_serve_fn fn, void *data)
{
    IPVM_MISUSE_IF(h == NULL || protocol == NULL || fn == NULL);
    if (h->reqresp == NULL && (h->reqresp = ipvm_calloc(1, sizeof(rr_t))) == NULL)
        return IPVM_ENOMEM;
    rr_t *rr = rr_of(h);
    for (size_t i = 0; i < rr->n; i++)
        if (strcmp(rr->protos[i].protocol, protocol) == 0) {
            if (rr->protos[i].fn)
                return IPVM_EEXIST;
            rr->protos[i].fn = fn; /* served again after unserve: the handler is registered */
            rr->protos[i].data = data;
            rr->protos[i].max_request = max_request ? max_request : 65536;
            return 0;
        }
    if (rr->n == RR_MAX)
        return IPVM_ENOSPC;
    rr_proto_t *p = &rr->protos[rr->n];
    if ((p->protocol = ipvm_strdup(protocol)) == NULL)
        return IPVM_ENOMEM;
    p->fn = fn;
    p->data = data;
    p->max_request = max_request ? max_request : 65536;
    int rc = p2p_handle(h, p->protocol, on_stream, p);
    if (rc) {
        ipvm_free(p->protocol);
        p->protocol = NULL;
        return rc;
    }
    rr->n++;
    if (h->started)
        p2p_identify_push_all(h); /* tell connected peers we speak it now */
    return 0;
}

void ipvm_p2p_unserve(ipvm_p2p_host_t *h, const char *protocol)
{
    rr_t *rr = h ? rr_of(h) : NULL;
    for (size_t i = 0; rr && i < rr->n; i++)
        if (strcmp(rr->protos[i].protocol, protocol) == 0)
            rr->protos[i].fn = NULL;
}

static void send_reply(ipvm_p2p_host_t *h, void *data, int status)
{
    ipvm_p2p_reply_t *r = data;
    (void)h;
    if (status == 0 && r->s) {
        if (r->len == 0 || p2p_stream_write_lp(r->s, r->resp, r->len) != 0)
            p2p_stream_reset(r->s);
        else
            p2p_stream_close_write(r->s);
    }
    reply_unref(r);
}

void ipvm_p2p_reply(ipvm_p2p_reply_t *r, const uint8_t *resp, size_t len)
{
    if (r == NULL)
        return;
    if (len && (r->resp = ipvm_malloc(len)) != NULL) {
        memcpy(r->resp, resp, len);
        r->len = len;
    }
    if (p2p_xreq_post(r->h, send_reply, r) != 0)
        reply_unref(r); /* the host is stopping: its streams are being closed */
}

/* ----------------------------------------------------------------------- asking ---- */
typedef struct {
    ipvm_p2p_host_t *h;
    ipvm_peer_id_t peer;
    ipvm_multiaddr_t addr; /* len 0: use what the peer store knows */
    char *protocol;
    uint8_t *req;
    size_t len, max_response;
    uint32_t timeout_ms;
    ipvm_p2p_answer_fn cb;
    void *data;
    p2p_stream_t *s;
    p2p_lp_t lp;
    uv_timer_t timer;
    bool timer_open, dialing, done, freeing;
} rr_req_t;

static void req_timer_closed(uv_handle_t *hd)
{
    rr_req_t *q = hd->data;
    ipvm_p2p_host_t *h = q->h;
    p2p_lp_dispose(&q->lp);
    ipvm_free(q->protocol);
    ipvm_free(q->req);
    ipvm_free(q);
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

static void req_free(rr_req_t *q)
{
    p2p_lp_dispose(&q->lp);
    ipvm_free(q->protocol);
    ipvm_free(q->req);
    ipvm_free(q);
}

/* Frees once nothing refers to it any more (no stream, no dial in flight). */
static void req_maybe_free(rr_req_t *q)
{
    if (!q->done || q->s || q->dialing || q->freeing)
        return;
    q->freeing = true;
    if (q->timer_open)
        uv_close((uv_handle_t *)&q->timer, req_timer_closed);
    else
        req_free(q);
}

static void req_finish(rr_req_t *q, int status, const uint8_t *resp, size_t len)
{
    if (q->done)
        return;
    q->done = true;
    if (q->timer_open)
        uv_timer_stop(&q->timer);
    q->cb(status, resp, len, q->data);
}

static int on_answer(void *ud, const uint8_t *msg, size_t len)
{
    p2p_stream_t *s = ud;
    rr_req_t *q = s->ud;
    req_finish(q, 0, msg, len);
    p2p_stream_close_write(s);
    return 1;
}

static void req_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    rr_req_t *q = s->ud;
    if (q->done)
        return;
    ipvm_error_t err = {0};
    int rc = p2p_lp_feed(&q->lp, p, n, on_answer, s, &err);
    if (rc < 0) {
        req_finish(q, rc, NULL, 0);
        p2p_stream_reset(s);
    }
}

static void req_eof(p2p_stream_t *s)
{
    rr_req_t *q = s->ud;
    req_finish(q, IPVM_EPEER, NULL, 0); /* closed without an answer */
}

static void req_close(p2p_stream_t *s, int err)
{
    rr_req_t *q = s->ud;
    q->s = NULL;
    req_finish(q, err ? err : IPVM_ECLOSED, NULL, 0);
    req_maybe_free(q);
}

static const p2p_stream_ops_t req_ops = {req_data, req_eof, NULL, req_close};

static void req_send(rr_req_t *q, p2p_conn_t *c)
{
    int rc = p2p_stream_open(c, q->protocol, &req_ops, q, &q->s);
    if (rc) {
        q->s = NULL;
        req_finish(q, rc, NULL, 0);
        return;
    }
    if (p2p_stream_write_lp(q->s, q->req, q->len) != 0)
        p2p_stream_reset(q->s); /* req_close reports it */
    else
        p2p_stream_close_write(q->s);
}

static void on_dialed(p2p_conn_t *c, int err, void *ud)
{
    rr_req_t *q = ud;
    q->dialing = false;
    if (!q->done) {
        if (err)
            req_finish(q, err, NULL, 0);
        else
            req_send(q, c);
    }
    req_maybe_free(q);
}

static void req_timeout(uv_timer_t *t)
{
    rr_req_t *q = t->data;
    req_finish(q, IPVM_ETIMEDOUT, NULL, 0);
    if (q->s)
        p2p_stream_reset(q->s);
    req_maybe_free(q);
}

/* On the loop: connect (or reuse a connection) and send. */
static void req_start(ipvm_p2p_host_t *h, void *data, int status)
{
    rr_req_t *q = data;
    if (status != 0 || h->stopping) {
        req_finish(q, status ? status : IPVM_ECANCELED, NULL, 0);
        req_free(q);
        return;
    }
    uv_timer_init(h->loop, &q->timer);
    q->timer.data = q;
    q->timer_open = true;
    h->handles++;
    uv_timer_start(&q->timer, req_timeout, q->timeout_ms, 0);
    p2p_peer_t *p = p2p_peer_get(h, &q->peer, false);
    p2p_conn_t *c = p ? p2p_peer_conn(h, p) : NULL;
    if (c) {
        req_send(q, c);
        req_maybe_free(q);
        return;
    }
    ipvm_multiaddr_t ma = q->addr;
    if (ma.len == 0 && p && p->naddrs)
        ma = p->addrs[0];
    if (ma.len == 0 || ipvm_multiaddr_with_peer_id(&ma, &q->peer) != 0) {
        req_finish(q, IPVM_ENOENT, NULL, 0); /* not connected, no address known */
        req_maybe_free(q);
        return;
    }
    q->dialing = true;
    int rc = p2p_dial(h, &ma, on_dialed, q);
    if (rc) {
        q->dialing = false;
        req_finish(q, rc, NULL, 0);
    }
    req_maybe_free(q);
}

int ipvm_p2p_request(ipvm_p2p_host_t *h, const ipvm_peer_id_t *peer,
                     const ipvm_multiaddr_t *addr, const char *protocol, const uint8_t *req,
                     size_t len, size_t max_response, uint32_t timeout_ms,
                     ipvm_p2p_answer_fn cb, void *data)
{
    IPVM_MISUSE_IF(h == NULL || peer == NULL || protocol == NULL || cb == NULL);
    rr_req_t *q = ipvm_calloc(1, sizeof *q);
    if (q == NULL)
        return IPVM_ENOMEM;
    q->h = h;
    q->peer = *peer;
    if (addr)
        q->addr = *addr;
    q->protocol = ipvm_strdup(protocol);
    q->req = ipvm_malloc(len ? len : 1);
    if (q->protocol == NULL || q->req == NULL) {
        req_free(q);
        return IPVM_ENOMEM;
    }
    memcpy(q->req, req, len);
    q->len = len;
    q->lp.max = max_response ? max_response : 65536;
    q->timeout_ms = timeout_ms ? timeout_ms : h->cfg.request_timeout_ms;
    q->cb = cb;
    q->data = data;
    int rc = p2p_xreq_post(h, req_start, q);
    if (rc) {
        req_free(q);
        return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------- peers ---- */
typedef struct {
    const char *protocol;
    ipvm_peer_id_t *out;
    size_t max, n;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool done;
} rr_list_t;

static void list_on_loop(ipvm_p2p_host_t *h, void *data, int status)
{
    rr_list_t *l = data;
    for (p2p_peer_t *p = status == 0 ? h->peers : NULL; p; p = p->next)
        if (l->n < l->max && p2p_peer_conn(h, p) && p2p_peer_has_protocol(p, l->protocol))
            l->out[l->n++] = p->id;
    uv_mutex_lock(&l->mu);
    l->done = true;
    uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
}

size_t ipvm_p2p_peers_speaking(ipvm_p2p_host_t *h, const char *protocol, ipvm_peer_id_t *out,
                               size_t max)
{
    rr_list_t l = {.protocol = protocol, .out = out, .max = max};
    if (uv_mutex_init(&l.mu) != 0)
        return 0;
    if (uv_cond_init(&l.cv) != 0) {
        uv_mutex_destroy(&l.mu);
        return 0;
    }
    if (p2p_xreq_post(h, list_on_loop, &l) == 0) {
        uv_mutex_lock(&l.mu);
        while (!l.done)
            uv_cond_wait(&l.cv, &l.mu);
        uv_mutex_unlock(&l.mu);
    }
    uv_cond_destroy(&l.cv);
    uv_mutex_destroy(&l.mu);
    return l.n;
}

void p2p_reqresp_free(ipvm_p2p_host_t *h)
{
    rr_t *rr = rr_of(h);
    if (rr == NULL)
        return;
    for (size_t i = 0; i < rr->n; i++)
        ipvm_free(rr->protos[i].protocol);
    ipvm_free(rr);
    h->reqresp = NULL;
}
