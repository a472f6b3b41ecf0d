/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/sched.h: the scheduler. Runs a parsed workflow: replays every task that already has a
 * receipt (by instruction CID, wherever the receipt came from), executes the others on a thread
 * pool as soon as what they await is known, commits their receipts to the store in group
 * commits, and reports progress through events. It reaches the layers below it (network,
 * trust) only through the hooks declared here, which the daemon or the CLI wires up
 * (DESIGN.md: "the scheduler is where they meet"; TEAM.md layering). */
#ifndef IPVM_SCHED_H
#define IPVM_SCHED_H

#include "blocks.h"
#include "store.h"
#include "wasm.h"
#include "workflow.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipvm_sched_s ipvm_sched_t;

/* --------------------------------------------------------------------------------------------
 * What a run reports for one task: the receipt (committed to the store before anyone sees
 * this), and our columns beside it.
 * ------------------------------------------------------------------------------------------ */
typedef struct ipvm_sched_receipt_s {
    const ipvm_task_t *task;  /* the task of the workflow it answers */
    ipvm_receipt_t receipt;   /* cid, ran, instruction, out, meta, iss, prf */
    const uint8_t *cbor;      /* DAG-CBOR of the 5-key receipt (hashes to receipt.cid) */
    size_t cbor_len;
    bool replayed;            /* true: reused, nothing was executed for it in this run */
    uint64_t fuel;            /* fuel used when it was executed (0 when unknown) */
    uint64_t time_ns;         /* execution wall time when it was executed (0 when unknown) */
    const char *source;       /* "local", "peer:<peer id>", "dht"... */
    const uint8_t *signature; /* trust's signature bytes, or NULL */
    size_t signature_len;
    const char *log;          /* what the guest printed when executed in this run, or "" */
} ipvm_sched_receipt_t;

/* --------------------------------------------------------------------------------------------
 * Executor: what runs one task. The default (opts.executor == NULL) fetches `rsc` and Link
 * arguments through the resolver, loads the module in the Wasm engine (which caches compiled
 * code by module CID) and calls it. Tests and benchmarks plug in their own.
 * Every function may be called from any worker thread, concurrently.
 * ------------------------------------------------------------------------------------------ */
typedef struct ipvm_sched_executor_s {
    void *data;
    /* Loads what a resource URL names ("ipfs://bafy…") into an opaque module. Called once per
     * distinct rsc per run, before the first task that needs it. */
    int (*load)(void *data, const char *rsc, void **module /* out */, ipvm_error_t *err);
    void (*release)(void *data, void *module);
    /* Appends the bytes of a Link argument to out (IPVM_ENORESOURCE when missing). */
    int (*fetch)(void *data, const ipvm_cid_t *cid, ipvm_buf_t *out, ipvm_error_t *err);
    /* Calls func with args (a list) under limits; the result and its log go in arena. On a
     * failure out->fuel_used is still set (ipvm_wasm_call's contract). */
    int (*call)(void *data, void *module, const char *func, const ipvm_ipld_t *args,
                const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena,
                ipvm_wasm_result_t *out, ipvm_error_t *err);
} ipvm_sched_executor_t;

/* --------------------------------------------------------------------------------------------
 * Hooks for the network (p2p). Set with ipvm_sched_set_net_hooks before the runs that should
 * use them. Every field may be NULL.
 * ------------------------------------------------------------------------------------------ */

/* One instruction the scheduler has no local receipt for. The hook fills the out fields of
 * the items it finds a receipt for. */
typedef struct ipvm_sched_lookup_s {
    /* in */
    const ipvm_cid_t *instruction; /* the instruction CID wanted (DHT key, gossip index) */
    const ipvm_cid_t *invocation;  /* this task's invocation CID: a receipt whose `ran` equals
                                      it needs no further proof. NULL for an instruction awaited
                                      from outside the workflow (asked while parsing and before
                                      the run): then a receipt needs its invocation_block */
    /* out: set found = true and at least receipt/receipt_len. Memory from the lookup arena. */
    bool found;
    const uint8_t *receipt;   /* DAG-CBOR of the receipt map {ran, out, meta, iss, prf}
                                 (Homestar's runtime keys cid/instruction/version tolerated) */
    size_t receipt_len;
    const uint8_t *invocation_block; /* optional: DAG-CBOR of the {"task": …} whose CID is the
                                        receipt's `ran`, required when ran != *invocation */
    size_t invocation_block_len;
    const uint8_t *signature; /* optional, passed to the trust verify hook */
    size_t signature_len;
    char source[80]; /* where it came from, e.g. "peer:12D3KooW…" or "dht" */
} ipvm_sched_lookup_t;

typedef struct ipvm_sched_net_hooks_s {
    void *data;
    /* Finds receipts elsewhere for `n` instructions at once, within timeout_ms in total (the
     * scheduler waits for it). Called on the run's thread, once per wave of ready tasks that
     * have no local receipt, before anything of theirs is fetched or run, and for awaits of
     * instructions outside the workflow that the store does not have (while parsing, to tell
     * whether they exist, and before the run, to get them). Allocate returned
     * bytes with ipvm_arena_alloc(arena, …) on the calling thread only. Return 0 (items not
     * found keep found == false) or an error (logged; the tasks are then executed locally).
     * The scheduler verifies every receipt before use: it recomputes the receipt CID from the
     * bytes, checks `ran` is this task's invocation or that invocation_block hashes to `ran`
     * and holds an instruction hashing to the wanted CID, then calls the trust verify hook.
     * A receipt that fails is ignored (logged) and the task is executed. A verified receipt
     * is stored (source column = source) and replayed. */
    int (*find_receipts)(void *data, ipvm_sched_lookup_t *items, size_t n, int timeout_ms,
                         ipvm_arena_t *arena);
    /* Called after a receipt is committed to the store (executed here, found elsewhere, or,
     * when publish_replayed, replayed), on the run's thread, in commit order. Must not block:
     * copy what is needed (cbor, cids) and queue it for gossip / DHT. */
    void (*receipt_published)(void *data, const ipvm_cid_t *workflow,
                              const ipvm_sched_receipt_t *r);
    bool publish_replayed; /* also publish receipts replayed from the local store (Homestar does) */
    int lookup_timeout_ms; /* passed to find_receipts; 0 = 500 ms */
} ipvm_sched_net_hooks_t;

/* --------------------------------------------------------------------------------------------
 * Hooks for trust (UCAN, signatures, redundancy). Set with ipvm_sched_set_trust_hooks. Every
 * field may be NULL. All functions may be called from any thread, concurrently.
 * ------------------------------------------------------------------------------------------ */
typedef struct ipvm_sched_trust_hooks_s {
    void *data;
    /* Checks that the run may execute (or replay) this task: called for every task, before its
     * receipt is looked up, its resources fetched or its function run. `auth` is the run's
     * opts->auth (e.g. the UCAN the RPC client presented), passed through untouched. 0 allows;
     * an error (IPVM_EDENIED, IPVM_EUCAN, IPVM_EEXPIRED…, with err saying why) fails the task:
     * it gets an error receipt with that code (not final: a later, authorised run executes it)
     * and its await/ok dependents fail too. */
    int (*authorize)(void *data, const void *auth, const ipvm_workflow_t *wf,
                     const ipvm_task_t *task, ipvm_error_t *err);
    /* The DID put in the `iss` field of every receipt this node makes (copied at set time);
     * NULL keeps iss null as Homestar does. iss is part of the receipt CID. */
    const char *issuer;
    /* Signs a receipt this node made: cbor is its DAG-CBOR (hashing to r->cid). Append the
     * signature (or envelope) to sig; it is stored beside the receipt (signature column) and
     * reported. An error stops the run (ipvm_sched_run returns it, err says which task): this
     * node does not store receipts it was told to sign and could not. */
    int (*sign)(void *data, const ipvm_receipt_t *r, const uint8_t *cbor, size_t cbor_len,
                ipvm_buf_t *sig, ipvm_error_t *err);
    /* Verifies a receipt this node did not make itself before it is used: one found by
     * find_receipts, or one in the store whose source is not "local". sig may be NULL. 0
     * accepts; an error rejects it (the task is executed instead). */
    int (*verify)(void *data, const ipvm_receipt_t *r, const uint8_t *cbor, size_t cbor_len,
                  const uint8_t *sig, size_t sig_len, const char *source, ipvm_error_t *err);
    /* k-of-n redundancy: called after this node executed a task and before its receipt is
     * committed, with the receipt. It may run the instruction on other nodes and compare
     * receipt CIDs, blocking up to timeout_ms (what remains of the workflow's time). 0 accepts
     * the receipt; IPVM_ECONFLICT (independent results disagree) or another error fails the
     * task with that code (not final). */
    int (*confirm)(void *data, const ipvm_task_t *task, const ipvm_sched_receipt_t *r,
                   int timeout_ms, ipvm_error_t *err);
} ipvm_sched_trust_hooks_t;

/* --------------------------------------------------------------------------------------------
 * Events: progress of one run, for the CLI's progress bar and the node's JSON-RPC
 * notifications. Called on the run's thread (the one inside ipvm_sched_run), one at a time, in
 * order; a receipt is reported only after it is committed. Pointers are valid during the
 * callback only: copy what you keep. Keep it short (it delays the run).
 * ------------------------------------------------------------------------------------------ */
typedef enum {
    IPVM_SCHED_WORKFLOW_STARTED = 0, /* parsed, stored as running; counts known */
    IPVM_SCHED_TASK_STARTED,         /* dispatched to a worker */
    IPVM_SCHED_TASK_FINISHED,        /* executed here (ok or error); receipt committed */
    IPVM_SCHED_TASK_REPLAYED,        /* receipt reused (local store or found elsewhere) */
    IPVM_SCHED_TASK_SKIPPED,         /* never ran: the run was cancelled or timed out first */
    IPVM_SCHED_WORKFLOW_DONE,        /* everything settled; status says how */
} ipvm_sched_event_kind_t;

IPVM_EXTERN const char *ipvm_sched_event_name(ipvm_sched_event_kind_t kind);

typedef struct ipvm_sched_event_s {
    ipvm_sched_event_kind_t kind;
    const ipvm_workflow_t *workflow;
    const char *name;                    /* the run's name (opts->name), or NULL */
    const ipvm_task_t *task;             /* NULL for the workflow events */
    const ipvm_sched_receipt_t *receipt; /* for TASK_FINISHED and TASK_REPLAYED, else NULL */
    size_t done;     /* tasks settled so far (finished + replayed + skipped) */
    size_t total;    /* tasks in the workflow */
    size_t executed, replayed, failed; /* failed counts error receipts, replayed or not */
    int status;      /* WORKFLOW_DONE and TASK_SKIPPED: 0 or why (IPVM_ETASKFAILED…) */
    uint64_t elapsed_ns; /* since the run started */
} ipvm_sched_event_t;

typedef void (*ipvm_sched_event_cb)(const ipvm_sched_event_t *ev, void *data);

/* --------------------------------------------------------------------------------------------
 * The scheduler.
 * ------------------------------------------------------------------------------------------ */
typedef struct ipvm_sched_opts_s {
    const char *db_path;          /* the SQLite database (ipvm_store_open); required */
    ipvm_wasm_engine_t *engine;   /* borrowed; for the default executor */
    ipvm_resolver_t *resolver;    /* borrowed; for the default executor */
    const ipvm_sched_executor_t *executor; /* copied; NULL: the default executor */
    unsigned threads;             /* worker threads; 0 = the number of CPUs */
    ipvm_wasm_limits_t defaults;  /* per-task limits when meta gives none (0 = engine default) */
    ipvm_wasm_limits_t max;       /* caps on what meta may ask for (0 = no cap) */
    uint64_t workflow_timeout_ms; /* default per-workflow timeout; 0 = 3,600,000 (Homestar) */
    unsigned commit_interval_us;  /* group commit window; 0 = 2000 µs */
    unsigned commit_max;          /* receipts per commit at most; 0 = 1024 */
} ipvm_sched_opts_t;

/* Creates a scheduler and starts its worker threads. opts is copied (db_path too); engine and
 * resolver are borrowed and must outlive it. Opens the store once to migrate it (so a bad
 * data dir fails here, with err naming the path). Thread-safe: several threads may run
 * workflows on one scheduler at once; an instruction is executed at most once at a time per
 * scheduler (a second run that needs it waits and replays the first's receipt). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_sched_new(const ipvm_sched_opts_t *opts,
                                               ipvm_sched_t **out, ipvm_error_t *err);
/* Stops the workers and the writer threads kept parked for runs, and frees. No run may be in
 * progress (a started one: until its on_done returned). NULL is a no-op. */
IPVM_EXTERN void ipvm_sched_free(ipvm_sched_t *s);
/* Install hooks (copied). Call before the runs that should use them, not during a run. */
IPVM_EXTERN void ipvm_sched_set_net_hooks(ipvm_sched_t *s, const ipvm_sched_net_hooks_t *h);
IPVM_EXTERN void ipvm_sched_set_trust_hooks(ipvm_sched_t *s, const ipvm_sched_trust_hooks_t *h);

/* Parses a workflow (DAG-JSON) as ipvm_workflow_parse does, compact (only what running needs
 * is kept: task->task, task->run, task->meta and wf->ipld are NULL) unless trust hooks that
 * read tasks (authorize, confirm) are installed, with awaits outside the workflow checked
 * against the store (a receipt for the awaited instruction must exist). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_sched_parse(ipvm_sched_t *s, const char *json, size_t len,
                                                 ipvm_arena_t *arena,
                                                 ipvm_workflow_t **out /* out */,
                                                 ipvm_error_t *err);

/* A cancellation token: fire it from any thread to stop a run. Tasks already running finish
 * (their receipts are committed); tasks not started are skipped; the run returns
 * IPVM_ECANCELED. */
typedef struct ipvm_sched_cancel_s {
    int fired; /* zero-initialise; set only through ipvm_sched_cancel_fire (atomic store) */
} ipvm_sched_cancel_t;
IPVM_EXTERN void ipvm_sched_cancel_fire(ipvm_sched_cancel_t *c);

typedef struct ipvm_sched_run_opts_s {
    const char *name;              /* stored with the workflow, passed in events; may be NULL */
    uint64_t timeout_ms;           /* 0 = the scheduler's workflow_timeout_ms */
    ipvm_sched_event_cb on_event;  /* may be NULL */
    void *event_data;
    ipvm_sched_cancel_t *cancel;   /* borrowed, may be NULL */
    const void *auth;              /* passed to the authorize hook, untouched */
    bool keep_logs;                /* keep guest logs in the result (default: dropped) */
} ipvm_sched_run_opts_t;

/* Where the time went, summed over the run (for bench/workflow and --json). */
typedef struct ipvm_sched_stats_s {
    uint64_t lookup_ns;   /* memoization lookups in the store (and verification) */
    uint64_t schedule_ns; /* readiness, argument resolution, dispatch, events */
    uint64_t store_ns;    /* group commits (durable) */
    uint64_t execute_ns;  /* inside the executor, summed over workers */
    uint64_t receipt_ns;  /* building, encoding and hashing receipts, summed over workers */
    uint64_t commits;     /* durable transactions */
} ipvm_sched_stats_t;

typedef struct ipvm_sched_result_s {
    ipvm_cid_t workflow;
    size_t ntasks;
    ipvm_sched_receipt_t *receipts; /* ntasks entries in task order; receipts[i].task == NULL
                                       when task i got no receipt (skipped) */
    size_t executed, replayed, failed, skipped;
    uint64_t elapsed_ns;
    ipvm_sched_stats_t stats;
} ipvm_sched_result_t;

/* Runs a workflow to the end on the calling thread (which coordinates; tasks run on the
 * workers). wf is borrowed for the call; opts may be NULL. The result is allocated in arena.
 * Stores the workflow (status running, then completed or failed), every receipt (durably,
 * before any event reports it) and links them to the workflow.
 * Returns 0 when every task has an ok receipt; IPVM_ETASKFAILED when some task has an error
 * receipt; IPVM_EWORKFLOWTIMEOUT or IPVM_ECANCELED when it stopped early. In those four cases
 * *out is filled (skipped tasks have no receipt). Other errors (IPVM_ESTORE, IPVM_ENOSPC,
 * IPVM_EROFS, IPVM_ENOMEM…) mean the run could not go on: nothing uncommitted was reported,
 * and *out is filled as far as it got. err says what happened. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_sched_run(ipvm_sched_t *s, const ipvm_workflow_t *wf,
                                               const ipvm_sched_run_opts_t *opts,
                                               ipvm_arena_t *arena,
                                               ipvm_sched_result_t *out /* out */,
                                               ipvm_error_t *err);

/* How a run started with ipvm_sched_start ended: status and err as ipvm_sched_run returns
 * them, result filled as ipvm_sched_run fills *out (it is the `out` given to start). Called
 * once, on one of the scheduler's threads (a worker or the run's writer), after the run's last
 * event (WORKFLOW_DONE); from then on the scheduler no longer touches the workflow, the arena
 * or the result. err is valid during the call only. Must not call ipvm_sched_free. */
typedef void (*ipvm_sched_done_cb)(int status, ipvm_sched_result_t *result,
                                   const ipvm_error_t *err, void *data);

/* Starts a run and returns at once: the same run as ipvm_sched_run (same store writes, events,
 * replay, claims, timeout and cancellation), but with no thread waiting for it: the run's
 * writer thread (one the scheduler keeps parked, signalled here, or a new thread when none is
 * parked) does its setup and commits, and each task's completion moves the run on from the
 * worker that ran it. Events come on those threads, one at a time and in order, as with
 * ipvm_sched_run. wf, opts' pointers (name, event_data, cancel, auth), arena
 * and out are borrowed until on_done runs. Each run in flight holds a thread and two store
 * handles: callers bound how many they start at once. Returns 0 (on_done will run exactly
 * once) or IPVM_ENOMEM (it will not). Callable from any thread, the libuv loop's included (it
 * does no I/O). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_sched_start(ipvm_sched_t *s, const ipvm_workflow_t *wf,
                                                 const ipvm_sched_run_opts_t *opts,
                                                 ipvm_arena_t *arena, ipvm_sched_result_t *out,
                                                 ipvm_sched_done_cb on_done, void *done_data,
                                                 ipvm_error_t *err);

/* Task-limit resolution used by ipvm_sched_run (exposed for tests and `ipvm workflow
 * inspect`): meta's value when given, else the node default, capped by the node maximum. */
IPVM_EXTERN void ipvm_sched_task_limits(const ipvm_sched_opts_t *opts, const ipvm_task_t *task,
                                        ipvm_wasm_limits_t *out /* out */);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_SCHED_H */
