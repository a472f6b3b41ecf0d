/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of src/sched/ with the native test executor: execution and receipts, memoized replay,
 * resuming, error receipts and promise branches, limits, timeout, cancellation, parallelism,
 * concurrent runs of one workflow, events, and every hook (net lookup, publish, authorize,
 * sign, verify, confirm). */
#define _GNU_SOURCE
#include "test.h"

#include "fake_exec.h"
#include "workflow/workflow_int.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/sched_int.h" /* ipvm__sched_writers, IPVM__SCHED_WRITERS_PARKED */

#define RSC "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

typedef struct {
    fake_exec_t fx;
    ipvm_sched_t *s;
    char db[512];
} env_t;

static void env_open(env_t *e, unsigned threads)
{
    memset(e, 0, sizeof *e);
    snprintf(e->db, sizeof e->db, "%s/ipvm.db", ipvm_test_tmpdir());
    ipvm_sched_executor_t x = fake_exec(&e->fx);
    ipvm_sched_opts_t o = {.db_path = e->db, .executor = &x, .threads = threads};
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_sched_new(&o, &e->s, &err), &err);
}

static void env_close(env_t *e)
{
    ipvm_sched_free(e->s);
}

static ipvm_workflow_t *wf_json(env_t *e, ipvm_arena_t *a, const char *js)
{
    ipvm_workflow_t *wf = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_sched_parse(e->s, js, strlen(js), a, &wf, &err), &err);
    return wf;
}

static ipvm_workflow_t *wf_file(env_t *e, ipvm_arena_t *a, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "homestar/workflows/%s", name);
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector(path), &b);
    ipvm_workflow_t *wf = wf_json(e, a, ipvm_arena_strndup(a, (const char *)b.data, b.len));
    ipvm_buf_dispose(&b);
    return wf;
}

static const char *task_js(ipvm_arena_t *a, const char *func, const char *args, const char *nnc,
                           const char *meta)
{
    return ipvm_arena_printf(a,
                             "{\"cause\":null,\"meta\":%s,\"prf\":[],\"run\":{\"input\":{\"args\":"
                             "[%s],\"func\":\"%s\"},\"nnc\":\"%s\",\"op\":\"wasm/run\",\"rsc\":"
                             "\"" RSC "\"}}",
                             meta ? meta : "{}", args, func, nnc);
}

static const char *cid_of_task(ipvm_arena_t *a, const char *task)
{
    const char *js = ipvm_arena_printf(a, "{\"tasks\":[%s]}", task);
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t o = {.allow_outside_awaits = true};
    IPVM_ASSERT_OK(ipvm_workflow_parse(js, strlen(js), &o, a, &wf, NULL));
    char c[IPVM_CID_MAX_STR];
    return ipvm_arena_strdup(a, ipvm_cid_str(&wf->tasks[0].instruction, c));
}

static const char *await_of(ipvm_arena_t *a, const char *kind, const char *cid)
{
    return ipvm_arena_printf(a, "{\"await/%s\":{\"/\":\"%s\"}}", kind, cid);
}

/* A chain of n add_one tasks from 1, as workflow text. */
static const char *chain_js(ipvm_arena_t *a, int n, const char *func)
{
    const char *tasks = "", *prev = NULL;
    for (int i = 0; i < n; i++) {
        const char *t = task_js(a, func, prev ? await_of(a, "ok", prev) : "1", "", NULL);
        prev = cid_of_task(a, t);
        tasks = ipvm_arena_printf(a, "%s%s%s", tasks, i ? "," : "", t);
    }
    return ipvm_arena_printf(a, "{\"tasks\":[%s]}", tasks);
}

static int64_t value_of(const ipvm_sched_receipt_t *r)
{
    int64_t v = -1;
    IPVM_ASSERT(r->task != NULL && r->receipt.ok);
    IPVM_ASSERT_OK(ipvm_ipld_get_i64(ipvm_receipt_value(&r->receipt), &v));
    return v;
}

/* ---- events -------------------------------------------------------------------------------- */
typedef struct {
    int kinds[64];
    size_t tasks[64];
    int n;
    const char *db;      /* when set, FINISHED receipts must already be in this database */
    int committed_checks;
    ipvm_sched_cancel_t *cancel_at_start; /* fire when this many tasks have started */
    int cancel_at;
    int finished, started;
} events_t;

static void on_event(const ipvm_sched_event_t *ev, void *data)
{
    events_t *e = data;
    if (e->n < 64) {
        e->kinds[e->n] = ev->kind;
        e->tasks[e->n] = ev->task ? ev->task->index : (size_t)-1;
        e->n++;
    }
    IPVM_ASSERT(ev->done <= ev->total);
    if (ev->kind == IPVM_SCHED_TASK_FINISHED) {
        e->finished++;
        if (e->db) { /* a second connection sees the receipt: it was committed before this */
            ipvm_store_t *st = NULL;
            IPVM_ASSERT_OK(ipvm_store_open(e->db, IPVM_STORE_READONLY, &st, NULL));
            ipvm_arena_t a;
            ipvm_arena_init(&a);
            ipvm_receipt_row_t row;
            IPVM_ASSERT_OK(ipvm_store_get_receipt(st, &ev->receipt->receipt.cid, &a, &row, NULL));
            ipvm_arena_dispose(&a);
            ipvm_store_close(st);
            e->committed_checks++;
        }
    }
    if (ev->kind == IPVM_SCHED_TASK_STARTED && ++e->started == e->cancel_at && e->cancel_at_start)
        ipvm_sched_cancel_fire(e->cancel_at_start);
}

static int count_kind(const events_t *e, int kind)
{
    int n = 0;
    for (int i = 0; i < e->n; i++)
        n += e->kinds[i] == kind;
    return n;
}

IPVM_TEST(sched, run_add_one_and_replay)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = wf_file(&e, &a, "test-workflow-add-one.json");
    events_t ev = {.db = e.db};
    ipvm_sched_run_opts_t ro = {.name = "test", .on_event = on_event, .event_data = &ev};
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, wf, &ro, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(res.executed, 2);
    IPVM_ASSERT_EQ(res.replayed, 0);
    IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 2);
    IPVM_ASSERT_EQ(value_of(&res.receipts[1]), 3);
    char c[IPVM_CID_MAX_STR];
    /* gold.json: the receipt of add_one(1) = 2 */
    IPVM_ASSERT_STREQ(ipvm_cid_str(&res.receipts[0].receipt.cid, c),
                      "bafyrmih5ujsrxcwwbeeqowgy434da36ie3cbar3wr5yv2vnrmzmxdylicm");
    IPVM_ASSERT_EQ(res.receipts[0].fuel, 10);
    IPVM_ASSERT(!res.receipts[0].replayed);
    IPVM_ASSERT_EQ(e.fx.calls, 2);
    /* events: started, 2 x (task started, finished), done; finished only after commit */
    IPVM_ASSERT_EQ(ev.kinds[0], IPVM_SCHED_WORKFLOW_STARTED);
    IPVM_ASSERT_EQ(ev.kinds[ev.n - 1], IPVM_SCHED_WORKFLOW_DONE);
    IPVM_ASSERT_EQ(count_kind(&ev, IPVM_SCHED_TASK_STARTED), 2);
    IPVM_ASSERT_EQ(count_kind(&ev, IPVM_SCHED_TASK_FINISHED), 2);
    IPVM_ASSERT_EQ(ev.committed_checks, 2);

    /* again: nothing executes, both receipts replay, same CIDs */
    events_t ev2 = {0};
    ro.event_data = &ev2;
    ipvm_sched_result_t res2;
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, wf, &ro, &a, &res2, &err), &err);
    IPVM_ASSERT_EQ(e.fx.calls, 2);
    IPVM_ASSERT_EQ(res2.executed, 0);
    IPVM_ASSERT_EQ(res2.replayed, 2);
    IPVM_ASSERT(res2.receipts[1].replayed);
    IPVM_ASSERT(ipvm_cid_equal(&res2.receipts[1].receipt.cid, &res.receipts[1].receipt.cid));
    IPVM_ASSERT_EQ(res2.receipts[1].fuel, 10); /* our columns come back from the store */
    IPVM_ASSERT_EQ(value_of(&res2.receipts[1]), 3);
    IPVM_ASSERT_EQ(count_kind(&ev2, IPVM_SCHED_TASK_REPLAYED), 2);
    IPVM_ASSERT_EQ(count_kind(&ev2, IPVM_SCHED_TASK_STARTED), 0);
    /* the workflow row and its links */
    ipvm_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(e.db, 0, &st, NULL));
    ipvm_workflow_row_t row;
    IPVM_ASSERT_OK(ipvm_store_get_workflow(st, &wf->cid, &a, &row, NULL));
    IPVM_ASSERT_EQ(row.status, IPVM_WF_COMPLETED);
    IPVM_ASSERT_EQ(row.num_tasks, 2);
    int64_t count = 0;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(st, &wf->cid, &count, NULL));
    IPVM_ASSERT_EQ(count, 2);
    ipvm_store_close(st);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* A new scheduler on the same database (a restart) replays too; a receipt computed by another
 * workflow with the same instruction is reused (the key is the instruction CID). */
IPVM_TEST(sched, replay_across_workflows_and_restarts)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_workflow_t *one = wf_file(&e, &a, "test-workflow-add-one-part-one.json");
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, one, NULL, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(e.fx.calls, 1);
    env_close(&e);
    fake_exec_t keep = e.fx;
    env_t e2;
    env_open(&e2, 2);
    ipvm_workflow_t *both = wf_file(&e2, &a, "test-workflow-add-one.json");
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e2.s, both, NULL, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(keep.calls + e2.fx.calls, 2); /* only the second task ran */
    IPVM_ASSERT_EQ(res.replayed, 1);
    IPVM_ASSERT(res.receipts[0].replayed);
    IPVM_ASSERT_EQ(value_of(&res.receipts[1]), 3);
    ipvm_arena_dispose(&a);
    env_close(&e2);
}

IPVM_TEST(sched, resume_after_cancel)
{
    env_t e;
    env_open(&e, 1);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = wf_json(&e, &a, chain_js(&a, 6, "add_one"));
    ipvm_sched_cancel_t cancel = {0};
    events_t ev = {.cancel_at_start = &cancel, .cancel_at = 3};
    ipvm_sched_run_opts_t ro = {.on_event = on_event, .event_data = &ev, .cancel = &cancel};
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, &ro, &a, &res, &err), IPVM_ECANCELED);
    IPVM_ASSERT_EQ(res.executed, 3); /* the third task was running: it finished and committed */
    IPVM_ASSERT_EQ(res.executed + res.skipped, 6);
    IPVM_ASSERT_EQ(count_kind(&ev, IPVM_SCHED_TASK_SKIPPED), (int)res.skipped);
    IPVM_ASSERT(res.receipts[5].task == NULL);
    size_t first = res.executed;
    int calls = e.fx.calls;
    ipvm_sched_result_t res2;
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res2, &err), &err);
    IPVM_ASSERT_EQ(res2.replayed, first);
    IPVM_ASSERT_EQ(res2.executed, 6 - first);
    IPVM_ASSERT_EQ(e.fx.calls, calls + (int)(6 - first));
    for (size_t i = 0; i < 6; i++)
        IPVM_ASSERT_EQ(value_of(&res2.receipts[i]), (int64_t)i + 2);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* fail() -> error receipt; await/ok fails its dependent, await/error gets the error map,
 * await/\* gets the tuple. On a second run the trap (final) replays, the dependent's failure
 * (not final) is executed again. */
IPVM_TEST(sched, error_receipts_and_branches)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *t0 = task_js(&a, "fail", "", "", NULL);
    const char *c0 = cid_of_task(&a, t0);
    const char *t1 = task_js(&a, "add_one", await_of(&a, "ok", c0), "", NULL);
    const char *t2 = task_js(&a, "echo", await_of(&a, "error", c0), "", NULL);
    const char *t3 = task_js(&a, "echo", await_of(&a, "*", c0), "", NULL);
    const char *c1 = cid_of_task(&a, t1);
    const char *t4 = task_js(&a, "add_one", await_of(&a, "ok", c1), "", NULL);
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s,%s,%s,%s]}", t0, t1, t2, t3, t4);
    ipvm_workflow_t *wf = wf_json(&e, &a, js);
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res, &err), IPVM_ETASKFAILED);
    IPVM_ASSERT_STRCONTAINS(err.msg, "3 of 5 tasks failed");
    IPVM_ASSERT_EQ(res.executed, 5);
    IPVM_ASSERT_EQ(res.failed, 3);
    char s[600];
    /* the failed task: the documented error map */
    ipvm_ipld_summary(res.receipts[0].receipt.out, s, sizeof s);
    IPVM_ASSERT_STREQ(s, "[\"error\",{\"code\":\"IPVM_ETRAP_UNREACHABLE\",\"fuel\":3,\"message\":"
                         "\"fail: unreachable executed in function 0\",\"trap\":"
                         "\"unreachable executed\"}]");
    IPVM_ASSERT_EQ(res.receipts[0].fuel, 3);
    /* await/ok on it */
    IPVM_ASSERT(!res.receipts[1].receipt.ok);
    IPVM_ASSERT_STREQ(ipvm_receipt_error_code(ipvm_receipt_value(&res.receipts[1].receipt)),
                      "IPVM_ETASKFAILED");
    ipvm_ipld_summary(res.receipts[1].receipt.out, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "(task 0), which failed (IPVM_ETRAP_UNREACHABLE: fail: unreachable");
    /* ... and its own dependent */
    IPVM_ASSERT(!res.receipts[4].receipt.ok);
    ipvm_ipld_summary(res.receipts[4].receipt.out, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "(task 1), which failed (IPVM_ETASKFAILED");
    /* await/error gets the error map, await/\* the whole tuple */
    ipvm_ipld_summary(ipvm_receipt_value(&res.receipts[2].receipt), s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "[{\"code\":\"IPVM_ETRAP_UNREACHABLE\"");
    ipvm_ipld_summary(ipvm_receipt_value(&res.receipts[3].receipt), s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "[[\"error\",{\"code\":\"IPVM_ETRAP_UNREACHABLE\"");
    int calls = e.fx.calls;
    IPVM_ASSERT_EQ(calls, 3); /* fail, echo, echo: the await/ok dependents never ran */
    ipvm_sched_result_t res2;
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res2, &err), IPVM_ETASKFAILED);
    IPVM_ASSERT_EQ(res2.replayed, 3);  /* the trap and the two echoes */
    IPVM_ASSERT_EQ(res2.executed, 2);  /* the dependency failures are tried again */
    IPVM_ASSERT_EQ(e.fx.calls, calls); /* ... and fail again without calling anything */
    IPVM_ASSERT(ipvm_cid_equal(&res2.receipts[1].receipt.cid, &res.receipts[1].receipt.cid));
    ipvm_arena_dispose(&a);
    env_close(&e);
}

IPVM_TEST(sched, limits_from_meta)
{
    env_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.db, sizeof e.db, "%s/ipvm.db", ipvm_test_tmpdir());
    ipvm_sched_executor_t x = fake_exec(&e.fx);
    ipvm_sched_opts_t o = {.db_path = e.db, .executor = &x, .threads = 1,
                           .defaults = {.fuel = 1000, .memory = 1 << 20, .time_ms = 5000},
                           .max = {.memory = 1 << 24}};
    IPVM_ASSERT_OK(ipvm_sched_new(&o, &e.s, NULL));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_sched_result_t res;
    const char *js = ipvm_arena_printf(
        &a, "{\"tasks\":[%s]}",
        task_js(&a, "add_one", "2", "", "{\"fuel\":77,\"memory\":4294967296,\"time\":1500}"));
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf_json(&e, &a, js), NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ_U64(e.fx.last_limits.fuel, 77);
    IPVM_ASSERT_EQ_U64(e.fx.last_limits.memory, 1 << 24); /* capped */
    IPVM_ASSERT_EQ_U64(e.fx.last_limits.time_ms, 1500);
    /* Homestar's fixture: fuel is a float (ignored), memory 4 GiB (capped), time 100 s */
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf_file(&e, &a, "test-workflow-add-one-part-one.json"),
                                  NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ_U64(e.fx.last_limits.fuel, 1000);
    IPVM_ASSERT_EQ_U64(e.fx.last_limits.memory, 1 << 24);
    IPVM_ASSERT_EQ_U64(e.fx.last_limits.time_ms, 100000);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

IPVM_TEST(sched, workflow_timeout)
{
    env_t e;
    env_open(&e, 1);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s,%s]}",
                                       task_js(&a, "sleep", "5000", "", NULL),
                                       task_js(&a, "sleep", "5001", "", NULL),
                                       task_js(&a, "sleep", "5002", "", NULL));
    ipvm_workflow_t *wf = wf_json(&e, &a, js);
    ipvm_sched_run_opts_t ro = {.timeout_ms = 150};
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    uint64_t t0 = ipvm_now_ns();
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, &ro, &a, &res, &err), IPVM_EWORKFLOWTIMEOUT);
    uint64_t ms = (ipvm_now_ns() - t0) / 1000000u;
    IPVM_ASSERT_MSG(ms < 3000, "took %llu ms", (unsigned long long)ms);
    IPVM_ASSERT_STRCONTAINS(err.msg, "ran out of time");
    /* the tasks that started (none when setting up took the whole 150 ms, as under ASan) were
     * bounded by the deadline and hit their time limit (error receipts, not final); the rest
     * were skipped */
    IPVM_ASSERT_EQ(e.fx.calls, (int)res.executed);
    if (res.executed)
        IPVM_ASSERT(e.fx.last_limits.time_ms <= 151);
    for (size_t i = 0; i < 3; i++)
        if (res.receipts[i].task)
            IPVM_ASSERT_STREQ(ipvm_receipt_error_code(ipvm_receipt_value(&res.receipts[i].receipt)),
                              "IPVM_ETRAP_TIMEOUT");
    IPVM_ASSERT_EQ(res.executed + res.skipped, 3);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

IPVM_TEST(sched, parallel_batch)
{
    env_t e;
    env_open(&e, 4);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *tasks = "";
    for (int i = 0; i < 8; i++)
        tasks = ipvm_arena_printf(&a, "%s%s%s", tasks, i ? "," : "",
                                  task_js(&a, "sleep", ipvm_arena_printf(&a, "%d", 40 + i), "",
                                          NULL));
    ipvm_workflow_t *wf = wf_json(&e, &a, ipvm_arena_printf(&a, "{\"tasks\":[%s]}", tasks));
    ipvm_sched_result_t res;
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf, NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ(res.executed, 8);
    IPVM_ASSERT_MSG(e.fx.max_concurrent >= 2, "max concurrent calls %d", e.fx.max_concurrent);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

typedef struct {
    env_t *e;
    ipvm_workflow_t *wf;
    int rc;
    ipvm_sched_result_t res;
    ipvm_arena_t a;
} runner_t;

static void *run_thread(void *p)
{
    runner_t *r = p;
    r->rc = ipvm_sched_run(r->e->s, r->wf, NULL, &r->a, &r->res, NULL);
    return NULL;
}

/* A chain of n add_one tasks from `from`, as workflow text. */
static const char *chain_from_js(ipvm_arena_t *a, int n, int from)
{
    const char *tasks = "", *prev = NULL;
    for (int i = 0; i < n; i++) {
        const char *arg = prev ? await_of(a, "ok", prev) : ipvm_arena_printf(a, "%d", from);
        const char *t = task_js(a, "add_one", arg, "", NULL);
        prev = cid_of_task(a, t);
        tasks = ipvm_arena_printf(a, "%s%s%s", tasks, i ? "," : "", t);
    }
    return ipvm_arena_printf(a, "{\"tasks\":[%s]}", tasks);
}

typedef struct {
    runner_t r;
    events_t ev;
} group_runner_t;

static void *group_run_thread(void *p)
{
    group_runner_t *g = p;
    ipvm_sched_run_opts_t ro = {.on_event = on_event, .event_data = &g->ev};
    g->r.rc = ipvm_sched_run(g->r.e->s, g->r.wf, &ro, &g->r.a, &g->r.res, NULL);
    return NULL;
}

/* Eight runs at once share the scheduler's group commit: some transactions hold the batches of
 * several runs, and still every run's receipts are each reported once, in the chain's order,
 * only once a second connection sees them, and each is on disk linked to its own workflow. */
IPVM_TEST(sched, group_commit_concurrent_runs)
{
    enum { RUNS = 8, CHAIN = 12 };
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    group_runner_t g[RUNS];
    pthread_t th[RUNS];
    uint64_t commits0, batches0;
    ipvm__sched_groups(e.s, &commits0, &batches0);
    for (int i = 0; i < RUNS; i++) {
        memset(&g[i], 0, sizeof g[i]);
        g[i].r.e = &e;
        g[i].r.wf = wf_json(&e, &a, chain_from_js(&a, CHAIN, 1000 * i));
        g[i].ev.db = e.db;
        ipvm_arena_init(&g[i].r.a);
    }
    for (int i = 0; i < RUNS; i++)
        IPVM_ASSERT_EQ(pthread_create(&th[i], NULL, group_run_thread, &g[i]), 0);
    for (int i = 0; i < RUNS; i++)
        pthread_join(th[i], NULL);
    ipvm_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(e.db, IPVM_STORE_READONLY, &st, NULL));
    for (int i = 0; i < RUNS; i++) {
        IPVM_ASSERT_OK(g[i].r.rc);
        IPVM_ASSERT_EQ(g[i].r.res.executed, CHAIN);
        IPVM_ASSERT_EQ(g[i].ev.finished, CHAIN);         /* each reported once */
        IPVM_ASSERT_EQ(g[i].ev.committed_checks, CHAIN); /* and only once committed */
        size_t next = 0;
        for (int k = 0; k < g[i].ev.n; k++) /* in the chain's order */
            if (g[i].ev.kinds[k] == IPVM_SCHED_TASK_FINISHED)
                IPVM_ASSERT_EQ(g[i].ev.tasks[k], next++);
        for (size_t k = 0; k < CHAIN; k++)
            IPVM_ASSERT_EQ(value_of(&g[i].r.res.receipts[k]), 1000 * i + (int64_t)k + 1);
        int64_t count = -1;
        IPVM_ASSERT_OK(ipvm_store_count_receipts(st, &g[i].r.wf->cid, &count, NULL));
        IPVM_ASSERT_EQ(count, CHAIN); /* none lost, none linked twice */
    }
    int64_t all = -1;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(st, NULL, &all, NULL));
    IPVM_ASSERT_EQ(all, RUNS * CHAIN);
    ipvm_store_close(st);
    uint64_t commits, batches;
    ipvm__sched_groups(e.s, &commits, &batches);
    commits -= commits0;
    batches -= batches0;
    IPVM_ASSERT_MSG(batches >= RUNS && commits < batches,
                    "%llu batches in %llu group commits: never two runs' in one",
                    (unsigned long long)batches, (unsigned long long)commits);
    for (int i = 0; i < RUNS; i++)
        ipvm_arena_dispose(&g[i].r.a);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* Two runs of the same workflow at once execute each instruction once. */
IPVM_TEST(sched, concurrent_runs_share_work)
{
    env_t e;
    env_open(&e, 4);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *tasks = "";
    for (int i = 0; i < 6; i++)
        tasks = ipvm_arena_printf(&a, "%s%s%s", tasks, i ? "," : "",
                                  task_js(&a, "sleep", ipvm_arena_printf(&a, "%d", 30 + i), "",
                                          NULL));
    ipvm_workflow_t *wf = wf_json(&e, &a, ipvm_arena_printf(&a, "{\"tasks\":[%s]}", tasks));
    runner_t r[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].e = &e;
        r[i].wf = wf;
        ipvm_arena_init(&r[i].a);
        IPVM_ASSERT_EQ(pthread_create(&th[i], NULL, run_thread, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    IPVM_ASSERT_OK(r[0].rc);
    IPVM_ASSERT_OK(r[1].rc);
    IPVM_ASSERT_EQ(e.fx.calls, 6);
    IPVM_ASSERT_EQ(r[0].res.executed + r[1].res.executed, 6);
    IPVM_ASSERT_EQ(r[0].res.replayed + r[1].res.replayed, 6);
    for (size_t i = 0; i < 6; i++)
        IPVM_ASSERT(ipvm_cid_equal(&r[0].res.receipts[i].receipt.cid,
                                   &r[1].res.receipts[i].receipt.cid));
    for (int i = 0; i < 2; i++)
        ipvm_arena_dispose(&r[i].a);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* An await of an instruction outside the workflow: refused until a receipt for it is stored,
 * then resolved from the store. Link arguments are fetched and passed as bytes. */
IPVM_TEST(sched, outside_awaits_and_links)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *t0 = task_js(&a, "add_one", "41", "", NULL);
    const char *c0 = cid_of_task(&a, t0);
    const char *js2 = ipvm_arena_printf(
        &a, "{\"tasks\":[%s,%s]}", task_js(&a, "add_one", await_of(&a, "ok", c0), "", NULL),
        task_js(&a, "size", "{\"/\":\"bafybeiejevluvtoevgk66plh5t6xiy3ikyuuxg3vgofuvpeckb6eadresm\"}",
                "", NULL));
    ipvm_workflow_t *wf = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_sched_parse(e.s, js2, strlen(js2), &a, &wf, &err), IPVM_EAWAIT);
    ipvm_sched_result_t res;
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf_json(&e, &a, ipvm_arena_printf(&a, "{\"tasks\":[%s]}", t0)),
                                  NULL, &a, &res, NULL));
    wf = wf_json(&e, &a, js2);
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 43);
    IPVM_ASSERT_EQ(value_of(&res.receipts[1]), 8);
    IPVM_ASSERT_EQ(e.fx.fetches, 1);
    /* a module that cannot be fetched: an error receipt that says how to add it */
    const char *bad = "{\"tasks\":[{\"cause\":null,\"meta\":{},\"prf\":[],\"run\":{\"input\":"
                      "{\"args\":[1],\"func\":\"add_one\"},\"op\":\"wasm/run\",\"rsc\":"
                      "\"ipfs://bafy/missing\"}}]}";
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf_json(&e, &a, bad), NULL, &a, &res, NULL),
                    IPVM_ETASKFAILED);
    char s[400];
    ipvm_ipld_summary(res.receipts[0].receipt.out, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "IPVM_ENORESOURCE");
    IPVM_ASSERT_STRCONTAINS(s, "ipvm add FILE");
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* ---- hooks ---------------------------------------------------------------------------------- */
typedef struct {
    const ipvm_workflow_t *wf; /* the workflow whose task 0 the "network" knows */
    int lookups, items, published, authorized, signed_, verified, confirmed;
    bool forge;        /* answer with a receipt whose ran is wrong */
    bool deny_second;  /* authorize denies task 1 */
    bool conflict;     /* confirm reports a conflict */
    bool silent;       /* the network knows nothing */
} hooks_t;

static int h_find(void *data, ipvm_sched_lookup_t *items, size_t n, int timeout_ms,
                  ipvm_arena_t *arena)
{
    hooks_t *h = data;
    IPVM_ASSERT(timeout_ms == 250);
    h->lookups++;
    h->items += (int)n;
    for (size_t i = 0; i < n && !h->silent; i++) {
        const ipvm_task_t *t = &h->wf->tasks[0];
        if (!ipvm_cid_equal(items[i].instruction, &t->instruction))
            continue;
        ipvm_task_t fake = *t;
        if (h->forge)
            fake.invocation = h->wf->tasks[1].invocation;
        ipvm_receipt_t r;
        IPVM_ASSERT_OK(ipvm_receipt_make(arena, &fake, true, ipvm_ipld_new_int(arena, 2),
                                         "did:key:peer", &r, NULL));
        ipvm_buf_t b = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_receipt_encode(&r, &b, NULL));
        items[i].receipt = ipvm_arena_memdup(arena, b.data, b.len);
        items[i].receipt_len = b.len;
        items[i].signature = (const uint8_t *)"peer-sig";
        items[i].signature_len = 8;
        snprintf(items[i].source, sizeof items[i].source, "peer:12D3KooWTest");
        items[i].found = true;
        ipvm_buf_dispose(&b);
    }
    return 0;
}

static void h_published(void *data, const ipvm_cid_t *wf, const ipvm_sched_receipt_t *r)
{
    hooks_t *h = data;
    IPVM_ASSERT(ipvm_cid_equal(wf, &h->wf->cid));
    IPVM_ASSERT(r->cbor_len > 0);
    h->published++;
}

static int h_authorize(void *data, const void *auth, const ipvm_workflow_t *wf,
                       const ipvm_task_t *task, ipvm_error_t *err)
{
    hooks_t *h = data;
    IPVM_ASSERT(auth == (const void *)h);
    (void)wf;
    __atomic_add_fetch(&h->authorized, 1, __ATOMIC_SEQ_CST);
    if (h->deny_second && task->index == 1)
        return ipvm_error_set(err, IPVM_EDENIED, IPVM_NO_OFFSET,
                              "no UCAN grants wasm/run on this module");
    return 0;
}

static int h_sign(void *data, const ipvm_receipt_t *r, const uint8_t *cbor, size_t len,
                  ipvm_buf_t *sig, ipvm_error_t *err)
{
    hooks_t *h = data;
    (void)err;
    IPVM_ASSERT_STREQ(r->iss, "did:key:z6MkTest");
    ipvm_cid_t c;
    IPVM_ASSERT_OK(ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, cbor, len));
    IPVM_ASSERT(ipvm_cid_equal(&c, &r->cid));
    __atomic_add_fetch(&h->signed_, 1, __ATOMIC_SEQ_CST);
    return ipvm_buf_append(sig, "sig!", 4);
}

static int h_verify(void *data, const ipvm_receipt_t *r, const uint8_t *cbor, size_t len,
                    const uint8_t *sig, size_t sig_len, const char *source, ipvm_error_t *err)
{
    hooks_t *h = data;
    (void)r;
    (void)cbor;
    (void)len;
    (void)err;
    IPVM_ASSERT_STREQ(source, "peer:12D3KooWTest");
    IPVM_ASSERT(sig_len == 8 && memcmp(sig, "peer-sig", 8) == 0);
    __atomic_add_fetch(&h->verified, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int h_confirm(void *data, const ipvm_task_t *task, const ipvm_sched_receipt_t *r,
                     int timeout_ms, ipvm_error_t *err)
{
    hooks_t *h = data;
    (void)task;
    IPVM_ASSERT(timeout_ms > 0);
    IPVM_ASSERT(r->receipt.ok);
    __atomic_add_fetch(&h->confirmed, 1, __ATOMIC_SEQ_CST);
    if (h->conflict)
        return ipvm_error_set(err, IPVM_ECONFLICT, IPVM_NO_OFFSET,
                              "2 of 3 nodes computed another receipt");
    return 0;
}

static void install(env_t *e, hooks_t *h)
{
    ipvm_sched_net_hooks_t net = {.data = h, .find_receipts = h_find,
                                  .receipt_published = h_published, .lookup_timeout_ms = 250};
    ipvm_sched_trust_hooks_t tr = {.data = h, .authorize = h_authorize,
                                   .issuer = "did:key:z6MkTest", .sign = h_sign,
                                   .verify = h_verify, .confirm = h_confirm};
    ipvm_sched_set_net_hooks(e->s, &net);
    ipvm_sched_set_trust_hooks(e->s, &tr);
}

IPVM_TEST(sched, hooks_net_and_trust)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = wf_file(&e, &a, "test-workflow-add-one.json");
    hooks_t h = {.wf = wf};
    install(&e, &h);
    ipvm_sched_run_opts_t ro = {.auth = &h};
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, wf, &ro, &a, &res, &err), &err);
    /* task 0 came from the "network": verified, stored, replayed; task 1 executed and signed */
    IPVM_ASSERT(res.receipts[0].replayed);
    IPVM_ASSERT_STREQ(res.receipts[0].source, "peer:12D3KooWTest");
    IPVM_ASSERT_STREQ(res.receipts[0].receipt.iss, "did:key:peer");
    IPVM_ASSERT_EQ(res.executed, 1);
    IPVM_ASSERT_EQ(e.fx.calls, 1);
    IPVM_ASSERT_EQ(value_of(&res.receipts[1]), 3);
    IPVM_ASSERT_STREQ(res.receipts[1].receipt.iss, "did:key:z6MkTest");
    IPVM_ASSERT(res.receipts[1].signature_len == 4);
    IPVM_ASSERT_EQ(h.authorized, 2);
    IPVM_ASSERT_EQ(h.verified, 1);
    IPVM_ASSERT_EQ(h.signed_, 1);
    IPVM_ASSERT_EQ(h.confirmed, 1);
    IPVM_ASSERT_EQ(h.published, 2);
    IPVM_ASSERT_EQ(h.lookups, 2); /* one wave per batch of ready tasks */
    /* the peer's receipt is in the store with its source and signature */
    ipvm_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(e.db, 0, &st, NULL));
    ipvm_receipt_row_t row;
    IPVM_ASSERT_OK(ipvm_store_find_receipt(st, &wf->tasks[0].instruction, &a, &row, NULL));
    IPVM_ASSERT_STREQ(row.source, "peer:12D3KooWTest");
    IPVM_ASSERT(row.signature_len == 8);
    ipvm_store_close(st);
    /* a rerun replays both from the store; the peer's receipt is verified again before use */
    ipvm_sched_result_t res2;
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf, &ro, &a, &res2, NULL));
    IPVM_ASSERT_EQ(res2.replayed, 2);
    IPVM_ASSERT_EQ(h.verified, 2);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

IPVM_TEST(sched, hooks_reject_and_deny)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = wf_file(&e, &a, "test-workflow-add-one-nonced.json");
    hooks_t h = {.wf = wf, .forge = true, .deny_second = true};
    install(&e, &h);
    ipvm_sched_run_opts_t ro = {.auth = &h};
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, &ro, &a, &res, &err), IPVM_ETASKFAILED);
    /* the forged receipt (ran of another invocation) was refused: task 0 executed */
    IPVM_ASSERT(!res.receipts[0].replayed);
    IPVM_ASSERT_EQ(h.verified, 0);
    IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 2);
    /* task 1 denied: error receipt with the hook's reason; task 2 awaits it and fails */
    char s[400];
    ipvm_ipld_summary(res.receipts[1].receipt.out, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "IPVM_EDENIED");
    IPVM_ASSERT_STRCONTAINS(s, "no UCAN grants");
    IPVM_ASSERT(!res.receipts[2].receipt.ok);
    IPVM_ASSERT_EQ(e.fx.calls, 1);
    IPVM_ASSERT_EQ(h.items, 2); /* the denied task was never looked up on the network */
    /* a conflict in k-of-n turns an ok result into an error receipt */
    h.forge = false;
    h.deny_second = false;
    h.conflict = true;
    ipvm_workflow_t *wf2 = wf_json(
        &e, &a, ipvm_arena_printf(&a, "{\"tasks\":[%s]}", task_js(&a, "add_one", "7", "", NULL)));
    h.wf = wf2;
    h.silent = true;
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf2, &ro, &a, &res, &err), IPVM_ETASKFAILED);
    ipvm_ipld_summary(res.receipts[0].receipt.out, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "IPVM_ECONFLICT");
    IPVM_ASSERT_STRCONTAINS(s, "2 of 3 nodes");
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* A generated workflow of chains and fans: every output right, batches respected. */
IPVM_TEST(sched, generated_chains_and_fans)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wf_gen_t g = {.chains = 20, .length = 10, .fans = 10, .width = 9, .rsc = RSC,
                        .func = "add_one", .base = 1};
    size_t n = ipvm__wf_gen_count(&g);
    int64_t *want = ipvm_arena_alloc(&a, n * sizeof *want);
    ipvm_buf_t js = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wf_generate(&g, &js, want));
    ipvm_workflow_t *wf = wf_json(&e, &a, (const char *)js.data);
    IPVM_ASSERT_EQ(wf->ntasks, 300);
    ipvm_sched_result_t res;
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf, NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ(res.executed, 300);
    for (size_t i = 0; i < n; i++)
        IPVM_ASSERT_EQ(value_of(&res.receipts[i]), want[i]);
    IPVM_ASSERT(res.stats.commits >= 1 && res.stats.commits < 300);
    IPVM_ASSERT_OK(ipvm_sched_run(e.s, wf, NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ(res.replayed, 300);
    IPVM_ASSERT_EQ(e.fx.calls, 300);
    ipvm_buf_dispose(&js);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

static int h_sign_fail(void *data, const ipvm_receipt_t *r, const uint8_t *cbor, size_t len,
                       ipvm_buf_t *sig, ipvm_error_t *err)
{
    (void)data, (void)r, (void)cbor, (void)len, (void)sig;
    return ipvm_error_set(err, IPVM_ECRYPTO, IPVM_NO_OFFSET, "the signing key is locked");
}

/* A node told to sign its receipts stores none it could not sign: the run stops with why. */
IPVM_TEST(sched, hooks_sign_failure_stops)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_sched_trust_hooks_t tr = {.issuer = "did:key:z6MkTest", .sign = h_sign_fail};
    ipvm_sched_set_trust_hooks(e.s, &tr);
    ipvm_workflow_t *wf = wf_file(&e, &a, "test-workflow-add-one.json");
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res, &err), IPVM_ECRYPTO);
    IPVM_ASSERT_STRCONTAINS(err.msg, "the signing key is locked");
    IPVM_ASSERT_EQ(res.executed, 0);
    IPVM_ASSERT_EQ(res.skipped, 2);
    ipvm_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(e.db, 0, &st, NULL));
    int64_t n = -1;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(st, NULL, &n, NULL));
    IPVM_ASSERT_EQ(n, 0);
    ipvm_store_close(st);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* The network knows the receipt of an instruction outside the workflow (with the invocation
 * that ties it to that instruction): the await is accepted, the receipt verified, stored and
 * used. Without the invocation block it cannot be tied to the instruction and is refused. */
typedef struct {
    const ipvm_workflow_t *src; /* its task 0 is the instruction the network knows */
    bool with_block;
    int calls;
} outside_net_t;

static int o_find(void *data, ipvm_sched_lookup_t *items, size_t n, int timeout_ms,
                  ipvm_arena_t *arena)
{
    outside_net_t *o = data;
    (void)timeout_ms;
    o->calls++;
    const ipvm_task_t *t = &o->src->tasks[0];
    for (size_t i = 0; i < n; i++) {
        if (!ipvm_cid_equal(items[i].instruction, &t->instruction))
            continue;
        IPVM_ASSERT(items[i].invocation == NULL);
        ipvm_receipt_t r;
        IPVM_ASSERT_OK(ipvm_receipt_make(arena, t, true, ipvm_ipld_new_int(arena, 42), NULL, &r,
                                         NULL));
        ipvm_buf_t b = IPVM_BUF_INIT, inv = IPVM_BUF_INIT;
        IPVM_ASSERT_OK(ipvm_receipt_encode(&r, &b, NULL));
        items[i].receipt = ipvm_arena_memdup(arena, b.data, b.len);
        items[i].receipt_len = b.len;
        if (o->with_block) {
            ipvm_ipld_t *m = ipvm_ipld_new_map(arena, 1);
            IPVM_ASSERT_OK(ipvm_ipld_map_set_cstr(arena, m, "task", t->task));
            IPVM_ASSERT_OK(ipvm_dagcbor_encode(m, &inv, NULL));
            items[i].invocation_block = ipvm_arena_memdup(arena, inv.data, inv.len);
            items[i].invocation_block_len = inv.len;
        }
        snprintf(items[i].source, sizeof items[i].source, "dht");
        items[i].found = true;
        ipvm_buf_dispose(&b);
        ipvm_buf_dispose(&inv);
    }
    return 0;
}

IPVM_TEST(sched, outside_awaits_from_network)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const char *t0 = task_js(&a, "add_one", "41", "", NULL);
    ipvm_workflow_t *src = NULL;
    const char *srcjs = ipvm_arena_printf(&a, "{\"tasks\":[%s]}", t0);
    IPVM_ASSERT_OK(ipvm_workflow_parse(srcjs, strlen(srcjs), NULL, &a, &src, NULL));
    const char *js = ipvm_arena_printf(
        &a, "{\"tasks\":[%s]}",
        task_js(&a, "add_one", await_of(&a, "ok", cid_of_task(&a, t0)), "", NULL));
    outside_net_t o = {src, false, 0};
    ipvm_sched_net_hooks_t net = {.data = &o, .find_receipts = o_find};
    ipvm_sched_set_net_hooks(e.s, &net);
    /* without the invocation block: known at parse time, refused before use */
    ipvm_workflow_t *wf = wf_json(&e, &a, js);
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res, &err), IPVM_ETASKFAILED);
    char s[300];
    ipvm_ipld_summary(res.receipts[0].receipt.out, s, sizeof s);
    IPVM_ASSERT_STRCONTAINS(s, "IPVM_EAWAIT");
    /* with it: verified, stored under source "dht", used */
    o.with_block = true;
    IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, wf, NULL, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 43);
    ipvm_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(e.db, 0, &st, NULL));
    ipvm_receipt_row_t row;
    IPVM_ASSERT_OK(ipvm_store_find_receipt(st, &src->tasks[0].instruction, &a, &row, NULL));
    IPVM_ASSERT_STREQ(row.source, "dht");
    ipvm_store_close(st);
    IPVM_ASSERT(o.calls >= 3);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* ---- ipvm_sched_start: the same runs, with no thread waiting for them ------------------------ */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int ndone; /* on_done calls: must end at exactly 1 */
    int rc;
    ipvm_error_t err;
    ipvm_sched_result_t *res;
    pthread_t caller;
    bool on_caller;
} waiter_t;

static void waiter_init(waiter_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->c, NULL);
    w->caller = pthread_self();
}

static void waiter_dispose(waiter_t *w)
{
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
}

static void on_done(int rc, ipvm_sched_result_t *res, const ipvm_error_t *err, void *data)
{
    waiter_t *w = data;
    pthread_mutex_lock(&w->m);
    w->rc = rc;
    w->err = *err;
    w->res = res;
    w->on_caller = pthread_equal(pthread_self(), w->caller) != 0;
    w->ndone++;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
}

static int waiter_wait(waiter_t *w)
{
    pthread_mutex_lock(&w->m);
    while (w->ndone == 0)
        pthread_cond_wait(&w->c, &w->m);
    int rc = w->rc;
    pthread_mutex_unlock(&w->m);
    return rc;
}

/* ipvm_sched_start then wait for on_done: what ipvm_sched_run returns. */
static int start_wait(env_t *e, const ipvm_workflow_t *wf, const ipvm_sched_run_opts_t *ro,
                      ipvm_arena_t *a, ipvm_sched_result_t *res, ipvm_error_t *err)
{
    waiter_t w;
    waiter_init(&w);
    IPVM_ASSERT_OK(ipvm_sched_start(e->s, wf, ro, a, res, on_done, &w, err));
    int rc = waiter_wait(&w);
    IPVM_ASSERT_EQ(w.ndone, 1);
    IPVM_ASSERT(!w.on_caller); /* delivered by the scheduler's threads */
    IPVM_ASSERT(w.res == res);
    if (err)
        *err = w.err;
    waiter_dispose(&w);
    return rc;
}

/* Executes, reports only committed receipts in order, replays; a cancel stops it with the
 * running task committed and the rest resumable; a timeout stops it in time (the timer steps
 * a run that nothing else moves on). */
IPVM_TEST(sched, start_runs_replays_cancels_times_out)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = wf_file(&e, &a, "test-workflow-add-one.json");
    events_t ev = {.db = e.db};
    ipvm_sched_run_opts_t ro = {.name = "test", .on_event = on_event, .event_data = &ev};
    ipvm_sched_result_t res;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(start_wait(&e, wf, &ro, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(res.executed, 2);
    IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 2);
    IPVM_ASSERT_EQ(value_of(&res.receipts[1]), 3);
    char c[IPVM_CID_MAX_STR];
    IPVM_ASSERT_STREQ(ipvm_cid_str(&res.receipts[0].receipt.cid, c),
                      "bafyrmih5ujsrxcwwbeeqowgy434da36ie3cbar3wr5yv2vnrmzmxdylicm");
    IPVM_ASSERT_EQ(ev.kinds[0], IPVM_SCHED_WORKFLOW_STARTED);
    IPVM_ASSERT_EQ(ev.kinds[ev.n - 1], IPVM_SCHED_WORKFLOW_DONE);
    IPVM_ASSERT_EQ(count_kind(&ev, IPVM_SCHED_TASK_STARTED), 2);
    IPVM_ASSERT_EQ(count_kind(&ev, IPVM_SCHED_TASK_FINISHED), 2);
    IPVM_ASSERT_EQ(ev.committed_checks, 2);
    events_t ev2 = {0};
    ro.event_data = &ev2;
    ipvm_sched_result_t res2;
    IPVM_ASSERT_OK_ERR(start_wait(&e, wf, &ro, &a, &res2, &err), &err);
    IPVM_ASSERT_EQ(res2.replayed, 2);
    IPVM_ASSERT_EQ(e.fx.calls, 2);
    IPVM_ASSERT_EQ(count_kind(&ev2, IPVM_SCHED_TASK_REPLAYED), 2);

    /* cancel at the third task's start, then resume */
    wf = wf_json(&e, &a, chain_js(&a, 6, "add_one"));
    ipvm_sched_cancel_t cancel = {0};
    events_t ev3 = {.cancel_at_start = &cancel, .cancel_at = 3};
    ipvm_sched_run_opts_t ro3 = {.on_event = on_event, .event_data = &ev3, .cancel = &cancel};
    IPVM_ASSERT_ERR(start_wait(&e, wf, &ro3, &a, &res, &err), IPVM_ECANCELED);
    /* (its first two tasks are the add-one workflow's: replayed) */
    IPVM_ASSERT_EQ(res.replayed, 2);
    IPVM_ASSERT_EQ(res.executed, 3); /* the third started was running: it committed */
    IPVM_ASSERT_EQ(res.skipped, 1);
    IPVM_ASSERT_EQ(count_kind(&ev3, IPVM_SCHED_TASK_SKIPPED), 1);
    IPVM_ASSERT_OK_ERR(start_wait(&e, wf, NULL, &a, &res2, &err), &err);
    IPVM_ASSERT_EQ(res2.replayed, 5);
    IPVM_ASSERT_EQ(res2.executed, 1);
    for (size_t i = 0; i < 6; i++)
        IPVM_ASSERT_EQ(value_of(&res2.receipts[i]), (int64_t)i + 2);

    /* a workflow timeout with nothing completing meanwhile */
    const char *js = ipvm_arena_printf(&a, "{\"tasks\":[%s,%s]}",
                                       task_js(&a, "sleep", "5000", "", NULL),
                                       task_js(&a, "sleep", "5001", "", NULL));
    ipvm_sched_run_opts_t ro4 = {.timeout_ms = 150};
    uint64_t t0 = ipvm_now_ns();
    IPVM_ASSERT_ERR(start_wait(&e, wf_json(&e, &a, js), &ro4, &a, &res, &err),
                    IPVM_EWORKFLOWTIMEOUT);
    uint64_t ms = (ipvm_now_ns() - t0) / 1000000u;
    IPVM_ASSERT_MSG(ms < 3000, "took %llu ms", (unsigned long long)ms);
    IPVM_ASSERT_STRCONTAINS(err.msg, "ran out of time");
    IPVM_ASSERT_EQ(res.executed + res.skipped, 2);
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* Many started runs at once, from one thread, all in flight together: each ends exactly once
 * with its own values; two runs of one workflow execute each task once between them (the
 * second parks on the first's claims and replays). start returns before the run is done. */
IPVM_TEST(sched, start_many_at_once)
{
    enum { N = 40 };
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf[N];
    for (int i = 0; i < N; i++) {
        const char *t0 = task_js(&a, "add_one", ipvm_arena_printf(&a, "%d", 1000 * i), "", NULL);
        const char *t1 = task_js(&a, "add_one", await_of(&a, "ok", cid_of_task(&a, t0)), "", NULL);
        wf[i] = wf_json(&e, &a, ipvm_arena_printf(&a, "{\"tasks\":[%s,%s]}", t0, t1));
    }
    const char *tasks = "";
    for (int i = 0; i < 4; i++)
        tasks = ipvm_arena_printf(&a, "%s%s%s", tasks, i ? "," : "",
                                  task_js(&a, "sleep", ipvm_arena_printf(&a, "%d", 40 + i), "",
                                          NULL));
    ipvm_workflow_t *shared = wf_json(&e, &a, ipvm_arena_printf(&a, "{\"tasks\":[%s]}", tasks));
    waiter_t w[N + 2];
    ipvm_sched_result_t res[N + 2];
    ipvm_arena_t ra[N + 2]; /* a run's result is built on the scheduler's threads: its own */
    ipvm_error_t err;
    ipvm_error_clear(&err);
    for (int i = 0; i < N + 2; i++) {
        waiter_init(&w[i]);
        ipvm_arena_init(&ra[i]);
        IPVM_ASSERT_OK(ipvm_sched_start(e.s, i < N ? wf[i] : shared, NULL, &ra[i], &res[i],
                                        on_done, &w[i], &err));
    }
    pthread_mutex_lock(&w[N].m); /* its tasks sleep 40 ms: it cannot be over yet */
    IPVM_ASSERT_EQ(w[N].ndone, 0);
    pthread_mutex_unlock(&w[N].m);
    for (int i = 0; i < N + 2; i++) {
        IPVM_ASSERT_OK_ERR(waiter_wait(&w[i]), &w[i].err);
        IPVM_ASSERT_EQ(w[i].ndone, 1);
        IPVM_ASSERT(!w[i].on_caller);
        if (i < N) {
            IPVM_ASSERT_EQ(res[i].executed, 2);
            IPVM_ASSERT_EQ(value_of(&res[i].receipts[0]), 1000 * i + 1);
            IPVM_ASSERT_EQ(value_of(&res[i].receipts[1]), 1000 * i + 2);
        }
    }
    IPVM_ASSERT_EQ(res[N].executed + res[N + 1].executed, 4);
    IPVM_ASSERT_EQ(res[N].replayed + res[N + 1].replayed, 4);
    IPVM_ASSERT_EQ(e.fx.calls, 2 * N + 4);
    for (int i = 0; i < N + 2; i++) {
        IPVM_ASSERT_EQ(w[i].ndone, 1); /* still once */
        waiter_dispose(&w[i]);
        ipvm_arena_dispose(&ra[i]);
    }
    ipvm_arena_dispose(&a);
    env_close(&e);
}

/* ---- writer threads reused across runs --------------------------------------------------- */
static void *no_op_thread(void *arg)
{
    return arg;
}

/* The threads of this process. The first call creates and joins a thread first: ThreadSanitizer
 * starts a thread of its own at the process's first pthread_create, which must not count as
 * one of the scheduler's. */
static int threads_now(void)
{
    static bool primed;
    pthread_t t;
    if (!primed && pthread_create(&t, NULL, no_op_thread, NULL) == 0) {
        pthread_join(t, NULL);
        primed = true;
    }

    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static uint64_t writers_created(ipvm_sched_t *s)
{
    uint64_t created;
    size_t parked;
    ipvm__sched_writers(s, &created, &parked);
    return created;
}

/* Waits (up to 10 s) until `want` writer threads are parked; returns how many are. */
static size_t wait_parked(ipvm_sched_t *s, size_t want)
{
    uint64_t created;
    size_t parked = 0;
    for (int i = 0; i < 10000; i++) {
        ipvm__sched_writers(s, &created, &parked);
        if (parked >= want)
            break;
        usleep(1000);
    }
    return parked;
}

/* Which thread each started run's setup ran on (its WORKFLOW_STARTED event: the setup is the
 * writer's), and a barrier there: each run waits until `gate` runs have reached it, so that
 * that many runs hold a writer at once. */
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int arrived, gate, n;
    long tid[64];
} writer_seen_t;

static void writer_event(const ipvm_sched_event_t *ev, void *data)
{
    writer_seen_t *w = data;
    if (ev->kind != IPVM_SCHED_WORKFLOW_STARTED)
        return;
    pthread_mutex_lock(&w->m);
    if (w->n < 64)
        w->tid[w->n++] = (long)syscall(SYS_gettid);
    w->arrived++;
    pthread_cond_broadcast(&w->c);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while (w->arrived < w->gate && pthread_cond_timedwait(&w->c, &w->m, &ts) == 0)
        ;
    pthread_mutex_unlock(&w->m);
}

static ipvm_workflow_t *one_add_one(env_t *e, ipvm_arena_t *a, int n)
{
    const char *t = task_js(a, "add_one", ipvm_arena_printf(a, "%d", n), "", NULL);
    return wf_json(e, a, ipvm_arena_printf(a, "{\"tasks\":[%s]}", t));
}

/* BURST started runs at once, each held in its setup until all have a writer: the parked
 * writers are taken (BURST - parked threads created, no more), and afterwards exactly
 * IPVM__SCHED_WRITERS_PARKED stay parked, the rest exit. */
static void writers_burst(env_t *e, writer_seen_t *seen, int round, size_t parked)
{
    enum { BURST = 24 };
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf[BURST];
    for (int k = 0; k < BURST; k++)
        wf[k] = one_add_one(e, &a, 1000000 * (round + 1) + k);
    seen->arrived = 0;
    seen->gate = BURST;
    int threads = threads_now() - (int)parked; /* every writer alive is parked now */
    uint64_t before = writers_created(e->s);
    ipvm_sched_run_opts_t ro = {.on_event = writer_event, .event_data = seen};
    waiter_t w[BURST];
    ipvm_sched_result_t res[BURST];
    ipvm_arena_t ra[BURST];
    ipvm_error_t err;
    ipvm_error_clear(&err);
    for (int k = 0; k < BURST; k++) {
        waiter_init(&w[k]);
        ipvm_arena_init(&ra[k]);
        IPVM_ASSERT_OK(ipvm_sched_start(e->s, wf[k], &ro, &ra[k], &res[k], on_done, &w[k], &err));
    }
    for (int k = 0; k < BURST; k++) {
        IPVM_ASSERT_OK_ERR(waiter_wait(&w[k]), &w[k].err);
        IPVM_ASSERT_EQ(res[k].executed, 1);
        IPVM_ASSERT_EQ(value_of(&res[k].receipts[0]), 1000000 * (round + 1) + k + 1);
        waiter_dispose(&w[k]);
        ipvm_arena_dispose(&ra[k]);
    }
    IPVM_ASSERT_EQ(seen->arrived, BURST);
    IPVM_ASSERT_EQ_U64(writers_created(e->s) - before, BURST - parked);
    IPVM_ASSERT_EQ(wait_parked(e->s, IPVM__SCHED_WRITERS_PARKED), IPVM__SCHED_WRITERS_PARKED);
    /* and the others have exited: one still between its run's end and its exit when the next
     * burst takes a parked writer would park in its place and be taken too */
    for (int i = 0; i < 10000 && threads_now() != threads + IPVM__SCHED_WRITERS_PARKED; i++)
        usleep(1000);
    IPVM_ASSERT_EQ(threads_now(), threads + IPVM__SCHED_WRITERS_PARKED);
    ipvm_arena_dispose(&a);
}

/* Runs one after another, blocking (ipvm_sched_run) or started, all get the same writer
 * thread: one thread is created for 40 runs, and every started run's setup ran on the same
 * kernel thread. Bursts larger than the parking take the parked threads first; the scheduler's
 * free joins them all (the process has as many threads after as before). */
IPVM_TEST(sched, writers_reused)
{
    enum { SEQ = 20 };
    int threads0 = threads_now();
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_sched_result_t res;
    for (int i = 0; i < SEQ; i++) { /* each executes a task: each needs a writer */
        IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, one_add_one(&e, &a, 100 * i), NULL, &a, &res, &err),
                           &err);
        IPVM_ASSERT_EQ(res.executed, 1);
        IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 100 * i + 1);
        IPVM_ASSERT_EQ(wait_parked(e.s, 1), 1); /* its writer is parked again */
    }
    IPVM_ASSERT_EQ_U64(writers_created(e.s), 1);
    writer_seen_t seen;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.m, NULL);
    pthread_cond_init(&seen.c, NULL);
    ipvm_sched_run_opts_t ro = {.on_event = writer_event, .event_data = &seen};
    for (int i = 0; i < SEQ; i++) {
        IPVM_ASSERT_OK_ERR(start_wait(&e, one_add_one(&e, &a, 100 * i + 50), &ro, &a, &res, &err),
                           &err);
        IPVM_ASSERT_EQ(res.executed, 1);
        IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 100 * i + 51);
        IPVM_ASSERT_EQ(wait_parked(e.s, 1), 1);
    }
    IPVM_ASSERT_EQ_U64(writers_created(e.s), 1);
    IPVM_ASSERT_EQ(seen.n, SEQ);
    for (int i = 1; i < SEQ; i++)
        IPVM_ASSERT_EQ(seen.tid[i], seen.tid[0]);
    writers_burst(&e, &seen, 0, 1);
    writers_burst(&e, &seen, 1, IPVM__SCHED_WRITERS_PARKED);
    IPVM_ASSERT_EQ_U64(writers_created(e.s), 1 + 23 + 24 - IPVM__SCHED_WRITERS_PARKED);
    pthread_mutex_destroy(&seen.m);
    pthread_cond_destroy(&seen.c);
    ipvm_arena_dispose(&a);
    env_close(&e);
    IPVM_ASSERT_EQ(threads_now(), threads0);
}

/* A thread of this process (/proc/self/task/TID): whether it sleeps, and how often it was
 * switched out so far (voluntary + involuntary). */
static bool thread_sleeping(long tid, uint64_t *switches)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the state follows the (name) */
    bool sleeping = p && p[1] == ' ' && p[2] == 'S';
    snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
    f = fopen(path, "r");
    *switches = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
            sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
            *switches += v;
    }
    if (f)
        fclose(f);
    return sleeping;
}

/* Waits (up to 10 s) until the thread sleeps; returns its switch count then. */
static uint64_t wait_sleeping(long tid)
{
    uint64_t sw = 0;
    for (int i = 0; i < 10000 && !thread_sleeping(tid, &sw); i++)
        usleep(1000);
    IPVM_ASSERT(thread_sleeping(tid, &sw));
    return sw;
}

typedef struct {
    long tid;         /* the parked writer */
    uint64_t parked;  /* its switches while parked, before the run */
    uint64_t settled; /* its switches once asleep after the run's commit */
    int finished;
} end_watch_t;

/* TASK_FINISHED of a blocking run comes on its coordinator once the commit is reported: the
 * writer has nothing more to do for the run and goes back to sleep. */
static void end_event(const ipvm_sched_event_t *ev, void *data)
{
    end_watch_t *w = data;
    if (ev->kind != IPVM_SCHED_TASK_FINISHED)
        return;
    w->finished++;
    w->settled = wait_sleeping(w->tid);
}

/* The end of a run gives its writer back without waking it: a blocking run whose writer (the
 * one parked thread) committed and went back to sleep ends, and returns, with that thread
 * still asleep and not switched in since (its switch counts unchanged), and it is parked at
 * once, with no wait. Three times in a row, the same thread. */
IPVM_TEST(sched, writer_end_no_wake)
{
    env_t e;
    env_open(&e, 2);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_sched_result_t res;
    writer_seen_t seen;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.m, NULL);
    pthread_cond_init(&seen.c, NULL);
    ipvm_sched_run_opts_t so = {.on_event = writer_event, .event_data = &seen};
    /* a started run's setup runs on its writer: that names the thread */
    IPVM_ASSERT_OK_ERR(start_wait(&e, one_add_one(&e, &a, 7), &so, &a, &res, &err), &err);
    IPVM_ASSERT_EQ(seen.n, 1);
    IPVM_ASSERT_EQ(wait_parked(e.s, 1), 1);
    end_watch_t w = {.tid = seen.tid[0]};
    ipvm_sched_run_opts_t ro = {.on_event = end_event, .event_data = &w};
    for (int i = 0; i < 3; i++) {
        w.parked = wait_sleeping(w.tid);
        w.finished = 0;
        IPVM_ASSERT_OK_ERR(ipvm_sched_run(e.s, one_add_one(&e, &a, 10 * i + 20), &ro, &a, &res,
                                          &err),
                           &err);
        IPVM_ASSERT_EQ(res.executed, 1);
        IPVM_ASSERT_EQ(value_of(&res.receipts[0]), 10 * i + 21);
        IPVM_ASSERT_EQ(w.finished, 1);
        IPVM_ASSERT(w.settled > w.parked); /* it woke for the commit: it is the run's writer */
        uint64_t created;
        size_t parked;
        ipvm__sched_writers(e.s, &created, &parked);
        IPVM_ASSERT_EQ(parked, 1); /* parked by the run's end itself */
        IPVM_ASSERT_EQ_U64(created, 1);
        usleep(20000); /* time for a wake-up at the end, if there were one, to show */
        IPVM_ASSERT_EQ_U64(wait_sleeping(w.tid), w.settled);
    }
    pthread_mutex_destroy(&seen.m);
    pthread_cond_destroy(&seen.c);
    ipvm_arena_dispose(&a);
    env_close(&e);
}
