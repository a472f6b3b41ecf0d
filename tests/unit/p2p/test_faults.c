/* SPDX-License-Identifier: Apache-2.0 */
/* Faults: a hand-driven peer (blocking sockets on a thread, built from our own wire layers)
 * sends garbage at each protocol stage, frames over the limits, or nothing at all; the host
 * must log a clear line, close that connection and keep serving. Also a peer killed mid-stream
 * (a js-libp2p process, SIGKILL), requests to a peer that never answers, and forged DHT
 * records. */
#include "jspeer.h"

#include "p2p/host.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------- log capture ---- */
static ipvm_buf_t logbuf;
static uv_mutex_t loglock;

static void sink(ipvm_log_level_t level, const char *area, const char *msg, void *data)
{
    (void)level;
    (void)data;
    uv_mutex_lock(&loglock);
    if (logbuf.len < (1u << 20) &&
        (ipvm_buf_printf(&logbuf, "%s: %s\n", area, msg) != 0))
        logbuf.len = 0;
    uv_mutex_unlock(&loglock);
}

static bool log_has(const char *s)
{
    uv_mutex_lock(&loglock);
    bool r = logbuf.data && strstr((char *)logbuf.data, s) != NULL;
    uv_mutex_unlock(&loglock);
    return r;
}

static void log_start(void)
{
    uv_mutex_init(&loglock);
    ipvm_buf_init(&logbuf);
    ipvm_log_set_level(IPVM_LOG_DEBUG);
    ipvm_log_set_sink(sink, NULL);
}

static void log_stop(void)
{
    ipvm_log_set_sink(NULL, NULL);
    ipvm_log_set_level(IPVM_LOG_WARN);
    ipvm_buf_dispose(&logbuf);
    uv_mutex_destroy(&loglock);
}

/* -------------------------------------------------------------- the raw peer ---- */
typedef struct {
    int fd;
    ipvm_p2p_identity_t *id;
    ipvm__noise_cs_t tx, rx;
    uint8_t in[1 << 17];
    size_t inlen;
} raw_t;

static uint16_t port_of(const tnode_t *n)
{
    ipvm_multiaddr_t ma;
    IPVM_ASSERT_EQ(ipvm_p2p_host_listen_addrs(n->host, &ma, 1), 1);
    return ipvm__be16_get(ma.bytes + ma.len - 2);
}

static void raw_connect(raw_t *r, uint16_t port)
{
    memset(r, 0, sizeof *r);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    IPVM_ASSERT_EQ(connect(r->fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

static void raw_send(raw_t *r, const void *p, size_t n)
{
    IPVM_ASSERT_EQ(send(r->fd, p, n, MSG_NOSIGNAL), (long long)n);
}

/* Reads at least `want` more bytes (or until EOF / ms). Returns false on EOF. */
static bool raw_read(raw_t *r, size_t want, int ms)
{
    size_t goal = r->inlen + want;
    while (r->inlen < goal) {
        struct pollfd p = {r->fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            return true;
        ssize_t n = recv(r->fd, r->in + r->inlen, sizeof r->in - r->inlen, 0);
        if (n <= 0)
            return false;
        r->inlen += (size_t)n;
    }
    return true;
}

/* True when the host closes the connection within ms (reading and dropping what it sends). */
static bool raw_closed(raw_t *r, int ms)
{
    uint64_t end = ipvm_now_ns() + (uint64_t)ms * 1000000u;
    while (ipvm_now_ns() < end) {
        r->inlen = 0;
        if (!raw_read(r, 1, 50))
            return true;
    }
    return false;
}

static void consume(raw_t *r, size_t n)
{
    memmove(r->in, r->in + n, r->inlen - n);
    r->inlen -= n;
}

/* multistream for /noise, then the XX handshake as initiator (with early muxer data). */
static void raw_handshake(raw_t *r)
{
    ipvm__mss_t m;
    const char *p[] = {IPVM__P2P_NOISE_PROTO};
    ipvm_buf_t out = IPVM_BUF_INIT, payload = IPVM_BUF_INIT;
    ipvm__mss_init(&m, true, p, 1);
    IPVM_ASSERT_OK(ipvm__mss_start(&m, &out));
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&r->id));
    uint8_t ssk[32], spk[32];
    ipvm__noise_keypair(ssk, spk);
    IPVM_ASSERT_OK(ipvm__noise_payload_build(r->id, spk, true, &payload));
    ipvm__noise_hs_t hs;
    ipvm__noise_hs_init(&hs, true, ssk, spk, payload.data, payload.len);
    IPVM_ASSERT_OK(ipvm__noise_hs_write(&hs, &out, NULL)); /* optimistic: msg 1 follows */
    raw_send(r, out.data, out.len);
    ipvm_buf_clear(&out);
    int rc = 0;
    while (rc == 0) { /* the header and the echo of /noise */
        IPVM_ASSERT(raw_read(r, 1, 3000));
        size_t used = 0;
        rc = ipvm__mss_feed(&m, r->in, r->inlen, &used, &out, NULL);
        consume(r, used);
    }
    IPVM_ASSERT_EQ(rc, 1);
    while (r->inlen < 2 || r->inlen < 2u + ipvm__be16_get(r->in))
        IPVM_ASSERT(raw_read(r, 1, 3000));
    size_t n = ipvm__be16_get(r->in);
    ipvm_error_t err = {0};
    IPVM_ASSERT_OK_ERR(ipvm__noise_hs_read(&hs, r->in + 2, n, &err), &err);
    consume(r, 2 + n);
    IPVM_ASSERT_OK(ipvm__noise_hs_write(&hs, &out, NULL));
    raw_send(r, out.data, out.len);
    ipvm__noise_hs_split(&hs, &r->tx, &r->rx);
    ipvm__noise_hs_dispose(&hs);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&payload);
}

static void raw_secure(raw_t *r, const void *p, size_t n)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__noise_encrypt(&r->tx, p, n, &b));
    raw_send(r, b.data, b.len);
    ipvm_buf_dispose(&b);
}

static void yframe(uint8_t *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    h[0] = 0;
    h[1] = type;
    ipvm__be16_put(h + 2, flags);
    ipvm__be32_put(h + 4, id);
    ipvm__be32_put(h + 8, len);
}

/* Opens yamux stream 1 and proposes `proto` on it (optimistically). */
static void raw_stream(raw_t *r, const char *proto, const void *extra, size_t extra_len)
{
    ipvm__mss_t m;
    const char *p[] = {proto};
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm__mss_init(&m, true, p, 1);
    IPVM_ASSERT_OK(ipvm__mss_start(&m, &b));
    IPVM_ASSERT_OK(ipvm_buf_append(&b, extra, extra_len));
    uint8_t h[12 + 12];
    yframe(h, IPVM__YMX_WINDOW, IPVM__YMX_SYN, 1, 0);
    yframe(h + 12, IPVM__YMX_DATA, 0, 1, (uint32_t)b.len);
    ipvm_buf_t f = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append(&f, h, sizeof h));
    IPVM_ASSERT_OK(ipvm_buf_append(&f, b.data, b.len));
    raw_secure(r, f.data, f.len);
    ipvm_buf_dispose(&b);
    ipvm_buf_dispose(&f);
}

static void raw_close(raw_t *r)
{
    close(r->fd);
    ipvm_p2p_identity_free(r->id);
}

/* ------------------------------------------------------------------ the cases ---- */
typedef struct {
    uint16_t port;
    int stage;
    bool closed, done;
    char detail[200];
} job_t;

static void garbage_case(void *arg)
{
    job_t *j = arg;
    raw_t r;
    raw_connect(&r, j->port);
    switch (j->stage) {
    case 0: { /* not libp2p at all: 'G' reads as a 71-byte message without its newline */
        const char *http = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\n"
                           "Accept: */*\r\n\r\n";
        raw_send(&r, http, strlen(http));
        break;
    }
    case 1: { /* multistream done, then a noise message too short to be one */
        const uint8_t m[] = {0x13, '/', 'm', 'u', 'l', 't', 'i', 's', 't', 'r', 'e', 'a', 'm',
                             '/', '1', '.', '0', '.', '0', '\n', 0x07, '/', 'n', 'o', 'i', 's',
                             'e', '\n', 0, 5, 'h', 'e', 'l', 'l', 'o'};
        raw_send(&r, m, sizeof m);
        break;
    }
    case 2: /* a good handshake, then encrypted garbage where yamux frames belong */
        raw_handshake(&r);
        raw_secure(&r, "\x07garbage-not-yamux", 18);
        break;
    case 3: { /* a yamux data frame over the 256 KiB initial window */
        raw_handshake(&r);
        uint8_t h[24];
        yframe(h, IPVM__YMX_WINDOW, IPVM__YMX_SYN, 1, 0);
        yframe(h + 12, IPVM__YMX_DATA, 0, 1, 300 * 1024);
        raw_secure(&r, h, sizeof h);
        break;
    }
    case 4: { /* identify push whose length prefix says 1 MiB (limit 64 KiB) */
        raw_handshake(&r);
        const uint8_t lp[] = {0x80, 0x80, 0x40};
        raw_stream(&r, "/ipfs/id/push/1.0.0", lp, sizeof lp);
        break;
    }
    case 5: { /* identify push carrying bytes that are not an Identify protobuf */
        raw_handshake(&r);
        const uint8_t lp[] = {4, 0xff, 0xff, 0xff, 0xff};
        raw_stream(&r, "/ipfs/id/push/1.0.0", lp, sizeof lp);
        break;
    }
    case 6: /* a peer that connects and never says anything */
        break;
    case 7: { /* a transport frame that fails authentication */
        raw_handshake(&r);
        uint8_t f[2 + 40];
        ipvm__be16_put(f, 40);
        randombytes_buf(f + 2, 40);
        raw_send(&r, f, sizeof f);
        break;
    }
    }
    j->closed = raw_closed(&r, (int)(3000 * ipvm_test_timeout_multiplier()));
    raw_close(&r);
    __atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
}

IPVM_TEST(p2p, faults_garbage_each_stage)
{
    static const char *expect[] = {
        "security negotiation: multistream: message does not end with a newline",
        "noise handshake: noise: first handshake message",
        "yamux: yamux: version",
        "exceeds stream 1's receive window",
        "identify: message of 1048576 bytes is over the 65536-byte limit",
        "identify: not an Identify protobuf",
        "connection not upgraded within 500 ms",
        "fails authentication",
    };
    log_start();
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    memset(n, 0, sizeof n);
    ipvm_p2p_config_init(&n[0].cfg);
    n[0].cfg.dial_timeout_ms = 500;
    tnode_start(&n[0], &loop, true);
    for (int stage = 0; stage < 8; stage++) {
        job_t j = {.port = port_of(&n[0]), .stage = stage};
        uv_thread_t t;
        IPVM_ASSERT_OK(uv_thread_create(&t, garbage_case, &j));
        IPVM_ASSERT(run_until(&loop, (volatile bool *)&j.done, 10000));
        uv_thread_join(&t);
        if (getenv("IPVM_TEST_VERBOSE"))
            fprintf(stderr, "stage %d done at %.0f ms\n", stage, ipvm_now_ns() / 1e6);
        IPVM_ASSERT_MSG(j.closed, "stage %d: the host kept the connection open", stage);
        IPVM_ASSERT_MSG(log_has(expect[stage]), "stage %d: no log line with \"%s\" in:\n%.3000s",
                        stage, expect[stage], (char *)logbuf.data);
    }
    /* the host still works: a real peer connects, identifies and pings */
    tnode_start(&n[1], &loop, false);
    tnode_connect(&loop, &n[1], &n[0]);
    IPVM_ASSERT_EQ(ipvm_p2p_peer_count(n[0].host), 1);
    ipvm_p2p_stats_t st;
    ipvm_p2p_host_stats(n[0].host, &st);
    IPVM_ASSERT(st.conns_failed >= 3); /* the ones that never finished the upgrade */
    tnodes_stop(&loop, n, 2);
    log_stop();
}

/* ------------------------------------------------------ peers that never answer ---- */
static void silent_server(void *arg)
{
    int *fds = arg; /* fds[0]: listening socket; accepts, reads, never writes */
    int c = accept(fds[0], NULL, NULL);
    if (c >= 0) {
        char b[4096];
        struct pollfd p = {c, POLLIN, 0};
        while (poll(&p, 1, 3000) > 0 && recv(c, b, sizeof b, 0) > 0)
            ;
        close(c);
    }
}

typedef struct {
    bool done;
    int status;
} res_t;

static void on_dial(ipvm_p2p_host_t *h, int status, const ipvm_peer_id_t *peer, void *data)
{
    (void)h;
    (void)peer;
    res_t *r = data;
    r->done = true;
    r->status = status;
}

static void on_get(ipvm_p2p_host_t *h, int status, const uint8_t *value, size_t len,
                   const ipvm_peer_id_t *from, void *data)
{
    (void)h;
    (void)value;
    (void)len;
    (void)from;
    res_t *r = data;
    r->done = true;
    r->status = status;
}

/* A Kademlia server that accepts streams and never replies. */
static void swallow(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    (void)s;
    (void)p;
    (void)n;
}
static const p2p_stream_ops_t swallow_ops = {swallow, NULL, NULL, NULL};
static void on_kad_stream(p2p_stream_t *s, void *ud)
{
    (void)ud;
    s->ops = &swallow_ops;
}

IPVM_TEST(p2p, faults_peer_never_answers)
{
    log_start();
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n[2];
    memset(n, 0, sizeof n);
    ipvm_p2p_config_init(&n[0].cfg);
    n[0].cfg.dial_timeout_ms = 500;
    n[0].cfg.request_timeout_ms = 500;
    tnode_start(&n[0], &loop, true);
    /* 1. a TCP listener that accepts and is silent: the dial fails within dial_timeout */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    IPVM_ASSERT_EQ(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    IPVM_ASSERT_EQ(listen(ls, 4), 0);
    IPVM_ASSERT_EQ(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    uv_thread_t t;
    int fds[1] = {ls};
    IPVM_ASSERT_OK(uv_thread_create(&t, silent_server, fds));
    char addr[64];
    snprintf(addr, sizeof addr, "/ip4/127.0.0.1/tcp/%u", ntohs(sa.sin_port));
    ipvm_multiaddr_t ma;
    IPVM_ASSERT_OK(ipvm_multiaddr_parse(addr, strlen(addr), &ma, NULL));
    res_t d = {0};
    uint64_t t0 = ipvm_now_ns();
    IPVM_ASSERT_OK(ipvm_p2p_dial(n[0].host, &ma, on_dial, &d));
    IPVM_ASSERT(run_until(&loop, &d.done, 5000));
    IPVM_ASSERT_ERR(d.status, IPVM_ETIMEDOUT);
    IPVM_ASSERT_LT((ipvm_now_ns() - t0) / 1e6, 500 + 1500 * ipvm_test_timeout_multiplier());
    IPVM_ASSERT(log_has("connection not upgraded within 500 ms"));
    uv_thread_join(&t);
    close(ls);
    /* 2. a DHT peer whose kad handler swallows requests: the lookup ends at its deadline */
    memset(&n[1], 0, sizeof n[1]);
    ipvm_p2p_config_init(&n[1].cfg);
    n[1].cfg.listen[0] = "/ip4/127.0.0.1/tcp/0";
    n[1].cfg.nlisten = 1;
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&n[1].id));
    IPVM_ASSERT_OK(ipvm_p2p_host_new(&loop, n[1].id, &n[1].cfg, &n[1].host, NULL));
    n[1].host->handlers[n[1].host->nhandlers - 1].fn = on_kad_stream; /* kad is registered last */
    IPVM_ASSERT_STREQ(n[1].host->handler_ids[n[1].host->nhandlers - 1], "/ipfs/kad/1.0.0");
    IPVM_ASSERT_OK(ipvm_p2p_host_start(n[1].host, NULL));
    ipvm_multiaddr_t l;
    IPVM_ASSERT_EQ(ipvm_p2p_host_listen_addrs(n[1].host, &l, 1), 1);
    IPVM_ASSERT_OK(ipvm_multiaddr_with_peer_id(&l, ipvm_p2p_identity_peer_id(n[1].id)));
    ipvm_multiaddr_str(&l, n[1].addr);
    n[1].cfg.on_event = NULL;
    d = (res_t){0};
    IPVM_ASSERT_OK(ipvm_p2p_dial(n[0].host, &l, on_dial, &d));
    IPVM_ASSERT(run_until(&loop, &d.done, 5000));
    IPVM_ASSERT_OK(d.status);
    for (int i = 0; i < 100 && ipvm_p2p_dht_routing_size(n[0].host) == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    res_t g = {0};
    t0 = ipvm_now_ns();
    IPVM_ASSERT_OK(ipvm_p2p_dht_get(n[0].host, (const uint8_t *)"k", 1, 2000, on_get, &g));
    IPVM_ASSERT(run_until(&loop, &g.done, 5000));
    IPVM_ASSERT(g.status == IPVM_ENOENT || g.status == IPVM_ETIMEDOUT);
    IPVM_ASSERT_LT((ipvm_now_ns() - t0) / 1e6, 2000 + 1500 * ipvm_test_timeout_multiplier());
    IPVM_ASSERT(log_has("did not answer within 500 ms"));
    tnodes_stop(&loop, n, 2);
    log_stop();
}

/* ------------------------------------------------------- killed mid-stream ---- */
static bool disconnected(void *data)
{
    tnode_t *n = data;
    return n->events[IPVM_P2P_EV_DISCONNECTED] > 0;
}

typedef struct {
    bool done;
    int status;
    size_t stored;
} put_t;

static void on_put(ipvm_p2p_host_t *h, int status, size_t stored, void *data)
{
    (void)h;
    put_t *p = data;
    p->done = true;
    p->status = status;
    p->stored = stored;
}

/* A js-libp2p peer is killed (SIGKILL) while we stream to it: the connection closes with a log
 * line, what was in flight fails, and the host carries on. */
IPVM_TEST(p2p, faults_peer_killed_mid_stream)
{
    log_start();
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n = {0};
    ipvm_p2p_config_init(&n.cfg);
    n.cfg.request_timeout_ms = 2000;
    tnode_start(&n, &loop, true);
    jspeer_t js;
    jspeer_start(&js, &loop, NULL);
    char buf[1024];
    snprintf(buf, sizeof buf, "\"cmd\":\"dial\",\"addr\":\"%s\"", n.addr);
    jspeer_ok(&js, buf, 15000);
    for (int i = 0; i < 200 && ipvm_p2p_dht_routing_size(n.host) == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    /* a large record (512 KiB) keeps a stream busy while the peer dies */
    size_t big = 512 * 1024;
    uint8_t *v = ipvm_malloc(big);
    randombytes_buf(v, big);
    put_t p = {0};
    IPVM_ASSERT_OK(ipvm_p2p_dht_put(n.host, (const uint8_t *)"big", 3, v, big, 1, on_put, &p));
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_process_kill(&js.proc, SIGKILL);
    IPVM_ASSERT(run_until(&loop, &p.done, 10000));
    IPVM_ASSERT_MSG(run_until_fn(&loop, disconnected, &n, 10000), "no disconnect event");
    IPVM_ASSERT(log_has("closing connection"));
    IPVM_ASSERT_EQ(ipvm_p2p_peer_count(n.host), 0);
    run_until(&loop, &js.exited, 5000);
    jspeer_stop(&js);
    /* the host still works with a new peer */
    tnode_t m;
    tnode_start(&m, &loop, false);
    tnode_connect(&loop, &m, &n);
    IPVM_ASSERT_EQ(ipvm_p2p_peer_count(n.host), 1);
    ipvm_free(v);
    tnode_t all[2] = {n, m};
    tnodes_stop(&loop, all, 2);
    log_stop();
}

/* ------------------------------------------------ transport messages split across reads ---- */
typedef struct {
    uint16_t port;
    bool echoed, open, done;
} split_job_t;

static bool has_bytes(const ipvm_buf_t *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, p, n) == 0)
            return true;
    return false;
}

/* Decrypts every whole transport message in r->in into plain. */
static void raw_decrypt_all(raw_t *r, ipvm_buf_t *plain)
{
    static uint8_t out[IPVM__NOISE_MAX_MSG];
    while (r->inlen >= 2 && r->inlen >= 2u + ipvm__be16_get(r->in)) {
        size_t n = ipvm__be16_get(r->in), olen = 0;
        IPVM_ASSERT_OK(ipvm__noise_decrypt(&r->rx, r->in + 2, n, out, &olen, NULL));
        IPVM_ASSERT_OK(ipvm_buf_append(plain, out, olen));
        consume(r, 2 + n);
    }
}

/* Three transport messages (a ping stream opened, two 32-byte pings) cut into pieces that split
 * length prefixes and bodies, sent with pauses so that the host reads them separately. */
static void split_case(void *arg)
{
    split_job_t *j = arg;
    raw_t r;
    raw_connect(&r, j->port);
    raw_handshake(&r);
    uint8_t ping[2][32], h[12];
    randombytes_buf(ping, sizeof ping);
    ipvm__mss_t m;
    const char *p[] = {"/ipfs/ping/1.0.0"};
    ipvm_buf_t mss = IPVM_BUF_INIT, wire = IPVM_BUF_INIT, f = IPVM_BUF_INIT, plain = IPVM_BUF_INIT;
    ipvm__mss_init(&m, true, p, 1);
    IPVM_ASSERT_OK(ipvm__mss_start(&m, &mss));
    yframe(h, IPVM__YMX_DATA, IPVM__YMX_SYN, 1, (uint32_t)mss.len);
    IPVM_ASSERT_OK(ipvm_buf_append(&f, h, 12));
    IPVM_ASSERT_OK(ipvm_buf_append(&f, mss.data, mss.len));
    IPVM_ASSERT_OK(ipvm__noise_encrypt(&r.tx, f.data, f.len, &wire));
    for (int i = 0; i < 2; i++) {
        yframe(h, IPVM__YMX_DATA, 0, 1, 32);
        ipvm_buf_clear(&f);
        IPVM_ASSERT_OK(ipvm_buf_append(&f, h, 12));
        IPVM_ASSERT_OK(ipvm_buf_append(&f, ping[i], 32));
        IPVM_ASSERT_OK(ipvm__noise_encrypt(&r.tx, f.data, f.len, &wire));
    }
    size_t first = 2u + ipvm__be16_get(wire.data);
    const size_t cuts[] = {1, 2, 7, first - 3, first + 1, first + 40, wire.len - 5, wire.len};
    size_t off = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        raw_send(&r, wire.data + off, cuts[i] - off);
        off = cuts[i];
        uv_sleep(30);
    }
    uint64_t end = ipvm_now_ns() + (uint64_t)(5e9 * ipvm_test_timeout_multiplier());
    while (!j->echoed && ipvm_now_ns() < end) {
        if (!raw_read(&r, 1, 100))
            break;
        raw_decrypt_all(&r, &plain);
        j->echoed = has_bytes(&plain, ping[0], 32) && has_bytes(&plain, ping[1], 32);
    }
    j->open = !raw_closed(&r, 200);
    ipvm_buf_dispose(&mss);
    ipvm_buf_dispose(&wire);
    ipvm_buf_dispose(&f);
    ipvm_buf_dispose(&plain);
    raw_close(&r);
    __atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
}

IPVM_TEST(p2p, faults_transport_split_reads)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n = {0};
    tnode_start(&n, &loop, false);
    split_job_t j = {.port = port_of(&n)};
    uv_thread_t t;
    IPVM_ASSERT_OK(uv_thread_create(&t, split_case, &j));
    IPVM_ASSERT(run_until(&loop, (volatile bool *)&j.done, 15000));
    uv_thread_join(&t);
    IPVM_ASSERT_MSG(j.echoed, "the host did not echo both pings sent in split pieces");
    IPVM_ASSERT_MSG(j.open, "the host closed the connection");
    tnodes_stop(&loop, &n, 1);
}

/* ------------------------------------------------- a gossipsub RPC that is not a protobuf ---- */
typedef struct {
    uint16_t port;
    bool reset, conn_open, done;
} rpc_job_t;

/* Whether the yamux frames in plain hold a reset (RST) of stream id. */
static bool has_reset(const ipvm_buf_t *plain, uint32_t id)
{
    size_t off = 0;
    while (off + IPVM__YMX_HDR <= plain->len) {
        const uint8_t *h = plain->data + off;
        if ((ipvm__be16_get(h + 2) & IPVM__YMX_RST) && ipvm__be32_get(h + 4) == id)
            return true;
        off += IPVM__YMX_HDR + (h[1] == IPVM__YMX_DATA ? ipvm__be32_get(h + 8) : 0);
    }
    return false;
}

/* Opens a gossipsub stream and sends a message that is not an RPC, then a valid one. */
static void bad_rpc_case(void *arg)
{
    rpc_job_t *j = arg;
    raw_t r;
    raw_connect(&r, j->port);
    raw_handshake(&r);
    /* {4, ff ff ff ff}: not a protobuf; {2, 0a 00}: an RPC with one empty subscription */
    const uint8_t lp[] = {4, 0xff, 0xff, 0xff, 0xff, 2, 0x0a, 0x00};
    raw_stream(&r, "/meshsub/1.1.0", lp, sizeof lp);
    ipvm_buf_t plain = IPVM_BUF_INIT;
    uint64_t end = ipvm_now_ns() + (uint64_t)(3e9 * ipvm_test_timeout_multiplier());
    while (!j->reset && ipvm_now_ns() < end) {
        if (!raw_read(&r, 1, 100))
            break;
        raw_decrypt_all(&r, &plain);
        j->reset = has_reset(&plain, 1);
    }
    j->conn_open = !raw_closed(&r, 200);
    ipvm_buf_dispose(&plain);
    raw_close(&r);
    __atomic_store_n(&j->done, true, __ATOMIC_RELEASE);
}

IPVM_TEST(p2p, faults_gossip_bad_rpc_resets_stream)
{
    log_start();
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode_t n = {0};
    tnode_start(&n, &loop, false);
    rpc_job_t j = {.port = port_of(&n)};
    uv_thread_t t;
    IPVM_ASSERT_OK(uv_thread_create(&t, bad_rpc_case, &j));
    IPVM_ASSERT(run_until(&loop, (volatile bool *)&j.done, 15000));
    uv_thread_join(&t);
    IPVM_ASSERT_MSG(log_has("that are not an RPC"), "no log line for the bad RPC");
    IPVM_ASSERT_MSG(j.reset, "the gossipsub stream was not reset after a bad RPC");
    IPVM_ASSERT_MSG(j.conn_open, "the whole connection was closed for one bad stream");
    tnodes_stop(&loop, &n, 1);
    log_stop();
}
