/* SPDX-License-Identifier: Apache-2.0 */
/* The pure wire layers: multistream-select, Noise XX, Yamux, each driven in memory against
 * itself here (against js-libp2p in tests/interop/libp2p). */
#include "test.h"

#include "p2p/p2p_int.h"

#include <sodium.h>

/* ------------------------------------------------------------------ multistream ---- */
static const uint8_t *lp(const char *s, uint8_t *buf, size_t *n)
{
    size_t l = strlen(s);
    buf[0] = (uint8_t)(l + 1);
    memcpy(buf + 1, s, l);
    buf[l + 1] = '\n';
    *n = l + 2;
    return buf;
}

IPVM_TEST(p2p, mss_negotiate)
{
    /* spec example: "na" is 0x03 'n' 'a' '\n' */
    const char *na;
    size_t nal, used;
    const uint8_t na_bytes[] = {0x03, 0x6e, 0x61, 0x0a};
    IPVM_ASSERT_EQ(ipvm__mss_read(na_bytes, 4, &na, &nal, &used, NULL), 0);
    IPVM_ASSERT_EQ(nal, 2);
    IPVM_ASSERT_EQ(used, 4);
    IPVM_ASSERT(memcmp(na, "na", 2) == 0);
    IPVM_ASSERT_EQ(ipvm__mss_read(na_bytes, 3, &na, &nal, &used, NULL), 1);

    const char *ours[] = {"/mplex/6.7.0", "/yamux/1.0.0"};
    const char *theirs[] = {"/yamux/1.0.0"};
    ipvm__mss_t a, b;
    ipvm__mss_init(&a, true, ours, 2);
    ipvm__mss_init(&b, false, theirs, 1);
    ipvm_buf_t ab = IPVM_BUF_INIT, ba = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__mss_start(&a, &ab));
    IPVM_ASSERT_OK(ipvm__mss_start(&b, &ba));
    /* feed one byte at a time: the parser must wait for whole messages */
    int ra = 0, rb = 0;
    for (int round = 0; round < 8 && (ra != 1 || rb != 1); round++) {
        ipvm_buf_t a_out = IPVM_BUF_INIT, b_out = IPVM_BUF_INIT;
        size_t off = 0;
        while (off < ab.len && rb != 1) {
            size_t u = 0;
            rb = ipvm__mss_feed(&b, ab.data + off, 1, &u, &b_out, NULL);
            IPVM_ASSERT(rb >= 0);
            if (u == 0) { /* needs more: present two bytes next time */
                size_t k = 2;
                while (u == 0 && off + k <= ab.len) {
                    rb = ipvm__mss_feed(&b, ab.data + off, k++, &u, &b_out, NULL);
                    IPVM_ASSERT(rb >= 0);
                }
            }
            off += u;
            if (u == 0)
                break;
        }
        memmove(ab.data, ab.data + off, ab.len - off);
        ab.len -= off;
        size_t u = 0;
        ra = ra == 1 ? 1 : ipvm__mss_feed(&a, ba.data, ba.len, &u, &a_out, NULL);
        IPVM_ASSERT(ra >= 0);
        memmove(ba.data, ba.data + u, ba.len - u);
        ba.len -= u;
        IPVM_ASSERT_OK(ipvm_buf_append(&ab, a_out.data, a_out.len));
        IPVM_ASSERT_OK(ipvm_buf_append(&ba, b_out.data, b_out.len));
        ipvm_buf_dispose(&a_out);
        ipvm_buf_dispose(&b_out);
    }
    IPVM_ASSERT_EQ(ra, 1);
    IPVM_ASSERT_EQ(rb, 1);
    IPVM_ASSERT_EQ(a.selected, 1);
    IPVM_ASSERT_EQ(b.selected, 0);
    ipvm_buf_dispose(&ab);
    ipvm_buf_dispose(&ba);
}

IPVM_TEST(p2p, mss_rejects)
{
    const char *p[] = {"/ipfs/ping/1.0.0"};
    ipvm__mss_t m;
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_error_t err = {0};
    uint8_t buf[2048];
    size_t n, used;
    /* wrong header */
    ipvm__mss_init(&m, false, p, 1);
    lp("/multistream/2.0.0", buf, &n);
    IPVM_ASSERT_ERR(ipvm__mss_feed(&m, buf, n, &used, &out, &err), IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "expected \"/multistream/1.0.0\"");
    /* no newline */
    ipvm__mss_init(&m, false, p, 1);
    lp("/multistream/1.0.0", buf, &n);
    buf[n - 1] = 'x';
    IPVM_ASSERT_ERR(ipvm__mss_feed(&m, buf, n, &used, &out, &err), IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "newline");
    /* over the length limit: 0x81 0x08 = 1025 */
    const uint8_t big[] = {0x81, 0x08};
    IPVM_ASSERT_ERR(ipvm__mss_feed(&m, big, 2, &used, &out, &err), IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "1025 bytes");
    /* a peer that proposes forever is cut off */
    ipvm__mss_init(&m, false, p, 1);
    lp("/multistream/1.0.0", buf, &n);
    IPVM_ASSERT_EQ(ipvm__mss_feed(&m, buf, n, &used, &out, &err), 0);
    int rc = 0;
    for (int i = 0; i < 40 && rc == 0; i++) {
        lp("/nope/1.0.0", buf, &n);
        rc = ipvm__mss_feed(&m, buf, n, &used, &out, &err);
    }
    IPVM_ASSERT_ERR(rc, IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "proposals");
    /* initiator: "na" to its only proposal */
    ipvm__mss_init(&m, true, p, 1);
    size_t o = 0;
    lp("/multistream/1.0.0", buf, &n);
    o = n;
    lp("na", buf + o, &n);
    o += n;
    IPVM_ASSERT_ERR(ipvm__mss_feed(&m, buf, o, &used, &out, &err), IPVM_EUNSUPPORTED);
    ipvm_buf_dispose(&out);
}

/* ------------------------------------------------------------------------ noise ---- */
typedef struct {
    ipvm_p2p_identity_t *id;
    uint8_t s_sk[32], s_pk[32];
    ipvm_buf_t payload;
    ipvm__noise_hs_t hs;
} party_t;

static void party_init(party_t *p, bool initiator)
{
    memset(p, 0, sizeof *p);
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&p->id));
    ipvm__noise_keypair(p->s_sk, p->s_pk);
    IPVM_ASSERT_OK(ipvm__noise_payload_build(p->id, p->s_pk, true, &p->payload));
    ipvm__noise_hs_init(&p->hs, initiator, p->s_sk, p->s_pk, p->payload.data, p->payload.len);
}

static void party_dispose(party_t *p)
{
    ipvm__noise_hs_dispose(&p->hs);
    ipvm_buf_dispose(&p->payload);
    ipvm_p2p_identity_free(p->id);
}

/* Moves one framed message from `from` to `to`; tamper flips a byte at that offset (or -1). */
static int pass(party_t *from, party_t *to, long tamper, ipvm_error_t *err)
{
    ipvm_buf_t m = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__noise_hs_write(&from->hs, &m, err));
    IPVM_ASSERT_EQ(ipvm__be16_get(m.data), m.len - 2);
    if (tamper >= 0 && (size_t)tamper + 2 < m.len)
        m.data[2 + tamper] ^= 0x40;
    int rc = ipvm__noise_hs_read(&to->hs, m.data + 2, m.len - 2, err);
    ipvm_buf_dispose(&m);
    return rc;
}

IPVM_TEST(p2p, noise_handshake_and_transport)
{
    party_t a, b;
    ipvm_error_t err = {0};
    party_init(&a, true);
    party_init(&b, false);
    IPVM_ASSERT_OK_ERR(pass(&a, &b, -1, &err), &err);
    IPVM_ASSERT_OK_ERR(pass(&b, &a, -1, &err), &err);
    IPVM_ASSERT_OK_ERR(pass(&a, &b, -1, &err), &err);
    /* each side learnt the other's peer id and its muxer list */
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&a.hs.remote, ipvm_p2p_identity_peer_id(b.id)));
    IPVM_ASSERT(ipvm_p2p_peer_id_equal(&b.hs.remote, ipvm_p2p_identity_peer_id(a.id)));
    IPVM_ASSERT(a.hs.remote_yamux && b.hs.remote_yamux);
    IPVM_ASSERT_MEMEQ(a.hs.h, 32, b.hs.h, 32); /* same handshake hash */
    ipvm__noise_cs_t atx, arx, btx, brx;
    ipvm__noise_hs_split(&a.hs, &atx, &arx);
    ipvm__noise_hs_split(&b.hs, &btx, &brx);
    IPVM_ASSERT_MEMEQ(atx.k, 32, brx.k, 32);
    IPVM_ASSERT_MEMEQ(btx.k, 32, arx.k, 32);
    IPVM_ASSERT(memcmp(atx.k, arx.k, 32) != 0);
    /* a message longer than one noise frame is cut into frames */
    size_t big = 150000;
    uint8_t *msg = ipvm_malloc(big), *plain = ipvm_malloc(IPVM__NOISE_MAX_MSG);
    randombytes_buf(msg, big);
    ipvm_buf_t wire = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__noise_encrypt(&atx, msg, big, &wire));
    IPVM_ASSERT_EQ(wire.len, big + 3 * 18);
    size_t off = 0, got = 0;
    while (off < wire.len) {
        size_t fl = ipvm__be16_get(wire.data + off), pl = 0;
        IPVM_ASSERT_OK_ERR(ipvm__noise_decrypt(&brx, wire.data + off + 2, fl, plain, &pl, &err),
                           &err);
        IPVM_ASSERT_MEMEQ(plain, pl, msg + got, pl);
        got += pl;
        off += 2 + fl;
    }
    IPVM_ASSERT_EQ(got, big);
    /* replaying a frame fails: the nonce moved on */
    IPVM_ASSERT_ERR(ipvm__noise_decrypt(&brx, wire.data + 2, ipvm__be16_get(wire.data), plain,
                                        &got, &err),
                    IPVM_EPROTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "authentication");
    ipvm_buf_dispose(&wire);
    ipvm_free(msg);
    ipvm_free(plain);
    party_dispose(&a);
    party_dispose(&b);
}

/* The transport cipher runs on libsodium for small messages and on libcrypto for bulk ones:
 * every size must give the bytes libsodium's RFC 8439 AEAD gives, and a tampered bulk message
 * must fail and leave no plaintext behind. */
IPVM_TEST(p2p, noise_transport_both_ciphers)
{
    static const size_t sizes[] = {1, 100, 2047, 2048, 2049, 5000, 65518, 65519, 70000};
    ipvm__noise_cs_t tx = {.has_k = true}, rx = {.has_k = true};
    randombytes_buf(tx.k, 32);
    memcpy(rx.k, tx.k, 32);
    uint8_t *msg = ipvm_malloc(70000), *plain = ipvm_malloc(IPVM__NOISE_MAX_MSG);
    uint8_t *ref = ipvm_malloc(IPVM__NOISE_MAX_MSG);
    ipvm_error_t err = {0};
    randombytes_buf(msg, 70000);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ipvm_buf_t wire = IPVM_BUF_INIT;
        uint64_t n0 = tx.n;
        IPVM_ASSERT_OK(ipvm__noise_encrypt(&tx, msg, sizes[i], &wire));
        size_t off = 0, done = 0;
        for (uint64_t k = n0; off < wire.len; k++) {
            size_t fl = ipvm__be16_get(wire.data + off), pl = fl - 16;
            uint8_t nonce[12] = {0};
            unsigned long long rl = 0;
            for (int b = 0; b < 8; b++)
                nonce[4 + b] = (uint8_t)(k >> (8 * b));
            crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rl, msg + done, pl, NULL, 0, NULL,
                                                      nonce, tx.k);
            IPVM_ASSERT_MEMEQ(wire.data + off + 2, fl, ref, (size_t)rl);
            IPVM_ASSERT_OK_ERR(ipvm__noise_decrypt(&rx, wire.data + off + 2, fl, plain, &pl, &err),
                               &err);
            IPVM_ASSERT_MEMEQ(plain, pl, msg + done, pl);
            done += pl;
            off += 2 + fl;
        }
        IPVM_ASSERT_EQ(done, sizes[i]);
        IPVM_ASSERT_EQ(tx.n, rx.n);
        /* the next message, one byte flipped: refused, nonce unchanged, output wiped */
        ipvm_buf_clear(&wire);
        IPVM_ASSERT_OK(ipvm__noise_encrypt(&tx, msg, sizes[i] < 60000 ? sizes[i] : 60000, &wire));
        wire.data[2 + wire.len / 2] ^= 1;
        size_t pl = 0;
        memset(plain, 0xa5, IPVM__NOISE_MAX_MSG);
        IPVM_ASSERT_ERR(ipvm__noise_decrypt(&rx, wire.data + 2, wire.len - 2, plain, &pl, &err),
                        IPVM_EPROTO);
        IPVM_ASSERT_STRCONTAINS(err.msg, "authentication");
        if (wire.len - 18 >= 2048)
            for (size_t b = 0; b < wire.len - 18; b++)
                IPVM_ASSERT(plain[b] == 0);
        rx.n++; /* skip the refused message, as a peer would never do */
        ipvm_buf_dispose(&wire);
    }
    ipvm_free(msg);
    ipvm_free(plain);
    ipvm_free(ref);
}

IPVM_TEST(p2p, noise_rejects_tampering)
{
    ipvm_error_t err = {0};
    /* a flipped byte anywhere in message 2 or 3 breaks the handshake */
    for (int msg = 2; msg <= 3; msg++) {
        for (long at = 0; at < 100; at += 7) {
            party_t a, b;
            party_init(&a, true);
            party_init(&b, false);
            IPVM_ASSERT_OK(pass(&a, &b, -1, &err));
            int rc = pass(&b, &a, msg == 2 ? at : -1, &err);
            if (msg == 3) {
                IPVM_ASSERT_OK(rc);
                rc = pass(&a, &b, at, &err);
            }
            IPVM_ASSERT_ERR(rc, IPVM_EHANDSHAKE);
            party_dispose(&a);
            party_dispose(&b);
        }
    }
    /* a payload signed by another identity than the one it presents */
    party_t a, b;
    party_init(&a, true);
    party_init(&b, false);
    ipvm_p2p_identity_t *other = NULL;
    IPVM_ASSERT_OK(ipvm_p2p_identity_generate(&other));
    uint8_t other_s_sk[32], other_s_pk[32];
    ipvm__noise_keypair(other_s_sk, other_s_pk);
    ipvm_buf_dispose(&b.payload);
    IPVM_ASSERT_OK(ipvm__noise_payload_build(b.id, other_s_pk, true, &b.payload)); /* wrong key */
    b.hs.payload = b.payload.data;
    b.hs.payload_len = b.payload.len;
    IPVM_ASSERT_OK(pass(&a, &b, -1, &err));
    IPVM_ASSERT_ERR(pass(&b, &a, -1, &err), IPVM_EHANDSHAKE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "signature");
    /* short messages */
    IPVM_ASSERT_ERR(ipvm__noise_hs_read(&b.hs, (const uint8_t *)"x", 1, &err), IPVM_EHANDSHAKE);
    ipvm_p2p_identity_free(other);
    party_dispose(&a);
    party_dispose(&b);
    party_init(&b, false);
    IPVM_ASSERT_ERR(ipvm__noise_hs_read(&b.hs, (const uint8_t *)"short", 5, &err),
                    IPVM_EHANDSHAKE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "needs 32");
    /* a low-order point as ephemeral key: all zeros */
    uint8_t zero[32] = {0};
    IPVM_ASSERT_OK(ipvm__noise_hs_read(&b.hs, zero, 32, &err));
    ipvm_buf_t m = IPVM_BUF_INIT;
    IPVM_ASSERT_ERR(ipvm__noise_hs_write(&b.hs, &m, &err), IPVM_EHANDSHAKE);
    IPVM_ASSERT_STRCONTAINS(err.msg, "low-order");
    ipvm_buf_dispose(&m);
    party_dispose(&b);
}

/* ------------------------------------------------------------------------ yamux ---- */
typedef struct {
    ipvm__ymx_t y;
    ipvm_buf_t out;
    ipvm_buf_t got;                 /* data received on accepted/opened streams */
    int opened, closed, eof, last_err;
    ipvm__ymx_stream_t *last;
} ymx_end_t;

static void ymx_ends_dispose(ymx_end_t *a, ymx_end_t *b)
{
    ymx_end_t *e[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        ipvm__ymx_dispose(&e[i]->y);
        ipvm_buf_dispose(&e[i]->out);
        ipvm_buf_dispose(&e[i]->got);
    }
}

static int y_write(void *ud, const uint8_t *p, size_t n)
{
    ymx_end_t *e = ud;
    return ipvm_buf_append(&e->out, p, n);
}

static void s_data(ipvm__ymx_stream_t *s, const uint8_t *p, size_t n)
{
    ymx_end_t *e = s->ud;
    IPVM_ASSERT_OK(ipvm_buf_append(&e->got, p, n));
}
static void s_eof(ipvm__ymx_stream_t *s)
{
    ymx_end_t *e = s->ud;
    e->eof++;
}
static void s_close(ipvm__ymx_stream_t *s, int err)
{
    ymx_end_t *e = s->ud;
    e->closed++;
    e->last_err = err;
    if (e->last == s)
        e->last = NULL;
}
static const ipvm__ymx_stream_cb_t scb = {s_data, s_eof, NULL, s_close};

static void y_stream(void *ud, ipvm__ymx_stream_t *s)
{
    ymx_end_t *e = ud;
    e->opened++;
    e->last = s;
    s->cb = &scb;
    s->ud = e;
}
static const ipvm__ymx_cb_t ycb = {y_write, y_stream, NULL};

/* Delivers queued bytes both ways until quiet, in chunks of `chunk` bytes. */
static void shuttle(ymx_end_t *a, ymx_end_t *b, size_t chunk)
{
    for (int i = 0; i < 100000 && (a->out.len || b->out.len); i++) {
        ymx_end_t *from = a->out.len ? a : b, *to = from == a ? b : a;
        ipvm_buf_t m = from->out;
        ipvm_buf_init(&from->out);
        for (size_t off = 0; off < m.len; off += chunk) {
            size_t c = m.len - off < chunk ? m.len - off : chunk;
            ipvm_error_t err = {0};
            IPVM_ASSERT_OK_ERR(ipvm__ymx_feed(&to->y, m.data + off, c, &err), &err);
        }
        ipvm_buf_dispose(&m);
    }
}

IPVM_TEST(p2p, yamux_streams_and_flow_control)
{
    ymx_end_t a = {0}, b = {0};
    ipvm__ymx_init(&a.y, true, &ycb, &a);
    ipvm__ymx_init(&b.y, false, &ycb, &b);
    ipvm__ymx_stream_t *s;
    IPVM_ASSERT_OK(ipvm__ymx_open(&a.y, &scb, &a, &s));
    IPVM_ASSERT_EQ(s->id, 1);
    /* 3 MiB: more than the initial 256 KiB window, so credit must flow back */
    size_t total = 3u << 20;
    uint8_t *data = ipvm_malloc(total);
    randombytes_buf(data, total);
    IPVM_ASSERT_OK(ipvm__ymx_write(s, data, total));
    IPVM_ASSERT(ipvm__ymx_queued(s) > 0); /* window-limited */
    ipvm__ymx_close_write(s);
    shuttle(&a, &b, 1000); /* odd chunking splits headers and payloads */
    IPVM_ASSERT_EQ(b.opened, 1);
    IPVM_ASSERT_EQ(b.eof, 1);
    IPVM_ASSERT_MEMEQ(b.got.data, b.got.len, data, total);
    IPVM_ASSERT(b.last->recv_window > IPVM__YMX_INITIAL_WINDOW); /* grew */
    /* answer and close: both FINs end the stream on both sides */
    IPVM_ASSERT_OK(ipvm__ymx_write(b.last, (const uint8_t *)"pong", 4));
    ipvm__ymx_close_write(b.last);
    shuttle(&a, &b, 7);
    IPVM_ASSERT_MEMEQ(a.got.data, a.got.len, "pong", 4);
    IPVM_ASSERT_EQ(a.closed, 1);
    IPVM_ASSERT_EQ(a.last_err, 0);
    IPVM_ASSERT_EQ(b.closed, 1);
    IPVM_ASSERT_EQ(a.y.nstreams, 0);
    IPVM_ASSERT_EQ(b.y.nstreams, 0);
    /* reset: the other side sees it as a closed stream with an error */
    IPVM_ASSERT_OK(ipvm__ymx_open(&b.y, &scb, &b, &s));
    IPVM_ASSERT_EQ(s->id, 2);
    IPVM_ASSERT_OK(ipvm__ymx_write(s, (const uint8_t *)"x", 1));
    shuttle(&a, &b, 64);
    IPVM_ASSERT_EQ(a.opened, 1);
    ipvm__ymx_reset(s);
    shuttle(&a, &b, 64);
    IPVM_ASSERT_EQ(a.closed, 2);
    IPVM_ASSERT_ERR(a.last_err, IPVM_ECLOSED);
    IPVM_ASSERT_ERR(b.last_err, IPVM_ECANCELED);
    ipvm_free(data);
    ymx_ends_dispose(&a, &b);
}

static int writable_calls;
static void s_writable(ipvm__ymx_stream_t *s)
{
    (void)s;
    writable_calls++;
}
static const ipvm__ymx_stream_cb_t scb_w = {s_data, s_eof, s_writable, s_close};

/* A backed-up connection (ipvm__ymx_block) holds stream data but not control frames; unblocking
 * sends what credit allows and tells the writer it may write again. */
IPVM_TEST(p2p, yamux_block_holds_data)
{
    ymx_end_t a = {0}, b = {0};
    ipvm__ymx_init(&a.y, true, &ycb, &a);
    ipvm__ymx_init(&b.y, false, &ycb, &b);
    ipvm__ymx_stream_t *s, *t;
    IPVM_ASSERT_OK(ipvm__ymx_open(&a.y, &scb_w, &a, &s));
    IPVM_ASSERT_OK(ipvm__ymx_write(s, (const uint8_t *)"hello", 5));
    shuttle(&a, &b, 100);
    IPVM_ASSERT_MEMEQ(b.got.data, b.got.len, "hello", 5);
    ipvm__ymx_block(&a.y);
    IPVM_ASSERT_OK(ipvm__ymx_write(s, (const uint8_t *)"world", 5));
    IPVM_ASSERT_EQ(ipvm__ymx_queued(s), 5);
    IPVM_ASSERT_EQ(a.out.len, 0); /* no data frame while blocked */
    IPVM_ASSERT_OK(ipvm__ymx_open(&a.y, &scb_w, &a, &t)); /* a SYN is control: it goes */
    IPVM_ASSERT_EQ(a.out.len, IPVM__YMX_HDR);
    IPVM_ASSERT_EQ(ipvm__be16_get(a.out.data + 2), IPVM__YMX_SYN);
    IPVM_ASSERT_OK(ipvm__ymx_write(t, (const uint8_t *)"!", 1));
    shuttle(&a, &b, 100);
    IPVM_ASSERT_EQ(b.got.len, 5);
    writable_calls = 0;
    ipvm__ymx_unblock(&a.y);
    IPVM_ASSERT_EQ(ipvm__ymx_queued(s), 0);
    IPVM_ASSERT_EQ(ipvm__ymx_queued(t), 0);
    IPVM_ASSERT_EQ(writable_calls, 2);
    shuttle(&a, &b, 100);
    IPVM_ASSERT_EQ(b.got.len, 11);
    IPVM_ASSERT(memcmp(b.got.data, "hello", 5) == 0);
    IPVM_ASSERT(memcmp(b.got.data + 5, "world!", 6) == 0 || memcmp(b.got.data + 5, "!world", 6) == 0);
    ymx_ends_dispose(&a, &b);
}

static int feed_bytes(ipvm__ymx_t *y, const uint8_t *h, size_t n, ipvm_error_t *err)
{
    return ipvm__ymx_feed(y, h, n, err);
}

IPVM_TEST(p2p, yamux_rejects)
{
    ipvm_error_t err = {0};
    struct {
        uint8_t h[12];
        const char *msg;
    } bad[] = {
        {{1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}, "version"},
        {{0, 9, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0}, "unknown frame type"},
        {{0, 2, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}, "ping frame on stream 2"},
        {{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4}, "data frame on stream 0"},
        {{0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "parity"}, /* a client sees an odd SYN */
        {{0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0}, "receive window"}, /* 320 KiB > 256 KiB */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ymx_end_t a = {0};
        ipvm__ymx_init(&a.y, true, &ycb, &a);
        ipvm_error_clear(&err);
        IPVM_ASSERT_ERR(feed_bytes(&a.y, bad[i].h, 12, &err), IPVM_EPROTO);
        IPVM_ASSERT_STRCONTAINS(err.msg, bad[i].msg);
        ipvm__ymx_dispose(&a.y);
        ipvm_buf_dispose(&a.out);
    }
    /* a ping is answered with ACK and the same opaque value */
    ymx_end_t a = {0};
    ipvm__ymx_init(&a.y, true, &ycb, &a);
    const uint8_t ping[12] = {0, 2, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    IPVM_ASSERT_OK(feed_bytes(&a.y, ping, 12, &err));
    const uint8_t pong[12] = {0, 2, 0, 2, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    IPVM_ASSERT_MEMEQ(a.out.data, a.out.len, pong, 12);
    /* more streams than the limit: the extra ones are reset, the session lives */
    ipvm_buf_clear(&a.out);
    for (uint32_t i = 0; i < IPVM__YMX_MAX_STREAMS + 5; i++) {
        uint8_t syn[12] = {0, 1, 0, 1};
        ipvm__be32_put(syn + 4, 2 + 2 * i);
        IPVM_ASSERT_OK(feed_bytes(&a.y, syn, 12, &err));
    }
    IPVM_ASSERT_EQ(a.opened, IPVM__YMX_MAX_STREAMS);
    IPVM_ASSERT_EQ(a.y.nstreams, IPVM__YMX_MAX_STREAMS);
    const uint8_t *last = a.out.data + a.out.len - 12;
    IPVM_ASSERT_EQ(ipvm__be16_get(last + 2), IPVM__YMX_RST);
    ipvm__ymx_dispose(&a.y);
    IPVM_ASSERT_EQ(a.closed, IPVM__YMX_MAX_STREAMS);
    ipvm_buf_dispose(&a.out);
    ipvm_buf_dispose(&a.got);
}
