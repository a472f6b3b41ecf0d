/* SPDX-License-Identifier: Apache-2.0 */
/* The API server over real sockets: Homestar's built-in methods and result shapes, JSON-RPC
 * errors, batches, subscriptions and publishing, plain HTTP routes. */
#include "rpc_fixture.h"
#include "rpc/rpc_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static ipvm_ipld_t *decode(ipvm_arena_t *a, const ipvm_buf_t *b)
{
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode((const char *)b->data, b->len, a, &v, &err), &err);
    return v;
}

IPVM_TEST(rpc, server_builtin_methods)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c = rpc_fixture_client(f);
    ipvm_buf_t r = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);

    rpc_fixture_call_ok(c, "health", NULL, &r);
    IPVM_ASSERT_STREQ((char *)r.data, "{\"healthy\":true}");

    rpc_fixture_call_ok(c, "node", NULL, &r);
    ipvm_ipld_t *v = decode(&a, &r);
    IPVM_ASSERT(ipvm_ipld_map_get(v, "static") != NULL);
    IPVM_ASSERT(ipvm_ipld_select(v, "dynamic/listeners") != NULL);
    IPVM_ASSERT_EQ(ipvm_ipld_select(v, "dynamic/connections")->kind, IPVM_IPLD_MAP);

    /* rpc_discover: a JSON string holding the OpenRPC document with every method */
    rpc_fixture_call_ok(c, "rpc_discover", NULL, &r);
    v = decode(&a, &r);
    IPVM_ASSERT_EQ(v->kind, IPVM_IPLD_STRING);
    ipvm_ipld_t *doc = NULL;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode(v->u.str.ptr, v->u.str.len, &a, &doc, &err), &err);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(doc, "openrpc"), "1.2.6"));
    const ipvm_ipld_t *methods = ipvm_ipld_map_get(doc, "methods");
    const char *want[] = {"rpc_discover",
                          "health",
                          "metrics",
                          "node",
                          "subscribe_network_events",
                          "unsubscribe_network_events"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        for (size_t j = 0; j < methods->u.list.len; j++)
            found |= ipvm_ipld_is_str(ipvm_ipld_map_get(methods->u.list.items[j], "name"), want[i]);
        IPVM_ASSERT_MSG(found, "rpc_discover lacks %s", want[i]);
    }

    /* metrics: Homestar's JSON shape; rpc_clients counts this client */
    rpc_fixture_call_ok(c, "metrics", NULL, &r);
    v = decode(&a, &r);
    const ipvm_ipld_t *list = ipvm_ipld_map_get(v, "metrics");
    IPVM_ASSERT(list && list->kind == IPVM_IPLD_LIST && list->u.list.len > 0);
    bool saw_clients = false;
    for (size_t j = 0; j < list->u.list.len; j++) {
        const ipvm_ipld_t *m = list->u.list.items[j];
        IPVM_ASSERT(ipvm_ipld_map_get(m, "metric_type") && ipvm_ipld_map_get(m, "help"));
        if (ipvm_ipld_is_str(ipvm_ipld_map_get(m, "metric_name"), "ipvm_rpc_clients")) {
            saw_clients = true;
            IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(m, "data/0/value"), "1"));
        }
    }
    IPVM_ASSERT(saw_clients);
    ipvm_buf_dispose(&r);
    ipvm_arena_dispose(&a);
    ipvm_rpc_client_free(c);
    rpc_fixture_stop(f);
}

IPVM_TEST(rpc, server_errors)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c = rpc_fixture_client(f);
    ipvm_buf_t r = IPVM_BUF_INIT;
    ipvm_error_t err;
    int code = 0;
    IPVM_ASSERT_ERR(ipvm_rpc_client_call(c, "no_such_method", NULL, 5000, &r, &code, &err),
                    IPVM_ERPC);
    IPVM_ASSERT_EQ(code, IPVM_RPC_METHOD_NOT_FOUND);
    IPVM_ASSERT_STRCONTAINS(err.msg, "no_such_method");
    IPVM_ASSERT_ERR(
        ipvm_rpc_client_call(c, "unsubscribe_network_events", "[1,2]", 5000, &r, &code, &err),
        IPVM_ERPC);
    IPVM_ASSERT_EQ(code, IPVM_RPC_INVALID_PARAMS);
    IPVM_ASSERT_ERR(ipvm_rpc_client_call(c, "metrics", "[1,2,3]", 5000, &r, &code, &err),
                    IPVM_ERPC);
    IPVM_ASSERT_EQ(code, IPVM_RPC_INVALID_PARAMS);
    /* an unknown subscription id is not an error: false */
    rpc_fixture_call_ok(c, "unsubscribe_network_events", "[\"nope\"]", &r);
    IPVM_ASSERT_STREQ((char *)r.data, "false");
    /* the connection still works after errors */
    rpc_fixture_call_ok(c, "health", "[]", &r);
    IPVM_ASSERT_STREQ((char *)r.data, "{\"healthy\":true}");
    ipvm_buf_dispose(&r);
    ipvm_rpc_client_free(c);
    rpc_fixture_stop(f);
}

/* Publishes one network event from the loop thread. */
static void publish_event(ipvm_rpc_server_t *s, void *data)
{
    (void)data;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 2);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "peer_id", ipvm_ipld_new_cstring(&a, "12D3x")));
    IPVM_ASSERT_OK(ipvm_rpc_server_publish_event(s, "connection_established", m));
    ipvm_arena_dispose(&a);
}

IPVM_TEST(rpc, server_network_events)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c = rpc_fixture_client(f);
    ipvm_buf_t r = IPVM_BUF_INIT, note = IPVM_BUF_INIT;
    rpc_fixture_call_ok(c, "subscribe_network_events", NULL, &r);
    IPVM_ASSERT_EQ(r.len, 18); /* "16 characters" */
    char id[17];
    memcpy(id, r.data + 1, 16);
    id[16] = '\0';
    rpc_fixture_call(f, publish_event, NULL);
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_next(c, 5000, &note, &err), &err);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = decode(&a, &note);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(v, "method"), "subscribe_network_events"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "params/subscription"), id));
    /* params.result is the DAG-JSON document's bytes as numbers */
    ipvm_buf_t bytes = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_rpc_json_to_bytes(ipvm_ipld_select(v, "params/result"), &bytes, &err));
    ipvm_ipld_t *doc = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((char *)bytes.data, bytes.len, &a, &doc, &err));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(doc, "connection_established/peer_id"), "12D3x"));
    uint64_t ts = 0;
    IPVM_ASSERT_OK(
        ipvm_ipld_get_u64(ipvm_ipld_select(doc, "connection_established/timestamp"), &ts));
    IPVM_ASSERT_LT(ipvm_wall_ms() - ts, 60000);
    /* unsubscribe: true, then nothing more arrives */
    char params[40];
    snprintf(params, sizeof params, "[\"%s\"]", id);
    rpc_fixture_call_ok(c, "unsubscribe_network_events", params, &r);
    IPVM_ASSERT_STREQ((char *)r.data, "true");
    rpc_fixture_call(f, publish_event, NULL);
    IPVM_ASSERT_ERR(ipvm_rpc_client_next(c, 300, &note, &err), IPVM_ETIMEDOUT);
    ipvm_buf_dispose(&bytes);
    ipvm_buf_dispose(&r);
    ipvm_buf_dispose(&note);
    ipvm_arena_dispose(&a);
    ipvm_rpc_client_free(c);
    rpc_fixture_stop(f);
}

/* Publishes five network events at once from the loop thread: their notifications leave
 * back to back, before the client runs its loop again, so several reach it in one read (strace:
 * 4 + 1 and 3 + 2 notifications per recvfrom). */
static void publish_five(ipvm_rpc_server_t *s, void *data)
{
    (void)data;
    for (int i = 0; i < 5; i++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        char peer[8];
        snprintf(peer, sizeof peer, "p%d", i);
        ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 1);
        IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "peer_id", ipvm_ipld_new_cstring(&a, peer)));
        IPVM_ASSERT_OK(ipvm_rpc_server_publish_event(s, "connection_established", m));
        ipvm_arena_dispose(&a);
    }
}

/* The peer_id of a network-event notification. */
static void note_peer_is(const ipvm_buf_t *note, const char *peer)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = decode(&a, note);
    ipvm_buf_t bytes = IPVM_BUF_INIT;
    ipvm_error_t err;
    IPVM_ASSERT(ipvm_ipld_map_get(v, "id") == NULL);
    IPVM_ASSERT_OK(ipvm_rpc_json_to_bytes(ipvm_ipld_select(v, "params/result"), &bytes, &err));
    ipvm_ipld_t *doc = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode((char *)bytes.data, bytes.len, &a, &doc, &err));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(doc, "connection_established/peer_id"), peer));
    ipvm_buf_dispose(&bytes);
    ipvm_arena_dispose(&a);
}

/* Several notifications that arrive together are all delivered, in order and whole: a call
 * made meanwhile gets its own answer past them (they stay queued), ipvm_rpc_client_next and
 * ipvm_rpc_client_take hand each one over in turn, then nothing more is there. */
IPVM_TEST(rpc, client_notes_in_one_read)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c = rpc_fixture_client(f);
    ipvm_buf_t r = IPVM_BUF_INIT, note = IPVM_BUF_INIT;
    ipvm_error_t err;
    rpc_fixture_call_ok(c, "subscribe_network_events", NULL, &r);
    for (int round = 0; round < 2; round++) {
        rpc_fixture_call(f, publish_five, NULL);
        rpc_fixture_call_ok(c, "health", NULL, &r); /* read with (or after) the five */
        IPVM_ASSERT_STREQ((char *)r.data, "{\"healthy\":true}");
        for (int i = 0; i < 5; i++) {
            char peer[8];
            snprintf(peer, sizeof peer, "p%d", i);
            uint64_t id = 99;
            if (round == 0)
                IPVM_ASSERT_OK_ERR(ipvm_rpc_client_next(c, 5000, &note, &err), &err);
            else
                IPVM_ASSERT_EQ(ipvm_rpc_client_take(c, &note, &id), 1); /* already here */
            IPVM_ASSERT(round == 0 || id == 0);
            IPVM_ASSERT_EQ(strlen((char *)note.data), note.len); /* NUL-terminated, whole */
            note_peer_is(&note, peer);
        }
        IPVM_ASSERT_EQ(ipvm_rpc_client_take(c, &note, NULL), 0);
    }
    ipvm_buf_dispose(&r);
    ipvm_buf_dispose(&note);
    ipvm_rpc_client_free(c);
    rpc_fixture_stop(f);
}

/* One network event with this peer_id, published from any thread (publish_async). */
static void publish_peer(ipvm_rpc_server_t *s, const char *peer)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *m = ipvm_ipld_new_map(&a, 1);
    IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(&a, m, "peer_id", ipvm_ipld_new_cstring(&a, peer)));
    IPVM_ASSERT_OK(ipvm_rpc_server_publish_event(s, "connection_established", m));
    ipvm_arena_dispose(&a);
}

static void nap_50ms(void)
{
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
}

typedef struct burst_s {
    ipvm_rpc_server_t *s;
    int n;
} burst_t;

static void *burst_main(void *arg)
{
    burst_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        char peer[16];
        snprintf(peer, sizeof peer, "b%d", i);
        publish_peer(b->s, peer);
    }
    return NULL;
}

/* On the loop, awake as in any lws callback: another thread posts a burst meanwhile, and
 * those posts send no wake-up (server.c pub_enqueue); the loop must deliver them all the same,
 * before it sleeps. */
static void burst_while_awake(ipvm_rpc_server_t *s, void *data)
{
    burst_t *b = data;
    b->s = s;
    ipvm__rpc_loop_awake(s);
    pthread_t t;
    IPVM_ASSERT_EQ(pthread_create(&t, NULL, burst_main, b), 0);
    IPVM_ASSERT_EQ(pthread_join(t, NULL), 0);
}

static void lazy_publish(ipvm_rpc_server_t *s, void *data)
{
    publish_peer(s, data);
}

/* Posts from other threads are not lost whatever the loop is doing: made while it is awake
 * (no wake-up sent) they are delivered before it sleeps, in order; made while it sleeps they
 * wake it; a lazy post (no node-event subscriber) waits for the loop's next wake-up, and wakes
 * it as soon as someone subscribes to node events. */
IPVM_TEST(rpc, server_posts_while_awake)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c = rpc_fixture_client(f);
    ipvm_buf_t r = IPVM_BUF_INIT, note = IPVM_BUF_INIT;
    ipvm_error_t err;
    rpc_fixture_call_ok(c, "subscribe_network_events", NULL, &r);
    burst_t b = {NULL, 50};
    for (int round = 0; round < 3; round++) {
        rpc_fixture_call(f, burst_while_awake, &b);
        for (int i = 0; i < b.n; i++) {
            char peer[16];
            snprintf(peer, sizeof peer, "b%d", i);
            IPVM_ASSERT_OK_ERR(ipvm_rpc_client_next(c, 5000, &note, &err), &err);
            note_peer_is(&note, peer);
        }
        /* the loop sleeps now: a post from this thread wakes it */
        publish_peer(b.s, "asleep");
        IPVM_ASSERT_OK_ERR(ipvm_rpc_client_next(c, 5000, &note, &err), &err);
        note_peer_is(&note, "asleep");
    }
    /* lazy, nobody subscribed to node events: delivered at the next wake-up (this call's) */
    nap_50ms(); /* the loop is asleep */
    IPVM_ASSERT_OK(ipvm__rpc_post_lazy(b.s, lazy_publish, "lazy1"));
    rpc_fixture_call_ok(c, "health", NULL, &r);
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_next(c, 5000, &note, &err), &err);
    note_peer_is(&note, "lazy1");
    /* with a node-event subscriber a lazy post wakes the loop by itself */
    rpc_fixture_call_ok(c, "subscribe_node_events", NULL, &r);
    nap_50ms();
    IPVM_ASSERT_OK(ipvm__rpc_post_lazy(b.s, lazy_publish, "lazy2"));
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_next(c, 2000, &note, &err), &err);
    note_peer_is(&note, "lazy2");
    ipvm_buf_dispose(&r);
    ipvm_buf_dispose(&note);
    ipvm_rpc_client_free(c);
    rpc_fixture_stop(f);
}

/* A raw HTTP GET over a plain socket; returns the status and the body in `body`. */
static int http_get(int port, const char *path, ipvm_buf_t *resp)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    IPVM_ASSERT(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    IPVM_ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return rpc_fixture_http_get_fd(fd, path, resp);
}

IPVM_TEST(rpc, server_http_routes)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    int port = rpc_fixture_port(f);
    ipvm_buf_t resp = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(http_get(port, "/health", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "{\"healthy\":true}");
    IPVM_ASSERT_EQ(http_get(port, "/metrics", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "# TYPE ipvm_rpc_clients gauge\nipvm_rpc_clients 0");
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "text/plain; version=0.0.4");
    IPVM_ASSERT_EQ(http_get(port, "/", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "<!doctype html>");
    IPVM_ASSERT_EQ(http_get(port, "/rpc_discover", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "\"openrpc\":\"1.2.6\"");
    IPVM_ASSERT_EQ(http_get(port, "/node", &resp), 200);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "\"static\"");
    IPVM_ASSERT_EQ(http_get(port, "/nope", &resp), 404);
    IPVM_ASSERT_STRCONTAINS((char *)resp.data, "/health");
    ipvm_buf_dispose(&resp);
    rpc_fixture_stop(f);
}

/* Polls the shared loop until client c has a message; returns it (into msg) and its id. */
static uint64_t take_one(ipvm_rpc_client_t *c, ipvm_buf_t *msg)
{
    uint64_t id = 99;
    uint64_t deadline = ipvm_now_ns() + (uint64_t)(5e9 * ipvm_test_timeout_multiplier());
    int rc;
    while ((rc = ipvm_rpc_client_take(c, msg, &id)) == 0) {
        IPVM_ASSERT_LT(ipvm_now_ns(), deadline);
        (void)ipvm_rpc_client_poll(c, 500);
    }
    IPVM_ASSERT_EQ(rc, 1);
    return id;
}

/* The top-level member's text (the scan must read it). */
static void member_is(const ipvm_buf_t *msg, const char *key, const char *want)
{
    const char *v;
    size_t vl;
    IPVM_ASSERT_OK(ipvm_rpc_json_member((char *)msg->data, msg->len, key, &v, &vl));
    IPVM_ASSERT_MEMEQ(v, vl, want, strlen(want));
}

/* A notification for exactly this subscription. */
static void note_is(const ipvm_buf_t *msg, const char *sub)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = decode(&a, msg);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(v, "method"), "subscribe_network_events"));
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "params/subscription"), sub));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "id") == NULL);
    ipvm_arena_dispose(&a);
}

/* Three clients on one loop and one thread (ipvm_rpc_client_connect_also): each gets its own
 * answers (all three use id 1 first) and its own subscription's notifications; a blocking call
 * on one keeps what arrives for the others in their inboxes; freeing them in any order leaves
 * the rest working. */
IPVM_TEST(rpc, client_shared_loop)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c[3];
    ipvm_error_t err;
    c[0] = rpc_fixture_client(f);
    for (int i = 1; i < 3; i++)
        IPVM_ASSERT_OK_ERR(
            ipvm_rpc_client_connect_also(c[0], rpc_fixture_url(f), 5000, &c[i], &err), &err);
    ipvm_buf_t msg = IPVM_BUF_INIT, r = IPVM_BUF_INIT;
    char sub[3][17];
    for (int i = 0; i < 3; i++) {
        uint64_t id = 0;
        IPVM_ASSERT_OK_ERR(ipvm_rpc_client_send(c[i], "subscribe_network_events", NULL, &id, &err),
                           &err);
        IPVM_ASSERT_EQ_U64(id, 1); /* ids are per connection */
    }
    for (int i = 2; i >= 0; i--) {
        IPVM_ASSERT_EQ_U64(take_one(c[i], &msg), 1);
        const char *v;
        size_t vl;
        IPVM_ASSERT_OK(ipvm_rpc_json_member((char *)msg.data, msg.len, "result", &v, &vl));
        IPVM_ASSERT_EQ(vl, 18);
        memcpy(sub[i], v + 1, 16);
        sub[i][16] = '\0';
        IPVM_ASSERT_EQ(ipvm_rpc_client_take(c[i], &msg, NULL), 0); /* nothing else */
    }
    IPVM_ASSERT(strcmp(sub[0], sub[1]) != 0 && strcmp(sub[1], sub[2]) != 0 &&
                strcmp(sub[0], sub[2]) != 0);

    /* one event, three notifications; a blocking call on c[1] runs the loop meanwhile */
    rpc_fixture_call(f, publish_event, NULL);
    rpc_fixture_call_ok(c[1], "health", NULL, &r);
    IPVM_ASSERT_STREQ((char *)r.data, "{\"healthy\":true}");
    for (int i = 0; i < 3; i++) {
        IPVM_ASSERT_EQ_U64(take_one(c[i], &msg), 0);
        note_is(&msg, sub[i]);
    }

    /* an answer with no integer id (a parse error's id is null) is taken with id 0 */
    uint64_t id = 0;
    IPVM_ASSERT_OK(ipvm_rpc_client_send(c[2], "health", "[", &id, &err));
    IPVM_ASSERT_EQ_U64(take_one(c[2], &msg), 0);
    member_is(&msg, "id", "null");
    IPVM_ASSERT_STRCONTAINS((char *)msg.data, "-32700");

    /* c[2] unsubscribes: the next event reaches c[0] and c[1] only */
    char params[40];
    snprintf(params, sizeof params, "[\"%s\"]", sub[2]);
    rpc_fixture_call_ok(c[2], "unsubscribe_network_events", params, &r);
    IPVM_ASSERT_STREQ((char *)r.data, "true");
    rpc_fixture_call(f, publish_event, NULL);
    for (int i = 0; i < 2; i++) {
        IPVM_ASSERT_EQ_U64(take_one(c[i], &msg), 0);
        note_is(&msg, sub[i]);
    }
    IPVM_ASSERT_ERR(ipvm_rpc_client_next(c[2], 300, &msg, &err), IPVM_ETIMEDOUT);

    /* freed out of order: the others still talk */
    ipvm_rpc_client_free(c[1]);
    rpc_fixture_call_ok(c[0], "health", NULL, &r);
    rpc_fixture_call_ok(c[2], "health", NULL, &r);
    ipvm_rpc_client_free(c[0]);
    rpc_fixture_call_ok(c[2], "health", NULL, &r);
    IPVM_ASSERT_STREQ((char *)r.data, "{\"healthy\":true}");
    ipvm_rpc_client_free(c[2]);
    ipvm_buf_dispose(&msg);
    ipvm_buf_dispose(&r);
    rpc_fixture_stop(f);
}

/* Takes c's next message (polling for it): an answer with this id whose member `key` is `want`
 * (its text). */
static void answer_is(ipvm_rpc_client_t *c, uint64_t id, const char *key, const char *want,
                      ipvm_buf_t *msg)
{
    IPVM_ASSERT_EQ_U64(take_one(c, msg), id);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%llu", (unsigned long long)id);
    member_is(msg, "id", idtext);
    member_is(msg, key, want);
}

/* ipvm_rpc_client_send_batch: an unsubscribe and the next subscribe in one message; the node's
 * one array of answers is split so that each is taken with its own id, in order, and the new
 * subscription's notifications come (the old one's do not); an error answers its own member
 * only; a blocking call made behind a batch gets its answer, the batch's stay queued. */
IPVM_TEST(rpc, client_batch)
{
    rpc_fixture_t *f = rpc_fixture_start(NULL, NULL, NULL);
    ipvm_rpc_client_t *c = rpc_fixture_client(f);
    ipvm_buf_t r = IPVM_BUF_INIT, msg = IPVM_BUF_INIT;
    ipvm_error_t err;
    rpc_fixture_call_ok(c, "subscribe_network_events", NULL, &r);
    IPVM_ASSERT_EQ(r.len, 18);
    char old[17], sub[17], params[40];
    memcpy(old, r.data + 1, 16);
    old[16] = '\0';
    snprintf(params, sizeof params, "[\"%s\"]", old);
    ipvm_rpc_client_req_t two[] = {{.method = "unsubscribe_network_events", .params_json = params},
                                   {.method = "subscribe_network_events"}};
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_send_batch(c, two, 2, &err), &err);
    IPVM_ASSERT_EQ_U64(two[0].id, 2);
    IPVM_ASSERT_EQ_U64(two[1].id, 3);
    answer_is(c, 2, "result", "true", &msg);
    IPVM_ASSERT_EQ_U64(take_one(c, &msg), 3);
    const char *v;
    size_t vl;
    IPVM_ASSERT_OK(ipvm_rpc_json_member((char *)msg.data, msg.len, "result", &v, &vl));
    IPVM_ASSERT_EQ(vl, 18);
    memcpy(sub, v + 1, 16);
    sub[16] = '\0';
    IPVM_ASSERT(strcmp(sub, old) != 0);
    IPVM_ASSERT_EQ(strlen((char *)msg.data), msg.len); /* a member alone, NUL-terminated */
    IPVM_ASSERT_EQ(ipvm_rpc_client_take(c, &msg, NULL), 0);
    rpc_fixture_call(f, publish_event, NULL);
    IPVM_ASSERT_EQ_U64(take_one(c, &msg), 0);
    note_is(&msg, sub); /* one notification, of the new subscription only */
    IPVM_ASSERT_ERR(ipvm_rpc_client_next(c, 300, &msg, &err), IPVM_ETIMEDOUT);

    /* an error in the middle member: its own answer, the others answered as usual */
    ipvm_rpc_client_req_t three[] = {
        {.method = "health"},
        {.method = "no_such_method", .params_json = "[]"},
        {.method = "unsubscribe_network_events", .params_json = "[1]"}};
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_send_batch(c, three, 3, &err), &err);
    rpc_fixture_call_ok(c, "health", NULL, &r); /* answered behind the batch */
    IPVM_ASSERT_STREQ((char *)r.data, "{\"healthy\":true}");
    answer_is(c, three[0].id, "result", "{\"healthy\":true}", &msg);
    answer_is(c, three[1].id, "jsonrpc", "\"2.0\"", &msg);
    IPVM_ASSERT_STRCONTAINS((char *)msg.data, "\"code\":-32601");
    IPVM_ASSERT_ERR(ipvm_rpc_json_member((char *)msg.data, msg.len, "result", &v, &vl),
                    IPVM_ENOENT);
    answer_is(c, three[2].id, "jsonrpc", "\"2.0\"", &msg);
    IPVM_ASSERT_STRCONTAINS((char *)msg.data, "\"code\":-32602");
    IPVM_ASSERT_EQ(ipvm_rpc_client_take(c, &msg, NULL), 0);

    /* the subscription still works after the batches; a batch of one is an array too */
    ipvm_rpc_client_req_t one[] = {{.method = "health"}};
    IPVM_ASSERT_OK_ERR(ipvm_rpc_client_send_batch(c, one, 1, &err), &err);
    answer_is(c, one[0].id, "result", "{\"healthy\":true}", &msg);
    rpc_fixture_call(f, publish_event, NULL);
    IPVM_ASSERT_EQ_U64(take_one(c, &msg), 0);
    note_is(&msg, sub);
    ipvm_buf_dispose(&r);
    ipvm_buf_dispose(&msg);
    ipvm_rpc_client_free(c);
    rpc_fixture_stop(f);
}
