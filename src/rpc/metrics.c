/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry behind GET /metrics (Prometheus text exposition format 0.0.4) and the
 * `metrics` JSON-RPC method (Homestar's JSON shape, homestar-runtime webserver/prom.rs).
 * Updates are C11 atomics so worker threads count without locks. */
#include "rpc_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_BUCKETS 32

struct ipvm_metric_s {
    ipvm_metric_type_t type;
    char *name; /* with the registry prefix */
    char *help;
    _Atomic int64_t value;      /* counter, gauge; histogram: count */
    _Atomic uint64_t sum_bits;  /* histogram: sum as the bits of a double */
    double bounds[MAX_BUCKETS]; /* histogram upper bounds, increasing */
    size_t nbounds;
    _Atomic uint64_t counts[MAX_BUCKETS]; /* per bucket, not cumulative */
};

struct ipvm_metrics_s {
    pthread_mutex_t lock; /* guards items/n/cap (registration and rendering) */
    char *prefix;
    ipvm_metric_t **items;
    size_t n, cap;
};

int ipvm_metrics_new(const char *prefix, ipvm_metrics_t **out)
{
    ipvm_metrics_t *m = ipvm_calloc(1, sizeof *m);
    if (m == NULL)
        return IPVM_ENOMEM;
    m->prefix = ipvm_strdup(prefix ? prefix : "");
    if (m->prefix == NULL) {
        ipvm_free(m);
        return IPVM_ENOMEM;
    }
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void ipvm_metrics_free(ipvm_metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        ipvm_free(m->items[i]->name);
        ipvm_free(m->items[i]->help);
        ipvm_free(m->items[i]);
    }
    ipvm_free(m->items);
    ipvm_free(m->prefix);
    pthread_mutex_destroy(&m->lock);
    ipvm_free(m);
}

static ipvm_metric_t *metric_make(const ipvm_metrics_t *m, ipvm_metric_type_t type,
                                  const char *name, const char *help, const double *buckets,
                                  size_t nbuckets)
{
    ipvm_metric_t *x = ipvm_calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    size_t len = strlen(m->prefix) + strlen(name) + 1;
    x->name = ipvm_malloc(len);
    x->help = ipvm_strdup(help ? help : "");
    if (x->name == NULL || x->help == NULL) {
        ipvm_free(x->name);
        ipvm_free(x->help);
        ipvm_free(x);
        return NULL;
    }
    snprintf(x->name, len, "%s%s", m->prefix, name);
    x->type = type;
    x->nbounds = nbuckets;
    for (size_t i = 0; i < nbuckets; i++)
        x->bounds[i] = buckets[i];
    return x;
}

ipvm_metric_t *ipvm_metrics_add(ipvm_metrics_t *m, ipvm_metric_type_t type, const char *name,
                                const char *help, const double *buckets, size_t nbuckets)
{
    IPVM_MISUSE_IF(m == NULL || name == NULL || nbuckets > MAX_BUCKETS);
    IPVM_MISUSE_IF(type == IPVM_METRIC_HISTOGRAM && (buckets == NULL || nbuckets == 0));
    for (size_t i = 1; i < nbuckets; i++)
        IPVM_MISUSE_IF(!(buckets[i] > buckets[i - 1]));
    ipvm_metric_t *x = NULL;
    size_t plen = strlen(m->prefix);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        ipvm_metric_t *y = m->items[i];
        if (strncmp(y->name, m->prefix, plen) == 0 && strcmp(y->name + plen, name) == 0) {
            x = y->type == type ? y : NULL;
            goto done;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        ipvm_metric_t **items = ipvm_realloc(m->items, cap * sizeof *items);
        if (items == NULL)
            goto done;
        m->items = items;
        m->cap = cap;
    }
    x = metric_make(m, type, name, help, buckets, nbuckets);
    if (x)
        m->items[m->n++] = x;
done:
    pthread_mutex_unlock(&m->lock);
    return x;
}

void ipvm_metric_inc(ipvm_metric_t *x, uint64_t by)
{
    if (x)
        atomic_fetch_add_explicit(&x->value, (int64_t)by, memory_order_relaxed);
}

void ipvm_metric_set(ipvm_metric_t *x, int64_t value)
{
    if (x)
        atomic_store_explicit(&x->value, value, memory_order_relaxed);
}

void ipvm_metric_add(ipvm_metric_t *x, int64_t delta)
{
    if (x)
        atomic_fetch_add_explicit(&x->value, delta, memory_order_relaxed);
}

void ipvm_metric_observe(ipvm_metric_t *x, double v)
{
    if (x == NULL || x->type != IPVM_METRIC_HISTOGRAM || isnan(v))
        return;
    size_t i = 0;
    while (i < x->nbounds && v > x->bounds[i])
        i++;
    if (i < x->nbounds)
        atomic_fetch_add_explicit(&x->counts[i], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&x->sum_bits, memory_order_relaxed), next;
    do {
        double d;
        memcpy(&d, &old, sizeof d);
        d += v;
        memcpy(&next, &d, sizeof next);
    } while (!atomic_compare_exchange_weak_explicit(&x->sum_bits, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&x->value, 1, memory_order_relaxed);
}

int64_t ipvm_metric_value(const ipvm_metric_t *x)
{
    return x ? atomic_load_explicit(&((ipvm_metric_t *)x)->value, memory_order_relaxed) : 0;
}

static double hist_sum(ipvm_metric_t *x)
{
    uint64_t bits = atomic_load_explicit(&x->sum_bits, memory_order_relaxed);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static const char *type_name(ipvm_metric_type_t t)
{
    return t == IPVM_METRIC_COUNTER ? "counter" : t == IPVM_METRIC_GAUGE ? "gauge" : "histogram";
}

/* HELP text escapes backslash and newline (exposition format). */
static int append_help(ipvm_buf_t *out, const char *s)
{
    int rc = 0;
    for (; rc == 0 && *s; s++) {
        if (*s == '\\')
            rc = ipvm_buf_append_str(out, "\\\\");
        else if (*s == '\n')
            rc = ipvm_buf_append_str(out, "\\n");
        else
            rc = ipvm_buf_append_byte(out, (uint8_t)*s);
    }
    return rc;
}

static int render_one(ipvm_metric_t *x, ipvm_buf_t *out)
{
    int rc = ipvm_buf_printf(out, "# HELP %s ", x->name);
    if (rc == 0)
        rc = append_help(out, x->help);
    if (rc == 0)
        rc = ipvm_buf_printf(out, "\n# TYPE %s %s\n", x->name, type_name(x->type));
    if (rc)
        return rc;
    if (x->type != IPVM_METRIC_HISTOGRAM)
        return ipvm_buf_printf(out, "%s %lld\n", x->name, (long long)ipvm_metric_value(x));
    uint64_t cum = 0;
    int64_t count = ipvm_metric_value(x);
    for (size_t i = 0; rc == 0 && i < x->nbounds; i++) {
        cum += atomic_load_explicit(&x->counts[i], memory_order_relaxed);
        rc = ipvm_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", x->name, x->bounds[i],
                             (unsigned long long)cum);
    }
    if (rc == 0)
        rc = ipvm_buf_printf(out, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.9g\n%s_count %lld\n",
                             x->name, (long long)count, x->name, hist_sum(x), x->name,
                             (long long)count);
    return rc;
}

int ipvm_metrics_render(ipvm_metrics_t *m, ipvm_buf_t *out)
{
    size_t start = out->len;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        rc = render_one(m->items[i], out);
    pthread_mutex_unlock(&m->lock);
    if (rc)
        out->len = start;
    return rc;
}

static int render_json_one(ipvm_metric_t *x, ipvm_buf_t *out)
{
    int rc = ipvm_buf_printf(out, "{\"metric_type\":\"%s\",\"metric_name\":", type_name(x->type));
    if (rc == 0)
        rc = ipvm_json_append_str(out, x->name, strlen(x->name));
    if (rc == 0)
        rc = ipvm_buf_append_str(out, ",\"help\":");
    if (rc == 0)
        rc = ipvm_json_append_str(out, x->help, strlen(x->help));
    if (rc)
        return rc;
    int64_t v = ipvm_metric_value(x);
    if (x->type != IPVM_METRIC_HISTOGRAM)
        return ipvm_buf_printf(out,
                               ",\"data\":[{\"type\":\"metric\",\"labels\":null,"
                               "\"value\":\"%lld\"}]}",
                               (long long)v);
    rc = ipvm_buf_append_str(out, ",\"data\":[{\"type\":\"histogram\",\"labels\":null,"
                                  "\"buckets\":{");
    uint64_t cum = 0;
    for (size_t i = 0; rc == 0 && i < x->nbounds; i++) {
        cum += atomic_load_explicit(&x->counts[i], memory_order_relaxed);
        rc = ipvm_buf_printf(out, "%s\"%g\":\"%llu\"", i ? "," : "", x->bounds[i],
                             (unsigned long long)cum);
    }
    if (rc == 0)
        rc = ipvm_buf_printf(out, ",\"+Inf\":\"%lld\"},\"count\":\"%lld\",\"sum\":\"%.9g\"}]}",
                             (long long)v, (long long)v, hist_sum(x));
    return rc;
}

int ipvm_metrics_render_json(ipvm_metrics_t *m, ipvm_buf_t *out)
{
    size_t start = out->len;
    int rc = ipvm_buf_append_str(out, "{\"metrics\":[");
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        if (i)
            rc = ipvm_buf_append_byte(out, ',');
        if (rc == 0)
            rc = render_json_one(m->items[i], out);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "]}");
    if (rc)
        out->len = start;
    return rc;
}
