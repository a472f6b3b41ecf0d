/* SPDX-License-Identifier: Apache-2.0 */
/* gossipsub between ipvm hosts: mesh forwarding, IHAVE/IWANT recovery, validation verdicts and
 * scores, forged signatures and malformed RPCs. */
#include "p2p_test.h"

#include "p2p/gossip.h"
#include "p2p/pb/gossipsub.pb-c.h"

typedef struct {
    int got;
    int rejects; /* how many to reject before accepting */
    char last[64];
    ipvm_peer_id_t from, via;
} sink_t;

static ipvm_p2p_verdict_t on_msg(ipvm_p2p_host_t *h, const ipvm_p2p_message_t *m, void *data)
{
    (void)h;
    sink_t *s = data;
    if (s->rejects > 0) {
        s->rejects--;
        return IPVM_P2P_REJECT;
    }
    s->got++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)m->len, m->data);
    s->from = *m->from;
    s->via = *m->via;
    return IPVM_P2P_ACCEPT;
}

typedef struct {
    sink_t *s;
    int want;
} want_t;

static bool got_n(void *data)
{
    want_t *w = data;
    return w->s->got >= w->want;
}

typedef struct {
    tnode_t *n;
    const char *topic;
    size_t want;
} meshw_t;

static bool topic_known(void *data)
{
    meshw_t *w = data;
    return ipvm_p2p_topic_peers(w->n->host, w->topic) >= w->want;
}

static void small_mesh(tnode_t *n)
{
    memset(n, 0, sizeof *n);
    ipvm_p2p_config_init(&n->cfg);
    n->cfg.gossip_heartbeat_ms = 100;
    n->cfg.gossip_msgid = IPVM_P2P_MSGID_FROM_SEQNO;
}

IPVM_TEST(p2p, gossip_line_forwarding)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[3];
    sink_t s[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        small_mesh(&n[i]);
        tnode_start(&n[i], &loop, true);
        IPVM_ASSERT_OK(ipvm_p2p_subscribe(n[i].host, "t", on_msg, &s[i]));
    }
    IPVM_ASSERT_ERR(ipvm_p2p_subscribe(n[0].host, "t", on_msg, &s[0]), IPVM_EEXIST);
    tnode_connect(&loop, &n[0], &n[1]);
    tnode_connect(&loop, &n[1], &n[2]);
    meshw_t mw = {&n[1], "t", 2};
    IPVM_ASSERT(run_until_fn(&loop, topic_known, &mw, 5000));
    uv_sleep(150); /* a heartbeat grafts the mesh */
    run_until_fn(&loop, topic_known, &mw, 300);
    for (int i = 0; i < 5; i++) {
        char m[16];
        size_t rec = 0;
        snprintf(m, sizeof m, "msg %d", i);
        IPVM_ASSERT_OK(ipvm_p2p_publish(n[0].host, "t", (const uint8_t *)m, strlen(m), &rec));
        IPVM_ASSERT_EQ(rec, 1); /* only B is a direct subscriber of A */
    }
    want_t w = {&s[2], 5};
    IPVM_ASSERT_MSG(run_until_fn(&loop, got_n, &w, 5000), "C got %d of 5", s[2].got);
    IPVM_ASSERT_EQ(s[1].got, 5);
    IPVM_ASSERT_EQ(s[0].got, 0); /* its own messages are not delivered back */
    IPVM_ASSERT_STREQ(s[2].last, "msg 4");
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&s[2].from, ipvm_p2p_identity_peer_id(n[0].id)));
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&s[2].via, ipvm_p2p_identity_peer_id(n[1].id)));
    /* run a little longer: gossip must not deliver duplicates */
    uv_sleep(300);
    run_until_fn(&loop, got_n, &(want_t){&s[2], 6}, 500);
    IPVM_ASSERT_EQ(s[2].got, 5);
    IPVM_ASSERT(ipvm_p2p_mesh_size(n[1].host, "t") == 2);
    tnodes_stop(&loop, n, 3);
}

/* With D = 1, B's mesh is full when C arrives, so C learns A's message from B's IHAVE. */
IPVM_TEST(p2p, gossip_ihave_iwant)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[3];
    sink_t s[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        small_mesh(&n[i]);
        n[i].cfg.gossip_d = n[i].cfg.gossip_d_low = n[i].cfg.gossip_d_high = 1;
        n[i].cfg.gossip_d_lazy = 1;
        n[i].cfg.gossip_d_out = 0;
        n[i].cfg.gossip_flood_publish = false;
        tnode_start(&n[i], &loop, true);
        IPVM_ASSERT_OK(ipvm_p2p_subscribe(n[i].host, "t", on_msg, &s[i]));
    }
    tnode_connect(&loop, &n[0], &n[1]);
    meshw_t mw = {&n[0], "t", 1};
    IPVM_ASSERT(run_until_fn(&loop, topic_known, &mw, 5000));
    uv_sleep(250);
    run_until_fn(&loop, topic_known, &mw, 300);
    IPVM_ASSERT_EQ(ipvm_p2p_mesh_size(n[1].host, "t"), 1);
    size_t rec = 0;
    IPVM_ASSERT_OK(ipvm_p2p_publish(n[0].host, "t", (const uint8_t *)"early", 5, &rec));
    want_t w = {&s[1], 1};
    IPVM_ASSERT(run_until_fn(&loop, got_n, &w, 3000));
    tnode_connect(&loop, &n[2], &n[1]);
    w.s = &s[2];
    IPVM_ASSERT_MSG(run_until_fn(&loop, got_n, &w, 5000), "C never asked for the message");
    IPVM_ASSERT_STREQ(s[2].last, "early");
    ipvm_p2p_stats_t st;
    ipvm_p2p_host_stats(n[2].host, &st);
    IPVM_ASSERT_EQ(st.gossip_in, 1);
    tnodes_stop(&loop, n, 3);
}

typedef struct {
    tnode_t *n;
    const ipvm_peer_id_t *peer;
    double below;
} scorew_t;

static void score_of(const ipvm_p2p_peer_info_t *p, void *data)
{
    scorew_t *w = data;
    if (ipvm_p2p_peer_id_equal(&p->id, w->peer))
        w->below = p->score;
}

/* Rejected messages are not forwarded and cost the sender score (P4). */
IPVM_TEST(p2p, gossip_reject_scores)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[3];
    sink_t s[3] = {{0}};
    s[1].rejects = 2;
    for (int i = 0; i < 3; i++) {
        small_mesh(&n[i]);
        tnode_start(&n[i], &loop, true);
        IPVM_ASSERT_OK(ipvm_p2p_subscribe(n[i].host, "t", on_msg, &s[i]));
    }
    tnode_connect(&loop, &n[0], &n[1]);
    tnode_connect(&loop, &n[1], &n[2]);
    meshw_t mw = {&n[1], "t", 2};
    IPVM_ASSERT(run_until_fn(&loop, topic_known, &mw, 5000));
    uv_sleep(150);
    run_until_fn(&loop, topic_known, &mw, 300);
    for (int i = 0; i < 3; i++)
        IPVM_ASSERT_OK(ipvm_p2p_publish(n[0].host, "t", (const uint8_t *)"bad?", 4, NULL));
    want_t w = {&s[1], 1};
    IPVM_ASSERT(run_until_fn(&loop, got_n, &w, 3000));
    w.s = &s[2];
    run_until_fn(&loop, got_n, &w, 1000);
    IPVM_ASSERT_EQ(s[2].got, 1); /* only the accepted one travelled on */
    scorew_t sc = {&n[1], ipvm_p2p_identity_peer_id(n[0].id), 0};
    ipvm_p2p_each_peer(n[1].host, score_of, &sc);
    IPVM_ASSERT_MSG(sc.below < 0 && sc.below > GS_GRAYLIST_THRESHOLD, "score %.1f", sc.below);
    /* one more rejected message puts it under the graylist threshold */
    s[1].rejects = 1;
    IPVM_ASSERT_OK(ipvm_p2p_publish(n[0].host, "t", (const uint8_t *)"bad!", 4, NULL));
    scorew_t sc2 = sc;
    for (int i = 0; i < 50 && sc2.below > GS_GRAYLIST_THRESHOLD; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        ipvm_p2p_each_peer(n[1].host, score_of, &sc2);
    }
    IPVM_ASSERT_MSG(sc2.below < GS_GRAYLIST_THRESHOLD, "score %.1f", sc2.below);
    /* a graylisted peer is ignored entirely: a fifth message does not arrive */
    IPVM_ASSERT_OK(ipvm_p2p_publish(n[0].host, "t", (const uint8_t *)"more", 4, NULL));
    w = (want_t){&s[1], 2};
    run_until_fn(&loop, got_n, &w, 500);
    IPVM_ASSERT_EQ(s[1].got, 1);
    ipvm_p2p_stats_t st;
    ipvm_p2p_host_stats(n[1].host, &st);
    IPVM_ASSERT_EQ(st.gossip_invalid, 3);
    tnodes_stop(&loop, n, 3);
}
