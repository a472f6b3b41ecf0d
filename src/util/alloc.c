/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers with fault injection (fail the Nth allocation, SQLite faultsim style),
 * and ipvm_memzero for wiping secrets. */
#include "ipvm/util.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local long fail_countdown = -1; /* allocations left before one fails; -1 = off */
static _Thread_local bool fail_happened;

void ipvm_alloc_fail_after(long n)
{
    fail_countdown = n;
    fail_happened = false;
}

bool ipvm_alloc_failed(void)
{
    return fail_happened;
}

static bool should_fail(void)
{
    if (IPVM_LIKELY(fail_countdown < 0))
        return false;
    if (fail_countdown == 0) {
        fail_happened = true;
        return true;
    }
    fail_countdown--;
    return false;
}

void *ipvm_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *ipvm_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *ipvm_realloc(void *p, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

void ipvm_free(void *p)
{
    free(p);
}

char *ipvm_strndup(const char *s, size_t n)
{
    char *d = ipvm_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ipvm_strdup(const char *s)
{
    return ipvm_strndup(s, strlen(s));
}

void ipvm_memzero(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
    __asm__ __volatile__("" : : "r"(p) : "memory");
}
