/* SPDX-License-Identifier: Apache-2.0 */
/* Homestar's spellings of a function name (homestar-wasm/src/wasmtime/world.rs `World::new`
 * tries the name as given, UPPERCASE, then heck's kebab-case, snake_case, lowerCamelCase,
 * PascalCase, then `%name`), so "add_one", "addOne" and "add-one" all find `add-one`. */
#include "wasm/abi_int.h"

#include <string.h>

typedef struct word_s {
    size_t off, len;
} word_t;

static bool is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Alphanumeric in Rust's sense for ASCII; other (UTF-8) bytes count as letters without case. */
static bool is_alnum(unsigned char c)
{
    return is_lower(c) || is_upper(c) || (c >= '0' && c <= '9') || c >= 0x80;
}

/* heck 0.4's word splitting: at non-alphanumerics, between a lowercase letter (or a digit
 * after one) and an uppercase letter, and before the last capital of "HTTPServer". */
static size_t split_words(const char *s, word_t *w, size_t max)
{
    size_t n = 0, len = strlen(s);
    size_t i = 0;
    while (i < len && n < max) {
        while (i < len && !is_alnum((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (i < len && is_alnum((unsigned char)s[i]))
            i++;
        size_t end = i, init = start;
        enum { BOUNDARY, LOWER, UPPER } mode = BOUNDARY;
        for (size_t j = start; j < end && n < max; j++) {
            unsigned char c = (unsigned char)s[j];
            if (j + 1 == end) {
                w[n++] = (word_t){init, end - init};
                break;
            }
            unsigned char next = (unsigned char)s[j + 1];
            int next_mode = is_lower(c) ? LOWER : is_upper(c) ? UPPER : (int)mode;
            if (next_mode == LOWER && is_upper(next)) {
                w[n++] = (word_t){init, j + 1 - init};
                init = j + 1;
                mode = BOUNDARY;
            } else if (mode == UPPER && is_upper(c) && is_lower(next)) {
                w[n++] = (word_t){init, j - init};
                init = j;
                mode = BOUNDARY;
            } else {
                mode = next_mode;
            }
        }
    }
    return n;
}

static void put_c(char *out, size_t cap, size_t *o, char c)
{
    if (*o + 1 < cap)
        out[(*o)++] = c;
}

static char lower(char c)
{
    return is_upper((unsigned char)c) ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
    return is_lower((unsigned char)c) ? (char)(c - 'a' + 'A') : c;
}

void ipvm__abi_name_variant(const char *func, int which, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    if (which == 0 || which == 1 || which == 6) {
        if (which == 6)
            put_c(out, cap, &o, '%');
        for (const char *p = func; *p; p++)
            put_c(out, cap, &o, which == 1 ? upper(*p) : *p);
        out[o] = '\0';
        return;
    }
    word_t w[64];
    size_t n = split_words(func, w, 64);
    for (size_t k = 0; k < n; k++) {
        if (k && which == 2)
            put_c(out, cap, &o, '-');
        if (k && which == 3)
            put_c(out, cap, &o, '_');
        for (size_t j = 0; j < w[k].len; j++) {
            char c = func[w[k].off + j];
            bool cap_first = j == 0 && (which == 5 || (which == 4 && k > 0));
            put_c(out, cap, &o, cap_first ? upper(c) : lower(c));
        }
    }
    out[o] = '\0';
}

