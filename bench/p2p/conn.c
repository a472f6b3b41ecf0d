/* SPDX-License-Identifier: Apache-2.0 */
/* Connection setup and bulk transfer.
 *   handshakes: K dialer hosts each dial one listener host in sequence: TCP connect,
 *     multistream (/noise), Noise XX with the signed libp2p payload, the muxer (/yamux/1.0.0,
 *     inlined in the handshake when both sides offer it), the dial reported open; then the
 *     connection is closed and the next dial starts. Hosts run identify, ping, gossipsub and
 *     Kademlia as a node does (they start their streams on each connection).
 *   throughput: one stream over one Noise + Yamux connection carries BYTES to a sink protocol;
 *     timed from the first write to the sink's last byte. Then again with the sink host in a
 *     second process (fork; js: a second Node process), so each end has its own thread.
 *   cross: ipvm dials a js-libp2p listener, and js-libp2p dials an ipvm listener (two
 *     processes: informative only). */
#include "bench_p2p.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SINK_PROTO "/ipvm/bench/sink/1.0.0"

/* ---------------------------------------------------------------------- handshakes ---- */
typedef struct hs_s hs_t;
typedef struct {
    hs_t *hs;
    bnode_t *node;
    size_t left;
} dialer_t;

struct hs_s {
    bnode_t *listener;
    const ipvm_multiaddr_t *target;
    size_t done, failed, active;
};

static void hs_next(dialer_t *d);

static void on_hs_dial(p2p_conn_t *c, int err, void *ud)
{
    dialer_t *d = ud;
    if (err)
        d->hs->failed++;
    else
        p2p_conn_close(c, 0, "benchmark: next dial");
    d->hs->done++;
    if (--d->left > 0)
        hs_next(d);
    else
        d->hs->active--;
}

static void hs_next(dialer_t *d)
{
    int rc = p2p_dial(d->node->host, d->hs->target, on_hs_dial, d);
    if (rc)
        die("dial failed: %s", ipvm_strerror(rc));
}

static bool hs_finished(void *data)
{
    return ((hs_t *)data)->active == 0;
}

/* Dials `count` connections from k dialers (each count/k in sequence) to one listener, or to
 * `target` (another process) when given. Returns handshakes per second. */
static double hs_ipvm(size_t count, int k, const ipvm_multiaddr_t *target, uv_loop_t *loop,
                      double *cpu_us)
{
    bnode_t nodes[9];
    memset(nodes, 0, sizeof nodes);
    dialer_t d[8];
    hs_t hs = {0};
    for (int i = 0; i <= k; i++) {
        ipvm_p2p_config_init(&nodes[i].cfg);
        nodes[i].cfg.max_connections = 100000;
        bnode_start(&nodes[i], loop);
    }
    hs.listener = &nodes[0];
    hs.target = target ? target : &nodes[0].addr;
    for (int i = 0; i < k; i++) { /* one warm-up connection each, not timed */
        d[i] = (dialer_t){&hs, &nodes[i + 1], 1};
        hs.active++;
        hs_next(&d[i]);
    }
    if (!run_until(loop, hs_finished, &hs, 20000) || hs.failed)
        die("warm-up dials failed");
    size_t each = (count + (size_t)k - 1) / (size_t)k;
    hs.done = hs.failed = 0;
    uint64_t t0 = ipvm_now_ns();
    double c0 = cpu_seconds();
    for (int i = 0; i < k; i++) {
        d[i].left = each;
        hs.active++;
        hs_next(&d[i]);
    }
    if (!run_until(loop, hs_finished, &hs, 300000))
        die("handshakes did not finish in 300 s");
    double secs = (double)(ipvm_now_ns() - t0) / 1e9;
    if (cpu_us)
        *cpu_us = (cpu_seconds() - c0) * 1e6 / (double)(hs.done ? hs.done : 1);
    if (hs.failed)
        fprintf(stderr, "bench_p2p: %zu of %zu dials failed\n", hs.failed, hs.done);
    bnodes_stop(loop, nodes, (size_t)k + 1);
    return (double)(hs.done - hs.failed) / secs;
}

static double hs_js(size_t count, int k, bool bare, double *cpu_us)
{
    char c[16], kk[8];
    snprintf(c, sizeof c, "%zu", count);
    snprintf(kk, sizeof kk, "%d", k);
    const char *argv[] = {"handshakes", "--count", c, "--dialers", kk, bare ? "--bare" : NULL,
                          NULL};
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = js_run(argv, &a, 300000);
    double rate = v ? jnum(v, "count") / jnum(v, "seconds") : -1;
    if (cpu_us)
        *cpu_us = v ? jnum(v, "cpu_s") * 1e6 / jnum(v, "count") : -1;
    ipvm_arena_dispose(&a);
    return rate;
}

void bench_handshakes(report_t *r, bool quick)
{
    size_t n = quick ? 200 : 1000, nj_full = quick ? 30 : 100, nj_bare = quick ? 50 : 300;
    double ci1 = -1, ci4 = -1, cjf = -1, cjb = -1, cjb4 = -1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    fprintf(stderr, "bench_p2p: handshakes, ipvm (%zu, 1 dialer)...\n", n);
    double i1 = hs_ipvm(n, 1, NULL, &loop, &ci1);
    fprintf(stderr, "bench_p2p: handshakes, ipvm (%zu, 4 dialers)...\n", n);
    double i4 = hs_ipvm(n, 4, NULL, &loop, &ci4);
    uv_loop_close(&loop);
    fprintf(stderr, "bench_p2p: handshakes, js-libp2p (full node %zu, upgrade only %zu)...\n",
            nj_full, nj_bare);
    double jf = hs_js(nj_full, 1, false, &cjf);
    double jb = hs_js(nj_bare, 1, true, &cjb);
    double jb4 = hs_js(nj_bare, 4, true, &cjb4);
    const struct {
        const char *name;
        double i, j, ci, cj;
    } rows[] = {
        {"1 dialer, js as a full node", i1, jf, ci1, cjf},
        {"1 dialer, js upgrade only (no services)", i1, jb, ci1, cjb},
        {"4 dialers at once, js upgrade only", i4, jb4, ci4, cjb4},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        char name[96];
        snprintf(name, sizeof name, "handshakes/s, %s", rows[k].name);
        row_t *w = report_row(r, name, "conn/s", true);
        w->ipvm = rows[k].i;
        w->js = rows[k].j;
        snprintf(w->note, sizeof w->note, "target >= 3x: %s",
                 rows[k].j > 0 && rows[k].i >= 3 * rows[k].j ? "met" : "NOT met");
        snprintf(name, sizeof name, "  CPU per handshake, %s", rows[k].name);
        w = report_row(r, name, "us", false);
        w->ipvm = rows[k].ci;
        w->js = rows[k].cj;
        snprintf(w->note, sizeof w->note, "both ends, all threads");
    }
}

/* ---------------------------------------------------------------------- throughput ---- */
typedef struct {
    uint64_t total, sent, got;
    uint64_t t0, t1;
    bool done;
    int err;
    p2p_stream_t *s;
    uint8_t *chunk;
    size_t chunk_len;
    uv_timer_t kick;
} tp_t;

/* A transfer of `total` bytes written in 64 KiB chunks of one byte value. */
static void tp_init(tp_t *t, uint64_t total)
{
    memset(t, 0, sizeof *t);
    t->total = total;
    t->chunk_len = 64 * 1024;
    t->chunk = malloc(t->chunk_len);
    if (t->chunk == NULL)
        die("out of memory");
    memset(t->chunk, 7, t->chunk_len);
}

static void sink_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    tp_t *t = s->ud;
    (void)p;
    t->got += n;
    if (t->got >= t->total && !t->done) {
        t->t1 = ipvm_now_ns();
        t->done = true;
    }
}

static void sink_eof(p2p_stream_t *s)
{
    p2p_stream_close_write(s);
}

static const p2p_stream_ops_t sink_ops = {sink_data, sink_eof, NULL, NULL};

static void on_sink(p2p_stream_t *s, void *ud)
{
    s->ops = &sink_ops;
    s->ud = ud;
}

static void fill(tp_t *t)
{
    while (t->s && t->sent < t->total && p2p_stream_queued(t->s) < (1u << 20)) {
        size_t n = t->total - t->sent < t->chunk_len ? (size_t)(t->total - t->sent) : t->chunk_len;
        if (p2p_stream_write(t->s, t->chunk, n) != 0)
            die("stream write failed");
        t->sent += n;
    }
    if (t->s && t->sent == t->total) {
        p2p_stream_close_write(t->s);
        t->sent++; /* closed */
    }
}

static void src_writable(p2p_stream_t *s)
{
    fill(s->ud);
}

static void src_close(p2p_stream_t *s, int err)
{
    tp_t *t = s->ud;
    t->s = NULL;
    t->err = err;
}

static const p2p_stream_ops_t src_ops = {NULL, NULL, src_writable, src_close};

static void on_kick(uv_timer_t *tm)
{
    fill(tm->data); /* in case a writable event came before negotiation finished */
}

static void on_tp_dial(p2p_conn_t *c, int err, void *ud)
{
    tp_t *t = ud;
    if (err || p2p_stream_open(c, SINK_PROTO, &src_ops, t, &t->s) != 0)
        die("cannot open the stream: %s", ipvm_strerror(err));
    t->t0 = ipvm_now_ns();
    fill(t);
}

static bool tp_finished(void *data)
{
    tp_t *t = data;
    return t->done || (t->s == NULL && t->t0 && t->err);
}

static double tp_ipvm(uint64_t total, double *cpu_ms_per_mb)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    bnode_t nodes[2];
    memset(nodes, 0, sizeof nodes);
    tp_t t;
    tp_init(&t, total);
    for (int i = 0; i < 2; i++) {
        ipvm_p2p_config_init(&nodes[i].cfg);
        bnode_start(&nodes[i], &loop);
    }
    if (p2p_handle(nodes[1].host, SINK_PROTO, on_sink, &t) != 0)
        die("cannot register the sink");
    uv_timer_init(&loop, &t.kick);
    t.kick.data = &t;
    uv_timer_start(&t.kick, on_kick, 10, 10);
    double c0 = cpu_seconds();
    if (p2p_dial(nodes[0].host, &nodes[1].addr, on_tp_dial, &t) != 0)
        die("dial failed");
    if (!run_until(&loop, tp_finished, &t, 300000) || !t.done)
        die("transfer failed after %llu bytes (%s)", (unsigned long long)t.got,
            ipvm_strerror(t.err));
    *cpu_ms_per_mb = (cpu_seconds() - c0) * 1e3 / ((double)t.got / 1e6);
    uv_close((uv_handle_t *)&t.kick, NULL);
    bnodes_stop(&loop, nodes, 2);
    uv_loop_close(&loop);
    free(t.chunk);
    return (double)t.got / 1e6 / ((double)(t.t1 - t.t0) / 1e9);
}

/* ------------------------------------------------------- throughput, two processes ---- */
/* The sink host in a forked child: prints its address on fd, then "t_end_ns cpu_s" once the
 * last byte is in, and exits. */
static void tp2_child(uint64_t total, int fd)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    bnode_t node;
    memset(&node, 0, sizeof node);
    tp_t t = {0};
    t.total = total;
    ipvm_p2p_config_init(&node.cfg);
    bnode_start(&node, &loop);
    if (p2p_handle(node.host, SINK_PROTO, on_sink, &t) != 0)
        die("cannot register the sink");
    char a[IPVM_MULTIADDR_STR], line[IPVM_MULTIADDR_STR + 64];
    int n = snprintf(line, sizeof line, "%s\n", ipvm_multiaddr_str(&node.addr, a));
    if (n <= 0 || write(fd, line, (size_t)n) != n)
        die("cannot report the address");
    double c0 = cpu_seconds();
    if (!run_until(&loop, tp_finished, &t, 300000) || !t.done)
        die("child: transfer failed after %llu bytes", (unsigned long long)t.got);
    n = snprintf(line, sizeof line, "%llu %.6f\n", (unsigned long long)t.t1, cpu_seconds() - c0);
    if (write(fd, line, (size_t)n) != n)
        die("cannot report the result");
    _exit(0); /* the parent closes the connection */
}

typedef struct {
    tp_t *t;
    int fd;
    char buf[128];
    size_t len;
    double child_cpu;
} tp2_wait_t;

static void on_child_line(uv_poll_t *p, int status, int events)
{
    tp2_wait_t *w = p->data;
    (void)events;
    ssize_t n = status < 0 ? -1 : read(w->fd, w->buf + w->len, sizeof w->buf - 1 - w->len);
    if (n <= 0)
        die("the sink process ended without a result");
    w->len += (size_t)n;
    w->buf[w->len] = '\0';
    unsigned long long t1 = 0;
    if (strchr(w->buf, '\n') && sscanf(w->buf, "%llu %lf", &t1, &w->child_cpu) == 2) {
        w->t->t1 = t1;
        w->t->done = true;
        uv_poll_stop(p);
    }
}

static bool tp2_finished(void *data)
{
    return ((tp_t *)data)->done;
}

static double tp2_ipvm(uint64_t total, double *cpu_ms_per_mb)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        close(fds[0]);
        tp2_child(total, fds[1]);
    }
    close(fds[1]);
    char addr[IPVM_MULTIADDR_STR + IPVM_P2P_PEER_ID_STR + 8];
    size_t len = 0;
    while (len < sizeof addr - 1 && (len == 0 || addr[len - 1] != '\n')) {
        ssize_t n = read(fds[0], addr + len, 1);
        if (n <= 0)
            die("the sink process did not start");
        len += (size_t)n;
    }
    ipvm_multiaddr_t ma;
    if (ipvm_multiaddr_parse(addr, len - 1, &ma, NULL) != 0)
        die("the sink process reported a bad address");
    uv_loop_t loop;
    uv_loop_init(&loop);
    bnode_t node;
    memset(&node, 0, sizeof node);
    tp_t t;
    tp_init(&t, total);
    ipvm_p2p_config_init(&node.cfg);
    bnode_start(&node, &loop);
    tp2_wait_t w = {.t = &t, .fd = fds[0]};
    uv_poll_t poll;
    uv_poll_init(&loop, &poll, fds[0]);
    poll.data = &w;
    uv_poll_start(&poll, UV_READABLE, on_child_line);
    uv_timer_init(&loop, &t.kick);
    t.kick.data = &t;
    uv_timer_start(&t.kick, on_kick, 10, 10);
    double c0 = cpu_seconds();
    if (p2p_dial(node.host, &ma, on_tp_dial, &t) != 0)
        die("dial failed");
    if (!run_until(&loop, tp2_finished, &t, 300000))
        die("two-process transfer did not finish");
    *cpu_ms_per_mb = (cpu_seconds() - c0 + w.child_cpu) * 1e3 / ((double)total / 1e6);
    uv_close((uv_handle_t *)&t.kick, NULL);
    uv_close((uv_handle_t *)&poll, NULL);
    bnodes_stop(&loop, &node, 1);
    uv_loop_close(&loop);
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    free(t.chunk);
    return (double)total / 1e6 / ((double)(t.t1 - t.t0) / 1e9);
}

static double tp_js(uint64_t total, bool two, double *cpu_ms_per_mb)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)total);
    const char *argv[] = {two ? "throughput2" : "throughput", "--bytes", b, "--chunk", "65536",
                          NULL};
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = js_run(argv, &a, 600000);
    double mbs = v ? jnum(v, "bytes") / 1e6 / jnum(v, "seconds") : -1;
    *cpu_ms_per_mb = v ? jnum(v, "cpu_s") * 1e3 / (jnum(v, "bytes") / 1e6) : -1;
    ipvm_arena_dispose(&a);
    return mbs;
}

void bench_throughput(report_t *r, bool quick)
{
    uint64_t total = (quick ? 32ull : 256ull) << 20;
    fprintf(stderr, "bench_p2p: throughput, ipvm (%llu MiB)...\n",
            (unsigned long long)(total >> 20));
    double ci = -1, cj = -1;
    double i = tp_ipvm(total, &ci);
    fprintf(stderr, "bench_p2p: throughput, js-libp2p...\n");
    double j = tp_js(total, false, &cj);
    char name[96];
    snprintf(name, sizeof name, "yamux throughput, 1 stream, %llu MiB",
             (unsigned long long)(total >> 20));
    row_t *w = report_row(r, name, "MB/s", true);
    w->ipvm = i;
    w->js = j;
    snprintf(w->note, sizeof w->note, "target >= 3x: %s", j > 0 && i >= 3 * j ? "met" : "NOT met");
    w = report_row(r, "  CPU per MB carried", "ms", false);
    w->ipvm = ci;
    w->js = cj;
    snprintf(w->note, sizeof w->note, "both ends, all threads");
    fprintf(stderr, "bench_p2p: throughput, ipvm, each end in its own process...\n");
    i = tp2_ipvm(total, &ci);
    cj = -1;
    fprintf(stderr, "bench_p2p: throughput, js-libp2p, each end in its own process...\n");
    j = tp_js(total, true, &cj);
    snprintf(name, sizeof name, "yamux throughput, 2 processes, %llu MiB",
             (unsigned long long)(total >> 20));
    w = report_row(r, name, "MB/s", true);
    w->ipvm = i;
    w->js = j;
    snprintf(w->note, sizeof w->note, "informative: one end per process on both sides");
    w = report_row(r, "  CPU per MB carried, 2 processes", "ms", false);
    w->ipvm = ci;
    w->js = cj;
    snprintf(w->note, sizeof w->note, "both processes, all threads");
}

/* --------------------------------------------------------------------------- cross ---- */
static bool js_has_line(void *data)
{
    jsproc_t *j = data;
    return j->exited || (j->stdout_buf.len && memchr(j->stdout_buf.data, '\n', j->stdout_buf.len) != NULL);
}

void bench_cross(report_t *r, bool quick)
{
    size_t n = quick ? 30 : 200;
    if (bench_no_js)
        return;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    jsproc_t j;
    const char *largv[] = {"listen", NULL};
    double to_js = -1, from_js = -1;
    fprintf(stderr, "bench_p2p: cross, ipvm dials js-libp2p (%zu)...\n", n);
    if (js_spawn(&loop, &j, largv, true) == 0 && run_until(&loop, js_has_line, &j, 30000)) {
        const ipvm_ipld_t *v = js_result(&j, &a);
        const ipvm_ipld_t *s = v ? ipvm_ipld_map_get(v, "addr") : NULL;
        ipvm_multiaddr_t ma;
        if (s && s->kind == IPVM_IPLD_STRING &&
            ipvm_multiaddr_parse(s->u.str.ptr, s->u.str.len, &ma, NULL) == 0)
            to_js = hs_ipvm(n, 1, &ma, &loop, NULL);
    }
    js_wait(&loop, &j, 20000);
    ipvm_buf_dispose(&j.stdout_buf);
    fprintf(stderr, "bench_p2p: cross, js-libp2p dials ipvm (%zu)...\n", n);
    bnode_t l;
    memset(&l, 0, sizeof l);
    ipvm_p2p_config_init(&l.cfg);
    bnode_start(&l, &loop);
    char addr[IPVM_MULTIADDR_STR], cnt[16];
    ipvm_multiaddr_str(&l.addr, addr);
    snprintf(cnt, sizeof cnt, "%zu", n);
    const char *dargv[] = {"dial", "--addr", addr, "--count", cnt, NULL};
    if (js_spawn(&loop, &j, dargv, false) == 0 && js_wait(&loop, &j, 300000) == 0) {
        const ipvm_ipld_t *v = js_result(&j, &a);
        from_js = v ? jnum(v, "count") / jnum(v, "seconds") : -1;
    }
    ipvm_buf_dispose(&j.stdout_buf);
    bnodes_stop(&loop, &l, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ipvm_arena_dispose(&a);
    row_t *w = report_row(r, "cross handshakes/s: ipvm dials js (2 processes)", "conn/s", true);
    w->ipvm = to_js;
    w = report_row(r, "cross handshakes/s: js dials ipvm (2 processes)", "conn/s", true);
    w->js = from_js;
}
