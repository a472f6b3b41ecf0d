/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the replay walk (src/sched/replay.c), whose checks of the stored receipts run on the
 * workers: a receipt whose bytes no longer hash to its CID is not replayed (its task is
 * executed again), and when a task has two usable receipts linked to the workflow the ok one,
 * then the oldest, is the one replayed, as before the checks moved to the workers. */
#define _GNU_SOURCE
#include "test.h"

#include "fake_exec.h"
#include "workflow/workflow_int.h"

#include <sqlite3.h>

#define RSC "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

static void sql(const char *db, const char *q)
{
    sqlite3 *h = NULL;
    IPVM_ASSERT(sqlite3_open(db, &h) == SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    char *msg = NULL;
    int rc = sqlite3_exec(h, q, NULL, NULL, &msg);
    IPVM_ASSERT_MSG(rc == SQLITE_OK && sqlite3_changes(h) == 1, "%s: %s", q, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(h);
}

static int64_t value_of(const ipvm_sched_receipt_t *r)
{
    int64_t v = -1;
    IPVM_ASSERT(r->task != NULL && r->receipt.ok);
    IPVM_ASSERT_OK(ipvm_ipld_get_i64(ipvm_receipt_value(&r->receipt), &v));
    return v;
}

/* Stores a second, valid, ok receipt for task t (value v) linked to the workflow, and makes it
 * the oldest of the database. */
static void second_receipt(const char *db, ipvm_arena_t *a, const ipvm_workflow_t *wf, size_t t,
                           int64_t v)
{
    ipvm_receipt_t r;
    IPVM_ASSERT_OK(ipvm_receipt_make(a, &wf->tasks[t], true, ipvm_ipld_new_int(a, v), NULL, &r,
                                     NULL));
    ipvm_buf_t out = IPVM_BUF_INIT, meta = IPVM_BUF_INIT, prf = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(r.out, &out, NULL));
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(r.meta, &meta, NULL));
    IPVM_ASSERT_OK(ipvm_dagcbor_encode(r.prf, &prf, NULL));
    ipvm_receipt_row_t row;
    memset(&row, 0, sizeof row);
    row.cid = r.cid;
    row.ran = r.ran;
    row.instruction = wf->tasks[t].instruction;
    row.out = out.data, row.out_len = out.len;
    row.meta = meta.data, row.meta_len = meta.len;
    row.prf = prf.data, row.prf_len = prf.len;
    row.version = IPVM_RECEIPT_VERSION;
    row.ok = true;
    row.source = "local";
    ipvm_store_t *st = NULL;
    IPVM_ASSERT_OK(ipvm_store_open(db, 0, &st, NULL));
    IPVM_ASSERT_OK(ipvm_store_put_receipts(st, &wf->cid, &row, 1, NULL, NULL));
    ipvm_store_close(st);
    char c[IPVM_CID_MAX_STR];
    char *q = ipvm_arena_printf(a, "UPDATE receipts SET created = 0 WHERE cid = '%s'",
                                ipvm_cid_str(&r.cid, c));
    sql(db, q);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&meta);
    ipvm_buf_dispose(&prf);
}

IPVM_TEST(sched, replay_checks_stored_receipts)
{
    fake_exec_t fx;
    memset(&fx, 0, sizeof fx);
    char db[512];
    snprintf(db, sizeof db, "%s/ipvm.db", ipvm_test_tmpdir());
    ipvm_sched_executor_t x = fake_exec(&fx);
    ipvm_sched_opts_t o = {.db_path = db, .executor = &x, .threads = 2};
    ipvm_sched_t *s = NULL;
    IPVM_ASSERT_OK(ipvm_sched_new(&o, &s, NULL));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    /* 600 tasks: the checks go to the workers in several jobs */
    ipvm__wf_gen_t g = {.chains = 30, .length = 10, .fans = 30, .width = 9, .rsc = RSC,
                        .func = "add_one", .base = 1};
    size_t n = ipvm__wf_gen_count(&g);
    int64_t *want = ipvm_arena_alloc(&a, n * sizeof *want);
    ipvm_buf_t js = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wf_generate(&g, &js, want));
    ipvm_workflow_t *wf = NULL;
    IPVM_ASSERT_OK(ipvm_sched_parse(s, (const char *)js.data, js.len, &a, &wf, NULL));
    ipvm_sched_result_t res;
    IPVM_ASSERT_OK(ipvm_sched_run(s, wf, NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ(res.executed, n);
    /* one stored result edited: its bytes no longer hash to the receipt's CID */
    size_t bad = 417, dup = 123, dup2 = 555;
    char c[IPVM_CID_MAX_STR];
    sql(db, ipvm_arena_printf(&a, "UPDATE receipts SET out = X'8262'||X'6f6b'||X'1903e7' "
                                  "WHERE cid = '%s'",
                              ipvm_cid_str(&res.receipts[bad].receipt.cid, c)));
    /* two tasks with a second ok receipt, older than the first: that one wins */
    second_receipt(db, &a, wf, dup, 12345);
    second_receipt(db, &a, wf, dup2, 54321);
    IPVM_ASSERT_OK(ipvm_sched_run(s, wf, NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ(res.executed, 1);
    IPVM_ASSERT_EQ(res.replayed, n - 1);
    IPVM_ASSERT_EQ(fx.calls, (int)n + 1);
    for (size_t i = 0; i < n; i++) {
        int64_t v = i == dup ? 12345 : i == dup2 ? 54321 : want[i];
        IPVM_ASSERT_MSG(value_of(&res.receipts[i]) == v, "task %zu", i);
        IPVM_ASSERT(res.receipts[i].replayed == (i != bad));
        ipvm_cid_t cid;
        IPVM_ASSERT_OK(ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                                       res.receipts[i].cbor, res.receipts[i].cbor_len));
        IPVM_ASSERT(ipvm_cid_equal(&cid, &res.receipts[i].receipt.cid));
    }
    ipvm_buf_dispose(&js);
    ipvm_arena_dispose(&a);
    ipvm_sched_free(s);
}

/* Many check chunks (3,000 tasks: a dozen of them) go to one checker at a time, which takes
 * each chunk queued while it runs: every replayed receipt has the stored bytes and CID of the
 * first run, and a damaged receipt in the first, a middle and the last chunk is each detected
 * (its task executed again) as with one job per chunk. */
IPVM_TEST(sched, replay_many_chunks_one_checker)
{
    fake_exec_t fx;
    memset(&fx, 0, sizeof fx);
    char db[512];
    snprintf(db, sizeof db, "%s/ipvm.db", ipvm_test_tmpdir());
    ipvm_sched_executor_t x = fake_exec(&fx);
    ipvm_sched_opts_t o = {.db_path = db, .executor = &x, .threads = 2};
    ipvm_sched_t *s = NULL;
    IPVM_ASSERT_OK(ipvm_sched_new(&o, &s, NULL));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wf_gen_t g = {.chains = 150, .length = 10, .fans = 150, .width = 9, .rsc = RSC,
                        .func = "add_one", .base = 1};
    size_t n = ipvm__wf_gen_count(&g);
    IPVM_ASSERT_EQ(n, 3000);
    int64_t *want = ipvm_arena_alloc(&a, n * sizeof *want);
    ipvm_buf_t js = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wf_generate(&g, &js, want));
    ipvm_workflow_t *wf = NULL;
    IPVM_ASSERT_OK(ipvm_sched_parse(s, (const char *)js.data, js.len, &a, &wf, NULL));
    ipvm_sched_result_t first;
    IPVM_ASSERT_OK(ipvm_sched_run(s, wf, NULL, &a, &first, NULL));
    IPVM_ASSERT_EQ(first.executed, n);
    /* the walk goes in receipt CID order, so damage the rows that come first, in the middle
     * and last in that order */
    size_t *by_cid = ipvm_arena_alloc(&a, n * sizeof *by_cid);
    char **text = ipvm_arena_alloc(&a, n * sizeof *text);
    for (size_t i = 0; i < n; i++) {
        char c[IPVM_CID_MAX_STR];
        text[i] = ipvm_arena_strdup(&a, ipvm_cid_str(&first.receipts[i].receipt.cid, c));
        by_cid[i] = i;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort of the task numbers by receipt CID text */
        for (size_t j = i; j > 0 && strcmp(text[by_cid[j - 1]], text[by_cid[j]]) > 0; j--) {
            size_t t = by_cid[j];
            by_cid[j] = by_cid[j - 1];
            by_cid[j - 1] = t;
        }
    size_t bad[3] = {by_cid[0], by_cid[n / 2], by_cid[n - 1]};
    for (int k = 0; k < 3; k++)
        sql(db, ipvm_arena_printf(&a, "UPDATE receipts SET out = X'8262'||X'6f6b'||X'1903e7' "
                                      "WHERE cid = '%s'",
                                  text[bad[k]]));
    ipvm_sched_result_t res;
    IPVM_ASSERT_OK(ipvm_sched_run(s, wf, NULL, &a, &res, NULL));
    IPVM_ASSERT_EQ(res.executed, 3);
    IPVM_ASSERT_EQ(res.replayed, n - 3);
    IPVM_ASSERT_EQ(fx.calls, (int)n + 3);
    for (size_t i = 0; i < n; i++) {
        bool damaged = i == bad[0] || i == bad[1] || i == bad[2];
        IPVM_ASSERT_MSG(value_of(&res.receipts[i]) == want[i], "task %zu", i);
        IPVM_ASSERT_MSG(res.receipts[i].replayed == !damaged, "task %zu", i);
        /* the same receipt as the first run's: same CID, same bytes */
        IPVM_ASSERT(ipvm_cid_equal(&res.receipts[i].receipt.cid, &first.receipts[i].receipt.cid));
        IPVM_ASSERT_EQ(res.receipts[i].cbor_len, first.receipts[i].cbor_len);
        IPVM_ASSERT(memcmp(res.receipts[i].cbor, first.receipts[i].cbor,
                           first.receipts[i].cbor_len) == 0);
        ipvm_cid_t cid;
        IPVM_ASSERT_OK(ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256,
                                       res.receipts[i].cbor, res.receipts[i].cbor_len));
        IPVM_ASSERT(ipvm_cid_equal(&cid, &res.receipts[i].receipt.cid));
    }
    ipvm_buf_dispose(&js);
    ipvm_arena_dispose(&a);
    ipvm_sched_free(s);
}
