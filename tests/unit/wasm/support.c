/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the Wasm engine's tests (see wasm_test.h). */
#include "unit/wasm/wasm_test.h"

#include <stdio.h>
#include <stdlib.h>

const char *wt_shared_cache(void)
{
    return IPVM_BINARY_DIR "/test-wasm-cache";
}

ipvm_wasm_engine_t *wt_engine(int gcc_tier, const char *cache_dir)
{
    ipvm_wasm_engine_opts_t o = {0};
    o.gcc_tier = gcc_tier;
    o.cache_dir = cache_dir;
    ipvm_wasm_engine_t *e = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_wasm_engine_new(&o, &e, &err), &err);
    return e;
}

void wt_wat(const char *wat, ipvm_buf_t *out)
{
    static int n;
    char in[4200], bin[4200];
    snprintf(in, sizeof in, "%s/g%d.wat", ipvm_test_tmpdir(), n);
    snprintf(bin, sizeof bin, "%s/g%d.wasm", ipvm_test_tmpdir(), n++);
    FILE *f = fopen(in, "w");
    IPVM_ASSERT(f != NULL);
    fputs(wat, f);
    fclose(f);
    const char *argv[] = {"/usr/bin/wat2wasm", "--enable-all", in, "-o", bin, NULL};
    ipvm_buf_t o = IPVM_BUF_INIT, e = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, NULL, 20000, &o, &e);
    IPVM_ASSERT_MSG(st == 0, "wat2wasm failed (%d): %s", st, e.data ? (char *)e.data : "");
    ipvm_buf_dispose(&o);
    ipvm_buf_dispose(&e);
    ipvm_test_read_file(bin, out);
}

void wt_guest(const char *name, ipvm_buf_t *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/unit/wasm/guests/%s.wat", IPVM_SOURCE_DIR, name);
    ipvm_buf_t text = IPVM_BUF_INIT;
    ipvm_test_read_file(path, &text);
    wt_wat((const char *)text.data, out);
    ipvm_buf_dispose(&text);
}

ipvm_wasm_module_t *wt_load(ipvm_wasm_engine_t *e, const ipvm_buf_t *wasm)
{
    ipvm_wasm_module_t *m = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_OK_ERR(ipvm_wasm_module_load(e, wasm->data, wasm->len, &m, &err), &err);
    return m;
}

ipvm_wasm_module_t *wt_load_guest(ipvm_wasm_engine_t *e, const char *name)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_guest(name, &w);
    ipvm_wasm_module_t *m = wt_load(e, &w);
    ipvm_buf_dispose(&w);
    return m;
}

int wt_call(ipvm_wasm_module_t *m, const char *func, const char *args_json,
            const ipvm_wasm_limits_t *limits, ipvm_arena_t *arena, ipvm_wasm_result_t *out,
            ipvm_error_t *err)
{
    ipvm_ipld_t *args = NULL;
    ipvm_error_t jerr;
    ipvm_error_clear(&jerr);
    IPVM_ASSERT_OK_ERR(ipvm_dagjson_decode(args_json, strlen(args_json), arena, &args, &jerr),
                       &jerr);
    ipvm_error_clear(err);
    return ipvm_wasm_call(m, func, args, limits, arena, out, err);
}

const char *wt_json(const ipvm_ipld_t *v)
{
    static char out[4096];
    ipvm_buf_t b = IPVM_BUF_INIT;
    if (v == NULL)
        return "(none)";
    if (ipvm_dagjson_encode(v, 0, &b, NULL) != 0)
        snprintf(out, sizeof out, "(not encodable)");
    else
        snprintf(out, sizeof out, "%s", (char *)b.data);
    ipvm_buf_dispose(&b);
    return out;
}
