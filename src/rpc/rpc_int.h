/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the rpc area: the server's connections, calls and subscriptions. Everything here
 * belongs to the loop thread unless a field says otherwise. */
#ifndef IPVM_RPC_INT_H
#define IPVM_RPC_INT_H

#include "ipvm/rpc.h"

#include <assert.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <uv.h>

typedef struct conn_s conn_t;
typedef struct sub_s sub_t;
typedef struct batch_s batch_t;
typedef struct http_s http_t;

/* What lws keeps per connection (per_session_data_size): one of the two is set. */
typedef struct pss_s {
    conn_t *conn; /* a WebSocket client */
    http_t *http; /* a plain HTTP request being answered (http.c) */
} pss_t;

/* One queued outgoing WebSocket message, with LWS_PRE bytes of headroom before data. */
typedef struct outmsg_s {
    struct outmsg_s *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
} outmsg_t;

struct conn_s {
    ipvm_rpc_server_t *server;
    struct lws *wsi;     /* NULL once lws closed the connection */
    int refs;            /* the connection itself (until closed) + one per pending call */
    conn_t *prev, *next; /* server->conns */
    ipvm_buf_t rx;       /* the message being received (fragments joined) */
    bool rx_overflow;    /* the message went over max_message: drop the rest of it */
    size_t rx_dropped;   /* bytes of it dropped so far */
    outmsg_t *head, *tail;
    size_t queued; /* bytes in the queue */
    size_t off;    /* bytes of head already written */
    sub_t *subs;   /* this client's subscriptions (sub->cnext) */
    size_t nsubs;
    bool close_after_drain; /* send the queue, then close with close_status */
    bool close_sent;        /* our close frame is written */
    int close_status;
    char close_reason[96];
    char peer[64];
    uint64_t connected_ms;
};

struct sub_s {
    char id[17];        /* 16 random base62 characters + NUL */
    const char *method; /* the notification method (borrowed from the method table) */
    char *topic;        /* heap */
    conn_t *conn;
    sub_t *cnext;  /* next of the same connection */
    sub_t *hnext;  /* next in the same (method, topic) bucket */
    sub_t *inext;  /* next in the same id bucket */
    uint64_t hash; /* of (method, topic) */
};

/* One received message: a single request or a batch. It owns the memory of its calls and is
 * freed when the last of them is answered. */
struct batch_s {
    conn_t *conn;       /* holds a ref */
    size_t pending;     /* calls not answered yet (+1 while they are being started) */
    size_t answers;     /* responses appended to out */
    bool is_batch;      /* answer with a JSON array */
    ipvm_buf_t out;     /* the response, or "[resp,resp" until the closing bracket */
    ipvm_arena_t arena; /* the parsed message and the calls */
};

struct ipvm_rpc_call_s {
    batch_t *batch;        /* the message it came in (in whose arena the call lives) */
    const ipvm_ipld_t *id; /* the request's id; NULL: absent or null */
    bool has_id;           /* false for a notification, which gets no answer */
    const struct method_s *method;
    bool answered;
};

typedef struct method_s {
    ipvm_rpc_method_t m;
    const char *unsubscribe_of; /* for an unsubscribe method: the subscription method name */
    bool subscription;
} method_t;

/* A publish from another thread, waiting for the loop. */
typedef struct pubmsg_s {
    struct pubmsg_s *next;
    char *method, *topic, *payload;
    size_t len;
    bool as_bytes;
    void (*fn)(ipvm_rpc_server_t *s, void *data); /* instead of a publish: run fn(data) */
    void *data;
} pubmsg_t;

#define SUB_BUCKETS 4096

struct ipvm_rpc_server_s {
    uv_loop_t *loop;
    struct lws_context *ctx; /* set to NULL by lws when fully destroyed (info.pcontext) */
    struct lws_vhost *vhost;
    struct lws_vhost *unix_vhost; /* on opts.socket_path (unixsock.c), or NULL */
    ipvm_rpc_server_opts_t opts;
    char *host, *node_name;
    char *socket_path; /* heap, NULL: no socket */
    bool unix_bound;   /* the file at socket_path is ours: remove it at the end */
    dev_t unix_dev;    /* its device and inode, to tell it from a successor's */
    ino_t unix_ino;
    struct timespec unix_ctime;
    int port;
    method_t *methods;
    size_t nmethods, capmethods;
    conn_t *conns;
    size_t nconns;
    sub_t *by_topic[SUB_BUCKETS];
    sub_t *by_id[SUB_BUCKETS];
    uv_async_t async;         /* wakes the loop for pubq */
    pthread_mutex_t pub_lock; /* guards pubq (any thread) */
    pubmsg_t *pubq, *pubq_tail;
    size_t node_subs;           /* under pub_lock: subscribe_node_events subscriptions (subs.c) */
    _Atomic bool awake;         /* the loop drains pubq before it sleeps: a post need not wake it */
    uv_prepare_t prepare;       /* drains pubq before every poll (server.c on_prepare) */
    uv_timer_t closer;          /* drives the close (server.c on_closer) */
    uint64_t close_deadline_ns; /* clients have until then to answer our close frame */
    bool ctx_destroying;        /* lws_context_destroy was called */
    void (*close_cb)(void *);
    void *close_data;
    bool closing;
    size_t live_conns;   /* conn_t not yet freed (calls in flight keep them) */
    size_t pending_work; /* uv_queue_work requests in flight (health checks) */
    ipvm_rpc_node_info_fn node_info;
    void *node_info_data;
    ipvm_rpc_health_fn health;
    void *health_data;
    uint64_t started_ms;
    /* metrics (NULL when no registry) */
    ipvm_metric_t *m_clients, *m_requests, *m_errors, *m_notes, *m_note_bytes, *m_dropped;
};

/* unixsock.c */
/* Listens on s->socket_path with a vhost like `tcp` (after the stale-file checks). */
int ipvm__rpc_unix_listen(ipvm_rpc_server_t *s, const struct lws_context_creation_info *tcp,
                          ipvm_error_t *err);
/* Removes the socket file if it is still the one this server bound. */
void ipvm__rpc_unix_remove(ipvm_rpc_server_t *s);
/* What is at path: 0 a listening socket, IPVM_ENOENT nothing, IPVM_EINVAL not a socket,
 * IPVM_ECLOSED a socket nobody listens on, IPVM_EACCES not ours to connect to, IPVM_ETOOBIG
 * a path over sun_path, IPVM_EIO anything else. */
int ipvm__rpc_unix_probe(const char *path);
/* The client's error for a failed connect to unix socket `path` (of `url`): why, what next. */
int ipvm__rpc_unix_connect_error(const char *url, const char *path, const char *why,
                                 ipvm_error_t *err);

/* server.c */
int ipvm__rpc_conn_send(conn_t *c, const char *text, size_t len);
void ipvm__rpc_conn_close(conn_t *c, int status, const char *reason);
void ipvm__rpc_conn_unref(conn_t *c);
void ipvm__rpc_dispatch(conn_t *c, const char *text, size_t len);
bool ipvm__rpc_uv_any_closing(uv_loop_t *loop);
/* Runs fn(s, data) on the loop thread, in order with the publishes queued before and after it
 * (any thread). If the server is closing fn still runs (it must free data). */
/* Delivers what is queued now (loop thread). */
void ipvm__rpc_run_queue(ipvm_rpc_server_t *s);
int ipvm__rpc_post(ipvm_rpc_server_t *s, void (*fn)(ipvm_rpc_server_t *s, void *data), void *data);
/* The same for a post no client waits for unless it subscribed to node events: while there is
 * no such subscription it does not wake the loop, it runs at the loop's next wake-up. */
int ipvm__rpc_post_lazy(ipvm_rpc_server_t *s, void (*fn)(ipvm_rpc_server_t *s, void *data),
                        void *data);
/* Marks the loop awake (it will drain the post queue before it sleeps). Loop thread. */
void ipvm__rpc_loop_awake(ipvm_rpc_server_t *s);
/* Counts subscribe_node_events subscriptions (subs.c, loop thread). */
void ipvm__rpc_node_subs_add(ipvm_rpc_server_t *s, int delta);
#define IPVM__RPC_NODE_EVENTS "subscribe_node_events"
const struct method_s *ipvm__rpc_method_find(const ipvm_rpc_server_t *s, const char *name);
/* methods.c */
int ipvm__rpc_node_info_json(ipvm_rpc_server_t *s, ipvm_buf_t *out);
int ipvm__rpc_add_builtin_methods(ipvm_rpc_server_t *s);
/* subs.c */
void ipvm__rpc_sub_remove(ipvm_rpc_server_t *s, sub_t *sub);
void ipvm__rpc_conn_drop_subs(conn_t *c);
sub_t *ipvm__rpc_sub_find(ipvm_rpc_server_t *s, const char *id);
uint64_t ipvm__rpc_hash(const char *a, const char *b);
void ipvm__rpc_random_id(char out[17]);
/* http.c */
int ipvm__rpc_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len);

#endif
