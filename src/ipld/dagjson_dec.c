/* SPDX-License-Identifier: Apache-2.0 */
/* Strict DAG-JSON decoder (RFC 8259 plus ipld.io/specs/codecs/dag-json/spec): one pass into the
 * arena, containers collected on a scratch stack and copied out at their exact size. Integers
 * outside [-2^63, 2^64-1] become float64 as serde_json reads them, which is what Homestar
 * hashes. Every rejection names the byte offset and the reason. */
#include "ipld_int.h"
#include "multiformats/multiformats_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *key;
    size_t key_len;
    ipvm_ipld_t *value;
    size_t key_off; /* where the key starts, for error messages */
    size_t val_off; /* where the value starts */
} sentry_t;

typedef struct {
    const char *buf;
    size_t len;
    size_t pos;
    ipvm_arena_t *arena;
    ipvm_error_t *err;
    size_t max_depth;
    unsigned flags;      /* IPVM_DECODE_* */
    ipvm_ipld_t **items; /* scratch stack of list items of every open list */
    size_t nitems, capitems;
    sentry_t *ents; /* scratch stack of entries of every open map */
    size_t nents, capents;
} jdec_t;

static int jbad(jdec_t *d, size_t off, const char *fmt, ...) IPVM_PRINTF(3, 4);
static int jbad(jdec_t *d, size_t off, const char *fmt, ...)
{
    if (d->err) {
        va_list ap;
        va_start(ap, fmt);
        d->err->code = IPVM_EJSON;
        d->err->offset = off;
        vsnprintf(d->err->msg, sizeof d->err->msg, fmt, ap);
        va_end(ap);
    }
    return IPVM_EJSON;
}

static int jdoom(jdec_t *d)
{
    return ipvm_error_set(d->err, IPVM_ENOMEM, d->pos, "out of memory decoding DAG-JSON");
}

/* What is at offset `at`, for messages: a printable character, a byte, or the end. */
static const char *what_at(jdec_t *d, size_t at, char tmp[24])
{
    if (at >= d->len)
        return "the end of the input";
    unsigned char c = (unsigned char)d->buf[at];
    if (c > 0x20 && c < 0x7f)
        snprintf(tmp, 24, "'%c'", c);
    else
        snprintf(tmp, 24, "byte 0x%02x", c);
    return tmp;
}

static inline void skip_ws(jdec_t *d)
{
    while (d->pos < d->len) {
        char c = d->buf[d->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        d->pos++;
    }
}

static ipvm_ipld_t *node(jdec_t *d, ipvm_ipld_kind_t kind)
{
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v);
    if (v)
        v->kind = kind;
    return v;
}

/* ------------------------------------------------------------------------------ numbers -- */

static int number_as_float(jdec_t *d, size_t start, size_t end, ipvm_ipld_t **out)
{
    char small[64];
    size_t n = end - start;
    char *s = n < sizeof small ? small : ipvm_malloc(n + 1);
    if (s == NULL)
        return jdoom(d);
    memcpy(s, d->buf + start, n);
    s[n] = '\0';
    errno = 0;
    double f = strtod(s, NULL);
    if (s != small)
        ipvm_free(s);
    if (!isfinite(f))
        return jbad(d, start, "number %.*s is too large for a float64", (int)(n > 40 ? 40 : n),
                    d->buf + start);
    ipvm_ipld_t *v = node(d, IPVM_IPLD_FLOAT);
    if (v == NULL)
        return jdoom(d);
    v->u.f = f;
    *out = v;
    return 0;
}

static size_t digits(jdec_t *d)
{
    size_t start = d->pos;
    while (d->pos < d->len && d->buf[d->pos] >= '0' && d->buf[d->pos] <= '9')
        d->pos++;
    return d->pos - start;
}

static int number(jdec_t *d, ipvm_ipld_t **out)
{
    size_t start = d->pos;
    bool neg = false, isfloat = false;
    char tmp[24];
    if (d->buf[d->pos] == '-') {
        neg = true;
        d->pos++;
    }
    size_t int_start = d->pos;
    size_t nd = digits(d);
    if (nd == 0)
        return jbad(d, d->pos, "a digit was expected, not %s", what_at(d, d->pos, tmp));
    if (nd > 1 && d->buf[int_start] == '0')
        return jbad(d, int_start, "numbers cannot have leading zeros");
    if (d->pos < d->len && d->buf[d->pos] == '.') {
        d->pos++;
        isfloat = true;
        if (digits(d) == 0)
            return jbad(d, d->pos, "a digit was expected after the decimal point, not %s",
                        what_at(d, d->pos, tmp));
    }
    if (d->pos < d->len && (d->buf[d->pos] == 'e' || d->buf[d->pos] == 'E')) {
        d->pos++;
        isfloat = true;
        if (d->pos < d->len && (d->buf[d->pos] == '+' || d->buf[d->pos] == '-'))
            d->pos++;
        if (digits(d) == 0)
            return jbad(d, d->pos, "a digit was expected in the exponent, not %s",
                        what_at(d, d->pos, tmp));
    }
    if (isfloat)
        return number_as_float(d, start, d->pos, out);
    /* An integer: exact if it fits serde_json's u64 / i64, else a float64 as serde_json and
     * so Homestar read it. compat: homestar.md §1.1 - fuel 18446744073709552000 is an f64 */
    uint64_t mag = 0;
    bool over = false;
    for (size_t i = int_start; i < d->pos; i++) {
        unsigned dg = (unsigned)(d->buf[i] - '0');
        if (mag > (UINT64_MAX - dg) / 10)
            over = true;
        else
            mag = mag * 10 + dg;
    }
    bool wide = (d->flags & IPVM_DECODE_IPLD_INTS) != 0;
    /* -2^64, the least CBOR integer, has a magnitude one past u64 */
    bool least = wide && neg && over && d->pos - int_start == 20 &&
                 memcmp(d->buf + int_start, "18446744073709551616", 20) == 0;
    if (!least && (over || (neg && mag > (1ull << 63) && !wide)))
        return number_as_float(d, start, d->pos, out);
    ipvm_ipld_t *v = node(d, IPVM_IPLD_INT);
    if (v == NULL)
        return jdoom(d);
    v->u.integer.neg = neg && (mag != 0 || least); /* "-0" is the integer 0 */
    v->u.integer.mag = least ? UINT64_MAX : v->u.integer.neg ? mag - 1 : mag;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------------ strings -- */

static int hex4(jdec_t *d, size_t at, uint32_t *out)
{
    if (d->len - at < 4)
        return jbad(d, at, "\\u escape needs four hex digits");
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        char c = d->buf[at + i];
        unsigned h;
        if (c >= '0' && c <= '9')
            h = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            h = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            h = (unsigned)(c - 'A' + 10);
        else
            return jbad(d, at + i, "\\u escape needs four hex digits");
        v = v << 4 | h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape at d->pos (just past the backslash); writes its UTF-8 to o. */
static int escape(jdec_t *d, uint8_t *o, size_t *w)
{
    size_t at = d->pos - 1;
    if (d->pos >= d->len)
        return jbad(d, at, "unterminated string");
    char c = d->buf[d->pos++];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *f = c ? strchr(from, c) : NULL;
    if (f) {
        *o = (uint8_t)to[f - from];
        *w = 1;
        return 0;
    }
    if (c != 'u')
        return jbad(d, at, "invalid escape \\%c in a string", c > 0x20 && c < 0x7f ? c : '?');
    uint32_t cp, lo;
    int rc = hex4(d, d->pos, &cp);
    if (rc)
        return rc;
    d->pos += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return jbad(d, at, "lone low surrogate \\u%04x in a string", (unsigned)cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (d->len - d->pos < 6 || d->buf[d->pos] != '\\' || d->buf[d->pos + 1] != 'u' ||
            hex4(d, d->pos + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
            return jbad(d, at, "high surrogate \\u%04x is not followed by a low surrogate",
                        (unsigned)cp);
        d->pos += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    *w = put_utf8(o, cp);
    return 0;
}

/* The end of the plain run of string text from `i`: the first quote, backslash or control
 * character, or d->len. */
static size_t plain_end(const jdec_t *d, size_t i)
{
    while (i < d->len) {
        uint8_t c = (uint8_t)d->buf[i];
        if (c == '"' || c == '\\' || c < 0x20)
            break;
        i++;
    }
    return i;
}

/* The rest of a string with escapes: its text starts at `start` (past the quote) and the plain
 * text before d->buf[i] is already checked. Copies it unescaped into the arena with a NUL. */
static int unescape(jdec_t *d, size_t start, size_t i, const char **out, size_t *out_len)
{
    /* find the closing quote first; the text never grows when unescaped (\uXXXX is 6 bytes
     * for at most 3, a pair 12 for 4), so the quoted length bounds the size */
    size_t end = i;
    while (end < d->len && d->buf[end] != '"')
        end += d->buf[end] == '\\' ? 2 : 1;
    if (end >= d->len)
        return jbad(d, start - 1, "unterminated string");
    uint8_t *s = ipvm_arena_alloc(d->arena, end - start + 1);
    if (s == NULL)
        return jdoom(d);
    memcpy(s, d->buf + start, i - start);
    size_t o = i - start;
    d->pos = i;
    for (;;) {
        size_t run = d->pos;
        d->pos = plain_end(d, run);
        if (d->pos >= d->len)
            return jbad(d, start - 1, "unterminated string");
        size_t bad = ipvm__utf8_check((const uint8_t *)d->buf + run, d->pos - run);
        if (bad != SIZE_MAX)
            return jbad(d, run + bad, "string is not valid UTF-8");
        memcpy(s + o, d->buf + run, d->pos - run);
        o += d->pos - run;
        uint8_t c = (uint8_t)d->buf[d->pos];
        if (c == '"')
            break;
        if (c < 0x20)
            return jbad(d, d->pos, "control character 0x%02x must be escaped in a string", c);
        d->pos++;
        size_t w = 0;
        int rc = escape(d, s + o, &w);
        if (rc)
            return rc;
        o += w;
    }
    s[o] = '\0';
    d->pos++;
    *out = (const char *)s;
    *out_len = o;
    return 0;
}

/* A string at d->pos (on the opening quote), copied into the arena with a NUL. */
static int string(jdec_t *d, const char **out, size_t *out_len)
{
    size_t start = ++d->pos;
    /* fast path: find the end; plain runs need no copy-with-unescape */
    size_t i = plain_end(d, start);
    if (i >= d->len)
        return jbad(d, start - 1, "unterminated string");
    size_t bad = ipvm__utf8_check((const uint8_t *)d->buf + start, i - start);
    if (bad != SIZE_MAX)
        return jbad(d, start + bad, "string is not valid UTF-8");
    if (d->buf[i] != '"')
        return unescape(d, start, i, out, out_len);
    char *s = ipvm_arena_strndup(d->arena, d->buf + start, i - start);
    if (s == NULL)
        return jdoom(d);
    d->pos = i + 1;
    *out = s;
    *out_len = i - start;
    return 0;
}

/* ---------------------------------------------------------------------------- containers -- */

static int value(jdec_t *d, size_t depth, ipvm_ipld_t **out);

static int push_item(jdec_t *d, ipvm_ipld_t *v)
{
    if (d->nitems == d->capitems) {
        size_t cap = d->capitems ? d->capitems * 2 : 64;
        void *n = ipvm_realloc(d->items, cap * sizeof *d->items);
        if (n == NULL)
            return jdoom(d);
        d->items = n;
        d->capitems = cap;
    }
    d->items[d->nitems++] = v;
    return 0;
}

static int list(jdec_t *d, size_t depth, ipvm_ipld_t **out)
{
    char tmp[24];
    size_t base = d->nitems;
    d->pos++; /* '[' */
    skip_ws(d);
    if (d->pos < d->len && d->buf[d->pos] == ']') {
        d->pos++;
    } else {
        for (;;) {
            ipvm_ipld_t *item = NULL;
            int rc = value(d, depth + 1, &item);
            if (rc == 0)
                rc = push_item(d, item);
            if (rc)
                return rc;
            skip_ws(d);
            if (d->pos < d->len && d->buf[d->pos] == ',') {
                d->pos++;
                continue;
            }
            if (d->pos < d->len && d->buf[d->pos] == ']') {
                d->pos++;
                break;
            }
            return jbad(d, d->pos, "',' or ']' was expected in a list, not %s",
                        what_at(d, d->pos, tmp));
        }
    }
    size_t n = d->nitems - base;
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + n * sizeof(ipvm_ipld_t *));
    if (v == NULL)
        return jdoom(d);
    v->kind = IPVM_IPLD_LIST;
    v->u.list.items = (ipvm_ipld_t **)(v + 1);
    v->u.list.len = v->u.list.cap = n;
    if (n)
        memcpy(v->u.list.items, d->items + base, n * sizeof(ipvm_ipld_t *));
    d->nitems = base;
    *out = v;
    return 0;
}

static int push_entry(jdec_t *d, const sentry_t *e)
{
    if (d->nents == d->capents) {
        size_t cap = d->capents ? d->capents * 2 : 32;
        void *n = ipvm_realloc(d->ents, cap * sizeof *d->ents);
        if (n == NULL)
            return jdoom(d);
        d->ents = n;
        d->capents = cap;
    }
    d->ents[d->nents++] = *e;
    return 0;
}

static int sentry_cmp(const void *pa, const void *pb)
{
    const sentry_t *a = pa, *b = pb;
    int c = ipvm__ipld_key_cmp(a->key, a->key_len, b->key, b->key_len);
    if (c == 0) /* equal keys: the later one is the duplicate to report */
        return a->key_off < b->key_off ? -1 : 1;
    return c;
}

/* {"/": "<cid>"} and {"/": {"bytes": "<base64>"}}: the reserved forms of DAG-JSON. Any other
 * map that puts a string, or a map with a string "bytes", under "/" is ambiguous and refused
 * (@ipld/dag-json reads some of them as plain maps that it could not read back). */
static int slash_form(jdec_t *d, size_t start, sentry_t *e, size_t n, ipvm_ipld_t **out)
{
    size_t i = 0;
    while (i < n && !(e[i].key_len == 1 && e[i].key[0] == '/'))
        i++;
    if (i == n)
        return 1; /* a plain map */
    const ipvm_ipld_t *s = e[i].value;
    const ipvm_ipld_t *b = NULL;
    if (s->kind == IPVM_IPLD_MAP)
        b = ipvm_ipld_map_getn(s, "bytes", 5);
    if (s->kind != IPVM_IPLD_STRING && !(b && b->kind == IPVM_IPLD_STRING))
        return 1;
    if (n != 1)
        return jbad(d, start, "a map with a \"/\" key holding %s must have no other keys",
                    s->kind == IPVM_IPLD_STRING ? "a string (a link)" : "bytes");
    if (s->kind == IPVM_IPLD_STRING) {
        ipvm_cid_t cid;
        ipvm_error_t cerr;
        ipvm_error_clear(&cerr);
        if (ipvm_cid_parse(&cid, s->u.str.ptr, s->u.str.len, &cerr) != 0)
            return jbad(d, e[i].val_off, "link {\"/\": ...} holds no valid CID: %s", cerr.msg);
        ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + sizeof cid);
        if (v == NULL)
            return jdoom(d);
        v->kind = IPVM_IPLD_LINK;
        v->u.link = (ipvm_cid_t *)(v + 1);
        memcpy(v->u.link, &cid, sizeof cid);
        *out = v;
        return 0;
    }
    if (s->u.map.len != 1)
        return jbad(d, e[i].val_off, "bytes {\"/\": {\"bytes\": ...}} must have no other keys");
    /* compat: @ipld/dag-json reads base64 with or without '=' padding (and writes none) */
    size_t bl = b->u.str.len;
    const char *bs = b->u.str.ptr;
    if (bl % 4 == 0 && bl >= 2 && bs[bl - 1] == '=')
        bl -= bs[bl - 2] == '=' ? 2 : 1;
    size_t max = ipvm__base_decoded_max(IPVM_BASE64, bl);
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + max + 1);
    if (v == NULL)
        return jdoom(d);
    uint8_t *p = (uint8_t *)(v + 1);
    size_t got = 0;
    ipvm_error_t berr;
    ipvm_error_clear(&berr);
    if (ipvm__base_decode(IPVM_BASE64, bs, bl, p, &got, 0, &berr) != 0)
        return jbad(d, e[i].val_off, "bytes {\"/\": {\"bytes\": ...}} hold invalid base64: %s",
                    berr.msg);
    p[got] = '\0';
    v->kind = IPVM_IPLD_BYTES;
    v->u.str.ptr = (const char *)p;
    v->u.str.len = got;
    *out = v;
    return 0;
}

/* Turns the entries collected since `base` into a map node (or a link or bytes). */
static int finish_map(jdec_t *d, size_t start, size_t base, bool slash, ipvm_ipld_t **out)
{
    size_t n = d->nents - base;
    sentry_t *e = d->ents ? d->ents + base : NULL; /* no map had entries yet */
    int rc = slash ? slash_form(d, start, e, n, out) : 1;
    if (rc <= 0) {
        d->nents = base;
        return rc;
    }
    bool ordered = true;
    for (size_t i = 1; i < n && ordered; i++)
        ordered = ipvm__ipld_key_cmp(e[i - 1].key, e[i - 1].key_len, e[i].key, e[i].key_len) < 0;
    if (!ordered) {
        qsort(e, n, sizeof *e, sentry_cmp);
        for (size_t i = 1; i < n; i++)
            if (ipvm__ipld_key_cmp(e[i - 1].key, e[i - 1].key_len, e[i].key, e[i].key_len) == 0)
                return jbad(d, e[i].key_off, "duplicate map key \"%.*s\"",
                            (int)(e[i].key_len > 64 ? 64 : e[i].key_len), e[i].key);
    }
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + n * sizeof(ipvm_ipld_entry_t));
    if (v == NULL)
        return jdoom(d);
    v->kind = IPVM_IPLD_MAP;
    v->u.map.entries = (ipvm_ipld_entry_t *)(v + 1);
    v->u.map.len = v->u.map.cap = n;
    v->u.map.sorted = true;
    for (size_t i = 0; i < n; i++) {
        v->u.map.entries[i].key = e[i].key;
        v->u.map.entries[i].key_len = e[i].key_len;
        v->u.map.entries[i].value = e[i].value;
    }
    d->nents = base;
    *out = v;
    return 0;
}

static int map(jdec_t *d, size_t depth, ipvm_ipld_t **out)
{
    char tmp[24];
    size_t start = d->pos, base = d->nents;
    bool slash = false; /* a "/" key: maybe a link or bytes */
    d->pos++; /* '{' */
    skip_ws(d);
    if (d->pos < d->len && d->buf[d->pos] == '}') {
        d->pos++;
        return finish_map(d, start, base, false, out);
    }
    for (;;) {
        sentry_t e;
        skip_ws(d);
        if (d->pos >= d->len || d->buf[d->pos] != '"')
            return jbad(d, d->pos, "a string key was expected in a map, not %s",
                        what_at(d, d->pos, tmp));
        e.key_off = d->pos;
        int rc = string(d, &e.key, &e.key_len);
        if (rc)
            return rc;
        slash |= e.key_len == 1 && e.key[0] == '/';
        skip_ws(d);
        if (d->pos >= d->len || d->buf[d->pos] != ':')
            return jbad(d, d->pos, "':' was expected after a map key, not %s",
                        what_at(d, d->pos, tmp));
        d->pos++;
        skip_ws(d);
        e.val_off = d->pos;
        if ((rc = value(d, depth + 1, &e.value)) != 0 || (rc = push_entry(d, &e)) != 0)
            return rc;
        skip_ws(d);
        if (d->pos < d->len && d->buf[d->pos] == ',') {
            d->pos++;
            continue;
        }
        if (d->pos < d->len && d->buf[d->pos] == '}') {
            d->pos++;
            return finish_map(d, start, base, slash, out);
        }
        return jbad(d, d->pos, "',' or '}' was expected in a map, not %s",
                    what_at(d, d->pos, tmp));
    }
}

static int literal(jdec_t *d, const char *word, ipvm_ipld_kind_t kind, bool b, ipvm_ipld_t **out)
{
    size_t n = strlen(word);
    if (d->len - d->pos < n || memcmp(d->buf + d->pos, word, n) != 0)
        return jbad(d, d->pos, "invalid literal (expected %s)", word);
    ipvm_ipld_t *v = node(d, kind);
    if (v == NULL)
        return jdoom(d);
    v->u.boolean = b;
    d->pos += n;
    *out = v;
    return 0;
}

static int value(jdec_t *d, size_t depth, ipvm_ipld_t **out)
{
    char tmp[24];
    skip_ws(d);
    if (d->pos >= d->len)
        return jbad(d, d->pos, "unexpected end of input: a value was expected");
    char c = d->buf[d->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= d->max_depth)
            return ipvm_error_set(d->err, IPVM_ETOODEEP, d->pos, "nesting deeper than %zu levels",
                                  d->max_depth);
        return c == '{' ? map(d, depth, out) : list(d, depth, out);
    case '"': {
        const char *s;
        size_t n;
        int rc = string(d, &s, &n);
        if (rc)
            return rc;
        ipvm_ipld_t *v = node(d, IPVM_IPLD_STRING);
        if (v == NULL)
            return jdoom(d);
        v->u.str.ptr = s;
        v->u.str.len = n;
        *out = v;
        return 0;
    }
    case 't':
        return literal(d, "true", IPVM_IPLD_BOOL, true, out);
    case 'f':
        return literal(d, "false", IPVM_IPLD_BOOL, false, out);
    case 'n':
        return literal(d, "null", IPVM_IPLD_NULL, false, out);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return number(d, out);
        return jbad(d, d->pos, "a JSON value was expected, not %s", what_at(d, d->pos, tmp));
    }
}

int ipvm_dagjson_decode_opts(const char *buf, size_t len, const ipvm_decode_opts_t *opts,
                             ipvm_arena_t *arena, ipvm_ipld_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF((buf == NULL && len) || arena == NULL || out == NULL);
    jdec_t d;
    memset(&d, 0, sizeof d);
    d.buf = buf ? buf : "";
    d.len = len;
    d.arena = arena;
    d.err = err;
    d.max_depth = opts && opts->max_depth ? opts->max_depth : IPVM_IPLD_MAX_DEPTH;
    d.flags = opts ? opts->flags : 0;
    *out = NULL;
    ipvm_ipld_t *v = NULL;
    int rc = value(&d, 0, &v);
    if (rc == 0) {
        skip_ws(&d);
        if (d.pos != len)
            rc = jbad(&d, d.pos, "unexpected data after the end of the value");
    }
    ipvm_free(d.items);
    ipvm_free(d.ents);
    if (rc == 0)
        *out = v;
    return rc;
}

int ipvm_dagjson_decode(const char *buf, size_t len, ipvm_arena_t *arena, ipvm_ipld_t **out,
                        ipvm_error_t *err)
{
    return ipvm_dagjson_decode_opts(buf, len, NULL, arena, out, err);
}

/* ---------------------------------------------------------------------------- pull reader -- */
/* A decoder over the reader's state for one call; reader_put stores back what moved. */
static jdec_t reader_get(ipvm_dagjson_reader_t *r, ipvm_arena_t *arena, ipvm_error_t *err)
{
    jdec_t d;
    memset(&d, 0, sizeof d);
    d.buf = r->buf;
    d.len = r->len;
    d.pos = r->pos;
    d.arena = arena;
    d.err = err;
    d.max_depth = r->max_depth;
    d.flags = r->flags;
    d.items = r->items;
    d.capitems = r->capitems;
    d.ents = r->ents;
    d.capents = r->capents;
    return d;
}

static void reader_put(ipvm_dagjson_reader_t *r, const jdec_t *d)
{
    r->pos = d->pos;
    r->items = d->items;
    r->capitems = d->capitems;
    r->ents = d->ents;
    r->capents = d->capents;
}

void ipvm_dagjson_reader_init(ipvm_dagjson_reader_t *r, const char *buf, size_t len,
                              const ipvm_decode_opts_t *opts)
{
    IPVM_MISUSE_IF(r == NULL || (buf == NULL && len));
    memset(r, 0, sizeof *r);
    r->buf = buf ? buf : "";
    r->len = len;
    r->max_depth = opts && opts->max_depth ? opts->max_depth : IPVM_IPLD_MAX_DEPTH;
    r->flags = opts ? opts->flags : 0;
}

void ipvm_dagjson_reader_dispose(ipvm_dagjson_reader_t *r)
{
    ipvm_free(r->items);
    ipvm_free(r->ents);
    r->items = NULL;
    r->ents = NULL;
    r->capitems = r->capents = 0;
}

int ipvm_dagjson_reader_enter(ipvm_dagjson_reader_t *r, ipvm_ipld_kind_t *kind,
                              ipvm_error_t *err)
{
    IPVM_MISUSE_IF(r == NULL || kind == NULL);
    char tmp[24];
    jdec_t d = reader_get(r, NULL, err);
    skip_ws(&d);
    r->pos = d.pos;
    if (d.pos >= d.len || (d.buf[d.pos] != '{' && d.buf[d.pos] != '['))
        return jbad(&d, d.pos, "a map or a list was expected, not %s", what_at(&d, d.pos, tmp));
    if (r->depth >= r->max_depth || r->depth >= IPVM_DAGJSON_READER_DEPTH)
        return ipvm_error_set(err, IPVM_ETOODEEP, d.pos, "nesting deeper than %zu levels",
                              r->depth < r->max_depth ? (size_t)IPVM_DAGJSON_READER_DEPTH
                                                      : r->max_depth);
    r->open[r->depth] = d.buf[d.pos];
    r->started[r->depth] = false;
    r->depth++;
    r->pos++;
    *kind = d.buf[d.pos] == '{' ? IPVM_IPLD_MAP : IPVM_IPLD_LIST;
    return 0;
}

/* Past the ',' between entries or the container's closing bracket: 1 = an entry follows. */
static int reader_step(ipvm_dagjson_reader_t *r, jdec_t *d)
{
    char tmp[24];
    size_t top = r->depth - 1;
    char close = r->open[top] == '{' ? '}' : ']';
    skip_ws(d);
    if (d->pos < d->len && d->buf[d->pos] == close) {
        d->pos++;
        r->depth--;
        return 0;
    }
    if (r->started[top]) {
        if (d->pos >= d->len || d->buf[d->pos] != ',')
            return jbad(d, d->pos, "',' or '%c' was expected in a %s, not %s", close,
                        close == '}' ? "map" : "list", what_at(d, d->pos, tmp));
        d->pos++;
        skip_ws(d);
    }
    r->started[top] = true;
    return 1;
}

int ipvm_dagjson_reader_next(ipvm_dagjson_reader_t *r, ipvm_arena_t *arena, const char **key,
                             size_t *key_len, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(r == NULL || r->depth == 0 || arena == NULL);
    char tmp[24];
    jdec_t d = reader_get(r, arena, err);
    int rc = reader_step(r, &d);
    if (rc == 1 && r->open[r->depth - 1] == '{') {
        const char *k = NULL;
        size_t kl = 0;
        if (d.pos >= d.len || d.buf[d.pos] != '"')
            rc = jbad(&d, d.pos, "a string key was expected in a map, not %s",
                      what_at(&d, d.pos, tmp));
        else if ((rc = string(&d, &k, &kl)) == 0) {
            skip_ws(&d);
            if (d.pos >= d.len || d.buf[d.pos] != ':')
                rc = jbad(&d, d.pos, "':' was expected after a map key, not %s",
                          what_at(&d, d.pos, tmp));
            else
                d.pos++, rc = 1;
        }
        if (key)
            *key = k;
        if (key_len)
            *key_len = kl;
    }
    reader_put(r, &d);
    return rc;
}

int ipvm_dagjson_reader_value(ipvm_dagjson_reader_t *r, ipvm_arena_t *arena, ipvm_ipld_t **out,
                              ipvm_error_t *err)
{
    IPVM_MISUSE_IF(r == NULL || arena == NULL || out == NULL);
    jdec_t d = reader_get(r, arena, err);
    *out = NULL;
    ipvm_ipld_t *v = NULL;
    int rc = value(&d, r->depth, &v);
    d.nitems = d.nents = 0;
    reader_put(r, &d);
    if (rc == 0)
        *out = v;
    return rc;
}

int ipvm_dagjson_reader_finish(ipvm_dagjson_reader_t *r, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(r == NULL);
    jdec_t d = reader_get(r, NULL, err);
    if (r->depth != 0)
        return jbad(&d, d.pos, "unexpected end of input: %zu containers are still open",
                    r->depth);
    skip_ws(&d);
    r->pos = d.pos;
    if (d.pos != d.len)
        return jbad(&d, d.pos, "unexpected data after the end of the value");
    return 0;
}
