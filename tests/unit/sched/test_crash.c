/* SPDX-License-Identifier: Apache-2.0 */
/* Crash safety of `ipvm run`: a 1,000-task workflow of add_one chains and fans (Homestar's
 * example_test.wasm) is run and killed with SIGKILL 20 times, 3 of them at a stall of its
 * writer in the middle of the run and the others at random moments, restarted each time, then
 * run to the end: every task must have exactly one receipt, with the right output, whose
 * bytes hash to its CID, and the receipts kept only ever grow. */
#define _GNU_SOURCE
#include "test.h"

#include "workflow/workflow_int.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
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

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts `ipvm run`. stall >= 0: with writer.c's test-only stall after `stall` receipts,
 * which writes a byte to stall_wr (the write end of a pipe) when it stops. */
static pid_t spawn_run(const char *dir, const char *wfpath, long stall, int stall_wr)
{
    char after[64], fd[64];
    snprintf(after, sizeof after, "IPVM_TEST_STALL_AFTER_RECEIPTS=%ld", stall);
    snprintf(fd, sizeof fd, "IPVM_TEST_STALL_FD=%d", stall_wr);
    pid_t pid = fork();
    IPVM_ASSERT(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (stall >= 0) {
            fcntl(stall_wr, F_SETFD, 0); /* (the pipe is O_CLOEXEC) */
            putenv(after);
            putenv(fd);
        }
        execl(ipvm_test_bin("ipvm"), "ipvm", "--data-dir", dir, "-q", "run", "--threads", "1",
              "--tier", "tcc", wfpath, (char *)NULL);
        _exit(127);
    }
    return pid;
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

enum { MOMENT_TIME, MOMENT_STALL, MOMENT_FINISHED };

/* Waits for the moment to kill `pid`: `ms` after it started (after_receipt false), or `ms`
 * after the first receipt it commits (after_receipt true: it executes and commits), or (ms <
 * 0) never by time; and in any case when its writer stalls (a byte on stall_rd, if >= 0).
 * Returns which came first, MOMENT_FINISHED when the process ended by itself (reaped). */
static int wait_moment(pid_t pid, const char *db, int64_t kept, bool after_receipt, long ms,
                       int stall_rd)
{
    int st = 0, moment = MOMENT_TIME;
    uint64_t t0 = ipvm_now_ns(), limit = (uint64_t)ipvm_test_timeout_ms() / 2;
    bool armed = !after_receipt && ms >= 0;
    ipvm_store_t *h = NULL;
    for (;;) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            moment = MOMENT_FINISHED;
            break;
        }
        uint64_t elapsed = (ipvm_now_ns() - t0) / 1000000u;
        if (!armed && ms >= 0 && committed(db, &h) > kept) {
            armed = true;
            t0 = ipvm_now_ns();
            elapsed = 0;
        }
        if ((armed && elapsed >= (uint64_t)ms) || elapsed > limit)
            break;
        if (stall_rd < 0) {
            sleep_ms(1);
            continue;
        }
        struct pollfd p = {stall_rd, POLLIN, 0};
        if (poll(&p, 1, 1) != 1)
            continue;
        char b;
        if (read(stall_rd, &b, 1) == 1) {
            moment = MOMENT_STALL;
            break;
        }
        stall_rd = -1; /* closed: the run ended (reaped above next) */
    }
    if (h)
        ipvm_store_close(h);
    return moment;
}

static void kill_reap(pid_t pid)
{
    int st = 0;
    kill(pid, SIGKILL);
    IPVM_ASSERT(waitpid(pid, &st, 0) == pid);
}

/* The workflow the runs run, and the outputs its tasks must have. */
typedef struct {
    const char *dir, *wfpath;
    const ipvm_workflow_t *wf;
    const int64_t *want;
} crash_t;

/* What one kill is to do: at_stall, kill at the stall after `stall` receipts; else at a random
 * moment, `ms` after the run's first commit (after) or its start, with its writer stalling
 * after `stall` receipts if it gets there (stall >= 0). */
typedef struct {
    bool at_stall, after;
    long stall, ms;
} kill_plan_t;

/* Runs `ipvm run` of c, kills it as `p` says, and checks the database against the `kept`
 * receipts of the last kill. Returns the receipts now stored; *midrun says whether the kill
 * landed while receipts were being written, *how what it did. */
static int64_t run_and_kill(const crash_t *c, const kill_plan_t *p, int64_t kept, bool *midrun,
                            char *how, size_t howlen)
{
    char db[4300];
    snprintf(db, sizeof db, "%s/ipvm.db", c->dir);
    int pipefd[2] = {-1, -1};
    if (p->stall >= 0)
        IPVM_ASSERT(pipe2(pipefd, O_CLOEXEC) == 0);
    uint64_t t0 = ipvm_now_ns();
    pid_t pid = spawn_run(c->dir, c->wfpath, p->stall, pipefd[1]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    int moment = wait_moment(pid, db, kept, p->after, p->at_stall ? -1 : p->ms, pipefd[0]);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    int64_t seen = -1;
    if (p->at_stall) { /* what the stall left on disk is there after the kill */
        IPVM_ASSERT_MSG(moment == MOMENT_STALL, "the run %s instead of stalling after %ld "
                        "receipts", moment == MOMENT_FINISHED ? "ended" : "went on", p->stall);
        ipvm_store_t *h = NULL;
        seen = committed(db, &h);
        if (h)
            ipvm_store_close(h);
        IPVM_ASSERT_MSG(seen > kept && seen < 1000, "the run stalled with %lld receipts stored, "
                        "not between %lld and 1000", (long long)seen, (long long)kept);
    }
    if (moment != MOMENT_FINISHED)
        kill_reap(pid);
    double run_ms = (double)(ipvm_now_ns() - t0) / 1e6;
    int64_t now = check_db(db, c->wf, c->want, false);
    IPVM_ASSERT_MSG(now >= kept, "receipts went from %lld to %lld", (long long)kept,
                    (long long)now);
    if (p->at_stall)
        IPVM_ASSERT_MSG(now == seen, "%lld receipts stored before the kill, %lld after",
                        (long long)seen, (long long)now);
    *midrun = moment != MOMENT_FINISHED && now > kept && now < 1000;
    char what[48];
    if (p->at_stall)
        snprintf(what, sizeof what, "at its stall after %ld receipts", p->stall);
    else
        snprintf(what, sizeof what, "%ld ms after its %s", p->ms,
                 p->after ? "first commit" : "start");
    snprintf(how, howlen, "%-31s (%5.1f ms): %4lld receipts%s", what, run_ms, (long long)now,
             moment == MOMENT_FINISHED                ? " (the run had finished)"
             : moment == MOMENT_STALL && !p->at_stall ? " (it had stalled first)"
                                                      : "");
    return now;
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
    /* Kills 1, 4 and 7 land at a stall of the run's writer (writer.c's test-only
     * IPVM_TEST_STALL_AFTER_RECEIPTS) once the database holds stop[j] receipts, a quarter, a
     * half and three quarters of the workflow: in the middle of its commits by construction
     * (a run commits ~40 receipts a ms once it executes, so a kill timed after its first
     * commit can come after its last). The others land at random moments: 0-5 ms after the
     * run's first commit, or (every third, and every kill once the workflow is complete) from
     * its start, in its first 50 ms (15 ms once complete: a run that executes made its first
     * commit ~40 ms after its start, a replay of all 1,000 receipts took 13 ms): start-up,
     * compiling, parsing, replays. Until the last stall, a random kill's run stalls half way to
     * the next stop if it gets there, so that none completes the workflow before it. */
    enum { KILLS = 20, STALLS = 3 };
    int64_t stop[STALLS];
    for (int j = 0; j < STALLS; j++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        stop[j] = (j + 1) * 1000 / (STALLS + 1) + (int64_t)((seed >> 33) % 41) - 20;
    }
    crash_t c = {dir, wfpath, wf, want};
    int64_t kept = 0;
    int midrun = 0, stalls = 0;
    for (int k = 0; k < KILLS; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = seed >> 33;
        int next = (k + 2) / 3; /* the next stall's index */
        kill_plan_t p = {.at_stall = k % 3 == 0 && next < STALLS,
                         .after = k % 3 != 2 && kept < 1000, .stall = -1};
        if (next < STALLS) {
            IPVM_ASSERT(kept < stop[next]);
            p.stall = (long)(p.at_stall ? stop[next] - kept : (stop[next] - kept) / 2);
            IPVM_ASSERT(p.stall >= 1); /* it commits receipts before it stalls */
        }
        p.ms = p.after ? (long)(r % 6) : (long)(r % (kept < 1000 ? 50 : 15));
        bool mid = false;
        char how[128];
        printf("kill %2d ", k + 1);
        fflush(stdout); /* (a failed assertion below says which kill it was) */
        kept = run_and_kill(&c, &p, kept, &mid, how, sizeof how);
        printf("%s\n", how);
        midrun += mid;
        stalls += mid && p.at_stall;
    }
    printf("crash_safety: %d kills landed while receipts were being written, %d of them at a "
           "stall\n", midrun, stalls);
    IPVM_ASSERT_EQ(stalls, STALLS);
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
