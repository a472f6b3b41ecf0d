/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of `ipvm wasm run` and `ipvm wasm inspect`, through the built program: results as
 * DAG-JSON, traps and limits as errors, usage errors, --json, and a second process that finds
 * the compiled code in <data-dir>/cache/ and compiles nothing. */
#include "unit/wasm/wasm_test.h"

#include <stdio.h>

static char module_path[4200], data_dir[4200];

static void setup(void)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest("traps", &w);
    snprintf(module_path, sizeof module_path, "%s/traps.wasm", ipvm_test_tmpdir());
    snprintf(data_dir, sizeof data_dir, "%s/data", ipvm_test_tmpdir());
    FILE *f = fopen(module_path, "wb");
    IPVM_ASSERT(f && fwrite(w.data, 1, w.len, f) == w.len);
    fclose(f);
    ipvm_buf_dispose(&w);
}

/* Runs `ipvm --data-dir D wasm ARGS...`; returns the exit status. */
static int ipvm_wasm(const char *const *args, ipvm_buf_t *out, ipvm_buf_t *err)
{
    const char *argv[32] = {ipvm_test_bin("ipvm"), "--data-dir", data_dir, "wasm"};
    int n = 4;
    for (int k = 0; args[k] && n < 31; k++)
        argv[n++] = strcmp(args[k], "MODULE") == 0 ? module_path : args[k];
    argv[n] = NULL;
    ipvm_buf_clear(out);
    ipvm_buf_clear(err);
    return ipvm_test_run(argv, NULL, NULL, ipvm_test_timeout_ms(), out, err);
}

#define OUT (out.data ? (const char *)out.data : "")
#define ERR (err.data ? (const char *)err.data : "")

IPVM_TEST(wasm, cli_run)
{
    setup();
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *add[] = {"run", "--tier", "tcc", "MODULE", "add", "2", "-7", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(add, &out, &err), 0);
    IPVM_ASSERT_STREQ(OUT, "-5\n");
    IPVM_ASSERT_STRCONTAINS(ERR, "add: fuel 0");
    const char *args[] = {"run", "--tier", "tcc", "--args", "[40, 2]", "MODULE", "add", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(args, &out, &err), 0);
    IPVM_ASSERT_STREQ(OUT, "42\n");
    const char *swap[] = {"run", "--tier", "tcc", "MODULE", "swap", "1", "2", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(swap, &out, &err), 0);
    IPVM_ASSERT_STREQ(OUT, "[2,1]\n");
    /* traps and limits: exit 1, the error's name, the fuel used */
    const char *div0[] = {"run", "--tier", "tcc", "MODULE", "div0", "0", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(div0, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "IPVM_ETRAP_DIVZERO");
    const char *fuel[] = {"run", "--tier", "tcc", "--fuel", "10", "MODULE", "count", "1000", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(fuel, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "IPVM_ETRAP_FUEL");
    IPVM_ASSERT_STRCONTAINS(ERR, "fuel used 10");
    const char *spin[] = {"run", "--tier", "tcc", "--timeout", "200", "MODULE", "spin", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(spin, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "IPVM_ETRAP_TIMEOUT");
    const char *bomb[] = {"run", "--tier", "tcc", "--memory", "1048576", "MODULE", "bomb", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(bomb, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "IPVM_ETRAP_MEMORY");
    /* --json */
    const char *json[] = {"--json", "run", "--tier", "tcc", "MODULE", "count", "5", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(json, &out, &err), 0);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    IPVM_ASSERT_OK(ipvm_dagjson_decode(OUT, out.len, &a, &v, NULL));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "result")->u.integer.mag == 5);
    IPVM_ASSERT(ipvm_ipld_map_get(v, "fuel")->u.integer.mag == 6);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(v, "tier"), "tcc"));
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

IPVM_TEST(wasm, cli_usage_errors)
{
    setup();
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    const char *help[] = {"--help", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(help, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "ipvm wasm run [OPTIONS] MODULE FUNC [ARG...]");
    IPVM_ASSERT_STRCONTAINS(OUT, "--fuel UNITS");
    IPVM_ASSERT_STRCONTAINS(OUT, "--isa LEVEL");
    const char *none[] = {NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(none, &out, &err), 2);
    const char *nofunc[] = {"run", "MODULE", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(nofunc, &out, &err), 2);
    IPVM_ASSERT_STRCONTAINS(ERR, "which function");
    const char *badopt[] = {"run", "--fuel", "lots", "MODULE", "add", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(badopt, &out, &err), 2);
    const char *badisa[] = {"run", "--isa", "native", "MODULE", "add", "1", "2", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(badisa, &out, &err), 2);
    IPVM_ASSERT_STRCONTAINS(ERR, "auto, baseline, x86-64-v2, x86-64-v3 or x86-64-v4");
    const char *badarg[] = {"run", "--tier", "tcc", "MODULE", "add", "one", "2", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(badarg, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "argument 1 (one) is not DAG-JSON");
    IPVM_ASSERT_STRCONTAINS(ERR, "a string needs quotes");
    const char *nofn[] = {"run", "--tier", "tcc", "MODULE", "nope", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(nofn, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "IPVM_ENOFUNC");
    const char *nofile[] = {"inspect", "/nonexistent/x.wasm", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(nofile, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "/nonexistent/x.wasm");
    /* not a module: what and where */
    const char *notwasm[] = {"inspect", ipvm_test_vector("homestar/README.md"), NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(notwasm, &out, &err), 1);
    IPVM_ASSERT_STRCONTAINS(ERR, "IPVM_EWASM");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}

IPVM_TEST(wasm, cli_second_process_compiles_nothing)
{
    setup();
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ipld_t *v = NULL;
    /* before: not cached */
    const char *insp[] = {"--json", "inspect", "MODULE", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(insp, &out, &err), 0);
    IPVM_ASSERT_OK(ipvm_dagjson_decode(OUT, out.len, &a, &v, NULL));
    IPVM_ASSERT(!ipvm_ipld_map_get(v, "cached")->u.boolean);
    const ipvm_ipld_t *ex = ipvm_ipld_map_get(v, "exports");
    IPVM_ASSERT(ex && ex->u.list.len > 10);
    /* first process: compiles (and waits for gcc) */
    const char *first[] = {"--json", "run", "--tier", "gcc", "MODULE", "fib", "20", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(first, &out, &err), 0);
    IPVM_ASSERT_OK(ipvm_dagjson_decode(OUT, out.len, &a, &v, NULL));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "compiled")->u.boolean);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(v, "tier"), "gcc"));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "result")->u.integer.mag == 6765);
    uint64_t fuel = ipvm_ipld_map_get(v, "fuel")->u.integer.mag;
    /* second process: nothing to compile, same answer, same fuel */
    const char *second[] = {"--json", "run", "MODULE", "fib", "20", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(second, &out, &err), 0);
    IPVM_ASSERT_OK(ipvm_dagjson_decode(OUT, out.len, &a, &v, NULL));
    IPVM_ASSERT(!ipvm_ipld_map_get(v, "compiled")->u.boolean);
    IPVM_ASSERT(ipvm_ipld_is_str(ipvm_ipld_map_get(v, "tier"), "gcc"));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "result")->u.integer.mag == 6765);
    IPVM_ASSERT_EQ_U64(ipvm_ipld_map_get(v, "fuel")->u.integer.mag, fuel);
    /* and inspect says so */
    const char *plain[] = {"inspect", "MODULE", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(plain, &out, &err), 0);
    IPVM_ASSERT_STRCONTAINS(OUT, "tier     gcc; compiled code cached");
    IPVM_ASSERT_STRCONTAINS(OUT, "fib");
    char isa[64];
    snprintf(isa, sizeof isa, "-O2 -ffp-contract=off");
    IPVM_ASSERT_STRCONTAINS(OUT, isa);
    int host = ipvm_wasm_isa_host();
    snprintf(isa, sizeof isa, ", for %s\n", host ? ipvm_wasm_isa_name(host) : "default");
    IPVM_ASSERT_STRCONTAINS(OUT, isa);
    /* another x86-64 level has its own cache entry: compiled anew, same answer, same fuel */
    const char *base[] = {"--json", "run", "--tier", "gcc", "--isa", "baseline", "MODULE", "fib",
                          "20", NULL};
    IPVM_ASSERT_EQ(ipvm_wasm(base, &out, &err), 0);
    IPVM_ASSERT_OK(ipvm_dagjson_decode(OUT, out.len, &a, &v, NULL));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "compiled")->u.boolean == (host > IPVM_WASM_ISA_BASELINE));
    IPVM_ASSERT(ipvm_ipld_map_get(v, "result")->u.integer.mag == 6765);
    IPVM_ASSERT_EQ_U64(ipvm_ipld_map_get(v, "fuel")->u.integer.mag, fuel);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}
