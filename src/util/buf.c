/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers, always NUL-terminated so text can be used as a C string. */
#include "ipvm/util.h"

#include <stdio.h>
#include <string.h>

void ipvm_buf_init(ipvm_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ipvm_buf_dispose(ipvm_buf_t *b)
{
    ipvm_free(b->data);
    ipvm_buf_init(b);
}

int ipvm_buf_reserve(ipvm_buf_t *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return IPVM_ENOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    uint8_t *d = ipvm_realloc(b->data, cap + 1);
    if (d == NULL)
        return IPVM_ENOMEM;
    b->data = d;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int ipvm_buf_append(ipvm_buf_t *b, const void *p, size_t n)
{
    int rc = ipvm_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n == 0) /* nothing to add: an empty buffer may still have no memory */
        return 0;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ipvm_buf_append_byte(ipvm_buf_t *b, uint8_t c)
{
    if (b->len == b->cap) {
        int rc = ipvm_buf_reserve(b, 1);
        if (rc)
            return rc;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int ipvm_buf_append_str(ipvm_buf_t *b, const char *s)
{
    return ipvm_buf_append(b, s, strlen(s));
}

int ipvm_buf_vprintf(ipvm_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return IPVM_EINVAL;
    int rc = ipvm_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int ipvm_buf_printf(ipvm_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ipvm_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void ipvm_buf_clear(ipvm_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

uint8_t *ipvm_buf_take(ipvm_buf_t *b, size_t *len)
{
    uint8_t *d = b->data;
    if (len)
        *len = b->len;
    ipvm_buf_init(b);
    return d;
}
