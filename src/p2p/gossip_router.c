/* SPDX-License-Identifier: Apache-2.0 */
/* The gossipsub router (gossipsub-v1.0.md "Message Processing", "Heartbeat"; gossipsub-v1.1.md
 * "PRUNE Backoff", "Outbound Mesh Quotas", "Peer Scoring"): inbound RPCs with limits on every
 * count, signature checks, the seen cache and message cache, IHAVE/IWANT with promises, GRAFT
 * and PRUNE with backoff, mesh maintenance and score decay. */
#include "gossip.h"

#include "p2p/pb/gossipsub.pb-c.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>

static const char SIGN_PREFIX[] = "libp2p-pubsub:";

/* --------------------------------------------------------------------- the caches ---- */
struct gs_entry_s {
    gs_entry_t *wnext; /* next in its window */
    uint8_t id[64];
    uint8_t idlen;
    char *topic;
    uint8_t *msg; /* the encoded Message */
    size_t len;
};

struct gs_seen_s {
    gs_seen_t *next;
    uint64_t expire_ms;
    uint8_t len;
    uint8_t id[64];
};

bool p2p_gossip_seen(p2p_gossip_t *g, const uint8_t *id, size_t n)
{
    return p2p_map_get(&g->seen, id, n) != NULL;
}

void p2p_gossip_seen_add(p2p_gossip_t *g, const uint8_t *id, size_t n)
{
    if (n > 64 || p2p_gossip_seen(g, id, n))
        return;
    gs_seen_t *s = ipvm_malloc(sizeof *s);
    if (s == NULL)
        return;
    s->next = NULL;
    s->expire_ms = ipvm_wall_ms() + GS_SEEN_TTL_MS;
    s->len = (uint8_t)n;
    memcpy(s->id, id, n);
    if (p2p_map_put(&g->seen, s->id, n, s) != 0) {
        ipvm_free(s);
        return;
    }
    if (g->seen_tail)
        g->seen_tail->next = s;
    else
        g->seen_head = s;
    g->seen_tail = s;
}

static void seen_expire(p2p_gossip_t *g, uint64_t now)
{
    while (g->seen_head && g->seen_head->expire_ms <= now) {
        gs_seen_t *s = g->seen_head;
        g->seen_head = s->next;
        if (g->seen_head == NULL)
            g->seen_tail = NULL;
        (void)p2p_map_del(&g->seen, s->id, s->len);
        ipvm_free(s);
    }
}

int p2p_gossip_cache_put(p2p_gossip_t *g, const uint8_t *id, size_t n, const char *topic,
                         const uint8_t *msg, size_t len, const p2p_gpeer_t *from)
{
    (void)from;
    if (n > 64)
        return IPVM_EINVAL;
    if (p2p_map_get(&g->mcache, id, n))
        return IPVM_EEXIST;
    gs_entry_t *e = ipvm_calloc(1, sizeof *e);
    if (e == NULL)
        return IPVM_ENOMEM;
    e->topic = ipvm_strdup(topic);
    e->msg = ipvm_malloc(len ? len : 1);
    if (e->topic == NULL || e->msg == NULL) {
        ipvm_free(e->topic);
        ipvm_free(e->msg);
        ipvm_free(e);
        return IPVM_ENOMEM;
    }
    memcpy(e->msg, msg, len);
    e->len = len;
    memcpy(e->id, id, n);
    e->idlen = (uint8_t)n;
    int rc = p2p_map_put(&g->mcache, e->id, n, e);
    if (rc) {
        ipvm_free(e->topic);
        ipvm_free(e->msg);
        ipvm_free(e);
        return rc;
    }
    e->wnext = g->windows[g->cur];
    g->windows[g->cur] = e;
    return 0;
}

static void window_free(p2p_gossip_t *g, int w)
{
    gs_entry_t *e = g->windows[w];
    g->windows[w] = NULL;
    while (e) {
        gs_entry_t *n = e->wnext;
        (void)p2p_map_del(&g->mcache, e->id, e->idlen);
        ipvm_free(e->topic);
        ipvm_free(e->msg);
        ipvm_free(e);
        e = n;
    }
}

static void cache_shift(p2p_gossip_t *g)
{
    g->cur = (g->cur + 1) % GS_MCACHE_LEN;
    window_free(g, g->cur); /* the oldest window becomes the new current one */
}

void p2p_gossip_cache_free(p2p_gossip_t *g)
{
    for (int w = 0; w < GS_MCACHE_LEN; w++)
        window_free(g, w);
    p2p_map_dispose(&g->mcache);
    while (g->seen_head) {
        gs_seen_t *s = g->seen_head;
        g->seen_head = s->next;
        ipvm_free(s);
    }
    p2p_map_dispose(&g->seen);
}

/* ------------------------------------------------------------------------- scoring ---- */
double p2p_gossip_score_of(p2p_gossip_t *g, const p2p_gpeer_t *gp)
{
    uint64_t now = ipvm_wall_ms();
    double s = 0;
    for (int i = 0; i < GS_MAX_TOPICS; i++) {
        const gs_tstat_t *t = &gp->ts[i];
        if (g->topics[i].name == NULL)
            continue;
        if (t->mesh && gp->connected) { /* P1: time in mesh, 0.01 per second, capped */
            double secs = (double)(now - t->graft_ms) / 1000.0;
            s += 0.01 * (secs < 3600 ? secs : 3600);
        }
        s += t->first < 100 ? t->first : 100; /* P2: first deliveries, weight 1, cap 100 */
        s += -10.0 * t->invalid * t->invalid; /* P4: invalid messages, squared */
    }
    s += -10.0 * gp->behaviour * gp->behaviour; /* P7: behaviour penalty, squared */
    return s;
}

static double decay(double v, double per_second, double secs)
{
    v *= pow(per_second, secs);
    return v < 0.01 ? 0 : v;
}

static void decay_scores(p2p_gossip_t *g, uint64_t now)
{
    double secs = g->last_decay_ms ? (double)(now - g->last_decay_ms) / 1000.0 : 0;
    g->last_decay_ms = now;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next) {
        for (int i = 0; i < GS_MAX_TOPICS; i++) {
            gp->ts[i].first = decay(gp->ts[i].first, 0.9, secs);
            gp->ts[i].invalid = decay(gp->ts[i].invalid, 0.99, secs);
        }
        gp->behaviour = decay(gp->behaviour, 0.9, secs);
    }
}

static void penalize_invalid(p2p_gpeer_t *gp, int ti, const char *why)
{
    ipvm_p2p_host_t *h = gp->g->h;
    h->stats.gossip_invalid++;
    if (ti >= 0)
        gp->ts[ti].invalid += 1;
    else
        gp->behaviour += 0.5;
    ipvm_log(IPVM_LOG_INFO, "p2p", "gossipsub: dropped a message from %s: %s (score now %.1f)",
             gp->peer->id_str, why, p2p_gossip_score_of(gp->g, gp));
}

/* ------------------------------------------------------------------ message handling ---- */
/* StrictSign: from, an 8-byte seqno and a signature by from's key (inlined or in `key`) over
 * "libp2p-pubsub:" || the message without signature and key. */
static int check_signature(P2p__Pb__Gossip__Message *m, ipvm_peer_id_t *from, const char **why)
{
    uint8_t pub[32];
    if (!m->has_from || !m->has_seqno || m->seqno.len != 8 || !m->has_signature ||
        m->signature.len != 64) {
        *why = "not signed (StrictSign needs from, an 8-byte seqno and a signature)";
        return IPVM_ESIGNATURE;
    }
    if (ipvm_p2p_peer_id_from_bytes(m->from.data, m->from.len, from, NULL) != 0) {
        *why = "`from` is not a peer id";
        return IPVM_ESIGNATURE;
    }
    if (m->has_key) {
        ipvm_peer_id_t kid;
        if (ipvm_p2p_pubkey_decode(m->key.data, m->key.len, pub, NULL) != 0) {
            *why = "`key` is not an Ed25519 PublicKey";
            return IPVM_ESIGNATURE;
        }
        ipvm_p2p_peer_id_from_ed25519(pub, &kid);
        if (!ipvm_p2p_peer_id_equal(&kid, from)) {
            *why = "`key` does not match `from`";
            return IPVM_ESIGNATURE;
        }
    } else if (ipvm_p2p_peer_id_ed25519(from, pub) != 0) {
        *why = "no key for a `from` that does not inline one";
        return IPVM_ESIGNATURE;
    }
    P2p__Pb__Gossip__Message u = *m;
    u.has_signature = u.has_key = 0;
    size_t n = p2p__pb__gossip__message__get_packed_size(&u);
    uint8_t *b = ipvm_malloc(sizeof SIGN_PREFIX - 1 + n);
    if (b == NULL) {
        *why = "out of memory";
        return IPVM_ENOMEM;
    }
    memcpy(b, SIGN_PREFIX, sizeof SIGN_PREFIX - 1);
    p2p__pb__gossip__message__pack(&u, b + sizeof SIGN_PREFIX - 1);
    int rc = ipvm_p2p_ed25519_verify(pub, b, sizeof SIGN_PREFIX - 1 + n, m->signature.data);
    ipvm_free(b);
    if (rc)
        *why = "signature does not verify";
    return rc;
}

static void fulfill_promise(p2p_gpeer_t *gp, const uint8_t *id, size_t n)
{
    for (size_t i = 0; i < gp->npromises; i++) {
        if (gp->promises[i].len == n && memcmp(gp->promises[i].id, id, n) == 0) {
            gp->promises[i] = gp->promises[--gp->npromises];
            return;
        }
    }
}

static void forward(p2p_gossip_t *g, int ti, const ipvm_buf_t *raw, const p2p_gpeer_t *src,
                    const ipvm_peer_id_t *author)
{
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next) {
        if (gp == src || !gp->connected || !gp->ts[ti].mesh ||
            ipvm_p2p_peer_id_equal(&gp->peer->id, author))
            continue;
        (void)p2p_gossip_send(gp, NULL, raw);
    }
}

static void handle_message(p2p_gpeer_t *gp, P2p__Pb__Gossip__Message *m)
{
    p2p_gossip_t *g = gp->g;
    ipvm_p2p_host_t *h = g->h;
    const char *why = NULL;
    if (m->topic == NULL || strlen(m->topic) == 0 || strlen(m->topic) > GS_MAX_TOPIC_LEN) {
        penalize_invalid(gp, -1, "message without a valid topic");
        return;
    }
    int ti = p2p_gossip_topic_index(g, m->topic);
    if (ti >= 0 && !g->topics[ti].subscribed)
        ti = -1;
    if (m->has_data && m->data.len > h->cfg.gossip_max_message) {
        penalize_invalid(gp, ti, "message over the size limit");
        return;
    }
    ipvm_peer_id_t from;
    if (check_signature(m, &from, &why) != 0) {
        penalize_invalid(gp, ti, why);
        return;
    }
    uint64_t seqno = 0;
    for (int i = 0; i < 8; i++)
        seqno = (seqno << 8) | m->seqno.data[i];
    uint8_t id[64];
    size_t idn = ipvm_p2p_gossip_msgid(h->cfg.gossip_msgid, m->from.data, m->from.len, seqno,
                                       m->data.data, m->has_data ? m->data.len : 0, id);
    fulfill_promise(gp, id, idn);
    if (p2p_gossip_seen(g, id, idn)) {
        h->stats.gossip_dup++;
        return;
    }
    p2p_gossip_seen_add(g, id, idn);
    if (ti < 0 || ipvm_p2p_peer_id_equal(&from, ipvm_p2p_identity_peer_id(h->id)))
        return; /* not a topic of ours, or our own message come back */
    ipvm_p2p_message_t msg = {.topic = m->topic, .data = m->has_data ? m->data.data : NULL,
                              .len = m->has_data ? m->data.len : 0, .from = &from,
                              .via = &gp->peer->id, .seqno = seqno, .id = id, .id_len = idn};
    ipvm_p2p_verdict_t v = g->topics[ti].fn(h, &msg, g->topics[ti].ud);
    if (v == IPVM_P2P_REJECT) {
        penalize_invalid(gp, ti, "the application rejected it");
        return;
    }
    if (v != IPVM_P2P_ACCEPT || g->topics[ti].name == NULL || !g->topics[ti].subscribed)
        return;
    gp->ts[ti].first += 1;
    h->stats.gossip_in++;
    ipvm_p2p_event_t ev = {.kind = IPVM_P2P_EV_GOSSIP_MESSAGE, .peer = &from,
                           .topic = m->topic, .code = (int)msg.len};
    p2p_host_emit(h, &ev);
    ipvm_buf_t enc = IPVM_BUF_INIT, raw = IPVM_BUF_INIT;
    size_t n = p2p__pb__gossip__message__get_packed_size(m);
    if (ipvm_buf_reserve(&enc, n) == 0) {
        enc.len = p2p__pb__gossip__message__pack(m, enc.data);
        if (p2p_gossip_cache_put(g, id, idn, m->topic, enc.data, enc.len, gp) == 0 &&
            p2p_gossip_raw_publish(&raw, enc.data, enc.len) == 0)
            forward(g, ti, &raw, gp, &from);
    }
    ipvm_buf_dispose(&enc);
    ipvm_buf_dispose(&raw);
}

static void handle_subs(p2p_gpeer_t *gp, P2p__Pb__Gossip__RPC *rpc)
{
    for (size_t i = 0; i < rpc->n_subscriptions && i < GS_MAX_CONTROL; i++) {
        P2p__Pb__Gossip__RPC__SubOpts *so = rpc->subscriptions[i];
        if (so->topicid == NULL || strlen(so->topicid) > GS_MAX_TOPIC_LEN)
            continue;
        bool sub = so->has_subscribe && so->subscribe;
        size_t k = 0;
        while (k < gp->nsubs && strcmp(gp->subs[k], so->topicid) != 0)
            k++;
        if (sub && k == gp->nsubs && gp->nsubs < GS_MAX_PEER_TOPICS) {
            if ((gp->subs[gp->nsubs] = ipvm_strdup(so->topicid)) != NULL)
                gp->nsubs++;
        } else if (!sub && k < gp->nsubs) {
            ipvm_free(gp->subs[k]);
            gp->subs[k] = gp->subs[--gp->nsubs];
            int ti = p2p_gossip_topic_index(gp->g, so->topicid);
            if (ti >= 0)
                gp->ts[ti].mesh = gp->ts[ti].fanout = false;
        }
    }
}

/* ---------------------------------------------------------------- control messages ---- */
typedef struct {
    P2p__Pb__Gossip__ControlPrune prunes[GS_MAX_TOPICS], *pp[GS_MAX_TOPICS];
    size_t nprune;
    ProtobufCBinaryData want[GS_MAX_IHAVE_LENGTH];
    size_t nwant;
    ipvm_buf_t raw; /* messages asked for with IWANT */
} reply_t;

static void add_prune(p2p_gossip_t *g, reply_t *r, int ti, uint64_t backoff_ms)
{
    if (r->nprune == GS_MAX_TOPICS)
        return;
    P2p__Pb__Gossip__ControlPrune *p = &r->prunes[r->nprune];
    p2p__pb__gossip__control_prune__init(p);
    p->topicid = g->topics[ti].name;
    p->has_backoff = 1;
    p->backoff = backoff_ms / 1000;
    r->pp[r->nprune++] = p;
}

static void on_graft(p2p_gpeer_t *gp, const char *topic, reply_t *r, uint64_t now)
{
    p2p_gossip_t *g = gp->g;
    int ti = topic ? p2p_gossip_topic_index(g, topic) : -1;
    if (ti < 0 || !g->topics[ti].subscribed)
        return; /* go and js answer nothing for topics they do not know */
    gs_tstat_t *t = &gp->ts[ti];
    if (t->mesh)
        return;
    if (now < t->backoff_until) { /* v1.1: GRAFT during backoff is penalised and refused */
        gp->behaviour += 1;
        if (now + GS_PRUNE_BACKOFF_MS - GS_GRAFT_FLOOD_MS < t->backoff_until)
            gp->behaviour += 1;
        t->backoff_until = now + GS_PRUNE_BACKOFF_MS;
        add_prune(g, r, ti, GS_PRUNE_BACKOFF_MS);
        return;
    }
    size_t mesh = 0;
    for (p2p_gpeer_t *o = g->peers; o; o = o->next)
        mesh += o->ts[ti].mesh;
    if (p2p_gossip_score_of(g, gp) < 0 ||
        (mesh >= (size_t)g->h->cfg.gossip_d_high && !gp->outbound)) {
        t->backoff_until = now + GS_PRUNE_BACKOFF_MS;
        add_prune(g, r, ti, GS_PRUNE_BACKOFF_MS);
        return;
    }
    t->mesh = true;
    t->graft_ms = now;
}

static void on_prune(p2p_gpeer_t *gp, P2p__Pb__Gossip__ControlPrune *p, uint64_t now)
{
    int ti = p->topicid ? p2p_gossip_topic_index(gp->g, p->topicid) : -1;
    if (ti < 0)
        return;
    uint64_t b = p->has_backoff ? p->backoff * 1000 : GS_PRUNE_BACKOFF_MS;
    if (b > 3600 * 1000)
        b = 3600 * 1000;
    gp->ts[ti].mesh = false;
    gp->ts[ti].backoff_until = now + b;
    /* peer exchange (p->peers) carries no addresses without signed records: not used */
}

static void on_ihave(p2p_gpeer_t *gp, P2p__Pb__Gossip__ControlIHave *ih, reply_t *r)
{
    p2p_gossip_t *g = gp->g;
    int ti = ih->topicid ? p2p_gossip_topic_index(g, ih->topicid) : -1;
    if (ti < 0 || !g->topics[ti].subscribed || ++gp->ihave_recv > GS_MAX_IHAVE_MESSAGES)
        return;
    for (size_t i = 0; i < ih->n_messageids && i < GS_MAX_IDS_PER_CONTROL; i++) {
        ProtobufCBinaryData *id = &ih->messageids[i];
        if (id->len == 0 || id->len > 64 || gp->iwant_asked >= GS_MAX_IHAVE_LENGTH ||
            r->nwant >= GS_MAX_IHAVE_LENGTH)
            break;
        if (p2p_gossip_seen(g, id->data, id->len))
            continue;
        r->want[r->nwant++] = *id;
        gp->iwant_asked++;
        if (gp->npromises < GS_MAX_PROMISES) { /* it must deliver what it announced */
            gs_promise_t *pr = &gp->promises[gp->npromises++];
            memcpy(pr->id, id->data, id->len);
            pr->len = (uint8_t)id->len;
            pr->deadline_ms = ipvm_wall_ms() + GS_IWANT_FOLLOWUP_MS;
        }
    }
}

static void on_iwant(p2p_gpeer_t *gp, P2p__Pb__Gossip__ControlIWant *iw, reply_t *r)
{
    for (size_t i = 0; i < iw->n_messageids && i < GS_MAX_IDS_PER_CONTROL; i++) {
        ProtobufCBinaryData *id = &iw->messageids[i];
        gs_entry_t *e = id->len <= 64 ? p2p_map_get(&gp->g->mcache, id->data, id->len) : NULL;
        if (e == NULL || gp->iwant_served >= GS_MAX_IWANT_SERVES)
            continue;
        if (!p2p_gpeer_subscribed(gp, e->topic))
            continue;
        gp->iwant_served++;
        (void)p2p_gossip_raw_publish(&r->raw, e->msg, e->len);
    }
}

static void handle_control(p2p_gpeer_t *gp, P2p__Pb__Gossip__ControlMessage *c)
{
    p2p_gossip_t *g = gp->g;
    uint64_t now = ipvm_wall_ms();
    reply_t *r = ipvm_calloc(1, sizeof *r);
    if (r == NULL)
        return;
    bool gossip_ok = p2p_gossip_score_of(g, gp) >= GS_GOSSIP_THRESHOLD;
    for (size_t i = 0; i < c->n_graft && i < GS_MAX_CONTROL; i++)
        on_graft(gp, c->graft[i]->topicid, r, now);
    for (size_t i = 0; i < c->n_prune && i < GS_MAX_CONTROL; i++)
        on_prune(gp, c->prune[i], now);
    for (size_t i = 0; gossip_ok && i < c->n_ihave && i < GS_MAX_CONTROL; i++)
        on_ihave(gp, c->ihave[i], r);
    for (size_t i = 0; gossip_ok && i < c->n_iwant && i < GS_MAX_CONTROL; i++)
        on_iwant(gp, c->iwant[i], r);
    P2p__Pb__Gossip__ControlMessage cm = P2P__PB__GOSSIP__CONTROL_MESSAGE__INIT;
    P2p__Pb__Gossip__ControlIWant iw = P2P__PB__GOSSIP__CONTROL_IWANT__INIT, *iwp = &iw;
    P2p__Pb__Gossip__RPC rpc = P2P__PB__GOSSIP__RPC__INIT;
    if (r->nwant) {
        iw.n_messageids = r->nwant;
        iw.messageids = r->want;
        cm.n_iwant = 1;
        cm.iwant = &iwp;
    }
    cm.n_prune = r->nprune;
    cm.prune = r->pp;
    if (cm.n_iwant || cm.n_prune)
        rpc.control = &cm;
    if (rpc.control || r->raw.len)
        (void)p2p_gossip_send(gp, rpc.control ? &rpc : NULL, &r->raw);
    ipvm_buf_dispose(&r->raw);
    ipvm_free(r);
}

int p2p_gossip_handle_rpc(p2p_gpeer_t *gp, const uint8_t *p, size_t n)
{
    p2p_gossip_t *g = gp->g;
    if (p2p_gossip_score_of(g, gp) < GS_GRAYLIST_THRESHOLD)
        return 0; /* graylisted: its RPCs are ignored until its score decays */
    P2p__Pb__Gossip__RPC *rpc = p2p__pb__gossip__rpc__unpack(&ipvm__p2p_pb_alloc, n, p);
    if (rpc == NULL) {
        gp->behaviour += 1;
        ipvm_log(IPVM_LOG_WARN, "p2p", "gossipsub: %s sent %zu bytes that are not an RPC",
                 gp->peer->id_str, n);
        return 1;
    }
    handle_subs(gp, rpc);
    for (size_t i = 0; i < rpc->n_publish && i < GS_MAX_PUBLISH && gp->peer; i++)
        handle_message(gp, rpc->publish[i]);
    if (rpc->control)
        handle_control(gp, rpc->control);
    p2p__pb__gossip__rpc__free_unpacked(rpc, &ipvm__p2p_pb_alloc);
    return 0;
}

/* ----------------------------------------------------------------------- heartbeat ---- */
static void shuffle(p2p_gpeer_t **a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = randombytes_uniform((uint32_t)i);
        p2p_gpeer_t *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static p2p_gossip_t *sort_g;
static int by_score_desc(const void *x, const void *y)
{
    double a = p2p_gossip_score_of(sort_g, *(p2p_gpeer_t *const *)x);
    double b = p2p_gossip_score_of(sort_g, *(p2p_gpeer_t *const *)y);
    return a < b ? 1 : a > b ? -1 : 0;
}

static bool can_graft(p2p_gossip_t *g, p2p_gpeer_t *gp, int ti, uint64_t now)
{
    return gp->connected && gp->out && !gp->ts[ti].mesh && now >= gp->ts[ti].backoff_until &&
           p2p_gpeer_subscribed(gp, g->topics[ti].name) && p2p_gossip_score_of(g, gp) >= 0;
}

static void graft(p2p_gpeer_t *gp, int ti, uint64_t now)
{
    gp->ts[ti].mesh = true;
    gp->ts[ti].graft_ms = now;
    gp->hb_graft |= 1u << ti;
}

static void prune(p2p_gpeer_t *gp, int ti, uint64_t now, uint64_t backoff)
{
    gp->ts[ti].mesh = false;
    gp->ts[ti].backoff_until = now + backoff;
    gp->hb_prune |= 1u << ti;
}

/* Too many peers in the mesh: keeps D of them, the GS_D_SCORE best by score and the rest at
 * random, with outbound ones swapped in up to D_out; prunes the others. Returns the outbound
 * peers kept. */
static size_t shrink_mesh(p2p_gossip_t *g, int ti, p2p_gpeer_t **mesh, size_t nm, uint64_t now)
{
    const ipvm_p2p_config_t *c = &g->h->cfg;
    sort_g = g;
    qsort(mesh, nm, sizeof *mesh, by_score_desc);
    shuffle(mesh + GS_D_SCORE, nm - GS_D_SCORE); /* keep the best, then at random */
    size_t keep_out = 0;
    for (size_t i = 0; i < (size_t)c->gossip_d; i++)
        keep_out += mesh[i]->outbound;
    for (size_t i = c->gossip_d; i < nm && keep_out < (size_t)c->gossip_d_out; i++) {
        if (!mesh[i]->outbound)
            continue;
        for (size_t j = c->gossip_d; j-- > GS_D_SCORE;) { /* swap an outbound one in */
            if (!mesh[j]->outbound) {
                p2p_gpeer_t *t = mesh[j];
                mesh[j] = mesh[i];
                mesh[i] = t;
                keep_out++;
                break;
            }
        }
    }
    for (size_t i = c->gossip_d; i < nm; i++)
        prune(mesh[i], ti, now, GS_PRUNE_BACKOFF_MS);
    return keep_out;
}

/* Opportunistic grafting (v1.1): when the mesh's median score is below the threshold, grafts
 * up to two candidates that score above it. */
static void graft_opportunistic(p2p_gossip_t *g, int ti, p2p_gpeer_t **mesh, size_t nm,
                                p2p_gpeer_t **cand, size_t nc, uint64_t now)
{
    sort_g = g;
    qsort(mesh, nm, sizeof *mesh, by_score_desc);
    double median = p2p_gossip_score_of(g, mesh[nm / 2]);
    for (size_t i = 0, added = 0; median < GS_OPPORTUNISTIC_THRESHOLD && i < nc && added < 2;
         i++) {
        if (cand[i] && p2p_gossip_score_of(g, cand[i]) > median) {
            graft(cand[i], ti, now);
            added++;
        }
    }
}

/* Mesh maintenance for one topic (gossipsub-v1.0.md "Mesh Maintenance" + v1.1 quotas). */
static void maintain(p2p_gossip_t *g, int ti, p2p_gpeer_t **mesh, p2p_gpeer_t **cand,
                     uint64_t now)
{
    const ipvm_p2p_config_t *c = &g->h->cfg;
    size_t nm = 0, nc = 0, nout = 0;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next) {
        if (gp->ts[ti].mesh && !gp->connected)
            gp->ts[ti].mesh = false;
        if (gp->ts[ti].mesh && p2p_gossip_score_of(g, gp) < 0)
            prune(gp, ti, now, GS_PRUNE_BACKOFF_MS); /* v1.1: negative scores leave */
        if (gp->ts[ti].mesh) {
            mesh[nm++] = gp;
            nout += gp->outbound;
        } else if (can_graft(g, gp, ti, now)) {
            cand[nc++] = gp;
        }
    }
    shuffle(cand, nc);
    if (nm < (size_t)c->gossip_d_low) {
        for (size_t i = 0; i < nc && nm < (size_t)c->gossip_d; i++) {
            graft(cand[i], ti, now);
            nout += cand[i]->outbound;
            mesh[nm++] = cand[i];
            cand[i] = NULL;
        }
    } else if (nm > (size_t)c->gossip_d_high) {
        nout = shrink_mesh(g, ti, mesh, nm, now);
        nm = c->gossip_d;
    }
    for (size_t i = 0; i < nc && nout < (size_t)c->gossip_d_out; i++) { /* outbound quota */
        if (cand[i] && cand[i]->outbound) {
            graft(cand[i], ti, now);
            nout++;
            cand[i] = NULL;
        }
    }
    if (g->heartbeats % GS_OPPORTUNISTIC_TICKS == 0 && nm > 1)
        graft_opportunistic(g, ti, mesh, nm, cand, nc, now);
}

/* IHAVE for one topic to D_lazy (or gossip_factor of the) peers outside the mesh. */
static void emit_gossip(p2p_gossip_t *g, int ti, p2p_gpeer_t **cand)
{
    size_t nids = 0, nc = 0;
    for (int w = 0; w < GS_MCACHE_GOSSIP; w++)
        for (gs_entry_t *e = g->windows[(g->cur - w + GS_MCACHE_LEN) % GS_MCACHE_LEN]; e;
             e = e->wnext)
            nids += strcmp(e->topic, g->topics[ti].name) == 0;
    if (nids == 0)
        return;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next)
        if (gp->connected && gp->out && !gp->ts[ti].mesh &&
            p2p_gpeer_subscribed(gp, g->topics[ti].name) &&
            p2p_gossip_score_of(g, gp) >= GS_GOSSIP_THRESHOLD)
            cand[nc++] = gp;
    shuffle(cand, nc);
    size_t want = (size_t)(GS_GOSSIP_FACTOR * (double)nc);
    if (want < (size_t)g->h->cfg.gossip_d_lazy)
        want = (size_t)g->h->cfg.gossip_d_lazy;
    for (size_t i = 0; i < nc && i < want; i++)
        cand[i]->hb_ihave |= 1u << ti;
}

/* Sends each peer the GRAFT, PRUNE and IHAVE the heartbeat decided, in one RPC. */
static void send_control(p2p_gossip_t *g, p2p_gpeer_t *gp, ProtobufCBinaryData *ids)
{
    P2p__Pb__Gossip__ControlGraft gr[GS_MAX_TOPICS], *grp[GS_MAX_TOPICS];
    P2p__Pb__Gossip__ControlPrune pr[GS_MAX_TOPICS], *prp[GS_MAX_TOPICS];
    P2p__Pb__Gossip__ControlIHave ih[GS_MAX_TOPICS], *ihp[GS_MAX_TOPICS];
    P2p__Pb__Gossip__ControlMessage cm = P2P__PB__GOSSIP__CONTROL_MESSAGE__INIT;
    for (int ti = 0; ti < GS_MAX_TOPICS; ti++) {
        if (gp->hb_graft & (1u << ti)) {
            p2p__pb__gossip__control_graft__init(&gr[cm.n_graft]);
            gr[cm.n_graft].topicid = g->topics[ti].name;
            grp[cm.n_graft] = &gr[cm.n_graft];
            cm.n_graft++;
        }
        if (gp->hb_prune & (1u << ti)) {
            p2p__pb__gossip__control_prune__init(&pr[cm.n_prune]);
            pr[cm.n_prune].topicid = g->topics[ti].name;
            pr[cm.n_prune].has_backoff = 1;
            pr[cm.n_prune].backoff = GS_PRUNE_BACKOFF_MS / 1000;
            prp[cm.n_prune] = &pr[cm.n_prune];
            cm.n_prune++;
        }
        if (ids && (gp->hb_ihave & (1u << ti))) {
            size_t n = 0;
            for (int w = 0; w < GS_MCACHE_GOSSIP; w++)
                for (gs_entry_t *e = g->windows[(g->cur - w + GS_MCACHE_LEN) % GS_MCACHE_LEN];
                     e && n < GS_MAX_IHAVE_LENGTH; e = e->wnext)
                    if (strcmp(e->topic, g->topics[ti].name) == 0) {
                        ids[n].data = e->id;
                        ids[n].len = e->idlen;
                        n++;
                    }
            p2p__pb__gossip__control_ihave__init(&ih[cm.n_ihave]);
            ih[cm.n_ihave].topicid = g->topics[ti].name;
            ih[cm.n_ihave].n_messageids = n;
            ih[cm.n_ihave].messageids = ids;
            ihp[cm.n_ihave] = &ih[cm.n_ihave];
            cm.n_ihave++;
            ids += n;
        }
    }
    gp->hb_graft = gp->hb_prune = gp->hb_ihave = 0;
    if (cm.n_graft + cm.n_prune + cm.n_ihave == 0)
        return;
    cm.graft = grp;
    cm.prune = prp;
    cm.ihave = ihp;
    P2p__Pb__Gossip__RPC rpc = P2P__PB__GOSSIP__RPC__INIT;
    rpc.control = &cm;
    (void)p2p_gossip_send(gp, &rpc, NULL);
}

static void peers_housekeeping(p2p_gossip_t *g, uint64_t now)
{
    for (p2p_gpeer_t *gp = g->peers, *next; gp; gp = next) {
        next = gp->next;
        if (!gp->connected && now - gp->disconnected_ms > GS_RETAIN_SCORE_MS) {
            for (p2p_gpeer_t **pp = &g->peers; *pp; pp = &(*pp)->next)
                if (*pp == gp) {
                    *pp = gp->next;
                    break;
                }
            for (size_t i = 0; i < gp->nsubs; i++)
                ipvm_free(gp->subs[i]);
            gp->peer->gossip = NULL;
            ipvm_free(gp);
            continue;
        }
        for (size_t i = 0; i < gp->npromises;) { /* v1.1: broken IWANT promises cost P7 */
            if (gp->promises[i].deadline_ms <= now) {
                gp->behaviour += 1;
                gp->promises[i] = gp->promises[--gp->npromises];
            } else {
                i++;
            }
        }
        gp->ihave_recv = gp->iwant_asked = gp->iwant_served = 0;
        if (gp->connected && gp->out == NULL)
            p2p_gossip_open_out(g, gp); /* its stream was reset: try again */
    }
}

void p2p_gossip_heartbeat(p2p_gossip_t *g)
{
    uint64_t now = ipvm_wall_ms();
    g->heartbeats++;
    decay_scores(g, now);
    peers_housekeeping(g, now);
    size_t np = 0, nids = 0;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next)
        np++;
    for (int w = 0; w < GS_MCACHE_GOSSIP; w++) /* a peer is told at most every cached id */
        for (gs_entry_t *e = g->windows[(g->cur - w + GS_MCACHE_LEN) % GS_MCACHE_LEN]; e;
             e = e->wnext)
            nids++;
    p2p_gpeer_t **mesh = ipvm_malloc((np + 1) * sizeof *mesh);
    p2p_gpeer_t **cand = ipvm_malloc((np + 1) * sizeof *cand);
    ProtobufCBinaryData *ids = ipvm_malloc((nids + 1) * sizeof *ids);
    if (mesh && cand && ids) {
        for (int ti = 0; ti < GS_MAX_TOPICS; ti++) {
            if (g->topics[ti].name == NULL || !g->topics[ti].subscribed)
                continue;
            maintain(g, ti, mesh, cand, now);
            emit_gossip(g, ti, cand);
        }
        for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next)
            send_control(g, gp, ids);
    }
    ipvm_free(mesh);
    ipvm_free(cand);
    ipvm_free(ids);
    cache_shift(g);
    seen_expire(g, now);
}

/* ------------------------------------------------------------------- join, leave ---- */
void p2p_gossip_join(p2p_gossip_t *g, int ti)
{
    uint64_t now = ipvm_wall_ms();
    size_t n = 0;
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next)
        n += gp->ts[ti].mesh;
    for (p2p_gpeer_t *gp = g->peers; gp && n < (size_t)g->h->cfg.gossip_d; gp = gp->next) {
        if (can_graft(g, gp, ti, now)) {
            graft(gp, ti, now);
            send_control(g, gp, NULL);
            n++;
        }
    }
}

void p2p_gossip_leave(p2p_gossip_t *g, int ti)
{
    uint64_t now = ipvm_wall_ms();
    for (p2p_gpeer_t *gp = g->peers; gp; gp = gp->next) {
        if (gp->ts[ti].mesh) {
            gp->ts[ti].mesh = false;
            gp->ts[ti].backoff_until = now + GS_UNSUB_BACKOFF_MS;
            gp->hb_prune |= 1u << ti;
            send_control(g, gp, NULL);
        }
    }
}

size_t p2p_gossip_fanout_publish(p2p_gossip_t *g, const char *topic, const ipvm_buf_t *raw)
{
    size_t sent = 0;
    for (p2p_gpeer_t *gp = g->peers; gp && sent < (size_t)g->h->cfg.gossip_d; gp = gp->next) {
        if (gp->connected && p2p_gpeer_subscribed(gp, topic) &&
            p2p_gossip_score_of(g, gp) >= GS_PUBLISH_THRESHOLD &&
            p2p_gossip_send(gp, NULL, raw) == 0)
            sent++;
    }
    return sent;
}
