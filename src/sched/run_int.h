/* SPDX-License-Identifier: Apache-2.0 */
/* run_int.h: the state of one run, shared by run.c (setup, replay, finish) and loop.c
 * (dispatch, completions, group commits). Coordinator-only fields are touched by the thread
 * inside ipvm_sched_run; the lock guards what workers and other runs reach. */
#ifndef IPVM_SCHED_RUN_INT_H
#define IPVM_SCHED_RUN_INT_H

#include "sched_int.h"

enum { T_WAIT, T_READY, T_PARKED, T_RUNNING, T_AVAIL, T_DONE, T_SKIPPED };

typedef struct {
    const char *rsc;
    void *module;
    int rc;
    ipvm_error_t err;
} module_t;

typedef struct {
    ipvm_cid_t cid;
    const ipvm_ipld_t *out; /* the result tuple, in the result arena */
} outside_t;

/* Receipts on their way to the store: rows with their bytes in the batch's own arena (the
 * job that made them is recycled at once), and which task each one answers. */
typedef struct ipvm__batch_s {
    ipvm_receipt_row_t *rows; /* capacity: commit_max + max_running */
    size_t *task;
    int *status;
    size_t n;
    ipvm_arena_t arena;
} ipvm__batch_t;

/* Checks of replayed receipts (ipvm__report_check) queued to the workers while the replay walk
 * goes on: VERIFY_CHUNK staged entries per job (run.c). */
typedef struct ipvm__verify_job_s {
    ipvm__job_t job;
    ipvm__run_t *run;
    ipvm__staged_t *items;
    int *verdict; /* per item: 0 = replay it, else why not (IPVM_ENOMEM stops the run) */
    size_t n;
} ipvm__verify_job_t;

typedef struct ipvm__verify_s {
    ipvm__verify_job_t *jobs; /* capacity ntasks / VERIFY_CHUNK + 1 */
    size_t njobs, cap;
    ipvm__staged_t *fill; /* the chunk being filled (the next job's items) */
    int *fill_verdict;
    size_t nfill;
    size_t left; /* jobs queued and not finished (under the run's lock) */
    /* One checker at a time (under the run's lock): a chunk queued while one runs waits here
     * and that checker takes it next. On 2 cores a second checker could only run on the
     * walk's core, taking the critical path's CPU (replay.c). */
    ipvm__job_t *pend_head, *pend_tail;
    bool checking;
    ipvm_arena_t *arenas;    /* one per worker thread, living as long as the result */
    ipvm__share_t *shares;
    bool *busy;              /* under the run's lock */
    bool self_busy;
    size_t narenas;
    ipvm_buf_t scratch;      /* the run's thread's, for assembling */
    ipvm__bump_t bump;       /* the receipts' bytes: a huge-page table (see replay.c) */
    uint8_t *bump_start;
    struct ipvm__dup_s *dups; /* rows for tasks that already had one: decided at the end */
    size_t ndups, capdups;
} ipvm__verify_t;

struct ipvm__run_s {
    ipvm_sched_t *s;
    const ipvm_workflow_t *wf;
    ipvm_sched_run_opts_t opts;
    ipvm_arena_t *arena; /* the caller's: the result lives here */
    ipvm_arena_t tmp;    /* coordinator scratch, reset after each use */
    ipvm_sched_result_t *res;
    ipvm_store_t *store;
    ipvm_error_t *err;
    /* shared with workers and other runs, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ipvm__job_t *done_head, *done_tail;
    size_t ndone, wake_batch; /* completions waiting; wake the coordinator at wake_batch */
    size_t outstanding;       /* jobs queued or running, not yet taken back */
    bool woken;
    /* coordinator only */
    uint8_t *state;
    uint32_t *waiting;        /* in-workflow dependencies without a result yet */
    int *deny;                /* authorisation failure per task (0 = allowed) */
    uint8_t *linked;          /* replayed from a receipt already linked to this workflow */
    int64_t *linked_created;  /* when that receipt was stored (the oldest usable one wins) */
    struct ipvm__ix_s {
        uint64_t key;
        uint32_t t;
    } *ix;                    /* task by instruction CID during the replay walk (replay.c) */
    ipvm__verify_t verify;    /* during the replay walk (run.c) */
    size_t ix_mask;
    char **deny_msg;
    size_t *ready, rhead, rcount; /* FIFO ring of ntasks */
    size_t *parked, nparked;
    uint64_t lookup_gen;      /* release generation before the last store lookup */
    size_t chain_left;        /* tasks in chains without a result; loners wait for 0 */
    bool loners_out;
    size_t running, max_running;
    ipvm__job_t *chain_head, *chain_tail; /* jobs of the current dispatch, not yet queued */
    size_t chain_n;
    ipvm__batch_t batches[2];   /* one fills while the writer commits the other */
    ipvm__batch_t *pend;        /* finished receipts waiting for the writer */
    ipvm__batch_t *wbatch;      /* the writer's (w_busy) */
    uint64_t last_commit_ns;
    /* the writer thread (writer.c); w_done, w_rc, w_err, w_ns under lock */
    ipvm__writer_t *w;        /* the run's writer, NULL before the first commit (coordinator) */
    bool w_busy, w_done;
    int w_rc;
    ipvm_error_t w_err;
    uint64_t w_ns;
    /* in the scheduler's group commit queue (writer.c; g_done under s->glock) */
    ipvm__run_t *g_next;
    bool g_done;
    int g_rc;
    ipvm_error_t g_err;
    ipvm__task_job_t *free_jobs;
    module_t *modules;
    size_t nmodules;
    outside_t *outside;
    size_t noutside;
    uint64_t start_ns, deadline_ns;
    int stop_rc;
    size_t settled;
    ipvm__share_t share;      /* meta/prf shared by the report entries */
    ipvm_workflow_status_t wf_status; /* what the workflow row says now */
    bool wf_stored;                   /* the row exists (store_workflow succeeded) */
    int fatal;                        /* the loop's fatal error (ipvm__run_turn), 0 = none */
    /* a run started with ipvm_sched_start (async.c); a_sched and a_again under lock */
    bool async;
    bool a_sched;                     /* a step is queued or running (at most one) */
    bool a_again;                     /* something happened while it ran: step again */
    ipvm__job_t a_job;                /* the setup, then each step, on a worker */
    ipvm_sched_done_cb on_done;
    void *done_data;
    ipvm_error_t a_err;               /* run->err points here */
    uint64_t a_wake_ns;               /* when the timer steps it (under s->tlock), 0 = never */
    ipvm__run_t *a_next, *a_prev;     /* the scheduler's started runs (under s->tlock) */
};

static inline bool ipvm__is_chain(const ipvm_task_t *t)
{
    return t->ndeps > 0 || t->ndependents > 0;
}

void ipvm__run_emit(ipvm__run_t *run, ipvm_sched_event_kind_t kind, const ipvm_task_t *task,
                    const ipvm_sched_receipt_t *rep, int status);
void ipvm__run_publish(ipvm__run_t *run, const ipvm_sched_receipt_t *rep);
void ipvm__run_push_ready(ipvm__run_t *run, size_t t);
void ipvm__run_result_known(ipvm__run_t *run, size_t t);
void ipvm__run_mark_replayed(ipvm__run_t *run, size_t t);
int ipvm__run_cmp_outside(const void *a, const void *b);
/* Replays the receipts already linked to the workflow (replay.c): one walk of its links on
 * this thread, their checks on the workers. */
int ipvm__replay_linked(ipvm__run_t *run);
/* The main loop (loop.c): dispatch, completions, commits, until everything settled. */
int ipvm__run_loop(ipvm__run_t *run);
/* One turn of that loop. may_wait: wait for completions when there is nothing to do (the
 * blocking run); else return TURN_IDLE then (a started run: the next completion, commit,
 * wake-up or timer steps it again). TURN_DONE: the run is over, ipvm__run_loop_rc says how. */
enum { IPVM__TURN_MORE = 0, IPVM__TURN_IDLE = 1, IPVM__TURN_DONE = 2 };
int ipvm__run_turn(ipvm__run_t *run, bool may_wait);
int ipvm__run_loop_rc(ipvm__run_t *run);
/* When the loop next needs to look at the clock (commit window, cancel poll, deadline). */
uint64_t ipvm__run_next_wakeup(const ipvm__run_t *run, uint64_t now);
/* Something for the coordinator happened (completion, commit, release of a parked
 * instruction), under run->lock: the blocking run is signalled; for a started run, returns
 * true when the caller must queue (or run) its step after unlocking. */
bool ipvm__run_kick_locked(ipvm__run_t *run);
/* A started run's step (async.c): on the worker that completed a task, on the run's writer
 * thread after a commit, or queued to the workers (ipvm__run_queue_step). Returns true when
 * the run ended in it (it is freed). */
bool ipvm__run_step(ipvm__run_t *run);
void ipvm__run_queue_step(ipvm__run_t *run);
/* A started run's writer thread begins with the setup (async.c); true when the run ended. */
bool ipvm__run_async_begin(ipvm__run_t *run);
/* The run's writer (a parked thread of the scheduler's, or a new one; writer.c). Its commits
 * go through the scheduler's group connection. */
int ipvm__run_writer_start(ipvm__run_t *run);
/* Hands run->wbatch to the run's (idle) writer to commit. */
void ipvm__run_writer_submit(ipvm__run_t *run);
/* run.c's setup and end of a run, shared by ipvm_sched_run and ipvm_sched_start. */
int ipvm__run_init(ipvm__run_t *run, ipvm_sched_t *s, const ipvm_workflow_t *wf,
                   const ipvm_sched_run_opts_t *opts, ipvm_arena_t *arena,
                   ipvm_sched_result_t *out, ipvm_error_t *err);
int ipvm__run_setup(ipvm__run_t *run);
/* Finishes the run with the loop's rc (or setup's): skipped events, status, WORKFLOW_DONE,
 * resources freed. Returns the run's status. */
int ipvm__run_end(ipvm__run_t *run, int rc);
/* Releases the run's jobs and claims (loop.c). */
void ipvm__run_drop_jobs(ipvm__run_t *run);
/* Lets the writer go (after the loop: it parks for another run, neither woken nor waited
 * for) and returns its store handle. */
void ipvm__run_writer_stop(ipvm__run_t *run);

#endif
