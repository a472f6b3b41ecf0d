/* SPDX-License-Identifier: Apache-2.0 */
/* Two ipvm hosts on loopback: connection upgrade, identify, ping, peers. */
#include "p2p_test.h"

#include "p2p/host.h"

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
    int n;
    ipvm_p2p_peer_info_t first;
} peers_t;

static void count_peer(const ipvm_p2p_peer_info_t *p, void *data)
{
    peers_t *c = data;
    if (c->n++ == 0)
        c->first = *p;
}

IPVM_TEST(p2p, host_connect_identify_ping)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    tnode_start(&n[0], &loop, false);
    tnode_start(&n[1], &loop, false);
    tnode_connect(&loop, &n[0], &n[1]);
    IPVM_ASSERT_EQ(n[0].events[IPVM_P2P_EV_CONNECTED], 1);
    IPVM_ASSERT_EQ(n[1].events[IPVM_P2P_EV_CONNECTED], 1);
    /* each side sees the other, with the agent identify reported */
    peers_t c = {0};
    ipvm_p2p_each_peer(n[0].host, count_peer, &c);
    IPVM_ASSERT_EQ(c.n, 1);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&c.first.id, ipvm_p2p_identity_peer_id(n[1].id)));
    IPVM_ASSERT_STRCONTAINS(c.first.agent, "ipvm/");
    IPVM_ASSERT(c.first.outbound);
    IPVM_ASSERT(c.first.nprotocols >= 3);
    /* ping both ways */
    for (int i = 0; i < 2; i++) {
        ping_res_t r = {0};
        IPVM_ASSERT_OK(ipvm_p2p_ping(n[i].host, ipvm_p2p_identity_peer_id(n[1 - i].id), on_ping,
                                     &r));
        IPVM_ASSERT(run_until(&loop, &r.done, 5000));
        IPVM_ASSERT_OK(r.status);
        IPVM_ASSERT(r.rtt > 0 && r.rtt < 1000000);
    }
    /* a second dial reuses the connection */
    tnode_connect(&loop, &n[1], &n[0]);
    IPVM_ASSERT_EQ(ipvm_p2p_peer_count(n[0].host), 1);
    tnodes_stop(&loop, n, 2);
}

/* Without early muxer data on one side both agree on yamux with multistream. */
IPVM_TEST(p2p, host_muxer_by_multistream)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    tnode_start(&n[0], &loop, false);
    tnode_start(&n[1], &loop, false);
    IPVM_ASSERT_OK(p2p_host_set_early_muxer(n[1].host, false));
    tnode_connect(&loop, &n[0], &n[1]);
    ping_res_t r = {0};
    IPVM_ASSERT_OK(ipvm_p2p_ping(n[1].host, ipvm_p2p_identity_peer_id(n[0].id), on_ping, &r));
    IPVM_ASSERT(run_until(&loop, &r.done, 5000));
    IPVM_ASSERT_OK(r.status);
    tnodes_stop(&loop, n, 2);
}
