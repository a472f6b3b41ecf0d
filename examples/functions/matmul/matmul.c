/* SPDX-License-Identifier: Apache-2.0 */
/* matmul: dense n x n f64 matrix products. list<f64> in and out; a trap (unreachable) when the
 * lists are not n*n long. */
#include "../cabi.h"

static void mul(uint32_t n, const double *a, const double *b, double *c)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double s = 0;
            for (uint32_t k = 0; k < n; k++)
                s += a[i * n + k] * b[k * n + j];
            c[i * n + j] = s;
        }
}

EXPORT("matmul")
cabi_list_t *matmul(uint32_t n, const double *a, size_t alen, const double *b, size_t blen)
{
    if (alen != (size_t)n * n || blen != (size_t)n * n)
        __builtin_trap();
    double *c = cabi_alloc(8, (size_t)n * n * sizeof *c);
    mul(n, a, b, c);
    return cabi_return_list(c, (size_t)n * n);
}

EXPORT("matpow-trace")
double matpow_trace(uint32_t n, uint32_t k)
{
    size_t sz = (size_t)n * n * sizeof(double);
    double *a = cabi_alloc(8, sz), *x = cabi_alloc(8, sz), *t = cabi_alloc(8, sz);
    for (uint32_t i = 0; i < n * n; i++) {
        a[i] = (double)((i * 7 + 3) % 11) / 10.0 - 0.5;
        x[i] = i % (n + 1) == 0; /* identity */
    }
    for (uint32_t r = 0; r < k; r++) {
        mul(n, x, a, t);
        double *s = x;
        x = t;
        t = s;
    }
    double tr = 0;
    for (uint32_t i = 0; i < n; i++)
        tr += x[i * n + i];
    return tr;
}
