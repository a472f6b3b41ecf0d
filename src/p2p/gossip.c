/* SPDX-License-Identifier: Apache-2.0 */
/* gossipsub v1.1 (/meshsub/1.1.0; libp2p/specs pubsub/README.md, gossipsub-v1.0.md,
 * gossipsub-v1.1.md): signed messages (StrictSign), a mesh per topic kept between D_low and
 * D_high by the heartbeat (with outbound quotas and backoff), gossip with IHAVE/IWANT from a
 * windowed message cache, flood publishing, and peer scoring basics (time in mesh, first
 * deliveries, invalid messages, behaviour penalties; gossip/publish/graylist thresholds). */
#include "gossip.h"

#include "p2p/pb/gossipsub.pb-c.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>

static const char *const PROTOS[] = {"/meshsub/1.1.0", "/meshsub/1.0.0"};
static const char SIGN_PREFIX[] = "libp2p-pubsub:";

/* -------------------------------------------------------------------- message ids ---- */
static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* SipHash-1-3 with keys k0 = k1 = 0 over the bytes le64(len) || data: what Rust's
 * DefaultHasher computes for `Vec<u8>::hash` (a length prefix, then the bytes). */
uint64_t p2p_siphash13_vec(const uint8_t *data, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ull, v1 = 0x646f72616e646f6dull;
    uint64_t v2 = 0x6c7967656e657261ull, v3 = 0x7465646279746573ull;
    uint64_t total = 8 + (uint64_t)len, m = 0;
    uint8_t lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (uint8_t)((uint64_t)len >> (8 * i));
    size_t fill = 0;
    for (uint64_t i = 0; i < total; i++) {
        uint8_t b = i < 8 ? lenb[i] : data[i - 8];
        m |= (uint64_t)b << (8 * fill);
        if (++fill == 8) {
            v3 ^= m;
            SIPROUND;
            v0 ^= m;
            m = 0;
            fill = 0;
        }
    }
    m |= (total & 0xff) << 56;
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

size_t ipvm_p2p_gossip_msgid(int kind, const uint8_t *from, size_t from_len, uint64_t seqno,
                             const uint8_t *data, size_t len, uint8_t out[64])
{
    uint8_t sq[8];
    for (int i = 0; i < 8; i++)
        sq[i] = (uint8_t)(seqno >> (56 - 8 * i));
    if (kind == IPVM_P2P_MSGID_HOMESTAR) {
        /* compat: homestar-runtime/src/network/pubsub.rs - DefaultHasher of the data,
         * MessageId::from(hash.to_string()) */
        int n = snprintf((char *)out, 64, "%llu",
                         (unsigned long long)p2p_siphash13_vec(data, len));
        return (size_t)n;
    }
    size_t n = 0;
    if (kind == IPVM_P2P_MSGID_JS) { /* @libp2p/pubsub utils msgId: key protobuf || seqno */
        ipvm_peer_id_t id;
        uint8_t pub[32];
        if (ipvm_p2p_peer_id_from_bytes(from, from_len, &id, NULL) == 0 &&
            ipvm_p2p_peer_id_ed25519(&id, pub) == 0) {
            ipvm_p2p_pubkey_encode(pub, out);
            n = IPVM_P2P_ED25519_PUBKEY_PB;
        }
    } else if (from_len <= 56) {
        memcpy(out, from, from_len);
        n = from_len;
    }
    memcpy(out + n, sq, 8);
    return n + 8;
}

/* ------------------------------------------------------------------- peers, topics ---- */
int p2p_gossip_topic_index(const p2p_gossip_t *g, const char *topic)
{
    for (int i = 0; i < GS_MAX_TOPICS; i++)
        if (g->topics[i].name && strcmp(g->topics[i].name, topic) == 0)
            return i;
    return -1;
}

bool p2p_gpeer_subscribed(const p2p_gpeer_t *gp, const char *topic)
{
    for (size_t i = 0; i < gp->nsubs; i++)
        if (strcmp(gp->subs[i], topic) == 0)
            return true;
    return false;
}

static p2p_gpeer_t *gpeer_get(p2p_gossip_t *g, p2p_peer_t *p, bool create)
{
    if (p->gossip || !create)
        return p->gossip;
    p2p_gpeer_t *gp = ipvm_calloc(1, sizeof *gp);
    if (gp == NULL)
        return NULL;
    gp->g = g;
    gp->peer = p;
    gp->connected = true;
    gp->next = g->peers;
    g->peers = gp;
    p->gossip = gp;
    return gp;
}

static void gpeer_free(p2p_gossip_t *g, p2p_gpeer_t *gp)
{
    for (p2p_gpeer_t **pp = &g->peers; *pp; pp = &(*pp)->next) {
        if (*pp == gp) {
            *pp = gp->next;
            break;
        }
    }
    for (size_t i = 0; i < gp->nsubs; i++)
        ipvm_free(gp->subs[i]);
    if (gp->peer)
        gp->peer->gossip = NULL;
    ipvm_free(gp);
}

/* ------------------------------------------------------------------------ sending ---- */
static void out_close(p2p_stream_t *s, int err)
{
    p2p_gpeer_t *gp = s->ud;
    (void)err;
    if (gp && gp->out == s)
        gp->out = NULL;
}

static void out_eof(p2p_stream_t *s)
{
    (void)s; /* the peer does not write on our outbound stream */
}

static const p2p_stream_ops_t out_ops = {NULL, out_eof, NULL, out_close};

/* Sends one RPC: `pb` (subscriptions/control, may be NULL) and raw encoded Messages. */
int p2p_gossip_send(p2p_gpeer_t *gp, const P2p__Pb__Gossip__RPC *pb, const ipvm_buf_t *raw)
{
    p2p_gossip_t *g = gp->g;
    if (gp->out == NULL)
        return IPVM_ECLOSED;
    if (p2p_stream_queued(gp->out) > GS_MAX_QUEUED) {
        g->h->stats.gossip_dropped++;
        return IPVM_ETOOBIG; /* a slow peer: drop rather than buffer without bound */
    }
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = 0;
    if (pb) {
        size_t n = p2p__pb__gossip__rpc__get_packed_size(pb);
        if ((rc = ipvm_buf_reserve(&b, n)) == 0)
            b.len += p2p__pb__gossip__rpc__pack(pb, b.data);
    }
    if (rc == 0 && raw && raw->len)
        rc = ipvm_buf_append(&b, raw->data, raw->len);
    if (rc == 0 && b.len)
        rc = p2p_stream_write_lp(gp->out, b.data, b.len);
    ipvm_buf_dispose(&b);
    return rc;
}

/* Appends `publish` entry bytes (field 2) for one encoded Message. */
int p2p_gossip_raw_publish(ipvm_buf_t *raw, const uint8_t *msg, size_t n)
{
    uint8_t v[IPVM_VARINT_MAX];
    int rc = ipvm_buf_append_byte(raw, 0x12);
    if (rc == 0)
        rc = ipvm_buf_append(raw, v, ipvm_varint_encode(n, v));
    return rc ? rc : ipvm_buf_append(raw, msg, n);
}

/* Our subscriptions, sent first on a new outbound stream and on every change. */
static void send_subs(p2p_gossip_t *g, p2p_gpeer_t *gp, int only, bool subscribe)
{
    P2p__Pb__Gossip__RPC__SubOpts so[GS_MAX_TOPICS], *sp[GS_MAX_TOPICS];
    size_t n = 0;
    for (int i = 0; i < GS_MAX_TOPICS; i++) {
        if (g->topics[i].name == NULL || (only >= 0 && i != only) ||
            (only < 0 && !g->topics[i].subscribed))
            continue;
        p2p__pb__gossip__rpc__sub_opts__init(&so[n]);
        so[n].has_subscribe = 1;
        so[n].subscribe = only >= 0 ? subscribe : 1;
        so[n].topicid = g->topics[i].name;
        sp[n] = &so[n];
        n++;
    }
    if (n == 0)
        return;
    P2p__Pb__Gossip__RPC rpc = P2P__PB__GOSSIP__RPC__INIT;
    rpc.n_subscriptions = n;
    rpc.subscriptions = sp;
    (void)p2p_gossip_send(gp, &rpc, NULL);
}

void p2p_gossip_open_out(p2p_gossip_t *g, p2p_gpeer_t *gp)
{
    if (gp->out || !gp->connected || g->stopping)
        return;
    p2p_conn_t *c = p2p_peer_conn(g->h, gp->peer);
    if (c == NULL)
        return;
    const char *proto = PROTOS[0];
    if (gp->peer->identified && !p2p_peer_has_protocol(gp->peer, PROTOS[0]) &&
        p2p_peer_has_protocol(gp->peer, PROTOS[1]))
        proto = PROTOS[1];
    gp->outbound = c->outbound;
    if (p2p_stream_open(c, proto, &out_ops, gp, &gp->out) != 0) {
        gp->out = NULL;
        return;
    }
    send_subs(g, gp, -1, true);
}

/* -------------------------------------------------------------------- host events ---- */
static void on_identified(void *ud, p2p_peer_t *p, p2p_conn_t *c)
{
    p2p_gossip_t *g = ud;
    (void)c;
    if (!p2p_peer_has_protocol(p, PROTOS[0]) && !p2p_peer_has_protocol(p, PROTOS[1]) &&
        !p2p_peer_has_protocol(p, "/meshsub/1.2.0"))
        return;
    p2p_gpeer_t *gp = gpeer_get(g, p, true);
    if (gp) {
        gp->connected = true;
        p2p_gossip_open_out(g, gp);
    }
}

static void on_disconnect(void *ud, p2p_conn_t *c, bool last)
{
    p2p_gossip_t *g = ud;
    p2p_gpeer_t *gp = c->peer ? c->peer->gossip : NULL;
    if (gp == NULL || !last)
        return;
    gp->connected = false;
    gp->disconnected_ms = ipvm_wall_ms();
    for (int i = 0; i < GS_MAX_TOPICS; i++)
        gp->ts[i].mesh = gp->ts[i].fanout = false;
    if (p2p_gossip_score_of(g, gp) >= 0)
        gpeer_free(g, gp); /* negative scores are kept a while, so a reconnect keeps them */
}

/* ------------------------------------------------------------------ inbound RPCs ---- */
typedef struct {
    p2p_gpeer_t *gp;
    p2p_lp_t lp;
} in_t;

static int on_rpc(void *ud, const uint8_t *msg, size_t len)
{
    p2p_stream_t *s = ud;
    in_t *in = s->ud;
    return p2p_gossip_handle_rpc(in->gp, msg, len) ? 1 : 0;
}

static void in_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    in_t *in = s->ud;
    ipvm_error_t err = {0};
    if (in->gp == NULL)
        return;
    int rc = p2p_lp_feed(&in->lp, p, n, on_rpc, s, &err);
    if (rc < 0) {
        ipvm_log(IPVM_LOG_WARN, "p2p", "gossipsub: %s from %s; resetting the stream", err.msg,
                 in->gp->peer->id_str);
        in->gp->behaviour += 1;
    }
    /* rc > 0: an RPC that is not a protobuf (logged and counted by handle_rpc). The feed
     * stopped there without keeping the rest, so the stream cannot be read on: reset it, as
     * for a bad length prefix. Nothing below touches s or in (the reset frees both). */
    if (rc != 0)
        p2p_stream_reset(s);
}

static void in_close(p2p_stream_t *s, int err)
{
    in_t *in = s->ud;
    (void)err;
    if (in->gp) {
        for (int i = 0; i < GS_MAX_INBOUND; i++)
            if (in->gp->in[i] == s)
                in->gp->in[i] = NULL;
    }
    p2p_lp_dispose(&in->lp);
    ipvm_free(in);
}

static const p2p_stream_ops_t in_ops = {in_data, NULL, NULL, in_close};

static void on_inbound(p2p_stream_t *s, void *ud)
{
    p2p_gossip_t *g = ud;
    p2p_peer_t *p = s->conn->peer;
    p2p_gpeer_t *gp = p ? gpeer_get(g, p, true) : NULL;
    int slot = -1;
    for (int i = 0; gp && i < GS_MAX_INBOUND; i++)
        if (gp->in[i] == NULL)
            slot = i;
    in_t *in = slot >= 0 ? ipvm_calloc(1, sizeof *in) : NULL;
    if (in == NULL)
        return; /* too many inbound streams from one peer: refused */
    in->gp = gp;
    in->lp.max = g->h->cfg.gossip_max_message + GS_RPC_SLACK;
    gp->in[slot] = s;
    gp->connected = true;
    s->ops = &in_ops;
    s->ud = in;
    p2p_gossip_open_out(g, gp); /* it speaks gossipsub: make sure we can talk back */
}

/* ---------------------------------------------------------------- module lifecycle ---- */
int p2p_gossip_init(ipvm_p2p_host_t *h)
{
    p2p_gossip_t *g = ipvm_calloc(1, sizeof *g);
    if (g == NULL)
        return IPVM_ENOMEM;
    g->h = h;
    h->gossip = g;
    randombytes_buf(&g->seqno, sizeof g->seqno);
    g->seqno >>= 1; /* room to count up */
    int rc = p2p_map_init(&g->seen);
    if (rc == 0)
        rc = p2p_map_init(&g->mcache);
    for (size_t i = 0; rc == 0 && i < 2; i++)
        rc = p2p_handle(h, PROTOS[i], on_inbound, g);
    p2p_module_t m = {NULL, on_disconnect, on_identified, g};
    return rc ? rc : p2p_add_module(h, &m);
}

static void on_heartbeat_timer(uv_timer_t *t)
{
    p2p_gossip_heartbeat(t->data);
}

static void on_timer_closed(uv_handle_t *hd)
{
    p2p_gossip_t *g = hd->data;
    ipvm_p2p_host_t *h = g->h;
    g->timer_open = false;
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

int p2p_gossip_start(ipvm_p2p_host_t *h)
{
    p2p_gossip_t *g = h->gossip;
    uv_timer_init(h->loop, &g->timer);
    g->timer.data = g;
    g->timer_open = true;
    h->handles++;
    uint64_t ms = h->cfg.gossip_heartbeat_ms ? h->cfg.gossip_heartbeat_ms : 1000;
    return uv_timer_start(&g->timer, on_heartbeat_timer, ms, ms);
}

void p2p_gossip_tick(ipvm_p2p_host_t *h)
{
    (void)h; /* the heartbeat has its own timer */
}

void p2p_gossip_stop(ipvm_p2p_host_t *h)
{
    p2p_gossip_t *g = h->gossip;
    if (g == NULL)
        return;
    g->stopping = true;
    if (g->timer_open)
        uv_close((uv_handle_t *)&g->timer, on_timer_closed);
}

void p2p_gossip_free(ipvm_p2p_host_t *h)
{
    p2p_gossip_t *g = h->gossip;
    if (g == NULL)
        return;
    while (g->peers)
        gpeer_free(g, g->peers);
    p2p_gossip_cache_free(g);
    for (int i = 0; i < GS_MAX_TOPICS; i++)
        ipvm_free(g->topics[i].name);
    ipvm_free(g);
    h->gossip = NULL;
}

/* ------------------------------------------------------------------ subscriptions ---- */
static int topic_slot(p2p_gossip_t *g, const char *topic)
{
    int i = p2p_gossip_topic_index(g, topic);
    if (i >= 0)
        return i;
    for (i = 0; i < GS_MAX_TOPICS; i++) {
        if (g->topics[i].name == NULL) {
            if ((g->topics[i].name = ipvm_strdup(topic)) == NULL)
                return IPVM_ENOMEM;
            return i;
        }
    }
    return IPVM_ENOSPC;
}

int ipvm_p2p_subscribe(ipvm_p2p_host_t *h, const char *topic, ipvm_p2p_message_fn fn,
                       void *data)
{
    p2p_gossip_t *g = h->gossip;
    IPVM_MISUSE_IF(topic == NULL || fn == NULL);
    if (strlen(topic) == 0 || strlen(topic) > GS_MAX_TOPIC_LEN)
        return IPVM_EINVAL;
    int i = topic_slot(g, topic);
    if (i < 0)
        return i;
    gs_topic_t *t = &g->topics[i];
    if (t->subscribed)
        return IPVM_EEXIST;
    t->subscribed = true;
    t->fn = fn;
    t->ud = data;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next)
        send_subs(g, gp, i, true);
    p2p_gossip_join(g, i);
    return 0;
}

int ipvm_p2p_unsubscribe(ipvm_p2p_host_t *h, const char *topic)
{
    p2p_gossip_t *g = h->gossip;
    int i = p2p_gossip_topic_index(g, topic);
    if (i < 0 || !g->topics[i].subscribed)
        return IPVM_ENOENT;
    p2p_gossip_leave(g, i);
    g->topics[i].subscribed = false;
    g->topics[i].fn = NULL;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next)
        send_subs(g, gp, i, false);
    return 0;
}

size_t ipvm_p2p_mesh_size(ipvm_p2p_host_t *h, const char *topic)
{
    p2p_gossip_t *g = h->gossip;
    int i = p2p_gossip_topic_index(g, topic);
    size_t n = 0;
    for (p2p_gpeer_t *gp = g->peers; i >= 0 && gp; gp = gp->next)
        n += gp->ts[i].mesh;
    return n;
}

size_t ipvm_p2p_topic_peers(ipvm_p2p_host_t *h, const char *topic)
{
    size_t n = 0;
    for (p2p_gpeer_t *gp = h->gossip->peers; gp; gp = gp->next)
        n += gp->connected && p2p_gpeer_subscribed(gp, topic);
    return n;
}

double p2p_gossip_score(ipvm_p2p_host_t *h, const p2p_peer_t *p)
{
    return p->gossip ? p2p_gossip_score_of(h->gossip, p->gossip) : 0;
}

/* ------------------------------------------------------------------- publishing ---- */
/* Builds, signs and encodes our Message for `topic`. */
static int build_message(p2p_gossip_t *g, const char *topic, const uint8_t *data, size_t len,
                         uint64_t seqno, ipvm_buf_t *out)
{
    const ipvm_peer_id_t *me = ipvm_p2p_identity_peer_id(g->h->id);
    uint8_t sq[8], sig[64];
    for (int i = 0; i < 8; i++)
        sq[i] = (uint8_t)(seqno >> (56 - 8 * i));
    P2p__Pb__Gossip__Message m = P2P__PB__GOSSIP__MESSAGE__INIT;
    m.has_from = m.has_data = m.has_seqno = 1;
    m.from.data = (uint8_t *)me->bytes;
    m.from.len = me->len;
    m.data.data = (uint8_t *)data;
    m.data.len = len;
    m.seqno.data = sq;
    m.seqno.len = 8;
    m.topic = (char *)topic;
    ipvm_buf_t b = IPVM_BUF_INIT;
    size_t n = p2p__pb__gossip__message__get_packed_size(&m);
    int rc = ipvm_buf_reserve(&b, sizeof SIGN_PREFIX - 1 + n);
    if (rc)
        return rc;
    memcpy(b.data, SIGN_PREFIX, sizeof SIGN_PREFIX - 1);
    b.len = sizeof SIGN_PREFIX - 1 + p2p__pb__gossip__message__pack(&m, b.data + sizeof SIGN_PREFIX - 1);
    ipvm_p2p_identity_sign(g->h->id, b.data, b.len, sig);
    ipvm_buf_dispose(&b);
    m.has_signature = 1; /* the key is inlined in the peer id, so `key` is left out */
    m.signature.data = sig;
    m.signature.len = 64;
    n = p2p__pb__gossip__message__get_packed_size(&m);
    if ((rc = ipvm_buf_reserve(out, n)) != 0)
        return rc;
    out->len += p2p__pb__gossip__message__pack(&m, out->data + out->len);
    return 0;
}

int ipvm_p2p_publish(ipvm_p2p_host_t *h, const char *topic, const uint8_t *data, size_t len,
                     size_t *recipients)
{
    p2p_gossip_t *g = h->gossip;
    if (recipients)
        *recipients = 0;
    if (len > h->cfg.gossip_max_message)
        return IPVM_ETOOBIG;
    if (strlen(topic) == 0 || strlen(topic) > GS_MAX_TOPIC_LEN)
        return IPVM_EINVAL;
    uint64_t seqno = ++g->seqno;
    const ipvm_peer_id_t *me = ipvm_p2p_identity_peer_id(h->id);
    ipvm_buf_t msg = IPVM_BUF_INIT, raw = IPVM_BUF_INIT;
    uint8_t id[64];
    size_t idn = ipvm_p2p_gossip_msgid(h->cfg.gossip_msgid, me->bytes, me->len, seqno, data,
                                       len, id);
    int rc = build_message(g, topic, data, len, seqno, &msg);
    if (rc == 0)
        rc = p2p_gossip_raw_publish(&raw, msg.data, msg.len);
    if (rc == 0) {
        p2p_gossip_seen_add(g, id, idn);
        rc = p2p_gossip_cache_put(g, id, idn, topic, msg.data, msg.len, NULL);
        if (rc == IPVM_EEXIST)
            rc = 0;
    }
    size_t sent = 0;
    int ti = p2p_gossip_topic_index(g, topic);
    for (p2p_gpeer_t *gp = g->peers; rc == 0 && gp; gp = gp->next) {
        if (!gp->connected || !p2p_gpeer_subscribed(gp, topic))
            continue;
        bool to = h->cfg.gossip_flood_publish
                      ? p2p_gossip_score_of(g, gp) >= GS_PUBLISH_THRESHOLD
                      : (ti >= 0 && (gp->ts[ti].mesh || gp->ts[ti].fanout));
        if (to && p2p_gossip_send(gp, NULL, &raw) == 0)
            sent++;
    }
    if (rc == 0 && !h->cfg.gossip_flood_publish && sent == 0)
        sent = p2p_gossip_fanout_publish(g, topic, &raw);
    if (ti >= 0)
        g->topics[ti].last_pub_ms = ipvm_wall_ms();
    h->stats.gossip_out++;
    ipvm_buf_dispose(&msg);
    ipvm_buf_dispose(&raw);
    if (recipients)
        *recipients = sent;
    return rc;
}
