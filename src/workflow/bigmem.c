/* SPDX-License-Identifier: Apache-2.0 */
/* Large zeroed tables that live as long as an arena (a 10,000-task workflow's tasks, a run's
 * report entries: megabytes each), mapped directly and advised as transparent huge pages. On
 * this project's 2-core VMs a page fault costs several microseconds and a fifth of a replay's
 * time was the kernel's fault path on such tables; one fault per 2 MiB instead of 512 removes
 * it. Smaller tables come from the arena as usual. */
#define _GNU_SOURCE
#include "workflow_int.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define BIG_MIN ((size_t)1 << 20) /* below this, the arena */
#define HDR 64                    /* keeps the table 64-byte aligned; holds the mapping's size */

static void unmap_big(void *base)
{
    munmap(base, *(size_t *)base);
}

void *ipvm__big_calloc(ipvm_arena_t *a, size_t n, size_t size)
{
    if (size != 0 && n > (SIZE_MAX - HDR - HUGE_PAGE) / size)
        return NULL;
    size_t want = n * size;
    if (want < BIG_MIN)
        return ipvm_arena_calloc(a, n ? n : 1, size ? size : 1);
    size_t len = (want + HDR + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    /* map one huge page more, then trim, so the table starts on a 2 MiB boundary */
    uint8_t *raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *base = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (base > raw)
        munmap(raw, (size_t)(base - raw));
    if (base + len < raw + len + HUGE_PAGE)
        munmap(base + len, (size_t)(raw + len + HUGE_PAGE - (base + len)));
#ifdef MADV_HUGEPAGE
    (void)madvise(base, len, MADV_HUGEPAGE); /* a hint: without THP, ordinary pages */
#endif
    *(size_t *)base = len;
    if (ipvm_arena_on_dispose(a, unmap_big, base) != 0) {
        munmap(base, len);
        return NULL;
    }
    return base + HDR;
}

void ipvm__big_shrink(void *p, size_t had, size_t want)
{
    if (p == NULL || had < BIG_MIN || want >= had)
        return; /* from the arena, or nothing to give back */
    uint8_t *base = (uint8_t *)p - HDR;
    size_t len = *(size_t *)base, page = (size_t)sysconf(_SC_PAGESIZE);
    size_t keep = (HDR + want + page - 1) & ~(page - 1);
    if (keep < len && munmap(base + keep, len - keep) == 0)
        *(size_t *)base = keep;
}
