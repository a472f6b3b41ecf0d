/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of our reader of the Wasm binary format: Homestar's modules read the same as wabt's
 * wasm-objdump reads them, malformed modules fail with what and where, unsupported features
 * are refused before wasm2c sees them, and running out of memory is clean. */
#include "unit/wasm/wasm_test.h"
#include "wasm/core_int.h"

#include <stdlib.h>

static int parse(const ipvm_buf_t *w, ipvm_arena_t *a, ipvm__wasm_info_t *in, ipvm_error_t *err)
{
    ipvm_error_clear(err);
    return ipvm__wasm_parse(w->data, w->len, a, in, err);
}

/* wasm-objdump -x -j Export|Import and -h, the peer we compare with. */
static void objdump(const char *path, const char *what, ipvm_buf_t *out)
{
    const char *argv[] = {"/usr/bin/wasm-objdump", what[0] == 'h' ? "-h" : "-x", "-j", what,
                          path, NULL};
    const char *argv_h[] = {"/usr/bin/wasm-objdump", "-h", path, NULL};
    ipvm_buf_t e = IPVM_BUF_INIT;
    int st = ipvm_test_run(what[0] == 'h' ? argv_h : argv, NULL, NULL, 20000, out, &e);
    bool absent = e.data && strstr((char *)e.data, "Section not found");
    IPVM_ASSERT_MSG(st == 0 || absent, "wasm-objdump: %s", e.data ? (char *)e.data : "");
    if (out->data == NULL)
        IPVM_ASSERT_OK(ipvm_buf_reserve(out, 1));
    ipvm_buf_dispose(&e);
}

static void compare_with_objdump(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "homestar/wasm/%s", name);
    const char *path = ipvm_test_vector(rel);
    ipvm_buf_t w = IPVM_BUF_INIT, dump = IPVM_BUF_INIT;
    ipvm_test_read_file(path, &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(parse(&w, &a, &in, &err), &err);

    /* exports: " - func[N] <...> -> "NAME"" in section order */
    objdump(path, "Export", &dump);
    uint32_t k = 0;
    for (char *line = strtok((char *)dump.data, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned idx;
        char *q = strstr(line, "-> \"");
        if (sscanf(line, " - func[%u]", &idx) != 1 || q == NULL)
            continue;
        q += 4;
        char *e = strrchr(q, '"');
        IPVM_ASSERT(e != NULL && k < in.nexports);
        IPVM_ASSERT_EQ(in.exports[k].func_index, idx);
        IPVM_ASSERT_EQ(in.exports[k].name_len, (size_t)(e - q));
        IPVM_ASSERT(memcmp(in.exports[k].name, q, (size_t)(e - q)) == 0);
        k++;
    }
    IPVM_ASSERT_EQ(k, in.nexports);
    ipvm_buf_clear(&dump);

    /* imports: " - func[N] sig=T <...> <- MODULE.FIELD" */
    objdump(path, "Import", &dump);
    k = 0;
    for (char *line = strtok((char *)dump.data, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned idx, sig;
        char *q = strstr(line, "<- ");
        if (sscanf(line, " - func[%u] sig=%u", &idx, &sig) != 2 || q == NULL)
            continue;
        char want[512];
        snprintf(want, sizeof want, "%s.%s", in.imports[k].module, in.imports[k].field);
        IPVM_ASSERT_STREQ(q + 3, want);
        IPVM_ASSERT_EQ(in.func_type[k], sig);
        k++;
    }
    IPVM_ASSERT_EQ(k, in.nimported);
    ipvm_buf_clear(&dump);

    /* section headers: function count and custom section names */
    objdump(path, "h", &dump);
    char *fn = strstr((char *)dump.data, "Function start=");
    IPVM_ASSERT(fn != NULL);
    IPVM_ASSERT_EQ(strtoul(strstr(fn, "count: ") + 7, NULL, 10), in.nfuncs - in.nimported);
    uint32_t c = 0;
    for (char *p = strstr((char *)dump.data, "Custom start="); p; p = strstr(p + 1, "Custom start=")) {
        char *q = strchr(p, '"');
        IPVM_ASSERT(q != NULL && c < in.ncustoms);
        char *e = strchr(q + 1, '"');
        IPVM_ASSERT_EQ((size_t)(e - q - 1), in.customs[c].name.len);
        IPVM_ASSERT(memcmp(w.data + in.customs[c].name.off, q + 1, in.customs[c].name.len) == 0);
        c++;
    }
    IPVM_ASSERT_EQ(c, in.ncustoms);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&dump);
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, parse_homestar_modules)
{
    compare_with_objdump("example_add.wasm");
    compare_with_objdump("example_subtract.wasm");
    compare_with_objdump("example_test.wasm");
    compare_with_objdump("example_test_wasi.wasm");
}

IPVM_TEST(wasm, parse_reads_signatures)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/wasm/example_test.wasm"), &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(parse(&w, &a, &in, &err), &err);
    IPVM_ASSERT(in.has_memory);
    IPVM_ASSERT_EQ(in.nimported, 2);
    IPVM_ASSERT_STREQ(in.imports[0].module, "wasi:logging/logging");
    IPVM_ASSERT_STREQ(in.imports[0].field, "log");
    IPVM_ASSERT_EQ(in.imports[0].nparams, 5);
    IPVM_ASSERT_EQ(in.imports[0].nresults, 0);
    bool found = false;
    for (uint32_t k = 0; k < in.nexports; k++)
        if (strcmp(in.exports[k].name, "add-one") == 0) {
            found = true;
            IPVM_ASSERT(in.exports[k].callable);
            IPVM_ASSERT_EQ(in.exports[k].nparams, 1);
            IPVM_ASSERT_EQ(in.exports[k].params[0], IPVM__WASM_I32);
            IPVM_ASSERT_EQ(in.exports[k].nresults, 1);
        }
    IPVM_ASSERT(found);
    const char *prefix = "component-type";
    IPVM_ASSERT(in.ncustoms >= 1);
    IPVM_ASSERT(memcmp(w.data + in.customs[0].name.off, prefix, strlen(prefix)) == 0);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

/* ---- malformed input ----------------------------------------------------------------------- */
/* Modules in hex ("H" is the 8-byte header), with the error each must give. */
typedef struct bad_s {
    const char *what, *hex;
    int code;
    size_t offset;
    const char *msg;
} bad_t;

#define FN "0104016000000302010" /* type () -> (), one function of it; code follows */
static const bad_t bad[] = {
    {"empty", "", IPVM_EWASM, 0, "not a Wasm module"},
    {"not wasm", "68656c6c6f20776f", IPVM_EWASM, 0, "not a Wasm module"},
    {"version 2", "0061736d02000000", IPVM_EWASM, 4, "unknown Wasm version"},
    {"truncated size", "H01", IPVM_EWASM, 9, "unexpected end"},
    {"section past the end", "H010a00", IPVM_EWASM, 10, "runs past the end"},
    {"unknown section", "H0e00", IPVM_EWASM, 8, "unknown section id 14"},
    {"repeated section", "H010100010100", IPVM_EWASM, 11, "out of order"},
    {"out of order", "H030100010100", IPVM_EWASM, 11, "out of order"},
    {"bad type form", "H01020150", IPVM_EWASM, 11, "expected a function type"},
    {"bad value type", "H01050160015500", IPVM_EWASM, 13, "invalid value type"},
    {"v128 param", "H01050160017b00", IPVM_EWASMUNSUPPORTED, 13, "SIMD"},
    {"leb too long", "H010780808080800000", IPVM_EWASM, 10, "longer than 5 bytes"},
    {"leb too big", "H0106ffffffff7f00", IPVM_EWASM, 10, "too large for u32"},
    {"count larger than section", "H010164", IPVM_EWASM, 10, "larger than the section"},
    {"function without code", "H" FN "0", IPVM_EWASM, 18, "no code section"},
    {"code count mismatch", "H" FN "00a0100", IPVM_EWASM, 20, "declares 1"},
    {"missing end", "H" FN "00a0401020001", IPVM_EWASM, 24, "missing end"},
    {"call out of range", "H" FN "00a06010400" "10090b", IPVM_EWASM, 24,
     "called function 9 out of range"},
    {"unknown opcode", "H" FN "00a050103" "00d70b", IPVM_EWASM, 23, "unknown opcode 0xd7"},
    {"simd opcode", "H" FN "00a060104" "00fd000b", IPVM_EWASMUNSUPPORTED, 23, "SIMD"},
    {"atomic opcode", "H" FN "00a060104" "00fe000b", IPVM_EWASMUNSUPPORTED, 23, "threads"},
    {"branch too deep", "H" FN "00a060104" "000c010b", IPVM_EWASM, 24, "branch depth 1"},
    {"bytes after end", "H" FN "00a050103" "000b01", IPVM_EWASM, 24, "after the final end"},
    {"invalid utf-8 name", "H07060102c3280000", IPVM_EWASM, 12, "UTF-8"},
    {"export of missing function", "H070501016600" "00", IPVM_EWASM, 11, "out of range"},
    {"shared memory", "H050401030102", IPVM_EWASMUNSUPPORTED, 11, "threads"},
    {"memory64", "H0503010401", IPVM_EWASMUNSUPPORTED, 11, "memory64"},
    {"two memories", "H05050200010001", IPVM_EWASMUNSUPPORTED, 10, "multiple memories"},
    {"memory too big", "H050501008180" "04", IPVM_EWASM, 11, "65536 pages"},
    {"max below min", "H050401010201", IPVM_EWASM, 11, "below minimum"},
    {"tag section", "H0d0100", IPVM_EWASMUNSUPPORTED, 8, "exception"},
    {"data count mismatch", "H0503010001" "0c0102" "0b0100", IPVM_EWASM, 18,
     "data count section says 2"},
    {"trailing bytes in section", "H01020000", IPVM_EWASM, 11, "unread bytes"},
};

static void from_hex(const char *hex, ipvm_buf_t *out)
{
    static const uint8_t header[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    for (const char *p = hex; *p;) {
        if (*p == 'H') {
            IPVM_ASSERT_OK(ipvm_buf_append(out, header, 8));
            p++;
            continue;
        }
        unsigned v;
        IPVM_ASSERT(sscanf(p, "%2x", &v) == 1 && p[1]);
        IPVM_ASSERT_OK(ipvm_buf_append_byte(out, (uint8_t)v));
        p += 2;
    }
}

IPVM_TEST(wasm, parse_rejects_malformed)
{
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ipvm_buf_t w = IPVM_BUF_INIT;
        from_hex(bad[k].hex, &w);
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm__wasm_info_t in;
        ipvm_error_t err;
        int rc = parse(&w, &a, &in, &err);
        IPVM_ASSERT_MSG(rc == bad[k].code, "%s: got %s (%s)", bad[k].what, ipvm_err_name(rc),
                        err.msg);
        IPVM_ASSERT_MSG(err.offset == bad[k].offset, "%s: offset %zu, want %zu (%s)",
                        bad[k].what, err.offset, bad[k].offset, err.msg);
        IPVM_ASSERT_MSG(strstr(err.msg, bad[k].msg) != NULL, "%s: \"%s\" lacks \"%s\"",
                        bad[k].what, err.msg, bad[k].msg);
        ipvm_arena_dispose(&a);
        ipvm_buf_dispose(&w);
    }
}

static void expect_unsupported(const char *wat, const char *msg)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat(wat, &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    int rc = parse(&w, &a, &in, &err);
    IPVM_ASSERT_MSG(rc == IPVM_EWASMUNSUPPORTED, "%s: got %s (%s)", wat, ipvm_err_name(rc),
                    err.msg);
    IPVM_ASSERT_STRCONTAINS(err.msg, msg);
    IPVM_ASSERT(err.offset != IPVM_NO_OFFSET && err.offset < w.len);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, parse_refuses_unsupported_features)
{
    expect_unsupported("(module (func (result i32) v128.const i32x4 1 2 3 4 i32x4.extract_lane 0))",
                       "SIMD");
    expect_unsupported("(module (memory 1 1 shared) (func (result i32) i32.const 0 "
                       "i32.atomic.load))", "threads");
    expect_unsupported("(module (memory i64 1))", "memory64");
    expect_unsupported("(module (tag $e) (func throw $e))", "exception");
    expect_unsupported("(module (func $f return_call $f))", "tail calls");
    expect_unsupported("(module (memory 1) (memory 1))", "multiple memories");
    expect_unsupported("(module (func (result i32) (try (result i32) (do i32.const 1) "
                       "(catch_all i32.const 2))))", "exception");
    /* the same module without SIMD is fine */
    ipvm_buf_t w = IPVM_BUF_INIT;
    wt_wat("(module (func (result i32) i32.const 1))", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(parse(&w, &a, &in, &err), &err);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, parse_out_of_memory)
{
    ipvm_buf_t w = IPVM_BUF_INIT;
    ipvm_test_read_file(ipvm_test_vector("homestar/wasm/example_test.wasm"), &w);
    int rc = -1;
    long n;
    for (n = 0; rc != 0 && n < 10000; n++) {
        ipvm_arena_t a;
        ipvm_arena_init(&a);
        ipvm__wasm_info_t in;
        ipvm_error_t err;
        ipvm_alloc_fail_after(n);
        rc = parse(&w, &a, &in, &err);
        bool failed = ipvm_alloc_failed();
        ipvm_alloc_fail_after(-1);
        IPVM_ASSERT_MSG(rc == 0 || (rc == IPVM_ENOMEM && failed), "n=%ld: %s %s", n,
                        ipvm_err_name(rc), err.msg);
        if (rc == 0)
            IPVM_ASSERT_EQ(in.nimported, 2);
        ipvm_arena_dispose(&a);
    }
    IPVM_ASSERT_OK(rc);
    IPVM_ASSERT(n > 1); /* some allocation was failed on the way */
    ipvm_buf_dispose(&w);
}

IPVM_TEST(wasm, rewrite_hides_guest_names)
{
    /* names that would break out of wasm2c's C comments never reach wasm2c */
    ipvm_buf_t w = IPVM_BUF_INIT, out = IPVM_BUF_INIT;
    wt_wat("(module (import \"x*/y\" \"q*/\" (func $i)) (func (export \"a*/ int evil; /*b\") "
           "(result i32) i32.const 1) (memory (export \"m*/\") 1))", &w);
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm__wasm_info_t in, again;
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(parse(&w, &a, &in, &err), &err);
    IPVM_ASSERT_OK(ipvm__wasm_rewrite(&in, NULL, &out));
    for (size_t k = 0; k + 1 < out.len; k++)
        IPVM_ASSERT(!(out.data[k] == '*' && out.data[k + 1] == '/'));
    IPVM_ASSERT_OK_ERR(ipvm__wasm_parse(out.data, out.len, &a, &again, &err), &err);
    IPVM_ASSERT_EQ(again.nexports, 1);
    IPVM_ASSERT_STREQ(again.exports[0].name, "e0");
    IPVM_ASSERT_STREQ(again.imports[0].module, "h");
    IPVM_ASSERT_STREQ(again.imports[0].field, "f0");
    IPVM_ASSERT(again.memory_exported);
    /* and the module still runs */
    ipvm_wasm_engine_t *e = wt_engine(0, NULL);
    ipvm_buf_t w2 = IPVM_BUF_INIT;
    wt_wat("(module (func (export \"a*/ int evil; /*b\") (result i32) i32.const 7))", &w2);
    ipvm_wasm_module_t *m = wt_load(e, &w2);
    ipvm_wasm_result_t r;
    IPVM_ASSERT_OK_ERR(wt_call(m, "a*/ int evil; /*b", "[]", NULL, &a, &r, &err), &err);
    IPVM_ASSERT_STREQ(wt_json(r.value), "7");
    ipvm_wasm_module_release(m);
    ipvm_wasm_engine_free(e);
    ipvm_arena_dispose(&a);
    ipvm_buf_dispose(&w);
    ipvm_buf_dispose(&w2);
    ipvm_buf_dispose(&out);
}
