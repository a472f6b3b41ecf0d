/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/p2p.h: the libp2p side of ipvm: the node's Ed25519 identity and peer ids
 * (libp2p/specs peer-ids), multiaddrs, and the host that speaks TCP + multistream-select +
 * Noise + Yamux with identify, ping, gossipsub and Kademlia (DESIGN.md "p2p/"). */
#ifndef IPVM_P2P_H
#define IPVM_P2P_H

#include "util.h"
#include "multiformats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------------- peer ids ---- */
/* A peer id is the multihash of the protobuf PublicKey {Type, Data}: the identity multihash when
 * the encoding is at most 42 bytes (every Ed25519 key: 0x00 0x24 08 01 12 20 <32 bytes>, text
 * "12D3KooW…"), sha2-256 otherwise ("Qm…"). Plain data: copy it with `=`. */
#define IPVM_P2P_PEER_ID_MAX 48  /* longest multihash we accept as a peer id */
#define IPVM_P2P_PEER_ID_STR 128 /* room for any text form, NUL included */
#define IPVM_P2P_ED25519_PUBKEY_PB 36 /* bytes of an encoded Ed25519 PublicKey */

typedef struct ipvm_peer_id_s {
    uint8_t len;                         /* bytes used in `bytes`; 0 = no peer id */
    uint8_t bytes[IPVM_P2P_PEER_ID_MAX]; /* the multihash */
} ipvm_peer_id_t;

/* The peer id of an Ed25519 public key. */
IPVM_EXTERN void ipvm_p2p_peer_id_from_ed25519(const uint8_t pub[32], ipvm_peer_id_t *out);
/* The peer id of an encoded PublicKey (any key type: it is only hashed). Errors: IPVM_EPROTO
 * when the bytes are not a PublicKey message; IPVM_ETOOBIG past 8 KiB. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_from_pubkey(const uint8_t *pb, size_t len,
                                                             ipvm_peer_id_t *out,
                                                             ipvm_error_t *err);
/* Checks a binary peer id (an identity or sha2-256 multihash that fills `len`). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_from_bytes(const uint8_t *buf, size_t len,
                                                            ipvm_peer_id_t *out,
                                                            ipvm_error_t *err);
/* Parses either text form: base58btc multihash ("12D3KooW…", "Qm…", "1…") or a multibase CIDv1
 * with the libp2p-key codec ("bafzaa…", "k51…"). Errors: IPVM_EBASE/IPVM_ECID/IPVM_EMULTIHASH
 * with a sentence naming what is wrong. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_parse(const char *str, size_t len,
                                                       ipvm_peer_id_t *out, ipvm_error_t *err);
/* The legacy (default) text form, base58btc. Returns out. */
IPVM_EXTERN const char *ipvm_p2p_peer_id_str(const ipvm_peer_id_t *id,
                                             char out[IPVM_P2P_PEER_ID_STR]);
/* The CIDv1 form (codec libp2p-key 0x72) in `base` (IPVM_BASE32 gives "bafzaa…"). 0 or
 * IPVM_ETOOBIG when size is too small. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_format_cid(const ipvm_peer_id_t *id,
                                                            ipvm_base_t base, char *out,
                                                            size_t size);
/* The Ed25519 public key inlined in an identity-hashed peer id. 0, or IPVM_ENOENT when the id
 * hashes its key (sha2-256) or holds another key type. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_peer_id_ed25519(const ipvm_peer_id_t *id,
                                                         uint8_t pub[32] /* out */);
IPVM_EXTERN bool ipvm_p2p_peer_id_equal(const ipvm_peer_id_t *a, const ipvm_peer_id_t *b);

/* ------------------------------------------------------------------------- public keys ---- */
/* Encodes an Ed25519 public key as a libp2p PublicKey protobuf (36 bytes, deterministic). */
IPVM_EXTERN void ipvm_p2p_pubkey_encode(const uint8_t pub[32],
                                        uint8_t out[IPVM_P2P_ED25519_PUBKEY_PB]);
/* Decodes a PublicKey protobuf that must hold an Ed25519 key. Errors: IPVM_EPROTO (not a
 * PublicKey, or not in the deterministic encoding), IPVM_EUNSUPPORTED (RSA, secp256k1, ECDSA). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_pubkey_decode(const uint8_t *pb, size_t len,
                                                       uint8_t pub[32] /* out */,
                                                       ipvm_error_t *err);
/* Verifies an Ed25519 signature. 0 or IPVM_ESIGNATURE. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_ed25519_verify(const uint8_t pub[32],
                                                        const uint8_t *msg, size_t len,
                                                        const uint8_t sig[64]);

/* ---------------------------------------------------------------------------- identity ---- */
/* The node's Ed25519 key pair: its libp2p peer id, and (for the trust layer) its did:key.
 *
 * On disk: `<data_dir>/identity.key`, mode 0600, holding exactly the libp2p PrivateKey protobuf
 * of peer-ids.md: `08 01 12 40 <32-byte seed> <32-byte public key>` (68 bytes; the legacy
 * 96-byte form with the public key twice is also read). It is the format go-libp2p and js-libp2p
 * write when they export a key, so a key can move between implementations.
 *
 * In memory the secret lives in libsodium's guarded memory (sodium_malloc: guard pages, mlock,
 * read-only after creation) and is wiped by ipvm_p2p_identity_free; every temporary copy (file
 * bytes, decoded protobuf) is wiped before it is freed. Thread: an identity is immutable after
 * creation, so any thread may use it at once. */
typedef struct ipvm_p2p_identity_s ipvm_p2p_identity_t;

#define IPVM_P2P_IDENTITY_FILE "identity.key"

/* Loads `<data_dir>/identity.key`, or creates it (and data_dir) with a fresh random key when it
 * does not exist. *created (may be NULL) says which. Errors: IPVM_EACCES when the file is
 * readable or writable by group or others (the message says to chmod 600), IPVM_EPROTO when it
 * is not a PrivateKey or its public half does not match its seed, IPVM_EUNSUPPORTED for a
 * non-Ed25519 key, file errors from util. *out is owned by the caller (ipvm_p2p_identity_free). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_identity_load_or_create(const char *data_dir,
                                                                 ipvm_p2p_identity_t **out,
                                                                 bool *created /* out */,
                                                                 ipvm_error_t *err);
/* A key from a 32-byte Ed25519 seed (copied; wipe yours). For tests and `random_seed` configs. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_identity_from_seed(const uint8_t seed[32],
                                                            ipvm_p2p_identity_t **out);
/* A fresh random key, not saved anywhere. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_identity_generate(ipvm_p2p_identity_t **out);
/* Wipes and frees. NULL is a no-op. */
IPVM_EXTERN void ipvm_p2p_identity_free(ipvm_p2p_identity_t *id);
/* Ed25519 signature of msg (detached, 64 bytes). */
IPVM_EXTERN void ipvm_p2p_identity_sign(const ipvm_p2p_identity_t *id, const uint8_t *msg,
                                        size_t len, uint8_t sig[64] /* out */);
/* The raw 32-byte Ed25519 public key (borrowed: lives as long as id). */
IPVM_EXTERN const uint8_t *ipvm_p2p_identity_public_key(const ipvm_p2p_identity_t *id);
/* The peer id (borrowed). */
IPVM_EXTERN const ipvm_peer_id_t *ipvm_p2p_identity_peer_id(const ipvm_p2p_identity_t *id);
/* The peer id as text, "12D3KooW…" (borrowed, NUL-terminated). */
IPVM_EXTERN const char *ipvm_p2p_identity_peer_id_str(const ipvm_p2p_identity_t *id);
/* Writes the PrivateKey protobuf (68 bytes) into out, for `ipvm key export`. The caller must
 * wipe it (ipvm_memzero). */
IPVM_EXTERN void ipvm_p2p_identity_export(const ipvm_p2p_identity_t *id, uint8_t out[68]);

/* --------------------------------------------------------------------------- multiaddr ---- */
/* A multiaddr (multiformats/multiaddr) in its binary form: (varint code, value) components.
 * Supported protocols: /ip4 (4), /ip6 (41), /tcp (6), /p2p (421, also read as /ipfs). Every
 * other protocol is refused with IPVM_EUNSUPPORTED and a sentence naming it (/udp, /quic-v1,
 * /ws, /dns4, /p2p-circuit…), so addresses a peer advertises for transports we lack are skipped
 * cleanly. Plain data: copy it with `=`. */
#define IPVM_MULTIADDR_MAX 96  /* bytes of the longest binary form we keep */
#define IPVM_MULTIADDR_STR 512 /* room for its text form (19 x /ip4/255.255.255.255), NUL included */

#define IPVM_MA_IP4 4
#define IPVM_MA_TCP 6
#define IPVM_MA_IP6 41
#define IPVM_MA_P2P 421

typedef struct ipvm_multiaddr_s {
    uint8_t len;                       /* bytes used */
    uint8_t bytes[IPVM_MULTIADDR_MAX]; /* the binary multiaddr */
} ipvm_multiaddr_t;

/* Parses "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…". Errors: IPVM_EINVAL (malformed: empty
 * component, bad address or port, missing value), IPVM_EUNSUPPORTED (a protocol we do not
 * speak), IPVM_ETOOBIG; err says which component and why. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multiaddr_parse(const char *str, size_t len,
                                                     ipvm_multiaddr_t *out, ipvm_error_t *err);
/* Checks and copies a binary multiaddr (from identify, Kademlia, mDNS). Same errors. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multiaddr_from_bytes(const uint8_t *buf, size_t len,
                                                          ipvm_multiaddr_t *out,
                                                          ipvm_error_t *err);
/* The text form; returns out ("" if it does not fit, which cannot happen for a valid value). */
IPVM_EXTERN const char *ipvm_multiaddr_str(const ipvm_multiaddr_t *ma,
                                           char out[IPVM_MULTIADDR_STR]);
/* The IP and TCP port of an /ip4|ip6/…/tcp/…[/p2p/…] address, as a sockaddr_in or sockaddr_in6
 * in `sa` (a struct sockaddr_storage). IPVM_EINVAL when ma is not of that shape. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multiaddr_to_sockaddr(const ipvm_multiaddr_t *ma,
                                                           void *sa /* out: sockaddr_storage */);
/* /ip4|ip6/…/tcp/… from a sockaddr_in or sockaddr_in6. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multiaddr_from_sockaddr(const void *sa,
                                                             ipvm_multiaddr_t *out);
/* The peer id of a trailing /p2p component: 0, or IPVM_ENOENT when there is none. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multiaddr_peer_id(const ipvm_multiaddr_t *ma,
                                                       ipvm_peer_id_t *out);
/* Appends /p2p/<id> (replacing a trailing /p2p). IPVM_ETOOBIG if it does not fit. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_multiaddr_with_peer_id(ipvm_multiaddr_t *ma,
                                                            const ipvm_peer_id_t *id);
/* Removes a trailing /p2p component, if any. */
IPVM_EXTERN void ipvm_multiaddr_strip_peer_id(ipvm_multiaddr_t *ma);
IPVM_EXTERN bool ipvm_multiaddr_equal(const ipvm_multiaddr_t *a, const ipvm_multiaddr_t *b);

/* -------------------------------------------------------------------------------- host ---- */
/* A libp2p host: TCP listeners and dials, each connection upgraded with multistream-select
 * 1.0, Noise XX (/noise) and Yamux (/yamux/1.0.0); identify (/ipfs/id/1.0.0 and push), ping
 * (/ipfs/ping/1.0.0), gossipsub v1.1 (/meshsub/1.1.0), Kademlia (/ipfs/kad/1.0.0) and mDNS.
 * Thread: a host lives on one libuv loop and every function below runs on that loop's thread,
 * except those marked "any thread". */
typedef struct ipvm_p2p_host_s ipvm_p2p_host_t;
struct uv_loop_s;

#define IPVM_P2P_MAX_CONFIG_ADDRS 16

/* Network events, for subscribe_network_events and the dashboard (homestar.md §6.1 names). */
typedef enum {
    IPVM_P2P_EV_LISTEN = 1,       /* new_listen_addr: addr */
    IPVM_P2P_EV_CONNECTED,        /* connection_established: peer, addr */
    IPVM_P2P_EV_DISCONNECTED,     /* connection_closed: peer, addr, code */
    IPVM_P2P_EV_DIAL_FAILED,      /* outgoing_connection_error: addr, code, reason */
    IPVM_P2P_EV_INBOUND_FAILED,   /* incoming_connection_error: addr, code, reason */
    IPVM_P2P_EV_IDENTIFIED,       /* peer identified: peer, agent */
    IPVM_P2P_EV_MDNS_DISCOVERED,  /* discovered_mdns: peer, addr */
    IPVM_P2P_EV_GOSSIP_MESSAGE,   /* a gossipsub message was delivered: peer (source), topic */
    IPVM_P2P_EV_RECEIPT_PUBLISHED, /* published_receipt_pubsub: cid, ran */
    IPVM_P2P_EV_RECEIPT_RECEIVED,  /* received_receipt_pubsub: peer, cid, ran */
    IPVM_P2P_EV_RECEIPT_PUT_DHT,   /* put_receipt_dht: cid, ran */
    IPVM_P2P_EV_RECEIPT_GOT_DHT,   /* got_receipt_dht: peer, cid, ran */
    IPVM_P2P_EV_RECEIPT_REJECTED,  /* a peer's receipt failed verification: peer, cid, reason */
    IPVM_P2P_EV_RECEIPT_QUORUM,    /* receipt_quorum_success/failure_dht: cid, code, count */
} ipvm_p2p_event_kind_t;

typedef struct ipvm_p2p_event_s {
    ipvm_p2p_event_kind_t kind;
    uint64_t timestamp_ms;
    const ipvm_peer_id_t *peer;  /* or NULL */
    const ipvm_multiaddr_t *addr; /* or NULL */
    const char *topic;            /* gossip topic, or NULL */
    const ipvm_cid_t *cid;        /* receipt CID, or NULL */
    const ipvm_cid_t *ran;        /* its `ran` (invocation CID), or NULL */
    const char *agent;            /* identify agent version, or NULL */
    const char *reason;           /* a sentence for failures, or NULL */
    int code;                     /* an error code, or a count */
} ipvm_p2p_event_t;

/* Called on the loop thread; the event and what it points to are valid during the call only. */
typedef void (*ipvm_p2p_event_fn)(const ipvm_p2p_event_t *ev, void *data);

typedef struct ipvm_p2p_config_s {
    const char *listen[IPVM_P2P_MAX_CONFIG_ADDRS]; /* multiaddrs, default /ip4/0.0.0.0/tcp/0 */
    size_t nlisten;
    const char *bootstrap[IPVM_P2P_MAX_CONFIG_ADDRS]; /* /ip4/…/tcp/…/p2p/…, redialed */
    size_t nbootstrap;
    const char *agent_version;    /* identify agentVersion, default "ipvm/<version>" */
    const char *protocol_version; /* identify protocolVersion, default "ipfs/0.1.0" */
    bool mdns;                    /* announce and discover on _p2p._udp.local (default off) */
    uint32_t mdns_interval_ms;    /* query interval (default 10 s) */
    const char *mdns_interface;   /* IPv4 address of the multicast interface (NULL: default) */
    const char *mdns_service;     /* default "_p2p._udp.local" (spec: "_p2p-X._udp.local" for a
                                     private network X) */
    uint32_t dial_timeout_ms;      /* TCP connect + handshake (default 10 s) */
    uint32_t request_timeout_ms;   /* a peer's answer to one request (default 5 s) */
    uint32_t max_connections;      /* default 128 */
    uint32_t redial_interval_ms;   /* bootstrap peers (default 5 s, Homestar: 30 s) */
    /* gossipsub (v1.1 spec names and defaults, except the heartbeat) */
    uint32_t gossip_heartbeat_ms; /* default 1000 (Homestar: 60 s) */
    int gossip_d, gossip_d_low, gossip_d_high, gossip_d_lazy, gossip_d_out;
    uint32_t gossip_max_message;  /* bytes of one message (default 1 MiB; Homestar 10 MiB) */
    int gossip_msgid;             /* IPVM_P2P_MSGID_* */
    bool gossip_flood_publish;    /* default true */
    /* Kademlia */
    int kad_k;                /* bucket size and replication (default 20) */
    int kad_alpha;            /* lookup concurrency (default 3; spec allows 10) */
    uint32_t kad_query_timeout_ms; /* a whole lookup (default 10 s) */
    uint32_t kad_max_record;  /* bytes of one stored value (default 1 MiB; Homestar 10 MiB) */
    uint32_t kad_max_records; /* records held in memory (default 65536) */
    ipvm_p2p_event_fn on_event;
    void *event_data;
} ipvm_p2p_config_t;

/* Message ids for gossipsub: how peers name a message in IHAVE/IWANT and dedup. All peers on a
 * topic must agree. */
#define IPVM_P2P_MSGID_HOMESTAR 0   /* decimal SipHash-1-3 (zero keys) of le64(len)||data */
#define IPVM_P2P_MSGID_FROM_SEQNO 1 /* from || seqno, the spec's default (go-libp2p-pubsub) */
#define IPVM_P2P_MSGID_JS 2         /* PublicKey protobuf || seqno: js-libp2p's default */

/* Fills in the defaults. */
IPVM_EXTERN void ipvm_p2p_config_init(ipvm_p2p_config_t *cfg);

typedef struct ipvm_p2p_stats_s {
    uint64_t conns_opened, conns_failed, conns_closed;
    uint64_t bytes_in, bytes_out;
    uint64_t gossip_in, gossip_out, gossip_dup, gossip_invalid, gossip_dropped;
    uint64_t dht_puts, dht_gets, dht_hits, dht_stored;
    uint64_t receipts_published, receipts_received, receipts_rejected;
} ipvm_p2p_stats_t;

/* Creates a host (not yet listening). `id` is borrowed and must outlive the host; cfg is
 * copied (its strings too). Errors: IPVM_EINVAL (a bad listen or bootstrap address; err says
 * which), IPVM_ENOMEM. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_host_new(struct uv_loop_s *loop,
                                                  const ipvm_p2p_identity_t *id,
                                                  const ipvm_p2p_config_t *cfg,
                                                  ipvm_p2p_host_t **out, ipvm_error_t *err);
/* Binds the listeners, starts timers, mDNS, and dials the bootstrap peers. Errors from libuv
 * (UV_EADDRINUSE…) with err naming the address. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_host_start(ipvm_p2p_host_t *h, ipvm_error_t *err);
/* Closes every connection and handle; cb runs once all are closed (then free the host). */
IPVM_EXTERN void ipvm_p2p_host_stop(ipvm_p2p_host_t *h, void (*cb)(ipvm_p2p_host_t *h, void *ud),
                                    void *ud);
/* Frees a stopped (or never started) host. NULL is a no-op. */
IPVM_EXTERN void ipvm_p2p_host_free(ipvm_p2p_host_t *h);
IPVM_EXTERN const ipvm_peer_id_t *ipvm_p2p_host_peer_id(const ipvm_p2p_host_t *h);
/* The bound listen addresses (with the real ports), without /p2p. Returns how many. */
IPVM_EXTERN size_t ipvm_p2p_host_listen_addrs(const ipvm_p2p_host_t *h, ipvm_multiaddr_t *out,
                                              size_t max);
IPVM_EXTERN void ipvm_p2p_host_stats(const ipvm_p2p_host_t *h, ipvm_p2p_stats_t *out);

/* Dials an address (with or without /p2p); cb(0) once the connection is open and secured, or
 * cb(error). Reuses a live connection to the same peer. */
typedef void (*ipvm_p2p_dial_fn)(ipvm_p2p_host_t *h, int status, const ipvm_peer_id_t *peer,
                                 void *data);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_dial(ipvm_p2p_host_t *h, const ipvm_multiaddr_t *ma,
                                              ipvm_p2p_dial_fn cb, void *data);
/* Pings a connected peer (/ipfs/ping/1.0.0); cb gets the round trip in microseconds. */
typedef void (*ipvm_p2p_ping_fn)(ipvm_p2p_host_t *h, int status, uint64_t rtt_us, void *data);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_ping(ipvm_p2p_host_t *h, const ipvm_peer_id_t *peer,
                                              ipvm_p2p_ping_fn cb, void *data);

/* One connected peer, for `ipvm node peers`, the `node` RPC method and the dashboard. */
typedef struct ipvm_p2p_peer_info_s {
    ipvm_peer_id_t id;
    ipvm_multiaddr_t addr;   /* of the (first) connection */
    bool outbound;           /* we dialed it */
    const char *agent;       /* identify agentVersion ("" when not identified yet) */
    uint64_t connected_ms;   /* wall clock */
    uint64_t rtt_us;         /* last ping round trip, 0 if none */
    size_t nprotocols;
    bool gossip, kad;        /* speaks meshsub / is a DHT server */
    double score;            /* gossipsub score */
} ipvm_p2p_peer_info_t;
/* Calls fn for each connected peer; the info is valid during the call only. */
IPVM_EXTERN void ipvm_p2p_each_peer(ipvm_p2p_host_t *h,
                                    void (*fn)(const ipvm_p2p_peer_info_t *p, void *data),
                                    void *data);
IPVM_EXTERN size_t ipvm_p2p_peer_count(const ipvm_p2p_host_t *h);

/* ------------------------------------------------------------------- request/response ---- */
/* Protocols of one request and one answer per stream, for other areas (the trust layer's
 * /ipvm/verify/1.0.0): the asker opens a stream, writes uvarint(len) || request and closes its
 * side; the server writes uvarint(len) || answer and closes. Served protocols are announced by
 * identify (and pushed to connected peers when added after start). */
typedef struct ipvm_p2p_reply_s ipvm_p2p_reply_t;

/* A request arrived (loop thread; req is valid during the call only). Answer exactly once with
 * ipvm_p2p_reply, now or later, from any thread. */
typedef void (*ipvm_p2p_serve_fn)(ipvm_p2p_host_t *h, const ipvm_peer_id_t *from,
                                  const uint8_t *req, size_t len, ipvm_p2p_reply_t *reply,
                                  void *data);
/* Serves a protocol (at most 8); requests over max_request bytes (0: 64 KiB) reset the stream.
 * IPVM_EEXIST if served already. Loop thread. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_serve(ipvm_p2p_host_t *h, const char *protocol,
                                               size_t max_request, ipvm_p2p_serve_fn fn,
                                               void *data);
/* Stops calling fn: later requests are reset (replies still owed must still be given). Loop
 * thread. */
IPVM_EXTERN void ipvm_p2p_unserve(ipvm_p2p_host_t *h, const char *protocol);
/* Sends the answer (copied) and closes the stream; len 0 resets it instead. Any thread; if the
 * asker went away meanwhile the answer is dropped. */
IPVM_EXTERN void ipvm_p2p_reply(ipvm_p2p_reply_t *reply, const uint8_t *resp, size_t len);

/* The answer to a request, once, on the loop thread: status 0 with the answer (valid during the
 * call), or IPVM_ETIMEDOUT, IPVM_ENOENT (not connected and no address known), IPVM_EPEER (closed
 * without answering), IPVM_EUNSUPPORTED (the peer does not speak it), IPVM_ETOOBIG, dial
 * errors, IPVM_ECANCELED (the host stopped). */
typedef void (*ipvm_p2p_answer_fn)(int status, const uint8_t *resp, size_t len, void *data);
/* Asks a peer (request copied): over a live connection, else dialing addr (NULL: an address
 * the peer store knows). timeout_ms (0: request_timeout) covers dial and answer; answers over
 * max_response bytes (0: 64 KiB) fail. Any thread. 0, or IPVM_ECANCELED when the host stops. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_request(ipvm_p2p_host_t *h, const ipvm_peer_id_t *peer,
                                                 const ipvm_multiaddr_t *addr,
                                                 const char *protocol, const uint8_t *req,
                                                 size_t len, size_t max_response,
                                                 uint32_t timeout_ms, ipvm_p2p_answer_fn cb,
                                                 void *data);
/* Connected peers whose identify lists `protocol` (at most max, into out). Any thread except
 * the loop's (it waits for the loop); 0 when the host is stopping. */
IPVM_EXTERN size_t ipvm_p2p_peers_speaking(ipvm_p2p_host_t *h, const char *protocol,
                                           ipvm_peer_id_t *out, size_t max);

/* ---------------------------------------------------------------------------- gossipsub ---- */
/* What a topic's handler says of a message (gossipsub v1.1 "extended validators"): ACCEPT
 * delivers and forwards it, REJECT drops it and counts against the peer's score (P4), IGNORE
 * drops it silently. */
typedef enum {
    IPVM_P2P_ACCEPT = 0,
    IPVM_P2P_REJECT = 1,
    IPVM_P2P_IGNORE = 2,
} ipvm_p2p_verdict_t;

typedef struct ipvm_p2p_message_s {
    const char *topic;
    const uint8_t *data;
    size_t len;
    const ipvm_peer_id_t *from; /* the author, whose signature was verified */
    const ipvm_peer_id_t *via;  /* the peer that sent it to us */
    uint64_t seqno;
    const uint8_t *id; /* message id (see IPVM_P2P_MSGID_*) */
    size_t id_len;
} ipvm_p2p_message_t;

/* Called once per new message on a subscribed topic (duplicates are filtered), on the loop
 * thread; the message is valid during the call only. */
typedef ipvm_p2p_verdict_t (*ipvm_p2p_message_fn)(ipvm_p2p_host_t *h,
                                                  const ipvm_p2p_message_t *m, void *data);

/* Subscribes (JOIN: grafts a mesh, announces the subscription). Topics are at most 256 bytes;
 * IPVM_EEXIST if already subscribed, IPVM_ENOSPC past 16 topics. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_subscribe(ipvm_p2p_host_t *h, const char *topic,
                                                   ipvm_p2p_message_fn fn, void *data);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_unsubscribe(ipvm_p2p_host_t *h, const char *topic);
/* Publishes a signed message (StrictSign: from, seqno, signature). With flood publishing (the
 * default) it goes to every subscribed peer whose score is above the publish threshold.
 * *recipients (may be NULL) = peers it was sent to. IPVM_ETOOBIG over gossip_max_message. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_publish(ipvm_p2p_host_t *h, const char *topic,
                                                 const uint8_t *data, size_t len,
                                                 size_t *recipients /* out */);
/* Peers in our mesh for a topic, and peers known to be subscribed to it. */
IPVM_EXTERN size_t ipvm_p2p_mesh_size(ipvm_p2p_host_t *h, const char *topic);
IPVM_EXTERN size_t ipvm_p2p_topic_peers(ipvm_p2p_host_t *h, const char *topic);
/* A message id as gossipsub computes it (kind: IPVM_P2P_MSGID_*). Writes at most 64 bytes;
 * returns the length. */
IPVM_EXTERN size_t ipvm_p2p_gossip_msgid(int kind, const uint8_t *from, size_t from_len,
                                         uint64_t seqno, const uint8_t *data, size_t len,
                                         uint8_t out[64]);

/* ----------------------------------------------------------------------------- Kademlia ---- */
/* The DHT (/ipfs/kad/1.0.0, server mode): k-buckets of peers that advertise the protocol,
 * FIND_NODE, GET_VALUE, PUT_VALUE (and ADD_PROVIDER/GET_PROVIDERS), iterative lookups with at
 * most kad_alpha requests in flight and a deadline. Records live in memory (bounded, as
 * Homestar's MemoryStore) and, through the lookup hook, wherever the application keeps them. */
#define IPVM_P2P_DHT_MAX_KEY 256 /* bytes of a record key */

/* Validates a record before it is stored (PUT_VALUE from a peer) or returned by a lookup.
 * Returns 0 to accept, or an IPVM_E* code with a reason in *why (static text). */
typedef int (*ipvm_p2p_dht_validate_fn)(const uint8_t *key, size_t klen, const uint8_t *value,
                                        size_t vlen, const char **why, void *data);
IPVM_EXTERN void ipvm_p2p_dht_set_validator(ipvm_p2p_host_t *h, ipvm_p2p_dht_validate_fn fn,
                                            void *data);

/* Looks a key up outside the memory store (the receipts database) for GET_VALUE requests.
 * Call done(req, value, len) exactly once, on the loop thread (len 0 / value NULL: not found);
 * the value is copied. */
typedef void (*ipvm_p2p_dht_found_fn)(void *req, const uint8_t *value, size_t len);
typedef void (*ipvm_p2p_dht_lookup_fn)(const uint8_t *key, size_t klen,
                                       ipvm_p2p_dht_found_fn done, void *req, void *data);
IPVM_EXTERN void ipvm_p2p_dht_set_lookup(ipvm_p2p_host_t *h, ipvm_p2p_dht_lookup_fn fn,
                                         void *data);

/* GET: the memory store first, then an iterative GET_VALUE lookup that ends at the first valid
 * record or after timeout_ms (0: kad_query_timeout_ms). cb runs once: 0 with the value (valid
 * during the call) and the peer that had it (NULL when local), or IPVM_ENOENT / ETIMEDOUT. */
typedef void (*ipvm_p2p_dht_get_fn)(ipvm_p2p_host_t *h, int status, const uint8_t *value,
                                    size_t len, const ipvm_peer_id_t *from, void *data);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_dht_get(ipvm_p2p_host_t *h, const uint8_t *key,
                                                 size_t klen, uint32_t timeout_ms,
                                                 ipvm_p2p_dht_get_fn cb, void *data);
/* PUT: stores locally, finds the k closest peers to the key and sends them PUT_VALUE. cb runs
 * once with how many peers confirmed (status 0 when at least `quorum` did, else IPVM_EPEER;
 * quorum 0 means 1). IPVM_ETOOBIG over kad_max_record. */
typedef void (*ipvm_p2p_dht_put_fn)(ipvm_p2p_host_t *h, int status, size_t stored, void *data);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_dht_put(ipvm_p2p_host_t *h, const uint8_t *key,
                                                 size_t klen, const uint8_t *value, size_t vlen,
                                                 int quorum, ipvm_p2p_dht_put_fn cb,
                                                 void *data);
/* Announces that we provide `key` (ADD_PROVIDER to the k closest peers); fire and forget. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_dht_provide(ipvm_p2p_host_t *h, const uint8_t *key,
                                                     size_t klen);
/* Peers in the routing table; records in the memory store. */
IPVM_EXTERN size_t ipvm_p2p_dht_routing_size(const ipvm_p2p_host_t *h);
IPVM_EXTERN size_t ipvm_p2p_dht_record_count(const ipvm_p2p_host_t *h);

/* ----------------------------------------------------------------------------- receipts ---- */
/* Receipts over the network, as Homestar shares them (homestar.md §5): every new receipt is
 * published on the gossipsub topic "receipts" as DAG-CBOR {"header": {"nonce": 12 random
 * bytes}, "payload": {cid, ran, instruction, out, meta, iss, prf, version}} and PUT in the DHT
 * under its instruction CID's bytes as {"ipvm/receipt": {ran, out, meta, iss, prf, version}};
 * each workflow's progress is PUT under its CID as {"ipvm/workflow": {cid, name, num_tasks,
 * progress, progress_count, resources}}. Unlike Homestar, what peers send is checked: a receipt
 * whose CID is not the hash of its contents, or that lacks its instruction, is dropped (and the
 * peer's gossip score pays for it). Receipts from peers wait in a bounded memory cache (and the
 * DHT store, which serves them on) until the scheduler asks for their instruction; the
 * scheduler then checks `ran` against the task it runs and stores the receipt for good.
 * Thread: new/free on the loop thread; the scheduler hooks from any thread. */
typedef struct ipvm_p2p_receipts_s ipvm_p2p_receipts_t;
struct ipvm_sched_net_hooks_s;

typedef struct ipvm_p2p_receipts_opts_s {
    const char *db_path;    /* receipts database to serve DHT lookups from (NULL: memory only) */
    int receipt_quorum;     /* DHT PUT confirmations wanted (default 2, Homestar's) */
    int workflow_quorum;    /* for workflow records (default 3) */
    int lookup_timeout_ms;  /* the scheduler's network lookups (default 500, Homestar's) */
    size_t cache_max;       /* receipts from peers kept in memory (default 10000) */
    bool no_workflow_info;  /* do not PUT workflow records */
} ipvm_p2p_receipts_opts_t;

/* Subscribes to "receipts" and installs the DHT validator and lookup. opts may be NULL; it is
 * copied. The host must be started. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_receipts_new(ipvm_p2p_host_t *h,
                                                      const ipvm_p2p_receipts_opts_t *opts,
                                                      ipvm_p2p_receipts_t **out,
                                                      ipvm_error_t *err);
/* Frees it; the scheduler must no longer use its hooks, and the host must be stopped (or
 * stopping) so nothing is in flight. NULL is a no-op. */
IPVM_EXTERN void ipvm_p2p_receipts_free(ipvm_p2p_receipts_t *r);
/* Fills the scheduler's network hooks (ipvm_sched_set_net_hooks): find_receipts asks the
 * cache, then the DHT, within the lookup timeout; receipt_published gossips and PUTs. */
IPVM_EXTERN void ipvm_p2p_receipts_net_hooks(ipvm_p2p_receipts_t *r,
                                             struct ipvm_sched_net_hooks_s *out);
/* Receipts from peers held in the cache. Any thread. */
IPVM_EXTERN size_t ipvm_p2p_receipts_cached(ipvm_p2p_receipts_t *r);
/* The peer receipt cached for an instruction, if any (5-key DAG-CBOR copied into arena). Any
 * thread. IPVM_ENOENT when absent. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_p2p_receipts_get_cached(ipvm_p2p_receipts_t *r,
                                                             const ipvm_cid_t *instruction,
                                                             ipvm_arena_t *arena,
                                                             const uint8_t **cbor,
                                                             size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_P2P_H */
