/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of util/: error table, error details, arenas, buffers, files, and the runner's own
 * subprocess helper. */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

IPVM_TEST(util, error_names)
{
    IPVM_ASSERT_STREQ(ipvm_err_name(IPVM_ECBOR), "IPVM_ECBOR");
    IPVM_ASSERT_STREQ(ipvm_strerror(IPVM_ECBOR), "malformed DAG-CBOR");
    IPVM_ASSERT_STREQ(ipvm_err_name(0), "OK");
    /* libuv codes pass through */
    IPVM_ASSERT_STREQ(ipvm_err_name(-2), "ENOENT");
    IPVM_ASSERT_STRCONTAINS(ipvm_strerror(-2), "no such file");
    /* unknown codes still give a name */
    IPVM_ASSERT_STREQ(ipvm_err_name(-99999), "E-99999");
    /* every code in our table has a distinct name and a sentence */
#define XX(name, code, msg)                                                                        \
    IPVM_ASSERT_STREQ(ipvm_err_name(code), "IPVM_" #name);                                        \
    IPVM_ASSERT(strlen(ipvm_strerror(code)) > 3);
    IPVM_ERRNO_MAP(XX)
#undef XX
}

IPVM_TEST(util, error_details)
{
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_EQ(err.code, 0);
    int rc = ipvm_error_set(&err, IPVM_ECBOR, 17, "bad %s", "byte");
    IPVM_ASSERT_EQ(rc, IPVM_ECBOR);
    IPVM_ASSERT_EQ(err.offset, 17);
    char d[128];
    IPVM_ASSERT_STREQ(ipvm_error_describe(&err, d, sizeof d), "bad byte (at byte 17)");
    ipvm_error_prefix(&err, "task %d: ", 3);
    IPVM_ASSERT_STREQ(err.msg, "task 3: bad byte");
    /* a NULL error is allowed and the code still comes back */
    IPVM_ASSERT_EQ(ipvm_error_set(NULL, IPVM_EJSON, 0, "x"), IPVM_EJSON);
}

IPVM_TEST(util, arena_basic)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    char *s = ipvm_arena_strdup(&a, "hello");
    IPVM_ASSERT_STREQ(s, "hello");
    int *nums = ipvm_arena_calloc(&a, 100, sizeof(int));
    IPVM_ASSERT(nums != NULL);
    for (int i = 0; i < 100; i++)
        IPVM_ASSERT_EQ(nums[i], 0);
    void *p = ipvm_arena_alloc(&a, 3);
    void *q = ipvm_arena_alloc(&a, 5);
    IPVM_ASSERT_EQ((uintptr_t)p % 16, 0);
    IPVM_ASSERT_EQ((uintptr_t)q % 16, 0);
    IPVM_ASSERT_STREQ(ipvm_arena_printf(&a, "%d-%s", 42, "x"), "42-x");
    IPVM_ASSERT_STREQ(s, "hello"); /* earlier allocations are untouched */
    ipvm_arena_dispose(&a);
}

IPVM_TEST(util, arena_large_and_reset)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++) {
            size_t n = (size_t)(i * 37 % 5000) + 1;
            unsigned char *p = ipvm_arena_alloc(&a, n);
            IPVM_ASSERT(p != NULL);
            memset(p, i & 0xff, n);
        }
        unsigned char *big = ipvm_arena_alloc(&a, 10u << 20);
        IPVM_ASSERT(big != NULL);
        big[(10u << 20) - 1] = 1;
        IPVM_ASSERT(a.used >= (10u << 20));
        ipvm_arena_reset(&a);
        IPVM_ASSERT_EQ(a.used, 0);
    }
    ipvm_arena_dispose(&a);
}

static void count_cleanup(void *data)
{
    int *n = data;
    *n = *n * 10 + 1;
}

static void count_cleanup2(void *data)
{
    int *n = data;
    *n = *n * 10 + 2;
}

IPVM_TEST(util, arena_cleanups)
{
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    int n = 0;
    IPVM_ASSERT_OK(ipvm_arena_on_dispose(&a, count_cleanup, &n));
    IPVM_ASSERT_OK(ipvm_arena_on_dispose(&a, count_cleanup2, &n));
    ipvm_arena_dispose(&a);
    IPVM_ASSERT_EQ(n, 21); /* reverse order: 2 then 1 */
    /* OOM while registering: not registered, error returned */
    ipvm_arena_init(&a);
    ipvm_alloc_fail_after(0);
    int rc = ipvm_arena_on_dispose(&a, count_cleanup, &n);
    ipvm_alloc_fail_after(-1);
    IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
    ipvm_arena_dispose(&a);
    IPVM_ASSERT_EQ(n, 21);
}

IPVM_TEST(util, buf_grow_and_take)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        IPVM_ASSERT_OK(ipvm_buf_append_byte(&b, (uint8_t)('a' + i % 26)));
    IPVM_ASSERT_EQ(b.len, 10000);
    IPVM_ASSERT_EQ(b.data[b.len], 0);
    IPVM_ASSERT_OK(ipvm_buf_printf(&b, "%05d", 42));
    IPVM_ASSERT_STREQ((char *)b.data + 10000, "00042");
    size_t len;
    uint8_t *p = ipvm_buf_take(&b, &len);
    IPVM_ASSERT_EQ(len, 10005);
    IPVM_ASSERT(b.data == NULL && b.len == 0);
    ipvm_free(p);
    ipvm_buf_dispose(&b);
}

IPVM_TEST(util, buf_oom_leaves_buffer_intact)
{
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK(ipvm_buf_append_str(&b, "abc"));
    ipvm_alloc_fail_after(0);
    int rc = ipvm_buf_append(&b, "x", 100000);
    ipvm_alloc_fail_after(-1);
    IPVM_ASSERT_ERR(rc, IPVM_ENOMEM);
    IPVM_ASSERT_EQ(b.len, 3);
    IPVM_ASSERT_STREQ((char *)b.data, "abc");
    ipvm_buf_dispose(&b);
}

IPVM_TEST(util, file_roundtrip)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/f.bin", ipvm_test_tmpdir());
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_file_write_atomic(path, "hello\0world", 11, &err), &err);
    ipvm_buf_t b = IPVM_BUF_INIT;
    IPVM_ASSERT_OK_ERR(ipvm_file_read(path, &b, &err), &err);
    IPVM_ASSERT_MEMEQ(b.data, b.len, "hello\0world", 11);
    ipvm_buf_dispose(&b);
    snprintf(path, sizeof path, "%s/missing", ipvm_test_tmpdir());
    IPVM_ASSERT_ERR(ipvm_file_read(path, &b, &err), IPVM_ENOENT);
    IPVM_ASSERT_STRCONTAINS(err.msg, "missing");
    ipvm_buf_dispose(&b);
}

IPVM_TEST(util, mkdirs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/a/b/c", ipvm_test_tmpdir());
    ipvm_error_t err;
    IPVM_ASSERT_OK_ERR(ipvm_mkdirs(path, 0700, &err), &err);
    IPVM_ASSERT_OK_ERR(ipvm_mkdirs(path, 0700, &err), &err); /* idempotent */
    struct stat st;
    IPVM_ASSERT_EQ(stat(path, &st), 0);
    IPVM_ASSERT(S_ISDIR(st.st_mode));
    /* a file in the way is an error that names the path */
    char file[4200];
    snprintf(file, sizeof file, "%s/file", ipvm_test_tmpdir());
    IPVM_ASSERT_OK(ipvm_file_write_atomic(file, "x", 1, NULL));
    snprintf(path, sizeof path, "%s/file/sub", ipvm_test_tmpdir());
    IPVM_ASSERT(ipvm_mkdirs(path, 0700, &err) != 0);
    IPVM_ASSERT_STRCONTAINS(err.msg, "file");
}

IPVM_TEST(util, runner_captures_subprocess)
{
    const char *argv[] = {"/bin/sh", "-c", "read x; echo out:$x; echo err >&2; exit 3", NULL};
    ipvm_buf_t out = IPVM_BUF_INIT, err = IPVM_BUF_INIT;
    int st = ipvm_test_run(argv, NULL, "hi\n", 5000, &out, &err);
    IPVM_ASSERT_EQ(st, 3);
    IPVM_ASSERT_STREQ((char *)out.data, "out:hi\n");
    IPVM_ASSERT_STREQ((char *)err.data, "err\n");
    ipvm_buf_dispose(&out);
    ipvm_buf_dispose(&err);
}
