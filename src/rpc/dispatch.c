/* SPDX-License-Identifier: Apache-2.0 */
/* From a received WebSocket message to method calls and back: parsing, method lookup, the error
 * replies of JSON-RPC 2.0 §5.1, batches (§6) and asynchronous answers. */
#include "rpc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void batch_finish_one(batch_t *b)
{
    assert(b->pending > 0);
    if (--b->pending > 0)
        return;
    conn_t *c = b->conn;
    if (b->answers > 0 && c->wsi) {
        int rc = 0;
        if (b->is_batch)
            rc = ipvm_buf_append_byte(&b->out, ']');
        if (rc == 0)
            (void)ipvm__rpc_conn_send(c, (const char *)b->out.data, b->out.len);
    }
    ipvm_buf_dispose(&b->out);
    ipvm_arena_dispose(&b->arena);
    ipvm_free(b);
    ipvm__rpc_conn_unref(c);
}

/* Appends one response object (already formatted in `resp`) to the batch, or drops it for a
 * notification (a request without an id gets no answer, JSON-RPC 2.0 §4.1). */
static void call_answer(ipvm_rpc_call_t *call, ipvm_buf_t *resp, bool is_error)
{
    IPVM_MISUSE_IF(call->answered);
    call->answered = true;
    batch_t *b = call->batch;
    if (is_error)
        ipvm_metric_inc(b->conn->server->m_errors, 1);
    if (call->has_id && resp->len) {
        int rc = 0;
        if (b->is_batch)
            rc = ipvm_buf_append_str(&b->out, b->answers ? "," : "[");
        if (rc == 0 && ipvm_buf_append(&b->out, resp->data, resp->len) == 0)
            b->answers++;
    }
    ipvm_buf_dispose(resp);
    batch_finish_one(b);
}

void ipvm_rpc_call_reply(ipvm_rpc_call_t *call, const char *json, size_t len)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    if (ipvm_rpc_format_result(&out, call->id, json, len) != 0) {
        ipvm_buf_dispose(&out);
        ipvm_rpc_call_fail(call, IPVM_RPC_INTERNAL_ERROR, "out of memory");
        return;
    }
    call_answer(call, &out, false);
}

void ipvm_rpc_call_reply_ipld(ipvm_rpc_call_t *call, const ipvm_ipld_t *v)
{
    ipvm_buf_t json = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_dagjson_encode(v, 0, &json, &err);
    if (rc == 0)
        ipvm_rpc_call_reply(call, (const char *)json.data, json.len);
    else
        ipvm_rpc_call_fail(call, IPVM_RPC_INTERNAL_ERROR, "cannot encode the result: %s",
                           err.msg[0] ? err.msg : ipvm_strerror(rc));
    ipvm_buf_dispose(&json);
}

static void call_fail_msg(ipvm_rpc_call_t *call, int code, const char *msg)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    if (ipvm_rpc_format_error(&out, call->id, code, msg) != 0)
        ipvm_buf_clear(&out); /* out of memory: the client gets no answer for this call */
    call_answer(call, &out, true);
}

void ipvm_rpc_call_fail(ipvm_rpc_call_t *call, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    call_fail_msg(call, code, msg);
}

ipvm_rpc_server_t *ipvm_rpc_call_server(const ipvm_rpc_call_t *call)
{
    return call->batch->conn->server;
}

const char *ipvm_rpc_call_peer(const ipvm_rpc_call_t *call)
{
    return call->batch->conn->peer;
}

bool ipvm_rpc_call_orphaned(const ipvm_rpc_call_t *call)
{
    return call->batch->conn->wsi == NULL;
}

const method_t *ipvm__rpc_method_find(const ipvm_rpc_server_t *s, const char *name)
{
    for (size_t i = 0; i < s->nmethods; i++)
        if (strcmp(s->methods[i].m.name, name) == 0)
            return &s->methods[i];
    return NULL;
}

static void run_request(batch_t *b, const ipvm_rpc_request_t *r)
{
    ipvm_rpc_server_t *s = b->conn->server;
    ipvm_rpc_call_t *call = ipvm_arena_calloc(&b->arena, 1, sizeof *call);
    if (call == NULL) {
        batch_finish_one(b);
        return;
    }
    call->batch = b;
    call->id = r->id;
    /* Invalid requests are answered even without an id (JSON-RPC 2.0 §5: id null). */
    call->has_id = r->id != NULL || r->code != 0;
    ipvm_metric_inc(s->m_requests, 1);
    if (r->code != 0) {
        call_fail_msg(call, r->code, r->message);
        return;
    }
    const method_t *m = ipvm__rpc_method_find(s, r->method);
    if (m == NULL) {
        ipvm_rpc_call_fail(call, IPVM_RPC_METHOD_NOT_FOUND,
                           "Method not found: '%.100s' (rpc_discover lists the methods)",
                           r->method);
        return;
    }
    call->method = m;
    ipvm_log(IPVM_LOG_DEBUG, "rpc", "%s: %s", b->conn->peer, m->m.name);
    int rc = m->m.fn(call, r->params, m->m.data);
    if (rc != 0 && !call->answered)
        ipvm_rpc_call_fail(call, IPVM_RPC_INTERNAL_ERROR, "%s failed: %s", m->m.name,
                           ipvm_strerror(rc));
}

void ipvm__rpc_dispatch(conn_t *c, const char *text, size_t len)
{
    ipvm_rpc_server_t *s = c->server;
    batch_t *b = ipvm_calloc(1, sizeof *b);
    if (b == NULL) {
        ipvm__rpc_conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        return;
    }
    b->conn = c;
    c->refs++;
    ipvm_arena_init(&b->arena);
    b->pending = 1; /* held until every request of the message has started */
    ipvm_rpc_message_t msg;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_rpc_message_parse(text, len, &b->arena, &msg, &err);
    if (rc != 0) {
        char why[400], desc[340];
        ipvm_buf_t out = IPVM_BUF_INIT;
        int code = rc == IPVM_EJSON     ? IPVM_RPC_PARSE_ERROR
                   : rc == IPVM_ETOOBIG ? IPVM_RPC_INVALID_REQUEST
                                        : IPVM_RPC_INTERNAL_ERROR;
        snprintf(why, sizeof why, "%s: %s",
                 code == IPVM_RPC_PARSE_ERROR ? "Parse error" : "Invalid request",
                 ipvm_error_describe(&err, desc, sizeof desc));
        ipvm_metric_inc(s->m_requests, 1);
        ipvm_metric_inc(s->m_errors, 1);
        if (ipvm_rpc_format_error(&out, NULL, code, why) == 0)
            (void)ipvm__rpc_conn_send(c, (const char *)out.data, out.len);
        ipvm_buf_dispose(&out);
        batch_finish_one(b);
        return;
    }
    b->is_batch = msg.batch;
    b->pending += msg.count;
    for (size_t i = 0; i < msg.count; i++)
        run_request(b, &msg.requests[i]);
    batch_finish_one(b);
}
