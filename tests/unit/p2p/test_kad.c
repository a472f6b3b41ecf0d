/* SPDX-License-Identifier: Apache-2.0 */
/* Kademlia between ipvm hosts: routing tables from identify, iterative GET/PUT across a chain,
 * validation of stored and returned records, the application lookup hook, timeouts. */
#include "p2p_test.h"

#include "p2p/kad.h"

typedef struct {
    bool done;
    int status;
    size_t stored;
    char value[128];
    bool remote;
} kres_t;

static void on_put(ipvm_p2p_host_t *h, int status, size_t stored, void *data)
{
    (void)h;
    kres_t *r = data;
    r->done = true;
    r->status = status;
    r->stored = stored;
}

static void on_get(ipvm_p2p_host_t *h, int status, const uint8_t *value, size_t len,
                   const ipvm_peer_id_t *from, void *data)
{
    (void)h;
    kres_t *r = data;
    r->done = true;
    r->status = status;
    r->remote = from != NULL;
    if (status == 0)
        snprintf(r->value, sizeof r->value, "%.*s", (int)len, value);
}

typedef struct {
    tnode_t *n;
    size_t count;
    size_t want;
} rt_t;

static bool routing_full(void *data)
{
    rt_t *r = data;
    for (size_t i = 0; i < r->count; i++)
        if (ipvm_p2p_dht_routing_size(r->n[i].host) < r->want)
            return false;
    return true;
}

static int refuse_bad(const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
                      const char **why, void *data)
{
    (void)key;
    (void)klen;
    (void)data;
    if (vlen >= 3 && memcmp(value, "bad", 3) == 0) {
        *why = "test validator: value starts with \"bad\"";
        return IPVM_EINVAL;
    }
    return 0;
}

static void start_chain(uv_loop_t *loop, tnode_t *n, size_t count, int k)
{
    for (size_t i = 0; i < count; i++) {
        memset(&n[i], 0, sizeof n[i]);
        ipvm_p2p_config_init(&n[i].cfg);
        n[i].cfg.kad_k = k;
        n[i].cfg.request_timeout_ms = 2000;
        tnode_start(&n[i], loop, true);
        ipvm_p2p_dht_set_validator(n[i].host, refuse_bad, NULL);
        if (i > 0)
            tnode_connect(loop, &n[i], &n[i - 1]);
    }
}

IPVM_TEST(p2p, kad_put_get_chain)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    enum { N = 6 };
    tnode_t n[N];
    start_chain(&loop, n, N, 2);
    /* self lookups along the chain make each routing table larger than its direct links */
    rt_t rt = {n, N, 2};
    IPVM_ASSERT_MSG(run_until_fn(&loop, routing_full, &rt, 10000), "routing tables stayed small");
    kres_t p = {0};
    const uint8_t key[] = "instruction-key-1";
    IPVM_ASSERT_OK(ipvm_p2p_dht_put(n[0].host, key, sizeof key - 1, (const uint8_t *)"receipt!", 8,
                                    1, on_put, &p));
    IPVM_ASSERT(run_until(&loop, &p.done, 15000));
    IPVM_ASSERT_OK(p.status);
    IPVM_ASSERT(p.stored >= 1 && p.stored <= 2); /* k = 2 closest */
    /* every other node finds it; those that do not hold it ask the network */
    int remote = 0;
    for (int i = 1; i < N; i++) {
        kres_t g = {0};
        IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[i].host, key, sizeof key - 1, 5000, on_get, &g));
        IPVM_ASSERT(run_until(&loop, &g.done, 10000));
        IPVM_ASSERT_MSG(g.status == 0, "node %d: %s", i, ipvm_err_name(g.status));
        IPVM_ASSERT_STREQ(g.value, "receipt!");
        remote += g.remote;
    }
    IPVM_ASSERT(remote >= N - 1 - 2);
    /* a missing key: not found, within the deadline */
    kres_t g = {0};
    uint64_t t0 = ipvm_now_ns();
    IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[3].host, (const uint8_t *)"nope", 4, 3000, on_get, &g));
    IPVM_ASSERT(run_until(&loop, &g.done, 10000));
    IPVM_ASSERT_ERR(g.status, IPVM_ENOENT);
    IPVM_ASSERT_LT((ipvm_now_ns() - t0) / 1e6, 3000 + 2000 * ipvm_test_timeout_multiplier());
    tnodes_stop(&loop, n, N);
}

static size_t put_and_wait(uv_loop_t *loop, tnode_t *n, const char *key)
{
    kres_t p = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_put(n->host, (const uint8_t *)key, strlen(key),
                                    (const uint8_t *)"value", 5, 2, on_put, &p));
    IPVM_ASSERT(run_until(loop, &p.done, 15000));
    IPVM_ASSERT_OK(p.status);
    return p.stored;
}

/* In a network smaller than k that a lookup has just seen whole, PUTs store at every peer
 * without a lookup each; a new peer in the routing table brings the lookups back. */
IPVM_TEST(p2p, kad_put_wave_one_lookup)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    enum { N = 5 };
    tnode_t n[N];
    start_chain(&loop, n, N - 1, 20);
    rt_t rt = {n, N - 1, N - 2};
    IPVM_ASSERT_MSG(run_until_fn(&loop, routing_full, &rt, 10000), "routing tables stayed small");
    p2p_kad_t *k = n[0].host->kad;
    IPVM_ASSERT_EQ(put_and_wait(&loop, &n[0], "wave-0"), N - 2);
    uint64_t skipped = k->lookups_skipped;
    char key[16];
    for (int i = 1; i <= 4; i++) {
        snprintf(key, sizeof key, "wave-%d", i);
        IPVM_ASSERT_EQ(put_and_wait(&loop, &n[0], key), N - 2); /* every peer, as a lookup */
    }
    IPVM_ASSERT_EQ(k->lookups_skipped, skipped + 4);
    for (int i = 1; i < N - 1; i++)
        IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(n[i].host), 5);
    /* a fifth node joins next to node 0: the next PUT looks it up and stores there too */
    memset(&n[N - 1], 0, sizeof n[N - 1]);
    ipvm_p2p_config_init(&n[N - 1].cfg);
    n[N - 1].cfg.kad_k = 20;
    n[N - 1].cfg.request_timeout_ms = 2000;
    tnode_start(&n[N - 1], &loop, true);
    tnode_connect(&loop, &n[N - 1], &n[0]);
    rt_t rt0 = {n, 1, N - 1};
    IPVM_ASSERT(run_until_fn(&loop, routing_full, &rt0, 10000));
    skipped = k->lookups_skipped;
    IPVM_ASSERT_EQ(put_and_wait(&loop, &n[0], "wave-5"), N - 1);
    IPVM_ASSERT_EQ(k->lookups_skipped, skipped);
    IPVM_ASSERT_EQ(put_and_wait(&loop, &n[0], "wave-6"), N - 1);
    IPVM_ASSERT_EQ(k->lookups_skipped, skipped + 1);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(n[N - 1].host), 2);
    tnodes_stop(&loop, n, N);
}

IPVM_TEST(p2p, kad_validator_refuses)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[3];
    start_chain(&loop, n, 3, 20);
    rt_t rt = {n, 3, 1};
    IPVM_ASSERT(run_until_fn(&loop, routing_full, &rt, 10000));
    kres_t p = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_put(n[0].host, (const uint8_t *)"k", 1, (const uint8_t *)"bad value",
                                    9, 1, on_put, &p));
    IPVM_ASSERT(run_until(&loop, &p.done, 15000));
    IPVM_ASSERT_ERR(p.status, IPVM_EPEER);
    IPVM_ASSERT_EQ(p.stored, 0);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(n[1].host), 0);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(n[2].host), 0);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(n[0].host), 1); /* ours, put locally */
    tnodes_stop(&loop, n, 3);
}

static void lookup_db(const uint8_t *key, size_t klen, ipvm_p2p_dht_found_fn done, void *req,
                      void *data)
{
    (void)data;
    if (klen == 5 && memcmp(key, "in-db", 5) == 0)
        done(req, (const uint8_t *)"from the database", 17);
    else
        done(req, NULL, 0);
}

IPVM_TEST(p2p, kad_lookup_hook)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    start_chain(&loop, n, 2, 20);
    ipvm_p2p_dht_set_lookup(n[1].host, lookup_db, NULL);
    rt_t rt = {n, 2, 1};
    IPVM_ASSERT(run_until_fn(&loop, routing_full, &rt, 10000));
    kres_t g = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[0].host, (const uint8_t *)"in-db", 5, 3000, on_get, &g));
    IPVM_ASSERT(run_until(&loop, &g.done, 10000));
    IPVM_ASSERT_OK(g.status);
    IPVM_ASSERT(g.remote);
    IPVM_ASSERT_STREQ(g.value, "from the database");
    g = (kres_t){0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[0].host, (const uint8_t *)"other", 5, 3000, on_get, &g));
    IPVM_ASSERT(run_until(&loop, &g.done, 10000));
    IPVM_ASSERT_ERR(g.status, IPVM_ENOENT);
    tnodes_stop(&loop, n, 2);
}
