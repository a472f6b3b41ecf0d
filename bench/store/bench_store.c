/* SPDX-License-Identifier: Apache-2.0 */
/* bench_store: how many receipts per second can the store make durable, and how many
 * memoization lookups per second can it answer? ipvm's store (prepared statements, group
 * commit, bulk lookups) against plain SQLite C written the obvious way, in the same run, on the
 * same disk, with the same schema and durability (WAL, synchronous=FULL), plus Homestar's
 * setting (synchronous=NORMAL, one transaction per receipt), which is faster but not durable.
 * Usage: bench_store [DIR] (default: a new directory under $TMPDIR or /tmp). */
#define _GNU_SOURCE
#include "ipvm.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    ipvm_receipt_row_t row;
    uint8_t out[8];
} rec_t;

static ipvm_cid_t mkcid(const char *tag, long i)
{
    char t[64];
    int n = snprintf(t, sizeof t, "%s:%ld", tag, i);
    ipvm_cid_t c;
    if (ipvm_cid_create(&c, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, (const uint8_t *)t,
                        (size_t)n) != 0)
        abort();
    return c;
}

static rec_t *make(long n, long base)
{
    rec_t *r = calloc((size_t)n, sizeof *r);
    for (long i = 0; i < n; i++) {
        memcpy(r[i].out, "\x82\x62ok\x1a", 5);
        uint32_t v = (uint32_t)(base + i);
        r[i].out[5] = (uint8_t)(v >> 16); /* not valid CBOR beyond the prefix: bytes only */
        r[i].out[6] = (uint8_t)(v >> 8);
        r[i].out[7] = (uint8_t)v;
        r[i].row.cid = mkcid("r", base + i);
        r[i].row.ran = mkcid("v", base + i);
        r[i].row.instruction = mkcid("i", base + i);
        r[i].row.out = r[i].out;
        r[i].row.out_len = 8;
        r[i].row.meta = (const uint8_t *)"\xa1\x62op\x67" "add_one";
        r[i].row.meta_len = 12;
        r[i].row.prf = (const uint8_t *)"\x80";
        r[i].row.prf_len = 1;
        r[i].row.fuel = (uint64_t)i;
        r[i].row.time_ns = 1000;
    }
    return r;
}

#include <time.h>

static double now_s(void)
{
    return (double)ipvm_now_ns() / 1e9;
}

static double g_cpu; /* CPU seconds of the last measurement */

/* CPU time of this thread: what an operation costs, whatever else the machine runs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, ipvm_error_t *e)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

static ipvm_store_t *open_store(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ipvm_store_t *s;
    ipvm_error_t e;
    ipvm_error_clear(&e);
    if (ipvm_store_open(p, 0, &s, &e) != 0)
        die("open", &e);
    ipvm_workflow_row_t w = {0};
    w.cid = mkcid("w", 1);
    w.num_tasks = 1;
    if (ipvm_store_put_workflow(s, &w, NULL, &e) != 0)
        die("workflow", &e);
    return s;
}

/* ipvm: one receipt per call (own durable transaction) */
static double ipvm_single(const char *dir, long n)
{
    ipvm_store_t *s = open_store(dir, "single.db");
    rec_t *r = make(n, 0);
    ipvm_cid_t wf = mkcid("w", 1);
    ipvm_error_t e;
    double t = now_s(), c0 = cpu_s();
    for (long i = 0; i < n; i++)
        if (ipvm_store_put_receipt_for(s, &wf, &r[i].row, NULL, &e) != 0)
            die("put", &e);
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    ipvm_store_close(s);
    free(r);
    return (double)n / t;
}

/* ipvm: group commit, `batch` receipts + links per durable transaction */
static double ipvm_batched(const char *dir, const char *name, long n, long batch)
{
    ipvm_store_t *s = open_store(dir, name);
    rec_t *r = make(n, 0);
    ipvm_receipt_row_t *rows = calloc((size_t)n, sizeof *rows);
    for (long i = 0; i < n; i++)
        rows[i] = r[i].row;
    ipvm_cid_t wf = mkcid("w", 1);
    ipvm_error_t e;
    double t = now_s(), c0 = cpu_s();
    for (long i = 0; i < n; i += batch)
        if (ipvm_store_put_receipts(s, &wf, rows + i, (size_t)(n - i < batch ? n - i : batch),
                                    NULL, &e) != 0)
            die("put batch", &e);
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    ipvm_store_close(s);
    free(rows);
    free(r);
    return (double)n / t;
}

/* The peer: plain SQLite, the obvious way: same table, sqlite3_exec of a formatted INSERT per
 * receipt in autocommit mode. sync = "FULL" (durable) or "NORMAL" (Homestar's). */
static double naive(const char *dir, const char *name, const char *sync, long n)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ipvm_store_close(open_store(dir, name)); /* same schema */
    sqlite3 *db;
    if (sqlite3_open(p, &db) != SQLITE_OK)
        die("naive open", NULL);
    char *pragma = sqlite3_mprintf("PRAGMA journal_mode=WAL; PRAGMA synchronous=%s", sync);
    sqlite3_exec(db, pragma, NULL, NULL, NULL);
    sqlite3_free(pragma);
    rec_t *r = make(n, 0);
    double t = now_s(), c0 = cpu_s();
    for (long i = 0; i < n; i++) {
        char c[3][IPVM_CID_MAX_STR];
        char *sql = sqlite3_mprintf(
            "INSERT INTO receipts (cid, ran, instruction, out, meta, issuer, prf, version, fuel, "
            "time_ns, created, ok, source) VALUES ('%q', '%q', '%q', x'82626f6b1a%06x', "
            "x'a1626f70676164645f6f6e65', NULL, x'80', '0.2.0', %ld, 1000, 0, 1, 'local') "
            "ON CONFLICT DO NOTHING; INSERT INTO workflows_receipts VALUES ('%q', '%q') "
            "ON CONFLICT DO NOTHING",
            ipvm_cid_str(&r[i].row.cid, c[0]), ipvm_cid_str(&r[i].row.ran, c[1]),
            ipvm_cid_str(&r[i].row.instruction, c[2]), (unsigned)i & 0xffffff, i,
            "bafyrmiworkflow", c[0]);
        /* (foreign keys are off by default in plain SQLite, so the link is not checked) */
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
            die(sqlite3_errmsg(db), NULL);
        sqlite3_free(sql);
    }
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    sqlite3_close(db);
    free(r);
    return (double)n / t;
}

/* Lookups by instruction over a store of n receipts. */
static double ipvm_lookup_one(ipvm_store_t *s, rec_t *r, long n, long q)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t e;
    double t = now_s(), c0 = cpu_s();
    for (long i = 0; i < q; i++) {
        ipvm_receipt_row_t got;
        if (ipvm_store_find_receipt(s, &r[(i * 7919) % n].row.instruction, &a, &got, &e) != 0)
            die("find", &e);
        if ((i & 1023) == 0)
            ipvm_arena_reset(&a);
    }
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    ipvm_arena_dispose(&a);
    return (double)q / t;
}

static double ipvm_lookup_bulk(ipvm_store_t *s, rec_t *r, long n, long q, long per)
{
    ipvm_cid_t *keys = calloc((size_t)per, sizeof *keys);
    ipvm_receipt_row_t *rows = calloc((size_t)per, sizeof *rows);
    bool *found = calloc((size_t)per, sizeof *found);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_error_t e;
    double t = now_s(), c0 = cpu_s();
    for (long done = 0; done < q; done += per) {
        for (long j = 0; j < per; j++)
            keys[j] = r[((done + j) * 7919) % n].row.instruction;
        size_t nf;
        if (ipvm_store_find_receipts(s, keys, (size_t)per, &a, rows, found, &nf, &e) != 0 ||
            nf != (size_t)per)
            die("find bulk", &e);
        ipvm_arena_reset(&a);
    }
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    ipvm_arena_dispose(&a);
    free(keys);
    free(rows);
    free(found);
    return (double)q / t;
}

/* The peer: prepare, bind, step, finalize per lookup; autocommit read. */
static double naive_lookup(const char *path, rec_t *r, long n, long q)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die("naive lookup open", NULL);
    double t = now_s(), c0 = cpu_s();
    for (long i = 0; i < q; i++) {
        char c[IPVM_CID_MAX_STR];
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db, "SELECT * FROM receipts WHERE instruction = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, ipvm_cid_str(&r[(i * 7919) % n].row.instruction, c), -1,
                          SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW)
            die("naive lookup miss", NULL);
        sqlite3_finalize(st);
    }
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    sqlite3_close(db);
    return (double)q / t;
}

static int count_cb(const ipvm_receipt_row_t *row, void *data)
{
    (void)row;
    ++*(long *)data;
    return 0;
}

/* Loading all of a workflow's receipts in one query (what a replay of a finished run needs). */
static double ipvm_walk(ipvm_store_t *s, long n)
{
    ipvm_cid_t wf = mkcid("w", 1);
    long seen = 0;
    ipvm_error_t e;
    double t = now_s(), c0 = cpu_s();
    if (ipvm_store_each_receipt(s, &wf, count_cb, &seen, &e) != 0 || seen != n)
        die("walk", &e);
    t = now_s() - t;
    g_cpu = cpu_s() - c0;
    return (double)n / t;
}

int main(int argc, char **argv)
{
    char dir[4096];
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/ipvm-bench-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL)
            die("mkdtemp", NULL);
    }
    long nsingle = 1000, nbatch = 100000, nlook = 100000;
    if (argc > 2 && atol(argv[2]) > 0) { /* a smaller run: bench_store DIR N */
        nbatch = atol(argv[2]);
        nlook = nbatch;
        nsingle = nbatch / 100 > 50 ? nbatch / 100 : 50;
    }
    printf("bench_store in %s (SQLite %s)\n\n", dir, sqlite3_libversion());
    struct {
        const char *label;
        double rate, cpu_us;
    } w[5], l[5];
    w[0].label = "peer: plain SQLite C, exec per receipt, sync=FULL";
    w[0].rate = naive(dir, "naive_full.db", "FULL", nsingle);
    w[0].cpu_us = g_cpu / (double)nsingle * 1e6;
    w[1].label = "peer: same, sync=NORMAL (Homestar's; NOT durable)";
    w[1].rate = naive(dir, "naive_normal.db", "NORMAL", nsingle * 5);
    w[1].cpu_us = g_cpu / (double)(nsingle * 5) * 1e6;
    w[2].label = "ipvm put_receipt_for, one transaction each (FULL)";
    w[2].rate = ipvm_single(dir, nsingle);
    w[2].cpu_us = g_cpu / (double)nsingle * 1e6;
    w[3].label = "ipvm put_receipts, 100 per transaction (FULL)";
    w[3].rate = ipvm_batched(dir, "b100.db", nbatch, 100);
    w[3].cpu_us = g_cpu / (double)nbatch * 1e6;
    w[4].label = "ipvm put_receipts, 1000 per transaction (FULL)";
    w[4].rate = ipvm_batched(dir, "b1000.db", nbatch, 1000);
    w[4].cpu_us = g_cpu / (double)nbatch * 1e6;
    printf("%-60s %12s %9s %8s\n", "durable inserts (receipt + workflow link)", "receipts/s",
           "CPU us", "vs peer");
    for (int i = 0; i < 5; i++)
        printf("%-60s %12.0f %9.1f %7.1fx\n", w[i].label, w[i].rate, w[i].cpu_us,
               w[i].rate / w[0].rate);

    char path[4200];
    snprintf(path, sizeof path, "%s/b1000.db", dir);
    ipvm_store_t *s;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_store_open(path, 0, &s, &err) != 0)
        die("reopen", &err);
    rec_t *r = make(nbatch, 0);
    l[0].label = "peer: plain SQLite C, prepare/step/finalize each";
    l[0].rate = naive_lookup(path, r, nbatch, nlook);
    l[0].cpu_us = g_cpu / (double)nlook * 1e6;
    l[1].label = "ipvm find_receipt (prepared once, reused)";
    l[1].rate = ipvm_lookup_one(s, r, nbatch, nlook);
    l[1].cpu_us = g_cpu / (double)nlook * 1e6;
    l[2].label = "ipvm find_receipts, 1000 per call (one read txn)";
    l[2].rate = ipvm_lookup_bulk(s, r, nbatch, nlook, 1000);
    l[2].cpu_us = g_cpu / (double)nlook * 1e6;
    l[3].label = "ipvm find_receipts, 10000 per call";
    l[3].rate = ipvm_lookup_bulk(s, r, nbatch, nlook, 10000);
    l[3].cpu_us = g_cpu / (double)nlook * 1e6;
    l[4].label = "ipvm each_receipt of one workflow (replay load)";
    l[4].rate = ipvm_walk(s, nbatch);
    l[4].cpu_us = g_cpu / (double)nbatch * 1e6;
    printf("\n%-60s %12s %9s %8s\n", "memoization lookups by instruction CID", "lookups/s",
           "CPU us", "vs peer");
    for (int i = 0; i < 5; i++)
        printf("%-60s %12.0f %9.2f %7.1fx\n", l[i].label, l[i].rate, l[i].cpu_us,
               l[i].rate / l[0].rate);
    printf("\n(%ld receipts stored; CPU us = this thread's CPU time per receipt: fsync waits are "
           "not CPU, and on a busy machine the rates fall but the CPU cost does not)\n",
           nbatch);
    ipvm_store_close(s);
    free(r);
    return 0;
}
