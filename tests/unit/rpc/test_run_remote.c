/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm run --node` when the node cannot take the workflow or goes away: a workflow over the
 * node's rpc.max_message, and a node killed with SIGKILL while the receipts stream, then
 * restarted on the same data dir. The CLI must say what happened and what to do next. */
#include "node_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* `ipvm workflow gen --chains C --length L --base B` into dir/name; its path (static). */
static const char *gen_workflow(const char *name, const char *chains, const char *length,
                                const char *base)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", ipvm_test_tmpdir(), name);
    const char *argv[] = {ipvm_test_bin("ipvm"),
                          "workflow",
                          "gen",
                          "--chains",
                          chains,
                          "--length",
                          length,
                          "--base",
                          base,
                          NULL};
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    IPVM_ASSERT_EQ(ipvm_test_run(argv, NULL, NULL, 60000, &out, &err), 0);
    IPVM_ASSERT_OK(ipvm_file_write_atomic(path, out.data, out.len, NULL));
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
    return path;
}

IPVM_TEST(rpc, run_remote_message_too_large)
{
    node_fixture_t n;
    const char *extra[] = {"--set", "rpc.max_message=65536", NULL};
    node_fixture_start(&n, NULL, extra);
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    /* 300 tasks, ~84 kB: over the limit, read to its end by the node, which answers -32007
     * and closes with 1009 */
    const char *wf = gen_workflow("300.json", "10", "30", "1");
    const char *run[] = {ipvm_test_bin("ipvm"), "run", "--node", n.url, wf, NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(run, NULL, NULL, 60000, &o, &e), 1);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
    const char *msg = (const char *)e.data;
    IPVM_ASSERT_STRCONTAINS(msg, "the node refused the workflow: its 8"); /* 8x.x kB */
    IPVM_ASSERT_STRCONTAINS(msg, " kB message (300 tasks) is over the node's limit");
    IPVM_ASSERT_STRCONTAINS(msg, "(rpc.max_message = 64 KiB)");
    IPVM_ASSERT_STRCONTAINS(msg, "--set rpc.max_message=1M");
    IPVM_ASSERT_STRCONTAINS(msg, "IPVM_RPC_MAX_MESSAGE=1M");
    IPVM_ASSERT_STRCONTAINS(msg, "restart the node");
    IPVM_ASSERT_STRCONTAINS(msg, "ipvm run ");
    /* 3000 tasks, ~830 kB: over 4 times the limit, cut off by the node before its end */
    const char *big = gen_workflow("3000.json", "100", "30", "1");
    const char *runj[] = {ipvm_test_bin("ipvm"), "run", "--json", "--node", n.url, big, NULL};
    ipvm_buf_clear(&o);
    ipvm_buf_clear(&e);
    IPVM_ASSERT_EQ(ipvm_test_run(runj, NULL, NULL, 60000, &o, &e), 1);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
    IPVM_ASSERT_STRCONTAINS((const char *)e.data, "message (3000 tasks) is over the node's limit");
    IPVM_ASSERT_STRCONTAINS((const char *)e.data, "rpc.max_message");
    /* --json: one error object on stdout, machine-readable */
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &o);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "error/code"), "IPVM_ETOOBIG"));
    const ipvm_ipld_t *m = ipvm_ipld_select(v, "error/message");
    IPVM_ASSERT(m && m->kind == IPVM_IPLD_STRING);
    IPVM_ASSERT_STRCONTAINS(m->u.str.ptr, "raise rpc.max_message");
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
    node_fixture_stop(&n, 10000);
}

/* The node's metric `name` (its first value), or -1. */
static long long metric(ipvm_rpc_client_t *c, const char *name)
{
    ipvm_buf_t res = IPVM_BUF_INIT;
    long long val = -1;
    if (ipvm_rpc_client_call(c, "metrics", NULL, 5000, &res, NULL, NULL) == 0) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_ipld_t *v = NULL;
        if (ipvm_dagjson_decode((const char *)res.data, res.len, &a, &v, NULL) == 0) {
            const ipvm_ipld_t *list = ipvm_ipld_map_get(v, "metrics");
            for (size_t i = 0; list && list->kind == IPVM_IPLD_LIST && i < list->u.list.len; i++) {
                const ipvm_ipld_t *x = list->u.list.items[i];
                if (!ipvm_ipld_is_str(ipvm_ipld_map_get(x, "metric_name"), name))
                    continue;
                const ipvm_ipld_t *d = ipvm_ipld_select(x, "data/0/value");
                int64_t iv;
                if (d && d->kind == IPVM_IPLD_STRING)
                    val = atoll(d->u.str.ptr);
                else if (d && ipvm_ipld_get_i64(d, &iv) == 0)
                    val = iv;
                else if (d && d->kind == IPVM_IPLD_FLOAT)
                    val = (long long)d->u.f;
            }
        }
        ipvm_arena_dispose(&a);
    }
    ipvm_buf_dispose(&res);
    return val;
}

IPVM_TEST(rpc, run_remote_node_killed)
{
    node_fixture_t n;
    node_fixture_start_example(&n, "killed", false, NULL);
    /* 20,000 tasks in 4 chains: seconds of receipts */
    char wf[4200];
    snprintf(wf, sizeof wf, "%s", gen_workflow("20000.json", "4", "5000", "1"));
    char out_path[4200], err_path[4200];
    snprintf(out_path, sizeof out_path, "%s/run.out", ipvm_test_tmpdir());
    snprintf(err_path, sizeof err_path, "%s/run.err", ipvm_test_tmpdir());
    const char *argv[] = {ipvm_test_bin("ipvm"), "run", "--json", "--node", n.url, wf, NULL};
    pid_t parent = getpid();
    pid_t cli = fork();
    IPVM_ASSERT(cli >= 0);
    if (cli == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0)
            _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    /* SIGKILL once the node has queued 3000 tasks' notifications (a receipt and a node event
     * each) and had a moment to write them: receipts are streaming */
    ipvm_rpc_client_t *c = NULL;
    IPVM_ASSERT_OK(ipvm_rpc_client_connect(n.url, 5000, &c, NULL));
    struct timespec ts = {0, 5000000};
    int tries = (int)(12000 * ipvm_test_timeout_multiplier()); /* 60 s, scaled */
    long long notes = 0;
    for (int i = 0; i < tries && (notes = metric(c, "ipvm_rpc_notifications_total")) < 6000; i++)
        nanosleep(&ts, NULL);
    long long ran = metric(c, "ipvm_tasks_run_total");
    ipvm_rpc_client_free(c);
    IPVM_ASSERT_MSG(notes >= 6000 && ran < 20000, "before the kill: %lld notifications, %lld tasks",
                    notes, ran);
    struct timespec moment = {0, 200000000};
    nanosleep(&moment, NULL);
    node_fixture_kill(&n);
    int st = 0;
    for (int i = 0; i < tries && waitpid(cli, &st, WNOHANG) == 0; i++)
        nanosleep(&ts, NULL);
    if (waitpid(cli, &st, WNOHANG) == 0) {
        kill(cli, SIGKILL);
        waitpid(cli, &st, 0);
        IPVM_ASSERT_MSG(false, "ipvm run --node did not exit after the node was killed");
    }
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    ipvm_test_read_file(out_path, &o);
    ipvm_test_read_file(err_path, &e);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
    IPVM_ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status %d: %s", st,
                    (const char *)e.data);
    const char *msg = (const char *)e.data;
    const char *at = strstr(msg, "after ");
    size_t got = 0, of = 0;
    IPVM_ASSERT_MSG(at && sscanf(at, "after %zu of %zu receipts", &got, &of) == 2,
                    "no receipt count in: %s", msg);
    IPVM_ASSERT_EQ(of, 20000);
    IPVM_ASSERT_MSG(got > 0 && got < 20000, "receipts before the kill: %zu", got);
    IPVM_ASSERT_STRCONTAINS(msg, "the node closed the connection in the middle of the run");
    IPVM_ASSERT_STRCONTAINS(msg, "kept in its store");
    IPVM_ASSERT_STRCONTAINS(msg, "'ipvm node status'");
    IPVM_ASSERT_STRCONTAINS(msg, "node's log");
    IPVM_ASSERT_STRCONTAINS(msg, "'ipvm node start'");
    IPVM_ASSERT_STRCONTAINS(msg, "run the same workflow again");
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = ipvm_test_json(&a, &o);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_select(v, "error/code"), "IPVM_ECLOSED"));
    ipvm_arena_dispose(&a);

    /* restarted on the same data dir (it resumes the run), the same workflow completes, and
     * what the node had reported before the kill comes back as replayed */
    node_fixture_start(&n, n.data_dir, NULL);
    const char *again[] = {ipvm_test_bin("ipvm"), "run", "--json", "--node", n.url, wf, NULL};
    int rc = ipvm_test_run(again, NULL, NULL, 120000, &o, &e);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&e, 1));
    IPVM_ASSERT_MSG(rc == 0, "the run after the restart: exit %d: %s", rc, (const char *)e.data);
    IPVM_ASSERT_OK(ipvm_buf_reserve(&o, 1));
    const char *last = strstr((const char *)o.data, "{\"elapsed_ns\""); /* the summary */
    IPVM_ASSERT_MSG(last != NULL, "no summary line in: %.300s", (const char *)o.data);
    unsigned long long executed = 0, replayed = 0;
    const char *ex = strstr(last, "\"executed\":"), *rp = strstr(last, "\"replayed\":");
    IPVM_ASSERT(ex && rp);
    executed = strtoull(ex + 11, NULL, 10);
    replayed = strtoull(rp + 11, NULL, 10);
    IPVM_ASSERT_STRCONTAINS(last, "\"status\":\"ok\"");
    IPVM_ASSERT_STRCONTAINS(last, "\"skipped\":0");
    IPVM_ASSERT_EQ(executed + replayed, 20000);
    IPVM_ASSERT_MSG(replayed >= got, "%llu replayed, %zu received before the kill", replayed, got);
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
    node_fixture_stop(&n, 30000);
}
