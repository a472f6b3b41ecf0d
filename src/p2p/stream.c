/* SPDX-License-Identifier: Apache-2.0 */
/* Streams: a yamux stream plus its multistream-select negotiation (the opener proposes one
 * protocol, optimistically; the other side answers from the host's registry), then the
 * protocol's callbacks. Also the uvarint length-prefixed message reader every protobuf
 * protocol uses. */
#include "host.h"

static void s_on_data(ipvm__ymx_stream_t *ys, const uint8_t *p, size_t n);
static void s_on_eof(ipvm__ymx_stream_t *ys);
static void s_on_writable(ipvm__ymx_stream_t *ys);
static void s_on_close(ipvm__ymx_stream_t *ys, int err);
static const ipvm__ymx_stream_cb_t ycb = {s_on_data, s_on_eof, s_on_writable, s_on_close};

static p2p_stream_t *stream_new(p2p_conn_t *c)
{
    p2p_stream_t *s = ipvm_calloc(1, sizeof *s);
    if (s)
        s->conn = c;
    return s;
}

void p2p_stream_inbound(p2p_conn_t *c, ipvm__ymx_stream_t *ys)
{
    ipvm_p2p_host_t *h = c->host;
    p2p_stream_t *s = stream_new(c);
    if (s == NULL) {
        ipvm__ymx_reset(ys);
        return;
    }
    s->ys = ys;
    ys->cb = &ycb;
    ys->ud = s;
    ipvm__mss_init(&s->mss, false, h->handler_ids, h->nhandlers);
    ipvm_buf_t out = IPVM_BUF_INIT;
    if (ipvm__mss_start(&s->mss, &out) != 0 || ipvm__ymx_write(ys, out.data, out.len) != 0)
        ipvm__ymx_reset(ys);
    ipvm_buf_dispose(&out);
}

int p2p_stream_open(p2p_conn_t *c, const char *protocol, const p2p_stream_ops_t *ops, void *ud,
                    p2p_stream_t **out)
{
    if (c->stage != P2P_C_OPEN || c->close_pending)
        return IPVM_ECLOSED;
    p2p_stream_t *s = stream_new(c);
    if (s == NULL)
        return IPVM_ENOMEM;
    s->ops = ops;
    s->ud = ud;
    s->offer[0] = protocol;
    s->protocol = protocol;
    ipvm__mss_init(&s->mss, true, s->offer, 1);
    int rc = ipvm__ymx_open(&c->ymx, &ycb, s, &s->ys);
    if (rc) {
        ipvm_free(s);
        return rc;
    }
    ipvm_buf_t b = IPVM_BUF_INIT;
    rc = ipvm__mss_start(&s->mss, &b);
    if (rc == 0)
        rc = ipvm__ymx_write(s->ys, b.data, b.len);
    ipvm_buf_dispose(&b);
    if (rc) {
        s->ops = NULL; /* the caller keeps the error; no on_close for a stream never returned */
        ipvm__ymx_reset(s->ys);
        return rc;
    }
    *out = s;
    return 0;
}

int p2p_stream_write(p2p_stream_t *s, const void *p, size_t n)
{
    if (s->closed || s->ys == NULL)
        return IPVM_ECLOSED;
    return ipvm__ymx_write(s->ys, p, n);
}

int p2p_stream_write_lp(p2p_stream_t *s, const void *p, size_t n)
{
    uint8_t v[IPVM_VARINT_MAX];
    if (s->closed || s->ys == NULL)
        return IPVM_ECLOSED;
    if (ipvm__ymx_queued(s->ys) + n + sizeof v > IPVM__YMX_TXQ_MAX)
        return IPVM_ETOOBIG; /* all or nothing: never half a message */
    int rc = ipvm__ymx_write(s->ys, v, ipvm_varint_encode(n, v));
    return rc ? rc : ipvm__ymx_write(s->ys, p, n);
}

size_t p2p_stream_queued(const p2p_stream_t *s)
{
    return s->ys ? ipvm__ymx_queued(s->ys) : 0;
}

void p2p_stream_close_write(p2p_stream_t *s)
{
    if (s->ys)
        ipvm__ymx_close_write(s->ys);
}

void p2p_stream_reset(p2p_stream_t *s)
{
    if (s->ys)
        ipvm__ymx_reset(s->ys);
}

/* Hands the stream to the protocol the responder agreed on. False when the stream is gone
 * (the handler refused or reset it; then s is freed). */
static bool dispatch(p2p_stream_t *s, ipvm__ymx_stream_t *ys)
{
    ipvm_p2p_host_t *h = s->conn->host;
    s->protocol = h->handler_ids[s->mss.selected];
    h->handlers[s->mss.selected].fn(s, h->handlers[s->mss.selected].ud);
    if (ys->closed)
        return false;
    if (s->ops == NULL) {
        ipvm__ymx_reset(ys);
        return false;
    }
    return true;
}

static void negotiate(p2p_stream_t *s, const uint8_t *p, size_t n)
{
    ipvm_error_t err = {0};
    ipvm_buf_t out = IPVM_BUF_INIT;
    size_t used = 0;
    ipvm__ymx_stream_t *ys = s->ys;
    if (ipvm_buf_append(&s->pending, p, n) != 0) {
        ipvm__ymx_reset(ys);
        return;
    }
    int rc = ipvm__mss_feed(&s->mss, s->pending.data, s->pending.len, &used, &out, &err);
    if (out.len && ipvm__ymx_write(ys, out.data, out.len) != 0 && rc >= 0)
        rc = IPVM_ECLOSED;
    ipvm_buf_dispose(&out);
    if (rc < 0) {
        char d[IPVM_P2P_PEER_ID_STR];
        ipvm_log(rc == IPVM_EUNSUPPORTED ? IPVM_LOG_DEBUG : IPVM_LOG_WARN, "p2p",
                 "stream from %s: %s", ipvm_p2p_peer_id_str(&s->conn->remote, d),
                 err.msg[0] ? err.msg : ipvm_strerror(rc));
        s->fail = rc;
        ipvm__ymx_reset(ys);
        return;
    }
    if (rc == 0) {
        memmove(s->pending.data, s->pending.data + used, s->pending.len - used);
        s->pending.len -= used;
        return;
    }
    s->negotiated = true;
    ipvm_buf_t rest = s->pending;
    ipvm_buf_init(&s->pending);
    /* yamux holds ys while its data is delivered, so ys->closed tells whether s still lives */
    if ((s->mss.initiator || dispatch(s, ys)) && rest.len > used && !ys->closed &&
        s->ops->on_data)
        s->ops->on_data(s, rest.data + used, rest.len - used);
    ipvm_buf_dispose(&rest);
}

static void s_on_data(ipvm__ymx_stream_t *ys, const uint8_t *p, size_t n)
{
    p2p_stream_t *s = ys->ud;
    if (!s->negotiated)
        negotiate(s, p, n);
    else if (s->ops && s->ops->on_data)
        s->ops->on_data(s, p, n);
}

static void s_on_eof(ipvm__ymx_stream_t *ys)
{
    p2p_stream_t *s = ys->ud;
    if (!s->negotiated) {
        s->fail = IPVM_EUNSUPPORTED;
        ipvm__ymx_reset(ys); /* closed before agreeing on anything */
        return;
    }
    if (s->ops && s->ops->on_eof)
        s->ops->on_eof(s);
}

static void s_on_writable(ipvm__ymx_stream_t *ys)
{
    p2p_stream_t *s = ys->ud;
    if (s->negotiated && s->ops && s->ops->on_writable)
        s->ops->on_writable(s);
}

static void s_on_close(ipvm__ymx_stream_t *ys, int err)
{
    p2p_stream_t *s = ys->ud;
    s->closed = true;
    s->ys = NULL;
    if (s->fail)
        err = s->fail;
    else if (!s->negotiated && err == 0)
        err = IPVM_EUNSUPPORTED;
    if (s->ops && s->ops->on_close)
        s->ops->on_close(s, err);
    ipvm_buf_dispose(&s->pending);
    ipvm_free(s);
}

/* ------------------------------------------------------------------ length prefixes ---- */
int p2p_lp_feed(p2p_lp_t *lp, const uint8_t *p, size_t n,
                int (*fn)(void *ud, const uint8_t *msg, size_t len), void *ud, ipvm_error_t *err)
{
    const uint8_t *d = p;
    size_t len = n, off = 0;
    int rc = 0;
    if (lp->buf.len) {
        if ((rc = ipvm_buf_append(&lp->buf, p, n)) != 0)
            return ipvm_error_set(err, rc, 0, "out of memory");
        d = lp->buf.data;
        len = lp->buf.len;
    }
    while (off < len) {
        uint64_t m = 0;
        size_t u = 0;
        rc = ipvm__p2p_uvarint_peek(d + off, len - off, &m, &u);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc < 0)
            return ipvm_error_set(err, IPVM_EVARINT, off, "malformed message length prefix");
        if (m > lp->max)
            return ipvm_error_set(err, IPVM_ETOOBIG, off,
                                  "message of %llu bytes is over the %zu-byte limit",
                                  (unsigned long long)m, lp->max);
        if (len - off - u < m)
            break;
        if ((rc = fn(ud, d + off + u, (size_t)m)) != 0)
            return rc;
        off += u + (size_t)m;
    }
    if (d == lp->buf.data) {
        memmove(lp->buf.data, lp->buf.data + off, len - off);
        lp->buf.len = len - off;
    } else if (off < len && (rc = ipvm_buf_append(&lp->buf, d + off, len - off)) != 0) {
        return ipvm_error_set(err, rc, 0, "out of memory");
    }
    return 0;
}

void p2p_lp_dispose(p2p_lp_t *lp)
{
    ipvm_buf_dispose(&lp->buf);
}
