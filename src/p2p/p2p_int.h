/* SPDX-License-Identifier: Apache-2.0 */
/* p2p_int.h: internals shared by the files of src/p2p/: protobuf-c allocators, limits, and
 * small byte helpers. Nothing here includes generated protobuf headers, so fuzz targets and
 * tests can include it without the generated directory. */
#ifndef IPVM_P2P_INT_H
#define IPVM_P2P_INT_H

#include "ipvm/p2p.h"

#include <string.h>

/* protobuf-c's allocator interface, declared without its header. */
struct ProtobufCAllocator;

/* An allocator for protobuf-c that goes through ipvm_malloc (so allocation-failure tests reach
 * protobuf decoding). */
extern struct ProtobufCAllocator ipvm__p2p_pb_alloc;
/* The same, but every block is wiped before it is freed: for messages that carry secrets. */
extern struct ProtobufCAllocator ipvm__p2p_pb_secret_alloc;

/* Largest encoded PublicKey we hash into a peer id (RSA-4096 keys are about 550 bytes). */
#define IPVM__P2P_PUBKEY_MAX 8192

static inline void ipvm__be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline uint16_t ipvm__be16_get(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline void ipvm__be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint32_t ipvm__be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ------------------------------------------------------------------ length prefixes ---- */
/* Reads a uvarint from a stream buffer: 0 (done: *v, *used), 1 (need more bytes), or
 * IPVM_EVARINT (more than 9 bytes or not minimal). */
int ipvm__p2p_uvarint_peek(const uint8_t *buf, size_t len, uint64_t *v, size_t *used);
/* Appends uvarint(n) and the n bytes. */
IPVM_MUST_CHECK int ipvm__p2p_lp_append(ipvm_buf_t *out, const void *p, size_t n);

/* ---------------------------------------------------------------- multistream-select ---- */
#define IPVM__MSS_MAX 1024          /* longest message, newline included (as go and js) */
#define IPVM__MSS_MAX_PROPOSALS 32  /* "na" answers a responder gives before giving up */

typedef struct ipvm__mss_s {
    bool initiator;           /* we propose (dialer / stream opener) or answer */
    bool got_header;          /* the peer's "/multistream/1.0.0" arrived */
    const char *const *protos; /* initiator: what to try, in order; responder: what we serve */
    size_t nprotos;
    size_t tried;  /* initiator: index being proposed; responder: proposals refused */
    int selected;  /* index into protos once agreed, else -1 */
} ipvm__mss_t;

/* Reads one message: 0 with msg/mlen (newline removed) and *used, 1 when more bytes are needed,
 * or IPVM_EPROTO (length over IPVM__MSS_MAX, no newline, control bytes). */
int ipvm__mss_read(const uint8_t *buf, size_t len, const char **msg, size_t *mlen, size_t *used,
                   ipvm_error_t *err);
void ipvm__mss_init(ipvm__mss_t *m, bool initiator, const char *const *protos, size_t nprotos);
/* Appends what we send first: the header (and, for the initiator, the first proposal). */
IPVM_MUST_CHECK int ipvm__mss_start(ipvm__mss_t *m, ipvm_buf_t *out);
/* Consumes bytes (*used of them) and appends answers to out. Returns 1 once a protocol is
 * agreed (m->selected; bytes after *used belong to it), 0 when more input is needed, or an
 * error: IPVM_EPROTO (garbage), IPVM_EUNSUPPORTED (no protocol in common). */
int ipvm__mss_feed(ipvm__mss_t *m, const uint8_t *in, size_t len, size_t *used, ipvm_buf_t *out,
                   ipvm_error_t *err);

/* ------------------------------------------------------------------------- noise ---- */
#define IPVM__P2P_NOISE_PROTO "/noise"
#define IPVM__P2P_YAMUX_PROTO "/yamux/1.0.0"
#define IPVM__NOISE_MAX_MSG 65535                  /* a noise message (2-byte length) */
#define IPVM__NOISE_MAX_PLAIN (IPVM__NOISE_MAX_MSG - 16) /* its plaintext, tag excluded */

typedef struct ipvm__noise_cs_s {
    uint8_t k[32]; /* ChaCha20-Poly1305 key */
    uint64_t n;    /* next nonce */
    bool has_k;
} ipvm__noise_cs_t;

typedef struct ipvm__noise_hs_s {
    bool initiator;
    uint8_t step; /* handshake messages done: 0..3 */
    uint8_t ck[32], h[32];
    ipvm__noise_cs_t cs;
    uint8_t e_sk[32], e_pk[32]; /* our ephemeral key */
    uint8_t s_sk[32], s_pk[32]; /* our static noise key (a copy; wiped by dispose) */
    uint8_t re[32], rs[32];     /* the peer's ephemeral and static keys */
    const uint8_t *payload;     /* our signed handshake payload (borrowed) */
    size_t payload_len;
    /* learnt from the peer's payload once verified */
    ipvm_peer_id_t remote;
    uint8_t remote_pub[32];
    size_t remote_muxers; /* how many stream muxers its early data lists */
    bool remote_yamux;    /* ...and whether /yamux/1.0.0 is one */
} ipvm__noise_hs_t;

/* A random X25519 key pair. */
void ipvm__noise_keypair(uint8_t sk[32], uint8_t pk[32]);
/* The NoiseHandshakePayload for our static key: identity key, its signature over
 * "noise-libp2p-static-key:" || s_pk, and our muxer list (inlined muxer negotiation). */
IPVM_MUST_CHECK int ipvm__noise_payload_build(const ipvm_p2p_identity_t *id,
                                              const uint8_t s_pk[32], bool early_muxer,
                                              ipvm_buf_t *out);
/* Verifies a peer's payload against hs->rs and fills hs->remote*. IPVM_EHANDSHAKE. */
int ipvm__noise_payload_verify(ipvm__noise_hs_t *hs, const uint8_t *p, size_t n,
                               ipvm_error_t *err);
void ipvm__noise_hs_init(ipvm__noise_hs_t *hs, bool initiator, const uint8_t s_sk[32],
                         const uint8_t s_pk[32], const uint8_t *payload, size_t payload_len);
void ipvm__noise_hs_dispose(ipvm__noise_hs_t *hs);
/* Appends our next handshake message with its 2-byte length. */
IPVM_MUST_CHECK int ipvm__noise_hs_write(ipvm__noise_hs_t *hs, ipvm_buf_t *out,
                                         ipvm_error_t *err);
/* Processes the peer's next handshake message (length prefix removed). IPVM_EHANDSHAKE. */
IPVM_MUST_CHECK int ipvm__noise_hs_read(ipvm__noise_hs_t *hs, const uint8_t *m, size_t n,
                                        ipvm_error_t *err);
/* After the three messages: the two transport cipher states. */
void ipvm__noise_hs_split(ipvm__noise_hs_t *hs, ipvm__noise_cs_t *tx, ipvm__noise_cs_t *rx);
/* Encrypts plaintext into framed transport messages (2-byte length + ciphertext + tag), cut
 * at IPVM__NOISE_MAX_PLAIN. IPVM_ENOMEM, or IPVM_ECLOSED when the nonces are used up. */
IPVM_MUST_CHECK int ipvm__noise_encrypt(ipvm__noise_cs_t *cs, const uint8_t *p, size_t n,
                                        ipvm_buf_t *out);
/* Decrypts one transport message (without its length) into out (n - 16 bytes). IPVM_EPROTO. */
IPVM_MUST_CHECK int ipvm__noise_decrypt(ipvm__noise_cs_t *cs, const uint8_t *c, size_t n,
                                        uint8_t *out, size_t *out_len, ipvm_error_t *err);

/* -------------------------------------------------------------------------- yamux ---- */
#define IPVM__YMX_HDR 12
#define IPVM__YMX_INITIAL_WINDOW (256u * 1024)     /* spec: every stream starts here */
#define IPVM__YMX_MAX_WINDOW (16u * 1024 * 1024)   /* how far we grow a busy stream's window */
#define IPVM__YMX_FRAME_MAX (64u * 1024 - IPVM__YMX_HDR) /* data per frame we send (as js) */
#define IPVM__YMX_MAX_STREAMS 512                  /* open streams per session */
#define IPVM__YMX_MAX_UNACKED 256                  /* spec: ACK backlog */
#define IPVM__YMX_TXQ_MAX (8u * 1024 * 1024)       /* bytes queued on a stream for credit */
#define IPVM__YMX_TXQ_LOW (256u * 1024)            /* on_writable fires below this */

enum {
    IPVM__YMX_DATA = 0,
    IPVM__YMX_WINDOW = 1,
    IPVM__YMX_PING = 2,
    IPVM__YMX_GOAWAY = 3,
};
enum {
    IPVM__YMX_SYN = 1,
    IPVM__YMX_ACK = 2,
    IPVM__YMX_FIN = 4,
    IPVM__YMX_RST = 8,
};

typedef struct ipvm__ymx_s ipvm__ymx_t;
typedef struct ipvm__ymx_stream_s ipvm__ymx_stream_t;

/* What a session needs from the connection under it. */
typedef struct ipvm__ymx_cb_s {
    /* Queues bytes for the secure channel. Returns 0 or an error (the session then fails). */
    int (*write)(void *ud, const uint8_t *p, size_t n);
    /* A peer opened a stream (already ACKed). The callee sets the stream's callbacks. */
    void (*on_stream)(void *ud, ipvm__ymx_stream_t *s);
    /* The peer sent GoAway with this code. */
    void (*on_goaway)(void *ud, uint32_t code);
} ipvm__ymx_cb_t;

/* What a stream's user provides. Each may be NULL. After on_close nothing else is called and
 * the stream is freed once the callback returns. */
typedef struct ipvm__ymx_stream_cb_s {
    void (*on_data)(ipvm__ymx_stream_t *s, const uint8_t *p, size_t n);
    void (*on_eof)(ipvm__ymx_stream_t *s);              /* the peer half-closed (FIN) */
    void (*on_writable)(ipvm__ymx_stream_t *s);         /* the send queue went below TXQ_LOW */
    void (*on_close)(ipvm__ymx_stream_t *s, int err);   /* 0 = both sides finished; else reset */
} ipvm__ymx_stream_cb_t;

struct ipvm__ymx_stream_s {
    ipvm__ymx_t *sess;
    ipvm__ymx_stream_t *next;  /* in the session's list */
    uint32_t id;
    bool outbound;     /* we opened it */
    bool acked;        /* outbound: the peer ACKed (or sent data) */
    bool local_fin;    /* we sent FIN (or it is queued behind txq) */
    bool fin_sent;
    bool remote_fin;   /* the peer sent FIN */
    bool closed;       /* reset or both FINs: on_close was called */
    int refs;          /* held while a callback runs */
    uint32_t send_window;  /* credit the peer gave us */
    uint32_t recv_window;  /* the window we currently grant */
    uint32_t recv_avail;   /* credit the peer still has */
    ipvm_buf_t txq;        /* bytes waiting for credit */
    size_t txq_off;
    const ipvm__ymx_stream_cb_t *cb;
    void *ud;              /* the user's */
};

struct ipvm__ymx_s {
    bool client;          /* we dialed: odd stream ids */
    bool goaway_sent, goaway_recv, failed;
    bool blocked;         /* the connection is backed up: stream data waits (control does not) */
    uint32_t next_id;
    size_t nstreams, unacked;
    ipvm__ymx_stream_t *streams;
    const ipvm__ymx_cb_t *cb;
    void *ud;
    /* frame parser */
    uint8_t hdr[IPVM__YMX_HDR];
    size_t hdr_len;
    uint32_t payload_left;      /* bytes of the current data frame still to come */
    ipvm__ymx_stream_t *payload_to; /* their stream (held), or NULL to discard */
    uint16_t payload_flags;         /* flags of that frame, applied after its data */
    uint64_t bytes_in, frames_in;
};

void ipvm__ymx_init(ipvm__ymx_t *y, bool client, const ipvm__ymx_cb_t *cb, void *ud);
/* Resets every stream (on_close(IPVM_ECLOSED)) and frees them; y may then be discarded. */
void ipvm__ymx_dispose(ipvm__ymx_t *y);
/* Processes bytes from the secure channel. Returns 0, or IPVM_EPROTO (the caller then sends
 * GoAway(protocol error) with ipvm__ymx_goaway and closes the connection). */
int ipvm__ymx_feed(ipvm__ymx_t *y, const uint8_t *p, size_t n, ipvm_error_t *err);
/* Sends GoAway with code (0 normal, 1 protocol error, 2 internal error). */
void ipvm__ymx_goaway(ipvm__ymx_t *y, uint32_t code);
/* Sends a ping (SYN) with an opaque value. */
int ipvm__ymx_ping(ipvm__ymx_t *y, uint32_t opaque);
/* Opens a stream (SYN). IPVM_ECLOSED after GoAway, IPVM_EBUSY (too many unACKed/open). */
IPVM_MUST_CHECK int ipvm__ymx_open(ipvm__ymx_t *y, const ipvm__ymx_stream_cb_t *cb, void *ud,
                                   ipvm__ymx_stream_t **out);
/* Queues data; sent as credit allows. IPVM_ECLOSED after FIN/reset, IPVM_ETOOBIG when the
 * queue would pass IPVM__YMX_TXQ_MAX. */
IPVM_MUST_CHECK int ipvm__ymx_write(ipvm__ymx_stream_t *s, const uint8_t *p, size_t n);
/* The connection under the session is backed up: stream data stays queued (frames that carry
 * no data still go) until ipvm__ymx_unblock, which sends what credit allows, stream by
 * stream, and may call their on_writable. */
void ipvm__ymx_block(ipvm__ymx_t *y);
void ipvm__ymx_unblock(ipvm__ymx_t *y);
/* Bytes queued but not yet sent. */
size_t ipvm__ymx_queued(const ipvm__ymx_stream_t *s);
/* Half-closes (FIN after queued data). */
void ipvm__ymx_close_write(ipvm__ymx_stream_t *s);
/* Resets (RST); on_close(IPVM_ECANCELED) runs before this returns. */
void ipvm__ymx_reset(ipvm__ymx_stream_t *s);

/* --------------------------------------------------------------------------- mdns ---- */
#define IPVM__MDNS_MAX_ADDRS 16
typedef struct ipvm__mdns_msg_s {
    bool response;        /* QR bit */
    bool asks_service;    /* a question for <service> PTR */
    bool answers_service; /* an answer <service> PTR … */
    ipvm_multiaddr_t addrs[IPVM__MDNS_MAX_ADDRS]; /* TXT "dnsaddr=" values that parse */
    size_t naddrs;
} ipvm__mdns_msg_t;
/* Parses one mDNS packet (RFC 1035 with compression). 0 or IPVM_EPROTO. */
int ipvm__mdns_parse(const uint8_t *p, size_t len, const char *service, ipvm__mdns_msg_t *out);

/* Decodes one p2p protobuf message of `kind` (0 PublicKey, 1 Identify, 2 gossipsub RPC, 3 Kad
 * Message, 4 NoiseHandshakePayload, 5 PrivateKey) with the protocol's own checks; for fuzzing. */
int ipvm__p2p_pb_check(int kind, const uint8_t *p, size_t n);
#endif /* IPVM_P2P_INT_H */
