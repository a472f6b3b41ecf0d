/* SPDX-License-Identifier: Apache-2.0 */
/* The shortest decimal form of a double that reads back to the same double, laid out the way
 * ECMAScript's Number::toString (ECMA-262 §6.1.6.1.20) lays it out, because DAG-JSON written by
 * @ipld/dag-json uses exactly that text. Digits come from the C library's correctly rounded
 * printf and are checked by reading them back with strtod. */
#include "ipld_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Digits of v (positive, finite) with p significant digits, correctly rounded: writes them
 * without the point to digits[0..p) and returns the decimal exponent of the first digit. */
static int digits_at(double v, int p, char digits[24])
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
    int k = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digits[k++] = *s;
    digits[k] = '\0';
    return atoi(s + 1);
}

/* Reads digits (p of them) × 10^(exp - p + 1) back. */
static double read_back(const char *digits, int p, int exp)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*se%d", p, digits, exp - p + 1);
    return strtod(tmp, NULL);
}

/* Adds delta (+1 or -1) to the last of p digits, with carry. Returns false when the result
 * would change the digit count (carry out of the first digit or a leading zero). */
static bool bump(char *digits, int p, int delta, int *exp)
{
    int i = p - 1;
    if (delta > 0) {
        while (i >= 0 && digits[i] == '9')
            digits[i--] = '0';
        if (i < 0) {
            digits[0] = '1'; /* 99.9 -> 100: one digit more, exponent + 1 */
            (*exp)++;
            return true;
        }
        digits[i]++;
    } else {
        while (i >= 0 && digits[i] == '0')
            digits[i--] = '9';
        if (i < 0 || (i == 0 && digits[0] == '1' && p > 1))
            return false;
        digits[i]--;
    }
    return true;
}

/* Tries p digits: the correctly rounded ones, then the neighbours (the round-trip interval is
 * lopsided at powers of two, so a neighbour can read back when the nearest does not). */
static bool try_digits(double v, int p, char digits[24], int *exp)
{
    *exp = digits_at(v, p, digits);
    if (read_back(digits, p, *exp) == v)
        return true;
    for (int delta = -1; delta <= 1; delta += 2) {
        char d[24];
        int e = *exp;
        memcpy(d, digits, 24);
        if (bump(d, p, delta, &e) && read_back(d, p, e) == v) {
            memcpy(digits, d, 24);
            *exp = e;
            return true;
        }
    }
    return false;
}

/* Shortest digits of v > 0: returns the count, sets *exp (exponent of the first digit). */
static int shortest(double v, char digits[24], int *exp)
{
    int p;
    if (v >= DBL_MIN) {
        /* Normal numbers: at most one 15-digit decimal lies in the round-trip interval, so if
         * the 15-digit rounding reads back its trailing zeros stripped are the shortest form. */
        if (try_digits(v, 15, digits, exp)) {
            p = 15;
            while (p > 1 && digits[p - 1] == '0')
                p--;
            digits[p] = '\0';
            return p;
        }
        p = try_digits(v, 16, digits, exp) ? 16 : 17;
        if (p == 17)
            *exp = digits_at(v, 17, digits);
        return p;
    }
    /* Subnormals carry fewer bits: search from one digit up. */
    for (p = 1; p < 17; p++)
        if (try_digits(v, p, digits, exp))
            return p;
    *exp = digits_at(v, 17, digits);
    return 17;
}

size_t ipvm__float_format(double v, char out[IPVM__FLOAT_MAX])
{
    char *o = out;
    if (v == 0) {
        const char *z = signbit(v) ? "-0.0" : "0.0";
        size_t n = strlen(z);
        memcpy(out, z, n + 1);
        return n;
    }
    if (v < 0) {
        *o++ = '-';
        v = -v;
    }
    char d[24];
    int e = 0;
    int k = shortest(v, d, &e);
    int n = e + 1; /* ECMAScript's n: the value is 0.d1d2... x 10^n */
    if (k <= n && n <= 21) {
        memcpy(o, d, (size_t)k);
        o += k;
        for (int i = k; i < n; i++)
            *o++ = '0';
        memcpy(o, ".0", 2); /* an integral float keeps a point so it reads back as a float */
        o += 2;
    } else if (0 < n && n <= 21) {
        memcpy(o, d, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, d + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)k);
        o += k;
    } else {
        *o++ = d[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += snprintf(o, 8, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    *o = '\0';
    return (size_t)(o - out);
}
