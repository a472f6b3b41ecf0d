/* SPDX-License-Identifier: Apache-2.0 */
/* bench_wasm: how fast does ipvm run Wasm, against the same C compiled natively and against
 * Node's V8, in one run? Four kernels (fib, sha256, matmul, blur over a synthcat.png-sized
 * image), each the same .wasm (clang --target=wasm32 from bench/wasm/kernels/) on ipvm's gcc
 * tier, on its gcc tier without fuel counting (to price fuel), on its tcc tier, on V8, and the
 * same C as a native gcc -O2 .so; then the time to the first call of a module never seen
 * (Homestar's example_test.wasm, and a generated ~1 MB module), warm instantiate + call, and
 * the compile latency of each step (wasm2c, libtcc, gcc -O2) on the whole module.
 * Every engine must return the same result; each kernel row is the minimum of --rounds
 * (default 5) interleaved repetitions of every engine. Usage: bench_wasm [--quick]
 * [--rounds=N] [--only=kernels|first|warm|compile] [--isa=auto|baseline|x86-64-v2|v3|v4] (the level of the
 * gcc tier's main column; a second column is always the baseline). */
#define _GNU_SOURCE
#include "ipvm.h"
#include "wasm/engine_int.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KERNELS IPVM_SOURCE_DIR "/bench/wasm/kernels"
#define WORK IPVM_BINARY_DIR "/bench-wasm"

typedef struct kernel_s {
    const char *name, *label;
    unsigned arg;
    bool returns_f64;
} kernel_t;

static const kernel_t kernels[] = {
    {"fib", "fib(35)", 35, false},
    {"sha256", "sha256 32 MiB", 32, false},
    {"matmul", "matmul 300x300 f64", 300, true},
    {"blur", "blur 1080x1080 RGBA x4", 2, false},
};
#define NK (sizeof kernels / sizeof kernels[0])

enum { NATIVE, CLANG, GCC, BASE, NOFUEL, TCC, V8, NENG };
static const char *const eng_names[NENG] = {"native gcc",  "native clang", "ipvm gcc",
                                            "gcc baseline", "gcc no fuel",  "ipvm tcc", "V8"};

#define MAX_ROUNDS 16
static int rounds = 5; /* interleaved repetitions of every engine (--rounds=N) */
static int main_isa = IPVM_WASM_ISA_AUTO; /* of the "ipvm gcc tier" column (--isa=LEVEL) */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_wasm: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        die("failed: %s", cmd);
}

static bool newer(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && (stat(b, &sb) != 0 || sa.st_mtime > sb.st_mtime);
}

/* The kernel as .wasm (clang, no libc) and as native .so files (gcc -O2 and clang -O2), when
 * out of date. */
static void build_kernel(const char *name)
{
    char c[512], w[512], so[512], cso[512], cmd[2048];
    snprintf(c, sizeof c, KERNELS "/%s.c", name);
    snprintf(w, sizeof w, WORK "/%s.wasm", name);
    snprintf(so, sizeof so, WORK "/%s.so", name);
    snprintf(cso, sizeof cso, WORK "/%s-clang.so", name);
    if (newer(c, cso)) {
        snprintf(cmd, sizeof cmd, "clang -O2 -fPIC -shared -o %s %s", cso, c);
        sh(cmd);
    }
    if (newer(c, w)) {
        snprintf(cmd, sizeof cmd, "clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -o %s %s",
                 w, c);
        sh(cmd);
    }
    if (newer(c, so)) {
        snprintf(cmd, sizeof cmd, "gcc -O2 -fPIC -shared -o %s %s", so, c);
        sh(cmd);
    }
}

/* A ~1 MB module: many functions with loops and arithmetic, all reachable from f0. */
static void build_big(void)
{
    const char *c = WORK "/big.c", *w = WORK "/big.wasm";
    if (access(w, R_OK) == 0)
        return;
    FILE *f = fopen(c, "w");
    if (!f)
        die("cannot write %s", c);
    enum { N = 2600 };
    fprintf(f, "#include <stdint.h>\n");
    for (int k = N - 1; k >= 0; k--) {
        fprintf(f, "__attribute__((noinline)) uint32_t f%d(uint32_t x) {\n"
                   "  uint32_t a = x ^ %uu, b = x * %uu;\n"
                   "  for (uint32_t i = 0; i < (x & 3u); i++) { a = a * 31u + b; b ^= a >> %d; }\n"
                   "  if (a & 1) a += b * %uu; else b -= a * %uu;\n"
                   "  a = (a << %d) | (a >> %d); b += a ^ %uu;\n",
                k, 2654435761u * (unsigned)k, 40503u + (unsigned)k, 1 + k % 13,
                (unsigned)k * 7919u, (unsigned)k * 104729u, 1 + k % 29, 31 - k % 29,
                (unsigned)k * 31337u);
        if (k + 1 < N)
            fprintf(f, "  if (x > 1) a += f%d(x - 1);\n", k + 1);
        fprintf(f, "  return a ^ b;\n}\n");
    }
    fprintf(f, "__attribute__((export_name(\"run\"))) uint32_t run(uint32_t x) { return f0(x); }\n");
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "clang --target=wasm32 -O1 -nostdlib -Wl,--no-entry -o %s %s", w,
             c);
    sh(cmd);
}

static void read_file(const char *path, ipvm_buf_t *out)
{
    ipvm_buf_clear(out);
    if (ipvm_file_read(path, out, NULL) != 0)
        die("cannot read %s", path);
}

/* CPU time of this thread, in ns: the machine is shared, and wall time counts the time spent
 * waiting for a CPU. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double median(double *v, int n);

/* The statistic of every engine's repetitions: the minimum. On this shared VM the noise only
 * ever adds time (other guests, frequency changes, preemption), so the fastest of N
 * interleaved repetitions is the best estimate of each engine's own cost; every engine,
 * V8 included, gets the same statistic over the same number of rounds. */
static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- engines ------------------------------------------------------------------------------ */
static ipvm_wasm_engine_t *engine(int tier, const char *cache, bool no_fuel, int isa)
{
    ipvm_wasm_engine_opts_t o = {.gcc_tier = tier, .cache_dir = cache, .isa = isa};
    ipvm_wasm_engine_t *e;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_wasm_engine_new(&o, &e, &err) != 0)
        die("engine: %s", err.msg);
    if (no_fuel)
        ipvm__engine_set_no_fuel(e);
    return e;
}

static ipvm_wasm_module_t *load(ipvm_wasm_engine_t *e, const ipvm_buf_t *w, const char *what)
{
    ipvm_wasm_module_t *m;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm_wasm_module_load(e, w->data, w->len, &m, &err) != 0)
        die("%s: %s", what, err.msg);
    return m;
}

/* One call; the result as 64 bits (the f64's bits for matmul). Returns ms. */
static double ipvm_run(ipvm_wasm_module_t *m, const char *func, unsigned arg, uint64_t *result)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *args = ipvm_ipld_new_list(&a, 1);
    if (!args || ipvm_ipld_list_push(&a, args, ipvm_ipld_new_uint(&a, arg)) != 0)
        die("out of memory");
    ipvm_wasm_limits_t lim = {0, 0, 600000};
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    uint64_t t0 = cpu_ns();
    if (ipvm_wasm_call(m, func, args, &lim, &a, &r, &err) != 0)
        die("%s: %s", func, err.msg);
    double ms = (double)(cpu_ns() - t0) / 1e6;
    const ipvm_ipld_t *v = r.value;
    if (v->kind == IPVM_IPLD_FLOAT)
        memcpy(result, &v->u.f, 8);
    else /* an i32 result is shown signed: compare as u32 */
        *result = (uint32_t)(v->u.integer.neg ? -1 - (int64_t)v->u.integer.mag
                                              : (int64_t)v->u.integer.mag);
    ipvm_arena_dispose(&a);
    return ms;
}

static double native_run(void *fn, bool f64, unsigned arg, uint64_t *result)
{
    uint64_t t0 = cpu_ns();
    if (f64) {
        double d = ((double (*)(unsigned))fn)(arg);
        memcpy(result, &d, 8);
    } else {
        *result = ((uint32_t(*)(unsigned))fn)(arg);
    }
    return (double)(cpu_ns() - t0) / 1e6;
}

/* Runs node v8.mjs with args; returns its stdout (a JSON line) in out. */
static void node(const char *args, ipvm_buf_t *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "node %s/bench/wasm/v8.mjs %s", IPVM_SOURCE_DIR, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        die("cannot run node");
    ipvm_buf_clear(out);
    char line[65536];
    while (fgets(line, sizeof line, p))
        if (ipvm_buf_append_str(out, line) != 0)
            die("out of memory");
    if (pclose(p) != 0 || out->len == 0)
        die("node failed: %s", cmd);
}

static const ipvm_ipld_t *json(const ipvm_buf_t *b, ipvm_arena_t *a)
{
    ipvm_ipld_t *v = NULL;
    if (ipvm_dagjson_decode((const char *)b->data, b->len, a, &v, NULL) != 0 || v == NULL)
        die("bad JSON from node: %s", (const char *)b->data);
    return v;
}

static double num(const ipvm_ipld_t *v)
{
    if (v->kind == IPVM_IPLD_FLOAT)
        return v->u.f;
    return v->u.integer.neg ? -1.0 - (double)v->u.integer.mag : (double)v->u.integer.mag;
}

/* V8, one repetition: a fresh node process, one untimed warm-up call (V8 tiers the hot
 * functions up to TurboFan while it runs), then two timed calls; the faster of the two is
 * this round's sample (one more call than the other engines get: if anything in V8's favour,
 * and a timed call that still found Liftoff code does not count). */
static double v8_run(const kernel_t *k, uint64_t *result)
{
    char args[1024];
    snprintf(args, sizeof args, "run %s/%s.wasm %u 2", WORK, k->name, k->arg);
    ipvm_buf_t b = IPVM_BUF_INIT;
    node(args, &b);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    const ipvm_ipld_t *v = json(&b, &a), *ms = ipvm_ipld_map_get(v, "ms");
    double t[16];
    int n = 0;
    for (size_t i = 0; i < ms->u.list.len && n < 16; i++)
        t[n++] = num(ms->u.list.items[i]);
    double r = num(ipvm_ipld_map_get(v, "result"));
    if (k->returns_f64)
        memcpy(result, &r, 8);
    else
        *result = (uint32_t)(int64_t)r;
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&b);
    return n ? minimum(t, n) : 0;
}

/* ---- the kernel table ---------------------------------------------------------------------- */
static void *native_fn(const char *path, void **dl)
{
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    void *fn = *dl ? dlsym(*dl, "run") : NULL;
    if (!fn)
        die("%s: %s", path, dlerror());
    return fn;
}

static void kernel_row(const kernel_t *k, ipvm_wasm_engine_t *const eng[NENG], double out[NENG])
{
    char path[512];
    void *dl[2];
    snprintf(path, sizeof path, WORK "/%s.so", k->name);
    void *fn_gcc = native_fn(path, &dl[0]);
    snprintf(path, sizeof path, WORK "/%s-clang.so", k->name);
    void *fn_clang = native_fn(path, &dl[1]);
    snprintf(path, sizeof path, WORK "/%s.wasm", k->name);
    ipvm_buf_t w = IPVM_BUF_INIT;
    read_file(path, &w);
    ipvm_wasm_module_t *m[NENG] = {0};
    for (int e = GCC; e <= TCC; e++)
        m[e] = load(eng[e], &w, k->name);
    double t[NENG][MAX_ROUNDS];
    uint64_t res[NENG] = {0};
    int tcc_rounds = rounds < 2 ? rounds : 2; /* the slow tier: fewer rounds */
    for (int r = 0; r < rounds; r++) { /* interleaved, so drifts in load hit every engine */
        t[V8][r] = v8_run(k, &res[V8]);
        t[NATIVE][r] = native_run(fn_gcc, k->returns_f64, k->arg, &res[NATIVE]);
        t[CLANG][r] = native_run(fn_clang, k->returns_f64, k->arg, &res[CLANG]);
        for (int e = GCC; e <= NOFUEL; e++) /* (the gcc tier at the host's level and at
                                               baseline alternate within each round) */
            t[e][r] = ipvm_run(m[e], "run", k->arg, &res[e]);
        if (r < tcc_rounds)
            t[TCC][r] = ipvm_run(m[TCC], "run", k->arg, &res[TCC]);
    }
    for (int e = NATIVE; e <= NOFUEL; e++)
        out[e] = minimum(t[e], rounds);
    out[V8] = minimum(t[V8], rounds);
    out[TCC] = minimum(t[TCC], tcc_rounds);
    for (int e = CLANG; e < NENG; e++)
        if (res[e] != res[NATIVE])
            die("%s: %s returned %llx, native %llx", k->name, eng_names[e],
                (unsigned long long)res[e], (unsigned long long)res[NATIVE]);
    for (int e = GCC; e <= TCC; e++)
        ipvm_wasm_module_release(m[e]);
    ipvm_buf_dispose(&w);
    dlclose(dl[0]);
    dlclose(dl[1]);
}

static void table(ipvm_wasm_engine_t *const eng[NENG])
{
    printf("\n| kernel | native gcc -O2 | native clang -O2 | ipvm gcc tier (%s) | ipvm gcc tier "
           "(baseline) | ipvm tcc tier | V8 (node 20) | gcc / best native | gcc / V8 | baseline / "
           "V8 | tcc / best native | fuel cost |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           ipvm_wasm_isa_name(main_isa ? main_isa : ipvm_wasm_isa_host()));
    double lg[5] = {0};
    for (size_t i = 0; i < NK; i++) {
        double t[NENG];
        kernel_row(&kernels[i], eng, t);
        double best = t[NATIVE] < t[CLANG] ? t[NATIVE] : t[CLANG];
        double r_nat = t[GCC] / best, r_v8 = t[GCC] / t[V8], r_tcc = t[TCC] / best;
        double fuel = t[GCC] / t[NOFUEL], r_base = t[BASE] / t[V8];
        lg[0] += log(r_nat), lg[1] += log(r_v8), lg[2] += log(r_tcc), lg[3] += log(fuel);
        lg[4] += log(r_base);
        printf("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.2fx | %.2fx "
               "| %.2fx | %.1fx | %+.1f%% |\n",
               kernels[i].label, t[NATIVE], t[CLANG], t[GCC], t[BASE], t[TCC], t[V8], r_nat,
               r_v8, r_base, r_tcc, (fuel - 1) * 100);
        fflush(stdout);
    }
    double g_nat = exp(lg[0] / NK), g_v8 = exp(lg[1] / NK), g_tcc = exp(lg[2] / NK),
           g_fuel = exp(lg[3] / NK), g_base = exp(lg[4] / NK);
    printf("| **geometric mean** | | | | | | | **%.2fx** | **%.2fx** | %.2fx | %.1fx | "
           "**%+.1f%%** |\n",
           g_nat, g_v8, g_base, g_tcc, (g_fuel - 1) * 100);
    printf("\ntargets: gcc tier / best native <= 1.30x: %s; gcc tier / V8 <= 0.75x: %s; "
           "fuel cost <= 15%%: %s\n",
           g_nat <= 1.30 ? "met" : "MISSED", g_v8 <= 0.75 ? "met" : "MISSED",
           g_fuel <= 1.15 ? "met" : "MISSED");
}

/* ---- first call and warm calls ------------------------------------------------------------ */
/* A new engine without a cache: the module is new, so this is wasm2c + libtcc + instantiate +
 * call. */
static uint64_t children_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/* A new engine without a cache: the module is new, so this is wasm2c + libtcc + instantiate +
 * call. Returns the CPU ms (this thread + wasm2c's process); *wall_ms the wall clock. */
static double first_call(const char *path, const char *func, unsigned arg, double *wall_ms)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    read_file(path, &w);
    double t[5], l[5];
    for (int r = 0; r < 3; r++) {
        ipvm_wasm_engine_t *e = engine(0, NULL, false, IPVM_WASM_ISA_AUTO);
        uint64_t w0 = ipvm_now_ns(), c0 = cpu_ns() + children_cpu_ns(), res;
        ipvm_wasm_module_t *m = load(e, &w, path);
        ipvm_run(m, func, arg, &res);
        t[r] = (double)(cpu_ns() + children_cpu_ns() - c0) / 1e6;
        l[r] = (double)(ipvm_now_ns() - w0) / 1e6;
        ipvm_wasm_module_release(m);
        ipvm_wasm_engine_free(e);
    }
    ipvm_buf_dispose(&w);
    *wall_ms = median(l, 3);
    return median(t, 3);
}

static double v8_first(const char *path, const char *func, unsigned arg)
{
    double t[3];
    for (int r = 0; r < 3; r++) {
        char args[1024];
        snprintf(args, sizeof args, "first %s %s %u", path, func, arg);
        ipvm_buf_t b = IPVM_BUF_INIT;
        node(args, &b);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        t[r] = num(ipvm_ipld_map_get(json(&b, &a), "ms"));
        ipvm_arena_dispose(&a);
        ipvm_buf_dispose(&b);
    }
    return median(t, 3);
}

static void first_calls(void)
{
    const char *et = IPVM_SOURCE_DIR "/tests/vectors/homestar/wasm/example_test.wasm";
    struct stat st_et, st_big;
    stat(et, &st_et);
    stat(WORK "/big.wasm", &st_big);
    double w1, w2;
    double a = first_call(et, "add-one", 1, &w1), va = v8_first(et, "add-one", 1);
    double b = first_call(WORK "/big.wasm", "run", 3, &w2), vb = v8_first(WORK "/big.wasm", "run", 3);
    printf("\n| first call of a new module | ipvm: wasm2c + libtcc + call (CPU) | ipvm (wall) | "
           "V8 (CPU) |\n|---|---|---|---|\n");
    printf("| example_test.wasm (%lld KB), add-one | %.0f ms | %.0f ms | %.0f ms |\n",
           (long long)st_et.st_size / 1000, a, w1, va);
    printf("| generated module (%lld KB), run | %.0f ms | %.0f ms | %.0f ms |\n",
           (long long)st_big.st_size / 1000, b, w2, vb);
    printf("\ntarget: first call of a new 300 KB module < 100 ms: %s\n", a < 100 ? "met" : "MISSED");
}

/* ---- compile latency -------------------------------------------------------------------- */
/* The whole module, each step alone: wasm2c (its process's CPU), libtcc in memory (this
 * thread), gcc -O2 to a .so (its process's CPU). */
static void compile_row(const char *path, const char *label)
{
    ipvm_buf_t w = IPVM_BUF_INIT, c = IPVM_BUF_INIT;
    read_file(path, &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (ipvm__wasm_parse(w.data, w.len, &a, &in, &err) != 0)
        die("%s: %s", path, err.msg);
    double t_w2c[3], t_tcc[3];
    for (int r = 0; r < 3; r++) {
        ipvm_buf_clear(&c);
        uint64_t c0 = cpu_ns() + children_cpu_ns();
        if (ipvm__wasm_translate(&in, NULL, "bench", &c, &err) != 0)
            die("%s: %s", path, err.msg);
        t_w2c[r] = (double)(cpu_ns() + children_cpu_ns() - c0) / 1e6;
        ipvm__code_t *code;
        c0 = cpu_ns();
        if (ipvm__compile_tcc(&in, (const char *)c.data, c.len, "bench", &code, &err) != 0)
            die("%s: %s", path, err.msg);
        t_tcc[r] = (double)(cpu_ns() - c0) / 1e6;
        ipvm__code_free(code);
    }
    uint64_t c0 = children_cpu_ns(), w0 = ipvm_now_ns();
    int level;
    if (ipvm__isa_resolve(main_isa, &level, &err) != 0 ||
        ipvm__compile_gcc((const char *)c.data, c.len, WORK "/latency.so", IPVM__FUEL_TLS, level,
                          NULL, &err) != 0)
        die("%s: %s", path, err.msg);
    double t_gcc = (double)(children_cpu_ns() - c0) / 1e6;
    double wall_gcc = (double)(ipvm_now_ns() - w0) / 1e6;
    unlink(WORK "/latency.so");
    printf("| %s (%zu KB) | %zu KB | %.1f ms | %.1f ms | %.0f ms (wall %.0f ms) |\n", label,
           w.len / 1000, c.len / 1000, median(t_w2c, 3), median(t_tcc, 3), t_gcc, wall_gcc);
    fflush(stdout);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&c);
    ipvm_buf_dispose(&w);
}

static void compile_latency(void)
{
    printf("\n| compile latency, whole module | generated C | wasm2c (CPU) | libtcc (CPU) | "
           "gcc -O2 (CPU) |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < NK; i++) {
        char path[512];
        snprintf(path, sizeof path, WORK "/%s.wasm", kernels[i].name);
        compile_row(path, kernels[i].name);
    }
    compile_row(IPVM_SOURCE_DIR "/tests/vectors/homestar/wasm/example_test.wasm",
                "example_test.wasm");
}

static void warm_calls(ipvm_wasm_engine_t *gcc)
{
    const char *et = IPVM_SOURCE_DIR "/tests/vectors/homestar/wasm/example_test.wasm";
    ipvm_buf_t w = IPVM_BUF_INIT;
    read_file(et, &w);
    ipvm_wasm_module_t *m = load(gcc, &w, et); /* gcc -O2 once, then from the cache */
    long add = ipvm__wasm_abi_resolve(m, "add-one");
    if (add < 0)
        die("add-one not found");
    int n = 5000;
    uint64_t res = 0;
    for (int k = 0; k < 200; k++)
        ipvm_run(m, "add-one", 1, &res);
    /* the public call: instantiate, lower through the canonical ABI, call, lift, free */
    uint64_t t0 = cpu_ns();
    for (int k = 0; k < n; k++)
        ipvm_run(m, "add-one", (unsigned)k, &res);
    double call_us = (double)(cpu_ns() - t0) / n / 1e3;
    /* the engine alone: instantiate + invoke + free */
    t0 = cpu_ns();
    for (int k = 0; k < n; k++) {
        ipvm__wasm_instance_t *i;
        if (ipvm__wasm_instantiate(m, NULL, &i, NULL) != 0)
            die("instantiate");
        uint64_t a[1] = {(uint64_t)k}, r[1];
        if (ipvm__wasm_invoke(i, (uint32_t)add, a, r, NULL) != 0 || r[0] != (uint64_t)k + 1)
            die("invoke");
        ipvm__wasm_instance_free(i);
    }
    double raw_us = (double)(cpu_ns() - t0) / n / 1e3;
    char args[1024];
    snprintf(args, sizeof args, "warm %s add-one 1 2000", et);
    ipvm_buf_t b = IPVM_BUF_INIT;
    node(args, &b);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    double v8_us = num(ipvm_ipld_map_get(json(&b, &a), "us"));
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&b);
    printf("\n| warm instantiate + call of add-one (example_test.wasm, gcc tier) | CPU time |\n"
           "|---|---|\n"
           "| ipvm_wasm_call (instantiate, canonical ABI, call, free) | %.2f us |\n"
           "| ipvm__wasm_instantiate + invoke + free | %.2f us |\n"
           "| V8: new WebAssembly.Instance + call | %.2f us |\n",
           call_us, raw_us, v8_us);
    printf("\ntarget: warm instantiate + call < 10 us: %s\n", call_us < 10 ? "met" : "MISSED");
    ipvm_wasm_module_release(m);
    ipvm_buf_dispose(&w);
}

int main(int argc, char **argv)
{
    const char *only = NULL; /* "kernels", "first", "warm" or "compile": one part */
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--quick") == 0)
            rounds = 1;
        else if (strncmp(argv[k], "--rounds=", 9) == 0) {
            rounds = atoi(argv[k] + 9);
            if (rounds < 1 || rounds > MAX_ROUNDS)
                die("--rounds: 1 to %d", MAX_ROUNDS);
        }
        else if (strncmp(argv[k], "--only=", 7) == 0)
            only = argv[k] + 7;
        else if (strncmp(argv[k], "--isa=", 6) == 0) {
            ipvm_error_t err;
            if (ipvm_wasm_isa_parse(argv[k] + 6, &main_isa, &err) != 0)
                die("%s", err.msg);
        } else
            die("usage: bench_wasm [--quick] [--rounds=N] [--only=kernels|first|warm|compile] "
                "[--isa=LEVEL]");
    }
    mkdir(WORK, 0755);
    for (size_t i = 0; i < NK; i++)
        build_kernel(kernels[i].name);
    build_big();
    ipvm_wasm_engine_t *eng[NENG] = {0};
    eng[GCC] = engine(2, WORK "/cache", false, main_isa);
    eng[BASE] = engine(2, WORK "/cache", false, IPVM_WASM_ISA_BASELINE);
    eng[NOFUEL] = engine(2, WORK "/cache-nofuel", true, main_isa);
    eng[TCC] = engine(0, NULL, false, IPVM_WASM_ISA_AUTO);
    printf("bench_wasm: CPU time of the calling thread (V8: of node), minimum of %d interleaved "
           "round(s); "
           "results checked equal across engines\n", rounds);
    if (!only || strcmp(only, "kernels") == 0)
        table(eng);
    if (!only || strcmp(only, "first") == 0)
        first_calls();
    if (!only || strcmp(only, "warm") == 0)
        warm_calls(eng[GCC]);
    if (!only || strcmp(only, "compile") == 0)
        compile_latency();
    for (int e = GCC; e <= TCC; e++)
        ipvm_wasm_engine_free(eng[e]);
    return 0;
}
