/* SPDX-License-Identifier: Apache-2.0 */
/* JSON-RPC 2.0 messages (jsonrpc.org/specification): requests and batches read with the strict
 * DAG-JSON decoder, responses and notifications written in the member order jsonrpsee uses,
 * and Homestar's byte-array payload encoding (reference/homestar.md §6.1). */
#include "rpc_int.h"

#include <stdio.h>
#include <string.h>

int ipvm_json_append_str(ipvm_buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = out->len;
    int rc = ipvm_buf_reserve(out, len + 2);
    if (rc)
        return rc;
    rc = ipvm_buf_append_byte(out, '"');
    for (size_t i = 0; rc == 0 && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = ipvm_buf_append(out, esc, 2);
        } else if (c == '\n') {
            rc = ipvm_buf_append(out, "\\n", 2);
        } else if (c == '\r') {
            rc = ipvm_buf_append(out, "\\r", 2);
        } else if (c == '\t') {
            rc = ipvm_buf_append(out, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = ipvm_buf_append(out, esc, 6);
        } else {
            rc = ipvm_buf_append_byte(out, c);
        }
    }
    if (rc == 0)
        rc = ipvm_buf_append_byte(out, '"');
    if (rc)
        out->len = start;
    return rc;
}

/* ---- parsing ------------------------------------------------------------------------------ */

static void invalid(ipvm_rpc_request_t *r, int code, const char *msg)
{
    r->code = code;
    r->message = msg;
}

/* Fills one request from a decoded value; never fails (invalid requests carry their error). */
static void read_request(const ipvm_ipld_t *v, ipvm_arena_t *arena, ipvm_rpc_request_t *r)
{
    memset(r, 0, sizeof *r);
    if (v->kind != IPVM_IPLD_MAP) {
        invalid(r, IPVM_RPC_INVALID_REQUEST, "a request must be a JSON object");
        return;
    }
    const ipvm_ipld_t *id = ipvm_ipld_map_get(v, "id");
    if (id) {
        if (id->kind == IPVM_IPLD_STRING || id->kind == IPVM_IPLD_INT ||
            id->kind == IPVM_IPLD_FLOAT || id->kind == IPVM_IPLD_NULL) {
            r->id = id;
        } else {
            invalid(r, IPVM_RPC_INVALID_REQUEST, "\"id\" must be a string, a number or null");
            return;
        }
    }
    const ipvm_ipld_t *ver = ipvm_ipld_map_get(v, "jsonrpc");
    if (ver == NULL || !ipvm_ipld_is_str(ver, "2.0")) {
        invalid(r, IPVM_RPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
        return;
    }
    const ipvm_ipld_t *m = ipvm_ipld_map_get(v, "method");
    if (m == NULL || m->kind != IPVM_IPLD_STRING) {
        invalid(r, IPVM_RPC_INVALID_REQUEST, "\"method\" must be a string");
        return;
    }
    if (memchr(m->u.str.ptr, '\0', m->u.str.len) != NULL) {
        invalid(r, IPVM_RPC_INVALID_REQUEST, "\"method\" contains a NUL character");
        return;
    }
    const ipvm_ipld_t *p = ipvm_ipld_map_get(v, "params");
    if (p && p->kind != IPVM_IPLD_LIST && p->kind != IPVM_IPLD_MAP && p->kind != IPVM_IPLD_NULL) {
        invalid(r, IPVM_RPC_INVALID_REQUEST, "\"params\" must be an array or an object");
        return;
    }
    (void)arena;
    r->method = m->u.str.ptr;
    r->params = (p && p->kind != IPVM_IPLD_NULL) ? p : NULL;
}

int ipvm_rpc_message_parse(const char *buf, size_t len, ipvm_arena_t *arena,
                           ipvm_rpc_message_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(arena == NULL || out == NULL);
    memset(out, 0, sizeof *out);
    ipvm_ipld_t *v = NULL;
    int rc = ipvm_dagjson_decode(buf, len, arena, &v, err);
    if (rc == IPVM_ENOMEM)
        return rc;
    if (rc != 0)
        return IPVM_EJSON;
    size_t n = 1;
    if (v->kind == IPVM_IPLD_LIST) {
        out->batch = true;
        n = v->u.list.len;
        if (n > IPVM_RPC_MAX_BATCH)
            return ipvm_error_set(err, IPVM_ETOOBIG, IPVM_NO_OFFSET,
                                  "batch of %zu requests is over the limit of %d", n,
                                  IPVM_RPC_MAX_BATCH);
    }
    out->requests = ipvm_arena_calloc(arena, n ? n : 1, sizeof *out->requests);
    if (out->requests == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if (out->batch && n == 0) {
        /* JSON-RPC 2.0 §6: an empty array is one Invalid Request answered with one error. */
        out->batch = false;
        out->count = 1;
        invalid(&out->requests[0], IPVM_RPC_INVALID_REQUEST, "empty batch");
        return 0;
    }
    out->count = n;
    for (size_t i = 0; i < n; i++)
        read_request(out->batch ? v->u.list.items[i] : v, arena, &out->requests[i]);
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

static int append_id(ipvm_buf_t *out, const ipvm_ipld_t *id)
{
    if (id == NULL || id->kind == IPVM_IPLD_NULL)
        return ipvm_buf_append_str(out, "null");
    if (id->kind == IPVM_IPLD_STRING)
        return ipvm_json_append_str(out, id->u.str.ptr, id->u.str.len);
    return ipvm_dagjson_encode(id, 0, out, NULL);
}

int ipvm_rpc_format_result(ipvm_buf_t *out, const ipvm_ipld_t *id, const char *result_json,
                           size_t len)
{
    size_t start = out->len;
    int rc = ipvm_buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"result\":");
    if (rc == 0)
        rc = ipvm_buf_append(out, result_json, len);
    if (rc == 0)
        rc = ipvm_buf_append_str(out, ",\"id\":");
    if (rc == 0)
        rc = append_id(out, id);
    if (rc == 0)
        rc = ipvm_buf_append_byte(out, '}');
    if (rc)
        out->len = start;
    return rc;
}

int ipvm_rpc_format_error(ipvm_buf_t *out, const ipvm_ipld_t *id, int code, const char *message)
{
    size_t start = out->len;
    int rc = ipvm_buf_printf(out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":", code);
    if (rc == 0)
        rc = ipvm_json_append_str(out, message, strlen(message));
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "},\"id\":");
    if (rc == 0)
        rc = append_id(out, id);
    if (rc == 0)
        rc = ipvm_buf_append_byte(out, '}');
    if (rc)
        out->len = start;
    return rc;
}

int ipvm_rpc_format_notification(ipvm_buf_t *out, const char *method, const char *subscription,
                                 const char *result_json, size_t len)
{
    size_t start = out->len;
    int rc = ipvm_buf_append_str(out, "{\"jsonrpc\":\"2.0\",\"method\":");
    if (rc == 0)
        rc = ipvm_json_append_str(out, method, strlen(method));
    if (rc == 0)
        rc = ipvm_buf_append_str(out, ",\"params\":{\"subscription\":");
    if (rc == 0)
        rc = ipvm_json_append_str(out, subscription, strlen(subscription));
    if (rc == 0)
        rc = ipvm_buf_append_str(out, ",\"result\":");
    if (rc == 0)
        rc = ipvm_buf_append(out, result_json, len);
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "}}");
    if (rc)
        out->len = start;
    return rc;
}

int ipvm_rpc_bytes_to_json(const uint8_t *bytes, size_t len, ipvm_buf_t *out)
{
    size_t start = out->len;
    /* at most "255," per byte plus the brackets */
    int rc = ipvm_buf_reserve(out, len * 4 + 2);
    if (rc)
        return rc;
    char *p = (char *)out->data + out->len;
    *p++ = '[';
    for (size_t i = 0; i < len; i++) {
        unsigned v = bytes[i];
        if (i)
            *p++ = ',';
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    *p++ = ']';
    out->len = (size_t)(p - (char *)out->data);
    out->data[out->len] = '\0';
    (void)start;
    return 0;
}

int ipvm_rpc_json_to_bytes(const ipvm_ipld_t *v, ipvm_buf_t *out, ipvm_error_t *err)
{
    if (v == NULL || v->kind != IPVM_IPLD_LIST)
        return ipvm_error_set(err, IPVM_EKIND, IPVM_NO_OFFSET, "expected an array of bytes, got %s",
                              v ? ipvm_ipld_kind_name(v->kind) : "nothing");
    size_t start = out->len;
    int rc = ipvm_buf_reserve(out, v->u.list.len);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    for (size_t i = 0; i < v->u.list.len; i++) {
        const ipvm_ipld_t *x = v->u.list.items[i];
        if (x->kind != IPVM_IPLD_INT || x->u.integer.neg || x->u.integer.mag > 255) {
            out->len = start;
            return ipvm_error_set(err, IPVM_EKIND, IPVM_NO_OFFSET,
                                  "byte array item %zu is not an integer 0..255", i);
        }
        out->data[out->len++] = (uint8_t)x->u.integer.mag;
    }
    if (out->data != NULL) /* (an empty array into an empty buffer allocates nothing) */
        out->data[out->len] = '\0';
    return 0;
}
