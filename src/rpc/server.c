/* SPDX-License-Identifier: Apache-2.0 */
/* The node's API server: one libwebsockets context on the node's libuv loop (a "foreign" loop
 * in lws terms, so the daemon has exactly one loop), one vhost on host:port serving plain HTTP
 * (http.c) and JSON-RPC over WebSocket (RFC 6455) on the same port, and with rpc.socket a second
 * one on a Unix-domain socket that serves the same (unixsock.c). This file owns the
 * connections, their bounded send queues and the close sequence. */
#include "rpc_int.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAGMENT 65536     /* bytes per WebSocket frame we send */
#define WRITES_PER_TURN 64 /* messages written per writable callback, for fairness */

/* ---- connections ------------------------------------------------------------------------------
 */

static void conn_free_queue(conn_t *c)
{
    while (c->head) {
        outmsg_t *m = c->head;
        c->head = m->next;
        ipvm_free(m);
    }
    c->tail = NULL;
    c->queued = 0;
    c->off = 0;
}

void ipvm__rpc_conn_unref(conn_t *c)
{
    assert(c->refs > 0);
    if (--c->refs > 0)
        return;
    assert(c->wsi == NULL); /* the connection's own ref is dropped at LWS_CALLBACK_CLOSED */
    conn_free_queue(c);
    ipvm_buf_dispose(&c->rx);
    c->server->live_conns--;
    ipvm_free(c);
}

void ipvm__rpc_conn_close(conn_t *c, int status, const char *reason)
{
    if (c->wsi == NULL || c->close_after_drain)
        return;
    c->close_after_drain = true;
    c->close_status = status;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

int ipvm__rpc_conn_send(conn_t *c, const char *text, size_t len)
{
    ipvm_rpc_server_t *s = c->server;
    if (c->wsi == NULL || c->close_after_drain)
        return IPVM_ECLOSED;
    if (c->queued + len > s->opts.client_queue_bytes) {
        /* A client that does not read what it asked for is cut off rather than letting its
         * queue grow without bound; it can reconnect and replay (receipts are memoized). */
        ipvm_log(IPVM_LOG_WARN, "rpc", "%s: %zu bytes queued and not read: disconnecting", c->peer,
                 c->queued);
        ipvm_metric_inc(s->m_dropped, 1);
        conn_free_queue(c);
        ipvm__rpc_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "client too slow");
        return IPVM_ETOOBIG;
    }
    outmsg_t *m = ipvm_malloc(sizeof *m + LWS_PRE + len);
    if (m == NULL)
        return IPVM_ENOMEM;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (c->head == NULL && len <= FRAGMENT && !lws_partial_buffered(c->wsi)) {
        /* Nothing queued and nothing of an earlier write left in lws: written now,
         * without the writable cycle (POLLOUT on, a loop turn, POLLOUT off) that costs more
         * than the send. A short write (kernel buffer full) is kept by lws and finished
         * before any later frame; while it is, the next messages queue here, where
         * rpc.client_queue bounds them. */
        int n = lws_write(c->wsi, m->buf + LWS_PRE, len, LWS_WRITE_TEXT);
        ipvm_free(m);
        if (n < (int)len) {
            ipvm__rpc_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed");
            return IPVM_ECLOSED;
        }
        return 0;
    }
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* Writes queued messages until the socket would block. Returns -1 to have lws close. */
static int conn_writable(conn_t *c)
{
    for (int i = 0; c->head && i < WRITES_PER_TURN; i++) {
        outmsg_t *m = c->head;
        size_t chunk = m->len - c->off < FRAGMENT ? m->len - c->off : FRAGMENT;
        bool last = c->off + chunk == m->len;
        int flags = c->off == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
        if (!last)
            flags |= LWS_WRITE_NO_FIN;
        /* lws writes the frame header into the LWS_PRE bytes before the payload; for a later
         * fragment those bytes are already-sent payload, which may be overwritten. */
        int n = lws_write(c->wsi, m->buf + LWS_PRE + c->off, chunk, (enum lws_write_protocol)flags);
        if (n < (int)chunk)
            return -1;
        c->off += chunk;
        if (last) {
            c->head = m->next;
            if (c->head == NULL)
                c->tail = NULL;
            c->queued -= m->len;
            c->off = 0;
            ipvm_free(m);
        }
        if (lws_partial_buffered(c->wsi)) /* a short write: the socket is full */
            break;
    }
    if (c->head) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_after_drain && !c->close_sent) {
        /* lws 4.1 drops the connection without a close frame when a writable callback
         * returns -1 (service.c marks the socket unusable); from a timer callback it closes
         * politely with the reason set here (ws role close_via_role_protocol). */
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_status,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        c->close_sent = true;
        lws_set_timer_usecs(c->wsi, 1);
    }
    return 0;
}

static conn_t *conn_open(ipvm_rpc_server_t *s, struct lws *wsi)
{
    conn_t *c = ipvm_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->server = s;
    c->wsi = wsi;
    c->refs = 1;
    s->live_conns++;
    c->connected_ms = ipvm_wall_ms();
    char ip[48] = "?";
    lws_get_peer_simple(wsi, ip, sizeof ip);
    snprintf(c->peer, sizeof c->peer, "%s", ip);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    ipvm_metric_set(s->m_clients, (int64_t)s->nconns);
    return c;
}

static void conn_closed(conn_t *c)
{
    ipvm_rpc_server_t *s = c->server;
    ipvm__rpc_conn_drop_subs(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    ipvm_metric_set(s->m_clients, (int64_t)s->nconns);
    c->wsi = NULL;
    conn_free_queue(c);
    ipvm__rpc_conn_unref(c);
}

/* Joins fragments; dispatches a whole message; refuses one over max_message. The rest of an
 * oversized message is read and dropped before the close, so that the client sees the error
 * and a clean close frame rather than a reset (unread data makes the kernel send RST). */
static int conn_receive(conn_t *c, struct lws *wsi, const void *in, size_t len)
{
    ipvm_rpc_server_t *s = c->server;
    bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (!c->rx_overflow && c->rx.len + len > s->opts.max_message) {
        c->rx_overflow = true;
        c->rx_dropped = c->rx.len;
        ipvm_buf_dispose(&c->rx);
        ipvm_buf_t out = IPVM_BUF_INIT;
        char msg[128];
        snprintf(msg, sizeof msg, "request is over the limit of %zu bytes (rpc.max_message)",
                 s->opts.max_message);
        if (ipvm_rpc_format_error(&out, NULL, IPVM_RPC_OVERSIZED_REQUEST, msg) == 0)
            (void)ipvm__rpc_conn_send(c, (const char *)out.data, out.len);
        ipvm_buf_dispose(&out);
        ipvm_metric_inc(s->m_requests, 1);
        ipvm_metric_inc(s->m_errors, 1);
    }
    if (c->close_sent)
        return 0; /* what comes after our close frame is not answered */
    if (c->rx_overflow) {
        c->rx_dropped += len;
        /* a message that never ends is cut off after 4 times the limit */
        if (final || c->rx_dropped > 4 * s->opts.max_message)
            ipvm__rpc_conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        return 0;
    }
    if (ipvm_buf_append(&c->rx, in, len) != 0) {
        ipvm__rpc_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return 0;
    }
    if (!final)
        return 0;
    ipvm_buf_t msg = c->rx;
    ipvm_buf_init(&c->rx);
    ipvm__rpc_dispatch(c, msg.data ? (const char *)msg.data : "", msg.len);
    ipvm_buf_dispose(&msg);
    return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    ipvm_rpc_server_t *s = ctx ? lws_context_user(ctx) : NULL;
    pss_t *pss = user;
    if (s)
        ipvm__rpc_loop_awake(s); /* posts from now on need no wake-up (pub_enqueue) */
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (s->closing || s->nconns >= s->opts.max_clients) {
            ipvm_log(IPVM_LOG_WARN, "rpc", "refusing a WebSocket client: %s",
                     s->closing ? "the node is shutting down" : "rpc.max_clients reached");
            return 1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        pss->conn = conn_open(s, wsi);
        return pss->conn ? 0 : -1;
    case LWS_CALLBACK_RECEIVE:
        if (pss->conn == NULL)
            return -1;
        return conn_receive(pss->conn, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (pss->conn == NULL)
            return -1;
        return conn_writable(pss->conn);
    case LWS_CALLBACK_TIMER: /* conn_writable's polite close */
        return pss->conn && pss->conn->close_sent ? -1 : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            conn_closed(pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        break;
    }
    return ipvm__rpc_http_callback(wsi, reason, user, in, len);
}

/* Protocol 0 handles both HTTP and WebSocket connections that name no subprotocol (what
 * Homestar's clients do). */
static const struct lws_protocols protocols[] = {
    {"ipvm", ws_callback, sizeof(pss_t), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- logging -------------------------------------------------------------------------------- */

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    ipvm_log((level & LLL_ERR) ? IPVM_LOG_WARN : IPVM_LOG_DEBUG, "lws", "%.*s", (int)n, line);
}

/* ---- cross-thread publishes ----------------------------------------------------------------- */

static void pub_free(pubmsg_t *p)
{
    ipvm_free(p->method);
    ipvm_free(p->topic);
    ipvm_free(p->payload);
    ipvm_free(p);
}

/* Takes the queue, or, when it is empty, says whether the loop may now sleep (asleep: the
 * next post must wake it; under the same lock as the posts' look at it). */
static pubmsg_t *queue_take(ipvm_rpc_server_t *s, bool asleep)
{
    pthread_mutex_lock(&s->pub_lock);
    pubmsg_t *q = s->pubq;
    s->pubq = s->pubq_tail = NULL;
    if (q == NULL && asleep)
        atomic_store(&s->awake, false);
    pthread_mutex_unlock(&s->pub_lock);
    return q;
}

static void queue_run(ipvm_rpc_server_t *s, bool asleep)
{
    pubmsg_t *q;
    /* every item, also those posted while the earlier ones were delivered: no wake-up for
     * them (the loop is awake, a post sends none) */
    while ((q = queue_take(s, asleep)) != NULL) {
        while (q) {
            pubmsg_t *next = q->next;
            if (q->fn)
                q->fn(s, q->data);
            else if (!s->closing)
                ipvm_rpc_server_publish(s, q->method, q->topic, q->payload, q->len, q->as_bytes);
            pub_free(q);
            q = next;
        }
    }
}

void ipvm__rpc_run_queue(ipvm_rpc_server_t *s)
{
    queue_run(s, false);
}

void ipvm__rpc_loop_awake(ipvm_rpc_server_t *s)
{
    if (!atomic_load_explicit(&s->awake, memory_order_relaxed))
        atomic_store(&s->awake, true);
}

static void on_async(uv_async_t *h)
{
    ipvm_rpc_server_t *s = h->data;
    ipvm__rpc_loop_awake(s);
    queue_run(s, false);
}

/* Last thing before every poll: what was posted while the loop was awake (which sent no
 * wake-up), then asleep until the next post. */
static void on_prepare(uv_prepare_t *h)
{
    queue_run(h->data, true);
}

/* lazy: a post no one waits for (a dashboard-only event with no node-event subscriber): it
 * does not wake a sleeping loop; it is delivered at the loop's next wake-up, whatever the
 * cause, and before any `workflows` answer (ipvm__rpc_run_queue). */
static void pub_enqueue(ipvm_rpc_server_t *s, pubmsg_t *p, bool lazy)
{
    pthread_mutex_lock(&s->pub_lock);
    if (s->pubq_tail)
        s->pubq_tail->next = p;
    else
        s->pubq = p;
    s->pubq_tail = p;
    /* an awake loop drains the queue before it sleeps again (on_prepare): no wake-up then */
    bool wake = !atomic_load(&s->awake) && !(lazy && s->node_subs == 0);
    pthread_mutex_unlock(&s->pub_lock);
    if (wake)
        uv_async_send(&s->async);
}

int ipvm__rpc_post(ipvm_rpc_server_t *s, void (*fn)(ipvm_rpc_server_t *s, void *data), void *data)
{
    pubmsg_t *p = ipvm_calloc(1, sizeof *p);
    if (p == NULL)
        return IPVM_ENOMEM;
    p->fn = fn;
    p->data = data;
    pub_enqueue(s, p, false);
    return 0;
}

int ipvm__rpc_post_lazy(ipvm_rpc_server_t *s, void (*fn)(ipvm_rpc_server_t *s, void *data),
                        void *data)
{
    pubmsg_t *p = ipvm_calloc(1, sizeof *p);
    if (p == NULL)
        return IPVM_ENOMEM;
    p->fn = fn;
    p->data = data;
    pub_enqueue(s, p, true);
    return 0;
}

void ipvm__rpc_node_subs_add(ipvm_rpc_server_t *s, int delta)
{
    pthread_mutex_lock(&s->pub_lock);
    s->node_subs = (size_t)((ptrdiff_t)s->node_subs + delta);
    pthread_mutex_unlock(&s->pub_lock);
}

int ipvm_rpc_server_publish_async(ipvm_rpc_server_t *s, const char *method, const char *topic,
                                  const char *payload, size_t len, bool as_bytes)
{
    pubmsg_t *p = ipvm_calloc(1, sizeof *p);
    if (p == NULL)
        return IPVM_ENOMEM;
    p->method = ipvm_strdup(method);
    p->topic = ipvm_strdup(topic ? topic : "");
    p->payload = ipvm_malloc(len + 1);
    if (p->method == NULL || p->topic == NULL || p->payload == NULL) {
        pub_free(p);
        return IPVM_ENOMEM;
    }
    memcpy(p->payload, payload, len);
    p->payload[len] = '\0';
    p->len = len;
    p->as_bytes = as_bytes;
    pub_enqueue(s, p, false);
    return 0;
}

/* ---- the server ----------------------------------------------------------------------------- */

static void register_metrics(ipvm_rpc_server_t *s)
{
    ipvm_metrics_t *m = s->opts.metrics;
    if (m == NULL)
        return;
    s->m_clients = ipvm_metrics_add(m, IPVM_METRIC_GAUGE, "rpc_clients",
                                    "WebSocket clients connected now", NULL, 0);
    s->m_requests = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "rpc_requests_total",
                                     "JSON-RPC requests received", NULL, 0);
    s->m_errors = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "rpc_errors_total",
                                   "JSON-RPC requests answered with an error", NULL, 0);
    s->m_notes = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "rpc_notifications_total",
                                  "Subscription notifications queued to clients", NULL, 0);
    s->m_note_bytes = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "rpc_notification_bytes_total",
                                       "Bytes of subscription notifications queued", NULL, 0);
    s->m_dropped = ipvm_metrics_add(m, IPVM_METRIC_COUNTER, "rpc_slow_clients_dropped_total",
                                    "Clients disconnected because they did not read", NULL, 0);
}

static void apply_defaults(ipvm_rpc_server_opts_t *o)
{
    if (o->max_clients == 0)
        o->max_clients = 1024;
    if (o->max_message == 0)
        o->max_message = 8u << 20;
    if (o->client_queue_bytes == 0)
        o->client_queue_bytes = 64u << 20;
    if (o->idle_timeout_s == 0)
        o->idle_timeout_s = 120;
    if (o->handshake_timeout_s == 0)
        o->handshake_timeout_s = 10;
    if (o->max_subscriptions == 0)
        o->max_subscriptions = 4096;
    if (o->socket_mode == 0)
        o->socket_mode = 0600;
}

static int server_alloc(uv_loop_t *loop, const ipvm_rpc_server_opts_t *opts,
                        ipvm_rpc_server_t **out)
{
    ipvm_rpc_server_t *s = ipvm_calloc(1, sizeof *s);
    if (s == NULL)
        return IPVM_ENOMEM;
    s->loop = loop;
    if (opts)
        s->opts = *opts;
    apply_defaults(&s->opts);
    s->host = ipvm_strdup(s->opts.host ? s->opts.host : "127.0.0.1");
    s->node_name = ipvm_strdup(s->opts.node_name ? s->opts.node_name : "ipvm");
    bool want_socket = s->opts.socket_path && s->opts.socket_path[0];
    s->socket_path = want_socket ? ipvm_strdup(s->opts.socket_path) : NULL;
    if (s->host == NULL || s->node_name == NULL || (want_socket && s->socket_path == NULL)) {
        ipvm_free(s->host);
        ipvm_free(s->node_name);
        ipvm_free(s->socket_path);
        ipvm_free(s);
        return IPVM_ENOMEM;
    }
    s->opts.host = s->host;
    s->opts.node_name = s->node_name;
    s->opts.socket_path = s->socket_path;
    s->started_ms = ipvm_wall_ms();
    pthread_mutex_init(&s->pub_lock, NULL);
    register_metrics(s);
    *out = s;
    return 0;
}

static void server_free(ipvm_rpc_server_t *s)
{
    while (s->pubq) { /* posted closures still run, so that they free what they hold */
        pubmsg_t *n = s->pubq->next;
        if (s->pubq->fn)
            s->pubq->fn(s, s->pubq->data);
        pub_free(s->pubq);
        s->pubq = n;
    }
    pthread_mutex_destroy(&s->pub_lock);
    ipvm__rpc_unix_remove(s); /* lws closed its listen socket: the file goes too */
    ipvm_free(s->socket_path);
    ipvm_free(s->methods);
    ipvm_free(s->host);
    ipvm_free(s->node_name);
    ipvm_free(s);
}

static void on_closer(uv_timer_t *h);

static const lws_retry_bo_t *retry_policy(ipvm_rpc_server_t *s, lws_retry_bo_t *r)
{
    memset(r, 0, sizeof *r);
    unsigned ping = s->opts.idle_timeout_s / 2 ? s->opts.idle_timeout_s / 2 : 1;
    r->secs_since_valid_ping = (uint16_t)(ping > 65000 ? 65000 : ping);
    r->secs_since_valid_hangup = (uint16_t)(r->secs_since_valid_ping + (ping ? ping : 1));
    return r;
}

/* Why host:port cannot be bound, for the error message: lws only logs its bind's errno. Binds a
 * socket of our own (SO_REUSEADDR, as lws sets) and says what the kernel said; "" when that
 * bind succeeds (the holder went away in between) or the address does not resolve. */
static void bind_failure_reason(const char *host, int port, char *out, size_t size)
{
    snprintf(out, size, "%s", "");
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, service, &hints, &ai) != 0 || ai == NULL)
        return;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
            snprintf(out, size, "%s",
                     errno == EADDRINUSE ? "address already in use" : strerror(errno));
        close(fd);
    }
    freeaddrinfo(ai);
}

/* The error for a listen socket lws could not open: the address, why, and what to do. */
static int listen_error(const ipvm_rpc_server_t *s, ipvm_error_t *err)
{
    char why[128];
    bind_failure_reason(s->host, s->opts.port, why, sizeof why);
    const char *fmt = strchr(s->host, ':') ? "[%s]:%d" : "%s:%d";
    char addr[300];
    snprintf(addr, sizeof addr, fmt, s->host, s->opts.port);
    if (strcmp(why, "address already in use") == 0)
        return ipvm_error_set(
            err, IPVM_EIO, IPVM_NO_OFFSET,
            "cannot listen on %s: address already in use (is another node "
            "running on it? check with 'ipvm node status --data-dir DIR'; or pick "
            "another port with --port N, rpc.port in ipvm.conf or IPVM_RPC_PORT; "
            "0 picks a free one)",
            addr);
    return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET,
                          "cannot listen on %s%s%s (pick another address with --host/--port, "
                          "rpc.host/rpc.port in ipvm.conf or IPVM_RPC_HOST/IPVM_RPC_PORT)",
                          addr, why[0] ? ": " : "", why);
}

int ipvm_rpc_server_new(void *loop_, const ipvm_rpc_server_opts_t *opts, ipvm_rpc_server_t **out,
                        ipvm_error_t *err)
{
    uv_loop_t *loop = loop_;
    IPVM_MISUSE_IF(loop == NULL || out == NULL);
    if (sodium_init() < 0)
        return ipvm_error_set(err, IPVM_ECRYPTO, IPVM_NO_OFFSET, "libsodium failed to start");
    ipvm_rpc_server_t *s;
    int rc = server_alloc(loop, opts, &s);
    if (rc)
        return rc;
    if ((rc = ipvm__rpc_add_builtin_methods(s)) != 0) {
        server_free(s);
        return rc;
    }
    ipvm_log_level_t lvl = ipvm_log_get_level();
    lws_set_log_level(LLL_ERR | (lvl >= IPVM_LOG_DEBUG ? LLL_WARN | LLL_NOTICE : 0), lws_log);

    static lws_retry_bo_t retry; /* lws keeps the pointer; one policy per process */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign[1] = {loop};
    info.foreign_loops = foreign;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(s->host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.port = s->opts.port;
    info.iface = s->host;
    info.protocols = protocols;
    info.user = s;
    info.pcontext = &s->ctx;
    info.timeout_secs = s->opts.handshake_timeout_s;
    info.keepalive_timeout = (int)s->opts.handshake_timeout_s;
    info.retry_and_idle_policy = retry_policy(s, &retry);
    info.fd_limit_per_thread = (unsigned)(s->opts.max_clients + 64);
    info.server_string = "ipvm";
    info.count_threads = 1;
    /* before lws, so that a failed start closes them with the rest (on_closer) */
    uv_async_init(loop, &s->async, on_async);
    s->async.data = s;
    uv_prepare_init(loop, &s->prepare);
    s->prepare.data = s;
    uv_unref((uv_handle_t *)&s->prepare); /* it never keeps the loop alive */
    s->ctx = lws_create_context(&info);
    s->vhost = s->ctx ? lws_get_vhost_by_name(s->ctx, "default") : NULL;
    if (s->vhost == NULL) {
        /* With a foreign libuv loop, lws 4.1 returns the context even when the default vhost
         * failed (its listen socket could not be bound: FAIL_UPON_UNABLE_TO_BIND), after it
         * began destroying it itself (context.c fail_clean_pipes, fatal_exit_defer): its handles
         * are closing on our loop and their callbacks still use the context. So neither s nor
         * the context is freed here: on_closer finishes lws's destroy (its second phase) and
         * frees s once the loop has run, as for a normal close. The caller's loop must run. */
        rc = listen_error(s, err);
        s->closing = true;
        s->ctx_destroying = true; /* lws_create_context's own lws_context_destroy (or no ctx) */
        uv_timer_init(loop, &s->closer);
        s->closer.data = s;
        uv_timer_start(&s->closer, on_closer, 0, 2);
        return rc;
    }
    s->port = lws_get_vhost_listen_port(s->vhost);
    if (s->socket_path && (rc = ipvm__rpc_unix_listen(s, &info, err)) != 0) {
        /* the context and its TCP vhost are whole: closed the normal way, with no callback */
        s->closing = true;
        s->close_deadline_ns = 0;
        uv_timer_init(loop, &s->closer);
        s->closer.data = s;
        uv_timer_start(&s->closer, on_closer, 0, 2);
        return rc;
    }
    uv_prepare_start(&s->prepare, on_prepare);
    *out = s;
    return 0;
}

int ipvm_rpc_server_port(const ipvm_rpc_server_t *s)
{
    return s->port;
}

size_t ipvm_rpc_server_clients(const ipvm_rpc_server_t *s)
{
    return s->nconns;
}

static void on_async_closed(uv_handle_t *h)
{
    ipvm_rpc_server_t *s = h->data;
    /* Everything else was closed before the async handle. */
    void (*cb)(void *) = s->close_cb;
    void *data = s->close_data;
    server_free(s);
    if (cb)
        cb(data);
}

static void on_prepare_closed(uv_handle_t *h)
{
    ipvm_rpc_server_t *s = h->data;
    uv_close((uv_handle_t *)&s->async, on_async_closed);
}

static void on_closer_closed(uv_handle_t *h)
{
    ipvm_rpc_server_t *s = h->data;
    uv_prepare_stop(&s->prepare);
    uv_close((uv_handle_t *)&s->prepare, on_prepare_closed);
}

static void walk_closing(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h))
        *(bool *)arg = true;
}

bool ipvm__rpc_uv_any_closing(uv_loop_t *loop)
{
    bool any = false;
    uv_walk(loop, walk_closing, &any);
    return any;
}

/* Runs every 2 ms during the close. First the clients get a close frame (1001 going away) and
 * up to a second to answer it; then lws is destroyed. With a foreign loop, lws 4.1 closes its
 * connections and then its own timer and idle handles, but does not finish by itself
 * (lib/event-libs/libuv: the foreign case skips lws_context_destroy2): once no handle of the
 * loop is still closing, a second lws_context_destroy() frees the context and sets s->ctx to
 * NULL (info.pcontext). Last, the calls still being answered and the thread-pool work. */
static void on_closer(uv_timer_t *h)
{
    ipvm_rpc_server_t *s = h->data;
    if (!s->ctx_destroying) {
        if (s->nconns > 0 && ipvm_now_ns() < s->close_deadline_ns)
            return;
        s->ctx_destroying = true;
        lws_context_destroy(s->ctx);
        return;
    }
    if (s->ctx != NULL) {
        if (!ipvm__rpc_uv_any_closing(s->loop))
            lws_context_destroy(s->ctx);
        return;
    }
    if (s->live_conns > 0 || s->pending_work > 0)
        return;
    uv_timer_stop(h);
    uv_close((uv_handle_t *)h, on_closer_closed);
}

void ipvm_rpc_server_close(ipvm_rpc_server_t *s, void (*cb)(void *data), void *data)
{
    if (s->closing)
        return;
    s->closing = true;
    s->close_cb = cb;
    s->close_data = data;
    for (conn_t *c = s->conns; c; c = c->next)
        ipvm__rpc_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "the node is shutting down");
    s->close_deadline_ns = ipvm_now_ns() + 1000000000u;
    uv_timer_init(s->loop, &s->closer);
    s->closer.data = s;
    uv_timer_start(&s->closer, on_closer, 0, 2);
}

void ipvm_rpc_server_set_node_info(ipvm_rpc_server_t *s, ipvm_rpc_node_info_fn fn, void *data)
{
    s->node_info = fn;
    s->node_info_data = data;
}

void ipvm_rpc_server_set_health(ipvm_rpc_server_t *s, ipvm_rpc_health_fn fn, void *data)
{
    s->health = fn;
    s->health_data = data;
}
