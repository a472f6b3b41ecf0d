/* SPDX-License-Identifier: Apache-2.0 */
/* Lowering IPLD arguments into a guest by the canonical ABI (CanonicalABI.md "lower_flat",
 * "store"), converting each value by the IPLD -> WIT rules of Homestar
 * (homestar-wasm/src/wasmtime/ipld.rs `RuntimeVal::try_from`; reference/homestar.md §4.3).
 * Strings and lists go to memory the guest allocates with its realloc; list<u8> from IPLD bytes
 * is one memcpy. */
#include "wasm/abi_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lower_s {
    ipvm__abi_mem_t *mem;
    ipvm_error_t *err;
    uint32_t arg;                /* 1-based argument number */
    const ipvm__wit_param_t *param;
    ipvm__abi_path_t path; /* where inside the argument */
    ipvm_buf_t tmp;              /* scratch for strings made from bytes and links */
} lower_t;

static const ipvm_ipld_t ipld_false = {.kind = IPVM_IPLD_BOOL, .u.boolean = false};

static int lfail(lower_t *l, const ipvm__wit_type_t *t, const char *fmt, ...) IPVM_PRINTF(3, 4);
static int lfail(lower_t *l, const ipvm__wit_type_t *t, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    char path[200];
    ipvm__abi_path_format(&l->path, path, sizeof path);
    ipvm_buf_t ty = IPVM_BUF_INIT, inner = IPVM_BUF_INIT;
    ipvm__wit_type_render(l->param->type, false, &ty);
    if (t && t != l->param->type)
        ipvm__wit_type_render(t, false, &inner);
    ipvm_error_set(l->err, IPVM_EABI, IPVM_NO_OFFSET, "argument %u (%s: %s)%s%.*s%s%s%s: %s",
                   l->arg, l->param->name ? l->param->name : "_",
                   ty.data ? (const char *)ty.data : "?", path[0] ? " at " : "", (int)strlen(path),
                   path, inner.data ? " (" : "", inner.data ? (const char *)inner.data : "",
                   inner.data ? ")" : "", why);
    ipvm_buf_dispose(&ty);
    ipvm_buf_dispose(&inner);
    return IPVM_EABI;
}

static const char *kind_of(const ipvm_ipld_t *v)
{
    return ipvm_ipld_kind_name(v->kind);
}

/* ------------------------------------------------------------------------- scalars ---- */

/* IPLD integer -> WIT integer, range-checked (Rust's try_into). */
static int int_to_int(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint64_t *bits)
{
    static const uint64_t umax[] = {0, 0, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff,
                                    INT64_MAX, UINT64_MAX};
    uint64_t mag = v->u.integer.mag;
    bool neg = v->u.integer.neg;
    bool is_signed = t->kind == IPVM__WIT_S8 || t->kind == IPVM__WIT_S16 ||
                     t->kind == IPVM__WIT_S32 || t->kind == IPVM__WIT_S64;
    uint64_t max = umax[t->kind];
    if ((neg && !is_signed) || mag > max) {
        char num[32];
        if (!neg)
            snprintf(num, sizeof num, "%" PRIu64, mag);
        else if (mag == UINT64_MAX)
            snprintf(num, sizeof num, "-18446744073709551616");
        else
            snprintf(num, sizeof num, "-%" PRIu64, mag + 1);
        return lfail(l, t, "integer %s is out of range for %s", num,
                     ipvm__wit_kind_name(t->kind));
    }
    uint64_t x = neg ? (uint64_t)(-1 - (int64_t)mag) : mag;
    *bits = t->kind == IPVM__WIT_S64 || t->kind == IPVM__WIT_U64 ? x : (x & 0xffffffffu);
    return 0;
}

/* Rust's `f as T` for integer T: truncation toward zero, saturating, NaN -> 0. */
static uint64_t float_to_int(double f, ipvm__wit_kind_t k)
{
    static const double lo[] = {0, 0, -128.0, 0, -32768.0, 0, -2147483648.0, 0};
    static const double hi[] = {0, 0, 127.0, 255.0, 32767.0, 65535.0, 2147483647.0, 4294967295.0};
    if (isnan(f))
        return 0;
    if (k == IPVM__WIT_U64)
        return f <= 0 ? 0 : f >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)f;
    if (k == IPVM__WIT_S64) {
        int64_t x = f <= -9223372036854775808.0  ? INT64_MIN
                    : f >= 9223372036854775808.0 ? INT64_MAX
                                                 : (int64_t)f;
        return (uint64_t)x;
    }
    double c = f < lo[k] ? lo[k] : f > hi[k] ? hi[k] : f;
    return (uint64_t)(uint32_t)(int64_t)c;
}

/* Rust's `i128 as f64`/`as f32`: round to nearest, for the whole IPLD integer range. */
static double int_to_f64(const ipvm_ipld_t *v)
{
    uint64_t mag = v->u.integer.mag;
    if (!v->u.integer.neg)
        return (double)mag;
    return mag == UINT64_MAX ? -0x1p64 : -(double)(mag + 1);
}

static float int_to_f32(const ipvm_ipld_t *v)
{
    uint64_t mag = v->u.integer.mag;
    if (!v->u.integer.neg)
        return (float)mag;
    return mag == UINT64_MAX ? -0x1p64f : -(float)(mag + 1);
}

static uint64_t f32_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static uint64_t f64_bits(double f)
{
    uint64_t b;
    memcpy(&b, &f, 8);
    return b;
}

/* One Unicode scalar value from a UTF-8 string of exactly one character. */
static bool one_char(const char *s, size_t n, uint32_t *cp)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t k = n == 0 ? 0 : p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    if (n == 0 || n != k)
        return false;
    static const uint8_t mask[] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    *cp = p[0] & mask[k];
    for (size_t i = 1; i < k; i++)
        *cp = *cp << 6 | (p[i] & 0x3f);
    return true; /* IPLD strings are valid UTF-8 (the codecs check) */
}

static int scalar_bits(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                       uint64_t *bits)
{
    ipvm__wit_kind_t k = t->kind;
    switch (v->kind) {
    case IPVM_IPLD_BOOL:
        if (k != IPVM__WIT_BOOL)
            break;
        *bits = v->u.boolean;
        return 0;
    case IPVM_IPLD_INT:
        if (k == IPVM__WIT_F32) {
            *bits = f32_bits(int_to_f32(v)); /* compat: ipld.rs - JS clients send 5.0 as 5 */
            return 0;
        }
        if (k == IPVM__WIT_F64) {
            *bits = f64_bits(int_to_f64(v));
            return 0;
        }
        if (k >= IPVM__WIT_S8 && k <= IPVM__WIT_U64)
            return int_to_int(l, t, v, bits);
        break;
    case IPVM_IPLD_FLOAT:
        if (k == IPVM__WIT_F32) {
            *bits = f32_bits((float)v->u.f);
            return 0;
        }
        if (k == IPVM__WIT_F64) {
            *bits = f64_bits(v->u.f);
            return 0;
        }
        /* compat: ipld.rs casts floats with `as` to every integer type but s64, which it
         * rejects by oversight; we cast to s64 as well. */
        if (k >= IPVM__WIT_S8 && k <= IPVM__WIT_U64) {
            uint64_t x = float_to_int(v->u.f, k);
            *bits = k == IPVM__WIT_S64 || k == IPVM__WIT_U64 ? x : (x & 0xffffffffu);
            return 0;
        }
        break;
    case IPVM_IPLD_STRING:
        if (k != IPVM__WIT_CHAR)
            break;
        uint32_t cp;
        if (!one_char(v->u.str.ptr, v->u.str.len, &cp))
            return lfail(l, t, "a char needs a string of exactly one character, not %zu bytes",
                         v->u.str.len);
        *bits = cp;
        return 0;
    default:
        break;
    }
    return lfail(l, t, "%s cannot be converted to %s", kind_of(v), ipvm__wit_kind_name(k));
}

/* --------------------------------------------------------------- guest memory access ---- */
static uint8_t *guest(lower_t *l, const ipvm__wit_type_t *t, uint64_t addr, uint64_t n)
{
    uint64_t size;
    uint8_t *base = l->mem->base(l->mem->ctx, &size);
    if (base == NULL || addr > size || n > size - addr) {
        lfail(l, t, "guest memory [%" PRIu64 ", +%" PRIu64 ") is out of bounds (%" PRIu64
                    " bytes)",
              addr, n, size);
        return NULL;
    }
    return base + addr;
}

static int galloc(lower_t *l, const ipvm__wit_type_t *t, uint32_t align, uint64_t n,
                  uint32_t *ptr)
{
    if (n > UINT32_MAX)
        return lfail(l, t, "%" PRIu64 " bytes do not fit in guest memory", n);
    ipvm_error_t e;
    ipvm_error_clear(&e);
    int rc = l->mem->realloc(l->mem->ctx, align, (uint32_t)n, ptr, &e);
    if (rc < 0) {
        if (l->err) {
            *l->err = e;
            ipvm_error_prefix(l->err, "argument %u: allocating %" PRIu64 " bytes: ", l->arg, n);
        }
        return rc;
    }
    if (*ptr % align)
        return lfail(l, t, "the guest's realloc returned %u, not aligned to %u", *ptr, align);
    return guest(l, t, *ptr, n) ? 0 : IPVM_EABI;
}

static void put_le(uint8_t *p, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int store_bits(lower_t *l, const ipvm__wit_type_t *t, uint64_t addr, uint64_t v,
                      uint32_t n)
{
    uint8_t *p = guest(l, t, addr, n);
    if (p == NULL)
        return IPVM_EABI;
    put_le(p, v, n);
    return 0;
}

/* ------------------------------------------------------------------------ strings ---- */

/* The UTF-8 bytes an IPLD value passes as a WIT string: strings as they are, bytes as
 * unpadded base64 and links as their CID string (compat: ipld.rs; null was handled). */
static int string_bytes(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                        const char **p, size_t *n)
{
    if (l->mem->encoding != IPVM__ABI_UTF8)
        return lfail(l, t, "the module uses UTF-16 strings, which are not supported");
    switch (v->kind) {
    case IPVM_IPLD_STRING:
        *p = v->u.str.ptr;
        *n = v->u.str.len;
        return 0;
    case IPVM_IPLD_BYTES:
        ipvm_buf_clear(&l->tmp);
        if (ipvm_base_encode(IPVM_BASE64, (const uint8_t *)v->u.str.ptr, v->u.str.len,
                             &l->tmp) < 0)
            return ipvm_error_set(l->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        break;
    case IPVM_IPLD_LINK: {
        char s[IPVM_CID_MAX_STR];
        ipvm_buf_clear(&l->tmp);
        if (ipvm_buf_append_str(&l->tmp, ipvm_cid_str(v->u.link, s)) < 0)
            return ipvm_error_set(l->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
        break;
    }
    default:
        return lfail(l, t, "%s cannot be converted to string", kind_of(v));
    }
    *p = l->tmp.len ? (const char *)l->tmp.data : "";
    *n = l->tmp.len;
    return 0;
}

static int lower_string(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                        uint32_t *ptr, uint32_t *len)
{
    const char *s;
    size_t n;
    int rc = string_bytes(l, t, v, &s, &n);
    if (rc < 0)
        return rc;
    /* s may point into l->tmp, which the realloc call does not touch */
    if ((rc = galloc(l, t, 1, n, ptr)) < 0)
        return rc;
    uint8_t *g = guest(l, t, *ptr, n);
    if (g == NULL)
        return IPVM_EABI;
    if (n)
        memcpy(g, s, n);
    *len = (uint32_t)n;
    return 0;
}

/* ------------------------------------------------------------- cases and containers ---- */

/* compat: ipld.rs - a list given where no list, tuple, flags, option or result is wanted
 * stands for its first item; an empty one for `false`. */
static int unwrap(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t **v)
{
    while ((*v)->kind == IPVM_IPLD_LIST && t->kind != IPVM__WIT_LIST &&
           t->kind != IPVM__WIT_TUPLE && t->kind != IPVM__WIT_FLAGS &&
           t->kind != IPVM__WIT_OPTION && t->kind != IPVM__WIT_RESULT) {
        if ((*v)->u.list.len == 0) {
            if (t->kind != IPVM__WIT_BOOL)
                return lfail(l, t, "an empty list cannot be converted to %s",
                             ipvm__wit_kind_name(t->kind));
            *v = &ipld_false;
            return 0;
        }
        *v = (*v)->u.list.items[0];
    }
    return 0;
}

static bool is_int1(const ipvm_ipld_t *v)
{
    return v->kind == IPVM_IPLD_INT && !v->u.integer.neg && v->u.integer.mag == 1;
}

/* compat: ipld.rs - a result is [ok, null] or [null, err]; [1, null] and [null, 1] stand for
 * ok() and err() without payload. The cases are tried in Homestar's order. */
static int pick_result(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                       uint32_t *c, const ipvm_ipld_t **payload)
{
    if (v->kind != IPVM_IPLD_LIST || v->u.list.len != 2)
        return lfail(l, t, "a result is a list [ok, null] or [null, err], not %s", kind_of(v));
    const ipvm_ipld_t *a = v->u.list.items[0], *b = v->u.list.items[1];
    bool an = a->kind == IPVM_IPLD_NULL, bn = b->kind == IPVM_IPLD_NULL;
    const ipvm__wit_type_t *ok = t->elem[0], *er = t->elem[1];
    *payload = NULL;
    if (is_int1(a) && bn && !ok)
        *c = 0;
    else if (an && is_int1(b) && !er)
        *c = 1;
    else if (bn && ok)
        *c = 0, *payload = a;
    else if (an && er)
        *c = 1, *payload = b;
    else if (bn)
        *c = 0;
    else if (an)
        *c = 1;
    else
        return lfail(l, t, "a result is a list [ok, null] or [null, err]: neither item is null");
    return 0;
}

static int key_cmp(const void *x, const void *y)
{
    const ipvm_ipld_entry_t *a = *(const ipvm_ipld_entry_t *const *)x;
    const ipvm_ipld_entry_t *b = *(const ipvm_ipld_entry_t *const *)y;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    return c ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* The variant case an IPLD map names: compat: ipld.rs takes the first key in byte order. */
static int pick_variant(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                        uint32_t *c, const ipvm_ipld_t **payload)
{
    if (v->kind != IPVM_IPLD_MAP || v->u.map.len == 0)
        return lfail(l, t, "a variant is a map {\"case\": payload}, not %s", kind_of(v));
    const ipvm_ipld_entry_t *first = &v->u.map.entries[0];
    for (size_t i = 1; i < v->u.map.len; i++) {
        const ipvm_ipld_entry_t *e = &v->u.map.entries[i];
        if (key_cmp(&e, &first) < 0)
            first = e;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if (strlen(t->label[i]) == first->key_len &&
            memcmp(t->label[i], first->key, first->key_len) == 0) {
            *c = i;
            *payload = t->elem[i] ? first->value : NULL;
            return 0;
        }
    }
    return lfail(l, t, "no variant case is named \"%.*s\"", (int)first->key_len, first->key);
}

static int pick_enum(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint32_t *c)
{
    if (v->kind != IPVM_IPLD_STRING)
        return lfail(l, t, "an enum is a string naming its case, not %s", kind_of(v));
    for (uint32_t i = 0; i < t->n; i++) {
        if (strlen(t->label[i]) == v->u.str.len &&
            memcmp(t->label[i], v->u.str.ptr, v->u.str.len) == 0) {
            *c = i;
            return 0;
        }
    }
    return lfail(l, t, "\"%.*s\" is not a case of the enum", (int)v->u.str.len, v->u.str.ptr);
}

/* Option, result, variant and enum: the case and its payload (NULL for none). */
static int pick_case(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint32_t *c,
                     const ipvm_ipld_t **payload)
{
    *payload = NULL;
    switch (t->kind) {
    case IPVM__WIT_OPTION:
        *c = v->kind != IPVM_IPLD_NULL;
        *payload = *c ? v : NULL;
        return 0;
    case IPVM__WIT_RESULT:
        return pick_result(l, t, v, c, payload);
    case IPVM__WIT_VARIANT:
        return pick_variant(l, t, v, c, payload);
    default:
        return pick_enum(l, t, v, c);
    }
}

static int flag_words(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                      uint32_t *words)
{
    if (v->kind != IPVM_IPLD_LIST)
        return lfail(l, t, "flags are a list of flag names, not %s", kind_of(v));
    memset(words, 0, ((t->n + 31) / 32) * sizeof *words);
    for (size_t i = 0; i < v->u.list.len; i++) {
        const ipvm_ipld_t *f = v->u.list.items[i];
        uint32_t j = 0;
        while (f->kind == IPVM_IPLD_STRING && j < t->n &&
               !(strlen(t->label[j]) == f->u.str.len &&
                 memcmp(t->label[j], f->u.str.ptr, f->u.str.len) == 0))
            j++;
        if (f->kind != IPVM_IPLD_STRING || j == t->n)
            return lfail(l, t, "item %zu is not the name of a flag", i);
        words[j / 32] |= 1u << (j % 32);
    }
    return 0;
}

static const ipvm_ipld_t *record_field(const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                                       uint32_t i)
{
    return ipvm_ipld_map_getn(v, t->label[i], strlen(t->label[i]));
}

static int check_record(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v)
{
    if (t->kind == IPVM__WIT_RECORD) {
        if (v->kind != IPVM_IPLD_MAP)
            return lfail(l, t, "a record is a map of its fields, not %s", kind_of(v));
        for (uint32_t i = 0; i < t->n; i++)
            if (record_field(t, v, i) == NULL)
                return lfail(l, t, "field \"%s\" is missing", t->label[i]);
        return 0;
    }
    if (v->kind != IPVM_IPLD_LIST || v->u.list.len != t->n)
        return lfail(l, t, "a tuple of %u is a list of %u items", t->n, t->n);
    return 0;
}

static const ipvm_ipld_t *struct_item(const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                                      uint32_t i)
{
    return t->kind == IPVM__WIT_RECORD ? record_field(t, v, i) : v->u.list.items[i];
}

static size_t item_path(lower_t *l, const ipvm__wit_type_t *t, uint32_t i)
{
    return t->kind == IPVM__WIT_RECORD ? ipvm__abi_path_label(&l->path, t->label[i], strlen(t->label[i]))
                                       : ipvm__abi_path_index(&l->path, i);
}

static int store(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint64_t addr);

/* A list<tuple<string, T>> from an IPLD map, entries in byte order of their keys. */
static int store_map_list(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v,
                          uint32_t ptr)
{
    const ipvm__wit_type_t *tup = t->elem[0];
    size_t n = v->u.map.len;
    const ipvm_ipld_entry_t **order = n ? malloc(n * sizeof *order) : NULL;
    if (n && order == NULL)
        return ipvm_error_set(l->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = &v->u.map.entries[i];
    if (n)
        qsort(order, n, sizeof *order, key_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ipvm_ipld_t key = {.kind = IPVM_IPLD_STRING};
        key.u.str.ptr = order[i]->key;
        key.u.str.len = order[i]->key_len;
        uint64_t at = (uint64_t)ptr + i * tup->size;
        size_t old = ipvm__abi_path_label(&l->path, order[i]->key, order[i]->key_len);
        rc = store(l, tup->elem[0], &key, at + tup->offset[0]);
        if (rc == 0)
            rc = store(l, tup->elem[1], order[i]->value, at + tup->offset[1]);
        l->path.n = old;
    }
    free(order);
    return rc;
}

static bool is_map_list(const ipvm__wit_type_t *t)
{
    const ipvm__wit_type_t *e = t->elem[0];
    return e->kind == IPVM__WIT_TUPLE && e->n == 2 && e->elem[0]->kind == IPVM__WIT_STRING;
}

static int lower_list(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint32_t *ptr,
                      uint32_t *len)
{
    const ipvm__wit_type_t *e = t->elem[0];
    size_t n;
    if (v->kind == IPVM_IPLD_LIST)
        n = v->u.list.len;
    else if (v->kind == IPVM_IPLD_BYTES && e->kind == IPVM__WIT_U8)
        n = v->u.str.len;
    else if (v->kind == IPVM_IPLD_MAP && is_map_list(t))
        n = v->u.map.len;
    else
        return lfail(l, t, "%s cannot be converted to a list", kind_of(v));
    if (n > UINT32_MAX)
        return lfail(l, t, "list of %zu items is too long", n);
    int rc = galloc(l, t, e->align, (uint64_t)n * e->size, ptr);
    if (rc < 0)
        return rc;
    *len = (uint32_t)n;
    if (v->kind == IPVM_IPLD_BYTES) { /* the fast path: images and other blobs */
        uint8_t *g = guest(l, t, *ptr, n);
        if (g == NULL)
            return IPVM_EABI;
        if (n)
            memcpy(g, v->u.str.ptr, n);
        return 0;
    }
    if (v->kind == IPVM_IPLD_MAP)
        return store_map_list(l, t, v, *ptr);
    for (size_t i = 0; i < n; i++) {
        size_t old = ipvm__abi_path_index(&l->path, i);
        rc = store(l, e, v->u.list.items[i], (uint64_t)*ptr + i * e->size);
        l->path.n = old;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Steps common to store and flat lowering: null, option/result precedence, list unwrapping. */
static int prepare(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t **v)
{
    if (t->kind == IPVM__WIT_OWN || t->kind == IPVM__WIT_BORROW)
        return lfail(l, t, "resource handles cannot be passed as IPLD");
    if ((*v)->kind == IPVM_IPLD_NULL) {
        /* compat: ipld.rs - null is option none, or the string "null" */
        if (t->kind == IPVM__WIT_OPTION || t->kind == IPVM__WIT_STRING)
            return 0;
        return lfail(l, t, "null cannot be converted to %s", ipvm__wit_kind_name(t->kind));
    }
    return unwrap(l, t, v);
}

static const ipvm_ipld_t ipld_null_str = {.kind = IPVM_IPLD_STRING, .u.str = {"null", 4}};

/* store(): CanonicalABI.md "store" - the value at guest address addr. */
static int store(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint64_t addr)
{
    int rc = prepare(l, t, &v);
    if (rc < 0)
        return rc;
    uint64_t bits;
    uint32_t p, n, c;
    const ipvm_ipld_t *payload;
    switch (t->kind) {
    case IPVM__WIT_STRING:
        if ((rc = lower_string(l, t, v->kind == IPVM_IPLD_NULL ? &ipld_null_str : v, &p, &n)) < 0)
            return rc;
        return store_bits(l, t, addr, (uint64_t)n << 32 | p, 8);
    case IPVM__WIT_LIST:
        if ((rc = lower_list(l, t, v, &p, &n)) < 0)
            return rc;
        return store_bits(l, t, addr, (uint64_t)n << 32 | p, 8);
    case IPVM__WIT_RECORD:
    case IPVM__WIT_TUPLE:
        if ((rc = check_record(l, t, v)) < 0)
            return rc;
        for (uint32_t i = 0; i < t->n && rc == 0; i++) {
            size_t old = item_path(l, t, i);
            rc = store(l, t->elem[i], struct_item(t, v, i), addr + t->offset[i]);
            l->path.n = old;
        }
        return rc;
    case IPVM__WIT_OPTION:
    case IPVM__WIT_RESULT:
    case IPVM__WIT_VARIANT:
    case IPVM__WIT_ENUM:
        if ((rc = pick_case(l, t, v, &c, &payload)) < 0)
            return rc;
        if ((rc = store_bits(l, t, addr, c, t->disc_size)) < 0)
            return rc;
        return payload ? store(l, t->kind == IPVM__WIT_OPTION ? t->elem[0] : t->elem[c],
                               payload, addr + t->payload_offset)
                       : 0;
    case IPVM__WIT_FLAGS: {
        uint32_t words[32];
        if ((rc = flag_words(l, t, v, words)) < 0)
            return rc;
        if (t->n <= 16)
            return store_bits(l, t, addr, words[0], t->size);
        for (uint32_t i = 0; i < (t->n + 31) / 32 && rc == 0; i++)
            rc = store_bits(l, t, addr + 4 * i, words[i], 4);
        return rc;
    }
    default:
        if ((rc = scalar_bits(l, t, v, &bits)) < 0)
            return rc;
        return store_bits(l, t, addr, bits, t->size);
    }
}

/* lower_flat(): CanonicalABI.md "lower_flat" - t->nflat core values into out. */
static int flat(lower_t *l, const ipvm__wit_type_t *t, const ipvm_ipld_t *v, uint64_t *out)
{
    int rc = prepare(l, t, &v);
    if (rc < 0)
        return rc;
    uint32_t p = 0, n = 0, c;
    const ipvm_ipld_t *payload;
    switch (t->kind) {
    case IPVM__WIT_STRING:
        rc = lower_string(l, t, v->kind == IPVM_IPLD_NULL ? &ipld_null_str : v, &p, &n);
        out[0] = p, out[1] = n;
        return rc;
    case IPVM__WIT_LIST:
        rc = lower_list(l, t, v, &p, &n);
        out[0] = p, out[1] = n;
        return rc;
    case IPVM__WIT_RECORD:
    case IPVM__WIT_TUPLE:
        if ((rc = check_record(l, t, v)) < 0)
            return rc;
        for (uint32_t i = 0; i < t->n && rc == 0; i++) {
            size_t old = item_path(l, t, i);
            rc = flat(l, t->elem[i], struct_item(t, v, i), out);
            out += t->elem[i]->nflat;
            l->path.n = old;
        }
        return rc;
    case IPVM__WIT_OPTION:
    case IPVM__WIT_RESULT:
    case IPVM__WIT_VARIANT:
    case IPVM__WIT_ENUM:
        if ((rc = pick_case(l, t, v, &c, &payload)) < 0)
            return rc;
        memset(out, 0, t->nflat * sizeof *out);
        out[0] = c;
        /* A payload's core values sit in the joined slots as their own bits: i32 and f32 in
         * i64 slots zero-extended, f32 in i32 slots as bits (CanonicalABI.md "join"). */
        return payload ? flat(l, t->kind == IPVM__WIT_OPTION ? t->elem[0] : t->elem[c], payload,
                              out + 1)
                       : 0;
    case IPVM__WIT_FLAGS: {
        uint32_t words[32];
        if ((rc = flag_words(l, t, v, words)) < 0)
            return rc;
        for (uint32_t i = 0; i < t->nflat; i++)
            out[i] = words[i];
        return 0;
    }
    default:
        return scalar_bits(l, t, v, out);
    }
}

int ipvm__abi_lower_args(const ipvm__wit_func_t *f, ipvm__abi_mem_t *mem,
                         const ipvm_ipld_t *args, uint64_t *out, ipvm_error_t *err)
{
    size_t have = args == NULL ? 0 : args->kind == IPVM_IPLD_LIST ? args->u.list.len : 0;
    if (args && args->kind != IPVM_IPLD_LIST)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET,
                              "arguments must be a list, not %s", kind_of(args));
    if (have < f->nparams)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET,
                              "the function takes %u argument%s, %zu given", f->nparams,
                              f->nparams == 1 ? "" : "s", have);
    if (f->unsupported)
        return ipvm_error_set(err, IPVM_EABI, IPVM_NO_OFFSET, "%s", f->unsupported);
    lower_t l = {.mem = mem, .err = err, .tmp = IPVM_BUF_INIT};
    int rc = 0;
    uint32_t base = 0;
    if (f->params_spill) { /* more than 16 flat values: the args as a tuple in memory */
        l.arg = 1;
        l.param = &f->params[0];
        rc = galloc(&l, f->params_tuple, f->params_tuple->align, f->params_tuple->size, &base);
        out[0] = base;
    }
    uint64_t *o = out;
    for (uint32_t i = 0; i < f->nparams && rc == 0; i++) {
        l.arg = i + 1;
        l.param = &f->params[i];
        l.path.n = 0;
        const ipvm_ipld_t *v = args->u.list.items[i];
        if (f->params_spill) {
            rc = store(&l, f->params[i].type, v, (uint64_t)base + f->params_tuple->offset[i]);
        } else {
            rc = flat(&l, f->params[i].type, v, o);
            o += f->params[i].type->nflat;
        }
    }
    ipvm_buf_dispose(&l.tmp);
    return rc;
}
