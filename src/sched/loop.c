/* SPDX-License-Identifier: Apache-2.0 */
/* The main loop of a run: dispatch ready tasks to the workers (after asking the network for
 * their receipts when a hook is installed), take completions, let dependents go as soon as a
 * result is known, and commit receipts in groups on a writer thread - one durable transaction
 * for everything that finished while the previous one was being written - reporting each
 * receipt only after its commit. Stops early on cancellation, timeout or a store failure. */
#include "run_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- jobs ------------------------------------------------------------------------------------ */
static ipvm__task_job_t *job_get(ipvm__run_t *run)
{
    ipvm__task_job_t *j = run->free_jobs;
    if (j) {
        run->free_jobs = (ipvm__task_job_t *)j->job.next;
    } else {
        if ((j = ipvm_calloc(1, sizeof *j)) == NULL)
            return NULL;
        ipvm_arena_init(&j->arena);
    }
    ipvm_arena_t keep = j->arena;
    ipvm_buf_t cbor = j->cbor, blobs = j->blobs, sig = j->sig;
    memset(j, 0, sizeof *j);
    j->arena = keep;
    j->cbor = cbor;
    j->blobs = blobs;
    j->sig = sig;
    ipvm_buf_clear(&j->cbor);
    ipvm_buf_clear(&j->blobs);
    ipvm_buf_clear(&j->sig);
    j->job.fn = ipvm__exec_task;
    j->run = run;
    return j;
}

static void job_put(ipvm__run_t *run, ipvm__task_job_t *j)
{
    ipvm_arena_reset(&j->arena);
    j->job.next = (ipvm__job_t *)run->free_jobs;
    run->free_jobs = j;
}

/* ---- dispatch -------------------------------------------------------------------------------- */
/* The module for rsc, loaded once per run (the engine caches the compiled code across runs). */
static module_t *module_for(ipvm__run_t *run, const char *rsc)
{
    for (size_t i = 0; i < run->nmodules; i++)
        if (strcmp(run->modules[i].rsc, rsc) == 0)
            return &run->modules[i];
    module_t *m = ipvm_realloc(run->modules, (run->nmodules + 1) * sizeof *m);
    if (m == NULL)
        return NULL;
    run->modules = m;
    m = &run->modules[run->nmodules++];
    memset(m, 0, sizeof *m);
    m->rsc = rsc;
    ipvm_error_clear(&m->err);
    if (run->s->exec.load == NULL)
        m->rc = ipvm_error_set(&m->err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                               "this scheduler has no executor for %s", rsc);
    else
        m->rc = run->s->exec.load(run->s->exec.data, rsc, &m->module, &m->err);
    if (m->rc != 0 && m->err.code == 0)
        ipvm_error_set(&m->err, m->rc, IPVM_NO_OFFSET, "cannot load %s", rsc);
    return m;
}

/* Sends task t to the workers (or parks it while another run executes the same instruction). */
static int dispatch_one(ipvm__run_t *run, size_t t)
{
    const ipvm_task_t *task = &run->wf->tasks[t];
    int claim = ipvm__sched_claim(run->s, &task->instruction, run, run->lookup_gen);
    if (claim != IPVM__CLAIM_MINE) {
        run->state[t] = T_PARKED;
        run->parked[run->nparked++] = t;
        if (claim == IPVM__CLAIM_DONE) /* finished elsewhere since our lookup: look again */
            ipvm__run_wake(run);
        return 0;
    }
    ipvm__task_job_t *job = job_get(run);
    if (job == NULL) {
        ipvm__sched_release(run->s, &task->instruction);
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    job->task = t;
    ipvm_sched_task_limits(&run->s->opts, task, &job->limits);
    if (run->deny && run->deny[t]) {
        job->fail_code = run->deny[t];
        job->fail_msg = run->deny_msg[t];
    } else {
        module_t *m = module_for(run, task->rsc);
        if (m == NULL) {
            job_put(run, job);
            ipvm__sched_release(run->s, &task->instruction);
            return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        }
        job->module = m->module;
        job->load_rc = m->rc;
        job->load_err = m->err;
    }
    run->state[t] = T_RUNNING;
    run->running++;
    ipvm__run_emit(run, IPVM_SCHED_TASK_STARTED, task, NULL, 0);
    /* chained here, queued by dispatch() in one go */
    job->job.next = NULL;
    if (run->chain_tail)
        run->chain_tail->next = &job->job;
    else
        run->chain_head = &job->job;
    run->chain_tail = &job->job;
    run->chain_n++;
    return 0;
}

/* Commits receipts found elsewhere (verified) and reports them as replays. */
static int accept_found(ipvm__run_t *run, const size_t *idx, size_t n, ipvm_receipt_row_t *rows,
                        const bool *ok)
{
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (ok[k])
            rows[m++] = rows[k];
    if (m == 0)
        return 0;
    uint64_t t0 = ipvm_now_ns();
    int rc = ipvm_store_put_receipts(run->store, &run->wf->cid, rows, m, NULL, run->err);
    run->res->stats.store_ns += ipvm_now_ns() - t0;
    run->res->stats.commits++;
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < n; k++) {
        if (!ok[k])
            continue;
        size_t t = idx[k];
        ipvm__run_mark_replayed(run, t);
        ipvm__run_emit(run, IPVM_SCHED_TASK_REPLAYED, &run->wf->tasks[t], &run->res->receipts[t],
                       0);
        ipvm__run_publish(run, &run->res->receipts[t]);
        ipvm__run_result_known(run, t);
    }
    return 0;
}

/* Asks the network for the receipts of a wave of ready tasks; found ones become replays. */
static int net_lookup(ipvm__run_t *run, size_t *idx, size_t *n)
{
    ipvm_sched_t *s = run->s;
    size_t m = *n;
    ipvm_sched_lookup_t *items = ipvm_arena_calloc(&run->tmp, m, sizeof *items);
    ipvm_receipt_row_t *rows = ipvm_arena_calloc(&run->tmp, m, sizeof *rows);
    bool *ok = ipvm_arena_calloc(&run->tmp, m, sizeof *ok);
    if (items == NULL || rows == NULL || ok == NULL)
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t k = 0; k < m; k++) {
        items[k].instruction = &run->wf->tasks[idx[k]].instruction;
        items[k].invocation = &run->wf->tasks[idx[k]].invocation;
    }
    uint64_t t0 = ipvm_now_ns();
    ipvm_error_t e;
    ipvm_error_clear(&e);
    int rc = s->net.find_receipts(s->net.data, items, m, s->net.lookup_timeout_ms, &run->tmp);
    if (rc != 0)
        ipvm_log(IPVM_LOG_WARN, "sched", "receipt lookup on the network failed: %s",
                 ipvm_strerror(rc));
    for (size_t k = 0; rc == 0 && k < m; k++) {
        if (!items[k].found)
            continue;
        size_t t = idx[k];
        ipvm_sched_receipt_t *rep = &run->res->receipts[t];
        ipvm_error_clear(&e);
        int v = ipvm__verify_found(s, &run->wf->tasks[t], &items[k], run->arena, &rows[k], rep,
                                   &e);
        if (v == 0 && !rep->receipt.ok &&
            !ipvm_receipt_error_is_final(ipvm_receipt_value(&rep->receipt)))
            v = ipvm_error_set(&e, IPVM_ERECEIPT, IPVM_NO_OFFSET, "a failure that may pass now");
        if (v != 0) {
            char c[IPVM_CID_MAX_STR];
            ipvm_log(IPVM_LOG_WARN, "sched", "receipt for %s from %s ignored: %s",
                     ipvm_cid_str(items[k].instruction, c), items[k].source, e.msg);
            memset(rep, 0, sizeof *rep);
            continue;
        }
        ok[k] = true;
    }
    run->res->stats.lookup_ns += ipvm_now_ns() - t0;
    rc = accept_found(run, idx, m, rows, ok);
    /* keep only the tasks still to execute */
    size_t w = 0;
    for (size_t k = 0; k < m; k++)
        if (!ok[k])
            idx[w++] = idx[k];
    *n = w;
    ipvm_arena_reset(&run->tmp);
    return rc;
}

/* How many more tasks may be sent to the workers now: bounded by max_running and by room
 * for their receipts while the writer is busy. */
static size_t dispatch_room(const ipvm__run_t *run)
{
    size_t busy = run->running + run->pend->n;
    size_t cap = run->s->opts.commit_max;
    if (run->running >= run->max_running || busy >= cap)
        return 0;
    size_t a = run->max_running - run->running, b = cap - busy;
    return a < b ? a : b;
}

static int dispatch(ipvm__run_t *run)
{
    size_t room = dispatch_room(run);
    size_t n = run->rcount < room ? run->rcount : room;
    if (n == 0)
        return 0;
    size_t *wave = ipvm_malloc(n * sizeof *wave);
    if (wave == NULL)
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t k = 0; k < n; k++) {
        wave[k] = run->ready[run->rhead];
        run->rhead = (run->rhead + 1) % run->wf->ntasks;
        run->rcount--;
    }
    int rc = 0;
    if (run->s->net.find_receipts) {
        /* denied tasks are not looked up: they fail without touching anything */
        size_t m = 0, d = 0;
        size_t *denied = ipvm_malloc(n * sizeof *denied);
        rc = denied ? 0 : IPVM_ENOMEM;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            if (run->deny && run->deny[wave[k]])
                denied[d++] = wave[k];
            else
                wave[m++] = wave[k];
        }
        if (rc == 0)
            rc = net_lookup(run, wave, &m);
        for (size_t k = 0; rc == 0 && k < d; k++)
            wave[m++] = denied[k];
        ipvm_free(denied);
        n = rc == 0 ? m : 0;
    }
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = dispatch_one(run, wave[k]);
    if (run->chain_n) {
        pthread_mutex_lock(&run->lock);
        run->outstanding += run->chain_n;
        pthread_mutex_unlock(&run->lock);
    }
    ipvm__pool_push_many(&run->s->pool, run->chain_head, run->chain_tail, run->chain_n);
    run->chain_head = run->chain_tail = NULL;
    run->chain_n = 0;
    ipvm_free(wave);
    return rc;
}

/* ---- completions and commits ----------------------------------------------------------------- */
/* Copies a job's store row (and its bytes) into the pending batch, so the job can go. */
static int pend_row(ipvm__run_t *run, const ipvm__task_job_t *job)
{
    ipvm__batch_t *b = run->pend;
    ipvm_receipt_row_t *row = &b->rows[b->n];
    ipvm__row_from_job(job, row);
    uint8_t *blobs = ipvm_arena_memdup(&b->arena, job->blobs.data, job->blobs.len);
    if (blobs == NULL)
        return IPVM_ENOMEM;
    row->out = blobs;
    row->meta = blobs + job->out_len;
    row->prf = blobs + job->out_len + job->meta_len;
    row->issuer = run->s->issuer; /* what the receipt was made with; lives as long as s */
    if (job->sig.len &&
        (row->signature = ipvm_arena_memdup(&b->arena, job->sig.data, job->sig.len)) == NULL)
        return IPVM_ENOMEM;
    b->task[b->n] = job->task;
    b->status[b->n] = job->status;
    b->n++;
    return 0;
}

static int completed(ipvm__run_t *run, ipvm__task_job_t *job)
{
    size_t t = job->task;
    run->running--;
    run->res->stats.execute_ns += job->exec_ns;
    run->res->stats.receipt_ns += job->receipt_ns;
    if (!job->store_it) { /* no receipt could be built: stop the run with why */
        const ipvm_task_t *task = &run->wf->tasks[t];
        ipvm__sched_release(run->s, &task->instruction);
        int rc = job->status;
        *run->err = job->load_err;
        ipvm_error_prefix(run->err, "task %zu (%s): no receipt: ", t, task->func);
        job_put(run, job);
        run->state[t] = T_WAIT;
        return rc;
    }
    ipvm_sched_receipt_t *rep = &run->res->receipts[t];
    ipvm_error_t e;
    ipvm_error_clear(&e);
    int rc = ipvm__report_from_job(job, &run->wf->tasks[t], run->arena, &run->share, rep, &e);
    if (rc != 0) {
        ipvm__sched_release(run->s, &run->wf->tasks[t].instruction);
        job_put(run, job);
        memset(rep, 0, sizeof *rep);
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "task %zu: %s", t, e.msg);
    }
    if (run->opts.keep_logs && job->log)
        rep->log = ipvm_arena_strdup(run->arena, job->log);
    if ((rc = pend_row(run, job)) != 0) {
        ipvm__sched_release(run->s, &run->wf->tasks[t].instruction);
        job_put(run, job);
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    }
    job_put(run, job);
    run->state[t] = T_AVAIL;
    ipvm__run_result_known(run, t);
    return 0;
}

/* ---- the writer: group commits off the coordinator's thread ---------------------------------
 * The coordinator hands every receipt finished since the last commit to the writer, which
 * commits them durably (with other runs' batches, in the scheduler's group commit) while tasks
 * keep running; the coordinator reports them (events, publish) only once the writer says they
 * are on disk.
 * The writer thread itself, and how a run gets one, are in writer.c. */

/* Gives the pending receipts to the writer (which must be idle). */
static int submit(ipvm__run_t *run)
{
    if (run->w == NULL) {
        int rc = ipvm__run_writer_start(run);
        if (rc != 0)
            return rc;
    }
    ipvm__batch_t *t = run->wbatch;
    run->wbatch = run->pend;
    run->pend = t;
    run->w_busy = true;
    ipvm__run_writer_submit(run);
    return 0;
}

/* The writer committed a batch (rc 0): only now are its receipts reported. */
static int committed(ipvm__run_t *run, int rc, const ipvm_error_t *e)
{
    ipvm__batch_t *b = run->wbatch;
    run->w_busy = false;
    run->res->stats.commits++;
    run->last_commit_ns = ipvm_now_ns();
    for (size_t k = 0; k < b->n; k++) {
        size_t t = b->task[k];
        const ipvm_sched_receipt_t *rep = &run->res->receipts[t];
        ipvm__sched_release(run->s, &run->wf->tasks[t].instruction);
        if (rc != 0) { /* not on disk: never reported (run_finish clears its entry, once no
                          * worker can be reading it) */
            run->state[t] = T_WAIT;
            continue;
        }
        run->state[t] = T_DONE;
        run->settled++;
        if (run->deny == NULL || run->deny[t] == 0) /* refused by trust: nothing executed */
            run->res->executed++;
        if (!rep->receipt.ok)
            run->res->failed++;
        ipvm__run_emit(run, IPVM_SCHED_TASK_FINISHED, &run->wf->tasks[t], rep, b->status[k]);
        ipvm__run_publish(run, rep);
    }
    b->n = 0;
    ipvm_arena_reset(&b->arena);
    if (rc != 0)
        *run->err = *e;
    return rc;
}

/* Another run released instructions we parked for: replay them if their receipt is stored
 * now, else try to execute them again. */
static int unpark(ipvm__run_t *run)
{
    size_t n = run->nparked;
    run->nparked = 0;
    ipvm_cid_t *cids = ipvm_malloc(n * sizeof *cids);
    ipvm_receipt_row_t *rows = ipvm_malloc(n * sizeof *rows);
    bool *found = ipvm_malloc(n * sizeof *found);
    int rc = cids && rows && found ? 0 : IPVM_ENOMEM;
    run->lookup_gen = ipvm__sched_gen(run->s);
    for (size_t k = 0; rc == 0 && k < n; k++)
        cids[k] = run->wf->tasks[run->parked[k]].instruction;
    if (rc == 0)
        rc = ipvm_store_find_receipts(run->store, cids, n, &run->tmp, rows, found, NULL, run->err);
    size_t m = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t t = run->parked[k];
        ipvm_sched_receipt_t *rep = &run->res->receipts[t];
        if (found[k] && ipvm__report_from_row(&rows[k], &run->wf->tasks[t], run->arena,
                                              &run->share, rep, NULL) == 0 &&
            ipvm__row_usable(run->s, &rows[k], rep)) {
            cids[m] = rep->receipt.cid;
            run->parked[m++] = t;
        } else {
            memset(rep, 0, sizeof *rep);
            ipvm__run_push_ready(run, t);
        }
    }
    if (rc == 0 && m > 0)
        rc = ipvm_store_link_receipts(run->store, &run->wf->cid, cids, m, run->err);
    for (size_t k = 0; rc == 0 && k < m; k++) {
        size_t t = run->parked[k];
        ipvm__run_mark_replayed(run, t);
        ipvm__run_emit(run, IPVM_SCHED_TASK_REPLAYED, &run->wf->tasks[t], &run->res->receipts[t],
                       0);
        ipvm__run_result_known(run, t);
    }
    ipvm_arena_reset(&run->tmp);
    ipvm_free(cids);
    ipvm_free(rows);
    ipvm_free(found);
    if (rc == IPVM_ENOMEM)
        ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    return rc;
}

/* Waits (when asked) for completions, a wake-up, or `until`, then takes them all. */
static ipvm__job_t *take_done(ipvm__run_t *run, bool wait, uint64_t until, bool *woken,
                              bool *wdone, int *wrc, ipvm_error_t *werr)
{
    pthread_mutex_lock(&run->lock);
    if (wait && run->done_head == NULL && !run->woken && !run->w_done) {
        struct timespec ts;
        ts.tv_sec = (time_t)(until / 1000000000u);
        ts.tv_nsec = (long)(until % 1000000000u);
        pthread_cond_timedwait(&run->cond, &run->lock, &ts);
    }
    ipvm__job_t *list = run->done_head;
    run->done_head = run->done_tail = NULL;
    run->outstanding -= run->ndone;
    run->ndone = 0;
    *woken = run->woken;
    run->woken = false;
    *wdone = run->w_done;
    run->w_done = false;
    if (*wdone) {
        *wrc = run->w_rc;
        *werr = run->w_err;
    }
    pthread_mutex_unlock(&run->lock);
    return list;
}

static bool cancelled(const ipvm__run_t *run)
{
    return run->opts.cancel && __atomic_load_n(&run->opts.cancel->fired, __ATOMIC_ACQUIRE);
}

/* Decides whether to stop early; returns the stop code (0 = go on). */
static int check_stop(ipvm__run_t *run, uint64_t now)
{
    if (run->stop_rc)
        return run->stop_rc;
    if (cancelled(run))
        run->stop_rc = ipvm_error_set(run->err, IPVM_ECANCELED, IPVM_NO_OFFSET,
                                      "the run was cancelled");
    else if (now >= run->deadline_ns)
        run->stop_rc = ipvm_error_set(run->err, IPVM_EWORKFLOWTIMEOUT, IPVM_NO_OFFSET,
                                      "the workflow ran out of time after %.1f s; run it again "
                                      "to resume (finished tasks are replayed)",
                                      (double)(now - run->start_ns) / 1e9);
    return run->stop_rc;
}

/* When the loop should next look at the clock even if nothing completes. */
uint64_t ipvm__run_next_wakeup(const ipvm__run_t *run, uint64_t now)
{
    uint64_t until = now + 50000000u; /* poll the cancel flag every 50 ms */
    if (run->pend->n && !run->w_busy) {
        uint64_t c = run->last_commit_ns + (uint64_t)run->s->opts.commit_interval_us * 1000u;
        if (c < until)
            until = c;
    }
    if (run->deadline_ns < until)
        until = run->deadline_ns;
    return until;
}

/* Group commit: whenever the writer is idle, give it what finished, unless tasks are still
 * running and the last commit was less than commit_interval ago (so that fast disks do not
 * get a transaction per receipt). */
static bool should_commit(const ipvm__run_t *run, uint64_t now)
{
    if (run->pend->n == 0 || run->w_busy)
        return false;
    return run->pend->n >= run->s->opts.commit_max || run->running == 0 ||
           now >= run->last_commit_ns + (uint64_t)run->s->opts.commit_interval_us * 1000u;
}

/* Drops what the run still holds after a fatal error: finished jobs are not committed, and
 * their claims are released so other runs can execute those instructions. */
void ipvm__run_drop_jobs(ipvm__run_t *run)
{
    ipvm__batch_t *b = run->pend;
    for (size_t k = 0; k < b->n; k++) {
        run->state[b->task[k]] = T_WAIT; /* its entry is cleared by run_finish */
        ipvm__sched_release(run->s, &run->wf->tasks[b->task[k]].instruction);
    }
    b->n = 0;
    ipvm_arena_reset(&b->arena);
}

/* Takes the completions of one wait (*got: whether there was anything to take); returns a
 * fatal error or 0. */
static int absorb(ipvm__run_t *run, bool wait, bool fatal, bool *got)
{
    bool woken = false, wdone = false;
    int wrc = 0;
    ipvm_error_t werr;
    uint64_t now = ipvm_now_ns();
    ipvm__job_t *list = take_done(run, wait, ipvm__run_next_wakeup(run, now), &woken, &wdone, &wrc, &werr);
    *got = list != NULL || woken || wdone;
    uint64_t t0 = ipvm_now_ns(), store0 = run->res->stats.store_ns;
    int rc = wdone ? committed(run, wrc, &werr) : 0;
    while (list) {
        ipvm__task_job_t *job = (ipvm__task_job_t *)list;
        list = list->next;
        if (fatal) { /* the store is gone: nothing more is committed or reported */
            run->running--;
            run->state[job->task] = T_WAIT;
            ipvm__sched_release(run->s, &run->wf->tasks[job->task].instruction);
            job_put(run, job);
            continue;
        }
        int r = completed(run, job);
        if (r != 0 && rc == 0)
            rc = r;
    }
    if (woken && run->nparked && !fatal && rc == 0)
        rc = unpark(run);
    run->res->stats.schedule_ns += ipvm_now_ns() - t0 - (run->res->stats.store_ns - store0);
    return rc;
}

int ipvm__run_turn(ipvm__run_t *run, bool may_wait)
{
    uint64_t now = ipvm_now_ns(), t0 = now;
    uint64_t other0 = run->res->stats.store_ns + run->res->stats.lookup_ns;
    check_stop(run, now);
    int rc = 0;
    if (!run->stop_rc && !run->fatal)
        rc = dispatch(run);
    if (rc == 0 && !run->fatal && should_commit(run, ipvm_now_ns()))
        rc = submit(run);
    if (rc != 0 && !run->fatal) {
        run->fatal = rc;
        ipvm__run_drop_jobs(run);
    }
    run->res->stats.schedule_ns += ipvm_now_ns() - t0 -
                                   (run->res->stats.store_ns + run->res->stats.lookup_ns - other0);
    bool idle = run->running == 0 && run->pend->n == 0 && !run->w_busy;
    if (idle && (run->stop_rc || run->fatal || (run->rcount == 0 && run->nparked == 0)))
        return IPVM__TURN_DONE;
    /* wait when there is nothing to dispatch now */
    bool wait = run->stop_rc || run->fatal || run->rcount == 0 || dispatch_room(run) == 0;
    bool got = false;
    rc = absorb(run, wait && may_wait, run->fatal != 0, &got);
    if (rc != 0 && !run->fatal) {
        run->fatal = rc;
        ipvm__run_drop_jobs(run);
    }
    return wait && !may_wait && !got ? IPVM__TURN_IDLE : IPVM__TURN_MORE;
}

int ipvm__run_loop_rc(ipvm__run_t *run)
{
    if (run->fatal)
        return run->fatal;
    if (run->stop_rc)
        return run->stop_rc;
    if (IPVM_NEVER(run->settled != run->wf->ntasks))
        return IPVM_EINTERNAL;
    return 0;
}

int ipvm__run_loop(ipvm__run_t *run)
{
    while (ipvm__run_turn(run, true) != IPVM__TURN_DONE)
        ;
    return ipvm__run_loop_rc(run);
}
