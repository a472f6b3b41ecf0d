/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: multistream-select, as responder and as initiator, fed whole and byte by byte.
 * Properties: no crash; the same verdict either way; an agreed protocol is one we offered. */
#include "fuzz.h"

#include "p2p/p2p_int.h"

static int run(bool initiator, const uint8_t *data, size_t size, size_t step, int *sel)
{
    static const char *const protos[] = {"/noise", "/yamux/1.0.0", "/ipfs/ping/1.0.0"};
    ipvm__mss_t m;
    ipvm_buf_t in = IPVM_BUF_INIT, out = IPVM_BUF_INIT;
    ipvm__mss_init(&m, initiator, protos, 3);
    int rc = ipvm__mss_start(&m, &out);
    for (size_t off = 0; rc == 0 && off < size; off += step) {
        size_t used = 0, n = size - off < step ? size - off : step;
        if (ipvm_buf_append(&in, data + off, n) != 0)
            break;
        rc = ipvm__mss_feed(&m, in.data, in.len, &used, &out, NULL);
        IPVM_FUZZ_CHECK(used <= in.len);
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;
    }
    IPVM_FUZZ_CHECK(rc != 1 || (m.selected >= 0 && m.selected < 3));
    *sel = m.selected;
    ipvm_buf_dispose(&in);
    ipvm_buf_dispose(&out);
    return rc;
}

IPVM_FUZZ_TARGET(p2p_multistream)
{
    for (int role = 0; role < 2; role++) {
        int s1 = -1, s2 = -1;
        int a = run(role, data, size, size ? size : 1, &s1);
        int b = run(role, data, size, 1, &s2);
        IPVM_FUZZ_CHECK((a == 1) == (b == 1));
        IPVM_FUZZ_CHECK(a != 1 || s1 == s2);
        IPVM_FUZZ_CHECK(a == 0 || a == 1 || a == IPVM_EPROTO || a == IPVM_EUNSUPPORTED);
    }
    return 0;
}
