/* SPDX-License-Identifier: Apache-2.0 */
/* The node's "p2p" service: the libp2p host on the node's loop (identity from the data dir,
 * [p2p] settings), receipts shared over gossipsub and the DHT and plugged into the scheduler's
 * network hooks, the `node` method's peer id/listeners/connections, a `peers` method (for
 * `ipvm node peers` and the dashboard) and Homestar's network events for
 * subscribe_network_events. */
#include "daemon.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const ipvm_conf_key_t p2p_keys[] = {
    {"p2p", "enable", IPVM_CONF_BOOL, "true", "Join the libp2p network (share receipts).", 0, 0},
    {"p2p", "listen", IPVM_CONF_STRING, "/ip4/0.0.0.0/tcp/0",
     "Multiaddrs to listen on, comma-separated (/ip4|ip6/ADDR/tcp/PORT; port 0 picks one).", 0,
     0},
    {"p2p", "bootstrap", IPVM_CONF_STRING, "",
     "Peers to dial at start and keep connected, comma-separated /ip4/…/tcp/…/p2p/12D3KooW…", 0,
     0},
    {"p2p", "mdns", IPVM_CONF_BOOL, "false",
     "Find peers on the local network with mDNS (_p2p._udp.local). Homestar enables it; it is "
     "off here so that nodes on one machine join each other only when told.",
     0, 0},
    {"p2p", "mdns_interval", IPVM_CONF_DURATION, "10s", "How often mDNS asks for peers.", 100,
     3600000},
    {"p2p", "heartbeat", IPVM_CONF_DURATION, "1s",
     "Gossipsub heartbeat (mesh upkeep, gossip). Homestar uses 60s.", 10, 600000},
    {"p2p", "mesh_n", IPVM_CONF_INT, "6", "Gossipsub D: peers in a topic's mesh.", 1, 64},
    {"p2p", "mesh_n_low", IPVM_CONF_INT, "4", "Gossipsub D_low: below this the mesh grows.", 1,
     64},
    {"p2p", "mesh_n_high", IPVM_CONF_INT, "12", "Gossipsub D_high: above this it is pruned.", 1,
     128},
    {"p2p", "message_id", IPVM_CONF_STRING, "homestar",
     "Gossipsub message ids: homestar (hash of the data, as Homestar), libp2p (from+seqno, as "
     "go-libp2p) or js (key+seqno, as js-libp2p). Every peer on a topic must agree.",
     0, 0},
    {"p2p", "max_message", IPVM_CONF_INT, "1M", "Largest gossip message or DHT record.", 1024,
     64 * 1024 * 1024},
    {"p2p", "receipt_quorum", IPVM_CONF_INT, "2", "DHT peers that must store each receipt.", 1,
     20},
    {"p2p", "workflow_quorum", IPVM_CONF_INT, "3", "DHT peers for each workflow record.", 1, 20},
    {"p2p", "lookup_timeout", IPVM_CONF_DURATION, "500ms",
     "How long the scheduler waits for the network to find a receipt before running a task.",
     0, 600000},
    {"p2p", "dial_timeout", IPVM_CONF_DURATION, "10s",
     "TCP connect plus the Noise and Yamux upgrade.", 100, 600000},
    {"p2p", "request_timeout", IPVM_CONF_DURATION, "5s", "A peer's answer to one request.", 100,
     600000},
    {"p2p", "max_connections", IPVM_CONF_INT, "128", "Connections at once.", 1, 100000},
    {NULL},
};

typedef struct {
    ipvm_p2p_identity_t *identity; /* first: other services may read it */
    ipvm_p2p_host_t *host;
    ipvm_p2p_receipts_t *receipts;
    ipvm_node_t *node;
    void (*done)(ipvm_node_t *);
    char *listen_buf, *boot_buf;
    ipvm_sched_net_hooks_t inner; /* the receipts' hooks, which ours wrap */
    /* Connected peers + DHT contacts: 0 means the network has nobody to ask. Written on the
     * loop thread at every network event, read by the run threads. */
    _Atomic size_t reach;
} p2p_svc_t;

/* Splits a comma-separated list in place into out[]. */
static size_t split(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ", \t"); tok && n < max; tok = strtok(NULL, ", \t"))
        out[n++] = tok;
    return n;
}

/* ------------------------------------------------------------------ events ---- */
static const char *event_name(const ipvm_p2p_event_t *ev)
{
    switch (ev->kind) {
    case IPVM_P2P_EV_LISTEN:
        return "new_listen_addr";
    case IPVM_P2P_EV_CONNECTED:
        return "connection_established";
    case IPVM_P2P_EV_DISCONNECTED:
        return "connection_closed";
    case IPVM_P2P_EV_DIAL_FAILED:
        return "outgoing_connection_error";
    case IPVM_P2P_EV_INBOUND_FAILED:
        return "incoming_connection_error";
    case IPVM_P2P_EV_MDNS_DISCOVERED:
        return "discovered_mdns";
    case IPVM_P2P_EV_RECEIPT_PUBLISHED:
        return "published_receipt_pubsub";
    case IPVM_P2P_EV_RECEIPT_RECEIVED:
        return "received_receipt_pubsub";
    case IPVM_P2P_EV_RECEIPT_PUT_DHT:
        return "put_receipt_dht";
    case IPVM_P2P_EV_RECEIPT_GOT_DHT:
        return "got_receipt_dht";
    case IPVM_P2P_EV_RECEIPT_REJECTED:
        return "rejected_receipt"; /* ours: Homestar checks nothing */
    case IPVM_P2P_EV_RECEIPT_QUORUM:
        return ev->reason ? ev->reason : "receipt_quorum_success_dht";
    case IPVM_P2P_EV_IDENTIFIED:
        return "peer_identified"; /* ours */
    default:
        return NULL;
    }
}

static int set_str(ipvm_arena_t *a, ipvm_ipld_t *m, const char *k, const char *v)
{
    ipvm_ipld_t *s = ipvm_ipld_new_cstring(a, v);
    return s ? ipvm_ipld_map_set_cstr(a, m, k, s) : IPVM_ENOMEM;
}

/* Loop thread. Connections and routing contacts only change with (or before) an event. */
static void update_reach(p2p_svc_t *st)
{
    if (st->host)
        atomic_store(&st->reach,
                     ipvm_p2p_peer_count(st->host) + ipvm_p2p_dht_routing_size(st->host));
}

/* The scheduler's find_receipts (run thread). A lone node (no connection, empty routing table)
 * has nobody to ask: the lookup would cost a round trip through the loop per wave of tasks for
 * an answer known in advance, so only the cache of gossiped receipts is read. */
static int hook_find(void *data, ipvm_sched_lookup_t *items, size_t n, int timeout_ms,
                     ipvm_arena_t *arena)
{
    p2p_svc_t *st = data;
    if (atomic_load(&st->reach) == 0)
        timeout_ms = 0;
    return st->inner.find_receipts(st->inner.data, items, n, timeout_ms, arena);
}

/* compat: Homestar PUTs nothing when it has no peers (and gossips only to a topic's peers), so
 * a lone node skips the copy and the loop hand-off per receipt. A peer that comes later still
 * gets our receipts from the DHT: GET_VALUE for a key we hold no record of is answered from
 * the database (receipts.c on_lookup). */
static void hook_published(void *data, const ipvm_cid_t *workflow, const ipvm_sched_receipt_t *r)
{
    p2p_svc_t *st = data;
    if (atomic_load(&st->reach) > 0)
        st->inner.receipt_published(st->inner.data, workflow, r);
}

static void on_event(const ipvm_p2p_event_t *ev, void *data)
{
    p2p_svc_t *st = data;
    update_reach(st);
    ipvm_rpc_server_t *rpc = ipvm_node_rpc(st->node);
    const char *name = event_name(ev);
    if (rpc == NULL || name == NULL)
        return;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 6);
    char s[IPVM_MULTIADDR_STR + IPVM_P2P_PEER_ID_STR];
    int rc = m ? 0 : IPVM_ENOMEM;
    bool publisher = ev->kind == IPVM_P2P_EV_RECEIPT_RECEIVED ||
                     ev->kind == IPVM_P2P_EV_RECEIPT_GOT_DHT ||
                     ev->kind == IPVM_P2P_EV_RECEIPT_REJECTED;
    if (rc == 0 && ev->peer)
        rc = set_str(&a, m, publisher ? "publisher" : "peer_id", ipvm_p2p_peer_id_str(ev->peer, s));
    if (rc == 0 && ev->addr)
        rc = set_str(&a, m, "address", ipvm_multiaddr_str(ev->addr, s));
    if (rc == 0 && ev->cid)
        rc = set_str(&a, m, "cid", ipvm_cid_str(ev->cid, s));
    if (rc == 0 && ev->ran)
        rc = set_str(&a, m, "ran", ipvm_cid_str(ev->ran, s));
    if (rc == 0 && ev->agent && ev->agent[0])
        rc = set_str(&a, m, "agent", ev->agent);
    if (rc == 0 && ev->reason && ev->kind != IPVM_P2P_EV_RECEIPT_QUORUM)
        rc = set_str(&a, m, "error", ev->reason);
    if (rc == 0 && ev->kind == IPVM_P2P_EV_RECEIPT_QUORUM)
        rc = ipvm_ipld_map_set_cstr(&a, m, "stored_to_peers", ipvm_ipld_new_int(&a, ev->code));
    if (rc == 0 && (ev->kind == IPVM_P2P_EV_DISCONNECTED || ev->kind == IPVM_P2P_EV_DIAL_FAILED ||
                    ev->kind == IPVM_P2P_EV_INBOUND_FAILED) && ev->code)
        rc = set_str(&a, m, ev->kind == IPVM_P2P_EV_DISCONNECTED ? "cause" : "error",
                     ipvm_strerror(ev->code));
    if (rc == 0) {
        ipvm_ipld_map_sort(m);
        if (ipvm_rpc_server_publish_event(rpc, name, m) != 0)
            ipvm_log(IPVM_LOG_DEBUG, "p2p", "cannot publish network event %s", name);
    }
    ipvm_arena_dispose(&a);
}

/* ------------------------------------------------------------------ node info ---- */
typedef struct {
    ipvm_arena_t *a;
    ipvm_ipld_t *conns;
    ipvm_ipld_t *list; /* for `peers` */
    int rc;
} collect_t;

static void add_conn(const ipvm_p2p_peer_info_t *p, void *data)
{
    collect_t *c = data;
    char id[IPVM_P2P_PEER_ID_STR], addr[IPVM_MULTIADDR_STR];
    ipvm_p2p_peer_id_str(&p->id, id);
    ipvm_multiaddr_str(&p->addr, addr);
    if (c->rc == 0 && c->conns)
        c->rc = set_str(c->a, c->conns, id, addr);
    if (c->rc != 0 || c->list == NULL)
        return;
    ipvm_ipld_t *m = ipvm_ipld_new_map(c->a, 8);
    if (m == NULL) {
        c->rc = IPVM_ENOMEM;
        return;
    }
    c->rc = set_str(c->a, m, "peer_id", id);
    if (c->rc == 0)
        c->rc = set_str(c->a, m, "address", addr);
    if (c->rc == 0)
        c->rc = set_str(c->a, m, "agent", p->agent ? p->agent : "");
    if (c->rc == 0)
        c->rc = set_str(c->a, m, "direction", p->outbound ? "outbound" : "inbound");
    if (c->rc == 0)
        c->rc = ipvm_ipld_map_set_cstr(c->a, m, "connected_ms",
                                       ipvm_ipld_new_uint(c->a, p->connected_ms));
    if (c->rc == 0)
        c->rc = ipvm_ipld_map_set_cstr(c->a, m, "rtt_us", ipvm_ipld_new_uint(c->a, p->rtt_us));
    if (c->rc == 0)
        c->rc = ipvm_ipld_map_set_cstr(c->a, m, "gossip", ipvm_ipld_new_bool(c->a, p->gossip));
    if (c->rc == 0)
        c->rc = ipvm_ipld_map_set_cstr(c->a, m, "dht", ipvm_ipld_new_bool(c->a, p->kad));
    if (c->rc == 0)
        ipvm_ipld_map_sort(m);
    if (c->rc == 0)
        c->rc = ipvm_ipld_list_push(c->a, c->list, m);
}

static int node_info(void *data, ipvm_arena_t *a, ipvm_ipld_t **out)
{
    p2p_svc_t *st = data;
    ipvm_ipld_t *top = ipvm_ipld_new_map(a, 2), *stat = ipvm_ipld_new_map(a, 1);
    ipvm_ipld_t *dyn = ipvm_ipld_new_map(a, 2), *ls = ipvm_ipld_new_list(a, 4);
    collect_t c = {a, ipvm_ipld_new_map(a, 8), NULL, 0};
    if (!top || !stat || !dyn || !ls || !c.conns)
        return IPVM_ENOMEM;
    int rc = set_str(a, stat, "peer_id", ipvm_p2p_identity_peer_id_str(st->identity));
    ipvm_multiaddr_t addrs[8];
    size_t n = ipvm_p2p_host_listen_addrs(st->host, addrs, 8);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char s[IPVM_MULTIADDR_STR];
        ipvm_ipld_t *v = ipvm_ipld_new_cstring(a, ipvm_multiaddr_str(&addrs[i], s));
        rc = v ? ipvm_ipld_list_push(a, ls, v) : IPVM_ENOMEM;
    }
    ipvm_p2p_each_peer(st->host, add_conn, &c);
    if (rc == 0)
        rc = c.rc;
    if (rc == 0)
        ipvm_ipld_map_sort(c.conns);
    if (rc == 0 && (rc = ipvm_ipld_map_set_cstr(a, dyn, "connections", c.conns)) == 0 &&
        (rc = ipvm_ipld_map_set_cstr(a, dyn, "listeners", ls)) == 0 &&
        (rc = ipvm_ipld_map_set_cstr(a, top, "dynamic", dyn)) == 0)
        rc = ipvm_ipld_map_set_cstr(a, top, "static", stat);
    if (rc == 0) {
        ipvm_ipld_map_sort(dyn);
        ipvm_ipld_map_sort(top);
        *out = top;
    }
    return rc;
}

/* The service the `peers` method answers from (NULL once stopped: the API outlives us). */
static p2p_svc_t *live;

/* `peers`: every connected peer, for `ipvm node peers` and the dashboard. */
static int m_peers(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    p2p_svc_t *st = live;
    (void)params;
    (void)data;
    if (st == NULL) {
        ipvm_rpc_call_fail(call, -32000, "the p2p service is stopped");
        return 0;
    }
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    collect_t c = {&a, NULL, ipvm_ipld_new_list(&a, 8), 0};
    int rc = c.list ? 0 : IPVM_ENOMEM;
    if (rc == 0)
        ipvm_p2p_each_peer(st->host, add_conn, &c);
    if (rc == 0 && (rc = c.rc) == 0)
        ipvm_rpc_call_reply_ipld(call, c.list);
    ipvm_arena_dispose(&a);
    return rc;
}

static const ipvm_rpc_method_t peers_method = {
    "peers", "The connected libp2p peers: id, address, direction, agent, ping, protocols.", "[]",
    "{\"name\":\"peers\",\"schema\":{\"type\":\"array\"}}", m_peers, NULL};

/* ------------------------------------------------------------------ lifecycle ---- */
static void svc_free(p2p_svc_t *st)
{
    ipvm_p2p_receipts_free(st->receipts);
    ipvm_p2p_host_free(st->host);
    ipvm_p2p_identity_free(st->identity);
    ipvm_free(st->listen_buf);
    ipvm_free(st->boot_buf);
    ipvm_free(st);
}

static int msgid_of(const char *s)
{
    if (strcmp(s, "libp2p") == 0)
        return IPVM_P2P_MSGID_FROM_SEQNO;
    if (strcmp(s, "js") == 0)
        return IPVM_P2P_MSGID_JS;
    return strcmp(s, "homestar") == 0 ? IPVM_P2P_MSGID_HOMESTAR : -1;
}

static int make_config(p2p_svc_t *st, const ipvm_config_t *c, ipvm_p2p_config_t *pc,
                       ipvm_error_t *err)
{
    ipvm_p2p_config_init(pc);
    st->listen_buf = ipvm_strdup(ipvm_config_str(c, "p2p", "listen"));
    st->boot_buf = ipvm_strdup(ipvm_config_str(c, "p2p", "bootstrap"));
    if (st->listen_buf == NULL || st->boot_buf == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    pc->nlisten = split(st->listen_buf, pc->listen, 4);
    pc->nbootstrap = split(st->boot_buf, pc->bootstrap, IPVM_P2P_MAX_CONFIG_ADDRS);
    if (pc->nlisten == 0)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "p2p.listen is empty: give at least one /ip4/…/tcp/… address "
                              "(or set p2p.enable = false)");
    pc->mdns = ipvm_config_bool(c, "p2p", "mdns");
    pc->mdns_interval_ms = (uint32_t)ipvm_config_int(c, "p2p", "mdns_interval");
    pc->gossip_heartbeat_ms = (uint32_t)ipvm_config_int(c, "p2p", "heartbeat");
    pc->gossip_d = (int)ipvm_config_int(c, "p2p", "mesh_n");
    pc->gossip_d_low = (int)ipvm_config_int(c, "p2p", "mesh_n_low");
    pc->gossip_d_high = (int)ipvm_config_int(c, "p2p", "mesh_n_high");
    if (!(pc->gossip_d_low <= pc->gossip_d && pc->gossip_d <= pc->gossip_d_high))
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "p2p: mesh_n_low (%d) <= mesh_n (%d) <= mesh_n_high (%d) must hold",
                              pc->gossip_d_low, pc->gossip_d, pc->gossip_d_high);
    pc->gossip_d_lazy = pc->gossip_d;
    pc->gossip_d_out = pc->gossip_d_low > 1 ? pc->gossip_d_low / 2 : 0;
    if ((pc->gossip_msgid = msgid_of(ipvm_config_str(c, "p2p", "message_id"))) < 0)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "p2p.message_id must be homestar, libp2p or js, not \"%s\"",
                              ipvm_config_str(c, "p2p", "message_id"));
    pc->gossip_max_message = pc->kad_max_record = (uint32_t)ipvm_config_int(c, "p2p", "max_message");
    pc->dial_timeout_ms = (uint32_t)ipvm_config_int(c, "p2p", "dial_timeout");
    pc->request_timeout_ms = (uint32_t)ipvm_config_int(c, "p2p", "request_timeout");
    pc->max_connections = (uint32_t)ipvm_config_int(c, "p2p", "max_connections");
    pc->on_event = on_event;
    pc->event_data = st;
    return 0;
}

static void on_failed_stopped(ipvm_p2p_host_t *h, void *ud)
{
    (void)h;
    svc_free(ud);
}

static int p2p_start(ipvm_node_t *n, void **state, ipvm_error_t *err)
{
    const ipvm_config_t *c = ipvm_node_config(n);
    if (!ipvm_config_bool(c, "p2p", "enable"))
        return 0;
    p2p_svc_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL)
        return IPVM_ENOMEM;
    st->node = n;
    ipvm_p2p_config_t pc;
    int rc = make_config(st, c, &pc, err);
    if (rc == 0)
        rc = ipvm_p2p_identity_load_or_create(ipvm_node_data_dir(n), &st->identity, NULL, err);
    if (rc == 0)
        rc = ipvm_p2p_host_new(ipvm_node_loop(n), st->identity, &pc, &st->host, err);
    if (rc == 0)
        rc = ipvm_p2p_host_start(st->host, err);
    ipvm_p2p_receipts_opts_t ro = {
        .db_path = ipvm_node_db_path(n),
        .receipt_quorum = (int)ipvm_config_int(c, "p2p", "receipt_quorum"),
        .workflow_quorum = (int)ipvm_config_int(c, "p2p", "workflow_quorum"),
        .lookup_timeout_ms = (int)ipvm_config_int(c, "p2p", "lookup_timeout"),
    };
    if (rc == 0)
        rc = ipvm_p2p_receipts_new(st->host, &ro, &st->receipts, err);
    if (rc) {
        ipvm_error_prefix(err, "p2p: ");
        if (st->host)
            ipvm_p2p_host_stop(st->host, on_failed_stopped, st); /* frees st once closed */
        else
            svc_free(st);
        return rc;
    }
    update_reach(st); /* bootstrap contacts */
    if (ipvm_node_sched(n)) {
        ipvm_p2p_receipts_net_hooks(st->receipts, &st->inner);
        ipvm_sched_net_hooks_t hooks = st->inner;
        hooks.data = st;
        hooks.find_receipts = st->inner.find_receipts ? hook_find : NULL;
        hooks.receipt_published = st->inner.receipt_published ? hook_published : NULL;
        ipvm_sched_set_net_hooks(ipvm_node_sched(n), &hooks);
    }
    ipvm_rpc_server_t *rpc = ipvm_node_rpc(n);
    if (rpc) {
        live = st;
        ipvm_rpc_server_set_node_info(rpc, node_info, st);
        if (ipvm_rpc_server_add_method(rpc, &peers_method) != 0)
            ipvm_log(IPVM_LOG_WARN, "p2p", "cannot add the peers method");
    }
    ipvm_log(IPVM_LOG_INFO, "p2p", "peer id %s", ipvm_p2p_identity_peer_id_str(st->identity));
    *state = st;
    return 0;
}

static void on_host_stopped(ipvm_p2p_host_t *h, void *ud)
{
    p2p_svc_t *st = ud;
    (void)h;
    void (*done)(ipvm_node_t *) = st->done;
    ipvm_node_t *n = st->node;
    svc_free(st);
    done(n);
}

static void p2p_stop(ipvm_node_t *n, void *state, void (*done)(ipvm_node_t *))
{
    p2p_svc_t *st = state;
    if (st == NULL) {
        done(n);
        return;
    }
    if (ipvm_node_sched(n)) { /* the workflows are drained: nothing uses the hooks now */
        ipvm_sched_net_hooks_t none;
        memset(&none, 0, sizeof none);
        ipvm_sched_set_net_hooks(ipvm_node_sched(n), &none);
    }
    if (ipvm_node_rpc(n))
        ipvm_rpc_server_set_node_info(ipvm_node_rpc(n), NULL, NULL);
    live = NULL;
    st->done = done;
    ipvm_p2p_host_stop(st->host, on_host_stopped, st);
}

ipvm_p2p_host_t *ipvm_node_p2p_host(ipvm_node_t *n)
{
    p2p_svc_t *st = ipvm_node_service_state(n, "p2p");
    return st ? st->host : NULL;
}

const ipvm_node_service_t ipvm_node_service_p2p = {"p2p", p2p_keys, p2p_start, p2p_stop};
