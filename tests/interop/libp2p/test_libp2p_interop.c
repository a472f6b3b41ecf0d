/* SPDX-License-Identifier: Apache-2.0 */
/* Interop with js-libp2p from npm (the reference implementation): each side dials the other;
 * the connection upgrade (multistream, Noise, Yamux), identify and ping work both ways;
 * gossipsub messages and DHT records cross in both directions. */
#include "unit/p2p/jspeer.h"

#include "p2p/host.h"

#include <stdio.h>

typedef struct {
    bool done;
    int status;
    uint64_t rtt;
} ping_res_t;

static void on_ping(ipvm_p2p_host_t *h, int status, uint64_t rtt_us, void *data)
{
    (void)h;
    ping_res_t *r = data;
    r->done = true;
    r->status = status;
    r->rtt = rtt_us;
}

typedef struct {
    const char *want;
    char agent[128];
    bool found;
} agent_t;

static void find_agent(const ipvm_p2p_peer_info_t *p, void *data)
{
    agent_t *a = data;
    char s[IPVM_P2P_PEER_ID_STR];
    if (strcmp(ipvm_p2p_peer_id_str(&p->id, s), a->want) == 0) {
        a->found = true;
        snprintf(a->agent, sizeof a->agent, "%s", p->agent);
    }
}

static bool js_identified(void *data)
{
    tnode_t *n = data;
    return n->events[IPVM_P2P_EV_IDENTIFIED] > 0;
}

/* After a connection (either direction): identify and ping both ways. */
static void check_link(uv_loop_t *loop, tnode_t *n, jspeer_t *js)
{
    char buf[1024];
    IPVM_ASSERT_MSG(run_until_fn(loop, js_identified, n, 10000), "ipvm never identified js");
    agent_t a = {.want = js->peer};
    ipvm_p2p_each_peer(n->host, find_agent, &a);
    IPVM_ASSERT(a.found);
    IPVM_ASSERT_STREQ(a.agent, "js-libp2p-interop");
    /* js's view of us, from identify */
    snprintf(buf, sizeof buf, "\"cmd\":\"peer\",\"peer\":\"%s\"",
             ipvm_p2p_identity_peer_id_str(n->id));
    const ipvm_ipld_t *r = NULL;
    for (int i = 0; i < 50; i++) { /* identify runs in the background on the js side */
        r = jspeer_ok(js, buf, 5000);
        if (strncmp(jfield(r, "agent"), "ipvm/", 5) == 0)
            break;
        uv_sleep(100);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    IPVM_ASSERT_STRCONTAINS(jfield(r, "agent"), "ipvm/");
    const ipvm_ipld_t *protos = ipvm_ipld_map_get(r, "protocols");
    bool has_ping = false;
    for (size_t i = 0; protos && i < protos->u.list.len; i++)
        has_ping |= strcmp(protos->u.list.items[i]->u.str.ptr, "/ipfs/ping/1.0.0") == 0;
    IPVM_ASSERT_MSG(has_ping, "js did not learn our protocols from identify");
    /* js pings us */
    snprintf(buf, sizeof buf, "\"cmd\":\"ping\",\"peer\":\"%s\"",
             ipvm_p2p_identity_peer_id_str(n->id));
    r = jspeer_ok(js, buf, 10000);
    IPVM_ASSERT(ipvm_ipld_map_get(r, "rtt") != NULL);
    /* we ping js */
    ipvm_peer_id_t jsid;
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_parse(js->peer, strlen(js->peer), &jsid, NULL));
    ping_res_t pr = {0};
    IPVM_ASSERT_OK(ipvm_p2p_ping(n->host, &jsid, on_ping, &pr));
    IPVM_ASSERT(run_until(loop, &pr.done, 10000));
    IPVM_ASSERT_OK(pr.status);
}

IPVM_TEST(p2p, interop_js_dials_ipvm)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n = {0};
    tnode_start(&n, &loop, false);
    jspeer_t js;
    jspeer_start(&js, &loop, NULL);
    char buf[1024];
    snprintf(buf, sizeof buf, "\"cmd\":\"dial\",\"addr\":\"%s\"", n.addr);
    const ipvm_ipld_t *r = jspeer_call(&js, buf, 15000);
    IPVM_ASSERT_MSG(strcmp(jfield(r, "peer"), ipvm_p2p_identity_peer_id_str(n.id)) == 0,
                    "js dial failed: %s", jfield(r, "error"));
    check_link(&loop, &n, &js);
    IPVM_ASSERT_EQ(n.events[IPVM_P2P_EV_CONNECTED], 1);
    jspeer_stop(&js);
    tnodes_stop(&loop, &n, 1);
}

static void on_dial(ipvm_p2p_host_t *h, int status, const ipvm_peer_id_t *peer, void *data)
{
    (void)h;
    (void)peer;
    ping_res_t *r = data;
    r->status = status;
    r->done = true;
}

IPVM_TEST(p2p, interop_ipvm_dials_js)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n = {0};
    tnode_start(&n, &loop, false);
    /* no early muxer data from us: yamux is agreed with multistream inside Noise, the way
     * peers without the extension (rust-libp2p 0.53, Homestar's) do it */
    IPVM_ASSERT_OK(p2p_host_set_early_muxer(n.host, false));
    jspeer_t js;
    jspeer_start(&js, &loop, NULL);
    ipvm_multiaddr_t ma;
    ipvm_error_t err = {0};
    IPVM_ASSERT_OK_ERR(ipvm_multiaddr_parse(js.addr, strlen(js.addr), &ma, &err), &err);
    ping_res_t d = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dial(n.host, &ma, on_dial, &d));
    IPVM_ASSERT(run_until(&loop, &d.done, 15000));
    IPVM_ASSERT_OK(d.status);
    check_link(&loop, &n, &js);
    jspeer_stop(&js);
    tnodes_stop(&loop, &n, 1);
}

typedef struct {
    int got;
    char data[256];
    char from[IPVM_P2P_PEER_ID_STR];
} gsink_t;

static ipvm_p2p_verdict_t on_gossip(ipvm_p2p_host_t *h, const ipvm_p2p_message_t *m,
                                    void *data)
{
    (void)h;
    gsink_t *s = data;
    s->got++;
    snprintf(s->data, sizeof s->data, "%.*s", (int)m->len, m->data);
    ipvm_p2p_peer_id_str(m->from, s->from);
    return IPVM_P2P_ACCEPT;
}

static bool gsink_got(void *data)
{
    return ((gsink_t *)data)->got > 0;
}

static bool js_subscribed(void *data)
{
    tnode_t *n = data;
    return ipvm_p2p_topic_peers(n->host, "receipts") > 0;
}

/* gossipsub both ways on Homestar's topic, with js-libp2p's default message ids. */
IPVM_TEST(p2p, interop_gossipsub)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n;
    memset(&n, 0, sizeof n);
    ipvm_p2p_config_init(&n.cfg);
    n.cfg.gossip_msgid = IPVM_P2P_MSGID_JS;
    n.cfg.gossip_heartbeat_ms = 200;
    tnode_start(&n, &loop, true);
    gsink_t s = {0};
    IPVM_ASSERT_OK(ipvm_p2p_subscribe(n.host, "receipts", on_gossip, &s));
    jspeer_t js;
    jspeer_start(&js, &loop, NULL);
    jspeer_ok(&js, "\"cmd\":\"subscribe\",\"topic\":\"receipts\"", 5000);
    char buf[1024];
    snprintf(buf, sizeof buf, "\"cmd\":\"dial\",\"addr\":\"%s\"", n.addr);
    jspeer_ok(&js, buf, 15000);
    IPVM_ASSERT_MSG(run_until_fn(&loop, js_subscribed, &n, 10000),
                    "js's subscription never reached us");
    /* js must also know we subscribe before it floods to us */
    const ipvm_ipld_t *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = jspeer_ok(&js, "\"cmd\":\"topic_peers\",\"topic\":\"receipts\"", 5000);
        const ipvm_ipld_t *subs = ipvm_ipld_map_get(r, "subscribers");
        if (subs && subs->u.list.len > 0)
            break;
        run_until_fn(&loop, gsink_got, &s, 50);
    }
    /* ipvm -> js */
    size_t rec = 0;
    const char *hello = "hello from ipvm";
    IPVM_ASSERT_OK(ipvm_p2p_publish(n.host, "receipts", (const uint8_t *)hello, strlen(hello),
                                    &rec));
    IPVM_ASSERT_EQ(rec, 1);
    size_t from = 0;
    const ipvm_ipld_t *ev = jspeer_wait_event(&js, "message", NULL, NULL, &from, 10000);
    IPVM_ASSERT_MSG(ev, "js never delivered our message");
    IPVM_ASSERT_STREQ(jfield(ev, "topic"), "receipts");
    IPVM_ASSERT_STREQ(jfield(ev, "from"), ipvm_p2p_identity_peer_id_str(n.id));
    IPVM_ASSERT_STREQ(jfield(ev, "data"), "68656c6c6f2066726f6d206970766d"); /* hex */
    /* js -> ipvm: js signs with its key (it also sends the `key` field) */
    jspeer_ok(&js, "\"cmd\":\"publish\",\"topic\":\"receipts\",\"data\":\"68656c6c6f2066726f6d206a73\"",
              10000);
    IPVM_ASSERT_MSG(run_until_fn(&loop, gsink_got, &s, 10000), "we never got js's message");
    IPVM_ASSERT_STREQ(s.data, "hello from js");
    IPVM_ASSERT_STREQ(s.from, js.peer);
    /* the mesh forms on both sides */
    bool meshed = false;
    for (int i = 0; i < 100 && !meshed; i++) {
        r = jspeer_ok(&js, "\"cmd\":\"topic_peers\",\"topic\":\"receipts\"", 5000);
        const ipvm_ipld_t *mesh = ipvm_ipld_map_get(r, "mesh");
        meshed = mesh && mesh->u.list.len == 1 && ipvm_p2p_mesh_size(n.host, "receipts") == 1;
        if (!meshed)
            run_until_fn(&loop, gsink_got, &(gsink_t){0}, 100);
    }
    IPVM_ASSERT_MSG(meshed, "no mesh between ipvm and js");
    jspeer_stop(&js);
    tnodes_stop(&loop, &n, 1);
}

typedef struct {
    bool done;
    int status;
    size_t stored;
    char value[128];
    char from[IPVM_P2P_PEER_ID_STR];
} kres_t;

static void on_kput(ipvm_p2p_host_t *h, int status, size_t stored, void *data)
{
    (void)h;
    kres_t *r = data;
    r->done = true;
    r->status = status;
    r->stored = stored;
}

static void on_kget(ipvm_p2p_host_t *h, int status, const uint8_t *value, size_t len,
                    const ipvm_peer_id_t *from, void *data)
{
    (void)h;
    kres_t *r = data;
    r->done = true;
    r->status = status;
    if (status == 0)
        snprintf(r->value, sizeof r->value, "%.*s", (int)len, value);
    if (from)
        ipvm_p2p_peer_id_str(from, r->from);
}

/* Keys that start with "js-only" are not stored by our nodes, so only js holds them. */
static int not_js_only(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                       const char **why, void *data)
{
    (void)value;
    (void)vlen;
    (void)data;
    if (klen >= 7 && memcmp(key, "js-only", 7) == 0) {
        *why = "test: js-only key";
        return IPVM_EINVAL;
    }
    return 0;
}

static void serve_db(const uint8_t *key, size_t klen, ipvm_p2p_dht_found_fn done, void *req,
                     void *data)
{
    (void)data;
    if (klen == 8 && memcmp(key, "ipvm-db!", 8) == 0)
        done(req, (const uint8_t *)"served by ipvm", 14);
    else
        done(req, NULL, 0);
}

static bool in_routing(void *data)
{
    tnode_t *n = data;
    return ipvm_p2p_dht_routing_size(n->host) > 0;
}

static void hexs(const char *s, char *out)
{
    for (; *s; s++, out += 2)
        sprintf(out, "%02x", (unsigned char)*s);
    *out = '\0';
}

/* DHT put and get against js-libp2p's kad-dht, both ways. */
IPVM_TEST(p2p, interop_kad)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    for (int i = 0; i < 2; i++) {
        tnode_start(&n[i], &loop, false);
        ipvm_p2p_dht_set_validator(n[i].host, not_js_only, NULL);
    }
    ipvm_p2p_dht_set_lookup(n[0].host, serve_db, NULL);
    jspeer_t js;
    jspeer_start(&js, &loop, NULL);
    char buf[1024], hk[64], hv[64];
    for (int i = 0; i < 2; i++) {
        snprintf(buf, sizeof buf, "\"cmd\":\"dial\",\"addr\":\"%s\"", n[i].addr);
        jspeer_ok(&js, buf, 15000);
        IPVM_ASSERT_MSG(run_until_fn(&loop, in_routing, &n[i], 10000),
                        "js never entered our routing table");
    }
    /* 1. ipvm PUT -> js stores it (js's own get finds it in its store) */
    kres_t p = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_put(n[0].host, (const uint8_t *)"from-ipvm", 9,
                                    (const uint8_t *)"value one", 9, 1, on_kput, &p));
    IPVM_ASSERT(run_until(&loop, &p.done, 15000));
    IPVM_ASSERT_OK(p.status);
    IPVM_ASSERT(p.stored >= 1);
    hexs("from-ipvm", hk);
    snprintf(buf, sizeof buf, "\"cmd\":\"dht_get\",\"key\":\"%s\"", hk);
    const ipvm_ipld_t *r = jspeer_ok(&js, buf, 15000);
    hexs("value one", hv);
    IPVM_ASSERT_STREQ(jfield(r, "value"), hv);
    /* 2. js PUT -> ipvm stores it (js counts our echo as a response) */
    hexs("from-js", hk);
    hexs("value two", hv);
    snprintf(buf, sizeof buf, "\"cmd\":\"dht_put\",\"key\":\"%s\",\"value\":\"%s\"", hk, hv);
    r = jspeer_ok(&js, buf, 20000);
    kres_t g = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[1].host, (const uint8_t *)"from-js", 7, 3000, on_kget, &g));
    IPVM_ASSERT(run_until(&loop, &g.done, 10000));
    IPVM_ASSERT_OK(g.status);
    IPVM_ASSERT_STREQ(g.value, "value two");
    IPVM_ASSERT_EQ(g.from[0], '\0'); /* it was already in our store: js's PUT reached us */
    /* 3. ipvm GET_VALUE answered by js: a key our nodes refuse to store */
    hexs("js-only-key", hk);
    hexs("value three", hv);
    snprintf(buf, sizeof buf, "\"cmd\":\"dht_put\",\"key\":\"%s\",\"value\":\"%s\"", hk, hv);
    size_t before = ipvm_p2p_dht_record_count(n[1].host);
    jspeer_ok(&js, buf, 20000);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(n[1].host), before); /* refused */
    /* our validator refuses that key for lookups too, so allow it for the GET now */
    ipvm_p2p_dht_set_validator(n[1].host, NULL, NULL);
    g = (kres_t){0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[1].host, (const uint8_t *)"js-only-key", 11, 5000, on_kget,
                                    &g));
    IPVM_ASSERT(run_until(&loop, &g.done, 10000));
    IPVM_ASSERT_OK(g.status);
    IPVM_ASSERT_STREQ(g.value, "value three");
    IPVM_ASSERT_STREQ(g.from, js.peer);
    /* 4. js GET_VALUE answered by ipvm (from its database hook) */
    hexs("ipvm-db!", hk);
    snprintf(buf, sizeof buf, "\"cmd\":\"dht_get\",\"key\":\"%s\"", hk);
    r = jspeer_ok(&js, buf, 15000);
    hexs("served by ipvm", hv);
    IPVM_ASSERT_STREQ(jfield(r, "value"), hv);
    IPVM_ASSERT_STREQ(jfield(r, "from"), ipvm_p2p_identity_peer_id_str(n[0].id));
    jspeer_stop(&js);
    tnodes_stop(&loop, n, 2);
}
