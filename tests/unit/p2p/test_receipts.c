/* SPDX-License-Identifier: Apache-2.0 */
/* The receipt layer between ipvm hosts, without a scheduler: what the scheduler commits is
 * gossiped and PUT; peers check and cache it; find_receipts answers from the cache and then the
 * DHT (for a node that joined later); forged receipts are dropped and cost the sender. */
#include "p2p_test.h"

#include "ipvm/sched.h"
#include "ipvm/workflow.h"

typedef struct {
    ipvm_arena_t a;
    ipvm_receipt_t r;
    ipvm_buf_t cbor;
    ipvm_cid_t instruction, invocation;
} fake_t;

/* A receipt {ran, out: ["ok", n], meta: {op}, iss: null, prf: []} for made-up CIDs. */
static void fake_receipt(fake_t *f, int n)
{
    memset(f, 0, sizeof *f);
    ipvm_arena_init(&f->a);
    char s[32];
    snprintf(s, sizeof s, "instruction %d", n);
    IPVM_ASSERT_OK(ipvm_cid_create(&f->instruction, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                                   (const uint8_t *)s, strlen(s)));
    snprintf(s, sizeof s, "invocation %d", n);
    IPVM_ASSERT_OK(ipvm_cid_create(&f->invocation, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                                   (const uint8_t *)s, strlen(s)));
    ipvm_ipld_t *out = ipvm_ipld_new_list(&f->a, 2), *meta = ipvm_ipld_new_map(&f->a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&f->a, out, ipvm_ipld_new_cstring(&f->a, "ok")));
    IPVM_ASSERT_OK(ipvm_ipld_list_push(&f->a, out, ipvm_ipld_new_int(&f->a, n)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&f->a, meta, "op", ipvm_ipld_new_cstring(&f->a, "add")));
    ipvm_ipld_t *m = ipvm_ipld_new_map(&f->a, 5);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&f->a, m, "ran", ipvm_ipld_new_link(&f->a, &f->invocation)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&f->a, m, "out", out));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&f->a, m, "meta", meta));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&f->a, m, "iss", ipvm_ipld_new_null(&f->a)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&f->a, m, "prf", ipvm_ipld_new_list(&f->a, 0)));
    ipvm_ipld_map_sort(m);
    IPVM_ASSERT_OK(ipvm_receipt_from_ipld(m, &f->a, &f->r, NULL));
    f->r.instruction = f->instruction;
    f->r.has_instruction = true;
    IPVM_ASSERT_OK(ipvm_receipt_encode(&f->r, &f->cbor, NULL));
}

static void fake_dispose(fake_t *f)
{
    ipvm_buf_dispose(&f->cbor);
    ipvm_arena_dispose(&f->a);
}

typedef struct {
    tnode_t n;
    ipvm_p2p_receipts_t *rc;
    ipvm_sched_net_hooks_t hooks;
} rnode_t;

static void rnode_start(rnode_t *x, uv_loop_t *loop)
{
    memset(x, 0, sizeof *x);
    ipvm_p2p_config_init(&x->n.cfg);
    x->n.cfg.gossip_heartbeat_ms = 100;
    x->n.cfg.request_timeout_ms = 2000;
    tnode_start(&x->n, loop, true);
    ipvm_error_t err = {0};
    IPVM_ASSERT_OK_ERR(ipvm_p2p_receipts_new(x->n.host, NULL, &x->rc, &err), &err);
    ipvm_p2p_receipts_net_hooks(x->rc, &x->hooks);
}

static void publish(rnode_t *x, fake_t *f)
{
    ipvm_sched_receipt_t sr;
    memset(&sr, 0, sizeof sr);
    sr.receipt = f->r;
    sr.cbor = f->cbor.data;
    sr.cbor_len = f->cbor.len;
    sr.source = "local";
    x->hooks.receipt_published(x->hooks.data, NULL, &sr);
}

typedef struct {
    rnode_t *x;
    ipvm_sched_lookup_t items[2];
    ipvm_arena_t a;
    int rc;
    volatile bool done;
} findjob_t;

static void find_thread(void *arg)
{
    findjob_t *j = arg;
    j->rc = j->x->hooks.find_receipts(j->x->hooks.data, j->items, 2, 3000, &j->a);
    __atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
}

/* Runs find_receipts on another thread (it blocks) while this one runs the loop. */
static void find(uv_loop_t *loop, rnode_t *x, findjob_t *j, fake_t *f, const ipvm_cid_t *inv2)
{
    memset(j, 0, sizeof *j);
    ipvm_arena_init(&j->a);
    j->x = x;
    j->items[0].instruction = &f->instruction;
    j->items[0].invocation = &f->invocation;
    j->items[1].instruction = &f->instruction;
    j->items[1].invocation = inv2; /* another task with the same instruction */
    uv_thread_t t;
    IPVM_ASSERT_OK(uv_thread_create(&t, find_thread, j));
    IPVM_ASSERT(run_until(loop, (volatile bool *)&j->done, 10000));
    uv_thread_join(&t);
    IPVM_ASSERT_OK(j->rc);
}

static bool cached_n(void *data)
{
    rnode_t *x = data;
    return ipvm_p2p_receipts_cached(x->rc) >= 1;
}

static void rnodes_stop(uv_loop_t *loop, rnode_t *x, size_t n)
{
    tnode_t t[4];
    for (size_t i = 0; i < n; i++) {
        ipvm_p2p_receipts_free(x[i].rc);
        t[i] = x[i].n;
    }
    tnodes_stop(loop, t, n);
}

IPVM_TEST(p2p, receipts_gossip_dht_and_checks)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rnode_t x[3];
    rnode_start(&x[0], &loop);
    rnode_start(&x[1], &loop);
    tnode_connect(&loop, &x[0].n, &x[1].n);
    for (int i = 0; i < 50 && ipvm_p2p_topic_peers(x[0].n.host, "receipts") == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    fake_t f;
    fake_receipt(&f, 7);
    publish(&x[0], &f);
    IPVM_ASSERT_MSG(run_until_fn(&loop, cached_n, &x[1], 5000), "the receipt never arrived");
    IPVM_ASSERT_EQ(x[1].n.events[IPVM_P2P_EV_RECEIPT_RECEIVED], 1);
    IPVM_ASSERT_EQ(x[0].n.events[IPVM_P2P_EV_RECEIPT_PUBLISHED], 1);
    /* the cache answers for this task's invocation only */
    findjob_t j;
    find(&loop, &x[1], &j, &f, &f.instruction);
    IPVM_ASSERT(j.items[0].found);
    IPVM_ASSERT_MEMEQ(j.items[0].receipt, j.items[0].receipt_len, f.cbor.data, f.cbor.len);
    IPVM_ASSERT_STRCONTAINS(j.items[0].source, "peer:");
    IPVM_ASSERT(!j.items[1].found);
    ipvm_arena_dispose(&j.a);
    /* a node that joins later, linked to B only, finds it through the DHT */
    rnode_start(&x[2], &loop);
    tnode_connect(&loop, &x[2].n, &x[1].n);
    for (int i = 0; i < 50 && ipvm_p2p_dht_routing_size(x[2].n.host) == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    IPVM_ASSERT_EQ(ipvm_p2p_receipts_cached(x[2].rc), 0);
    find(&loop, &x[2], &j, &f, &f.instruction);
    IPVM_ASSERT_MSG(j.items[0].found, "the DHT did not give the receipt to the late node");
    IPVM_ASSERT_STRCONTAINS(j.items[0].source, "dht:");
    IPVM_ASSERT_MEMEQ(j.items[0].receipt, j.items[0].receipt_len, f.cbor.data, f.cbor.len);
    ipvm_arena_dispose(&j.a);
    fake_dispose(&f);
    rnodes_stop(&loop, x, 3);
}

/* A receipt whose cid is not the hash of its contents: dropped, never cached or forwarded,
 * and the sender's score pays. */
IPVM_TEST(p2p, receipts_forged_rejected)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rnode_t x[2];
    rnode_start(&x[0], &loop);
    rnode_start(&x[1], &loop);
    tnode_connect(&loop, &x[0].n, &x[1].n);
    for (int i = 0; i < 50 && ipvm_p2p_topic_peers(x[0].n.host, "receipts") == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    fake_t f, g;
    fake_receipt(&f, 1);
    fake_receipt(&g, 2);
    /* claim g's CID for f's contents: {header, payload{cid: g.cid, ran, instruction, out...}} */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *pl = ipvm_receipt_to_ipld(&a, &f.r);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, pl, "cid", ipvm_ipld_new_link(&a, &g.r.cid)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, pl, "instruction",
                                          ipvm_ipld_new_link(&a, &f.instruction)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, pl, "version", ipvm_ipld_new_cstring(&a, "0.2.0")));
    ipvm_ipld_map_sort(pl);
    ipvm_ipld_t *hdr = ipvm_ipld_new_map(&a, 1), *top = ipvm_ipld_new_map(&a, 2);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, hdr, "nonce", ipvm_ipld_new_bytes(&a, (const uint8_t *)"123456789012", 12)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, top, "header", hdr));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, top, "payload", pl));
    ipvm_ipld_map_sort(top);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(top, &b, NULL));
    size_t rec = 0;
    IPVM_ASSERT_OK(ipvm_p2p_publish(x[0].n.host, "receipts", b.data, b.len, &rec));
    IPVM_ASSERT_EQ(rec, 1);
    for (int i = 0; i < 100 && x[1].n.events[IPVM_P2P_EV_RECEIPT_REJECTED] == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    IPVM_ASSERT_EQ(x[1].n.events[IPVM_P2P_EV_RECEIPT_REJECTED], 1);
    IPVM_ASSERT_EQ(ipvm_p2p_receipts_cached(x[1].rc), 0);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(x[1].n.host), 0);
    ipvm_p2p_stats_t st;
    ipvm_p2p_host_stats(x[1].n.host, &st);
    IPVM_ASSERT_EQ(st.receipts_rejected, 1);
    IPVM_ASSERT_EQ(st.gossip_invalid, 1);
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    fake_dispose(&f);
    fake_dispose(&g);
    rnodes_stop(&loop, x, 2);
}

typedef struct {
    bool done;
    int status;
    size_t stored;
} kput_t;

static void on_kput(ipvm_p2p_host_t *h, int status, size_t stored, void *data)
{
    (void)h;
    kput_t *p = data;
    p->done = true;
    p->status = status;
    p->stored = stored;
}

/* DHT records from a peer go through the same checks: a receipt capsule whose contents do not
 * hash to its cid, a non-ipvm record, a workflow record under another key: all refused. */
IPVM_TEST(p2p, receipts_forged_dht_record)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    rnode_t x;
    rnode_start(&x, &loop);
    tnode_t raw; /* a plain host: no validator, it puts whatever it is given */
    tnode_start(&raw, &loop, false);
    tnode_connect(&loop, &raw, &x.n);
    for (int i = 0; i < 100 && ipvm_p2p_dht_routing_size(raw.host) == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    fake_t f, g;
    fake_receipt(&f, 3);
    fake_receipt(&g, 4);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* {"ipvm/receipt": {f's fields, cid: g's CID, version}} */
    ipvm_ipld_t *m = ipvm_receipt_to_ipld(&a, &f.r), *top = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "cid", ipvm_ipld_new_link(&a, &g.r.cid)));
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "version", ipvm_ipld_new_cstring(&a, "0.2.0")));
    ipvm_ipld_map_sort(m);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, top, "ipvm/receipt", m));
    ipvm_buf_t bad = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(top, &bad, NULL));
    const struct {
        const uint8_t *k;
        size_t kl;
        const uint8_t *v;
        size_t vl;
    } cases[] = {
        {f.instruction.bytes, f.instruction.len, bad.data, bad.len},
        {f.instruction.bytes, f.instruction.len, (const uint8_t *)"\xa1\x61x\x01", 4},
        {(const uint8_t *)"not-a-cid", 9, f.cbor.data, f.cbor.len},
    };
    for (size_t i = 0; i < 3; i++) {
        kput_t p = {0};
        IPVM_ASSERT_OK(ipvm_p2p_dht_put(raw.host, cases[i].k, cases[i].kl, cases[i].v,
                                        cases[i].vl, 1, on_kput, &p));
        IPVM_ASSERT(run_until(&loop, &p.done, 10000));
        IPVM_ASSERT_MSG(p.stored == 0, "case %zu was stored", i);
    }
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(x.n.host), 0);
    /* and the honest capsule is stored */
    ipvm_buf_t good = IPVM_BUF_INIT;
    m = ipvm_receipt_to_ipld(&a, &f.r);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "version", ipvm_ipld_new_cstring(&a, "0.2.0")));
    ipvm_ipld_map_sort(m);
    top = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, top, "ipvm/receipt", m));
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(top, &good, NULL));
    kput_t p = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_put(raw.host, f.instruction.bytes, f.instruction.len, good.data,
                                    good.len, 1, on_kput, &p));
    IPVM_ASSERT(run_until(&loop, &p.done, 10000));
    IPVM_ASSERT_OK(p.status);
    IPVM_ASSERT_EQ(ipvm_p2p_dht_record_count(x.n.host), 1);
    ipvm_buf_dispose(&bad);
    ipvm_buf_dispose(&good);
    ipvm_arena_dispose(&a);
    fake_dispose(&f);
    fake_dispose(&g);
    ipvm_p2p_receipts_free(x.rc);
    tnode_t all[2] = {x.n, raw};
    tnodes_stop(&loop, all, 2);
}
