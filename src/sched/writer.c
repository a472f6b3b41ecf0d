/* SPDX-License-Identifier: Apache-2.0 */
/* The writer threads of runs. Every run that commits receipts has one writer (its group
 * commits, loop.c; for a run started with ipvm_sched_start also its setup and the steps after
 * each commit, async.c), and the scheduler keeps the threads of ended runs parked for the next
 * runs: a run gets its writer with a signal to a waiting thread instead of a thread creation
 * (~160 us of clone3 on the libuv loop for every ipvm_sched_start in the node). A writer waits
 * on a condition of its own, never on its run's, so a run that ends gives its writer back by
 * changing the writer's state under the writer's lock: the writer is not woken and nothing
 * waits for it. At most IPVM__SCHED_WRITERS_PARKED threads stay parked; the writer of a run
 * that ends while that many are parked is told to exit. ipvm_sched_free ends them all. */
#include "run_int.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The group's connection appends receipts and links and reads nothing back: the index pages
 * it inserts into fit in 4 MiB, and the rest of a 16 MiB cache would only hold pages written
 * once. */
#define WRITER_CACHE_KIB 4096

struct ipvm__writer_s {
    ipvm__writer_t *next;  /* in s->widle while parked */
    ipvm__writer_t *anext; /* in s->wall, every writer not yet joined (under s->wlock) */
    ipvm_sched_t *s;
    pthread_t thread;
    /* lock guards the four fields after cond; lock order: s->wlock, then a writer's lock */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when begin, work or stop is set */
    pthread_cond_t gcond; /* (with s->glock) its batch is committed, or it is to lead a group */
    ipvm__run_t *run;    /* the run it serves; NULL while parked */
    bool begin;          /* a started run's setup to do */
    bool work;           /* a batch to commit (run->wbatch) */
    bool stop;           /* exit when idle (set on parking, or by ipvm_sched_free) */
    bool exited;         /* writer_main returned or is about to: join it (under s->wlock) */
};

static _Thread_local ipvm__run_t *this_writer; /* the run this thread is the writer of now */

/* ---- group commit ----------------------------------------------------------------------------
 * The writers of all runs in progress share one connection: a writer with a batch queues its
 * run; the first writer to find no group being committed takes the whole queue (its own run
 * in it) and commits every batch in one durable transaction, then marks them done, wakes
 * their writers, and wakes the first of the writers queued meanwhile to commit the next group. So
 * there is one write-lock holder per process instead of one per run (no hand-off between
 * connections, a page cache that stays valid) and one fsync per group. Each writer still
 * returns only once its own batch is on disk, and a run has at most one batch queued, so a
 * run's receipts stay in order and are reported only after the commit that holds them. */
#define GROUP_MAX 32 /* batches per transaction; a longer queue takes several */

/* Commits `list` (n runs' batches) in one transaction; when that fails and holds more than one
 * batch, each batch alone, so that one run's failure is not the others'. Sets each run's g_rc
 * and g_err. Only the writer that set s->gbusy calls it. */
static void commit_chunk(ipvm_sched_t *s, ipvm__run_t *list, size_t n)
{
    ipvm_store_receipt_group_t g[GROUP_MAX];
    ipvm__run_t *r = list;
    for (size_t i = 0; i < n; i++, r = r->g_next) {
        g[i] = (ipvm_store_receipt_group_t){&r->wf->cid, r->wbatch->rows, r->wbatch->n};
        ipvm_error_clear(&r->g_err);
    }
    int rc = ipvm_store_put_receipt_groups(s->gstore, g, n, &list->g_err);
    r = list;
    for (size_t i = 0; i < n; i++, r = r->g_next) {
        if (rc != 0 && n > 1) {
            ipvm_error_clear(&r->g_err);
            r->g_rc = ipvm_store_put_receipts(s->gstore, g[i].workflow, g[i].rows, g[i].n, NULL,
                                              &r->g_err);
        } else {
            r->g_rc = rc;
        }
    }
}

static void commit_group(ipvm_sched_t *s, ipvm__run_t *list)
{
    ipvm_error_t e;
    ipvm_error_clear(&e);
    int rc = 0;
    if (s->gstore == NULL && (rc = ipvm__sched_store_take(s, &s->gstore, &e)) == 0)
        ipvm_store_set_cache_kib(s->gstore, WRITER_CACHE_KIB);
    bool failed = rc != 0;
    uint64_t commits = 0, batches = 0;
    while (list) {
        size_t n = 0;
        ipvm__run_t *next = list;
        for (; next && n < GROUP_MAX; next = next->g_next)
            n++;
        if (rc == 0) {
            commit_chunk(s, list, n);
            commits++;
            batches += n;
        }
        for (; list != next; list = list->g_next) {
            if (rc != 0) {
                list->g_rc = rc;
                list->g_err = e;
            }
            failed |= list->g_rc != 0;
        }
    }
    if (failed && s->gstore) { /* a fresh connection for the next group */
        ipvm__sched_store_give(s, s->gstore, true);
        s->gstore = NULL;
    }
    pthread_mutex_lock(&s->glock);
    s->gcommits += commits;
    s->gbatches += batches;
    pthread_mutex_unlock(&s->glock);
}

/* Queues run's batch and returns once it is committed (g_rc, g_err say how). */
static void group_commit(ipvm__run_t *run)
{
    ipvm_sched_t *s = run->s;
    pthread_mutex_lock(&s->glock);
    run->g_next = NULL;
    run->g_done = false;
    *s->gq_tail = run;
    s->gq_tail = &run->g_next;
    while (!run->g_done) {
        if (s->gbusy) {
            pthread_cond_wait(&run->w->gcond, &s->glock);
            continue;
        }
        ipvm__run_t *list = s->gq; /* run is in it */
        s->gq = NULL;
        s->gq_tail = &s->gq;
        s->gbusy = true;
        pthread_mutex_unlock(&s->glock);
        commit_group(s, list);
        pthread_mutex_lock(&s->glock);
        while (list) { /* each waiter woken alone: no herd on every commit */
            ipvm__run_t *r = list;
            list = r->g_next;
            r->g_done = true;
            if (r != run)
                pthread_cond_signal(&r->w->gcond);
        }
        s->gbusy = false;
        if (s->gq) /* queued meanwhile: its first writer commits the next group */
            pthread_cond_signal(&s->gq->w->gcond);
    }
    pthread_mutex_unlock(&s->glock);
}

void ipvm__sched_groups(ipvm_sched_t *s, uint64_t *commits, uint64_t *batches)
{
    pthread_mutex_lock(&s->glock);
    *commits = s->gcommits;
    *batches = s->gbatches;
    pthread_mutex_unlock(&s->glock);
}

/* ---- a stall for crash tests ----------------------------------------------------------------
 * Test-only (sched/crash_safety kills `ipvm run` at known moments in the middle of its
 * commits): with IPVM_TEST_STALL_AFTER_RECEIPTS=k in the environment, once the writers of this
 * process have committed k receipts (the batch that would pass k is cut to end there) the
 * writer writes one byte to the descriptor IPVM_TEST_STALL_FD names, if set, and blocks for
 * ever: those k receipts are durable, the rest of the run is not. The environment is read
 * once, by ipvm_sched_new; unset, the stall costs each commit one test of a bool. */
static long env_number(const char *name, long dflt, long max)
{
    const char *v = getenv(name);
    if (v == NULL)
        return dflt;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > max) {
        ipvm_log(IPVM_LOG_WARN, "sched", "%s=%s is not a number from 0 to %ld: ignored",
                 name, v, max);
        return dflt;
    }
    return n;
}

void ipvm__sched_stall_init(ipvm_sched_t *s)
{
    long k = env_number("IPVM_TEST_STALL_AFTER_RECEIPTS", -1, LONG_MAX);
    s->stall_on = k >= 0;
    s->stall_left = k >= 0 ? (uint64_t)k : 0;
    s->stall_fd = (int)env_number("IPVM_TEST_STALL_FD", -1, INT_MAX);
    if (s->stall_on)
        ipvm_log(IPVM_LOG_WARN, "sched",
                 "test stall: the writers stop for ever after %ld receipts "
                 "(IPVM_TEST_STALL_AFTER_RECEIPTS is set; unset it outside tests)", k);
}

/* Cuts run's batch at the stall; returns true when the writer must stall once it committed
 * what is left of the batch (nothing, when the last commit reached the stall). */
static bool stall_cut(ipvm__run_t *run)
{
    ipvm_sched_t *s = run->s;
    pthread_mutex_lock(&s->glock);
    bool stall = s->stall_left <= run->wbatch->n;
    if (stall)
        run->wbatch->n = (size_t)s->stall_left;
    s->stall_left -= run->wbatch->n;
    pthread_mutex_unlock(&s->glock);
    return stall;
}

static void stall_forever(ipvm_sched_t *s)
{
    if (s->stall_fd >= 0 && write(s->stall_fd, "s", 1) != 1)
        ipvm_log(IPVM_LOG_WARN, "sched", "test stall: cannot write to IPVM_TEST_STALL_FD=%d: %s",
                 s->stall_fd, strerror(errno));
    for (;;)
        pause(); /* until the test's SIGKILL */
}

/* ---- one run ---------------------------------------------------------------------------------
 * The coordinator hands every receipt finished since the last commit to the writer, which
 * commits them durably (in the scheduler's next group commit, above) while tasks keep running;
 * the coordinator reports them (events, publish) only once the writer says they are on disk.
 * Once the writer has said so (w_done, under run->lock), it touches the run no more unless it
 * steps it: the run may end and be freed at once, on another thread. */
/* Commits the batch the coordinator handed over. For a started run, returns true when this
 * thread must step it. */
static bool commit_one(ipvm__run_t *run)
{
    /* (run->wbatch was written before the hand-off under the writer's lock) */
    uint64_t t0 = ipvm_now_ns();
    bool stall = run->s->stall_on && stall_cut(run);
    if (!stall || run->wbatch->n > 0) /* (a batch cut at the stall may be empty) */
        group_commit(run);
    if (stall)
        stall_forever(run->s);
    uint64_t dt = ipvm_now_ns() - t0;
    pthread_mutex_lock(&run->lock);
    run->w_done = true;
    run->w_rc = run->g_rc;
    run->w_err = run->g_err;
    run->w_ns += dt;
    bool step = ipvm__run_kick_locked(run);
    pthread_mutex_unlock(&run->lock);
    return step;
}

/* Does what w was given for its run (a started run's setup, or a commit and the step after
 * it); returns true when the run ended on this thread (and is freed). */
static bool serve(ipvm__run_t *run, bool begin)
{
    bool ended = false;
    this_writer = run;
    if (begin)
        ended = ipvm__run_async_begin(run);
    else if (commit_one(run))
        ended = ipvm__run_step(run); /* a started run: this thread steps it */
    this_writer = NULL;
    return ended;
}

/* ---- the parked threads ---------------------------------------------------------------------- */
/* Takes w back from its run (which has ended): parked for the next run, or told to exit when
 * enough are parked or the scheduler stops. Under s->wlock. */
static void park_locked(ipvm_sched_t *s, ipvm__writer_t *w)
{
    pthread_mutex_lock(&w->lock);
    assert(!w->begin && !w->work); /* ipvm__run_turn ends a run only with the writer idle */
    w->run = NULL;
    if (!s->wstop && s->nidle < IPVM__SCHED_WRITERS_PARKED) {
        w->next = s->widle;
        s->widle = w;
        s->nidle++;
    } else {
        w->stop = true;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
}

static void *writer_main(void *arg)
{
    ipvm__writer_t *w = arg;
    ipvm_sched_t *s = w->s;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->begin && !w->work && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->begin && !w->work) /* stopping */
            break;
        ipvm__run_t *run = w->run;
        bool begin = w->begin;
        w->begin = w->work = false;
        pthread_mutex_unlock(&w->lock);
        if (serve(run, begin)) { /* ended here: parked only now, after its on_done returned */
            pthread_mutex_lock(&s->wlock);
            park_locked(s, w);
            pthread_mutex_unlock(&s->wlock);
        }
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_lock(&s->wlock);
    w->exited = true; /* joined by the next thread creation or by ipvm_sched_free */
    pthread_mutex_unlock(&s->wlock);
    return NULL;
}

static void writer_free(ipvm__writer_t *w)
{
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->gcond);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    ipvm_free(w);
}

/* Joins the writers that exited (under s->wlock: they are past their last use of it, or about
 * to be, so each join is short). */
static void reap_locked(ipvm_sched_t *s)
{
    for (ipvm__writer_t **p = &s->wall; *p;) {
        ipvm__writer_t *w = *p;
        if (!w->exited) {
            p = &w->anext;
            continue;
        }
        *p = w->anext;
        writer_free(w);
    }
}

/* A new writer thread, given `run` at once. Under s->wlock. */
static int writer_new_locked(ipvm_sched_t *s, ipvm__run_t *run, bool begin)
{
    reap_locked(s);
    ipvm__writer_t *w = ipvm_calloc(1, sizeof *w);
    if (w == NULL)
        return IPVM_ENOMEM;
    if (pthread_mutex_init(&w->lock, NULL) != 0)
        goto fail_lock;
    if (pthread_cond_init(&w->cond, NULL) != 0)
        goto fail_cond;
    if (pthread_cond_init(&w->gcond, NULL) != 0)
        goto fail_gcond;
    w->s = s;
    w->run = run;
    w->begin = begin;
    run->w = w;
    /* (under wlock: the thread cannot be reaped, so w->thread read, before it is written) */
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        goto fail_thread;
    w->anext = s->wall;
    s->wall = w;
    s->wcreated++;
    return 0;
fail_thread:
    run->w = NULL;
    pthread_cond_destroy(&w->gcond);
fail_gcond:
    pthread_cond_destroy(&w->cond);
fail_cond:
    pthread_mutex_destroy(&w->lock);
fail_lock:
    ipvm_free(w);
    return IPVM_ENOMEM;
}

/* Gives run a writer: a parked one or a new thread. begin: a started run, whose writer does
 * its setup at once (a signal); a blocking run's writer sleeps on until the first commit.
 * Once it returns 0 the caller must not touch a started run again unless it owns it by other
 * means (the writer may end it at once). */
static int writer_give(ipvm_sched_t *s, ipvm__run_t *run, bool begin)
{
    int rc = 0;
    pthread_mutex_lock(&s->wlock);
    ipvm__writer_t *w = s->wstop ? NULL : s->widle;
    if (w != NULL) {
        s->widle = w->next;
        s->nidle--;
        pthread_mutex_lock(&w->lock);
        w->run = run;
        w->begin = begin;
        run->w = w;
        pthread_mutex_unlock(&w->lock);
        /* signalled after the unlock: the woken writer does not block on w->lock at once (a
         * futex wait for it and a wake from the unlock, on the caller's thread: the loop's).
         * s->wlock is still held, so w cannot be reaped before the signal. */
        if (begin)
            pthread_cond_signal(&w->cond);
    } else {
        rc = writer_new_locked(s, run, begin);
    }
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

void ipvm__sched_writers_stop(ipvm_sched_t *s)
{
    if (!s->winit)
        return;
    /* No run is in progress (ipvm_sched_free's contract), but a writer may still be between
     * its run's end and its parking: every writer is told to stop, and parks no more. */
    pthread_mutex_lock(&s->wlock);
    s->wstop = true;
    for (ipvm__writer_t *w = s->wall; w; w = w->anext) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    ipvm__writer_t *all = s->wall;
    s->wall = NULL;
    s->widle = NULL;
    s->nidle = 0;
    pthread_mutex_unlock(&s->wlock);
    while (all) { /* (joined without wlock: a stopping writer takes it to say it exited) */
        ipvm__writer_t *w = all;
        all = w->anext;
        writer_free(w);
    }
    if (s->gstore) { /* every writer is joined: nothing commits any more */
        ipvm_store_set_cache_kib(s->gstore, 0);
        ipvm__sched_store_give(s, s->gstore, false);
        s->gstore = NULL;
    }
}

void ipvm__sched_writers(ipvm_sched_t *s, uint64_t *created, size_t *parked)
{
    pthread_mutex_lock(&s->wlock);
    *created = s->wcreated;
    *parked = s->nidle;
    pthread_mutex_unlock(&s->wlock);
}

/* ---- a run's side ---------------------------------------------------------------------------- */
int ipvm__run_writer_start(ipvm__run_t *run)
{
    /* run->w is set before the hand-off (whose lock orders it before anything the writer
     * does): a started run's writer steps the run at once, and its submit must not ask for a
     * second writer. */
    if (writer_give(run->s, run, run->async) != 0)
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                              "cannot start the writer thread");
    return 0;
}

void ipvm__run_writer_submit(ipvm__run_t *run)
{
    ipvm__writer_t *w = run->w;
    pthread_mutex_lock(&w->lock);
    assert(w->run == run && !w->work);
    w->work = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void ipvm__run_writer_stop(ipvm__run_t *run)
{
    /* The writer is idle (no batch handed over: ipvm__run_turn ends a run only then) and may
     * be asleep: it is parked without a wake-up, and the run does not wait for it. A started
     * run that ends on its own writer (its setup or a step after a commit) leaves the parking
     * to that thread, once the run's on_done has returned. */
    assert(!run->w_busy); /* ipvm__run_turn */
    if (run->w != NULL && this_writer != run) {
        ipvm_sched_t *s = run->s;
        pthread_mutex_lock(&s->wlock);
        park_locked(s, run->w);
        pthread_mutex_unlock(&s->wlock);
    }
    run->w = NULL;
}
