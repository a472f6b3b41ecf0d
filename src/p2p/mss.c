/* SPDX-License-Identifier: Apache-2.0 */
/* multistream-select 1.0 (libp2p/specs connections/README.md "multistream-select"): each
 * message is a uvarint length, then UTF-8 text ending in '\n'. A pure state machine: bytes in,
 * bytes to send out, and the protocol both sides agreed on. Used for the connection upgrade
 * (security, muxer) and on every new stream. */
#include "p2p_int.h"

#define HEADER "/multistream/1.0.0"

int ipvm__p2p_uvarint_peek(const uint8_t *buf, size_t len, uint64_t *v, size_t *used)
{
    uint64_t x = 0;
    for (size_t i = 0; i < IPVM_VARINT_MAX; i++) {
        if (i >= len)
            return 1;
        x |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
        if (!(buf[i] & 0x80)) {
            if (buf[i] == 0 && i > 0)
                return IPVM_EVARINT;
            *v = x;
            *used = i + 1;
            return 0;
        }
    }
    return IPVM_EVARINT;
}

int ipvm__p2p_lp_append(ipvm_buf_t *out, const void *p, size_t n)
{
    uint8_t v[IPVM_VARINT_MAX];
    int rc = ipvm_buf_append(out, v, ipvm_varint_encode(n, v));
    return rc ? rc : ipvm_buf_append(out, p, n);
}

int ipvm__mss_read(const uint8_t *buf, size_t len, const char **msg, size_t *mlen, size_t *used,
                   ipvm_error_t *err)
{
    uint64_t n = 0;
    size_t u = 0;
    int rc = ipvm__p2p_uvarint_peek(buf, len, &n, &u);
    if (rc < 0 || (rc == 0 && u > 2))
        return ipvm_error_set(err, IPVM_EPROTO, 0,
                              "multistream: malformed message length (at most 2 varint bytes)");
    if (rc == 1)
        return 1;
    if (n == 0 || n > IPVM__MSS_MAX)
        return ipvm_error_set(err, IPVM_EPROTO, 0,
                              "multistream: message of %llu bytes (must be 1..%d)",
                              (unsigned long long)n, IPVM__MSS_MAX);
    if (len - u < n)
        return 1;
    if (buf[u + n - 1] != '\n')
        return ipvm_error_set(err, IPVM_EPROTO, u + n - 1,
                              "multistream: message does not end with a newline");
    for (size_t i = 0; i + 1 < n; i++) {
        uint8_t c = buf[u + i];
        if (c < 0x20 || c == 0x7f)
            return ipvm_error_set(err, IPVM_EPROTO, u + i,
                                  "multistream: control byte 0x%02x in a protocol id", c);
    }
    *msg = (const char *)buf + u;
    *mlen = (size_t)n - 1;
    *used = u + (size_t)n;
    return 0;
}

static int send_str(ipvm_buf_t *out, const char *s, size_t n)
{
    uint8_t v[IPVM_VARINT_MAX];
    int rc = ipvm_buf_append(out, v, ipvm_varint_encode(n + 1, v));
    if (rc == 0)
        rc = ipvm_buf_append(out, s, n);
    return rc ? rc : ipvm_buf_append_byte(out, '\n');
}

static bool is(const char *m, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(m, s, n) == 0;
}

void ipvm__mss_init(ipvm__mss_t *m, bool initiator, const char *const *protos, size_t nprotos)
{
    memset(m, 0, sizeof *m);
    m->initiator = initiator;
    m->protos = protos;
    m->nprotos = nprotos;
    m->selected = -1;
}

int ipvm__mss_start(ipvm__mss_t *m, ipvm_buf_t *out)
{
    int rc = send_str(out, HEADER, strlen(HEADER));
    if (rc == 0 && m->initiator) {
        IPVM_MISUSE_IF(m->nprotos == 0);
        rc = send_str(out, m->protos[0], strlen(m->protos[0])); /* optimistic: header + first */
    }
    return rc;
}

/* One message for the initiator: the header echo, then "na" (try the next) or our proposal. */
static int on_initiator(ipvm__mss_t *m, const char *msg, size_t n, ipvm_buf_t *out,
                        ipvm_error_t *err)
{
    const char *want = m->protos[m->tried];
    if (is(msg, n, want)) {
        m->selected = (int)m->tried;
        return 1;
    }
    if (!is(msg, n, "na"))
        return ipvm_error_set(err, IPVM_EPROTO, 0,
                              "multistream: peer answered \"%.*s\" to our proposal \"%s\"",
                              (int)(n > 64 ? 64 : n), msg, want);
    if (++m->tried >= m->nprotos)
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, 0,
                              "multistream: peer supports none of our %zu protocol(s) (last: %s)",
                              m->nprotos, want);
    int rc = send_str(out, m->protos[m->tried], strlen(m->protos[m->tried]));
    return rc ? ipvm_error_set(err, rc, 0, "out of memory") : 0;
}

/* One proposal for the responder: echo it if we speak it, else "na". */
static int on_responder(ipvm__mss_t *m, const char *msg, size_t n, ipvm_buf_t *out,
                        ipvm_error_t *err)
{
    for (size_t i = 0; i < m->nprotos; i++) {
        if (is(msg, n, m->protos[i])) {
            m->selected = (int)i;
            int rc = send_str(out, msg, n);
            return rc ? ipvm_error_set(err, rc, 0, "out of memory") : 1;
        }
    }
    if (++m->tried > IPVM__MSS_MAX_PROPOSALS)
        return ipvm_error_set(err, IPVM_EPROTO, 0,
                              "multistream: peer made more than %d proposals we cannot serve",
                              IPVM__MSS_MAX_PROPOSALS);
    int rc = send_str(out, "na", 2);
    return rc ? ipvm_error_set(err, rc, 0, "out of memory") : 0;
}

int ipvm__mss_feed(ipvm__mss_t *m, const uint8_t *in, size_t len, size_t *used, ipvm_buf_t *out,
                   ipvm_error_t *err)
{
    size_t pos = 0;
    int rc = 0;
    while (rc == 0) {
        const char *msg;
        size_t n, u;
        rc = ipvm__mss_read(in + pos, len - pos, &msg, &n, &u, err);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc < 0) {
            if (err)
                err->offset += pos;
            break;
        }
        pos += u;
        if (!m->got_header) {
            if (!is(msg, n, HEADER)) {
                rc = ipvm_error_set(err, IPVM_EPROTO, pos - u,
                                    "multistream: expected \"" HEADER "\", got \"%.*s\"",
                                    (int)(n > 64 ? 64 : n), msg);
                break;
            }
            m->got_header = true;
            continue;
        }
        rc = m->initiator ? on_initiator(m, msg, n, out, err) : on_responder(m, msg, n, out, err);
    }
    *used = pos;
    return rc;
}
