/* SPDX-License-Identifier: Apache-2.0 */
/* identify (/ipfs/id/1.0.0) and identify/push (/ipfs/id/push/1.0.0), libp2p/specs
 * identify/README.md: on every new connection we ask the peer who it is (its key must match the
 * peer id the handshake proved), learn its listen addresses and protocols, and tell it ours. */
#include "host.h"

#include "p2p/pb/identify.pb-c.h"

#define ID_PROTO "/ipfs/id/1.0.0"
#define PUSH_PROTO "/ipfs/id/push/1.0.0"
#define MAX_MSG (64 * 1024)
#define MAX_PROTOCOLS 64
#define MAX_ADDRS 32

typedef struct {
    p2p_lp_t lp;
    bool push;   /* a push we receive */
    bool got;    /* one message applied */
} id_stream_t;

/* Our Identify message, for a peer on connection c. */
static int build(ipvm_p2p_host_t *h, p2p_conn_t *c, ipvm_buf_t *out)
{
    uint8_t key[IPVM_P2P_ED25519_PUBKEY_PB];
    ipvm_multiaddr_t addrs[16];
    ProtobufCBinaryData bins[16];
    size_t na = p2p_host_public_addrs(h, addrs, 16);
    ipvm_p2p_pubkey_encode(ipvm_p2p_identity_public_key(h->id), key);
    for (size_t i = 0; i < na; i++) {
        bins[i].data = addrs[i].bytes;
        bins[i].len = addrs[i].len;
    }
    P2p__Pb__Identify__Identify m = P2P__PB__IDENTIFY__IDENTIFY__INIT;
    m.protocolversion = (char *)h->cfg.protocol_version;
    m.agentversion = (char *)h->cfg.agent_version;
    m.has_publickey = 1;
    m.publickey.data = key;
    m.publickey.len = sizeof key;
    m.n_listenaddrs = na;
    m.listenaddrs = bins;
    if (c->remote_addr.len) {
        m.has_observedaddr = 1;
        m.observedaddr.data = (uint8_t *)c->remote_addr.bytes;
        m.observedaddr.len = c->remote_addr.len;
    }
    m.n_protocols = h->nhandlers;
    m.protocols = (char **)h->handler_ids;
    size_t n = p2p__pb__identify__identify__get_packed_size(&m);
    int rc = ipvm_buf_reserve(out, n);
    if (rc)
        return rc;
    out->len += p2p__pb__identify__identify__pack(&m, out->data + out->len);
    return 0;
}

/* Applies an Identify message from the peer on c. A push may carry only what changed. */
static int apply(p2p_conn_t *c, const uint8_t *p, size_t n, bool push)
{
    ipvm_p2p_host_t *h = c->host;
    p2p_peer_t *peer = c->peer;
    P2p__Pb__Identify__Identify *m =
        p2p__pb__identify__identify__unpack(&ipvm__p2p_pb_alloc, n, p);
    if (m == NULL) {
        p2p_conn_close(c, IPVM_EPROTO, "identify: not an Identify protobuf");
        return IPVM_EPROTO;
    }
    int rc = 0;
    if (m->has_publickey) { /* must be the key the handshake proved */
        ipvm_peer_id_t pid;
        if (ipvm_p2p_peer_id_from_pubkey(m->publickey.data, m->publickey.len, &pid, NULL) != 0 ||
            !ipvm_p2p_peer_id_equal(&pid, &c->remote)) {
            p2p_conn_close(c, IPVM_EPEER, "identify: public key does not match the peer id");
            rc = IPVM_EPEER;
            goto done;
        }
    }
    if (m->agentversion)
        snprintf(peer->agent, sizeof peer->agent, "%s", m->agentversion);
    if (m->protocolversion)
        snprintf(peer->protocol_version, sizeof peer->protocol_version, "%s",
                 m->protocolversion);
    if (m->n_listenaddrs && push)
        peer->naddrs = 0;
    for (size_t i = 0; i < m->n_listenaddrs && i < MAX_ADDRS; i++) {
        ipvm_multiaddr_t ma;
        if (ipvm_multiaddr_from_bytes(m->listenaddrs[i].data, m->listenaddrs[i].len, &ma,
                                      NULL) == 0)
            p2p_peer_add_addr(peer, &ma); /* others (/ws, /quic, circuits) are skipped */
    }
    if (m->n_protocols || !push) {
        size_t np = m->n_protocols < MAX_PROTOCOLS ? m->n_protocols : MAX_PROTOCOLS;
        char **ps = np ? ipvm_calloc(np, sizeof *ps) : NULL;
        for (size_t i = 0; ps && i < np; i++)
            if ((ps[i] = ipvm_strdup(m->protocols[i])) == NULL)
                np = i; /* out of memory: keep what we have */
        for (size_t i = 0; i < peer->nprotocols; i++)
            ipvm_free(peer->protocols[i]);
        ipvm_free(peer->protocols);
        peer->protocols = ps;
        peer->nprotocols = ps ? np : 0;
    }
    peer->kad_server = p2p_peer_has_protocol(peer, "/ipfs/kad/1.0.0");
    peer->identified = true;
    ipvm_log(IPVM_LOG_DEBUG, "p2p", "identified %s: %s, %zu protocols, %zu addresses",
             peer->id_str, peer->agent[0] ? peer->agent : "(no agent)", peer->nprotocols,
             peer->naddrs);
done:
    p2p__pb__identify__identify__free_unpacked(m, &ipvm__p2p_pb_alloc);
    if (rc == 0)
        p2p_host_identified(h, peer, c);
    return rc;
}

static int on_msg(void *ud, const uint8_t *msg, size_t len)
{
    p2p_stream_t *s = ud;
    id_stream_t *st = s->ud;
    if (st->got)
        return 0; /* one message per stream; extra ones are ignored */
    st->got = true;
    return apply(s->conn, msg, len, st->push) ? 1 : 0;
}

static void id_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    id_stream_t *st = s->ud;
    ipvm_error_t err = {0};
    int rc = p2p_lp_feed(&st->lp, p, n, on_msg, s, &err);
    if (rc < 0) {
        char why[400];
        snprintf(why, sizeof why, "identify: %s", err.msg);
        p2p_conn_close(s->conn, rc, why);
    }
}

static void id_eof(p2p_stream_t *s)
{
    p2p_stream_close_write(s);
}

static void id_close(p2p_stream_t *s, int err)
{
    id_stream_t *st = s->ud;
    if (err && err != IPVM_ECLOSED && !st->got)
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "identify with %s failed: %s",
                 s->conn->peer ? s->conn->peer->id_str : "?", ipvm_strerror(err));
    p2p_lp_dispose(&st->lp);
    ipvm_free(st);
}

static const p2p_stream_ops_t id_ops = {id_data, id_eof, NULL, id_close};

static id_stream_t *id_state(bool push)
{
    id_stream_t *st = ipvm_calloc(1, sizeof *st);
    if (st) {
        st->lp.max = MAX_MSG;
        st->push = push;
    }
    return st;
}

/* A peer asks who we are: answer and close. */
static void on_id_request(p2p_stream_t *s, void *ud)
{
    ipvm_p2p_host_t *h = ud;
    ipvm_buf_t b = IPVM_BUF_INIT;
    id_stream_t *st = id_state(false);
    if (st == NULL)
        return;
    st->got = true; /* we do not expect anything on this stream */
    s->ops = &id_ops;
    s->ud = st;
    if (build(h, s->conn, &b) == 0 && p2p_stream_write_lp(s, b.data, b.len) == 0)
        p2p_stream_close_write(s);
    else
        p2p_stream_reset(s);
    ipvm_buf_dispose(&b);
}

static void on_push(p2p_stream_t *s, void *ud)
{
    (void)ud;
    id_stream_t *st = id_state(true);
    if (st == NULL)
        return;
    s->ops = &id_ops;
    s->ud = st;
}

static void on_connect(void *ud, p2p_conn_t *c)
{
    (void)ud;
    id_stream_t *st = id_state(false);
    p2p_stream_t *s;
    if (st == NULL)
        return;
    int rc = p2p_stream_open(c, ID_PROTO, &id_ops, st, &s);
    if (rc) {
        ipvm_free(st);
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "cannot open identify stream: %s", ipvm_strerror(rc));
        return;
    }
    p2p_stream_close_write(s); /* the request is the stream itself */
}

void p2p_identify_push_all(ipvm_p2p_host_t *h)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    for (p2p_conn_t *c = h->conns; c; c = c->next) {
        if (c->stage != P2P_C_OPEN || c->peer == NULL ||
            !p2p_peer_has_protocol(c->peer, PUSH_PROTO))
            continue;
        id_stream_t *st = id_state(false);
        p2p_stream_t *s;
        ipvm_buf_clear(&b);
        if (st == NULL || build(h, c, &b) != 0 || p2p_stream_open(c, PUSH_PROTO, &id_ops, st, &s)) {
            ipvm_free(st);
            continue;
        }
        st->got = true;
        if (p2p_stream_write_lp(s, b.data, b.len) == 0)
            p2p_stream_close_write(s);
        else
            p2p_stream_reset(s);
    }
    ipvm_buf_dispose(&b);
}

int p2p_identify_init(ipvm_p2p_host_t *h)
{
    int rc = p2p_handle(h, ID_PROTO, on_id_request, h);
    if (rc == 0)
        rc = p2p_handle(h, PUSH_PROTO, on_push, h);
    p2p_module_t m = {on_connect, NULL, NULL, h};
    return rc ? rc : p2p_add_module(h, &m);
}
