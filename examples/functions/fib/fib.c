/* SPDX-License-Identifier: Apache-2.0 */
/* fib: the n-th Fibonacci number (mod 2^64). Scalars only: no memory crosses the ABI. */
#include "../cabi.h"

EXPORT("fib")
uint64_t fib(uint32_t n)
{
    uint64_t a = 0, b = 1;
    while (n--) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}
