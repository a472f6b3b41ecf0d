/* SPDX-License-Identifier: Apache-2.0 */
/* One run of a workflow, coordinated on the caller's thread: memoized replay of every task that
 * has a usable receipt (one bulk lookup by instruction CID), then dataflow execution of the rest
 * on the worker pool (a task is dispatched as soon as what it awaits is known; tasks outside
 * every chain wait for all chains, Homestar's batch rule), group commits of the receipts (one
 * durable transaction per few ms or per wave, and a receipt is reported only after its commit),
 * events, timeout and cancellation. reference/homestar.md §2-3; DESIGN.md "scheduler". */
#include "sched_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_int.h"
#include "workflow/workflow_int.h"

#define LOOKUP_CHUNK 1024 /* instructions per bulk lookup */

/* ---- small helpers ------------------------------------------------------------------------ */
const ipvm_workflow_t *ipvm__run_workflow(ipvm__run_t *run)
{
    return run->wf;
}

ipvm_sched_t *ipvm__run_sched(ipvm__run_t *run)
{
    return run->s;
}

uint64_t ipvm__run_deadline_ns(ipvm__run_t *run)
{
    return run->deadline_ns;
}

bool ipvm__run_kick_locked(ipvm__run_t *run)
{
    if (!run->async) {
        pthread_cond_signal(&run->cond);
        return false;
    }
    if (run->a_sched) { /* the step running now looks again before it stops */
        run->a_again = true;
        return false;
    }
    run->a_sched = true;
    return true;
}

void ipvm__run_wake(ipvm__run_t *run)
{
    pthread_mutex_lock(&run->lock);
    run->woken = true;
    bool step = ipvm__run_kick_locked(run);
    pthread_mutex_unlock(&run->lock);
    if (step)
        ipvm__run_queue_step(run);
}

void ipvm__run_complete(ipvm__run_t *run, ipvm__task_job_t *job)
{
    pthread_mutex_lock(&run->lock);
    job->job.next = NULL;
    if (run->done_tail)
        run->done_tail->next = &job->job;
    else
        run->done_head = &job->job;
    run->done_tail = &job->job;
    run->ndone++;
    if (run->async) {
        /* No thread waits for a started run: this worker moves it on itself, unless a step
         * is under way elsewhere (which then looks again before it stops). No wake-up. */
        bool step = ipvm__run_kick_locked(run);
        pthread_mutex_unlock(&run->lock);
        if (step)
            ipvm__run_step(run);
        return;
    }
    /* Wake the coordinator only when it has something worth a context switch: all of this
     * run's jobs are done, the workers are about to run dry, or a good handful of results
     * wait. Saves two switches per task on fast tasks; slow ones wake it every time. */
    if (run->ndone >= run->outstanding || ipvm__pool_queued(&run->s->pool) == 0 ||
        run->ndone >= run->wake_batch)
        pthread_cond_signal(&run->cond);
    pthread_mutex_unlock(&run->lock);
}

int ipvm__run_cmp_outside(const void *a, const void *b)
{
    return ipvm_cid_compare(&((const outside_t *)a)->cid, &((const outside_t *)b)->cid);
}

int ipvm__run_result(ipvm__run_t *run, const ipvm_await_t *aw, ipvm_arena_t *arena,
                     const ipvm_ipld_t **out, ipvm_error_t *err)
{
    (void)arena;
    /* The entries read here were written by the coordinator before this task was queued
     * (the pool's mutex orders them) and are not written again during the run. */
    if (aw->task >= 0) {
        const ipvm_sched_receipt_t *r = &run->res->receipts[aw->task];
        IPVM_ALWAYS(r->task != NULL);
        *out = r->receipt.out;
        return 0;
    }
    outside_t key;
    key.cid = aw->target;
    const outside_t *o = run->noutside
                             ? bsearch(&key, run->outside, run->noutside, sizeof key, ipvm__run_cmp_outside)
                             : NULL;
    if (o && o->out) {
        *out = o->out;
        return 0;
    }
    char c[IPVM_CID_MAX_STR];
    return ipvm_error_set(err, IPVM_EAWAIT, IPVM_NO_OFFSET,
                          "%s of %s: no receipt for that instruction is stored here or was found "
                          "on the network",
                          ipvm_await_kind_name(aw->kind), ipvm_cid_str(&aw->target, c));
}

static uint64_t elapsed(const ipvm__run_t *run)
{
    return ipvm_now_ns() - run->start_ns;
}

void ipvm__run_emit(ipvm__run_t *run, ipvm_sched_event_kind_t kind, const ipvm_task_t *task,
                 const ipvm_sched_receipt_t *rep, int status)
{
    if (run->opts.on_event == NULL)
        return;
    ipvm_sched_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.workflow = run->wf;
    ev.name = run->opts.name;
    ev.task = task;
    ev.receipt = rep;
    ev.done = run->settled;
    ev.total = run->wf->ntasks;
    ev.executed = run->res->executed;
    ev.replayed = run->res->replayed;
    ev.failed = run->res->failed;
    ev.status = status;
    ev.elapsed_ns = elapsed(run);
    run->opts.on_event(&ev, run->opts.event_data);
}

void ipvm__run_publish(ipvm__run_t *run, const ipvm_sched_receipt_t *rep)
{
    if (run->s->net.receipt_published)
        run->s->net.receipt_published(run->s->net.data, &run->wf->cid, rep);
}


/* ---- readiness ------------------------------------------------------------------------------ */
void ipvm__run_push_ready(ipvm__run_t *run, size_t t)
{
    size_t n = run->wf->ntasks;
    run->state[t] = T_READY;
    run->ready[(run->rhead + run->rcount) % n] = t;
    run->rcount++;
}

static void release_loners(ipvm__run_t *run)
{
    if (run->loners_out || run->chain_left > 0)
        return;
    run->loners_out = true;
    for (size_t i = 0; i < run->wf->ntasks; i++)
        if (run->state[i] == T_WAIT && !ipvm__is_chain(&run->wf->tasks[i]))
            ipvm__run_push_ready(run, i);
}

/* Task t has its result (replayed or executed): its dependents may go. */
void ipvm__run_result_known(ipvm__run_t *run, size_t t)
{
    const ipvm_task_t *task = &run->wf->tasks[t];
    if (ipvm__is_chain(task))
        run->chain_left--;
    for (size_t k = 0; k < task->ndependents; k++) {
        size_t d = task->dependents[k];
        if (--run->waiting[d] == 0 && run->state[d] == T_WAIT)
            ipvm__run_push_ready(run, d);
    }
    release_loners(run);
}

/* ---- setup ---------------------------------------------------------------------------------- */
static int alloc_state(ipvm__run_t *run)
{
    size_t n = run->wf->ntasks;
    ipvm_arena_t *a = run->arena;
    run->res->receipts = ipvm__big_calloc(a, n, sizeof *run->res->receipts);
    run->state = ipvm_arena_calloc(a, n, 1);
    run->waiting = ipvm_arena_calloc(a, n, sizeof *run->waiting);
    run->ready = ipvm_arena_alloc(a, n * sizeof *run->ready);
    run->parked = ipvm_arena_alloc(a, n * sizeof *run->parked);
    size_t cap = run->s->opts.commit_max + run->max_running; /* see dispatch_room */
    for (int b = 0; b < 2; b++) {
        ipvm__batch_t *bt = &run->batches[b];
        bt->rows = ipvm_arena_alloc(a, cap * sizeof *bt->rows);
        bt->task = ipvm_arena_alloc(a, cap * sizeof *bt->task);
        bt->status = ipvm_arena_alloc(a, cap * sizeof *bt->status);
        if (!bt->rows || !bt->task || !bt->status)
            return IPVM_ENOMEM;
    }
    run->pend = &run->batches[0];
    run->wbatch = &run->batches[1];
    if (!run->res->receipts || !run->state || !run->waiting || !run->ready || !run->parked)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        run->waiting[i] = (uint32_t)run->wf->tasks[i].ndeps;
        if (ipvm__is_chain(&run->wf->tasks[i]))
            run->chain_left++;
    }
    return 0;
}

/* DAG-CBOR of {instrCid: [rsc, Link args...]}, Homestar's `resources` column. */
static int resources_blob(ipvm__run_t *run, ipvm_buf_t *out)
{
    ipvm_arena_t *a = &run->tmp;
    ipvm_ipld_t *m = ipvm_ipld_new_map(a, run->wf->ntasks);
    if (m == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < run->wf->ntasks; i++) {
        const ipvm_task_t *t = &run->wf->tasks[i];
        ipvm_ipld_t *l = ipvm_ipld_new_list(a, 1);
        if (l == NULL || ipvm_ipld_list_push(a, l, ipvm_ipld_new_cstring(a, t->rsc)) != 0)
            return IPVM_ENOMEM;
        for (size_t k = 0; k < t->args->u.list.len; k++)
            if (t->args->u.list.items[k]->kind == IPVM_IPLD_LINK &&
                ipvm_ipld_list_push(a, l, t->args->u.list.items[k]) != 0)
                return IPVM_ENOMEM;
        char c[IPVM_CID_MAX_STR];
        if (ipvm_ipld_map_set_cstr(a, m, ipvm_cid_str(&t->instruction, c), l) != 0)
            return IPVM_ENOMEM;
    }
    return ipvm_dagcbor_encode(m, out, NULL);
}

/* Stores the workflow row (new: with its resources and its own encoding, so it can be resumed)
 * or moves it to `want`. Rewriting the row is not free (it holds the whole workflow), so an
 * unchanged status is not written again: a pure replay of a completed workflow writes no row. */
static int store_workflow(ipvm__run_t *run, ipvm_workflow_status_t want)
{
    ipvm_workflow_row_t row;
    ipvm_workflow_status_t had;
    int rc = ipvm_store_get_workflow_status(run->store, &run->wf->cid, &had, run->err);
    if (rc == 0) {
        if (had != want)
            rc = ipvm_store_set_workflow_status(run->store, &run->wf->cid, want, run->err);
        run->wf_status = want;
        run->wf_stored = rc == 0;
        return rc;
    }
    if (rc != IPVM_ENOENT)
        return rc;
    ipvm_error_clear(run->err);
    ipvm_buf_t rsc = IPVM_BUF_INIT;
    if ((rc = resources_blob(run, &rsc)) != 0) {
        ipvm_buf_dispose(&rsc);
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "cannot encode the resources");
    }
    memset(&row, 0, sizeof row);
    row.cid = run->wf->cid;
    row.name = run->opts.name;
    row.num_tasks = (int64_t)run->wf->ntasks;
    row.resources = rsc.data;
    row.resources_len = rsc.len;
    row.status = want;
    row.workflow = run->wf->cbor;
    row.workflow_len = run->wf->cbor_len;
    bool inserted = false;
    rc = ipvm_store_put_workflow(run->store, &row, &inserted, run->err);
    if (rc == 0 && !inserted) /* another process stored it meanwhile */
        rc = ipvm_store_set_workflow_status(run->store, &run->wf->cid, want, run->err);
    ipvm_buf_dispose(&rsc);
    ipvm_arena_reset(&run->tmp);
    run->wf_status = want;
    run->wf_stored = rc == 0;
    return rc;
}

/* Trust's authorisation, before anything else happens to a task. */
static int authorize_all(ipvm__run_t *run)
{
    ipvm_sched_t *s = run->s;
    if (s->trust.authorize == NULL)
        return 0;
    size_t n = run->wf->ntasks;
    run->deny = ipvm_arena_calloc(run->arena, n, sizeof *run->deny);
    run->deny_msg = ipvm_arena_calloc(run->arena, n, sizeof *run->deny_msg);
    if (run->deny == NULL || run->deny_msg == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        ipvm_error_t e;
        ipvm_error_clear(&e);
        int rc = s->trust.authorize(s->trust.data, run->opts.auth, run->wf, &run->wf->tasks[i],
                                    &e);
        if (rc != 0) {
            run->deny[i] = rc;
            run->deny_msg[i] = ipvm_arena_strdup(run->arena, e.msg[0] ? e.msg : ipvm_strerror(rc));
        }
    }
    return 0;
}

/* ---- memoized replay -------------------------------------------------------------------------- */
/* Marks task t replayed with the report entry already in res->receipts[t]. */
void ipvm__run_mark_replayed(ipvm__run_t *run, size_t t)
{
    run->state[t] = T_DONE;
    run->settled++;
    run->res->replayed++;
    if (!run->res->receipts[t].receipt.ok)
        run->res->failed++;
}

/* Looks up the receipts of tasks[idx[0..n)] in the store; usable ones become replays. */
static int lookup_chunk(ipvm__run_t *run, const size_t *idx, size_t n, ipvm_cid_t *cids,
                        ipvm_receipt_row_t *rows, bool *found)
{
    for (size_t k = 0; k < n; k++)
        cids[k] = run->wf->tasks[idx[k]].instruction;
    int rc = ipvm_store_find_receipts(run->store, cids, n, &run->tmp, rows, found, NULL,
                                      run->err);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (!found[k])
            continue;
        size_t t = idx[k];
        ipvm_sched_receipt_t *rep = &run->res->receipts[t];
        ipvm_error_t e;
        ipvm_error_clear(&e);
        int r = ipvm__report_from_row(&rows[k], &run->wf->tasks[t], run->arena, &run->share, rep, &e);
        if (r == IPVM_ENOMEM)
            return ipvm_error_set(run->err, r, IPVM_NO_OFFSET, "out of memory");
        if (r != 0 || !ipvm__row_usable(run->s, &rows[k], rep)) {
            if (r != 0)
                ipvm_log(IPVM_LOG_WARN, "sched", "task %zu: %s; executing it again", t, e.msg);
            memset(rep, 0, sizeof *rep);
            continue;
        }
        ipvm__run_mark_replayed(run, t);
    }
    ipvm_arena_reset(&run->tmp);
    return rc;
}

static int replay_local(ipvm__run_t *run)
{
    size_t n = run->wf->ntasks, chunk = n < LOOKUP_CHUNK ? n : LOOKUP_CHUNK;
    size_t *idx = ipvm_malloc(chunk * sizeof *idx);
    ipvm_cid_t *cids = ipvm_malloc(chunk * sizeof *cids);
    ipvm_receipt_row_t *rows = ipvm_malloc(chunk * sizeof *rows);
    bool *found = ipvm_malloc(chunk * sizeof *found);
    run->linked = ipvm_arena_calloc(run->arena, n, 1);
    run->linked_created = ipvm_arena_alloc(run->arena, n * sizeof *run->linked_created);
    int rc = idx && cids && rows && found && run->linked && run->linked_created ? 0 : IPVM_ENOMEM;
    size_t m = 0;
    uint64_t t0 = ipvm_now_ns();
    run->lookup_gen = ipvm__sched_gen(run->s);
    if (rc == 0)
        rc = ipvm__replay_linked(run);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((run->deny == NULL || run->deny[i] == 0) && run->state[i] != T_DONE)
            idx[m++] = i;
        if (m == chunk || (i == n - 1 && m > 0)) {
            rc = lookup_chunk(run, idx, m, cids, rows, found);
            m = 0;
        }
    }
    run->res->stats.lookup_ns += ipvm_now_ns() - t0;
    ipvm_free(idx);
    ipvm_free(cids);
    ipvm_free(rows);
    ipvm_free(found);
    if (rc == IPVM_ENOMEM && run->err && run->err->code == 0)
        ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    return rc;
}

/* Receipts the store lacks for awaits outside the workflow, from the network (net hook):
 * verified (the invocation block must tie the receipt to the awaited instruction), stored
 * (not linked: they belong to another workflow), then used. */
static int outside_from_net(ipvm__run_t *run)
{
    ipvm_sched_t *s = run->s;
    size_t m = 0;
    for (size_t i = 0; i < run->noutside; i++)
        m += run->outside[i].out == NULL;
    if (m == 0 || s->net.find_receipts == NULL)
        return 0;
    ipvm_sched_lookup_t *items = ipvm_arena_calloc(&run->tmp, m, sizeof *items);
    ipvm_receipt_row_t *rows = ipvm_arena_calloc(&run->tmp, m, sizeof *rows);
    size_t *which = ipvm_arena_calloc(&run->tmp, m, sizeof *which);
    ipvm_task_t *fake = ipvm_arena_calloc(&run->tmp, 1, sizeof *fake);
    if (!items || !rows || !which || !fake)
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t i = 0, k = 0; i < run->noutside; i++)
        if (run->outside[i].out == NULL) {
            which[k] = i;
            items[k++].instruction = &run->outside[i].cid;
        }
    if (s->net.find_receipts(s->net.data, items, m, s->net.lookup_timeout_ms, &run->tmp) != 0)
        m = 0; /* as if nothing was found; the tasks that await them fail and say so */
    size_t ok = 0;
    for (size_t k = 0; k < m; k++) {
        if (!items[k].found)
            continue;
        fake->instruction = run->outside[which[k]].cid; /* no invocation: needs the block */
        ipvm_sched_receipt_t rep;
        ipvm_error_t e;
        ipvm_error_clear(&e);
        if (ipvm__verify_found(s, fake, &items[k], run->arena, &rows[ok], &rep, &e) != 0) {
            ipvm_log(IPVM_LOG_WARN, "sched", "receipt from %s ignored: %s", items[k].source,
                     e.msg);
            continue;
        }
        run->outside[which[k]].out = rep.receipt.out;
        ok++;
    }
    int rc = ok ? ipvm_store_put_receipts(run->store, NULL, rows, ok, NULL, run->err) : 0;
    ipvm_arena_reset(&run->tmp);
    return rc;
}

/* Receipts for awaits of instructions outside the workflow, from the store. */
static int load_outside(ipvm__run_t *run)
{
    const ipvm_workflow_t *wf = run->wf;
    size_t n = 0;
    for (size_t i = 0; i < wf->ntasks; i++) /* an outside await leaves nawaits > ndeps */
        for (size_t k = 0; wf->tasks[i].nawaits > wf->tasks[i].ndeps && k < wf->tasks[i].nawaits;
             k++)
            n += wf->tasks[i].awaits[k].task < 0;
    if (n == 0)
        return 0;
    run->outside = ipvm_arena_calloc(run->arena, n, sizeof *run->outside);
    ipvm_cid_t *cids = ipvm_malloc(n * sizeof *cids);
    ipvm_receipt_row_t *rows = ipvm_malloc(n * sizeof *rows);
    bool *found = ipvm_malloc(n * sizeof *found);
    int rc = run->outside && cids && rows && found ? 0 : IPVM_ENOMEM;
    for (size_t i = 0; rc == 0 && i < wf->ntasks; i++)
        for (size_t k = 0; k < wf->tasks[i].nawaits; k++)
            if (wf->tasks[i].awaits[k].task < 0)
                run->outside[run->noutside++].cid = wf->tasks[i].awaits[k].target;
    if (rc == 0) {
        qsort(run->outside, n, sizeof *run->outside, ipvm__run_cmp_outside);
        size_t u = 0; /* dedupe */
        for (size_t i = 0; i < n; i++)
            if (u == 0 || !ipvm_cid_equal(&run->outside[u - 1].cid, &run->outside[i].cid))
                run->outside[u++] = run->outside[i];
        run->noutside = u;
        for (size_t i = 0; i < u; i++)
            cids[i] = run->outside[i].cid;
        rc = ipvm_store_find_receipts(run->store, cids, u, &run->tmp, rows, found, NULL,
                                      run->err);
    }
    for (size_t i = 0; rc == 0 && i < run->noutside; i++) {
        ipvm_ipld_t *v = NULL;
        if (found[i] &&
            ipvm_dagcbor_decode(rows[i].out, rows[i].out_len, run->arena, &v, NULL) == 0)
            run->outside[i].out = v;
    }
    ipvm_arena_reset(&run->tmp);
    ipvm_free(cids);
    ipvm_free(rows);
    ipvm_free(found);
    return rc == 0 ? outside_from_net(run) : rc;
}

/* Links the replayed receipts to this workflow (one transaction), then reports them. */
static int report_replays(ipvm__run_t *run)
{
    size_t n = run->wf->ntasks, m = 0;
    if (run->res->replayed == 0)
        return 0;
    ipvm_cid_t *cids = ipvm_malloc(run->res->replayed * sizeof *cids);
    if (cids == NULL)
        return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (run->state[i] == T_DONE && !run->linked[i])
            cids[m++] = run->res->receipts[i].receipt.cid;
    int rc = 0;
    if (m > 0) { /* receipts of other workflows or nodes become this workflow's too */
        uint64_t t0 = ipvm_now_ns();
        rc = ipvm_store_link_receipts(run->store, &run->wf->cid, cids, m, run->err);
        run->res->stats.store_ns += ipvm_now_ns() - t0;
        run->res->stats.commits++;
    }
    ipvm_free(cids);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (run->state[i] != T_DONE)
            continue;
        ipvm__run_emit(run, IPVM_SCHED_TASK_REPLAYED, &run->wf->tasks[i], &run->res->receipts[i], 0);
        if (run->s->net.publish_replayed)
            ipvm__run_publish(run, &run->res->receipts[i]);
    }
    return 0;
}

/* After the replay: every task whose dependencies are known is ready. */
static void seed_ready(ipvm__run_t *run)
{
    size_t n = run->wf->ntasks;
    for (size_t i = 0; i < n; i++)
        if (run->state[i] == T_DONE)
            ipvm__run_result_known(run, i);
    for (size_t i = 0; i < n; i++)
        if (run->state[i] == T_WAIT && run->waiting[i] == 0 && ipvm__is_chain(&run->wf->tasks[i]))
            ipvm__run_push_ready(run, i);
    release_loners(run);
}

/* ---- the run ---------------------------------------------------------------------------------- */
int ipvm__run_setup(ipvm__run_t *run)
{
    int rc = alloc_state(run);
    if (rc != 0)
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    if ((rc = ipvm__sched_store_take(run->s, &run->store, run->err)) != 0)
        return rc;
    if ((rc = authorize_all(run)) != 0)
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    if ((rc = replay_local(run)) != 0 || (rc = load_outside(run)) != 0)
        return rc;
    bool all = run->res->replayed == run->wf->ntasks;
    rc = store_workflow(run, !all ? IPVM_WF_RUNNING
                                  : run->res->failed ? IPVM_WF_FAILED : IPVM_WF_COMPLETED);
    if (rc != 0)
        return rc;
    ipvm__run_emit(run, IPVM_SCHED_WORKFLOW_STARTED, NULL, NULL, 0);
    if ((rc = report_replays(run)) != 0)
        return rc;
    seed_ready(run);
    return 0;
}

static void run_finish(ipvm__run_t *run, int rc)
{
    const ipvm_workflow_t *wf = run->wf;
    for (size_t i = 0; i < wf->ntasks; i++) {
        if (run->state[i] == T_DONE)
            continue;
        /* no worker runs now: an entry left by a result that was never committed can go */
        memset(&run->res->receipts[i], 0, sizeof run->res->receipts[i]);
        run->state[i] = T_SKIPPED;
        run->settled++;
        run->res->skipped++;
        ipvm__run_emit(run, IPVM_SCHED_TASK_SKIPPED, &wf->tasks[i], NULL, rc ? rc : IPVM_ECANCELED);
    }
    if (run->store && run->wf_stored) {
        ipvm_workflow_status_t st = rc == 0 ? IPVM_WF_COMPLETED
                                            : rc == IPVM_ETASKFAILED ? IPVM_WF_FAILED
                                                                     : IPVM_WF_STUCK;
        ipvm_error_t e;
        ipvm_error_clear(&e);
        if (st != run->wf_status &&
            ipvm_store_set_workflow_status(run->store, &wf->cid, st, &e) != 0 && rc == 0)
            ipvm_log(IPVM_LOG_WARN, "sched", "cannot record the workflow's status: %s", e.msg);
    }
    run->res->elapsed_ns = elapsed(run);
    ipvm__run_emit(run, IPVM_SCHED_WORKFLOW_DONE, NULL, NULL, rc);
}

static void run_dispose(ipvm__run_t *run, bool store_broken)
{
    ipvm__run_writer_stop(run);
    if (run->nparked)
        ipvm__sched_forget(run->s, run);
    for (size_t i = 0; i < run->nmodules; i++)
        if (run->modules[i].module && run->s->exec.release)
            run->s->exec.release(run->s->exec.data, run->modules[i].module);
    ipvm_free(run->modules);
    while (run->free_jobs) {
        ipvm__task_job_t *j = run->free_jobs;
        run->free_jobs = (ipvm__task_job_t *)j->job.next;
        ipvm_arena_dispose(&j->arena);
        ipvm_buf_dispose(&j->cbor);
        ipvm_buf_dispose(&j->blobs);
        ipvm_buf_dispose(&j->sig);
        ipvm_free(j);
    }
    ipvm__sched_store_give(run->s, run->store, store_broken);
    ipvm_arena_dispose(&run->tmp);
    ipvm_arena_dispose(&run->batches[0].arena);
    ipvm_arena_dispose(&run->batches[1].arena);
    pthread_cond_destroy(&run->cond);
    pthread_mutex_destroy(&run->lock);
}

int ipvm__run_init(ipvm__run_t *run, ipvm_sched_t *s, const ipvm_workflow_t *wf,
                   const ipvm_sched_run_opts_t *opts, ipvm_arena_t *arena,
                   ipvm_sched_result_t *out, ipvm_error_t *err)
{
    memset(run, 0, sizeof *run);
    memset(out, 0, sizeof *out);
    run->s = s;
    run->wf = wf;
    if (opts)
        run->opts = *opts;
    run->arena = arena;
    run->res = out;
    run->err = err;
    out->workflow = wf->cid;
    out->ntasks = wf->ntasks;
    ipvm_arena_init(&run->tmp);
    ipvm_arena_init(&run->batches[0].arena);
    ipvm_arena_init(&run->batches[1].arena);
    run->start_ns = ipvm_now_ns();
    uint64_t timeout = run->opts.timeout_ms ? run->opts.timeout_ms : s->opts.workflow_timeout_ms;
    run->deadline_ns = run->start_ns + timeout * 1000000u;
    run->max_running = 16 * (size_t)s->pool.nthreads;
    run->wake_batch = run->max_running / 2;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&run->lock, NULL) == 0 ? 0 : IPVM_ENOMEM;
    if (rc == 0 && pthread_cond_init(&run->cond, &ca) != 0) {
        pthread_mutex_destroy(&run->lock);
        rc = IPVM_ENOMEM;
    }
    pthread_condattr_destroy(&ca);
    return rc;
}

int ipvm__run_end(ipvm__run_t *run, int rc)
{
    ipvm_sched_result_t *out = run->res;
    out->stats.store_ns += run->w_ns;
    bool fatal = rc != 0 && rc != IPVM_ETASKFAILED && rc != IPVM_EWORKFLOWTIMEOUT &&
                 rc != IPVM_ECANCELED;
    if (rc == 0 && out->failed > 0) {
        rc = ipvm_error_set(run->err, IPVM_ETASKFAILED, IPVM_NO_OFFSET,
                            "%zu of %zu tasks failed (their receipts say why)", out->failed,
                            run->wf->ntasks);
    }
    if (run->state)
        run_finish(run, rc);
    run_dispose(run, fatal);
    return rc;
}

int ipvm_sched_run(ipvm_sched_t *s, const ipvm_workflow_t *wf, const ipvm_sched_run_opts_t *opts,
                   ipvm_arena_t *arena, ipvm_sched_result_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(s == NULL || wf == NULL || arena == NULL || out == NULL);
    ipvm_error_t local;
    if (err == NULL)
        err = &local;
    ipvm_error_clear(err);
    ipvm__run_t run;
    if (ipvm__run_init(&run, s, wf, opts, arena, out, err) != 0)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    int rc = ipvm__run_setup(&run);
    if (rc == 0)
        rc = ipvm__run_loop(&run);
    return ipvm__run_end(&run, rc);
}
