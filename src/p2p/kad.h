/* SPDX-License-Identifier: Apache-2.0 */
/* kad.h: Kademlia internals shared by kad.c (routing table, record store, server) and
 * kad_query.c (requests and iterative lookups). */
#ifndef IPVM_P2P_KAD_H
#define IPVM_P2P_KAD_H

#include "host.h"
#include "map.h"

#define KAD_PROTO "/ipfs/kad/1.0.0"
#define KAD_BUCKETS 256
#define KAD_K_MAX 32          /* bucket size cap (cfg.kad_k is at most this) */
#define KAD_MAX_CAND 128      /* candidates one lookup keeps */
#define KAD_MSG_SLACK 65536   /* a message carries peers beside its record */
#define KAD_MAX_PEERS_IN 64   /* closerPeers/providerPeers we read from one message */
#define KAD_MAX_QUEUED_REQS 4 /* requests queued on one inbound stream */
#define KAD_MAX_PROVIDERS 64  /* per key */
#define KAD_PROVIDER_TTL_MS (48ull * 3600 * 1000) /* spec: 48 h */
#define KAD_REFRESH_MS 30000  /* self lookup (Homestar bootstraps every 30 s) */
#define KAD_CLOSED_MS 10000   /* how long a lookup that saw the whole network stands for PUTs */

typedef struct kad_contact_s {
    p2p_peer_t *peer;
    uint8_t kid[32]; /* sha256 of the peer id */
    uint64_t added_ms;
} kad_contact_t;

typedef struct kad_bucket_s {
    kad_contact_t c[KAD_K_MAX];
    size_t n;
} kad_bucket_t;

typedef struct kad_record_s {
    struct kad_record_s *older, *newer; /* eviction order */
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
    uint64_t received_ms;
} kad_record_t;

typedef struct kad_prov_s {
    struct kad_prov_s *next;
    uint8_t *key;
    size_t klen;
    ipvm_peer_id_t peers[KAD_MAX_PROVIDERS];
    uint64_t expires[KAD_MAX_PROVIDERS];
    size_t n;
} kad_prov_t;

typedef struct kad_query_s kad_query_t;

struct p2p_kad_s {
    ipvm_p2p_host_t *h;
    uint8_t self[32];
    kad_bucket_t buckets[KAD_BUCKETS];
    size_t ncontacts;
    p2p_map_t records;
    kad_record_t *oldest, *newest;
    size_t nrecords;
    p2p_map_t providers;
    kad_prov_t *provs;
    ipvm_p2p_dht_validate_fn validate;
    void *validate_ud;
    ipvm_p2p_dht_lookup_fn lookup;
    void *lookup_ud;
    kad_query_t *queries;
    struct kad_req_s *reqs;
    uint64_t last_refresh_ms;
    /* The last lookup found fewer than k peers, all in the routing table and all answering:
     * that set is then the k closest to any key, so a PUT until closed_ms + KAD_CLOSED_MS, while
     * the table still has closed_contacts entries all connected, stores at once without a
     * lookup of its own (one lookup serves a wave of receipts). 0 = not known. */
    uint64_t closed_ms;
    size_t closed_contacts;
    uint64_t lookups_skipped; /* PUTs that used that (for tests and stats) */
    bool stopping;
};

void p2p_kad_key_id(const uint8_t *key, size_t n, uint8_t out[32]);
/* Up to max contacts closest to target, skipping `skip` (may be NULL). */
size_t p2p_kad_closest(p2p_kad_t *k, const uint8_t target[32], const ipvm_peer_id_t *skip,
                       kad_contact_t **out, size_t max);
/* The memory store. */
kad_record_t *p2p_kad_record_get(p2p_kad_t *k, const uint8_t *key, size_t n);
IPVM_MUST_CHECK int p2p_kad_record_put(p2p_kad_t *k, const uint8_t *key, size_t klen,
                                       const uint8_t *val, size_t vlen);
int p2p_kad_validate(p2p_kad_t *k, const uint8_t *key, size_t klen, const uint8_t *val,
                     size_t vlen, const char **why);
size_t p2p_kad_prov_count(const p2p_kad_t *k);
struct P2p__Pb__Kad__Message;
IPVM_MUST_CHECK int p2p_kad_encode(const struct P2p__Pb__Kad__Message *m, ipvm_buf_t *out);
/* Queries (kad_query.c). */
void p2p_kad_queries_stop(p2p_kad_t *k);
int p2p_kad_self_lookup(p2p_kad_t *k); /* best effort */

#endif
