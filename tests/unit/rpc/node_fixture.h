/* SPDX-License-Identifier: Apache-2.0 */
/* An `ipvm node start` process for the integration tests: a fresh data dir, 127.0.0.1 and an
 * ephemeral port, killed with the test if the test dies (PR_SET_PDEATHSIG), stopped with
 * SIGTERM and checked for a clean exit. */
#ifndef IPVM_TEST_NODE_FIXTURE_H
#define IPVM_TEST_NODE_FIXTURE_H

#include "test.h"

typedef struct node_fixture_s {
    char data_dir[4096];
    char log[4200];
    char url[128];
    int port;
    long pid;
} node_fixture_t;

/* Starts a node with extra arguments for `node start` (NULL-terminated, may be NULL) in
 * data_dir (NULL: a new directory under the test's tmpdir; n->data_dir: the same again). Waits
 * until it serves. */
void node_fixture_start(node_fixture_t *n, const char *data_dir, const char *const *extra);
/* A node on a new data dir node_fixture_dir(name, fast) whose blockstore holds Homestar's
 * example_test.wasm, the module of the fixture workflows. n->data_dir names the dir, so
 * node_fixture_start(n, n->data_dir, extra) restarts the node on it. */
void node_fixture_start_example(node_fixture_t *n, const char *name, bool fast,
                                const char *const *extra);
/* Adds a file to the blockstore of data_dir (`ipvm add`), as a node's modules are. */
void node_fixture_add(const char *data_dir, const char *vector);
/* A data dir for a node under the test's tmpdir; on /dev/shm when it exists and `fast`, for
 * tests that measure delivery rather than disk syncs. */
const char *node_fixture_dir(const char *name, bool fast);
/* SIGTERM, wait for the exit (status 0, clean loop), within timeout_ms. */
void node_fixture_stop(node_fixture_t *n, int timeout_ms);
/* Sends SIGKILL and reaps it (a crash). */
void node_fixture_kill(node_fixture_t *n);
/* The node's resident memory in bytes (from /proc). */
long node_fixture_rss(const node_fixture_t *n);
/* Path of Node.js, or fails the test. */
const char *node_fixture_nodejs(void);
/* Runs tests/interop/rpc/<script> with node and args; fails the test unless it exits 0. The
 * script's stdout goes into out (may be NULL). */
void node_fixture_script(const char *script, const char *const *args, int timeout_ms,
                         ipvm_buf_t *out);

#endif
