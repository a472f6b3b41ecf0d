/* SPDX-License-Identifier: Apache-2.0 */
/* `ipvm wasm run MODULE FUNC [ARG...]` calls one function of a Wasm module with DAG-JSON
 * arguments under fuel, memory and time limits and prints the result as DAG-JSON; `ipvm wasm
 * inspect MODULE` lists its exports with their WIT types, its imports, size, tier and whether
 * its compiled code is in the cache (<data-dir>/cache/). */
#include "cli.h"
#include "wasm/engine_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const ipvm_cmd_t ipvm_cmd_wasm;

static const char HELP[] =
    "Usage: ipvm wasm run [OPTIONS] MODULE FUNC [ARG...]\n"
    "       ipvm wasm inspect [OPTIONS] MODULE\n"
    "\n"
    "Runs and examines WebAssembly modules the way workflows run them: validated, translated\n"
    "with wasm2c, compiled in memory with libtcc for the first call, and with gcc -O2 in the\n"
    "background; the gcc code is kept in <data-dir>/cache/ so later runs compile nothing.\n"
    "MODULE is a .wasm file: a core module (with or without WIT types in a component-type\n"
    "section, as wit-bindgen makes them) or a component that wraps one core module.\n"
    "\n"
    "ipvm wasm run MODULE FUNC [ARG...]\n"
    "  Calls FUNC (found as given or as its kebab-case, snake_case or lowerCamelCase spelling)\n"
    "  with one DAG-JSON value per ARG: 1, -2.5, '\"text\"', '[1,2]', '{\"a\":1}', null,\n"
    "  '{\"/\":{\"bytes\":\"aGk\"}}'. @FILE passes the bytes of FILE (an image, say). The\n"
    "  result is printed as DAG-JSON on stdout; fuel used and time go to stderr, and so does\n"
    "  whatever the guest logged (WASI stdout/stderr, wasi:logging, helpers.print).\n"
    "  --args JSON      all arguments as one DAG-JSON list, instead of ARGs\n"
    "  --fuel UNITS     stop after this much fuel (one unit per loop iteration and per call of\n"
    "                   a function that calls outside its loops; the same count on every run)\n"
    "                   (default: unlimited)\n"
    "  --memory BYTES   the most linear memory the guest may grow to (default: 4 GiB)\n"
    "  --timeout MS     stop after this many milliseconds of wall clock (default: 100000)\n"
    "  --tier T         auto (the cached gcc code, else tcc now and gcc in the background),\n"
    "                   tcc (tcc only, nothing cached), gcc (wait for gcc, then run)\n"
    "  --isa LEVEL      the x86-64 level gcc compiles for: auto (this CPU's: x86-64-v2, v3 or\n"
    "                   v4), baseline, x86-64-v2, x86-64-v3 or x86-64-v4 (default: auto, or\n"
    "                   $IPVM_NODE_WASM_ISA, as for the node); results are the same at every\n"
    "                   level, and each level has its own cache entry\n"
    "  --no-wait        do not wait at exit for a background gcc compile to finish\n"
    "  --save FILE      write a bytes result to FILE instead of printing it\n"
    "  --json           print {\"result\", \"fuel\", \"time_ns\", \"log\", \"tier\", \"compiled\"}\n"
    "\n"
    "ipvm wasm inspect MODULE\n"
    "  Prints the module's size and hash, its imports, its exports (with their WIT types when\n"
    "  the module has them, and their core signature), its tier and whether its compiled code is\n"
    "  cached. It compiles nothing with gcc. --json prints the same as one DAG-JSON map.\n"
    "\n"
    "Errors: a trap (out-of-bounds access, unreachable, divide by zero, stack overflow, out of\n"
    "fuel, timeout, memory limit, proc_exit...) is reported with its name and the fuel used;\n"
    "exit status 1. A module that is invalid or uses what ipvm does not support (SIMD, threads,\n"
    "memory64, exceptions) is refused with what and where. Exit status 2: bad command line.\n"
    "\n"
    "Examples:\n"
    "  ipvm wasm run tests/vectors/homestar/wasm/example_test.wasm add-one 41\n"
    "  ipvm wasm run example_test.wasm join-strings '\"a\"' '\"b\"'\n"
    "  ipvm wasm run --save small.png example_test.wasm crop @synthcat.png 10 10 64 64\n"
    "  ipvm wasm run --fuel 1000000 --timeout 500 guest.wasm spin\n"
    "  ipvm wasm inspect --json example_test.wasm\n";

typedef struct wasm_args_s {
    const char *module, *func, *args_json, *save;
    int tier; /* gcc_tier of the engine: 0 tcc, 1 auto, 2 gcc */
    const char *isa; /* --isa, or NULL */
    bool no_wait;
    ipvm_wasm_limits_t limits;
    char **argv; /* the ARGs */
    int argc;
} wasm_args_t;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

/* An option of `ipvm wasm run` that takes a value: 0, or -1 for an unknown option or a bad
 * value. */
static int set_option(wasm_args_t *a, const char *o, const char *v)
{
    uint64_t n;
    if (strcmp(o, "--fuel") == 0 && parse_u64(v, &n) == 0)
        a->limits.fuel = n;
    else if (strcmp(o, "--memory") == 0 && parse_u64(v, &n) == 0)
        a->limits.memory = n;
    else if (strcmp(o, "--timeout") == 0 && parse_u64(v, &n) == 0)
        a->limits.time_ms = n;
    else if (strcmp(o, "--args") == 0)
        a->args_json = v;
    else if (strcmp(o, "--save") == 0)
        a->save = v;
    else if (strcmp(o, "--isa") == 0)
        a->isa = v;
    else if (strcmp(o, "--tier") == 0 && strcmp(v, "tcc") == 0)
        a->tier = 0;
    else if (strcmp(o, "--tier") == 0 && strcmp(v, "auto") == 0)
        a->tier = 1;
    else if (strcmp(o, "--tier") == 0 && strcmp(v, "gcc") == 0)
        a->tier = 2;
    else
        return -1;
    return 0;
}

static int parse(ipvm_cli_t *cli, int argc, char **argv, bool run, wasm_args_t *a)
{
    const ipvm_cmd_t *me = &ipvm_cmd_wasm;
    memset(a, 0, sizeof *a);
    a->tier = 1;
    int i = 2;
    for (; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--") == 0) {
            i++;
            break;
        }
        if (o[0] != '-' || o[1] == '\0' || (o[1] >= '0' && o[1] <= '9') || o[1] == '.')
            break; /* MODULE, or (after it) a negative number argument */
        if (!run)
            return ipvm_cli_usage(cli, me, "unknown option '%s' for inspect", o);
        if (strcmp(o, "--no-wait") == 0) {
            a->no_wait = true;
            continue;
        }
        if (v == NULL)
            return ipvm_cli_usage(cli, me, "%s needs a value", o);
        if (set_option(a, o, v) != 0)
            return ipvm_cli_usage(cli, me, "%s: unknown option or bad value '%s' (numbers are "
                                  "positive integers)", o, v);
        i++;
    }
    if (i >= argc)
        return ipvm_cli_usage(cli, me, "which module? ipvm wasm %s MODULE%s", argv[1],
                              run ? " FUNC [ARG...]" : "");
    a->module = argv[i++];
    if (!run) {
        if (i < argc)
            return ipvm_cli_usage(cli, me, "inspect takes one MODULE (got '%s' too)", argv[i]);
        return 0;
    }
    if (i >= argc)
        return ipvm_cli_usage(cli, me, "which function? ipvm wasm run %s FUNC [ARG...] (see "
                              "'ipvm wasm inspect %s')", a->module, a->module);
    a->func = argv[i++];
    a->argv = argv + i;
    a->argc = argc - i;
    if (a->args_json && a->argc)
        return ipvm_cli_usage(cli, me, "give the arguments either with --args or one by one");
    return 0;
}

/* The ARGs as one IPLD list. */
static int build_args(ipvm_cli_t *cli, const wasm_args_t *a, ipvm_arena_t *arena,
                      ipvm_ipld_t **out)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    if (a->args_json) {
        if (ipvm_dagjson_decode(a->args_json, strlen(a->args_json), arena, out, &err) != 0)
            return ipvm_cli_fail_err(cli, &err, "--args is not DAG-JSON");
        if ((*out)->kind != IPVM_IPLD_LIST)
            return ipvm_cli_fail(cli, IPVM_EUSAGE, "--args must be a list: '[1, 2]'");
        return 0;
    }
    *out = ipvm_ipld_new_list(arena, (size_t)a->argc);
    for (int k = 0; *out && k < a->argc; k++) {
        const char *s = a->argv[k];
        ipvm_ipld_t *v = NULL;
        if (s[0] == '@') {
            ipvm_buf_t b = IPVM_BUF_INIT;
            if (ipvm_cli_read_input(cli, s + 1, &b) != 0)
                return IPVM_EXIT_FAIL;
            v = ipvm_ipld_new_bytes(arena, b.data ? b.data : (const uint8_t *)"", b.len);
            ipvm_buf_dispose(&b);
        } else if (ipvm_dagjson_decode(s, strlen(s), arena, &v, &err) != 0) {
            return ipvm_cli_fail_err(cli, &err, "argument %d (%s) is not DAG-JSON%s", k + 1, s,
                                     s[0] != '"' && s[0] != '[' && s[0] != '{'
                                         ? "; a string needs quotes: '\"text\"'"
                                         : "");
        }
        if (v == NULL || ipvm_ipld_list_push(arena, *out, v) != 0)
            return ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
    }
    return *out ? 0 : ipvm_cli_fail(cli, IPVM_ENOMEM, "out of memory");
}

/* isa: --isa's value or NULL (then $IPVM_NODE_WASM_ISA, the node's setting, or auto). */
static int open_engine(ipvm_cli_t *cli, int tier, const char *isa, ipvm_wasm_engine_t **e)
{
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/cache", cli->data_dir);
    ipvm_wasm_engine_opts_t o = {.cache_dir = tier ? cache : NULL, .gcc_tier = tier};
    ipvm_error_t err;
    ipvm_error_clear(&err);
    const char *env = getenv("IPVM_NODE_WASM_ISA");
    if (isa == NULL && env && *env)
        isa = env;
    if (isa && ipvm_wasm_isa_parse(isa, &o.isa, &err) != 0)
        return ipvm_cli_usage(cli, &ipvm_cmd_wasm, "--isa: %s", err.msg);
    int rc = tier ? ipvm_cli_ensure_data_dir(cli) : 0;
    if (rc)
        return rc;
    if (ipvm_wasm_engine_new(&o, e, &err) != 0)
        return ipvm_cli_fail_err(cli, &err, "cannot start the Wasm engine");
    return 0;
}

static int load(ipvm_cli_t *cli, ipvm_wasm_engine_t *e, const char *path, ipvm_wasm_module_t **m,
                uint64_t *load_ns)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (ipvm_cli_read_input(cli, path, &b) != 0)
        return IPVM_EXIT_FAIL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    uint64_t t0 = ipvm_now_ns();
    int rc = ipvm_wasm_module_load(e, b.data ? b.data : (const uint8_t *)"", b.len, m, &err);
    *load_ns = ipvm_now_ns() - t0;
    ipvm_buf_dispose(&b);
    if (rc != 0)
        return ipvm_cli_fail_err(cli, &err, "%s", path);
    return 0;
}

/* Waits for the background gcc compile (so the next run finds it cached), saying so. */
static void finish_jobs(ipvm_cli_t *cli, ipvm_wasm_engine_t *e, bool no_wait)
{
    if (ipvm__engine_pending_jobs(e) == 0)
        return;
    if (no_wait) {
        ipvm__engine_cancel_jobs(e);
        return;
    }
    if (!cli->quiet)
        fprintf(stderr, "ipvm: compiling the module with gcc -O2 for later runs (--no-wait "
                        "skips this)...\n");
    uint64_t t0 = ipvm_now_ns();
    ipvm__engine_wait_jobs(e);
    if (!cli->quiet)
        fprintf(stderr, "ipvm: done in %.1f s; later runs use the cached code\n",
                (double)(ipvm_now_ns() - t0) / 1e9);
}

static const char *tier_of(ipvm_wasm_module_t *m)
{
    return atomic_load(&m->gcc) ? "gcc" : "tcc";
}

static int print_result(ipvm_cli_t *cli, const wasm_args_t *a, ipvm_wasm_module_t *m,
                        const ipvm_wasm_result_t *r, uint64_t load_ns, bool compiled)
{
    ipvm_buf_t out = IPVM_BUF_INIT;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    const ipvm_ipld_t *v = r->value;
    if (a->save && v && v->kind == IPVM_IPLD_BYTES) {
        if (ipvm_file_write_atomic(a->save, v->u.str.ptr, v->u.str.len, &err) != 0)
            return ipvm_cli_fail(cli, err.code, "%s", err.msg);
        if (!cli->quiet && !cli->json)
            fprintf(stderr, "ipvm: wrote %zu bytes to %s\n", v->u.str.len, a->save);
    } else if (a->save) {
        return ipvm_cli_fail(cli, IPVM_EUSAGE, "--save needs a bytes result; %s returned %s",
                             a->func, v ? ipvm_ipld_kind_name(v->kind) : "nothing");
    }
    if (cli->json) {
        ipvm_arena_t ar;
        ipvm_arena_init(&ar);
        ipvm_ipld_t *map = ipvm_ipld_new_map(&ar, 8);
        ipvm_ipld_t *res = a->save ? ipvm_ipld_new_cstring(&ar, a->save) : (ipvm_ipld_t *)v;
        int rc = !map || !res ? IPVM_ENOMEM : 0;
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, a->save ? "saved" : "result", res);
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, "fuel", ipvm_ipld_new_uint(&ar, r->fuel_used));
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, "time_ns", ipvm_ipld_new_uint(&ar, r->time_ns));
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, "load_ns", ipvm_ipld_new_uint(&ar, load_ns));
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, "log", ipvm_ipld_new_string(&ar, r->log, r->log_len));
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, "tier", ipvm_ipld_new_cstring(&ar, tier_of(m)));
        if (!rc) rc = ipvm_ipld_map_set_cstr(&ar, map, "compiled", ipvm_ipld_new_bool(&ar, compiled));
        if (!rc) rc = ipvm_dagjson_encode(map, 0, &out, &err);
        ipvm_arena_dispose(&ar);
        if (rc)
            return ipvm_cli_fail(cli, rc, "cannot print the result: %s", err.msg);
    } else if (!a->save) {
        if (ipvm_dagjson_encode(v, 0, &out, &err) != 0)
            return ipvm_cli_fail_err(cli, &err, "the result cannot be written as DAG-JSON");
    }
    if (out.len) {
        fwrite(out.data, 1, out.len, stdout);
        putchar('\n');
    }
    ipvm_buf_dispose(&out);
    if (!cli->quiet && !cli->json)
        fprintf(stderr, "ipvm: %s: fuel %llu, %.3f ms (%s tier; load %.1f ms%s)\n", a->func,
                (unsigned long long)r->fuel_used, (double)r->time_ns / 1e6, tier_of(m),
                (double)load_ns / 1e6, compiled ? "" : ", nothing compiled");
    return 0;
}

static int cmd_run(ipvm_cli_t *cli, int argc, char **argv)
{
    wasm_args_t a;
    int rc = parse(cli, argc, argv, true, &a);
    if (rc)
        return rc;
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    ipvm_ipld_t *args = NULL;
    ipvm_wasm_engine_t *e = NULL;
    ipvm_wasm_module_t *m = NULL;
    uint64_t load_ns = 0;
    if ((rc = build_args(cli, &a, &arena, &args)) != 0 || (rc = open_engine(cli, a.tier, a.isa, &e)))
        goto done;
    unsigned long compiles = atomic_load(&ipvm__wasm_stats.wasm2c);
    if ((rc = load(cli, e, a.module, &m, &load_ns)) != 0)
        goto done;
    ipvm_wasm_result_t r;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    int crc = ipvm_wasm_call(m, a.func, args, &a.limits, &arena, &r, &err);
    bool compiled = atomic_load(&ipvm__wasm_stats.wasm2c) != compiles; /* tcc: at the call */
    if (r.log_len && !cli->json) {
        fflush(stdout);
        fwrite(r.log, 1, r.log_len, stderr);
        if (r.log[r.log_len - 1] != '\n')
            fputc('\n', stderr);
    }
    if (crc != 0) {
        rc = ipvm_cli_fail(cli, crc, "%s: %s [%s] (fuel used %llu, %.3f ms)", a.func, err.msg,
                           ipvm_err_name(crc), (unsigned long long)r.fuel_used,
                           (double)r.time_ns / 1e6);
    } else {
        rc = print_result(cli, &a, m, &r, load_ns, compiled);
    }
done:
    ipvm_wasm_module_release(m);
    if (e) {
        finish_jobs(cli, e, a.no_wait);
        ipvm_wasm_engine_free(e);
    }
    ipvm_arena_dispose(&arena);
    return rc;
}

/* "(i32, i32) -> i32" */
static void core_sig(const ipvm_ipld_t *x, char *out, size_t size)
{
    size_t o = 0;
    const char *keys[2] = {"params", "results"};
    for (int k = 0; k < 2; k++) {
        const ipvm_ipld_t *l = ipvm_ipld_map_get(x, keys[k]);
        o += (size_t)snprintf(out + o, size - o, "%s(", k ? " -> " : "");
        for (size_t i = 0; l && i < l->u.list.len && o < size; i++)
            o += (size_t)snprintf(out + o, size - o, "%s%s", i ? ", " : "",
                                  l->u.list.items[i]->u.str.ptr);
        if (o < size)
            o += (size_t)snprintf(out + o, size - o, ")");
    }
}

static const char *str_of(const ipvm_ipld_t *d, const char *k)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(d, k);
    return v && v->kind == IPVM_IPLD_STRING ? v->u.str.ptr : "";
}

static bool bool_of(const ipvm_ipld_t *d, const char *k)
{
    const ipvm_ipld_t *v = ipvm_ipld_map_get(d, k);
    return v && v->kind == IPVM_IPLD_BOOL && v->u.boolean;
}

static void print_inspect(const char *path, const ipvm_ipld_t *d)
{
    const ipvm_ipld_t *size = ipvm_ipld_map_get(d, "size"), *mem = ipvm_ipld_map_get(d,
                                                                                      "memory_pages");
    printf("module   %s (%llu bytes)\n", path, (unsigned long long)size->u.integer.mag);
    printf("sha256   %s\n", str_of(d, "sha256"));
    printf("kind     %s%s\n", bool_of(d, "component") ? "component wrapping a core module"
                                                      : "core module",
           bool_of(d, "wit") ? ", with WIT types" : ", no WIT types (numbers only)");
    printf("tier     %s; compiled code %s\n", str_of(d, "tier"),
           bool_of(d, "cached") ? "cached" : "not cached (the first 'ipvm wasm run' makes it)");
    printf("gcc      %s, for %s\n", str_of(d, "gcc"), str_of(d, "isa"));
    if (mem && mem->kind == IPVM_IPLD_INT)
        printf("memory   %llu pages of 64 KiB at start\n", (unsigned long long)mem->u.integer.mag);
    char sig[512];
    const ipvm_ipld_t *imps = ipvm_ipld_map_get(d, "imports");
    printf("imports  %zu\n", imps->u.list.len);
    for (size_t i = 0; i < imps->u.list.len; i++) {
        const ipvm_ipld_t *x = imps->u.list.items[i];
        core_sig(x, sig, sizeof sig);
        printf("  %s.%s  %s\n", str_of(x, "module"), str_of(x, "name"), sig);
    }
    const ipvm_ipld_t *exps = ipvm_ipld_map_get(d, "exports");
    printf("exports  %zu\n", exps->u.list.len);
    int width = 0;
    for (size_t i = 0; i < exps->u.list.len; i++) {
        int n = (int)strlen(str_of(exps->u.list.items[i], "name"));
        width = n > width && n < 40 ? n : width;
    }
    for (size_t i = 0; i < exps->u.list.len; i++) {
        const ipvm_ipld_t *x = exps->u.list.items[i];
        core_sig(x, sig, sizeof sig);
        const char *wit = str_of(x, "wit");
        printf("  %-*s  %s%s%s%s\n", width, str_of(x, "name"), wit, wit[0] ? "   [core " : "",
               sig, wit[0] ? "]" : "");
    }
}

static int cmd_inspect(ipvm_cli_t *cli, int argc, char **argv)
{
    wasm_args_t a;
    int rc = parse(cli, argc, argv, false, &a);
    if (rc)
        return rc;
    ipvm_wasm_engine_t *e = NULL;
    ipvm_wasm_module_t *m = NULL;
    uint64_t load_ns;
    ipvm_arena_t arena;
    ipvm_arena_init(&arena);
    if ((rc = open_engine(cli, 1, NULL, &e)) != 0 || (rc = load(cli, e, a.module, &m, &load_ns)) != 0)
        goto done;
    ipvm__engine_cancel_jobs(e); /* inspecting compiles nothing with gcc */
    ipvm_ipld_t *d = NULL;
    if ((rc = ipvm_wasm_module_describe(m, &arena, &d)) != 0) {
        rc = ipvm_cli_fail(cli, rc, "cannot describe %s", a.module);
        goto done;
    }
    if (cli->json) {
        ipvm_buf_t out = IPVM_BUF_INIT;
        if (ipvm_dagjson_encode(d, 0, &out, NULL) != 0) {
            rc = ipvm_cli_fail(cli, IPVM_ENOMEM, "cannot print the description");
        } else {
            fwrite(out.data, 1, out.len, stdout);
            putchar('\n');
        }
        ipvm_buf_dispose(&out);
    } else {
        print_inspect(a.module, d);
    }
done:
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    ipvm_arena_dispose(&arena);
    return rc;
}

static int cmd_wasm_run(ipvm_cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || ipvm_cli_wants_help(argc, argv))
        return argc < 2 ? (ipvm_cli_help(&ipvm_cmd_wasm), IPVM_EXIT_USAGE)
                        : ipvm_cli_help(&ipvm_cmd_wasm);
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(cli, argc, argv);
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(cli, argc, argv);
    return ipvm_cli_usage(cli, &ipvm_cmd_wasm, "unknown wasm command '%s' (run or inspect)",
                          argv[1]);
}

const ipvm_cmd_t ipvm_cmd_wasm = {"wasm", "run or inspect a WebAssembly module", HELP,
                                  cmd_wasm_run};
