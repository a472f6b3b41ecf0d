/* SPDX-License-Identifier: Apache-2.0 */
/* What the benchmark kernels share: the same C is built for wasm32 (clang, no libc) and natively
 * (gcc -O2, as a .so), and each exports run(n). */
#ifndef BENCH_KERNEL_H
#define BENCH_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __wasm__
#define EXPORT __attribute__((export_name("run")))
/* no libc in the guest: what the compiler may call */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
#else
#define EXPORT __attribute__((visibility("default")))
#endif

#endif
