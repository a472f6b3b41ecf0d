/* SPDX-License-Identifier: Apache-2.0 */
/* The `ipvm node` daemon as a process: start/stop/status/init from the CLI, SIGTERM, the pid
 * lock, and bad clients (tests/interop/rpc/robust.mjs) against a node with small limits. */
#include "node_fixture.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
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

/* Removes a directory tree made under /dev/shm by node_fixture_dir. */
static void remove_tree(const char *dir)
{
    if (strncmp(dir, "/dev/shm/ipvm-test-", 19) != 0)
        return; /* under the tmpdir: the runner removes it */
    const char *argv[] = {"/bin/rm", "-rf", dir, NULL};
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(ipvm_test_run(argv, NULL, NULL, 30000, &o, &e), 0);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
    char log[4200];
    snprintf(log, sizeof log, "%s.log", dir); /* the node's log, beside it (node_fixture.c) */
    IPVM_ASSERT(unlink(log) == 0 || errno == ENOENT);
}

IPVM_TEST(rpc, node_interop_homestar)
{
    const char *dir = node_fixture_dir("interop", false);
    node_fixture_add(dir, "homestar/wasm/example_test.wasm");
    node_fixture_t n;
    node_fixture_start(&n, dir, NULL);
    char vectors[4096];
    snprintf(vectors, sizeof vectors, "%s/tests/vectors", IPVM_SOURCE_DIR);
    const char *args[] = {n.url, vectors, NULL};
    ipvm_buf_t out = IPVM_BUF_INIT;
    node_fixture_script("interop.mjs", args, 120000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "interop: all passed");
    ipvm_buf_dispose(&out);
    node_fixture_stop(&n, 20000);
}

IPVM_TEST(rpc, node_load_200_clients)
{
    const char *dir = node_fixture_dir("load", true);
    char data_dir[4096];
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    node_fixture_add(data_dir, "homestar/wasm/example_test.wasm");
    node_fixture_t n;
    const char *extra[] = {"--set", "node.max_workflows=20000", NULL};
    node_fixture_start(&n, data_dir, extra);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", n.pid);
    const char *args[] = {n.url, "200", "50", "1", pid, NULL};
    ipvm_buf_t out = IPVM_BUF_INIT;
    node_fixture_script("load.mjs", args, 600000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "10000 receipts");
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "load: all passed");
    ipvm_buf_dispose(&out);
    node_fixture_stop(&n, 30000);
    remove_tree(data_dir);
}

IPVM_TEST(rpc, node_sigterm_drain_and_resume)
{
    const char *dir = node_fixture_dir("resume", false);
    char data_dir[4096];
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    node_fixture_add(data_dir, "homestar/wasm/example_test.wasm");
    node_fixture_t n;
    node_fixture_start(&n, data_dir, NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", n.pid);
    ipvm_buf_t out = IPVM_BUF_INIT;
    const char *submit[] = {"submit", n.url, "1000", pid, NULL};
    node_fixture_script("resume.mjs", submit, 60000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "receipts before the node stopped");
    /* the script sent SIGTERM; the node must exit cleanly by itself */
    int st = 0;
    struct timespec ts = {0, 10000000};
    int tries = (int)(3000 * ipvm_test_timeout_multiplier());
    for (int i = 0; i < tries && waitpid((pid_t)n.pid, &st, WNOHANG) == 0; i++)
        nanosleep(&ts, NULL);
    IPVM_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d after SIGTERM", st);
    n.pid = 0;
    /* a restart resumes the workflow; then every receipt replays */
    node_fixture_start(&n, data_dir, NULL);
    const char *check[] = {"check", n.url, "1000", NULL};
    node_fixture_script("resume.mjs", check, 120000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "all 1000 receipts replayed");
    ipvm_buf_dispose(&out);
    ipvm_buf_t log = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_file_read(n.log, &log, NULL));
    IPVM_ASSERT_STRCONTAINS((char *)log.data, "resuming 1 workflow that was running");
    ipvm_buf_dispose(&log);
    node_fixture_stop(&n, 20000);
}

IPVM_TEST(rpc, node_dashboard_in_chromium)
{
    if (access("/usr/bin/chromium", X_OK) != 0)
        IPVM_ASSERT_MSG(false, "/usr/bin/chromium is missing: run tools/deps.sh (make test does)");
    const char *dir = node_fixture_dir("dash", false);
    char data_dir[4096];
    snprintf(data_dir, sizeof data_dir, "%s", dir);
    node_fixture_add(data_dir, "homestar/wasm/example_test.wasm");
    node_fixture_t n;
    node_fixture_start(&n, data_dir, NULL);
    char shot[4200], profile[4200], wf[4096];
    /* IPVM_DASHBOARD_SCREENSHOT keeps the picture somewhere to look at */
    const char *keep = getenv("IPVM_DASHBOARD_SCREENSHOT");
    snprintf(shot, sizeof shot, "%s", keep ? keep : "");
    if (!keep)
        snprintf(shot, sizeof shot, "%s/dashboard.png", ipvm_test_tmpdir());
    snprintf(profile, sizeof profile, "%s/chromium-profile", ipvm_test_tmpdir());
    snprintf(wf, sizeof wf, "%s",
             ipvm_test_vector("homestar/workflows/test-workflow-add-one-nonced.json"));
    const char *args[] = {n.url, wf, shot, profile, NULL};
    ipvm_buf_t out = IPVM_BUF_INIT, png = IPVM_BUF_INIT;
    node_fixture_script("dashboard.mjs", args, 120000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "dashboard: all passed");
    ipvm_test_read_file(shot, &png);
    IPVM_ASSERT(png.len > 20000);
    IPVM_ASSERT_MEMEQ(png.data, 8, "\x89PNG\r\n\x1a\n", 8);
    ipvm_buf_dispose(&png);
    ipvm_buf_dispose(&out);
    node_fixture_stop(&n, 20000);
}

/* The CLI around the daemon: init, start --detach, status, a second start, stop, a stale pid. */
IPVM_TEST(rpc, node_cli_lifecycle)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cli", ipvm_test_tmpdir());
    const char *ipvm = ipvm_test_bin("ipvm");
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    const char *init[] = {ipvm, "--data-dir", dir, "node", "init", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(init, NULL, NULL, 10000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "ipvm.conf");
    IPVM_ASSERT_EQ(ipvm_test_run(init, NULL, NULL, 10000, &o, &e), 1); /* exists: no overwrite */
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "--force");
    /* the written file is what the node reads: make the port ephemeral there */
    char conf[4200];
    snprintf(conf, sizeof conf, "%s/ipvm.conf", dir);
    ipvm_buf_t text = IPVM_BUF_INIT;
    ipvm_test_read_file(conf, &text);
    char *p = strstr((char *)text.data, "#port = 1337");
    IPVM_ASSERT(p != NULL);
    memcpy(p, "port = 0    ", 12);
    ipvm_error_t err;
    IPVM_ASSERT_OK(ipvm_file_write_atomic(conf, text.data, text.len, &err));
    ipvm_buf_dispose(&text);

    const char *start[] = {ipvm, "--data-dir", dir, "node", "start", "--detach", NULL};
    ipvm_buf_clear(&o);
    IPVM_ASSERT_EQ(ipvm_test_run(start, NULL, NULL, 20000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "node started");
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "ws://127.0.0.1:");
    const char *status[] = {ipvm, "--data-dir", dir, "node", "status", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(status, NULL, NULL, 10000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "node running");
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "{\"healthy\":true}");
    /* a second node on the same data dir is refused, naming the first */
    IPVM_ASSERT_EQ(ipvm_test_run(start, NULL, NULL, 20000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "already running");
    const char *stop[] = {ipvm, "--data-dir", dir, "node", "stop", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(stop, NULL, NULL, 30000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "node stopped");
    IPVM_ASSERT_EQ(ipvm_test_run(status, NULL, NULL, 10000, &o, &e), 3);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "no node is running");
    /* a stale pid file (a node killed with -9) is not mistaken for a running node */
    char pidf[4200];
    snprintf(pidf, sizeof pidf, "%s/node.pid", dir);
    IPVM_ASSERT_OK(ipvm_file_write_atomic(pidf, "1\n", 2, &err));
    IPVM_ASSERT_EQ(ipvm_test_run(status, NULL, NULL, 10000, &o, &e), 3);
    IPVM_ASSERT_EQ(ipvm_test_run(stop, NULL, NULL, 10000, &o, &e), 0);
    /* a bad setting fails the start with the file and line, and a flag wins over the file */
    IPVM_ASSERT_OK(ipvm_file_write_atomic(conf, "[rpc]\nprot = 5\n", 15, &err));
    IPVM_ASSERT_EQ(ipvm_test_run(start, NULL, NULL, 20000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "ipvm.conf:2: unknown key 'prot' in [rpc]");
    const char *env[] = {"IPVM_RPC_PORT=notaport", NULL};
    const char *cfg[] = {ipvm, "--data-dir", dir, "node", "config", "--config", "/dev/null", NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(cfg, env, NULL, 10000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "env IPVM_RPC_PORT: rpc.port: 'notaport'");
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}
