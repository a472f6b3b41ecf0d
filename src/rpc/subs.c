/* SPDX-License-Identifier: Apache-2.0 */
/* Subscriptions: ids as jsonrpsee makes them (16 random alphanumerics), two hash indexes (by
 * (method, topic) for publishing, by id for unsubscribing) and fan-out of notifications. */
#include "rpc_int.h"

#include <sodium.h>
#include <string.h>

uint64_t ipvm__rpc_hash(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *a; a++)
        h = (h ^ (uint8_t)*a) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *b; b++)
        h = (h ^ (uint8_t)*b) * 1099511628211ull;
    return h;
}

/* Random bytes for ids, drawn from libsodium a block at a time: one getrandom per block
 * instead of one per subscription (each workflow's subscribe makes one). Per thread, as ids
 * are also made on runner threads (default_name). */
#define RANDOM_BLOCK 512
static _Thread_local uint8_t random_pool[RANDOM_BLOCK];
static _Thread_local size_t random_used = RANDOM_BLOCK;

static uint8_t random_byte(void)
{
    if (random_used == RANDOM_BLOCK) {
        randombytes_buf(random_pool, sizeof random_pool);
        random_used = 0;
    }
    uint8_t b = random_pool[random_used];
    random_pool[random_used++] = 0; /* a byte is used once */
    return b;
}

void ipvm__rpc_random_id(char out[17])
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    /* 62 letters, rejection-sampled so each is uniform */
    size_t have = 0;
    while (have < 16) {
        uint8_t b = random_byte();
        if (b < 248) /* 248 = 4 * 62 */
            out[have++] = alnum[b % 62];
    }
    out[16] = '\0';
}

static size_t id_bucket(const char *id)
{
    return (size_t)(ipvm__rpc_hash(id, "") % SUB_BUCKETS);
}

sub_t *ipvm__rpc_sub_find(ipvm_rpc_server_t *s, const char *id)
{
    for (sub_t *x = s->by_id[id_bucket(id)]; x; x = x->inext)
        if (strcmp(x->id, id) == 0)
            return x;
    return NULL;
}

static void unlink_from(sub_t **head, sub_t *sub, size_t next_off)
{
    for (sub_t **pp = head; *pp; pp = (sub_t **)((char *)*pp + next_off)) {
        if (*pp == sub) {
            *pp = *(sub_t **)((char *)sub + next_off);
            return;
        }
    }
}

void ipvm__rpc_sub_remove(ipvm_rpc_server_t *s, sub_t *sub)
{
    unlink_from(&s->by_topic[sub->hash % SUB_BUCKETS], sub, offsetof(sub_t, hnext));
    unlink_from(&s->by_id[id_bucket(sub->id)], sub, offsetof(sub_t, inext));
    unlink_from(&sub->conn->subs, sub, offsetof(sub_t, cnext));
    sub->conn->nsubs--;
    if (strcmp(sub->method, IPVM__RPC_NODE_EVENTS) == 0)
        ipvm__rpc_node_subs_add(s, -1);
    ipvm_free(sub->topic);
    ipvm_free(sub);
}

void ipvm__rpc_conn_drop_subs(conn_t *c)
{
    while (c->subs)
        ipvm__rpc_sub_remove(c->server, c->subs);
}

int ipvm_rpc_call_subscribe(ipvm_rpc_call_t *call, const char *topic, const char **sub_id)
{
    conn_t *c = call->batch->conn;
    ipvm_rpc_server_t *s = c->server;
    IPVM_MISUSE_IF(call->method == NULL || !call->method->subscription);
    if (c->nsubs >= s->opts.max_subscriptions) {
        ipvm_rpc_call_fail(call, IPVM_RPC_SERVER_BUSY,
                           "too many subscriptions on this connection (limit %zu); "
                           "unsubscribe some or open another connection",
                           s->opts.max_subscriptions);
        return IPVM_ETOOBIG;
    }
    sub_t *sub = ipvm_calloc(1, sizeof *sub);
    if (sub)
        sub->topic = ipvm_strdup(topic ? topic : "");
    if (sub == NULL || sub->topic == NULL) {
        ipvm_free(sub);
        ipvm_rpc_call_fail(call, IPVM_RPC_INTERNAL_ERROR, "out of memory");
        return IPVM_ENOMEM;
    }
    do
        ipvm__rpc_random_id(sub->id);
    while (ipvm__rpc_sub_find(s, sub->id) != NULL);
    sub->method = call->method->m.name;
    sub->conn = c;
    sub->hash = ipvm__rpc_hash(sub->method, sub->topic);
    sub->hnext = s->by_topic[sub->hash % SUB_BUCKETS];
    s->by_topic[sub->hash % SUB_BUCKETS] = sub;
    sub->inext = s->by_id[id_bucket(sub->id)];
    s->by_id[id_bucket(sub->id)] = sub;
    sub->cnext = c->subs;
    c->subs = sub;
    c->nsubs++;
    if (strcmp(sub->method, IPVM__RPC_NODE_EVENTS) == 0) /* from now on its events wake the loop */
        ipvm__rpc_node_subs_add(s, 1);
    if (sub_id)
        *sub_id = sub->id;
    char json[24];
    size_t n = (size_t)snprintf(json, sizeof json, "\"%s\"", sub->id);
    /* The answer is queued before any notification the caller publishes afterwards. */
    ipvm_rpc_call_reply(call, json, n);
    return 0;
}

/* Formats and queues one notification; `body` is the JSON text of params.result. */
static void deliver(ipvm_rpc_server_t *s, sub_t *sub, const char *body, size_t len,
                    ipvm_buf_t *scratch)
{
    ipvm_buf_clear(scratch);
    if (ipvm_rpc_format_notification(scratch, sub->method, sub->id, body, len) != 0)
        return;
    if (ipvm__rpc_conn_send(sub->conn, (const char *)scratch->data, scratch->len) == 0) {
        ipvm_metric_inc(s->m_notes, 1);
        ipvm_metric_inc(s->m_note_bytes, scratch->len);
    }
}

size_t ipvm_rpc_server_publish(ipvm_rpc_server_t *s, const char *method, const char *topic,
                               const char *payload, size_t len, bool as_bytes)
{
    if (topic == NULL)
        topic = "";
    uint64_t h = ipvm__rpc_hash(method, topic);
    ipvm_buf_t body = IPVM_BUF_INIT, scratch = IPVM_BUF_INIT;
    size_t reached = 0;
    for (sub_t *x = s->by_topic[h % SUB_BUCKETS], *next; x; x = next) {
        next = x->hnext; /* deliver may drop a slow client, but not its subscriptions */
        if (x->hash != h || strcmp(x->method, method) != 0 || strcmp(x->topic, topic) != 0)
            continue;
        if (as_bytes && body.len == 0 &&
            ipvm_rpc_bytes_to_json((const uint8_t *)payload, len, &body) != 0)
            break;
        const char *b = as_bytes ? (const char *)body.data : payload;
        size_t bl = as_bytes ? body.len : len;
        deliver(s, x, b, bl, &scratch);
        reached++;
    }
    ipvm_buf_dispose(&body);
    ipvm_buf_dispose(&scratch);
    return reached;
}
