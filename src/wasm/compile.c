/* SPDX-License-Identifier: Apache-2.0 */
/* The two compilers of the generated C. libtcc compiles in memory, in milliseconds, so a new
 * module's first call happens at once (tier 1); gcc -O2 -ffp-contract=off -march=x86-64-vN (the
 * CPU's level, or baseline; never -march=native, never -ffast-math: float results must not
 * depend on the machine) writes a .so in the background (tier 2), which is kept in the disk
 * cache and dlopened. Every compiled object carries the glue's stamp; nothing of it is used
 * before the stamp matches this runtime. */
#define _GNU_SOURCE
#include "wasm/core_int.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <libtcc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Fixed flags (plus the engine's -march=x86-64-vN, ipvm__isa_flag, which is in the cache key):
 * the result of float code must not depend on the compiling machine. The
 * inlining limit is -O3's: a fuel tick makes a small recursive function (fib) just too big
 * for -O2's limit of 15, and without inlining it ran 2.7x slower (compile time +12%).
 * -funroll-loops: V8's TurboFan unrolls hot loops (matmul's 4 times); since a tick is one
 * decrement and one branch, unrolled copies keep theirs cheaply (the same count of ticks: the
 * fuel does not change), and sha256, matmul and fib ran 5-15% faster (docs/benchmarks.md). */
static const char *const gcc_flags[] = {
    "-O2", "-ffp-contract=off", "-funroll-loops", "--param=max-inline-insns-auto=30", "-fPIC",
    "-shared", "-fvisibility=hidden", "-fstack-clash-protection", "-fno-strict-aliasing", "-w",
    "-g0", NULL};

/* ---- the x86-64 level of the gcc tier ------------------------------------------------------ */
/* Why a level keeps results identical: wasm's integer operations have one answer whatever
 * instructions compute them (BMI2's rorx is a rotate), and its float operations are single
 * IEEE operations in round-to-nearest that gcc, without -ffast-math and with contraction off,
 * computes one by one (AVX's vaddsd rounds as addsd does; no FMA is formed). What -march may
 * not change is exactly what -ffp-contract=off pins. tests/unit/wasm/test_isa.c checks it. */
#if defined(__x86_64__)
static bool bits(unsigned v, unsigned mask)
{
    return (v & mask) == mask;
}

static int isa_detect(void)
{
    unsigned a, b, c1, d, c81 = 0, b7 = 0, c7, d7;
    if (!__get_cpuid(1, &a, &b, &c1, &d))
        return 1;
    if (__get_cpuid(0x80000001, &a, &b, &c81, &d) == 0)
        c81 = 0;
    if (__get_cpuid_max(0, NULL) >= 7)
        __cpuid_count(7, 0, a, b7, c7, d7);
    /* v2: SSE3, SSSE3, CX16, SSE4.1, SSE4.2, POPCNT; LAHF/SAHF */
    if (!bits(c1, 1u | 1u << 9 | 1u << 13 | 1u << 19 | 1u << 20 | 1u << 23) || !bits(c81, 1u))
        return 1;
    /* v3: FMA, MOVBE, OSXSAVE, AVX, F16C; AVX2, BMI1, BMI2; LZCNT; the OS saves XMM and YMM */
    unsigned xcr0 = 0;
    if (bits(c1, 1u << 27)) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = lo;
    }
    if (!bits(c1, 1u << 12 | 1u << 22 | 1u << 27 | 1u << 28 | 1u << 29) ||
        !bits(b7, 1u << 3 | 1u << 5 | 1u << 8) || !bits(c81, 1u << 5) || !bits(xcr0, 0x6))
        return 2;
    /* v4: AVX512F, DQ, CD, BW, VL; the OS saves the opmask and ZMM state */
    if (!bits(b7, 1u << 16 | 1u << 17 | 1u << 28 | 1u << 30 | 1u << 31) || !bits(xcr0, 0xe6))
        return 3;
    return 4;
}
#else
static int isa_detect(void)
{
    return 0;
}
#endif

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;
static int isa_level;

static void isa_setup(void)
{
    isa_level = isa_detect();
}

int ipvm_wasm_isa_host(void)
{
    pthread_once(&isa_once, isa_setup);
    return isa_level;
}

static const char *const isa_names[] = {"auto", "baseline", "x86-64-v2", "x86-64-v3",
                                        "x86-64-v4"};

const char *ipvm_wasm_isa_name(int isa)
{
    return isa >= 0 && isa <= IPVM_WASM_ISA_MAX ? isa_names[isa] : "?";
}

int ipvm_wasm_isa_parse(const char *text, int *isa, ipvm_error_t *err)
{
    static const char *const alias[] = {NULL, "x86-64", "v2", "v3", "v4"};
    for (int k = 0; text && k <= IPVM_WASM_ISA_MAX; k++)
        if (strcmp(text, isa_names[k]) == 0 || (alias[k] && strcmp(text, alias[k]) == 0)) {
            *isa = k;
            return 0;
        }
    return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                          "unknown instruction set level '%s': use auto, baseline, x86-64-v2, "
                          "x86-64-v3 or x86-64-v4", text ? text : "");
}

int ipvm__isa_resolve(int want, int *out, ipvm_error_t *err)
{
    int host = ipvm_wasm_isa_host();
    if (want < 0 || want > IPVM_WASM_ISA_MAX)
        return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET,
                              "instruction set level %d is not 0 (auto) .. 4 (x86-64-v4)", want);
    if (host == 0) { /* not x86-64: gcc's default for this architecture */
        *out = 0;
        return 0;
    }
    if (want > host)
        return ipvm_error_set(err, IPVM_EUNSUPPORTED, IPVM_NO_OFFSET,
                              "this CPU cannot run %s code (it supports up to %s): set the Wasm "
                              "instruction set level to auto or baseline",
                              isa_names[want], isa_names[host]);
    *out = want == IPVM_WASM_ISA_AUTO ? host : want;
    return 0;
}

const char *ipvm__isa_flag(int level)
{
    static const char *const flags[] = {NULL, NULL, "-march=x86-64-v2", "-march=x86-64-v3",
                                        "-march=x86-64-v4"};
    return level >= 0 && level <= IPVM_WASM_ISA_MAX ? flags[level] : NULL;
}

static bool stamp_ok(const ipvm__glue_t *g, const char *key, unsigned fuel_kind,
                     ipvm_error_t *err)
{
    if (g == NULL)
        return ipvm_error_set(err, IPVM_ESTALE, IPVM_NO_OFFSET,
                              "compiled code has no ipvm stamp"), false;
    if (g->magic != IPVM__GLUE_MAGIC || g->version != IPVM__GLUE_VERSION)
        return ipvm_error_set(err, IPVM_ESTALE, IPVM_NO_OFFSET,
                              "compiled code has stamp %08x v%u, this runtime wants %08x v%u",
                              g->magic, g->version, IPVM__GLUE_MAGIC, IPVM__GLUE_VERSION), false;
    /* a guard-page build run by a bounds-check runtime (or the reverse) reads host memory */
    if (g->guard_pages != IPVM__RT_GUARD_PAGES)
        return ipvm_error_set(err, IPVM_ESTALE, IPVM_NO_OFFSET,
                              "compiled code is for %s mode, this runtime uses %s mode",
                              g->guard_pages ? "guard-page" : "bounds-check",
                              IPVM__RT_GUARD_PAGES ? "guard-page" : "bounds-check"), false;
    if (g->fuel_kind != fuel_kind)
        return ipvm_error_set(err, IPVM_ESTALE, IPVM_NO_OFFSET,
                              "compiled code counts fuel differently (%u, want %u)", g->fuel_kind,
                              fuel_kind), false;
    if (strncmp(g->key, key, sizeof g->key) != 0)
        return ipvm_error_set(err, IPVM_ESTALE, IPVM_NO_OFFSET,
                              "compiled code is for another module or toolchain (key %.16s, "
                              "want %.16s)", g->key, key), false;
    return true;
}

ipvm__wasm_stats_t ipvm__wasm_stats;

/* ---- libtcc -------------------------------------------------------------------------------- */
static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct tcc_msg_s {
    char text[300];
} tcc_msg_t;

static void tcc_error(void *opaque, const char *msg)
{
    tcc_msg_t *m = opaque;
    if (m->text[0] == '\0')
        snprintf(m->text, sizeof m->text, "%s", msg);
}

/* The line wasm2c 1.0.32 starts a data segment's array with; the array ends at a line "};".
 * The segments are named by index (the module wasm2c sees has no names). */
#define DATA_DECL "static const u8 data_segment_data_w2c_d"

/* The prelude and the C, with each data segment's array replaced by an extern declaration
 * (tcc would parse ~6 bytes of C per byte of data; the bytes are the module's own). The
 * segments so declared are marked in used[ndata]. */
static int tcc_source(const ipvm__wasm_info_t *in, const char *c, size_t len, uint8_t *used,
                      ipvm_buf_t *out)
{
    const char *prelude = ipvm__wasm_prelude(IPVM__FUEL_SLOT);
    int rc = ipvm_buf_append(out, prelude, strlen(prelude));
    const char *p = c, *end = c + len;
    const size_t dl = sizeof DATA_DECL - 1;
    while (rc == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        unsigned long k;
        char *after;
        if (n > dl && memcmp(p, DATA_DECL, dl) == 0 &&
            (k = strtoul(p + dl, &after, 10)) < in->ndata && after < p + n && *after == '[') {
            const char *close = p + n; /* (after a newline, so close[-1] is in range) */
            while (close < end && !(close[0] == '}' && close[1] == ';' && close[-1] == '\n'))
                close++;
            if (close >= end)
                return IPVM_ECOMPILE;
            used[k] = 1;
            rc = ipvm_buf_printf(out, "extern const u8 data_segment_data_w2c_d%lu[];", k);
            p = close + 2;
            continue;
        }
        rc = ipvm_buf_append(out, p, n);
        p += n;
    }
    return rc ? rc : ipvm_buf_append_byte(out, 0);
}

/* Under tcc_lock. */
static int tcc_build(TCCState *s, const ipvm__wasm_info_t *in, const uint8_t *used,
                     const char *src, tcc_msg_t *msg, ipvm_error_t *err)
{
    tcc_set_error_func(s, msg, tcc_error);
    tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
    tcc_set_options(s, "-w");
    for (const ipvm__rt_sym_t *y = ipvm__rt_symbols(); y->name; y++)
        tcc_add_symbol(s, y->name, y->addr);
    for (uint32_t k = 0; k < in->ndata; k++) {
        char name[64];
        snprintf(name, sizeof name, "data_segment_data_w2c_d%u", k);
        if (used[k])
            tcc_add_symbol(s, name, in->bytes + in->data[k].off);
    }
    if (tcc_compile_string(s, src) < 0 || tcc_relocate(s, TCC_RELOCATE_AUTO) < 0)
        return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "tcc: %s",
                              msg->text[0] ? msg->text : "compilation failed");
    return 0;
}

int ipvm__compile_tcc(const ipvm__wasm_info_t *in, const char *c, size_t len, const char *key,
                      ipvm__code_t **out, ipvm_error_t *err)
{
    *out = NULL;
    ipvm_buf_t src = IPVM_BUF_INIT;
    uint8_t *used = ipvm_calloc(in->ndata ? in->ndata : 1, 1);
    ipvm__code_t *code = ipvm_calloc(1, sizeof *code);
    int rc = !used || !code ? IPVM_ENOMEM : tcc_source(in, c, len, used, &src);
    if (rc) {
        ipvm_free(used);
        ipvm_free(code);
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, rc == IPVM_ENOMEM ? "out of memory"
                              : "unexpected wasm2c output (a data segment without its end)");
    }
    tcc_msg_t msg = {{0}};
    atomic_fetch_add(&ipvm__wasm_stats.tcc, 1);
    pthread_mutex_lock(&tcc_lock); /* libtcc 0.9.27 is not reentrant */
    TCCState *s = tcc_new();
    if (s == NULL) {
        rc = ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "tcc_new failed");
    } else if ((rc = tcc_build(s, in, used, (const char *)src.data, &msg, err)) != 0) {
        tcc_delete(s);
    } else {
        code->glue = tcc_get_symbol(s, "ipvm_glue_v1");
        code->tcc = s;
    }
    pthread_mutex_unlock(&tcc_lock);
    ipvm_buf_dispose(&src);
    ipvm_free(used);
    if (rc == 0 && !stamp_ok(code->glue, key, IPVM__FUEL_SLOT, err)) {
        rc = IPVM_ESTALE;
        ipvm__code_free(code);
        code = NULL;
    }
    if (rc) {
        ipvm_free(code);
        return rc;
    }
    *out = code;
    return 0;
}

void ipvm__code_free(ipvm__code_t *code)
{
    if (code == NULL)
        return;
    if (code->tcc) {
        pthread_mutex_lock(&tcc_lock);
        tcc_delete(code->tcc);
        pthread_mutex_unlock(&tcc_lock);
    }
    if (code->dl)
        dlclose(code->dl);
    ipvm_free(code);
}

/* ---- gcc ----------------------------------------------------------------------------------- */
static pthread_once_t gcc_once = PTHREAD_ONCE_INIT, ident_once = PTHREAD_ONCE_INIT;
static char gcc_path[4096];
static char gcc_print[600]; /* "gcc /usr/bin/x86_64-linux-gnu-gcc-12 <size> <mtime> flags..." */
static char gcc_ident[512]; /* "gcc 12.2.0 -O2 ..." */

/* "<real path> <size> <mtime>" of a program: what identifies a toolchain build without
 * running it (each process start is slow on a VM). */
int ipvm__tool_fingerprint(const char *path, char *out, size_t size)
{
    char real[4096];
    struct stat st;
    if (realpath(path, real) == NULL || stat(real, &st) != 0)
        return -1;
    snprintf(out, size, "%s %lld %lld.%09ld", real, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return 0;
}

/* Finds a program on PATH; 0 and its path in out, or -1. */
int ipvm__find_program(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(out, size, "%.*s/%s", (int)n, p, name);
        if (n && access(out, X_OK) == 0)
            return 0;
        p += n + (p[n] == ':');
    }
    return -1;
}

static void gcc_setup(void)
{
    char fp[4300];
    if (ipvm__find_program("gcc", gcc_path, sizeof gcc_path) != 0 ||
        ipvm__tool_fingerprint(gcc_path, fp, sizeof fp) != 0) {
        gcc_path[0] = '\0';
        return;
    }
    size_t o = (size_t)snprintf(gcc_print, sizeof gcc_print, "gcc %s", fp);
    for (int k = 0; gcc_flags[k] && o < sizeof gcc_print; k++)
        o += (size_t)snprintf(gcc_print + o, sizeof gcc_print - o, " %s", gcc_flags[k]);
}

static void ident_setup(void)
{
    if (ipvm__gcc_fingerprint() == NULL)
        return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' -dumpfullversion 2>/dev/null", gcc_path);
    FILE *f = popen(cmd, "r");
    char ver[64] = "";
    if (f) {
        if (fgets(ver, sizeof ver, f) == NULL)
            ver[0] = '\0';
        pclose(f);
    }
    ver[strcspn(ver, "\r\n")] = '\0';
    size_t o = (size_t)snprintf(gcc_ident, sizeof gcc_ident, "gcc %s", ver[0] ? ver : "?");
    for (int k = 0; gcc_flags[k] && o < sizeof gcc_ident; k++)
        o += (size_t)snprintf(gcc_ident + o, sizeof gcc_ident - o, " %s", gcc_flags[k]);
}

const char *ipvm__gcc_fingerprint(void)
{
    pthread_once(&gcc_once, gcc_setup);
    return gcc_path[0] ? gcc_print : NULL;
}

const char *ipvm__gcc_id(void)
{
    pthread_once(&ident_once, ident_setup);
    return gcc_ident[0] ? gcc_ident : NULL;
}

/* fork + exec gcc at low priority with a memory and CPU ceiling, so a huge module cannot take
 * the node down; output and diagnostics into files. */
static int run_gcc(const char *c_path, const char *so_path, const char *log_path, int isa,
                   _Atomic int *pid_out)
{
    char *argv[32];
    int n = 0;
    argv[n++] = gcc_path;
    for (int k = 0; gcc_flags[k]; k++)
        argv[n++] = (char *)gcc_flags[k];
    if (ipvm__isa_flag(isa))
        argv[n++] = (char *)ipvm__isa_flag(isa);
    argv[n++] = "-o";
    argv[n++] = (char *)so_path;
    argv[n++] = (char *)c_path;
    argv[n++] = "-lm";
    argv[n] = NULL;
    if (pid_out && atomic_load(pid_out) < 0)
        return 128 + SIGTERM; /* cancelled before it started */
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (logfd < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(logfd);
        return -e;
    }
    if (pid == 0) {
        struct rlimit as = {4ull << 30, 4ull << 30}, cpu = {900, 900};
        setrlimit(RLIMIT_AS, &as);
        setrlimit(RLIMIT_CPU, &cpu);
        setpriority(PRIO_PROCESS, 0, 10);
        dup2(logfd, 1);
        dup2(logfd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        execv(gcc_path, argv);
        _exit(127);
    }
    close(logfd);
    int idle = 0;
    if (pid_out && !atomic_compare_exchange_strong(pid_out, &idle, (int)pid))
        kill(pid, SIGTERM); /* cancelled meanwhile */
    /* wait without reaping first, so the pid cannot be reused while others may signal it */
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    int mine = (int)pid;
    if (pid_out)
        atomic_compare_exchange_strong(pid_out, &mine, 0);
    int status, rc;
    while ((rc = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (rc < 0)
        return -errno;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int ipvm__compile_gcc(const char *c, size_t len, const char *so_path, unsigned fuel_kind,
                      int isa, _Atomic int *pid, ipvm_error_t *err)
{
    if (ipvm__gcc_fingerprint() == NULL)
        return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                              "gcc not found on PATH; install build-essential");
    size_t pl = strlen(so_path) + 64;
    char *c_path = ipvm_malloc(pl), *tmp_so = ipvm_malloc(pl), *log = ipvm_malloc(pl);
    int rc = 0;
    if (!c_path || !tmp_so || !log) {
        rc = ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        goto done;
    }
    long tag = (long)getpid() ^ ((long)(uintptr_t)&rc << 8);
    snprintf(c_path, pl, "%s.%lx.c", so_path, tag);
    snprintf(tmp_so, pl, "%s.%lx.tmp", so_path, tag);
    snprintf(log, pl, "%s.%lx.log", so_path, tag);
    const char *prelude = ipvm__wasm_prelude(fuel_kind);
    FILE *f = fopen(c_path, "wb");
    if (f == NULL || fwrite(prelude, 1, strlen(prelude), f) != strlen(prelude) ||
        fwrite(c, 1, len, f) != len) {
        if (f)
            fclose(f);
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "cannot write %s: %s", c_path,
                            strerror(errno));
        goto done;
    }
    fclose(f);
    atomic_fetch_add(&ipvm__wasm_stats.gcc, 1);
    int st = run_gcc(c_path, tmp_so, log, isa, pid);
    if (st != 0) {
        ipvm_buf_t msg = IPVM_BUF_INIT;
        if (ipvm_file_read(log, &msg, NULL) != 0)
            ipvm_buf_clear(&msg);
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "gcc failed (status %d): %.200s",
                            st, msg.data ? (char *)msg.data : "");
        ipvm_buf_dispose(&msg);
        unlink(tmp_so);
    } else if (rename(tmp_so, so_path) != 0) {
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "cannot rename %s: %s", tmp_so,
                            strerror(errno));
        unlink(tmp_so);
    }
    unlink(c_path);
    unlink(log);
done:
    ipvm_free(c_path);
    ipvm_free(tmp_so);
    ipvm_free(log);
    return rc;
}

typedef struct text_find_s {
    uintptr_t base;   /* load address of the .so (dladdr's dli_fbase) */
    uintptr_t lo, hi; /* out: its executable segment */
} text_find_t;

static int text_of(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    text_find_t *f = arg;
    if ((uintptr_t)info->dlpi_addr != f->base)
        return 0; /* another object */
    for (int k = 0; k < info->dlpi_phnum; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        uintptr_t lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            f->lo = lo;
            f->hi = lo + ph->p_memsz;
        }
    }
    return f->hi != 0;
}

/* The address range of the .so's machine code: the timer's stop signal ends the guest only
 * when it interrupts code in this range (instance.c). False when it cannot be found. */
static bool find_text(const void *sym, ipvm__code_t *code)
{
    Dl_info di;
    text_find_t f = {0, 0, 0};
    if (dladdr(sym, &di) == 0 || di.dli_fbase == NULL)
        return false;
    f.base = (uintptr_t)di.dli_fbase;
    if (dl_iterate_phdr(text_of, &f) != 1)
        return false;
    code->text_lo = f.lo;
    code->text_hi = f.hi;
    return true;
}

int ipvm__code_open(const char *so_path, const char *key, unsigned fuel_kind, ipvm__code_t **out,
                    ipvm_error_t *err)
{
    *out = NULL;
    if (access(so_path, R_OK) != 0)
        return ipvm_error_set(err, IPVM_ENOENT, IPVM_NO_OFFSET, "%s: not cached", so_path);
    void *dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "dlopen %s: %s", so_path,
                              dlerror());
    const ipvm__glue_t *g = dlsym(dl, "ipvm_glue_v1");
    if (!stamp_ok(g, key, fuel_kind, err)) {
        dlclose(dl);
        return IPVM_ESTALE;
    }
    ipvm__code_t *code = ipvm_calloc(1, sizeof *code);
    if (code == NULL) {
        dlclose(dl);
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    }
    code->glue = g;
    code->dl = dl;
    code->gcc = true;
    if (!find_text(g, code)) {
        ipvm_free(code);
        dlclose(dl);
        return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                              "%s: no executable segment found", so_path);
    }
    *out = code;
    return 0;
}

bool ipvm__rt_symbols_exported(void)
{
    /* a dlopened .so finds the runtime only when the program was linked with -rdynamic */
    return dlsym(RTLD_DEFAULT, "wasm_rt_trap") != NULL &&
           dlsym(RTLD_DEFAULT, "ipvm_rt_host_call") != NULL;
}
