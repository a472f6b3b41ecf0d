/* SPDX-License-Identifier: Apache-2.0 */
/* bench_p2p: how fast does ipvm's libp2p stack move receipts, set up connections and carry
 * bytes, against js-libp2p (the reference implementation, pinned in tests/interop/libp2p)
 * measured in the same run? Rows:
 *   propagation  10 hosts on loopback (a ring plus one seeded random link per node), node 0
 *                publishes receipts on gossipsub topic "receipts"; latency from publish to
 *                delivery at each of the other 9 nodes, p50/p99 over all (receipt, node) pairs
 *   handshakes   connections per second: TCP + multistream + Noise XX + Yamux, then close
 *   throughput   one Yamux stream over Noise, bulk bytes to a sink
 * Every ipvm host of a row runs on one libuv loop (one thread), every js node of a row in one
 * Node process: both sides do all the work of both ends on one core.
 * Usage: bench_p2p [--quick] [--json] [--only propagation|handshakes|throughput|cross]
 *                  [--interval MS]   (MS between two published receipts, default 20)
 *                  [--no-js]         (ipvm rows only, for profiling) */
#include "bench_p2p.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

int bench_interval_ms = 20;
bool bench_no_js = false;

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_p2p: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------------------- hosts ---- */
static void on_stopped(ipvm_p2p_host_t *h, void *ud)
{
    (void)h;
    ((bnode_t *)ud)->stopped = true;
}

void bnode_start(bnode_t *n, uv_loop_t *loop)
{
    ipvm_error_t err = {0};
    n->cfg.listen[0] = "/ip4/127.0.0.1/tcp/0";
    n->cfg.nlisten = 1;
    if (ipvm_p2p_identity_generate(&n->id) != 0 ||
        ipvm_p2p_host_new(loop, n->id, &n->cfg, &n->host, &err) != 0 ||
        ipvm_p2p_host_start(n->host, &err) != 0)
        die("cannot start a host: %s", err.msg);
    if (ipvm_p2p_host_listen_addrs(n->host, &n->addr, 1) != 1 ||
        ipvm_multiaddr_with_peer_id(&n->addr, ipvm_p2p_host_peer_id(n->host)) != 0)
        die("host has no listen address");
}

static bool all_stopped(void *data)
{
    bnode_t **p = data;
    for (bnode_t *n = p[0]; n < p[1]; n++)
        if (n->host && !n->stopped)
            return false;
    return true;
}

void bnodes_stop(uv_loop_t *loop, bnode_t *nodes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (nodes[i].host)
            ipvm_p2p_host_stop(nodes[i].host, on_stopped, &nodes[i]);
    bnode_t *range[2] = {nodes, nodes + count};
    if (!run_until(loop, all_stopped, range, 10000))
        die("hosts did not stop");
    for (size_t i = 0; i < count; i++) {
        ipvm_p2p_receipts_free(nodes[i].rc);
        ipvm_p2p_host_free(nodes[i].host);
        ipvm_p2p_identity_free(nodes[i].id);
        nodes[i].rc = NULL;
        nodes[i].host = NULL;
        nodes[i].id = NULL;
    }
    uv_run(loop, UV_RUN_NOWAIT);
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool run_until(uv_loop_t *loop, bool (*pred)(void *data), void *data, int ms)
{
    bool expired = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)ms, 0);
    while (!pred(data) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(data);
}

typedef struct {
    size_t pending;
    int failed;
} linkwait_t;

static void on_link(ipvm_p2p_host_t *h, int status, const ipvm_peer_id_t *peer, void *data)
{
    (void)h;
    (void)peer;
    linkwait_t *w = data;
    w->pending--;
    if (status)
        w->failed++;
}

static bool links_done(void *data)
{
    return ((linkwait_t *)data)->pending == 0;
}

int bnodes_link(uv_loop_t *loop, bnode_t *nodes, const int (*edges)[2], size_t nedges)
{
    linkwait_t w = {0, 0};
    for (size_t i = 0; i < nedges; i++) {
        w.pending++;
        if (ipvm_p2p_dial(nodes[edges[i][0]].host, &nodes[edges[i][1]].addr, on_link, &w) != 0) {
            w.pending--;
            w.failed++;
        }
    }
    if (!run_until(loop, links_done, &w, 20000))
        die("dials did not finish in 20 s");
    return w.failed;
}

double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

double percentile(double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    for (size_t i = 1; i < n; i++) { /* insertion sort is plenty for a few thousand */
        double x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

/* ------------------------------------------------------------------------ js side ---- */
#define JS_DIR IPVM_SOURCE_DIR "/tests/interop/libp2p"

bool js_available(void)
{
    struct stat st;
    if (stat(JS_DIR "/node_modules/libp2p/package.json", &st) == 0 &&
        stat(JS_DIR "/node_modules/@chainsafe/libp2p-gossipsub/package.json", &st) == 0)
        return true;
    fprintf(stderr, "bench_p2p: js-libp2p is not installed in " JS_DIR
                    "; run tools/interop-deps.sh (or make interop-deps) first\n");
    return false;
}

static void js_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void js_handle_closed(uv_handle_t *h)
{
    ((jsproc_t *)h->data)->handles--;
}

static void js_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    jsproc_t *j = st->data;
    if (n > 0 && ipvm_buf_append(&j->stdout_buf, buf->base, (size_t)n) != 0)
        die("out of memory");
    if (n < 0)
        uv_close((uv_handle_t *)st, js_handle_closed);
    free(buf->base);
}

static void js_exit(uv_process_t *p, int64_t status, int sig)
{
    jsproc_t *j = p->data;
    j->exited = true;
    j->status = sig ? 128 + sig : status;
    uv_close((uv_handle_t *)p, js_handle_closed);
}

int js_spawn(uv_loop_t *loop, jsproc_t *j, const char *const *argv, bool with_stdin)
{
    memset(j, 0, sizeof *j);
    const char *args[32] = {"node", "--import", JS_DIR "/polyfill.mjs",
                            IPVM_SOURCE_DIR "/bench/p2p/js_peer.mjs"};
    size_t na = 4;
    for (size_t i = 0; argv[i] && na < 31; i++)
        args[na++] = argv[i];
    args[na] = NULL;
    uv_pipe_init(loop, &j->out, 0);
    uv_pipe_init(loop, &j->in, 0);
    j->out.data = j->in.data = j->proc.data = j;
    uv_stdio_container_t io[3];
    io[0].flags = with_stdin ? (uv_stdio_flags)(UV_CREATE_PIPE | UV_READABLE_PIPE) : UV_IGNORE;
    io[0].data.stream = (uv_stream_t *)&j->in;
    io[1].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    io[1].data.stream = (uv_stream_t *)&j->out;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    uv_process_options_t o = {0};
    o.file = "node";
    o.args = (char **)args;
    o.exit_cb = js_exit;
    o.stdio = io;
    o.stdio_count = 3;
    j->with_stdin = with_stdin;
    int rc = uv_spawn(loop, &j->proc, &o);
    j->handles = 3;
    if (rc) {
        uv_close((uv_handle_t *)&j->out, js_handle_closed);
        uv_close((uv_handle_t *)&j->in, js_handle_closed);
        j->handles = 2;
        j->exited = true;
        fprintf(stderr, "bench_p2p: cannot run node: %s\n", uv_strerror(rc));
        return rc;
    }
    uv_read_start((uv_stream_t *)&j->out, js_alloc, js_read);
    if (!with_stdin)
        js_close_stdin(j);
    return 0;
}

void js_close_stdin(jsproc_t *j)
{
    if (!uv_is_closing((uv_handle_t *)&j->in))
        uv_close((uv_handle_t *)&j->in, js_handle_closed);
}

const ipvm_ipld_t *js_result(jsproc_t *j, ipvm_arena_t *a)
{
    const char *s = (const char *)j->stdout_buf.data, *end = s + j->stdout_buf.len;
    while (s && s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (nl == NULL)
            return NULL;
        ipvm_ipld_t *v = NULL;
        if (nl > s && *s == '{' && ipvm_dagjson_decode(s, (size_t)(nl - s), a, &v, NULL) == 0 &&
            v->kind == IPVM_IPLD_MAP && ipvm_ipld_map_get(v, "result"))
            return v;
        s = nl + 1;
    }
    return NULL;
}

static bool js_gone(void *data)
{
    jsproc_t *j = data;
    return j->exited && j->handles == 0;
}

int64_t js_wait(uv_loop_t *loop, jsproc_t *j, int ms)
{
    if (j->with_stdin)
        js_close_stdin(j);
    if (!run_until(loop, js_gone, j, ms)) {
        fprintf(stderr, "bench_p2p: the js side did not finish in %d s; killing it\n", ms / 1000);
        uv_process_kill(&j->proc, SIGKILL);
        run_until(loop, js_gone, j, 5000);
    }
    return j->status;
}

const ipvm_ipld_t *js_run(const char *const *argv, ipvm_arena_t *a, int timeout_ms)
{
    if (bench_no_js)
        return NULL;
    uv_loop_t loop;
    uv_loop_init(&loop);
    jsproc_t j;
    const ipvm_ipld_t *v = NULL;
    if (js_spawn(&loop, &j, argv, false) == 0) {
        int64_t st = js_wait(&loop, &j, timeout_ms);
        v = js_result(&j, a);
        if (st != 0 || v == NULL)
            fprintf(stderr, "bench_p2p: js_peer.mjs %s failed (exit %lld)\n", argv[0],
                    (long long)st);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ipvm_buf_dispose(&j.stdout_buf);
    return v;
}

double jnum(const ipvm_ipld_t *obj, const char *key)
{
    const ipvm_ipld_t *f = obj ? ipvm_ipld_map_get(obj, key) : NULL;
    if (f && f->kind == IPVM_IPLD_FLOAT)
        return f->u.f;
    if (f && f->kind == IPVM_IPLD_INT)
        return f->u.integer.neg ? -1.0 - (double)f->u.integer.mag : (double)f->u.integer.mag;
    return NAN;
}

/* ------------------------------------------------------------------------- report ---- */
row_t *report_row(report_t *r, const char *name, const char *unit, bool higher_better)
{
    if (r->n == REPORT_MAX)
        die("too many rows");
    row_t *w = &r->rows[r->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->unit, sizeof w->unit, "%s", unit);
    w->ipvm = w->js = -1;
    w->higher_better = higher_better;
    return w;
}

static double ratio(const row_t *w)
{
    if (w->ipvm <= 0 || w->js <= 0)
        return NAN;
    return w->higher_better ? w->ipvm / w->js : w->js / w->ipvm;
}

static void print_table(const report_t *r)
{
    printf("%-52s %12s %12s %8s  %s\n", "p2p", "ipvm", "js-libp2p", "ratio", "unit");
    for (size_t i = 0; i < r->n; i++) {
        const row_t *w = &r->rows[i];
        char a[32] = "-", b[32] = "-", c[32] = "-";
        if (w->ipvm >= 0)
            snprintf(a, sizeof a, "%.2f", w->ipvm);
        if (w->js >= 0)
            snprintf(b, sizeof b, "%.2f", w->js);
        if (!isnan(ratio(w)))
            snprintf(c, sizeof c, "%.2fx", ratio(w));
        printf("%-52s %12s %12s %8s  %s%s%s\n", w->name, a, b, c, w->unit, w->note[0] ? "  " : "",
               w->note);
    }
    printf("(ratio: how many times better ipvm is; latency rows: js / ipvm)\n");
}

static void print_json(const report_t *r)
{
    printf("{\"bench\":\"p2p\",\"js\":%s,\"rows\":[", r->js_ok ? "true" : "false");
    for (size_t i = 0; i < r->n; i++) {
        const row_t *w = &r->rows[i];
        double q = ratio(w);
        printf("%s{\"name\":\"%s\",\"unit\":\"%s\",\"ipvm\":", i ? "," : "", w->name, w->unit);
        w->ipvm >= 0 ? printf("%.4f", w->ipvm) : printf("null");
        printf(",\"js\":");
        w->js >= 0 ? printf("%.4f", w->js) : printf("null");
        printf(",\"ratio\":");
        isnan(q) ? printf("null") : printf("%.4f", q);
        printf(",\"note\":\"%s\"}", w->note);
    }
    printf("]}\n");
}

int main(int argc, char **argv)
{
    bool quick = false, json = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--no-js") == 0)
            bench_no_js = true; /* ipvm only, for profiling: no ratios */
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
            bench_interval_ms = atoi(argv[++i]);
            if (bench_interval_ms <= 0)
                bench_interval_ms = 20;
        }
        else {
            fprintf(stderr, "usage: bench_p2p [--quick] [--json] [--only propagation|handshakes|"
                            "throughput|cross] [--interval MS] [--no-js]\n"
                            "  Runs each measurement on ipvm and on js-libp2p (node, packages "
                            "from tests/interop/libp2p: run tools/interop-deps.sh first).\n");
            return 2;
        }
    }
    ipvm_log_set_level(IPVM_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    report_t r = {0};
    r.js_ok = !bench_no_js && js_available();
    if (!r.js_ok && !bench_no_js)
        return 1;
    if (!only || strcmp(only, "propagation") == 0)
        bench_propagation(&r, quick);
    if (!only || strcmp(only, "handshakes") == 0)
        bench_handshakes(&r, quick);
    if (!only || strcmp(only, "throughput") == 0)
        bench_throughput(&r, quick);
    if (!only || strcmp(only, "cross") == 0)
        bench_cross(&r, quick);
    if (json)
        print_json(&r);
    else
        print_table(&r);
    return 0;
}
