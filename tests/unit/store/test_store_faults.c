/* SPDX-License-Identifier: Apache-2.0 */
/* store/ under bad conditions: old and newer files, corrupt files, read-only data, a full disk,
 * out of memory, and kill -9 in the middle of writing. */
#include "fs_fixture.h"
#include "store/store_int.h"
#include "store_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    IPVM_ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    IPVM_ASSERT_MSG(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static void fill(ipvm_store_t *s, int from, int n)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_receipt_row_t *rows = calloc((size_t)n, sizeof *rows);
    fx_receipt_t *rs = calloc((size_t)n, sizeof *rs);
    IPVM_ASSERT(rows && rs);
    for (int i = 0; i < n; i++) {
        fx_receipt(&rs[i], from + i, true);
        rows[i] = rs[i].row;
    }
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipts(s, NULL, rows, (size_t)n, NULL, &err), &err);
    free(rows);
    free(rs);
}

static int64_t count(ipvm_store_t *s)
{
    int64_t n = -1;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_store_count_receipts(s, NULL, &n, &err), &err);
    return n;
}

/* A database Homestar 0.3 wrote (its diesel migrations in order, rows as it inserts them) is
 * migrated in place and its receipts are found by the memoization lookup. */
IPVM_TEST(store, migrate_homestar_file)
{
    const char *path = fx_db_path("homestar.db");
    raw_exec(path,
             "PRAGMA journal_mode = WAL;"
             "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL,"
             " run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);"
             "CREATE TABLE workflows (cid TEXT NOT NULL PRIMARY KEY, name TEXT,"
             " num_tasks INTEGER NOT NULL, resources BLOB NOT NULL,"
             " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, completed_at TIMESTAMP);"
             "CREATE TABLE receipts (cid TEXT NOT NULL PRIMARY KEY, ran TEXT NOT NULL,"
             " instruction TEXT NOT NULL, out BLOB NOT NULL, meta BLOB NOT NULL, issuer TEXT,"
             " prf BLOB NOT NULL, version TEXT NOT NULL);"
             "CREATE INDEX instruction_index ON receipts (instruction);"
             "CREATE TABLE workflows_receipts (workflow_cid TEXT NOT NULL REFERENCES"
             " workflows(cid), receipt_cid TEXT NOT NULL REFERENCES receipts(cid),"
             " PRIMARY KEY(workflow_cid, receipt_cid));"
             "ALTER TABLE workflows ADD COLUMN status TEXT CHECK(status IN ('pending',"
             " 'completed', 'running', 'stuck')) NOT NULL DEFAULT 'pending';"
             "ALTER TABLE workflows ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;"
             "INSERT INTO __diesel_schema_migrations (version) VALUES ('20240213141620');");
    fx_receipt_t r;
    fx_receipt(&r, 2, true);
    char c[4][IPVM_CID_MAX_STR];
    ipvm_cid_t wf = fx_cid("workflow", 1);
    char *sql = sqlite3_mprintf(
        "INSERT INTO workflows (cid, name, num_tasks, resources) VALUES ('%s', 'w', 2, x'a0');"
        "INSERT INTO receipts VALUES ('%s', '%s', '%s', x'82626f6b02', x'a1626f70676164645f6f6e65', "
        "NULL, x'80', '0.2.0');"
        "INSERT INTO workflows_receipts VALUES ('%s', '%s');",
        ipvm_cid_str(&wf, c[0]), ipvm_cid_str(&r.row.cid, c[1]), ipvm_cid_str(&r.row.ran, c[2]),
        ipvm_cid_str(&r.row.instruction, c[3]), c[0], c[1]);
    raw_exec(path, sql);
    sqlite3_free(sql);

    ipvm_store_t *s = fx_open(path, 0);
    IPVM_ASSERT_EQ(ipvm_store_schema_version(s), IPVM_STORE_SCHEMA);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_row_t got;
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(s, &r.row.instruction, &a, &got, &err), &err);
    IPVM_ASSERT(ipvm_cid_equal(&got.cid, &r.row.cid));
    IPVM_ASSERT(got.ok); /* derived from out by the migration */
    IPVM_ASSERT_STREQ(got.source, "local");
    IPVM_ASSERT_EQ_U64(got.fuel, 0);
    IPVM_ASSERT_MEMEQ(got.meta, got.meta_len, "\xa1\x62op\x67" "add_one", 12);
    ipvm_workflow_row_t w;
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &wf, &a, &w, &err), &err);
    IPVM_ASSERT_EQ(w.status, IPVM_WF_PENDING);
    IPVM_ASSERT(w.created_ms > 1600000000000LL); /* Homestar's CURRENT_TIMESTAMP text, read */
    int64_t n = 0;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, &wf, &n, &err));
    IPVM_ASSERT_EQ(n, 1);
    /* And it takes new receipts. */
    fx_receipt_t r2;
    fx_receipt(&r2, 3, false);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipt_for(s, &wf, &r2.row, NULL, &err), &err);
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, &wf, &n, &err));
    IPVM_ASSERT_EQ(n, 2);
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}

/* A version-2 file (our columns, the workflow's bytes inside its row) is migrated to version 3:
 * the large bytes move to workflow_data, the small ones stay, and reads return the same. */
IPVM_TEST(store, migrate_v2_workflow_data)
{
    const char *path = fx_db_path("v2.db");
    raw_exec(path,
             "CREATE TABLE workflows (cid TEXT NOT NULL PRIMARY KEY, name TEXT,"
             " num_tasks INTEGER NOT NULL, resources BLOB NOT NULL,"
             " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, completed_at TIMESTAMP,"
             " status TEXT CHECK(status IN ('pending', 'completed', 'running', 'stuck'))"
             " NOT NULL DEFAULT 'pending', retries INTEGER NOT NULL DEFAULT 0);"
             "CREATE TABLE receipts (cid TEXT NOT NULL PRIMARY KEY, ran TEXT NOT NULL,"
             " instruction TEXT NOT NULL, out BLOB NOT NULL, meta BLOB NOT NULL, issuer TEXT,"
             " prf BLOB NOT NULL, version TEXT NOT NULL);"
             "CREATE INDEX instruction_index ON receipts (instruction);"
             "CREATE TABLE workflows_receipts (workflow_cid TEXT NOT NULL REFERENCES"
             " workflows(cid), receipt_cid TEXT NOT NULL REFERENCES receipts(cid),"
             " PRIMARY KEY(workflow_cid, receipt_cid));"
             "ALTER TABLE receipts ADD COLUMN fuel INTEGER NOT NULL DEFAULT 0;"
             "ALTER TABLE receipts ADD COLUMN time_ns INTEGER NOT NULL DEFAULT 0;"
             "ALTER TABLE receipts ADD COLUMN created INTEGER NOT NULL DEFAULT 0;"
             "ALTER TABLE receipts ADD COLUMN ok INTEGER NOT NULL DEFAULT 1 CHECK(ok IN (0, 1));"
             "ALTER TABLE receipts ADD COLUMN source TEXT NOT NULL DEFAULT 'local';"
             "ALTER TABLE receipts ADD COLUMN signature BLOB;"
             "ALTER TABLE workflows ADD COLUMN workflow BLOB;"
             "ALTER TABLE workflows ADD COLUMN failed INTEGER NOT NULL DEFAULT 0"
             " CHECK(failed IN (0, 1));"
             "PRAGMA user_version = 2; PRAGMA application_id = 1768978029;");
    ipvm_cid_t big = fx_cid("workflow", 1), small = fx_cid("workflow", 2);
    char c[2][IPVM_CID_MAX_STR];
    char *sql = sqlite3_mprintf(
        "INSERT INTO workflows (cid, num_tasks, resources, status, workflow) VALUES "
        "('%s', 2, zeroblob(40000), 'running', x'a1657461736b7380'),"
        "('%s', 1, x'a0', 'completed', NULL);",
        ipvm_cid_str(&big, c[0]), ipvm_cid_str(&small, c[1]));
    raw_exec(path, sql);
    sqlite3_free(sql);
    ipvm_store_t *s = fx_open(path, 0);
    IPVM_ASSERT_EQ(ipvm_store_schema_version(s), IPVM_STORE_SCHEMA);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_row_t w;
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &big, &a, &w, &err), &err);
    IPVM_ASSERT_EQ(w.status, IPVM_WF_RUNNING);
    IPVM_ASSERT_EQ((long long)w.resources_len, 40000);
    IPVM_ASSERT_MEMEQ(w.workflow, w.workflow_len, "\xa1\x65tasks\x80", 8);
    IPVM_ASSERT_OK_ERR(ipvm_store_get_workflow(s, &small, &a, &w, &err), &err);
    IPVM_ASSERT_MEMEQ(w.resources, w.resources_len, "\xa0", 1);
    IPVM_ASSERT(w.workflow == NULL);
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(s),
                                      "SELECT max(length(resources)), count(workflow) FROM "
                                      "workflows",
                                      -1, &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_EQ(sqlite3_column_int(st, 0), 1); /* both rows slim now */
    IPVM_ASSERT_EQ(sqlite3_column_int(st, 1), 0);
    sqlite3_finalize(st);
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}

IPVM_TEST(store, newer_schema_refused)
{
    const char *path = fx_db_path("ipvm.db");
    ipvm_store_close(fx_open(path, 0));
    raw_exec(path, "PRAGMA user_version = 7");
    ipvm_store_t *s = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_store_open(path, 0, &s, &err), IPVM_ESCHEMA);
    IPVM_ASSERT(s == NULL);
    IPVM_ASSERT_STRCONTAINS(err.msg, "schema version 7");
    IPVM_ASSERT_STRCONTAINS(err.msg, "upgrade ipvm");
    IPVM_ASSERT_ERR(ipvm_store_open(path, IPVM_STORE_READONLY, &s, &err), IPVM_ESCHEMA);
    /* An older file cannot be migrated by a read-only open: said so. */
    raw_exec(path, "PRAGMA user_version = 1");
    IPVM_ASSERT_ERR(ipvm_store_open(path, IPVM_STORE_READONLY, &s, &err), IPVM_EROFS);
    IPVM_ASSERT_STRCONTAINS(err.msg, "needs migrating");
}

static void write_bytes(const char *path, off_t at, const void *p, size_t n, bool trunc)
{
    int fd = open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0644);
    IPVM_ASSERT(fd >= 0);
    IPVM_ASSERT_EQ(pwrite(fd, p, n, at), (ssize_t)n);
    close(fd);
}

IPVM_TEST(store, corrupt_files)
{
    ipvm_store_t *s = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    /* Not SQLite at all. */
    const char *junk = fx_db_path("junk.db");
    char garbage[8192];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)(i * 131 + 7);
    write_bytes(junk, 0, garbage, sizeof garbage, true);
    IPVM_ASSERT_ERR(ipvm_store_open(junk, 0, &s, &err), IPVM_ECORRUPT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "not a SQLite database");
    IPVM_ASSERT_ERR(ipvm_store_open(junk, IPVM_STORE_READONLY, &s, &err), IPVM_ECORRUPT);
    /* Another program's SQLite file. */
    const char *other = fx_db_path("other.db");
    raw_exec(other, "CREATE TABLE songs (title TEXT)");
    IPVM_ASSERT_ERR(ipvm_store_open(other, 0, &s, &err), IPVM_ECORRUPT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "other tables");
    raw_exec(other, "PRAGMA application_id = 1234");
    IPVM_ASSERT_ERR(ipvm_store_open(other, 0, &s, &err), IPVM_ECORRUPT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "another program");

    /* A real database whose pages were overwritten: reads report IPVM_ECORRUPT. */
    const char *path = fx_db_path("ipvm.db");
    s = fx_open(path, 0);
    fill(s, 0, 3000);
    ipvm_store_close(s); /* checkpoints the WAL into the file */
    struct stat st;
    IPVM_ASSERT(stat(path, &st) == 0 && st.st_size > 20 * 4096);
    for (off_t page = 3; page * 4096 < st.st_size - 4096; page += 2)
        write_bytes(path, page * 4096, garbage, 4096, false);
    int rc = ipvm_store_open(path, 0, &s, &err);
    if (rc == 0) {
        int64_t n = 0;
        rc = ipvm_store_count_receipts(s, NULL, &n, &err);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        for (int i = 0; rc == 0 && i < 3000; i += 97) {
            fx_receipt_t r;
            fx_receipt(&r, i, true);
            ipvm_receipt_row_t got;
            rc = ipvm_store_find_receipt(s, &r.row.instruction, &a, &got, &err);
        }
        ipvm_arena_dispose(&a);
        ipvm_store_close(s);
    }
    IPVM_ASSERT_ERR(rc, IPVM_ECORRUPT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "move the file away");

    /* Truncated to half. */
    const char *path2 = fx_db_path("half.db");
    s = fx_open(path2, 0);
    fill(s, 0, 3000);
    ipvm_store_close(s);
    IPVM_ASSERT(stat(path2, &st) == 0);
    IPVM_ASSERT(truncate(path2, st.st_size / 2) == 0);
    rc = ipvm_store_open(path2, 0, &s, &err);
    if (rc == 0) {
        int64_t n = 0;
        rc = ipvm_store_count_receipts(s, NULL, &n, &err);
        ipvm_store_close(s);
    }
    IPVM_ASSERT_ERR(rc, IPVM_ECORRUPT);
}

IPVM_TEST(store, readonly)
{
    ipvm_store_t *s = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/data", ipvm_test_tmpdir());
    IPVM_ASSERT_OK(ipvm_mkdirs(dir, 0755, &err));
    char path[4300];
    snprintf(path, sizeof path, "%s/ipvm.db", dir);
    IPVM_ASSERT_ERR(ipvm_store_open(path, IPVM_STORE_READONLY, &s, &err), IPVM_ENOENT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "nothing has run");
    IPVM_ASSERT(access(path, F_OK) != 0); /* a read-only open creates nothing */
    s = fx_open(path, 0);
    fill(s, 0, 10);
    ipvm_store_close(s);
    IPVM_ASSERT(chmod(path, 0644) == 0);

    /* A read-only open of a writable directory reads, and refuses writes. */
    s = fx_open(path, IPVM_STORE_READONLY);
    IPVM_ASSERT_EQ(count(s), 10);
    fx_receipt_t r;
    fx_receipt(&r, 50, true);
    IPVM_ASSERT_ERR(ipvm_store_put_receipt(s, &r.row, NULL, &err), IPVM_EROFS);
    ipvm_store_close(s);

    /* A read-only data directory (no -wal or -shm can be made): reading still works. */
    fx_readonly_dir(dir);
    s = fx_open(path, IPVM_STORE_READONLY);
    IPVM_ASSERT_EQ(count(s), 10);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_row_t got;
    fx_receipt(&r, 3, true);
    IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(s, &r.row.instruction, &a, &got, &err), &err);
    ipvm_arena_dispose(&a);
    IPVM_ASSERT_ERR(ipvm_store_put_receipt(s, &r.row, NULL, &err), IPVM_EROFS);
    ipvm_store_close(s);
    /* A read-write open there fails at once with what to do. */
    int rc = ipvm_store_open(path, 0, &s, &err);
    IPVM_ASSERT_MSG(rc == IPVM_EROFS || rc == IPVM_EACCES, "rc=%s", ipvm_err_name(rc));
    IPVM_ASSERT_STRCONTAINS(err.msg, "--data-dir");
    char sub[4400];
    snprintf(sub, sizeof sub, "%s/new.db", dir);
    rc = ipvm_store_open(sub, 0, &s, &err);
    IPVM_ASSERT_MSG(rc == IPVM_EROFS || rc == IPVM_EACCES, "rc=%s", ipvm_err_name(rc));
}

/* A full database (max_page_count stands in for the disk): IPVM_ENOSPC, and nothing of the
 * batch is kept; after space comes back the same handle works. */
IPVM_TEST(store, full_disk_pages)
{
    const char *path = fx_db_path("ipvm.db");
    ipvm_store_t *s = fx_open(path, 0);
    fill(s, 0, 20);
    long pages;
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(s), "PRAGMA page_count", -1, &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    pages = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    IPVM_ASSERT_EQ(ipvm__store_set_max_pages(s, pages + 2), SQLITE_OK);
    enum { N = 3000 };
    static fx_receipt_t rs[N];
    static ipvm_receipt_row_t rows[N];
    for (int i = 0; i < N; i++) {
        fx_receipt(&rs[i], 1000 + i, true);
        rows[i] = rs[i].row;
    }
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_store_put_receipts(s, NULL, rows, N, NULL, &err), IPVM_ENOSPC);
    IPVM_ASSERT_STRCONTAINS(err.msg, "nothing of this write was kept");
    IPVM_ASSERT_EQ(count(s), 20);
    IPVM_ASSERT_EQ(ipvm__store_set_max_pages(s, 1L << 30), SQLITE_OK);
    IPVM_ASSERT_OK_ERR(ipvm_store_put_receipts(s, NULL, rows, N, NULL, &err), &err);
    IPVM_ASSERT_EQ(count(s), 20 + N);
    ipvm_store_close(s);
}

/* A disk that really fills up: a 256 KiB tmpfs. */
IPVM_TEST(store, full_disk_tmpfs)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/small", ipvm_test_tmpdir());
    fx_small_tmpfs(dir, 256 * 1024);
    char path[4300];
    snprintf(path, sizeof path, "%s/ipvm.db", dir);
    ipvm_store_t *s = fx_open(path, 0);
    fill(s, 0, 10);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = 0;
    int kept = 10;
    for (int round = 0; rc == 0 && round < 200; round++) {
        enum { N = 200 };
        static fx_receipt_t rs[N];
        static ipvm_receipt_row_t rows[N];
        for (int i = 0; i < N; i++) {
            fx_receipt(&rs[i], 100 + round * N + i, true);
            rows[i] = rs[i].row;
        }
        rc = ipvm_store_put_receipts(s, NULL, rows, N, NULL, &err);
        if (rc == 0)
            kept += N;
    }
    IPVM_ASSERT_ERR(rc, IPVM_ENOSPC);
    ipvm_store_close(s);
    /* Every batch that reported success is there, none of the failed one; the file is sound. */
    s = fx_open(path, IPVM_STORE_READONLY);
    IPVM_ASSERT_EQ(count(s), kept);
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(s), "PRAGMA integrity_check", -1, &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    ipvm_store_close(s);
}

/* Fail the Nth allocation (ours and SQLite's) for N = 0.. until open + batch + lookups succeed:
 * each failure is a clean IPVM_ENOMEM, and the file left behind always opens. */
IPVM_TEST(store, oom_loop)
{
    const char *path = fx_db_path("ipvm.db");
    fx_receipt_t rs[3];
    ipvm_receipt_row_t rows[3];
    for (int i = 0; i < 3; i++) {
        fx_receipt(&rs[i], i, true);
        rows[i] = rs[i].row;
    }
    ipvm_cid_t wf = fx_cid("workflow", 1);
    int failures = 0;
    for (long n = 0;; n++) {
        ipvm_error_t err;
        ipvm_error_clear(&err);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm_store_t *s = NULL;
        ipvm_receipt_row_t got[3];
        bool found[3];
        size_t nfound = 0;
        ipvm_workflow_row_t w = {0};
        w.cid = wf;
        w.num_tasks = 3;
        ipvm_alloc_fail_after(n);
        int rc = ipvm_store_open(path, 0, &s, &err);
        if (rc == 0)
            rc = ipvm_store_put_workflow(s, &w, NULL, &err);
        if (rc == 0)
            rc = ipvm_store_put_receipts(s, &wf, rows, 3, NULL, &err);
        if (rc == 0)
            rc = ipvm_store_find_receipts(s, (ipvm_cid_t[]){rows[0].instruction,
                                                            rows[2].instruction},
                                          2, &a, got, found, &nfound, &err);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        ipvm_store_close(s);
        ipvm_arena_dispose(&a);
        if (rc == 0 && !failed) {
            IPVM_ASSERT_EQ(nfound, 2);
            IPVM_ASSERT(ipvm_cid_equal(&got[1].cid, &rows[2].cid));
            break;
        }
        IPVM_ASSERT_MSG(rc == IPVM_ENOMEM || rc == 0, "n=%ld rc=%s: %s", n, ipvm_err_name(rc),
                        err.msg);
        failures++;
        IPVM_ASSERT(n < 20000);
    }
    IPVM_ASSERT(failures > 50); /* the loop did reach into SQLite */
    ipvm_store_t *s = fx_open(path, 0);
    IPVM_ASSERT_EQ(count(s), 3);
    ipvm_store_close(s);
}

/* kill -9 a writer at random moments: every batch it reported committed is on disk, whole;
 * nothing is there twice; the file is sound. */
IPVM_TEST(store, kill9_keeps_reported)
{
    const char *path = fx_db_path("ipvm.db");
    ipvm_store_close(fx_open(path, 0));
    int reported = 0;
    srand(12345);
    for (int round = 0; round < 8; round++) {
        int p[2];
        IPVM_ASSERT(pipe(p) == 0);
        pid_t pid = fork();
        IPVM_ASSERT(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            ipvm_store_t *s = NULL;
            if (ipvm_store_open(path, 0, &s, NULL) != 0)
                _exit(3);
            for (int b = reported;; b += 25) {
                fx_receipt_t rs[25];
                ipvm_receipt_row_t rows[25];
                for (int i = 0; i < 25; i++) {
                    fx_receipt(&rs[i], b + i, true);
                    rows[i] = rs[i].row;
                }
                if (ipvm_store_put_receipts(s, NULL, rows, 25, NULL, NULL) != 0)
                    _exit(4);
                int upto = b + 25;
                if (write(p[1], &upto, sizeof upto) != sizeof upto)
                    _exit(5);
            }
        }
        close(p[1]);
        /* Wait for a first commit (a loaded machine may take a while to open), then kill it
         * at a random moment of the following writes. */
        int upto;
        IPVM_ASSERT_EQ(read(p[0], &upto, sizeof upto), (ssize_t)sizeof upto);
        reported = upto;
        struct timespec ts = {0, (long)(5 + rand() % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        IPVM_ASSERT(WIFSIGNALED(status));
        while (read(p[0], &upto, sizeof upto) == sizeof upto)
            reported = upto;
        close(p[0]);
        ipvm_store_t *s = fx_open(path, 0);
        int64_t n = count(s);
        /* all reported batches, plus at most the one in flight when it died */
        IPVM_ASSERT_MSG(n == reported || n == reported + 25, "round %d: %lld rows, %d reported",
                        round, (long long)n, reported);
        reported = (int)n;
        ipvm_store_close(s);
    }
    IPVM_ASSERT(reported > 0);
    ipvm_store_t *s = fx_open(path, 0);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    for (int i = 0; i < reported; i++) {
        fx_receipt_t r;
        fx_receipt(&r, i, true);
        ipvm_receipt_row_t got;
        ipvm_error_t err;
        ipvm_error_clear(&err);
        IPVM_ASSERT_OK_ERR(ipvm_store_get_receipt(s, &r.row.cid, &a, &got, &err), &err);
        IPVM_ASSERT_MEMEQ(got.out, got.out_len, r.row.out, r.row.out_len);
    }
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(s), "PRAGMA integrity_check", -1, &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    ipvm_arena_dispose(&a);
    ipvm_store_close(s);
}
