/* SPDX-License-Identifier: Apache-2.0 */
/* host.h: the libp2p host inside src/p2p: connections (TCP on libuv, upgraded with
 * multistream-select, Noise and Yamux), negotiated streams, the peer store and the protocol
 * registry that identify, ping, gossipsub and Kademlia plug into. Everything here runs on the
 * host's loop thread. */
#ifndef IPVM_P2P_HOST_H
#define IPVM_P2P_HOST_H

#include "p2p_int.h"

#include <uv.h>

typedef struct p2p_conn_s p2p_conn_t;
typedef struct p2p_stream_s p2p_stream_t;
typedef struct p2p_peer_s p2p_peer_t;
typedef struct p2p_gossip_s p2p_gossip_t;
typedef struct p2p_kad_s p2p_kad_t;
typedef struct p2p_mdns_s p2p_mdns_t;
typedef struct p2p_gpeer_s p2p_gpeer_t;

/* ------------------------------------------------------------------------ streams ---- */
/* What a protocol gives a stream. Each may be NULL. on_close is the last call, exactly once,
 * and the stream is freed after it returns. */
typedef struct p2p_stream_ops_s {
    void (*on_data)(p2p_stream_t *s, const uint8_t *p, size_t n);
    void (*on_eof)(p2p_stream_t *s);
    void (*on_writable)(p2p_stream_t *s);
    void (*on_close)(p2p_stream_t *s, int err);
} p2p_stream_ops_t;

struct p2p_stream_s {
    p2p_conn_t *conn;
    ipvm__ymx_stream_t *ys;
    bool negotiated;      /* multistream agreed */
    bool closed;          /* on_close ran */
    int fail;             /* why negotiation failed, reported by on_close */
    ipvm__mss_t mss;
    const char *offer[1]; /* outbound: the one protocol we propose */
    const char *protocol; /* agreed protocol id (points into the registry or offer) */
    ipvm_buf_t pending;   /* bytes before negotiation finished */
    const p2p_stream_ops_t *ops;
    void *ud; /* the protocol's */
};

/* Opens a stream to conn for one protocol (multistream, optimistically: data may be written at
 * once). Failure to agree ends it with on_close(IPVM_EUNSUPPORTED). */
IPVM_MUST_CHECK int p2p_stream_open(p2p_conn_t *c, const char *protocol,
                                    const p2p_stream_ops_t *ops, void *ud,
                                    p2p_stream_t **out);
IPVM_MUST_CHECK int p2p_stream_write(p2p_stream_t *s, const void *p, size_t n);
/* Writes uvarint(n) || p. */
IPVM_MUST_CHECK int p2p_stream_write_lp(p2p_stream_t *s, const void *p, size_t n);
size_t p2p_stream_queued(const p2p_stream_t *s);
void p2p_stream_close_write(p2p_stream_t *s);
void p2p_stream_reset(p2p_stream_t *s);

/* Length-prefixed messages (uvarint length, as identify, gossipsub and Kademlia frame their
 * protobufs): feed bytes, get whole messages of at most `max` bytes. */
typedef struct p2p_lp_s {
    ipvm_buf_t buf;
    size_t max;
} p2p_lp_t;
/* Calls fn for each complete message; returns 0, fn's non-zero result, or IPVM_ETOOBIG /
 * IPVM_EVARINT (err says which). fn must return non-zero if it freed lp (closed the stream);
 * lp is not touched after that. */
int p2p_lp_feed(p2p_lp_t *lp, const uint8_t *p, size_t n,
                int (*fn)(void *ud, const uint8_t *msg, size_t len), void *ud, ipvm_error_t *err);
void p2p_lp_dispose(p2p_lp_t *lp);

/* ---------------------------------------------------------------------- connections ---- */
enum {
    P2P_C_CONNECTING = 0, /* TCP connect in flight */
    P2P_C_MSS_SEC,        /* multistream for /noise */
    P2P_C_NOISE,          /* the handshake */
    P2P_C_MSS_MUX,        /* multistream for /yamux/1.0.0 inside noise */
    P2P_C_OPEN,           /* yamux: streams flow */
    P2P_C_CLOSING,
};

typedef void (*p2p_dial_cb)(p2p_conn_t *c, int err, void *ud);
typedef struct p2p_dial_waiter_s {
    struct p2p_dial_waiter_s *next;
    p2p_dial_cb cb;
    void *ud;
} p2p_dial_waiter_t;

struct p2p_conn_s {
    ipvm_p2p_host_t *host;
    p2p_conn_t *next;       /* host->conns */
    p2p_conn_t *dirty_next; /* host->dirty: has bytes to flush */
    bool dirty;
    uv_tcp_t tcp;
    uv_timer_t timer; /* the handshake deadline */
    int handles;      /* libuv handles not yet closed */
    bool outbound;
    int stage;
    int close_err;        /* why it is closing */
    bool close_pending;   /* close once the current callback returns */
    int busy;             /* > 0 while inside a read callback */
    uint64_t id;          /* for logs */
    uint64_t opened_ms;
    ipvm_multiaddr_t remote_addr; /* /ip4/…/tcp/… of the other end */
    ipvm_peer_id_t expect;        /* dialed /p2p/…: must match; len 0 = anyone */
    ipvm_peer_id_t remote;        /* after the handshake */
    p2p_peer_t *peer;
    ipvm__mss_t mss;
    const char *mss_protos[1];
    ipvm__noise_hs_t *hs;
    ipvm__noise_cs_t tx, rx;
    ipvm__ymx_t ymx;
    ipvm_buf_t rx_raw;   /* TCP bytes not yet consumed (frames split across reads) */
    ipvm_buf_t rx_plain; /* decrypted bytes not yet consumed (multistream for the muxer) */
    ipvm_buf_t tx_plain; /* plaintext to encrypt at the next flush */
    ipvm_buf_t tx_wire;  /* bytes to write as they are (multistream, handshake) */
    ipvm_buf_t tx_spare; /* a written tx_wire buffer kept for reuse */
    size_t write_bytes;  /* queued in libuv (the kernel did not take them yet) */
    int write_err;       /* a write inside a yamux call failed: the next flush closes */
    uint8_t *plain;      /* IPVM__NOISE_MAX_MSG bytes for decryption */
    p2p_dial_waiter_t *waiters;
    uint64_t bytes_in, bytes_out;
};

/* Dials an /ip4|ip6/…/tcp/…[/p2p/…] address; cb runs once when the connection is open (0) or
 * failed. Reuses an open connection to the same peer id. */
IPVM_MUST_CHECK int p2p_dial(ipvm_p2p_host_t *h, const ipvm_multiaddr_t *ma, p2p_dial_cb cb,
                             void *ud);
/* Closes a connection (deferred when called from inside one of its callbacks). */
void p2p_conn_close(p2p_conn_t *c, int err, const char *why);

/* --------------------------------------------------------------------------- peers ---- */
#define P2P_MAX_ADDRS 8
struct p2p_peer_s {
    p2p_peer_t *next;
    ipvm_peer_id_t id;
    char id_str[IPVM_P2P_PEER_ID_STR];
    ipvm_multiaddr_t addrs[P2P_MAX_ADDRS]; /* known listen addresses, without /p2p */
    size_t naddrs;
    char **protocols; /* from identify (ipvm_malloc'd strings) */
    size_t nprotocols;
    char agent[96];
    char protocol_version[64];
    bool identified;
    int nconns;
    uint64_t last_seen_ms;
    uint64_t connected_ms;
    uint64_t rtt_us; /* last ping */
    p2p_gpeer_t *gossip; /* gossipsub state, when it speaks meshsub */
    bool kad_server;     /* advertises /ipfs/kad/1.0.0 */
    bool kad_rt;         /* in our routing table */
    int refs;            /* held by pending requests (not forgotten while > 0) */
    uint64_t mdns_dialed_ms; /* last dial after an mDNS answer */
    bool bootstrap;      /* from the config: keep connected */
};

p2p_peer_t *p2p_peer_get(ipvm_p2p_host_t *h, const ipvm_peer_id_t *id, bool create);
void p2p_peer_add_addr(p2p_peer_t *p, const ipvm_multiaddr_t *ma);
bool p2p_peer_has_protocol(const p2p_peer_t *p, const char *proto);
/* The first open connection to a peer, or NULL. */
p2p_conn_t *p2p_peer_conn(ipvm_p2p_host_t *h, const p2p_peer_t *p);

/* ------------------------------------------------------------------------ registry ---- */
typedef void (*p2p_handler_fn)(p2p_stream_t *s, void *ud);
#define P2P_MAX_PROTOCOLS 16
IPVM_MUST_CHECK int p2p_handle(ipvm_p2p_host_t *h, const char *protocol, p2p_handler_fn fn,
                               void *ud);

/* Modules (identify, gossipsub, kad) hear about connections and identified peers. */
typedef struct p2p_module_s {
    void (*on_connect)(void *ud, p2p_conn_t *c);
    void (*on_disconnect)(void *ud, p2p_conn_t *c, bool last); /* last: no conn to peer left */
    void (*on_identified)(void *ud, p2p_peer_t *p, p2p_conn_t *c);
    void *ud;
} p2p_module_t;
IPVM_MUST_CHECK int p2p_add_module(ipvm_p2p_host_t *h, const p2p_module_t *m);

/* --------------------------------------------------------------------------- host ---- */
#define P2P_MAX_LISTENERS 4
struct ipvm_p2p_host_s {
    uv_loop_t *loop;
    ipvm_p2p_config_t cfg;
    const ipvm_p2p_identity_t *id;
    uint8_t noise_sk[32], noise_pk[32]; /* static noise key, per process (spec: not stored) */
    ipvm_buf_t noise_payload;           /* signed once, sent in every handshake */
    bool early_muxer;                   /* our payload lists /yamux/1.0.0 (inlined muxer) */
    uv_tcp_t listeners[P2P_MAX_LISTENERS];
    size_t nlisteners;
    ipvm_multiaddr_t listen_addrs[P2P_MAX_LISTENERS];
    uv_prepare_t prepare; /* flushes before the loop blocks */
    uv_check_t check;     /* flushes after I/O callbacks */
    uv_timer_t tick;      /* 1 s housekeeping: redials, gossip heartbeat, kad refresh */
    uv_async_t async;     /* wakes the loop for requests from other threads */
    uv_mutex_t async_lock;
    struct p2p_xreq_s *xreqs; /* requests posted by other threads */
    bool async_open, async_closing;
    int handles;              /* handles not yet closed */
    uint8_t *rbuf;            /* the read buffer every connection shares (one loop thread) */
    size_t nconns;
    uint64_t ticks;           /* 1-second housekeeping ticks so far */
    bool started, stopping;
    void (*stop_cb)(ipvm_p2p_host_t *h, void *ud);
    void *stop_ud;
    p2p_conn_t *conns;
    p2p_conn_t *dirty;
    p2p_peer_t *peers;
    size_t npeers;
    uint64_t next_conn_id;
    struct {
        const char *protocol;
        p2p_handler_fn fn;
        void *ud;
    } handlers[P2P_MAX_PROTOCOLS];
    const char *handler_ids[P2P_MAX_PROTOCOLS]; /* the protocols, for multistream */
    size_t nhandlers;
    p2p_module_t modules[8];
    size_t nmodules;
    p2p_gossip_t *gossip;
    p2p_kad_t *kad;
    p2p_mdns_t *mdns;
    struct ipvm_p2p_receipts_s *receipts;
    struct rr_s *reqresp; /* request/response protocols served (reqresp.c), or NULL */
    ipvm_p2p_stats_t stats;
};

/* Called by conn.c when a connection opens, identifies or closes. */
void p2p_host_conn_opened(ipvm_p2p_host_t *h, p2p_conn_t *c);
void p2p_host_conn_closed(ipvm_p2p_host_t *h, p2p_conn_t *c);
void p2p_host_identified(ipvm_p2p_host_t *h, p2p_peer_t *p, p2p_conn_t *c);
void p2p_host_mark_dirty(ipvm_p2p_host_t *h, p2p_conn_t *c);
void p2p_host_flush(ipvm_p2p_host_t *h);
void p2p_host_emit(ipvm_p2p_host_t *h, const ipvm_p2p_event_t *ev);
/* Starts an inbound connection on an accepted socket. */
void p2p_conn_accept(ipvm_p2p_host_t *h, uv_stream_t *server);
void p2p_conn_flush(p2p_conn_t *c);
/* The stream layer's entry for a new inbound yamux stream. */
void p2p_stream_inbound(p2p_conn_t *c, ipvm__ymx_stream_t *ys);

/* Whether our handshake payload offers the muxer as early data (default yes; off makes both
 * sides agree on it with multistream, as peers without the extension do). */
IPVM_MUST_CHECK int p2p_host_set_early_muxer(ipvm_p2p_host_t *h, bool on);
/* Our listen addresses with 0.0.0.0 / :: expanded to the interfaces' addresses. */
size_t p2p_host_public_addrs(const ipvm_p2p_host_t *h, ipvm_multiaddr_t *out, size_t max);

/* Protocol modules. */
int p2p_identify_init(ipvm_p2p_host_t *h);
void p2p_identify_push_all(ipvm_p2p_host_t *h);
int p2p_ping_init(ipvm_p2p_host_t *h);

int p2p_gossip_init(ipvm_p2p_host_t *h);
int p2p_gossip_start(ipvm_p2p_host_t *h);
void p2p_gossip_tick(ipvm_p2p_host_t *h);
void p2p_gossip_stop(ipvm_p2p_host_t *h);
void p2p_gossip_free(ipvm_p2p_host_t *h);
double p2p_gossip_score(ipvm_p2p_host_t *h, const p2p_peer_t *p);

int p2p_kad_init(ipvm_p2p_host_t *h);
void p2p_kad_tick(ipvm_p2p_host_t *h);
void p2p_kad_stop(ipvm_p2p_host_t *h);
void p2p_kad_free(ipvm_p2p_host_t *h);

int p2p_mdns_start(ipvm_p2p_host_t *h, ipvm_error_t *err);
void p2p_mdns_stop(ipvm_p2p_host_t *h);
void p2p_mdns_free(ipvm_p2p_host_t *h);

/* Requests from other threads, run on the loop thread (uv_async). */
typedef void (*p2p_xreq_fn)(ipvm_p2p_host_t *h, void *data, int status);
int p2p_xreq_init(ipvm_p2p_host_t *h);
/* Any thread: runs fn(h, data, 0) on the loop thread soon, or fn(h, data, IPVM_ECANCELED) if
 * the host stops first. IPVM_ECANCELED (fn never runs) once the host is stopping. */
IPVM_MUST_CHECK int p2p_xreq_post(ipvm_p2p_host_t *h, p2p_xreq_fn fn, void *data);
void p2p_xreq_stop(ipvm_p2p_host_t *h);
void p2p_xreq_free(ipvm_p2p_host_t *h);
/* Frees the request/response table (reqresp.c). */
void p2p_reqresp_free(ipvm_p2p_host_t *h);

#endif /* IPVM_P2P_HOST_H */
