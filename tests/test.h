/* SPDX-License-Identifier: Apache-2.0 */
/* The test framework of ipvm_tests: registration (tests/test_list.h), assertions that print both
 * operands and stay on under NDEBUG, and helpers for temporary directories, vectors and
 * subprocesses. */
#ifndef IPVM_TEST_H
#define IPVM_TEST_H

#include "ipvm.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Defines a test. Register it with X(area, name) in tests/unit/<area>/tests.h. */
#define IPVM_TEST(area, name) void test_##area##_##name(void)

void ipvm_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Marks the test skipped with a reason and ends it. Skips are reported and never counted as
 * passes; use them only for what the machine cannot do, never for a missing dependency that
 * `make test` installs. */
void ipvm_test_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#define IPVM_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ipvm_test_fail(__FILE__, __LINE__, "%s", #c);                                          \
    } while (0)

#define IPVM_ASSERT_MSG(c, ...)                                                                    \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ipvm_test_fail(__FILE__, __LINE__, __VA_ARGS__);                                       \
    } while (0)

#define IPVM_ASSERT_EQ(a, b)                                                                       \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            ipvm_test_fail(__FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, a_, b_);         \
    } while (0)

#define IPVM_ASSERT_NE(a, b)                                                                       \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            ipvm_test_fail(__FILE__, __LINE__, "%s != %s (both %lld)", #a, #b, a_);                \
    } while (0)

#define IPVM_ASSERT_EQ_U64(a, b)                                                                   \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_)                                                                              \
            ipvm_test_fail(__FILE__, __LINE__, "%s == %s (%" PRIu64 " vs %" PRIu64 ")", #a, #b,    \
                           a_, b_);                                                                \
    } while (0)

#define IPVM_ASSERT_LT(a, b)                                                                       \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(a_ < b_))                                                                            \
            ipvm_test_fail(__FILE__, __LINE__, "%s < %s (%g vs %g)", #a, #b, a_, b_);              \
    } while (0)

#define IPVM_ASSERT_DBL_EQ(a, b)                                                                   \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (memcmp(&a_, &b_, sizeof a_) != 0)                                                      \
            ipvm_test_fail(__FILE__, __LINE__, "%s == %s (%.17g vs %.17g)", #a, #b, a_, b_);       \
    } while (0)

/* rc must be 0; prints the error's name and sentence otherwise. */
#define IPVM_ASSERT_OK(rc)                                                                         \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != 0)                                                                              \
            ipvm_test_fail(__FILE__, __LINE__, "%s == 0 (rc=%d %s: %s)", #rc, rc_,                 \
                           ipvm_err_name(rc_), ipvm_strerror(rc_));                                \
    } while (0)

/* Like IPVM_ASSERT_OK, and also prints the ipvm_error_t's message and offset. */
#define IPVM_ASSERT_OK_ERR(rc, errp)                                                               \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != 0) {                                                                            \
            char d_[512];                                                                          \
            ipvm_test_fail(__FILE__, __LINE__, "%s == 0 (rc=%d %s: %s)", #rc, rc_,                 \
                           ipvm_err_name(rc_), ipvm_error_describe((errp), d_, sizeof d_));        \
        }                                                                                          \
    } while (0)

/* rc must equal the expected error code. */
#define IPVM_ASSERT_ERR(rc, code)                                                                  \
    do {                                                                                           \
        int rc_ = (rc), want_ = (code);                                                            \
        if (rc_ != want_)                                                                          \
            ipvm_test_fail(__FILE__, __LINE__, "%s == %s (got %s, want %s)", #rc, #code,           \
                           ipvm_err_name(rc_), ipvm_err_name(want_));                              \
    } while (0)

#define IPVM_ASSERT_STREQ(a, b)                                                                    \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            ipvm_test_fail(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", #a, #b,              \
                           a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                \
    } while (0)

#define IPVM_ASSERT_STRCONTAINS(hay, needle)                                                       \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            ipvm_test_fail(__FILE__, __LINE__, "%s contains %s (\"%.400s\" lacks \"%s\")", #hay,   \
                           #needle, h_ ? h_ : "(null)", n_);                                       \
    } while (0)

#define IPVM_ASSERT_MEMEQ(a, alen, b, blen)                                                        \
    ipvm_test_assert_memeq(__FILE__, __LINE__, #a, (const void *)(a), (size_t)(alen), #b,          \
                           (const void *)(b), (size_t)(blen))
void ipvm_test_assert_memeq(const char *file, int line, const char *an, const void *a, size_t alen,
                            const char *bn, const void *b, size_t blen);

/* A fresh directory for this test, removed after the test passes. Valid for the test's life. */
const char *ipvm_test_tmpdir(void);
/* IPVM_SOURCE_DIR "/tests/vectors/" + rel, in a static buffer (one per call site is enough). */
const char *ipvm_test_vector(const char *rel);
/* Reads a whole file or fails the test. */
void ipvm_test_read_file(const char *path, ipvm_buf_t *out);
/* Path of a built program ("ipvm") in the build directory. */
const char *ipvm_test_bin(const char *name);
/* Runs argv (argv[0] is a path) with stdin from `in` (may be NULL), waits at most timeout_ms
 * (times IPVM_TEST_TIMEOUT_MULTIPLIER; running longer fails the test), captures stdout and
 * stderr. Returns the exit status (128+signal when killed, -1 on a
 * failure to run, which fails the test). `env` is an optional NULL-terminated list of
 * "NAME=value" to add. */
int ipvm_test_run(const char *const *argv, const char *const *env, const char *in,
                  int timeout_ms, ipvm_buf_t *out, ipvm_buf_t *errout);
/* Runs the built `ipvm --data-dir DIR ARGS...` (args NULL-terminated, at most 28) through
 * ipvm_test_run with no stdin; out and errout are cleared first and always hold a
 * NUL-terminated string afterwards (empty when the program printed nothing). */
int ipvm_test_ipvm(const char *dir, const char *const *args, int timeout_ms, ipvm_buf_t *out,
                   ipvm_buf_t *errout);
/* The DAG-JSON a program printed (one value) decoded into arena; fails the test when it is not
 * JSON, quoting it. */
const ipvm_ipld_t *ipvm_test_json(ipvm_arena_t *a, const ipvm_buf_t *b);
/* Hex of up to `max` bytes into a static buffer, for messages. */
const char *ipvm_test_hex(const void *p, size_t len);
/* The test's timeout, in ms, after IPVM_TEST_TIMEOUT_MULTIPLIER. */
int ipvm_test_timeout_ms(void);
/* IPVM_TEST_TIMEOUT_MULTIPLIER (1 when unset): a test that bounds how late a deadline may fire
 * scales its slack by it, so a loaded or sanitizer build is not a failure. */
double ipvm_test_timeout_multiplier(void);

/* Fuzz targets compiled into ipvm_tests are called through this table to replay corpora. */
typedef int (*ipvm_fuzz_fn)(const uint8_t *data, size_t size);

#endif /* IPVM_TEST_H */
