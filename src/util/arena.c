/* SPDX-License-Identifier: Apache-2.0 */
/* Arena allocator: chunks that grow geometrically, freed in one step, with cleanups for
 * non-memory resources. With IPVM_ARENA_PASSTHROUGH each allocation is its own malloc'd chunk so
 * that AddressSanitizer sees every overflow. */
#include "ipvm/util.h"

#include <stdio.h>
#include <string.h>

struct ipvm_arena_chunk_s {
    ipvm_arena_chunk_t *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct ipvm_arena_cleanup_s {
    ipvm_arena_cleanup_t *next;
    void (*fn)(void *);
    void *data;
};

#define ARENA_FIRST_CHUNK 4096
#define ARENA_MAX_CHUNK (1u << 20)
#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

void ipvm_arena_init(ipvm_arena_t *a)
{
    a->chunks = NULL;
    a->cleanups = NULL;
    a->chunk_size = ARENA_FIRST_CHUNK;
    a->used = 0;
}

static void run_cleanups(ipvm_arena_t *a)
{
    ipvm_arena_cleanup_t *c = a->cleanups;
    a->cleanups = NULL;
    while (c) {
        c->fn(c->data);
        c = c->next; /* the cleanup record itself lives in the arena */
    }
}

void ipvm_arena_dispose(ipvm_arena_t *a)
{
    run_cleanups(a);
    ipvm_arena_chunk_t *c = a->chunks;
    while (c) {
        ipvm_arena_chunk_t *next = c->next;
        ipvm_free(c);
        c = next;
    }
    ipvm_arena_init(a);
}

void ipvm_arena_reset(ipvm_arena_t *a)
{
    run_cleanups(a);
#ifdef IPVM_ARENA_PASSTHROUGH
    ipvm_arena_dispose(a);
#else
    ipvm_arena_chunk_t *last = NULL;
    ipvm_arena_chunk_t *c = a->chunks;
    /* keep the largest (newest) chunk, free the rest */
    if (c) {
        last = c;
        c = c->next;
        last->next = NULL;
        last->used = 0;
    }
    while (c) {
        ipvm_arena_chunk_t *next = c->next;
        ipvm_free(c);
        c = next;
    }
    a->chunks = last;
    a->used = 0;
#endif
}

void *ipvm_arena_alloc(ipvm_arena_t *a, size_t size)
{
    size_t need = ALIGN16(size ? size : 1);
    if (need < size)
        return NULL; /* overflow */
#ifndef IPVM_ARENA_PASSTHROUGH
    ipvm_arena_chunk_t *c = a->chunks;
    if (c && c->size - c->used >= need) {
        void *p = c->data + c->used;
        c->used += need;
        a->used += need;
        return p;
    }
    size_t csize = a->chunk_size;
    while (csize < need)
        csize *= 2;
    if (csize > SIZE_MAX - sizeof(ipvm_arena_chunk_t))
        return NULL;
    ipvm_arena_chunk_t *n = ipvm_malloc(sizeof *n + csize);
    if (n == NULL)
        return NULL;
    n->size = csize;
    n->used = need;
    /* A big one-off allocation goes behind the current chunk so its free space stays usable. */
    if (c && need > a->chunk_size && c->size - c->used > 256) {
        n->next = c->next;
        c->next = n;
    } else {
        n->next = c;
        a->chunks = n;
        if (a->chunk_size < ARENA_MAX_CHUNK)
            a->chunk_size *= 2;
    }
    a->used += need;
    return n->data;
#else
    if (sizeof(ipvm_arena_chunk_t) + need < need)
        return NULL;
    ipvm_arena_chunk_t *n = ipvm_malloc(sizeof *n + size);
    if (n == NULL)
        return NULL;
    n->size = size;
    n->used = size;
    n->next = a->chunks;
    a->chunks = n;
    a->used += size;
    return n->data;
#endif
}

void *ipvm_arena_calloc(ipvm_arena_t *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = ipvm_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *ipvm_arena_memdup(ipvm_arena_t *a, const void *p, size_t size)
{
    void *d = ipvm_arena_alloc(a, size);
    if (d && size)
        memcpy(d, p, size);
    return d;
}

char *ipvm_arena_strndup(ipvm_arena_t *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = ipvm_arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ipvm_arena_strdup(ipvm_arena_t *a, const char *s)
{
    return ipvm_arena_strndup(a, s, strlen(s));
}

char *ipvm_arena_printf(ipvm_arena_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = NULL;
    if (n >= 0 && (d = ipvm_arena_alloc(a, (size_t)n + 1)) != NULL)
        vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

int ipvm_arena_on_dispose(ipvm_arena_t *a, void (*fn)(void *), void *data)
{
    ipvm_arena_cleanup_t *c = ipvm_arena_alloc(a, sizeof *c);
    if (c == NULL)
        return IPVM_ENOMEM;
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
