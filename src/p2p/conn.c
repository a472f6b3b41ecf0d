/* SPDX-License-Identifier: Apache-2.0 */
/* A libp2p connection over TCP on libuv (libp2p/specs connections/README.md "Upgrading
 * Connections"): multistream-select for /noise, the Noise XX handshake, then /yamux/1.0.0
 * (negotiated by multistream inside the secure channel, or inlined in the handshake's early
 * data). Every peer byte goes through a bounded parser; a fault closes the connection with a
 * log line that says what was wrong. */
#include "host.h"

#include <stdio.h>

#define READ_BUF (256 * 1024)
#define MAX_WRITE_BACKLOG (64u * 1024 * 1024) /* a peer that stops reading is dropped */
#define WIRE_KEEP_MAX (4u * 1024 * 1024)      /* a written buffer up to this size is reused */
#define WIRE_BATCH (256u * 1024)              /* plaintext sealed and written at a time */
#define BACKLOG_HIGH (512u * 1024)            /* queued in libuv past this: streams wait */

static const char *const noise_protos[] = {IPVM__P2P_NOISE_PROTO};
static const char *const yamux_protos[] = {IPVM__P2P_YAMUX_PROTO};

static void conn_describe(const p2p_conn_t *c, char *out, size_t n)
{
    char a[IPVM_MULTIADDR_STR], id[IPVM_P2P_PEER_ID_STR] = "";
    ipvm_multiaddr_str(&c->remote_addr, a);
    if (c->remote.len)
        ipvm_p2p_peer_id_str(&c->remote, id);
    else if (c->expect.len)
        ipvm_p2p_peer_id_str(&c->expect, id);
    snprintf(out, n, "#%llu %s %s%s%s", (unsigned long long)c->id,
             c->outbound ? "to" : "from", a, id[0] ? " " : "", id);
}

/* ------------------------------------------------------------------------- writing ---- */
/* Bytes leave in batches of about WIRE_BATCH: once that much plaintext is queued it is sealed
 * and handed to the kernel at once (uv_try_write; only what the kernel refuses is queued with
 * uv_write), so a bulk stream's bytes are copied and encrypted while they are still in the
 * cache, in buffers that are reused rather than freshly faulted in. While more than
 * BACKLOG_HIGH bytes wait in libuv's queue, yamux holds back stream data (ipvm__ymx_block):
 * the memory a fast sender takes is bounded by that, not by the peer's receive window. */
static void do_close(p2p_conn_t *c);

typedef struct {
    uv_write_t req;
    p2p_conn_t *conn;
    size_t len, cap;
    uint8_t *data;
} wreq_t;

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    p2p_conn_t *c = w->conn;
    c->write_bytes -= w->len;
    /* a written buffer is kept for the next flushes (two at most): no fresh pages to fault in */
    ipvm_buf_t *keep = c->tx_wire.cap == 0 ? &c->tx_wire : c->tx_spare.cap == 0 ? &c->tx_spare
                                                                                 : NULL;
    if (keep && c->stage != P2P_C_CLOSING && w->cap <= WIRE_KEEP_MAX) {
        keep->data = w->data;
        keep->cap = w->cap;
        keep->len = 0;
    } else {
        ipvm_free(w->data);
    }
    ipvm_free(w);
    if (status < 0 && status != UV_ECANCELED) {
        p2p_conn_close(c, status, "write failed");
        return;
    }
    if (c->stage == P2P_C_OPEN && c->ymx.blocked && c->write_bytes < BACKLOG_HIGH &&
        !c->close_pending) {
        c->busy++; /* streams write from their on_writable: a close waits for the return */
        ipvm__ymx_unblock(&c->ymx);
        c->busy--;
        if (c->close_pending)
            do_close(c);
    }
}

/* Queues tx_wire from byte off with uv_write (the buffer goes with the request). */
static int queue_wire(p2p_conn_t *c, size_t off)
{
    wreq_t *w = ipvm_malloc(sizeof *w);
    if (w == NULL)
        return IPVM_ENOMEM;
    w->conn = c;
    w->cap = c->tx_wire.cap;
    w->data = ipvm_buf_take(&c->tx_wire, &w->len);
    w->len -= off;
    if (c->tx_spare.cap) {
        c->tx_wire = c->tx_spare;
        ipvm_buf_init(&c->tx_spare);
    }
    uv_buf_t b = uv_buf_init((char *)w->data + off, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) {
        ipvm_free(w->data);
        ipvm_free(w);
        return rc;
    }
    c->write_bytes += w->len;
    if (c->stage == P2P_C_OPEN && c->write_bytes >= BACKLOG_HIGH)
        ipvm__ymx_block(&c->ymx);
    return c->write_bytes > MAX_WRITE_BACKLOG ? IPVM_EPEER : 0;
}

/* Seals tx_plain onto tx_wire and hands tx_wire to the kernel. Never closes the connection:
 * returns 0, IPVM_EPEER (the peer stopped reading) or the error that must close it. */
static int conn_push(p2p_conn_t *c)
{
    if (c->tx_plain.len) {
        if (c->tx_wire.cap == 0 && c->tx_spare.cap) {
            c->tx_wire = c->tx_spare;
            ipvm_buf_init(&c->tx_spare);
        }
        int rc = ipvm__noise_encrypt(&c->tx, c->tx_plain.data, c->tx_plain.len, &c->tx_wire);
        ipvm_buf_clear(&c->tx_plain);
        if (rc)
            return rc;
    }
    size_t len = c->tx_wire.len, off = 0;
    if (len == 0)
        return 0;
    c->bytes_out += len;
    c->host->stats.bytes_out += len;
    if (c->write_bytes == 0) { /* nothing queued before: the kernel may take it all now */
        uv_buf_t b = uv_buf_init((char *)c->tx_wire.data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN)
            return n;
        off = n > 0 ? (size_t)n : 0;
        if (off == len) {
            c->tx_wire.len = 0;
            return 0;
        }
    }
    return queue_wire(c, off);
}

void p2p_conn_flush(p2p_conn_t *c)
{
    if (c->stage == P2P_C_CLOSING || c->stage == P2P_C_CONNECTING)
        return;
    int rc = c->write_err ? c->write_err : conn_push(c);
    if (rc == IPVM_EPEER)
        p2p_conn_close(c, rc, "peer is not reading (64 MiB unsent)");
    else if (rc == IPVM_ENOMEM)
        p2p_conn_close(c, rc, "out of memory");
    else if (rc)
        p2p_conn_close(c, rc, "write failed");
}

static int ymx_write(void *ud, const uint8_t *p, size_t n)
{
    p2p_conn_t *c = ud;
    if (c->stage == P2P_C_CLOSING || c->write_err)
        return IPVM_ECLOSED;
    int rc = ipvm_buf_append(&c->tx_plain, p, n);
    if (rc == 0 && c->tx_plain.len >= WIRE_BATCH)
        rc = c->write_err = conn_push(c); /* p2p_conn_flush closes on an error */
    p2p_host_mark_dirty(c->host, c);
    return rc;
}

/* ------------------------------------------------------------------------- closing ---- */
static void on_handle_closed(uv_handle_t *hd)
{
    p2p_conn_t *c = hd->data;
    if (--c->handles > 0)
        return;
    ipvm_p2p_host_t *h = c->host;
    ipvm_buf_dispose(&c->rx_raw);
    ipvm_buf_dispose(&c->rx_plain);
    ipvm_buf_dispose(&c->tx_plain);
    ipvm_buf_dispose(&c->tx_wire);
    ipvm_buf_dispose(&c->tx_spare);
    ipvm_memzero(&c->tx, sizeof c->tx);
    ipvm_memzero(&c->rx, sizeof c->rx);
    ipvm_free(c->plain);
    ipvm_free(c);
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

static void fire_waiters(p2p_conn_t *c, int err)
{
    p2p_dial_waiter_t *w = c->waiters;
    c->waiters = NULL;
    while (w) {
        p2p_dial_waiter_t *n = w->next;
        w->cb(err ? NULL : c, err, w->ud);
        ipvm_free(w);
        w = n;
    }
}

static void do_close(p2p_conn_t *c)
{
    int was = c->stage;
    char d[768];
    c->stage = P2P_C_CLOSING;
    c->close_pending = false;
    conn_describe(c, d, sizeof d);
    if (c->hs) {
        ipvm__noise_hs_dispose(c->hs);
        ipvm_free(c->hs);
        c->hs = NULL;
    }
    if (was == P2P_C_OPEN)
        ipvm__ymx_dispose(&c->ymx);
    fire_waiters(c, c->close_err ? c->close_err : IPVM_ECLOSED);
    p2p_host_conn_closed(c->host, c);
    (void)d;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void p2p_conn_close(p2p_conn_t *c, int err, const char *why)
{
    if (c->stage == P2P_C_CLOSING)
        return;
    if (!c->close_pending) {
        char d[768];
        conn_describe(c, d, sizeof d);
        bool quiet = err == 0 || err == UV_EOF || err == IPVM_ECLOSED || c->host->stopping;
        ipvm_log(quiet ? IPVM_LOG_DEBUG : IPVM_LOG_WARN, "p2p", "closing connection %s: %s%s%s",
                 d, why, err && err != IPVM_ECLOSED ? ": " : "",
                 err && err != IPVM_ECLOSED ? ipvm_strerror(err) : "");
        c->close_err = err ? err : IPVM_ECLOSED;
    }
    if (c->busy > 0) {
        c->close_pending = true;
        return;
    }
    do_close(c);
}

/* -------------------------------------------------------------------------- stages ---- */
static void on_stream(void *ud, ipvm__ymx_stream_t *s)
{
    p2p_stream_inbound(ud, s);
}

static void on_goaway(void *ud, uint32_t code)
{
    p2p_conn_t *c = ud;
    p2p_conn_close(c, code ? IPVM_EPEER : 0,
                   code == 0   ? "peer said goodbye (yamux GoAway)"
                   : code == 1 ? "peer saw a protocol error (yamux GoAway 1)"
                               : "peer had an internal error (yamux GoAway 2)");
}

static const ipvm__ymx_cb_t ymx_cb = {ymx_write, on_stream, on_goaway};

static void open_yamux(p2p_conn_t *c)
{
    ipvm__ymx_init(&c->ymx, c->outbound, &ymx_cb, c);
    c->stage = P2P_C_OPEN;
    uv_timer_stop(&c->timer);
    p2p_host_conn_opened(c->host, c);
    fire_waiters(c, 0);
}

/* The handshake is over: check who we talk to, derive keys, pick how to agree on yamux. */
static int handshake_done(p2p_conn_t *c, ipvm_error_t *err)
{
    ipvm__noise_hs_t *hs = c->hs;
    c->remote = hs->remote;
    if (c->expect.len && !ipvm_p2p_peer_id_equal(&c->expect, &c->remote)) {
        char want[IPVM_P2P_PEER_ID_STR], got[IPVM_P2P_PEER_ID_STR];
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0,
                              "dialed %s but the peer proved it is %s",
                              ipvm_p2p_peer_id_str(&c->expect, want),
                              ipvm_p2p_peer_id_str(&c->remote, got));
    }
    if (ipvm_p2p_peer_id_equal(&c->remote, ipvm_p2p_identity_peer_id(c->host->id)))
        return ipvm_error_set(err, IPVM_EHANDSHAKE, 0, "connected to ourselves");
    ipvm__noise_hs_split(hs, &c->tx, &c->rx);
    size_t muxers = hs->remote_muxers;
    bool yamux = hs->remote_yamux;
    ipvm__noise_hs_dispose(hs);
    ipvm_free(hs);
    c->hs = NULL;
    if (muxers > 0 && c->host->early_muxer) { /* connections/inlined-muxer-negotiation.md */
        if (!yamux)
            return ipvm_error_set(err, IPVM_EUNSUPPORTED, 0,
                                  "peer's muxers (early data) do not include /yamux/1.0.0");
        open_yamux(c);
        return 0;
    }
    c->stage = P2P_C_MSS_MUX;
    c->mss_protos[0] = yamux_protos[0];
    ipvm__mss_init(&c->mss, c->outbound, c->mss_protos, 1);
    int rc = ipvm__mss_start(&c->mss, &c->tx_plain);
    p2p_host_mark_dirty(c->host, c);
    return rc ? ipvm_error_set(err, rc, 0, "out of memory") : 0;
}

static int step_mss_sec(p2p_conn_t *c, const uint8_t *p, size_t n, size_t *used,
                        ipvm_error_t *err)
{
    int rc = ipvm__mss_feed(&c->mss, p, n, used, &c->tx_wire, err);
    p2p_host_mark_dirty(c->host, c);
    if (rc <= 0)
        return rc;
    c->hs = ipvm_malloc(sizeof *c->hs);
    if (c->hs == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, 0, "out of memory");
    ipvm__noise_hs_init(c->hs, c->outbound, c->host->noise_sk, c->host->noise_pk,
                        c->host->noise_payload.data, c->host->noise_payload.len);
    c->stage = P2P_C_NOISE;
    return c->outbound ? ipvm__noise_hs_write(c->hs, &c->tx_wire, err) : 0;
}

static int step_noise(p2p_conn_t *c, const uint8_t *p, size_t n, size_t *used,
                      ipvm_error_t *err)
{
    *used = 0;
    if (n < 2)
        return 0;
    size_t len = ipvm__be16_get(p);
    if (n < 2 + len)
        return 0;
    *used = 2 + len;
    int rc = ipvm__noise_hs_read(c->hs, p + 2, len, err);
    if (rc)
        return rc;
    if (c->hs->step == 1 || c->hs->step == 2) { /* our turn: message 2 or 3 */
        if ((rc = ipvm__noise_hs_write(c->hs, &c->tx_wire, err)) != 0)
            return rc;
        p2p_host_mark_dirty(c->host, c);
    }
    return c->hs->step == 3 ? handshake_done(c, err) : 0;
}

static int deliver_plain(p2p_conn_t *c, const uint8_t *p, size_t n, ipvm_error_t *err)
{
    if (c->stage == P2P_C_OPEN)
        return ipvm__ymx_feed(&c->ymx, p, n, err);
    int rc = ipvm_buf_append(&c->rx_plain, p, n);
    if (rc)
        return ipvm_error_set(err, rc, 0, "out of memory");
    size_t used = 0;
    rc = ipvm__mss_feed(&c->mss, c->rx_plain.data, c->rx_plain.len, &used, &c->tx_plain, err);
    p2p_host_mark_dirty(c->host, c);
    if (rc <= 0) {
        if (rc == 0 && used) {
            memmove(c->rx_plain.data, c->rx_plain.data + used, c->rx_plain.len - used);
            c->rx_plain.len -= used;
        }
        return rc;
    }
    open_yamux(c);
    ipvm_buf_t rest = c->rx_plain;
    ipvm_buf_init(&c->rx_plain);
    rc = rest.len > used ? ipvm__ymx_feed(&c->ymx, rest.data + used, rest.len - used, err) : 0;
    ipvm_buf_dispose(&rest);
    return rc;
}

static int step_transport(p2p_conn_t *c, const uint8_t *p, size_t n, size_t *used,
                          ipvm_error_t *err)
{
    *used = 0;
    if (n < 2)
        return 0;
    size_t len = ipvm__be16_get(p), plen = 0;
    if (n < 2 + len)
        return 0;
    *used = 2 + len;
    int rc = ipvm__noise_decrypt(&c->rx, p + 2, len, c->plain, &plen, err);
    return rc ? rc : deliver_plain(c, c->plain, plen, err);
}

/* Runs the stage machine over bytes from the socket; keeps what is left for the next read. */
static void parse_bytes(p2p_conn_t *c, const uint8_t *p, size_t n)
{
    ipvm_error_t err = {0};
    bool buffered = c->rx_raw.len > 0;
    if (buffered) {
        if (n && ipvm_buf_append(&c->rx_raw, p, n) != 0) {
            p2p_conn_close(c, IPVM_ENOMEM, "out of memory");
            return;
        }
        p = c->rx_raw.data;
        n = c->rx_raw.len;
    }
    size_t off = 0;
    int rc = 0;
    while (off < n && c->stage != P2P_C_CLOSING && !c->close_pending) {
        size_t used = 0;
        if (c->stage == P2P_C_MSS_SEC)
            rc = step_mss_sec(c, p + off, n - off, &used, &err);
        else if (c->stage == P2P_C_NOISE)
            rc = step_noise(c, p + off, n - off, &used, &err);
        else
            rc = step_transport(c, p + off, n - off, &used, &err);
        if (rc < 0)
            break;
        off += used;
        if (used == 0)
            break;
    }
    if (rc < 0) {
        const char *stage = c->stage == P2P_C_MSS_SEC   ? "security negotiation"
                            : c->stage == P2P_C_NOISE   ? "noise handshake"
                            : c->stage == P2P_C_MSS_MUX ? "muxer negotiation"
                                                        : "yamux";
        char why[400];
        snprintf(why, sizeof why, "%s: %s", stage, err.msg[0] ? err.msg : ipvm_strerror(rc));
        if (c->stage == P2P_C_OPEN && rc == IPVM_EPROTO) {
            ipvm__ymx_goaway(&c->ymx, 1);
            p2p_conn_flush(c);
        }
        p2p_conn_close(c, rc, why);
        return;
    }
    if (c->stage == P2P_C_CLOSING)
        return;
    size_t left = n - off;
    if (buffered) {
        memmove(c->rx_raw.data, c->rx_raw.data + off, left);
        c->rx_raw.len = left;
    } else if (left && ipvm_buf_append(&c->rx_raw, p + off, left) != 0) {
        p2p_conn_close(c, IPVM_ENOMEM, "out of memory");
    }
    if (c->rx_raw.len > IPVM__NOISE_MAX_MSG + 2 + IPVM__MSS_MAX) /* cannot happen: frames fit */
        p2p_conn_close(c, IPVM_EPROTO, "receive buffer over its limit");
}

/* Appends to rx_raw (which holds the start of a transport message) only the bytes that message
 * still lacks, at most n. Returns how many it took, or IPVM_ENOMEM. */
static int complete_frame(p2p_conn_t *c, const uint8_t *p, size_t n, size_t *took)
{
    size_t have = c->rx_raw.len, want = 2;
    if (have + n >= 2) {
        uint8_t hdr[2] = {c->rx_raw.data[0], have > 1 ? c->rx_raw.data[1] : p[0]};
        want = 2 + (size_t)ipvm__be16_get(hdr);
    }
    size_t take = want - have < n ? want - have : n;
    *took = take;
    return take ? ipvm_buf_append(&c->rx_raw, p, take) : 0;
}

/* Bytes from the socket. When a transport message was split across reads, only its missing
 * part is copied to rx_raw; the rest of the read is parsed where it lies. */
static void on_bytes(p2p_conn_t *c, const uint8_t *p, size_t n)
{
    if (c->rx_raw.len && c->stage >= P2P_C_MSS_MUX && c->stage < P2P_C_CLOSING) {
        size_t took = 0;
        if (complete_frame(c, p, n, &took) != 0) {
            p2p_conn_close(c, IPVM_ENOMEM, "out of memory");
            return;
        }
        parse_bytes(c, NULL, 0);
        p += took;
        n -= took;
        if (n == 0 || c->rx_raw.len || c->stage == P2P_C_CLOSING || c->close_pending)
            return; /* (rx_raw is empty here: the message was whole) */
    }
    parse_bytes(c, p, n);
}

/* ----------------------------------------------------------------------- libuv glue ---- */
static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    p2p_conn_t *c = hd->data;
    (void)suggested;
    *buf = uv_buf_init((char *)c->host->rbuf, READ_BUF);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    p2p_conn_t *c = st->data;
    (void)buf;
    if (nread == 0)
        return;
    if (nread < 0) {
        p2p_conn_close(c, nread == UV_EOF ? IPVM_ECLOSED : (int)nread,
                       c->stage == P2P_C_OPEN ? "peer closed the connection"
                                              : "peer closed the connection during the upgrade");
        return;
    }
    c->bytes_in += (uint64_t)nread;
    c->host->stats.bytes_in += (uint64_t)nread;
    c->busy++;
    on_bytes(c, c->host->rbuf, (size_t)nread);
    c->busy--;
    if (c->close_pending)
        do_close(c);
}

static void on_deadline(uv_timer_t *t)
{
    p2p_conn_t *c = t->data;
    char why[128];
    snprintf(why, sizeof why, "connection not upgraded within %u ms (peer stopped answering)",
             c->host->cfg.dial_timeout_ms);
    p2p_conn_close(c, IPVM_ETIMEDOUT, why);
}

static p2p_conn_t *conn_new(ipvm_p2p_host_t *h, bool outbound)
{
    p2p_conn_t *c = ipvm_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->plain = ipvm_malloc(IPVM__NOISE_MAX_MSG);
    if (c->plain == NULL || (h->rbuf == NULL && (h->rbuf = ipvm_malloc(READ_BUF)) == NULL)) {
        ipvm_free(c->plain);
        ipvm_free(c);
        return NULL;
    }
    c->host = h;
    c->outbound = outbound;
    c->id = ++h->next_conn_id;
    c->opened_ms = ipvm_wall_ms();
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    h->handles++;
    c->next = h->conns;
    h->conns = c;
    h->nconns++;
    uv_timer_start(&c->timer, on_deadline, h->cfg.dial_timeout_ms, 0);
    return c;
}

/* Both sides start the same way once TCP is up: multistream for /noise. */
static void start_upgrade(p2p_conn_t *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    c->stage = P2P_C_MSS_SEC;
    c->mss_protos[0] = noise_protos[0];
    ipvm__mss_init(&c->mss, c->outbound, c->mss_protos, 1);
    int rc = ipvm__mss_start(&c->mss, &c->tx_wire);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        p2p_conn_close(c, rc, "cannot start reading");
        return;
    }
    p2p_host_mark_dirty(c->host, c);
}

void p2p_conn_accept(ipvm_p2p_host_t *h, uv_stream_t *server)
{
    p2p_conn_t *c = conn_new(h, false);
    if (c == NULL) {
        ipvm_log(IPVM_LOG_ERROR, "p2p", "out of memory accepting a connection");
        return;
    }
    c->stage = P2P_C_MSS_SEC;
    int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (rc == 0 && uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        if (ipvm_multiaddr_from_sockaddr(&ss, &c->remote_addr) != 0)
            c->remote_addr.len = 0;
    if (rc) {
        p2p_conn_close(c, rc, "accept failed");
        return;
    }
    if (h->nconns > h->cfg.max_connections) {
        p2p_conn_close(c, IPVM_EBUSY, "too many connections");
        return;
    }
    start_upgrade(c);
}

typedef struct {
    uv_connect_t req;
    p2p_conn_t *conn;
} creq_t;

static void on_connected(uv_connect_t *req, int status)
{
    creq_t *r = (creq_t *)req;
    p2p_conn_t *c = r->conn;
    ipvm_free(r);
    if (c->stage == P2P_C_CLOSING)
        return;
    if (status < 0) {
        p2p_conn_close(c, status, "TCP connect failed");
        return;
    }
    start_upgrade(c);
}

int p2p_dial(ipvm_p2p_host_t *h, const ipvm_multiaddr_t *ma, p2p_dial_cb cb, void *ud)
{
    struct sockaddr_storage ss;
    ipvm_peer_id_t pid = {0};
    if (h->stopping)
        return IPVM_ECANCELED;
    if (ipvm_multiaddr_to_sockaddr(ma, &ss) != 0)
        return IPVM_EINVAL;
    bool has_id = ipvm_multiaddr_peer_id(ma, &pid) == 0;
    if (has_id && ipvm_p2p_peer_id_equal(&pid, ipvm_p2p_identity_peer_id(h->id)))
        return IPVM_EINVAL; /* ourselves */
    p2p_dial_waiter_t *w = ipvm_malloc(sizeof *w);
    if (w == NULL)
        return IPVM_ENOMEM;
    w->cb = cb;
    w->ud = ud;
    for (p2p_conn_t *c = h->conns; has_id && c; c = c->next) {
        if (c->stage == P2P_C_CLOSING || c->close_pending)
            continue;
        if (c->stage == P2P_C_OPEN && ipvm_p2p_peer_id_equal(&c->remote, &pid)) {
            ipvm_free(w);
            cb(c, 0, ud); /* already connected: runs before p2p_dial returns */
            return 0;
        }
        if (c->stage < P2P_C_OPEN && c->outbound && ipvm_p2p_peer_id_equal(&c->expect, &pid)) {
            w->next = c->waiters; /* a dial to this peer is under way: wait for it */
            c->waiters = w;
            return 0;
        }
    }
    p2p_conn_t *c = conn_new(h, true);
    creq_t *r = c ? ipvm_malloc(sizeof *r) : NULL;
    if (r == NULL) {
        if (c)
            p2p_conn_close(c, IPVM_ENOMEM, "out of memory");
        ipvm_free(w);
        return IPVM_ENOMEM;
    }
    w->next = NULL;
    c->waiters = w;
    c->remote_addr = *ma;
    ipvm_multiaddr_strip_peer_id(&c->remote_addr);
    if (has_id)
        c->expect = pid;
    r->conn = c;
    int rc = uv_tcp_connect(&r->req, &c->tcp, (struct sockaddr *)&ss, on_connected);
    if (rc) {
        ipvm_free(r);
        c->waiters = NULL;
        ipvm_free(w);
        p2p_conn_close(c, rc, "TCP connect failed");
        return rc;
    }
    return 0;
}
