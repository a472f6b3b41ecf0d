/* SPDX-License-Identifier: Apache-2.0 */
/* bench_workflow: how many tasks a second does the workflow runtime execute and replay, how
 * much memory does it take, and where does the time of a task go (parse, schedule, store,
 * execute)? On a generated workflow of add_one chains and fans (default 10,000 tasks), against
 * the floor: the same calls made directly, with no workflow, receipts or store.
 *
 *   bench_workflow [--tasks N] [--engine wasm|native] [--threads N] [--keep DIR]
 *
 * --engine wasm (default when the engine is built) runs Homestar's example_test.wasm add_one;
 * --engine native runs add_one in C, which isolates the scheduler's own cost. Each scenario runs
 * in its own process so that its peak memory (ru_maxrss) is its own. */
#define _GNU_SOURCE
#include "ipvm.h"
#include "workflow/workflow_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#define WASM_RSC "ipfs://bafybeibk42jwhq7w2zcpe6q3wgtleugp3ymfs3pa5gerjmnakqihhqx4zq"

typedef struct {
    size_t tasks;
    unsigned threads;
    bool wasm;
    const char *dir;
} cfg_t;

/* ---- executors -------------------------------------------------------------------------------- */
static int n_load(void *d, const char *rsc, void **m, ipvm_error_t *e)
{
    (void)d, (void)rsc, (void)e;
    *m = (void *)1;
    return 0;
}

static void n_release(void *d, void *m)
{
    (void)d, (void)m;
}

static int n_call(void *d, void *m, const char *func, const ipvm_ipld_t *args,
                  const ipvm_wasm_limits_t *l, ipvm_arena_t *a, ipvm_wasm_result_t *out,
                  ipvm_error_t *e)
{
    (void)d, (void)m, (void)func, (void)l;
    int64_t v = 0;
    if (ipvm_ipld_get_i64(args->u.list.items[0], &v) != 0)
        return ipvm_error_set(e, IPVM_EABI, IPVM_NO_OFFSET, "not an integer");
    memset(out, 0, sizeof *out);
    out->value = ipvm_ipld_new_int(a, v + 1);
    out->fuel_used = 1;
    out->log = "";
    return out->value ? 0 : IPVM_ENOMEM;
}

typedef struct {
    ipvm_wasm_engine_t *engine;
    ipvm_wasm_module_t *module;
} wasm_t;

static int w_load(void *d, const char *rsc, void **m, ipvm_error_t *e)
{
    (void)rsc, (void)e;
    wasm_t *w = d;
    *m = w->module;
    return 0;
}

static int w_call(void *d, void *m, const char *func, const ipvm_ipld_t *args,
                  const ipvm_wasm_limits_t *l, ipvm_arena_t *a, ipvm_wasm_result_t *out,
                  ipvm_error_t *e)
{
    (void)d;
    return ipvm_wasm_call(m, func, args, l, a, out, e);
}

static int open_wasm(wasm_t *w, const char *dir)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    /* gcc -O2 code, compiled once (the "warm" child) and then loaded from the disk cache, as a
     * node that has run the module before does */
    char cache[4096];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    ipvm_wasm_engine_opts_t eo = {.gcc_tier = 2, .cache_dir = cache};
    int rc = ipvm_file_read(IPVM_SOURCE_DIR "/tests/vectors/homestar/wasm/example_test.wasm", &b,
                            &err);
    if (rc == 0)
        rc = ipvm_wasm_engine_new(&eo, &w->engine, &err);
    if (rc == 0)
        rc = ipvm_wasm_module_load(w->engine, b.data, b.len, &w->module, &err);
    ipvm_buf_dispose(&b);
    if (rc != 0)
        fprintf(stderr, "bench_workflow: wasm: %s\n", err.msg);
    return rc;
}

static ipvm_sched_executor_t executor(cfg_t *c, wasm_t *w)
{
    ipvm_sched_executor_t x = {NULL, n_load, n_release, NULL, n_call};
    if (c->wasm) {
        x.data = w;
        x.load = w_load;
        x.call = w_call;
    }
    return x;
}

/* ---- scenarios (each in a child process) -------------------------------------------------------- */
static double now_s(void)
{
    return (double)ipvm_now_ns() / 1e9;
}

/* Peak resident memory of this process alone (not of the compilers it ran), in KiB. */
static long self_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* With BENCH_WORKFLOW_TRACE set, prints the resident and peak memory at a point of a child. */
static void trace(const char *where)
{
    if (getenv("BENCH_WORKFLOW_TRACE") == NULL)
        return;
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) == 2)
        fprintf(stderr, "%-12s resident %6.1f MB, peak %6.1f MB\n", where,
                resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0, self_rss_kb() / 1024.0);
    if (f)
        fclose(f);
}

/* CPU time of the process (all threads), in seconds. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU time of the calling thread alone: for a run, the coordinator's (the critical path of a
 * replay, whose checks go to the workers). */
static double thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The workflow is generated once by the parent (so that the generator's memory is not in a
 * scenario's peak) and read from <dir>/workflow.json by each child. */
static void gen_file(cfg_t *c)
{
    /* chains of 10 and fans of 1 + 9: half the tasks each */
    size_t half = c->tasks / 2;
    ipvm__wf_gen_t g = {.chains = half / 10, .length = 10, .fans = (c->tasks - half) / 10,
                        .width = 9, .rsc = WASM_RSC, .func = "add_one", .base = 1};
    ipvm_buf_t js = IPVM_BUF_INIT;
    char path[4096];
    snprintf(path, sizeof path, "%s/workflow.json", c->dir);
    if (ipvm__wf_generate(&g, &js, NULL) != 0 ||
        ipvm_file_write_atomic(path, js.data, js.len, NULL) != 0)
        exit(2);
    ipvm_buf_dispose(&js);
}

static void gen(cfg_t *c, ipvm_buf_t *js)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/workflow.json", c->dir);
    if (ipvm_file_read(path, js, NULL) != 0)
        exit(2);
}

/* Prints "key value" lines for the parent to read. */
static int child_run(cfg_t *c, const char *mode)
{
    ipvm_buf_t js = IPVM_BUF_INIT;
    gen(c, &js);
    trace("start");
    wasm_t w = {0};
    bool replay = strcmp(mode, "replay") == 0; /* a replay needs no engine: none is opened */
    if (c->wasm && !replay && open_wasm(&w, c->dir) != 0)
        return 2;
    trace("engine");
    ipvm_sched_executor_t x = executor(c, &w);
    char db[4096];
    snprintf(db, sizeof db, "%s/ipvm.db", c->dir);
    ipvm_sched_opts_t o = {.db_path = db, .executor = &x, .threads = c->threads};
    ipvm_sched_t *s = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_sched_new(&o, &s, &err) != 0) {
        fprintf(stderr, "bench_workflow: %s\n", err.msg);
        return 2;
    }
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_workflow_t *wf = NULL;
    double t0 = now_s(), c0 = cpu_s();
    ipvm_workflow_opts_t po = {.compact = true};
    if (ipvm_workflow_parse((const char *)js.data, js.len, &po, &a, &wf, &err) != 0) {
        fprintf(stderr, "bench_workflow: %s\n", err.msg);
        return 2;
    }
    double parse = now_s() - t0, cparse = cpu_s() - c0;
    ipvm_buf_dispose(&js);
    trace("parsed");
    ipvm_sched_result_t res;
    t0 = now_s();
    c0 = cpu_s();
    double k0 = thread_cpu_s();
    struct rusage r0, r1;
    getrusage(RUSAGE_THREAD, &r0);
    int rc = ipvm_sched_run(s, wf, NULL, &a, &res, &err);
    double run = now_s() - t0, crun = cpu_s() - c0, kcoord = thread_cpu_s() - k0;
    getrusage(RUSAGE_THREAD, &r1);
    trace("run");
    if (rc != 0) {
        fprintf(stderr, "bench_workflow: run: %s\n", err.msg);
        return 2;
    }
    if ((replay ? res.replayed : res.executed) != wf->ntasks) {
        fprintf(stderr, "bench_workflow: %s: %zu executed, %zu replayed of %zu\n", mode,
                res.executed, res.replayed, wf->ntasks);
        return 2;
    }
    printf("tasks %zu\nparse %.6f\nrun %.6f\nschedule %.6f\nstore %.6f\nexecute %.6f\n"
           "receipt %.6f\nlookup %.6f\ncommits %llu\ncpu_parse %.6f\ncpu_run %.6f\n"
           "rss_kb %ld\ncpu_coord %.6f\ncoord_waits %ld\ncoord_preempted %ld\n",
           wf->ntasks, parse, run, (double)res.stats.schedule_ns / 1e9,
           (double)res.stats.store_ns / 1e9, (double)res.stats.execute_ns / 1e9,
           (double)res.stats.receipt_ns / 1e9, (double)res.stats.lookup_ns / 1e9,
           (unsigned long long)res.stats.commits, cparse, crun, self_rss_kb(), kcoord,
           r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw);
    ipvm_arena_dispose(&a);
    ipvm_sched_free(s);
    if (w.module)
        ipvm_wasm_module_release(w.module);
    if (w.engine)
        ipvm_wasm_engine_free(w.engine);
    return 0;
}

/* The floor: every task's call made directly, in the workflow's order, each result fed to the
 * tasks that await it; no receipts, no store, one thread. */
static int child_floor(cfg_t *c)
{
    ipvm_buf_t js = IPVM_BUF_INIT;
    gen(c, &js);
    wasm_t w = {0};
    if (c->wasm && open_wasm(&w, c->dir) != 0)
        return 2;
    ipvm_sched_executor_t x = executor(c, &w);
    ipvm_arena_t a, t;
    ipvm_arena_init(&a);
    ipvm_arena_init(&t);
    ipvm_workflow_t *wf = NULL;
    ipvm_workflow_opts_t po = {.compact = true};
    if (ipvm_workflow_parse((const char *)js.data, js.len, &po, &a, &wf, NULL) != 0)
        return 2;
    int64_t *val = calloc(wf->ntasks, sizeof *val);
    void *m = NULL;
    x.load(x.data, WASM_RSC, &m, NULL);
    double t0 = now_s(), c0 = cpu_s();
    for (size_t k = 0; k < wf->ntasks; k++) {
        const ipvm_task_t *task = &wf->tasks[wf->order[k]];
        int64_t in = 0;
        if (task->nawaits)
            in = val[task->awaits[0].task];
        else if (ipvm_ipld_get_i64(task->args->u.list.items[0], &in) != 0)
            return 2;
        ipvm_ipld_t *args = ipvm_ipld_new_list(&t, 1);
        if (ipvm_ipld_list_push(&t, args, ipvm_ipld_new_int(&t, in)) != 0)
            return 2;
        ipvm_wasm_limits_t lim = {0};
        ipvm_wasm_result_t r;
        if (x.call(x.data, m, task->func, args, &lim, &t, &r, NULL) != 0 ||
            ipvm_ipld_get_i64(r.value, &val[task->index]) != 0)
            return 2;
        ipvm_arena_reset(&t);
    }
    double run = now_s() - t0, crun = cpu_s() - c0;
    printf("tasks %zu\nrun %.6f\ncpu_run %.6f\nrss_kb %ld\n", wf->ntasks, run, crun,
           self_rss_kb());
    free(val);
    if (w.module)
        ipvm_wasm_module_release(w.module);
    if (w.engine)
        ipvm_wasm_engine_free(w.engine);
    ipvm_arena_dispose(&a);
    ipvm_arena_dispose(&t);
    return 0;
}

/* ---- parent: spawn, collect, print ------------------------------------------------------------ */
typedef struct {
    double v[16];
    long maxrss_kb;
    double cpu_s; /* user + system time of the whole scenario process */
} stats_t;

static const char *KEYS[] = {"tasks",   "parse",   "run",     "schedule",  "store",  "execute",
                             "receipt", "lookup",  "commits", "cpu_parse", "cpu_run", "rss_kb",
                             "cpu_coord", "coord_waits", "coord_preempted"};

static int spawn(cfg_t *c, const char *mode, stats_t *st)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        char tasks[32], threads[32];
        snprintf(tasks, sizeof tasks, "%zu", c->tasks);
        snprintf(threads, sizeof threads, "%u", c->threads);
        execl("/proc/self/exe", "bench_workflow", "--child", mode, "--tasks", tasks, "--threads",
              threads, "--engine", c->wasm ? "wasm" : "native", "--keep", c->dir, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    memset(st, 0, sizeof *st);
    FILE *f = fdopen(fd[0], "r");
    char key[64];
    double v;
    while (fscanf(f, "%63s %lf", key, &v) == 2)
        for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
            if (strcmp(key, KEYS[i]) == 0)
                st->v[i] = v;
    fclose(f);
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    st->maxrss_kb = st->v[11] > 0 ? (long)st->v[11] : ru.ru_maxrss;
    st->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_workflow [--tasks N] [--engine wasm|native] [--threads N] "
                    "[--keep DIR]\n");
    exit(2);
}

static void print_report(const cfg_t *c, const stats_t *ex, const stats_t *re,
                         const stats_t *fl)
{
    double n = ex->v[0], load[3] = {0};
    if (getloadavg(load, 3) < 1)
        load[0] = -1;
    printf("bench_workflow: %.0f tasks (add_one chains of 10 and fans of 1+9), engine %s, %u "
           "worker threads, %ld CPUs, load average %.1f\n\n",
           n, c->wasm ? "wasm (example_test.wasm)" : "native C", c->threads,
           sysconf(_SC_NPROCESSORS_ONLN), load[0]);
    printf("%-36s %10s %9s %12s %9s\n", "scenario", "tasks/s", "us/task", "CPU us/task",
           "peak MB");
    printf("%-36s %10.0f %9.2f %12.2f %9.1f\n", "floor: direct calls, no runtime",
           n / fl->v[2], fl->v[2] / n * 1e6, fl->v[10] / n * 1e6, fl->maxrss_kb / 1024.0);
    printf("%-36s %10.0f %9.2f %12.2f %9.1f\n", "executed (fresh database)", n / ex->v[2],
           ex->v[2] / n * 1e6, ex->v[10] / n * 1e6, ex->maxrss_kb / 1024.0);
    printf("%-36s %10.0f %9.2f %12.2f %9.1f\n", "replayed (second run)", n / re->v[2],
           re->v[2] / n * 1e6, re->v[10] / n * 1e6, re->maxrss_kb / 1024.0);
    printf("%-36s %10.0f %9.2f %12.2f\n", "parse (DAG-JSON -> workflow, CIDs)", n / ex->v[1],
           ex->v[1] / n * 1e6, ex->v[9] / n * 1e6);
    printf("\nexecuted, per task (us of wall time): parse %.2f | schedule %.2f | store %.2f "
           "(%.0f group commits, on the writer thread) | execute %.2f + receipt %.2f (on the "
           "workers)\n",
           ex->v[1] / n * 1e6, ex->v[3] / n * 1e6, ex->v[4] / n * 1e6, ex->v[8],
           ex->v[5] / n * 1e6, ex->v[6] / n * 1e6);
    printf("replayed, per task (us of wall time): parse %.2f | lookup %.2f | schedule %.2f | "
           "store %.2f\n",
           re->v[1] / n * 1e6, re->v[7] / n * 1e6, re->v[3] / n * 1e6, re->v[4] / n * 1e6);
    printf("replayed, CPU us/task of the coordinator thread alone (the critical path: the "
           "receipts' checks run on the workers): %.2f of %.2f\n",
           re->v[12] / n * 1e6, re->v[10] / n * 1e6);
    printf("replayed, the coordinator thread was switched out %.0f times waiting and %.0f times "
           "preempted (each preemption takes the critical path's CPU)\n",
           re->v[13], re->v[14]);
    printf("\nexecuted / floor: %.0fx the wall time of direct calls; CPU us/task is the CPU "
           "time of all threads (coordinator, workers, writer) divided by the tasks\n",
           ex->v[2] / fl->v[2]);
}

int main(int argc, char **argv)
{
    cfg_t c = {.tasks = 10000, .threads = 2, .wasm = true};
    const char *child = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(argv[i], "--tasks") == 0)
            c.tasks = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0)
            c.threads = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--engine") == 0)
            c.wasm = strcmp(v, "wasm") == 0;
        else if (strcmp(argv[i], "--keep") == 0)
            c.dir = v;
        else if (strcmp(argv[i], "--child") == 0)
            child = v;
        else
            usage();
        i++;
    }
    if (child && strcmp(child, "warm") == 0) { /* compile the module into the cache, once */
        wasm_t w = {0};
        int rc = c.wasm ? open_wasm(&w, c.dir) : 0;
        if (w.module)
            ipvm_wasm_module_release(w.module);
        if (w.engine)
            ipvm_wasm_engine_free(w.engine);
        printf("tasks 0\n");
        return rc ? 2 : 0;
    }
    if (child)
        return strcmp(child, "floor") == 0 ? child_floor(&c) : child_run(&c, child);
    char tmp[] = "/tmp/bench_workflow.XXXXXX";
    if (c.dir == NULL && (c.dir = mkdtemp(tmp)) == NULL)
        return 2;
    stats_t ex, re, fl, warm;
    gen_file(&c);
    if (spawn(&c, "warm", &warm) != 0 || spawn(&c, "floor", &fl) != 0 || spawn(&c, "execute", &ex) != 0 ||
        spawn(&c, "replay", &re) != 0) {
        fprintf(stderr, "bench_workflow: a scenario failed\n");
        return 1;
    }
    print_report(&c, &ex, &re, &fl);
    if (c.dir == tmp) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
