/* SPDX-License-Identifier: Apache-2.0 */
/* bench_p2p: shared pieces of the p2p benchmark (see main.c): ipvm hosts on one libuv loop, the
 * js-libp2p child process, percentiles. */
#ifndef IPVM_BENCH_P2P_H
#define IPVM_BENCH_P2P_H

#include "ipvm.h"
#include "p2p/host.h"

#include <uv.h>

/* One ipvm host of the benchmark. */
typedef struct bnode_s {
    ipvm_p2p_identity_t *id;
    ipvm_p2p_host_t *host;
    ipvm_p2p_receipts_t *rc; /* the receipts layer, when the run uses it */
    ipvm_p2p_config_t cfg;
    ipvm_multiaddr_t addr; /* /ip4/127.0.0.1/tcp/N/p2p/… */
    bool stopped;
    int index;
    void *run; /* the measurement's context, for event callbacks */
} bnode_t;

/* Creates and starts a host on 127.0.0.1:0 with n->cfg (set cfg first with
 * ipvm_p2p_config_init and any changes). Exits on failure. */
void bnode_start(bnode_t *n, uv_loop_t *loop);
/* Stops every node (and frees its receipts layer), runs the loop until all are closed. */
void bnodes_stop(uv_loop_t *loop, bnode_t *nodes, size_t count);
/* Runs the loop until pred(data) or ms pass. Returns pred(data). */
bool run_until(uv_loop_t *loop, bool (*pred)(void *data), void *data, int ms);
/* Dials every edge (a -> b) and waits for all to connect. Returns how many failed. */
int bnodes_link(uv_loop_t *loop, bnode_t *nodes, const int (*edges)[2], size_t nedges);
void die(const char *fmt, ...) IPVM_PRINTF(1, 2);
extern bool bench_no_js;        /* --no-js: skip the js side */
extern int bench_interval_ms; /* between two published receipts (--interval) */

/* The js-libp2p side: node running bench/p2p/js_peer.mjs MODE ARGS... */
typedef struct jsproc_s {
    uv_process_t proc;
    uv_pipe_t out, in;
    ipvm_buf_t stdout_buf;
    bool exited, with_stdin;
    int64_t status;
    int handles;
} jsproc_t;

/* Whether the pinned packages are installed (else prints what to run). */
bool js_available(void);
/* Spawns the JS side on loop; argv ends with NULL. with_stdin: its stdin is a pipe that
 * js_close_stdin ends (the "listen" mode stops then). */
int js_spawn(uv_loop_t *loop, jsproc_t *j, const char *const *argv, bool with_stdin);
/* The first complete stdout line that holds "result" (decoded into a), or NULL. */
const ipvm_ipld_t *js_result(jsproc_t *j, ipvm_arena_t *a);
void js_close_stdin(jsproc_t *j);
/* Runs the loop until the process exited and its pipes closed; returns its exit status. */
int64_t js_wait(uv_loop_t *loop, jsproc_t *j, int ms);
/* Spawns, waits (on a private loop), returns the result object (in a) or NULL. */
const ipvm_ipld_t *js_run(const char *const *argv, ipvm_arena_t *a, int timeout_ms);
double jnum(const ipvm_ipld_t *obj, const char *key);

/* CPU seconds (user + system) this process has used. */
double cpu_seconds(void);
/* Percentile q (0..1) of n samples, nearest rank; sorts v. */
double percentile(double *v, size_t n, double q);

/* The measurements (prop.c, conn.c). Each fills its rows of the report. */
typedef struct report_s report_t;
void bench_propagation(report_t *r, bool quick);
void bench_handshakes(report_t *r, bool quick);
void bench_throughput(report_t *r, bool quick);
void bench_cross(report_t *r, bool quick);

/* A report row: what, ipvm's value, the peer's, the unit, and whether higher is better. */
#define REPORT_MAX 24
typedef struct row_s {
    char name[96];
    char unit[16];
    double ipvm, js; /* < 0: not measured */
    bool higher_better;
    char note[160];
} row_t;
struct report_s {
    row_t rows[REPORT_MAX];
    size_t n;
    bool js_ok;
};
row_t *report_row(report_t *r, const char *name, const char *unit, bool higher_better);

#endif
