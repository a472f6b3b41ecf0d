/* SPDX-License-Identifier: Apache-2.0 */
/* Lifting results out of a guest by the canonical ABI (CanonicalABI.md "lift_flat", "load"),
 * converting each value by Homestar's WIT -> IPLD rules (homestar-wasm/src/wasmtime/ipld.rs
 * `TryFrom<RuntimeVal> for Ipld`; reference/homestar.md §4.3). Every guest pointer, length,
 * alignment, discriminant, char and UTF-8 string is checked; list<u8> is one memcpy. */
#include "wasm/abi_int.h"
#include "ipvm_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct lift_s {
    ipvm__abi_mem_t *mem;
    ipvm_arena_t *a;
    ipvm_error_t *err;
    ipvm__abi_path_t path; /* where inside the result */
    int code; /* the error recorded, for callers that pass no err */
} lift_t;

static ipvm_ipld_t *ffail(lift_t *l, const ipvm__wit_type_t *t, const char *fmt, ...)
    IPVM_PRINTF(3, 4);
static ipvm_ipld_t *ffail(lift_t *l, const ipvm__wit_type_t *t, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    l->code = IPVM_EABI;
    char path[200];
    ipvm__abi_path_format(&l->path, path, sizeof path);
    ipvm_buf_t ty = IPVM_BUF_INIT;
    ipvm__wit_type_render(t, false, &ty);
    ipvm_error_set(l->err, IPVM_EABI, IPVM_NO_OFFSET, "result%s%.*s (%s): %s",
                   path[0] ? " at " : "", (int)strlen(path), path,
                   ty.data ? (const char *)ty.data : "?", why);
    ipvm_buf_dispose(&ty);
    return NULL;
}

static ipvm_ipld_t *oom(lift_t *l)
{
    l->code = IPVM_ENOMEM;
    ipvm_error_set(l->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return NULL;
}

/* Charges n bytes of output against IPVM__ABI_MAX_LIFT. */
static bool charge(lift_t *l, const ipvm__wit_type_t *t, uint64_t n)
{
    uint64_t max = l->mem->max_lift ? l->mem->max_lift : IPVM__ABI_MAX_LIFT;
    l->mem->lifted += n;
    if (l->mem->lifted <= max)
        return true;
    ffail(l, t, "the result is larger than %" PRIu64 " MiB", max >> 20);
    return false;
}

/* --------------------------------------------------------- float32 like rust_decimal ---- */
typedef struct {
    uint32_t w[3]; /* 96-bit mantissa, least significant word first */
} m96_t;

static uint32_t m96_div(m96_t *m, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = 2; i >= 0; i--) {
        uint64_t cur = rem << 32 | m->w[i];
        m->w[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    return (uint32_t)rem;
}

static uint32_t m96_mul(m96_t *m, uint32_t k)
{
    uint64_t carry = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t cur = (uint64_t)m->w[i] * k + carry;
        m->w[i] = (uint32_t)cur;
        carry = cur >> 32;
    }
    return (uint32_t)carry;
}

static void m96_shr1(m96_t *m)
{
    m->w[0] = m->w[0] >> 1 | m->w[1] << 31;
    m->w[1] = m->w[1] >> 1 | m->w[2] << 31;
    m->w[2] >>= 1;
}

static void m96_shl1(m96_t *m)
{
    m->w[2] = m->w[2] << 1 | m->w[1] >> 31;
    m->w[1] = m->w[1] << 1 | m->w[0] >> 31;
    m->w[0] <<= 1;
}

static void m96_inc(m96_t *m)
{
    for (int i = 0; i < 3 && ++m->w[i] == 0; i++)
        ;
}

static bool m96_zero(const m96_t *m)
{
    return (m->w[0] | m->w[1] | m->w[2]) == 0;
}

/* rust_decimal 1.34 base2_to_decimal for an f32 with remove_excess_bits: mantissa * 2^e2 as
 * a 96-bit integer over 10^scale, rounded to the ~7 digits an f32 carries. */
static bool base2_to_decimal(m96_t *m, int e2, uint32_t *scale)
{
    int e5 = -e2, e10 = e2;
    while (e5 > 0) {
        if ((m->w[0] & 1) == 0) {
            e10++, e5--;
            m96_shr1(m);
        } else {
            e5--;
            m96_t t = *m;
            if (m96_mul(&t, 5) == 0) {
                *m = t;
            } else {
                e10++;
                m96_shr1(m);
            }
        }
    }
    while (e5 < 0) {
        if ((m->w[2] & 0x80000000u) == 0) {
            e10--, e5++;
            m96_shl1(m);
        } else {
            e5++;
            m96_div(m, 5);
        }
    }
    while (e10 > 0) {
        if (m96_mul(m, 10) != 0)
            return false;
        e10--;
    }
    while (e10 < -28) {
        uint32_t rem = m96_div(m, 10);
        e10++;
        if (m96_zero(m))
            e10 = 0;
        else if (rem >= 5)
            m96_inc(m);
    }
    while (e10 < 0 && ((m->w[0] & 0xff000000u) || m->w[1] || m->w[2])) {
        uint32_t rem = m96_div(m, 10);
        e10++;
        if (rem >= 5)
            m96_inc(m);
    }
    while (e10 < 0) {
        m96_t t = *m;
        if (m96_div(&t, 10) != 0)
            break;
        *m = t;
        e10++;
    }
    *scale = (uint32_t)-e10;
    return true;
}

/* compiler-rt's __powidf2, which Rust's f64::powi calls. */
static double powi(double a, int b)
{
    bool recip = b < 0;
    double r = 1;
    for (;;) {
        if (b & 1)
            r *= a;
        b /= 2;
        if (b == 0)
            break;
        a *= a;
    }
    return recip ? 1 / r : r;
}

__extension__ typedef unsigned __int128 u128_t;

bool ipvm__abi_f32_to_f64(float v, double *out)
{
    if (!isfinite(v))
        return false;
    uint32_t raw;
    memcpy(&raw, &v, 4);
    bool neg = raw >> 31;
    int be = (int)((raw >> 23) & 0xff);
    m96_t m = {{raw & 0x7fffffu, 0, 0}};
    if (be == 0 && m.w[0] == 0) {
        *out = 0.0; /* Decimal zero -> to_i128 -> 0, positive even for -0.0 */
        return true;
    }
    int e2 = be - 127;
    if (be == 0)
        e2 += 1;
    else
        m.w[0] |= 0x800000u;
    e2 -= 23;
    uint32_t scale;
    if (!base2_to_decimal(&m, e2, &scale))
        return false;
    u128_t mant = (u128_t)m.w[2] << 64 | (u128_t)m.w[1] << 32 | m.w[0];
    if (scale == 0) { /* to_i128() as f64 */
        double d = (double)mant;
        *out = neg && mant ? -d : d;
        return true;
    }
    u128_t prec = 1;
    for (uint32_t i = 0; i < scale; i++)
        prec *= 10;
    double frac = (double)(mant % prec) / (double)prec;
    double integral = (double)(mant / prec);
    if (frac == 0) {
        *out = neg ? -integral : integral;
        return true;
    }
    double round_to = powi(10.0, (int)scale);
    double r = round((integral + frac) * round_to) / round_to;
    *out = neg ? -r : r;
    return true;
}

/* ------------------------------------------------------------------- guest memory ---- */
static const uint8_t *at(lift_t *l, const ipvm__wit_type_t *t, uint64_t addr, uint64_t n)
{
    uint64_t size;
    const uint8_t *base = l->mem->base(l->mem->ctx, &size);
    if (base == NULL || addr > size || n > size - addr) {
        ffail(l, t, "guest memory [%" PRIu64 ", +%" PRIu64 ") is out of bounds (%" PRIu64
                    " bytes)",
              addr, n, size);
        return NULL;
    }
    return base + addr;
}

static bool get_le(lift_t *l, const ipvm__wit_type_t *t, uint64_t addr, uint32_t n,
                   uint64_t *v)
{
    const uint8_t *p = at(l, t, addr, n);
    if (p == NULL)
        return false;
    *v = 0;
    for (uint32_t i = 0; i < n; i++)
        *v |= (uint64_t)p[i] << (8 * i);
    return true;
}

/* ------------------------------------------------------------------------- values ---- */

/* A string from the guest. compat: ipld.rs - "null" becomes null and a string that parses as a
 * CID (cid crate's Cid::try_from(&str)) becomes a link. */
static bool homestar_cid(const char *s, size_t n, ipvm_cid_t *cid)
{
    for (size_t i = 0; i + 6 <= n; i++) {
        if (memcmp(s + i, "/ipfs/", 6) == 0) {
            s += i + 6, n -= i + 6;
            break;
        }
    }
    if (n < 2)
        return false;
    ipvm_buf_t b = IPVM_BUF_INIT;
    int rc = n == 46 && s[0] == 'Q' && s[1] == 'm'
                 ? ipvm_base_decode(IPVM_BASE58BTC, s, n, &b, NULL)
                 : ipvm_multibase_decode(s, n, &b, NULL, NULL);
    size_t used;
    bool ok = rc == 0 && b.len > 0 && ipvm_cid_read(cid, b.data, b.len, &used, NULL) == 0;
    ipvm_buf_dispose(&b);
    return ok;
}

static ipvm_ipld_t *lift_string(lift_t *l, const ipvm__wit_type_t *t, uint32_t ptr,
                                uint32_t len)
{
    if (l->mem->encoding != IPVM__ABI_UTF8)
        return ffail(l, t, "the module uses UTF-16 strings, which are not supported");
    const uint8_t *p = at(l, t, ptr, len);
    size_t bad;
    if (p == NULL || !charge(l, t, len + 16))
        return NULL;
    if ((bad = ipvm__utf8_check(p, len)) != SIZE_MAX)
        return ffail(l, t, "string at %u is not UTF-8 (byte %zu of %u)", ptr, bad, len);
    if (len == 4 && memcmp(p, "null", 4) == 0)
        return ipvm_ipld_new_null(l->a);
    ipvm_cid_t cid;
    if (homestar_cid((const char *)p, len, &cid))
        return ipvm_ipld_new_link(l->a, &cid);
    return ipvm_ipld_new_string(l->a, (const char *)p, len);
}

static ipvm_ipld_t *lift_scalar(lift_t *l, const ipvm__wit_type_t *t, uint64_t bits)
{
    switch (t->kind) {
    case IPVM__WIT_BOOL:
        return ipvm_ipld_new_bool(l->a, bits != 0);
    case IPVM__WIT_S8:
        return ipvm_ipld_new_int(l->a, (int8_t)bits);
    case IPVM__WIT_U8:
        return ipvm_ipld_new_int(l->a, (uint8_t)bits);
    case IPVM__WIT_S16:
        return ipvm_ipld_new_int(l->a, (int16_t)bits);
    case IPVM__WIT_U16:
        return ipvm_ipld_new_int(l->a, (uint16_t)bits);
    case IPVM__WIT_S32:
        return ipvm_ipld_new_int(l->a, (int32_t)bits);
    case IPVM__WIT_U32:
        return ipvm_ipld_new_int(l->a, (uint32_t)bits);
    case IPVM__WIT_S64:
        return ipvm_ipld_new_int(l->a, (int64_t)bits);
    case IPVM__WIT_U64:
        return ipvm_ipld_new_uint(l->a, bits);
    case IPVM__WIT_F32: {
        uint32_t b = (uint32_t)bits;
        float f;
        double d;
        memcpy(&f, &b, 4);
        if (!ipvm__abi_f32_to_f64(f, &d))
            return ffail(l, t, "float32 %g has no decimal form (Homestar fails it too)", f);
        return ipvm_ipld_new_float(l->a, d);
    }
    case IPVM__WIT_F64: {
        double d;
        memcpy(&d, &bits, 8);
        return ipvm_ipld_new_float(l->a, d);
    }
    case IPVM__WIT_CHAR: {
        uint32_t c = (uint32_t)bits;
        char s[4];
        size_t n;
        if (c >= 0x110000 || (c >= 0xd800 && c <= 0xdfff))
            return ffail(l, t, "0x%x is not a Unicode scalar value", c);
        if (c < 0x80) {
            s[0] = (char)c, n = 1;
        } else if (c < 0x800) {
            s[0] = (char)(0xc0 | c >> 6), s[1] = (char)(0x80 | (c & 0x3f)), n = 2;
        } else if (c < 0x10000) {
            s[0] = (char)(0xe0 | c >> 12), s[1] = (char)(0x80 | (c >> 6 & 0x3f));
            s[2] = (char)(0x80 | (c & 0x3f)), n = 3;
        } else {
            s[0] = (char)(0xf0 | c >> 18), s[1] = (char)(0x80 | (c >> 12 & 0x3f));
            s[2] = (char)(0x80 | (c >> 6 & 0x3f)), s[3] = (char)(0x80 | (c & 0x3f)), n = 4;
        }
        return ipvm_ipld_new_string(l->a, s, n);
    }
    default:
        return ffail(l, t, "cannot be lifted");
    }
}

static ipvm_ipld_t *load(lift_t *l, const ipvm__wit_type_t *t, uint64_t addr);

static bool is_map_list(const ipvm__wit_type_t *t)
{
    const ipvm__wit_type_t *e = t->elem[0];
    return e->kind == IPVM__WIT_TUPLE && e->n == 2 && e->elem[0]->kind == IPVM__WIT_STRING;
}

/* list<tuple<string, T>> -> map (compat: ipld.rs; a later duplicate key replaces). Keys are
 * the guest's strings as they are. */
static ipvm_ipld_t *lift_map(lift_t *l, const ipvm__wit_type_t *t, uint32_t ptr, uint32_t len)
{
    const ipvm__wit_type_t *tup = t->elem[0];
    ipvm_ipld_t *m = ipvm_ipld_new_map(l->a, len);
    if (m == NULL)
        return oom(l);
    for (uint32_t i = 0; i < len; i++) {
        uint64_t e = (uint64_t)ptr + (uint64_t)i * tup->size, kp, kl;
        size_t old = ipvm__abi_path_index(&l->path, i);
        if (!get_le(l, tup, e + tup->offset[0], 4, &kp) ||
            !get_le(l, tup, e + tup->offset[0] + 4, 4, &kl))
            return NULL;
        const uint8_t *k = at(l, tup->elem[0], kp, kl);
        size_t bad;
        if (k == NULL || !charge(l, tup, kl + 16))
            return NULL;
        if ((bad = ipvm__utf8_check(k, kl)) != SIZE_MAX)
            return ffail(l, tup->elem[0], "key is not UTF-8 (byte %zu)", bad);
        ipvm_ipld_t *v = load(l, tup->elem[1], e + tup->offset[1]);
        if (v == NULL)
            return NULL;
        if (ipvm_ipld_map_set(l->a, m, (const char *)k, kl, v) < 0)
            return oom(l);
        l->path.n = old;
    }
    ipvm_ipld_map_sort(m);
    return m;
}

static ipvm_ipld_t *lift_list(lift_t *l, const ipvm__wit_type_t *t, uint32_t ptr, uint32_t len)
{
    const ipvm__wit_type_t *e = t->elem[0];
    uint64_t bytes = (uint64_t)len * e->size;
    if (ptr % e->align)
        return ffail(l, t, "list pointer %u is not aligned to %u", ptr, e->align);
    const uint8_t *p = at(l, t, ptr, bytes);
    if (p == NULL || !charge(l, t, 16 * (uint64_t)len + 16))
        return NULL;
    /* compat: ipld.rs - list<u8> becomes bytes, but an empty one an empty list */
    if (e->kind == IPVM__WIT_U8 && len > 0) {
        if (!charge(l, t, len))
            return NULL;
        ipvm_ipld_t *b = ipvm_ipld_new_bytes(l->a, p, len);
        return b ? b : oom(l);
    }
    if (is_map_list(t))
        return lift_map(l, t, ptr, len);
    ipvm_ipld_t *list = ipvm_ipld_new_list(l->a, len); /* len was charged: bounded */
    if (list == NULL)
        return oom(l);
    for (uint32_t i = 0; i < len; i++) {
        size_t old = ipvm__abi_path_index(&l->path, i);
        ipvm_ipld_t *v = load(l, e, (uint64_t)ptr + (uint64_t)i * e->size);
        if (v == NULL)
            return NULL;
        if (ipvm_ipld_list_push(l->a, list, v) < 0)
            return oom(l);
        l->path.n = old;
    }
    return list;
}

static ipvm_ipld_t *new_struct(lift_t *l, const ipvm__wit_type_t *t)
{
    ipvm_ipld_t *v = t->kind == IPVM__WIT_RECORD ? ipvm_ipld_new_map(l->a, t->n)
                                                 : ipvm_ipld_new_list(l->a, t->n);
    return v ? v : oom(l);
}

static int struct_add(lift_t *l, const ipvm__wit_type_t *t, ipvm_ipld_t *s, uint32_t i,
                      ipvm_ipld_t *v)
{
    if (t->kind == IPVM__WIT_RECORD)
        return ipvm_ipld_map_set_cstr(l->a, s, t->label[i], v);
    return ipvm_ipld_list_push(l->a, s, v);
}

static size_t item_path(lift_t *l, const ipvm__wit_type_t *t, uint32_t i)
{
    return t->kind == IPVM__WIT_RECORD ? ipvm__abi_path_label(&l->path, t->label[i], strlen(t->label[i]))
                                       : ipvm__abi_path_index(&l->path, i);
}

/* A case and its lifted payload (NULL payload when the case has none). */
static ipvm_ipld_t *lift_case(lift_t *l, const ipvm__wit_type_t *t, uint32_t c,
                              ipvm_ipld_t *payload)
{
    if (t->kind == IPVM__WIT_ENUM)
        return ipvm_ipld_new_cstring(l->a, t->label[c]);
    if (t->kind == IPVM__WIT_OPTION)
        return c ? payload : ipvm_ipld_new_null(l->a);
    if (t->kind == IPVM__WIT_VARIANT) {
        ipvm_ipld_t *m = ipvm_ipld_new_map(l->a, 1);
        ipvm_ipld_t *v = payload ? payload : ipvm_ipld_new_null(l->a);
        if (m == NULL || v == NULL || ipvm_ipld_map_set_cstr(l->a, m, t->label[c], v) < 0)
            return NULL;
        return m;
    }
    /* result: ok(v) -> [v, null], ok() -> [1, null], err(e) -> [null, e], err() -> [null, 1] */
    ipvm_ipld_t *list = ipvm_ipld_new_list(l->a, 2);
    ipvm_ipld_t *v = payload ? payload : ipvm_ipld_new_int(l->a, 1);
    ipvm_ipld_t *n = ipvm_ipld_new_null(l->a);
    if (list == NULL || v == NULL || n == NULL ||
        ipvm_ipld_list_push(l->a, list, c ? n : v) < 0 ||
        ipvm_ipld_list_push(l->a, list, c ? v : n) < 0)
        return NULL;
    return list;
}

static const ipvm__wit_type_t *case_type(const ipvm__wit_type_t *t, uint32_t c)
{
    if (t->kind == IPVM__WIT_ENUM)
        return NULL;
    if (t->kind == IPVM__WIT_OPTION)
        return c ? t->elem[0] : NULL;
    return t->elem[c];
}

static uint32_t ncases(const ipvm__wit_type_t *t)
{
    return t->kind == IPVM__WIT_OPTION ? 2 : t->n;
}

static ipvm_ipld_t *lift_flags(lift_t *l, const ipvm__wit_type_t *t, const uint32_t *words)
{
    ipvm_ipld_t *list = ipvm_ipld_new_list(l->a, 4);
    if (list == NULL)
        return oom(l);
    for (uint32_t i = 0; i < t->n; i++) {
        if (!(words[i / 32] >> (i % 32) & 1))
            continue;
        ipvm_ipld_t *s = ipvm_ipld_new_cstring(l->a, t->label[i]);
        if (s == NULL || ipvm_ipld_list_push(l->a, list, s) < 0)
            return oom(l);
    }
    return list;
}

/* load(): CanonicalABI.md "load" - the value at guest address addr. */
static ipvm_ipld_t *load(lift_t *l, const ipvm__wit_type_t *t, uint64_t addr)
{
    if (addr % t->align)
        return ffail(l, t, "address %" PRIu64 " is not aligned to %u", addr, t->align);
    uint64_t a, b;
    switch (t->kind) {
    case IPVM__WIT_STRING:
    case IPVM__WIT_LIST:
        if (!get_le(l, t, addr, 4, &a) || !get_le(l, t, addr + 4, 4, &b))
            return NULL;
        return t->kind == IPVM__WIT_STRING ? lift_string(l, t, (uint32_t)a, (uint32_t)b)
                                           : lift_list(l, t, (uint32_t)a, (uint32_t)b);
    case IPVM__WIT_RECORD:
    case IPVM__WIT_TUPLE: {
        ipvm_ipld_t *s = new_struct(l, t);
        for (uint32_t i = 0; s && i < t->n; i++) {
            size_t old = item_path(l, t, i);
            ipvm_ipld_t *v = load(l, t->elem[i], addr + t->offset[i]);
            if (v == NULL)
                return NULL;
            if (struct_add(l, t, s, i, v) < 0)
                return oom(l);
            l->path.n = old;
        }
        if (s && t->kind == IPVM__WIT_RECORD)
            ipvm_ipld_map_sort(s);
        return s;
    }
    case IPVM__WIT_OPTION:
    case IPVM__WIT_RESULT:
    case IPVM__WIT_VARIANT:
    case IPVM__WIT_ENUM: {
        if (!get_le(l, t, addr, t->disc_size, &a))
            return NULL;
        if (a >= ncases(t))
            return ffail(l, t, "discriminant %" PRIu64 " is not one of %u cases", a, ncases(t));
        const ipvm__wit_type_t *ct = case_type(t, (uint32_t)a);
        ipvm_ipld_t *payload = ct ? load(l, ct, addr + t->payload_offset) : NULL;
        if (ct && payload == NULL)
            return NULL;
        ipvm_ipld_t *v = lift_case(l, t, (uint32_t)a, payload);
        return v ? v : oom(l);
    }
    case IPVM__WIT_FLAGS: {
        uint32_t words[32] = {0};
        if (t->n <= 16) {
            if (!get_le(l, t, addr, t->size, &a))
                return NULL;
            words[0] = (uint32_t)a;
        }
        for (uint32_t i = 0; t->n > 16 && i < (t->n + 31) / 32; i++) {
            if (!get_le(l, t, addr + 4 * i, 4, &a))
                return NULL;
            words[i] = (uint32_t)a;
        }
        return lift_flags(l, t, words);
    }
    case IPVM__WIT_OWN:
    case IPVM__WIT_BORROW:
        return ffail(l, t, "resource handles cannot be lifted to IPLD");
    default:
        if (!get_le(l, t, addr, t->size, &a) || !charge(l, t, 16))
            return NULL;
        return lift_scalar(l, t, a);
    }
}

/* lift_flat(): CanonicalABI.md "lift_flat" - from t->nflat core values. */
static ipvm_ipld_t *lift_flat(lift_t *l, const ipvm__wit_type_t *t, const uint64_t *v)
{
    switch (t->kind) {
    case IPVM__WIT_STRING:
        return lift_string(l, t, (uint32_t)v[0], (uint32_t)v[1]);
    case IPVM__WIT_LIST:
        return lift_list(l, t, (uint32_t)v[0], (uint32_t)v[1]);
    case IPVM__WIT_RECORD:
    case IPVM__WIT_TUPLE: {
        ipvm_ipld_t *s = new_struct(l, t);
        for (uint32_t i = 0; s && i < t->n; i++) {
            size_t old = item_path(l, t, i);
            ipvm_ipld_t *x = lift_flat(l, t->elem[i], v);
            if (x == NULL)
                return NULL;
            if (struct_add(l, t, s, i, x) < 0)
                return oom(l);
            v += t->elem[i]->nflat;
            l->path.n = old;
        }
        if (s && t->kind == IPVM__WIT_RECORD)
            ipvm_ipld_map_sort(s);
        return s;
    }
    case IPVM__WIT_OPTION:
    case IPVM__WIT_RESULT:
    case IPVM__WIT_VARIANT:
    case IPVM__WIT_ENUM: {
        uint32_t c = (uint32_t)v[0];
        if (c >= ncases(t))
            return ffail(l, t, "discriminant %u is not one of %u cases", c, ncases(t));
        const ipvm__wit_type_t *ct = case_type(t, c);
        /* the payload's values are the low bits of the joined slots (wrap, reinterpret) */
        ipvm_ipld_t *payload = ct ? lift_flat(l, ct, v + 1) : NULL;
        if (ct && payload == NULL)
            return NULL;
        ipvm_ipld_t *x = lift_case(l, t, c, payload);
        return x ? x : oom(l);
    }
    case IPVM__WIT_FLAGS: {
        uint32_t words[32] = {0};
        for (uint32_t i = 0; i < t->nflat; i++)
            words[i] = (uint32_t)v[i];
        return lift_flags(l, t, words);
    }
    case IPVM__WIT_OWN:
    case IPVM__WIT_BORROW:
        return ffail(l, t, "resource handles cannot be lifted to IPLD");
    default:
        if (!charge(l, t, 16))
            return NULL;
        return lift_scalar(l, t, v[0]);
    }
}

int ipvm__abi_lift_results(const ipvm__wit_func_t *f, ipvm__abi_mem_t *mem,
                           const uint64_t *flat, ipvm_arena_t *arena, ipvm_ipld_t **out,
                           ipvm_error_t *err)
{
    lift_t l = {.mem = mem, .a = arena, .err = err};
    ipvm_error_clear(err);
    *out = NULL;
    if (f->nresults == 0) {
        *out = ipvm_ipld_new_null(arena);
    } else if (!f->results_spill) {
        *out = f->nresults == 1 ? lift_flat(&l, f->results[0].type, flat)
                                : lift_flat(&l, f->results_tuple, flat);
    } else {
        uint32_t ptr = (uint32_t)flat[0];
        *out = f->nresults == 1 ? load(&l, f->results[0].type, ptr)
                                : load(&l, f->results_tuple, ptr);
    }
    if (*out)
        return 0;
    if (l.code == 0)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return l.code;
}
