/* SPDX-License-Identifier: Apache-2.0 */
/* workflow_int.h: helpers shared by the files of src/workflow/ (parse.c, batch.c, args.c,
 * receipt.c). Nothing here is public API. */
#ifndef IPVM_WORKFLOW_INT_H
#define IPVM_WORKFLOW_INT_H

#include "ipvm.h"

/* Formats "task N (bafy…)" or "task N" (when the CID is not known yet) into buf. */
const char *ipvm__wf_task_name(const ipvm_task_t *t, bool cid_known, char *buf, size_t size);

/* If v is a promise ({"await/ok" | "await/error" | "await/\*": Link}), returns 1 and sets
 * *kind and *target; returns 0 when v is not a promise at all; returns IPVM_EWORKFLOW when v
 * is a single-key map with an await key whose value is not a Link (a malformed promise). */
int ipvm__wf_as_await(const ipvm_ipld_t *v, ipvm_await_kind_t *kind,
                      const ipvm_cid_t **target);

/* Finds the promises of t->args (depth-first) and stores them in t->awaits. */
int ipvm__wf_scan_awaits(ipvm_arena_t *a, ipvm_task_t *t, ipvm_error_t *err);

/* Links every await to its producing task, checks outside awaits with opts, fills deps and
 * dependents, detects self-awaits and cycles, and computes the batches. */
int ipvm__wf_link_and_batch(ipvm_workflow_t *wf, const ipvm_workflow_opts_t *opts,
                            ipvm_arena_t *a, ipvm_error_t *err);

/* n * size zeroed bytes released when the arena is disposed or reset (bigmem.c): from 1 MiB
 * up, a mapping of its own advised as transparent huge pages, else ipvm_arena_calloc. NULL on
 * OOM or overflow. */
void *ipvm__big_calloc(ipvm_arena_t *a, size_t n, size_t size);
/* Gives back the pages of a table from ipvm__big_calloc past its first `want` bytes (`had` is
 * the n * size it was asked for); a table from the arena stays as it is. */
void ipvm__big_shrink(void *p, size_t had, size_t want);

/* ---- synthetic workflows (gen.c): chains and fans of a one-argument function ---------------- */
typedef struct ipvm__wf_gen_s {
    size_t chains, length; /* `chains` chains of `length` tasks, each awaiting the previous */
    size_t fans, width;    /* `fans` roots, each awaited by `width` tasks */
    const char *rsc;       /* the module, e.g. "ipfs://bafy…" */
    const char *func;      /* e.g. "add_one" */
    int64_t base;          /* first argument; each chain or fan starts 1000 higher */
    uint64_t fuel;         /* meta.fuel when not 0 */
} ipvm__wf_gen_t;

size_t ipvm__wf_gen_count(const ipvm__wf_gen_t *g);
/* Appends the workflow as DAG-JSON to json. expected (ipvm__wf_gen_count entries, may be
 * NULL) receives each task's add_one result. */
int ipvm__wf_generate(const ipvm__wf_gen_t *g, ipvm_buf_t *json, int64_t *expected);

#endif
