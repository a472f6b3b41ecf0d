/* SPDX-License-Identifier: Apache-2.0 */
/* DAG-JSON encoder (ipld.io/specs/codecs/dag-json/spec) that writes what @ipld/dag-json
 * writes: keys in JavaScript string order, JSON.stringify's string escapes, ECMAScript number
 * text, links as {"/": "<cid>"} and bytes as {"/": {"bytes": "<base64>"}}. Also the one-line
 * summaries of ipvm_ipld_summary. */
#include "ipld_int.h"
#include "multiformats/multiformats_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    ipvm_buf_t *out;
    ipvm_error_t *err;
    size_t max_depth;
    bool pretty;
    bool summary;  /* ipvm_ipld_summary: never fails on content, abbreviates bytes */
    size_t limit;  /* summary: stop once the output passes this length */
} jenc_t;

#define JSTOP 1 /* internal: summary output is long enough */

static inline int jneed(ipvm_buf_t *b, size_t n)
{
    if (IPVM_LIKELY(b->cap - b->len >= n))
        return 0;
    return ipvm_buf_reserve(b, n);
}

static int joom(jenc_t *e)
{
    return ipvm_error_set(e->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory encoding DAG-JSON");
}

static int jput(jenc_t *e, const char *s, size_t n)
{
    if (jneed(e->out, n))
        return joom(e);
    memcpy(e->out->data + e->out->len, s, n);
    e->out->len += n;
    if (e->summary && e->out->len > e->limit)
        return JSTOP;
    return 0;
}

/* JavaScript compares strings by UTF-16 code units. Keys are UTF-8, whose byte order is code
 * point order; the two differ only between U+E000..U+FFFF and the supplementary planes,
 * which UTF-16 writes with surrogates (U+D800..) that sort first. */
static uint32_t utf8_cp_at(const uint8_t *s, size_t len, size_t i)
{
    while (i > 0 && (s[i] & 0xc0) == 0x80)
        i--;
    uint8_t c = s[i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t k = 1; k < n && i + k < len; k++)
        cp = cp << 6 | (s[i + k] & 0x3fu);
    return cp;
}

static int utf16_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return alen < blen ? -1 : alen > blen;
    uint32_t ca = utf8_cp_at((const uint8_t *)a, alen, i);
    uint32_t cb = utf8_cp_at((const uint8_t *)b, blen, i);
    uint32_t ua = ca >= 0x10000 ? 0xd800 + ((ca - 0x10000) >> 10) : ca;
    uint32_t ub = cb >= 0x10000 ? 0xd800 + ((cb - 0x10000) >> 10) : cb;
    if (ua != ub)
        return ua < ub ? -1 : 1;
    return ca < cb ? -1 : 1;
}

static int jentry_cmp(const void *pa, const void *pb)
{
    const ipvm_ipld_entry_t *a = *(const ipvm_ipld_entry_t *const *)pa;
    const ipvm_ipld_entry_t *b = *(const ipvm_ipld_entry_t *const *)pb;
    return utf16_cmp(a->key, a->key_len, b->key, b->key_len);
}

static const char hexd[] = "0123456789abcdef";

/* A JSON string with JSON.stringify's escapes: \" \\ \b \t \n \f \r, \u00XX for the other
 * control characters, everything else as is. */
static int jstring(jenc_t *e, const char *s, size_t n)
{
    if (!e->summary && ipvm__utf8_check((const uint8_t *)s, n) != SIZE_MAX)
        return ipvm_error_set(e->err, IPVM_EJSON, IPVM_NO_OFFSET,
                              "string is not valid UTF-8 and cannot be written as JSON");
    ipvm_buf_t *b = e->out;
    if (n > SIZE_MAX / 2 || jneed(b, n + 2))
        return joom(e);
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (uint8_t)s[j] >= 0x20 && s[j] != '"' && s[j] != '\\')
            j++;
        memcpy(b->data + b->len, s + i, j - i); /* room: reserved n - i + 1 above */
        b->len += j - i;
        if (j == n)
            break;
        /* an escape takes up to 6 bytes for 1: make room for it and the rest */
        if (jneed(b, 6 + (n - j - 1) + 1))
            return joom(e);
        uint8_t c = (uint8_t)s[j], *o = b->data + b->len;
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\r':
            *o++ = 'r';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hexd[c >> 4];
            *o++ = (uint8_t)hexd[c & 15];
        }
        b->len = (size_t)(o - b->data);
        i = j + 1;
    }
    b->data[b->len++] = '"';
    if (e->summary && b->len > e->limit)
        return JSTOP;
    return 0;
}

static int jint(jenc_t *e, uint64_t mag, bool neg)
{
    char tmp[24];
    int n;
    if (neg && mag == UINT64_MAX)
        n = snprintf(tmp, sizeof tmp, "-18446744073709551616");
    else if (neg)
        n = snprintf(tmp, sizeof tmp, "-%llu", (unsigned long long)mag + 1);
    else
        n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)mag);
    return jput(e, tmp, (size_t)n);
}

static int jfloat(jenc_t *e, double f)
{
    if (!isfinite(f)) {
        if (e->summary)
            return jput(e, isnan(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity",
                        isnan(f) ? 3 : f > 0 ? 8 : 9);
        return ipvm_error_set(e->err, IPVM_EJSON, IPVM_NO_OFFSET,
                              "%s cannot be encoded: DAG-JSON has no NaN or infinities",
                              isnan(f) ? "NaN" : "an infinite float");
    }
    char tmp[IPVM__FLOAT_MAX];
    size_t n = ipvm__float_format(f, tmp);
    return jput(e, tmp, n);
}

static int jlink(jenc_t *e, const ipvm_cid_t *cid)
{
    char s[IPVM_CID_MAX_STR];
    ipvm_cid_str(cid, s);
    int rc = jput(e, "{\"/\":\"", 6);
    if (rc == 0)
        rc = jput(e, s, strlen(s));
    if (rc == 0)
        rc = jput(e, "\"}", 2);
    return rc;
}

static int jbytes(jenc_t *e, const uint8_t *p, size_t n)
{
    if (e->summary && n > 32) {
        char tmp[48];
        int k = snprintf(tmp, sizeof tmp, "<%zu bytes>", n);
        return jput(e, tmp, (size_t)k);
    }
    size_t max = ipvm__base_encoded_max(IPVM_BASE64, n);
    int rc = jput(e, "{\"/\":{\"bytes\":\"", 15);
    if (rc)
        return rc;
    if (max == SIZE_MAX || jneed(e->out, max + 3))
        return joom(e);
    size_t w = ipvm__base_encode(IPVM_BASE64, p, n, (char *)e->out->data + e->out->len);
    if (w == (size_t)-1)
        return ipvm_error_set(e->err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "base64 encoding failed");
    e->out->len += w;
    return jput(e, "\"}}", 3);
}

static int jindent(jenc_t *e, size_t depth)
{
    if (!e->pretty)
        return 0;
    if (jneed(e->out, 1 + 2 * depth))
        return joom(e);
    uint8_t *o = e->out->data + e->out->len;
    *o++ = '\n';
    memset(o, ' ', 2 * depth);
    e->out->len += 1 + 2 * depth;
    return 0;
}

static int jvalue(jenc_t *e, const ipvm_ipld_t *v, size_t depth);

/* A map whose "/" key holds a string, or a map with a string under "bytes", would read back
 * as a link or as bytes: refuse it rather than write data that changes on the way back. */
static bool reserved_slash(const ipvm_ipld_t *map)
{
    const ipvm_ipld_t *s = ipvm_ipld_map_getn(map, "/", 1);
    if (s == NULL)
        return false;
    if (s->kind == IPVM_IPLD_STRING)
        return true;
    const ipvm_ipld_t *b = ipvm_ipld_map_getn(s, "bytes", 5);
    return b && b->kind == IPVM_IPLD_STRING;
}

static int jmap(jenc_t *e, const ipvm_ipld_t *v, size_t depth)
{
    size_t n = v->u.map.len;
    if (n == 0)
        return jput(e, "{}", 2);
    if (!e->summary && reserved_slash(v))
        return ipvm_error_set(e->err, IPVM_EJSON, IPVM_NO_OFFSET,
                              "a map with a \"/\" key holding a string or {\"bytes\": string} "
                              "would read back as a link or bytes; DAG-JSON cannot write it");
    const ipvm_ipld_entry_t *small[16];
    const ipvm_ipld_entry_t **ord = n <= 16 ? small : ipvm_malloc(n * sizeof *ord);
    if (ord == NULL)
        return joom(e);
    for (size_t i = 0; i < n; i++)
        ord[i] = &v->u.map.entries[i];
    qsort(ord, n, sizeof *ord, jentry_cmp);
    int rc = jput(e, "{", 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i && utf16_cmp(ord[i - 1]->key, ord[i - 1]->key_len, ord[i]->key,
                           ord[i]->key_len) == 0 && !e->summary) {
            rc = ipvm_error_set(e->err, IPVM_EJSON, IPVM_NO_OFFSET,
                                "map has a duplicate key; DAG-JSON keys must be unique");
            break;
        }
        if ((i && (rc = jput(e, ",", 1)) != 0) || (rc = jindent(e, depth + 1)) != 0 ||
            (rc = jstring(e, ord[i]->key, ord[i]->key_len)) != 0 ||
            (rc = jput(e, e->pretty ? ": " : ":", e->pretty ? 2 : 1)) != 0)
            break;
        rc = jvalue(e, ord[i]->value, depth + 1);
    }
    if (rc == 0 && (rc = jindent(e, depth)) == 0)
        rc = jput(e, "}", 1);
    if (ord != small)
        ipvm_free(ord);
    return rc;
}

static int jlist(jenc_t *e, const ipvm_ipld_t *v, size_t depth)
{
    if (v->u.list.len == 0)
        return jput(e, "[]", 2);
    int rc = jput(e, "[", 1);
    for (size_t i = 0; rc == 0 && i < v->u.list.len; i++) {
        if ((i && (rc = jput(e, ",", 1)) != 0) || (rc = jindent(e, depth + 1)) != 0)
            break;
        rc = jvalue(e, v->u.list.items[i], depth + 1);
    }
    if (rc == 0 && (rc = jindent(e, depth)) == 0)
        rc = jput(e, "]", 1);
    return rc;
}

static int jvalue(jenc_t *e, const ipvm_ipld_t *v, size_t depth)
{
    switch (v->kind) {
    case IPVM_IPLD_NULL:
        return jput(e, "null", 4);
    case IPVM_IPLD_BOOL:
        return v->u.boolean ? jput(e, "true", 4) : jput(e, "false", 5);
    case IPVM_IPLD_INT:
        return jint(e, v->u.integer.mag, v->u.integer.neg);
    case IPVM_IPLD_FLOAT:
        return jfloat(e, v->u.f);
    case IPVM_IPLD_STRING:
        return jstring(e, v->u.str.ptr, v->u.str.len);
    case IPVM_IPLD_BYTES:
        return jbytes(e, (const uint8_t *)v->u.str.ptr, v->u.str.len);
    case IPVM_IPLD_LINK:
        return jlink(e, v->u.link);
    case IPVM_IPLD_LIST:
    case IPVM_IPLD_MAP:
        break;
    default:
        return ipvm_error_set(e->err, IPVM_EINVAL, IPVM_NO_OFFSET, "unknown IPLD kind %d",
                              (int)v->kind);
    }
    if (depth >= e->max_depth) {
        if (e->summary)
            return jput(e, "…", strlen("…"));
        return ipvm_error_set(e->err, IPVM_ETOODEEP, IPVM_NO_OFFSET,
                              "nesting deeper than %zu levels", e->max_depth);
    }
    return v->kind == IPVM_IPLD_MAP ? jmap(e, v, depth) : jlist(e, v, depth);
}

int ipvm_dagjson_encode(const ipvm_ipld_t *v, unsigned flags, ipvm_buf_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(v == NULL || out == NULL);
    jenc_t e = {out, err, IPVM_IPLD_MAX_DEPTH, (flags & IPVM_JSON_PRETTY) != 0, false, 0};
    size_t start = out->len;
    int rc = jvalue(&e, v, 0);
    if (rc)
        out->len = start;
    if (out->cap)
        out->data[out->len] = '\0';
    return rc;
}

const char *ipvm_ipld_summary(const ipvm_ipld_t *v, char *out, size_t max)
{
    if (max == 0)
        return out;
    static const char ell[] = "…";
    ipvm_buf_t b = IPVM_BUF_INIT;
    jenc_t e = {&b, NULL, 16, false, true, max};
    int rc = v ? jvalue(&e, v, 0) : jput(&e, "(none)", 6);
    if (rc != 0 && rc != JSTOP) {
        snprintf(out, max, "(%s)", ipvm_strerror(rc));
        ipvm_buf_dispose(&b);
        return out;
    }
    size_t n = b.len;
    if (n < max) {
        memcpy(out, b.data, n);
        out[n] = '\0';
    } else {
        /* cut, on a character boundary, leaving room for the ellipsis and the NUL */
        size_t keep = max > sizeof ell ? max - sizeof ell : 0;
        while (keep > 0 && (b.data[keep] & 0xc0) == 0x80)
            keep--;
        memcpy(out, b.data, keep);
        if (max > sizeof ell)
            memcpy(out + keep, ell, sizeof ell);
        else
            out[keep] = '\0';
    }
    ipvm_buf_dispose(&b);
    return out;
}
