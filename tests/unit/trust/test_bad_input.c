/* SPDX-License-Identifier: Apache-2.0 */
/* Regression: an empty UCAN envelope was copied as one byte (ipvm_ucan_decode read buf[0] of a
 * 0-byte input; found by fuzz_oom). The empty input here ends where an inaccessible page
 * begins, so the over-read faults in any build, not only under ASan. */
#define _GNU_SOURCE /* MAP_ANONYMOUS */
#include "test.h"

#include <sys/mman.h>
#include <unistd.h>

IPVM_TEST(trust, ucan_decode_empty_at_page_end)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    IPVM_ASSERT(m != MAP_FAILED);
    IPVM_ASSERT_OK(mprotect(m + page, page, PROT_NONE));
    ipvm_arena_t a;
    ipvm_arena_init(&a);
    ipvm_ucan_t *u = NULL;
    ipvm_error_t err;
    ipvm_error_clear(&err);
    IPVM_ASSERT_ERR(ipvm_ucan_decode(m + page, 0, &a, &u, &err), IPVM_EUCAN);
    IPVM_ASSERT_STRCONTAINS(err.msg, "DAG-CBOR");
    IPVM_ASSERT(u == NULL);
    ipvm_arena_dispose(&a);
    munmap(m, 2 * page);
}
