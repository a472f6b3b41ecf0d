/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm_tests: runs the tests registered in tests/test_list.h, each in its own process with a
 * timeout, several at once (-j), and prints one line per test and "N passed, N failed" last
 * (libuv's runner is the model). Also replays the committed fuzz corpora. */
#define _GNU_SOURCE
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- registry -------------------------------------------------------------------------------- */
#define X(area, name) void test_##area##_##name(void);
#include "test_list.h"
#undef X

#define F(name) int ipvm_fuzz_##name(const uint8_t *data, size_t size);
#include "fuzz/targets.h"
#undef F

typedef struct {
    const char *name;   /* "area/name" */
    void (*fn)(void);   /* NULL for fuzz replays */
    int timeout_s;      /* before the multiplier */
    ipvm_fuzz_fn fuzz;  /* fuzz replay target, or NULL */
    const char *corpus; /* target name for fuzz replays */
} test_t;

#define DEFAULT_TIMEOUT_S 60

static const test_t tests[] = {
#define X(area, name) {#area "/" #name, test_##area##_##name, DEFAULT_TIMEOUT_S, NULL, NULL},
#define XT(area, name, secs) {#area "/" #name, test_##area##_##name, (secs), NULL, NULL},
#include "test_list.h"
#undef X
#define F(name) {"fuzz/" #name, NULL, 300, ipvm_fuzz_##name, #name},
#include "fuzz/targets.h"
#undef F
    {NULL, NULL, 0, NULL, NULL},
};

/* ---- state of the test running in this (child) process ---------------------------------------- */
static int result_fd = -1;         /* pipe to the parent for the failure message */
static char current_tmpdir[4096];  /* created lazily */
static const test_t *current_test; /* the test this process runs */
static double timeout_multiplier = 1.0;
static bool keep_tmp;

static void report_and_exit(int code, const char *msg) __attribute__((noreturn));
static void report_and_exit(int code, const char *msg)
{
    if (result_fd >= 0) {
        size_t len = strlen(msg);
        ssize_t w = write(result_fd, msg, len);
        (void)w;
    } else {
        fprintf(stderr, "%s\n", msg);
    }
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}

void ipvm_test_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[4096];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    report_and_exit(1, msg);
}

void ipvm_test_skip(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report_and_exit(77, msg);
}

const char *ipvm_test_hex(const void *p, size_t len)
{
    static _Thread_local char out[2 * 96 + 8];
    const uint8_t *b = p;
    size_t n = len > 96 ? 96 : len, o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%02x", b[i]);
    if (n < len)
        snprintf(out + o, sizeof out - o, "...");
    return out;
}

void ipvm_test_assert_memeq(const char *file, int line, const char *an, const void *a, size_t alen,
                            const char *bn, const void *b, size_t blen)
{
    if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
        return;
    size_t i = 0;
    while (i < alen && i < blen && ((const uint8_t *)a)[i] == ((const uint8_t *)b)[i])
        i++;
    char ha[2 * 96 + 8];
    snprintf(ha, sizeof ha, "%s", ipvm_test_hex(a, alen));
    ipvm_test_fail(file, line, "%s == %s (lengths %zu vs %zu, first difference at byte %zu)\n  %s\n  %s",
                   an, bn, alen, blen, i, ha, ipvm_test_hex(b, blen));
}

const char *ipvm_test_tmpdir(void)
{
    if (current_tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        if (base == NULL || *base == '\0' || strlen(base) > 1024)
            base = "/tmp";
        char name[256];
        snprintf(name, sizeof name, "%s", current_test ? current_test->name : "test");
        for (char *s = name; *s; s++)
            if (*s == '/')
                *s = '-';
        snprintf(current_tmpdir, sizeof current_tmpdir, "%.1024s/ipvm-test-%.200s-XXXXXX", base,
                 name);
        if (mkdtemp(current_tmpdir) == NULL)
            ipvm_test_fail(__FILE__, __LINE__, "mkdtemp(%s): %s", current_tmpdir, strerror(errno));
    }
    return current_tmpdir;
}

const char *ipvm_test_vector(const char *rel)
{
    static _Thread_local char path[8][4096];
    static _Thread_local int slot;
    slot = (slot + 1) % 8;
    snprintf(path[slot], sizeof path[slot], "%s/tests/vectors/%s", IPVM_SOURCE_DIR, rel);
    return path[slot];
}

const char *ipvm_test_bin(const char *name)
{
    static _Thread_local char path[8][4096];
    static _Thread_local int slot;
    slot = (slot + 1) % 8;
    snprintf(path[slot], sizeof path[slot], "%s/%s", IPVM_BINARY_DIR, name);
    return path[slot];
}

void ipvm_test_read_file(const char *path, ipvm_buf_t *out)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int rc = ipvm_file_read(path, out, &err);
    if (rc)
        ipvm_test_fail(__FILE__, __LINE__, "cannot read %s: %s", path, err.msg);
}

int ipvm_test_timeout_ms(void)
{
    int s = current_test ? current_test->timeout_s : DEFAULT_TIMEOUT_S;
    return (int)(s * 1000 * timeout_multiplier);
}

double ipvm_test_timeout_multiplier(void)
{
    return timeout_multiplier;
}

static void drain(int fd, ipvm_buf_t *b, bool *open_flag)
{
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n > 0) {
        if (b && ipvm_buf_append(b, tmp, (size_t)n) != 0)
            ipvm_test_fail(__FILE__, __LINE__, "out of memory capturing output");
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        *open_flag = false;
    }
}

int ipvm_test_run(const char *const *argv, const char *const *env, const char *in,
                  int timeout_ms, ipvm_buf_t *out, ipvm_buf_t *errout)
{
    int pin[2], pout[2], perr[2];
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
        ipvm_test_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        ipvm_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        setpgid(0, 0);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (in) {
        size_t len = strlen(in), off = 0;
        signal(SIGPIPE, SIG_IGN);
        while (off < len) {
            ssize_t w = write(pin[1], in + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    close(pin[1]);
    bool out_open = true, err_open = true;
    /* a cap, never the point: a sanitizer build or a loaded runner gets more */
    timeout_ms = (int)(timeout_ms * timeout_multiplier);
    uint64_t deadline = ipvm_now_ns() + (uint64_t)timeout_ms * 1000000u;
    int status = 0;
    bool killed = false;
    while (out_open || err_open) {
        struct pollfd fds[2] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}};
        int64_t left = (int64_t)(deadline - ipvm_now_ns()) / 1000000;
        if ((int64_t)(deadline - ipvm_now_ns()) <= 0) {
            kill(-pid, SIGKILL);
            killed = true;
            break;
        }
        int r = poll(fds, 2, (int)(left > 1000 ? 1000 : left + 1));
        if (r < 0 && errno != EINTR)
            break;
        if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(pout[0], out, &out_open);
        if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            drain(perr[0], errout, &err_open);
    }
    close(pout[0]);
    close(perr[0]);
    for (;;) {
        pid_t w = waitpid(pid, &status, killed ? 0 : WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            ipvm_test_fail(__FILE__, __LINE__, "waitpid: %s", strerror(errno));
        if ((int64_t)(deadline - ipvm_now_ns()) <= 0 && !killed) {
            kill(-pid, SIGKILL);
            killed = true;
        }
        if (!killed) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    if (killed)
        ipvm_test_fail(__FILE__, __LINE__, "%s did not finish within %d ms", argv[0], timeout_ms);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int ipvm_test_ipvm(const char *dir, const char *const *args, int timeout_ms, ipvm_buf_t *out,
                   ipvm_buf_t *errout)
{
    const char *argv[32] = {ipvm_test_bin("ipvm"), "--data-dir", dir};
    size_t n = 3;
    for (size_t i = 0; args[i]; i++) {
        if (n == 31)
            ipvm_test_fail(__FILE__, __LINE__, "ipvm_test_ipvm: more than 28 arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    ipvm_buf_clear(out);
    ipvm_buf_clear(errout);
    int st = ipvm_test_run(argv, NULL, NULL, timeout_ms, out, errout);
    if (ipvm_buf_reserve(out, 1) || ipvm_buf_reserve(errout, 1))
        ipvm_test_fail(__FILE__, __LINE__, "ipvm_test_ipvm: out of memory");
    return st;
}

const ipvm_ipld_t *ipvm_test_json(ipvm_arena_t *a, const ipvm_buf_t *b)
{
    ipvm_ipld_t *v = NULL;
    ipvm_error_t err = {0};
    if (ipvm_dagjson_decode((const char *)b->data, b->len, a, &v, &err) != 0)
        ipvm_test_fail(__FILE__, __LINE__, "not JSON: %.500s (%s)",
                       b->data ? (const char *)b->data : "", err.msg);
    return v;
}

/* ---- fuzz corpus replay -------------------------------------------------------------------- */
/* Runs the target on a copy of the input that ends where an inaccessible page begins, so a read
 * past the end, even of one byte (an empty input included), faults in every build, not only
 * under ASan. */
static void replay_guarded(const test_t *t, const ipvm_buf_t *b)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (b->len + page - 1) / page * page;
    uint8_t *m = mmap(NULL, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                      0);
    if (m == MAP_FAILED || mprotect(m + body, page, PROT_NONE) != 0)
        ipvm_test_fail(__FILE__, __LINE__, "mmap/mprotect: %s", strerror(errno));
    uint8_t *p = m + body - b->len;
    if (b->len)
        memcpy(p, b->data, b->len);
    t->fuzz(p, b->len);
    munmap(m, body + page);
}

static int replay_dir(const test_t *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        ipvm_test_fail(__FILE__, __LINE__, "no corpus at %s: commit one (make fuzz builds it)", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096 + 512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ipvm_buf_t b = IPVM_BUF_INIT;
        ipvm_test_read_file(path, &b);
        replay_guarded(t, &b);
        ipvm_buf_dispose(&b);
        count++;
    }
    closedir(d);
    return count;
}

static void run_fuzz_replay(const test_t *t)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", IPVM_SOURCE_DIR, t->corpus);
    int n = replay_dir(t, dir);
    if (n == 0)
        ipvm_test_fail(__FILE__, __LINE__, "corpus %s is empty", dir);
    printf("replayed %d inputs\n", n);
}

/* ---- the parent: scheduling, timeouts, reporting --------------------------------------------- */
typedef struct {
    const test_t *t;
    pid_t pid;
    int result_rd;   /* read end of the result pipe */
    char outfile[4096];
    uint64_t start_ns;
    uint64_t deadline_ns;
    char tmpdir_hint[4096];
} running_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static void child_main(const test_t *t, int wr, const char *outfile)
{
    setpgid(0, 0);
    result_fd = wr;
    current_test = t;
    int fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (t->fn)
        t->fn();
    else
        run_fuzz_replay(t);
    fflush(stdout);
    /* the parent removes the tmpdir; tell it where it is */
    if (current_tmpdir[0]) {
        char msg[4200];
        snprintf(msg, sizeof msg, "\x01%s", current_tmpdir);
        ssize_t w = write(wr, msg, strlen(msg));
        (void)w;
    }
    _exit(0);
}

static void print_tail(const char *path, int lines)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (ipvm_file_read(path, &b, NULL) != 0 || b.len == 0) {
        ipvm_buf_dispose(&b);
        return;
    }
    size_t start = b.len;
    int seen = 0;
    while (start > 0) {
        if (b.data[start - 1] == '\n' && ++seen > lines)
            break;
        start--;
    }
    printf("  --- output (last %d lines) ---\n", lines);
    fwrite(b.data + start, 1, b.len - start, stdout);
    if (b.data[b.len - 1] != '\n')
        putchar('\n');
    printf("  ---\n");
    ipvm_buf_dispose(&b);
}

static int passed, failed, skipped;

static void finish(running_t *r, int status, bool timed_out)
{
    char msg[8192] = "";
    ssize_t n = read(r->result_rd, msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(r->result_rd);
    char tmpdir[4096] = "";
    char *mark = strchr(msg, '\x01');
    if (mark) {
        snprintf(tmpdir, sizeof tmpdir, "%s", mark + 1);
        *mark = '\0';
    }
    double ms = (double)(ipvm_now_ns() - r->start_ns) / 1e6;
    bool ok = false;
    if (timed_out) {
        printf("FAIL %s: timed out after %.0f s\n", r->t->name, ms / 1000);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ok = true;
        if (ms < 10)
            printf("ok   %s (%.1f ms)\n", r->t->name, ms);
        else
            printf("ok   %s (%.0f ms)\n", r->t->name, ms);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        printf("skip %s: %s\n", r->t->name, msg);
        skipped++;
        unlink(r->outfile);
        return;
    } else if (WIFEXITED(status)) {
        printf("FAIL %s: %s\n", r->t->name, msg[0] ? msg : "exited with status");
        if (!msg[0])
            printf("  (exit status %d)\n", WEXITSTATUS(status));
    } else {
        printf("FAIL %s: killed by signal %d (%s)%s%s\n", r->t->name, WTERMSIG(status),
               strsignal(WTERMSIG(status)), msg[0] ? ": " : "", msg);
    }
    if (ok) {
        passed++;
        if (tmpdir[0] && !keep_tmp)
            rm_rf(tmpdir);
    } else {
        failed++;
        print_tail(r->outfile, 40);
        if (tmpdir[0])
            printf("  (kept %s)\n", tmpdir);
    }
    unlink(r->outfile);
    fflush(stdout);
}

static bool matches(const char *name, int nfilters, char **filters)
{
    if (nfilters == 0)
        return true;
    for (int i = 0; i < nfilters; i++) {
        size_t l = strlen(filters[i]);
        if (strncmp(name, filters[i], l) == 0)
            return true;
    }
    return false;
}

static void usage(void)
{
    printf("usage: ipvm_tests [options] [NAME-or-PREFIX ...]\n"
           "Runs the ipvm test suite; each test in its own process with a timeout.\n\n"
           "  --list            print the test names and exit\n"
           "  -j N              run N tests at once (default: 1)\n"
           "  --no-fork         run in this process (for a debugger; stops at the first failure)\n"
           "  --keep-tmp        keep each test's temporary directory\n"
           "  --replay-corpus   run only the fuzz corpus replays (fuzz/<target>)\n"
           "  -h, --help        this text\n\n"
           "Environment: IPVM_TEST_TIMEOUT_MULTIPLIER scales every timeout (sanitizer builds);\n"
           "TMPDIR chooses where temporary directories go.\n"
           "The last line is always \"N passed, N failed\"; the exit status is 1 on any failure.\n");
}

int main(int argc, char **argv)
{
    int jobs = 1;
    bool list = false, nofork = false;
    char **filters = ipvm_calloc((size_t)argc, sizeof *filters);
    int nfilters = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
            jobs = atoi(argv[++i]);
        } else if (strncmp(argv[i], "-j", 2) == 0 && argv[i][2]) {
            jobs = atoi(argv[i] + 2);
        } else if (strcmp(argv[i], "--no-fork") == 0) {
            nofork = true;
        } else if (strcmp(argv[i], "--keep-tmp") == 0) {
            keep_tmp = true;
        } else if (strcmp(argv[i], "--replay-corpus") == 0) {
            filters[nfilters++] = "fuzz/";
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "ipvm_tests: unknown option %s (see --help)\n", argv[i]);
            return 2;
        } else {
            filters[nfilters++] = argv[i];
        }
    }
    if (jobs < 1)
        jobs = 1;
    const char *mult = getenv("IPVM_TEST_TIMEOUT_MULTIPLIER");
    if (mult && atof(mult) > 0)
        timeout_multiplier = atof(mult);

    size_t ntests = 0;
    for (const test_t *t = tests; t->name; t++)
        if (matches(t->name, nfilters, filters))
            ntests++;
    if (list) {
        for (const test_t *t = tests; t->name; t++)
            if (matches(t->name, nfilters, filters))
                printf("%s\n", t->name);
        ipvm_free(filters);
        return 0;
    }
    if (ntests == 0) {
        fprintf(stderr, "ipvm_tests: no test matches; see --list\n");
        printf("0 passed, 0 failed\n");
        ipvm_free(filters);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (nofork) {
        for (const test_t *t = tests; t->name; t++) {
            if (!matches(t->name, nfilters, filters))
                continue;
            current_test = t;
            current_tmpdir[0] = '\0';
            uint64_t s = ipvm_now_ns();
            if (t->fn)
                t->fn();
            else
                run_fuzz_replay(t);
            printf("ok   %s (%.1f ms)\n", t->name, (double)(ipvm_now_ns() - s) / 1e6);
            passed++;
        }
        printf("%d passed, %d failed\n", passed, failed);
        return 0;
    }

    running_t *run = ipvm_calloc((size_t)jobs, sizeof *run);
    const test_t *next = tests;
    int active = 0;
    const char *tmpbase = getenv("TMPDIR");
    if (tmpbase == NULL || *tmpbase == '\0')
        tmpbase = "/tmp";
    for (;;) {
        while (active < jobs && next->name) {
            const test_t *t = next++;
            if (!matches(t->name, nfilters, filters))
                continue;
            running_t *r = NULL;
            for (int i = 0; i < jobs; i++)
                if (run[i].t == NULL) {
                    r = &run[i];
                    break;
                }
            int p[2];
            if (pipe2(p, O_CLOEXEC) != 0) {
                perror("pipe");
                return 2;
            }
            snprintf(r->outfile, sizeof r->outfile, "%s/ipvm-test-out-%ld-%d.log", tmpbase,
                     (long)getpid(), (int)(r - run));
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                close(p[0]);
                child_main(t, p[1], r->outfile);
            }
            close(p[1]);
            r->t = t;
            r->pid = pid;
            r->result_rd = p[0];
            r->start_ns = ipvm_now_ns();
            r->deadline_ns =
                r->start_ns + (uint64_t)((double)t->timeout_s * timeout_multiplier * 1e9);
            active++;
        }
        if (active == 0)
            break;
        int status;
        pid_t w = waitpid(-1, &status, WNOHANG);
        if (w > 0) {
            for (int i = 0; i < jobs; i++)
                if (run[i].t && run[i].pid == w) {
                    kill(-w, SIGKILL); /* stray grandchildren of the test */
                    finish(&run[i], status, false);
                    run[i].t = NULL;
                    active--;
                }
            continue;
        }
        uint64_t now = ipvm_now_ns();
        for (int i = 0; i < jobs; i++) {
            if (run[i].t && now > run[i].deadline_ns) {
                kill(-run[i].pid, SIGKILL);
                kill(run[i].pid, SIGKILL);
                waitpid(run[i].pid, &status, 0);
                finish(&run[i], status, true);
                run[i].t = NULL;
                active--;
            }
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (skipped)
        printf("%d skipped (not counted as passed)\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    ipvm_free(run);
    ipvm_free(filters);
    return failed ? 1 : 0;
}
