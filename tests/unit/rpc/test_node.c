/* SPDX-License-Identifier: Apache-2.0 */
/* The `ipvm node` daemon as a process: start/stop/status/init from the CLI, SIGTERM, the pid
 * lock, and bad clients (tests/interop/rpc/robust.mjs) against a node with small limits. */
#include "node_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

IPVM_TEST(rpc, node_robustness)
{
    node_fixture_t n;
    const char *extra[] = {
        "--set", "rpc.max_message=65536",    "--set",         "rpc.client_queue=65536",
        "--set", "rpc.handshake_timeout=1s", "--max-clients", "20",
        NULL};
    node_fixture_start(&n, NULL, extra);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", n.pid);
    const char *args[] = {n.url, pid, "65536", "65536", "20", NULL};
    ipvm_buf_t out = IPVM_BUF_INIT;
    node_fixture_script("robust.mjs", args, 90000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "robust: all passed");
    ipvm_buf_dispose(&out);
    node_fixture_stop(&n, 10000);
}
