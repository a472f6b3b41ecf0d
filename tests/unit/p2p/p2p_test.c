/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers for p2p: see p2p_test.h. */
#include "p2p_test.h"

static void on_event(const ipvm_p2p_event_t *ev, void *data)
{
    tnode_t *n = data;
    if ((int)ev->kind < 32)
        n->events[ev->kind]++;
}

void tnode_start(tnode_t *n, uv_loop_t *loop, bool keep_cfg)
{
    if (!keep_cfg) {
        memset(n, 0, sizeof *n);
        ipvm_p2p_config_init(&n->cfg);
    }
    n->cfg.listen[0] = "/ip4/127.0.0.1/tcp/0";
    n->cfg.nlisten = 1;
    n->cfg.on_event = on_event;
    n->cfg.event_data = n;
    ipvm_error_t err = {0};
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&n->id));
    IPVM_ASSERT_OK_ERR(ipvm_p2p_host_new(loop, n->id, &n->cfg, &n->host, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_p2p_host_start(n->host, &err), &err);
    ipvm_multiaddr_t ma;
    IPVM_ASSERT_EQ(ipvm_p2p_host_listen_addrs(n->host, &ma, 1), 1);
    char s[IPVM_MULTIADDR_STR];
    snprintf(n->addr, sizeof n->addr, "%s/p2p/%s", ipvm_multiaddr_str(&ma, s),
             ipvm_p2p_identity_peer_id_str(n->id));
}

static void on_stopped(ipvm_p2p_host_t *h, void *ud)
{
    (void)h;
    tnode_t *n = ud;
    n->stopped = true;
}

static bool all_stopped(void *data)
{
    struct {
        tnode_t *n;
        size_t c;
    } *a = data;
    for (size_t i = 0; i < a->c; i++)
        if (a->n[i].host && !a->n[i].stopped)
            return false;
    return true;
}

void tnodes_stop(uv_loop_t *loop, tnode_t *nodes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (nodes[i].host)
            ipvm_p2p_host_stop(nodes[i].host, on_stopped, &nodes[i]);
    struct {
        tnode_t *n;
        size_t c;
    } a = {nodes, count};
    IPVM_ASSERT_MSG(run_until_fn(loop, all_stopped, &a, 5000), "hosts did not stop");
    for (size_t i = 0; i < count; i++) {
        ipvm_p2p_host_free(nodes[i].host);
        ipvm_p2p_identity_free(nodes[i].id);
        nodes[i].host = NULL;
        nodes[i].id = NULL;
    }
    uv_run(loop, UV_RUN_NOWAIT);
    IPVM_ASSERT_EQ(uv_loop_close(loop), 0); /* a leaked handle fails the test */
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void on_poll(uv_timer_t *t)
{
    (void)t; /* wakes the loop so flags set by other threads are seen soon */
}

bool run_until_fn(uv_loop_t *loop, bool (*fn)(void *data), void *data, int ms)
{
    bool expired = false;
    uv_timer_t t, p;
    uv_timer_init(loop, &t);
    uv_timer_init(loop, &p);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)ms * (uint64_t)(ipvm_test_timeout_ms() / 30000 + 1),
                   0);
    uv_timer_start(&p, on_poll, 10, 10);
    while (!fn(data) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&p, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return fn(data);
}

static bool flag_set(void *data)
{
    return *(const volatile bool *)data;
}

bool run_until(uv_loop_t *loop, const volatile bool *flag, int ms)
{
    return run_until_fn(loop, flag_set, (void *)flag, ms);
}

static void on_dialed(ipvm_p2p_host_t *h, int status, const ipvm_peer_id_t *peer, void *data)
{
    (void)h;
    (void)peer;
    IPVM_ASSERT_OK(status);
    *(bool *)data = true;
}

typedef struct {
    tnode_t *a, *b;
} pair_t;

static bool identified(void *data)
{
    pair_t *p = data;
    return p->a->events[IPVM_P2P_EV_IDENTIFIED] > 0 && p->b->events[IPVM_P2P_EV_IDENTIFIED] > 0;
}

void tnode_connect(uv_loop_t *loop, tnode_t *a, tnode_t *b)
{
    ipvm_multiaddr_t ma;
    ipvm_error_t err = {0};
    bool done = false;
    IPVM_ASSERT_OK_ERR(ipvm_multiaddr_parse(b->addr, strlen(b->addr), &ma, &err), &err);
    IPVM_ASSERT_OK(ipvm_p2p_dial(a->host, &ma, on_dialed, &done));
    IPVM_ASSERT_MSG(run_until(loop, &done, 5000), "dial did not finish");
    pair_t p = {a, b};
    IPVM_ASSERT_MSG(run_until_fn(loop, identified, &p, 5000), "identify did not finish");
}
