/* SPDX-License-Identifier: Apache-2.0 */
/* The `ipvm node` daemon as a process: start/stop/status/init from the CLI, SIGTERM, the pid
 * lock, and bad clients (tests/interop/rpc/robust.mjs) against a node with small limits. */
#include "node_fixture.h"

#include <errno.h>
#include <sqlite3.h>
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
    node_fixture_t n;
    node_fixture_start_example(&n, "interop", false, NULL);
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
    node_fixture_t n;
    const char *extra[] = {"--set", "node.max_workflows=20000", NULL};
    node_fixture_start_example(&n, "load", true, extra);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", n.pid);
    const char *args[] = {n.url, "200", "50", "1", pid, NULL};
    ipvm_buf_t out = IPVM_BUF_INIT;
    node_fixture_script("load.mjs", args, 600000, &out);
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "10000 receipts");
    IPVM_ASSERT_STRCONTAINS((char *)out.data, "load: all passed");
    ipvm_buf_dispose(&out);
    node_fixture_stop(&n, 30000);
    remove_tree(n.data_dir);
}

IPVM_TEST(rpc, node_sigterm_drain_and_resume)
{
    node_fixture_t n;
    node_fixture_start_example(&n, "resume", false, NULL);
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
    node_fixture_start(&n, n.data_dir, NULL);
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

/* One integer from the node's database, opened read-only (the node is dead or stopped): the
 * query's first column, with ?1 bound to `arg` when it is not NULL. */
static int64_t db_int(const char *db, const char *q, const char *arg)
{
    sqlite3 *h = NULL;
    IPVM_ASSERT_MSG(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open %s: %s",
                    db, h ? sqlite3_errmsg(h) : "out of memory");
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *st = NULL;
    IPVM_ASSERT_MSG(sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK, "%s: %s", q,
                    sqlite3_errmsg(h));
    if (arg)
        IPVM_ASSERT(sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT) == SQLITE_OK);
    IPVM_ASSERT_MSG(sqlite3_step(st) == SQLITE_ROW, "%s: %s", q, sqlite3_errmsg(h));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* How many times `needle` occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_file_read(path, &b, NULL));
    int k = 0;
    for (const char *p = (const char *)b.data; p && (p = strstr(p, needle)) != NULL; p++)
        k++;
    ipvm_buf_dispose(&b);
    return k;
}

/* The daemon killed with SIGKILL mid-workflow at a few moments, restarted on the same data dir
 * each time (node.runners = 1). A round submits one chain of 1,000 tasks (parsed by a runner)
 * and kills after its first receipt or a few more; or four chains of
 * 250 at once (parsed on the loop; each waits for the one slot, and is answered when it starts
 * and has stored itself "running") and kills after the first's answer or its first receipt.
 * After each kill, every receipt the client was told about is in the database and no
 * instruction has two receipts; every workflow that was answered and not finished is still
 * "running" (or complete: its last receipts committed after the client's last notification),
 * so the restart resumes them with no client resubmitting (as after SIGTERM) and
 * they complete with one receipt per task; a client subscribing then gets every receipt, the
 * reported ones replayed and unchanged. The client reads notifications slower than the node
 * makes them, so a kill lands later than asked; one that came after every answered workflow
 * had finished (in the store) tests no resume: that round runs again with new chains (at most 5
 * times). */
IPVM_TEST(rpc, node_sigkill_and_resume)
{
    enum { ROUNDS = 4, TRIES = 5 };
    static const struct {
        int n, count, after;
    } rounds[ROUNDS] = {{1000, 1, 1}, {250, 4, 0}, {1000, 1, 10}, {250, 4, 1}};
    char db[4200], reported[4200];
    const char *extra[] = {"--set", "node.runners=1", NULL};
    node_fixture_t n;
    node_fixture_start_example(&n, "kill", false, extra);
    snprintf(db, sizeof db, "%s/ipvm.db", n.data_dir);
    snprintf(reported, sizeof reported, "%s/reported.txt", ipvm_test_tmpdir());
    ipvm_buf_t out = IPVM_BUF_INIT;
    int64_t total = 0; /* receipts of the workflows completed so far */
    int restarts = 0, seq = 0;
    for (int round = 0, tries = 0; round < ROUNDS; tries++) {
        IPVM_ASSERT_MSG(tries < TRIES,
                        "round %d: %d kills in a row came after the workflows had "
                        "finished",
                        round + 1, TRIES);
        /* new chains each time (their own values, so their own instructions), one store */
        int tasks = rounds[round].n, count = rounds[round].count;
        char nbuf[16], base[32], cbuf[16], k[16], pid[32], rbuf[16];
        snprintf(nbuf, sizeof nbuf, "%d", tasks);
        snprintf(base, sizeof base, "%d", 10000 * (++seq));
        snprintf(cbuf, sizeof cbuf, "%d", count);
        snprintf(k, sizeof k, "%d", rounds[round].after);
        snprintf(pid, sizeof pid, "%ld", n.pid);
        const char *submit[] = {"submit", n.url, nbuf, base, cbuf, k, pid, NULL};
        node_fixture_script("kill.mjs", submit, 60000, &out);
        int st = 0;
        IPVM_ASSERT(waitpid((pid_t)n.pid, &st, 0) == (pid_t)n.pid);
        IPVM_ASSERT_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %d: not killed", st);
        n.pid = 0;
        const char *text = (const char *)out.data;
        const char *summary = strstr(text, "kill: ");
        IPVM_ASSERT(summary != NULL);
        printf("round %d: %.*s\n", round + 1, (int)strcspn(summary, "\n"), summary);
        /* every receipt that was reported is on disk, once; every answered workflow that had
         * not finished is "running" */
        int nrep = 0, unfinished = 0, unfinished_running = 0;
        bool missed = false;
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
            char word[128];
            missed |= strncmp(p, "missed", 6) == 0;
            if (strncmp(p, "unfinished ", 11) == 0) {
                IPVM_ASSERT(sscanf(p + 11, "%127s", word) == 1);
                IPVM_ASSERT_MSG(
                    db_int(db,
                           "SELECT count(*) FROM workflows WHERE name = ?1 AND (status = "
                           "'running' OR (status = 'completed' AND num_tasks = (SELECT count(*) "
                           "FROM workflows_receipts WHERE workflow_cid = workflows.cid)))",
                           word) == 1,
                    "round %d: workflow %s was answered and not finished, but it is neither "
                    "'running' nor complete in the store after the kill: a restart would not "
                    "resume it",
                    round + 1, word);
                unfinished++;
                /* a kill between the workflow's last commit and its last notification leaves
                 * it complete in the store but unfinished for the client */
                unfinished_running +=
                    db_int(db, "SELECT count(*) FROM workflows WHERE name = ?1 AND status = "
                               "'running'", word) == 1;
            }
            if (strncmp(p, "reported ", 9) != 0)
                continue;
            IPVM_ASSERT(sscanf(p + 9, "%127s", word) == 1);
            IPVM_ASSERT_MSG(db_int(db, "SELECT count(*) FROM receipts WHERE cid = ?1", word) == 1,
                            "round %d: receipt %s was reported but is not in the store", round + 1,
                            word);
            nrep++;
        }
        IPVM_ASSERT(nrep >= rounds[round].after);
        IPVM_ASSERT_EQ(db_int(db,
                              "SELECT count(*) FROM (SELECT instruction FROM receipts GROUP BY "
                              "instruction HAVING count(*) > 1)",
                              NULL),
                       0);
        int64_t running =
            db_int(db, "SELECT count(*) FROM workflows WHERE status = 'running'", NULL);
        IPVM_ASSERT_MSG(running >= unfinished_running && running <= count,
                        "round %d: %lld running, %d answered and unfinished of them running, %d "
                        "submitted", round + 1, (long long)running, unfinished_running, count);
        ipvm_error_t err;
        IPVM_ASSERT_OK(ipvm_file_write_atomic(reported, out.data, out.len, &err));
        /* the restart resumes them, with nobody resubmitting; then every receipt comes */
        node_fixture_start(&n, n.data_dir, extra);
        snprintf(rbuf, sizeof rbuf, "%lld", (long long)running);
        const char *check[] = {"check", n.url, nbuf, base, cbuf, reported, rbuf, NULL};
        node_fixture_script("kill.mjs", check, 120000, &out);
        IPVM_ASSERT_STRCONTAINS((char *)out.data, "kill: all passed");
        restarts += running > 0;
        IPVM_ASSERT_EQ(count_in_file(n.log, "resuming "), restarts);
        total += (int64_t)tasks * count;
        IPVM_ASSERT_EQ(db_int(db, "SELECT count(*) FROM receipts", NULL), total);
        IPVM_ASSERT_EQ(db_int(db, "SELECT count(DISTINCT instruction) FROM receipts", NULL), total);
        IPVM_ASSERT_EQ(
            db_int(db, "SELECT count(*) FROM workflows WHERE status != 'completed'", NULL), 0);
        if (!missed && running > 0) {
            round++;
            tries = -1;
        }
    }
    ipvm_buf_dispose(&out);
    node_fixture_stop(&n, 20000);
}

IPVM_TEST(rpc, node_dashboard_in_chromium)
{
    if (access("/usr/bin/chromium", X_OK) != 0)
        IPVM_ASSERT_MSG(false, "/usr/bin/chromium is missing: run tools/deps.sh (make test does)");
    node_fixture_t n;
    node_fixture_start_example(&n, "dash", false, NULL);
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

/* A second node on a port another node holds fails its start (exit 1, the address and what to
 * do next), in the foreground and with --detach, without a crash on its way out, and leaves the
 * first node serving and stoppable. lws 4.1 returns a context with no listener when the bind
 * fails; the node used to print "node started" and run without an API. */
IPVM_TEST(rpc, node_start_port_in_use)
{
    node_fixture_t a;
    node_fixture_start(&a, NULL, NULL);
    char port[16], want[64], other[4096];
    snprintf(port, sizeof port, "%d", a.port);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%d: address already in use", a.port);
    snprintf(other, sizeof other, "%s/other", ipvm_test_tmpdir());
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    const char *fg[] = {"node", "start", "--port", port, NULL};
    const char *bg[] = {"node", "start", "--port", port, "--detach", NULL};
    const char *const *starts[] = {fg, bg};
    for (size_t i = 0; i < 2; i++) {
        int st = ipvm_test_ipvm(other, starts[i], 20000, &o, &e);
        IPVM_ASSERT_MSG(st == 1, "start %zu: exit %d, stdout:\n%s\nstderr:\n%s", i, st,
                        (char *)o.data, (char *)e.data);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, want);
        IPVM_ASSERT_STRCONTAINS((char *)e.data, "ipvm node status");
        IPVM_ASSERT_STRCONTAINS((char *)e.data, "--port N, rpc.port in ipvm.conf or IPVM_RPC_PORT");
        IPVM_ASSERT(strstr((char *)o.data, "node started") == NULL);
        IPVM_ASSERT(strstr((char *)e.data, "node started") == NULL);
    }
    /* the failed node left nothing that says it runs */
    const char *status[] = {"node", "status", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(other, status, 10000, &o, &e), 3);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "no node is running");
    /* the same data dir is refused by the pid lock, before any port, and changes no file */
    IPVM_ASSERT_EQ(ipvm_test_ipvm(a.data_dir, fg, 20000, &o, &e), 1);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "already running");
    /* the first node still serves, and its node.json and pid file still find it */
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld)", a.pid);
    IPVM_ASSERT_EQ(ipvm_test_ipvm(a.data_dir, status, 10000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, pid);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, "{\"healthy\":true}");
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", a.port);
    IPVM_ASSERT_STRCONTAINS((char *)o.data, url);
    const char *stop[] = {"node", "stop", NULL};
    IPVM_ASSERT_EQ(ipvm_test_ipvm(a.data_dir, stop, 30000, &o, &e), 0);
    IPVM_ASSERT_STRCONTAINS((char *)e.data, "node stopped");
    int st = 0;
    IPVM_ASSERT_EQ(waitpid((pid_t)a.pid, &st, 0), (pid_t)a.pid);
    IPVM_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first node exited with %d", st);
    a.pid = 0;
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
}
