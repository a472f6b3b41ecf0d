/* SPDX-License-Identifier: Apache-2.0 */
/* bench_rpc: what does running workflows through the node's JSON-RPC API cost over running
 * them in-process? The same workflows (chains of Homestar's add_one, every task executed) run
 *   - embedded: ipvm_sched_run on CLIENTS threads, in this process, with the node's executor;
 *   - over RPC: CLIENTS WebSocket connections (ipvm_rpc_client, all driven by one thread on
 *     one loop) submit them to an `ipvm node` process with subscribe_run_workflow and wait
 *     for every receipt notification, then unsubscribe; every receipt is checked;
 * and the table gives receipts per second, per-workflow latency (submission to last receipt;
 * p50/p99) for both, their ratio, and the idle node's resident memory.
 *
 *   bench_rpc [--workflows N] [--tasks T] [--clients K] [--dir DIR] [--node IPVM]
 *             [--image-workflows N] [--no-fixtures] [--no-pipeline] [--no-batch]
 *             [--transport tcp|unix|both]
 *
 * The headline has three RPC rows: strict (each workflow's unsubscribe answered before the next
 * subscribe is sent), pipelined (the unsubscribe and the next subscribe sent back to back,
 * as an event-driven JSON-RPC client may; --no-pipeline leaves that row out) and batched (the
 * two as one JSON-RPC batch, one message each way; --no-batch leaves it out).
 * --transport says where the clients connect: tcp (the default: 127.0.0.1, loopback TCP), unix
 * (the node's rpc.socket, a Unix-domain socket) or both, whose rounds alternate on the one
 * node (embedded, then each RPC row over TCP and over the socket) so that each row has its
 * TCP and unix figures from the same conditions.
 *
 * After the headline (the add_one chains) come extra rows, on a node of their own, for
 * Homestar's fixture workflows (tests/vectors/homestar/workflows: add-one with --workflows and
 * --clients, image-pipeline with --image-workflows, 3 rounds), each run with its own nonces.
 *
 * --node runs another build of the `ipvm` program as the node (to compare two versions in
 * the same conditions; the embedded side is always this build).
 * Data dirs go on /dev/shm when it exists (--dir to choose), so that disk syncs, which both
 * paths share, do not drown the difference being measured. */
#define _GNU_SOURCE
#include "ipvm.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RSC "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

typedef struct {
    size_t workflows, tasks;
    unsigned clients;
    size_t image_workflows; /* for the image-pipeline row (0: none) */
    bool fixtures;          /* the fixture rows */
    bool pipeline;          /* the headline's pipelined RPC row */
    bool batch;             /* the headline's batched RPC row */
    unsigned transports;    /* TCP_ROWS | UNIX_ROWS: where the headline's clients connect */
    char dir[4096];
    const char *node; /* the ipvm program to start */
} cfg_t;

#define TCP_ROWS 1u
#define UNIX_ROWS 2u

static cfg_t cfg = {800, 2, 8, 2, true, true, true, TCP_ROWS, "", IPVM_BINARY_DIR "/ipvm"};

static const char *const transport_name[2] = {"TCP", "unix socket"};

static void die(const char *what, const ipvm_error_t *err)
{
    fprintf(stderr, "bench_rpc: %s: %s\n", what, err && err->msg[0] ? err->msg : "failed");
    exit(1);
}

static double now_s(void)
{
    return (double)ipvm_now_ns() / 1e9;
}

/* What a table row runs. The headline: chains of cfg.tasks add_one tasks with arguments no
 * other workflow uses. The fixture rows: one of Homestar's test workflows as it is (its meta,
 * arguments and functions), except that each run gives every task its own nonce (nnc) and
 * points the awaits at the renamed tasks, so that every task executes (nothing replays). */
typedef struct {
    const char *label;
    const char *file; /* the fixture, in tests/vectors/homestar/workflows/ (NULL: headline) */
    size_t tasks, workflows;
    unsigned clients;
    int rounds;
    const uint64_t *want; /* the outputs that must come, in task order; NULL: see `out` */
    ipvm_arena_t arena;
    ipvm_ipld_t *fixture; /* decoded */
    ipvm_cid_t *cids;     /* its instruction CIDs, in task order */
    ipvm_cid_t *out;      /* the CID of each task's first output (the warm-up's): every later
                             output of that task must be the same */
    bool have_out;
} load_t;

static load_t *load; /* the row running */

static void workflow_json(uint64_t k, ipvm_buf_t *out);

/* Re-points links to the fixture's instructions (awaits) at the renamed ones. */
static void relink(ipvm_arena_t *a, ipvm_ipld_t *v, const ipvm_cid_t *from, size_t n,
                   const ipvm_cid_t *to)
{
    if (v->kind == IPVM_IPLD_LINK) {
        for (size_t i = 0; i < n; i++)
            if (ipvm_cid_equal(v->u.link, &from[i]) &&
                (v->u.link = ipvm_arena_memdup(a, &to[i], sizeof to[i])) == NULL)
                die("out of memory", NULL);
    } else if (v->kind == IPVM_IPLD_LIST) {
        for (size_t i = 0; i < v->u.list.len; i++)
            relink(a, v->u.list.items[i], from, n, to);
    } else if (v->kind == IPVM_IPLD_MAP) {
        for (size_t i = 0; i < v->u.map.len; i++)
            relink(a, v->u.map.entries[i].value, from, n, to);
    }
}

static ipvm_ipld_t *map_value(ipvm_ipld_t *m, const char *key)
{
    for (size_t i = 0; m && m->kind == IPVM_IPLD_MAP && i < m->u.map.len; i++)
        if (strcmp(m->u.map.entries[i].key, key) == 0)
            return m->u.map.entries[i].value;
    die("the fixture lacks a member", NULL);
    return NULL;
}

/* The fixture with a nonce of its own in every task: k and the task's index in hex, a
 * 12-byte base32hex nonce as Homestar writes them (the last character's unused bits zero). */
static void fixture_json(uint64_t k, ipvm_buf_t *out)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *wf = ipvm_ipld_clone(&a, load->fixture);
    ipvm_ipld_t *tasks = wf ? map_value(wf, "tasks") : NULL;
    ipvm_cid_t *to = ipvm_arena_alloc(&a, load->tasks * sizeof *to);
    if (tasks == NULL || to == NULL)
        die("out of memory", NULL);
    for (size_t i = 0; i < load->tasks; i++) {
        ipvm_ipld_t *run = map_value(tasks->u.list.items[i], "run");
        relink(&a, run, load->cids, i, to);
        char nnc[64];
        snprintf(nnc, sizeof nnc, "%016llx%03zx0", (unsigned long long)k, i);
        for (size_t j = 0; j < run->u.map.len; j++)
            if (strcmp(run->u.map.entries[j].key, "nnc") == 0)
                run->u.map.entries[j].value = ipvm_ipld_new_cstring(&a, nnc);
        if (ipvm_ipld_cid(run, IPVM_MH_SHA3_256, &to[i], NULL) != 0)
            die("a fixture task's CID", NULL);
    }
    ipvm_buf_clear(out);
    ipvm_error_t err;
    if (ipvm_dagjson_encode(wf, 0, out, &err) != 0)
        die("encoding a fixture", &err);
    ipvm_arena_dispose(&a);
}

/* Loads l->file into l: its tasks and their instruction CIDs. */
static void fixture_open(load_t *l)
{
    char path[4200];
    snprintf(path, sizeof path, IPVM_SOURCE_DIR "/tests/vectors/homestar/workflows/%s", l->file);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_arena_init(&l->arena);
    if (ipvm_file_read(path, &b, &err) != 0 ||
        ipvm_dagjson_decode((char *)b.data, b.len, &l->arena, &l->fixture, &err) != 0)
        die(path, &err);
    ipvm_buf_dispose(&b);
    ipvm_ipld_t *tasks = map_value(l->fixture, "tasks");
    l->tasks = tasks->u.list.len;
    l->cids = ipvm_arena_alloc(&l->arena, l->tasks * sizeof *l->cids);
    l->out = ipvm_arena_alloc(&l->arena, l->tasks * sizeof *l->out);
    if (l->cids == NULL || l->out == NULL)
        die("out of memory", NULL);
    for (size_t i = 0; i < l->tasks; i++)
        if (ipvm_ipld_cid(map_value(tasks->u.list.items[i], "run"), IPVM_MH_SHA3_256, &l->cids[i],
                          NULL) != 0)
            die("a fixture task's CID", NULL);
}

/* The workflow of run k (unique per workflow and round: nothing replays). */
static void build_workflow(uint64_t k, ipvm_buf_t *out)
{
    if (load->fixture)
        fixture_json(k, out);
    else
        workflow_json(k, out);
}

/* A chain of cfg.tasks add_one tasks starting at k (unique per workflow: nothing replays). */
static void workflow_json(uint64_t k, ipvm_buf_t *out)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_clear(out);
    char prev[IPVM_CID_MAX_STR] = "";
    int rc = ipvm_buf_append_str(out, "{\"tasks\":[");
    for (size_t i = 0; rc == 0 && i < cfg.tasks; i++) {
        char arg[160];
        if (i == 0)
            snprintf(arg, sizeof arg, "%llu", (unsigned long long)k);
        else
            snprintf(arg, sizeof arg, "{\"await/ok\":{\"/\":\"%s\"}}", prev);
        char run[512];
        snprintf(run, sizeof run,
                 "{\"input\":{\"args\":[%s],\"func\":\"add_one\"},\"nnc\":\"\",\"op\":\"wasm/run\","
                 "\"rsc\":\"" RSC "\"}",
                 arg);
        rc = ipvm_buf_printf(out, "%s{\"cause\":null,\"meta\":{},\"prf\":[],\"run\":%s}",
                             i ? "," : "", run);
        ipvm_ipld_t *v = NULL;
        ipvm_cid_t cid;
        if (rc == 0 && (rc = ipvm_dagjson_decode(run, strlen(run), &a, &v, NULL)) == 0 &&
            (rc = ipvm_ipld_cid(v, IPVM_MH_SHA3_256, &cid, NULL)) == 0)
            ipvm_cid_str(&cid, prev);
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "]}");
    ipvm_arena_dispose(&a);
    if (rc)
        die("building a workflow", NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void add_module(const char *data_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/blocks", data_dir);
    ipvm_blockstore_t *bs;
    ipvm_error_t err;
    ipvm_cid_t root;
    if (ipvm_blockstore_open(path, &bs, &err) != 0)
        die("blockstore", &err);
    if (ipvm_unixfs_add_path(bs, IPVM_SOURCE_DIR "/tests/vectors/homestar/wasm/example_test.wasm",
                             &root, &err) != 0 ||
        ipvm_unixfs_add_path(bs, IPVM_SOURCE_DIR "/tests/vectors/homestar/data/synthcat.png", &root,
                             &err) != 0) /* the image-pipeline fixture's input */
        die("adding example_test.wasm and synthcat.png", &err);
    ipvm_blockstore_close(bs);
}

typedef struct {
    double secs, p50, p99;
    size_t receipts;
    double cpu_self, cpu_node; /* CPU seconds used by this process and by the node */
    long csw_self;             /* voluntary context switches of this process (hand-offs) */
} result_t;

#include <sys/resource.h>
static long self_csw(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static pid_t node_pid;
static double node_cpu(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)node_pid);
    FILE *f = node_pid ? fopen(path, "r") : NULL;
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- embedded ---------------------------------------------------------------------------------
 */

typedef struct {
    ipvm_sched_t *sched;
    size_t first, count;
    uint64_t base;
    double *lat;
    size_t receipts;
} emb_t;

static void *emb_main(void *arg)
{
    emb_t *e = arg;
    ipvm_buf_t json = IPVM_BUF_INIT;
    for (size_t i = 0; i < e->count; i++) {
        build_workflow(e->base + (e->first + i) * (load->tasks + 1), &json);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_workflow_t *wf;
        ipvm_sched_result_t res;
        ipvm_error_t err;
        double t0 = now_s();
        if (ipvm_sched_parse(e->sched, (char *)json.data, json.len, &a, &wf, &err) != 0)
            die("parse", &err);
        if (ipvm_sched_run(e->sched, wf, NULL, &a, &res, &err) != 0) {
            char v[300] = "";
            if (res.receipts && res.receipts[0].task)
                ipvm_ipld_summary(ipvm_receipt_value(&res.receipts[0].receipt), v, sizeof v);
            fprintf(stderr, "bench_rpc: first receipt: %s\n", v);
            die("embedded run", &err);
        }
        e->lat[e->first + i] = now_s() - t0;
        e->receipts += res.executed + res.replayed;
        ipvm_arena_dispose(&a);
    }
    ipvm_buf_dispose(&json);
    return NULL;
}

typedef struct {
    ipvm_blockstore_t *bs;
    ipvm_resolver_t *rs;
    ipvm_wasm_engine_t *eng;
    ipvm_node_exec_t *x;
    ipvm_sched_t *s;
} embedded_t;

static void embedded_open(embedded_t *m, const char *data_dir)
{
    char path[4400], cache[4400];
    ipvm_error_t err;
    snprintf(path, sizeof path, "%s/blocks", data_dir);
    snprintf(cache, sizeof cache, "%s/cache", data_dir);
    /* tcc only in both paths: a gcc -O2 compile finishing mid-run would change one side only */
    ipvm_wasm_engine_opts_t eo = {.cache_dir = cache, .gcc_tier = 0};
    if (ipvm_blockstore_open(path, &m->bs, &err) || ipvm_resolver_new(m->bs, NULL, &m->rs, &err) ||
        ipvm_wasm_engine_new(&eo, &m->eng, &err) ||
        ipvm_node_exec_new(m->eng, m->rs, NULL, 0, &m->x))
        die("embedded setup", &err);
    snprintf(path, sizeof path, "%s/ipvm.db", data_dir);
    ipvm_sched_opts_t so = {.db_path = path,
                            .engine = m->eng,
                            .resolver = m->rs,
                            .executor = ipvm_node_exec_executor(m->x)};
    if (ipvm_sched_new(&so, &m->s, &err))
        die("scheduler", &err);
    /* warm-up: compile the module and touch the database */
    emb_t warm = {m->s, 0, 1, 2000000000ull, (double[1]){0}, 0};
    emb_main(&warm);
}

static void embedded_close(embedded_t *m)
{
    ipvm_sched_free(m->s);
    ipvm_node_exec_free(m->x);
    ipvm_wasm_engine_free(m->eng);
    ipvm_resolver_free(m->rs);
    ipvm_blockstore_close(m->bs);
}

static result_t run_embedded(embedded_t *m, uint64_t base, unsigned clients, size_t workflows)
{
    ipvm_sched_t *s = m->s;
    double *lat = calloc(workflows, sizeof *lat);
    emb_t *e = calloc(clients, sizeof *e);
    pthread_t *t = calloc(clients, sizeof *t);
    double c0 = self_cpu(), n0 = node_cpu();
    long s0 = self_csw();
    double t0 = now_s();
    for (unsigned i = 0; i < clients; i++) {
        size_t per = workflows / clients;
        e[i] = (emb_t){s, i * per, per, base, lat, 0};
        pthread_create(&t[i], NULL, emb_main, &e[i]);
    }
    result_t r = {0};
    for (unsigned i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        r.receipts += e[i].receipts;
    }
    r.secs = now_s() - t0;
    r.cpu_self = self_cpu() - c0;
    r.cpu_node = node_cpu() - n0;
    r.csw_self = self_csw() - s0;
    size_t n = workflows / clients * clients;
    r.p50 = pct(lat, n, 0.5);
    r.p99 = pct(lat, n, 0.99);
    free(lat);
    free(e);
    free(t);
    return r;
}

/* ---- over RPC ---------------------------------------------------------------------------------
 * One thread drives every client's connection (ipvm_rpc_client_connect_also: one loop, one
 * lws context), as an event-driven client of a node would: per connection one workflow at a
 * time, subscribe -> load->tasks notifications (each checked to be of this subscription) ->
 * unsubscribe -> the next workflow. Strict: the unsubscribe's answer is awaited before the next
 * subscribe is sent. Pipelined (JSON-RPC lets a client send without waiting for earlier
 * answers): the unsubscribe and the next subscribe are sent back to back; the unsubscribe's
 * answer must still come (true) before that connection's next unsubscribe and before the end,
 * and a notification of the unsubscribed subscription fails the bench whenever it comes.
 * Batched: as pipelined, the two requests in one JSON-RPC batch (one message), and the
 * unsubscribe's answer must come before the subscribe's (the node answers the batch in order).
 * The notifications are kept and, after the timed part, decoded and checked in full
 * (receipt_check). */

enum { C_SUBSCRIBE, C_NOTES, C_UNSUBSCRIBE, C_DONE };

typedef struct {
    ipvm_rpc_client_t *c;
    size_t first, count, done; /* its workflows: first .. first + count - 1; done of them */
    int state;
    uint64_t pending;      /* the id of the request whose answer is awaited */
    uint64_t unsub;        /* pipelined: the id of an unsubscribe not yet answered (0: none) */
    char sub[128];         /* the subscription id (its JSON text, quotes included) */
    size_t sub_len, notes; /* notifications of the current workflow */
    double t0;             /* when the current workflow was submitted */
} conn_t;

typedef struct {
    size_t workflows;
    uint64_t base;
    double *lat;       /* per workflow */
    ipvm_buf_t *notes; /* per workflow, load->tasks each: the notifications' texts */
    bool pipeline;     /* the next subscribe goes with the unsubscribe (see above) */
    bool batch;        /* ... in one JSON-RPC batch (one message; implies pipeline) */
    ipvm_buf_t json, params, msg;
} drive_t;

static void bad_message(const char *why, const ipvm_buf_t *msg)
{
    fprintf(stderr, "bench_rpc: %s: %.300s\n", why, msg->data ? (const char *)msg->data : "");
    exit(1);
}

/* Builds the params of k's next workflow's subscribe into d->params; k waits for its answer. */
static void conn_prepare(drive_t *d, conn_t *k)
{
    build_workflow(d->base + (k->first + k->done) * (load->tasks + 1), &d->json);
    ipvm_buf_clear(&d->params);
    if (ipvm_buf_printf(&d->params, "[{\"name\":\"bench\",\"workflow\":%s}]", (char *)d->json.data))
        die("params", NULL);
    k->t0 = now_s();
    k->notes = 0;
    k->state = C_SUBSCRIBE;
}

static void conn_submit(drive_t *d, conn_t *k)
{
    ipvm_error_t err;
    conn_prepare(d, k);
    if (ipvm_rpc_client_send(k->c, "subscribe_run_workflow", (char *)d->params.data, &k->pending,
                             &err) != 0)
        die("subscribe_run_workflow", &err);
}

/* Batched: the unsubscribe (params unsub) and the next workflow's subscribe in one batch. */
static void conn_submit_batch(drive_t *d, conn_t *k, const char *unsub)
{
    ipvm_error_t err;
    conn_prepare(d, k);
    ipvm_rpc_client_req_t two[] = {
        {.method = "unsubscribe_run_workflow", .params_json = unsub},
        {.method = "subscribe_run_workflow", .params_json = (char *)d->params.data}};
    if (ipvm_rpc_client_send_batch(k->c, two, 2, &err) != 0)
        die("unsubscribe + subscribe_run_workflow", &err);
    k->unsub = two[0].id;
    k->pending = two[1].id;
}

/* The value text of a top-level member, exactly as sent (the node writes no escapes in the
 * members read here; a message the scan cannot read fails the bench). */
static void member(const ipvm_buf_t *msg, const char *json, size_t len, const char *key,
                   const char **v, size_t *vl)
{
    if (ipvm_rpc_json_member(json, len, key, v, vl) != 0)
        bad_message(key, msg);
}

static void on_answer(drive_t *d, conn_t *k, uint64_t id)
{
    const char *v;
    size_t vl;
    const char *text = (const char *)d->msg.data;
    if (id != 0 && id == k->unsub) { /* pipelined: the previous workflow's unsubscribe */
        member(&d->msg, text, d->msg.len, "result", &v, &vl);
        if (vl != 4 || memcmp(v, "true", 4) != 0)
            bad_message("unsubscribe_run_workflow did not answer true", &d->msg);
        k->unsub = 0;
        return;
    }
    if (id != k->pending || (k->state != C_SUBSCRIBE && k->state != C_UNSUBSCRIBE))
        bad_message("an answer to no request of this connection", &d->msg);
    member(&d->msg, text, d->msg.len, "result", &v, &vl); /* an error answer has none */
    if (k->state == C_SUBSCRIBE) {
        if (d->batch && k->unsub) /* answered in the order sent, in one message */
            bad_message("the batch's subscribe answered before its unsubscribe", &d->msg);
        if (vl < 2 || vl >= sizeof k->sub || v[0] != '"' || memchr(v, '\\', vl))
            bad_message("subscribe_run_workflow's result is not a plain string", &d->msg);
        memcpy(k->sub, v, vl);
        k->sub_len = vl;
        k->state = C_NOTES;
        return;
    }
    if (vl != 4 || memcmp(v, "true", 4) != 0)
        bad_message("unsubscribe_run_workflow did not answer true", &d->msg);
    if (++k->done < k->count)
        conn_submit(d, k);
    else
        k->state = C_DONE;
}

static void on_note(drive_t *d, conn_t *k)
{
    const char *text = (const char *)d->msg.data, *v, *params, *sub;
    size_t vl, pl, sl;
    member(&d->msg, text, d->msg.len, "method", &v, &vl);
    if (vl != 24 || memcmp(v, "\"subscribe_run_workflow\"", 24) != 0)
        bad_message("a notification of another method", &d->msg);
    member(&d->msg, text, d->msg.len, "params", &params, &pl);
    member(&d->msg, params, pl, "subscription", &sub, &sl);
    if (k->state != C_NOTES || sl != k->sub_len || memcmp(sub, k->sub, sl) != 0)
        bad_message("a notification of no current subscription", &d->msg);
    size_t w = k->first + k->done;
    ipvm_buf_t t = d->notes[w * load->tasks + k->notes]; /* kept for receipt_check, no copy */
    d->notes[w * load->tasks + k->notes] = d->msg;
    d->msg = t;
    if (++k->notes < load->tasks)
        return;
    d->lat[w] = now_s() - k->t0;
    char unsub[160];
    snprintf(unsub, sizeof unsub, "[%.*s]", (int)k->sub_len, k->sub);
    ipvm_error_t err;
    if (!d->pipeline) {
        k->state = C_UNSUBSCRIBE;
        if (ipvm_rpc_client_send(k->c, "unsubscribe_run_workflow", unsub, &k->pending, &err) != 0)
            die("unsubscribe", &err);
        return;
    }
    if (k->unsub)
        bad_message("an unsubscribe not answered before the next workflow's receipts", &d->msg);
    if (d->batch && k->done + 1 < k->count) {
        k->done++;
        conn_submit_batch(d, k, unsub); /* state C_SUBSCRIBE: a notification of the old fails */
        return;
    }
    if (ipvm_rpc_client_send(k->c, "unsubscribe_run_workflow", unsub, &k->unsub, &err) != 0)
        die("unsubscribe", &err);
    if (++k->done < k->count)
        conn_submit(d, k); /* state C_SUBSCRIBE: a notification of the old one fails */
    else
        k->state = C_DONE;
}

/* Handles what arrived for k; false when the connection has nothing more to do. */
static bool conn_take(drive_t *d, conn_t *k)
{
    uint64_t id;
    int rc;
    while ((rc = ipvm_rpc_client_take(k->c, &d->msg, &id)) == 1) {
        if (k->state == C_DONE && (id == 0 || id != k->unsub))
            bad_message("a message after the last workflow's unsubscribe", &d->msg);
        if (id)
            on_answer(d, k, id);
        else
            on_note(d, k);
    }
    if (rc != 0)
        die(rc == IPVM_ECLOSED ? "the node closed a connection" : "out of memory", NULL);
    return k->state != C_DONE || k->unsub != 0;
}

/* Whether task n of the workflow built from k output what it must: the headline's add_one
 * chain k + 1, k + 2 ...; a fixture's `want`, or else the same as the first run's (the
 * warm-up's) output of that task. */
static bool output_ok(uint64_t k, size_t n, const ipvm_ipld_t *v)
{
    uint64_t got = 0;
    if (load->fixture == NULL || load->want)
        return ipvm_ipld_get_u64(v, &got) == 0 && got == (load->want ? load->want[n] : k + 1 + n);
    ipvm_cid_t c;
    if (ipvm_ipld_cid(v, IPVM_MH_SHA2_256, &c, NULL) != 0)
        return false;
    if (!load->have_out) {
        load->out[n] = c;
        load->have_out = n + 1 == load->tasks;
        return true;
    }
    return ipvm_cid_equal(&c, &load->out[n]);
}

/* The notifications of the round, decoded in full (outside the timed part): workflow w's
 * receipts come in task order, each ok with its output (output_ok), not replayed, named
 * "bench", of one workflow, its receipt_cid the receipt's. */
static void receipt_check(const drive_t *d)
{
    for (size_t w = 0; w < d->workflows; w++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        uint64_t k = d->base + w * (load->tasks + 1);
        ipvm_cid_t wf;
        memset(&wf, 0, sizeof wf);
        for (size_t n = 0; n < load->tasks; n++) {
            const ipvm_buf_t *b = &d->notes[w * load->tasks + n];
            ipvm_rpc_receipt_note_t note;
            ipvm_receipt_t rec;
            ipvm_error_t err;
            if (ipvm_rpc_receipt_note_decode((char *)b->data, b->len, &a, &note, &err) != 0 ||
                ipvm_receipt_from_ipld(note.receipt, &a, &rec, &err) != 0)
                die("a receipt notification", &err);
            if (n == 0)
                wf = note.workflow;
            if (!rec.ok || !output_ok(k, n, ipvm_receipt_value(&rec)) || note.replayed ||
                strcmp(note.name, "bench") != 0 || !ipvm_cid_equal(&note.receipt_cid, &rec.cid) ||
                !ipvm_cid_equal(&note.workflow, &wf))
                bad_message("a wrong receipt", b);
        }
        ipvm_arena_dispose(&a);
    }
}

enum { STRICT, PIPELINED, BATCHED }; /* the RPC rows */

/* Runs `workflows` workflows over `clients` connections of one thread, in the row's way. */
static result_t run_rpc_n(const char *url, uint64_t base, unsigned clients, size_t workflows,
                          int mode)
{
    size_t per = workflows / clients;
    drive_t d = {.workflows = per * clients,
                 .pipeline = mode != STRICT,
                 .batch = mode == BATCHED,
                 .base = base,
                 .lat = calloc(workflows, sizeof(double)),
                 .notes = calloc(workflows * load->tasks, sizeof(ipvm_buf_t))};
    conn_t *k = calloc(clients, sizeof *k);
    ipvm_error_t err;
    double c0 = self_cpu(), n0 = node_cpu();
    long s0 = self_csw();
    double t0 = now_s();
    for (unsigned i = 0; i < clients; i++) {
        k[i] = (conn_t){.first = i * per, .count = per};
        if ((i == 0 ? ipvm_rpc_client_connect(url, 10000, &k[i].c, &err)
                    : ipvm_rpc_client_connect_also(k[0].c, url, 10000, &k[i].c, &err)) != 0)
            die("connect", &err);
    }
    for (unsigned i = 0; i < clients; i++)
        conn_submit(&d, &k[i]);
    for (unsigned active = clients; active > 0;) {
        if (ipvm_rpc_client_poll(k[0].c, 60000) != 0)
            die("no message from the node in 60 s", NULL);
        active = 0;
        for (unsigned i = 0; i < clients; i++)
            active += conn_take(&d, &k[i]);
    }
    result_t r = {0};
    r.secs = now_s() - t0;
    r.cpu_self = self_cpu() - c0;
    r.cpu_node = node_cpu() - n0;
    r.csw_self = self_csw() - s0;
    r.receipts = d.workflows * load->tasks;
    r.p50 = pct(d.lat, d.workflows, 0.5);
    r.p99 = pct(d.lat, d.workflows, 0.99);
    for (unsigned i = 0; i < clients; i++)
        conn_take(&d, &k[i]); /* anything more that came fails the bench */
    receipt_check(&d);
    for (unsigned i = clients; i-- > 0;)
        ipvm_rpc_client_free(k[i].c);
    for (size_t i = 0; i < workflows * load->tasks; i++)
        ipvm_buf_dispose(&d.notes[i]);
    ipvm_buf_dispose(&d.json);
    ipvm_buf_dispose(&d.params);
    ipvm_buf_dispose(&d.msg);
    free(d.notes);
    free(d.lat);
    free(k);
    return r;
}

static long rss_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* Starts the node on 127.0.0.1 and an ephemeral port, and on the socket `sock` too when it is
 * not NULL. */
static pid_t start_node(const char *data_dir, const char *sock, char *url, size_t len)
{
    char info[4400];
    snprintf(info, sizeof info, "%s/node.json", data_dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* The node must not outlive this benchmark (a timeout that kills it would leave the
         * node running), nor hold our descriptors, such as a lock file's that a wrapper
         * like flock(1) gave us. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close_range(3, ~0U, 0);
        if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
            _exit(126);
        if (sock)
            execl(cfg.node, "ipvm", "--data-dir", data_dir, "node", "start", "--port", "0",
                  "--socket", sock, "--set", "node.gcc_tier=0", "-q", (char *)NULL);
        else
            execl(cfg.node, "ipvm", "--data-dir", data_dir, "node", "start", "--port", "0", "--set",
                  "node.gcc_tier=0", "-q", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 2000; i++) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        const char *p;
        if (ipvm_file_read(info, &b, NULL) == 0 && (p = strstr((char *)b.data, "ws://")) != NULL) {
            snprintf(url, len, "%.*s", (int)strcspn(p, "\""), p);
            ipvm_buf_dispose(&b);
            return pid;
        }
        ipvm_buf_dispose(&b);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    die("the node did not start", NULL);
    return -1;
}

#define ROUNDS 5

/* The round with the median time of n (its latencies go with it). */
static result_t median(const result_t *v, int n)
{
    result_t s[ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && s[j].secs < s[j - 1].secs; j--) {
            result_t t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    return s[n / 2];
}

/* The RPC rows of one transport: strict, pipelined, batched, each round's. */
typedef struct {
    result_t r[ROUNDS], p[ROUNDS], b[ROUNDS];
} rows_t;

/* The row's rounds after a warm-up workflow on each side: embedded, then RPC strict, pipelined
 * (when pipe) and batched (when batch), each over every transport that has a URL in url[]
 * (TCP, unix; NULL: not run), alternating. Every run has workflows of its own (base). */
static void run_rounds(embedded_t *m, const char *const url[2], uint64_t base0, result_t *e,
                       rows_t rows[2], bool pipe, bool batch)
{
    emb_t warm = {m->s, 0, 1, base0 + 1900000000ull, (double[1]){0}, 0};
    emb_main(&warm);
    /* compiles the module in the node */
    for (int t = 0; t < 2; t++)
        if (url[t])
            (void)run_rpc_n(url[t], base0 + 2000000000ull + (uint64_t)t, 1, 1, STRICT);
    for (int k = 0; k < load->rounds; k++) {
        uint64_t base = base0 + 100000000ull + (uint64_t)k * 10000000ull;
        e[k] = run_embedded(m, base, load->clients, load->workflows);
        static const uint64_t off[2][3] = {{500000000ull, 700000000ull, 800000000ull},
                                           {600000000ull, 750000000ull, 850000000ull}};
        for (int t = 0; t < 2; t++)
            if (url[t])
                rows[t].r[k] =
                    run_rpc_n(url[t], base + off[t][0], load->clients, load->workflows, STRICT);
        for (int t = 0; t < 2 && pipe; t++)
            if (url[t])
                rows[t].p[k] =
                    run_rpc_n(url[t], base + off[t][1], load->clients, load->workflows, PIPELINED);
        for (int t = 0; t < 2 && batch; t++)
            if (url[t])
                rows[t].b[k] =
                    run_rpc_n(url[t], base + off[t][2], load->clients, load->workflows, BATCHED);
    }
}

/* The extra rows, on a node of their own (the headline's figures are its node's whole life):
 * Homestar's own test workflows, each run with its own nonces. */
static void fixture_rows(embedded_t *m, const char *data_dir)
{
    static const uint64_t add_one_want[] = {2, 3}; /* gold.json expected_outputs */
    load_t rows[] = {
        {.label = "Homestar add-one (2 x add_one)",
         .file = "test-workflow-add-one.json",
         .workflows = cfg.workflows,
         .clients = cfg.clients,
         .rounds = ROUNDS,
         .want = add_one_want},
        {.label = "Homestar image-pipeline (crop, rotate90, grayscale)",
         .file = "test-workflow-image-pipeline.json",
         .workflows = cfg.image_workflows,
         .clients = cfg.clients < cfg.image_workflows ? cfg.clients : (unsigned)cfg.image_workflows,
         .rounds = 3},
    };
    char url[256], info[4400];
    snprintf(info, sizeof info, "%s/node.json", data_dir);
    (void)unlink(info); /* the headline's node's */
    node_pid = start_node(data_dir, NULL, url, sizeof url);
    printf("\nHomestar's fixture workflows (extra rows, not the headline; each run with its own "
           "nonces, so every task executes):\n\n"
           "| workflow | workflows x tasks | clients | rounds | embedded time | RPC time | time "
           "RPC / embedded | p50 embedded | p50 RPC |\n|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        load_t *l = &rows[i];
        if (l->workflows == 0)
            continue;
        fixture_open(l);
        load = l;
        result_t e[ROUNDS];
        static rows_t fx[2];
        const char *urls[2] = {url, NULL}; /* over TCP */
        run_rounds(m, urls, (uint64_t)(i + 1) * 10000000000ull, e, fx, false, false);
        result_t em = median(e, l->rounds), rm = median(fx[0].r, l->rounds);
        printf("| %s | %zu x %zu | %u | %d | %.3f s | %.3f s | %.2fx | %.2f ms | %.2f ms |\n",
               l->label, rm.receipts / l->tasks, l->tasks, l->clients, l->rounds, em.secs, rm.secs,
               rm.secs / em.secs, em.p50 * 1e3, rm.p50 * 1e3);
        fflush(stdout);
        ipvm_arena_dispose(&l->arena);
    }
    kill(node_pid, SIGTERM);
    waitpid(node_pid, NULL, 0);
    node_pid = 0;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--workflows") == 0 && v)
            cfg.workflows = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--tasks") == 0 && v)
            cfg.tasks = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--clients") == 0 && v)
            cfg.clients = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && v)
            snprintf(cfg.dir, sizeof cfg.dir, "%s", argv[++i]);
        else if (strcmp(argv[i], "--node") == 0 && v)
            cfg.node = argv[++i];
        else if (strcmp(argv[i], "--image-workflows") == 0 && v)
            cfg.image_workflows = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-fixtures") == 0)
            cfg.fixtures = false;
        else if (strcmp(argv[i], "--no-pipeline") == 0)
            cfg.pipeline = false;
        else if (strcmp(argv[i], "--no-batch") == 0)
            cfg.batch = false;
        else if (strcmp(argv[i], "--transport") == 0 && v) {
            i++;
            cfg.transports = strcmp(v, "tcp") == 0    ? TCP_ROWS
                             : strcmp(v, "unix") == 0 ? UNIX_ROWS
                             : strcmp(v, "both") == 0 ? TCP_ROWS | UNIX_ROWS
                                                      : 0;
            if (cfg.transports == 0) {
                fprintf(stderr, "bench_rpc: --transport %s: expected tcp, unix or both\n", v);
                exit(2);
            }
        } else {
            fprintf(stderr, "usage: bench_rpc [--workflows N] [--tasks T] [--clients K] "
                            "[--dir DIR] [--node IPVM] [--image-workflows N] [--no-fixtures] "
                            "[--no-pipeline] [--no-batch] [--transport tcp|unix|both]\n");
            exit(2);
        }
    }
    if (cfg.workflows == 0 || cfg.tasks == 0 || cfg.clients == 0 || cfg.workflows < cfg.clients)
        exit(2);
    if (!cfg.dir[0]) {
        struct stat sb;
        snprintf(cfg.dir, sizeof cfg.dir, "%s/ipvm-bench-rpc-%d",
                 stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    }
}

static void print_rpc(int t, const char *label, const result_t *rm)
{
    printf("| JSON-RPC over WebSocket on %s, %s (%u connections, 1 client thread) | %zu | %.2f s "
           "| %.0f | %.2f ms | %.2f ms |\n",
           transport_name[t], label, cfg.clients, rm->receipts, rm->secs,
           (double)rm->receipts / rm->secs, rm->p50 * 1e3, rm->p99 * 1e3);
}

static void print_ratios(const char *label, const result_t *rm, const result_t *em,
                         const result_t *r, const result_t *e, long csw, double receipts)
{
    printf("\nRPC %s / embedded: time %.2fx, p50 latency %.2fx, p99 latency %.2fx (target: time "
           "<= 1.10x)\n",
           label, rm->secs / em->secs, rm->p50 / em->p50, rm->p99 / em->p99);
    printf("  CPU per receipt: embedded %.0f us; RPC %.0f us (node %.0f + clients %.0f); clients' "
           "voluntary context switches per receipt %.1f (all rounds)\n",
           1e6 * em->cpu_self / (double)em->receipts,
           1e6 * (rm->cpu_self + rm->cpu_node) / (double)rm->receipts,
           1e6 * rm->cpu_node / (double)rm->receipts, 1e6 * rm->cpu_self / (double)rm->receipts,
           (double)csw / receipts);
    printf("  rounds (time RPC/embedded):");
    for (int k = 0; k < ROUNDS; k++)
        printf(" %.2fx", r[k].secs / e[k].secs);
    printf("\n");
}

/* The headline's table: embedded, then RPC strict, pipelined and batched (when run) on each
 * transport run. The node's CPU and context switches are of its whole life (nru), so of every
 * RPC row. */
static void print_headline(const result_t *e, const rows_t rows[2], const struct rusage *nru)
{
    size_t node_receipts = cfg.tasks, emb_receipts = 0; /* + the warm-up */
    long emb_csw = 0, csw[2][3] = {{0}};
    for (int k = 0; k < ROUNDS; k++) {
        emb_receipts += e[k].receipts;
        emb_csw += e[k].csw_self;
        for (int t = 0; t < 2; t++) {
            if (!(cfg.transports & (1u << t)))
                continue;
            node_receipts += rows[t].r[k].receipts + (cfg.pipeline ? rows[t].p[k].receipts : 0) +
                             (cfg.batch ? rows[t].b[k].receipts : 0);
            csw[t][0] += rows[t].r[k].csw_self;
            csw[t][1] += cfg.pipeline ? rows[t].p[k].csw_self : 0;
            csw[t][2] += cfg.batch ? rows[t].b[k].csw_self : 0;
        }
    }
    result_t em = median(e, ROUNDS), med[2][3];
    for (int t = 0; t < 2; t++) {
        med[t][0] = median(rows[t].r, ROUNDS);
        med[t][1] = median(rows[t].p, ROUNDS);
        med[t][2] = median(rows[t].b, ROUNDS);
    }
    static const char *const mode_label[3] = {
        "strict: unsubscribe answered, then next subscribe",
        "pipelined: unsubscribe + next subscribe together",
        "batched: unsubscribe + next subscribe in one JSON-RPC batch"};
    static const char *const mode_name[3] = {"strict", "pipelined", "batched"};
    bool on[3] = {true, cfg.pipeline, cfg.batch};
    printf("| path | receipts | time | receipts/s | latency p50 | latency p99 |\n"
           "|---|---|---|---|---|---|\n");
    printf("| embedded (ipvm_sched_run, %u threads) | %zu | %.2f s | %.0f | %.2f ms | %.2f ms |\n",
           cfg.clients, em.receipts, em.secs, (double)em.receipts / em.secs, em.p50 * 1e3,
           em.p99 * 1e3);
    for (int m = 0; m < 3; m++)
        for (int t = 0; t < 2; t++)
            if (on[m] && (cfg.transports & (1u << t)))
                print_rpc(t, mode_label[m], &med[t][m]);
    for (int m = 0; m < 3; m++) {
        for (int t = 0; t < 2; t++) {
            if (!on[m] || !(cfg.transports & (1u << t)))
                continue;
            const rows_t *rt = &rows[t];
            const result_t *all = m == 0 ? rt->r : m == 1 ? rt->p : rt->b;
            char label[64];
            snprintf(label, sizeof label, "%s (%s)", mode_name[m], transport_name[t]);
            double receipts = 0;
            for (int k = 0; k < ROUNDS; k++)
                receipts += (double)all[k].receipts;
            print_ratios(label, &med[t][m], &em, all, e, csw[t][m], receipts);
        }
    }
    if (cfg.transports == (TCP_ROWS | UNIX_ROWS)) {
        printf("\nunix socket / TCP, time (medians):");
        for (int m = 0; m < 3; m++)
            if (on[m])
                printf(" %s %.2fx", mode_name[m], med[1][m].secs / med[0][m].secs);
        printf("\n");
    }
    printf("voluntary context switches per receipt: embedded %.1f; node %.1f (its whole life, "
           "every RPC round)\n",
           (double)emb_csw / (double)emb_receipts, (double)nru->ru_nvcsw / (double)node_receipts);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    char emb[4200], rpc[4200]; /* cfg.dir is at most 4095 */
    snprintf(emb, sizeof emb, "%s/embedded", cfg.dir);
    snprintf(rpc, sizeof rpc, "%s/node", cfg.dir);
    ipvm_error_t err;
    if (ipvm_mkdirs(emb, 0700, &err) || ipvm_mkdirs(rpc, 0700, &err))
        die("data dirs", &err);
    add_module(emb);
    add_module(rpc);
    printf("bench_rpc: %zu workflows of %zu chained add_one tasks, %u clients, %d rounds "
           "(embedded and RPC alternate; medians), RPC over %s, data in %s\n\n",
           cfg.workflows, cfg.tasks, cfg.clients, ROUNDS,
           cfg.transports == TCP_ROWS    ? "TCP"
           : cfg.transports == UNIX_ROWS ? "a unix socket"
                                         : "TCP and a unix socket",
           cfg.dir);
    load_t headline = {
        .tasks = cfg.tasks, .workflows = cfg.workflows, .clients = cfg.clients, .rounds = ROUNDS};
    load = &headline;
    embedded_t m;
    embedded_open(&m, emb);
    char url[256], sock[4300], unix_url[4400];
    snprintf(sock, sizeof sock, "%s/node.sock", cfg.dir);
    snprintf(unix_url, sizeof unix_url, "unix://%s", sock);
    pid_t pid = start_node(rpc, (cfg.transports & UNIX_ROWS) ? sock : NULL, url, sizeof url);
    node_pid = pid;
    const char *urls[2] = {(cfg.transports & TCP_ROWS) ? url : NULL,
                           (cfg.transports & UNIX_ROWS) ? unix_url : NULL};
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    long idle = rss_of(pid);
    result_t e[ROUNDS];
    static rows_t rows[2];
    run_rounds(&m, urls, 0, e, rows, cfg.pipeline, cfg.batch);
    kill(pid, SIGTERM);
    int st;
    struct rusage nru; /* the node's whole life, every thread: mostly the RPC rounds */
    memset(&nru, 0, sizeof nru);
    wait4(pid, &st, 0, &nru);
    node_pid = 0;
    print_headline(e, rows, &nru);
    printf("\nidle node resident memory: %.1f MiB (target < 20 MiB)\n", (double)idle / 1024.0);
    fflush(stdout);
    if (cfg.fixtures)
        fixture_rows(&m, rpc);
    embedded_close(&m);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cfg.dir);
    if (strstr(cfg.dir, "ipvm-bench-rpc-") && system(cmd) != 0)
        fprintf(stderr, "bench_rpc: could not remove %s\n", cfg.dir);
    return 0;
}
