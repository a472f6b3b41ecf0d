/* SPDX-License-Identifier: Apache-2.0 */
/* Multiaddr (multiformats/multiaddr) text and binary forms for the protocols this node speaks:
 * /ip4, /ip6, /tcp and /p2p. Other protocols are recognised by name or code only to refuse them
 * with a sentence that names them. */
#include "p2p_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct {
    uint32_t code;
    const char *name;
} proto_name_t;

/* Protocols we refuse, so that the error can name them (multiformats/multiaddr protocols.csv). */
static const proto_name_t unsupported[] = {
    {33, "dccp"},         {42, "ip6zone"},     {43, "ipcidr"},      {53, "dns"},
    {54, "dns4"},         {55, "dns6"},        {56, "dnsaddr"},     {132, "sctp"},
    {273, "udp"},         {275, "p2p-webrtc-star"}, {276, "p2p-webrtc-direct"},
    {280, "webrtc-direct"}, {281, "webrtc"},  {290, "p2p-circuit"}, {400, "unix"},
    {444, "onion"},       {445, "onion3"},     {446, "garlic64"},   {447, "garlic32"},
    {448, "tls"},         {449, "sni"},        {454, "noise"},      {460, "quic"},
    {461, "quic-v1"},     {465, "webtransport"}, {466, "certhash"}, {477, "ws"},
    {478, "wss"},         {479, "p2p-websocket-star"}, {480, "http"}, {777, "memory"},
};

static const char *unsupported_name(uint64_t code)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (unsupported[i].code == code)
            return unsupported[i].name;
    return NULL;
}

static int refuse_name(const char *name, size_t n, size_t off, ipvm_error_t *err)
{
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (strlen(unsupported[i].name) == n && memcmp(unsupported[i].name, name, n) == 0)
            return ipvm_error_set(err, IPVM_EUNSUPPORTED, off,
                                  "multiaddr protocol /%.*s is not supported (this node speaks "
                                  "/ip4, /ip6, /tcp and /p2p)",
                                  (int)n, name);
    return ipvm_error_set(err, IPVM_EINVAL, off, "unknown multiaddr protocol /%.*s",
                          (int)(n > 40 ? 40 : n), name);
}

static int put(ipvm_multiaddr_t *ma, const uint8_t *p, size_t n, ipvm_error_t *err)
{
    if ((size_t)ma->len + n > IPVM_MULTIADDR_MAX)
        return ipvm_error_set(err, IPVM_ETOOBIG, IPVM_NO_OFFSET,
                              "multiaddr longer than %d bytes", IPVM_MULTIADDR_MAX);
    memcpy(ma->bytes + ma->len, p, n);
    ma->len = (uint8_t)(ma->len + n);
    return 0;
}

static int put_code(ipvm_multiaddr_t *ma, uint64_t code, ipvm_error_t *err)
{
    uint8_t v[IPVM_VARINT_MAX];
    return put(ma, v, ipvm_varint_encode(code, v), err);
}

/* Parses the value of one text component into ma. */
static int parse_value(ipvm_multiaddr_t *ma, uint32_t code, const char *v, size_t n, size_t off,
                       ipvm_error_t *err)
{
    char tmp[128];
    if (n == 0 || n >= sizeof tmp)
        return ipvm_error_set(err, IPVM_EINVAL, off, "multiaddr: %s value for /%s",
                              n ? "too long a" : "missing",
                              code == IPVM_MA_IP4   ? "ip4"
                              : code == IPVM_MA_IP6 ? "ip6"
                              : code == IPVM_MA_TCP ? "tcp"
                                                    : "p2p");
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    int rc = put_code(ma, code, err);
    if (rc)
        return rc;
    if (code == IPVM_MA_IP4 || code == IPVM_MA_IP6) {
        uint8_t a[16];
        if (inet_pton(code == IPVM_MA_IP4 ? AF_INET : AF_INET6, tmp, a) != 1)
            return ipvm_error_set(err, IPVM_EINVAL, off, "multiaddr: \"%s\" is not an %s address",
                                  tmp, code == IPVM_MA_IP4 ? "IPv4" : "IPv6");
        return put(ma, a, code == IPVM_MA_IP4 ? 4 : 16, err);
    }
    if (code == IPVM_MA_TCP) {
        unsigned long port = 0;
        for (size_t i = 0; i < n; i++) {
            if (tmp[i] < '0' || tmp[i] > '9' || n > 5)
                return ipvm_error_set(err, IPVM_EINVAL, off, "multiaddr: \"%s\" is not a port",
                                      tmp);
            port = port * 10 + (unsigned long)(tmp[i] - '0');
        }
        if (port > 65535)
            return ipvm_error_set(err, IPVM_EINVAL, off, "multiaddr: port %lu is over 65535", port);
        uint8_t p[2] = {(uint8_t)(port >> 8), (uint8_t)port};
        return put(ma, p, 2, err);
    }
    ipvm_peer_id_t id;
    if ((rc = ipvm_p2p_peer_id_parse(tmp, n, &id, err)) != 0) {
        if (err)
            err->offset = off;
        return rc;
    }
    uint8_t lv[IPVM_VARINT_MAX];
    if ((rc = put(ma, lv, ipvm_varint_encode(id.len, lv), err)) != 0)
        return rc;
    return put(ma, id.bytes, id.len, err);
}

static uint32_t code_of(const char *name, size_t n)
{
    if (n == 3 && memcmp(name, "ip4", 3) == 0)
        return IPVM_MA_IP4;
    if (n == 3 && memcmp(name, "ip6", 3) == 0)
        return IPVM_MA_IP6;
    if (n == 3 && memcmp(name, "tcp", 3) == 0)
        return IPVM_MA_TCP;
    if ((n == 3 && memcmp(name, "p2p", 3) == 0) || (n == 4 && memcmp(name, "ipfs", 4) == 0))
        return IPVM_MA_P2P;
    return 0;
}

int ipvm_multiaddr_parse(const char *str, size_t len, ipvm_multiaddr_t *out, ipvm_error_t *err)
{
    ipvm_multiaddr_t ma = {0};
    size_t i = 0;
    if (len == 0 || str[0] != '/')
        return ipvm_error_set(err, IPVM_EINVAL, 0, "a multiaddr starts with '/' (e.g. "
                                                   "/ip4/127.0.0.1/tcp/4001)");
    while (i < len) {
        size_t ns = ++i; /* skip '/' */
        while (i < len && str[i] != '/')
            i++;
        size_t nn = i - ns;
        if (nn == 0) {
            if (i == len && ma.len > 0)
                break; /* one trailing slash is tolerated */
            return ipvm_error_set(err, IPVM_EINVAL, ns, "multiaddr has an empty component");
        }
        uint32_t code = code_of(str + ns, nn);
        if (code == 0)
            return refuse_name(str + ns, nn, ns, err);
        if (i >= len)
            return ipvm_error_set(err, IPVM_EINVAL, i, "multiaddr: /%.*s needs a value",
                                  (int)nn, str + ns);
        size_t vs = ++i;
        while (i < len && str[i] != '/')
            i++;
        int rc = parse_value(&ma, code, str + vs, i - vs, vs, err);
        if (rc)
            return rc;
    }
    *out = ma;
    return 0;
}

/* Walks one binary component at *pos: its code, and where its value starts and ends. */
static int next_component(const uint8_t *b, size_t len, size_t *pos, uint64_t *code,
                          size_t *vstart, size_t *vlen, ipvm_error_t *err)
{
    size_t used = 0;
    if (ipvm_varint_decode(b + *pos, len - *pos, code, &used, NULL) != 0)
        return ipvm_error_set(err, IPVM_EINVAL, *pos, "multiaddr: malformed protocol code");
    size_t p = *pos + used;
    switch (*code) {
    case IPVM_MA_IP4:
        *vlen = 4;
        break;
    case IPVM_MA_IP6:
        *vlen = 16;
        break;
    case IPVM_MA_TCP:
        *vlen = 2;
        break;
    case IPVM_MA_P2P: {
        uint64_t l = 0;
        if (ipvm_varint_decode(b + p, len - p, &l, &used, NULL) != 0 || l > len)
            return ipvm_error_set(err, IPVM_EINVAL, p, "multiaddr: malformed /p2p length");
        p += used;
        *vlen = (size_t)l;
        break;
    }
    default: {
        const char *name = unsupported_name(*code);
        if (name)
            return ipvm_error_set(err, IPVM_EUNSUPPORTED, *pos,
                                  "multiaddr protocol /%s is not supported (this node speaks "
                                  "/ip4, /ip6, /tcp and /p2p)",
                                  name);
        return ipvm_error_set(err, IPVM_EINVAL, *pos, "unknown multiaddr protocol code %llu",
                              (unsigned long long)*code);
    }
    }
    if (*vlen > len - p)
        return ipvm_error_set(err, IPVM_EINVAL, p, "multiaddr: truncated value");
    *vstart = p;
    *pos = p + *vlen;
    return 0;
}

int ipvm_multiaddr_from_bytes(const uint8_t *buf, size_t len, ipvm_multiaddr_t *out,
                              ipvm_error_t *err)
{
    if (len == 0)
        return ipvm_error_set(err, IPVM_EINVAL, 0, "empty multiaddr");
    if (len > IPVM_MULTIADDR_MAX)
        return ipvm_error_set(err, IPVM_ETOOBIG, 0, "multiaddr of %zu bytes (limit %d)", len,
                              IPVM_MULTIADDR_MAX);
    size_t pos = 0;
    while (pos < len) {
        uint64_t code;
        size_t vs, vl;
        int rc = next_component(buf, len, &pos, &code, &vs, &vl, err);
        if (rc)
            return rc;
        ipvm_peer_id_t id;
        if (code == IPVM_MA_P2P && (rc = ipvm_p2p_peer_id_from_bytes(buf + vs, vl, &id, err)))
            return rc;
    }
    out->len = (uint8_t)len;
    memcpy(out->bytes, buf, len);
    return 0;
}

const char *ipvm_multiaddr_str(const ipvm_multiaddr_t *ma, char out[IPVM_MULTIADDR_STR])
{
    size_t pos = 0, o = 0;
    out[0] = '\0';
    while (pos < ma->len) {
        uint64_t code;
        size_t vs, vl;
        char v[IPVM_P2P_PEER_ID_STR];
        if (next_component(ma->bytes, ma->len, &pos, &code, &vs, &vl, NULL) != 0)
            return out;
        const uint8_t *p = ma->bytes + vs;
        const char *name = code == IPVM_MA_IP4 ? "ip4" : code == IPVM_MA_IP6 ? "ip6"
                                             : code == IPVM_MA_TCP ? "tcp"
                                                                   : "p2p";
        if (code == IPVM_MA_IP4 || code == IPVM_MA_IP6) {
            inet_ntop(code == IPVM_MA_IP4 ? AF_INET : AF_INET6, p, v, sizeof v);
        } else if (code == IPVM_MA_TCP) {
            snprintf(v, sizeof v, "%u", ipvm__be16_get(p));
        } else {
            ipvm_peer_id_t id = {.len = (uint8_t)vl};
            memcpy(id.bytes, p, vl < sizeof id.bytes ? vl : sizeof id.bytes);
            ipvm_p2p_peer_id_str(&id, v);
        }
        int n = snprintf(out + o, IPVM_MULTIADDR_STR - o, "/%s/%s", name, v);
        if (n < 0 || (size_t)n >= IPVM_MULTIADDR_STR - o) {
            out[0] = '\0';
            return out;
        }
        o += (size_t)n;
    }
    return out;
}

int ipvm_multiaddr_to_sockaddr(const ipvm_multiaddr_t *ma, void *sa)
{
    size_t pos = 0, vs, vl, ipv = 0, ipl = 0, portv = 0;
    uint64_t code, ipcode = 0;
    int n = 0;
    while (pos < ma->len) {
        if (next_component(ma->bytes, ma->len, &pos, &code, &vs, &vl, NULL) != 0)
            return IPVM_EINVAL;
        if (n == 0 && (code == IPVM_MA_IP4 || code == IPVM_MA_IP6)) {
            ipcode = code, ipv = vs, ipl = vl;
        } else if (n == 1 && code == IPVM_MA_TCP) {
            portv = vs;
        } else if (!(n == 2 && code == IPVM_MA_P2P)) {
            return IPVM_EINVAL;
        }
        n++;
    }
    if (n < 2)
        return IPVM_EINVAL;
    uint16_t port = ipvm__be16_get(ma->bytes + portv);
    if (ipcode == IPVM_MA_IP4) {
        struct sockaddr_in *in = sa;
        memset(in, 0, sizeof *in);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, ma->bytes + ipv, ipl);
    } else {
        struct sockaddr_in6 *in6 = sa;
        memset(in6, 0, sizeof *in6);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        memcpy(&in6->sin6_addr, ma->bytes + ipv, ipl);
    }
    return 0;
}

int ipvm_multiaddr_from_sockaddr(const void *sa, ipvm_multiaddr_t *out)
{
    const struct sockaddr *s = sa;
    ipvm_multiaddr_t ma = {0};
    uint16_t port;
    if (s->sa_family == AF_INET) {
        const struct sockaddr_in *in = sa;
        ma.bytes[0] = IPVM_MA_IP4;
        memcpy(ma.bytes + 1, &in->sin_addr, 4);
        ma.len = 5;
        port = ntohs(in->sin_port);
    } else if (s->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = sa;
        ma.bytes[0] = IPVM_MA_IP6;
        memcpy(ma.bytes + 1, &in6->sin6_addr, 16);
        ma.len = 17;
        port = ntohs(in6->sin6_port);
    } else {
        return IPVM_EINVAL;
    }
    ma.bytes[ma.len++] = IPVM_MA_TCP;
    ipvm__be16_put(ma.bytes + ma.len, port);
    ma.len += 2;
    *out = ma;
    return 0;
}

/* Finds the start of a trailing /p2p component; returns its offset or -1. */
static long trailing_p2p(const ipvm_multiaddr_t *ma, size_t *vs, size_t *vl)
{
    size_t pos = 0, start;
    uint64_t code = 0;
    long found = -1;
    while (pos < ma->len) {
        start = pos;
        if (next_component(ma->bytes, ma->len, &pos, &code, vs, vl, NULL) != 0)
            return -1;
        found = code == IPVM_MA_P2P ? (long)start : -1;
    }
    return found;
}

int ipvm_multiaddr_peer_id(const ipvm_multiaddr_t *ma, ipvm_peer_id_t *out)
{
    size_t vs = 0, vl = 0;
    if (trailing_p2p(ma, &vs, &vl) < 0)
        return IPVM_ENOENT;
    return ipvm_p2p_peer_id_from_bytes(ma->bytes + vs, vl, out, NULL) == 0 ? 0 : IPVM_ENOENT;
}

void ipvm_multiaddr_strip_peer_id(ipvm_multiaddr_t *ma)
{
    size_t vs, vl;
    long at = trailing_p2p(ma, &vs, &vl);
    if (at >= 0)
        ma->len = (uint8_t)at;
}

int ipvm_multiaddr_with_peer_id(ipvm_multiaddr_t *ma, const ipvm_peer_id_t *id)
{
    ipvm_multiaddr_t m = *ma;
    ipvm_multiaddr_strip_peer_id(&m);
    uint8_t hdr[2 * IPVM_VARINT_MAX];
    size_t n = ipvm_varint_encode(IPVM_MA_P2P, hdr);
    n += ipvm_varint_encode(id->len, hdr + n);
    if (put(&m, hdr, n, NULL) != 0 || put(&m, id->bytes, id->len, NULL) != 0)
        return IPVM_ETOOBIG;
    *ma = m;
    return 0;
}

bool ipvm_multiaddr_equal(const ipvm_multiaddr_t *a, const ipvm_multiaddr_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}
