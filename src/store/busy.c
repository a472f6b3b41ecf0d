/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting for SQLite's write lock. sqlite3_busy_timeout sleeps on a fixed back-off (1, 2, 5,
 * ... 100 ms), so a writer that lost the lock to another thread of this process for 0.2 ms could
 * sleep 100 ms. Instead every connection of a process to one database file shares a gate (keyed
 * by st_dev/st_ino, refcounted): each end of a write transaction in this process bumps the
 * gate's generation and wakes one of its waiters, and the busy handler waits for that, at most
 * BUSY_POLL_NS at a time, so that a holder in another process (which cannot wake us) is still
 * retried promptly. After BUSY_TIMEOUT_MS in all the handler gives up (IPVM_EBUSY). The handler
 * only waits: it holds no lock SQLite or the caller could need, so it cannot deadlock. */
#define _GNU_SOURCE
#include "store_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

/* How long a writer waits for another process's transaction before IPVM_EBUSY. */
#define BUSY_TIMEOUT_MS 10000
/* The longest single wait: how late a holder in another process can be noticed. */
#define BUSY_POLL_NS 2000000
/* SQLite's default auto-checkpoint (sqlite3_wal_hook replaces it). */
#define WAL_CHECKPOINT_PAGES 1000

struct ipvm__store_gate_s {
    struct ipvm__store_gate_s *next; /* under reg_lock */
    dev_t dev;
    ino_t ino;
    unsigned refs; /* under reg_lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* CLOCK_MONOTONIC */
    _Atomic unsigned long gen; /* written under lock: one per end of a write transaction */
    unsigned waiters, tokens;  /* under lock; tokens <= waiters */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static ipvm__store_gate_t *reg_head;

static ipvm__store_gate_t *gate_get(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL; /* the handler then polls */
    pthread_mutex_lock(&reg_lock);
    ipvm__store_gate_t *g = reg_head;
    while (g && (g->dev != st.st_dev || g->ino != st.st_ino))
        g = g->next;
    if (g == NULL && (g = ipvm_calloc(1, sizeof *g)) != NULL) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&g->cond, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&g->lock, NULL);
        g->dev = st.st_dev;
        g->ino = st.st_ino;
        g->next = reg_head;
        reg_head = g;
    }
    if (g)
        g->refs++;
    pthread_mutex_unlock(&reg_lock);
    return g;
}

static void gate_put(ipvm__store_gate_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&reg_lock);
    bool last = --g->refs == 0;
    if (last) {
        ipvm__store_gate_t **p = &reg_head;
        while (*p != g)
            p = &(*p)->next;
        *p = g->next;
    }
    pthread_mutex_unlock(&reg_lock);
    if (last) {
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->lock);
        ipvm_free(g);
    }
}

static void gate_open(ipvm__store_gate_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    atomic_store_explicit(&g->gen, atomic_load_explicit(&g->gen, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* one waiter per end: the lock is free for one writer, and waking all of them cost each
     * commit a retry and two context switches per waiter */
    if (g->tokens < g->waiters) {
        g->tokens++;
        pthread_cond_signal(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
}

static int on_busy(void *arg, int count)
{
    ipvm_store_t *s = arg;
    uint64_t now = ipvm_now_ns();
    if (count == 0)
        s->busy_since = now;
    else if (now - s->busy_since >= (uint64_t)BUSY_TIMEOUT_MS * 1000000u)
        return 0;
    ipvm__store_gate_t *g = s->gate;
    uint64_t until = now + (s->busy_poll_ns ? s->busy_poll_ns : BUSY_POLL_NS);
    struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
    if (g == NULL) {
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
        }
        return 1;
    }
    pthread_mutex_lock(&g->lock);
    /* the generation seen before the attempt that failed: ipvm__store_begin's, or now */
    unsigned long seen = count > 0 || s->gen_seen_ok ? s->gen_seen : atomic_load(&g->gen);
    s->gen_seen_ok = false;
    bool woken = atomic_load_explicit(&g->gen, memory_order_relaxed) != seen; /* ended since */
    if (!woken) {
        g->waiters++;
        int rc = 0;
        while (g->tokens == 0 && rc == 0)
            rc = pthread_cond_timedwait(&g->cond, &g->lock, &ts);
        if (g->tokens > 0) {
            g->tokens--;
            woken = true;
        }
        g->waiters--;
    }
    s->gen_seen = atomic_load_explicit(&g->gen, memory_order_relaxed);
    pthread_mutex_unlock(&g->lock);
    if (woken)
        s->busy_woken++;
    else
        s->busy_polled++;
    return 1;
}

/* In WAL mode SQLite calls this after a commit that wrote pages, once the write lock is
 * released. It replaces the default hook, so it checkpoints the way that one does. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    ipvm_store_t *s = arg;
    s->wal_woke = true;
    gate_open(s->gate);
    if (pages >= WAL_CHECKPOINT_PAGES)
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

void ipvm__store_busy_init(ipvm_store_t *s)
{
    s->gate = gate_get(s->path);
    sqlite3_busy_handler(s->db, on_busy, s);
    sqlite3_wal_hook(s->db, on_wal, s);
}

void ipvm__store_busy_free(ipvm_store_t *s)
{
    gate_put(s->gate);
    s->gate = NULL;
}

void ipvm__store_busy_before_write(ipvm_store_t *s)
{
    s->wal_woke = false;
    if (s->gate) {
        s->gen_seen = atomic_load(&s->gate->gen);
        s->gen_seen_ok = true;
    }
}

void ipvm__store_busy_after_write(ipvm_store_t *s)
{
    s->gen_seen_ok = false;
}

void ipvm__store_busy_end_write(ipvm_store_t *s)
{
    if (!s->wal_woke)
        gate_open(s->gate); /* a rollback, or a commit that wrote nothing */
    s->wal_woke = false;
}

void ipvm__store_busy_counts(ipvm_store_t *s, unsigned long *woken, unsigned long *polled)
{
    *woken = s->busy_woken;
    *polled = s->busy_polled;
}

void ipvm__store_busy_set_poll(ipvm_store_t *s, uint64_t poll_ns)
{
    s->busy_poll_ns = poll_ns;
}
