/* SPDX-License-Identifier: Apache-2.0 */
/* A blocking JSON-RPC 2.0 client over WebSocket for `ipvm run --node`, `ipvm node status`, the
 * tests and the benchmark: libwebsockets as the WebSocket client, on a private libuv loop that
 * the calls run until their answer (or a timeout) arrives. */
#include "rpc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define CLIENT_MAX_MESSAGE (512u << 20)

/* A received message: its text is the receive buffer it was assembled in (moved, not copied,
 * and handed on the same way by ipvm_rpc_client_take); what it is was found once, on arrival
 * (msg_kind), so that no wait scans it again. */
typedef struct inmsg_s {
    struct inmsg_s *next;
    int kind;        /* msg_kind's: 1 a response (id), 0 a notification, -1 neither */
    uint64_t id;     /* a response's */
    ipvm_buf_t text; /* NUL-terminated, never without memory */
} inmsg_t;

/* The private loop and lws context, shared by the clients connected with
 * ipvm_rpc_client_connect_also (one thread runs them all); freed with the last of them. */
typedef struct {
    uv_loop_t loop;
    uv_timer_t timer;
    bool timed_out;
    struct lws_context *ctx; /* NULL once lws finished destroying it */
    unsigned refs;
} hub_t;

struct ipvm_rpc_client_s {
    hub_t *hub;
    struct lws *wsi; /* NULL until established and after close */
    bool established, closed;
    char why[256];         /* why it closed or failed */
    unsigned close_code;   /* the node's WebSocket close code (1009: message too large), or 0 */
    size_t sent_len;       /* bytes of the last message sent */
    outmsg_t *head, *tail; /* to send */
    size_t off;
    ipvm_buf_t tx;               /* LWS_PRE bytes, then the request being sent (reused) */
    ipvm_buf_t rx;               /* the message arriving */
    inmsg_t *inbox, *inbox_tail; /* received, not yet taken */
    inmsg_t *spare;              /* a taken message's node, for the next one */
    uint64_t next_id;
    char host[300], path[512];
    int port;
    char unix_path[512]; /* unix:// URL: the socket file ("" for ws://) */
    char address[520];   /* what lws connects to: host, or "+" and the socket file */
};

static int msg_kind(const char *text, size_t len, uint64_t *id);

static size_t skip_ws(const char *s, size_t i, size_t n);
static size_t skip_value(const char *s, size_t i, size_t n);

/* Moves `text` (no copy; it is left empty) to the end of c's inbox. */
static int inbox_push(ipvm_rpc_client_t *c, ipvm_buf_t *text)
{
    inmsg_t *m = c->spare;
    if (m == NULL && (m = ipvm_malloc(sizeof *m)) == NULL)
        return IPVM_ENOMEM;
    if (text->data == NULL && ipvm_buf_reserve(text, 1) != 0) { /* an empty message */
        c->spare = m;
        return IPVM_ENOMEM;
    }
    c->spare = NULL;
    m->next = NULL;
    m->text = *text;
    *text = (ipvm_buf_t)IPVM_BUF_INIT;
    m->id = 0;
    m->kind = msg_kind((const char *)m->text.data, m->text.len, &m->id);
    if (c->inbox_tail)
        c->inbox_tail->next = m;
    else
        c->inbox = m;
    c->inbox_tail = m;
    return 0;
}

/* The answer to a batch (JSON-RPC 2.0 section 6: one array of response objects) in c->rx:
 * with push, each member goes to the inbox as if it had come alone, copied out of the array.
 * Returns the number of members, or -1 when the scan cannot read the array as that (then it
 * goes to the inbox whole, a message of neither kind), or IPVM_ENOMEM. */
static int batch_scan(ipvm_rpc_client_t *c, bool push)
{
    const char *s = (const char *)c->rx.data;
    size_t n = c->rx.len, i = skip_ws(s, skip_ws(s, 0, n) + 1, n);
    int count = 0;
    while (i < n && s[i] == '{') {
        size_t e = skip_value(s, i, n);
        if (e == 0)
            return -1;
        if (push) {
            ipvm_buf_t t = IPVM_BUF_INIT;
            int rc = ipvm_buf_append(&t, s + i, e - i);
            if (rc == 0 && (rc = inbox_push(c, &t)) != 0)
                ipvm_buf_dispose(&t);
            if (rc)
                return rc;
        }
        count++;
        i = skip_ws(s, e, n);
        if (i < n && s[i] == ']')
            return skip_ws(s, i + 1, n) == n ? count : -1;
        if (i >= n || s[i] != ',')
            return -1;
        i = skip_ws(s, i + 1, n);
    }
    return -1;
}

/* Moves the message assembled in c->rx (no copy) to the end of c's inbox; a batch's answer
 * is split into its members first (their copies queued, c->rx's memory kept for the next). */
static int inbox_add(ipvm_rpc_client_t *c)
{
    const char *s = (const char *)c->rx.data;
    size_t i = s ? skip_ws(s, 0, c->rx.len) : 0;
    if (s == NULL || i >= c->rx.len || s[i] != '[' || batch_scan(c, false) <= 0)
        return inbox_push(c, &c->rx);
    int rc = batch_scan(c, true);
    ipvm_buf_clear(&c->rx);
    if (c->rx.cap > 65536)
        ipvm_buf_dispose(&c->rx);
    return rc < 0 ? rc : 0;
}

/* Frees a taken message (its text already handed on, or not), keeping one node for reuse. */
static void inmsg_done(ipvm_rpc_client_t *c, inmsg_t *m)
{
    ipvm_buf_dispose(&m->text);
    if (c->spare == NULL)
        c->spare = m;
    else
        ipvm_free(m);
}

/* Hands a taken message's text to the caller's msg, no copy; msg's old memory receives the next
 * message (or is freed when a message is arriving or it is large). */
static void hand_over(ipvm_rpc_client_t *c, inmsg_t *m, ipvm_buf_t *msg)
{
    if (c->rx.data == NULL && msg->data != NULL && msg->cap <= 65536) {
        c->rx = *msg; /* the caller's old memory receives the next message: no allocation */
        ipvm_buf_clear(&c->rx);
    } else {
        ipvm_buf_dispose(msg);
    }
    *msg = m->text;
    m->text = (ipvm_buf_t)IPVM_BUF_INIT;
    inmsg_done(c, m);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    ipvm_rpc_client_t *c = lws_get_opaque_user_data(wsi);
    if (c == NULL)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->wsi = wsi;
        c->established = true;
        if (c->head)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        snprintf(c->why, sizeof c->why, "%s", in ? (const char *)in : "connection failed");
        c->closed = true;
        c->wsi = NULL;
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *p = in;
            c->close_code = (unsigned)(p[0] << 8 | p[1]);
            snprintf(c->why, sizeof c->why, "the node closed the connection (%u%s%.*s)",
                     (unsigned)(p[0] << 8 | p[1]), len > 2 ? ": " : "", (int)(len - 2),
                     (const char *)p + 2);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c->why[0])
            snprintf(c->why, sizeof c->why, "the node closed the connection");
        c->closed = true;
        c->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (c->rx.len + len > CLIENT_MAX_MESSAGE || ipvm_buf_append(&c->rx, in, len) != 0) {
            snprintf(c->why, sizeof c->why, "message from the node too large");
            return -1;
        }
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
            return 0;
        return inbox_add(c) == 0 ? 0 : -1;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        while (c->head) {
            outmsg_t *m = c->head;
            size_t chunk = m->len - c->off < 65536 ? m->len - c->off : 65536;
            bool last = c->off + chunk == m->len;
            int flags =
                (c->off ? LWS_WRITE_CONTINUATION : LWS_WRITE_TEXT) | (last ? 0 : LWS_WRITE_NO_FIN);
            if (lws_write(wsi, m->buf + LWS_PRE + c->off, chunk, (enum lws_write_protocol)flags) <
                (int)chunk)
                return -1;
            c->off += chunk;
            if (last) {
                c->off = 0;
                c->head = m->next;
                if (c->head == NULL)
                    c->tail = NULL;
                ipvm_free(m);
            }
            if (lws_partial_buffered(wsi)) /* a short write: the socket is full */
                break;
        }
        if (c->head)
            lws_callback_on_writable(wsi);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols client_protocols[] = {
    {"ipvm-client", client_cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_timer(uv_timer_t *t)
{
    hub_t *h = t->data;
    h->timed_out = true;
}

/* Runs the shared loop until done(c) or the timeout. Returns 0, IPVM_ETIMEDOUT or
 * IPVM_ECLOSED. What arrives for the other clients of the loop meanwhile waits in their
 * inboxes. */
static int run_until(ipvm_rpc_client_t *c, int timeout_ms, bool (*done)(ipvm_rpc_client_t *))
{
    hub_t *h = c->hub;
    h->timed_out = false;
    if (timeout_ms > 0)
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    while (!done(c) && !h->timed_out && !c->closed)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_timer_stop(&h->timer);
    if (done(c))
        return 0;
    return c->closed ? IPVM_ECLOSED : IPVM_ETIMEDOUT;
}

static bool is_established(ipvm_rpc_client_t *c)
{
    return c->established;
}

/* "unix:///path/to/socket": the node's rpc.socket; the WebSocket path is "/". */
static int parse_unix_url(ipvm_rpc_client_t *c, const char *url, ipvm_error_t *err)
{
    const char *path = url + 7;
    struct sockaddr_un sa;
    if (*path == '\0')
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "'%s': no socket path (e.g. unix:///run/user/1000/ipvm.sock)", url);
    if (strlen(path) >= sizeof sa.sun_path)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "'%s': the socket path is %zu bytes, over the %zu a socket address "
                              "holds; use a shorter path (a symbolic link to its directory)",
                              url, strlen(path), sizeof sa.sun_path - 1);
    snprintf(c->unix_path, sizeof c->unix_path, "%s", path);
    /* compat: lws 4.1 client connect3.c - an address starting with '+' is an AF_UNIX path */
    snprintf(c->address, sizeof c->address, "+%s", path);
    snprintf(c->host, sizeof c->host, "localhost");
    snprintf(c->path, sizeof c->path, "/");
    c->port = 0;
    return 0;
}

static int parse_url(ipvm_rpc_client_t *c, const char *url, ipvm_error_t *err)
{
    const char *p = url;
    if (strncmp(p, "unix://", 7) == 0)
        return parse_unix_url(c, url, err);
    if (strncmp(p, "ws://", 5) == 0)
        p += 5;
    else if (strstr(p, "://") != NULL)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "'%s': only ws:// and unix:// URLs are supported (e.g. "
                              "ws://127.0.0.1:1337, unix:///run/user/1000/ipvm.sock)",
                              url);
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    char hostport[300];
    if (hl == 0 || hl >= sizeof hostport)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "'%s': no host in the URL", url);
    memcpy(hostport, p, hl);
    hostport[hl] = '\0';
    char *colon = strrchr(hostport, ':');
    c->port = 1337;
    if (colon && strchr(hostport, ']') < colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port <= 0 || port > 65535)
            return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "'%s': bad port", url);
        c->port = (int)port;
        *colon = '\0';
    }
    char *h = hostport;
    if (*h == '[') { /* [::1] */
        h++;
        h[strcspn(h, "]")] = '\0';
    }
    snprintf(c->host, sizeof c->host, "%s", h);
    snprintf(c->address, sizeof c->address, "%s", h);
    snprintf(c->path, sizeof c->path, "%s", slash ? slash : "/");
    return 0;
}

static void hub_release(hub_t *h)
{
    if (--h->refs > 0)
        return;
    if (h->ctx) {
        /* the two-step teardown of lws 4.1 on a foreign loop (see server.c on_closer) */
        lws_context_destroy(h->ctx);
        for (int i = 0; h->ctx && i < 1000000; i++) {
            uv_run(&h->loop, UV_RUN_NOWAIT);
            if (h->ctx && !ipvm__rpc_uv_any_closing(&h->loop))
                lws_context_destroy(h->ctx);
        }
    }
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&h->loop);
    ipvm_free(h);
}

static void client_destroy(ipvm_rpc_client_t *c)
{
    if (c->wsi && c->hub->refs > 1) {
        /* the loop stays for the other clients: only this connection goes, at the loop's
         * next turn, and its callbacks no longer find c */
        lws_set_opaque_user_data(c->wsi, NULL);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    if (c->hub)
        hub_release(c->hub);
    while (c->head) {
        outmsg_t *m = c->head;
        c->head = m->next;
        ipvm_free(m);
    }
    while (c->inbox) {
        inmsg_t *m = c->inbox;
        c->inbox = m->next;
        ipvm_buf_dispose(&m->text);
        ipvm_free(m);
    }
    ipvm_free(c->spare);
    ipvm_buf_dispose(&c->tx);
    ipvm_buf_dispose(&c->rx);
    ipvm_free(c);
}

static hub_t *hub_new(int timeout_ms)
{
    hub_t *h = ipvm_calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    uv_loop_init(&h->loop);
    uv_timer_init(&h->loop, &h->timer);
    h->timer.data = h;
    h->refs = 1;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign[1] = {&h->loop};
    info.foreign_loops = foreign;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.user = h;
    info.pcontext = &h->ctx;
    info.timeout_secs = (unsigned)(timeout_ms > 0 ? (timeout_ms + 999) / 1000 : 10);
    h->ctx = lws_create_context(&info);
    if (h->ctx == NULL) {
        hub_release(h);
        return NULL;
    }
    return h;
}

/* Connects c (its URL parsed) on c->hub. */
static int client_open(ipvm_rpc_client_t *c, const char *url, int timeout_ms, ipvm_error_t *err)
{
    c->next_id = 1;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->hub->ctx;
    ci.address = c->address;
    ci.port = c->port;
    ci.path = c->path;
    ci.host = c->host;
    ci.origin = c->host;
    ci.protocol = NULL; /* Homestar's server takes connections that name no subprotocol */
    ci.local_protocol_name = "ipvm-client";
    ci.opaque_user_data = c;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    if (wsi == NULL && !c->closed)
        snprintf(c->why, sizeof c->why, "cannot connect");
    else if (wsi && !c->closed)
        c->wsi = wsi; /* for client_destroy, should the connection not complete */
    int rc = c->why[0] && !c->established ? IPVM_ECLOSED : run_until(c, timeout_ms, is_established);
    if (rc == 0)
        return 0;
    char why[256];
    snprintf(why, sizeof why, "%s", c->why[0] ? c->why : "no answer");
    if (c->unix_path[0] && rc != IPVM_ETIMEDOUT)
        return ipvm__rpc_unix_connect_error(url, c->unix_path, why, err);
    return ipvm_error_set(err, rc == IPVM_ETIMEDOUT ? IPVM_ETIMEDOUT : IPVM_ECLOSED, IPVM_NO_OFFSET,
                          "cannot reach the node at %s (%s); is it running? Start one "
                          "with 'ipvm node start'",
                          url, rc == IPVM_ETIMEDOUT ? "timed out" : why);
}

static int connect_on(hub_t *share, const char *url, int timeout_ms, ipvm_rpc_client_t **out,
                      ipvm_error_t *err)
{
    ipvm_rpc_client_t *c = ipvm_calloc(1, sizeof *c);
    if (c == NULL)
        return IPVM_ENOMEM;
    int rc = parse_url(c, url, err);
    if (rc) {
        ipvm_free(c);
        return rc;
    }
    if (share)
        share->refs++;
    c->hub = share ? share : hub_new(timeout_ms);
    if (c->hub == NULL) {
        client_destroy(c);
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot start a WebSocket client");
    }
    rc = client_open(c, url, timeout_ms, err);
    if (rc) {
        client_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

int ipvm_rpc_client_connect(const char *url, int timeout_ms, ipvm_rpc_client_t **out,
                            ipvm_error_t *err)
{
    return connect_on(NULL, url, timeout_ms, out, err);
}

int ipvm_rpc_client_connect_also(ipvm_rpc_client_t *peer, const char *url, int timeout_ms,
                                 ipvm_rpc_client_t **out, ipvm_error_t *err)
{
    return connect_on(peer->hub, url, timeout_ms, out, err);
}

void ipvm_rpc_client_free(ipvm_rpc_client_t *c)
{
    if (c)
        client_destroy(c);
}

/* Sends the request in c->tx (after its LWS_PRE bytes of headroom). */
static int client_send(ipvm_rpc_client_t *c)
{
    if (c->closed || !c->established || c->wsi == NULL)
        return IPVM_ECLOSED;
    size_t len = c->tx.len - LWS_PRE;
    if (c->head == NULL && len <= 65536 && !lws_partial_buffered(c->wsi)) {
        /* written now, from c->tx itself, as the server does (server.c ipvm__rpc_conn_send):
         * no writable cycle when nothing is waiting; a short write is finished by lws before
         * anything else */
        int n = lws_write(c->wsi, c->tx.data + LWS_PRE, len, LWS_WRITE_TEXT);
        return n < (int)len ? IPVM_ECLOSED : 0;
    }
    outmsg_t *m = ipvm_malloc(sizeof *m + LWS_PRE + len);
    if (m == NULL)
        return IPVM_ENOMEM;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, c->tx.data + LWS_PRE, len);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* ---- finding a message's id without decoding it ---------------------------------------------- */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The index after the string that opens at s[i] ('"'), or 0 when it does not close; *esc when
 * it has an escape. */
static size_t skip_string(const char *s, size_t i, size_t n, bool *esc)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') {
            *esc = true;
            i++;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return 0;
}

/* The characters that matter inside a nested value outside strings (a run of others, such
 * as a notification's array of byte numbers, is skipped in one tight loop). */
static const unsigned char nest_char[256] = {['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1};

/* The index after the value that starts at s[i], or 0 when it does not end. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    size_t depth = 0;
    bool esc = false;
    while (i < n) {
        if (depth > 0) {
            while (i < n && !nest_char[(unsigned char)s[i]])
                i++;
            if (i == n)
                return 0;
        }
        char ch = s[i];
        if (ch == '"') {
            if ((i = skip_string(s, i, n, &esc)) == 0 || depth == 0)
                return i;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return i; /* the end of a scalar: the enclosing object's close */
            if (--depth == 0)
                return i + 1;
        } else if (ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            return i; /* depth 0 here */
        }
        i++;
    }
    return 0;
}

/* One member of a top-level object: its key (without quotes) and its value's text. */
typedef struct {
    const char *key, *val;
    size_t key_len, val_len;
} member_t;

/* Scans the member at json[*i] (just after '{' or ','): 1 with *m, 0 at the object's end,
 * IPVM_EJSON when the scan cannot tell (malformed, or a key with escapes, which may spell any
 * key: a decoder must tell). */
static int member_next(const char *json, size_t len, size_t *i, member_t *m)
{
    size_t j = skip_ws(json, *i, len);
    if (j < len && json[j] == '}')
        return json[*i - 1] == ',' ? IPVM_EJSON : 0; /* no member after a comma */
    bool esc = false;
    size_t k0 = j + 1, e = j < len && json[j] == '"' ? skip_string(json, j, len, &esc) : 0;
    if (e == 0 || esc)
        return IPVM_EJSON;
    j = skip_ws(json, e, len);
    if (j >= len || json[j] != ':')
        return IPVM_EJSON;
    size_t v0 = skip_ws(json, j + 1, len), ve = v0 < len ? skip_value(json, v0, len) : 0;
    if (ve == 0)
        return IPVM_EJSON;
    j = skip_ws(json, ve, len);
    if (j >= len || (json[j] != ',' && json[j] != '}'))
        return IPVM_EJSON;
    *m = (member_t){json + k0, json + v0, e - 1 - k0, ve - v0};
    *i = json[j] == ',' ? j + 1 : j;
    return 1;
}

/* The index after the '{' that opens the object json, or 0 when it is not an object. */
static size_t object_start(const char *json, size_t len)
{
    size_t i = skip_ws(json, 0, len);
    return i < len && json[i] == '{' ? i + 1 : 0;
}

int ipvm_rpc_json_member(const char *json, size_t len, const char *key, const char **val,
                         size_t *val_len)
{
    size_t i = object_start(json, len), klen = strlen(key);
    if (i == 0)
        return IPVM_EJSON;
    member_t m;
    int rc;
    while ((rc = member_next(json, len, &i, &m)) == 1) {
        if (m.key_len == klen && memcmp(m.key, key, klen) == 0) {
            *val = m.val;
            *val_len = m.val_len;
            return 0;
        }
    }
    return rc == 0 ? IPVM_ENOENT : rc;
}

/* What a message is, found by decoding it: the scan could not tell. */
static int kind_decoded(const char *text, size_t len, uint64_t *id)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    int kind = -1;
    if (ipvm_dagjson_decode(text, len, &a, &v, NULL) == 0 && v->kind == IPVM_IPLD_MAP) {
        const ipvm_ipld_t *mid = ipvm_ipld_map_get(v, "id");
        if (mid == NULL)
            kind = ipvm_ipld_map_get(v, "method") != NULL ? 0 : -1;
        else
            kind = ipvm_ipld_get_u64(mid, id) == 0 ? 1 : -1;
    }
    ipvm_arena_dispose(&a);
    return kind;
}

/* 1: a response with an integer id (*id), 0: a notification (a method, no id), -1: neither.
 * One pass over the members finds both. */
static int msg_kind(const char *text, size_t len, uint64_t *id)
{
    size_t i = object_start(text, len);
    member_t m, idm = {0};
    bool method = false, has_id = false;
    int rc = i ? 1 : IPVM_EJSON;
    while (rc == 1 && (rc = member_next(text, len, &i, &m)) == 1) {
        if (m.key_len == 2 && memcmp(m.key, "id", 2) == 0) {
            if (has_id)
                rc = IPVM_EJSON; /* a repeated key: the decoder decides */
            idm = m;
            has_id = true;
        } else if (m.key_len == 6 && memcmp(m.key, "method", 6) == 0) {
            method = true;
        }
    }
    if (rc == 0 && !has_id)
        return method ? 0 : -1;
    if (rc == 0) {
        const char *v = idm.val;
        size_t vl = idm.val_len, j = 0;
        uint64_t n = 0;
        for (; j < vl && j < 19 && v[j] >= '0' && v[j] <= '9'; j++)
            n = n * 10 + (uint64_t)(v[j] - '0');
        if (j == vl && vl > 0 && (v[0] != '0' || vl == 1)) {
            *id = n;
            return 1;
        }
    }
    return kind_decoded(text, len, id); /* escapes, a big or odd id: the decoder decides */
}

/* Takes the first inbox message that is a response with this id (or, for id 0, the first
 * notification; for id UINT64_MAX, the first message of any kind, its id into *got). */
static inmsg_t *take(ipvm_rpc_client_t *c, uint64_t id, uint64_t *got)
{
    inmsg_t **pp = &c->inbox, *prev = NULL;
    for (inmsg_t *m = c->inbox; m; prev = m, pp = &m->next, m = m->next) {
        bool match = id == UINT64_MAX || (id == 0 ? m->kind == 0 : m->kind == 1 && m->id == id);
        if (match) {
            *pp = m->next;
            if (c->inbox_tail == m)
                c->inbox_tail = prev;
            m->next = NULL;
            if (got)
                *got = m->kind == 1 ? m->id : 0;
            return m;
        }
    }
    return NULL;
}

/* Runs the shared loop until something new arrives for c, c closes or the timer fires. */
static void run_once_for(ipvm_rpc_client_t *c, int64_t timeout_ms)
{
    hub_t *h = c->hub;
    inmsg_t *last = c->inbox_tail;
    h->timed_out = false;
    if (timeout_ms > 0)
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    while (c->inbox_tail == last && !c->closed && !h->timed_out)
        uv_run(&h->loop, UV_RUN_ONCE);
    uv_timer_stop(&h->timer);
}

/* Waits until take(c, id) finds a message. */
static int wait_for(ipvm_rpc_client_t *c, uint64_t id, int timeout_ms, inmsg_t **out)
{
    uint64_t deadline = ipvm_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    for (;;) {
        inmsg_t *m = take(c, id, NULL);
        if (m) {
            *out = m;
            return 0;
        }
        if (c->closed)
            return IPVM_ECLOSED;
        int64_t left = timeout_ms > 0 ? (int64_t)(deadline - ipvm_now_ns()) / 1000000 : 0;
        if (timeout_ms > 0 && left <= 0)
            return IPVM_ETIMEDOUT;
        run_once_for(c, timeout_ms > 0 ? (left > 0 ? left : 1) : 0);
    }
}

/* Appends the request object {jsonrpc, id, method, params} to req. */
static int append_request(ipvm_buf_t *req, uint64_t id, const char *method, const char *params_json)
{
    int rc = ipvm_buf_printf(
        req, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":", (unsigned long long)id);
    if (rc == 0)
        rc = ipvm_json_append_str(req, method, strlen(method));
    if (rc == 0 && params_json && (rc = ipvm_buf_append_str(req, ",\"params\":")) == 0)
        rc = ipvm_buf_append_str(req, params_json);
    if (rc == 0)
        rc = ipvm_buf_append_byte(req, '}');
    return rc;
}

/* Builds n requests in c->tx (after its LWS_PRE bytes; an array when batch) and sends them as
 * one message; the ids into ids[]. */
static int send_requests(ipvm_rpc_client_t *c, const ipvm_rpc_client_req_t *reqs, size_t n,
                         bool batch, uint64_t *ids, ipvm_error_t *err)
{
    ipvm_buf_t *req = &c->tx; /* built once, in place, and written from there */
    static const uint8_t pre[LWS_PRE];
    size_t need = LWS_PRE + 2;
    for (size_t i = 0; i < n; i++)
        need +=
            strlen(reqs[i].method) + (reqs[i].params_json ? strlen(reqs[i].params_json) : 0) + 64;
    ipvm_buf_clear(req);
    int rc = ipvm_buf_reserve(req, need);
    if (rc == 0)
        rc = ipvm_buf_append(req, pre, sizeof pre);
    if (rc == 0 && batch)
        rc = ipvm_buf_append_byte(req, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ids[i] = c->next_id + i;
        if (i > 0)
            rc = ipvm_buf_append_byte(req, ',');
        if (rc == 0)
            rc = append_request(req, ids[i], reqs[i].method, reqs[i].params_json);
    }
    if (rc == 0 && batch)
        rc = ipvm_buf_append_byte(req, ']');
    if (rc == 0) {
        c->sent_len = req->len - LWS_PRE;
        rc = client_send(c);
    }
    if (c->tx.cap > (1u << 20)) /* a big workflow's memory is not kept */
        ipvm_buf_dispose(&c->tx);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot send %s%s: %s", reqs[0].method,
                              n > 1 ? " and the rest of its batch" : "",
                              rc == IPVM_ECLOSED ? c->why : ipvm_strerror(rc));
    c->next_id += n;
    return 0;
}

int ipvm_rpc_client_send(ipvm_rpc_client_t *c, const char *method, const char *params_json,
                         uint64_t *id_out, ipvm_error_t *err)
{
    ipvm_rpc_client_req_t r = {.method = method, .params_json = params_json};
    return send_requests(c, &r, 1, false, id_out, err);
}

int ipvm_rpc_client_send_batch(ipvm_rpc_client_t *c, ipvm_rpc_client_req_t *reqs, size_t n,
                               ipvm_error_t *err)
{
    IPVM_MISUSE_IF(reqs == NULL || n == 0 || n > IPVM_RPC_MAX_BATCH);
    uint64_t ids[IPVM_RPC_MAX_BATCH];
    int rc = send_requests(c, reqs, n, true, ids, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        reqs[i].id = ids[i];
    return rc;
}

int ipvm_rpc_client_poll(ipvm_rpc_client_t *c, int timeout_ms)
{
    hub_t *h = c->hub;
    h->timed_out = false;
    if (timeout_ms > 0)
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    uv_run(&h->loop, UV_RUN_ONCE);
    uv_timer_stop(&h->timer);
    return h->timed_out ? IPVM_ETIMEDOUT : 0;
}

int ipvm_rpc_client_take(ipvm_rpc_client_t *c, ipvm_buf_t *msg, uint64_t *id)
{
    inmsg_t *m = take(c, UINT64_MAX, id);
    if (m == NULL)
        return c->closed ? IPVM_ECLOSED : 0;
    hand_over(c, m, msg);
    return 1;
}

/* The node's refusal of a request as too large, once it closed: the error it sent first (id
 * null, code -32007, "request is over the limit of N bytes (rpc.max_message)", server.c's
 * conn_receive) into msg, N into c's limit; or, without that answer, its close code 1009.
 * False when the close was not that. */
static bool oversized(const ipvm_rpc_client_t *c, char *msg, size_t len, size_t *limit)
{
    *limit = 0;
    for (inmsg_t *m = c->inbox; m; m = m->next) {
        const char *t = (const char *)m->text.data, *e, *v;
        size_t el, vl;
        if (m->kind != -1 || ipvm_rpc_json_member(t, m->text.len, "error", &e, &el) != 0 ||
            ipvm_rpc_json_member(e, el, "code", &v, &vl) != 0 || vl != 6 ||
            memcmp(v, "-32007", 6) != 0)
            continue;
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *doc = NULL;
        const ipvm_ipld_t *s = NULL;
        if (ipvm_dagjson_decode(e, el, &a, &doc, NULL) == 0)
            s = ipvm_ipld_map_get(doc, "message");
        snprintf(msg, len, "%s", s && s->kind == IPVM_IPLD_STRING ? s->u.str.ptr : "too large");
        const char *at = strstr(msg, "limit of ");
        if (at)
            *limit = (size_t)strtoull(at + 9, NULL, 10);
        ipvm_arena_dispose(&a);
        return true;
    }
    if (c->close_code != LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE)
        return false;
    snprintf(msg, len, "%s", c->why);
    return true;
}

void ipvm_rpc_client_oversized(const ipvm_rpc_client_t *c, size_t *sent, size_t *limit)
{
    char msg[256];
    *sent = c->sent_len;
    if (!oversized(c, msg, sizeof msg, limit))
        *limit = 0;
}

int ipvm_rpc_client_call(ipvm_rpc_client_t *c, const char *method, const char *params_json,
                         int timeout_ms, ipvm_buf_t *result, int *rpc_code, ipvm_error_t *err)
{
    uint64_t id = 0;
    int rc = ipvm_rpc_client_send(c, method, params_json, &id, err);
    if (rc)
        return rc;
    inmsg_t *m = NULL;
    rc = wait_for(c, id, timeout_ms, &m);
    char why[256];
    size_t limit = 0;
    if (rc == IPVM_ECLOSED && oversized(c, why, sizeof why, &limit)) {
        if (rpc_code)
            *rpc_code = IPVM_RPC_OVERSIZED_REQUEST;
        return ipvm_error_set(err, IPVM_ERPC, IPVM_NO_OFFSET, "%d: %s (a %zu-byte request)",
                              IPVM_RPC_OVERSIZED_REQUEST, why, c->sent_len);
    }
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "%s: %s", method,
                              rc == IPVM_ETIMEDOUT ? "no answer in time" : c->why);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    rc = ipvm_dagjson_decode((const char *)m->text.data, m->text.len, &a, &v, err);
    const ipvm_ipld_t *e = rc == 0 ? ipvm_ipld_map_get(v, "error") : NULL;
    const ipvm_ipld_t *r = rc == 0 ? ipvm_ipld_map_get(v, "result") : NULL;
    if (rc == 0 && e) {
        const ipvm_ipld_t *code = ipvm_ipld_map_get(e, "code");
        const ipvm_ipld_t *msg = ipvm_ipld_map_get(e, "message");
        int64_t ci = 0;
        if (code == NULL || ipvm_ipld_get_i64(code, &ci) != 0)
            ci = 0;
        if (rpc_code)
            *rpc_code = (int)ci;
        rc = ipvm_error_set(err, IPVM_ERPC, IPVM_NO_OFFSET, "%lld: %s", (long long)ci,
                            msg && msg->kind == IPVM_IPLD_STRING ? msg->u.str.ptr : "(no message)");
    } else if (rc == 0 && r) {
        if (result) {
            ipvm_buf_clear(result);
            rc = ipvm_dagjson_encode(r, 0, result, err);
        }
    } else if (rc == 0) {
        rc = ipvm_error_set(err, IPVM_ERPC, IPVM_NO_OFFSET, "answer has neither result nor error");
    }
    ipvm_arena_dispose(&a);
    inmsg_done(c, m);
    return rc;
}

int ipvm_rpc_client_next(ipvm_rpc_client_t *c, int timeout_ms, ipvm_buf_t *msg, ipvm_error_t *err)
{
    inmsg_t *m = NULL;
    int rc = wait_for(c, 0, timeout_ms, &m);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "%s",
                              rc == IPVM_ETIMEDOUT ? "no notification in time" : c->why);
    hand_over(c, m, msg);
    return 0;
}

/* ---- receipt notifications ------------------------------------------------------------------ */

static int need_link(const ipvm_ipld_t *v, const char *what, ipvm_cid_t *out, ipvm_error_t *err)
{
    if (v == NULL || v->kind != IPVM_IPLD_LINK)
        return ipvm_error_set(err, IPVM_EKIND, IPVM_NO_OFFSET, "%s is not a link", what);
    *out = *v->u.link;
    return 0;
}

int ipvm_rpc_receipt_note_decode(const char *msg, size_t len, ipvm_arena_t *arena,
                                 ipvm_rpc_receipt_note_t *out, ipvm_error_t *err)
{
    memset(out, 0, sizeof *out);
    ipvm_ipld_t *v = NULL;
    int rc = ipvm_dagjson_decode(msg, len, arena, &v, err);
    if (rc)
        return rc;
    const ipvm_ipld_t *params = ipvm_ipld_map_get(v, "params");
    const ipvm_ipld_t *sub = ipvm_ipld_map_get(params, "subscription");
    const ipvm_ipld_t *result = ipvm_ipld_map_get(params, "result");
    if (sub == NULL || sub->kind != IPVM_IPLD_STRING || result == NULL)
        return ipvm_error_set(err, IPVM_ERPC, IPVM_NO_OFFSET,
                              "not a subscription notification (no params.subscription/result)");
    out->subscription = sub->u.str.ptr;
    ipvm_buf_t bytes = IPVM_BUF_INIT;
    rc = ipvm_rpc_json_to_bytes(result, &bytes, err);
    if (rc) {
        ipvm_buf_dispose(&bytes);
        ipvm_error_prefix(err, "params.result: "); /* (err may be NULL) */
        return rc;
    }
    out->bytes = ipvm_arena_memdup(arena, bytes.data ? bytes.data : (const uint8_t *)"", bytes.len);
    out->bytes_len = bytes.len;
    ipvm_buf_dispose(&bytes);
    if (out->bytes == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                              "out of memory copying the notification's %zu bytes", out->bytes_len);
    ipvm_ipld_t *doc = NULL;
    rc = ipvm_dagjson_decode((const char *)out->bytes, out->bytes_len, arena, &doc, err);
    if (rc) {
        ipvm_error_prefix(err, "the notification document: "); /* (err may be NULL) */
        return rc;
    }
    out->doc = doc;
    out->receipt = ipvm_ipld_map_get(doc, "receipt");
    const ipvm_ipld_t *meta = ipvm_ipld_map_get(doc, "metadata");
    const ipvm_ipld_t *name = ipvm_ipld_map_get(meta, "name");
    const ipvm_ipld_t *replayed = ipvm_ipld_map_get(meta, "replayed");
    if (out->receipt == NULL || out->receipt->kind != IPVM_IPLD_MAP)
        return ipvm_error_set(err, IPVM_EKIND, IPVM_NO_OFFSET, "document has no receipt map");
    if ((rc = need_link(ipvm_ipld_map_get(doc, "receipt_cid"), "receipt_cid", &out->receipt_cid,
                        err)) != 0 ||
        (rc = need_link(ipvm_ipld_map_get(meta, "workflow"), "metadata.workflow", &out->workflow,
                        err)) != 0)
        return rc;
    if (name == NULL || name->kind != IPVM_IPLD_STRING || replayed == NULL ||
        replayed->kind != IPVM_IPLD_BOOL)
        return ipvm_error_set(err, IPVM_EKIND, IPVM_NO_OFFSET,
                              "metadata needs a string name and a boolean replayed");
    out->name = name->u.str.ptr;
    out->replayed = replayed->u.boolean;
    return 0;
}
