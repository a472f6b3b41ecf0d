/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: every p2p protobuf message (PublicKey, Identify, gossipsub RPC, Kademlia
 * Message, Noise handshake payload, PrivateKey), selected by the first byte, and the
 * length-prefixed framing that carries them (p2p_lp_feed, as identify, gossipsub and Kademlia
 * streams read it). Properties: no crash, no leak; the framer hands over the same messages
 * and the same verdict whether the bytes come at once or in small chunks, none over its limit. */
#include "fuzz.h"

#include "p2p/host.h"

typedef struct {
    int kind;
    size_t count, bytes, max;
} lp_ctx_t;

static int on_msg(void *ud, const uint8_t *msg, size_t len)
{
    lp_ctx_t *c = ud;
    IPVM_FUZZ_CHECK(len <= c->max);
    c->count++;
    c->bytes += len;
    (void)ipvm__p2p_pb_check(c->kind, msg, len);
    return 0;
}

/* Feeds p in chunks of `step` bytes; returns the framer's verdict. */
static int frame(const uint8_t *p, size_t n, size_t step, lp_ctx_t *c)
{
    p2p_lp_t lp = {IPVM_BUF_INIT, c->max};
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += step) {
        ipvm_error_t err;
        ipvm_error_clear(&err);
        rc = p2p_lp_feed(&lp, p + off, n - off < step ? n - off : step, on_msg, c, &err);
        IPVM_FUZZ_CHECK(rc == 0 || (err.code == rc && err.msg[0] != '\0'));
    }
    p2p_lp_dispose(&lp);
    return rc;
}

IPVM_FUZZ_TARGET(p2p_protobuf)
{
    if (size == 0)
        return 0;
    (void)ipvm__p2p_pb_check(data[0], data + 1, size - 1);
    /* the same bytes as a stream of uvarint-prefixed messages */
    size_t off = 1;
    while (off < size) {
        uint64_t n = 0;
        size_t u = 0;
        int rc = ipvm__p2p_uvarint_peek(data + off, size - off, &n, &u);
        if (rc != 0 || n > size - off - u)
            break;
        (void)ipvm__p2p_pb_check(data[0] + 1, data + off + u, (size_t)n);
        off += u + (size_t)n;
    }
    lp_ctx_t whole = {data[0] + 2, 0, 0, (size_t)(data[0] & 15) * 64}, cut = whole;
    int a = frame(data + 1, size - 1, size, &whole);
    int b = frame(data + 1, size - 1, size % 7 + 1, &cut);
    IPVM_FUZZ_CHECK(a == b && whole.count == cut.count && whole.bytes == cut.bytes);
    IPVM_FUZZ_CHECK(a == 0 || a == IPVM_EVARINT || a == IPVM_ETOOBIG);
    return 0;
}
