/* SPDX-License-Identifier: Apache-2.0 */
/* mDNS discovery (libp2p/specs discovery/mdns.md, RFC 6762/1035): we ask "_p2p._udp.local PTR"
 * on 224.0.0.251:5353 every mdns_interval_ms, answer such questions with a PTR to our random
 * peer name and TXT records "dnsaddr=<multiaddr>/p2p/<id>", and dial the peers answers name.
 * The DNS parser reads outside bytes: bounded names, compression pointers that must go
 * backwards (so they cannot loop), counts checked against the packet length. */
#include "host.h"

#include <sodium.h>
#include <stdio.h>

#define MDNS_PORT 5353
#define MDNS_GROUP "224.0.0.251"
#define MDNS_MAX_PACKET 9000 /* RFC 6762 §17 */
#define TYPE_PTR 12
#define TYPE_TXT 16
#define CLASS_IN 1
#define TTL_S 120

struct p2p_mdns_s {
    ipvm_p2p_host_t *h;
    uv_udp_t udp;
    uv_timer_t timer;
    bool open;
    char name[40]; /* our random peer name (spec: >= 32 lower-case alphanumerics) */
    uint8_t buf[MDNS_MAX_PACKET];
};

/* ------------------------------------------------------------------------ parsing ---- */
/* Reads a (possibly compressed) name at *pos into out (dotted, lower case). */
static int read_name(const uint8_t *p, size_t len, size_t *pos, char *out, size_t cap)
{
    size_t at = *pos, o = 0, jumps = 0;
    bool jumped = false;
    for (;;) {
        if (at >= len)
            return IPVM_EPROTO;
        uint8_t l = p[at];
        if ((l & 0xc0) == 0xc0) {
            if (at + 1 >= len || ++jumps > 16)
                return IPVM_EPROTO;
            size_t to = ((size_t)(l & 0x3f) << 8) | p[at + 1];
            if (to >= at)
                return IPVM_EPROTO; /* pointers only go back: no loops */
            if (!jumped)
                *pos = at + 2;
            jumped = true;
            at = to;
            continue;
        }
        if (l & 0xc0)
            return IPVM_EPROTO;
        at++;
        if (l == 0)
            break;
        if (at + l > len || o + l + 2 > cap || o + l + 1 > 255)
            return IPVM_EPROTO;
        if (o)
            out[o++] = '.';
        for (size_t i = 0; i < l; i++) {
            char c = (char)p[at + i];
            out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        at += l;
    }
    out[o] = '\0';
    if (!jumped)
        *pos = at;
    return 0;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

int ipvm__mdns_parse(const uint8_t *p, size_t len, const char *service, ipvm__mdns_msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (len < 12)
        return IPVM_EPROTO;
    uint16_t flags = get16(p + 2), qd = get16(p + 4);
    size_t nrr = (size_t)get16(p + 6) + get16(p + 8) + get16(p + 10);
    out->response = (flags & 0x8000) != 0;
    if ((size_t)qd + nrr > len / 5)
        return IPVM_EPROTO; /* every entry takes at least 5 bytes */
    size_t pos = 12;
    char name[256];
    for (size_t i = 0; i < qd; i++) {
        if (read_name(p, len, &pos, name, sizeof name) || pos + 4 > len)
            return IPVM_EPROTO;
        uint16_t type = get16(p + pos);
        pos += 4;
        if ((type == TYPE_PTR || type == 255) && strcmp(name, service) == 0)
            out->asks_service = true;
    }
    for (size_t i = 0; i < nrr; i++) {
        if (read_name(p, len, &pos, name, sizeof name) || pos + 10 > len)
            return IPVM_EPROTO;
        uint16_t type = get16(p + pos), rdlen = get16(p + pos + 8);
        pos += 10;
        if (pos + rdlen > len)
            return IPVM_EPROTO;
        if (type == TYPE_PTR && strcmp(name, service) == 0)
            out->answers_service = true;
        for (size_t at = pos; type == TYPE_TXT && at < pos + rdlen;) { /* <len><string>... */
            size_t l = p[at++];
            if (at + l > pos + rdlen)
                return IPVM_EPROTO;
            if (l > 8 && memcmp(p + at, "dnsaddr=", 8) == 0 && out->naddrs < IPVM__MDNS_MAX_ADDRS) {
                ipvm_multiaddr_t ma;
                if (ipvm_multiaddr_parse((const char *)p + at + 8, l - 8, &ma, NULL) == 0)
                    out->addrs[out->naddrs++] = ma;
            }
            at += l;
        }
        pos += rdlen;
    }
    return 0;
}

/* ------------------------------------------------------------------------ writing ---- */
static int put_name(ipvm_buf_t *b, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        if (l == 0 || l > 63)
            return IPVM_EINVAL;
        int rc = ipvm_buf_append_byte(b, (uint8_t)l);
        if (rc == 0)
            rc = ipvm_buf_append(b, name, l);
        if (rc)
            return rc;
        name += l + (dot ? 1 : 0);
    }
    return ipvm_buf_append_byte(b, 0);
}

static int put16(ipvm_buf_t *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return ipvm_buf_append(b, x, 2);
}

static int put_rr_head(ipvm_buf_t *b, const char *name, uint16_t type, uint16_t cls)
{
    int rc = put_name(b, name);
    if (rc == 0)
        rc = put16(b, type);
    if (rc == 0)
        rc = put16(b, cls);
    if (rc == 0)
        rc = put16(b, 0);
    return rc ? rc : put16(b, TTL_S);
}

static int build_query(p2p_mdns_t *m, ipvm_buf_t *b)
{
    static const uint8_t hdr[12] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    int rc = ipvm_buf_append(b, hdr, sizeof hdr);
    if (rc == 0)
        rc = put_name(b, m->h->cfg.mdns_service);
    if (rc == 0)
        rc = put16(b, TYPE_PTR);
    return rc ? rc : put16(b, CLASS_IN);
}

static int build_response(p2p_mdns_t *m, ipvm_buf_t *b)
{
    ipvm_p2p_host_t *h = m->h;
    char full[300];
    ipvm_multiaddr_t addrs[IPVM__MDNS_MAX_ADDRS];
    size_t na = p2p_host_public_addrs(h, addrs, IPVM__MDNS_MAX_ADDRS);
    snprintf(full, sizeof full, "%s.%s", m->name, h->cfg.mdns_service);
    uint8_t hdr[12] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 1};
    int rc = ipvm_buf_append(b, hdr, sizeof hdr);
    if (rc == 0) /* answer: service PTR peer-name.service */
        rc = put_rr_head(b, h->cfg.mdns_service, TYPE_PTR, CLASS_IN);
    ipvm_buf_t rd = IPVM_BUF_INIT;
    if (rc == 0)
        rc = put_name(&rd, full);
    if (rc == 0)
        rc = put16(b, (uint16_t)rd.len);
    if (rc == 0)
        rc = ipvm_buf_append(b, rd.data, rd.len);
    ipvm_buf_clear(&rd);
    for (size_t i = 0; rc == 0 && i < na; i++) { /* additional: TXT dnsaddr=… per address */
        char s[IPVM_MULTIADDR_STR + 8];
        ipvm_multiaddr_t a = addrs[i];
        if (ipvm_multiaddr_with_peer_id(&a, ipvm_p2p_identity_peer_id(h->id)) != 0)
            continue;
        char ms[IPVM_MULTIADDR_STR];
        int n = snprintf(s, sizeof s, "dnsaddr=%s", ipvm_multiaddr_str(&a, ms));
        if (n > 255)
            continue;
        rc = ipvm_buf_append_byte(&rd, (uint8_t)n);
        if (rc == 0)
            rc = ipvm_buf_append(&rd, s, (size_t)n);
    }
    if (rc == 0)
        rc = put_rr_head(b, full, TYPE_TXT, 0x8001); /* cache-flush */
    if (rc == 0)
        rc = put16(b, (uint16_t)rd.len);
    if (rc == 0)
        rc = ipvm_buf_append(b, rd.data, rd.len);
    ipvm_buf_dispose(&rd);
    return rc;
}

/* -------------------------------------------------------------------------- I/O ---- */
typedef struct {
    uv_udp_send_t req;
    ipvm_buf_t b;
} send_t;

static void on_sent(uv_udp_send_t *req, int status)
{
    (void)status;
    send_t *s = (send_t *)req;
    ipvm_buf_dispose(&s->b);
    ipvm_free(s);
}

static void send_packet(p2p_mdns_t *m, bool response)
{
    send_t *s = ipvm_calloc(1, sizeof *s);
    if (s == NULL)
        return;
    int rc = response ? build_response(m, &s->b) : build_query(m, &s->b);
    struct sockaddr_in to;
    uv_ip4_addr(MDNS_GROUP, MDNS_PORT, &to);
    uv_buf_t ub = uv_buf_init((char *)s->b.data, (unsigned)s->b.len);
    if (rc == 0)
        rc = uv_udp_send(&s->req, &m->udp, &ub, 1, (const struct sockaddr *)&to, on_sent);
    if (rc) {
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "mdns: cannot send: %s", ipvm_strerror(rc));
        ipvm_buf_dispose(&s->b);
        ipvm_free(s);
    }
}

static void on_mdns_dial(p2p_conn_t *c, int err, void *ud)
{
    (void)c;
    (void)err;
    (void)ud;
}

static void discovered(p2p_mdns_t *m, const ipvm__mdns_msg_t *msg)
{
    ipvm_p2p_host_t *h = m->h;
    for (size_t i = 0; i < msg->naddrs; i++) {
        ipvm_peer_id_t id;
        if (ipvm_multiaddr_peer_id(&msg->addrs[i], &id) != 0 ||
            ipvm_p2p_peer_id_equal(&id, ipvm_p2p_identity_peer_id(h->id)))
            continue;
        p2p_peer_t *p = p2p_peer_get(h, &id, true);
        if (p == NULL)
            return;
        p2p_peer_add_addr(p, &msg->addrs[i]);
        if (p->nconns > 0 || ipvm_wall_ms() - p->mdns_dialed_ms < h->cfg.mdns_interval_ms)
            continue;
        p->mdns_dialed_ms = ipvm_wall_ms();
        ipvm_p2p_event_t ev = {.kind = IPVM_P2P_EV_MDNS_DISCOVERED, .peer = &id,
                               .addr = &msg->addrs[i]};
        p2p_host_emit(h, &ev);
        ipvm_log(IPVM_LOG_DEBUG, "p2p", "mdns: found %s", p->id_str);
        if (p2p_dial(h, &msg->addrs[i], on_mdns_dial, m) != 0)
            p->mdns_dialed_ms = 0;
    }
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    p2p_mdns_t *m = hd->data;
    (void)suggested;
    *buf = uv_buf_init((char *)m->buf, sizeof m->buf);
}

static void on_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    p2p_mdns_t *m = u->data;
    (void)buf;
    (void)flags;
    if (n <= 0 || from == NULL)
        return;
    ipvm__mdns_msg_t msg;
    if (ipvm__mdns_parse(m->buf, (size_t)n, m->h->cfg.mdns_service, &msg) != 0)
        return; /* not for us or malformed: mDNS carries everyone's traffic */
    if (!msg.response && msg.asks_service)
        send_packet(m, true);
    else if (msg.response && msg.answers_service)
        discovered(m, &msg);
}

static void on_timer(uv_timer_t *t)
{
    send_packet(t->data, false);
}

static void on_closed(uv_handle_t *hd)
{
    p2p_mdns_t *m = hd->data;
    ipvm_p2p_host_t *h = m->h;
    if (--h->handles == 0 && h->stopping && h->stop_cb)
        h->stop_cb(h, h->stop_ud);
}

int p2p_mdns_start(ipvm_p2p_host_t *h, ipvm_error_t *err)
{
    p2p_mdns_t *m = ipvm_calloc(1, sizeof *m);
    if (m == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 32; i++)
        m->name[i] = alnum[randombytes_uniform(36)];
    m->h = h;
    h->mdns = m;
    uv_udp_init(h->loop, &m->udp);
    uv_timer_init(h->loop, &m->timer);
    m->udp.data = m->timer.data = m;
    m->open = true;
    h->handles += 2;
    struct sockaddr_in any;
    uv_ip4_addr("0.0.0.0", MDNS_PORT, &any);
    const char *ifa = h->cfg.mdns_interface;
    int rc = uv_udp_bind(&m->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR);
    if (rc == 0)
        rc = uv_udp_set_membership(&m->udp, MDNS_GROUP, ifa, UV_JOIN_GROUP);
    if (rc == 0 && ifa)
        rc = uv_udp_set_multicast_interface(&m->udp, ifa);
    if (rc == 0)
        rc = uv_udp_set_multicast_loop(&m->udp, 1);
    if (rc == 0)
        rc = uv_udp_set_multicast_ttl(&m->udp, 255);
    if (rc == 0)
        rc = uv_udp_recv_start(&m->udp, on_alloc, on_recv);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "mdns: cannot use %s:%d%s%s: %s",
                              MDNS_GROUP, MDNS_PORT, ifa ? " on " : "", ifa ? ifa : "",
                              uv_strerror(rc));
    uv_timer_start(&m->timer, on_timer, 0, h->cfg.mdns_interval_ms);
    return 0;
}

void p2p_mdns_stop(ipvm_p2p_host_t *h)
{
    p2p_mdns_t *m = h->mdns;
    if (m == NULL || !m->open)
        return;
    m->open = false;
    uv_close((uv_handle_t *)&m->udp, on_closed);
    uv_close((uv_handle_t *)&m->timer, on_closed);
}

void p2p_mdns_free(ipvm_p2p_host_t *h)
{
    ipvm_free(h->mdns);
    h->mdns = NULL;
}
