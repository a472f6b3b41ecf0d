/* SPDX-License-Identifier: Apache-2.0 */
/* Five `ipvm node` daemons on 127.0.0.1 (ephemeral ports) bootstrapped to the first: node 1
 * runs Homestar's add-one workflow (it alone has the Wasm module); nodes 2-5 then run the same
 * workflow and execute nothing: every receipt comes from the network (gossip, checked). A sixth
 * node that joins afterwards, linked to node 3 only, finds the receipts through the DHT. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define NODES 6

typedef struct {
    char dir[1024];
    char url[256];
    char addr[512];
} dnode_t;

/* Runs `ipvm --data-dir DIR ARGS...`, returns stdout (caller disposes), fails on exit != want. */
static void ipvm_cmd(const dnode_t *n, const char *const *args, int want, ipvm_buf_t *out)
{
    ipvm_buf_t err = IPVM_BUF_INIT;
    ipvm_buf_init(out);
    if (getenv("IPVM_TEST_VERBOSE"))
        fprintf(stderr, "+ ipvm --data-dir %s %s %s %s\n", n->dir, args[0], args[1] ? args[1] : "",
                args[1] && args[2] ? args[2] : "");
    uint64_t t0 = ipvm_now_ns();
    int rc = ipvm_test_ipvm(n->dir, args, 60000, out, &err);
    if (getenv("IPVM_TEST_VERBOSE"))
        fprintf(stderr, "  (%.0f ms)\n", (double)(ipvm_now_ns() - t0) / 1e6);
    IPVM_ASSERT_MSG(rc == want, "ipvm %s %s: exit %d (want %d)\nstdout: %.2000s\nstderr: %.3000s",
                    args[0], args[1] ? args[1] : "", rc, want, (char *)out->data,
                    (char *)err.data);
    ipvm_buf_dispose(&err);
}

static void start_node(dnode_t *n, const char *bootstrap)
{
    char boot[700];
    snprintf(boot, sizeof boot, "p2p.bootstrap=%s", bootstrap ? bootstrap : "");
    const char *args[] = {"node",          "start",
                          "--detach",      "--port",
                          "0",             "--set",
                          "p2p.listen=/ip4/127.0.0.1/tcp/0",
                          "--set",         "p2p.heartbeat=100ms",
                          "--set",         "p2p.lookup_timeout=3s",
                          "--set",         boot,
                          NULL};
    ipvm_buf_t out;
    ipvm_cmd(n, args, 0, &out);
    ipvm_buf_dispose(&out);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *st[] = {"--json", "node", "status", NULL};
    ipvm_cmd(n, st, 0, &out);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &out);
    snprintf(n->url, sizeof n->url, "%s", ipvm_ipld_map_get(v, "rpc")->u.str.ptr);
    ipvm_buf_dispose(&out);
    const char *id[] = {"--json", "node", "id", NULL};
    ipvm_cmd(n, id, 0, &out);
    v = ipvm_test_json(&a, &out);
    const ipvm_ipld_t *addrs = ipvm_ipld_map_get(v, "addrs");
    IPVM_ASSERT(addrs && addrs->u.list.len > 0);
    snprintf(n->addr, sizeof n->addr, "%s", addrs->u.list.items[0]->u.str.ptr);
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
}

static size_t peer_count(dnode_t *n)
{
    ipvm_buf_t out;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *args[] = {"--json", "node", "peers", NULL};
    ipvm_cmd(n, args, 0, &out);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &out);
    size_t c = 0;
    for (size_t i = 0; i < v->u.list.len; i++) /* identified and speaking gossipsub */
        c += ipvm_ipld_map_get(v->u.list.items[i], "gossip")->u.boolean;
    ipvm_buf_dispose(&out);
    ipvm_arena_dispose(&a);
    return c;
}

typedef struct {
    int executed, replayed, failed;
    char sources[4][96];
} runres_t;

/* `ipvm run --node URL --json WORKFLOW`: counts from the summary, sources of the receipts. */
static void run_on(dnode_t *n, runres_t *r)
{
    const char *wf = ipvm_test_vector("homestar/workflows/test-workflow-add-one.json");
    const char *args[] = {"--json", "run", "--node", n->url, wf, NULL};
    ipvm_buf_t out;
    ipvm_cmd(n, args, 0, &out);
    memset(r, 0, sizeof *r);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    int k = 0;
    for (char *line = (char *)out.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        ipvm_ipld_t *v = NULL;
        if (ipvm_dagjson_decode(line, nl ? (size_t)(nl - line) : strlen(line), &a, &v, NULL) != 0)
            continue;
        int64_t x;
        if (ipvm_ipld_map_get(v, "executed") &&
            ipvm_ipld_get_i64(ipvm_ipld_map_get(v, "executed"), &x) == 0)
            r->executed = (int)x;
        if (ipvm_ipld_map_get(v, "summary") == NULL && ipvm_ipld_map_get(v, "replayed") &&
            ipvm_ipld_map_get(v, "tasks") && ipvm_ipld_get_i64(ipvm_ipld_map_get(v, "replayed"), &x) == 0)
            r->replayed = (int)x;
        if (ipvm_ipld_map_get(v, "failed") && ipvm_ipld_get_i64(ipvm_ipld_map_get(v, "failed"), &x) == 0)
            r->failed = (int)x;
    }
    ipvm_buf_dispose(&out);
    /* where the node's receipts came from: `ipvm receipts --json` (the source column) */
    const char *rargs[] = {"--json", "receipts", NULL};
    ipvm_cmd(n, rargs, 0, &out);
    k = 0;
    for (char *line = (char *)out.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        ipvm_ipld_t *v = NULL;
        if (ipvm_dagjson_decode(line, nl ? (size_t)(nl - line) : strlen(line), &a, &v, NULL) != 0)
            continue;
        const ipvm_ipld_t *src = ipvm_ipld_map_get(v, "source");
        if (src && src->kind == IPVM_IPLD_STRING && k < 4)
            snprintf(r->sources[k++], sizeof r->sources[0], "%s", src->u.str.ptr);
    }
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&out);
}

static void stop_all(dnode_t *nodes, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (nodes[i].url[0] == '\0')
            continue;
        /* node 1 compiled the module and is busy with its gcc -O2 tier for a while (the engine
         * finishes that before exiting): its receipts are committed, so it is killed */
        const char *args[] = {"-q", "node", "stop", i == 0 ? "--force" : NULL, NULL};
        ipvm_buf_t out;
        ipvm_cmd(&nodes[i], args, 0, &out);
        ipvm_buf_dispose(&out);
    }
}

IPVM_TEST(p2p, many_nodes_share_receipts)
{
    dnode_t n[NODES];
    memset(n, 0, sizeof n);
    for (int i = 0; i < NODES; i++)
        snprintf(n[i].dir, sizeof n[i].dir, "%s/node%d", ipvm_test_tmpdir(), i + 1);
    /* only node 1 has the module */
    const char *add[] = {"-q", "add", ipvm_test_vector("homestar/wasm/example_test.wasm"), NULL};
    ipvm_buf_t out;
    ipvm_cmd(&n[0], add, 0, &out);
    ipvm_buf_dispose(&out);
    start_node(&n[0], NULL);
    for (int i = 1; i < 5; i++)
        start_node(&n[i], n[0].addr);
    for (int i = 0; i < 5; i++) { /* every node is linked (nodes 2-5 through node 1) */
        size_t want = i == 0 ? 4 : 1;
        for (int t = 0; t < 100 && peer_count(&n[i]) < want; t++)
            uv_sleep(100);
        IPVM_ASSERT_MSG(peer_count(&n[i]) >= want, "node %d has too few peers", i + 1);
    }
    uv_sleep(300); /* heartbeats graft the gossip meshes */
    runres_t r;
    run_on(&n[0], &r);
    IPVM_ASSERT_EQ(r.executed, 2);
    IPVM_ASSERT_EQ(r.failed, 0);
    uv_sleep(300); /* gossip reaches everyone */
    for (int i = 1; i < 5; i++) {
        run_on(&n[i], &r);
        IPVM_ASSERT_MSG(r.executed == 0 && r.replayed == 2 && r.failed == 0,
                        "node %d executed %d, replayed %d, failed %d", i + 1, r.executed,
                        r.replayed, r.failed);
        IPVM_ASSERT_MSG(strncmp(r.sources[0], "peer:", 5) == 0 ||
                            strncmp(r.sources[0], "dht:", 4) == 0,
                        "node %d: receipt source %s", i + 1, r.sources[0]);
    }
    /* a latecomer, linked to node 3 only, missed the gossip: the DHT has the receipts. Nodes
     * 2-5 re-gossiped what they found (with fresh nonces, as Homestar does), and a peer offers
     * a message in IHAVE for 3 heartbeats and serves it for 5: wait those out (100 ms each)
     * so that the only way left is the DHT. */
    uv_sleep(1500);
    start_node(&n[5], n[2].addr);
    for (int t = 0; t < 100 && peer_count(&n[5]) < 1; t++)
        uv_sleep(100);
    uv_sleep(300);
    run_on(&n[5], &r);
    IPVM_ASSERT_MSG(r.executed == 0 && r.replayed == 2, "latecomer executed %d, replayed %d",
                    r.executed, r.replayed);
    IPVM_ASSERT_MSG(strncmp(r.sources[0], "dht:", 4) == 0, "latecomer's source: %s",
                    r.sources[0]);
    stop_all(n, NODES);
}
