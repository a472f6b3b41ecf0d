/* SPDX-License-Identifier: Apache-2.0 */
/* C = A x B for n x n doubles (n <= 400): floating point and memory traffic. Returns the sum of
 * C, which must be bit-identical everywhere (no FMA contraction). */
#include "kernel.h"

#define MAXN 400
static double A[MAXN * MAXN], B[MAXN * MAXN], C[MAXN * MAXN];

EXPORT double run(uint32_t n)
{
    if (n > MAXN)
        n = MAXN;
    for (uint32_t i = 0; i < n * n; i++) {
        A[i] = (double)(i % 17) * 0.25 - 1.0;
        B[i] = (double)(i % 13) * 0.5 + 0.125;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double s = 0;
            for (uint32_t k = 0; k < n; k++)
                s += A[i * n + k] * B[k * n + j];
            C[i * n + j] = s;
        }
    double sum = 0;
    for (uint32_t i = 0; i < n * n; i++)
        sum += C[i];
    return sum;
}
