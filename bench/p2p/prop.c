/* SPDX-License-Identifier: Apache-2.0 */
/* Receipt propagation: 10 hosts on loopback, linked as a ring plus one seeded random link per
 * node (the same edges on both sides); node 0 publishes receipts on gossipsub topic "receipts",
 * one every INTERVAL ms; each (receipt, receiving node) pair's latency is the time from publish
 * to delivery. Two ipvm rows: the whole receipt path (the scheduler's receipt_published hook ->
 * the receipts layer: gossip publish and DHT PUT; receivers decode the message, recompute the
 * receipt CID, cache it and keep its DHT record: timed at the RECEIPT_RECEIVED event) and plain
 * gossipsub (ipvm_p2p_publish of a message as large as the receipt's, timed at the topic
 * handler), which is what the js-libp2p nodes do. */
#include "bench_p2p.h"

#include "p2p/receipts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NODES 10
#define MAX_EDGES (2 * NODES)

typedef struct {
    ipvm_arena_t a;
    ipvm_receipt_t *r;
    ipvm_buf_t *cbor;
    size_t count;
    size_t gossip_len; /* bytes of one receipt's gossip message */
} fakes_t;

typedef struct prop_s {
    bnode_t nodes[NODES];
    int deg[NODES];
    fakes_t *f;
    size_t count, next, received, expected;
    uint64_t *t0;
    uint8_t *seen; /* [node][receipt] */
    double *lat_ms;
    bool plain;
    uint8_t *msg; /* the plain message template */
    size_t msg_len;
    uv_timer_t pub;
} prop_t;

/* Receipts {ran, out: ["ok", k], meta: {op: "add_one"}, iss: null, prf: []} of made-up
 * invocations and instructions, as the scheduler would hand them to the network hook. */
static void fakes_make(fakes_t *f, size_t count)
{
    memset(f, 0, sizeof *f);
    ipvm_arena_init(&f->a);
    f->count = count;
    f->r = calloc(count, sizeof *f->r);
    f->cbor = calloc(count, sizeof *f->cbor);
    if (!f->r || !f->cbor)
        die("out of memory");
    for (size_t k = 0; k < count; k++) {
        char s[48];
        ipvm_cid_t ins, inv;
        ipvm_arena_t *a = &f->a;
        snprintf(s, sizeof s, "bench instruction %zu", k);
        snprintf(s + 24, sizeof s - 24, "inv %zu", k);
        if (ipvm_cid_create(&ins, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, (uint8_t *)s, 24) ||
            ipvm_cid_create(&inv, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, (uint8_t *)s + 24,
                            strlen(s + 24)))
            die("cid");
        ipvm_ipld_t *out = ipvm_ipld_new_list(a, 2), *meta = ipvm_ipld_new_map(a, 1);
        ipvm_ipld_t *m = ipvm_ipld_new_map(a, 5);
        if (ipvm_ipld_list_push(a, out, ipvm_ipld_new_cstring(a, "ok")) ||
            ipvm_ipld_list_push(a, out, ipvm_ipld_new_int(a, (int64_t)k + 1)) ||
            ipvm_ipld_map_set_cstr(a, meta, "op", ipvm_ipld_new_cstring(a, "add_one")) ||
            ipvm_ipld_map_set_cstr(a, m, "ran", ipvm_ipld_new_link(a, &inv)) ||
            ipvm_ipld_map_set_cstr(a, m, "out", out) ||
            ipvm_ipld_map_set_cstr(a, m, "meta", meta) ||
            ipvm_ipld_map_set_cstr(a, m, "iss", ipvm_ipld_new_null(a)) ||
            ipvm_ipld_map_set_cstr(a, m, "prf", ipvm_ipld_new_list(a, 0)))
            die("out of memory");
        ipvm_ipld_map_sort(m);
        if (ipvm_receipt_from_ipld(m, a, &f->r[k], NULL) != 0)
            die("receipt");
        f->r[k].instruction = ins;
        f->r[k].has_instruction = true;
        if (ipvm_receipt_encode(&f->r[k], &f->cbor[k], NULL) != 0)
            die("receipt encode");
    }
    ipvm_buf_t g = IPVM_BUF_INIT;
    if (p2p_rc_gossip_encode(&f->r[0], &f->r[0].instruction, NULL, 0, &f->a, &g) != 0)
        die("gossip encode");
    f->gossip_len = g.len;
    ipvm_buf_dispose(&g);
}

static void fakes_free(fakes_t *f)
{
    for (size_t k = 0; k < f->count; k++)
        ipvm_buf_dispose(&f->cbor[k]);
    free(f->cbor);
    free(f->r);
    ipvm_arena_dispose(&f->a);
}

/* A ring plus, for each node, one link to a random node it is not linked to yet. */
static size_t topology(int (*e)[2])
{
    size_t n = 0;
    uint32_t seed = 20261202u;
    for (int i = 0; i < NODES; i++) {
        e[n][0] = i;
        e[n++][1] = (i + 1) % NODES;
    }
    for (int i = 0; i < NODES; i++) {
        for (int tries = 0; tries < 100; tries++) {
            seed = seed * 1103515245u + 12345u;
            int j = (int)((seed >> 16) % NODES);
            bool dup = j == i;
            for (size_t k = 0; k < n && !dup; k++)
                dup = (e[k][0] == i && e[k][1] == j) || (e[k][0] == j && e[k][1] == i);
            if (!dup) {
                e[n][0] = i;
                e[n++][1] = j;
                break;
            }
        }
    }
    return n;
}

static void got(prop_t *p, int node, size_t k)
{
    uint8_t *s = &p->seen[(size_t)node * p->count + k];
    if (node == 0 || *s || k >= p->next)
        return;
    *s = 1;
    p->lat_ms[p->received++] = (double)(ipvm_now_ns() - p->t0[k]) / 1e6;
}

static void on_event(const ipvm_p2p_event_t *ev, void *data)
{
    bnode_t *n = data;
    prop_t *p = n->run;
    if (ev->kind != IPVM_P2P_EV_RECEIPT_RECEIVED || p == NULL || p->plain || ev->cid == NULL)
        return;
    for (size_t k = 0; k < p->count; k++)
        if (ipvm_cid_equal(&p->f->r[k].cid, ev->cid)) {
            got(p, n->index, k);
            return;
        }
}

static ipvm_p2p_verdict_t on_message(ipvm_p2p_host_t *h, const ipvm_p2p_message_t *m,
                                     void *data)
{
    (void)h;
    bnode_t *n = data;
    prop_t *p = n->run;
    if (m->len >= 4)
        got(p, n->index, ipvm__be32_get(m->data));
    return IPVM_P2P_ACCEPT;
}

static void publish_one(uv_timer_t *t)
{
    prop_t *p = t->data;
    size_t k = p->next;
    if (k >= p->count) {
        uv_timer_stop(t);
        return;
    }
    p->next++;
    p->t0[k] = ipvm_now_ns();
    bnode_t *n = &p->nodes[0];
    if (p->plain) {
        ipvm__be32_put(p->msg, (uint32_t)k);
        if (ipvm_p2p_publish(n->host, RC_TOPIC, p->msg, p->msg_len, NULL) != 0)
            die("publish failed");
        return;
    }
    ipvm_sched_net_hooks_t hooks;
    ipvm_p2p_receipts_net_hooks(n->rc, &hooks);
    ipvm_sched_receipt_t sr;
    memset(&sr, 0, sizeof sr);
    sr.receipt = p->f->r[k];
    sr.cbor = p->f->cbor[k].data;
    sr.cbor_len = p->f->cbor[k].len;
    sr.source = "local";
    hooks.receipt_published(hooks.data, NULL, &sr);
}

static bool meshed(void *data)
{
    prop_t *p = data;
    for (int i = 0; i < NODES; i++) {
        size_t want = (size_t)(p->deg[i] < p->nodes[i].cfg.gossip_d ? p->deg[i]
                                                                    : p->nodes[i].cfg.gossip_d);
        if (ipvm_p2p_mesh_size(p->nodes[i].host, RC_TOPIC) < want)
            return false;
    }
    return true;
}

static bool all_received(void *data)
{
    prop_t *p = data;
    return p->received >= p->expected;
}

/* One ipvm run; fills lat_ms (returns how many) and *mesh_ms. */
static size_t prop_run(fakes_t *f, bool plain, int interval, double *lat_ms, double *mesh_ms,
                       double *cpu_us)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    prop_t *p = calloc(1, sizeof *p);
    int edges[MAX_EDGES][2];
    size_t ne = topology(edges);
    p->f = f;
    p->count = f->count;
    p->plain = plain;
    p->expected = (NODES - 1) * f->count;
    p->t0 = calloc(f->count, sizeof *p->t0);
    p->seen = calloc(NODES * f->count, 1);
    p->lat_ms = lat_ms;
    p->msg_len = f->gossip_len;
    p->msg = calloc(1, p->msg_len);
    if (!p->t0 || !p->seen || !p->msg)
        die("out of memory");
    for (size_t i = 0; i < p->msg_len; i++)
        p->msg[i] = (uint8_t)(i * 131);
    for (size_t i = 0; i < ne; i++) {
        p->deg[edges[i][0]]++;
        p->deg[edges[i][1]]++;
    }
    for (int i = 0; i < NODES; i++) {
        bnode_t *n = &p->nodes[i];
        ipvm_p2p_config_init(&n->cfg);
        n->cfg.on_event = on_event;
        n->cfg.event_data = n;
        n->index = i;
        n->run = p;
        bnode_start(n, &loop);
        ipvm_error_t err = {0};
        if (plain ? ipvm_p2p_subscribe(n->host, RC_TOPIC, on_message, n) != 0
                  : ipvm_p2p_receipts_new(n->host, NULL, &n->rc, &err) != 0)
            die("cannot subscribe: %s", err.msg);
    }
    uint64_t start = ipvm_now_ns();
    if (bnodes_link(&loop, p->nodes, (const int(*)[2])edges, ne) != 0)
        die("some links failed");
    if (!run_until(&loop, meshed, p, 20000))
        fprintf(stderr, "bench_p2p: ipvm meshes did not all form in 20 s\n");
    *mesh_ms = (double)(ipvm_now_ns() - start) / 1e6;
    uv_timer_init(&loop, &p->pub);
    p->pub.data = p;
    double c0 = cpu_seconds();
    uv_timer_start(&p->pub, publish_one, 1, (uint64_t)interval);
    run_until(&loop, all_received, p, (int)(f->count * (size_t)interval) + 5000);
    *cpu_us = (cpu_seconds() - c0) * 1e6 / (double)(p->received ? p->received : 1);
    uv_close((uv_handle_t *)&p->pub, NULL);
    size_t got_n = p->received;
    bnodes_stop(&loop, p->nodes, NODES);
    uv_loop_close(&loop);
    free(p->t0);
    free(p->seen);
    free(p->msg);
    free(p);
    return got_n;
}

static void edges_arg(char *buf, size_t size)
{
    int e[MAX_EDGES][2];
    size_t n = topology(e), off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%d-%d", i ? "," : "", e[i][0], e[i][1]);
}

/* The js run: the same edges, count, interval and message size. */
static size_t prop_js(fakes_t *f, int interval, double *lat_ms, double *mesh_ms, double *cpu_us)
{
    char edges[512], count[16], iv[16], size[16];
    edges_arg(edges, sizeof edges);
    snprintf(count, sizeof count, "%zu", f->count);
    snprintf(iv, sizeof iv, "%d", interval);
    snprintf(size, sizeof size, "%zu", f->gossip_len);
    const char *argv[] = {"propagation", "--nodes", "10", "--count", count, "--interval", iv,
                          "--size", size, "--edges", edges, NULL};
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = js_run(argv, &a, 120000);
    const ipvm_ipld_t *l = v ? ipvm_ipld_map_get(v, "lat_us") : NULL;
    size_t n = 0;
    for (size_t i = 0; l && l->kind == IPVM_IPLD_LIST && i < l->u.list.len; i++)
        if (n < (NODES - 1) * f->count)
            lat_ms[n++] = (double)l->u.list.items[i]->u.integer.mag / 1000.0;
    *mesh_ms = jnum(v, "mesh_ms");
    *cpu_us = n ? jnum(v, "cpu_s") * 1e6 / (double)n : -1;
    ipvm_arena_dispose(&a);
    return n;
}

static void rows(report_t *r, const char *what, double *ipvm, size_t ni, double *js, size_t nj,
                 size_t expected)
{
    char name[96];
    double i50 = percentile(ipvm, ni, 0.5), i99 = percentile(ipvm, ni, 0.99);
    double j50 = js ? percentile(js, nj, 0.5) : -1, j99 = js ? percentile(js, nj, 0.99) : -1;
    snprintf(name, sizeof name, "propagation p50, %s", what);
    row_t *w = report_row(r, name, "ms", false);
    w->ipvm = i50;
    w->js = j50;
    snprintf(w->note, sizeof w->note, "delivered ipvm %zu/%zu%s", ni, expected, js ? "" : "");
    if (js)
        snprintf(w->note, sizeof w->note, "delivered ipvm %zu/%zu, js %zu/%zu", ni, expected, nj,
                 expected);
    snprintf(name, sizeof name, "propagation p99, %s", what);
    w = report_row(r, name, "ms", false);
    w->ipvm = i99;
    w->js = j99;
    snprintf(w->note, sizeof w->note, "target < 50 ms: %s", i99 < 50 ? "met" : "NOT met");
}

void bench_propagation(report_t *r, bool quick)
{
    size_t count = quick ? 50 : 200;
    int interval = bench_interval_ms;
    fakes_t f;
    fakes_make(&f, count);
    size_t cap = (NODES - 1) * count;
    double *a = calloc(cap, sizeof *a), *b = calloc(cap, sizeof *b), *c = calloc(cap, sizeof *c);
    if (!a || !b || !c)
        die("out of memory");
    double ma = 0, mb = 0, mc = 0, ca = -1, cb = -1, cc = -1;
    fprintf(stderr, "bench_p2p: propagation, %zu receipts to 9 nodes, ipvm receipts layer...\n",
            count);
    size_t na = prop_run(&f, false, interval, a, &ma, &ca);
    fprintf(stderr, "bench_p2p: propagation, ipvm plain gossipsub...\n");
    size_t nb = prop_run(&f, true, interval, b, &mb, &cb);
    fprintf(stderr, "bench_p2p: propagation, js-libp2p gossipsub...\n");
    size_t nc = prop_js(&f, interval, c, &mc, &cc);
    rows(r, "receipts layer (verify+cache+DHT)", a, na, c, nc, cap);
    row_t *w = report_row(r, "  CPU per (receipt, node), receipts layer", "us", false);
    w->ipvm = ca;
    w->js = cc;
    snprintf(w->note, sizeof w->note, "all 10 nodes, all threads; js: plain gossipsub");
    rows(r, "plain gossipsub, same message size", b, nb, c, nc, cap);
    w = report_row(r, "  CPU per (message, node), plain gossipsub", "us", false);
    w->ipvm = cb;
    w->js = cc;
    snprintf(w->note, sizeof w->note, "all 10 nodes, all threads");
    w = report_row(r, "mesh formed after (10 nodes, 20 links)", "ms", false);
    w->ipvm = mb;
    w->js = mc;
    snprintf(w->note, sizeof w->note, "receipts-layer run: %.0f ms", ma);
    free(a);
    free(b);
    free(c);
    fakes_free(&f);
}
