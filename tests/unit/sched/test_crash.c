/* SPDX-License-Identifier: Apache-2.0 */
/* Crash safety of `ipvm run`: a 1,000-task workflow of add_one chains and fans (Homestar's
 * example_test.wasm) is run and killed with SIGKILL at 20 random moments, restarted each time,
 * then run to the end: every task must have exactly one receipt, with the right output, whose
 * bytes hash to its CID, and the receipts kept only ever grow. */
#define _GNU_SOURCE
#include "test.h"

#include "workflow/workflow_int.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define EXAMPLE_CID "bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

typedef struct {
    const ipvm_workflow_t *wf;
    const int64_t *want;
    int64_t rows, ok;
    int seen[1000];
} check_t;

static int check_row(const ipvm_receipt_row_t *row, void *data)
{
    check_t *c = data;
    long t = ipvm_workflow_find(c->wf, &row->instruction);
    c->rows++;
    IPVM_ASSERT_MSG(t >= 0, "a receipt for an instruction that is not in the workflow");
    c->seen[t]++;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_receipt_t r;
    memset(&r, 0, sizeof r);
    r.ran = row->ran;
    r.iss = row->issuer;
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(row->out, row->out_len, &a, &r.out, NULL));
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(row->meta, row->meta_len, &a, &r.meta, NULL));
    IPVM_ASSERT_OK(ipvm_dagcbor_decode(row->prf, row->prf_len, &a, &r.prf, NULL));
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_receipt_encode(&r, &b, NULL));
    ipvm_cid_t cid;
    IPVM_ASSERT_OK(ipvm_cid_create(&cid, 1, IPVM_CODEC_DAG_CBOR, IPVM_MH_SHA3_256, b.data, b.len));
    IPVM_ASSERT_MSG(ipvm_cid_equal(&cid, &row->cid), "task %ld: receipt bytes do not hash to its CID",
                    t);
    IPVM_ASSERT(ipvm_cid_equal(&row->ran, &c->wf->tasks[t].invocation));
    char s[200];
    ipvm_ipld_summary(r.out, s, sizeof s);
    char want[64];
    snprintf(want, sizeof want, "[\"ok\",%lld]", (long long)c->want[t]);
    IPVM_ASSERT_MSG(strcmp(s, want) == 0, "task %ld: out %s, want %s", t, s, want);
    c->ok++;
    ipvm_buf_dispose(&b);
    ipvm_arena_dispose(&a);
    return 0;
}

/* Checks every receipt in the database; returns how many there are. */
static int64_t check_db(const char *db, const ipvm_workflow_t *wf, const int64_t *want,
                        bool complete)
{
    static check_t c;
    memset(&c, 0, sizeof c);
    c.wf = wf;
    c.want = want;
    if (access(db, F_OK) != 0)
        return 0;
    ipvm_store_t *s = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_store_open(db, IPVM_STORE_READONLY, &s, &err);
    if (rc == IPVM_EROFS && !complete) /* killed while the database was being created: the next */
        return 0;                      /* writer creates its tables, nothing is in it yet */
    IPVM_ASSERT_OK_ERR(rc, &err);
    IPVM_ASSERT_OK(ipvm_store_each_receipt(s, NULL, check_row, &c, NULL));
    int64_t linked = 0;
    IPVM_ASSERT_OK(ipvm_store_count_receipts(s, &wf->cid, &linked, NULL));
    ipvm_store_close(s);
    for (size_t t = 0; t < wf->ntasks; t++) {
        IPVM_ASSERT_MSG(c.seen[t] <= 1, "task %zu has %d receipts", t, c.seen[t]);
        if (complete)
            IPVM_ASSERT_MSG(c.seen[t] == 1, "task %zu has no receipt", t);
    }
    IPVM_ASSERT_EQ(linked, c.rows); /* every receipt is linked to the workflow */
    return c.rows;
}

static pid_t spawn_run(const char *dir, const char *wfpath)
{
    pid_t pid = fork();
    IPVM_ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(ipvm_test_bin("ipvm"), "ipvm", "--data-dir", dir, "-q", "run", "--threads", "1",
              "--tier", "tcc", wfpath, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Receipts committed so far (what a reader sees), or 0 before the database exists. The
 * reader's handle *h stays open between polls (opening one took longer under load than a run
 * takes to commit all its receipts, so a kill meant for the middle of the run came after). */
static int64_t committed(const char *db, ipvm_store_t **h)
{
    if (*h == NULL && (access(db, F_OK) != 0 ||
                       ipvm_store_open(db, IPVM_STORE_READONLY, h, NULL) != 0)) {
        *h = NULL; /* not there yet, or being created or migrated */
        return 0;
    }
    int64_t n = 0;
    if (ipvm_store_count_receipts(*h, NULL, &n, NULL) != 0)
        n = 0;
    return n;
}

/* Kills `pid` `ms` after it started (after_receipt false), or `ms` after the first receipt it
 * commits (after_receipt true: the kill lands while it executes and commits). Returns true
 * when the process had already finished by itself. */
static bool kill_when(pid_t pid, const char *db, int64_t kept, bool after_receipt, long ms)
{
    int st = 0;
    uint64_t t0 = ipvm_now_ns(), limit = (uint64_t)ipvm_test_timeout_ms() / 2;
    bool armed = !after_receipt;
    ipvm_store_t *h = NULL;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (h)
                ipvm_store_close(h);
            return true;
        }
        uint64_t elapsed = (ipvm_now_ns() - t0) / 1000000u;
        if (!armed && committed(db, &h) > kept) {
            armed = true;
            t0 = ipvm_now_ns();
            elapsed = 0;
        }
        if ((armed && elapsed >= (uint64_t)ms) || elapsed > limit)
            break;
        sleep_ms(1);
    }
    kill(pid, SIGKILL);
    if (h)
        ipvm_store_close(h);
    IPVM_ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st);
}

IPVM_TEST(sched, crash_safety)
{
    char dir[4200], wfpath[4300], db[4300];
    snprintf(dir, sizeof dir, "%s/data", ipvm_test_tmpdir());
    snprintf(wfpath, sizeof wfpath, "%s/wf.json", ipvm_test_tmpdir());
    snprintf(db, sizeof db, "%s/ipvm.db", dir);
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *add[] = {ipvm_test_bin("ipvm"), "--data-dir", dir, "-q", "add",
                         ipvm_test_vector("homestar/wasm/example_test.wasm"), NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(add, NULL, NULL, ipvm_test_timeout_ms(), &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, EXAMPLE_CID);
    /* 500 tasks in chains of 10, 500 in fans of 1 + 9 */
    ipvm__wf_gen_t g = {.chains = 50, .length = 10, .fans = 50, .width = 9,
                        .rsc = "ipfs://" EXAMPLE_CID, .func = "add_one", .base = 1};
    IPVM_ASSERT_EQ(ipvm__wf_gen_count(&g), 1000);
    int64_t want[1000];
    ipvm_buf_t js = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm__wf_generate(&g, &js, want));
    IPVM_ASSERT_OK(ipvm_file_write_atomic(wfpath, js.data, js.len, NULL));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = NULL;
    IPVM_ASSERT_OK(ipvm_workflow_parse((const char *)js.data, js.len, NULL, &a, &wf, NULL));
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    printf("crash_safety: seed %llu\n", (unsigned long long)seed);
    int64_t kept = 0;
    int midrun = 0;
    for (int k = 0; k < 20; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = seed >> 33;
        /* while the workflow is not complete, a random moment after the run's first commit
         * (so the kill lands while it executes and commits); then, and for every third kill,
         * a random moment from the start (compiling, parsing, lookups, replays) */
        bool after = k % 3 != 2 && kept < 1000;
        /* (a run commits ~40 receipts a ms once it executes: a kill up to 20 ms after its
         * first commit could come after its last, and leave no kill mid-run) */
        long ms = after ? (long)(r % 6) : (long)(r % 2000);
        pid_t pid = spawn_run(dir, wfpath);
        bool finished = kill_when(pid, db, kept, after, ms);
        int64_t now = check_db(db, wf, want, false);
        IPVM_ASSERT_MSG(now >= kept, "receipts went from %lld to %lld", (long long)kept,
                        (long long)now);
        if (!finished && now > kept && now < 1000)
            midrun++;
        printf("kill %2d %4ld ms %s: %4lld receipts%s\n", k + 1, ms,
               after ? "after its first commit" : "after its start", (long long)now,
               finished ? " (the run had finished)" : "");
        kept = now;
    }
    printf("crash_safety: %d kills landed while receipts were being written\n", midrun);
    IPVM_ASSERT(midrun >= 1);
    /* the last run finishes: replays what was kept, executes the rest */
    const char *run[] = {ipvm_test_bin("ipvm"), "--data-dir", dir, "--json", "run", "--tier",
                         "tcc", wfpath, NULL};
    IPVM_ASSERT_EQ(ipvm_test_run(run, NULL, NULL, ipvm_test_timeout_ms(), &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS((const char *)out.data, "\"status\":\"ok\"");
    IPVM_ASSERT_EQ(check_db(db, wf, want, true), 1000);
    ipvm_buf_dispose(&js);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
    ipvm_arena_dispose(&a);
}
