/* SPDX-License-Identifier: Apache-2.0 */
/* A blocking JSON-RPC 2.0 client over WebSocket for `ipvm run --node`, `ipvm node status`, the
 * tests and the benchmark: libwebsockets as the WebSocket client, on a private libuv loop that
 * the calls run until their answer (or a timeout) arrives. */
#include "rpc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_MAX_MESSAGE (512u << 20)

typedef struct inmsg_s {
    struct inmsg_s *next;
    size_t len;
    char text[]; /* NUL-terminated */
} inmsg_t;

struct ipvm_rpc_client_s {
    uv_loop_t loop;
    uv_timer_t timer;
    bool timed_out;
    struct lws_context *ctx; /* NULL once lws finished destroying it */
    struct lws *wsi;         /* NULL until established and after close */
    bool established, closed;
    char why[256];         /* why it closed or failed */
    outmsg_t *head, *tail; /* to send */
    size_t off;
    ipvm_buf_t rx;
    inmsg_t *inbox, *inbox_tail; /* received, not yet taken */
    uint64_t next_id;
    char host[300], path[512];
    int port;
};

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    ipvm_rpc_client_t *c = ctx ? lws_context_user(ctx) : NULL;
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
        inmsg_t *m = ipvm_malloc(sizeof *m + c->rx.len + 1);
        if (m == NULL)
            return -1;
        m->next = NULL;
        m->len = c->rx.len;
        memcpy(m->text, c->rx.data ? (const char *)c->rx.data : "", c->rx.len);
        m->text[m->len] = '\0';
        ipvm_buf_clear(&c->rx);
        if (c->inbox_tail)
            c->inbox_tail->next = m;
        else
            c->inbox = m;
        c->inbox_tail = m;
        return 0;
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
    ipvm_rpc_client_t *c = t->data;
    c->timed_out = true;
}

/* Runs the loop until done(c) or the timeout. Returns 0, IPVM_ETIMEDOUT or IPVM_ECLOSED. */
static int run_until(ipvm_rpc_client_t *c, int timeout_ms, bool (*done)(ipvm_rpc_client_t *))
{
    c->timed_out = false;
    if (timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    while (!done(c) && !c->timed_out && !c->closed)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->timer);
    if (done(c))
        return 0;
    return c->closed ? IPVM_ECLOSED : IPVM_ETIMEDOUT;
}

static bool is_established(ipvm_rpc_client_t *c)
{
    return c->established;
}

static int parse_url(ipvm_rpc_client_t *c, const char *url, ipvm_error_t *err)
{
    const char *p = url;
    if (strncmp(p, "ws://", 5) == 0)
        p += 5;
    else if (strstr(p, "://") != NULL)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "'%s': only ws:// URLs are supported (e.g. ws://127.0.0.1:1337)",
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
    snprintf(c->path, sizeof c->path, "%s", slash ? slash : "/");
    return 0;
}

static void client_destroy(ipvm_rpc_client_t *c)
{
    if (c->ctx) {
        /* the two-step teardown of lws 4.1 on a foreign loop (see server.c on_closer) */
        lws_context_destroy(c->ctx);
        for (int i = 0; c->ctx && i < 1000000; i++) {
            uv_run(&c->loop, UV_RUN_NOWAIT);
            if (c->ctx && !ipvm__rpc_uv_any_closing(&c->loop))
                lws_context_destroy(c->ctx);
        }
    }
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&c->loop);
    while (c->head) {
        outmsg_t *m = c->head;
        c->head = m->next;
        ipvm_free(m);
    }
    while (c->inbox) {
        inmsg_t *m = c->inbox;
        c->inbox = m->next;
        ipvm_free(m);
    }
    ipvm_buf_dispose(&c->rx);
    ipvm_free(c);
}

int ipvm_rpc_client_connect(const char *url, int timeout_ms, ipvm_rpc_client_t **out,
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
    uv_loop_init(&c->loop);
    uv_timer_init(&c->loop, &c->timer);
    c->timer.data = c;
    c->next_id = 1;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign[1] = {&c->loop};
    info.foreign_loops = foreign;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.user = c;
    info.pcontext = &c->ctx;
    info.timeout_secs = (unsigned)(timeout_ms > 0 ? (timeout_ms + 999) / 1000 : 10);
    c->ctx = lws_create_context(&info);
    if (c->ctx == NULL) {
        client_destroy(c);
        return ipvm_error_set(err, IPVM_EIO, IPVM_NO_OFFSET, "cannot start a WebSocket client");
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->ctx;
    ci.address = c->host;
    ci.port = c->port;
    ci.path = c->path;
    ci.host = c->host;
    ci.origin = c->host;
    ci.protocol = NULL; /* Homestar's server takes connections that name no subprotocol */
    ci.local_protocol_name = "ipvm-client";
    if (lws_client_connect_via_info(&ci) == NULL && !c->closed)
        snprintf(c->why, sizeof c->why, "cannot connect");
    rc = c->why[0] && !c->established ? IPVM_ECLOSED : run_until(c, timeout_ms, is_established);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", c->why[0] ? c->why : "no answer");
        client_destroy(c);
        return ipvm_error_set(err, rc == IPVM_ETIMEDOUT ? IPVM_ETIMEDOUT : IPVM_ECLOSED,
                              IPVM_NO_OFFSET,
                              "cannot reach the node at %s (%s); is it running? Start one "
                              "with 'ipvm node start'",
                              url, rc == IPVM_ETIMEDOUT ? "timed out" : why);
    }
    *out = c;
    return 0;
}

void ipvm_rpc_client_free(ipvm_rpc_client_t *c)
{
    if (c)
        client_destroy(c);
}

static int client_send(ipvm_rpc_client_t *c, const char *text, size_t len)
{
    if (c->closed || c->wsi == NULL)
        return IPVM_ECLOSED;
    outmsg_t *m = ipvm_malloc(sizeof *m + LWS_PRE + len);
    if (m == NULL)
        return IPVM_ENOMEM;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (c->head == NULL && len <= 65536 && !lws_partial_buffered(c->wsi)) {
        /* written now, as the server does (server.c ipvm__rpc_conn_send): no writable cycle
         * when nothing is waiting; a short write is finished by lws before anything else */
        int n = lws_write(c->wsi, m->buf + LWS_PRE, len, LWS_WRITE_TEXT);
        ipvm_free(m);
        return n < (int)len ? IPVM_ECLOSED : 0;
    }
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* Takes the first inbox message that is a response with this id (or, for id 0, the first
 * notification). */
static inmsg_t *take(ipvm_rpc_client_t *c, uint64_t id)
{
    inmsg_t **pp = &c->inbox, *prev = NULL;
    for (inmsg_t *m = c->inbox; m; prev = m, pp = &m->next, m = m->next) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v = NULL;
        bool match = false;
        if (ipvm_dagjson_decode(m->text, m->len, &a, &v, NULL) == 0 && v->kind == IPVM_IPLD_MAP) {
            const ipvm_ipld_t *mid = ipvm_ipld_map_get(v, "id");
            uint64_t got = 0;
            if (id == 0)
                match = ipvm_ipld_map_get(v, "method") != NULL && mid == NULL;
            else
                match = mid && ipvm_ipld_get_u64(mid, &got) == 0 && got == id;
        }
        ipvm_arena_dispose(&a);
        if (match) {
            *pp = m->next;
            if (c->inbox_tail == m)
                c->inbox_tail = prev;
            m->next = NULL;
            return m;
        }
    }
    return NULL;
}

/* Waits until take(c, id) finds a message. */
static int wait_for(ipvm_rpc_client_t *c, uint64_t id, int timeout_ms, inmsg_t **out)
{
    uint64_t deadline = ipvm_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    for (;;) {
        inmsg_t *m = take(c, id);
        if (m) {
            *out = m;
            return 0;
        }
        if (c->closed)
            return IPVM_ECLOSED;
        int64_t left = timeout_ms > 0 ? (int64_t)(deadline - ipvm_now_ns()) / 1000000 : 0;
        if (timeout_ms > 0 && left <= 0)
            return IPVM_ETIMEDOUT;
        /* wake when anything new arrives (or the time is up) */
        inmsg_t *last = c->inbox_tail;
        c->timed_out = false;
        if (timeout_ms > 0)
            uv_timer_start(&c->timer, on_timer, (uint64_t)(left > 0 ? left : 1), 0);
        while (c->inbox_tail == last && !c->closed && !c->timed_out)
            uv_run(&c->loop, UV_RUN_ONCE);
        uv_timer_stop(&c->timer);
    }
}

int ipvm_rpc_client_call(ipvm_rpc_client_t *c, const char *method, const char *params_json,
                         int timeout_ms, ipvm_buf_t *result, int *rpc_code, ipvm_error_t *err)
{
    uint64_t id = c->next_id++;
    ipvm_buf_t req = IPVM_BUF_INIT;
    int rc = ipvm_buf_printf(
        &req, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":", (unsigned long long)id);
    if (rc == 0)
        rc = ipvm_json_append_str(&req, method, strlen(method));
    if (rc == 0 && params_json)
        rc = ipvm_buf_printf(&req, ",\"params\":%s", params_json);
    if (rc == 0)
        rc = ipvm_buf_append_byte(&req, '}');
    if (rc == 0)
        rc = client_send(c, (const char *)req.data, req.len);
    ipvm_buf_dispose(&req);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot send %s: %s", method,
                              rc == IPVM_ECLOSED ? c->why : ipvm_strerror(rc));
    inmsg_t *m = NULL;
    rc = wait_for(c, id, timeout_ms, &m);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "%s: %s", method,
                              rc == IPVM_ETIMEDOUT ? "no answer in time" : c->why);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    rc = ipvm_dagjson_decode(m->text, m->len, &a, &v, err);
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
    ipvm_free(m);
    return rc;
}

int ipvm_rpc_client_next(ipvm_rpc_client_t *c, int timeout_ms, ipvm_buf_t *msg, ipvm_error_t *err)
{
    inmsg_t *m = NULL;
    int rc = wait_for(c, 0, timeout_ms, &m);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "%s",
                              rc == IPVM_ETIMEDOUT ? "no notification in time" : c->why);
    ipvm_buf_clear(msg);
    rc = ipvm_buf_append(msg, m->text, m->len);
    ipvm_free(m);
    return rc;
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
        return ipvm_error_prefix(err, "params.result: ");
    }
    out->bytes = ipvm_arena_memdup(arena, bytes.data ? bytes.data : (const uint8_t *)"", bytes.len);
    out->bytes_len = bytes.len;
    ipvm_buf_dispose(&bytes);
    if (out->bytes == NULL)
        return IPVM_ENOMEM;
    ipvm_ipld_t *doc = NULL;
    rc = ipvm_dagjson_decode((const char *)out->bytes, out->bytes_len, arena, &doc, err);
    if (rc)
        return ipvm_error_prefix(err, "the notification document: ");
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
