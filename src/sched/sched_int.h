/* SPDX-License-Identifier: Apache-2.0 */
/* sched_int.h: the scheduler's internals shared by its files: the worker pool (pool.c), the
 * scheduler object and its store handles (sched.c), one run (run.c), the work a worker does
 * for one task (exec.c), receipt rows and verification (rows.c) and the default executor
 * (default_exec.c). */
#ifndef IPVM_SCHED_INT_H
#define IPVM_SCHED_INT_H

#include "ipvm.h"

#include <pthread.h>

/* ---- worker pool ---------------------------------------------------------------------------
 * Our own pthreads pool rather than libuv's: libuv's pool is process-wide and shared with the
 * node's file system and DNS work (a long Wasm call there stalls the RPC server's fs requests),
 * it needs a loop to deliver completions (the embedded CLI has none), and its size is fixed by
 * an environment variable at first use. Ours has a fixed number of threads, a FIFO of jobs,
 * and completions go straight to the run that queued them. */
typedef struct ipvm__job_s ipvm__job_t;
typedef void (*ipvm__job_fn)(ipvm__job_t *job);

struct ipvm__job_s {
    ipvm__job_t *next;  /* in the pool queue, then in the run's completion list */
    ipvm__job_fn fn;    /* runs on a worker */
};

typedef struct ipvm__pool_s {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ipvm__job_t *head, *tail;
    size_t queued; /* jobs in the queue; read without the lock (atomically) as a hint */
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
} ipvm__pool_t;

int ipvm__pool_start(ipvm__pool_t *p, unsigned nthreads);
void ipvm__pool_stop(ipvm__pool_t *p);
void ipvm__pool_push(ipvm__pool_t *p, ipvm__job_t *job);
/* Queues a chain of n jobs (linked by next) with one lock and one wake-up. */
void ipvm__pool_push_many(ipvm__pool_t *p, ipvm__job_t *first, ipvm__job_t *last, size_t n);
/* Queues a job ahead of every other (a run's step: short, and what it does - dispatch the
 * next tasks, report committed receipts - is what the queue behind it waits for). */
void ipvm__pool_push_front(ipvm__pool_t *p, ipvm__job_t *job);
/* Jobs waiting in the queue now (a hint: it may change at once). */
size_t ipvm__pool_queued(ipvm__pool_t *p);
/* Removes and returns the first queued job match() accepts, or NULL (a worker that would
 * wait for jobs of its own runs them itself instead). */
ipvm__job_t *ipvm__pool_take(ipvm__pool_t *p, bool (*match)(const ipvm__job_t *, void *),
                             void *arg);

/* ---- the scheduler -------------------------------------------------------------------------- */
/* Writer threads of ended runs kept parked for the next runs, at most (writer.c). The node
 * runs up to node.runners = 16 started runs at a time. */
#define IPVM__SCHED_WRITERS_PARKED 16

typedef struct ipvm__inflight_s ipvm__inflight_t;
typedef struct ipvm__run_s ipvm__run_t;
typedef struct ipvm__writer_s ipvm__writer_t;

struct ipvm_sched_s {
    ipvm_sched_opts_t opts;        /* copied; db_path points into db_path_copy */
    char *db_path_copy;
    ipvm_sched_executor_t exec;    /* the executor in use */
    ipvm_sched_net_hooks_t net;
    ipvm_sched_trust_hooks_t trust;
    char *issuer;                  /* copy of trust.issuer */
    ipvm__pool_t pool;
    pthread_mutex_t lock;          /* guards stores and inflight */
    ipvm_store_t **stores;         /* idle store handles, reused by runs */
    size_t nstores, capstores;
    ipvm__inflight_t *inflight[1024]; /* instructions being executed now, by any run:
                                         buckets by digest prefix */
    uint64_t gen;                  /* release generation, +1 per release */
    struct {
        uint64_t key, gen;         /* digest prefix of a released instruction, and when */
    } recent[4096];                /* lossy: a lost entry only costs a duplicate execution */
    /* the timer of started runs (async.c): steps them at their commit window, cancel poll
     * and deadline; started with the first ipvm_sched_start */
    pthread_mutex_t tlock;         /* guards the fields below and each run's a_wake_ns */
    pthread_cond_t tcond;
    pthread_t tthread;
    bool tstarted, tstop, tinit;
    uint64_t twake_ns;             /* when the timer thread wakes next (0: not sleeping) */
    ipvm__run_t *started;          /* started runs not yet ended */
    /* writer threads of runs, parked between runs (writer.c) */
    pthread_mutex_t wlock;         /* guards the fields below */
    bool winit, wstop;
    ipvm__writer_t *widle;         /* parked, waiting for a run */
    ipvm__writer_t *wall;          /* every writer not joined yet (serving, parked, exited) */
    size_t nidle;                  /* parked */
    uint64_t wcreated;             /* writer threads created so far */
    /* group commit (writer.c): one connection commits the queued batches of every run at once */
    pthread_mutex_t glock;         /* guards the fields below */
    bool ginit, gbusy;             /* gbusy: a writer is committing a group now */
    ipvm__run_t *gq, **gq_tail;    /* runs whose batches wait for the next group */
    ipvm_store_t *gstore;          /* the group's connection (the committing writer's) */
    uint64_t gcommits, gbatches;   /* group transactions and the batches in them so far */
    /* the test-only stall of the writers (writer.c), set once by ipvm_sched_new */
    bool stall_on;                 /* IPVM_TEST_STALL_AFTER_RECEIPTS is set */
    int stall_fd;                  /* IPVM_TEST_STALL_FD, -1 if unset */
    uint64_t stall_left;           /* receipts to commit before the stall (under glock) */
};
/* Stops the timer thread of started runs (ipvm_sched_free). */
void ipvm__sched_timer_stop(ipvm_sched_t *s);
/* Ends and joins every writer thread (ipvm_sched_free), those still between their run's end
 * and parking included. */
void ipvm__sched_writers_stop(ipvm_sched_t *s);
/* How many writer threads were created so far and how many are parked now (tests). */
void ipvm__sched_writers(ipvm_sched_t *s, uint64_t *created, size_t *parked);

/* How many group transactions were committed so far and how many runs' batches they held. */
void ipvm__sched_groups(ipvm_sched_t *s, uint64_t *commits, uint64_t *batches);
/* Reads the test-only stall of the writers from the environment (writer.c; ipvm_sched_new). */
void ipvm__sched_stall_init(ipvm_sched_t *s);

/* A store handle for one run (opened on first use, kept for the next run). */
int ipvm__sched_store_take(ipvm_sched_t *s, ipvm_store_t **out, ipvm_error_t *err);
void ipvm__sched_store_give(ipvm_sched_t *s, ipvm_store_t *st, bool broken);

/* In-flight instructions, so two runs never execute one instruction at once. claim returns
 * CLAIM_MINE when this run may execute `instruction`; CLAIM_BUSY when another run is executing
 * it (`run` is woken, ipvm__run_wake, when that run releases it); CLAIM_DONE when another run
 * released it after generation `since` (the run's last store lookup): look it up again. Release
 * (after the receipt is committed, or dropped) wakes the waiters. All under s->lock. */
enum { IPVM__CLAIM_MINE = 0, IPVM__CLAIM_BUSY = 1, IPVM__CLAIM_DONE = 2 };
int ipvm__sched_claim(ipvm_sched_t *s, const ipvm_cid_t *instruction, ipvm__run_t *run,
                      uint64_t since);
/* The current release generation: read it before a store lookup and pass it to claim. */
uint64_t ipvm__sched_gen(ipvm_sched_t *s);
void ipvm__sched_release(ipvm_sched_t *s, const ipvm_cid_t *instruction);
/* Removes `run` from every waiter list (a run that ends with tasks still parked). */
void ipvm__sched_forget(ipvm_sched_t *s, ipvm__run_t *run);
void ipvm__run_wake(ipvm__run_t *run);

/* ---- one task's execution on a worker -------------------------------------------------------- */
typedef struct ipvm__task_job_s {
    ipvm__job_t job;
    ipvm__run_t *run;
    size_t task;                 /* index in the workflow */
    ipvm_arena_t arena;          /* everything below lives here; reset for the next task */
    void *module;                /* borrowed from the run's module table */
    int load_rc;                 /* the module failed to load: fail with this */
    ipvm_error_t load_err;
    ipvm_wasm_limits_t limits;
    int fail_code;               /* pre-decided failure (authorisation...), 0 = run it */
    char *fail_msg;
    /* results, written by the worker */
    int status;                  /* 0: ok receipt; else the error code of the error receipt */
    ipvm_receipt_t receipt;
    ipvm_buf_t cbor;             /* the receipt's DAG-CBOR */
    ipvm_buf_t blobs;            /* out, meta, prf DAG-CBOR, back to back */
    size_t out_len, meta_len, prf_len;
    ipvm_buf_t sig;
    uint64_t fuel, time_ns, exec_ns, receipt_ns;
    const char *log;
    bool store_it;               /* false: nothing to commit (internal failure) */
} ipvm__task_job_t;

void ipvm__exec_task(ipvm__job_t *job);

/* Result tuple of task `t` (an await target) as IPLD decoded into arena, or NULL when the run
 * has none. Called by workers; the tuple's bytes are immutable once published. */
int ipvm__run_result(ipvm__run_t *run, const ipvm_await_t *aw, ipvm_arena_t *arena,
                     const ipvm_ipld_t **out, ipvm_error_t *err);
/* What exec.c needs to know of the run. */
const ipvm_workflow_t *ipvm__run_workflow(ipvm__run_t *run);
ipvm_sched_t *ipvm__run_sched(ipvm__run_t *run);
void ipvm__run_complete(ipvm__run_t *run, ipvm__task_job_t *job);
uint64_t ipvm__run_deadline_ns(ipvm__run_t *run);

/* ---- receipts <-> rows (rows.c) -------------------------------------------------------------- */
/* A store row for a receipt a job produced (points into the job). */
void ipvm__row_from_job(const ipvm__task_job_t *job, ipvm_receipt_row_t *row);
/* Values most receipts of a run have in common (meta {"op": f}, prf []), decoded once and
 * shared by the report entries, which are read-only: 10,000 receipts need one copy. */
typedef struct ipvm__share_s {
    const uint8_t *meta_bytes; /* DAG-CBOR of the last meta seen (in the result arena) */
    size_t meta_len;
    ipvm_ipld_t *meta;
    ipvm_ipld_t *empty_list;
    ipvm_ipld_t *ok_tag, *error_tag; /* the strings "ok" and "error" of result tuples */
} ipvm__share_t;

/* Builds the report entry of a stored row (a replay) in two halves, so that the second can run
 * on a worker: stage (the run's thread: copies what the row holds into arena, assembles the
 * receipt's bytes, notes where out/meta/prf are in them) and check (any thread: decodes
 * out/meta/prf into its own arena and checks that the bytes hash to row->cid, re-encoding the
 * receipt when a column was stored in another valid encoding; IPVM_ERECEIPT otherwise). */
typedef struct ipvm__staged_s {
    size_t task;
    uint32_t out_off, out_len, meta_off, meta_len, prf_off, prf_len;
} ipvm__staged_t;
typedef struct ipvm__bump_s {
    uint8_t *p, *end; /* free room for the receipts' bytes (else they go to the arena) */
} ipvm__bump_t;
int ipvm__report_stage(const ipvm_receipt_row_t *row, const ipvm_task_t *task,
                       ipvm_arena_t *a, ipvm_buf_t *scratch, ipvm__bump_t *bump,
                       ipvm__staged_t *st, ipvm_sched_receipt_t *out);
int ipvm__report_check(const ipvm__staged_t *st, ipvm_arena_t *a, ipvm__share_t *sh,
                       ipvm_sched_receipt_t *out, ipvm_error_t *err);
/* Both halves at once (stage then check). */
int ipvm__report_from_row(const ipvm_receipt_row_t *row, const ipvm_task_t *task,
                          ipvm_arena_t *arena, ipvm__share_t *sh, ipvm_sched_receipt_t *out,
                          ipvm_error_t *err);
/* The report entry of a job's receipt, copied into arena. */
int ipvm__report_from_job(const ipvm__task_job_t *job, const ipvm_task_t *task,
                          ipvm_arena_t *arena, ipvm__share_t *sh, ipvm_sched_receipt_t *out,
                          ipvm_error_t *err);
/* Checks a receipt found by the net hook (see ipvm_sched_net_hooks_t) and builds its row and
 * report entry in arena. */
int ipvm__verify_found(ipvm_sched_t *s, const ipvm_task_t *task, const ipvm_sched_lookup_t *it,
                       ipvm_arena_t *arena, ipvm_receipt_row_t *row, ipvm_sched_receipt_t *rep,
                       ipvm_error_t *err);
/* Whether a stored receipt can be replayed for `task` (ok, or a final error; verified by the
 * trust hook when it did not come from this node). */
bool ipvm__row_usable(ipvm_sched_t *s, const ipvm_receipt_row_t *row,
                      const ipvm_sched_receipt_t *rep);
bool ipvm__rep_usable(ipvm_sched_t *s, const ipvm_sched_receipt_t *rep);

/* ---- the default executor (default_exec.c) --------------------------------------------------- */
int ipvm__default_exec_init(ipvm_sched_t *s, ipvm_error_t *err);
void ipvm__default_exec_free(ipvm_sched_t *s);

#endif
