/* SPDX-License-Identifier: Apache-2.0 */
/* The libp2p host: configuration, TCP listeners, the connection list and its write flushing
 * (once per loop iteration, so many small frames leave in one write), the peer store, the
 * protocol registry, modules, events and the 1-second housekeeping tick. */
#include "host.h"

#include <stdio.h>

void ipvm_p2p_config_init(ipvm_p2p_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->listen[0] = "/ip4/0.0.0.0/tcp/0";
    c->nlisten = 1;
    c->agent_version = "ipvm/" IPVM_VERSION_STRING;
    c->protocol_version = "ipfs/0.1.0";
    c->mdns_interval_ms = 10000;
    c->dial_timeout_ms = 10000;
    c->request_timeout_ms = 5000;
    c->max_connections = 128;
    c->redial_interval_ms = 5000;
    c->gossip_heartbeat_ms = 1000;
    c->gossip_d = 6;
    c->gossip_d_low = 4;
    c->gossip_d_high = 12;
    c->gossip_d_lazy = 6;
    c->gossip_d_out = 2;
    c->gossip_max_message = 1u << 20;
    c->gossip_msgid = IPVM_P2P_MSGID_HOMESTAR;
    c->gossip_flood_publish = true;
    c->kad_k = 20;
    c->kad_alpha = 3;
    c->kad_query_timeout_ms = 10000;
    c->kad_max_record = 1u << 20;
    c->kad_max_records = 65536;
}

/* ------------------------------------------------------------------------- events ---- */
void p2p_host_emit(ipvm_p2p_host_t *h, const ipvm_p2p_event_t *ev)
{
    if (h->cfg.on_event == NULL)
        return;
    ipvm_p2p_event_t e = *ev;
    if (e.timestamp_ms == 0)
        e.timestamp_ms = ipvm_wall_ms();
    h->cfg.on_event(&e, h->cfg.event_data);
}

/* -------------------------------------------------------------------------- peers ---- */
p2p_peer_t *p2p_peer_get(ipvm_p2p_host_t *h, const ipvm_peer_id_t *id, bool create)
{
    for (p2p_peer_t *p = h->peers; p; p = p->next)
        if (ipvm_p2p_peer_id_equal(&p->id, id))
            return p;
    if (!create)
        return NULL;
    p2p_peer_t *p = ipvm_calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->id = *id;
    ipvm_p2p_peer_id_str(id, p->id_str);
    p->next = h->peers;
    h->peers = p;
    h->npeers++;
    return p;
}

void p2p_peer_add_addr(p2p_peer_t *p, const ipvm_multiaddr_t *ma)
{
    ipvm_multiaddr_t a = *ma;
    ipvm_multiaddr_strip_peer_id(&a);
    struct sockaddr_storage ss;
    if (ipvm_multiaddr_to_sockaddr(&a, &ss) != 0)
        return; /* only dialable addresses are kept */
    for (size_t i = 0; i < p->naddrs; i++)
        if (ipvm_multiaddr_equal(&p->addrs[i], &a))
            return;
    if (p->naddrs == P2P_MAX_ADDRS) { /* forget the oldest */
        memmove(p->addrs, p->addrs + 1, sizeof p->addrs[0] * (P2P_MAX_ADDRS - 1));
        p->naddrs--;
    }
    p->addrs[p->naddrs++] = a;
}

bool p2p_peer_has_protocol(const p2p_peer_t *p, const char *proto)
{
    for (size_t i = 0; i < p->nprotocols; i++)
        if (strcmp(p->protocols[i], proto) == 0)
            return true;
    return false;
}

p2p_conn_t *p2p_peer_conn(ipvm_p2p_host_t *h, const p2p_peer_t *p)
{
    for (p2p_conn_t *c = h->conns; c; c = c->next)
        if (c->peer == p && c->stage == P2P_C_OPEN && !c->close_pending)
            return c;
    return NULL;
}

static void peer_free(p2p_peer_t *p)
{
    for (size_t i = 0; i < p->nprotocols; i++)
        ipvm_free(p->protocols[i]);
    ipvm_free(p->protocols);
    ipvm_free(p);
}

/* Keeps the peer store bounded: forgets disconnected peers that nothing refers to. */
static void peers_gc(ipvm_p2p_host_t *h)
{
    if (h->npeers < 1024)
        return;
    for (p2p_peer_t **pp = &h->peers; *pp;) {
        p2p_peer_t *p = *pp;
        if (p->nconns == 0 && !p->bootstrap && !p->kad_rt && p->gossip == NULL && p->refs == 0) {
            *pp = p->next;
            peer_free(p);
            h->npeers--;
        } else {
            pp = &p->next;
        }
    }
}

/* ------------------------------------------------------------------- registry ---- */
int p2p_handle(ipvm_p2p_host_t *h, const char *protocol, p2p_handler_fn fn, void *ud)
{
    if (h->nhandlers == P2P_MAX_PROTOCOLS)
        return IPVM_ENOSPC;
    h->handlers[h->nhandlers].protocol = protocol;
    h->handlers[h->nhandlers].fn = fn;
    h->handlers[h->nhandlers].ud = ud;
    h->handler_ids[h->nhandlers] = protocol;
    h->nhandlers++;
    return 0;
}

int p2p_add_module(ipvm_p2p_host_t *h, const p2p_module_t *m)
{
    if (h->nmodules == sizeof h->modules / sizeof h->modules[0])
        return IPVM_ENOSPC;
    h->modules[h->nmodules++] = *m;
    return 0;
}

/* ---------------------------------------------------------------- connections ---- */
void p2p_host_conn_opened(ipvm_p2p_host_t *h, p2p_conn_t *c)
{
    p2p_peer_t *p = p2p_peer_get(h, &c->remote, true);
    if (p == NULL) {
        p2p_conn_close(c, IPVM_ENOMEM, "out of memory");
        return;
    }
    c->peer = p;
    if (p->nconns++ == 0)
        p->connected_ms = ipvm_wall_ms();
    p->last_seen_ms = ipvm_wall_ms();
    if (c->outbound)
        p2p_peer_add_addr(p, &c->remote_addr);
    h->stats.conns_opened++;
    char a[IPVM_MULTIADDR_STR];
    ipvm_log(IPVM_LOG_DEBUG, "p2p", "connected %s %s (%s)", c->outbound ? "to" : "from",
             p->id_str, ipvm_multiaddr_str(&c->remote_addr, a));
    ipvm_p2p_event_t ev = {.kind = IPVM_P2P_EV_CONNECTED, .peer = &p->id,
                           .addr = &c->remote_addr, .code = c->outbound};
    p2p_host_emit(h, &ev);
    for (size_t i = 0; i < h->nmodules && c->stage == P2P_C_OPEN; i++)
        if (h->modules[i].on_connect)
            h->modules[i].on_connect(h->modules[i].ud, c);
}

void p2p_host_identified(ipvm_p2p_host_t *h, p2p_peer_t *p, p2p_conn_t *c)
{
    ipvm_p2p_event_t ev = {.kind = IPVM_P2P_EV_IDENTIFIED, .peer = &p->id, .agent = p->agent,
                           .addr = &c->remote_addr};
    p2p_host_emit(h, &ev);
    for (size_t i = 0; i < h->nmodules; i++)
        if (h->modules[i].on_identified)
            h->modules[i].on_identified(h->modules[i].ud, p, c);
}

void p2p_host_conn_closed(ipvm_p2p_host_t *h, p2p_conn_t *c)
{
    for (p2p_conn_t **pp = &h->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    h->nconns--;
    if (c->dirty) {
        for (p2p_conn_t **pp = &h->dirty; *pp; pp = &(*pp)->dirty_next) {
            if (*pp == c) {
                *pp = c->dirty_next;
                break;
            }
        }
        c->dirty = false;
    }
    p2p_peer_t *p = c->peer;
    if (p == NULL) { /* never got past the upgrade */
        h->stats.conns_failed++;
        ipvm_p2p_event_t ev = {.kind = c->outbound ? IPVM_P2P_EV_DIAL_FAILED
                                                   : IPVM_P2P_EV_INBOUND_FAILED,
                               .addr = &c->remote_addr, .code = c->close_err};
        p2p_host_emit(h, &ev);
        return;
    }
    h->stats.conns_closed++;
    bool last = --p->nconns == 0;
    p->last_seen_ms = ipvm_wall_ms();
    for (size_t i = 0; i < h->nmodules; i++)
        if (h->modules[i].on_disconnect)
            h->modules[i].on_disconnect(h->modules[i].ud, c, last);
    ipvm_p2p_event_t ev = {.kind = IPVM_P2P_EV_DISCONNECTED, .peer = &p->id,
                           .addr = &c->remote_addr, .code = c->close_err};
    p2p_host_emit(h, &ev);
}

void p2p_host_mark_dirty(ipvm_p2p_host_t *h, p2p_conn_t *c)
{
    if (c->dirty || c->stage == P2P_C_CLOSING)
        return;
    c->dirty = true;
    c->dirty_next = h->dirty;
    h->dirty = c;
}

void p2p_host_flush(ipvm_p2p_host_t *h)
{
    while (h->dirty) {
        p2p_conn_t *c = h->dirty;
        h->dirty = c->dirty_next;
        c->dirty = false;
        p2p_conn_flush(c);
    }
}

static void on_prepare(uv_prepare_t *p)
{
    p2p_host_flush(p->data);
}

static void on_check(uv_check_t *p)
{
    p2p_host_flush(p->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    ipvm_p2p_host_t *h = server->data;
    if (status < 0) {
        ipvm_log(IPVM_LOG_WARN, "p2p", "accept failed: %s", uv_strerror(status));
        return;
    }
    p2p_conn_accept(h, server);
}

/* ------------------------------------------------------------------- lifecycle ---- */
static const char *cfg_strdup(ipvm_arena_t *a, const char *s)
{
    return s ? ipvm_arena_strdup(a, s) : NULL;
}

/* Every listen and bootstrap address must be a TCP multiaddr; at most P2P_MAX_LISTENERS of the
 * first. */
static int check_addrs(const ipvm_p2p_config_t *cfg, ipvm_error_t *err)
{
    for (size_t i = 0; i < cfg->nlisten + cfg->nbootstrap; i++) {
        bool boot = i >= cfg->nlisten;
        const char *s = boot ? cfg->bootstrap[i - cfg->nlisten] : cfg->listen[i];
        ipvm_multiaddr_t ma;
        struct sockaddr_storage ss;
        int rc = ipvm_multiaddr_parse(s, strlen(s), &ma, err);
        if (rc == 0 && ipvm_multiaddr_to_sockaddr(&ma, &ss) != 0)
            rc = ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                                "not a TCP address (/ip4|ip6/…/tcp/…)");
        if (rc) {
            if (err)
                ipvm_error_prefix(err, "%s address \"%s\": ", boot ? "bootstrap" : "listen", s);
            return rc;
        }
    }
    if (cfg->nlisten > P2P_MAX_LISTENERS)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "at most %d listen addresses",
                              P2P_MAX_LISTENERS);
    return 0;
}

/* h->cfg = *cfg with its strings copied into a and the defaults filled in. 0 or IPVM_ENOMEM. */
static int copy_config(ipvm_p2p_host_t *h, const ipvm_p2p_config_t *cfg, ipvm_arena_t *a)
{
    h->cfg = *cfg;
    for (size_t i = 0; i < cfg->nlisten; i++)
        h->cfg.listen[i] = cfg_strdup(a, cfg->listen[i]);
    for (size_t i = 0; i < cfg->nbootstrap; i++)
        h->cfg.bootstrap[i] = cfg_strdup(a, cfg->bootstrap[i]);
    h->cfg.agent_version = cfg_strdup(a, cfg->agent_version ? cfg->agent_version : "ipvm");
    h->cfg.protocol_version = cfg_strdup(a, cfg->protocol_version ? cfg->protocol_version : "");
    h->cfg.mdns_interface = cfg_strdup(a, cfg->mdns_interface);
    h->cfg.mdns_service = cfg_strdup(a, cfg->mdns_service ? cfg->mdns_service : "_p2p._udp.local");
    if (h->cfg.mdns_interval_ms == 0)
        h->cfg.mdns_interval_ms = 10000;
    int rc = 0;
    for (size_t i = 0; i < cfg->nlisten + cfg->nbootstrap; i++)
        if ((i < cfg->nlisten ? h->cfg.listen[i] : h->cfg.bootstrap[i - cfg->nlisten]) == NULL)
            rc = IPVM_ENOMEM;
    if (rc == 0 && (h->cfg.agent_version == NULL || h->cfg.protocol_version == NULL))
        rc = IPVM_ENOMEM;
    return rc;
}

int ipvm_p2p_host_new(struct uv_loop_s *loop, const ipvm_p2p_identity_t *id,
                      const ipvm_p2p_config_t *cfg, ipvm_p2p_host_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(loop == NULL || id == NULL || out == NULL);
    ipvm_p2p_config_t def;
    if (cfg == NULL) {
        ipvm_p2p_config_init(&def);
        cfg = &def;
    }
    IPVM_MISUSE_IF(cfg->nlisten > IPVM_P2P_MAX_CONFIG_ADDRS ||
                   cfg->nbootstrap > IPVM_P2P_MAX_CONFIG_ADDRS);
    int rc = check_addrs(cfg, err);
    if (rc)
        return rc;
    ipvm_p2p_host_t *h = ipvm_calloc(1, sizeof *h + sizeof(ipvm_arena_t));
    if (h == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    ipvm_arena_t *a = (ipvm_arena_t *)(h + 1);
    ipvm_arena_init(a);
    h->loop = loop;
    h->id = id;
    rc = copy_config(h, cfg, a);
    ipvm__noise_keypair(h->noise_sk, h->noise_pk);
    if (rc == 0)
        rc = ipvm__noise_payload_build(id, h->noise_pk, true, &h->noise_payload);
    h->early_muxer = true;
    if (rc == 0)
        rc = p2p_identify_init(h);
    if (rc == 0)
        rc = p2p_ping_init(h);
    if (rc == 0)
        rc = p2p_gossip_init(h);
    if (rc == 0)
        rc = p2p_kad_init(h);
    if (rc) {
        ipvm_p2p_host_free(h);
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot create the p2p host");
    }
    *out = h;
    return 0;
}

static void on_host_handle_closed(uv_handle_t *hd)
{
    ipvm_p2p_host_t *h = hd->data;
    if (--h->handles == 0 && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

static void redial_bootstrap(ipvm_p2p_host_t *h);

static void on_keepalive_ping(ipvm_p2p_host_t *h, int status, uint64_t rtt_us, void *data)
{
    (void)h;
    (void)status;
    (void)rtt_us;
    (void)data; /* ping.c records the round trip on the peer */
}

/* Pings every identified peer now and then: liveness, and the round trip `peers` shows. */
static void ping_peers(ipvm_p2p_host_t *h)
{
    for (p2p_peer_t *p = h->peers; p; p = p->next)
        if (p->nconns > 0 && p->identified && p2p_peer_has_protocol(p, "/ipfs/ping/1.0.0") &&
            ipvm_p2p_ping(h, &p->id, on_keepalive_ping, NULL) != 0)
            ipvm_log(IPVM_LOG_DEBUG, "p2p", "cannot ping %s", p->id_str);
}

static void on_tick(uv_timer_t *t)
{
    ipvm_p2p_host_t *h = t->data;
    static const uint64_t period = 1000;
    h->ticks++;
    if (h->cfg.redial_interval_ms && (h->ticks * period) % h->cfg.redial_interval_ms < period)
        redial_bootstrap(h);
    if (h->ticks % 15 == 2)
        ping_peers(h);
    p2p_gossip_tick(h);
    p2p_kad_tick(h);
    peers_gc(h);
}

static int listen_one(ipvm_p2p_host_t *h, const char *addr, ipvm_error_t *err)
{
    ipvm_multiaddr_t ma;
    struct sockaddr_storage ss;
    uv_tcp_t *l = &h->listeners[h->nlisteners];
    int rc = ipvm_multiaddr_parse(addr, strlen(addr), &ma, err);
    if (rc == 0)
        rc = ipvm_multiaddr_to_sockaddr(&ma, &ss);
    if (rc)
        return rc;
    uv_tcp_init(h->loop, l);
    l->data = h;
    h->handles++;
    h->nlisteners++;
    rc = uv_tcp_bind(l, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)l, 128, on_connection);
    int len = sizeof ss;
    if (rc == 0)
        rc = uv_tcp_getsockname(l, (struct sockaddr *)&ss, &len);
    if (rc == 0)
        rc = ipvm_multiaddr_from_sockaddr(&ss, &h->listen_addrs[h->nlisteners - 1]);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot listen on %s: %s", addr,
                              uv_strerror(rc));
    char s[IPVM_MULTIADDR_STR];
    ipvm_log(IPVM_LOG_INFO, "p2p", "listening on %s/p2p/%s",
             ipvm_multiaddr_str(&h->listen_addrs[h->nlisteners - 1], s),
             ipvm_p2p_identity_peer_id_str(h->id));
    ipvm_p2p_event_t ev = {.kind = IPVM_P2P_EV_LISTEN,
                           .addr = &h->listen_addrs[h->nlisteners - 1]};
    p2p_host_emit(h, &ev);
    return 0;
}

int ipvm_p2p_host_start(ipvm_p2p_host_t *h, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(h->started);
    h->started = true;
    uv_prepare_init(h->loop, &h->prepare);
    uv_check_init(h->loop, &h->check);
    uv_timer_init(h->loop, &h->tick);
    h->prepare.data = h->check.data = h->tick.data = h;
    h->handles += 3;
    uv_prepare_start(&h->prepare, on_prepare);
    uv_check_start(&h->check, on_check);
    uv_timer_start(&h->tick, on_tick, 1000, 1000);
    uv_unref((uv_handle_t *)&h->prepare);
    uv_unref((uv_handle_t *)&h->check);
    int rc = p2p_xreq_init(h);
    for (size_t i = 0; rc == 0 && i < h->cfg.nlisten; i++)
        rc = listen_one(h, h->cfg.listen[i], err);
    if (rc == 0)
        rc = p2p_gossip_start(h);
    if (rc == 0 && h->cfg.mdns)
        rc = p2p_mdns_start(h, err);
    if (rc)
        return rc;
    redial_bootstrap(h);
    return 0;
}

void ipvm_p2p_host_stop(ipvm_p2p_host_t *h, void (*cb)(ipvm_p2p_host_t *h, void *ud), void *ud)
{
    IPVM_MISUSE_IF(h->stopping);
    h->stopping = true;
    h->stop_cb = cb;
    h->stop_ud = ud;
    if (!h->started) {
        if (cb)
            cb(h, ud);
        return;
    }
    h->handles++; /* held until everything below is asked to close */
    p2p_xreq_stop(h);
    p2p_mdns_stop(h);
    p2p_kad_stop(h);
    p2p_gossip_stop(h);
    for (;;) { /* connections inside a callback close when it returns */
        p2p_conn_t *c = h->conns;
        while (c && (c->stage == P2P_C_CLOSING || c->close_pending))
            c = c->next;
        if (c == NULL)
            break;
        p2p_conn_close(c, 0, "host stopping");
    }
    for (size_t i = 0; i < h->nlisteners; i++)
        uv_close((uv_handle_t *)&h->listeners[i], on_host_handle_closed);
    uv_close((uv_handle_t *)&h->prepare, on_host_handle_closed);
    uv_close((uv_handle_t *)&h->check, on_host_handle_closed);
    uv_close((uv_handle_t *)&h->tick, on_host_handle_closed);
    if (--h->handles == 0 && cb)
        cb(h, ud);
}

void ipvm_p2p_host_free(ipvm_p2p_host_t *h)
{
    if (h == NULL)
        return;
    IPVM_MISUSE_IF(h->started && h->handles > 0);
    p2p_kad_free(h);
    p2p_gossip_free(h);
    p2p_mdns_free(h);
    p2p_xreq_free(h);
    p2p_reqresp_free(h);
    while (h->peers) {
        p2p_peer_t *p = h->peers;
        h->peers = p->next;
        peer_free(p);
    }
    ipvm_buf_dispose(&h->noise_payload);
    ipvm_memzero(h->noise_sk, sizeof h->noise_sk);
    ipvm_free(h->rbuf);
    ipvm_arena_dispose((ipvm_arena_t *)(h + 1));
    ipvm_free(h);
}

/* -------------------------------------------------------------------- queries ---- */
const ipvm_peer_id_t *ipvm_p2p_host_peer_id(const ipvm_p2p_host_t *h)
{
    return ipvm_p2p_identity_peer_id(h->id);
}

size_t ipvm_p2p_host_listen_addrs(const ipvm_p2p_host_t *h, ipvm_multiaddr_t *out, size_t max)
{
    size_t n = h->nlisteners < max ? h->nlisteners : max;
    memcpy(out, h->listen_addrs, n * sizeof *out);
    return n;
}

size_t p2p_host_public_addrs(const ipvm_p2p_host_t *h, ipvm_multiaddr_t *out, size_t max)
{
    size_t n = 0;
    uv_interface_address_t *ifs = NULL;
    int nifs = 0;
    for (size_t i = 0; i < h->nlisteners && n < max; i++) {
        const ipvm_multiaddr_t *l = &h->listen_addrs[i];
        bool any4 = l->bytes[0] == IPVM_MA_IP4 && memcmp(l->bytes + 1, "\0\0\0\0", 4) == 0;
        bool any6 = l->bytes[0] == IPVM_MA_IP6 &&
                    memcmp(l->bytes + 1, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0;
        if (!any4 && !any6) {
            out[n++] = *l;
            continue;
        }
        if (ifs == NULL && uv_interface_addresses(&ifs, &nifs) != 0)
            nifs = 0;
        uint16_t port = ipvm__be16_get(l->bytes + l->len - 2);
        for (int k = 0; k < nifs && n < max; k++) {
            struct sockaddr_storage ss;
            int fam = ifs[k].address.address4.sin_family;
            if ((any4 && fam != AF_INET) || (any6 && fam != AF_INET6))
                continue;
            memcpy(&ss, &ifs[k].address, sizeof ifs[k].address);
            if (fam == AF_INET)
                ((struct sockaddr_in *)&ss)->sin_port = htons(port);
            else
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
            if (ipvm_multiaddr_from_sockaddr(&ss, &out[n]) == 0)
                n++;
        }
    }
    if (ifs)
        uv_free_interface_addresses(ifs, nifs);
    return n;
}

void ipvm_p2p_host_stats(const ipvm_p2p_host_t *h, ipvm_p2p_stats_t *out)
{
    *out = h->stats;
}

size_t ipvm_p2p_peer_count(const ipvm_p2p_host_t *h)
{
    size_t n = 0;
    for (p2p_peer_t *p = h->peers; p; p = p->next)
        n += p->nconns > 0;
    return n;
}

void ipvm_p2p_each_peer(ipvm_p2p_host_t *h, void (*fn)(const ipvm_p2p_peer_info_t *p, void *data),
                        void *data)
{
    for (p2p_peer_t *p = h->peers; p; p = p->next) {
        p2p_conn_t *c = p2p_peer_conn(h, p);
        if (c == NULL)
            continue;
        ipvm_p2p_peer_info_t info = {
            .id = p->id,
            .addr = c->remote_addr,
            .outbound = c->outbound,
            .agent = p->agent,
            .connected_ms = p->connected_ms,
            .rtt_us = p->rtt_us,
            .nprotocols = p->nprotocols,
            .gossip = p->gossip != NULL,
            .kad = p->kad_server,
            .score = p2p_gossip_score(h, p),
        };
        fn(&info, data);
    }
}

/* ------------------------------------------------------------------- dialing ---- */
typedef struct {
    ipvm_p2p_host_t *h;
    ipvm_p2p_dial_fn cb;
    void *data;
} pub_dial_t;

static void on_pub_dial(p2p_conn_t *c, int err, void *ud)
{
    pub_dial_t *d = ud;
    d->cb(d->h, err, c ? &c->remote : NULL, d->data);
    ipvm_free(d);
}

int ipvm_p2p_dial(ipvm_p2p_host_t *h, const ipvm_multiaddr_t *ma, ipvm_p2p_dial_fn cb,
                  void *data)
{
    pub_dial_t *d = ipvm_malloc(sizeof *d);
    if (d == NULL)
        return IPVM_ENOMEM;
    d->h = h;
    d->cb = cb;
    d->data = data;
    int rc = p2p_dial(h, ma, on_pub_dial, d);
    if (rc)
        ipvm_free(d);
    return rc;
}

static void on_boot_dial(p2p_conn_t *c, int err, void *ud)
{
    ipvm_p2p_host_t *h = ud;
    if (err == 0 && c->peer)
        c->peer->bootstrap = true;
    (void)h;
}

static void redial_bootstrap(ipvm_p2p_host_t *h)
{
    for (size_t i = 0; i < h->cfg.nbootstrap && !h->stopping; i++) {
        ipvm_multiaddr_t ma;
        ipvm_peer_id_t id;
        const char *s = h->cfg.bootstrap[i];
        if (ipvm_multiaddr_parse(s, strlen(s), &ma, NULL) != 0)
            continue;
        if (ipvm_multiaddr_peer_id(&ma, &id) == 0) {
            p2p_peer_t *p = p2p_peer_get(h, &id, false);
            if (p && p->nconns > 0)
                continue;
        }
        int rc = p2p_dial(h, &ma, on_boot_dial, h);
        if (rc && rc != IPVM_EINVAL)
            ipvm_log(IPVM_LOG_DEBUG, "p2p", "cannot dial bootstrap peer %s: %s", s,
                     ipvm_strerror(rc));
    }
}

int p2p_host_set_early_muxer(ipvm_p2p_host_t *h, bool on)
{
    ipvm_buf_clear(&h->noise_payload);
    h->early_muxer = on;
    return ipvm__noise_payload_build(h->id, h->noise_pk, on, &h->noise_payload);
}
