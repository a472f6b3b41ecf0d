/* SPDX-License-Identifier: Apache-2.0 */
/* gossip.h: gossipsub internals shared by gossip.c (streams, publishing, subscriptions) and
 * gossip_router.c (RPC handling, heartbeat, scoring, caches). */
#ifndef IPVM_P2P_GOSSIP_H
#define IPVM_P2P_GOSSIP_H

#include "host.h"
#include "map.h"

#define GS_MAX_TOPICS 16
#define GS_MAX_TOPIC_LEN 256
#define GS_MAX_PEER_TOPICS 64         /* subscriptions we remember per peer */
#define GS_MAX_INBOUND 2              /* inbound streams per peer */
#define GS_RPC_SLACK (256 * 1024)     /* an RPC may carry control beside its largest message */
#define GS_MAX_QUEUED (4u << 20)      /* bytes queued to a peer before we drop messages */
#define GS_MCACHE_LEN 5               /* history windows */
#define GS_MCACHE_GOSSIP 3            /* windows gossiped in IHAVE */
#define GS_SEEN_TTL_MS 120000         /* spec: 2 minutes */
#define GS_FANOUT_TTL_MS 60000
#define GS_PRUNE_BACKOFF_MS 60000     /* spec: 1 minute */
#define GS_UNSUB_BACKOFF_MS 10000
#define GS_GRAFT_FLOOD_MS 10000       /* a GRAFT this soon after a PRUNE is penalised twice */
#define GS_MAX_IHAVE_LENGTH 5000      /* ids we ask for per peer per heartbeat */
#define GS_MAX_IHAVE_MESSAGES 10      /* IHAVE messages we read per peer per heartbeat */
#define GS_MAX_IWANT_SERVES 1000      /* messages we send per peer per heartbeat for IWANT */
#define GS_IWANT_FOLLOWUP_MS 3000     /* a promised message must come within this */
#define GS_MAX_PROMISES 64
#define GS_GOSSIP_FACTOR 0.25
#define GS_D_SCORE 4                  /* best-scoring peers kept when pruning */
#define GS_OPPORTUNISTIC_TICKS 60
#define GS_RETAIN_SCORE_MS 60000      /* a disconnected peer's negative score is kept */
#define GS_MAX_IDS_PER_CONTROL 5000   /* ids in one IHAVE/IWANT we read */
#define GS_MAX_CONTROL 64             /* control entries of each kind per RPC */
#define GS_MAX_PUBLISH 256            /* messages per RPC */

/* Score thresholds (gossipsub v1.1 "Score Thresholds"). */
#define GS_GOSSIP_THRESHOLD (-10.0)
#define GS_PUBLISH_THRESHOLD (-50.0)
#define GS_GRAYLIST_THRESHOLD (-80.0)
#define GS_OPPORTUNISTIC_THRESHOLD 1.0

typedef struct gs_topic_s {
    char *name;            /* NULL = free slot */
    bool subscribed;
    ipvm_p2p_message_fn fn;
    void *ud;
    uint64_t last_pub_ms;  /* for fanout expiry */
} gs_topic_t;

/* A peer's standing in one of our topics (score parameters P1-P4 and mesh state). */
typedef struct gs_tstat_s {
    bool mesh, fanout;
    uint64_t graft_ms;       /* when it joined our mesh (P1) */
    double first;            /* P2: first deliveries (decaying) */
    double invalid;          /* P4: invalid messages (decaying) */
    uint64_t backoff_until;  /* no GRAFT to/from it before this (wall ms) */
} gs_tstat_t;

typedef struct gs_promise_s {
    uint8_t id[64];
    uint8_t len;
    uint64_t deadline_ms;
} gs_promise_t;

struct p2p_gpeer_s {
    p2p_gossip_t *g;
    p2p_gpeer_t *next;
    p2p_peer_t *peer;
    p2p_stream_t *out;                 /* our outbound RPC stream */
    p2p_stream_t *in[GS_MAX_INBOUND];  /* its streams to us */
    bool connected;
    bool outbound;                     /* we dialed the connection (D_out quota) */
    uint64_t disconnected_ms;
    char *subs[GS_MAX_PEER_TOPICS];    /* topics it subscribes to */
    size_t nsubs;
    gs_tstat_t ts[GS_MAX_TOPICS];      /* indexed like g->topics */
    double behaviour;                  /* P7 counter (decaying) */
    int ihave_recv, iwant_asked, iwant_served; /* per heartbeat */
    gs_promise_t promises[GS_MAX_PROMISES];
    size_t npromises;
    uint32_t hb_graft, hb_prune, hb_ihave; /* what the heartbeat sends it (topic bits) */
};

typedef struct gs_entry_s gs_entry_t; /* a cached message */
typedef struct gs_seen_s gs_seen_t;

struct p2p_gossip_s {
    ipvm_p2p_host_t *h;
    gs_topic_t topics[GS_MAX_TOPICS];
    p2p_gpeer_t *peers;
    uint64_t seqno;
    uv_timer_t timer;
    bool timer_open, stopping;
    uint64_t heartbeats;
    uint64_t last_decay_ms;
    /* message cache: GS_MCACHE_LEN windows of entries, newest at windows[cur] */
    p2p_map_t mcache;
    gs_entry_t *windows[GS_MCACHE_LEN];
    int cur;
    /* seen message ids, oldest first */
    p2p_map_t seen;
    gs_seen_t *seen_head, *seen_tail;
};

int p2p_gossip_topic_index(const p2p_gossip_t *g, const char *topic);
bool p2p_gpeer_subscribed(const p2p_gpeer_t *gp, const char *topic);
struct P2p__Pb__Gossip__RPC;
int p2p_gossip_send(p2p_gpeer_t *gp, const struct P2p__Pb__Gossip__RPC *pb, const ipvm_buf_t *raw);
int p2p_gossip_raw_publish(ipvm_buf_t *raw, const uint8_t *msg, size_t n);
/* Handles one RPC from gp; returns non-zero if the stream must stop (graylisted peer). */
int p2p_gossip_handle_rpc(p2p_gpeer_t *gp, const uint8_t *p, size_t n);
void p2p_gossip_heartbeat(p2p_gossip_t *g);
/* Opens our outbound RPC stream to a connected gossipsub peer if it has none. */
void p2p_gossip_open_out(p2p_gossip_t *g, p2p_gpeer_t *gp);
void p2p_gossip_join(p2p_gossip_t *g, int topic);
void p2p_gossip_leave(p2p_gossip_t *g, int topic);
size_t p2p_gossip_fanout_publish(p2p_gossip_t *g, const char *topic, const ipvm_buf_t *raw);
double p2p_gossip_score_of(p2p_gossip_t *g, const p2p_gpeer_t *gp);
/* caches */
bool p2p_gossip_seen(p2p_gossip_t *g, const uint8_t *id, size_t n);
void p2p_gossip_seen_add(p2p_gossip_t *g, const uint8_t *id, size_t n);
IPVM_MUST_CHECK int p2p_gossip_cache_put(p2p_gossip_t *g, const uint8_t *id, size_t n,
                                         const char *topic, const uint8_t *msg, size_t len,
                                         const p2p_gpeer_t *from);
void p2p_gossip_cache_free(p2p_gossip_t *g);
uint64_t p2p_siphash13_vec(const uint8_t *data, size_t len);

#endif
