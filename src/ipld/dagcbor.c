/* SPDX-License-Identifier: Apache-2.0 */
/* Strict DAG-CBOR (ipld.io/specs/codecs/dag-cbor/spec, RFC 8949 core deterministic encoding
 * with the IPLD restrictions): the encoder writes straight into the caller's buffer, the
 * decoder reads in one pass into the arena and refuses every form the spec forbids, naming the
 * byte offset. */
#include "ipld_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

#define MT_UINT 0
#define MT_NINT 1
#define MT_BYTES 2
#define MT_TEXT 3
#define MT_ARRAY 4
#define MT_MAP 5
#define MT_TAG 6
#define MT_SIMPLE 7
#define CID_TAG 42

/* ----------------------------------------------------------------------------- encoder -- */

typedef struct {
    ipvm_buf_t *out;
    ipvm_error_t *err;
    size_t max_depth;
} enc_t;

/* Room for n more bytes. */
static inline int need(ipvm_buf_t *b, size_t n)
{
    if (IPVM_LIKELY(b->cap - b->len >= n))
        return 0;
    return ipvm_buf_reserve(b, n);
}

/* Writes a major type and argument in the shortest form (the buffer has room for 9). */
static inline uint8_t *head(uint8_t *p, unsigned major, uint64_t v)
{
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) {
        *p++ = m | (uint8_t)v;
    } else if (v <= 0xff) {
        *p++ = m | 24;
        *p++ = (uint8_t)v;
    } else if (v <= 0xffff) {
        *p++ = m | 25;
        *p++ = (uint8_t)(v >> 8);
        *p++ = (uint8_t)v;
    } else if (v <= 0xffffffffu) {
        *p++ = m | 26;
        for (int s = 24; s >= 0; s -= 8)
            *p++ = (uint8_t)(v >> s);
    } else {
        *p++ = m | 27;
        for (int s = 56; s >= 0; s -= 8)
            *p++ = (uint8_t)(v >> s);
    }
    return p;
}

static inline int put_head(ipvm_buf_t *b, unsigned major, uint64_t v)
{
    if (need(b, 9))
        return IPVM_ENOMEM;
    b->len = (size_t)(head(b->data + b->len, major, v) - b->data);
    return 0;
}

static int put_str(ipvm_buf_t *b, unsigned major, const void *p, size_t n)
{
    if (n > SIZE_MAX - 9 || need(b, 9 + n))
        return IPVM_ENOMEM;
    uint8_t *o = head(b->data + b->len, major, n);
    if (n)
        memcpy(o, p, n);
    b->len = (size_t)(o + n - b->data);
    return 0;
}

static int enc_oom(enc_t *e)
{
    return ipvm_error_set(e->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory encoding DAG-CBOR");
}

/* A text string (value or key): valid UTF-8 only, so that what we write always reads back. */
static int enc_text(enc_t *e, const char *s, size_t n)
{
    if (IPVM_UNLIKELY(ipvm__utf8_check((const uint8_t *)s, n) != SIZE_MAX))
        return ipvm_error_set(e->err, IPVM_ECBOR, IPVM_NO_OFFSET,
                              "string is not valid UTF-8; DAG-CBOR text must be");
    return put_str(e->out, MT_TEXT, s, n) ? enc_oom(e) : 0;
}

static int enc_value(enc_t *e, const ipvm_ipld_t *v, size_t depth);

static int enc_float(enc_t *e, double f)
{
    if (!isfinite(f))
        return ipvm_error_set(e->err, IPVM_ECBOR, IPVM_NO_OFFSET,
                              "%s cannot be encoded: DAG-CBOR has no NaN or infinities",
                              isnan(f) ? "NaN" : "an infinite float");
    if (need(e->out, 9))
        return enc_oom(e);
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint8_t *p = e->out->data + e->out->len;
    *p++ = 0xfb;
    for (int s = 56; s >= 0; s -= 8)
        *p++ = (uint8_t)(bits >> s);
    e->out->len += 9;
    return 0;
}

static int enc_link(enc_t *e, const ipvm_cid_t *cid)
{
    ipvm_buf_t *b = e->out;
    if (need(b, 2 + 9 + 1 + cid->len))
        return enc_oom(e);
    uint8_t *p = b->data + b->len;
    *p++ = 0xd8;
    *p++ = CID_TAG;
    p = head(p, MT_BYTES, (uint64_t)cid->len + 1);
    *p++ = 0x00; /* the multibase identity prefix the spec requires */
    memcpy(p, cid->bytes, cid->len);
    b->len = (size_t)(p + cid->len - b->data);
    return 0;
}

static int enc_map(enc_t *e, const ipvm_ipld_t *v, size_t depth)
{
    ipvm_ipld_entry_t *tmp = NULL;
    bool dup = false, oom = false;
    const ipvm_ipld_entry_t *ent = ipvm__ipld_sorted_entries(v, &tmp, &dup, &oom);
    int rc = 0;
    if (oom)
        return enc_oom(e);
    if (dup) {
        rc = ipvm_error_set(e->err, IPVM_ECBOR, IPVM_NO_OFFSET,
                            "map has a duplicate key; DAG-CBOR keys must be unique");
        goto done;
    }
    if (put_head(e->out, MT_MAP, v->u.map.len)) {
        rc = enc_oom(e);
        goto done;
    }
    for (size_t i = 0; i < v->u.map.len; i++) {
        if ((rc = enc_text(e, ent[i].key, ent[i].key_len)) != 0)
            goto done;
        if ((rc = enc_value(e, ent[i].value, depth + 1)) != 0)
            goto done;
    }
done:
    ipvm_free(tmp);
    return rc;
}

static int enc_value(enc_t *e, const ipvm_ipld_t *v, size_t depth)
{
    ipvm_buf_t *b = e->out;
    switch (v->kind) {
    case IPVM_IPLD_NULL:
        return ipvm_buf_append_byte(b, 0xf6) ? enc_oom(e) : 0;
    case IPVM_IPLD_BOOL:
        return ipvm_buf_append_byte(b, v->u.boolean ? 0xf5 : 0xf4) ? enc_oom(e) : 0;
    case IPVM_IPLD_INT:
        return put_head(b, v->u.integer.neg ? MT_NINT : MT_UINT, v->u.integer.mag) ? enc_oom(e)
                                                                                   : 0;
    case IPVM_IPLD_FLOAT:
        return enc_float(e, v->u.f);
    case IPVM_IPLD_STRING:
        return enc_text(e, v->u.str.ptr, v->u.str.len);
    case IPVM_IPLD_BYTES:
        return put_str(b, MT_BYTES, v->u.str.ptr, v->u.str.len) ? enc_oom(e) : 0;
    case IPVM_IPLD_LINK:
        return enc_link(e, v->u.link);
    case IPVM_IPLD_LIST:
    case IPVM_IPLD_MAP:
        break;
    default:
        return ipvm_error_set(e->err, IPVM_EINVAL, IPVM_NO_OFFSET, "unknown IPLD kind %d",
                              (int)v->kind);
    }
    if (depth >= e->max_depth)
        return ipvm_error_set(e->err, IPVM_ETOODEEP, IPVM_NO_OFFSET,
                              "nesting deeper than %zu levels", e->max_depth);
    if (v->kind == IPVM_IPLD_MAP)
        return enc_map(e, v, depth);
    if (put_head(b, MT_ARRAY, v->u.list.len))
        return enc_oom(e);
    for (size_t i = 0; i < v->u.list.len; i++) {
        int rc = enc_value(e, v->u.list.items[i], depth + 1);
        if (rc)
            return rc;
    }
    return 0;
}

int ipvm_dagcbor_encode(const ipvm_ipld_t *v, ipvm_buf_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(v == NULL || out == NULL);
    enc_t e = {out, err, IPVM_IPLD_MAX_DEPTH};
    size_t start = out->len;
    int rc = enc_value(&e, v, 0);
    if (rc)
        out->len = start;
    if (out->cap)
        out->data[out->len] = '\0';
    return rc;
}

/* ----------------------------------------------------------------------------- decoder -- */

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    ipvm_arena_t *arena;
    ipvm_error_t *err;
    size_t max_depth;
} dec_t;

static int bad(dec_t *d, size_t off, const char *fmt, ...) IPVM_PRINTF(3, 4);
static int bad(dec_t *d, size_t off, const char *fmt, ...)
{
    if (d->err) {
        va_list ap;
        va_start(ap, fmt);
        d->err->code = IPVM_ECBOR;
        d->err->offset = off;
        vsnprintf(d->err->msg, sizeof d->err->msg, fmt, ap);
        va_end(ap);
    }
    return IPVM_ECBOR;
}

static int dec_oom(dec_t *d, size_t off)
{
    return ipvm_error_set(d->err, IPVM_ENOMEM, off, "out of memory decoding DAG-CBOR");
}

static const char *const major_names[8] = {"unsigned integer", "negative integer",
                                           "byte string",      "text string",
                                           "array",            "map",
                                           "tag",              "simple value or float"};

/* Reads the head at d->pos: major type, additional info and argument, enforcing the
 * shortest form. For major 7, *arg holds the raw bits that follow (float64 for ai 27). */
static int read_head(dec_t *d, unsigned *major, unsigned *ai, uint64_t *arg)
{
    size_t at = d->pos;
    if (at >= d->len)
        return bad(d, at, "unexpected end of input: a CBOR item was expected");
    uint8_t ib = d->buf[at];
    *major = ib >> 5;
    *ai = ib & 31;
    if (*ai < 24) {
        *arg = *ai;
        d->pos = at + 1;
        return 0;
    }
    if (*ai == 31) {
        if (*major == MT_SIMPLE)
            return bad(d, at, "unexpected \"break\" byte 0xff");
        return bad(d, at, "indefinite-length %s: DAG-CBOR allows only definite lengths",
                   major_names[*major]);
    }
    if (*ai > 27)
        return bad(d, at, "reserved additional information %u in byte 0x%02x", *ai, ib);
    size_t n = (size_t)1 << (*ai - 24);
    if (d->len - at - 1 < n)
        return bad(d, at, "unexpected end of input inside the head of a %s (needs %zu bytes)",
                   major_names[*major], n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | d->buf[at + 1 + i];
    d->pos = at + 1 + n;
    *arg = v;
    if (*major == MT_SIMPLE)
        return 0; /* floats and simple values are judged by the caller */
    static const uint64_t min[4] = {24, 0x100, 0x10000, 0x100000000ull};
    if (v < min[*ai - 24])
        return bad(d, at,
                   "%s argument %llu is not in its shortest form (DAG-CBOR requires it)",
                   major_names[*major], (unsigned long long)v);
    return 0;
}

static int dec_value(dec_t *d, size_t depth, ipvm_ipld_t **out);

/* A byte or text string of length n at d->pos, with the node in the same allocation. */
static int dec_str(dec_t *d, size_t at, unsigned major, uint64_t n, ipvm_ipld_t **out)
{
    if (n > d->len - d->pos)
        return bad(d, at, "%s of %llu bytes runs past the end of the input (%zu bytes left)",
                   major_names[major], (unsigned long long)n, d->len - d->pos);
    const uint8_t *s = d->buf + d->pos;
    if (major == MT_TEXT) {
        size_t badat = ipvm__utf8_check(s, (size_t)n);
        if (badat != SIZE_MAX)
            return bad(d, d->pos + badat, "text string is not valid UTF-8");
    }
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + (size_t)n + 1);
    if (v == NULL)
        return dec_oom(d, at);
    char *p = (char *)(v + 1);
    if (n)
        memcpy(p, s, (size_t)n);
    p[n] = '\0';
    v->kind = major == MT_TEXT ? IPVM_IPLD_STRING : IPVM_IPLD_BYTES;
    v->u.str.ptr = p;
    v->u.str.len = (size_t)n;
    d->pos += (size_t)n;
    *out = v;
    return 0;
}

static int dec_link(dec_t *d, size_t at, ipvm_ipld_t **out)
{
    unsigned major, ai;
    uint64_t n;
    size_t bat = d->pos;
    int rc = read_head(d, &major, &ai, &n);
    if (rc)
        return rc;
    if (major != MT_BYTES)
        return bad(d, bat, "tag 42 (link) must hold a byte string, not a %s", major_names[major]);
    if (n > d->len - d->pos)
        return bad(d, bat, "link of %llu bytes runs past the end of the input (%zu bytes left)",
                   (unsigned long long)n, d->len - d->pos);
    if (n == 0 || d->buf[d->pos] != 0x00)
        return bad(d, d->pos, "link bytes must start with the 0x00 multibase prefix");
    ipvm_cid_t cid;
    ipvm_error_t cerr;
    ipvm_error_clear(&cerr);
    if (ipvm_cid_from_bytes(&cid, d->buf + d->pos + 1, (size_t)n - 1, &cerr) != 0) {
        size_t off = d->pos + 1 + (cerr.offset == IPVM_NO_OFFSET ? 0 : cerr.offset);
        return bad(d, off, "malformed CID in link: %s", cerr.msg);
    }
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + sizeof cid);
    if (v == NULL)
        return dec_oom(d, at);
    v->kind = IPVM_IPLD_LINK;
    v->u.link = (ipvm_cid_t *)(v + 1);
    memcpy(v->u.link, &cid, sizeof cid);
    d->pos += (size_t)n;
    *out = v;
    return 0;
}

static int dec_simple(dec_t *d, size_t at, unsigned ai, uint64_t arg, ipvm_ipld_t **out)
{
    ipvm_ipld_t *v;
    if (ai == 27) {
        double f;
        memcpy(&f, &arg, sizeof f);
        if (!isfinite(f))
            return bad(d, at, "%s: DAG-CBOR forbids NaN and infinities",
                       isnan(f) ? "NaN" : "infinite float");
        if ((v = ipvm_arena_alloc(d->arena, sizeof *v)) == NULL)
            return dec_oom(d, at);
        v->kind = IPVM_IPLD_FLOAT;
        v->u.f = f;
    } else if (ai == 20 || ai == 21 || ai == 22) {
        if ((v = ipvm_arena_alloc(d->arena, sizeof *v)) == NULL)
            return dec_oom(d, at);
        v->kind = ai == 22 ? IPVM_IPLD_NULL : IPVM_IPLD_BOOL;
        v->u.boolean = ai == 21;
    } else if (ai == 25 || ai == 26) {
        return bad(d, at, "float%d: DAG-CBOR encodes every float as float64", ai == 25 ? 16 : 32);
    } else if (ai == 23) {
        return bad(d, at, "\"undefined\" is not in the IPLD data model");
    } else {
        return bad(d, at, "simple value %llu is not allowed in DAG-CBOR",
                   (unsigned long long)(ai == 24 ? arg : ai));
    }
    *out = v;
    return 0;
}

static int dec_list(dec_t *d, size_t at, uint64_t n, size_t depth, ipvm_ipld_t **out)
{
    if (n > d->len - d->pos)
        return bad(d, at, "array of %llu items runs past the end of the input (%zu bytes left)",
                   (unsigned long long)n, d->len - d->pos);
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + (size_t)n * sizeof(ipvm_ipld_t *));
    if (v == NULL)
        return dec_oom(d, at);
    v->kind = IPVM_IPLD_LIST;
    v->u.list.items = (ipvm_ipld_t **)(v + 1);
    v->u.list.len = v->u.list.cap = (size_t)n;
    for (size_t i = 0; i < (size_t)n; i++) {
        int rc = dec_value(d, depth + 1, &v->u.list.items[i]);
        if (rc)
            return rc;
    }
    *out = v;
    return 0;
}

/* One map key: a text string, strictly after the previous key in DAG-CBOR order. */
static int dec_key(dec_t *d, ipvm_ipld_entry_t *e, const ipvm_ipld_entry_t *prev)
{
    unsigned major, ai;
    uint64_t n;
    size_t at = d->pos;
    int rc = read_head(d, &major, &ai, &n);
    if (rc)
        return rc;
    if (major != MT_TEXT)
        return bad(d, at, "map key is a %s; DAG-CBOR map keys must be text strings",
                   major_names[major]);
    if (n > d->len - d->pos)
        return bad(d, at, "map key of %llu bytes runs past the end of the input (%zu bytes left)",
                   (unsigned long long)n, d->len - d->pos);
    const char *k = (const char *)d->buf + d->pos;
    size_t badat = ipvm__utf8_check((const uint8_t *)k, (size_t)n);
    if (badat != SIZE_MAX)
        return bad(d, d->pos + badat, "map key is not valid UTF-8");
    if (prev) {
        int c = ipvm__ipld_key_cmp(prev->key, prev->key_len, k, (size_t)n);
        if (c == 0)
            return bad(d, at, "duplicate map key \"%.*s\"", (int)(n > 64 ? 64 : n), k);
        if (c > 0)
            return bad(d, at,
                       "map key \"%.*s\" is out of order (DAG-CBOR sorts keys by length, "
                       "then bytewise)",
                       (int)(n > 64 ? 64 : n), k);
    }
    char *copy = ipvm_arena_strndup(d->arena, k, (size_t)n);
    if (copy == NULL)
        return dec_oom(d, at);
    e->key = copy;
    e->key_len = (size_t)n;
    d->pos += (size_t)n;
    return 0;
}

static int dec_map(dec_t *d, size_t at, uint64_t n, size_t depth, ipvm_ipld_t **out)
{
    if (n > (d->len - d->pos) / 2)
        return bad(d, at, "map of %llu entries runs past the end of the input (%zu bytes left)",
                   (unsigned long long)n, d->len - d->pos);
    ipvm_ipld_t *v = ipvm_arena_alloc(d->arena, sizeof *v + (size_t)n * sizeof(ipvm_ipld_entry_t));
    if (v == NULL)
        return dec_oom(d, at);
    v->kind = IPVM_IPLD_MAP;
    v->u.map.entries = (ipvm_ipld_entry_t *)(v + 1);
    v->u.map.len = v->u.map.cap = (size_t)n;
    v->u.map.sorted = true;
    for (size_t i = 0; i < (size_t)n; i++) {
        ipvm_ipld_entry_t *e = &v->u.map.entries[i];
        int rc = dec_key(d, e, i ? e - 1 : NULL);
        if (rc == 0)
            rc = dec_value(d, depth + 1, &e->value);
        if (rc)
            return rc;
    }
    *out = v;
    return 0;
}

static int dec_value(dec_t *d, size_t depth, ipvm_ipld_t **out)
{
    unsigned major, ai;
    uint64_t arg;
    size_t at = d->pos;
    int rc = read_head(d, &major, &ai, &arg);
    if (rc)
        return rc;
    ipvm_ipld_t *v;
    switch (major) {
    case MT_UINT:
    case MT_NINT:
        if ((v = ipvm_arena_alloc(d->arena, sizeof *v)) == NULL)
            return dec_oom(d, at);
        v->kind = IPVM_IPLD_INT;
        v->u.integer.mag = arg;
        v->u.integer.neg = major == MT_NINT;
        *out = v;
        return 0;
    case MT_BYTES:
    case MT_TEXT:
        return dec_str(d, at, major, arg, out);
    case MT_SIMPLE:
        return dec_simple(d, at, ai, arg, out);
    case MT_TAG:
        if (arg != CID_TAG)
            return bad(d, at, "tag %llu is not allowed (DAG-CBOR has only tag 42, for links)",
                       (unsigned long long)arg);
        return dec_link(d, at, out);
    default:
        break;
    }
    if (depth >= d->max_depth)
        return ipvm_error_set(d->err, IPVM_ETOODEEP, at, "nesting deeper than %zu levels",
                              d->max_depth);
    if (major == MT_ARRAY)
        return dec_list(d, at, arg, depth, out);
    return dec_map(d, at, arg, depth, out);
}

int ipvm_dagcbor_decode_opts(const uint8_t *buf, size_t len, const ipvm_decode_opts_t *opts,
                             ipvm_arena_t *arena, ipvm_ipld_t **out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF((buf == NULL && len) || arena == NULL || out == NULL);
    dec_t d = {buf, len, 0, arena, err, IPVM_IPLD_MAX_DEPTH};
    if (opts && opts->max_depth)
        d.max_depth = opts->max_depth;
    *out = NULL;
    ipvm_ipld_t *v = NULL;
    int rc = dec_value(&d, 0, &v);
    if (rc)
        return rc;
    if (d.pos != len)
        return bad(&d, d.pos, "%zu unexpected bytes after the end of the value", len - d.pos);
    *out = v;
    return 0;
}

int ipvm_dagcbor_decode(const uint8_t *buf, size_t len, ipvm_arena_t *arena, ipvm_ipld_t **out,
                        ipvm_error_t *err)
{
    return ipvm_dagcbor_decode_opts(buf, len, NULL, arena, out, err);
}

/* --------------------------------------------------------------------------------- CID -- */

/* Each thread keeps one encoding buffer for ipvm_ipld_cid, freed when the thread exits, so
 * computing a CID costs no allocation after the first call. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local ipvm_buf_t *scratch;

static void scratch_free(void *p)
{
    ipvm_buf_dispose(p);
    ipvm_free(p);
}

static void scratch_init(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

static ipvm_buf_t *scratch_get(void)
{
    if (IPVM_LIKELY(scratch != NULL))
        return scratch;
    pthread_once(&scratch_once, scratch_init);
    ipvm_buf_t *b = ipvm_calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    if (pthread_setspecific(scratch_key, b) != 0) {
        ipvm_free(b);
        return NULL;
    }
    scratch = b;
    return b;
}

int ipvm_ipld_cid(const ipvm_ipld_t *v, uint64_t hash, ipvm_cid_t *out, ipvm_error_t *err)
{
    IPVM_MISUSE_IF(v == NULL || out == NULL);
    ipvm_buf_t *b = scratch_get();
    if (b == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory computing a CID");
    ipvm_buf_clear(b);
    int rc = ipvm_dagcbor_encode(v, b, err);
    if (rc == 0) {
        rc = ipvm_cid_create(out, 1, IPVM_CODEC_DAG_CBOR, hash, b->data, b->len);
        if (rc)
            ipvm_error_set(err, rc, IPVM_NO_OFFSET, "cannot hash with multihash 0x%llx: %s",
                           (unsigned long long)hash, ipvm_strerror(rc));
    }
    /* keep a small buffer for the next call; give big ones back */
    if (b->cap > (1u << 20))
        ipvm_buf_dispose(b);
    return rc;
}
