/* SPDX-License-Identifier: Apache-2.0 */
/* Verification by redundancy over the network: three `ipvm node` daemons on 127.0.0.1
 * (ephemeral ports), node 1 configured with [trust] redundancy = 3, so every task it executes
 * is also computed by nodes 2 and 3 over /ipvm/verify/1.0.0 and their signed receipts compared.
 * Then node 3 restarts with trust.test_lie (it answers with a forged output, signed by its own
 * key: real bytes on the wire) and node 1 catches it. */
#include "test.h"

#include "ipvm/p2p.h"
#include "ipvm/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct {
    char dir[1024];
    char url[256];
    char addr[512];
    char did[IPVM_DID_MAX];
    bool up;
} vnode_t;

/* `ipvm --data-dir DIR ARGS…`; fails the test unless the exit status is `want` (-1: any). */
static int vcmd(const vnode_t *n, const char *const *args, int want, ipvm_buf_t *out)
{
    ipvm_buf_t err = IPVM_BUF_INIT;
    uint64_t t0 = ipvm_now_ns();
    int rc = ipvm_test_ipvm(n->dir, args, 60000, out, &err);
    if (getenv("IPVM_TEST_VERBOSE"))
        fprintf(stderr, "  %s: ipvm %s %s %s (%.0f ms)\n", n->dir + strlen(n->dir) - 5, args[0],
                args[1] ? args[1] : "", args[1] && args[2] ? args[2] : "",
                (double)(ipvm_now_ns() - t0) / 1e6);
    IPVM_ASSERT_MSG(want < 0 || rc == want, "ipvm %s %s: exit %d (want %d)\nstdout: %.2000s\n"
                    "stderr: %.3000s",
                    args[0], args[1] ? args[1] : "", rc, want, (char *)out->data,
                    (char *)err.data);
    ipvm_buf_dispose(&err);
    return rc;
}

static void vstart(vnode_t *n, const char *bootstrap, const char *extra1, const char *extra2)
{
    char boot[700];
    snprintf(boot, sizeof boot, "p2p.bootstrap=%s", bootstrap ? bootstrap : "");
    const char *args[] = {"node", "start", "--detach", "--port", "0",
                          "--set", "p2p.listen=/ip4/127.0.0.1/tcp/0",
                          "--set", "p2p.heartbeat=100ms",
                          "--set", "p2p.lookup_timeout=200ms",
                          "--set", "trust.sign_receipts=yes",
                          "--set", boot,
                          extra1 ? "--set" : NULL, extra1, extra2 ? "--set" : NULL, extra2, NULL};
    ipvm_buf_t out = IPVM_BUF_INIT;
    vcmd(n, args, 0, &out);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *st[] = {"--json", "node", "status", NULL};
    vcmd(n, st, 0, &out);
    snprintf(n->url, sizeof n->url, "%s", ipvm_ipld_map_get(ipvm_test_json(&a, &out), "rpc")->u.str.ptr);
    const char *id[] = {"--json", "node", "id", NULL};
    vcmd(n, id, 0, &out);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &out), *addrs = ipvm_ipld_map_get(v, "addrs");
    IPVM_ASSERT(addrs && addrs->u.list.len > 0);
    snprintf(n->addr, sizeof n->addr, "%s", addrs->u.list.items[0]->u.str.ptr);
    /* its DID is its peer id's key (the same Ed25519 key signs receipts and the handshake) */
    ipvm_multiaddr_t ma;
    ipvm_peer_id_t pid;
    uint8_t pub[32];
    IPVM_ASSERT_OK(ipvm_multiaddr_parse(n->addr, strlen(n->addr), &ma, NULL));
    IPVM_ASSERT_OK(ipvm_multiaddr_peer_id(&ma, &pid));
    IPVM_ASSERT_OK(ipvm_p2p_peer_id_ed25519(&pid, pub));
    IPVM_ASSERT_OK(ipvm_did_from_ed25519(pub, n->did));
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
    n->up = true;
}

static void vstop(vnode_t *n)
{
    if (!n->up)
        return;
    const char *args[] = {"-q", "node", "stop", "--force", NULL};
    ipvm_buf_t out = IPVM_BUF_INIT;
    vcmd(n, args, 0, &out);
    ipvm_buf_dispose(&out);
    n->up = false;
}

/* Connected peers that identified themselves. */
static size_t vpeers(vnode_t *n)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *args[] = {"--json", "node", "peers", NULL};
    vcmd(n, args, 0, &out);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &out);
    size_t c = 0;
    for (size_t i = 0; i < v->u.list.len; i++)
        c += ipvm_ipld_map_get(v->u.list.items[i], "gossip")->u.boolean;
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
    return c;
}

static void wait_peers(vnode_t *n, size_t want)
{
    for (int t = 0; t < 100 && vpeers(n) < want; t++)
        uv_sleep(50);
    IPVM_ASSERT_MSG(vpeers(n) >= want, "%s has too few peers", n->dir);
}

static const char *write_wf(ipvm_arena_t *a, const char *name, int arg)
{
    const char *path = ipvm_arena_printf(a, "%s/%s.json", ipvm_test_tmpdir(), name);
    const char *json = ipvm_arena_printf(
        a,
        "{\"tasks\": [{\"cause\": null, \"meta\": {}, \"prf\": [], \"run\": {\"input\": "
        "{\"args\": [%d], \"func\": \"add_one\"}, \"nnc\": \"\", \"op\": \"wasm/run\", \"rsc\": "
        "\"ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq\"}}]}",
        arg);
    IPVM_ASSERT_OK(ipvm_file_write_atomic(path, json, strlen(json), NULL));
    return path;
}

/* The evidence of a receipt of node n (`ipvm receipt CID --verify --json`). */
static const ipvm_ipld_t *evidence_of(vnode_t *n, ipvm_arena_t *a, const char *cid)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    const char *args[] = {"--json", "receipt", "--verify", cid, NULL};
    vcmd(n, args, -1, &out);
    const ipvm_ipld_t *v = ipvm_test_json(a, &out);
    ipvm_buf_dispose(&out);
    const ipvm_ipld_t *ev = ipvm_ipld_select(v, "verify/evidence");
    IPVM_ASSERT_MSG(ev && ev->kind == IPVM_IPLD_MAP, "no evidence for %s", cid);
    return ev;
}

/* The CIDs of node n's receipts, newest first as `ipvm receipts` lists them. */
static size_t receipt_cids(vnode_t *n, ipvm_arena_t *a, const char **cids, size_t max)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    const char *args[] = {"--json", "receipts", NULL};
    vcmd(n, args, 0, &out);
    size_t k = 0;
    for (char *line = (char *)out.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        ipvm_ipld_t *v = NULL;
        if (ipvm_dagjson_decode(line, nl ? (size_t)(nl - line) : strlen(line), a, &v, NULL) != 0)
            continue;
        const ipvm_ipld_t *c = ipvm_ipld_map_get(v, "cid");
        if (c && c->kind == IPVM_IPLD_STRING && k < max)
            cids[k++] = ipvm_arena_strdup(a, c->u.str.ptr);
    }
    ipvm_buf_dispose(&out);
    return k;
}

static bool has_issuer(const ipvm_ipld_t *results, const char *did)
{
    for (size_t i = 0; results && i < results->u.list.len; i++)
        if (ipvm_ipld_is_str(ipvm_ipld_map_get(results->u.list.items[i], "iss"), did))
            return true;
    return false;
}

IPVM_TEST(trust, net_redundancy_three_nodes)
{
    vnode_t n[3];
    memset(n, 0, sizeof n);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t out = IPVM_BUF_INIT;
    for (int i = 0; i < 3; i++) { /* each node can run the module */
        snprintf(n[i].dir, sizeof n[i].dir, "%s/node%d", ipvm_test_tmpdir(), i + 1);
        const char *add[] = {"-q", "add", ipvm_test_vector("homestar/wasm/example_test.wasm"),
                             NULL};
        vcmd(&n[i], add, 0, &out);
    }
    vstart(&n[0], NULL, "trust.redundancy=3", NULL);
    vstart(&n[1], n[0].addr, NULL, NULL);
    vstart(&n[2], n[0].addr, NULL, NULL);
    wait_peers(&n[0], 2);

    /* Homestar's two-task workflow (the second awaits the first): every task is computed three
     * times, by three keys, and the receipts agree */
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-add-one.json");
    const char *run[] = {"--json", "run", "--node", n[0].url, wf, NULL};
    uint64_t t0 = ipvm_now_ns();
    vcmd(&n[0], run, 0, &out);
    double verified_ms = (double)(ipvm_now_ns() - t0) / 1e6;
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "\"executed\":2");
    const char *cids[8];
    size_t nc = receipt_cids(&n[0], &a, cids, 8);
    IPVM_ASSERT_EQ(nc, 2);
    for (size_t i = 0; i < nc; i++) {
        const ipvm_ipld_t *ev = evidence_of(&n[0], &a, cids[i]);
        IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(ev, "verdict"), "agree"));
        const ipvm_ipld_t *res = ipvm_ipld_map_get(ev, "results");
        IPVM_ASSERT_EQ(res->u.list.len, 3);
        for (int k = 0; k < 3; k++)
            IPVM_ASSERT_MSG(has_issuer(res, n[k].did), "node %d is not in the evidence", k + 1);
        /* the peers' results came over libp2p, and their outputs equal node 1's */
        const ipvm_ipld_t *out0 = ipvm_ipld_select(res, "0/out");
        for (size_t k = 1; k < 3; k++) {
            const ipvm_ipld_t *src = ipvm_ipld_select(res, k == 1 ? "1/source" : "2/source");
            IPVM_ASSERT_MSG(src && strncmp(src->u.str.ptr, "peer:12D3KooW", 13) == 0,
                            "source %s", src ? src->u.str.ptr : "?");
            IPVM_ASSERT(ipvm_ipld_equal(ipvm_ipld_select(res, k == 1 ? "1/out" : "2/out"),
                                        out0));
        }
    }
    /* the peers computed it themselves: each holds its own signed receipts now */
    for (int k = 1; k < 3; k++) {
        const char *pc[8];
        IPVM_ASSERT_EQ(receipt_cids(&n[k], &a, pc, 8), 2);
        const ipvm_ipld_t *v = NULL;
        const char *rargs[] = {"--json", "receipt", "--verify", pc[0], NULL};
        vcmd(&n[k], rargs, 0, &out);
        v = ipvm_test_json(&a, &out);
        IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "verify/issuer"), n[k].did));
    }

    /* the same run unverified, for the record (a fresh instruction on a node asking nobody) */
    const char *plain = write_wf(&a, "plain", 7);
    const char *prun[] = {"--json", "run", "--node", n[1].url, plain, NULL};
    t0 = ipvm_now_ns();
    vcmd(&n[1], prun, 0, &out);
    double plain_ms = (double)(ipvm_now_ns() - t0) / 1e6;
    /* and a fresh one-task run on node 1, every node's module cache warm: the cost of k = 3 */
    const char *warm = write_wf(&a, "warm", 8);
    const char *wrun[] = {"--json", "run", "--node", n[0].url, warm, NULL};
    t0 = ipvm_now_ns();
    vcmd(&n[0], wrun, 0, &out);
    double warm_ms = (double)(ipvm_now_ns() - t0) / 1e6;
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "\"executed\":1,\"failed\":0");
    if (getenv("IPVM_TEST_VERBOSE"))
        fprintf(stderr,
                "cold verified 2-task run %.0f ms; warm 1-task run: unverified %.0f ms, "
                "verified k=3 %.0f ms (CLI round trips included)\n",
                verified_ms, plain_ms, warm_ms);

    /* node 3 lies: its answer carries a forged output under a valid signature of its key */
    vstop(&n[2]);
    vstart(&n[2], n[0].addr, "trust.test_lie=true", NULL);
    wait_peers(&n[0], 2);
    const char *lie = write_wf(&a, "lie", 41);
    const char *lrun[] = {"--json", "run", "--node", n[0].url, lie, NULL};
    int rc = vcmd(&n[0], lrun, -1, &out);
    IPVM_ASSERT_MSG(rc != 0, "a run with a lying verifier succeeded: %s", (char *)out.data);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "independent results disagree");
    nc = receipt_cids(&n[0], &a, cids, 8);
    IPVM_ASSERT_EQ(nc, 4);
    const char *failed = NULL;
    for (size_t i = 0; i < nc && failed == NULL; i++) {
        const char *rargs[] = {"--json", "receipt", cids[i], NULL};
        vcmd(&n[0], rargs, -1, &out);
        if (strstr((char *)out.data, "IPVM_ECONFLICT"))
            failed = cids[i];
    }
    IPVM_ASSERT_MSG(failed != NULL, "no receipt says IPVM_ECONFLICT");
    const ipvm_ipld_t *ev = evidence_of(&n[0], &a, failed);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(ev, "verdict"), "conflict"));
    const ipvm_ipld_t *res = ipvm_ipld_map_get(ev, "results");
    IPVM_ASSERT_EQ(res->u.list.len, 3);
    IPVM_ASSERT(has_issuer(res, n[2].did));
    /* the liar's output is the one that differs: node 1 and node 2 agree */
    const ipvm_ipld_t *by[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            if (ipvm_ipld_is_str(ipvm_ipld_map_get(res->u.list.items[i], "iss"), n[k].did))
                by[k] = ipvm_ipld_map_get(res->u.list.items[i], "out");
    IPVM_ASSERT(by[0] && by[1] && by[2]);
    IPVM_ASSERT(ipvm_ipld_equal(by[0], by[1]));
    IPVM_ASSERT(!ipvm_ipld_equal(by[0], by[2]));
    /* the conflict is not a verification: `receipt --verify` exits 1 */
    const char *vargs[] = {"-q", "receipt", "--verify", failed, NULL};
    IPVM_ASSERT_NE(vcmd(&n[0], vargs, -1, &out), 0);

    for (int i = 2; i >= 0; i--)
        vstop(&n[i]);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

/* ---- the p2p request/response hook the adapter rides on ----------------------------------- */
#include "../p2p/p2p_test.h"

#include <pthread.h>

#define ECHO_PROTO "/ipvm-test/echo/1.0.0"

typedef struct {
    ipvm_p2p_reply_t *reply;
    uint8_t req[64];
    size_t len;
    int served;
} echo_srv_t;

static void *reply_later(void *arg)
{
    echo_srv_t *s = arg;
    uv_sleep(20); /* answered from another thread, after the handler returned */
    uint8_t out[80] = "re:";
    memcpy(out + 3, s->req, s->len);
    ipvm_p2p_reply(s->reply, out, s->len + 3);
    return NULL;
}

static void on_echo(ipvm_p2p_host_t *h, const ipvm_peer_id_t *from, const uint8_t *req,
                    size_t len, ipvm_p2p_reply_t *reply, void *data)
{
    echo_srv_t *s = data;
    (void)h;
    (void)from;
    s->served++;
    s->reply = reply;
    s->len = len < sizeof s->req ? len : sizeof s->req;
    memcpy(s->req, req, s->len);
    pthread_t th;
    IPVM_ASSERT_EQ(pthread_create(&th, NULL, reply_later, s), 0);
    pthread_detach(th);
}

typedef struct {
    bool done;
    int status;
    char got[96];
} answer_t;

static void on_echo_answer(int status, const uint8_t *resp, size_t len, void *data)
{
    answer_t *a = data;
    a->status = status;
    snprintf(a->got, sizeof a->got, "%.*s", (int)len, resp ? (const char *)resp : "");
    a->done = true;
}

typedef struct {
    ipvm_p2p_host_t *h;
    size_t n;
    ipvm_peer_id_t ids[4];
    bool done;
} speakers_t;

static void *list_speakers(void *arg)
{
    speakers_t *s = arg;
    s->n = ipvm_p2p_peers_speaking(s->h, ECHO_PROTO, s->ids, 4);
    s->done = true;
    return NULL;
}

IPVM_TEST(trust, net_p2p_request_response)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    tnode_start(&n[0], &loop, false);
    tnode_start(&n[1], &loop, false);
    echo_srv_t srv = {0};
    IPVM_ASSERT_OK(ipvm_p2p_serve(n[1].host, ECHO_PROTO, 32, on_echo, &srv));
    IPVM_ASSERT_ERR(ipvm_p2p_serve(n[1].host, ECHO_PROTO, 32, on_echo, &srv), IPVM_EEXIST);
    tnode_connect(&loop, &n[0], &n[1]);
    const ipvm_peer_id_t *b = ipvm_p2p_identity_peer_id(n[1].id);

    /* a request, answered later from another thread */
    answer_t a = {0};
    IPVM_ASSERT_OK(ipvm_p2p_request(n[0].host, b, NULL, ECHO_PROTO, (const uint8_t *)"hello", 5,
                                    0, 3000, on_echo_answer, &a));
    IPVM_ASSERT(run_until(&loop, &a.done, 5000));
    IPVM_ASSERT_OK(a.status);
    IPVM_ASSERT_STREQ(a.got, "re:hello");
    IPVM_ASSERT_EQ(srv.served, 1);

    /* identify told n0 that n1 speaks it; asked from a thread other than the loop's */
    speakers_t sp = {n[0].host, 0, {{0}}, false};
    pthread_t th;
    IPVM_ASSERT_EQ(pthread_create(&th, NULL, list_speakers, &sp), 0);
    IPVM_ASSERT(run_until(&loop, &sp.done, 5000));
    pthread_join(th, NULL);
    IPVM_ASSERT_EQ(sp.n, 1);
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&sp.ids[0], b));

    /* a protocol the peer does not speak, an answer too big, a request too big */
    answer_t u = {0};
    IPVM_ASSERT_OK(ipvm_p2p_request(n[0].host, b, NULL, "/ipvm-test/none/1.0.0",
                                    (const uint8_t *)"x", 1, 0, 3000, on_echo_answer, &u));
    IPVM_ASSERT(run_until(&loop, &u.done, 5000));
    IPVM_ASSERT_EQ(u.status, IPVM_EUNSUPPORTED);
    answer_t big = {0};
    IPVM_ASSERT_OK(ipvm_p2p_request(n[0].host, b, NULL, ECHO_PROTO, (const uint8_t *)"0123456789",
                                    10, 8, 3000, on_echo_answer, &big));
    IPVM_ASSERT(run_until(&loop, &big.done, 5000));
    IPVM_ASSERT_EQ(big.status, IPVM_ETOOBIG);
    uint8_t huge[100];
    memset(huge, 'x', sizeof huge);
    answer_t over = {0};
    int served = srv.served;
    IPVM_ASSERT_OK(ipvm_p2p_request(n[0].host, b, NULL, ECHO_PROTO, huge, sizeof huge, 0, 3000,
                                    on_echo_answer, &over));
    IPVM_ASSERT(run_until(&loop, &over.done, 5000));
    IPVM_ASSERT_NE(over.status, 0);
    IPVM_ASSERT_EQ(srv.served, served); /* the handler never saw it */

    /* unserved: requests are reset, the handler is not called */
    ipvm_p2p_unserve(n[1].host, ECHO_PROTO);
    answer_t off = {0};
    IPVM_ASSERT_OK(ipvm_p2p_request(n[0].host, b, NULL, ECHO_PROTO, (const uint8_t *)"hi", 2, 0,
                                    3000, on_echo_answer, &off));
    IPVM_ASSERT(run_until(&loop, &off.done, 5000));
    IPVM_ASSERT_NE(off.status, 0);
    IPVM_ASSERT_EQ(srv.served, served);

    /* a peer not connected and with no address known */
    ipvm_p2p_identity_t *other = NULL;
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&other));
    answer_t none = {0};
    IPVM_ASSERT_OK(ipvm_p2p_request(n[0].host, ipvm_p2p_identity_peer_id(other), NULL, ECHO_PROTO,
                                    (const uint8_t *)"hi", 2, 0, 3000, on_echo_answer, &none));
    IPVM_ASSERT(run_until(&loop, &none.done, 5000));
    IPVM_ASSERT_EQ(none.status, IPVM_ENOENT);
    ipvm_p2p_identity_free(other);
    tnodes_stop(&loop, n, 2);
}
