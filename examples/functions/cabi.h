/* SPDX-License-Identifier: Apache-2.0 */
/* cabi.h: the few pieces of the component model's canonical ABI a C guest needs by hand
 * (what wit-bindgen would generate): cabi_realloc, through which the host allocates memory for
 * string and list arguments, and a return area for results that do not fit one core value.
 * Freestanding: build with clang --target=wasm32 -nostdlib -mbulk-memory. */
#ifndef IPVM_EXAMPLE_CABI_H
#define IPVM_EXAMPLE_CABI_H

typedef __SIZE_TYPE__ size_t;
typedef unsigned char uint8_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;

#define EXPORT(name) __attribute__((export_name(name)))

extern uint8_t __heap_base;
static size_t cabi_heap_top;

/* realloc(old, old_size, align, new_size): a bump allocator that grows linear memory. Every
 * call is a fresh instance, so nothing is ever freed. */
EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size)
{
    if (cabi_heap_top == 0)
        cabi_heap_top = (size_t)&__heap_base;
    if (old && new_size <= old_size)
        return old;
    size_t p = (cabi_heap_top + align - 1) & ~(align - 1);
    size_t end = p + new_size;
    size_t have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1)
        __builtin_trap();
    cabi_heap_top = end;
    if (old)
        __builtin_memcpy((void *)p, old, old_size);
    return (void *)p;
}

static inline void *cabi_alloc(size_t align, size_t size)
{
    return cabi_realloc(0, 0, align, size);
}

/* A string or list<T> as it crosses the ABI: pointer and element count. A function returning
 * one returns the address of such a pair (more than one flat result goes through memory). */
typedef struct {
    const void *ptr;
    size_t len;
} cabi_list_t;

static cabi_list_t cabi_ret;

static inline cabi_list_t *cabi_return_list(const void *ptr, size_t len)
{
    cabi_ret.ptr = ptr;
    cabi_ret.len = len;
    return &cabi_ret;
}

#endif
