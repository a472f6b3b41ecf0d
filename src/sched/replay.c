/* SPDX-License-Identifier: Apache-2.0 */
/* The replay walk: the receipts already linked to the workflow being run again, read in one
 * walk of its links on the run's thread (SQLite, one connection), while one worker at a time
 * checks them (decode the result, recompute each receipt's CID from its bytes, trust's verify
 * hook): a replay is then about as fast as the walk itself, on 2 cores. One checker, not one
 * per chunk: with two, the second woke on the walk's core and preempted it (bench/workflow
 * counts the preemptions). Only checked receipts are replayed; one that fails is logged and
 * its task executed again. */
#include "sched_int.h"

#include <string.h>

#include "run_int.h"
#include "workflow/workflow_int.h"

#define VERIFY_CHUNK 256 /* staged receipts per check job */
/* Room per task for its receipt's bytes (an add_one receipt takes ~140): one table mapped as
 * huge pages instead of arena pages, whose first touch costs tens of microseconds each on the
 * 2-core VMs (a fifth of a replay was the kernel's fault path). A bigger receipt, once the
 * room is used up, goes to the arena. */
#define RECEIPT_BYTES 256

/* First the receipts already linked to this workflow (one walk of its links, in no order: a
 * rerun finds everything here, and needs no new links), then a bulk lookup by instruction CID
 * for the rest (receipts of other workflows, of other nodes). When an instruction has several,
 * the ok one wins, then the oldest, as in ipvm_store_find_receipt. */
/* Task index by instruction CID for that walk: open addressing on the CID's last 8 bytes
 * (digest bytes), checked with ipvm_cid_equal. ipvm_workflow_find's binary search (14 compares
 * of 192-byte CIDs, each a cache miss) was 9% of a replay. */
static uint64_t cid_key(const ipvm_cid_t *c)
{
    uint64_t k = 0;
    size_t n = c->len < 8 ? c->len : 8;
    memcpy(&k, c->bytes + c->len - n, n);
    return k * 0x9e3779b97f4a7c15ull;
}

/* Each slot holds a CID's whole 64-bit key and its task, so the walk never touches the 5 MB
 * task table (a cache miss a row, a tenth of the walk): a match on the key is taken, and the
 * exact comparison of the instruction CIDs is done by the check on the worker (a row whose
 * instruction is not its task's is not replayed, and its task is looked up again). */
static int index_build(ipvm__run_t *run)
{
    size_t n = run->wf->ntasks, cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    run->ix = ipvm_malloc(cap * sizeof *run->ix);
    if (run->ix == NULL)
        return IPVM_ENOMEM;
    memset(run->ix, 0xff, cap * sizeof *run->ix); /* t = UINT32_MAX: empty */
    run->ix_mask = cap - 1;
    for (size_t t = 0; t < n; t++) {
        uint64_t k = cid_key(&run->wf->tasks[t].instruction);
        size_t i = (size_t)k & run->ix_mask;
        while (run->ix[i].t != UINT32_MAX)
            i = (i + 1) & run->ix_mask;
        run->ix[i].key = k;
        run->ix[i].t = (uint32_t)t;
    }
    return 0;
}

static long index_find(const ipvm__run_t *run, const ipvm_cid_t *instruction)
{
    uint64_t k = cid_key(instruction);
    for (size_t i = (size_t)k & run->ix_mask; run->ix[i].t != UINT32_MAX;
         i = (i + 1) & run->ix_mask)
        if (run->ix[i].key == k)
            return (long)run->ix[i].t;
    return -1;
}

/* A second row for a task that already has one staged (an error receipt and a later ok one
 * for the same instruction): checked here, and decided once the first one's check is known. */
struct ipvm__dup_s {
    size_t task;
    int64_t created_ms;
    ipvm_sched_receipt_t rep;
};

static void check_chunk(ipvm__run_t *run, ipvm__verify_job_t *v, size_t slot)
{
    ipvm__verify_t *vf = &run->verify;
    for (size_t i = 0; i < v->n; i++) {
        ipvm_sched_receipt_t *rep = &run->res->receipts[v->items[i].task];
        ipvm_error_t e;
        ipvm_error_clear(&e);
        int rc = 1; /* (the walk matched the instruction by a 64-bit key: compare it whole) */
        if (ipvm_cid_equal(&rep->receipt.instruction, &rep->task->instruction))
            rc = ipvm__report_check(&v->items[i], &vf->arenas[slot], &vf->shares[slot], rep, &e);
        if (rc != 0 && rc != 1 && rc != IPVM_ENOMEM)
            ipvm_log(IPVM_LOG_WARN, "sched", "task %zu: %s; executing it again",
                     v->items[i].task, e.msg);
        else if (rc == 0 && !ipvm__rep_usable(run->s, rep))
            rc = 1;
        v->verdict[i] = rc;
    }
}

/* The checker: this chunk, then each one queued meanwhile (verify_flush), until none waits. */
static void verify_main(ipvm__job_t *job)
{
    ipvm__verify_job_t *v = (ipvm__verify_job_t *)job;
    ipvm__run_t *run = v->run;
    ipvm__verify_t *vf = &run->verify;
    size_t slot = 0;
    pthread_mutex_lock(&run->lock);
    while (slot < vf->narenas && vf->busy[slot])
        slot++;
    IPVM_ALWAYS(slot < vf->narenas); /* as many arenas as worker threads */
    vf->busy[slot] = true;
    pthread_mutex_unlock(&run->lock);
    while (v != NULL) {
        check_chunk(run, v, slot);
        pthread_mutex_lock(&run->lock);
        if (--vf->left == 0)
            pthread_cond_signal(&run->cond);
        v = (ipvm__verify_job_t *)vf->pend_head;
        if (v != NULL) {
            vf->pend_head = v->job.next;
            if (vf->pend_head == NULL)
                vf->pend_tail = NULL;
        } else {
            vf->checking = false;
            vf->busy[slot] = false;
        }
        pthread_mutex_unlock(&run->lock);
    }
}

static bool own_check(const ipvm__job_t *job, void *run)
{
    return job->fn == verify_main && ((const ipvm__verify_job_t *)job)->run == run;
}

/* Queues the chunk being filled, and starts the next one. */
static int verify_flush(ipvm__run_t *run)
{
    ipvm__verify_t *vf = &run->verify;
    if (vf->nfill == 0)
        return 0;
    IPVM_ALWAYS(vf->njobs < vf->cap);
    ipvm__verify_job_t *v = &vf->jobs[vf->njobs++];
    v->run = run;
    v->items = vf->fill;
    v->verdict = vf->fill_verdict;
    v->n = vf->nfill;
    v->job.fn = verify_main;
    bool start = false;
    if (vf->narenas > 0) {
        pthread_mutex_lock(&run->lock);
        vf->left++;
        start = !vf->checking;
        if (start) {
            vf->checking = true;
        } else { /* the running checker takes it next */
            v->job.next = NULL;
            if (vf->pend_tail)
                vf->pend_tail->next = &v->job;
            else
                vf->pend_head = &v->job;
            vf->pend_tail = &v->job;
        }
        pthread_mutex_unlock(&run->lock);
    }
    if (vf->narenas == 0) { /* no worker threads: check here */
        vf->left++;
        vf->narenas = 1;
        vf->busy = &vf->self_busy;
        vf->arenas = run->arena;
        vf->shares = &run->share;
        verify_main(&v->job);
        vf->narenas = 0;
    } else if (start) {
        ipvm__pool_push(&run->s->pool, &v->job);
    }
    vf->fill = ipvm_arena_alloc(&run->tmp, VERIFY_CHUNK * sizeof *vf->fill);
    vf->fill_verdict = ipvm_arena_alloc(&run->tmp, VERIFY_CHUNK * sizeof *vf->fill_verdict);
    vf->nfill = 0;
    return vf->fill && vf->fill_verdict ? 0 : IPVM_ENOMEM;
}

static void dispose_arena(void *a)
{
    ipvm_arena_dispose(a);
}

static int verify_init(ipvm__run_t *run)
{
    ipvm__verify_t *vf = &run->verify;
    memset(vf, 0, sizeof *vf);
    vf->cap = run->wf->ntasks / VERIFY_CHUNK + 1;
    vf->jobs = ipvm_arena_calloc(&run->tmp, vf->cap, sizeof *vf->jobs);
    vf->fill = ipvm_arena_alloc(&run->tmp, VERIFY_CHUNK * sizeof *vf->fill);
    vf->fill_verdict = ipvm_arena_alloc(&run->tmp, VERIFY_CHUNK * sizeof *vf->fill_verdict);
    if (vf->jobs == NULL || vf->fill == NULL || vf->fill_verdict == NULL)
        return IPVM_ENOMEM;
    vf->narenas = run->s->pool.nthreads;
    vf->arenas = ipvm_arena_calloc(run->arena, vf->narenas, sizeof *vf->arenas);
    vf->shares = ipvm_arena_calloc(&run->tmp, vf->narenas, sizeof *vf->shares);
    vf->busy = ipvm_arena_calloc(&run->tmp, vf->narenas, sizeof *vf->busy);
    if (vf->arenas == NULL || vf->shares == NULL || vf->busy == NULL)
        return IPVM_ENOMEM;
    for (size_t i = 0; i < vf->narenas; i++) {
        ipvm_arena_init(&vf->arenas[i]);
        if (ipvm_arena_on_dispose(run->arena, dispose_arena, &vf->arenas[i]) != 0)
            return IPVM_ENOMEM;
    }
    return 0;
}

/* A row of the walk: staged into the task's report entry and queued for its check, or (when
 * the task has one already) kept aside, checked here. */
static int scan_linked(const ipvm_receipt_row_t *row, void *data)
{
    ipvm__run_t *run = data;
    ipvm__verify_t *vf = &run->verify;
    long t = index_find(run, &row->instruction);
    if (t < 0 || (run->deny && run->deny[t]))
        return 0;
    int rc;
    if (run->linked[t]) {
        if (!ipvm_cid_equal(&row->instruction, &run->wf->tasks[t].instruction))
            return 0; /* another instruction with the same key: looked up by CID later */
        if (vf->ndups == vf->capdups) {
            size_t cap = vf->capdups ? 2 * vf->capdups : 16;
            struct ipvm__dup_s *d = ipvm_realloc(vf->dups, cap * sizeof *d);
            if (d == NULL)
                return ipvm_error_set(run->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
            vf->dups = d;
            vf->capdups = cap;
        }
        struct ipvm__dup_s *d = &vf->dups[vf->ndups];
        ipvm_error_t e;
        ipvm_error_clear(&e);
        rc = ipvm__report_from_row(row, &run->wf->tasks[t], run->arena, &run->share, &d->rep, &e);
        if (rc == IPVM_ENOMEM)
            return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
        if (rc != 0)
            ipvm_log(IPVM_LOG_WARN, "sched", "task %ld: %s; executing it again", t, e.msg);
        else if (ipvm__rep_usable(run->s, &d->rep))
            d->task = (size_t)t, d->created_ms = row->created_ms, vf->ndups++;
        return 0;
    }
    ipvm__staged_t *st = &vf->fill[vf->nfill];
    if (vf->bump.p == NULL) { /* first row: the room for every receipt's bytes */
        size_t n = run->wf->ntasks;
        vf->bump.p = ipvm__big_calloc(run->arena, n, RECEIPT_BYTES);
        vf->bump.end = vf->bump.p ? vf->bump.p + n * RECEIPT_BYTES : NULL;
        vf->bump_start = vf->bump.p;
    }
    rc = ipvm__report_stage(row, &run->wf->tasks[t], run->arena, &vf->scratch, &vf->bump, st,
                            &run->res->receipts[t]);
    if (rc != 0)
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    st->task = (size_t)t;
    run->linked[t] = 1;
    run->linked_created[t] = row->created_ms;
    if (++vf->nfill == VERIFY_CHUNK && (rc = verify_flush(run)) != 0)
        return ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    return 0;
}

/* After every check: the staged entries that passed are replays, the others are cleared (the
 * task is looked up again or executed); then the second rows, in walk order, as before: the ok
 * one wins, then the oldest. */
static int verify_apply(ipvm__run_t *run)
{
    ipvm__verify_t *vf = &run->verify;
    int rc = 0;
    for (size_t j = 0; j < vf->njobs; j++) {
        const ipvm__verify_job_t *v = &vf->jobs[j];
        for (size_t i = 0; i < v->n; i++) {
            size_t t = v->items[i].task;
            if (v->verdict[i] == 0) {
                ipvm__run_mark_replayed(run, t);
                continue;
            }
            if (v->verdict[i] == IPVM_ENOMEM)
                rc = IPVM_ENOMEM;
            memset(&run->res->receipts[t], 0, sizeof run->res->receipts[t]);
            run->linked[t] = 0;
        }
    }
    for (size_t k = 0; k < vf->ndups; k++) {
        const struct ipvm__dup_s *d = &vf->dups[k];
        ipvm_sched_receipt_t *rep = &run->res->receipts[d->task];
        if (run->state[d->task] == T_DONE) {
            if (rep->receipt.ok > d->rep.receipt.ok ||
                (rep->receipt.ok == d->rep.receipt.ok &&
                 run->linked_created[d->task] <= d->created_ms))
                continue;
            run->res->failed -= !rep->receipt.ok;
            run->res->failed += !d->rep.receipt.ok;
            *rep = d->rep;
        } else {
            *rep = d->rep;
            run->linked[d->task] = 1;
            ipvm__run_mark_replayed(run, d->task);
        }
        run->linked_created[d->task] = d->created_ms;
    }
    return rc;
}

int ipvm__replay_linked(ipvm__run_t *run)
{
    ipvm__verify_t *vf = &run->verify;
    int rc = verify_init(run);
    if (rc == 0)
        rc = index_build(run);
    if (rc == 0)
        rc = ipvm_store_scan_workflow_receipts(run->store, &run->wf->cid, scan_linked, run,
                                               run->err);
    if (rc == 0)
        rc = verify_flush(run);
    if (run->async) { /* on a worker: its checks still queued are done here, not waited for
                         (every worker could be waiting so) */
        ipvm__job_t *j;
        while ((j = ipvm__pool_take(&run->s->pool, own_check, run)) != NULL)
            j->fn(j);
    }
    pthread_mutex_lock(&run->lock); /* the queued checks finish even when the walk failed */
    while (vf->left > 0)
        pthread_cond_wait(&run->cond, &run->lock);
    pthread_mutex_unlock(&run->lock);
    if (rc == 0 && (rc = verify_apply(run)) != 0)
        ipvm_error_set(run->err, rc, IPVM_NO_OFFSET, "out of memory");
    if (vf->bump_start) /* give back the room no receipt took */
        ipvm__big_shrink(vf->bump_start, run->wf->ntasks * RECEIPT_BYTES,
                         (size_t)(vf->bump.p - vf->bump_start));
    ipvm_free(run->ix);
    run->ix = NULL;
    ipvm_free(vf->dups);
    ipvm_buf_dispose(&vf->scratch);
    ipvm_arena_reset(&run->tmp);
    memset(vf, 0, sizeof *vf);
    return rc;
}
