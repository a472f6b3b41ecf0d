/* SPDX-License-Identifier: Apache-2.0 */
/* A small WIT reader and encoder: one world of exported functions (and the records, variants,
 * enums, flags and type aliases they use) into the payload of a `component-type:*` custom
 * section, laid out as wit-component writes it (component-model/design/mvp/WIT.md and
 * Binary.md), so a core module from any compiler carries its WIT types. Imports are not
 * supported; the engine binds a module's imports by name. */
#include "wasm/abi_int.h"
#include "ipvm_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct named_s {
    const char *name;
    const ipvm__wit_type_t *type;
    uint32_t idx; /* type index in the world once emitted */
} named_t;

typedef struct wit_s {
    const char *p, *end, *start;
    ipvm_arena_t *a;
    ipvm_error_t *err;
    named_t named[256];
    size_t nnamed;
    /* encoder state */
    ipvm_buf_t decls;
    uint32_t ndecls, ntypes;
    const char *memo_key[512];
    uint32_t memo_idx[512];
    size_t nmemo;
} wit_t;

static int werr(wit_t *w, const char *fmt, ...) IPVM_PRINTF(2, 3);
static int werr(wit_t *w, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t line = 1, col = 1;
    for (const char *q = w->start; q < w->p; q++)
        q[0] == '\n' ? (line++, col = 1) : col++;
    ipvm_error_set(w->err, IPVM_EINVAL, (size_t)(w->p - w->start), "WIT %zu:%zu: %s", line, col,
                   msg);
    return IPVM_EINVAL;
}

/* ------------------------------------------------------------------------- lexing ---- */
static void skip_space(wit_t *w)
{
    for (;;) {
        while (w->p < w->end && isspace((unsigned char)*w->p))
            w->p++;
        if (w->end - w->p >= 2 && w->p[0] == '/' && w->p[1] == '/') {
            while (w->p < w->end && *w->p != '\n')
                w->p++;
        } else if (w->end - w->p >= 2 && w->p[0] == '/' && w->p[1] == '*') {
            const char *q = w->p + 2;
            while (q + 1 < w->end && !(q[0] == '*' && q[1] == '/'))
                q++;
            w->p = q + 1 < w->end ? q + 2 : w->end;
        } else {
            return;
        }
    }
}

static bool id_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '%';
}

/* The next identifier (kebab-case, optionally %-escaped), in the arena. */
static int ident(wit_t *w, const char **out)
{
    skip_space(w);
    const char *s = w->p;
    while (w->p < w->end && id_char(*w->p))
        w->p++;
    if (w->p == s)
        return werr(w, "expected a name");
    if (*s == '%')
        s++;
    if ((*out = ipvm_arena_strndup(w->a, s, (size_t)(w->p - s))) == NULL)
        return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return 0;
}

static bool peek(wit_t *w, const char *tok)
{
    skip_space(w);
    size_t n = strlen(tok);
    if ((size_t)(w->end - w->p) < n || memcmp(w->p, tok, n) != 0)
        return false;
    return !(id_char(tok[n - 1]) && w->p + n < w->end && id_char(w->p[n]));
}

static bool accept(wit_t *w, const char *tok)
{
    if (!peek(w, tok))
        return false;
    w->p += strlen(tok);
    return true;
}

static int expect(wit_t *w, const char *tok)
{
    return accept(w, tok) ? 0 : werr(w, "expected \"%s\"", tok);
}

/* ------------------------------------------------------------------------ parsing ---- */
static int type_(wit_t *w, const ipvm__wit_type_t **out);

static int mk(wit_t *w, ipvm__wit_kind_t k, uint32_t n, const ipvm__wit_type_t **elem,
              const char **label, const ipvm__wit_type_t **out)
{
    const char *why;
    *out = ipvm__wit_type_new(w->a, k, n, elem, label, &why);
    if (*out)
        return 0;
    return why ? werr(w, "%s", why)
               : ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
}

static int generic(wit_t *w, ipvm__wit_kind_t k, const ipvm__wit_type_t **out)
{
    const ipvm__wit_type_t *e[64] = {0};
    uint32_t n = 0;
    if (k == IPVM__WIT_RESULT && !peek(w, "<"))
        goto done;
    IPVM__TRY(expect(w, "<"));
    do {
        if (n == 64)
            return werr(w, "more than 64 type arguments");
        if (k == IPVM__WIT_RESULT && n == 0 && accept(w, "_"))
            e[n++] = NULL;
        else
            IPVM__TRY(type_(w, &e[n++]));
    } while (accept(w, ","));
    IPVM__TRY(expect(w, ">"));
done:
    if ((k == IPVM__WIT_LIST || k == IPVM__WIT_OPTION) && n != 1)
        return werr(w, "list and option take one type");
    if (k == IPVM__WIT_RESULT && n > 2)
        return werr(w, "result takes at most two types");
    uint32_t m = k == IPVM__WIT_RESULT ? 2 : n;
    const ipvm__wit_type_t **elem = ipvm_arena_calloc(w->a, m + 1, sizeof *elem);
    if (elem == NULL)
        return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    memcpy(elem, e, n * sizeof *elem);
    return mk(w, k, m, elem, NULL, out);
}

static int type_(wit_t *w, const ipvm__wit_type_t **out)
{
    static const struct {
        const char *name;
        ipvm__wit_kind_t kind;
    } prims[] = {{"bool", IPVM__WIT_BOOL},     {"s8", IPVM__WIT_S8},       {"u8", IPVM__WIT_U8},
                 {"s16", IPVM__WIT_S16},       {"u16", IPVM__WIT_U16},     {"s32", IPVM__WIT_S32},
                 {"u32", IPVM__WIT_U32},       {"s64", IPVM__WIT_S64},     {"u64", IPVM__WIT_U64},
                 {"f32", IPVM__WIT_F32},       {"float32", IPVM__WIT_F32}, {"f64", IPVM__WIT_F64},
                 {"float64", IPVM__WIT_F64},   {"char", IPVM__WIT_CHAR},
                 {"string", IPVM__WIT_STRING}};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
        if (accept(w, prims[i].name)) {
            *out = ipvm__wit_prim(prims[i].kind);
            return 0;
        }
    }
    if (accept(w, "list"))
        return generic(w, IPVM__WIT_LIST, out);
    if (accept(w, "option"))
        return generic(w, IPVM__WIT_OPTION, out);
    if (accept(w, "result"))
        return generic(w, IPVM__WIT_RESULT, out);
    if (accept(w, "tuple"))
        return generic(w, IPVM__WIT_TUPLE, out);
    const char *name;
    const char *at = w->p;
    IPVM__TRY(ident(w, &name));
    for (size_t i = 0; i < w->nnamed; i++) {
        if (strcmp(w->named[i].name, name) == 0) {
            *out = w->named[i].type;
            return 0;
        }
    }
    w->p = at;
    return werr(w, "unknown type \"%s\" (types must be defined before use)", name);
}

/* record/variant/enum/flags NAME { items } */
static int typedef_items(wit_t *w, ipvm__wit_kind_t k, const ipvm__wit_type_t **out)
{
    const ipvm__wit_type_t *e[256] = {0};
    const char *l[256] = {0};
    uint32_t n = 0;
    IPVM__TRY(expect(w, "{"));
    while (!accept(w, "}")) {
        if (n == 256)
            return werr(w, "more than 256 items");
        IPVM__TRY(ident(w, &l[n]));
        if (k == IPVM__WIT_RECORD) {
            IPVM__TRY(expect(w, ":"));
            IPVM__TRY(type_(w, &e[n]));
        } else if (k == IPVM__WIT_VARIANT && accept(w, "(")) {
            IPVM__TRY(type_(w, &e[n]));
            IPVM__TRY(expect(w, ")"));
        }
        n++;
        if (!accept(w, ",")) {
            IPVM__TRY(expect(w, "}"));
            break;
        }
    }
    const ipvm__wit_type_t **elem = NULL;
    const char **label = ipvm_arena_calloc(w->a, n + 1, sizeof *label);
    if (k == IPVM__WIT_RECORD || k == IPVM__WIT_VARIANT)
        elem = ipvm_arena_calloc(w->a, n + 1, sizeof *elem);
    if (label == NULL || ((k == IPVM__WIT_RECORD || k == IPVM__WIT_VARIANT) && elem == NULL))
        return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    memcpy(label, l, n * sizeof *label);
    if (elem)
        memcpy(elem, e, n * sizeof *elem);
    return mk(w, k, n, elem, label, out);
}

static int add_named(wit_t *w, const char *name, const ipvm__wit_type_t *t)
{
    if (w->nnamed == 256)
        return werr(w, "more than 256 named types");
    for (size_t i = 0; i < w->nnamed; i++)
        if (strcmp(w->named[i].name, name) == 0)
            return werr(w, "type \"%s\" defined twice", name);
    ipvm__wit_type_t *copy = ipvm_arena_memdup(w->a, t, sizeof *t);
    if (copy == NULL)
        return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    copy->name = name;
    w->named[w->nnamed++] = (named_t){name, copy, 0};
    return 0;
}

static int params(wit_t *w, ipvm__wit_param_t **out, uint32_t *n)
{
    ipvm__wit_param_t p[64];
    *n = 0;
    IPVM__TRY(expect(w, "("));
    while (!accept(w, ")")) {
        if (*n == 64)
            return werr(w, "more than 64 parameters");
        IPVM__TRY(ident(w, &p[*n].name));
        IPVM__TRY(expect(w, ":"));
        IPVM__TRY(type_(w, &p[*n].type));
        (*n)++;
        if (!accept(w, ",")) {
            IPVM__TRY(expect(w, ")"));
            break;
        }
    }
    *out = ipvm_arena_memdup(w->a, p, (*n ? *n : 1) * sizeof *p);
    return *out ? 0 : ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
}

static int functype(wit_t *w, ipvm__wit_func_t **out)
{
    ipvm__wit_func_t *f = ipvm_arena_calloc(w->a, 1, sizeof *f);
    if (f == NULL)
        return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    IPVM__TRY(expect(w, "func"));
    IPVM__TRY(params(w, &f->params, &f->nparams));
    if (accept(w, "->")) {
        if (peek(w, "(")) {
            f->named_results = true;
            IPVM__TRY(params(w, &f->results, &f->nresults));
        } else {
            f->results = ipvm_arena_calloc(w->a, 1, sizeof *f->results);
            if (f->results == NULL)
                return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
            f->nresults = 1;
            IPVM__TRY(type_(w, &f->results[0].type));
        }
    } else {
        f->named_results = true; /* no results: an empty named list, as wit-component writes */
    }
    if (ipvm__wit_func_finish(w->a, f) < 0)
        return ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    *out = f;
    return 0;
}

/* ----------------------------------------------------------------------- encoding ---- */
static int put_u32(ipvm_buf_t *b, uint32_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        IPVM__TRY(ipvm_buf_append_byte(b, c));
    } while (v);
    return 0;
}

static int put_s33(ipvm_buf_t *b, int64_t v)
{
    for (;;) {
        uint8_t c = v & 0x7f;
        v >>= 7;
        bool done = (v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40));
        IPVM__TRY(ipvm_buf_append_byte(b, done ? c : (uint8_t)(c | 0x80)));
        if (done)
            return 0;
    }
}

static int put_name(ipvm_buf_t *b, const char *s)
{
    IPVM__TRY(put_u32(b, (uint32_t)strlen(s)));
    return ipvm_buf_append_str(b, s);
}

static int valtype(wit_t *w, const ipvm__wit_type_t *t, ipvm_buf_t *dst);

/* The defvaltype bytes of a compound type, its children emitted first. */
static int defvaltype(wit_t *w, const ipvm__wit_type_t *t, ipvm_buf_t *b)
{
    static const uint8_t code[] = {[IPVM__WIT_LIST] = 0x70,   [IPVM__WIT_RECORD] = 0x72,
                                   [IPVM__WIT_TUPLE] = 0x6f,  [IPVM__WIT_VARIANT] = 0x71,
                                   [IPVM__WIT_ENUM] = 0x6d,   [IPVM__WIT_OPTION] = 0x6b,
                                   [IPVM__WIT_RESULT] = 0x6a, [IPVM__WIT_FLAGS] = 0x6e};
    IPVM__TRY(ipvm_buf_append_byte(b, code[t->kind]));
    switch (t->kind) {
    case IPVM__WIT_LIST:
    case IPVM__WIT_OPTION:
        return valtype(w, t->elem[0], b);
    case IPVM__WIT_RESULT:
        for (int i = 0; i < 2; i++) {
            IPVM__TRY(ipvm_buf_append_byte(b, t->elem[i] != NULL));
            if (t->elem[i])
                IPVM__TRY(valtype(w, t->elem[i], b));
        }
        return 0;
    default:
        IPVM__TRY(put_u32(b, t->n));
        for (uint32_t i = 0; i < t->n; i++) {
            if (t->label)
                IPVM__TRY(put_name(b, t->label[i]));
            if (t->kind == IPVM__WIT_VARIANT) {
                IPVM__TRY(ipvm_buf_append_byte(b, t->elem[i] != NULL));
                if (t->elem[i])
                    IPVM__TRY(valtype(w, t->elem[i], b));
                IPVM__TRY(ipvm_buf_append_byte(b, 0)); /* no refinement */
            } else if (t->elem) {
                IPVM__TRY(valtype(w, t->elem[i], b));
            }
        }
        return 0;
    }
}

/* Emits a type declaration; returns its index. */
static int emit_type(wit_t *w, const ipvm_buf_t *body, uint32_t *idx)
{
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x01));
    IPVM__TRY(ipvm_buf_append(&w->decls, body->data, body->len));
    w->ndecls++;
    *idx = w->ntypes++;
    return 0;
}

static int valtype(wit_t *w, const ipvm__wit_type_t *t, ipvm_buf_t *dst)
{
    if (t->kind <= IPVM__WIT_STRING) {
        static const uint8_t prim[] = {0, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x7a, 0x79,
                                       0x78, 0x77, 0x76, 0x75, 0x74, 0x73};
        return ipvm_buf_append_byte(dst, prim[t->kind]);
    }
    for (size_t i = 0; t->name && i < w->nnamed; i++)
        if (w->named[i].type == t)
            return put_s33(dst, w->named[i].idx);
    /* anonymous types are shared by structure, as wit-component does */
    ipvm_buf_t key = IPVM_BUF_INIT, body = IPVM_BUF_INIT;
    ipvm__wit_type_render(t, true, &key);
    int rc = 0;
    for (size_t i = 0; i < w->nmemo; i++) {
        if (key.data && strcmp(w->memo_key[i], (const char *)key.data) == 0) {
            rc = put_s33(dst, w->memo_idx[i]);
            goto done;
        }
    }
    uint32_t idx = 0;
    if ((rc = defvaltype(w, t, &body)) < 0 || (rc = emit_type(w, &body, &idx)) < 0)
        goto done;
    if (w->nmemo < 512 && key.data) {
        w->memo_key[w->nmemo] = ipvm_arena_strdup(w->a, (const char *)key.data);
        w->memo_idx[w->nmemo++] = idx;
    }
    rc = put_s33(dst, idx);
done:
    ipvm_buf_dispose(&key);
    ipvm_buf_dispose(&body);
    return rc;
}

/* A named type: its definition, then an import that names it (wit-component's layout). */
static int emit_named(wit_t *w, named_t *n)
{
    ipvm_buf_t body = IPVM_BUF_INIT;
    uint32_t idx = 0;
    int rc;
    if (n->type->kind <= IPVM__WIT_STRING) {
        rc = valtype(w, n->type, &body); /* type x = u32: a primitive defvaltype */
    } else {
        rc = defvaltype(w, n->type, &body);
    }
    if (rc == 0)
        rc = emit_type(w, &body, &idx);
    ipvm_buf_dispose(&body);
    IPVM__TRY(rc);
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x03));
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x00));
    IPVM__TRY(put_name(&w->decls, n->name));
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x03));
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x00));
    IPVM__TRY(put_u32(&w->decls, idx));
    w->ndecls++;
    n->idx = w->ntypes++;
    return 0;
}

static int emit_params(wit_t *w, const ipvm__wit_param_t *p, uint32_t n, ipvm_buf_t *b)
{
    IPVM__TRY(put_u32(b, n));
    for (uint32_t i = 0; i < n; i++) {
        IPVM__TRY(put_name(b, p[i].name));
        IPVM__TRY(valtype(w, p[i].type, b));
    }
    return 0;
}

static int emit_func(wit_t *w, const char *name, const ipvm__wit_func_t *f)
{
    ipvm_buf_t body = IPVM_BUF_INIT, key = IPVM_BUF_INIT;
    uint32_t idx = UINT32_MAX;
    /* equal function types are declared once, as wit-component does */
    ipvm__wit_func_render(f, &key);
    for (size_t i = 0; i < w->nmemo; i++)
        if (key.data && strcmp(w->memo_key[i], (const char *)key.data) == 0)
            idx = w->memo_idx[i];
    int rc = idx != UINT32_MAX ? 0 : ipvm_buf_append_byte(&body, 0x40);
    if (idx != UINT32_MAX)
        goto exported;
    if (rc == 0)
        rc = emit_params(w, f->params, f->nparams, &body);
    if (rc == 0 && f->named_results) {
        if ((rc = ipvm_buf_append_byte(&body, 0x01)) == 0)
            rc = emit_params(w, f->results, f->nresults, &body);
    } else if (rc == 0) {
        if ((rc = ipvm_buf_append_byte(&body, 0x00)) == 0)
            rc = valtype(w, f->results[0].type, &body);
    }
    if (rc == 0)
        rc = emit_type(w, &body, &idx);
    if (rc == 0 && w->nmemo < 512 && key.data) {
        w->memo_key[w->nmemo] = ipvm_arena_strdup(w->a, (const char *)key.data);
        w->memo_idx[w->nmemo++] = idx;
    }
exported:
    ipvm_buf_dispose(&body);
    ipvm_buf_dispose(&key);
    IPVM__TRY(rc);
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x04));
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x00));
    IPVM__TRY(put_name(&w->decls, name));
    IPVM__TRY(ipvm_buf_append_byte(&w->decls, 0x01));
    IPVM__TRY(put_u32(&w->decls, idx));
    w->ndecls++;
    return 0;
}

static int section(ipvm_buf_t *out, uint8_t id, const ipvm_buf_t *body)
{
    IPVM__TRY(ipvm_buf_append_byte(out, id));
    IPVM__TRY(put_u32(out, (uint32_t)body->len));
    return ipvm_buf_append(out, body->data, body->len);
}

/* The component binary around the world's declarations. */
static int finish(wit_t *w, const char *qualified, const char *world, ipvm_buf_t *out)
{
    static const uint8_t preamble[8] = {0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00};
    ipvm_buf_t s = IPVM_BUF_INIT;
    int rc = ipvm_buf_append(out, preamble, 8);
    /* custom "wit-component-encoding": version 4, UTF-8 strings */
    if (rc == 0 && (rc = put_name(&s, "wit-component-encoding")) == 0 &&
        (rc = ipvm_buf_append(&s, "\x04\x00", 2)) == 0)
        rc = section(out, 0, &s);
    ipvm_buf_clear(&s);
    if (rc == 0)
        rc = ipvm_buf_append(&s, "\x01\x41\x02\x01\x41", 5);
    if (rc == 0 && (rc = put_u32(&s, w->ndecls)) == 0 &&
        (rc = ipvm_buf_append(&s, w->decls.data, w->decls.len)) == 0 &&
        (rc = ipvm_buf_append(&s, "\x04\x01", 2)) == 0 && (rc = put_name(&s, qualified)) == 0 &&
        (rc = ipvm_buf_append(&s, "\x04\x00", 2)) == 0)
        rc = section(out, 7, &s);
    ipvm_buf_clear(&s);
    if (rc == 0 && (rc = ipvm_buf_append(&s, "\x01\x00", 2)) == 0 &&
        (rc = put_name(&s, world)) == 0 && (rc = ipvm_buf_append(&s, "\x03\x00\x00", 3)) == 0)
        rc = section(out, 11, &s);
    ipvm_buf_dispose(&s);
    return rc < 0 ? ipvm_error_set(w->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory") : 0;
}

static int package(wit_t *w, char *pkg, size_t cap)
{
    const char *s = w->p;
    while (w->p < w->end && *w->p != ';')
        w->p++;
    if (w->p == w->end)
        return werr(w, "package declaration without \";\"");
    const char *b = s, *e = w->p;
    while (b < e && isspace((unsigned char)*b))
        b++;
    while (e > b && isspace((unsigned char)e[-1]))
        e--;
    snprintf(pkg, cap, "%.*s", (int)(e - b), b);
    w->p++;
    return 0;
}

static int world_body(wit_t *w)
{
    IPVM__TRY(expect(w, "{"));
    while (!accept(w, "}")) {
        const char *name;
        static const struct {
            const char *kw;
            ipvm__wit_kind_t kind;
        } defs[] = {{"record", IPVM__WIT_RECORD}, {"variant", IPVM__WIT_VARIANT},
                    {"enum", IPVM__WIT_ENUM},     {"flags", IPVM__WIT_FLAGS}};
        bool done = false;
        for (size_t i = 0; i < 4 && !done; i++) {
            if (accept(w, defs[i].kw)) {
                const ipvm__wit_type_t *t = NULL;
                IPVM__TRY(ident(w, &name));
                IPVM__TRY(typedef_items(w, defs[i].kind, &t));
                IPVM__TRY(add_named(w, name, t));
                IPVM__TRY(emit_named(w, &w->named[w->nnamed - 1]));
                done = true;
            }
        }
        if (done)
            continue;
        if (accept(w, "type")) {
            const ipvm__wit_type_t *t = NULL;
            IPVM__TRY(ident(w, &name));
            IPVM__TRY(expect(w, "="));
            IPVM__TRY(type_(w, &t));
            IPVM__TRY(expect(w, ";"));
            IPVM__TRY(add_named(w, name, t));
            IPVM__TRY(emit_named(w, &w->named[w->nnamed - 1]));
        } else if (accept(w, "export")) {
            ipvm__wit_func_t *f = NULL;
            IPVM__TRY(ident(w, &name));
            IPVM__TRY(expect(w, ":"));
            IPVM__TRY(functype(w, &f));
            IPVM__TRY(expect(w, ";"));
            IPVM__TRY(emit_func(w, name, f));
        } else if (peek(w, "import") || peek(w, "include") || peek(w, "use")) {
            return werr(w, "imports, includes and uses are not supported: declare only exports "
                           "and the types they use (the engine links imports by name)");
        } else {
            return werr(w, "expected export, record, variant, enum, flags or type");
        }
    }
    return 0;
}

int ipvm__abi_wit_encode(const char *text, size_t len, ipvm_buf_t *out, const char **world_out,
                         ipvm_arena_t *arena, ipvm_error_t *err)
{
    wit_t *w = ipvm_calloc(1, sizeof *w);
    if (w == NULL)
        return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    w->p = w->start = text;
    w->end = text + len;
    w->a = arena;
    w->err = err;
    char pkg[256] = "ipvm:local";
    const char *world = NULL;
    int rc = 0;
    if (accept(w, "package"))
        rc = package(w, pkg, sizeof pkg);
    if (rc == 0 && (rc = expect(w, "world")) == 0 && (rc = ident(w, &world)) == 0)
        rc = world_body(w);
    skip_space(w);
    if (rc == 0 && w->p != w->end)
        rc = werr(w, "only one world per file is supported");
    if (rc == 0) {
        /* "ns:pkg@1.0" + world -> "ns:pkg/world@1.0" */
        char q[600];
        const char *at = strchr(pkg, '@');
        if (at)
            snprintf(q, sizeof q, "%.*s/%s%s", (int)(at - pkg), pkg, world, at);
        else
            snprintf(q, sizeof q, "%s/%s", pkg, world);
        rc = finish(w, q, world, out);
        *world_out = world;
    }
    ipvm_buf_dispose(&w->decls);
    ipvm_free(w);
    return rc;
}

int ipvm__abi_wit_embed(const uint8_t *mod, size_t len, const uint8_t *payload, size_t plen,
                        const char *world, ipvm_buf_t *out)
{
    if (len < 8 || memcmp(mod, "\0asm\1\0\0\0", 8) != 0)
        return IPVM_EWASM;
    char name[300];
    snprintf(name, sizeof name, "component-type:ipvm:%s:%s:encoded world", IPVM_VERSION_STRING,
             world);
    ipvm_buf_t s = IPVM_BUF_INIT;
    int rc = put_name(&s, name);
    if (rc == 0)
        rc = ipvm_buf_append(&s, payload, plen);
    if (rc == 0)
        rc = ipvm_buf_append(out, mod, len);
    if (rc == 0)
        rc = section(out, 0, &s);
    ipvm_buf_dispose(&s);
    return rc;
}
