/* SPDX-License-Identifier: Apache-2.0 */
/* ping (/ipfs/ping/1.0.0, libp2p/specs ping/ping.md): we echo every 32-byte payload a peer
 * sends; ipvm_p2p_ping sends one and measures the round trip, within the request timeout. */
#include "host.h"

#include <sodium.h>

#define PING_PROTO "/ipfs/ping/1.0.0"
#define PING_LEN 32
#define MAX_ECHO_QUEUE (64 * 1024) /* a peer flooding pings faster than it reads is cut off */

static void echo_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    if (p2p_stream_queued(s) + n > MAX_ECHO_QUEUE || p2p_stream_write(s, p, n) != 0)
        p2p_stream_reset(s);
}

static void echo_eof(p2p_stream_t *s)
{
    p2p_stream_close_write(s);
}

static const p2p_stream_ops_t echo_ops = {echo_data, echo_eof, NULL, NULL};

static void on_ping(p2p_stream_t *s, void *ud)
{
    (void)ud;
    s->ops = &echo_ops;
}

typedef struct {
    ipvm_p2p_host_t *h;
    p2p_stream_t *s;
    p2p_peer_t *peer;
    uv_timer_t timer;
    uint8_t sent[PING_LEN], got[PING_LEN];
    size_t ngot;
    uint64_t start_ns;
    ipvm_p2p_ping_fn cb;
    void *data;
    bool done;
} ping_t;

static void ping_timer_closed(uv_handle_t *hd)
{
    ping_t *pg = hd->data;
    ipvm_p2p_host_t *h = pg->h;
    ipvm_free(pg);
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

/* Reports once; the stream (if still open) is reset or finished by the caller. */
static void finish(ping_t *pg, int err, uint64_t rtt_us)
{
    if (pg->done)
        return;
    pg->done = true;
    uv_timer_stop(&pg->timer);
    if (err == 0 && pg->peer)
        pg->peer->rtt_us = rtt_us;
    pg->cb(pg->h, err, rtt_us, pg->data);
}

static void ping_data(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    ping_t *pg = s->ud;
    size_t c = n < PING_LEN - pg->ngot ? n : PING_LEN - pg->ngot;
    memcpy(pg->got + pg->ngot, p, c);
    pg->ngot += c;
    if (pg->ngot < PING_LEN || pg->done)
        return;
    uint64_t rtt = (ipvm_now_ns() - pg->start_ns) / 1000;
    if (sodium_memcmp(pg->got, pg->sent, PING_LEN) != 0) {
        finish(pg, IPVM_EPEER, 0);
        p2p_stream_reset(s);
        return;
    }
    finish(pg, 0, rtt);
    p2p_stream_close_write(s);
}

static void ping_close(p2p_stream_t *s, int err)
{
    ping_t *pg = s->ud;
    pg->s = NULL;
    finish(pg, err ? err : IPVM_ECLOSED, 0);
    uv_close((uv_handle_t *)&pg->timer, ping_timer_closed);
}

static const p2p_stream_ops_t ping_ops = {ping_data, NULL, NULL, ping_close};

static void on_timeout(uv_timer_t *t)
{
    ping_t *pg = t->data;
    finish(pg, IPVM_ETIMEDOUT, 0);
    if (pg->s)
        p2p_stream_reset(pg->s);
}

int ipvm_p2p_ping(ipvm_p2p_host_t *h, const ipvm_peer_id_t *peer, ipvm_p2p_ping_fn cb,
                  void *data)
{
    p2p_peer_t *p = p2p_peer_get(h, peer, false);
    p2p_conn_t *c = p ? p2p_peer_conn(h, p) : NULL;
    if (c == NULL)
        return IPVM_ENOENT;
    ping_t *pg = ipvm_calloc(1, sizeof *pg);
    if (pg == NULL)
        return IPVM_ENOMEM;
    pg->h = h;
    pg->peer = p;
    pg->cb = cb;
    pg->data = data;
    randombytes_buf(pg->sent, PING_LEN);
    int rc = p2p_stream_open(c, PING_PROTO, &ping_ops, pg, &pg->s);
    if (rc) {
        ipvm_free(pg);
        return rc;
    }
    uv_timer_init(h->loop, &pg->timer);
    pg->timer.data = pg;
    h->handles++;
    uv_timer_start(&pg->timer, on_timeout, h->cfg.request_timeout_ms, 0);
    pg->start_ns = ipvm_now_ns();
    if (p2p_stream_write(pg->s, pg->sent, PING_LEN) != 0)
        p2p_stream_reset(pg->s); /* ping_close reports the failure */
    return 0;
}

int p2p_ping_init(ipvm_p2p_host_t *h)
{
    return p2p_handle(h, PING_PROTO, on_ping, h);
}
