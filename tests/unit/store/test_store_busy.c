/* SPDX-License-Identifier: Apache-2.0 */
/* store/: writers waiting for SQLite's write lock (busy.c): a writer of this process wakes on
 * the holder's commit, not on SQLite's back-off timer; concurrent writers lose nothing; a
 * holder in another process is still waited for. */
#include "store/store_int.h"
#include "store_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MS 250

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

typedef struct {
    ipvm_store_t *s;
    atomic_int began;
    uint64_t commit_ns; /* just before COMMIT */
    int rc;
} holder_t;

/* Holds a write transaction (with a write in it) HOLD_MS, then commits. */
static void *hold(void *arg)
{
    holder_t *h = arg;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    h->rc = ipvm__store_begin(h->s, true, &err);
    if (h->rc == 0)
        h->rc =
            sqlite3_exec(ipvm__store_db(h->s), "CREATE TABLE held (x); INSERT INTO held VALUES (1)",
                         NULL, NULL, NULL);
    atomic_store(&h->began, 1);
    sleep_ms(HOLD_MS);
    h->commit_ns = ipvm_now_ns();
    if (h->rc == 0)
        h->rc = ipvm__store_commit(h->s, &err);
    return NULL;
}

/* Thread A holds the write lock 250 ms; B's BEGIN IMMEDIATE must enter on A's commit's wake-up.
 * SQLite's back-off (1, 2, 5, ... 100 ms sleeps) retried at 228 and 328 ms, ~78 ms late. B's
 * longest single wait is set to 5 s, so B entering at all before 5 s, with no wait ended by the
 * timer, shows that A's commit woke it; how soon is left to the scheduler (a loaded runner
 * measured 42-66 ms, which a bound on lateness turned into a failure). */
IPVM_TEST(store, busy_wakes_on_commit)
{
    const char *path = fx_db_path("ipvm.db");
    ipvm_store_t *a = fx_open(path, 0), *b = fx_open(path, 0);
    ipvm__store_busy_set_poll(b, 5000000000u);
    holder_t h = {.s = a};
    pthread_t t;
    IPVM_ASSERT_EQ(pthread_create(&t, NULL, hold, &h), 0);
    while (!atomic_load(&h.began))
        sleep_ms(1);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm__store_begin(b, true, &err), &err);
    uint64_t entered = ipvm_now_ns();
    IPVM_ASSERT_OK_ERR(ipvm__store_commit(b, &err), &err);
    IPVM_ASSERT_EQ(pthread_join(t, NULL), 0);
    IPVM_ASSERT_EQ(h.rc, 0);
    IPVM_ASSERT(entered > h.commit_ns); /* B did wait for A */
    double late_ms = (double)(entered - h.commit_ns) / 1e6;
    IPVM_ASSERT_LT(late_ms, 2000.0); /* not the 5 s timer */
    unsigned long woken, polled;
    ipvm__store_busy_counts(b, &woken, &polled);
    IPVM_ASSERT(woken >= 1); /* through the busy handler, ended by A's commit */
    IPVM_ASSERT_EQ(polled, 0ul); /* and no wait ended by the timer */
    ipvm_store_close(a);
    ipvm_store_close(b);
}

#define WRITERS 8
#define WRITES 40

typedef struct {
    ipvm_store_t *s;
    long first;
    int rc, inserted;
} writer_t;

static void *write_many(void *arg)
{
    writer_t *w = arg;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    for (long i = 0; i < WRITES && w->rc == 0; i++) {
        fx_receipt_t x;
        fx_receipt(&x, w->first + i, true);
        bool ins = false;
        w->rc = ipvm_store_put_receipt(w->s, &x.row, &ins, &err);
        w->inserted += ins;
    }
    return NULL;
}

static void run_writers(writer_t *w)
{
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        IPVM_ASSERT_EQ(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    for (int i = 0; i < WRITERS; i++)
        IPVM_ASSERT_EQ(pthread_join(t[i], NULL), 0);
}

/* 8 threads, a connection each, 40 one-receipt transactions each: every receipt lands once;
 * the same writes again insert nothing. */
IPVM_TEST(store, busy_concurrent_writers)
{
    const char *path = fx_db_path("ipvm.db");
    writer_t w[WRITERS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < WRITERS; i++) {
        w[i].s = fx_open(path, 0);
        w[i].first = (long)i * WRITES;
    }
    run_writers(w);
    for (int i = 0; i < WRITERS; i++) {
        IPVM_ASSERT_EQ(w[i].rc, 0);
        IPVM_ASSERT_EQ(w[i].inserted, WRITES);
        w[i].inserted = 0;
    }
    run_writers(w);
    for (int i = 0; i < WRITERS; i++) {
        IPVM_ASSERT_EQ(w[i].rc, 0);
        IPVM_ASSERT_EQ(w[i].inserted, 0);
    }
    sqlite3_stmt *st;
    IPVM_ASSERT_EQ(sqlite3_prepare_v2(ipvm__store_db(w[0].s),
                                      "SELECT count(*), count(DISTINCT instruction) FROM receipts",
                                      -1, &st, NULL),
                   SQLITE_OK);
    IPVM_ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    IPVM_ASSERT_EQ(sqlite3_column_int(st, 0), WRITERS * WRITES);
    IPVM_ASSERT_EQ(sqlite3_column_int(st, 1), WRITERS * WRITES);
    sqlite3_finalize(st);
    ipvm_arena_t ar;
    ipvm_arena_init(&ar);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    for (long i = 0; i < WRITERS * WRITES; i++) {
        fx_receipt_t x;
        fx_receipt(&x, i, true);
        ipvm_receipt_row_t got;
        IPVM_ASSERT_OK_ERR(ipvm_store_find_receipt(w[0].s, &x.row.instruction, &ar, &got, &err),
                           &err);
        IPVM_ASSERT(ipvm_cid_equal(&got.cid, &x.row.cid));
    }
    ipvm_arena_dispose(&ar);
    for (int i = 0; i < WRITERS; i++)
        ipvm_store_close(w[i].s);
}

/* A holder in another process cannot wake us: its commit is noticed by the poll, within a few
 * ms, and the wait ends without IPVM_EBUSY. */
IPVM_TEST(store, busy_other_process)
{
    const char *path = fx_db_path("ipvm.db");
    ipvm_store_close(fx_open(path, 0)); /* created and migrated before the fork */
    int p[2];
    IPVM_ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    IPVM_ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        ipvm_store_t *s = NULL;
        ipvm_error_t e;
        ipvm_error_clear(&e);
        int ok = ipvm_store_open(path, 0, &s, &e) == 0 && ipvm__store_begin(s, true, &e) == 0;
        uint64_t t = 0;
        if (write(p[1], &t, sizeof t) != (ssize_t)sizeof t)
            _exit(2);
        sleep_ms(150);
        t = ipvm_now_ns();
        ok = ok && ipvm__store_commit(s, &e) == 0;
        if (write(p[1], &t, sizeof t) != (ssize_t)sizeof t)
            _exit(2);
        ipvm_store_close(s);
        _exit(ok ? 0 : 1);
    }
    close(p[1]);
    uint64_t commit_ns = 0;
    IPVM_ASSERT_EQ(read(p[0], &commit_ns, sizeof commit_ns), (ssize_t)sizeof commit_ns);
    ipvm_store_t *s = fx_open(path, 0);
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm__store_begin(s, true, &err), &err);
    uint64_t entered = ipvm_now_ns();
    IPVM_ASSERT_OK_ERR(ipvm__store_commit(s, &err), &err);
    IPVM_ASSERT_EQ(read(p[0], &commit_ns, sizeof commit_ns), (ssize_t)sizeof commit_ns);
    close(p[0]);
    int status = 0;
    IPVM_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    IPVM_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    IPVM_ASSERT(entered > commit_ns);
    IPVM_ASSERT_LT((double)(entered - commit_ns) / 1e6, 40.0);
    unsigned long woken, polled;
    ipvm__store_busy_counts(s, &woken, &polled);
    IPVM_ASSERT(polled >= 10); /* ~75 polls of 2 ms in 150 ms */
    IPVM_ASSERT_EQ(woken, 0);  /* nothing in this process wrote */
    ipvm_store_close(s);
}
