/* SPDX-License-Identifier: Apache-2.0 */
/* fib(n), recursive: calls and returns. */
#include "kernel.h"

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

EXPORT uint32_t run(uint32_t n)
{
    return fib(n);
}
