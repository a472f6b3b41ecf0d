/* SPDX-License-Identifier: Apache-2.0 */
/* The frame of the `ipvm` program: global options, the command table, and helpers every
 * subcommand uses for errors, help and output. Each command lives in src/cli/cmd_<name>.c and
 * defines `const ipvm_cmd_t ipvm_cmd_<name>`; main.c lists every command by weak reference. */
#ifndef IPVM_CLI_H
#define IPVM_CLI_H

#include "ipvm.h"

#include <stdio.h>

typedef struct ipvm_cli_s {
    const char *data_dir; /* --data-dir, $IPVM_DATA_DIR, $XDG_DATA_HOME/ipvm, ~/.local/share/ipvm */
    bool json;            /* --json: machine-readable output on stdout */
    bool quiet;           /* -q: no progress, no decorations */
    bool verbose;         /* -v: more logging */
    bool tty;             /* stdout is a terminal (colours, progress bars) */
    const char *prog;     /* "ipvm" */
} ipvm_cli_t;

typedef struct ipvm_cmd_s {
    const char *name;    /* "cid", "dag", "workflow"... */
    const char *summary; /* one line for `ipvm --help` */
    const char *help;    /* the whole text for `ipvm NAME --help` (usage first) */
    int (*run)(ipvm_cli_t *cli, int argc, char **argv); /* argv[0] is the command name */
} ipvm_cmd_t;

/* Exit statuses. */
#define IPVM_EXIT_OK 0
#define IPVM_EXIT_FAIL 1  /* the command ran and something failed (a task, a check) */
#define IPVM_EXIT_USAGE 2 /* bad command line */

/* Prints "ipvm: error: <message>" (and, if rc != 0, the error's sentence) to stderr, or with
 * --json a {"error": {...}} object on stdout. Returns IPVM_EXIT_FAIL. */
int ipvm_cli_fail(ipvm_cli_t *cli, int rc, const char *fmt, ...) IPVM_PRINTF(3, 4);
/* Same for an ipvm_error_t from a parser (adds the offset). */
int ipvm_cli_fail_err(ipvm_cli_t *cli, const ipvm_error_t *err, const char *fmt, ...)
    IPVM_PRINTF(3, 4);
/* Prints "ipvm: <msg>\nTry 'ipvm CMD --help'." and returns IPVM_EXIT_USAGE. */
int ipvm_cli_usage(ipvm_cli_t *cli, const ipvm_cmd_t *cmd, const char *fmt, ...)
    IPVM_PRINTF(3, 4);
/* True if argv holds -h or --help (before a "--"). */
bool ipvm_cli_wants_help(int argc, char **argv);
/* Prints the command's help to stdout; returns IPVM_EXIT_OK. */
int ipvm_cli_help(const ipvm_cmd_t *cmd);
/* Creates the data directory if needed. Returns 0 or an exit status after printing why. */
int ipvm_cli_ensure_data_dir(ipvm_cli_t *cli);
/* Reads FILE or "-" (stdin), failing with a clear message. 0 or an exit status. */
int ipvm_cli_read_input(ipvm_cli_t *cli, const char *path, ipvm_buf_t *out);

#endif
