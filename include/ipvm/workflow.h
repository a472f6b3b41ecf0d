/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/workflow.h: the workflow data model, compatible with Homestar (reference/homestar.md
 * §§1-3): tasks, instructions, nonces, promises (await/ok, await/error, await/\*), parsing,
 * normalisation and validation, batching into topological layers, receipts and every CID
 * (instruction, invocation, workflow, receipt). Pure data: no storage, no execution. */
#ifndef IPVM_WORKFLOW_H
#define IPVM_WORKFLOW_H

#include "ipld.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The only executable ability (Homestar: homestar-runtime/src/tasks.rs). */
#define IPVM_OP_WASM_RUN "wasm/run"
/* `version` Homestar stores beside a receipt (DB column, gossip and DHT payloads). */
#define IPVM_RECEIPT_VERSION "0.2.0"
/* Largest number of tasks one workflow may hold (a guard against absurd inputs). */
#define IPVM_WORKFLOW_MAX_TASKS 1000000

typedef enum {
    IPVM_AWAIT_OK = 0, /* "await/ok": the value of an ok result; an error result fails the task */
    IPVM_AWAIT_ERROR,  /* "await/error": the value of an error result; an ok result fails it */
    IPVM_AWAIT_ANY,    /* "await/\*": the whole result tuple ["ok", v] or ["error", e] */
} ipvm_await_kind_t;

/* "await/ok", "await/error" or "await/\*". */
IPVM_EXTERN const char *ipvm_await_kind_name(ipvm_await_kind_t kind);

/* One promise found in a task's arguments. */
typedef struct ipvm_await_s {
    ipvm_await_kind_t kind;
    ipvm_cid_t target; /* the awaited instruction CID */
    long task;         /* index of the task of this workflow that produces it, -1 if outside */
} ipvm_await_t;

/* Limits a task asks for in its `meta` (Homestar's documented shape {"fuel": u64, "memory":
 * bytes, "time": ms}). A field is 0 when `meta` does not give it as a non-negative integer:
 * the node's default applies. compat: Homestar's fixtures write fuel as 18446744073709552000,
 * which is read as a float and so ignored (homestar-invocation/src/task/config.rs does too). */
typedef struct ipvm_task_limits_s {
    uint64_t fuel;
    uint64_t memory;
    uint64_t time_ms;
} ipvm_task_limits_t;

/* One task after normalisation. Everything lives in the workflow's arena. */
typedef struct ipvm_task_s {
    size_t index;             /* position in the workflow's `tasks` list */
    ipvm_ipld_t *task;        /* normalised task map {cause, meta, prf, run} */
    ipvm_ipld_t *run;         /* normalised instruction map {input, nnc, op, rsc} */
    const char *rsc;          /* the resource URL, e.g. "ipfs://bafy…" (NUL-terminated) */
    const char *op;           /* "wasm/run" */
    const char *func;         /* input.func */
    const ipvm_ipld_t *args;  /* input.args, a list, exactly as given (awaits unresolved) */
    const ipvm_ipld_t *meta;  /* kept verbatim: it is part of the invocation CID */
    ipvm_cid_t instruction;   /* CID of `run`: the memoization key and the await target */
    ipvm_cid_t invocation;    /* CID of {"task": task}: the `ran` of its receipt */
    ipvm_await_t *awaits;     /* every promise in args (nested ones too), depth-first */
    size_t nawaits;
    size_t *deps;             /* distinct in-workflow tasks it awaits, ascending */
    size_t ndeps;
    size_t *dependents;       /* tasks of this workflow that await it, ascending */
    size_t ndependents;
    ipvm_task_limits_t limits; /* from meta */
    size_t batch;             /* the batch it runs in */
} ipvm_task_t;

/* A parsed workflow. Batches are topological layers: batch b holds the task indexes
 * order[batch_start[b]] .. order[batch_start[b+1] - 1], ascending; batch_start has nbatches+1
 * entries. compat: homestar-runtime/src/workflow.rs (dagga barrier) - tasks that neither await
 * nor are awaited by a task of the workflow run in one last batch, after every chain. */
typedef struct ipvm_workflow_s {
    ipvm_cid_t cid;     /* CID of the normalised {"tasks": [...]} */
    ipvm_ipld_t *ipld;  /* the normalised {"tasks": [...]} */
    ipvm_task_t *tasks; /* ntasks entries, in workflow order */
    size_t ntasks;
    size_t *order;       /* ntasks task indexes, batch after batch */
    size_t *batch_start; /* nbatches + 1 offsets into order */
    size_t nbatches;
    size_t *by_instruction; /* ntasks task indexes sorted by instruction CID */
    const uint8_t *cbor;    /* DAG-CBOR of `ipld` (what `cid` hashes; stored to resume) */
    size_t cbor_len;
} ipvm_workflow_t;

/* Tells whether a receipt for an instruction CID is available outside the workflow (a store, a
 * peer). Called during parsing, on the parsing thread, for each await of a CID that no task of
 * the workflow produces. */
typedef bool (*ipvm_workflow_known_fn)(void *data, const ipvm_cid_t *instruction);

typedef struct ipvm_workflow_opts_s {
    ipvm_workflow_known_fn known; /* NULL: every await outside the workflow is an error */
    void *known_data;
    bool allow_outside_awaits; /* do not check awaits outside the workflow (inspect, tests) */
    bool compact; /* keep only what running needs: the decoded document is freed at once and
                     task->task, task->run, task->meta and wf->ipld are NULL (args, rsc and
                     func are copies); a 10,000-task workflow then takes ~8 MB, not ~30 */
} ipvm_workflow_opts_t;

/* Parses a workflow from DAG-JSON (Homestar's format), normalises it and validates it:
 *  - normalisation (what is hashed): a Link `rsc` becomes "ipfs://" + base32 CIDv1; a missing
 *    `nnc` becomes ""; a string or bytes nonce is kept as given; unknown keys of tasks and
 *    instructions are dropped and a missing or non-Link `cause` becomes null, as Homestar does;
 *  - validation, each error naming the task (index and instruction CID when known) and the
 *    field: a missing or mistyped run/meta/prf/rsc/op/input/func/args (IPVM_EWORKFLOW), an
 *    unknown `op`, a bad nonce (not "", 12 or 16 bytes, or base32hex-lower text of them), an
 *    await whose CID is neither in the workflow nor known to opts->known (IPVM_EAWAIT), a task
 *    that awaits itself or a cycle (IPVM_ECYCLE), two tasks with the same instruction CID
 *    (IPVM_EDUPTASK);
 *  - then the CIDs and the batches.
 * Integers beyond u64 are read as float64 (so Homestar's fuel value keeps its workflow CID).
 * Everything is allocated in `arena` (borrowed; the workflow lives as long as it); on failure
 * *out is untouched and the arena may hold garbage. opts may be NULL. Any thread. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_workflow_parse(const char *json, size_t len,
                                                    const ipvm_workflow_opts_t *opts,
                                                    ipvm_arena_t *arena,
                                                    ipvm_workflow_t **out /* out */,
                                                    ipvm_error_t *err);
/* The same from the DAG-CBOR of {"tasks": [...]} (how workflows are stored and sent). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_workflow_decode(const uint8_t *cbor, size_t len,
                                                     const ipvm_workflow_opts_t *opts,
                                                     ipvm_arena_t *arena,
                                                     ipvm_workflow_t **out /* out */,
                                                     ipvm_error_t *err);
/* The same from an IPLD value already decoded (borrowed: it must live in `arena` or outlive
 * the workflow; it is not modified). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_workflow_from_ipld(const ipvm_ipld_t *value,
                                                        const ipvm_workflow_opts_t *opts,
                                                        ipvm_arena_t *arena,
                                                        ipvm_workflow_t **out /* out */,
                                                        ipvm_error_t *err);
/* Appends the DAG-CBOR of the normalised workflow (what its CID hashes) to out. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_workflow_encode(const ipvm_workflow_t *wf, ipvm_buf_t *out,
                                                     ipvm_error_t *err);
/* Index of the task whose instruction CID is `instruction`, or -1. O(log n). */
IPVM_EXTERN long ipvm_workflow_find(const ipvm_workflow_t *wf, const ipvm_cid_t *instruction);

/* The resources a task needs: its `rsc`, then the Link arguments at the top level of `args`
 * (fetched and passed to the function as bytes; reference/homestar.md §4.5). */
IPVM_EXTERN size_t ipvm_task_link_args(const ipvm_task_t *task, const ipvm_cid_t **links,
                                       size_t max);

/* ------------------------------------------------------------------- argument resolution ---- */
/* Gives the result tuple (["ok", v] or ["error", e]) of an awaited instruction, or the bytes of
 * a top-level Link argument. Called by ipvm_task_resolve_args on its own thread. Return 0 and
 * set *out (which must outlive the arguments), or an error (with err filled) to fail the task. */
typedef struct ipvm_resolve_ops_s {
    int (*result)(void *data, const ipvm_await_t *await, const ipvm_ipld_t **out /* out */,
                  ipvm_error_t *err);
    int (*link)(void *data, const ipvm_cid_t *cid, const ipvm_ipld_t **out /* out: bytes */,
                ipvm_error_t *err);
    void *data;
} ipvm_resolve_ops_t;

/* Builds the argument list a function is called with: each await replaced by what its kind
 * selects (await/ok: the ok value, await/error: the error value, await/\*: the tuple), each Link
 * at the top level of args by the resource's bytes (when ops->link is set), everything else
 * unchanged. A branch mismatch is IPVM_ETASKFAILED for await/ok on an error (the message names
 * the awaited task and quotes its error) and IPVM_EAWAIT for await/error on an ok result.
 * The list is built in arena. Any thread. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_task_resolve_args(const ipvm_task_t *task,
                                                       const ipvm_resolve_ops_t *ops,
                                                       ipvm_arena_t *arena,
                                                       ipvm_ipld_t **args /* out */,
                                                       ipvm_error_t *err);

/* ------------------------------------------------------------------------------ receipts ---- */
/* A receipt in Homestar's shape {ran, out, meta, iss, prf} (homestar-invocation/src/receipt.rs).
 * Unlike Homestar, a failed task has a receipt too: out = ["error", {code, message, trap,
 * fuel}] (see ipvm_receipt_error_value). Fuel used and time taken are never in it. */
typedef struct ipvm_receipt_s {
    ipvm_cid_t cid;         /* CID of the 5-key map */
    ipvm_cid_t ran;         /* the invocation CID */
    ipvm_cid_t instruction; /* the instruction it answers: kept beside the receipt, not in it */
    bool has_instruction;   /* false for a receipt decoded without knowing its instruction */
    ipvm_ipld_t *out;       /* ["ok", v] or ["error", e] */
    ipvm_ipld_t *meta;      /* {"op": func} for ours */
    const char *iss;        /* issuer DID, or NULL for null */
    ipvm_ipld_t *prf;       /* list of Links, [] for ours */
    bool ok;                /* out[0] == "ok" */
} ipvm_receipt_t;

/* Builds the receipt of a task that produced `value` (ok) or failed with `value` (an error map
 * from ipvm_receipt_error_value), with iss (copied; NULL for null), and computes its CID.
 * value is borrowed (must live in arena or longer). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_make(ipvm_arena_t *arena, const ipvm_task_t *task,
                                                  bool ok, ipvm_ipld_t *value, const char *iss,
                                                  ipvm_receipt_t *out, ipvm_error_t *err);
/* The receipt as IPLD: the 5-key map its CID hashes. NULL on OOM. */
IPVM_EXTERN ipvm_ipld_t *ipvm_receipt_to_ipld(ipvm_arena_t *arena, const ipvm_receipt_t *r);
/* Appends the DAG-CBOR of the 5-key map to out. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_encode(const ipvm_receipt_t *r, ipvm_buf_t *out,
                                                    ipvm_error_t *err);
/* Reads a receipt map (exactly the keys ran, out, meta, iss, prf; out a 2-item list whose
 * first item is "ok" or "error"; ran a Link; iss null or a string; prf a list of Links) and
 * computes its CID. IPVM_ERECEIPT names what is wrong. The receipt points into v (borrowed). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_from_ipld(const ipvm_ipld_t *v, ipvm_arena_t *arena,
                                                       ipvm_receipt_t *out, ipvm_error_t *err);
/* The same from its DAG-CBOR. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_receipt_decode(const uint8_t *cbor, size_t len,
                                                    ipvm_arena_t *arena, ipvm_receipt_t *out,
                                                    ipvm_error_t *err);
/* The inner value: out[1]. */
IPVM_EXTERN const ipvm_ipld_t *ipvm_receipt_value(const ipvm_receipt_t *r);

/* The error map of a failed task, the documented shape of out[1] in an error receipt:
 *   {"code": "IPVM_ETRAP_FUEL",          symbolic name of the error (ipvm_err_name)
 *    "message": "task 3 (crop): ...",    what went wrong, for people
 *    "trap": "out of fuel" | null,       the Wasm trap when the guest trapped
 *    "fuel": 12345}                      fuel used before the failure (0 if it never ran)
 * Every field is deterministic for deterministic failures, so such receipts replay. */
IPVM_EXTERN ipvm_ipld_t *ipvm_receipt_error_value(ipvm_arena_t *arena, int code,
                                                  const char *message, const char *trap,
                                                  uint64_t fuel);
/* True when an error receipt records a failure that would happen again (a trap, a type error, a
 * missing export, fuel exhausted, an invalid module): such a receipt is final and is replayed.
 * Failures that may pass on a retry (time limits, missing resources, a failed dependency, a
 * denied capability, I/O) are not final: a later run executes the task again. */
IPVM_EXTERN bool ipvm_receipt_error_is_final(const ipvm_ipld_t *error_value);
/* The code name in an error value ("IPVM_ETRAP_FUEL"), or NULL. */
IPVM_EXTERN const char *ipvm_receipt_error_code(const ipvm_ipld_t *error_value);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_WORKFLOW_H */
