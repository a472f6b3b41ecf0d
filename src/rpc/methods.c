/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in methods of the node API with Homestar's names and result shapes
 * (homestar-runtime webserver/rpc.rs; reference/homestar.md §6.1): rpc_discover, health, metrics,
 * node, subscribe/unsubscribe_network_events; our subscribe_node_events for the dashboard; the
 * method registry and the OpenRPC document built from it. */
#include "rpc_int.h"

#include <stdio.h>
#include <string.h>

/* ---- registry ----------------------------------------------------------------------------- */

static int add(ipvm_rpc_server_t *s, const ipvm_rpc_method_t *m, bool sub, const char *unsub_of)
{
    IPVM_MISUSE_IF(m == NULL || m->name == NULL || m->fn == NULL);
    if (ipvm__rpc_method_find(s, m->name))
        return IPVM_EEXIST;
    if (s->nmethods == s->capmethods) {
        size_t cap = s->capmethods ? s->capmethods * 2 : 32;
        method_t *x = ipvm_realloc(s->methods, cap * sizeof *x);
        if (x == NULL)
            return IPVM_ENOMEM;
        s->methods = x;
        s->capmethods = cap;
    }
    method_t *x = &s->methods[s->nmethods++];
    x->m = *m;
    x->subscription = sub;
    x->unsubscribe_of = unsub_of;
    return 0;
}

int ipvm_rpc_server_add_method(ipvm_rpc_server_t *s, const ipvm_rpc_method_t *m)
{
    return add(s, m, false, NULL);
}

static int m_unsubscribe(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)data;
    const ipvm_ipld_t *id = params && params->kind == IPVM_IPLD_LIST && params->u.list.len == 1
                                ? params->u.list.items[0]
                                : NULL;
    if (id == NULL || id->kind != IPVM_IPLD_STRING) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: expected [\"<subscription id>\"]");
        return 0;
    }
    ipvm_rpc_server_t *s = ipvm_rpc_call_server(call);
    sub_t *sub = ipvm__rpc_sub_find(s, id->u.str.ptr);
    bool ok = sub && sub->conn == call->batch->conn &&
              strcmp(sub->method, call->method->unsubscribe_of) == 0;
    if (ok)
        ipvm__rpc_sub_remove(s, sub);
    ipvm_rpc_call_reply(call, ok ? "true" : "false", ok ? 4 : 5);
    return 0;
}

int ipvm_rpc_server_add_subscription(ipvm_rpc_server_t *s, const ipvm_rpc_method_t *m,
                                     const char *unsubscribe)
{
    IPVM_MISUSE_IF(unsubscribe == NULL);
    if (ipvm__rpc_method_find(s, unsubscribe))
        return IPVM_EEXIST;
    int rc = add(s, m, true, NULL);
    if (rc)
        return rc;
    ipvm_rpc_method_t u = {unsubscribe,
                           "Ends a subscription made with the method it undoes",
                           "[{\"name\":\"subscription\",\"required\":true,"
                           "\"schema\":{\"type\":\"string\"}}]",
                           "{\"name\":\"unsubscribed\",\"schema\":{\"type\":\"boolean\"}}",
                           m_unsubscribe,
                           NULL};
    rc = add(s, &u, false, m->name);
    if (rc)
        s->nmethods--; /* take the subscription method back out */
    return rc;
}

/* ---- OpenRPC ------------------------------------------------------------------------------ */

int ipvm_rpc_server_openrpc(const ipvm_rpc_server_t *s, ipvm_buf_t *out)
{
    size_t start = out->len;
    int rc = ipvm_buf_printf(
        out,
        "{\"openrpc\":\"1.2.6\",\"info\":{\"title\":\"ipvm node API\",\"version\":\"%s\","
        "\"description\":\"JSON-RPC 2.0 over WebSocket, compatible with Homestar's API. "
        "Subscription notifications carry params.subscription and params.result; "
        "for subscribe_run_workflow and subscribe_network_events the result is a JSON array "
        "of the bytes of a DAG-JSON document.\"},\"methods\":[",
        IPVM_VERSION_STRING);
    for (size_t i = 0; rc == 0 && i < s->nmethods; i++) {
        const method_t *m = &s->methods[i];
        rc = ipvm_buf_printf(out, "%s{\"name\":", i ? "," : "");
        if (rc == 0)
            rc = ipvm_json_append_str(out, m->m.name, strlen(m->m.name));
        if (rc == 0)
            rc = ipvm_buf_append_str(out, ",\"summary\":");
        if (rc == 0)
            rc = ipvm_json_append_str(out, m->m.summary ? m->m.summary : "",
                                      m->m.summary ? strlen(m->m.summary) : 0);
        if (rc == 0)
            rc = ipvm_buf_printf(out,
                                 ",\"paramStructure\":\"by-position\",\"params\":%s,"
                                 "\"result\":%s",
                                 m->m.params_json ? m->m.params_json : "[]",
                                 m->m.result_json ? m->m.result_json
                                                  : "{\"name\":\"result\",\"schema\":{}}");
        if (rc == 0 && m->subscription)
            rc = ipvm_buf_printf(out, ",\"x-subscription\":{\"notification\":\"%s\"}", m->m.name);
        if (rc == 0 && m->unsubscribe_of)
            rc = ipvm_buf_printf(out, ",\"x-unsubscribes\":\"%s\"", m->unsubscribe_of);
        if (rc == 0)
            rc = ipvm_buf_append_byte(out, '}');
    }
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "]}");
    if (rc)
        out->len = start;
    return rc;
}

static int m_discover(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)params;
    (void)data;
    ipvm_buf_t doc = IPVM_BUF_INIT, str = IPVM_BUF_INIT;
    /* compat: Homestar answers with the document as a JSON string (serde_json::json!(&str)). */
    int rc = ipvm_rpc_server_openrpc(ipvm_rpc_call_server(call), &doc);
    if (rc == 0)
        rc = ipvm_json_append_str(&str, (const char *)doc.data, doc.len);
    if (rc == 0)
        ipvm_rpc_call_reply(call, (const char *)str.data, str.len);
    ipvm_buf_dispose(&doc);
    ipvm_buf_dispose(&str);
    return rc;
}

/* ---- health (on the thread pool) ------------------------------------------------------------ */

typedef struct {
    uv_work_t req;
    ipvm_rpc_call_t *call;
    ipvm_rpc_server_t *server;
    int rc;
    ipvm_error_t err;
} health_work_t;

static void health_work(uv_work_t *req)
{
    health_work_t *w = req->data;
    ipvm_error_clear(&w->err);
    w->rc = w->server->health ? w->server->health(w->server->health_data, &w->err) : 0;
}

static void health_done(uv_work_t *req, int status)
{
    health_work_t *w = req->data;
    w->server->pending_work--;
    if (status != 0)
        ipvm_rpc_call_fail(w->call, IPVM_RPC_INTERNAL_ERROR, "health check canceled");
    else if (w->rc != 0)
        ipvm_rpc_call_fail(w->call, IPVM_RPC_INTERNAL_ERROR, "unhealthy: %s",
                           w->err.msg[0] ? w->err.msg : ipvm_strerror(w->rc));
    else
        ipvm_rpc_call_reply(w->call, "{\"healthy\":true}", 16);
    ipvm_free(w);
}

static int m_health(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)params;
    (void)data;
    ipvm_rpc_server_t *s = ipvm_rpc_call_server(call);
    if (s->health == NULL) {
        ipvm_rpc_call_reply(call, "{\"healthy\":true}", 16);
        return 0;
    }
    health_work_t *w = ipvm_calloc(1, sizeof *w);
    if (w == NULL)
        return IPVM_ENOMEM;
    w->req.data = w;
    w->call = call;
    w->server = s;
    int rc = uv_queue_work(s->loop, &w->req, health_work, health_done);
    if (rc) {
        ipvm_free(w);
        return rc;
    }
    s->pending_work++;
    return 0;
}

/* ---- metrics, node ----------------------------------------------------------------------------
 */

static int m_metrics(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)data;
    /* compat: Homestar accepts an optional {"prefix": s} and ignores it; so do we. */
    if (params && params->kind == IPVM_IPLD_LIST && params->u.list.len > 1) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: expected nothing or [{\"prefix\": \"...\"}]");
        return 0;
    }
    ipvm_rpc_server_t *s = ipvm_rpc_call_server(call);
    ipvm_buf_t out = IPVM_BUF_INIT;
    int rc = s->opts.metrics ? ipvm_metrics_render_json(s->opts.metrics, &out)
                             : ipvm_buf_append_str(&out, "{\"metrics\":[]}");
    if (rc == 0)
        ipvm_rpc_call_reply(call, (const char *)out.data, out.len);
    ipvm_buf_dispose(&out);
    return rc;
}

/* The answer without a p2p swarm: no peer id yet, no listeners, no connections. */
static int default_node_info(ipvm_rpc_server_t *s, ipvm_buf_t *out)
{
    (void)s;
    return ipvm_buf_append_str(out, "{\"dynamic\":{\"connections\":{},\"listeners\":[]},"
                                    "\"static\":{\"peer_id\":null}}");
}

int ipvm__rpc_node_info_json(ipvm_rpc_server_t *s, ipvm_buf_t *out)
{
    if (s->node_info == NULL)
        return default_node_info(s, out);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    int rc = s->node_info(s->node_info_data, &a, &v);
    if (rc == 0)
        rc = ipvm_dagjson_encode(v, 0, out, NULL);
    ipvm_arena_dispose(&a);
    return rc;
}

static int m_node(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)params;
    (void)data;
    ipvm_buf_t out = IPVM_BUF_INIT;
    int rc = ipvm__rpc_node_info_json(ipvm_rpc_call_server(call), &out);
    if (rc == 0)
        ipvm_rpc_call_reply(call, (const char *)out.data, out.len);
    ipvm_buf_dispose(&out);
    return rc;
}

/* ---- subscriptions to node-wide streams ---------------------------------------------------------
 */

static int m_sub_all(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)data;
    if (params && params->kind == IPVM_IPLD_LIST && params->u.list.len > 0) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS, "Invalid params: takes none");
        return 0;
    }
    (void)ipvm_rpc_call_subscribe(call, "", NULL);
    return 0;
}

/* subscribe_node_events takes nothing (every event) or ["<workflow CID>"] (that workflow's). */
static int m_sub_node(ipvm_rpc_call_t *call, const ipvm_ipld_t *params, void *data)
{
    (void)data;
    const ipvm_ipld_t *cid = NULL;
    if (params &&
        (params->kind != IPVM_IPLD_LIST || params->u.list.len > 1 ||
         (params->u.list.len == 1 && (cid = params->u.list.items[0])->kind != IPVM_IPLD_STRING))) {
        ipvm_rpc_call_fail(call, IPVM_RPC_INVALID_PARAMS,
                           "Invalid params: expected nothing or [\"<workflow CID>\"]");
        return 0;
    }
    (void)ipvm_rpc_call_subscribe(call, cid ? cid->u.str.ptr : "", NULL);
    return 0;
}

int ipvm_rpc_server_publish_event(ipvm_rpc_server_t *s, const char *event,
                                  const ipvm_ipld_t *fields)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_buf_t doc = IPVM_BUF_INIT;
    int rc = IPVM_ENOMEM;
    ipvm_ipld_t *root = ipvm_ipld_new_map(&a, 1);
    ipvm_ipld_t *body = fields ? ipvm_ipld_clone(&a, fields) : ipvm_ipld_new_map(&a, 1);
    ipvm_ipld_t *ts = ipvm_ipld_new_uint(&a, ipvm_wall_ms());
    if (root && body && ts && body->kind == IPVM_IPLD_MAP &&
        ipvm_ipld_map_set_cstr(&a, body, "timestamp", ts) == 0 &&
        ipvm_ipld_map_set_cstr(&a, root, event, body) == 0)
        rc = ipvm_dagjson_encode(root, 0, &doc, NULL);
    if (rc == 0)
        rc = ipvm_rpc_server_publish_async(s, "subscribe_network_events", "",
                                           (const char *)doc.data, doc.len, true);
    ipvm_buf_dispose(&doc);
    ipvm_arena_dispose(&a);
    return rc;
}

void ipvm_rpc_server_node_event(ipvm_rpc_server_t *s, const char *type, const char *payload_json,
                                size_t len)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    /* {"type":T, ...payload's members}: payload is an object "{...}" */
    int rc = ipvm_buf_append_str(&b, "{\"type\":");
    if (rc == 0)
        rc = ipvm_json_append_str(&b, type, strlen(type));
    if (rc == 0 && len > 2)
        rc = ipvm_buf_append_byte(&b, ',');
    if (rc == 0 && len > 2)
        rc = ipvm_buf_append(&b, payload_json + 1, len - 2);
    if (rc == 0)
        rc = ipvm_buf_append_byte(&b, '}');
    if (rc == 0)
        (void)ipvm_rpc_server_publish(s, "subscribe_node_events", "", (const char *)b.data, b.len,
                                      false);
    ipvm_buf_dispose(&b);
}

/* ---- the table ----------------------------------------------------------------------------------
 */

#define NONE "[]"
static const ipvm_rpc_method_t builtin[] = {
    {"rpc_discover", "The OpenRPC document of this API, as a JSON string (Homestar's shape)", NONE,
     "{\"name\":\"OpenRPC document\",\"schema\":{\"type\":\"string\"}}", m_discover, NULL},
    {"health", "Whether the node and its database answer", NONE,
     "{\"name\":\"health\",\"schema\":{\"type\":\"object\",\"properties\":{\"healthy\":"
     "{\"type\":\"boolean\"}},\"required\":[\"healthy\"]}}",
     m_health, NULL},
    {"metrics", "Prometheus metrics as JSON: {metrics: [{metric_type, metric_name, help, data}]}",
     "[{\"name\":\"options\",\"required\":false,\"schema\":{\"type\":\"object\",\"properties\":"
     "{\"prefix\":{\"type\":\"string\"}}}}]",
     "{\"name\":\"metrics\",\"schema\":{\"type\":\"object\",\"properties\":{\"metrics\":"
     "{\"type\":\"array\"}},\"required\":[\"metrics\"]}}",
     m_metrics, NULL},
    {"node",
     "Node identity and network state: {static: {peer_id}, dynamic: {listeners, "
     "connections}}",
     NONE,
     "{\"name\":\"node_info\",\"schema\":{\"type\":\"object\",\"properties\":{\"static\":"
     "{\"type\":\"object\"},\"dynamic\":{\"type\":\"object\"}},\"required\":[\"static\","
     "\"dynamic\"]}}",
     m_node, NULL},
};

static const ipvm_rpc_method_t subs[] = {
    {"subscribe_network_events",
     "Network events, each notification a DAG-JSON document {\"<event>\": {timestamp, ...}} "
     "sent as an array of bytes",
     NONE, "{\"name\":\"subscription id\",\"schema\":{\"type\":\"string\"}}", m_sub_all, NULL},
    {"subscribe_node_events",
     "ipvm extension for the dashboard: every workflow, receipt and metrics sample of the node "
     "as plain JSON objects {type, ...}; with [\"<workflow CID>\"] only that workflow's",
     "[{\"name\":\"workflow\",\"required\":false,\"schema\":{\"type\":\"string\"}}]",
     "{\"name\":\"subscription id\",\"schema\":{\"type\":\"string\"}}", m_sub_node, NULL},
};

int ipvm__rpc_add_builtin_methods(ipvm_rpc_server_t *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof builtin / sizeof builtin[0]; i++)
        rc = ipvm_rpc_server_add_method(s, &builtin[i]);
    if (rc == 0)
        rc = ipvm_rpc_server_add_subscription(s, &subs[0], "unsubscribe_network_events");
    if (rc == 0)
        rc = ipvm_rpc_server_add_subscription(s, &subs[1], "unsubscribe_node_events");
    return rc;
}
