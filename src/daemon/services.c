/* SPDX-License-Identifier: Apache-2.0 */
/* The node's services in start order (stopped in reverse): the store (and the health check),
 * the API server, then the services of other areas by weak reference (a service whose file is
 * not built is simply absent; see daemon.h), then the workflow runner last, so that every hook
 * is in place before the first workflow (a resumed one) runs. */
#include "daemon.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

void ipvm__node_set_rpc(ipvm_node_t *n, ipvm_rpc_server_t *s);

/* ---- store: migrates the database at start; answers `health` with a query -------------------- */

typedef struct {
    pthread_mutex_t lock; /* the health check runs on the thread pool */
    ipvm_store_t *store;
} store_svc_t;

static int health_check(void *data, ipvm_error_t *err)
{
    store_svc_t *st = data;
    pthread_mutex_lock(&st->lock);
    int v = ipvm_store_schema_version(st->store);
    pthread_mutex_unlock(&st->lock);
    if (v <= 0)
        return ipvm_error_set(err, IPVM_ESTORE, IPVM_NO_OFFSET, "database query is unreachable");
    return 0;
}

static int store_start(ipvm_node_t *n, void **state, ipvm_error_t *err)
{
    store_svc_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL)
        return IPVM_ENOMEM;
    int rc = ipvm_store_open(ipvm_node_db_path(n), 0, &st->store, err);
    if (rc) {
        ipvm_free(st);
        return rc;
    }
    pthread_mutex_init(&st->lock, NULL);
    *state = st;
    return 0;
}

static void store_stop(ipvm_node_t *n, void *state, void (*done)(ipvm_node_t *))
{
    store_svc_t *st = state;
    ipvm_store_close(st->store);
    pthread_mutex_destroy(&st->lock);
    ipvm_free(st);
    done(n);
}

static const ipvm_node_service_t svc_store = {"store", NULL, store_start, store_stop};

/* ---- rpc: the API server ------------------------------------------------------------------------
 */

typedef struct {
    ipvm_node_t *node;
    ipvm_rpc_server_t *server;
    void (*done)(ipvm_node_t *);
} rpc_svc_t;

/* rpc.socket_mode: an octal mode of permission bits only. */
static int socket_mode(const ipvm_config_t *c, unsigned *out, ipvm_error_t *err)
{
    const char *v = ipvm_config_str(c, "rpc", "socket_mode");
    unsigned m = 0;
    size_t i = 0;
    for (; v && v[i] >= '0' && v[i] <= '7' && m <= 0777; i++)
        m = m * 8 + (unsigned)(v[i] - '0');
    if (v == NULL || i == 0 || v[i] != '\0' || m > 0777 || (m & 0600) != 0600)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "%s: rpc.socket_mode: '%s' is not an octal file mode that lets "
                              "the owner read and write (e.g. 0600, or 0660 for the group too)",
                              ipvm_config_origin(c, "rpc", "socket_mode"), v ? v : "");
    *out = m;
    return 0;
}

static int rpc_start(ipvm_node_t *n, void **state, ipvm_error_t *err)
{
    const ipvm_config_t *c = ipvm_node_config(n);
    if (!ipvm_config_bool(c, "rpc", "enable"))
        return 0;
    unsigned mode = 0;
    int rc = socket_mode(c, &mode, err);
    if (rc)
        return rc;
    rpc_svc_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL)
        return IPVM_ENOMEM;
    ipvm_rpc_server_opts_t o = {0};
    o.host = ipvm_config_str(c, "rpc", "host");
    o.port = (int)ipvm_config_int(c, "rpc", "port");
    o.max_clients = (size_t)ipvm_config_int(c, "rpc", "max_clients");
    o.max_message = (size_t)ipvm_config_int(c, "rpc", "max_message");
    o.client_queue_bytes = (size_t)ipvm_config_int(c, "rpc", "client_queue");
    o.max_subscriptions = (size_t)ipvm_config_int(c, "rpc", "max_subscriptions");
    o.idle_timeout_s = (unsigned)((ipvm_config_int(c, "rpc", "idle_timeout") + 999) / 1000);
    o.handshake_timeout_s =
        (unsigned)((ipvm_config_int(c, "rpc", "handshake_timeout") + 999) / 1000);
    o.metrics = ipvm_node_metrics(n);
    o.node_name = ipvm_config_str(c, "node", "name");
    o.socket_path = ipvm_config_str(c, "rpc", "socket");
    o.socket_mode = mode;
    rc = ipvm_rpc_server_new(ipvm_node_loop(n), &o, &st->server, err);
    if (rc) {
        ipvm_free(st);
        return rc;
    }
    store_svc_t *store = ipvm_node_service_state(n, "store");
    if (store)
        ipvm_rpc_server_set_health(st->server, health_check, store);
    st->node = n;
    ipvm__node_set_rpc(n, st->server);
    *state = st;
    return 0;
}

static void rpc_closed(void *data)
{
    rpc_svc_t *st = data;
    void (*done)(ipvm_node_t *) = st->done;
    ipvm_node_t *n = st->node;
    ipvm_free(st);
    done(n);
}

static void rpc_stop(ipvm_node_t *n, void *state, void (*done)(ipvm_node_t *))
{
    rpc_svc_t *st = state;
    if (st == NULL) {
        done(n);
        return;
    }
    ipvm__node_set_rpc(n, NULL);
    st->done = done;
    ipvm_rpc_server_close(st->server, rpc_closed, st);
}

static const ipvm_node_service_t svc_rpc = {"rpc", NULL, rpc_start, rpc_stop};

/* ---- the list ---------------------------------------------------------------------------------
 */

extern const ipvm_node_service_t ipvm_node_service_sched __attribute__((weak));
extern const ipvm_node_service_t ipvm_node_service_p2p __attribute__((weak));
extern const ipvm_node_service_t ipvm_node_service_trust __attribute__((weak));
extern const ipvm_node_service_t ipvm_node_service_workflows __attribute__((weak));

const ipvm_node_service_t *const ipvm_node_services[] = {
    &svc_store,
    &ipvm_node_service_sched, /* engine, resolver, scheduler (svc_sched.c) */
    &svc_rpc,
    &ipvm_node_service_p2p,       /* libp2p swarm (p2p engineer: svc_p2p.c) */
    &ipvm_node_service_trust,     /* UCAN admission, signing (trust engineer: svc_trust.c) */
    &ipvm_node_service_workflows, /* subscribe_run_workflow, resume (svc_sched.c) */
};
const size_t ipvm_node_nservices = sizeof ipvm_node_services / sizeof ipvm_node_services[0];
