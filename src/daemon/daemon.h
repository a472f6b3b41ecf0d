/* SPDX-License-Identifier: Apache-2.0 */
/* The `ipvm node` daemon: one libuv loop on the main thread, a list of services started in
 * order and stopped in reverse, settings from ipvm.conf + IPVM_* variables + flags, a locked pid
 * file, and SIGTERM draining. Compiled into the `ipvm` program only.
 *
 * How another area plugs in (p2p, trust): write src/daemon/svc_<name>.c defining
 *     const ipvm_node_service_t ipvm_node_service_<name> = {"<name>", keys, start, stop};
 * The list in services.c names p2p and trust by weak reference, so the file is picked up by
 * being built; nothing else changes. In start (loop thread, after store, sched and the RPC
 * server are up and before workflows resume):
 *  - read your [section] with ipvm_config_str/int/bool(ipvm_node_config(node), "p2p", ...);
 *    declare its keys in `keys` (they are registered before the config is read, and
 *    `ipvm node init` documents them);
 *  - open your handles on ipvm_node_loop(node);
 *  - set scheduler hooks with ipvm_sched_set_net_hooks / set_trust_hooks on ipvm_node_sched();
 *  - report network events with ipvm_rpc_server_publish_event(ipvm_node_rpc(node), "event",
 *    fields) from any thread; they reach subscribe_network_events clients and the dashboard;
 *  - answer the `node` method with ipvm_rpc_server_set_node_info(ipvm_node_rpc(node), ...);
 *  - add JSON-RPC methods with ipvm_rpc_server_add_method(ipvm_node_rpc(node), ...);
 *  - admit or refuse submitted workflows (UCAN) with ipvm_node_set_admit(node, fn, data).
 * stop(node, state, done) drains and calls done(node) once, on the loop thread. */
#ifndef IPVM_DAEMON_H
#define IPVM_DAEMON_H

#include "ipvm.h"
#include "ipvm/rpc.h"
#include "ipvm/sched.h"

#include <uv.h>

typedef struct ipvm_node_s ipvm_node_t;

typedef struct ipvm_node_service_s {
    const char *name;
    const ipvm_conf_key_t *keys; /* the service's config section, {NULL}-terminated, or NULL */
    /* Starts the service; *state is passed back to stop. Non-zero (with err filled) aborts the
     * node's start: services already started are stopped. */
    int (*start)(ipvm_node_t *node, void **state, ipvm_error_t *err);
    /* Stops it (draining what runs); calls done(node) once, now or later, on the loop. */
    void (*stop)(ipvm_node_t *node, void *state, void (*done)(ipvm_node_t *node));
} ipvm_node_service_t;

/* Everything `ipvm node start` decided from its command line. */
typedef struct ipvm_node_opts_s {
    const char *data_dir;    /* from the global --data-dir (may be overridden by node.data_dir) */
    const char *config_path; /* --config FILE, or NULL for DATA_DIR/ipvm.conf if it exists */
    const char **sets;       /* "section.key=value" from flags, nsets of them */
    size_t nsets;
    bool detach; /* --detach: run in the background, print the address, return */
    bool json;   /* --json output for the ready line */
    bool quiet;
} ipvm_node_opts_t;

/* Runs the node until it is stopped. Returns the process exit status. */
int ipvm_node_main(const ipvm_node_opts_t *opts);

/* Accessors for services (loop thread). */
uv_loop_t *ipvm_node_loop(ipvm_node_t *node);
const ipvm_config_t *ipvm_node_config(ipvm_node_t *node);
const char *ipvm_node_data_dir(ipvm_node_t *node);
const char *ipvm_node_db_path(ipvm_node_t *node);
ipvm_metrics_t *ipvm_node_metrics(ipvm_node_t *node);
ipvm_rpc_server_t *ipvm_node_rpc(ipvm_node_t *node); /* NULL when rpc.enable = false */
ipvm_sched_t *ipvm_node_sched(ipvm_node_t *node);
/* Where a service can keep its state for others (e.g. the p2p identity for `node`). */
void *ipvm_node_service_state(ipvm_node_t *node, const char *name);
/* The node's libp2p host (svc_p2p.c), or NULL when p2p is off or not started yet. */
struct ipvm_p2p_host_s *ipvm_node_p2p_host(ipvm_node_t *node);
/* The trust engineer's admission check for submitted workflows (see ipvm_rpc_admit_fn). */
void ipvm_node_set_admit(ipvm_node_t *node, ipvm_rpc_admit_fn fn, void *data);
/* How to free what the admission check returned as a run's auth (called after the run). */
void ipvm_node_set_auth_free(ipvm_node_t *node, ipvm_rpc_auth_free_fn fn);
/* Which submissions the admission check can judge on the loop thread (ipvm_rpc_admit_inline_fn). */
void ipvm_node_set_admit_inline(ipvm_node_t *node, ipvm_rpc_admit_inline_fn fn);

/* The list of services, in start order (services.c). */
extern const ipvm_node_service_t *const ipvm_node_services[];
extern const size_t ipvm_node_nservices;

/* ---- the process side (process.c) ------------------------------------------------------- */
/* Paths of the files a node keeps in its data dir. */
void ipvm_node_paths(const char *data_dir, char pid[4096], char info[4096], char log[4096]);
/* Takes the pid file's lock (flock) and writes our pid. IPVM_EEXIST when another node holds it
 * (err says which pid). The lock lasts until the process exits. */
int ipvm_node_pidfile_acquire(const char *path, ipvm_error_t *err);
/* The pid of the node holding the lock on `path`, or 0 when none (a stale file). */
long ipvm_node_pidfile_holder(const char *path);
/* Forks into the background: the parent waits until the child calls ipvm_node_ready() or
 * exits, prints what the child reported, and exits. Returns in the child (0) or an error. */
int ipvm_node_detach(const char *log_path, ipvm_error_t *err);
/* Tells the waiting parent (if detached) that the node is up (msg) or failed (ok = false). */
void ipvm_node_ready(bool ok, const char *msg);
/* The same with, for a failure, a line the parent prints on stdout (the --json error). */
void ipvm_node_ready_failed(bool ok, const char *msg, const char *json);

#endif
