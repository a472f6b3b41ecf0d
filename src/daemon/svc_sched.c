/* SPDX-License-Identifier: Apache-2.0 */
/* The node's execution services: "sched" (blockstore, resolver, Wasm engine and scheduler,
 * from the [node], [limits] and [resources] settings) and "workflows" (subscribe_run_workflow
 * on the RPC server, resuming what was running, draining on SIGTERM). */
#include "daemon.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The engine is another area; a build without it still serves, replays and says what is
 * missing (as cmd_run.c does). */
#pragma weak ipvm_wasm_engine_new
#pragma weak ipvm_wasm_engine_free
#pragma weak ipvm_wasm_isa_parse

void ipvm__node_set_sched(ipvm_node_t *n, ipvm_sched_t *s);
ipvm_rpc_admit_fn ipvm__node_admit(ipvm_node_t *n, void **data);
ipvm_rpc_auth_free_fn ipvm__node_auth_free(ipvm_node_t *n);
ipvm_rpc_admit_inline_fn ipvm__node_admit_inline(ipvm_node_t *n);

typedef struct {
    ipvm_blockstore_t *bs;
    ipvm_resolver_t *resolver;
    ipvm_wasm_engine_t *engine;
    ipvm_sched_t *sched;
    ipvm_node_exec_t *exec;
    pthread_mutex_t lock; /* engine_free_bounded */
    pthread_cond_t cond;
    bool engine_freed;
} sched_svc_t;

static void *engine_free_main(void *arg)
{
    sched_svc_t *st = arg;
    ipvm_wasm_engine_free(st->engine);
    pthread_mutex_lock(&st->lock);
    st->engine_freed = true;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* ipvm_wasm_engine_free waits for the background gcc -O2 compilations, which can take minutes
 * for a big module: the node waits for that at most ENGINE_WAIT_S, then leaves without it (the
 * compile is abandoned; the next start compiles the module again). Returns false then. */
#define ENGINE_WAIT_S 3
static bool engine_free_bounded(sched_svc_t *st)
{
    pthread_t t;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    if (pthread_create(&t, NULL, engine_free_main, st) != 0) {
        ipvm_wasm_engine_free(st->engine);
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ENGINE_WAIT_S;
    pthread_mutex_lock(&st->lock);
    while (!st->engine_freed)
        if (pthread_cond_timedwait(&st->cond, &st->lock, &until) != 0)
            break;
    bool freed = st->engine_freed;
    pthread_mutex_unlock(&st->lock);
    if (!freed) {
        pthread_detach(t);
        ipvm_log(IPVM_LOG_WARN, "node",
                 "a background compile (gcc -O2) is still running: "
                 "leaving it; the next start compiles that module again");
        return false;
    }
    pthread_join(t, NULL);
    return true;
}

/* Returns false when the engine is still busy (the state then stays allocated: the process is
 * about to exit). */
static bool sched_svc_free(sched_svc_t *st)
{
    ipvm_sched_free(st->sched);
    st->sched = NULL;
    ipvm_node_exec_free(st->exec); /* releases the cached modules before the engine goes */
    st->exec = NULL;
    if (st->engine && ipvm_wasm_engine_free && !engine_free_bounded(st))
        return false;
    ipvm_resolver_free(st->resolver);
    ipvm_blockstore_close(st->bs);
    ipvm_free(st);
    return true;
}

static int sched_start(ipvm_node_t *n, void **state, ipvm_error_t *err)
{
    const ipvm_config_t *c = ipvm_node_config(n);
    sched_svc_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL)
        return IPVM_ENOMEM;
    char path[4200];
    snprintf(path, sizeof path, "%s/blocks", ipvm_node_data_dir(n));
    int rc = ipvm_blockstore_open(path, &st->bs, err);
    ipvm_resolver_opts_t ro = {ipvm_config_str(c, "resources", "ipfs_api"),
                               ipvm_config_str(c, "resources", "gateway"),
                               (int)ipvm_config_int(c, "resources", "timeout")};
    if (rc == 0)
        rc = ipvm_resolver_new(st->bs, &ro, &st->resolver, err);
    ipvm_wasm_limits_t lim = {(uint64_t)ipvm_config_int(c, "limits", "fuel"),
                              (uint64_t)ipvm_config_int(c, "limits", "memory"),
                              (uint64_t)ipvm_config_int(c, "limits", "time")};
    if (lim.fuel == 0)
        lim.fuel = IPVM_WASM_UNLIMITED;
    snprintf(path, sizeof path, "%s/cache", ipvm_node_data_dir(n));
    ipvm_wasm_engine_opts_t eo = {.cache_dir = path, .defaults = lim,
                                  .gcc_tier = (int)ipvm_config_int(c, "node", "gcc_tier")};
    const char *isa = ipvm_config_str(c, "node", "wasm_isa");
    if (rc == 0 && ipvm_wasm_engine_new && isa &&
        (rc = ipvm_wasm_isa_parse(isa, &eo.isa, err)) != 0)
        ipvm_error_prefix(err, "node.wasm_isa (%s): ", ipvm_config_origin(c, "node", "wasm_isa"));
    if (rc == 0 && ipvm_wasm_engine_new)
        rc = ipvm_wasm_engine_new(&eo, &st->engine, err);
    else if (rc == 0)
        ipvm_log(IPVM_LOG_WARN, "node",
                 "this build has no Wasm engine: tasks that have no "
                 "receipt yet cannot run");
    if (rc == 0)
        rc = ipvm_node_exec_new(st->engine, st->resolver, ipvm_node_metrics(n), 0, &st->exec);
    ipvm_sched_opts_t so = {0};
    so.db_path = ipvm_node_db_path(n);
    so.engine = st->engine;
    so.resolver = st->resolver;
    so.executor = st->exec ? ipvm_node_exec_executor(st->exec) : NULL;
    so.threads = (unsigned)ipvm_config_int(c, "node", "workers");
    so.defaults = lim;
    if (rc == 0)
        rc = ipvm_sched_new(&so, &st->sched, err);
    if (rc) {
        (void)sched_svc_free(st);
        return rc;
    }
    ipvm__node_set_sched(n, st->sched);
    *state = st;
    return 0;
}

static void sched_stop(ipvm_node_t *n, void *state, void (*done)(ipvm_node_t *))
{
    ipvm__node_set_sched(n, NULL);
    (void)sched_svc_free(state);
    done(n);
}

const ipvm_node_service_t ipvm_node_service_sched = {"sched", NULL, sched_start, sched_stop};

/* ---- workflows ------------------------------------------------------------------------------ */

typedef struct {
    ipvm_node_t *node;
    ipvm_rpc_workflows_t *w;
    void (*done)(ipvm_node_t *);
} wf_svc_t;

static int workflows_start(ipvm_node_t *n, void **state, ipvm_error_t *err)
{
    const ipvm_config_t *c = ipvm_node_config(n);
    if (ipvm_node_rpc(n) == NULL || ipvm_node_sched(n) == NULL)
        return 0; /* no API: nothing to submit with (resume needs it too) */
    wf_svc_t *st = ipvm_calloc(1, sizeof *st);
    if (st == NULL)
        return IPVM_ENOMEM;
    ipvm_rpc_workflows_opts_t o = {0};
    o.sched = ipvm_node_sched(n);
    o.db_path = ipvm_node_db_path(n);
    o.runners = (unsigned)ipvm_config_int(c, "node", "runners");
    o.max_workflows = (size_t)ipvm_config_int(c, "node", "max_workflows");
    o.metrics = ipvm_node_metrics(n);
    o.admit = ipvm__node_admit(n, &o.admit_data);
    o.auth_free = ipvm__node_auth_free(n);
    o.admit_inline = ipvm__node_admit_inline(n);
    int rc = ipvm_rpc_workflows_new(ipvm_node_rpc(n), &o, &st->w, err);
    if (rc) {
        ipvm_free(st);
        return rc;
    }
    st->node = n;
    *state = st;
    size_t resumed = 0;
    if (ipvm_config_bool(c, "node", "resume")) {
        ipvm_error_t e2;
        ipvm_error_clear(&e2);
        if (ipvm_rpc_workflows_resume(st->w, &resumed, &e2) != 0)
            ipvm_log(IPVM_LOG_WARN, "node", "cannot resume the workflows that were running: %s",
                     e2.msg);
        if (resumed)
            ipvm_log(IPVM_LOG_WARN, "node", "resuming %zu workflow%s that %s running", resumed,
                     resumed == 1 ? "" : "s", resumed == 1 ? "was" : "were");
    }
    return 0;
}

static void drained(void *data)
{
    wf_svc_t *st = data;
    if (ipvm_rpc_workflows_active(st->w) > 0) {
        /* Past node.shutdown_timeout: tasks still running would hold the exit forever. Their
         * receipts do not exist yet, so nothing is lost; the workflows resume next start. */
        fprintf(stderr, "ipvm: tasks still running after node.shutdown_timeout: exiting\n");
        _exit(1);
    }
    ipvm_rpc_workflows_free(st->w);
    void (*done)(ipvm_node_t *) = st->done;
    ipvm_node_t *n = st->node;
    ipvm_free(st);
    done(n);
}

static void workflows_stop(ipvm_node_t *n, void *state, void (*done)(ipvm_node_t *))
{
    wf_svc_t *st = state;
    if (st == NULL) {
        done(n);
        return;
    }
    st->done = done;
    uint64_t ms = (uint64_t)ipvm_config_int(ipvm_node_config(n), "node", "shutdown_timeout");
    ipvm_rpc_workflows_drain(st->w, ms, drained, st);
}

const ipvm_node_service_t ipvm_node_service_workflows = {"workflows", NULL, workflows_start,
                                                         workflows_stop};
