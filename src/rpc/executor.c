/* SPDX-License-Identifier: Apache-2.0 */
/* The node's executor (see rpc.h): the default executor's steps with a cache of loaded modules
 * by resource URL, and the metrics a node operator wants about Wasm loading. */
#include "rpc_int.h"

#include <string.h>

typedef struct {
    char *rsc;
    ipvm_wasm_module_t *module; /* the cache's own reference */
    uint64_t used;              /* LRU clock */
} slot_t;

struct ipvm_node_exec_s {
    ipvm_sched_executor_t exec;
    ipvm_wasm_engine_t *engine;
    ipvm_resolver_t *resolver;
    pthread_mutex_t lock;  /* guards slots, clock and loading */
    pthread_cond_t loaded; /* a load finished (or failed) */
    char *loading[16];     /* resources being loaded now, so concurrent runs wait for one load */
    slot_t *slots;
    size_t nslots, max;
    uint64_t clock;
    ipvm_metric_t *m_loads, *m_hits, *m_seconds, *m_errors;
};

static bool is_loading(ipvm_node_exec_t *x, const char *rsc)
{
    for (size_t i = 0; i < sizeof x->loading / sizeof x->loading[0]; i++)
        if (x->loading[i] && strcmp(x->loading[i], rsc) == 0)
            return true;
    return false;
}

/* The cached module (retained), or NULL: then the caller loads it and *claimed says whether it
 * registered itself as the loader (it must call load_done). Waits while another thread loads
 * the same resource. */
static ipvm_wasm_module_t *cache_get(ipvm_node_exec_t *x, const char *rsc, bool *claimed)
{
    ipvm_wasm_module_t *m = NULL;
    *claimed = false;
    pthread_mutex_lock(&x->lock);
    for (;;) {
        for (size_t i = 0; i < x->nslots && m == NULL; i++) {
            if (strcmp(x->slots[i].rsc, rsc) == 0) {
                m = x->slots[i].module;
                ipvm_wasm_module_retain(m);
                x->slots[i].used = ++x->clock;
            }
        }
        if (m || !is_loading(x, rsc))
            break;
        pthread_cond_wait(&x->loaded, &x->lock);
    }
    for (size_t i = 0; m == NULL && i < sizeof x->loading / sizeof x->loading[0]; i++) {
        if (x->loading[i] == NULL) {
            x->loading[i] = ipvm_strdup(rsc);
            *claimed = x->loading[i] != NULL;
            break;
        }
    }
    pthread_mutex_unlock(&x->lock);
    return m;
}

static void load_done(ipvm_node_exec_t *x, const char *rsc)
{
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < sizeof x->loading / sizeof x->loading[0]; i++) {
        if (x->loading[i] && strcmp(x->loading[i], rsc) == 0) {
            ipvm_free(x->loading[i]);
            x->loading[i] = NULL;
            break;
        }
    }
    pthread_cond_broadcast(&x->loaded);
    pthread_mutex_unlock(&x->lock);
}

/* Keeps m (retained for the cache) unless another thread cached the same rsc meanwhile, in
 * which case *m becomes that one. */
static void cache_put(ipvm_node_exec_t *x, const char *rsc, ipvm_wasm_module_t **m)
{
    ipvm_wasm_module_t *evicted = NULL;
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->nslots; i++) {
        if (strcmp(x->slots[i].rsc, rsc) == 0) {
            ipvm_wasm_module_t *theirs = x->slots[i].module;
            ipvm_wasm_module_retain(theirs);
            evicted = *m; /* ours is dropped: one module per rsc */
            *m = theirs;
            goto out;
        }
    }
    char *copy = ipvm_strdup(rsc);
    if (copy == NULL)
        goto out; /* not cached: the next run loads it again */
    size_t i = x->nslots;
    if (x->nslots == x->max) {
        i = 0;
        for (size_t k = 1; k < x->nslots; k++)
            if (x->slots[k].used < x->slots[i].used)
                i = k;
        evicted = x->slots[i].module;
        ipvm_free(x->slots[i].rsc);
    } else {
        x->nslots++;
    }
    ipvm_wasm_module_retain(*m);
    x->slots[i] = (slot_t){copy, *m, ++x->clock};
out:
    pthread_mutex_unlock(&x->lock);
    if (evicted)
        ipvm_wasm_module_release(evicted);
}

static int x_load(void *data, const char *rsc, void **module, ipvm_error_t *err)
{
    ipvm_node_exec_t *x = data;
    if (x->engine == NULL)
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "no Wasm engine is configured to run %s", rsc);
    if (x->resolver == NULL)
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "no resolver is configured to fetch %s", rsc);
    bool claimed;
    ipvm_wasm_module_t *m = cache_get(x, rsc, &claimed);
    if (m) {
        ipvm_metric_inc(x->m_hits, 1);
        *module = m;
        return 0;
    }
    uint64_t t0 = ipvm_now_ns();
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = ipvm_resolver_fetch(x->resolver, rsc, &b, err);
    if (rc == 0) {
        rc = ipvm_wasm_module_load(x->engine, b.data, b.len, &m, err);
        if (rc != 0)
            ipvm_error_prefix(err, "%s: ", rsc);
    }
    ipvm_buf_dispose(&b);
    if (rc == 0) {
        ipvm_metric_inc(x->m_loads, 1);
        ipvm_metric_observe(x->m_seconds, (double)(ipvm_now_ns() - t0) / 1e9);
        cache_put(x, rsc, &m);
        *module = m;
    } else {
        ipvm_metric_inc(x->m_errors, 1);
    }
    if (claimed)
        load_done(x, rsc); /* waiters find it cached, or load it themselves after a failure */
    return rc;
}

static void x_release(void *data, void *module)
{
    (void)data;
    if (module)
        ipvm_wasm_module_release(module);
}

static int x_fetch(void *data, const ipvm_cid_t *cid, ipvm_buf_t *out, ipvm_error_t *err)
{
    ipvm_node_exec_t *x = data;
    if (x->resolver == NULL) {
        char c[IPVM_CID_MAX_STR];
        return ipvm_error_set(err, IPVM_ENORESOURCE, IPVM_NO_OFFSET,
                              "no resolver is configured to fetch %s", ipvm_cid_str(cid, c));
    }
    return ipvm_resolver_fetch_cid(x->resolver, cid, out, err);
}

static int x_call(void *data, void *module, const char *func, const ipvm_ipld_t *args,
                  const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena, ipvm_wasm_result_t *out,
                  ipvm_error_t *err)
{
    (void)data;
    return ipvm_wasm_call(module, func, args, limits, arena, out, err);
}

int ipvm_node_exec_new(ipvm_wasm_engine_t *engine, ipvm_resolver_t *resolver,
                       ipvm_metrics_t *metrics, size_t max_modules, ipvm_node_exec_t **out)
{
    static const double secs[] = {0.001, 0.01, 0.1, 1, 10, 60};
    ipvm_node_exec_t *x = ipvm_calloc(1, sizeof *x);
    if (x == NULL)
        return IPVM_ENOMEM;
    x->max = max_modules ? max_modules : 64;
    x->slots = ipvm_calloc(x->max, sizeof *x->slots);
    if (x->slots == NULL) {
        ipvm_free(x);
        return IPVM_ENOMEM;
    }
    x->engine = engine;
    x->resolver = resolver;
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->loaded, NULL);
    x->exec = (ipvm_sched_executor_t){x, x_load, x_release, x_fetch, x_call};
    if (metrics) {
        x->m_loads = ipvm_metrics_add(metrics, IPVM_METRIC_COUNTER, "wasm_module_loads_total",
                                      "Modules fetched, validated and loaded (compiled or read "
                                      "from the compile cache)",
                                      NULL, 0);
        x->m_hits = ipvm_metrics_add(metrics, IPVM_METRIC_COUNTER, "wasm_module_cache_hits_total",
                                     "Runs that found their module already loaded", NULL, 0);
        x->m_errors = ipvm_metrics_add(metrics, IPVM_METRIC_COUNTER, "wasm_module_errors_total",
                                       "Modules that could not be fetched or loaded", NULL, 0);
        x->m_seconds = ipvm_metrics_add(metrics, IPVM_METRIC_HISTOGRAM, "wasm_load_seconds",
                                        "Time to fetch, validate and compile a module (the first "
                                        "tier; gcc -O2 runs later in the background)",
                                        secs, 6);
    }
    *out = x;
    return 0;
}

const ipvm_sched_executor_t *ipvm_node_exec_executor(ipvm_node_exec_t *x)
{
    return &x->exec;
}

void ipvm_node_exec_free(ipvm_node_exec_t *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->nslots; i++) {
        ipvm_wasm_module_release(x->slots[i].module);
        ipvm_free(x->slots[i].rsc);
    }
    ipvm_free(x->slots);
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->loaded);
    ipvm_free(x);
}
