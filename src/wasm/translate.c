/* SPDX-License-Identifier: Apache-2.0 */
/* From a validated module to one C translation unit: a renamed copy of the module (no guest
 * name reaches the C), wasm2c 1.0.32 run on it, the fuel pass over its output (a tick at every
 * loop header and at the entry of every function that calls outside its loops: the rule is at
 * IPVM__WASM_FN_CALLS_OUT; the count is the same on every run), and our glue: instance size, instantiate, free, memory, one uniform trampoline per
 * export, one thunk per import into ipvm_rt_host_call, and the stamp the loader checks. */
#define _GNU_SOURCE
#include "wasm/core_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- the module wasm2c sees ---------------------------------------------------------------- */
/* Wasm's unsigned LEB128 is the multiformats unsigned varint. */
static int put_u32(ipvm_buf_t *b, uint32_t v)
{
    uint8_t tmp[IPVM_VARINT_MAX];
    return ipvm_buf_append(b, tmp, ipvm_varint_encode(v, tmp));
}

static int put_name(ipvm_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    int rc = put_u32(b, (uint32_t)n);
    return rc ? rc : ipvm_buf_append(b, s, n);
}

static int put_section(ipvm_buf_t *out, uint8_t id, const ipvm_buf_t *body)
{
    int rc = ipvm_buf_append_byte(out, id);
    if (!rc)
        rc = put_u32(out, (uint32_t)body->len);
    if (!rc && body->len)
        rc = ipvm_buf_append(out, body->data, body->len);
    return rc;
}

static int import_section(const ipvm__wasm_info_t *in, ipvm_buf_t *out)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = put_u32(&b, in->nimported);
    for (uint32_t k = 0; rc == 0 && k < in->nimported; k++) {
        char field[16];
        snprintf(field, sizeof field, "f%u", k);
        if (!(rc = put_name(&b, "h")) && !(rc = put_name(&b, field)) &&
            !(rc = ipvm_buf_append_byte(&b, 0)))
            rc = put_u32(&b, in->func_type[k]);
    }
    if (!rc)
        rc = put_section(out, 2, &b);
    ipvm_buf_dispose(&b);
    return rc;
}

static int export_section(const ipvm__wasm_info_t *in, ipvm_buf_t *out)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = put_u32(&b, in->nexports + (in->has_memory ? 1 : 0));
    for (uint32_t k = 0; rc == 0 && k < in->nexports; k++) {
        char name[16];
        snprintf(name, sizeof name, "e%u", k);
        if (!(rc = put_name(&b, name)) && !(rc = ipvm_buf_append_byte(&b, 0)))
            rc = put_u32(&b, in->exports[k].func_index);
    }
    if (!rc && in->has_memory && !(rc = put_name(&b, "mem")) && !(rc = ipvm_buf_append_byte(&b, 2)))
        rc = put_u32(&b, 0);
    if (!rc)
        rc = put_section(out, 7, &b);
    ipvm_buf_dispose(&b);
    return rc;
}

/* The place of a section id in the required order (the export section is 7). */
static int rank(uint8_t id)
{
    static const int8_t r[14] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6};
    return id < 14 ? r[id] : 99;
}

int ipvm__wasm_rewrite(const ipvm__wasm_info_t *in, const uint8_t *live, ipvm_buf_t *out)
{
    static const uint8_t header[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    int rc = ipvm_buf_append(out, header, 8);
    bool exports_done = false;
    for (uint32_t i = 0; rc == 0 && i < in->nsections; i++) {
        const ipvm__wasm_section_t *s = &in->sections[i];
        if (s->id == 0)
            continue; /* custom sections (names, component types) are not wasm2c's business */
        if (!exports_done && rank(s->id) > rank(7)) {
            if ((rc = export_section(in, out)) != 0)
                break;
            exports_done = true;
        }
        if (s->id == 2)
            rc = import_section(in, out);
        else if (s->id == 7) {
            rc = export_section(in, out);
            exports_done = true;
        } else if (s->id == 10 && live) {
            rc = ipvm__wasm_code_section(in, live, out);
        } else
            rc = ipvm_buf_append(out, in->bytes + s->start, s->body.off + s->body.len - s->start);
    }
    if (rc == 0 && !exports_done)
        rc = export_section(in, out);
    return rc;
}

/* ---- running wasm2c ------------------------------------------------------------------------ */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs argv with stdout and stderr into `log_path`; returns the exit status or -errno. */
static int run_tool(char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -rc;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static pthread_once_t version_once = PTHREAD_ONCE_INIT;
static char wasm2c_version[64];

static void find_version(void)
{
    char dir[] = "/tmp/ipvm-w2cv-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return;
    char log[64];
    snprintf(log, sizeof log, "%s/v", dir);
    char *argv[] = {"wasm2c", "--version", NULL};
    if (run_tool(argv, log) == 0) {
        ipvm_buf_t b = IPVM_BUF_INIT;
        if (ipvm_file_read(log, &b, NULL) == 0 && b.len) {
            size_t n = strcspn((char *)b.data, "\r\n");
            snprintf(wasm2c_version, sizeof wasm2c_version, "wasm2c %.*s", (int)n,
                     (char *)b.data);
        }
        ipvm_buf_dispose(&b);
    }
    rm_tree(dir);
}

const char *ipvm__wasm2c_version(void)
{
    pthread_once(&version_once, find_version);
    return wasm2c_version[0] ? wasm2c_version : NULL;
}

static pthread_once_t print_once = PTHREAD_ONCE_INIT;
static char wasm2c_print[4400];

static void find_print(void)
{
    char path[4096], fp[4300];
    if (ipvm__find_program("wasm2c", path, sizeof path) == 0 &&
        ipvm__tool_fingerprint(path, fp, sizeof fp) == 0)
        snprintf(wasm2c_print, sizeof wasm2c_print, "wasm2c %s", fp);
}

const char *ipvm__wasm2c_fingerprint(void)
{
    pthread_once(&print_once, find_print);
    return wasm2c_print[0] ? wasm2c_print : NULL;
}

static const char *tmp_base(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t && strlen(t) < 3000 ? t : "/tmp";
}

/* wasm2c in.wasm -n ipvm -o out.c in a private temporary directory; reads out.c and out.h. */
static int run_wasm2c(const ipvm_buf_t *wasm, ipvm_buf_t *c, ipvm_buf_t *h, ipvm_error_t *err)
{
    char dir[4096], in[4200], outc[4200], outh[4200], log[4200];
    snprintf(dir, sizeof dir, "%s/ipvm-w2c-XXXXXX", tmp_base());
    if (mkdtemp(dir) == NULL)
        return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                              "cannot create a temporary directory in %s: %s", tmp_base(),
                              strerror(errno));
    snprintf(in, sizeof in, "%s/in.wasm", dir);
    snprintf(outc, sizeof outc, "%s/out.c", dir);
    snprintf(outh, sizeof outh, "%s/out.h", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    int rc;
    FILE *f = fopen(in, "wb");
    if (f == NULL || fwrite(wasm->data, 1, wasm->len, f) != wasm->len) {
        if (f)
            fclose(f);
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "cannot write %s", in);
        goto done;
    }
    fclose(f);
    char *argv[] = {"wasm2c", in, "-n", "ipvm", "-o", outc, NULL};
    atomic_fetch_add(&ipvm__wasm_stats.wasm2c, 1);
    int st = run_tool(argv, log);
    if (st != 0) {
        ipvm_buf_t msg = IPVM_BUF_INIT;
        if (ipvm_file_read(log, &msg, NULL) != 0)
            ipvm_buf_clear(&msg);
        if (st < 0)
            rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                                "cannot run wasm2c: %s; install wabt (tools/deps.sh)",
                                strerror(-st));
        else
            rc = ipvm_error_set(err, st == 1 ? IPVM_EWASM : IPVM_ECOMPILE, IPVM_NO_OFFSET,
                                "wasm2c refused the module (status %d): %.200s", st,
                                msg.data ? (char *)msg.data : "");
        ipvm_buf_dispose(&msg);
        goto done;
    }
    if ((rc = ipvm_file_read(outc, c, err)) == 0)
        rc = ipvm_file_read(outh, h, err);
    if (rc)
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET, "wasm2c wrote no output");
done:
    rm_tree(dir);
    return rc;
}

/* ---- the fuel pass ------------------------------------------------------------------------- */
/* wasm2c 1.0.32 passes &instance->w2c_mem to every load and store, which reload
 * memory->data after each store (a u8 store may alias the struct). In guard-page mode the
 * data pointer of a memory never moves (memory.grow only opens pages of the reservation),
 * so on the gcc tier each function reads it once into a local (IPVM_MB) and the accesses
 * take it from there; elsewhere the same names stand for wasm2c's own functions. */
static const char *const mem_ops[] = {
    "i32_load", "i64_load", "f32_load", "f64_load", "i32_load8_s", "i64_load8_s",
    "i32_load8_u", "i64_load8_u", "i32_load16_s", "i64_load16_s", "i32_load16_u",
    "i64_load16_u", "i64_load32_s", "i64_load32_u", "i32_store", "i64_store", "f32_store",
    "f64_store", "i32_store8", "i32_store16", "i64_store8", "i64_store16", "i64_store32", NULL};
static const char mem_ops_types[][3][4] = {
    {"u32", "u32", "u32"}, {"u64", "u64", "u64"}, {"f32", "f32", "f32"}, {"f64", "f64", "f64"},
    {"s8", "s32", "u32"},  {"s8", "s64", "u64"},  {"u8", "u32", "u32"},  {"u8", "u64", "u64"},
    {"s16", "s32", "u32"}, {"s16", "s64", "u64"}, {"u16", "u32", "u32"}, {"u16", "u64", "u64"},
    {"s32", "s64", "u64"}, {"u32", "u64", "u64"}, {"u32", "u32", ""},    {"u64", "u64", ""},
    {"f32", "f32", ""},    {"f64", "f64", ""},    {"u8", "u32", ""},     {"u16", "u32", ""},
    {"u8", "u64", ""},     {"u16", "u64", ""},    {"u32", "u64", ""}};

/* The ipvm_<op> functions (or names), after wasm2c's last DEFINE_STORE. */
static int mem_defs(ipvm_buf_t *out)
{
    int rc = ipvm_buf_append_str(
        out, "#if defined(IPVM_GCC_TIER) && WASM_RT_MEMCHECK_SIGNAL_HANDLER\n"
             "#define IPVM_MB_DECL u8 *ipvm_mb = instance->w2c_mem.data;\n"
             "#define IPVM_MB ipvm_mb\n"
             /* the load must happen even when its value is unused (it may trap); a float
              * is kept in its SSE register, not moved to a general one as wasm2c does */
             "#if defined(__x86_64__)\n#define IPVM_KF \"x\"\n#else\n#define IPVM_KF \"r\"\n"
             "#endif\n"
             "#define IPVM_DL(n, t1, t2, t3) IPVM_DLK(n, t1, t2, t3, \"r\")\n"
             "#define IPVM_DLF(n, t1, t2, t3) IPVM_DLK(n, t1, t2, t3, IPVM_KF)\n"
             "#define IPVM_DLK(n, t1, t2, t3, k) static inline t3 ipvm_##n(u8 *b, u64 a) {"
             " t1 r; wasm_rt_memcpy(&r, b + a, sizeof r); wasm_asm(\"\" ::k(r));"
             " return (t3)(t2)r; }\n"
             "#define IPVM_DS(n, t1, t2) static inline void ipvm_##n(u8 *b, u64 a, t2 v) {"
             " t1 w = (t1)v; wasm_rt_memcpy(b + a, &w, sizeof w); }\n");
    for (int k = 0; rc == 0 && mem_ops[k]; k++)
        rc = mem_ops_types[k][2][0]
                 ? ipvm_buf_printf(out, "IPVM_DL%s(%s, %s, %s, %s)\n",
                                   mem_ops[k][0] == 'f' ? "F" : "", mem_ops[k],
                                   mem_ops_types[k][0], mem_ops_types[k][1], mem_ops_types[k][2])
                 : ipvm_buf_printf(out, "IPVM_DS(%s, %s, %s)\n", mem_ops[k],
                                   mem_ops_types[k][0], mem_ops_types[k][1]);
    if (rc == 0)
        rc = ipvm_buf_append_str(out, "#else\n#define IPVM_MB_DECL\n"
                                      "#define IPVM_MB (&instance->w2c_mem)\n");
    for (int k = 0; rc == 0 && mem_ops[k]; k++)
        rc = ipvm_buf_printf(out, "#define ipvm_%s %s\n", mem_ops[k], mem_ops[k]);
    return rc ? rc : ipvm_buf_append_str(out, "#endif\n");
}

static bool is_mem_op(const char *name, size_t n)
{
    for (int k = 0; mem_ops[k]; k++)
        if (strlen(mem_ops[k]) == n && memcmp(mem_ops[k], name, n) == 0)
            return true;
    return false;
}

#define MEM_ARG "(&instance->w2c_mem, "

/* A line of a function body with op(&instance->w2c_mem, ...) turned into ipvm_op(IPVM_MB, ...). */
static int mem_line(const char *p, size_t n, ipvm_buf_t *out)
{
    const char *e = p + n, *q = p;
    const size_t al = sizeof MEM_ARG - 1;
    int rc = 0;
    for (const char *a; rc == 0 && (a = memmem(q, (size_t)(e - q), MEM_ARG, al)) != NULL;) {
        const char *id = a;
        while (id > q && (isalnum((unsigned char)id[-1]) || id[-1] == '_'))
            id--;
        if (is_mem_op(id, (size_t)(a - id))) {
            if (!(rc = ipvm_buf_append(out, q, (size_t)(id - q))) &&
                !(rc = ipvm_buf_append_str(out, "ipvm_")) &&
                !(rc = ipvm_buf_append(out, id, (size_t)(a - id))))
                rc = ipvm_buf_append_str(out, "(IPVM_MB, ");
        } else {
            rc = ipvm_buf_append(out, q, (size_t)(a + al - q));
        }
        q = a + al;
    }
    return rc ? rc : ipvm_buf_append(out, q, (size_t)(e - q));
}

typedef struct pass_s {
    const ipvm__wasm_info_t *in;
    const ipvm_buf_t *h;
    uint32_t k, loops;
    bool header_done, defs_done;
} pass_t;

/* A loop label "w2c_L<n>:" gets IPVM_LOOP after it; returns 1 if the line is none. */
static int loop_line(pass_t *ps, const char *p, size_t n, const char *s, ipvm_buf_t *out)
{
    if ((size_t)(p + n - s) <= 6 || memcmp(s, "w2c_L", 5) != 0 || s[5] < '0' || s[5] > '9')
        return 1;
    const char *q = s + 5;
    while (*q >= '0' && *q <= '9')
        q++;
    if (*q != ':')
        return 1;
    int rc = ipvm_buf_append(out, p, (size_t)(q + 1 - p));
    if (!rc)
        rc = ipvm_buf_append_str(out, " IPVM_LOOP;");
    if (!rc)
        rc = mem_line(q + 1, (size_t)(p + n - (q + 1)), out);
    ps->loops++;
    return rc;
}

/* f64.neg and f32.neg, which wasm2c 1.0.32 writes "x = -(x);", flip the sign bit, NaNs
 * included; tcc 0.9.27 computes -0.0 - x, which keeps a NaN's sign. Both tiers get
 * IPVM_FNEG64/32(x): -(x) on gcc, a bit flip on tcc. Returns 1 if the line is none. */
static int neg_line(const char *p, size_t n, ipvm_buf_t *out)
{
    const char *a = memmem(p, n, "= -(w2c_", 8);
    if (a == NULL || (a[8] != 'd' && a[8] != 'f'))
        return 1;
    int rc = ipvm_buf_append(out, p, (size_t)(a + 2 - p));
    if (!rc)
        rc = ipvm_buf_append_str(out, a[8] == 'd' ? "IPVM_FNEG64" : "IPVM_FNEG32");
    return rc ? rc : ipvm_buf_append(out, a + 3, (size_t)(p + n - (a + 3)));
}

static int pass_line(pass_t *ps, const char *p, size_t n, ipvm_buf_t *out, ipvm_error_t *err)
{
    const char *s = p;
    while (s < p + n && *s == ' ')
        s++;
    size_t rest = (size_t)(p + n - s);
    if (!ps->header_done && rest >= 16 && memcmp(s, "#include \"out.h\"", 16) == 0) {
        ps->header_done = true;
        int rc = ipvm_buf_append(out, ps->h->data, ps->h->len);
        /* min and max of a NaN give NAN, which glibc's math.h makes (0.0f / 0.0f) for tcc:
         * the CPU's default NaN, negative on x86. gcc's is +NaN (7fc00000); so is tcc's now. */
        return rc ? rc : ipvm_buf_append_str(out, "#ifdef IPVM_NAN\n#undef NAN\n"
                                                  "#define NAN IPVM_NAN\n#endif\n");
    }
    if (rest >= 14 && memcmp(s, "FUNC_PROLOGUE;", 14) == 0) {
        if (ps->k >= ps->in->nfuncs - ps->in->nimported)
            return ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                                  "wasm2c output has more functions than the module");
        bool tick = ps->in->func_flags[ps->k++] & IPVM__WASM_FN_CALLS_OUT;
        int rc = ipvm_buf_append_str(out, tick ? "  IPVM_ENTRY;" : "  IPVM_ENTRY_LEAF;");
        return rc ? rc : ipvm_buf_append_str(out, ps->in->has_memory ? " IPVM_MB_DECL\n" : "\n");
    }
    if (!ps->defs_done && ps->in->has_memory && rest >= 27 &&
        memcmp(s, "DEFINE_STORE(i64_store32, ", 26) == 0) {
        ps->defs_done = true;
        int rc = ipvm_buf_append(out, p, n);
        return rc ? rc : mem_defs(out);
    }
    int rc = loop_line(ps, p, n, s, out);
    if (rc != 1 || (rc = neg_line(p, n, out)) != 1)
        return rc;
    return ps->defs_done ? mem_line(p, n, out) : ipvm_buf_append(out, p, n);
}

/* Copies the C, inlining out.h, replacing the k-th "FUNC_PROLOGUE;" (the k-th defined
 * function, in index order) by IPVM_ENTRY (a tick: IPVM__WASM_FN_CALLS_OUT) or
 * IPVM_ENTRY_LEAF (none), appending IPVM_LOOP to every loop label "w2c_L<n>:", turning
 * loads and stores into the ipvm_ ones above and float negations into IPVM_FNEG64/32. */
static int fuel_pass(const ipvm__wasm_info_t *in, const ipvm_buf_t *c, const ipvm_buf_t *h,
                     ipvm_buf_t *out, ipvm_error_t *err)
{
    const char *p = (const char *)c->data, *end = p + c->len;
    uint32_t ndefined = in->nfuncs - in->nimported;
    pass_t ps = {in, h, 0, 0, false, false};
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        rc = pass_line(&ps, p, n, out, err);
        p += n;
    }
    if (rc == 0 && (ps.k != ndefined || !ps.header_done || ps.loops > in->nloops ||
                    (in->has_memory && !ps.defs_done)))
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                            "unexpected wasm2c output (%u of %u function prologues, %u of %u "
                            "loops, loads %s): is wasm2c 1.0.32 installed?",
                            ps.k, ndefined, ps.loops, in->nloops, ps.defs_done ? "ok" : "not found");
    return rc;
}

/* ---- the glue ------------------------------------------------------------------------------ */
static const char *ctype(uint8_t t)
{
    switch (t) {
    case 0x7f: return "u32";
    case 0x7e: return "u64";
    case 0x7d: return "f32";
    case 0x7c: return "f64";
    case 0x70: return "wasm_rt_funcref_t";
    default: return "wasm_rt_externref_t";
    }
}

static char multi_letter(uint8_t t)
{
    return t == 0x7f ? 'i' : t == 0x7e ? 'j' : t == 0x7d ? 'f' : 'd';
}

static bool numeric(uint8_t t)
{
    return t >= 0x7c && t <= 0x7f;
}

/* The return type of a wasm2c function with these results. */
static int ret_type(ipvm_buf_t *o, const ipvm__wasm_functype_t *t)
{
    if (t->nresults == 0)
        return ipvm_buf_append_str(o, "void");
    if (t->nresults == 1)
        return ipvm_buf_append_str(o, ctype(t->results[0]));
    int rc = ipvm_buf_append_str(o, "struct wasm_multi_");
    for (uint32_t k = 0; rc == 0 && k < t->nresults; k++)
        rc = ipvm_buf_append_byte(o, (uint8_t)multi_letter(t->results[k]));
    return rc;
}

/* "(T)a[k]" for parameter k. */
static int arg_expr(ipvm_buf_t *o, uint8_t t, uint32_t k)
{
    switch (t) {
    case 0x7f: return ipvm_buf_printf(o, "(u32)a[%u]", k);
    case 0x7e: return ipvm_buf_printf(o, "a[%u]", k);
    case 0x7d: return ipvm_buf_printf(o, "ipvm_f32(a[%u])", k);
    default: return ipvm_buf_printf(o, "ipvm_f64(a[%u])", k);
    }
}

static int store_result(ipvm_buf_t *o, uint8_t t, uint32_t k, const char *v)
{
    switch (t) {
    case 0x7f: return ipvm_buf_printf(o, " r[%u] = (u32)(%s);", k, v);
    case 0x7e: return ipvm_buf_printf(o, " r[%u] = (%s);", k, v);
    case 0x7d: return ipvm_buf_printf(o, " r[%u] = ipvm_b32(%s);", k, v);
    default: return ipvm_buf_printf(o, " r[%u] = ipvm_b64(%s);", k, v);
    }
}

static bool sig_numeric(const ipvm__wasm_functype_t *t)
{
    for (uint32_t k = 0; k < t->nparams; k++)
        if (!numeric(t->params[k]))
            return false;
    for (uint32_t k = 0; k < t->nresults; k++)
        if (!numeric(t->results[k]))
            return false;
    return t->nparams <= IPVM__WASM_MAX_PARAMS && t->nresults <= IPVM__WASM_MAX_RESULTS;
}

static int glue_export(ipvm_buf_t *o, const ipvm__wasm_functype_t *t, uint32_t k)
{
    int rc = ipvm_buf_printf(o, "static void ipvm_x%u(void *i, const uint64_t *a, uint64_t *r)"
                                " {\n  (void)a; (void)r;\n  IPVM_ENTER\n  ", k);
    if (!rc && t->nresults) {
        rc = ret_type(o, t);
        if (!rc)
            rc = ipvm_buf_append_str(o, " v = ");
    }
    if (!rc)
        rc = ipvm_buf_printf(o, "Z_ipvmZ_e%u((Z_ipvm_instance_t *)i", k);
    for (uint32_t p = 0; rc == 0 && p < t->nparams; p++)
        if (!(rc = ipvm_buf_append_str(o, ", ")))
            rc = arg_expr(o, t->params[p], p);
    if (!rc)
        rc = ipvm_buf_append_str(o, ");");
    char v[16];
    for (uint32_t q = 0; rc == 0 && q < t->nresults; q++) {
        if (t->nresults == 1)
            snprintf(v, sizeof v, "v");
        else
            snprintf(v, sizeof v, "v.%c%u", multi_letter(t->results[q]), q);
        rc = store_result(o, t->results[q], q, v);
    }
    return rc ? rc : ipvm_buf_append_str(o, "\n  IPVM_LEAVE\n}\n");
}

/* The function wasm2c calls for import k: packs the arguments into ipvm_rt_host_call. */
static int glue_import(ipvm_buf_t *o, const ipvm__wasm_functype_t *t, uint32_t k)
{
    int rc = ret_type(o, t);
    if (!rc)
        rc = ipvm_buf_printf(o, " Z_hZ_f%u(struct Z_h_instance_t *h", k);
    for (uint32_t p = 0; rc == 0 && p < t->nparams; p++)
        rc = ipvm_buf_printf(o, ", %s p%u", ctype(t->params[p]), p);
    if (!rc)
        rc = ipvm_buf_printf(o, ") {\n  uint64_t a[%u], r[%u];\n", t->nparams ? t->nparams : 1,
                             t->nresults ? t->nresults : 1);
    for (uint32_t p = 0; rc == 0 && p < t->nparams; p++) {
        uint8_t ty = t->params[p];
        rc = ipvm_buf_printf(o, "  a[%u] = %s(p%u);\n", p,
                             ty == 0x7d ? "ipvm_b32" : ty == 0x7c ? "ipvm_b64" : "(uint64_t)", p);
    }
    if (!rc)
        rc = ipvm_buf_printf(o, "  r[0] = 0;\n  IPVM_TO_HOST\n  ipvm_rt_host_call(h, %uu, a, r);\n"
                                "  IPVM_FROM_HOST\n", k);
    if (rc || t->nresults == 0)
        return rc ? rc : ipvm_buf_append_str(o, "}\n");
    if (t->nresults == 1) {
        uint8_t ty = t->results[0];
        rc = ipvm_buf_printf(o, "  return %s(r[0]);\n}\n",
                             ty == 0x7f ? "(u32)" : ty == 0x7e ? "" : ty == 0x7d ? "ipvm_f32"
                                                                                : "ipvm_f64");
        return rc;
    }
    rc = ipvm_buf_append_str(o, "  ");
    if (!rc)
        rc = ret_type(o, t);
    if (!rc)
        rc = ipvm_buf_append_str(o, " v;\n");
    for (uint32_t q = 0; rc == 0 && q < t->nresults; q++) {
        uint8_t ty = t->results[q];
        rc = ipvm_buf_printf(o, "  v.%c%u = %s(r[%u]);\n", multi_letter(ty), q,
                             ty == 0x7f ? "(u32)" : ty == 0x7e ? "" : ty == 0x7d ? "ipvm_f32"
                                                                                : "ipvm_f64", q);
    }
    return rc ? rc : ipvm_buf_append_str(o, "  return v;\n}\n");
}

/* Export k has a trampoline: a numeric signature, and a body in this translation. */
static bool exported(const ipvm__wasm_info_t *in, const uint8_t *live, uint32_t k)
{
    uint32_t f = in->exports[k].func_index;
    return sig_numeric(&in->types[in->func_type[f]]) && (live == NULL || live[f]);
}

static int glue(const ipvm__wasm_info_t *in, const uint8_t *live, const char *key, ipvm_buf_t *o,
                ipvm_error_t *err)
{
    int rc = ipvm_buf_append_str(o, "\n/* ---- ipvm glue ---- */\n");
    for (uint32_t k = 0; rc == 0 && k < in->nimported; k++) {
        const ipvm__wasm_functype_t *t = &in->types[in->func_type[k]];
        if (!sig_numeric(t))
            return ipvm_error_set(err, IPVM_ELINK, IPVM_NO_OFFSET,
                                  "import %s.%s has a signature no host function can have",
                                  in->imports[k].module, in->imports[k].field);
        rc = glue_import(o, t, k);
    }
    for (uint32_t k = 0; rc == 0 && k < in->nexports; k++)
        if (exported(in, live, k))
            rc = glue_export(o, &in->types[in->func_type[in->exports[k].func_index]], k);
    if (!rc)
        rc = ipvm_buf_printf(o, "static const ipvm__tramp_t ipvm_exports[%u] = {",
                             in->nexports ? in->nexports : 1);
    for (uint32_t k = 0; rc == 0 && k < in->nexports; k++)
        rc = exported(in, live, k) ? ipvm_buf_printf(o, "%sipvm_x%u", k ? ", " : "", k)
                                   : ipvm_buf_printf(o, "%s0", k ? ", " : "");
    if (!rc)
        rc = ipvm_buf_printf(
            o,
            "};\n"
            "static void ipvm_init(void) { Z_ipvm_init_module(); }\n"
            "static void ipvm_inst(void *i, void *h) { (void)h; IPVM_ENTER Z_ipvm_instantiate("
            "(Z_ipvm_instance_t *)i%s); IPVM_LEAVE }\n"
            "static void ipvm_fr(void *i) { Z_ipvm_free((Z_ipvm_instance_t *)i); }\n"
            "static void *ipvm_mem(void *i) { %s }\n"
            "IPVM_GLUE_EXPORT const struct ipvm__glue_s ipvm_glue_v1 = {\n"
            "  0x%08xu, %uu, WASM_RT_MEMCHECK_SIGNAL_HANDLER, IPVM_FUEL_KIND, \"%s\",\n"
            "  sizeof(Z_ipvm_instance_t), %uu, %uu, ipvm_init, ipvm_inst, ipvm_fr, ipvm_mem,\n"
            "  ipvm_exports};\n",
            in->nimported ? ", (struct Z_h_instance_t *)h" : "",
            in->has_memory ? "return &((Z_ipvm_instance_t *)i)->w2c_mem;" : "(void)i; return 0;",
            IPVM__GLUE_MAGIC, IPVM__GLUE_VERSION, key, in->nexports, in->nimported);
    return rc;
}

int ipvm__wasm_translate(const ipvm__wasm_info_t *in, const uint8_t *live, const char *key,
                         ipvm_buf_t *c, ipvm_error_t *err)
{
    ipvm_buf_t wasm = IPVM_BUF_INIT, gc = IPVM_BUF_INIT, gh = IPVM_BUF_INIT;
    int rc = ipvm__wasm_rewrite(in, live, &wasm);
    if (rc) {
        rc = ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
        goto done;
    }
    if ((rc = run_wasm2c(&wasm, &gc, &gh, err)) != 0)
        goto done;
    if (in->has_memory && !strstr((char *)gh.data, "wasm_rt_memory_t w2c_mem;")) {
        rc = ipvm_error_set(err, IPVM_ECOMPILE, IPVM_NO_OFFSET,
                            "unexpected wasm2c output (no memory field w2c_mem)");
        goto done;
    }
    if ((rc = fuel_pass(in, &gc, &gh, c, err)) != 0)
        goto done;
    rc = glue(in, live, key, c, err);
    if (rc && err && err->code == 0)
        ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory");
done:
    ipvm_buf_dispose(&wasm);
    ipvm_buf_dispose(&gc);
    ipvm_buf_dispose(&gh);
    return rc;
}

/* ---- preludes ------------------------------------------------------------------------------ */
/* What both tiers need before the generated code. The glue struct's text is that of
 * ipvm__glue_t (core_int.h): keep them identical (the loader checks magic and version). */
#define PRELUDE_COMMON                                                                          \
    "#include <stdint.h>\n#include <string.h>\n"                                                \
    "typedef void (*ipvm__tramp_t)(void *inst, const uint64_t *args, uint64_t *results);\n"    \
    "struct ipvm__glue_s { uint32_t magic, version, guard_pages, fuel_kind; char key[72];\n"   \
    "  uint64_t instance_size; uint32_t nexports, nimports; void (*init_module)(void);\n"     \
    "  void (*instantiate)(void *, void *); void (*free)(void *); void *(*memory)(void *);\n" \
    "  const ipvm__tramp_t *exports; };\n"                                                      \
    "void ipvm_rt_host_call(void *host, uint32_t index, const uint64_t *args, uint64_t *r);\n" \
    "void ipvm_rt_fuel_trap(void) __attribute__((noreturn));\n"                                 \
    "void ipvm_rt_stack_trap(void);\n"                                                          \
    "static inline float ipvm_f32(uint64_t v) { uint32_t b = (uint32_t)v; float f;\n"           \
    "  memcpy(&f, &b, 4); return f; }\n"                                                        \
    "static inline double ipvm_f64(uint64_t v) { double d; memcpy(&d, &v, 8); return d; }\n"  \
    "static inline uint64_t ipvm_b32(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }\n" \
    "static inline uint64_t ipvm_b64(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }\n"

/* gcc: the counter lives in the host's initial-exec TLS ipvm_rt_fuel between calls; on x86-64
 * it is held in r15 (a global register variable) while guest code runs, so a tick is one
 * register decrement and one compare with the floor, with no chain of stores and loads through
 * memory from one call to the next (that chain tripled the time of call-heavy code). r15 is
 * callee-saved: host code called from the guest keeps it, the glue saves the host's value on
 * entry and restores it on exit, and every way out to the host (trap, host call, fault: the
 * handler reads it from the signal context) first stores it back to ipvm_rt_fuel. A tick
 * compares the counter with 0 only: no load of the floor, and no register held for it (the
 * floor read was two loads, the TLS offset and the value, and took a register in loops that
 * were short of them); the timer stops this code with a signal (rt.c, on_stop). The empty asm
 * makes the counter opaque to gcc, which could otherwise compute the end of a loop that does
 * nothing but tick (an endless `loop br 0` would run out of its 2^63 units at once, not be
 * stopped by the clock); it costs no instruction. */
#define PRELUDE_GCC                                                                             \
    "/* ipvm prelude: gcc tier */\n#define IPVM_GCC_TIER 1\n"                                   \
    "#include <stdint.h>\n#include <wasm-rt.h>\n"                                               \
    "extern _Thread_local int64_t ipvm_rt_fuel __attribute__((tls_model(\"initial-exec\")));\n" \
    "extern _Thread_local int64_t ipvm_rt_fuel_floor "                                         \
    "__attribute__((tls_model(\"initial-exec\")));\n"                                          \
    "#if defined(__x86_64__) && !defined(IPVM_NO_FUEL)\n"                                     \
    "register int64_t ipvm_fuel_reg __asm__(\"r15\");\n"                                       \
    "#define IPVM_FUEL_IN_REG 1\n"                                                             \
    "#endif\n" PRELUDE_COMMON                                                                  \
    "#define IPVM_GLUE_EXPORT __attribute__((visibility(\"default\")))\n"                       \
    "#if defined(IPVM_NO_FUEL)\n"                                                              \
    "#define IPVM_FUEL_KIND 3\n"                                                               \
    "#define IPVM_TICK do { } while (0)\n"                                                     \
    "#elif defined(IPVM_FUEL_IN_REG)\n"                                                        \
    "#define IPVM_FUEL_KIND 1\n"                                                               \
    "static inline __attribute__((noreturn)) void ipvm_trap_r15(wasm_rt_trap_t c) {\n"        \
    "  ipvm_rt_fuel = ipvm_fuel_reg; wasm_rt_trap(c); }\n"                                     \
    "static __attribute__((noreturn, noinline, cold)) void ipvm_out_of_fuel(void) {\n"         \
    "  ipvm_trap_r15((wasm_rt_trap_t)100); }\n"                                               \
    "#define wasm_rt_trap ipvm_trap_r15\n"                                                     \
    "#define IPVM_TICK __asm__(\"\" : \"+r\"(ipvm_fuel_reg)); "                                 \
    "if (__builtin_expect(--ipvm_fuel_reg < 0, 0)) ipvm_out_of_fuel()\n"                       \
    "#define IPVM_ENTER int64_t ipvm_host_r15 = ipvm_fuel_reg; ipvm_fuel_reg = ipvm_rt_fuel;\n" \
    "#define IPVM_LEAVE ipvm_rt_fuel = ipvm_fuel_reg; ipvm_fuel_reg = ipvm_host_r15;\n"        \
    "#define IPVM_TO_HOST ipvm_rt_fuel = ipvm_fuel_reg;\n"                                     \
    "#define IPVM_FROM_HOST ipvm_fuel_reg = ipvm_rt_fuel;\n"                                   \
    "#else\n"                                                                                  \
    "#define IPVM_FUEL_KIND 1\n"                                                               \
    "#define IPVM_TICK if (__builtin_expect(--*(volatile int64_t *)&ipvm_rt_fuel < "            \
    "*(volatile int64_t *)&ipvm_rt_fuel_floor, 0)) ipvm_rt_fuel_trap()\n"                      \
    "#endif\n"                                                                                 \
    "#ifndef IPVM_ENTER\n"                                                                     \
    "#define IPVM_ENTER\n#define IPVM_LEAVE\n#define IPVM_TO_HOST\n#define IPVM_FROM_HOST\n"   \
    "#endif\n"                                                                                 \
    "#define IPVM_ENTRY IPVM_TICK\n"                                                           \
    "#define IPVM_ENTRY_LEAF do { } while (0)\n"                                               \
    "#define IPVM_LOOP IPVM_TICK\n"                                                            \
    "#define IPVM_FNEG64(x) (-(x))\n#define IPVM_FNEG32(x) (-(x))\n"                          \
    "#line 1 \"wasm\"\n"

static const char prelude_gcc[] = PRELUDE_GCC;
/* The same without fuel ticks: only for bench/wasm, to price fuel; its stamp says so, and the
 * loader takes it only from an engine set up with ipvm__engine_set_no_fuel. */
static const char prelude_nofuel[] = "#define IPVM_NO_FUEL 1\n" PRELUDE_GCC;

/* tcc 0.9.27 has no __builtin_clz & co (and no TLS: fuel and the stack limit live in the
 * two words before the guest instance, ipvm__slot_t). */
static const char prelude_tcc[] =
    "/* ipvm prelude: tcc tier */\n" PRELUDE_COMMON
    "#define IPVM_FUEL_KIND 2\n"
    "#define IPVM_GLUE_EXPORT\n"
    "static inline int ipvm_clz32(uint32_t x) { int n = 0; if (!x) return 32;\n"
    "  while (!(x & 0x80000000u)) { x <<= 1; n++; } return n; }\n"
    "static inline int ipvm_clz64(uint64_t x) { return (x >> 32) ? ipvm_clz32((uint32_t)(x >> "
    "32)) : 32 + ipvm_clz32((uint32_t)x); }\n"
    "static inline int ipvm_ctz32(uint32_t x) { int n = 0; if (!x) return 32;\n"
    "  while (!(x & 1u)) { x >>= 1; n++; } return n; }\n"
    "static inline int ipvm_ctz64(uint64_t x) { return (uint32_t)x ? ipvm_ctz32((uint32_t)x) "
    ": 32 + ipvm_ctz32((uint32_t)(x >> 32)); }\n"
    "static inline int ipvm_pop32(uint32_t x) { x = x - ((x >> 1) & 0x55555555u);\n"
    "  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u); x = (x + (x >> 4)) & 0x0f0f0f0fu;\n"
    "  return (int)((x * 0x01010101u) >> 24); }\n"
    "static inline int ipvm_pop64(uint64_t x) { return ipvm_pop32((uint32_t)x) + "
    "ipvm_pop32((uint32_t)(x >> 32)); }\n"
    "#define __builtin_clz(x) ipvm_clz32(x)\n#define __builtin_clzll(x) ipvm_clz64(x)\n"
    "#define __builtin_ctz(x) ipvm_ctz32(x)\n#define __builtin_ctzll(x) ipvm_ctz64(x)\n"
    "#define __builtin_popcount(x) ipvm_pop32(x)\n#define __builtin_popcountll(x) ipvm_pop64(x)\n"
    "#define IPVM_SLOT(i) ((volatile int64_t *)(void *)(i))\n"
    "#define IPVM_TICK if (--IPVM_SLOT(instance)[-1] < IPVM_SLOT(instance)[-2]) "
    "ipvm_rt_fuel_trap()\n"
    "#define IPVM_STACK if ((uintptr_t)(void *)&instance < (uintptr_t)IPVM_SLOT(instance)[-3]) "
    "ipvm_rt_stack_trap()\n"
    "#define IPVM_ENTER\n#define IPVM_LEAVE\n#define IPVM_TO_HOST\n#define IPVM_FROM_HOST\n"
    "#define IPVM_ENTRY IPVM_STACK; IPVM_TICK\n"
    "#define IPVM_ENTRY_LEAF IPVM_STACK\n"
    "#define IPVM_LOOP IPVM_TICK\n"
    "#define IPVM_FNEG64(x) ipvm_f64(ipvm_b64(x) ^ 0x8000000000000000ull)\n"
    "#define IPVM_FNEG32(x) ipvm_f32(ipvm_b32(x) ^ 0x80000000u)\n"
    "#define IPVM_NAN ipvm_f32(0x7fc00000u)\n"
    "#line 1 \"wasm\"\n";

const char *ipvm__wasm_prelude(unsigned fuel_kind)
{
    return fuel_kind == IPVM__FUEL_TLS    ? prelude_gcc
           : fuel_kind == IPVM__FUEL_NONE ? prelude_nofuel
                                          : prelude_tcc;
}
