/* SPDX-License-Identifier: Apache-2.0 */
/* A node API server on its own thread and loop, on 127.0.0.1 and an ephemeral port, for the rpc
 * tests; they talk to it with the blocking client (or Node.js). */
#ifndef IPVM_TEST_RPC_FIXTURE_H
#define IPVM_TEST_RPC_FIXTURE_H

#include "ipvm/rpc.h"
#include "test.h"

typedef struct rpc_fixture_s rpc_fixture_t;

/* Runs on the loop thread after the server exists, before clients connect (may be NULL). */
typedef void (*rpc_fixture_setup_fn)(ipvm_rpc_server_t *s, void *loop, void *data);

/* Starts a server with opts (NULL: defaults; host and port are forced to 127.0.0.1:0) and a
 * metrics registry. Fails the test if it cannot. */
rpc_fixture_t *rpc_fixture_start(const ipvm_rpc_server_opts_t *opts, rpc_fixture_setup_fn setup,
                                 void *data);
/* Closes the server, joins the thread and checks that every handle was closed. */
void rpc_fixture_stop(rpc_fixture_t *f);
int rpc_fixture_port(const rpc_fixture_t *f);
const char *rpc_fixture_url(const rpc_fixture_t *f);
ipvm_metrics_t *rpc_fixture_metrics(const rpc_fixture_t *f);
/* Runs fn on the loop thread and waits for it. */
void rpc_fixture_call(rpc_fixture_t *f, void (*fn)(ipvm_rpc_server_t *s, void *data), void *data);

/* Connects a client or fails the test. */
ipvm_rpc_client_t *rpc_fixture_client(rpc_fixture_t *f);
/* Calls and returns the result JSON (static buffer per call site is not needed: caller buf). */
void rpc_fixture_call_ok(ipvm_rpc_client_t *c, const char *method, const char *params,
                         ipvm_buf_t *result);
/* Sends "GET path" with Connection: close on the connected socket fd, reads the whole response
 * into resp (NUL-terminated), closes fd and returns the HTTP status. */
int rpc_fixture_http_get_fd(int fd, const char *path, ipvm_buf_t *resp);

#endif
