/* SPDX-License-Identifier: Apache-2.0 */
/* Runs started with ipvm_sched_start: no thread waits for them. The run's writer thread (which
 * every run that executes something has) does its setup; then whatever moves the run on steps
 * it - a task's completion (on the worker that ran the task: no wake-up), a group commit (on
 * the writer, after it), the release of an instruction it parked on, and a timer for the
 * commit window, the cancel poll and the deadline (both queue the step to the workers). A step takes turns of the same loop as ipvm_sched_run (loop.c) without waiting,
 * until there is nothing to do. At most one step runs at a time per run (a_sched), so the
 * coordinator's state is touched by one thread at a time, as in ipvm_sched_run. */
#include "run_int.h"

#include <stddef.h>
#include <time.h>

static ipvm__run_t *run_of(ipvm__job_t *j)
{
    return (ipvm__run_t *)(void *)((char *)j - offsetof(ipvm__run_t, a_job));
}

/* ---- the timer ------------------------------------------------------------------------------ */
static void *timer_main(void *arg)
{
    ipvm_sched_t *s = arg;
    pthread_mutex_lock(&s->tlock);
    while (!s->tstop) {
        uint64_t now = ipvm_now_ns(), next = now + 1000000000u;
        for (ipvm__run_t *r = s->started; r; r = r->a_next) {
            if (r->a_wake_ns == 0)
                continue;
            if (r->a_wake_ns > now) {
                if (r->a_wake_ns < next)
                    next = r->a_wake_ns;
                continue;
            }
            r->a_wake_ns = 0;
            pthread_mutex_lock(&r->lock);
            bool step = ipvm__run_kick_locked(r);
            pthread_mutex_unlock(&r->lock);
            if (step) /* (lock order: tlock, then a run's lock, then the pool's) */
                ipvm__run_queue_step(r);
        }
        s->twake_ns = next;
        struct timespec ts;
        ts.tv_sec = (time_t)(next / 1000000000u);
        ts.tv_nsec = (long)(next % 1000000000u);
        pthread_cond_timedwait(&s->tcond, &s->tlock, &ts);
        s->twake_ns = 0;
    }
    pthread_mutex_unlock(&s->tlock);
    return NULL;
}

void ipvm__sched_timer_stop(ipvm_sched_t *s)
{
    if (!s->tinit)
        return;
    pthread_mutex_lock(&s->tlock);
    s->tstop = true;
    pthread_cond_signal(&s->tcond);
    bool started = s->tstarted;
    s->tstarted = false;
    pthread_mutex_unlock(&s->tlock);
    if (started)
        pthread_join(s->tthread, NULL);
}

/* Steps the run at `at` at the latest (its next look at the clock). */
static void timer_arm(ipvm__run_t *run, uint64_t at)
{
    ipvm_sched_t *s = run->s;
    pthread_mutex_lock(&s->tlock);
    run->a_wake_ns = at;
    if (s->twake_ns != 0 && at < s->twake_ns) /* sleeping past it: look again */
        pthread_cond_signal(&s->tcond);
    pthread_mutex_unlock(&s->tlock);
}

/* ---- steps ---------------------------------------------------------------------------------- */
static void timer_forget(ipvm__run_t *run)
{
    ipvm_sched_t *s = run->s;
    pthread_mutex_lock(&s->tlock);
    if (run->a_prev)
        run->a_prev->a_next = run->a_next;
    else
        s->started = run->a_next;
    if (run->a_next)
        run->a_next->a_prev = run->a_prev;
    pthread_mutex_unlock(&s->tlock);
}

static void finish(ipvm__run_t *run, int rc)
{
    timer_forget(run); /* the timer no longer sees it */
    /* a_sched stays true from here on: whatever still kicks the run (a release of an
     * instruction it parked on, before ipvm__run_end forgets it) queues nothing */
    rc = ipvm__run_end(run, rc);
    ipvm_sched_done_cb cb = run->on_done;
    void *data = run->done_data;
    ipvm_sched_result_t *res = run->res;
    ipvm_error_t err = run->a_err;
    ipvm_free(run);
    cb(rc, res, &err, data);
}

bool ipvm__run_step(ipvm__run_t *run)
{
    for (;;) {
        pthread_mutex_lock(&run->lock);
        run->a_again = false;
        pthread_mutex_unlock(&run->lock);
        int t;
        while ((t = ipvm__run_turn(run, false)) == IPVM__TURN_MORE)
            ;
        if (t == IPVM__TURN_DONE) {
            finish(run, ipvm__run_loop_rc(run));
            return true;
        }
        timer_arm(run, ipvm__run_next_wakeup(run, ipvm_now_ns()));
        pthread_mutex_lock(&run->lock);
        if (!run->a_again) {
            run->a_sched = false;
            pthread_mutex_unlock(&run->lock);
            return false;
        }
        pthread_mutex_unlock(&run->lock);
    }
}

static void step_main(ipvm__job_t *job)
{
    (void)ipvm__run_step(run_of(job));
}

void ipvm__run_queue_step(ipvm__run_t *run)
{
    run->a_job.fn = step_main;
    ipvm__pool_push_front(&run->s->pool, &run->a_job);
}

/* The first thing the run's writer thread does: the setup (store lookups and the workflow
 * row, blocking work kept off the workers), then the first step. */
bool ipvm__run_async_begin(ipvm__run_t *run)
{
    int rc = ipvm__run_setup(run);
    if (rc != 0) {
        finish(run, rc);
        return true;
    }
    return ipvm__run_step(run); /* a_sched has been true since the start */
}

/* ---- the entry point ------------------------------------------------------------------------ */
static int timer_start(ipvm_sched_t *s)
{
    int rc = 0;
    pthread_mutex_lock(&s->tlock);
    if (!s->tstarted && !s->tstop) {
        if (pthread_create(&s->tthread, NULL, timer_main, s) == 0)
            s->tstarted = true;
        else
            rc = IPVM_ENOMEM;
    }
    pthread_mutex_unlock(&s->tlock);
    return rc;
}

int ipvm_sched_start(ipvm_sched_t *s, const ipvm_workflow_t *wf, const ipvm_sched_run_opts_t *opts,
                     ipvm_arena_t *arena, ipvm_sched_result_t *out, ipvm_sched_done_cb on_done,
                     void *done_data, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || wf == NULL || arena == NULL || out == NULL || on_done == NULL);
    if (timer_start(s) != 0)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                              "cannot start the scheduler's timer thread");
    ipvm__run_t *run = ipvm_malloc(sizeof *run);
    if (run == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    if (ipvm__run_init(run, s, wf, opts, arena, out, &run->a_err) != 0) {
        ipvm_free(run);
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    run->err = &run->a_err; /* (init set it; the run owns its error) */
    run->async = true;
    run->a_sched = true; /* the setup job is this run's step until its first turn */
    run->on_done = on_done;
    run->done_data = done_data;
    pthread_mutex_lock(&s->tlock);
    run->a_next = s->started;
    if (s->started)
        s->started->a_prev = run;
    s->started = run;
    pthread_mutex_unlock(&s->tlock);
    /* The run's writer thread does its setup: a thread the run has anyway (a durable commit
     * must not block a worker), so the hand-off costs no extra wake-up; a parked writer is
     * only signalled (writer.c), no thread is created on the caller's (the loop's) thread. */
    if (ipvm__run_writer_start(run) != 0) {
        timer_forget(run);
        (void)ipvm__run_end(run, IPVM_ENOMEM); /* (no state yet: frees what init made) */
        ipvm_free(run);
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                              "cannot start the run's writer thread");
    }
    return 0;
}
