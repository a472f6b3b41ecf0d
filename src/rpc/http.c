/* SPDX-License-Identifier: Apache-2.0 */
/* Plain HTTP on the API port (libwebsockets does the HTTP/1.1): GET /health, Prometheus
 * GET /metrics, GET /node and /rpc_discover (Homestar's GET aliases, homestar.md §6.1) and the
 * dashboard at GET /. Bodies are sent in chunks from the writable callback. */
#include "rpc_int.h"

#include <stdio.h>
#include <string.h>

#define CHUNK 16384

struct http_s {
    struct lws *wsi; /* NULL once lws closed the connection */
    ipvm_rpc_server_t *server;
    ipvm_buf_t body;
    const char *static_body; /* instead of body (the dashboard) */
    size_t static_len;
    size_t off;
    unsigned status;
    const char *ctype;
    bool ready; /* body complete: headers may go out */
    bool headers_sent;
    bool work_pending; /* a health check runs on the thread pool */
    uv_work_t work;
    int health_rc;
    ipvm_error_t health_err;
};

static void http_free(http_t *h)
{
    ipvm_buf_dispose(&h->body);
    ipvm_free(h);
}

static void respond(http_t *h, unsigned status, const char *ctype)
{
    h->status = status;
    h->ctype = ctype;
    h->ready = true;
    if (h->wsi)
        lws_callback_on_writable(h->wsi);
}

static void respond_json(http_t *h, unsigned status, const char *fmt, const char *arg)
{
    ipvm_buf_clear(&h->body);
    if (ipvm_buf_printf(&h->body, fmt, arg) != 0)
        status = 500;
    respond(h, status, "application/json");
}

static void health_work(uv_work_t *req)
{
    http_t *h = req->data;
    ipvm_error_clear(&h->health_err);
    h->health_rc = h->server->health(h->server->health_data, &h->health_err);
}

static void health_done(uv_work_t *req, int status)
{
    http_t *h = req->data;
    h->work_pending = false;
    h->server->pending_work--;
    if (h->wsi == NULL) { /* the client left */
        http_free(h);
        return;
    }
    ipvm_buf_t esc = IPVM_BUF_INIT;
    const char *why = status                 ? "canceled"
                      : h->health_err.msg[0] ? h->health_err.msg
                                             : ipvm_strerror(h->health_rc);
    if (status == 0 && h->health_rc == 0)
        respond_json(h, 200, "{\"healthy\":true}%s", "");
    else if (ipvm_json_append_str(&esc, why, strlen(why)) == 0)
        respond_json(h, 503, "{\"healthy\":false,\"error\":%s}", (const char *)esc.data);
    else
        respond_json(h, 503, "{\"healthy\":false}%s", "");
    ipvm_buf_dispose(&esc);
}

static void route(http_t *h, const char *path)
{
    ipvm_rpc_server_t *s = h->server;
    if (strcmp(path, "/health") == 0) {
        if (s->health == NULL) {
            respond_json(h, 200, "{\"healthy\":true}%s", "");
            return;
        }
        h->work.data = h;
        if (uv_queue_work(s->loop, &h->work, health_work, health_done) == 0) {
            h->work_pending = true;
            s->pending_work++;
        } else {
            respond_json(h, 503, "{\"healthy\":false,\"error\":\"%s\"}", "cannot queue the check");
        }
    } else if (strcmp(path, "/metrics") == 0) {
        int rc = s->opts.metrics ? ipvm_metrics_render(s->opts.metrics, &h->body) : 0;
        respond(h, rc ? 500 : 200, "text/plain; version=0.0.4; charset=utf-8");
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        h->static_body = ipvm_rpc_dashboard_html(&h->static_len);
        respond(h, 200, "text/html; charset=utf-8");
    } else if (strcmp(path, "/favicon.ico") == 0) {
        respond(h, 204, "image/x-icon");
    } else if (strcmp(path, "/node") == 0) {
        int rc = ipvm__rpc_node_info_json(s, &h->body);
        respond(h, rc ? 500 : 200, "application/json");
    } else if (strcmp(path, "/rpc_discover") == 0) {
        int rc = ipvm_rpc_server_openrpc(s, &h->body);
        respond(h, rc ? 500 : 200, "application/json");
    } else {
        respond_json(h, 404,
                     "{\"error\":\"no such path%s; try /health, /metrics, /node, /rpc_discover, "
                     "/ (the dashboard) or JSON-RPC over a WebSocket connection\"}",
                     "");
    }
}

static int write_headers(http_t *h)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    size_t len = h->static_body ? h->static_len : h->body.len;
    if (lws_add_http_common_headers(h->wsi, h->status, h->ctype, len, &p, end))
        return -1;
    /* compat: Homestar's webserver allows any origin (CORS layer in webserver.rs). */
    if (lws_add_http_header_by_name(h->wsi, (const unsigned char *)"access-control-allow-origin:",
                                    (const unsigned char *)"*", 1, &p, end))
        return -1;
    if (lws_add_http_header_by_name(h->wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (lws_finalize_write_http_header(h->wsi, start, &p, end))
        return -1;
    h->headers_sent = true;
    return 0;
}

/* Returns -1 to close the connection, 0 to keep it (keep-alive). */
static int http_writable(pss_t *pss)
{
    http_t *h = pss->http;
    if (h == NULL || !h->ready)
        return 0;
    if (!h->headers_sent) {
        if (write_headers(h))
            return -1;
        lws_callback_on_writable(h->wsi);
        return 0;
    }
    const char *body = h->static_body ? h->static_body : (const char *)h->body.data;
    size_t len = h->static_body ? h->static_len : h->body.len;
    size_t n = len - h->off < CHUNK ? len - h->off : CHUNK;
    bool last = h->off + n == len;
    unsigned char buf[LWS_PRE + CHUNK];
    if (n)
        memcpy(buf + LWS_PRE, body + h->off, n);
    if (lws_write(h->wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    h->off += n;
    if (!last) {
        lws_callback_on_writable(h->wsi);
        return 0;
    }
    struct lws *wsi = h->wsi;
    http_free(h);
    pss->http = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_start(struct lws *wsi, pss_t *pss, const char *path)
{
    struct lws_context *ctx = lws_get_context(wsi);
    ipvm_rpc_server_t *s = lws_context_user(ctx);
    if (pss->http) /* a pipelined request before the last one finished: refuse */
        return -1;
    http_t *h = ipvm_calloc(1, sizeof *h);
    if (h == NULL)
        return -1;
    h->wsi = wsi;
    h->server = s;
    pss->http = h;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        respond_json(h, 405,
                     "{\"error\":\"only GET is served%s; JSON-RPC goes over a "
                     "WebSocket connection\"}",
                     "");
        return 0;
    }
    route(h, path);
    return 0;
}

int ipvm__rpc_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    pss_t *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_start(wsi, pss, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return 0; /* bodies are ignored: only GET is routed */
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_writable(pss);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->http) {
            pss->http->wsi = NULL;
            if (!pss->http->work_pending)
                http_free(pss->http);
            pss->http = NULL;
        }
        return 0;
    default:
        break;
    }
    (void)len;
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
