/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm/store.h: durable storage in SQLite with Homestar's schema (workflows, receipts,
 * workflows_receipts, the instruction index; reference/homestar.md §3.2) plus our own columns and
 * versioned migrations. WAL; a receipt is committed (synchronous=FULL for receipts) before any
 * put call returns, so whatever reports it afterwards cannot lose it. */
#ifndef IPVM_STORE_H
#define IPVM_STORE_H

#include "ipld.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipvm_store_s ipvm_store_t;

#define IPVM_STORE_READONLY 1u /* open without writing (ipvm receipts, a read-only data dir) */

/* Opens or creates the database at `path` (normally <data-dir>/ipvm.db) and migrates it to the
 * current schema version (IPVM_ESCHEMA if the file is newer than this program). One handle
 * belongs to one thread at a time; open one per thread. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_open(const char *path, unsigned flags,
                                                ipvm_store_t **out, ipvm_error_t *err);
IPVM_EXTERN void ipvm_store_close(ipvm_store_t *s);
/* The schema version the database is at. */
IPVM_EXTERN int ipvm_store_schema_version(ipvm_store_t *s);
/* Sets this handle's page cache limit in KiB (0: the default, 16 MiB); a smaller limit frees
 * the pages over it. A handle that only appends (the scheduler's writer) needs little: what it
 * writes is not read again, only the index pages it inserts into. */
#define IPVM_STORE_CACHE_KIB 16384
IPVM_EXTERN void ipvm_store_set_cache_kib(ipvm_store_t *s, unsigned kib);

/* One row of `receipts`, with CIDs as values and the IPLD columns as DAG-CBOR bytes.
 * Pointers are borrowed for puts; for gets they point into the caller's arena. */
typedef struct ipvm_receipt_row_s {
    ipvm_cid_t cid;         /* receipt CID (primary key) */
    ipvm_cid_t ran;         /* invocation CID */
    ipvm_cid_t instruction; /* instruction CID (indexed: the memoization key) */
    const uint8_t *out;     /* DAG-CBOR of the result tuple ["ok", v] / ["error", e] */
    size_t out_len;
    const uint8_t *meta; /* DAG-CBOR of meta */
    size_t meta_len;
    const char *issuer; /* DID string or NULL */
    const uint8_t *prf; /* DAG-CBOR of the prf list */
    size_t prf_len;
    const char *version; /* "0.2.0" for Homestar-shaped receipts */
    /* our columns, beside the receipt and never inside it */
    uint64_t fuel;      /* fuel the execution used (0 when unknown, e.g. from a peer) */
    uint64_t time_ns;   /* execution wall time */
    int64_t created_ms; /* when stored (set by the store on put) */
    bool ok;            /* out is ["ok", …] */
    const char *source; /* "local", "peer:<peer id>", "dht" ... (NULL = "local") */
    const uint8_t *signature; /* envelope/signature bytes when signed (trust), or NULL */
    size_t signature_len;
} ipvm_receipt_row_t;

/* Inserts a receipt (ON CONFLICT DO NOTHING) in its own durable transaction. *inserted tells
 * whether it was new. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_put_receipt(ipvm_store_t *s,
                                                       const ipvm_receipt_row_t *row,
                                                       bool *inserted /* out, may be NULL */,
                                                       ipvm_error_t *err);
/* IPVM_ENOENT when absent. Blobs and strings are copied into arena. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_get_receipt(ipvm_store_t *s, const ipvm_cid_t *cid,
                                                       ipvm_arena_t *arena,
                                                       ipvm_receipt_row_t *out,
                                                       ipvm_error_t *err);
/* The receipt for an instruction (the memoization lookup). IPVM_ENOENT when none. When
 * several exist, prefers an ok one, then the oldest. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_find_receipt(ipvm_store_t *s,
                                                        const ipvm_cid_t *instruction,
                                                        ipvm_arena_t *arena,
                                                        ipvm_receipt_row_t *out,
                                                        ipvm_error_t *err);

typedef enum {
    IPVM_WF_PENDING = 0,
    IPVM_WF_RUNNING,
    IPVM_WF_COMPLETED,
    IPVM_WF_FAILED, /* ours: Homestar's CHECK allows pending/completed/running/stuck */
    IPVM_WF_STUCK,
} ipvm_workflow_status_t;

typedef struct ipvm_workflow_row_s {
    ipvm_cid_t cid;
    const char *name;         /* may be NULL */
    int64_t num_tasks;
    const uint8_t *resources; /* DAG-CBOR map {instrCid: [url|Link…]} */
    size_t resources_len;
    ipvm_workflow_status_t status;
    int64_t created_ms, completed_ms; /* completed_ms 0 = not completed */
    int64_t retries;
    const uint8_t *workflow; /* ours: the DAG-CBOR of the workflow itself, so it can resume */
    size_t workflow_len;
} ipvm_workflow_row_t;

/* Inserts the workflow if new (*inserted = true), else leaves it (its status unchanged). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_put_workflow(ipvm_store_t *s,
                                                        const ipvm_workflow_row_t *row,
                                                        bool *inserted /* out, may be NULL */,
                                                        ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_get_workflow(ipvm_store_t *s, const ipvm_cid_t *cid,
                                                        ipvm_arena_t *arena,
                                                        ipvm_workflow_row_t *out,
                                                        ipvm_error_t *err);
/* The status alone (IPVM_ENOENT when there is no such row): unlike get_workflow, it copies
 * neither the resources nor the workflow's DAG-CBOR (megabytes for a large workflow). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_get_workflow_status(ipvm_store_t *s,
                                                               const ipvm_cid_t *cid,
                                                               ipvm_workflow_status_t *out,
                                                               ipvm_error_t *err);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_set_workflow_status(ipvm_store_t *s,
                                                               const ipvm_cid_t *cid,
                                                               ipvm_workflow_status_t status,
                                                               ipvm_error_t *err);
/* Links a receipt to a workflow (workflows_receipts; idempotent). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_link_receipt(ipvm_store_t *s,
                                                        const ipvm_cid_t *workflow,
                                                        const ipvm_cid_t *receipt,
                                                        ipvm_error_t *err);
/* Receipt and link in one durable transaction (what the scheduler uses after a task). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_put_receipt_for(ipvm_store_t *s,
                                                           const ipvm_cid_t *workflow,
                                                           const ipvm_receipt_row_t *row,
                                                           bool *inserted /* out, may be NULL */,
                                                           ipvm_error_t *err);

/* Calls fn for each receipt (of one workflow when `workflow` is not NULL), oldest first. The
 * row and its memory are valid during the callback only. A non-zero return from fn stops the
 * walk and is returned. */
typedef int (*ipvm_store_receipt_cb)(const ipvm_receipt_row_t *row, void *data);
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_each_receipt(ipvm_store_t *s,
                                                        const ipvm_cid_t *workflow,
                                                        ipvm_store_receipt_cb fn, void *data,
                                                        ipvm_error_t *err);
/* The receipts linked to `workflow`, in no particular order: one walk of the workflow's
 * links with no sort (ipvm_store_each_receipt sorts them oldest first), what a replay reads.
 * Same row and callback rules as ipvm_store_each_receipt (row->created_ms tells the oldest). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_scan_workflow_receipts(ipvm_store_t *s,
                                                                  const ipvm_cid_t *workflow,
                                                                  ipvm_store_receipt_cb fn,
                                                                  void *data, ipvm_error_t *err);
/* ---- group commit and bulk lookup (what keeps the scheduler fast) ---------------------------
 * One receipt per transaction costs one fsync (~ms on a disk). The scheduler should instead hand
 * the store every receipt finished since its last commit: ipvm_store_put_receipts writes them
 * and their workflows_receipts links in ONE durable transaction (one fsync for all of them). */

/* Inserts n receipts (ON CONFLICT DO NOTHING) and, when `workflow` is not NULL, links each to it,
 * all in one transaction committed with synchronous=FULL before the call returns. All or
 * nothing: on any error (IPVM_ENOSPC, IPVM_ECONSTRAINT when the workflow row is missing...)
 * nothing of the batch is kept. inserted[i] (array of n, may be NULL) tells which were new.
 * rows are borrowed for the call. n == 0 is a no-op. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_put_receipts(ipvm_store_t *s,
                                                        const ipvm_cid_t *workflow,
                                                        const ipvm_receipt_row_t *rows, size_t n,
                                                        bool *inserted /* out, may be NULL */,
                                                        ipvm_error_t *err);
/* Several batches, each ipvm_store_put_receipts's (n rows, linked to `workflow` when it is not
 * NULL), in ONE durable transaction: the scheduler's group commit across the runs in progress.
 * All or nothing, as ipvm_store_put_receipts; an empty list commits an empty transaction. */
typedef struct ipvm_store_receipt_group_s {
    const ipvm_cid_t *workflow; /* may be NULL */
    const ipvm_receipt_row_t *rows;
    size_t n;
} ipvm_store_receipt_group_t;
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_put_receipt_groups(
    ipvm_store_t *s, const ipvm_store_receipt_group_t *groups, size_t ngroups, ipvm_error_t *err);
/* Links n existing receipts to a workflow (replayed receipts), one durable transaction. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_link_receipts(ipvm_store_t *s,
                                                         const ipvm_cid_t *workflow,
                                                         const ipvm_cid_t *receipts, size_t n,
                                                         ipvm_error_t *err);
/* The memoization lookup for many instructions at once, in one read transaction with one
 * prepared statement: for each i, found[i] tells whether a receipt exists and rows[i] holds it
 * (same preference as ipvm_store_find_receipt; blobs and strings copied into arena). *nfound
 * (may be NULL) = how many were found. rows and found are arrays of n, written by the call. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_find_receipts(ipvm_store_t *s,
                                                         const ipvm_cid_t *instructions,
                                                         size_t n, ipvm_arena_t *arena,
                                                         ipvm_receipt_row_t *rows /* out */,
                                                         bool *found /* out */,
                                                         size_t *nfound /* out, may be NULL */,
                                                         ipvm_error_t *err);
/* Number of receipts (of one workflow when `workflow` is not NULL). */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_count_receipts(ipvm_store_t *s,
                                                          const ipvm_cid_t *workflow,
                                                          int64_t *count /* out */,
                                                          ipvm_error_t *err);

typedef int (*ipvm_store_workflow_cb)(const ipvm_workflow_row_t *row, void *data);
/* Workflows with the given status (or all when status < 0), newest first. */
IPVM_EXTERN IPVM_MUST_CHECK int ipvm_store_each_workflow(ipvm_store_t *s, int status,
                                                         ipvm_store_workflow_cb fn, void *data,
                                                         ipvm_error_t *err);

#ifdef __cplusplus
}
#endif
#endif /* IPVM_STORE_H */
