/* SPDX-License-Identifier: Apache-2.0 */
/* Guest memory as a plain byte buffer, with a bump allocator as the guest's realloc, for
 * whatever drives the canonical ABI without an engine: the ABI tests (abi_fixture.h), the
 * abi_values fuzz target and bench_abi. Needs only the library's headers. */
#ifndef IPVM_TEST_ABI_BUF_H
#define IPVM_TEST_ABI_BUF_H

#include "wasm/abi_int.h"

typedef struct abi_buf_s {
    uint8_t *mem;
    uint64_t size;
    uint32_t next;   /* bump pointer */
    int reallocs;    /* calls seen */
    ipvm__abi_mem_t m; /* ctx, base and realloc are this buffer's */
} abi_buf_t;

static inline uint8_t *abi_buf_base(void *ctx, uint64_t *size)
{
    abi_buf_t *b = ctx;
    *size = b->size;
    return b->mem;
}

/* The next `size` bytes at `align` (never freed), or IPVM_ETRAP_MEMORY past the end. */
static inline int abi_buf_realloc(void *ctx, uint32_t align, uint32_t size, uint32_t *ptr,
                                  ipvm_error_t *err)
{
    abi_buf_t *b = ctx;
    b->reallocs++;
    uint64_t p = (b->next + (uint64_t)align - 1) / align * align;
    if (p + size > b->size)
        return ipvm_error_set(err, IPVM_ETRAP_MEMORY, IPVM_NO_OFFSET, "guest memory full");
    *ptr = (uint32_t)p;
    b->next = (uint32_t)(p + size);
    return 0;
}

/* Points b->m at the buffer (UTF-8 strings, the default lift limit); mem and size are the
 * caller's to set. */
static inline void abi_buf_wire(abi_buf_t *b)
{
    b->m = (ipvm__abi_mem_t){b, abi_buf_base, abi_buf_realloc, IPVM__ABI_UTF8, 0, 0};
}

#endif
