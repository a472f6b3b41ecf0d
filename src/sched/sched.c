/* SPDX-License-Identifier: Apache-2.0 */
/* The scheduler object: options, worker pool, hooks, a cache of store handles (one per
 * concurrent run; SQLite handles belong to one thread at a time), the table of instructions
 * being executed (so that two runs never execute the same instruction at once), parsing with
 * store-backed await checks, and task limits. The runs themselves are in run.c. */
#include "sched_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_WORKFLOW_TIMEOUT_MS 3600000u /* compat: workflow/settings.rs timeout 3600 s */

struct ipvm__inflight_s {
    ipvm__inflight_t *next;
    ipvm_cid_t instruction;
    ipvm__run_t **waiters; /* runs to wake on release */
    size_t nwaiters, capwaiters;
};

const char *ipvm_sched_event_name(ipvm_sched_event_kind_t kind)
{
    static const char *const names[] = {"workflow_started", "task_started",  "task_finished",
                                        "task_replayed",    "task_skipped",  "workflow_done"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "unknown";
}

void ipvm_sched_cancel_fire(ipvm_sched_cancel_t *c)
{
    __atomic_store_n(&c->fired, 1, __ATOMIC_RELEASE);
}

static unsigned ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 1024 ? (unsigned)n : 2;
}

int ipvm_sched_new(const ipvm_sched_opts_t *opts, ipvm_sched_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(opts == NULL || out == NULL || opts->db_path == NULL);
    ipvm_sched_t *s = ipvm_calloc(1, sizeof *s);
    if (s == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    s->opts = *opts;
    s->db_path_copy = ipvm_strdup(opts->db_path);
    s->opts.db_path = s->db_path_copy;
    if (s->opts.threads == 0)
        s->opts.threads = ncpus();
    if (s->opts.workflow_timeout_ms == 0)
        s->opts.workflow_timeout_ms = DEFAULT_WORKFLOW_TIMEOUT_MS;
    if (s->opts.commit_interval_us == 0)
        s->opts.commit_interval_us = 2000;
    if (s->opts.commit_max == 0)
        s->opts.commit_max = 1024;
    int rc = s->db_path_copy ? 0 : IPVM_ENOMEM;
    if (rc == 0 && pthread_mutex_init(&s->lock, NULL) != 0)
        rc = IPVM_ENOMEM;
    if (rc == 0) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_mutex_init(&s->tlock, NULL);
        pthread_cond_init(&s->tcond, &ca);
        pthread_condattr_destroy(&ca);
        s->tinit = true;
        pthread_mutex_init(&s->wlock, NULL);
        s->winit = true;
        pthread_mutex_init(&s->glock, NULL);
        s->gq_tail = &s->gq;
        s->ginit = true;
        ipvm__sched_stall_init(s);
    }
    if (rc != 0) {
        ipvm_free(s->db_path_copy);
        ipvm_free(s);
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
    }
    /* open (and migrate) the store now, so a bad data dir fails here */
    ipvm_store_t *st = NULL;
    if ((rc = ipvm__sched_store_take(s, &st, err)) == 0) {
        ipvm__sched_store_give(s, st, false);
        if (opts->executor) {
            s->exec = *opts->executor;
        } else {
            rc = ipvm__default_exec_init(s, err);
        }
    }
    if (rc == 0 && (rc = ipvm__pool_start(&s->pool, s->opts.threads)) != 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot start %u worker threads",
                       s->opts.threads);
    if (rc != 0) {
        s->pool.nthreads = 0;
        s->pool.threads = NULL;
        ipvm_sched_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void ipvm_sched_free(ipvm_sched_t *s)
{
    if (s == NULL)
        return;
    ipvm__sched_timer_stop(s);
    ipvm__sched_writers_stop(s);
    if (s->pool.threads)
        ipvm__pool_stop(&s->pool);
    ipvm__default_exec_free(s);
    for (size_t i = 0; i < s->nstores; i++)
        ipvm_store_close(s->stores[i]);
    ipvm_free(s->stores);
    for (size_t b = 0; b < sizeof s->inflight / sizeof s->inflight[0]; b++)
        while (s->inflight[b]) { /* empty unless a run was left unfinished (misuse) */
            ipvm__inflight_t *f = s->inflight[b];
            s->inflight[b] = f->next;
            ipvm_free(f->waiters);
            ipvm_free(f);
        }
    pthread_mutex_destroy(&s->lock);
    if (s->tinit) {
        pthread_mutex_destroy(&s->tlock);
        pthread_cond_destroy(&s->tcond);
    }
    if (s->winit) {
        pthread_mutex_destroy(&s->wlock);
    }
    if (s->ginit) {
        pthread_mutex_destroy(&s->glock);
    }
    ipvm_free(s->issuer);
    ipvm_free(s->db_path_copy);
    ipvm_free(s);
}

void ipvm_sched_set_net_hooks(ipvm_sched_t *s, const ipvm_sched_net_hooks_t *h)
{
    IPVM_MISUSE_IF(s == NULL);
    memset(&s->net, 0, sizeof s->net);
    if (h)
        s->net = *h;
    if (s->net.lookup_timeout_ms <= 0)
        s->net.lookup_timeout_ms = 500;
}

void ipvm_sched_set_trust_hooks(ipvm_sched_t *s, const ipvm_sched_trust_hooks_t *h)
{
    IPVM_MISUSE_IF(s == NULL);
    ipvm_free(s->issuer);
    s->issuer = NULL;
    memset(&s->trust, 0, sizeof s->trust);
    if (h) {
        s->trust = *h;
        if (h->issuer) {
            s->issuer = ipvm_strdup(h->issuer);
            IPVM_MISUSE_IF(s->issuer == NULL); /* a DID is short; OOM here is not recoverable */
        }
        s->trust.issuer = s->issuer;
    }
}

int ipvm__sched_store_take(ipvm_sched_t *s, ipvm_store_t **out, ipvm_error_t *err)
{
    pthread_mutex_lock(&s->lock);
    if (s->nstores > 0) {
        *out = s->stores[--s->nstores];
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    pthread_mutex_unlock(&s->lock);
    return ipvm_store_open(s->opts.db_path, 0, out, err);
}

void ipvm__sched_store_give(ipvm_sched_t *s, ipvm_store_t *st, bool broken)
{
    if (st == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    if (!broken && s->nstores == s->capstores) {
        size_t cap = s->capstores ? 2 * s->capstores : 4;
        ipvm_store_t **n = ipvm_realloc(s->stores, cap * sizeof *n);
        if (n) {
            s->stores = n;
            s->capstores = cap;
        }
    }
    if (!broken && s->nstores < s->capstores) {
        s->stores[s->nstores++] = st;
        st = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    ipvm_store_close(st);
}

static uint64_t recent_key(const ipvm_cid_t *c)
{
    const uint8_t *d = ipvm_cid_digest(c);
    uint64_t k = 0;
    for (size_t i = 0; i < 8 && i < c->digest_len; i++)
        k = k << 8 | d[i];
    return k;
}

uint64_t ipvm__sched_gen(ipvm_sched_t *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t g = s->gen;
    pthread_mutex_unlock(&s->lock);
    return g;
}

/* Adds run to the waiters of f; false when out of memory. */
static bool add_waiter(ipvm__inflight_t *f, ipvm__run_t *run)
{
    if (f->nwaiters == f->capwaiters) {
        size_t cap = f->capwaiters ? 2 * f->capwaiters : 4;
        ipvm__run_t **w = ipvm_realloc(f->waiters, cap * sizeof *w);
        if (w == NULL)
            return false;
        f->waiters = w;
        f->capwaiters = cap;
    }
    f->waiters[f->nwaiters++] = run;
    return true;
}

int ipvm__sched_claim(ipvm_sched_t *s, const ipvm_cid_t *instruction, ipvm__run_t *run,
                      uint64_t since)
{
    int r = IPVM__CLAIM_MINE;
    uint64_t key = recent_key(instruction);
    pthread_mutex_lock(&s->lock);
    size_t slot = key % (sizeof s->recent / sizeof s->recent[0]);
    if (s->recent[slot].key == key && s->recent[slot].gen > since) {
        r = IPVM__CLAIM_DONE;
        goto out;
    }
    ipvm__inflight_t **bucket = &s->inflight[key % (sizeof s->inflight / sizeof *s->inflight)];
    for (ipvm__inflight_t *f = *bucket; f; f = f->next) {
        if (!ipvm_cid_equal(&f->instruction, instruction))
            continue;
        /* cannot wait (out of memory): execute it too; a duplicate is harmless, its receipt
         * is the same row */
        r = add_waiter(f, run) ? IPVM__CLAIM_BUSY : IPVM__CLAIM_MINE;
        goto out;
    }
    ipvm__inflight_t *f = ipvm_calloc(1, sizeof *f);
    if (f) { /* without an entry others may execute it too: harmless, as above */
        f->instruction = *instruction;
        f->next = *bucket;
        *bucket = f;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return r;
}

void ipvm__sched_release(ipvm_sched_t *s, const ipvm_cid_t *instruction)
{
    ipvm__inflight_t *found = NULL;
    uint64_t key = recent_key(instruction);
    pthread_mutex_lock(&s->lock);
    ipvm__inflight_t **bucket = &s->inflight[key % (sizeof s->inflight / sizeof *s->inflight)];
    for (ipvm__inflight_t **p = bucket; *p; p = &(*p)->next) {
        if (ipvm_cid_equal(&(*p)->instruction, instruction)) {
            found = *p;
            *p = found->next;
            break;
        }
    }
    size_t slot = key % (sizeof s->recent / sizeof s->recent[0]);
    s->recent[slot].key = key;
    s->recent[slot].gen = ++s->gen;
    if (found)
        for (size_t i = 0; i < found->nwaiters; i++)
            ipvm__run_wake(found->waiters[i]);
    pthread_mutex_unlock(&s->lock);
    if (found) {
        ipvm_free(found->waiters);
        ipvm_free(found);
    }
}

void ipvm__sched_forget(ipvm_sched_t *s, ipvm__run_t *run)
{
    pthread_mutex_lock(&s->lock);
    for (size_t b = 0; b < sizeof s->inflight / sizeof s->inflight[0]; b++)
        for (ipvm__inflight_t *f = s->inflight[b]; f; f = f->next) {
            size_t w = 0;
            for (size_t i = 0; i < f->nwaiters; i++)
                if (f->waiters[i] != run)
                    f->waiters[w++] = f->waiters[i];
            f->nwaiters = w;
        }
    pthread_mutex_unlock(&s->lock);
}

/* ---- parsing with outside awaits checked against the store -------------------------------- */
typedef struct {
    ipvm_sched_t *s;
    ipvm_store_t *store;
    ipvm_arena_t arena;
} known_ctx_t;

/* An await outside the workflow is valid when the store, or else the network, has a receipt
 * for it (the run verifies a network receipt before using it). */
static bool known_in_store(void *data, const ipvm_cid_t *instruction)
{
    known_ctx_t *k = data;
    ipvm_receipt_row_t row;
    int rc = ipvm_store_find_receipt(k->store, instruction, &k->arena, &row, NULL);
    ipvm_sched_net_hooks_t *net = &k->s->net;
    bool found = rc == 0;
    if (!found && net->find_receipts) {
        ipvm_sched_lookup_t item;
        memset(&item, 0, sizeof item);
        item.instruction = instruction;
        found = net->find_receipts(net->data, &item, 1, net->lookup_timeout_ms, &k->arena) == 0 &&
                item.found;
    }
    ipvm_arena_reset(&k->arena);
    return found;
}

int ipvm_sched_parse(ipvm_sched_t *s, const char *json, size_t len, ipvm_arena_t *arena,
                     ipvm_workflow_t **out, ipvm_error_t *err)
{
    known_ctx_t k;
    k.s = s;
    ipvm_arena_init(&k.arena);
    int rc = ipvm__sched_store_take(s, &k.store, err);
    if (rc != 0)
        return rc;
    /* the trust hooks read each task's instruction, meta (redundancy) and prf: keep them */
    bool trust = s->trust.authorize != NULL || s->trust.confirm != NULL;
    ipvm_workflow_opts_t o = {.known = known_in_store, .known_data = &k, .compact = !trust};
    rc = ipvm_workflow_parse(json, len, &o, arena, out, err);
    ipvm__sched_store_give(s, k.store, false);
    ipvm_arena_dispose(&k.arena);
    return rc;
}

static uint64_t pick(uint64_t asked, uint64_t dflt, uint64_t cap)
{
    uint64_t v = asked ? asked : dflt;
    if (cap && (v == 0 || v > cap))
        v = cap;
    return v;
}

void ipvm_sched_task_limits(const ipvm_sched_opts_t *opts, const ipvm_task_t *task,
                            ipvm_wasm_limits_t *out)
{
    out->fuel = pick(task->limits.fuel, opts->defaults.fuel, opts->max.fuel);
    out->memory = pick(task->limits.memory, opts->defaults.memory, opts->max.memory);
    out->time_ms = pick(task->limits.time_ms, opts->defaults.time_ms, opts->max.time_ms);
}
