/* SPDX-License-Identifier: Apache-2.0 */
/* How `ipvm run` shows receipts, shared by the embedded run (cmd_run.c) and a run submitted to
 * a node (`ipvm run --node`, src/rpc/): a table for people, one DAG-JSON line per receipt for
 * programs, a progress bar, and byte outputs saved as files. Everything takes plain rows so a
 * caller that got its receipts over JSON-RPC can fill them without a scheduler. */
#ifndef IPVM_CLI_RUN_TABLE_H
#define IPVM_CLI_RUN_TABLE_H

#include "cli.h"

typedef enum {
    IPVM_RUN_OK = 0,   /* an ok receipt */
    IPVM_RUN_ERROR,    /* an error receipt */
    IPVM_RUN_SKIPPED,  /* no receipt: the run stopped first */
} ipvm_run_status_t;

/* One task of a run, as shown. Pointers are borrowed. */
typedef struct ipvm_run_row_s {
    size_t index;                  /* task index in the workflow */
    const ipvm_cid_t *instruction; /* instruction CID */
    const char *func;              /* function name */
    const ipvm_receipt_t *receipt; /* NULL when skipped */
    ipvm_run_status_t status;
    uint64_t fuel;                 /* 0 = unknown */
    uint64_t time_ns;              /* 0 = unknown */
    bool replayed;
    const char *source;            /* "local", "peer:…" (may be NULL) */
} ipvm_run_row_t;

/* Totals for the header line. */
typedef struct ipvm_run_summary_s {
    const ipvm_cid_t *workflow;
    const char *name; /* may be NULL */
    size_t ntasks, executed, replayed, failed, skipped;
    uint64_t elapsed_ns;
    int status; /* the run's result code (0, IPVM_ETASKFAILED, IPVM_EWORKFLOWTIMEOUT...) */
} ipvm_run_summary_t;

/* Rows from a scheduler result (in arena). */
int ipvm_cli_rows_from_result(const ipvm_workflow_t *wf, const ipvm_sched_result_t *res,
                              ipvm_arena_t *arena, ipvm_run_row_t **rows /* out */);
/* The table: a summary line, then one line per task (instruction CID, function, status,
 * output summary, fuel, time, replayed). */
void ipvm_cli_print_run_table(FILE *f, const ipvm_run_summary_t *sum, const ipvm_run_row_t *rows,
                              size_t n);
/* One DAG-JSON line: {"cid", "instruction", "task", "func", "status", "replayed", "fuel",
 * "time_ns", "source", "receipt": {ran, out, meta, iss, prf}}; skipped tasks have no cid and
 * no receipt. */
int ipvm_cli_print_run_json(FILE *f, const ipvm_run_row_t *row);
/* The last --json line: {"workflow", "name", "status", "tasks", "executed", "replayed",
 * "failed", "skipped", "elapsed_ns"}. */
int ipvm_cli_print_run_json_summary(FILE *f, const ipvm_run_summary_t *sum);
/* Writes every byte output to dir/task<N>-<func>.<png|bin>, prints each path to `paths`.
 * Returns 0 or an exit status after printing why. */
int ipvm_cli_save_outputs(ipvm_cli_t *cli, const char *dir, const ipvm_run_row_t *rows, size_t n,
                          FILE *paths);

/* A progress bar on stderr that shows itself only once a run has lasted `after_ns`. */
typedef struct ipvm_progress_s {
    bool enabled;       /* stderr is a terminal and not -q/--json */
    bool shown;         /* something is on the line */
    uint64_t after_ns;  /* show after this long */
    uint64_t last_ns;   /* last redraw */
} ipvm_progress_t;
void ipvm_progress_init(ipvm_progress_t *p, ipvm_cli_t *cli);
void ipvm_progress_update(ipvm_progress_t *p, size_t done, size_t total, size_t replayed,
                          size_t failed, uint64_t elapsed_ns);
void ipvm_progress_clear(ipvm_progress_t *p);

#endif
