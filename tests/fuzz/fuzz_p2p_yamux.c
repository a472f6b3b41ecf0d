/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: yamux frames from a peer, as client and as server, fed in odd-sized chunks, with
 * streams that echo what they get and sometimes reset. Properties: no crash, no leak; the
 * session's stream count stays within its limit; errors are IPVM_EPROTO. */
#include "fuzz.h"

#include "p2p/p2p_int.h"

typedef struct {
    ipvm__ymx_t y;
    size_t out;
    int streams;
} ctx_t;

static int w(void *ud, const uint8_t *p, size_t n)
{
    (void)p;
    ((ctx_t *)ud)->out += n;
    return 0;
}

static void s_data(ipvm__ymx_stream_t *s, const uint8_t *p, size_t n)
{
    if (n && p[0] == 'R')
        ipvm__ymx_reset(s);
    else if (n && p[0] == 'F')
        ipvm__ymx_close_write(s);
    else
        if (ipvm__ymx_write(s, p, n) != 0)
            ipvm__ymx_reset(s);
}

static void s_close(ipvm__ymx_stream_t *s, int err)
{
    (void)err;
    ((ctx_t *)s->ud)->streams--;
}

static const ipvm__ymx_stream_cb_t scb = {s_data, NULL, NULL, s_close};

static void on_stream(void *ud, ipvm__ymx_stream_t *s)
{
    ctx_t *c = ud;
    c->streams++;
    s->cb = &scb;
    s->ud = c;
}

static const ipvm__ymx_cb_t cb = {w, on_stream, NULL};

IPVM_FUZZ_TARGET(p2p_yamux)
{
    for (int client = 0; client < 2; client++) {
        ctx_t c = {0};
        ipvm__ymx_init(&c.y, client, &cb, &c);
        ipvm__ymx_stream_t *mine;
        if (ipvm__ymx_open(&c.y, &scb, &c, &mine) == 0)
            c.streams++;
        size_t step = size % 13 + 1;
        for (size_t off = 0; off < size; off += step) {
            size_t n = size - off < step ? size - off : step;
            int rc = ipvm__ymx_feed(&c.y, data + off, n, NULL);
            IPVM_FUZZ_CHECK(rc == 0 || rc == IPVM_EPROTO || rc == IPVM_ECLOSED);
            IPVM_FUZZ_CHECK(c.y.nstreams <= IPVM__YMX_MAX_STREAMS);
            if (rc)
                break;
        }
        ipvm__ymx_dispose(&c.y);
        IPVM_FUZZ_CHECK(c.streams == 0 && c.y.nstreams == 0);
    }
    return 0;
}
