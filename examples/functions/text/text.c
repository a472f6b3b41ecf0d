/* SPDX-License-Identifier: Apache-2.0 */
/* text: string transforms. A string result is returned as (ptr, len) through a return area; a
 * record result {bytes, words, lines} is returned as a pointer to its three u32 fields; a
 * list<tuple<string, u32>> becomes an IPLD map on the host. */
#include "../cabi.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

EXPORT("title-case")
cabi_list_t *title_case(const char *s, size_t len)
{
    char *out = cabi_alloc(1, len);
    int start = 1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z' && start)
            c = (char)(c - 32);
        else if (c >= 'A' && c <= 'Z' && !start)
            c = (char)(c + 32);
        out[i] = c;
        start = is_space(s[i]);
    }
    return cabi_return_list(out, len);
}

static struct {
    uint32_t bytes, words, lines;
} stats_ret;

EXPORT("stats")
void *stats(const char *s, size_t len)
{
    uint32_t words = 0, lines = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_space(s[i]) && (i == 0 || is_space(s[i - 1])))
            words++;
        if (s[i] == '\n')
            lines++;
    }
    if (len && s[len - 1] != '\n')
        lines++;
    stats_ret.bytes = (uint32_t)len;
    stats_ret.words = words;
    stats_ret.lines = lines;
    return &stats_ret;
}

static int same(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

typedef struct {
    cabi_list_t word; /* string: ptr, len */
    uint32_t count;
} entry_t;

EXPORT("word-freq")
cabi_list_t *word_freq(const char *s, size_t len)
{
    entry_t *e = cabi_alloc(4, (len / 2 + 1) * sizeof *e);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(s[i]))
            i++;
        size_t b = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (i == b)
            break;
        size_t k = 0;
        while (k < n && !(e[k].word.len == i - b && same(e[k].word.ptr, s + b, i - b)))
            k++;
        if (k == n) {
            e[n].word.ptr = s + b;
            e[n].word.len = i - b;
            e[n++].count = 0;
        }
        e[k].count++;
    }
    return cabi_return_list(e, n);
}
