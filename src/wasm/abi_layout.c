/* SPDX-License-Identifier: Apache-2.0 */
/* WIT value types and their canonical ABI layout: alignment, size, discriminants, field
 * offsets and flattening to core values (component-model/design/mvp/CanonicalABI.md,
 * "alignment", "elem_size", "flatten_type", "flatten_functype"), and rendering in WIT syntax
 * for `ipvm wasm inspect` and error messages. */
#include "wasm/abi_int.h"
#include "wasm/wasm_int.h"

#include <stdio.h>
#include <string.h>

#define I32 IPVM__WASM_I32
#define I64 IPVM__WASM_I64
#define F32 IPVM__WASM_F32
#define F64 IPVM__WASM_F64
#define FLAT_MANY (IPVM__ABI_MAX_FLAT_PARAMS + 1)

#define PRIM(k, sz, fl) {(k), 0, NULL, NULL, NULL, NULL, (sz), (sz), 0, 0, 1, {(fl)}, 1}
static const ipvm__wit_type_t prims[] = {
    PRIM(IPVM__WIT_BOOL, 1, I32), PRIM(IPVM__WIT_S8, 1, I32),   PRIM(IPVM__WIT_U8, 1, I32),
    PRIM(IPVM__WIT_S16, 2, I32),  PRIM(IPVM__WIT_U16, 2, I32),  PRIM(IPVM__WIT_S32, 4, I32),
    PRIM(IPVM__WIT_U32, 4, I32),  PRIM(IPVM__WIT_S64, 8, I64),  PRIM(IPVM__WIT_U64, 8, I64),
    PRIM(IPVM__WIT_F32, 4, F32),  PRIM(IPVM__WIT_F64, 8, F64),  PRIM(IPVM__WIT_CHAR, 4, I32),
    {IPVM__WIT_STRING, 0, NULL, NULL, NULL, NULL, 8, 4, 0, 0, 2, {I32, I32}, 1},
};

const ipvm__wit_type_t *ipvm__wit_prim(ipvm__wit_kind_t kind)
{
    IPVM_MISUSE_IF(kind < IPVM__WIT_BOOL || kind > IPVM__WIT_STRING);
    return &prims[kind - IPVM__WIT_BOOL];
}

const char *ipvm__wit_kind_name(ipvm__wit_kind_t kind)
{
    static const char *const names[] = {
        "?",      "bool",   "s8",     "u8",      "s16",     "u16",    "s32",    "u32",
        "s64",    "u64",    "f32",    "f64",     "char",    "string", "list",   "record",
        "tuple",  "variant", "enum",  "option",  "result",  "flags",  "own",    "borrow",
    };
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

static uint64_t align_to(uint64_t off, uint32_t align)
{
    return (off + align - 1) / align * align;
}

/* CanonicalABI.md "join": the core type that can hold either. */
static uint8_t join(uint8_t a, uint8_t b)
{
    if (a == b)
        return a;
    if ((a == I32 && b == F32) || (a == F32 && b == I32))
        return I32;
    return I64;
}

static void flat_append(ipvm__wit_type_t *t, const ipvm__wit_type_t *c)
{
    if (t->nflat + c->nflat > IPVM__ABI_MAX_FLAT_PARAMS || c->nflat > IPVM__ABI_MAX_FLAT_PARAMS) {
        t->nflat = FLAT_MANY;
        return;
    }
    memcpy(t->flat + t->nflat, c->flat, c->nflat);
    t->nflat += c->nflat;
}

/* Records and tuples: fields in order, each at its alignment. */
static const char *layout_struct(ipvm_arena_t *a, ipvm__wit_type_t *t)
{
    t->offset = ipvm_arena_alloc(a, (size_t)t->n * sizeof *t->offset + 1);
    if (t->offset == NULL)
        return NULL;
    uint64_t off = 0;
    t->align = 1;
    for (uint32_t i = 0; i < t->n; i++) {
        const ipvm__wit_type_t *f = t->elem[i];
        off = align_to(off, f->align);
        t->offset[i] = (uint32_t)off;
        off += f->size;
        if (off > UINT32_MAX)
            return "type is larger than 4 GiB";
        if (f->align > t->align)
            t->align = f->align;
        if (t->nflat <= IPVM__ABI_MAX_FLAT_PARAMS)
            flat_append(t, f);
    }
    off = align_to(off, t->align);
    if (off > UINT32_MAX)
        return "type is larger than 4 GiB";
    t->size = (uint32_t)off;
    return "";
}

/* Variants, enums, options and results: a discriminant, then the largest case. */
static const char *layout_variant(ipvm__wit_type_t *t)
{
    t->disc_size = t->n <= 256 ? 1 : t->n <= 65536 ? 2 : 4;
    uint32_t case_align = 1;
    uint64_t case_size = 0;
    t->nflat = 1;
    t->flat[0] = I32;
    uint32_t nf = 1;
    for (uint32_t i = 0; i < t->n; i++) {
        const ipvm__wit_type_t *c = t->elem ? t->elem[i] : NULL;
        if (c == NULL)
            continue;
        if (c->align > case_align)
            case_align = c->align;
        if (c->size > case_size)
            case_size = c->size;
        if (nf > IPVM__ABI_MAX_FLAT_PARAMS || c->nflat > IPVM__ABI_MAX_FLAT_PARAMS - 1) {
            nf = FLAT_MANY;
            continue;
        }
        for (uint32_t j = 0; j < c->nflat; j++) {
            if (1 + j < nf)
                t->flat[1 + j] = join(t->flat[1 + j], c->flat[j]);
            else
                t->flat[nf++] = c->flat[j];
        }
    }
    t->nflat = nf;
    t->align = t->disc_size > case_align ? t->disc_size : case_align;
    t->payload_offset = (uint32_t)align_to(t->disc_size, case_align);
    uint64_t size = align_to(t->payload_offset + case_size, t->align);
    if (size > UINT32_MAX)
        return "type is larger than 4 GiB";
    t->size = (uint32_t)size;
    return "";
}

static const char *layout_flags(ipvm__wit_type_t *t)
{
    if (t->n <= 8) {
        t->size = t->align = 1;
    } else if (t->n <= 16) {
        t->size = t->align = 2;
    } else {
        t->align = 4;
        t->size = 4 * ((t->n + 31) / 32);
    }
    uint32_t words = (t->n + 31) / 32;
    t->nflat = words > IPVM__ABI_MAX_FLAT_PARAMS ? FLAT_MANY : words;
    for (uint32_t i = 0; i < t->nflat && i < IPVM__ABI_MAX_FLAT_PARAMS; i++)
        t->flat[i] = I32;
    return "";
}

static const char *check_items(const ipvm__wit_type_t *t)
{
    switch (t->kind) {
    case IPVM__WIT_RECORD:
    case IPVM__WIT_TUPLE:
    case IPVM__WIT_VARIANT:
    case IPVM__WIT_ENUM:
    case IPVM__WIT_FLAGS:
        if (t->n == 0)
            return "a record, tuple, variant, enum or flags type needs at least one item";
        break;
    case IPVM__WIT_LIST:
    case IPVM__WIT_OPTION:
        if (t->n != 1 || t->elem[0] == NULL)
            return "list and option need one element type";
        break;
    case IPVM__WIT_RESULT:
        if (t->n != 2)
            return "result needs two sides";
        break;
    default:
        break;
    }
    if (t->kind == IPVM__WIT_FLAGS && t->n > 1024)
        return "more than 1024 flags";
    if (t->kind == IPVM__WIT_RECORD || t->kind == IPVM__WIT_TUPLE) {
        for (uint32_t i = 0; i < t->n; i++)
            if (t->elem[i] == NULL)
                return "record field without a type";
    }
    return NULL;
}

ipvm__wit_type_t *ipvm__wit_type_new(ipvm_arena_t *arena, ipvm__wit_kind_t kind, uint32_t n,
                                     const ipvm__wit_type_t **elem, const char **label,
                                     const char **why)
{
    *why = NULL;
    ipvm__wit_type_t *t = ipvm_arena_calloc(arena, 1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->kind = kind;
    t->n = n;
    t->elem = elem;
    t->label = label;
    if ((*why = check_items(t)) != NULL)
        return NULL;
    uint32_t depth = 0;
    for (uint32_t i = 0; elem && i < n; i++)
        if (elem[i] && elem[i]->depth > depth)
            depth = elem[i]->depth;
    if (depth + 1 > IPVM__ABI_MAX_DEPTH) {
        *why = "types nested more than 100 deep";
        return NULL;
    }
    t->depth = (uint16_t)(depth + 1);
    const char *r = "";
    switch (kind) {
    case IPVM__WIT_LIST:
        t->size = 8;
        t->align = 4;
        t->nflat = 2;
        t->flat[0] = t->flat[1] = I32;
        break;
    case IPVM__WIT_RECORD:
    case IPVM__WIT_TUPLE:
        r = layout_struct(arena, t);
        break;
    case IPVM__WIT_VARIANT:
    case IPVM__WIT_ENUM:
    case IPVM__WIT_OPTION:
    case IPVM__WIT_RESULT:
        r = layout_variant(t);
        break;
    case IPVM__WIT_FLAGS:
        r = layout_flags(t);
        break;
    case IPVM__WIT_OWN:
    case IPVM__WIT_BORROW:
        t->size = t->align = 4;
        t->nflat = 1;
        t->flat[0] = I32;
        break;
    default:
        ipvm__misuse("ipvm__wit_type_new of a primitive kind", __FILE__, __LINE__);
    }
    if (r == NULL)
        return NULL;
    if (*r) {
        *why = r;
        return NULL;
    }
    return t;
}

static const char *func_unsupported(const ipvm__wit_type_t *t)
{
    if (t == NULL)
        return NULL;
    if (t->kind == IPVM__WIT_OWN || t->kind == IPVM__WIT_BORROW)
        return "resource handles (own/borrow) cannot be passed as IPLD";
    for (uint32_t i = 0; t->elem && i < t->n; i++) {
        const char *w = func_unsupported(t->elem[i]);
        if (w)
            return w;
    }
    return NULL;
}

/* The params or results as one tuple, for spilling them to memory. */
static const ipvm__wit_type_t *as_tuple(ipvm_arena_t *a, const ipvm__wit_param_t *p, uint32_t n)
{
    if (n == 0)
        return NULL;
    const ipvm__wit_type_t **elem = ipvm_arena_alloc(a, n * sizeof *elem);
    if (elem == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        elem[i] = p[i].type;
    const char *why;
    return ipvm__wit_type_new(a, IPVM__WIT_TUPLE, n, elem, NULL, &why);
}

int ipvm__wit_func_finish(ipvm_arena_t *arena, ipvm__wit_func_t *f)
{
    f->params_tuple = as_tuple(arena, f->params, f->nparams);
    f->results_tuple = as_tuple(arena, f->results, f->nresults);
    if ((f->nparams && !f->params_tuple) || (f->nresults && !f->results_tuple))
        return IPVM_ENOMEM; /* depth and size were checked for each part already */
    const ipvm__wit_type_t *pt = f->params_tuple, *rt = f->results_tuple;
    uint32_t np = pt ? pt->nflat : 0, nr = rt ? rt->nflat : 0;
    f->params_spill = np > IPVM__ABI_MAX_FLAT_PARAMS;
    f->nflat_params = f->params_spill ? 1 : np;
    if (f->params_spill)
        f->flat_params[0] = I32;
    else if (np)
        memcpy(f->flat_params, pt->flat, np);
    f->results_spill = nr > IPVM__ABI_MAX_FLAT_RESULTS;
    f->nflat_results = f->results_spill ? 1 : nr;
    if (f->results_spill)
        f->flat_results[0] = I32;
    else if (nr)
        f->flat_results[0] = rt->flat[0];
    f->unsupported = func_unsupported(pt);
    if (f->unsupported == NULL)
        f->unsupported = func_unsupported(rt);
    return 0;
}

/* ------------------------------------------------------------------------ rendering ---- */
#define RENDER_MAX 2000

static void put(ipvm_buf_t *out, const char *s)
{
    if (out->len >= RENDER_MAX)
        return;
    size_t n = strlen(s);
    if (out->len + n > RENDER_MAX) {
        if (ipvm_buf_append(out, s, RENDER_MAX - out->len) == 0 &&
            ipvm_buf_append_str(out, "\xe2\x80\xa6") < 0) /* … */
            return;
        return;
    }
    if (ipvm_buf_append(out, s, n) < 0)
        out->len = RENDER_MAX; /* out of memory: stop rendering */
}

static void render(const ipvm__wit_type_t *t, bool expand, ipvm_buf_t *out);

static void render_items(const ipvm__wit_type_t *t, ipvm_buf_t *out, bool with_types,
                         const char *sep)
{
    for (uint32_t i = 0; i < t->n && out->len < RENDER_MAX; i++) {
        if (i)
            put(out, ", ");
        if (t->label)
            put(out, t->label[i]);
        if (with_types && t->elem && t->elem[i]) {
            put(out, sep);
            render(t->elem[i], false, out);
            if (sep[0] == '(')
                put(out, ")");
        }
    }
}

/* result, result<T>, result<_, E> or result<T, E>. */
static void render_result(const ipvm__wit_type_t *t, ipvm_buf_t *out)
{
    put(out, "result");
    if (t->elem[0] == NULL && t->elem[1] == NULL)
        return;
    put(out, "<");
    if (t->elem[0])
        render(t->elem[0], false, out);
    else
        put(out, "_");
    if (t->elem[1]) {
        put(out, ", ");
        render(t->elem[1], false, out);
    }
    put(out, ">");
}

/* A record, variant, enum or flags: `open`, the items (render_items), " }". */
static void render_braced(const ipvm__wit_type_t *t, ipvm_buf_t *out, const char *open,
                          bool with_types, const char *sep)
{
    put(out, open);
    render_items(t, out, with_types, sep);
    put(out, " }");
}

static void render(const ipvm__wit_type_t *t, bool expand, ipvm_buf_t *out)
{
    if (out->len >= RENDER_MAX)
        return;
    if (t->name && !expand) {
        put(out, t->name);
        return;
    }
    switch (t->kind) {
    case IPVM__WIT_LIST:
    case IPVM__WIT_OPTION:
        put(out, t->kind == IPVM__WIT_LIST ? "list<" : "option<");
        render(t->elem[0], false, out);
        put(out, ">");
        break;
    case IPVM__WIT_TUPLE:
        put(out, "tuple<");
        for (uint32_t i = 0; i < t->n && out->len < RENDER_MAX; i++) {
            if (i)
                put(out, ", ");
            render(t->elem[i], false, out);
        }
        put(out, ">");
        break;
    case IPVM__WIT_RESULT:
        render_result(t, out);
        break;
    case IPVM__WIT_RECORD:
        render_braced(t, out, "record { ", true, ": ");
        break;
    case IPVM__WIT_VARIANT:
        render_braced(t, out, "variant { ", true, "(");
        break;
    case IPVM__WIT_ENUM:
    case IPVM__WIT_FLAGS:
        render_braced(t, out, t->kind == IPVM__WIT_ENUM ? "enum { " : "flags { ", false, "");
        break;
    case IPVM__WIT_OWN:
    case IPVM__WIT_BORROW:
        put(out, t->kind == IPVM__WIT_OWN ? "own<" : "borrow<");
        put(out, t->label && t->label[0] ? t->label[0] : "resource");
        put(out, ">");
        break;
    default:
        put(out, ipvm__wit_kind_name(t->kind));
        break;
    }
}

void ipvm__wit_type_render(const ipvm__wit_type_t *t, bool expand_named, ipvm_buf_t *out)
{
    render(t, expand_named, out);
}

static void render_params(const ipvm__wit_param_t *p, uint32_t n, ipvm_buf_t *out)
{
    for (uint32_t i = 0; i < n && out->len < RENDER_MAX; i++) {
        if (i)
            put(out, ", ");
        put(out, p[i].name ? p[i].name : "_");
        put(out, ": ");
        render(p[i].type, false, out);
    }
}

void ipvm__wit_func_render(const ipvm__wit_func_t *f, ipvm_buf_t *out)
{
    put(out, "func(");
    render_params(f->params, f->nparams, out);
    put(out, ")");
    if (f->named_results && f->nresults) {
        put(out, " -> (");
        render_params(f->results, f->nresults, out);
        put(out, ")");
    } else if (f->nresults == 1) {
        put(out, " -> ");
        render(f->results[0].type, false, out);
    }
}

void ipvm__abi_path_format(const ipvm__abi_path_t *p, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < p->n && o + 1 < cap; i++) {
        int n = p->seg[i].label
                    ? snprintf(out + o, cap - o, ".%.*s", (int)p->seg[i].len, p->seg[i].label)
                    : snprintf(out + o, cap - o, "[%zu]", p->seg[i].idx);
        if (n < 0)
            break;
        o += (size_t)n < cap - o ? (size_t)n : cap - 1 - o;
    }
}
