/* SPDX-License-Identifier: Apache-2.0 */
/* store/: Homestar's schema, receipts and workflows round trips, group commit, bulk lookups. */
#include "store/store_int.h"
#include "store_fixture.h"

#include <stdlib.h>

/* The columns of a table as "name type notnull pk;" ... */
static void table_info(sqlite3 *db, const char *table, char *out, size_t size)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('%s')",
             table);
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    size_t n = 0;
    out[0] = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        n += (size_t)snprintf(out + n, size - n, "%s %s %d %d;", sqlite3_column_text(st, 0),
                              sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
                              sqlite3_column_int(st, 3));
    sqlite3_finalize(st);
}

static long long pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Homestar's columns come first, with their exact types, NOT NULL and keys (reference
 * homestar.md §3.2); ours follow. */
IPVM_TEST(store, schema_homestar)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    sqlite3 *db = ipvm__store_db(s);
    char cols[2048];
    table_info(db, "receipts", cols, sizeof cols);
    IPVM_ASSERT_STREQ(cols, "cid TEXT 1 1;ran TEXT 1 0;instruction TEXT 1 0;out BLOB 1 0;"
                            "meta BLOB 1 0;issuer TEXT 0 0;prf BLOB 1 0;version TEXT 1 0;"
                            "fuel INTEGER 1 0;time_ns INTEGER 1 0;created INTEGER 1 0;"
                            "ok INTEGER 1 0;source TEXT 1 0;signature BLOB 0 0;");
    table_info(db, "workflows", cols, sizeof cols);
    IPVM_ASSERT_STREQ(cols, "cid TEXT 1 1;name TEXT 0 0;num_tasks INTEGER 1 0;"
                            "resources BLOB 1 0;created_at TIMESTAMP 1 0;"
                            "completed_at TIMESTAMP 0 0;status TEXT 1 0;retries INTEGER 1 0;"
                            "workflow BLOB 0 0;failed INTEGER 1 0;");
    table_info(db, "workflows_receipts", cols, sizeof cols);
    IPVM_ASSERT_STREQ(cols, "workflow_cid TEXT 1 1;receipt_cid TEXT 1 2;");
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                                  "name = 'instruction_index' AND tbl_name = 'receipts'"),
                   1);
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT count(*) FROM pragma_foreign_key_list"
                                  "('workflows_receipts')"),
                   2);
    /* Homestar's CHECK on status is there: 'failed' is refused by the database itself. */
    IPVM_ASSERT(sqlite3_exec(db, "INSERT INTO workflows (cid, num_tasks, resources, status) "
                                 "VALUES ('x', 1, x'a0', 'failed')",
                             NULL, NULL, NULL) == SQLITE_CONSTRAINT_CHECK);
    IPVM_ASSERT_EQ(ipvm_store_schema_version(s), IPVM_STORE_SCHEMA);
    IPVM_ASSERT_EQ(pragma_int(db, "PRAGMA user_version"), IPVM_STORE_SCHEMA);
    IPVM_ASSERT_EQ(pragma_int(db, "PRAGMA application_id"), IPVM_STORE_APP_ID);
    IPVM_ASSERT_EQ(pragma_int(db, "PRAGMA foreign_keys"), 1);
    IPVM_ASSERT_EQ(pragma_int(db, "PRAGMA synchronous"), 2); /* FULL */
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    ipvm_store_close(s);
    /* Opening again keeps the version and migrates nothing. */
    s = fx_open(fx_db_path("ipvm.db"), 0);
    IPVM_ASSERT_EQ(ipvm_store_schema_version(s), IPVM_STORE_SCHEMA);
    ipvm_store_close(s);
}

IPVM_TEST(store, receipt_roundtrip)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    fx_receipt_t r;
    fx_receipt(&r, 300, true);
    r.row.ok = false; /* the store derives ok from out, not from this field */
    r.row.issuer = "did:key:z6MkExample";
    r.row.source = "peer:12D3KooWExample";
    r.row.signature = (const uint8_t *)"sig";
    r.row.signature_len = 3;
    r.row.fuel = UINT64_MAX; /* the whole u64 range survives */
    uint64_t before = ipvm_wall_ms();
    bool inserted = false;
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &r.row, &inserted, &err), &err);
    IPVM_ASSERT(inserted);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &r.row, &inserted, &err), &err);
    IPVM_ASSERT(!inserted); /* ON CONFLICT DO NOTHING */

    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_row_t got;
    IPVM_ASSERT_OK_ERR(ipvm_store_get_receipt(s, &r.row.cid, &a, &got, &err), &err);
    IPVM_ASSERT(ipvm_cid_equal(&got.cid, &r.row.cid));
    IPVM_ASSERT(ipvm_cid_equal(&got.ran, &r.row.ran));
    IPVM_ASSERT(ipvm_cid_equal(&got.instruction, &r.row.instruction));
    IPVM_ASSERT_MEMEQ(got.out, got.out_len, r.row.out, r.row.out_len);
    IPVM_ASSERT_MEMEQ(got.meta, got.meta_len, r.row.meta, r.row.meta_len);
    IPVM_ASSERT_MEMEQ(got.prf, got.prf_len, "\x80", 1);
    IPVM_ASSERT_MEMEQ(got.signature, got.signature_len, "sig", 3);
    IPVM_ASSERT_STREQ(got.issuer, "did:key:z6MkExample");
    IPVM_ASSERT_STREQ(got.source, "peer:12D3KooWExample");
    IPVM_ASSERT_STREQ(got.version, "0.2.0");
    IPVM_ASSERT_EQ_U64(got.fuel, UINT64_MAX);
    IPVM_ASSERT_EQ_U64(got.time_ns, r.row.time_ns);
    IPVM_ASSERT(got.ok);
    IPVM_ASSERT(got.created_ms >= (int64_t)before && got.created_ms <= (int64_t)ipvm_wall_ms());

    /* By instruction (the memoization key), and the text the database holds is base32. */
    ipvm_receipt_row_t found;
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(s, &r.row.instruction, &a, &found, &err), &err);
    IPVM_ASSERT(ipvm_cid_equal(&found.cid, &r.row.cid));
    char want[IPVM_CID_MAX_STR];
    ipvm_cid_str(&r.row.instruction, want);
    IPVM_ASSERT(want[0] == 'b');
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(s), "SELECT instruction FROM receipts", -1,
                                      &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), want);
    sqlite3_finalize(st);

    /* Absent ones: IPVM_ENOENT naming the CID. */
    ipvm_cid_t missing = fx_cid("nothing", 1);
    IPVM_ASSERT_ERR(ipvm_store_get_receipt(s, &missing, &a, &got, &err), IPVM_ENOENT);
    IPVM_ASSERT_STRCONTAINS(err.msg, ipvm_cid_str(&missing, want));
    IPVM_ASSERT_ERR(ipvm_store_find_receipt(s, &missing, &a, &got, &err), IPVM_ENOENT);
    /* Empty DAG-CBOR columns are refused before they reach the database. */
    r.row.prf_len = 0;
    IPVM_ASSERT_ERR(ipvm_store_put_receipt(s, &r.row, NULL, &err), IPVM_EINVAL);
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}

/* Several receipts for one instruction (an error, then a successful retry; a peer's copy): the
 * memoization lookup prefers ok, then the oldest. */
IPVM_TEST(store, find_prefers_ok)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    fx_receipt_t bad, good, good2;
    fx_receipt(&bad, 5, false);
    fx_receipt(&good, 5, true);
    fx_receipt(&good2, 5, true);
    good2.row.cid = fx_cid("receipt-later", 5);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &bad.row, NULL, &err), &err);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_row_t got;
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(s, &bad.row.instruction, &a, &got, &err), &err);
    IPVM_ASSERT(!got.ok);
    IPVM_ASSERT(ipvm_cid_equal(&got.cid, &bad.row.cid));
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &good.row, NULL, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &good2.row, NULL, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(s, &bad.row.instruction, &a, &got, &err), &err);
    IPVM_ASSERT(got.ok);
    IPVM_ASSERT(ipvm_cid_equal(&got.cid, &good.row.cid));
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}

typedef struct {
    int n;
    long last_fuel;
    bool ordered;
} walk_t;

static int walk_cb(const ipvm_receipt_row_t *row, void *data)
{
    walk_t *w = data;
    if ((long)row->fuel <= w->last_fuel)
        w->ordered = false;
    w->last_fuel = (long)row->fuel;
    w->n++;
    return w->n == 1000000 ? 42 : 0;
}

static int stop_cb(const ipvm_receipt_row_t *row, void *data)
{
    (void)row;
    return ++*(int *)data == 3 ? 7 : 0;
}

IPVM_TEST(store, batch_and_bulk_lookup)
{
    enum { N = 2000 };
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_cid_t wf = fx_cid("workflow", 1), other = fx_cid("workflow", 2);
    fx_put_workflow(s, &wf, N);
    fx_put_workflow(s, &other, 1);
    static fx_receipt_t r[N];
    static ipvm_receipt_row_t rows[N];
    static bool inserted[N];
    for (int i = 0; i < N; i++) {
        fx_receipt(&r[i], i, i % 7 != 0);
        rows[i] = r[i].row;
    }
    /* First half, then all of it: the second batch inserts only the second half. */
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipts(s, &wf, rows, N / 2, inserted, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipts(s, &wf, rows, N, inserted, &err), &err);
    for (int i = 0; i < N; i++)
        IPVM_ASSERT_EQ(inserted[i], i >= N / 2);
    int64_t count = 0;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &count, &err));
    IPVM_ASSERT_EQ(count, N);
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, &wf, &count, &err));
    IPVM_ASSERT_EQ(count, N);
    /* Replayed receipts linked to another workflow. */
    ipvm_cid_t some[3] = {rows[1].cid, rows[2].cid, rows[3].cid};
    IPVM_ASSERT_OK_ERR(ipvm_store_link_receipts(s, &other, some, 3, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_link_receipts(s, &other, some, 3, &err), &err); /* idempotent */
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, &other, &count, &err));
    IPVM_ASSERT_EQ(count, 3);
    walk_t w = {0, -1, true};
    IPVM_ASSERT_OK_ERR(ipvm_store_each_receipt(s, &wf, walk_cb, &w, &err), &err);
    IPVM_ASSERT_EQ(w.n, N);
    IPVM_ASSERT(w.ordered); /* oldest first: insertion order, fuel grows with i */
    int stops = 0;
    IPVM_ASSERT_EQ(ipvm_store_each_receipt(s, NULL, stop_cb, &stops, &err), 7);
    IPVM_ASSERT_EQ(stops, 3);

    /* Bulk memoization lookup: every other CID is missing. */
    static ipvm_cid_t keys[N];
    static ipvm_receipt_row_t got[N];
    static bool found[N];
    for (int i = 0; i < N; i++)
        keys[i] = i % 2 ? fx_cid("absent", i) : rows[i].instruction;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    size_t nfound = 0;
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipts(s, keys, N, &a, got, found, &nfound, &err), &err);
    IPVM_ASSERT_EQ(nfound, N / 2);
    for (int i = 0; i < N; i++) {
        IPVM_ASSERT_EQ(found[i], i % 2 == 0);
        if (found[i]) {
            IPVM_ASSERT(ipvm_cid_equal(&got[i].cid, &rows[i].cid));
            IPVM_ASSERT_EQ(got[i].ok, i % 7 != 0);
            IPVM_ASSERT_MEMEQ(got[i].out, got[i].out_len, rows[i].out, rows[i].out_len);
        }
    }
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}

/* A batch is all or nothing: a bad row in the middle leaves no trace of the others. */
IPVM_TEST(store, batch_atomic)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    fx_receipt_t r[10];
    ipvm_receipt_row_t rows[10];
    for (int i = 0; i < 10; i++) {
        fx_receipt(&r[i], i, true);
        rows[i] = r[i].row;
    }
    rows[6].out_len = 0;
    IPVM_ASSERT_ERR(ipvm_store_put_receipts(s, NULL, rows, 10, NULL, &err), IPVM_EINVAL);
    int64_t count = -1;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &count, &err));
    IPVM_ASSERT_EQ(count, 0);
    /* A workflow that is not stored: the foreign key refuses the links, nothing is kept. */
    rows[6] = r[6].row;
    ipvm_cid_t ghost = fx_cid("workflow", 99);
    IPVM_ASSERT_ERR(ipvm_store_put_receipts(s, &ghost, rows, 10, NULL, &err), IPVM_ECONSTRAINT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "is not in");
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &count, &err));
    IPVM_ASSERT_EQ(count, 0);
    /* The handle is usable afterwards. */
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipts(s, NULL, rows, 10, NULL, &err), &err);
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &count, &err));
    IPVM_ASSERT_EQ(count, 10);
    ipvm_store_close(s);
}

static int count_wf(const ipvm_workflow_row_t *row, void *data)
{
    (void)row;
    (*(int *)data)++;
    return 0;
}

IPVM_TEST(store, workflow_rows)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_row_t w;
    memset(&w, 0, sizeof w);
    w.cid = fx_cid("workflow", 7);
    w.name = "pipeline";
    w.num_tasks = 3;
    w.resources = (const uint8_t *)"\xa1\x61x\x80";
    w.resources_len = 4;
    w.workflow = (const uint8_t *)"\xa1\x65tasks\x80";
    w.workflow_len = 8;
    uint64_t before = ipvm_wall_ms();
    bool inserted = false;
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w, &inserted, &err), &err);
    IPVM_ASSERT(inserted);
    w.name = "renamed";
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w, &inserted, &err), &err);
    IPVM_ASSERT(!inserted);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_row_t got;
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &w.cid, &a, &got, &err), &err);
    IPVM_ASSERT_STREQ(got.name, "pipeline"); /* an existing row is left as it was */
    IPVM_ASSERT_EQ(got.num_tasks, 3);
    IPVM_ASSERT_EQ(got.status, IPVM_WF_PENDING);
    IPVM_ASSERT_MEMEQ(got.resources, got.resources_len, w.resources, 4);
    IPVM_ASSERT_MEMEQ(got.workflow, got.workflow_len, w.workflow, 8);
    IPVM_ASSERT(got.created_ms >= (int64_t)before - 1 && got.created_ms <= (int64_t)ipvm_wall_ms() + 1);
    IPVM_ASSERT_EQ(got.completed_ms, 0);

    IPVM_ASSERT_OK_ERR(ipvm_store_set_workflow_status(s, &w.cid, IPVM_WF_RUNNING, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &w.cid, &a, &got, &err), &err);
    IPVM_ASSERT_EQ(got.status, IPVM_WF_RUNNING);
    ipvm_workflow_status_t only = IPVM_WF_PENDING;
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow_status(s, &w.cid, &only, &err), &err);
    IPVM_ASSERT_EQ(only, IPVM_WF_RUNNING);
    IPVM_ASSERT_OK_ERR(ipvm_store_set_workflow_status(s, &w.cid, IPVM_WF_FAILED, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &w.cid, &a, &got, &err), &err);
    IPVM_ASSERT_EQ(got.status, IPVM_WF_FAILED);
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow_status(s, &w.cid, &only, &err), &err);
    IPVM_ASSERT_EQ(only, IPVM_WF_FAILED); /* 'completed' with failed = 1 reads back as failed */
    IPVM_ASSERT(got.completed_ms >= got.created_ms);
    /* Homestar sees a finished workflow: status 'completed' (its CHECK has no 'failed'). */
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(s), "SELECT status, failed FROM workflows",
                                      -1, &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "completed");
    IPVM_ASSERT_EQ(sqlite3_column_int(st, 1), 1);
    sqlite3_finalize(st);

    ipvm_workflow_row_t w2 = w;
    w2.cid = fx_cid("workflow", 8);
    w2.resources = NULL; /* stored as the empty map */
    w2.resources_len = 0;
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w2, NULL, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &w2.cid, &a, &got, &err), &err);
    IPVM_ASSERT_MEMEQ(got.resources, got.resources_len, "\xa0", 1);
    int all = 0, failed = 0, pending = 0, completed = 0;
    IPVM_ASSERT_OK(ipvm_store_each_workflow(s, -1, count_wf, &all, &err));
    IPVM_ASSERT_OK(ipvm_store_each_workflow(s, IPVM_WF_FAILED, count_wf, &failed, &err));
    IPVM_ASSERT_OK(ipvm_store_each_workflow(s, IPVM_WF_PENDING, count_wf, &pending, &err));
    IPVM_ASSERT_OK(ipvm_store_each_workflow(s, IPVM_WF_COMPLETED, count_wf, &completed, &err));
    IPVM_ASSERT_EQ(all, 2);
    IPVM_ASSERT_EQ(failed, 1);
    IPVM_ASSERT_EQ(pending, 1);
    IPVM_ASSERT_EQ(completed, 0);
    ipvm_cid_t nope = fx_cid("workflow", 9);
    IPVM_ASSERT_ERR(ipvm_store_get_workflow(s, &nope, &a, &got, &err), IPVM_ENOENT);
    IPVM_ASSERT_ERR(ipvm_store_set_workflow_status(s, &nope, IPVM_WF_RUNNING, &err), IPVM_ENOENT);
    IPVM_ASSERT_ERR(ipvm_store_get_workflow_status(s, &nope, &only, &err), IPVM_ENOENT);
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}

/* Two handles on one file (two threads or processes): WAL lets the reader see committed rows
 * while the writer goes on. */
IPVM_TEST(store, two_handles)
{
    const char *path = fx_db_path("ipvm.db");
    ipvm_store_t *w = fx_open(path, 0), *r = fx_open(path, 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    fx_receipt_t x;
    fx_receipt(&x, 1, true);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(w, &x.row, NULL, &err), &err);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_row_t got;
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(r, &x.row.instruction, &a, &got, &err), &err);
    IPVM_ASSERT(ipvm_cid_equal(&got.cid, &x.row.cid));
    ipvm_arena_dispose(&a);
    ipvm_store_close(w);
    ipvm_store_close(r);
}

/* A large workflow's bytes live in workflow_data (schema v3): Homestar's row keeps its shape
 * with the empty map in resources, reads put them back, and a status change rewrites a row of
 * a few dozen bytes (checked on the record's size), not the megabytes. */
IPVM_TEST(store, workflow_data_side_table)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    sqlite3 *db = ipvm__store_db(s);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    size_t big = IPVM__STORE_INLINE_RESOURCES + 1000;
    uint8_t *res = malloc(big), *doc = malloc(3 * big);
    IPVM_ASSERT(res && doc);
    for (size_t i = 0; i < big; i++)
        res[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < 3 * big; i++)
        doc[i] = (uint8_t)(i * 13);
    ipvm_workflow_row_t w;
    memset(&w, 0, sizeof w);
    w.cid = fx_cid("workflow", 21);
    w.num_tasks = 10000;
    w.resources = res;
    w.resources_len = big;
    w.workflow = doc;
    w.workflow_len = 3 * big;
    w.status = IPVM_WF_RUNNING;
    bool inserted = false;
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w, &inserted, &err), &err);
    IPVM_ASSERT(inserted);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w, &inserted, &err), &err);
    IPVM_ASSERT(!inserted);
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT count(*) FROM workflow_data"), 1);
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT length(resources) FROM workflow_data"), (long long)big);
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT length(workflow) FROM workflow_data"),
                   (long long)(3 * big));
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT resources = x'a0' AND workflow IS NULL FROM workflows"),
                   1);
    IPVM_ASSERT_OK_ERR(ipvm_store_set_workflow_status(s, &w.cid, IPVM_WF_COMPLETED, &err), &err);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_row_t got;
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &w.cid, &a, &got, &err), &err);
    IPVM_ASSERT_EQ(got.status, IPVM_WF_COMPLETED);
    IPVM_ASSERT_MEMEQ(got.resources, got.resources_len, res, big);
    IPVM_ASSERT_MEMEQ(got.workflow, got.workflow_len, doc, 3 * big);
    /* a small map stays in Homestar's column, and a row without our bytes has no side row */
    ipvm_workflow_row_t small = w;
    small.cid = fx_cid("workflow", 22);
    small.resources = (const uint8_t *)"\xa1\x61x\x80";
    small.resources_len = 4;
    small.workflow = NULL;
    small.workflow_len = 0;
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &small, NULL, &err), &err);
    IPVM_ASSERT_EQ(pragma_int(db, "SELECT count(*) FROM workflow_data"), 1);
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &small.cid, &a, &got, &err), &err);
    IPVM_ASSERT_MEMEQ(got.resources, got.resources_len, "\xa1\x61x\x80", 4);
    IPVM_ASSERT(got.workflow == NULL);
    ipvm_arena_dispose(&a);
    free(res);
    free(doc);
    ipvm_store_close(s);
}

typedef struct {
    int n;
    ipvm_cid_t seen[4];
} scan_t;

static int scan_one(const ipvm_receipt_row_t *row, void *data)
{
    scan_t *sc = data;
    if (sc->n < 4)
        sc->seen[sc->n] = row->cid;
    sc->n++;
    return 0;
}

/* The unordered walk of a workflow's receipts returns exactly its linked receipts. */
IPVM_TEST(store, scan_workflow_receipts)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_row_t w;
    memset(&w, 0, sizeof w);
    w.cid = fx_cid("workflow", 31);
    w.num_tasks = 3;
    IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w, NULL, &err), &err);
    fx_receipt_t r[4];
    for (int i = 0; i < 4; i++)
        fx_receipt(&r[i], 40 + i, i != 1);
    for (int i = 0; i < 3; i++)
        IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt_for(s, &w.cid, &r[i].row, NULL, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt(s, &r[3].row, NULL, &err), &err); /* not linked */
    scan_t sc = {0};
    IPVM_ASSERT_OK_ERR(ipvm_store_scan_workflow_receipts(s, &w.cid, scan_one, &sc, &err), &err);
    IPVM_ASSERT_EQ(sc.n, 3);
    for (int i = 0; i < 3; i++) {
        bool found = false;
        for (int k = 0; k < 3; k++)
            found |= ipvm_cid_equal(&sc.seen[k], &r[i].row.cid);
        IPVM_ASSERT_MSG(found, "receipt %d not walked", i);
    }
    ipvm_cid_t other = fx_cid("workflow", 32);
    sc.n = 0;
    IPVM_ASSERT_OK_ERR(ipvm_store_scan_workflow_receipts(s, &other, scan_one, &sc, &err), &err);
    IPVM_ASSERT_EQ(sc.n, 0);
    ipvm_store_close(s);
}

/* ipvm_store_put_receipt_groups: two workflows' batches in one transaction, each linked to its
 * own workflow; all or nothing when one group's workflow is missing. */
IPVM_TEST(store, receipt_groups)
{
    ipvm_store_t *s = fx_open(fx_db_path("ipvm.db"), 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_workflow_row_t w[2];
    for (int k = 0; k < 2; k++) {
        memset(&w[k], 0, sizeof w[k]);
        w[k].cid = fx_cid("workflow", 50 + k);
        w[k].num_tasks = 3;
        IPVM_ASSERT_OK_ERR(ipvm_store_put_workflow(s, &w[k], NULL, &err), &err);
    }
    fx_receipt_t r[6];
    ipvm_receipt_row_t rows[6];
    for (int i = 0; i < 6; i++) {
        fx_receipt(&r[i], 60 + i, true);
        rows[i] = r[i].row;
    }
    /* the second group's workflow is not stored: neither group is kept */
    ipvm_cid_t ghost = fx_cid("workflow", 98);
    ipvm_store_receipt_group_t bad[2] = {{&w[0].cid, rows, 2}, {&ghost, rows + 2, 2}};
    IPVM_ASSERT_ERR(ipvm_store_put_receipt_groups(s, bad, 2, &err), IPVM_ECONSTRAINT);
    int64_t count = -1;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &count, &err));
    IPVM_ASSERT_EQ(count, 0);
    ipvm_store_receipt_group_t g[3] = {{&w[0].cid, rows, 2}, {&w[1].cid, rows + 2, 3},
                                       {NULL, rows + 5, 1}};
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt_groups(s, g, 3, &err), &err);
    ipvm_store_close(s);
    s = fx_open(fx_db_path("ipvm.db"), 0); /* what is on disk, from a new connection */
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, NULL, &count, &err));
    IPVM_ASSERT_EQ(count, 6);
    for (int k = 0; k < 2; k++) {
        scan_t sc = {0};
        IPVM_ASSERT_OK_ERR(ipvm_store_scan_workflow_receipts(s, &w[k].cid, scan_one, &sc, &err),
                           &err);
        IPVM_ASSERT_EQ(sc.n, 2 + k);
        for (int i = 0; i < sc.n; i++) { /* group 0 holds r[0..1], group 1 r[2..4] */
            bool mine = false;
            for (int j = 2 * k; j < 2 + 3 * k; j++)
                mine |= ipvm_cid_equal(&sc.seen[i], &r[j].row.cid);
            IPVM_ASSERT_MSG(mine, "workflow %d walked a receipt of another group", k);
        }
    }
    ipvm_store_close(s);
}
