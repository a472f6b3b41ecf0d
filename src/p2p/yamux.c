/* SPDX-License-Identifier: Apache-2.0 */
/* Yamux 1.0.0 (libp2p/specs yamux/README.md): a stream multiplexer over the secure channel.
 * 12-byte big-endian headers; data is delivered to a stream as it arrives (a frame is never
 * buffered whole); per-stream flow control starts at 256 KiB and grows, for busy streams, to
 * 16 MiB; open streams and the ACK backlog are bounded. Pure: bytes in, bytes out. */
#include "p2p_int.h"

static const char *type_name(uint8_t t)
{
    static const char *n[] = {"data", "window update", "ping", "go away"};
    return t < 4 ? n[t] : "unknown";
}

static int send_frame(ipvm__ymx_t *y, uint8_t type, uint16_t flags, uint32_t id, uint32_t len,
                      const uint8_t *payload, size_t plen)
{
    uint8_t h[IPVM__YMX_HDR];
    if (y->failed)
        return IPVM_ECLOSED;
    h[0] = 0;
    h[1] = type;
    ipvm__be16_put(h + 2, flags);
    ipvm__be32_put(h + 4, id);
    ipvm__be32_put(h + 8, len);
    int rc = y->cb->write(y->ud, h, sizeof h);
    if (rc == 0 && plen)
        rc = y->cb->write(y->ud, payload, plen);
    if (rc)
        y->failed = true;
    return rc;
}

void ipvm__ymx_init(ipvm__ymx_t *y, bool client, const ipvm__ymx_cb_t *cb, void *ud)
{
    memset(y, 0, sizeof *y);
    y->client = client;
    y->next_id = client ? 1 : 2;
    y->cb = cb;
    y->ud = ud;
}

static ipvm__ymx_stream_t *find(ipvm__ymx_t *y, uint32_t id)
{
    ipvm__ymx_stream_t **pp = &y->streams;
    for (ipvm__ymx_stream_t *s = *pp; s; pp = &s->next, s = s->next) {
        if (s->id == id) {
            if (pp != &y->streams) { /* move to front: traffic comes in runs */
                *pp = s->next;
                s->next = y->streams;
                y->streams = s;
            }
            return s;
        }
    }
    return NULL;
}

static ipvm__ymx_stream_t *stream_new(ipvm__ymx_t *y, uint32_t id, bool outbound)
{
    ipvm__ymx_stream_t *s = ipvm_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->sess = y;
    s->id = id;
    s->outbound = outbound;
    s->send_window = IPVM__YMX_INITIAL_WINDOW;
    s->recv_window = IPVM__YMX_INITIAL_WINDOW;
    s->recv_avail = IPVM__YMX_INITIAL_WINDOW;
    s->next = y->streams;
    y->streams = s;
    y->nstreams++;
    return s;
}

static void release(ipvm__ymx_stream_t *s)
{
    if (--s->refs == 0 && s->closed) {
        ipvm_buf_dispose(&s->txq);
        ipvm_free(s);
    }
}

/* Ends a stream once: unlinks it, tells its user, frees it when no callback holds it. */
static void finish(ipvm__ymx_stream_t *s, int err)
{
    if (s->closed)
        return;
    ipvm__ymx_t *y = s->sess;
    s->closed = true;
    for (ipvm__ymx_stream_t **pp = &y->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    y->nstreams--;
    if (s->outbound && !s->acked)
        y->unacked--;
    s->refs++;
    if (s->cb && s->cb->on_close)
        s->cb->on_close(s, err);
    release(s);
}

static void pump(ipvm__ymx_stream_t *s)
{
    ipvm__ymx_t *y = s->sess;
    bool sent = false;
    while (s->txq_off < s->txq.len && s->send_window > 0 && !s->closed && !y->blocked) {
        size_t n = s->txq.len - s->txq_off;
        if (n > s->send_window)
            n = s->send_window;
        if (n > IPVM__YMX_FRAME_MAX)
            n = IPVM__YMX_FRAME_MAX;
        if (send_frame(y, IPVM__YMX_DATA, 0, s->id, (uint32_t)n, s->txq.data + s->txq_off, n))
            return;
        s->send_window -= (uint32_t)n;
        s->txq_off += n;
        sent = true;
    }
    if (s->txq_off == s->txq.len) {
        ipvm_buf_clear(&s->txq);
        s->txq_off = 0;
        if (s->local_fin && !s->fin_sent && !s->closed) {
            s->fin_sent = true;
            (void)send_frame(y, IPVM__YMX_WINDOW, IPVM__YMX_FIN, s->id, 0, NULL, 0);
            if (s->remote_fin) {
                finish(s, 0);
                return;
            }
        }
    } else if (s->txq_off > (1u << 20) && s->txq_off * 2 > s->txq.len) {
        memmove(s->txq.data, s->txq.data + s->txq_off, s->txq.len - s->txq_off);
        s->txq.len -= s->txq_off;
        s->txq_off = 0;
    }
    if (sent && !s->closed && s->cb && s->cb->on_writable &&
        ipvm__ymx_queued(s) < IPVM__YMX_TXQ_LOW) {
        s->refs++;
        s->cb->on_writable(s);
        release(s);
    }
}

void ipvm__ymx_block(ipvm__ymx_t *y)
{
    y->blocked = true;
}

void ipvm__ymx_unblock(ipvm__ymx_t *y)
{
    uint32_t ids[IPVM__YMX_MAX_STREAMS];
    size_t n = 0;
    y->blocked = false;
    /* by id, not by pointer: a pump may end streams or open new ones */
    for (ipvm__ymx_stream_t *s = y->streams; s && n < IPVM__YMX_MAX_STREAMS; s = s->next)
        if (ipvm__ymx_queued(s) > 0 && s->send_window > 0)
            ids[n++] = s->id;
    for (size_t i = 0; i < n && !y->blocked && !y->failed; i++) {
        ipvm__ymx_stream_t *s = find(y, ids[i]);
        if (s == NULL || s->closed)
            continue;
        s->refs++;
        pump(s);
        release(s);
    }
}

size_t ipvm__ymx_queued(const ipvm__ymx_stream_t *s)
{
    return s->txq.len - s->txq_off;
}

int ipvm__ymx_open(ipvm__ymx_t *y, const ipvm__ymx_stream_cb_t *cb, void *ud,
                   ipvm__ymx_stream_t **out)
{
    if (y->goaway_sent || y->goaway_recv || y->failed)
        return IPVM_ECLOSED;
    if (y->unacked >= IPVM__YMX_MAX_UNACKED || y->nstreams >= IPVM__YMX_MAX_STREAMS)
        return IPVM_EBUSY;
    if (y->next_id > UINT32_MAX - 2)
        return IPVM_ECLOSED; /* stream ids used up: a new connection is needed */
    ipvm__ymx_stream_t *s = stream_new(y, y->next_id, true);
    if (s == NULL)
        return IPVM_ENOMEM;
    y->next_id += 2;
    y->unacked++;
    s->cb = cb;
    s->ud = ud;
    int rc = send_frame(y, IPVM__YMX_WINDOW, IPVM__YMX_SYN, s->id, 0, NULL, 0);
    if (rc) {
        s->cb = NULL;
        finish(s, rc);
        return rc;
    }
    *out = s;
    return 0;
}

int ipvm__ymx_write(ipvm__ymx_stream_t *s, const uint8_t *p, size_t n)
{
    if (s->closed || s->local_fin || s->sess->failed)
        return IPVM_ECLOSED;
    if (n == 0)
        return 0;
    if (ipvm__ymx_queued(s) + n > IPVM__YMX_TXQ_MAX)
        return IPVM_ETOOBIG;
    if (ipvm__ymx_queued(s) == 0) { /* fast path: send what the window allows, queue the rest */
        while (n > 0 && s->send_window > 0 && !s->sess->blocked) {
            size_t c = n < s->send_window ? n : s->send_window;
            if (c > IPVM__YMX_FRAME_MAX)
                c = IPVM__YMX_FRAME_MAX;
            int rc = send_frame(s->sess, IPVM__YMX_DATA, 0, s->id, (uint32_t)c, p, c);
            if (rc)
                return rc;
            s->send_window -= (uint32_t)c;
            p += c;
            n -= c;
        }
        if (n == 0)
            return 0;
    }
    return ipvm_buf_append(&s->txq, p, n);
}

void ipvm__ymx_close_write(ipvm__ymx_stream_t *s)
{
    if (s->closed || s->local_fin)
        return;
    s->local_fin = true;
    s->refs++;
    pump(s);
    release(s);
}

void ipvm__ymx_reset(ipvm__ymx_stream_t *s)
{
    if (s->closed)
        return;
    (void)send_frame(s->sess, IPVM__YMX_WINDOW, IPVM__YMX_RST, s->id, 0, NULL, 0);
    finish(s, IPVM_ECANCELED);
}

void ipvm__ymx_goaway(ipvm__ymx_t *y, uint32_t code)
{
    if (y->goaway_sent)
        return;
    y->goaway_sent = true;
    (void)send_frame(y, IPVM__YMX_GOAWAY, 0, 0, code, NULL, 0);
}

int ipvm__ymx_ping(ipvm__ymx_t *y, uint32_t opaque)
{
    return send_frame(y, IPVM__YMX_PING, IPVM__YMX_SYN, 0, opaque, NULL, 0);
}

void ipvm__ymx_dispose(ipvm__ymx_t *y)
{
    if (y->payload_to) {
        ipvm__ymx_stream_t *s = y->payload_to;
        y->payload_to = NULL;
        release(s);
    }
    while (y->streams)
        finish(y->streams, IPVM_ECLOSED);
}

/* Grants more credit once half the window is used; a busy stream's window doubles. */
static void maybe_window_update(ipvm__ymx_stream_t *s)
{
    uint32_t used = s->recv_window - s->recv_avail;
    if (s->closed || s->remote_fin || used < s->recv_window / 2)
        return;
    if (s->recv_window < IPVM__YMX_MAX_WINDOW)
        s->recv_window *= 2;
    uint32_t delta = s->recv_window - s->recv_avail;
    s->recv_avail = s->recv_window;
    (void)send_frame(s->sess, IPVM__YMX_WINDOW, 0, s->id, delta, NULL, 0);
}

/* A SYN from the peer: a new inbound stream, or a reset when over the limits. */
static int accept_stream(ipvm__ymx_t *y, uint32_t id, ipvm__ymx_stream_t **out,
                         ipvm_error_t *err)
{
    *out = NULL;
    if ((id % 2 == 1) == y->client)
        return ipvm_error_set(err, IPVM_EPROTO, 4,
                              "yamux: peer opened stream %u with our parity (both sides %s)", id,
                              y->client ? "dialed" : "listened");
    if (find(y, id))
        return ipvm_error_set(err, IPVM_EPROTO, 4, "yamux: peer reopened live stream %u", id);
    if (y->goaway_sent || y->nstreams >= IPVM__YMX_MAX_STREAMS) {
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "yamux: refusing stream %u (%zu open%s)", id, y->nstreams,
                 y->goaway_sent ? ", going away" : "");
        return send_frame(y, IPVM__YMX_WINDOW, IPVM__YMX_RST, id, 0, NULL, 0) ? IPVM_ECLOSED : 0;
    }
    ipvm__ymx_stream_t *s = stream_new(y, id, false);
    if (s == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, 0, "out of memory");
    s->refs++;
    y->cb->on_stream(y->ud, s);
    if (!s->closed)
        (void)send_frame(y, IPVM__YMX_WINDOW, IPVM__YMX_ACK, id, 0, NULL, 0);
    *out = s;
    return 0;
}

/* FIN and RST, applied after a frame's data. */
static void apply_flags(ipvm__ymx_stream_t *s, uint16_t flags)
{
    if (s->closed)
        return;
    if (flags & IPVM__YMX_RST) {
        finish(s, IPVM_ECLOSED);
        return;
    }
    if ((flags & IPVM__YMX_FIN) && !s->remote_fin) {
        s->remote_fin = true;
        if (s->cb && s->cb->on_eof)
            s->cb->on_eof(s);
        if (s->fin_sent && !s->closed)
            finish(s, 0);
    }
}

/* A ping or go-away frame (stream 0). */
static int on_session_frame(ipvm__ymx_t *y, uint8_t type, uint16_t flags, uint32_t len)
{
    if (type == IPVM__YMX_PING) {
        if (flags & IPVM__YMX_SYN)
            return send_frame(y, IPVM__YMX_PING, IPVM__YMX_ACK, 0, len, NULL, 0) ? IPVM_ECLOSED
                                                                                 : 0;
        return 0; /* an answer to one of our pings */
    }
    y->goaway_recv = true;
    if (y->cb->on_goaway)
        y->cb->on_goaway(y->ud, len);
    return 0;
}

/* A frame's effect on an open stream: the ACK of our SYN, then the data frame's use of the
 * receive window or the window update's credit. */
static int stream_frame(ipvm__ymx_stream_t *s, uint8_t type, uint16_t flags, uint32_t len,
                        ipvm_error_t *err)
{
    if ((flags & IPVM__YMX_ACK) && s->outbound && !s->acked) {
        s->acked = true;
        s->sess->unacked--;
    }
    if (type == IPVM__YMX_DATA && len > s->recv_avail)
        return ipvm_error_set(err, IPVM_EPROTO, 8,
                              "yamux: data frame of %u bytes exceeds stream %u's receive window "
                              "(%u left)", len, s->id, s->recv_avail);
    if (type == IPVM__YMX_DATA) {
        s->recv_avail -= len;
    } else if ((uint64_t)s->send_window + len > UINT32_MAX) {
        return ipvm_error_set(err, IPVM_EPROTO, 8,
                              "yamux: window update overflows stream %u's window", s->id);
    } else if (len) {
        s->send_window += len;
        pump(s);
    }
    return 0;
}

/* A complete header: validates it, opens or finds the stream, applies window updates. For a
 * data frame the stream (held) becomes y->payload_to until its bytes have been delivered. */
static int on_header(ipvm__ymx_t *y, ipvm_error_t *err)
{
    const uint8_t *h = y->hdr;
    uint8_t type = h[1];
    uint16_t flags = ipvm__be16_get(h + 2);
    uint32_t id = ipvm__be32_get(h + 4), len = ipvm__be32_get(h + 8);
    if (h[0] != 0)
        return ipvm_error_set(err, IPVM_EPROTO, 0, "yamux: version %u (only 0 exists)", h[0]);
    if (type > IPVM__YMX_GOAWAY)
        return ipvm_error_set(err, IPVM_EPROTO, 1, "yamux: unknown frame type %u", type);
    if ((id == 0) != (type == IPVM__YMX_PING || type == IPVM__YMX_GOAWAY))
        return ipvm_error_set(err, IPVM_EPROTO, 4, "yamux: %s frame on stream %u",
                              type_name(type), id);
    if (id == 0)
        return on_session_frame(y, type, flags, len);
    ipvm__ymx_stream_t *s = NULL;
    int rc;
    if (flags & IPVM__YMX_SYN) {
        if ((rc = accept_stream(y, id, &s, err)) != 0)
            return rc;
    } else if ((s = find(y, id)) != NULL) {
        s->refs++;
    }
    y->payload_left = type == IPVM__YMX_DATA ? len : 0;
    y->payload_flags = flags;
    rc = s && !s->closed ? stream_frame(s, type, flags, len, err) : 0;
    if (rc == 0 && s && type == IPVM__YMX_DATA) {
        y->payload_to = s; /* keeps the reference until the frame ends */
        return 0;
    }
    if (rc == 0 && s)
        apply_flags(s, flags);
    if (s)
        release(s);
    return rc;
}

/* The end of a data frame: its flags, more credit, and the stream's reference. */
static void end_payload(ipvm__ymx_t *y)
{
    ipvm__ymx_stream_t *s = y->payload_to;
    y->payload_to = NULL;
    if (s == NULL)
        return;
    if (!s->closed) {
        maybe_window_update(s);
        apply_flags(s, y->payload_flags);
    }
    release(s);
}

int ipvm__ymx_feed(ipvm__ymx_t *y, const uint8_t *p, size_t n, ipvm_error_t *err)
{
    y->bytes_in += n;
    while (n > 0) {
        if (y->hdr_len < IPVM__YMX_HDR) {
            size_t c = IPVM__YMX_HDR - y->hdr_len;
            if (c > n)
                c = n;
            memcpy(y->hdr + y->hdr_len, p, c);
            y->hdr_len += c;
            p += c;
            n -= c;
            if (y->hdr_len < IPVM__YMX_HDR)
                break;
            y->frames_in++;
            int rc = on_header(y, err);
            if (rc)
                return rc;
        }
        if (y->payload_left > 0) {
            size_t c = n < y->payload_left ? n : y->payload_left;
            ipvm__ymx_stream_t *s = y->payload_to;
            if (s && !s->closed && s->cb && s->cb->on_data && c > 0)
                s->cb->on_data(s, p, c);
            p += c;
            n -= c;
            y->payload_left -= (uint32_t)c;
            if (y->payload_left > 0)
                break;
        }
        end_payload(y);
        y->hdr_len = 0;
        if (y->failed)
            return ipvm_error_set(err, IPVM_ECLOSED, 0, "yamux: connection failed");
    }
    return 0;
}
