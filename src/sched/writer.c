/* SPDX-License-Identifier: Apache-2.0 */
/* The writer threads of runs. Every run that commits receipts has one writer (its group
 * commits, loop.c; for a run started with ipvm_sched_start also its setup and the steps after
 * each commit, async.c), and the scheduler keeps the threads of ended runs parked for the next
 * runs: a run gets its writer with a signal to a waiting thread instead of a thread creation
 * (~160 us of clone3 on the libuv loop for every ipvm_sched_start in the node) and gives it
 * back with a hand-shake instead of a join. At most IPVM__SCHED_WRITERS_PARKED threads wait;
 * the writer of a run that ends while that many are parked exits. ipvm_sched_free ends them
 * all. */
#include "run_int.h"

#include <string.h>

#define WRITER_CACHE_KIB 4096 /* the writer's page cache (see ipvm__run_writer_store) */

struct ipvm__writer_s {
    ipvm__writer_t *next; /* in s->widle or s->wdead */
    ipvm_sched_t *s;
    pthread_t thread;
    pthread_cond_t cond; /* signalled under s->wlock when it is given a run or must stop */
    ipvm__run_t *run;    /* the run it serves; NULL while parked (under s->wlock) */
};

static _Thread_local ipvm__run_t *this_writer; /* the run this thread is the writer of now */

/* ---- one run ---------------------------------------------------------------------------------
 * The coordinator hands every receipt finished since the last commit to the writer, which
 * commits them in one durable transaction on its own store handle while tasks keep running;
 * the coordinator reports them (events, publish) only once the writer says they are on disk. */
/* Commits the batch the coordinator handed over (w_work) and says so; under run->lock, which
 * it drops for the commit. For a started run, returns true when this thread must step it. */
static bool commit_one(ipvm__run_t *run)
{
    ipvm__batch_t *b = run->wbatch;
    pthread_mutex_unlock(&run->lock);
    ipvm_error_t e;
    ipvm_error_clear(&e);
    uint64_t t0 = ipvm_now_ns();
    int rc = ipvm_store_put_receipts(run->w_store, &run->wf->cid, b->rows, b->n, NULL, &e);
    uint64_t dt = ipvm_now_ns() - t0;
    pthread_mutex_lock(&run->lock);
    run->w_work = false;
    run->w_done = true;
    run->w_rc = rc;
    run->w_err = e;
    run->w_ns += dt;
    return ipvm__run_kick_locked(run);
}

/* Serves one run until it no longer needs a writer. The run may be freed when this returns:
 * either it ended on this thread (a started run's setup or step), or ipvm__run_writer_stop
 * waited for w_left, the last thing this thread does to it. */
static void serve(ipvm__run_t *run)
{
    this_writer = run;
    if (run->async && ipvm__run_async_begin(run)) /* the run ended (and is freed) */
        goto out;
    pthread_mutex_lock(&run->lock);
    for (;;) {
        while (!run->w_work && !run->w_stop)
            pthread_cond_wait(&run->w_cond, &run->lock);
        if (!run->w_work)
            break;
        if (commit_one(run)) { /* a started run: this thread steps it */
            pthread_mutex_unlock(&run->lock);
            if (ipvm__run_step(run)) /* it ended here (and is freed) */
                goto out;
            pthread_mutex_lock(&run->lock);
        }
    }
    run->w_left = true;
    pthread_cond_signal(&run->cond); /* only ipvm__run_writer_stop waits on it now */
    pthread_mutex_unlock(&run->lock);
out:
    this_writer = NULL;
}

/* ---- the parked threads ---------------------------------------------------------------------- */
static void *writer_main(void *arg)
{
    ipvm__writer_t *w = arg;
    ipvm_sched_t *s = w->s;
    pthread_mutex_lock(&s->wlock);
    for (;;) {
        while (w->run == NULL && !s->wstop)
            pthread_cond_wait(&w->cond, &s->wlock);
        ipvm__run_t *run = w->run;
        if (run == NULL) /* stopping */
            break;
        pthread_mutex_unlock(&s->wlock);
        serve(run);
        pthread_mutex_lock(&s->wlock);
        w->run = NULL;
        if (s->wstop || s->nidle >= IPVM__SCHED_WRITERS_PARKED)
            break;
        w->next = s->widle; /* parked: the next run's writer */
        s->widle = w;
        s->nidle++;
    }
    /* joined by the next thread creation or by ipvm_sched_free (ipvm__sched_writers_stop) */
    w->next = s->wdead;
    s->wdead = w;
    s->nwriters--;
    pthread_cond_broadcast(&s->wcond);
    pthread_mutex_unlock(&s->wlock);
    return NULL;
}

static void reap(ipvm__writer_t *dead)
{
    while (dead) {
        ipvm__writer_t *w = dead;
        dead = w->next;
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
        ipvm_free(w);
    }
}

/* A new writer thread, given `run` at once. */
static int writer_new(ipvm_sched_t *s, ipvm__run_t *run)
{
    pthread_mutex_lock(&s->wlock);
    ipvm__writer_t *dead = s->wdead; /* exited since: join them now (they are gone or going) */
    s->wdead = NULL;
    pthread_mutex_unlock(&s->wlock);
    reap(dead);
    ipvm__writer_t *w = ipvm_calloc(1, sizeof *w);
    if (w == NULL)
        return IPVM_ENOMEM;
    if (pthread_cond_init(&w->cond, NULL) != 0) {
        ipvm_free(w);
        return IPVM_ENOMEM;
    }
    w->s = s;
    w->run = run;
    /* Under wlock: the thread cannot exit, and so be reaped (w->thread read), before
     * pthread_create has written w->thread. */
    pthread_mutex_lock(&s->wlock);
    int prc = pthread_create(&w->thread, NULL, writer_main, w);
    if (prc == 0) {
        s->nwriters++;
        s->wcreated++;
    }
    pthread_mutex_unlock(&s->wlock);
    if (prc != 0) {
        pthread_cond_destroy(&w->cond);
        ipvm_free(w);
        return IPVM_ENOMEM;
    }
    return 0;
}

/* Gives run a writer: a parked one (a signal) or a new thread. Once it returns 0, the caller
 * must not touch the run again unless it owns it by other means (the writer may end a started
 * run at once). */
static int writer_give(ipvm_sched_t *s, ipvm__run_t *run)
{
    pthread_mutex_lock(&s->wlock);
    ipvm__writer_t *w = s->widle;
    if (w != NULL && !s->wstop) {
        s->widle = w->next;
        s->nidle--;
        w->run = run;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&s->wlock);
        return 0;
    }
    pthread_mutex_unlock(&s->wlock);
    return writer_new(s, run);
}

void ipvm__sched_writers_stop(ipvm_sched_t *s)
{
    if (!s->winit)
        return;
    pthread_mutex_lock(&s->wlock);
    s->wstop = true;
    for (ipvm__writer_t *w = s->widle; w; w = w->next)
        pthread_cond_signal(&w->cond);
    s->widle = NULL;
    s->nidle = 0;
    /* a writer may still be between its run's end (on_done returned) and parking */
    while (s->nwriters > 0)
        pthread_cond_wait(&s->wcond, &s->wlock);
    ipvm__writer_t *dead = s->wdead;
    s->wdead = NULL;
    pthread_mutex_unlock(&s->wlock);
    reap(dead);
}

void ipvm__sched_writers(ipvm_sched_t *s, uint64_t *created, size_t *parked)
{
    pthread_mutex_lock(&s->wlock);
    *created = s->wcreated;
    *parked = s->nidle;
    pthread_mutex_unlock(&s->wlock);
}

/* ---- a run's side ---------------------------------------------------------------------------- */
int ipvm__run_writer_store(ipvm__run_t *run)
{
    int rc = ipvm__sched_store_take(run->s, &run->w_store, run->err);
    if (rc != 0)
        return rc;
    /* the writer appends receipts and links and reads nothing back: the index pages it inserts
     * into fit in 4 MiB, and the rest of a 16 MiB cache would only hold pages written once */
    ipvm_store_set_cache_kib(run->w_store, WRITER_CACHE_KIB);
    return 0;
}

int ipvm__run_writer_start(ipvm__run_t *run)
{
    /* a started run's writer takes its store handle itself (ipvm__run_async_begin) */
    int rc = run->async ? 0 : ipvm__run_writer_store(run);
    if (rc != 0)
        return rc;
    if (pthread_cond_init(&run->w_cond, NULL) != 0)
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    run->w_cond_ok = true;
    /* Marked started before the hand-off (whose lock orders it before anything the writer
     * does): a started run's writer steps the run at once, and its submit must not ask for a
     * second writer. */
    run->w_started = true;
    if (writer_give(run->s, run) != 0) {
        run->w_started = false; /* (no writer: the run is still the caller's alone) */
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                              "cannot start the writer thread");
    }
    return 0;
}

void ipvm__run_writer_stop(ipvm__run_t *run)
{
    /* A started run that ends on its own writer (its setup or a step after a commit) has
     * nothing to wait for: that thread returns to its parking once the run is freed. */
    if (run->w_started && this_writer != run) {
        pthread_mutex_lock(&run->lock);
        run->w_stop = true;
        pthread_cond_signal(&run->w_cond);
        while (!run->w_left)
            pthread_cond_wait(&run->cond, &run->lock);
        pthread_mutex_unlock(&run->lock);
    }
    run->w_started = false;
    if (run->w_cond_ok)
        pthread_cond_destroy(&run->w_cond);
    run->w_cond_ok = false;
    if (run->w_store)
        ipvm_store_set_cache_kib(run->w_store, 0); /* back to the default for its next user */
    ipvm__sched_store_give(run->s, run->w_store, run->w_rc != 0);
    run->w_store = NULL;
}
