/* SPDX-License-Identifier: Apache-2.0 */
/* The component model's binary format (component-model/design/mvp/Binary.md, as wit-component
 * 0.200 writes it): the types of a world in a core module's `component-type:*` custom section,
 * and the sections of a component that wraps one core module (canon lift, aliases, exports).
 * A parser of outside bytes: every length and index is checked, errors name the byte offset. */
#include "wasm/abi_int.h"
#include "wasm/wasm_int.h"
#include "ipvm_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { SORT_CORE = 0x00, SORT_FUNC = 0x01, SORT_VALUE = 0x02, SORT_TYPE = 0x03,
       SORT_COMPONENT = 0x04, SORT_INSTANCE = 0x05, SORT_MODULE = 0x11 };
enum { CORE_FUNC = 0x00, CORE_TABLE = 0x01, CORE_MEMORY = 0x02, CORE_GLOBAL = 0x03,
       CORE_TYPE = 0x10, CORE_MODULE = 0x11, CORE_INSTANCE = 0x12 };

typedef enum { E_VAL = 1, E_FUNC, E_COMPONENT, E_INSTANCE, E_RESOURCE } ekind_t;

typedef struct item_s item_t;
typedef struct ent_s {
    ekind_t kind;
    const ipvm__wit_type_t *val; /* E_VAL */
    const ipvm__wit_func_t *func; /* E_FUNC */
    item_t *items;                /* E_COMPONENT/E_INSTANCE: imports and exports, in order */
    size_t nitems, cap;
    const char *rname; /* E_RESOURCE: the name it was declared under */
} ent_t;

struct item_s {
    const char *name;
    uint8_t sort;
    bool import;
    const ent_t *ent; /* NULL when not known */
};

typedef struct vec_s {
    void **v;
    size_t n, cap;
} vec_t;

typedef struct scope_s {
    struct scope_s *outer;
    vec_t types, funcs, instances, components; /* const ent_t * each, NULL when unknown */
    uint32_t nvalues, ncore_types, ncore_modules;
    ent_t *self; /* the component or instance type being declared, NULL at the top */
} scope_t;

/* What the top level of a component holds besides its scope. */
typedef struct cmod_s {
    const uint8_t *p;
    size_t len;
    bool helper; /* wit-component's shim or fixups module */
} cmod_t;
typedef struct cinst_s {
    bool instantiate; /* of module `module`; else inline exports or unknown */
    uint32_t module;
} cinst_t;
typedef struct calias_s {
    bool alias; /* an export `name` of core instance `inst`; else made by canon or unknown */
    uint32_t inst;
    const char *name;
} calias_t;
typedef struct lifted_s {
    uint32_t core_func;
    const ent_t *type;
    int encoding;
    long memory, realloc, post; /* core indexes, -1 when absent */
} lifted_t;
typedef struct rexport_s {
    const char *name;
    uint8_t sort;
    uint32_t idx; /* in the space of sort, after the export added itself */
} rexport_t;

typedef struct comp_s {
    scope_t top;
    vec_t mods, insts, cfuncs, cmems; /* cmod_t, cinst_t, calias_t, calias_t */
    vec_t lifted;                     /* parallel to top.funcs: lifted_t * or NULL */
    vec_t exports;                    /* rexport_t */
    int encoding;
} comp_t;

typedef struct rd_s {
    const uint8_t *buf, *p, *end;
    ipvm_arena_t *a;
    ipvm_error_t *err;
    const char *what;
    comp_t *comp; /* the component whose top level is being read */
} rd_t;

static int fail(rd_t *r, int code, const char *fmt, ...) IPVM_PRINTF(3, 4);
static int fail(rd_t *r, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t off = (size_t)(r->p - r->buf);
    ipvm_error_set(r->err, code, off, "%s: %s (at byte %zu)", r->what, msg, off);
    return code;
}

static int nomem(rd_t *r)
{
    ipvm_error_set(r->err, IPVM_ENOMEM, IPVM_NO_OFFSET, "out of memory");
    return IPVM_ENOMEM;
}

#define BAD(r, ...) fail((r), IPVM_EWASM, __VA_ARGS__)
#define UNSUP(r, ...) fail((r), IPVM_EWASMUNSUPPORTED, __VA_ARGS__)
#define NOMEM(r) nomem(r)

static int vec_push(rd_t *r, vec_t *v, const void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void **nv = ipvm_arena_alloc(r->a, cap * sizeof *nv);
        if (nv == NULL)
            return NOMEM(r);
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = (void *)item;
    return 0;
}

static int vec_get(rd_t *r, const vec_t *v, uint32_t idx, const char *space, const void **out)
{
    if (idx >= v->n)
        return BAD(r, "%s index %u out of range (%zu defined)", space, idx, v->n);
    *out = v->v[idx];
    return 0;
}

/* ------------------------------------------------------------------ primitive reads ---- */
static int rd_u8(rd_t *r, uint8_t *out)
{
    if (r->p >= r->end)
        return BAD(r, "unexpected end");
    *out = *r->p++;
    return 0;
}

static int rd_u32(rd_t *r, uint32_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->p >= r->end)
            return BAD(r, "unexpected end in a LEB128 number");
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (v > UINT32_MAX)
                return BAD(r, "number does not fit in 32 bits");
            *out = (uint32_t)v;
            return 0;
        }
    }
    return BAD(r, "LEB128 number longer than 5 bytes");
}

/* s33 (valtype, heaptype): a type index when >= 0, a one-byte type code when negative. */
static int rd_s33(rd_t *r, int64_t *out)
{
    int64_t v = 0;
    int shift = 0;
    uint8_t b = 0;
    do {
        if (shift >= 35)
            return BAD(r, "s33 number longer than 5 bytes");
        IPVM__TRY(rd_u8(r, &b));
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (b & 0x40)
        v -= (int64_t)1 << shift;
    *out = v;
    return 0;
}

/* A name: u32 length, UTF-8 bytes without NUL. Copied into the arena, NUL-terminated. */
static int rd_name(rd_t *r, const char **out)
{
    uint32_t n = 0;
    IPVM__TRY(rd_u32(r, &n));
    if ((size_t)(r->end - r->p) < n)
        return BAD(r, "name of %u bytes runs past the end", n);
    if (memchr(r->p, 0, n) || ipvm__utf8_check(r->p, n) != SIZE_MAX)
        return BAD(r, "name is not UTF-8 without NUL");
    char *s = ipvm_arena_alloc(r->a, (size_t)n + 1);
    if (s == NULL)
        return NOMEM(r);
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    *out = s;
    return 0;
}

/* importname' / exportname': 0x00 (kebab name) or 0x01 (interface name), then the name. */
static int rd_extern_name(rd_t *r, const char **out)
{
    uint8_t k = 0;
    IPVM__TRY(rd_u8(r, &k));
    if (k > 0x01)
        return UNSUP(r, "import/export name form 0x%02x", k);
    return rd_name(r, out);
}

static int rd_count(rd_t *r, uint32_t *n)
{
    IPVM__TRY(rd_u32(r, n));
    if (*n > (size_t)(r->end - r->p))
        return BAD(r, "count %u larger than the bytes left", *n);
    return 0;
}

/* ---------------------------------------------------------------------- value types ---- */
static const ipvm__wit_type_t *prim_of(uint8_t code)
{
    if (code < 0x73 || code > 0x7f)
        return NULL;
    static const ipvm__wit_kind_t k[] = {
        IPVM__WIT_STRING, IPVM__WIT_CHAR, IPVM__WIT_F64, IPVM__WIT_F32, IPVM__WIT_U64,
        IPVM__WIT_S64,    IPVM__WIT_U32,  IPVM__WIT_S32, IPVM__WIT_U16, IPVM__WIT_S16,
        IPVM__WIT_U8,     IPVM__WIT_S8,   IPVM__WIT_BOOL,
    };
    return ipvm__wit_prim(k[code - 0x73]);
}

static int rd_valtype(rd_t *r, scope_t *s, const ipvm__wit_type_t **out)
{
    int64_t v = 0;
    IPVM__TRY(rd_s33(r, &v));
    if (v < 0) {
        uint8_t code = (uint8_t)(v + 0x80);
        if (v < -0x40 || (*out = prim_of(code)) == NULL)
            return UNSUP(r, "value type 0x%02x", code);
        return 0;
    }
    const ent_t *e = NULL;
    IPVM__TRY(vec_get(r, &s->types, (uint32_t)v, "type", (const void **)&e));
    if (e == NULL || e->kind != E_VAL)
        return BAD(r, "type %u is not a value type", (uint32_t)v);
    *out = e->val;
    return 0;
}

static int rd_opt_valtype(rd_t *r, scope_t *s, const ipvm__wit_type_t **out)
{
    uint8_t has = 0;
    IPVM__TRY(rd_u8(r, &has));
    *out = NULL;
    if (has == 0)
        return 0;
    if (has != 1)
        return BAD(r, "optional type marker 0x%02x", has);
    return rd_valtype(r, s, out);
}

static int new_type(rd_t *r, ipvm__wit_kind_t kind, uint32_t n, const ipvm__wit_type_t **elem,
                    const char **label, const ipvm__wit_type_t **out)
{
    const char *why = NULL;
    *out = ipvm__wit_type_new(r->a, kind, n, elem, label, &why);
    if (*out)
        return 0;
    return why ? BAD(r, "%s", why) : NOMEM(r);
}

static int alloc_items(rd_t *r, uint32_t n, const ipvm__wit_type_t ***elem, const char ***label)
{
    *elem = ipvm_arena_calloc(r->a, (size_t)n + 1, sizeof **elem);
    if (*elem == NULL)
        return NOMEM(r);
    if (label && (*label = ipvm_arena_calloc(r->a, (size_t)n + 1, sizeof **label)) == NULL)
        return NOMEM(r);
    return 0;
}

/* record (0x72), variant (0x71), tuple (0x6f), flags (0x6e), enum (0x6d). */
static int rd_items(rd_t *r, scope_t *s, uint8_t code, const ipvm__wit_type_t **out)
{
    uint32_t n = 0;
    IPVM__TRY(rd_count(r, &n));
    const ipvm__wit_type_t **elem;
    const char **label = NULL;
    IPVM__TRY(alloc_items(r, n, &elem, code == 0x6f ? NULL : &label));
    for (uint32_t i = 0; i < n; i++) {
        if (code != 0x6f)
            IPVM__TRY(rd_name(r, &label[i]));
        if (code == 0x72 || code == 0x6f) {
            IPVM__TRY(rd_valtype(r, s, &elem[i]));
        } else if (code == 0x71) {
            IPVM__TRY(rd_opt_valtype(r, s, &elem[i]));
            uint8_t refines = 0;
            IPVM__TRY(rd_u8(r, &refines));
            if (refines == 1) {
                uint32_t ignored = 0;
                IPVM__TRY(rd_u32(r, &ignored));
            } else if (refines != 0) {
                return BAD(r, "variant case refinement marker 0x%02x", refines);
            }
        }
    }
    static const ipvm__wit_kind_t kinds[] = {IPVM__WIT_ENUM, IPVM__WIT_FLAGS, IPVM__WIT_TUPLE,
                                             0, IPVM__WIT_VARIANT, IPVM__WIT_RECORD};
    if (code == 0x6d || code == 0x6e)
        elem = NULL;
    return new_type(r, kinds[code - 0x6d], n, elem, label, out);
}

static int rd_defvaltype(rd_t *r, scope_t *s, const ipvm__wit_type_t **out)
{
    uint8_t code = *r->p; /* the caller checked that a byte is there */
    if ((*out = prim_of(code)) != NULL) {
        r->p++;
        return 0;
    }
    r->p++;
    const ipvm__wit_type_t **elem;
    const char **label = NULL;
    switch (code) {
    case 0x72:
    case 0x71:
    case 0x6f:
    case 0x6e:
    case 0x6d:
        return rd_items(r, s, code, out);
    case 0x70:
    case 0x6b:
        IPVM__TRY(alloc_items(r, 1, &elem, NULL));
        IPVM__TRY(rd_valtype(r, s, &elem[0]));
        return new_type(r, code == 0x70 ? IPVM__WIT_LIST : IPVM__WIT_OPTION, 1, elem, NULL, out);
    case 0x6a:
        IPVM__TRY(alloc_items(r, 2, &elem, NULL));
        IPVM__TRY(rd_opt_valtype(r, s, &elem[0]));
        IPVM__TRY(rd_opt_valtype(r, s, &elem[1]));
        return new_type(r, IPVM__WIT_RESULT, 2, elem, NULL, out);
    case 0x69:
    case 0x68: {
        uint32_t idx = 0;
        const ent_t *e = NULL;
        IPVM__TRY(rd_u32(r, &idx));
        IPVM__TRY(vec_get(r, &s->types, idx, "type", (const void **)&e));
        if (e == NULL || e->kind != E_RESOURCE)
            return BAD(r, "own/borrow of type %u, which is not a resource", idx);
        IPVM__TRY(alloc_items(r, 1, &elem, &label));
        label[0] = e->rname;
        return new_type(r, code == 0x69 ? IPVM__WIT_OWN : IPVM__WIT_BORROW, 1, elem, label,
                        out);
    }
    default:
        r->p--;
        return UNSUP(r, "value type form 0x%02x (streams, futures and fixed-size lists are "
                        "not supported)",
                     code);
    }
}

/* labelvaltype vector: params or named results. */
static int rd_params(rd_t *r, scope_t *s, ipvm__wit_param_t **out, uint32_t *n)
{
    IPVM__TRY(rd_count(r, n));
    *out = ipvm_arena_calloc(r->a, (size_t)*n + 1, sizeof **out);
    if (*out == NULL)
        return NOMEM(r);
    for (uint32_t i = 0; i < *n; i++) {
        IPVM__TRY(rd_name(r, &(*out)[i].name));
        IPVM__TRY(rd_valtype(r, s, &(*out)[i].type));
    }
    return 0;
}

static int rd_functype(rd_t *r, scope_t *s, ent_t *e)
{
    ipvm__wit_func_t *f = ipvm_arena_calloc(r->a, 1, sizeof *f);
    if (f == NULL)
        return NOMEM(r);
    IPVM__TRY(rd_params(r, s, &f->params, &f->nparams));
    uint8_t form = 0;
    IPVM__TRY(rd_u8(r, &form));
    if (form == 0x00) {
        f->results = ipvm_arena_calloc(r->a, 1, sizeof *f->results);
        if (f->results == NULL)
            return NOMEM(r);
        f->nresults = 1;
        IPVM__TRY(rd_valtype(r, s, &f->results[0].type));
    } else if (form == 0x01) {
        f->named_results = true;
        IPVM__TRY(rd_params(r, s, &f->results, &f->nresults));
    } else {
        return BAD(r, "function result form 0x%02x", form);
    }
    if (ipvm__wit_func_finish(r->a, f) < 0)
        return NOMEM(r);
    e->kind = E_FUNC;
    e->func = f;
    return 0;
}

/* ------------------------------------------------------------------ core types (skip) ---- */
static int skip_core_valtype(rd_t *r)
{
    int64_t v = 0;
    IPVM__TRY(rd_s33(r, &v));
    if (v == -0x1d || v == -0x1c) { /* (ref null? heaptype) */
        int64_t heap = 0;
        return rd_s33(r, &heap);
    }
    return 0;
}

static int skip_limits(rd_t *r)
{
    uint8_t flags = 0;
    uint32_t v = 0;
    IPVM__TRY(rd_u8(r, &flags));
    if (flags > 0x03)
        return UNSUP(r, "core limits form 0x%02x", flags);
    IPVM__TRY(rd_u32(r, &v));
    if (flags & 1)
        IPVM__TRY(rd_u32(r, &v));
    return 0;
}

static int skip_core_importdesc(rd_t *r)
{
    uint8_t k = 0, b = 0;
    uint32_t idx = 0;
    IPVM__TRY(rd_u8(r, &k));
    switch (k) {
    case 0x00: /* func */
        return rd_u32(r, &idx);
    case 0x01: /* table */
        IPVM__TRY(skip_core_valtype(r));
        return skip_limits(r);
    case 0x02: /* memory */
        return skip_limits(r);
    case 0x03: /* global */
        IPVM__TRY(skip_core_valtype(r));
        return rd_u8(r, &b);
    case 0x04: /* tag */
        IPVM__TRY(rd_u8(r, &b));
        return rd_u32(r, &idx);
    default:
        return BAD(r, "core import kind 0x%02x", k);
    }
}

static int skip_core_functype(rd_t *r)
{
    for (int side = 0; side < 2; side++) {
        uint32_t n = 0;
        IPVM__TRY(rd_count(r, &n));
        for (uint32_t i = 0; i < n; i++)
            IPVM__TRY(skip_core_valtype(r));
    }
    return 0;
}

static int skip_core_type(rd_t *r)
{
    uint8_t form = 0;
    IPVM__TRY(rd_u8(r, &form));
    if (form == 0x60)
        return skip_core_functype(r);
    if (form != 0x50)
        return UNSUP(r, "core type form 0x%02x", form);
    uint32_t n = 0;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k = 0, b = 0;
        uint32_t x = 0;
        const char *name = NULL;
        IPVM__TRY(rd_u8(r, &k));
        switch (k) {
        case 0x00: /* import */
            IPVM__TRY(rd_name(r, &name));
            IPVM__TRY(rd_name(r, &name));
            IPVM__TRY(skip_core_importdesc(r));
            break;
        case 0x01: /* type */
            IPVM__TRY(rd_u8(r, &b));
            if (b != 0x60)
                return UNSUP(r, "core type form 0x%02x in a module type", b);
            IPVM__TRY(skip_core_functype(r));
            break;
        case 0x02: /* outer alias */
            IPVM__TRY(rd_u8(r, &b));
            IPVM__TRY(rd_u8(r, &b));
            IPVM__TRY(rd_u32(r, &x));
            IPVM__TRY(rd_u32(r, &x));
            break;
        case 0x03: /* export */
            IPVM__TRY(rd_name(r, &name));
            IPVM__TRY(skip_core_importdesc(r));
            break;
        default:
            return BAD(r, "module type declaration 0x%02x", k);
        }
    }
    return 0;
}

/* --------------------------------------------------------------- index spaces, items ---- */
static int add_item(rd_t *r, ent_t *owner, const char *name, uint8_t sort, bool import,
                    const ent_t *e)
{
    if (owner->nitems == owner->cap) {
        size_t cap = owner->cap ? owner->cap * 2 : 8;
        item_t *ni = ipvm_arena_alloc(r->a, cap * sizeof *ni);
        if (ni == NULL)
            return NOMEM(r);
        if (owner->nitems)
            memcpy(ni, owner->items, owner->nitems * sizeof *ni);
        owner->items = ni;
        owner->cap = cap;
    }
    owner->items[owner->nitems++] = (item_t){name, sort, import, e};
    return 0;
}

/* A value type entry renamed: the same type, with the WIT name it was exported under. */
static const ent_t *named(rd_t *r, const ent_t *e, const char *name)
{
    if (e == NULL || e->kind != E_VAL || e->val->name)
        return e;
    ent_t *ne = ipvm_arena_alloc(r->a, sizeof *ne);
    ipvm__wit_type_t *t = ipvm_arena_alloc(r->a, sizeof *t);
    if (ne == NULL || t == NULL)
        return NULL;
    *t = *e->val;
    t->name = name;
    *ne = *e;
    ne->val = t;
    return ne;
}

/* Adds e to the index space of sort in s. */
static int add_sort(rd_t *r, scope_t *s, uint8_t sort, const ent_t *e)
{
    switch (sort) {
    case SORT_FUNC:
        IPVM__TRY(vec_push(r, &s->funcs, e));
        if (r->comp && s == &r->comp->top)
            IPVM__TRY(vec_push(r, &r->comp->lifted, NULL));
        return 0;
    case SORT_TYPE:
        return vec_push(r, &s->types, e);
    case SORT_INSTANCE:
        return vec_push(r, &s->instances, e);
    case SORT_COMPONENT:
        return vec_push(r, &s->components, e);
    case SORT_VALUE:
        s->nvalues++;
        return 0;
    case SORT_MODULE:
        s->ncore_modules++;
        return 0;
    default:
        return BAD(r, "sort 0x%02x", sort);
    }
}

static int typed_ent(rd_t *r, scope_t *s, ekind_t want, const char *what, const ent_t **out)
{
    uint32_t idx = 0;
    IPVM__TRY(rd_u32(r, &idx));
    IPVM__TRY(vec_get(r, &s->types, idx, "type", (const void **)out));
    if (*out == NULL || (*out)->kind != want)
        return BAD(r, "type %u is not a %s type", idx, what);
    return 0;
}

/* externdesc: what an import or export declares. Sets *sort and *e. */
static int rd_externdesc(rd_t *r, scope_t *s, const char *name, uint8_t *sort, const ent_t **e)
{
    uint8_t k = 0, b = 0;
    uint32_t idx = 0;
    int64_t vt = 0;
    IPVM__TRY(rd_u8(r, &k));
    *e = NULL;
    switch (k) {
    case 0x00:
        IPVM__TRY(rd_u8(r, &b));
        if (b != 0x11)
            return BAD(r, "core extern kind 0x%02x", b);
        *sort = SORT_MODULE;
        return rd_u32(r, &idx);
    case 0x01:
        *sort = SORT_FUNC;
        return typed_ent(r, s, E_FUNC, "function", e);
    case 0x02:
        *sort = SORT_VALUE;
        IPVM__TRY(rd_u8(r, &b));
        return b == 0x00 ? rd_u32(r, &idx) : rd_s33(r, &vt);
    case 0x03:
        *sort = SORT_TYPE;
        IPVM__TRY(rd_u8(r, &b));
        if (b == 0x00) {
            IPVM__TRY(rd_u32(r, &idx));
            IPVM__TRY(vec_get(r, &s->types, idx, "type", (const void **)e));
            if ((*e = named(r, *e, name)) == NULL && s->types.v[idx] != NULL)
                return NOMEM(r);
            return 0;
        }
        if (b != 0x01)
            return BAD(r, "type bound 0x%02x", b);
        ent_t *res = ipvm_arena_calloc(r->a, 1, sizeof *res);
        if (res == NULL)
            return NOMEM(r);
        res->kind = E_RESOURCE;
        res->rname = name;
        *e = res;
        return 0;
    case 0x04:
        *sort = SORT_COMPONENT;
        return typed_ent(r, s, E_COMPONENT, "component", e);
    case 0x05:
        *sort = SORT_INSTANCE;
        return typed_ent(r, s, E_INSTANCE, "instance", e);
    default:
        return BAD(r, "extern kind 0x%02x", k);
    }
}

static int rd_sort(rd_t *r, uint8_t *sort, uint8_t *core_sort)
{
    IPVM__TRY(rd_u8(r, sort));
    *core_sort = 0;
    if (*sort == SORT_CORE)
        return rd_u8(r, core_sort);
    if (*sort > SORT_INSTANCE)
        return BAD(r, "sort 0x%02x", *sort);
    return 0;
}

/* Core-level aliases at the top of a component: core instance exports. */
static int core_alias(rd_t *r, uint8_t core_sort, uint32_t inst, const char *name)
{
    comp_t *c = r->comp;
    calias_t *ca = ipvm_arena_calloc(r->a, 1, sizeof *ca);
    if (ca == NULL)
        return NOMEM(r);
    *ca = (calias_t){true, inst, name};
    switch (core_sort) {
    case CORE_FUNC:
        return vec_push(r, &c->cfuncs, ca);
    case CORE_MEMORY:
        return vec_push(r, &c->cmems, ca);
    case CORE_TABLE:
    case CORE_GLOBAL:
        return 0;
    default:
        return UNSUP(r, "alias of core sort 0x%02x", core_sort);
    }
}

/* An alias of an instance's export (target 0x00): the named export of that sort. */
static int instance_alias(rd_t *r, scope_t *s, uint8_t sort)
{
    uint32_t a = 0;
    const char *name = NULL;
    const ent_t *inst = NULL;
    IPVM__TRY(rd_u32(r, &a));
    IPVM__TRY(rd_name(r, &name));
    if (sort == SORT_CORE)
        return BAD(r, "core sort aliased from a component instance");
    IPVM__TRY(vec_get(r, &s->instances, a, "instance", (const void **)&inst));
    const ent_t *e = NULL;
    bool found = inst == NULL;
    for (size_t i = 0; inst && i < inst->nitems; i++) {
        const item_t *it = &inst->items[i];
        if (!it->import && it->sort == sort && strcmp(it->name, name) == 0) {
            e = it->ent;
            found = true;
            break;
        }
    }
    if (!found)
        return BAD(r, "instance %u has no export \"%s\" of that sort", a, name);
    return add_sort(r, s, sort, e);
}

/* An outer alias (target 0x02): a type or component of an enclosing scope, or a core type or
 * module, which are only counted. */
static int outer_alias(rd_t *r, scope_t *s, uint8_t sort, uint8_t core_sort)
{
    uint32_t a = 0, b = 0;
    IPVM__TRY(rd_u32(r, &a)); /* how many scopes out */
    IPVM__TRY(rd_u32(r, &b));
    scope_t *o = s;
    for (uint32_t i = 0; i < a && o; i++)
        o = o->outer;
    if (o == NULL)
        return BAD(r, "outer alias %u scopes out, past the outermost", a);
    if (sort == SORT_CORE) {
        if (core_sort == CORE_TYPE)
            s->ncore_types++;
        else if (core_sort == CORE_MODULE)
            s->ncore_modules++;
        else
            return BAD(r, "outer alias of core sort 0x%02x", core_sort);
        return 0;
    }
    const ent_t *e = NULL;
    if (sort == SORT_TYPE)
        IPVM__TRY(vec_get(r, &o->types, b, "type", (const void **)&e));
    else if (sort == SORT_COMPONENT)
        IPVM__TRY(vec_get(r, &o->components, b, "component", (const void **)&e));
    else
        return BAD(r, "outer alias of sort 0x%02x", sort);
    return add_sort(r, s, sort, e);
}

static int rd_alias(rd_t *r, scope_t *s)
{
    uint8_t sort = 0, core_sort = 0, target = 0;
    IPVM__TRY(rd_sort(r, &sort, &core_sort));
    IPVM__TRY(rd_u8(r, &target));
    if (target == 0x00)
        return instance_alias(r, s, sort);
    if (target == 0x02)
        return outer_alias(r, s, sort, core_sort);
    if (target != 0x01)
        return BAD(r, "alias target 0x%02x", target);
    /* export of a core instance */
    uint32_t a = 0;
    const char *name = NULL;
    IPVM__TRY(rd_u32(r, &a));
    IPVM__TRY(rd_name(r, &name));
    if (sort != SORT_CORE)
        return BAD(r, "component sort aliased from a core instance");
    if (r->comp == NULL || s != &r->comp->top)
        return BAD(r, "core instance alias inside a type");
    return core_alias(r, core_sort, a, name);
}

static int rd_type(rd_t *r, scope_t *s, const ent_t **out);

/* The declarations of a component type (0x41) or instance type (0x42). */
static int rd_decls(rd_t *r, scope_t *outer, ent_t *self, bool component)
{
    scope_t s = {0};
    s.outer = outer;
    s.self = self;
    uint32_t n = 0;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k = 0, sort = 0;
        const char *name = NULL;
        const ent_t *e = NULL;
        IPVM__TRY(rd_u8(r, &k));
        switch (k) {
        case 0x00:
            IPVM__TRY(skip_core_type(r));
            s.ncore_types++;
            break;
        case 0x01:
            IPVM__TRY(rd_type(r, &s, &e));
            IPVM__TRY(vec_push(r, &s.types, e));
            break;
        case 0x02:
            IPVM__TRY(rd_alias(r, &s));
            break;
        case 0x03:
        case 0x04:
            if (k == 0x03 && !component)
                return BAD(r, "import declared in an instance type");
            IPVM__TRY(rd_extern_name(r, &name));
            IPVM__TRY(rd_externdesc(r, &s, name, &sort, &e));
            IPVM__TRY(add_sort(r, &s, sort, e));
            IPVM__TRY(add_item(r, self, name, sort, k == 0x03, e));
            break;
        default:
            return BAD(r, "declaration kind 0x%02x", k);
        }
    }
    return 0;
}

static int rd_type(rd_t *r, scope_t *s, const ent_t **out)
{
    if (r->p >= r->end)
        return BAD(r, "unexpected end");
    ent_t *e = ipvm_arena_calloc(r->a, 1, sizeof *e);
    if (e == NULL)
        return NOMEM(r);
    *out = e;
    uint8_t form = *r->p;
    if (form == 0x40 || form == 0x41 || form == 0x42 || form == 0x3f)
        r->p++;
    switch (form) {
    case 0x40:
        return rd_functype(r, s, e);
    case 0x41:
    case 0x42:
        e->kind = form == 0x41 ? E_COMPONENT : E_INSTANCE;
        return rd_decls(r, s, e, form == 0x41);
    case 0x3f: {
        uint8_t rep = 0, has = 0;
        uint32_t dtor = 0;
        IPVM__TRY(rd_u8(r, &rep));
        if (rep != 0x7f)
            return BAD(r, "resource representation 0x%02x", rep);
        IPVM__TRY(rd_u8(r, &has));
        if (has == 1)
            IPVM__TRY(rd_u32(r, &dtor));
        else if (has != 0)
            return BAD(r, "resource destructor marker 0x%02x", has);
        e->kind = E_RESOURCE;
        e->rname = "resource";
        return 0;
    }
    default:
        e->kind = E_VAL;
        return rd_defvaltype(r, s, &e->val);
    }
}

/* ------------------------------------------------------------- component top level ---- */

/* The module name in a core module's "name" custom section, or NULL. The module was not
 * validated yet (the engine validates only the main one), so every length is checked. */
static const char *module_name(rd_t *r, const uint8_t *p, size_t len)
{
    rd_t m = {p, p + 8, p + len, r->a, NULL, "core module", NULL};
    if (len < 8 || memcmp(p, "\0asm\1\0\0\0", 8) != 0)
        return NULL;
    while (m.p < m.end) {
        uint8_t id = 0;
        uint32_t size = 0;
        const char *name = NULL;
        if (rd_u8(&m, &id) < 0 || rd_u32(&m, &size) < 0 || size > (size_t)(m.end - m.p))
            return NULL;
        const uint8_t *next = m.p + size;
        if (id == 0) {
            rd_t c = m;
            c.end = next;
            if (rd_name(&c, &name) == 0 && strcmp(name, "name") == 0) {
                uint8_t sub = 0;
                uint32_t sublen = 0;
                if (rd_u8(&c, &sub) == 0 && sub == 0 && rd_u32(&c, &sublen) == 0 &&
                    rd_name(&c, &name) == 0)
                    return name;
                return NULL;
            }
        }
        m.p = next;
    }
    return NULL;
}

static int sec_core_module(rd_t *r)
{
    cmod_t *m = ipvm_arena_calloc(r->a, 1, sizeof *m);
    if (m == NULL)
        return NOMEM(r);
    m->p = r->p;
    m->len = (size_t)(r->end - r->p);
    const char *name = module_name(r, m->p, m->len);
    /* compat: wit-component's indirect-call shims for imports that need memory (lowered
     * after the main module is instantiated); running the main module directly with the
     * host's imports makes them unnecessary. */
    m->helper = name && (strcmp(name, "wit-component:shim") == 0 ||
                         strcmp(name, "wit-component:fixups") == 0);
    r->p = r->end;
    r->comp->top.ncore_modules++;
    return vec_push(r, &r->comp->mods, m);
}

static int sec_core_instances(rd_t *r)
{
    uint32_t n = 0, m = 0, idx = 0;
    const char *name = NULL;
    uint8_t b = 0;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        cinst_t *ci = ipvm_arena_calloc(r->a, 1, sizeof *ci);
        if (ci == NULL)
            return NOMEM(r);
        IPVM__TRY(rd_u8(r, &b));
        if (b == 0x00) {
            ci->instantiate = true;
            IPVM__TRY(rd_u32(r, &ci->module));
            if (ci->module >= r->comp->mods.n)
                return BAD(r, "core module index %u out of range", ci->module);
        } else if (b != 0x01) {
            return BAD(r, "core instance form 0x%02x", b);
        }
        IPVM__TRY(rd_count(r, &m));
        for (uint32_t j = 0; j < m; j++) {
            IPVM__TRY(rd_name(r, &name));
            IPVM__TRY(rd_u8(r, &b));
            if (ci->instantiate && b != 0x12)
                return BAD(r, "core instantiate argument kind 0x%02x", b);
            IPVM__TRY(rd_u32(r, &idx));
        }
        IPVM__TRY(vec_push(r, &r->comp->insts, ci));
    }
    return 0;
}

static int sec_instances(rd_t *r, scope_t *s)
{
    uint32_t n = 0, m = 0, idx = 0;
    uint8_t b = 0, sort = 0, core_sort = 0;
    const char *name = NULL;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        IPVM__TRY(rd_u8(r, &b));
        ent_t *e = NULL;
        if (b == 0x00) {
            IPVM__TRY(rd_u32(r, &idx));
            IPVM__TRY(rd_count(r, &m));
            for (uint32_t j = 0; j < m; j++) {
                IPVM__TRY(rd_name(r, &name));
                IPVM__TRY(rd_sort(r, &sort, &core_sort));
                IPVM__TRY(rd_u32(r, &idx));
            }
        } else if (b == 0x01) {
            if ((e = ipvm_arena_calloc(r->a, 1, sizeof *e)) == NULL)
                return NOMEM(r);
            e->kind = E_INSTANCE;
            IPVM__TRY(rd_count(r, &m));
            for (uint32_t j = 0; j < m; j++) {
                const ent_t *item = NULL;
                IPVM__TRY(rd_extern_name(r, &name));
                IPVM__TRY(rd_sort(r, &sort, &core_sort));
                IPVM__TRY(rd_u32(r, &idx));
                const vec_t *v = sort == SORT_FUNC       ? &s->funcs
                                 : sort == SORT_TYPE     ? &s->types
                                 : sort == SORT_INSTANCE ? &s->instances
                                                         : NULL;
                if (v)
                    IPVM__TRY(vec_get(r, v, idx, "item", (const void **)&item));
                IPVM__TRY(add_item(r, e, name, sort, false, item));
            }
        } else {
            return BAD(r, "instance form 0x%02x", b);
        }
        IPVM__TRY(vec_push(r, &s->instances, e));
    }
    return 0;
}

static int rd_canon_opts(rd_t *r, lifted_t *l)
{
    uint32_t n = 0, idx = 0;
    uint8_t k = 0;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        IPVM__TRY(rd_u8(r, &k));
        if (k <= 0x02) {
            l->encoding = k;
            continue;
        }
        if (k > 0x05)
            return UNSUP(r, "canonical option 0x%02x (async is not supported)", k);
        IPVM__TRY(rd_u32(r, &idx));
        if (k == 0x03)
            l->memory = idx;
        else if (k == 0x04)
            l->realloc = idx;
        else
            l->post = idx;
    }
    return 0;
}

static int sec_canon(rd_t *r, scope_t *s)
{
    uint32_t n = 0, idx = 0;
    uint8_t k = 0, b = 0;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        lifted_t *l = ipvm_arena_calloc(r->a, 1, sizeof *l);
        if (l == NULL)
            return NOMEM(r);
        l->memory = l->realloc = l->post = -1;
        IPVM__TRY(rd_u8(r, &k));
        if (k == 0x00 || k == 0x01) {
            IPVM__TRY(rd_u8(r, &b));
            if (b != 0x00)
                return BAD(r, "canon lift/lower marker 0x%02x", b);
            IPVM__TRY(rd_u32(r, &idx));
            IPVM__TRY(rd_canon_opts(r, l));
        }
        if (k == 0x00) { /* lift: a component function from a core function */
            l->core_func = idx;
            IPVM__TRY(typed_ent(r, s, E_FUNC, "function", &l->type));
            IPVM__TRY(vec_push(r, &s->funcs, l->type));
            IPVM__TRY(vec_push(r, &r->comp->lifted, l));
        } else if (k <= 0x04) { /* lower, resource.new/drop/rep: a core function */
            if (k >= 0x02)
                IPVM__TRY(rd_u32(r, &idx));
            calias_t *ca = ipvm_arena_calloc(r->a, 1, sizeof *ca);
            if (ca == NULL)
                return NOMEM(r);
            IPVM__TRY(vec_push(r, &r->comp->cfuncs, ca));
        } else {
            return UNSUP(r, "unsupported component: canonical built-in 0x%02x", k);
        }
    }
    return 0;
}

static int sec_imports_exports(rd_t *r, scope_t *s, bool exports)
{
    uint32_t n = 0, idx = 0;
    uint8_t sort = 0, core_sort = 0, has = 0;
    const char *name = NULL;
    const ent_t *e = NULL;
    IPVM__TRY(rd_count(r, &n));
    for (uint32_t i = 0; i < n; i++) {
        IPVM__TRY(rd_extern_name(r, &name));
        if (!exports) {
            IPVM__TRY(rd_externdesc(r, s, name, &sort, &e));
            IPVM__TRY(add_sort(r, s, sort, e));
            continue;
        }
        IPVM__TRY(rd_sort(r, &sort, &core_sort));
        IPVM__TRY(rd_u32(r, &idx));
        IPVM__TRY(rd_u8(r, &has));
        if (has == 1) {
            uint8_t dsort = 0;
            const ent_t *de = NULL;
            IPVM__TRY(rd_externdesc(r, s, name, &dsort, &de));
        } else if (has != 0) {
            return BAD(r, "export type marker 0x%02x", has);
        }
        rexport_t *x = ipvm_arena_calloc(r->a, 1, sizeof *x);
        if (x == NULL)
            return NOMEM(r);
        x->name = name;
        x->sort = sort;
        e = NULL;
        const vec_t *v = sort == SORT_FUNC        ? &s->funcs
                         : sort == SORT_TYPE      ? &s->types
                         : sort == SORT_INSTANCE  ? &s->instances
                         : sort == SORT_COMPONENT ? &s->components
                                                  : NULL;
        if (v == NULL)
            continue; /* a core module or value export: nothing callable */
        IPVM__TRY(vec_get(r, v, idx, "export", (const void **)&e));
        if (sort == SORT_TYPE && (e = named(r, e, name)) == NULL && v->v[idx] != NULL)
            return NOMEM(r);
        IPVM__TRY(add_sort(r, s, sort, e));
        if (sort == SORT_FUNC) /* the new index is the same function, lifted the same way */
            r->comp->lifted.v[r->comp->lifted.n - 1] = r->comp->lifted.v[idx];
        x->idx = (uint32_t)(v->n - 1);
        IPVM__TRY(vec_push(r, &r->comp->exports, x));
    }
    return 0;
}

static int sec_custom(rd_t *r)
{
    const char *name = NULL;
    IPVM__TRY(rd_name(r, &name));
    if (strcmp(name, "wit-component-encoding") == 0 && r->end - r->p >= 2) {
        uint8_t enc = r->p[1];
        if (enc > IPVM__ABI_LATIN1_UTF16)
            return BAD(r, "string encoding 0x%02x", enc);
        r->comp->encoding = enc;
    }
    r->p = r->end;
    return 0;
}

static int section(rd_t *r, uint8_t id)
{
    comp_t *c = r->comp;
    switch (id) {
    case 0:
        return sec_custom(r);
    case 1:
        return sec_core_module(r);
    case 2:
        return sec_core_instances(r);
    case 3: {
        uint32_t n = 0;
        IPVM__TRY(rd_count(r, &n));
        for (uint32_t i = 0; i < n; i++, c->top.ncore_types++)
            IPVM__TRY(skip_core_type(r));
        return 0;
    }
    case 4:
        return UNSUP(r, "unsupported component: it nests components");
    case 5:
        return sec_instances(r, &c->top);
    case 6:
    case 7: {
        uint32_t n = 0;
        IPVM__TRY(rd_count(r, &n));
        for (uint32_t i = 0; i < n; i++) {
            const ent_t *e = NULL;
            if (id == 6) {
                IPVM__TRY(rd_alias(r, &c->top));
            } else {
                IPVM__TRY(rd_type(r, &c->top, &e));
                IPVM__TRY(vec_push(r, &c->top.types, e));
            }
        }
        return 0;
    }
    case 8:
        return sec_canon(r, &c->top);
    case 9:
        return UNSUP(r, "unsupported component: it has a start function");
    case 10:
    case 11:
        return sec_imports_exports(r, &c->top, id == 11);
    case 12:
        return UNSUP(r, "unsupported component: it has values");
    default:
        return BAD(r, "unknown section id %u", id);
    }
}

/* Reads a whole component binary into c. */
static int rd_component(rd_t *r)
{
    static const uint8_t preamble[8] = {0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00};
    if ((size_t)(r->end - r->p) < 8 || memcmp(r->p, preamble, 8) != 0)
        return BAD(r, "not a component binary (want \\0asm, version 0x0d, layer 1)");
    r->p += 8;
    while (r->p < r->end) {
        uint8_t id = 0;
        uint32_t size = 0;
        IPVM__TRY(rd_u8(r, &id));
        IPVM__TRY(rd_u32(r, &size));
        if (size > (size_t)(r->end - r->p))
            return BAD(r, "section %u of %u bytes runs past the end", id, size);
        const uint8_t *end = r->end;
        r->end = r->p + size;
        IPVM__TRY(section(r, id));
        if (r->p != r->end)
            return BAD(r, "section %u has %zu bytes left over", id, (size_t)(r->end - r->p));
        r->end = end;
    }
    return 0;
}

/* ------------------------------------------------------------------ abi export table ---- */
void ipvm__abi_init(ipvm__abi_t *abi)
{
    memset(abi, 0, sizeof *abi);
    ipvm_arena_init(&abi->arena);
}

void ipvm__abi_dispose(ipvm__abi_t *abi)
{
    ipvm_arena_dispose(&abi->arena);
    memset(abi, 0, sizeof *abi);
}

/* Appends an export named `name`; *out is NULL when one of that name exists already (the first
 * definition wins). */
static int add_export(rd_t *r, ipvm__abi_t *abi, const char *name, ipvm__abi_export_t **out)
{
    *out = NULL;
    for (size_t i = 0; i < abi->nexports; i++)
        if (strcmp(abi->exports[i].name, name) == 0)
            return 0;
    if (abi->nexports == abi->cap) {
        size_t cap = abi->cap ? abi->cap * 2 : 16;
        ipvm__abi_export_t *nx = ipvm_arena_alloc(r->a, cap * sizeof *nx);
        if (nx == NULL)
            return NOMEM(r);
        if (abi->nexports)
            memcpy(nx, abi->exports, abi->nexports * sizeof *nx);
        abi->exports = nx;
        abi->cap = cap;
    }
    ipvm__abi_export_t *x = &abi->exports[abi->nexports++];
    memset(x, 0, sizeof *x);
    x->name = name;
    x->core_idx = x->post_idx = x->realloc_idx = -1;
    *out = x;
    return 0;
}

static char *concat(ipvm_arena_t *a, const char *x, const char *y)
{
    size_t nx = strlen(x), ny = strlen(y);
    char *s = ipvm_arena_alloc(a, nx + ny + 1);
    if (s) {
        memcpy(s, x, nx);
        memcpy(s + nx, y, ny + 1);
    }
    return s;
}

/* A world function by wit-component's naming of core exports. */
static int world_func(rd_t *r, ipvm__abi_t *abi, const char *name, const ipvm__wit_func_t *f)
{
    ipvm__abi_export_t *x;
    IPVM__TRY(add_export(r, abi, name, &x));
    if (x == NULL)
        return 0;
    x->func = f;
    x->core_name = name;
    x->post_name = concat(r->a, "cabi_post_", name);
    x->realloc_name = "cabi_realloc";
    x->encoding = r->comp->encoding;
    return x->post_name ? 0 : NOMEM(r);
}

static int world_exports(rd_t *r, ipvm__abi_t *abi, const ent_t *w)
{
    for (size_t i = 0; i < w->nitems; i++) {
        const item_t *it = &w->items[i];
        if (it->import || it->ent == NULL)
            continue;
        if (it->sort == SORT_FUNC) {
            IPVM__TRY(world_func(r, abi, it->name, it->ent->func));
        } else if (it->sort == SORT_INSTANCE) { /* an exported interface: "iface#func" */
            for (size_t j = 0; j < it->ent->nitems; j++) {
                const item_t *f = &it->ent->items[j];
                if (f->sort != SORT_FUNC || f->ent == NULL)
                    continue;
                char *full = concat(r->a, it->name, "#");
                if (full == NULL || (full = concat(r->a, full, f->name)) == NULL)
                    return NOMEM(r);
                IPVM__TRY(world_func(r, abi, full, f->ent->func));
            }
        }
    }
    return 0;
}

int ipvm__abi_parse_world(ipvm__abi_t *abi, const uint8_t *buf, size_t len, ipvm_error_t *err)
{
    comp_t c = {0};
    rd_t r = {buf, buf, buf + len, &abi->arena, err, "component-type section", &c};
    IPVM__TRY(rd_component(&r));
    if (c.mods.n)
        return BAD(&r, "a component-type section holds types only");
    /* The world is the component type reached from the exported type through exports of
     * single component types (wit-component: package type -> "ns:pkg/world" -> world). */
    for (size_t i = 0; i < c.exports.n; i++) {
        const rexport_t *x = c.exports.v[i];
        if (x->sort != SORT_TYPE)
            continue;
        const ent_t *w = c.top.types.v[x->idx];
        const char *wname = x->name;
        for (int hops = 0; w && w->kind == E_COMPONENT && hops < 8; hops++) {
            const item_t *only = NULL;
            size_t ncomp = 0, nfunc = 0;
            for (size_t j = 0; j < w->nitems; j++) {
                if (w->items[j].import)
                    continue;
                if (w->items[j].sort == SORT_COMPONENT)
                    ncomp++, only = &w->items[j];
                else if (w->items[j].sort == SORT_FUNC || w->items[j].sort == SORT_INSTANCE)
                    nfunc++;
            }
            if (nfunc || ncomp != 1)
                break;
            wname = only->name;
            w = only->ent;
        }
        if (w == NULL || w->kind != E_COMPONENT)
            return BAD(&r, "export \"%s\" is not a world", x->name);
        if (abi->world == NULL)
            abi->world = wname;
        abi->encoding = c.encoding;
        return world_exports(&r, abi, w);
    }
    return BAD(&r, "no world exported");
}

/* The core export a core function index stands for, if it is one of the main instance's. */
static int core_export(rd_t *r, long cfunc, uint32_t main_inst, const char *what,
                       const char **out)
{
    *out = NULL;
    if (cfunc < 0)
        return 0;
    const calias_t *ca = NULL;
    IPVM__TRY(vec_get(r, &r->comp->cfuncs, (uint32_t)cfunc, "core function", (const void **)&ca));
    if (!ca->alias || ca->inst != main_inst)
        return UNSUP(r, "unsupported component: %s is not an export of the core module", what);
    *out = ca->name;
    return 0;
}

static int component_exports(rd_t *r, ipvm__abi_t *abi, uint32_t main_inst)
{
    comp_t *c = r->comp;
    for (size_t i = 0; i < c->exports.n; i++) {
        const rexport_t *x = c->exports.v[i];
        const lifted_t *l = x->sort == SORT_FUNC ? c->lifted.v[x->idx] : NULL;
        if (l == NULL)
            continue;
        const char *core = NULL, *post = NULL, *realloc_name = NULL;
        IPVM__TRY(core_export(r, l->core_func, main_inst, "a lifted function", &core));
        IPVM__TRY(core_export(r, l->post, main_inst, "a post-return function", &post));
        IPVM__TRY(core_export(r, l->realloc, main_inst, "a realloc function", &realloc_name));
        if (l->memory >= 0) {
            const calias_t *ca = NULL;
            IPVM__TRY(
                vec_get(r, &c->cmems, (uint32_t)l->memory, "core memory", (const void **)&ca));
            if (!ca->alias || ca->inst != main_inst)
                return UNSUP(r, "unsupported component: memory is not the core module's");
        }
        if (abi == NULL)
            continue;
        ipvm__abi_export_t *e;
        IPVM__TRY(add_export(r, abi, x->name, &e));
        if (e == NULL)
            continue;
        e->func = l->type->func;
        e->core_name = core;
        e->post_name = post;
        e->realloc_name = realloc_name;
        e->encoding = l->encoding;
    }
    return 0;
}

int ipvm__abi_parse_component(ipvm__abi_t *abi, const uint8_t *buf, size_t len,
                              const uint8_t **core, size_t *core_len, ipvm_error_t *err)
{
    ipvm__abi_t tmp;
    ipvm__abi_init(&tmp);
    comp_t c = {0};
    rd_t r = {buf, buf, buf + len, abi ? &abi->arena : &tmp.arena, err, "component", &c};
    int rc = rd_component(&r);
    const cmod_t *main_mod = NULL;
    uint32_t main_idx = 0, ninst = 0, main_inst = 0;
    for (size_t i = 0; rc == 0 && i < c.mods.n; i++) {
        const cmod_t *m = c.mods.v[i];
        if (m->helper)
            continue;
        if (main_mod)
            rc = UNSUP(&r, "unsupported component: it holds more than one core module");
        main_mod = m;
        main_idx = (uint32_t)i;
    }
    if (rc == 0 && main_mod == NULL)
        rc = UNSUP(&r, "unsupported component: it holds no core module");
    for (size_t i = 0; rc == 0 && i < c.insts.n; i++) {
        const cinst_t *ci = c.insts.v[i];
        if (ci->instantiate && ci->module == main_idx)
            ninst++, main_inst = (uint32_t)i;
    }
    if (rc == 0 && ninst != 1)
        rc = UNSUP(&r, "unsupported component: its core module is instantiated %u times", ninst);
    if (rc == 0)
        rc = component_exports(&r, abi, main_inst);
    if (rc == 0) {
        *core = main_mod->p;
        *core_len = main_mod->len;
        if (abi)
            abi->encoding = c.encoding;
    }
    ipvm__abi_dispose(&tmp);
    return rc;
}

/* wasm_int.h: the engine's entry point for components. */
int ipvm__wasm_component_core(const uint8_t *bin, size_t len, const uint8_t **core,
                              size_t *core_len, ipvm_error_t *err)
{
    *core = NULL;
    *core_len = 0;
    return ipvm__abi_parse_component(NULL, bin, len, core, core_len, err);
}
