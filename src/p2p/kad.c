/* SPDX-License-Identifier: Apache-2.0 */
/* Kademlia (/ipfs/kad/1.0.0, libp2p/specs kad-dht/README.md), the server side: the routing
 * table (256 k-buckets by common prefix length of sha256 ids, holding only peers that advertise
 * the protocol), the bounded in-memory record store with a validator, provider records, and the
 * handler that answers FIND_NODE, GET_VALUE, PUT_VALUE, ADD_PROVIDER, GET_PROVIDERS and PING. */
#include "kad.h"

#include "p2p/pb/kad.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <time.h>

void p2p_kad_key_id(const uint8_t *key, size_t n, uint8_t out[32])
{
    crypto_hash_sha256(out, key, n);
}

static int cpl(const uint8_t a[32], const uint8_t b[32])
{
    for (int i = 0; i < 32; i++) {
        uint8_t x = a[i] ^ b[i];
        if (x)
            return i * 8 + __builtin_clz((unsigned)x) - 24;
    }
    return 256;
}

/* ------------------------------------------------------------------ routing table ---- */
static void rt_add(p2p_kad_t *k, p2p_peer_t *p)
{
    uint8_t kid[32];
    p2p_kad_key_id(p->id.bytes, p->id.len, kid);
    int b = cpl(kid, k->self);
    if (b >= KAD_BUCKETS)
        return; /* ourselves */
    kad_bucket_t *bk = &k->buckets[b];
    for (size_t i = 0; i < bk->n; i++)
        if (bk->c[i].peer == p)
            return;
    size_t cap = (size_t)k->h->cfg.kad_k < KAD_K_MAX ? (size_t)k->h->cfg.kad_k : KAD_K_MAX;
    size_t slot = bk->n;
    if (bk->n == cap) { /* full: replace the oldest peer we are not connected to, if any */
        slot = cap;
        for (size_t i = 0; i < bk->n; i++)
            if (bk->c[i].peer->nconns == 0 &&
                (slot == cap || bk->c[i].added_ms < bk->c[slot].added_ms))
                slot = i;
        if (slot == cap)
            return;
        bk->c[slot].peer->kad_rt = false;
    } else {
        bk->n++;
        k->ncontacts++;
    }
    bk->c[slot].peer = p;
    memcpy(bk->c[slot].kid, kid, 32);
    bk->c[slot].added_ms = ipvm_wall_ms();
    p->kad_rt = true;
}

static bool closer(const uint8_t a[32], const uint8_t b[32], const uint8_t t[32])
{
    for (int i = 0; i < 32; i++) {
        uint8_t x = a[i] ^ t[i], y = b[i] ^ t[i];
        if (x != y)
            return x < y;
    }
    return false;
}

size_t p2p_kad_closest(p2p_kad_t *k, const uint8_t target[32], const ipvm_peer_id_t *skip,
                       kad_contact_t **out, size_t max)
{
    size_t n = 0;
    for (int b = 0; b < KAD_BUCKETS && max > 0; b++) {
        for (size_t i = 0; i < k->buckets[b].n; i++) {
            kad_contact_t *c = &k->buckets[b].c[i];
            if (skip && ipvm_p2p_peer_id_equal(&c->peer->id, skip))
                continue;
            size_t j = n; /* insertion into out[0..n), sorted by XOR distance */
            while (j > 0 && closer(c->kid, out[j - 1]->kid, target))
                j--;
            if (j >= max)
                continue;
            size_t end = n < max ? n++ : max - 1;
            memmove(&out[j + 1], &out[j], (end - j) * sizeof *out);
            out[j] = c;
        }
    }
    return n;
}

size_t ipvm_p2p_dht_routing_size(const ipvm_p2p_host_t *h)
{
    return h->kad ? h->kad->ncontacts : 0;
}

/* --------------------------------------------------------------------- records ---- */
kad_record_t *p2p_kad_record_get(p2p_kad_t *k, const uint8_t *key, size_t n)
{
    return p2p_map_get(&k->records, key, n);
}

static void record_unlink(p2p_kad_t *k, kad_record_t *r)
{
    if (r->older)
        r->older->newer = r->newer;
    else
        k->oldest = r->newer;
    if (r->newer)
        r->newer->older = r->older;
    else
        k->newest = r->older;
    r->older = r->newer = NULL;
}

static void record_free(p2p_kad_t *k, kad_record_t *r)
{
    (void)p2p_map_del(&k->records, r->key, r->klen);
    record_unlink(k, r);
    k->nrecords--;
    ipvm_free(r->key);
    ipvm_free(r->val);
    ipvm_free(r);
}

int p2p_kad_record_put(p2p_kad_t *k, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen)
{
    kad_record_t *r = p2p_kad_record_get(k, key, klen);
    uint8_t *v = ipvm_malloc(vlen ? vlen : 1);
    if (v == NULL)
        return IPVM_ENOMEM;
    memcpy(v, val, vlen);
    if (r) { /* same key: the newer value wins (receipts for one instruction are equal) */
        ipvm_free(r->val);
        r->val = v;
        r->vlen = vlen;
        record_unlink(k, r);
    } else {
        r = ipvm_calloc(1, sizeof *r);
        uint8_t *kc = r ? ipvm_malloc(klen) : NULL;
        if (kc == NULL) {
            ipvm_free(r);
            ipvm_free(v);
            return IPVM_ENOMEM;
        }
        memcpy(kc, key, klen);
        r->key = kc;
        r->klen = klen;
        r->val = v;
        r->vlen = vlen;
        if (p2p_map_put(&k->records, r->key, klen, r) != 0) {
            ipvm_free(kc);
            ipvm_free(v);
            ipvm_free(r);
            return IPVM_ENOMEM;
        }
        k->nrecords++;
    }
    r->received_ms = ipvm_wall_ms();
    r->older = k->newest;
    if (k->newest)
        k->newest->newer = r;
    else
        k->oldest = r;
    k->newest = r;
    while (k->nrecords > k->h->cfg.kad_max_records && k->oldest != r)
        record_free(k, k->oldest); /* bounded, oldest first */
    return 0;
}

size_t ipvm_p2p_dht_record_count(const ipvm_p2p_host_t *h)
{
    return h->kad ? h->kad->nrecords : 0;
}

int p2p_kad_validate(p2p_kad_t *k, const uint8_t *key, size_t klen, const uint8_t *val,
                     size_t vlen, const char **why)
{
    *why = NULL;
    if (klen == 0 || klen > IPVM_P2P_DHT_MAX_KEY) {
        *why = "record key is empty or too long";
        return IPVM_EINVAL;
    }
    if (vlen > k->h->cfg.kad_max_record) {
        *why = "record value over the size limit";
        return IPVM_ETOOBIG;
    }
    if (k->validate)
        return k->validate(key, klen, val, vlen, why, k->validate_ud);
    return 0;
}

void ipvm_p2p_dht_set_validator(ipvm_p2p_host_t *h, ipvm_p2p_dht_validate_fn fn, void *data)
{
    h->kad->validate = fn;
    h->kad->validate_ud = data;
}

void ipvm_p2p_dht_set_lookup(ipvm_p2p_host_t *h, ipvm_p2p_dht_lookup_fn fn, void *data)
{
    h->kad->lookup = fn;
    h->kad->lookup_ud = data;
}

/* ------------------------------------------------------------------- providers ---- */
static kad_prov_t *prov_get(p2p_kad_t *k, const uint8_t *key, size_t n, bool create)
{
    kad_prov_t *p = p2p_map_get(&k->providers, key, n);
    if (p || !create || k->h->cfg.kad_max_records <= p2p_kad_prov_count(k))
        return p;
    p = ipvm_calloc(1, sizeof *p);
    if (p == NULL || (p->key = ipvm_malloc(n)) == NULL) {
        ipvm_free(p);
        return NULL;
    }
    memcpy(p->key, key, n);
    p->klen = n;
    if (p2p_map_put(&k->providers, p->key, n, p) != 0) {
        ipvm_free(p->key);
        ipvm_free(p);
        return NULL;
    }
    p->next = k->provs;
    k->provs = p;
    return p;
}

size_t p2p_kad_prov_count(const p2p_kad_t *k)
{
    return k->providers.count;
}

static void prov_add(p2p_kad_t *k, const uint8_t *key, size_t n, const ipvm_peer_id_t *id)
{
    kad_prov_t *p = prov_get(k, key, n, true);
    if (p == NULL)
        return;
    uint64_t exp = ipvm_wall_ms() + KAD_PROVIDER_TTL_MS;
    for (size_t i = 0; i < p->n; i++) {
        if (ipvm_p2p_peer_id_equal(&p->peers[i], id)) {
            p->expires[i] = exp;
            return;
        }
    }
    size_t slot = p->n < KAD_MAX_PROVIDERS ? p->n++ : 0; /* full: the first one goes */
    p->peers[slot] = *id;
    p->expires[slot] = exp;
}

/* -------------------------------------------------------------------- encoding ---- */
/* Fills Peer entries (with their addresses) for a set of contacts. */
typedef struct {
    P2p__Pb__Kad__Message__Peer peers[KAD_K_MAX + KAD_MAX_PROVIDERS];
    P2p__Pb__Kad__Message__Peer *pp[KAD_K_MAX + KAD_MAX_PROVIDERS];
    ProtobufCBinaryData addrs[KAD_K_MAX + KAD_MAX_PROVIDERS][P2P_MAX_ADDRS];
    size_t n;
} peerbuf_t;

static P2p__Pb__Kad__Message__Peer **add_peer(peerbuf_t *b, p2p_peer_t *p, const ipvm_peer_id_t *id)
{
    size_t i = b->n++;
    P2p__Pb__Kad__Message__Peer *e = &b->peers[i];
    p2p__pb__kad__message__peer__init(e);
    e->has_id = 1;
    e->id.data = (uint8_t *)(p ? p->id.bytes : id->bytes);
    e->id.len = p ? p->id.len : id->len;
    for (size_t a = 0; p && a < p->naddrs; a++) {
        b->addrs[i][a].data = p->addrs[a].bytes;
        b->addrs[i][a].len = p->addrs[a].len;
    }
    e->n_addrs = p ? p->naddrs : 0;
    e->addrs = b->addrs[i];
    e->has_connection = 1;
    e->connection = p && p->nconns ? P2P__PB__KAD__MESSAGE__CONNECTION_TYPE__CONNECTED
                                   : P2P__PB__KAD__MESSAGE__CONNECTION_TYPE__NOT_CONNECTED;
    b->pp[i] = e;
    return &b->pp[i];
}

int p2p_kad_encode(const P2p__Pb__Kad__Message *m, ipvm_buf_t *out)
{
    size_t n = p2p__pb__kad__message__get_packed_size(m);
    int rc = ipvm_buf_reserve(out, n);
    if (rc == 0)
        out->len += p2p__pb__kad__message__pack(m, out->data + out->len);
    return rc;
}

static void time_rfc3339(uint64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --------------------------------------------------------------------- serving ---- */
typedef struct kad_srv_s {
    p2p_kad_t *k;
    p2p_stream_t *s; /* NULL once closed */
    p2p_lp_t lp;
    bool busy;       /* an async lookup is pending */
    bool eof;        /* the peer finished sending requests */
    int refs;        /* the stream + a pending lookup */
    ipvm_buf_t queued[KAD_MAX_QUEUED_REQS];
    size_t nqueued;
    /* the request being answered asynchronously */
    P2p__Pb__Kad__Message *pending;
} kad_srv_t;

static void srv_release(kad_srv_t *srv)
{
    if (--srv->refs > 0)
        return;
    p2p_lp_dispose(&srv->lp);
    for (size_t i = 0; i < srv->nqueued; i++)
        ipvm_buf_dispose(&srv->queued[i]);
    if (srv->pending)
        p2p__pb__kad__message__free_unpacked(srv->pending, &ipvm__p2p_pb_alloc);
    ipvm_free(srv);
}

/* Answers one request (record found or not) with the closest peers we know. */
static void respond(kad_srv_t *srv, const P2p__Pb__Kad__Message *req, const uint8_t *val,
                    size_t vlen, bool found)
{
    p2p_kad_t *k = srv->k;
    if (srv->s == NULL)
        return;
    P2p__Pb__Kad__Message m = P2P__PB__KAD__MESSAGE__INIT;
    P2p__Pb__Kad__Record rec = P2P__PB__KAD__RECORD__INIT;
    char tr[32];
    peerbuf_t *pb = ipvm_malloc(sizeof *pb);
    if (pb == NULL) {
        p2p_stream_reset(srv->s);
        return;
    }
    pb->n = 0;
    m.has_type = 1;
    m.type = req->type;
    m.has_key = req->has_key;
    m.key = req->key;
    if (found) {
        time_rfc3339(ipvm_wall_ms(), tr);
        rec.has_key = rec.has_value = 1;
        rec.key = req->key;
        rec.value.data = (uint8_t *)val;
        rec.value.len = vlen;
        rec.timereceived = tr;
        m.record = &rec;
    }
    if (req->type != P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__PING) {
        uint8_t target[32];
        kad_contact_t *c[KAD_K_MAX];
        p2p_kad_key_id(req->key.data, req->key.len, target);
        size_t n = p2p_kad_closest(k, target, &srv->s->conn->remote, c, (size_t)k->h->cfg.kad_k);
        P2p__Pb__Kad__Message__Peer **first = NULL;
        for (size_t i = 0; i < n; i++) {
            P2p__Pb__Kad__Message__Peer **e = add_peer(pb, c[i]->peer, NULL);
            if (!first)
                first = e;
        }
        m.n_closerpeers = n;
        m.closerpeers = first;
        kad_prov_t *pv = req->type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__GET_PROVIDERS
                             ? prov_get(k, req->key.data, req->key.len, false)
                             : NULL;
        first = NULL;
        for (size_t i = 0; pv && i < pv->n; i++) {
            if (pv->expires[i] < ipvm_wall_ms())
                continue;
            p2p_peer_t *pp = p2p_peer_get(k->h, &pv->peers[i], false);
            P2p__Pb__Kad__Message__Peer **e = add_peer(pb, pp, &pv->peers[i]);
            if (!first)
                first = e;
            m.n_providerpeers++;
        }
        m.providerpeers = first;
    }
    ipvm_buf_t out = IPVM_BUF_INIT;
    if (p2p_kad_encode(&m, &out) != 0 || p2p_stream_write_lp(srv->s, out.data, out.len) != 0)
        p2p_stream_reset(srv->s);
    ipvm_buf_dispose(&out);
    ipvm_free(pb);
}

static int serve_one(kad_srv_t *srv, const uint8_t *p, size_t n);

static void drain_queue(kad_srv_t *srv)
{
    while (!srv->busy && srv->nqueued > 0 && srv->s) {
        ipvm_buf_t b = srv->queued[0];
        memmove(srv->queued, srv->queued + 1, --srv->nqueued * sizeof b);
        int rc = serve_one(srv, b.data, b.len);
        ipvm_buf_dispose(&b);
        if (rc)
            break;
    }
}

static void on_found(void *req, const uint8_t *val, size_t len)
{
    kad_srv_t *srv = req;
    P2p__Pb__Kad__Message *m = srv->pending;
    srv->pending = NULL;
    srv->busy = false;
    const char *why = NULL;
    bool ok = val && len && p2p_kad_validate(srv->k, m->key.data, m->key.len, val, len, &why) == 0;
    if (srv->s) {
        respond(srv, m, val, len, ok);
        if (ok && p2p_kad_record_put(srv->k, m->key.data, m->key.len, val, len) != 0)
            ipvm_log(IPVM_LOG_DEBUG, "p2p", "kad: cannot cache a looked-up record");
    }
    p2p__pb__kad__message__free_unpacked(m, &ipvm__p2p_pb_alloc);
    drain_queue(srv);
    if (srv->s && srv->eof && !srv->busy && srv->nqueued == 0)
        p2p_stream_close_write(srv->s);
    srv_release(srv);
}

/* PUT_VALUE: validate and store, then echo the request (what go and js expect). */
static void serve_put(kad_srv_t *srv, P2p__Pb__Kad__Message *m)
{
    p2p_kad_t *k = srv->k;
    P2p__Pb__Kad__Record *r = m->record;
    const char *why = NULL;
    int rc = IPVM_EPROTO;
    if (r == NULL || !r->has_key || !r->has_value || !m->has_key || r->key.len != m->key.len ||
        memcmp(r->key.data, m->key.data, m->key.len) != 0)
        why = "PUT_VALUE whose record key differs from the message key";
    else
        rc = p2p_kad_validate(k, r->key.data, r->key.len, r->value.data, r->value.len, &why);
    if (rc == 0)
        rc = p2p_kad_record_put(k, r->key.data, r->key.len, r->value.data, r->value.len);
    if (rc) {
        char d[IPVM_P2P_PEER_ID_STR];
        ipvm_log(IPVM_LOG_INFO, "p2p", "kad: refused a record from %s: %s",
                 ipvm_p2p_peer_id_str(&srv->s->conn->remote, d), why ? why : ipvm_strerror(rc));
        p2p_stream_reset(srv->s);
        return;
    }
    k->h->stats.dht_stored++;
    ipvm_buf_t out = IPVM_BUF_INIT;
    if (p2p_kad_encode(m, &out) != 0 || p2p_stream_write_lp(srv->s, out.data, out.len) != 0)
        p2p_stream_reset(srv->s);
    ipvm_buf_dispose(&out);
}

static int serve_msg(kad_srv_t *srv, const uint8_t *p, size_t n)
{
    p2p_kad_t *k = srv->k;
    P2p__Pb__Kad__Message *m = p2p__pb__kad__message__unpack(&ipvm__p2p_pb_alloc, n, p);
    if (m == NULL) {
        char d[IPVM_P2P_PEER_ID_STR];
        ipvm_log(IPVM_LOG_WARN, "p2p", "kad: %s sent %zu bytes that are not a DHT message",
                 ipvm_p2p_peer_id_str(&srv->s->conn->remote, d), n);
        p2p_stream_reset(srv->s);
        return 1;
    }
    int type = m->has_type ? (int)m->type : 0;
    bool keyed = m->has_key && m->key.len > 0 && m->key.len <= IPVM_P2P_DHT_MAX_KEY;
    if (type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__PUT_VALUE) {
        serve_put(srv, m);
    } else if (type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__PING) {
        respond(srv, m, NULL, 0, false);
    } else if (!keyed) {
        p2p_stream_reset(srv->s); /* every other request needs a key */
    } else if (type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__GET_VALUE) {
        kad_record_t *r = p2p_kad_record_get(k, m->key.data, m->key.len);
        if (r || k->lookup == NULL) {
            respond(srv, m, r ? r->val : NULL, r ? r->vlen : 0, r != NULL);
        } else { /* ask the application (the receipts database), answer when it replies */
            srv->busy = true;
            srv->pending = m;
            srv->refs++;
            k->lookup(m->key.data, m->key.len, on_found, srv, k->lookup_ud);
            return 0;
        }
    } else if (type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__ADD_PROVIDER) {
        for (size_t i = 0; i < m->n_providerpeers && i < KAD_MAX_PEERS_IN; i++) {
            ipvm_peer_id_t id;
            P2p__Pb__Kad__Message__Peer *pp = m->providerpeers[i];
            if (pp->has_id && ipvm_p2p_peer_id_from_bytes(pp->id.data, pp->id.len, &id, NULL) == 0 &&
                ipvm_p2p_peer_id_equal(&id, &srv->s->conn->remote)) /* only itself */
                prov_add(k, m->key.data, m->key.len, &id);
        }
    } else if (type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__FIND_NODE ||
               type == P2P__PB__KAD__MESSAGE__MESSAGE_TYPE__GET_PROVIDERS) {
        respond(srv, m, NULL, 0, false);
    } else {
        p2p_stream_reset(srv->s);
    }
    p2p__pb__kad__message__free_unpacked(m, &ipvm__p2p_pb_alloc);
    return 0;
}

/* Serves one request; 1 when the stream is gone (then srv may be freed). A reset inside
 * serve_msg closes the stream synchronously and drops the stream's reference, so the request
 * holds its own reference until it has looked at srv->s. */
static int serve_one(kad_srv_t *srv, const uint8_t *p, size_t n)
{
    srv->refs++;
    int rc = serve_msg(srv, p, n);
    bool gone = srv->s == NULL;
    srv_release(srv);
    return gone ? 1 : rc;
}

static int on_request(void *ud, const uint8_t *p, size_t n)
{
    kad_srv_t *srv = ud;
    if (srv->busy) {
        if (srv->nqueued == KAD_MAX_QUEUED_REQS) {
            p2p_stream_reset(srv->s);
            return 1;
        }
        ipvm_buf_init(&srv->queued[srv->nqueued]);
        if (ipvm_buf_append(&srv->queued[srv->nqueued], p, n) != 0) {
            p2p_stream_reset(srv->s);
            return 1;
        }
        srv->nqueued++;
        return 0;
    }
    return serve_one(srv, p, n);
}

static void srv_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    kad_srv_t *srv = s->ud;
    ipvm_error_t err = {0};
    if (p2p_lp_feed(&srv->lp, p, n, on_request, srv, &err) < 0) {
        char d[IPVM_P2P_PEER_ID_STR];
        ipvm_log(IPVM_LOG_WARN, "p2p", "kad: %s from %s; resetting the stream", err.msg,
                 ipvm_p2p_peer_id_str(&s->conn->remote, d));
        p2p_stream_reset(s);
    }
}

static void srv_eof(p2p_stream_t *s)
{
    kad_srv_t *srv = s->ud;
    srv->eof = true;
    if (!srv->busy && srv->nqueued == 0)
        p2p_stream_close_write(s);
}

static void srv_close(p2p_stream_t *s, int err)
{
    kad_srv_t *srv = s->ud;
    (void)err;
    srv->s = NULL;
    srv_release(srv);
}

static const p2p_stream_ops_t srv_ops = {srv_data, srv_eof, NULL, srv_close};

static void on_inbound(p2p_stream_t *s, void *ud)
{
    p2p_kad_t *k = ud;
    kad_srv_t *srv = ipvm_calloc(1, sizeof *srv);
    if (srv == NULL)
        return;
    srv->k = k;
    srv->s = s;
    srv->refs = 1;
    srv->lp.max = k->h->cfg.kad_max_record + KAD_MSG_SLACK;
    s->ops = &srv_ops;
    s->ud = srv;
}

/* ---------------------------------------------------------------------- module ---- */
static void on_identified(void *ud, p2p_peer_t *p, p2p_conn_t *c)
{
    p2p_kad_t *k = ud;
    (void)c;
    if (!p->kad_server)
        return;
    bool first = k->ncontacts == 0;
    rt_add(k, p);
    if (first && k->ncontacts > 0 && !k->stopping) /* bootstrap: learn our neighbourhood */
        (void)p2p_kad_self_lookup(k);
}

int p2p_kad_init(ipvm_p2p_host_t *h)
{
    p2p_kad_t *k = ipvm_calloc(1, sizeof *k);
    if (k == NULL)
        return IPVM_ENOMEM;
    k->h = h;
    h->kad = k;
    if (h->cfg.kad_k <= 0 || h->cfg.kad_k > KAD_K_MAX)
        h->cfg.kad_k = h->cfg.kad_k <= 0 ? 20 : KAD_K_MAX;
    if (h->cfg.kad_alpha <= 0)
        h->cfg.kad_alpha = 3;
    const ipvm_peer_id_t *me = ipvm_p2p_identity_peer_id(h->id);
    p2p_kad_key_id(me->bytes, me->len, k->self);
    int rc = p2p_map_init(&k->records);
    if (rc == 0)
        rc = p2p_map_init(&k->providers);
    if (rc == 0)
        rc = p2p_handle(h, KAD_PROTO, on_inbound, k);
    p2p_module_t m = {NULL, NULL, on_identified, k};
    return rc ? rc : p2p_add_module(h, &m);
}

void p2p_kad_tick(ipvm_p2p_host_t *h)
{
    p2p_kad_t *k = h->kad;
    uint64_t now = ipvm_wall_ms();
    if (k->ncontacts > 0 && now - k->last_refresh_ms >= KAD_REFRESH_MS)
        (void)p2p_kad_self_lookup(k);
}

void p2p_kad_stop(ipvm_p2p_host_t *h)
{
    if (h->kad) {
        h->kad->stopping = true;
        p2p_kad_queries_stop(h->kad);
    }
}

void p2p_kad_free(ipvm_p2p_host_t *h)
{
    p2p_kad_t *k = h->kad;
    if (k == NULL)
        return;
    while (k->oldest)
        record_free(k, k->oldest);
    while (k->provs) {
        kad_prov_t *p = k->provs;
        k->provs = p->next;
        ipvm_free(p->key);
        ipvm_free(p);
    }
    p2p_map_dispose(&k->records);
    p2p_map_dispose(&k->providers);
    ipvm_free(k);
    h->kad = NULL;
}
