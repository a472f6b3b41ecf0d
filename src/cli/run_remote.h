/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm run --node URL WORKFLOW.json`: submits the workflow to a running node over JSON-RPC
 * (subscribe_run_workflow, as a Homestar client does) and shows the receipts it streams back
 * with the same table, --json lines and --save files as an embedded run (run_table.h). */
#ifndef IPVM_CLI_RUN_REMOTE_H
#define IPVM_CLI_RUN_REMOTE_H

#include "cli.h"

typedef struct ipvm_run_remote_s {
    const char *url;     /* ws://host:port */
    const char *file;    /* the workflow (DAG-JSON), or "-" */
    const char *name;    /* may be NULL: the node picks one */
    const char *save;    /* --save DIR, or NULL */
    uint64_t timeout_ms; /* 0: one hour */
    const char *ucan;    /* a UCAN bundle sent as params.ucan (trust; docs/trust.md), or NULL */
} ipvm_run_remote_t;

/* Returns the exit status (0 all ok, 1 a task failed or the run did not finish, 2 usage). */
int ipvm_cli_run_remote(ipvm_cli_t *cli, const ipvm_run_remote_t *a);

#endif
